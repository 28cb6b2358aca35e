"""The audit-history job: every audit event into ``sigma_audit_events``, kept forever, plus daily tables.

Events are loaded by the shared machinery (:mod:`airflow_sigma.loading`): every category is kept
(``categories`` only narrows them on request), the same event in several exports or runs is stored
once, and nothing is ever deleted. After each run the derived tables are rebuilt for every UTC day the
run's events fall on, from all stored events of those days:

- ``sigma_daily_logins``: one row per such day. Logins are events whose type is one of
  ``login_event_types`` and whose name is one of ``login_event_names``; successful / failed by
  ``event_status``. Values match ignoring case, spaces, underscores and hyphens. A day with events but
  no logins gets zeros; ``users_logged_in`` counts distinct users with a successful login.
- ``sigma_daily_event_counts``: events and distinct users per day, type, name and status (a missing
  value is ``''``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, TYPE_CHECKING, Any, ClassVar

from airflow_sigma.events.stats import BadRowBudget, FileStats
from airflow_sigma.exceptions import ParameterError
from airflow_sigma.loading.sql import ensure_index, loose_text, loose_value, string_literals, through_indexes
from airflow_sigma.members.seen import SEEN, forget_seen
from airflow_sigma.warehouse import (
    AUDIT_EVENTS,
    DAILY_EVENT_COUNTS,
    DAILY_LOGINS,
    Table,
    Transaction,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

# The form of today's hashed keys (airflow_sigma.events.keys, not imported here: it loads pyarrow, and
# DAG files import this module): a ';' after the time, then the hash's hex digits.
_TIMED_KEY = "%;%"
_HASH_DIGITS = 32

DEFAULT_LOGIN_EVENT_TYPES = ("ACCESS_SIGMA",)
DEFAULT_LOGIN_EVENT_NAMES = ("Login", "Log In", "User Login", "Sign In")
DEFAULT_SUCCESS_STATUSES = ("Success", "Succeeded")
DEFAULT_FAILURE_STATUSES = ("Failure", "Failed")


def _values(name: str, values: Collection[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ParameterError(f"{name} must be a non-empty list of non-empty strings, got {values!r}")
    return tuple(values)


@dataclass(frozen=True)
class LoginSettings:
    """Which audit events are logins, and which statuses mean success or failure.

    :param login_event_types: event categories of logins.
    :param login_event_names: event names of logins.
    :param success_statuses: ``event_status`` values of successful logins.
    :param failure_statuses: ``event_status`` values of failed logins.
    """

    login_event_types: Sequence[str] = DEFAULT_LOGIN_EVENT_TYPES
    login_event_names: Sequence[str] = DEFAULT_LOGIN_EVENT_NAMES
    success_statuses: Sequence[str] = DEFAULT_SUCCESS_STATUSES
    failure_statuses: Sequence[str] = DEFAULT_FAILURE_STATUSES

    def __post_init__(self) -> None:
        for name in ("login_event_types", "login_event_names", "success_statuses", "failure_statuses"):
            object.__setattr__(self, name, _values(name, getattr(self, name)))
        overlap = {loose_value(v) for v in self.success_statuses} & {
            loose_value(v) for v in self.failure_statuses
        }
        if overlap:
            raise ParameterError(f"success_statuses and failure_statuses share {sorted(overlap)}")

    def condition(self, column: str, values: Sequence[str]) -> str:
        """SQL: ``column`` loosely equals one of ``values``."""
        return f"{loose_text(column)} IN ({string_literals(sorted({loose_value(v) for v in values}))})"

    def login_sql(self) -> str:
        """SQL condition on ``sigma_audit_events`` columns: the event is a login (any status)."""
        return (
            f"{self.condition('event_type', self.login_event_types)} "
            f"AND {self.condition('event_name', self.login_event_names)}"
        )

    def successful_login_sql(self) -> str:
        """SQL condition: the event is a successful login."""
        return f"{self.login_sql()} AND {self.condition('event_status', self.success_statuses)}"

    def failed_login_sql(self) -> str:
        """SQL condition: the event is a failed login."""
        return f"{self.login_sql()} AND {self.condition('event_status', self.failure_statuses)}"


@dataclass
class AuditJob:
    """Audit-log events from Sigma exports.

    :param column_map: logical column -> header (see :func:`~airflow_sigma.events.read_audit_events`).
    :param event_id_column: header of a unique event id.
    :param categories: keep only these categories; None keeps every category, unknown ones included.
    :param key_columns: columns identifying an event without an id (default: all of them).
    :param logins: what counts as a login.
    """

    column_map: Mapping[str, str] | None = None
    event_id_column: str | None = None
    categories: Collection[str] | None = None
    key_columns: Sequence[str] | None = None
    logins: LoginSettings = field(default_factory=LoginSettings)

    name: ClassVar[str] = "audit"
    target: ClassVar[Table] = AUDIT_EVENTS
    tables: ClassVar[tuple[Table, ...]] = (AUDIT_EVENTS, DAILY_LOGINS, DAILY_EVENT_COUNTS, SEEN)
    log_samples: ClassVar[bool] = True

    def read(
        self,
        stream: IO[bytes],
        uri: str,
        *,
        latest_time: datetime | None = None,
        bad_row_budget: BadRowBudget | None = None,
    ) -> tuple[Iterator[pa.RecordBatch], FileStats]:
        from airflow_sigma.events import read_audit_events

        return read_audit_events(
            stream,
            uri,
            column_map=self.column_map,
            event_id_column=self.event_id_column,
            categories=self.categories,
            key_columns=self.key_columns,
            latest_time=latest_time,
            bad_row_budget=bad_row_budget,
        )

    def prepare(self, tx: Transaction, days: Sequence[date]) -> None:
        ensure_index(tx, tx.table_name(AUDIT_EVENTS), tx.warehouse.unqualified_name(AUDIT_EVENTS), ["day"])

    def rekey(self, tx: Transaction, staged: str, days: Sequence[date]) -> None:
        rekeyed = key_events_by_time(tx, staged, days)
        if rekeyed:
            log.info("Gave %d stored events of earlier versions today's keys (time first)", rekeyed)

    def finish(self, tx: Transaction, days: Sequence[date]) -> dict[str, Any]:
        forget_seen(tx, days)  # member activity's summary of older days, when it covers them
        rebuild_audit_days(tx, days, self.logins)
        return {"days_rebuilt": len(days)}


def key_events_by_time(tx: Transaction, staged: str, days: Sequence[date]) -> int:
    """Give the stored events of ``days`` keyed by their hash alone (by version 0.1.0 until December
    2026) the keys runs make now, ``<epoch microseconds>;<hash>``
    (:func:`~airflow_sigma.events.keys.audit_keys`), when the run stages them again: a stored key is
    rewritten only when it is the hash of one of the run's keys, so events keyed by their event id
    (which may look like a hash) are never touched. Returns the rows rewritten.

    :param staged: the SQL name of a table holding the run's keys (``event_key``).
    :param days: the days of the run's events (the only days its events can be stored on).
    """
    if not days:
        return 0
    table, p = tx.table_name(AUDIT_EVENTS), tx.placeholder
    in_days, params = tx.where(AUDIT_EVENTS, {"day": days})
    bare = f"{in_days} AND event_key NOT LIKE {p}"
    params.append(_TIMED_KEY)
    with through_indexes(tx):
        if not tx.query(f"SELECT 1 FROM {table} WHERE {bare} LIMIT 1", params):
            return 0  # what a table written since (or keyed by event ids on other days) costs
        micros = tx.dialect.epoch_micros_text("request_time")
        hashes = (
            f"SELECT SUBSTR(event_key, LENGTH(event_key) - {_HASH_DIGITS - 1}) FROM {staged} "
            f"WHERE event_key LIKE {p}"
        )
        return tx.execute(
            f"UPDATE {table} SET event_key = {micros} || ';' || event_key WHERE {bare} "
            f"AND event_key IN ({hashes})",
            [*params, _TIMED_KEY],
        )


def rebuild_audit_days(tx: Transaction, days: Sequence[date], logins: LoginSettings) -> None:
    """Replace the ``sigma_daily_logins`` and ``sigma_daily_event_counts`` rows of ``days``.

    The days are listed in the statements (``day IN (...)``), and read through the index on ``day``
    whatever the engine estimates (:func:`~airflow_sigma.loading.sql.through_indexes`).
    """
    if not days:
        return
    with through_indexes(tx):
        _rebuild_audit_days(tx, days, logins)


def _rebuild_audit_days(tx: Transaction, days: Sequence[date], logins: LoginSettings) -> None:
    events = tx.table_name(AUDIT_EVENTS)
    in_days, params = tx.where(AUDIT_EVENTS, {"day": days})
    counts, daily_logins = tx.table_name(DAILY_EVENT_COUNTS), tx.table_name(DAILY_LOGINS)
    tx.execute(f"DELETE FROM {counts} WHERE {in_days}", params)
    parts = [f"COALESCE({name}, '')" for name in ("event_type", "event_name", "event_status")]
    tx.execute(
        f"INSERT INTO {counts} (day, event_type, event_name, event_status, events, users) "
        f"SELECT day, {', '.join(parts)}, COUNT(*), COUNT(DISTINCT user_email) FROM {events} "
        f"WHERE {in_days} GROUP BY day, {', '.join(parts)}",
        params,
    )
    ok, failed = logins.successful_login_sql(), logins.failed_login_sql()
    tx.execute(f"DELETE FROM {daily_logins} WHERE {in_days}", params)
    tx.execute(
        f"INSERT INTO {daily_logins} (day, successful_logins, failed_logins, users_logged_in) "
        f"SELECT day, SUM(CASE WHEN {ok} THEN 1 ELSE 0 END), SUM(CASE WHEN {failed} THEN 1 ELSE 0 END), "
        f"COUNT(DISTINCT CASE WHEN {ok} THEN user_email END) FROM {events} WHERE {in_days} GROUP BY day",
        params,
    )
