"""The impressions job: events into ``sigma_impression_events``, then ``sigma_impressions_daily``.

**Retention.** Events are kept ``event_retention_days`` UTC days, counted back from the newest event
day stored (the *high-water day*; in steady state the run's own date, give or take the export lag):
days before ``high-water - (retention - 1)`` are deleted at the end of each run. Measuring from the data
rather than from the run's date makes re-runs in any order converge on the same table. Dates in the
future (beyond today and the run's date) are ignored for the high-water day, so one bogus timestamp
cannot wipe the table.

**Daily rebuild.** The daily rows of every day the run's events fall on are recomputed from the events
table, but only for days at or after the retention cutoff as it stood *before* the run: events of
earlier days may already have been deleted, and rebuilding from what is left would replace complete
counts by partial ones. Such late days are reported and left as they are; their events are not kept.
The high-water day is also read from the daily table, so emptying the events table by hand cannot make
old days look rebuildable.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import IO, TYPE_CHECKING, Any, ClassVar

from airflow_sigma.events.stats import FileStats
from airflow_sigma.loading.settings import TaskLog, check_positive_int
from airflow_sigma.loading.sql import ensure_index
from airflow_sigma.warehouse import IMPRESSION_EVENTS, IMPRESSIONS_DAILY, Column, Table, Transaction

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

DEFAULT_EVENT_RETENTION_DAYS = 35
_DAY = Column("day", "date", "A UTC day whose daily rows are rebuilt.", False)


def check_retention_days(value: object) -> int:
    """``event_retention_days``: a whole number of days, at least 1 (it should cover days_back plus the
    exports' overlap, so that re-read events are recognised)."""
    return check_positive_int("event_retention_days", value)


@dataclass
class ImpressionsJob:
    """Impressions from Sigma exports (the prepared shape, or raw audit-log exports filtered to views).

    :param run_date: the run's date (UTC), used only to cap the high-water day.
    :param column_map: logical column -> header (see :func:`~airflow_sigma.events.read_impressions`).
    :param impression_filter: which rows of a raw audit-log export are impressions.
    :param event_id_column: header of a unique event id.
    :param email_salt: when set, emails are stored as salted SHA-256 hashes.
    :param event_retention_days: days of events kept for deduplication.
    :param logger: where warnings go.
    """

    run_date: date
    column_map: Mapping[str, str] | None = None
    impression_filter: Mapping[str, Collection[str]] | None = None
    event_id_column: str | None = None
    email_salt: str | None = field(default=None, repr=False)
    event_retention_days: int = DEFAULT_EVENT_RETENTION_DAYS
    logger: TaskLog = field(default=log, repr=False)
    _prior_high: date | None = field(default=None, init=False, repr=False)

    name: ClassVar[str] = "impressions"
    target: ClassVar[Table] = IMPRESSION_EVENTS
    tables: ClassVar[tuple[Table, ...]] = (IMPRESSION_EVENTS, IMPRESSIONS_DAILY)

    def __post_init__(self) -> None:
        check_retention_days(self.event_retention_days)

    @property
    def log_samples(self) -> bool:
        """With hashed emails they could reveal an email,, so they are not logged."""
        return self.email_salt is None

    def read(self, stream: IO[bytes], uri: str) -> tuple[Iterator[pa.RecordBatch], FileStats]:
        from airflow_sigma.events import read_impressions

        return read_impressions(
            stream,
            uri,
            column_map=self.column_map,
            impression_filter=self.impression_filter,
            event_id_column=self.event_id_column,
            email_salt=self.email_salt,
        )

    def prepare(self, tx: Transaction) -> None:
        events = IMPRESSION_EVENTS
        ensure_index(tx, tx.table_name(events), tx.warehouse.unqualified_name(events), ["day"])
        self._prior_high = self._high_water(tx)

    def finish(self, tx: Transaction, days: Sequence[date]) -> dict[str, Any]:
        prior_cutoff = self._cutoff(self._prior_high)
        rebuild = [d for d in days if prior_cutoff is None or d >= prior_cutoff]
        skipped = [d for d in days if d not in set(rebuild)]
        if skipped:
            self.logger.warning(
                "Events on %d day(s) before the retention cutoff %s were not kept and their daily rows were "
                "not rebuilt (the events of those days are no longer all stored): %s. Raise "
                "event_retention_days to accept exports this late.",
                len(skipped),
                prior_cutoff,
                ", ".join(d.isoformat() for d in skipped[:10]) + (" ..." if len(skipped) > 10 else ""),
            )
        rebuild_daily(tx, rebuild)
        cutoff = self._cutoff(self._high_water(tx))
        deleted = 0
        if cutoff is not None:
            events = tx.table_name(IMPRESSION_EVENTS)
            deleted = tx.execute(f"DELETE FROM {events} WHERE day < {tx.placeholder}", [cutoff])
        return {
            "days_rebuilt": len(rebuild),
            "days_not_rebuilt": [d.isoformat() for d in skipped],
            "retention_cutoff": cutoff.isoformat() if cutoff else None,
            "events_expired": max(deleted, 0),
        }

    def _cutoff(self, high: date | None) -> date | None:
        return None if high is None else high - timedelta(days=self.event_retention_days - 1)

    def _high_water(self, tx: Transaction) -> date | None:
        today = datetime.now(timezone.utc).date()
        cap = max(self.run_date, today) + timedelta(days=1)
        highs = []
        for table in (IMPRESSION_EVENTS, IMPRESSIONS_DAILY):
            sql = f"SELECT MAX(day) FROM {tx.table_name(table)} WHERE day <= {tx.placeholder}"
            value = tx.query(sql, [cap], types=["date"])[0][0]
            if value is not None:
                highs.append(value)
        return max(highs) if highs else None


def rebuild_daily(tx: Transaction, days: Sequence[date]) -> None:
    """Replace the daily rows of ``days`` by the sums of the stored events of those days."""
    if not days:
        return
    chosen = tx.create_temp_table("sigma_days_impressions", [_DAY], [(d,) for d in days])
    daily, events = tx.table_name(IMPRESSIONS_DAILY), tx.table_name(IMPRESSION_EVENTS)
    tx.execute(f"DELETE FROM {daily} WHERE day IN (SELECT day FROM {chosen.name})")
    keys = "day, workbook_url_id, element_id, user_email"
    tx.execute(
        f"INSERT INTO {daily} ({keys}, impressions) SELECT {keys}, SUM(impressions) FROM {events} "
        f"WHERE day IN (SELECT day FROM {chosen.name}) GROUP BY {keys}"
    )
