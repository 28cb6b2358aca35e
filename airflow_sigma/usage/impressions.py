"""The impressions job: events into ``sigma_impression_events``, then ``sigma_impressions_daily``.

**The events table is a deduplication buffer.** A day's daily rows are always the sums of *all* the
stored events of that day, and events are deleted by whole days only. So for any day, either every
event ever loaded for it is stored, or none is (the day was *pruned*: it has daily rows but no events).

**Daily rebuild.** Every day the run's events fall on is recomputed from the events table, except
pruned days: rebuilding one from the run's events alone would replace complete counts by partial
ones. Such late events are reported, their days left as they are, and the events not kept.

**Retention.** At the end of a run, events of days before ``min(run date, high-water day) -
(event_retention_days - 1)`` are deleted. The *high-water day* is the newest event day stored (dates
beyond today and the run's date are ignored, so one bogus timestamp cannot wipe the table). Measuring
from the run's date too means a backfill keeps the events its later runs still need to deduplicate
late files against, whatever has run before it; the next run of a recent date prunes them. So
``sigma_impressions_daily`` (and everything built on it) comes out the same whatever order runs and
backfills execute in, and the buffer holds at least the last ``event_retention_days`` days.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import IO, TYPE_CHECKING, Any, ClassVar

from airflow_sigma.events.stats import BadRowBudget, FileStats
from airflow_sigma.loading.settings import TaskLog, check_positive_int
from airflow_sigma.loading.sql import ensure_index, holds_rows, through_indexes
from airflow_sigma.usage.summary import LAST_SEEN, forget_last_seen
from airflow_sigma.usage.window import TABLES as WINDOW_TABLES
from airflow_sigma.warehouse import IMPRESSION_EVENTS, IMPRESSIONS_DAILY, Table, Transaction

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

DEFAULT_EVENT_RETENTION_DAYS = 35
_DAYS_PER_QUERY = 200


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
    _pruned: set[date] = field(default_factory=set, init=False, repr=False)

    name: ClassVar[str] = "impressions"
    target: ClassVar[Table] = IMPRESSION_EVENTS
    tables: ClassVar[tuple[Table, ...]] = (IMPRESSION_EVENTS, IMPRESSIONS_DAILY, LAST_SEEN, *WINDOW_TABLES)

    def __post_init__(self) -> None:
        check_retention_days(self.event_retention_days)

    @property
    def log_samples(self) -> bool:
        """With hashed emails they could reveal an email,, so they are not logged."""
        return self.email_salt is None

    def read(
        self,
        stream: IO[bytes],
        uri: str,
        *,
        latest_time: datetime | None = None,
        bad_row_budget: BadRowBudget | None = None,
    ) -> tuple[Iterator[pa.RecordBatch], FileStats]:
        from airflow_sigma.events import read_impressions

        return read_impressions(
            stream,
            uri,
            column_map=self.column_map,
            impression_filter=self.impression_filter,
            event_id_column=self.event_id_column,
            email_salt=self.email_salt,
            latest_time=latest_time,
            bad_row_budget=bad_row_budget,
        )

    def prepare(self, tx: Transaction, days: Sequence[date]) -> None:
        # A first load indexes the days after inserting its events (in finish): keeping the index up to
        # date row by row made the insert of 2.5 million events 4 s slower than building it after.
        if holds_rows(tx, tx.table_name(IMPRESSION_EVENTS)):
            self._index_days(tx)
        self._pruned = pruned_days(tx, days)

    def _index_days(self, tx: Transaction) -> None:
        events = IMPRESSION_EVENTS
        ensure_index(tx, tx.table_name(events), tx.warehouse.unqualified_name(events), ["day"])

    def rekey(self, tx: Transaction, staged: str, days: Sequence[date]) -> None:
        pass  # impression keys have had one form

    def finish(self, tx: Transaction, days: Sequence[date]) -> dict[str, Any]:
        self._index_days(tx)
        skipped = [d for d in days if d in self._pruned]
        rebuild = [d for d in days if d not in self._pruned]
        events = tx.table_name(IMPRESSION_EVENTS)
        if skipped:
            self.logger.warning(
                "Events on %d day(s) whose stored events were already deleted by retention were not kept, "
                "and their daily rows were not rebuilt (they would lose the deleted events): %s. Raise "
                "event_retention_days to accept exports this late.",
                len(skipped),
                ", ".join(d.isoformat() for d in skipped[:10]) + (" ..." if len(skipped) > 10 else ""),
            )
            tx.delete(IMPRESSION_EVENTS, {"day": skipped})
        rebuild_daily(tx, rebuild)
        high = self._high_water(tx)
        cutoff = (
            None if high is None else min(high, self.run_date) - timedelta(days=self.event_retention_days - 1)
        )
        deleted = 0
        if cutoff is not None:
            deleted = tx.execute(f"DELETE FROM {events} WHERE day < {tx.placeholder}", [cutoff])
        return {
            "days_rebuilt": len(rebuild),
            "days_not_rebuilt": [d.isoformat() for d in skipped],
            "retention_cutoff": cutoff.isoformat() if cutoff else None,
            "events_expired": max(deleted, 0),
        }

    def _high_water(self, tx: Transaction) -> date | None:
        today = datetime.now(timezone.utc).date()
        cap = max(self.run_date, today) + timedelta(days=1)
        sql = f"SELECT MAX(day) FROM {tx.table_name(IMPRESSION_EVENTS)} WHERE day <= {tx.placeholder}"
        return tx.query(sql, [cap], types=["date"])[0][0]


def pruned_days(tx: Transaction, days: Sequence[date]) -> set[date]:
    """Those of ``days`` that have daily rows but no stored events: their events were deleted.

    Two index probes per day, in one query: the cost does not grow with the days stored.
    """
    if not days:
        return set()
    daily, events, p = tx.table_name(IMPRESSIONS_DAILY), tx.table_name(IMPRESSION_EVENTS), tx.placeholder
    probe = "CASE WHEN EXISTS (SELECT 1 FROM {0} WHERE day = {1}) THEN 1 ELSE 0 END"
    pruned: set[date] = set()
    for start in range(0, len(days), _DAYS_PER_QUERY):
        chunk = days[start : start + _DAYS_PER_QUERY]
        columns = ", ".join(f"{probe.format(daily, p)}, {probe.format(events, p)}" for _ in chunk)
        found = tx.query(f"SELECT {columns}", [d for d in chunk for _ in (daily, events)])[0]
        pruned.update(d for i, d in enumerate(chunk) if int(found[2 * i]) and not int(found[2 * i + 1]))
    return pruned


def rebuild_daily(tx: Transaction, days: Sequence[date]) -> None:
    """Replace the daily rows of ``days`` by the sums of the stored events of those days.

    The days are listed in the statements (``day IN (...)``) and read through the index on ``day``
    whatever the engine estimates (:func:`~airflow_sigma.loading.sql.through_indexes`).
    ``sigma_usage_last_seen`` (which must exist) is reset when it covers one of the days.
    """
    if not days:
        return
    forget_last_seen(tx, days)
    tx.delete(IMPRESSIONS_DAILY, {"day": days})
    clause, params = tx.where(IMPRESSION_EVENTS, {"day": days})
    keys = ["day", "workbook_url_id", "element_id", "user_email"]
    source = f"{tx.table_name(IMPRESSION_EVENTS)} WHERE {clause}"
    with through_indexes(tx):
        tx.execute(
            tx.dialect.insert_sums_sql(tx.table_name(IMPRESSIONS_DAILY), keys, "impressions", source), params
        )
