"""``sigma_member_activity_seen``: what member activity needs from the audit history before its windows.

A member-activity run counts logins and views in windows of at most :func:`window_days` days ending on
``as_of``, and reads only those days of ``sigma_audit_events``. What it needs from older days (every
user's last successful login and last view, the first day with a login event, whether any view is
stored) comes from this table: one row per user (lower-cased email), and a marker row ``''`` holding
the day the table is complete through, the first login day, whether a view was seen and the rules
(login and view settings) it was built with. Each run folds in the days between that day and its
window (one day for a daily run), so the table grows with the users, not with the days. It is filled
from the whole history once (first run, changed settings); a run for an ``as_of`` older than it (a
backfill after later runs) reads the older days itself and leaves it alone; the audit job empties it
when it changes a day the table covers (:func:`forget_seen`), and the next run refills it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import date

from airflow_sigma.warehouse import MEMBER_ACTIVITY, Column, Table, TempTable, Transaction

log = logging.getLogger(__name__)

SEEN = Table(
    base_name="member_activity_seen",
    doc="Internal to member activity: every user's last successful login and last view before its "
    "windows, complete through the through_day of the row '' (see airflow_sigma.members.seen).",
    key=("user_email",),
    columns=(
        Column("user_email", "text", "Lower-cased email; '' in the marker row.", False),
        Column("last_login", "timestamp", "Last successful login."),
        Column("last_view", "timestamp", "Last view."),
        Column("through_day", "date", "Marker row: complete through this day."),
        Column("first_login_day", "date", "Marker row: the first day with a login event."),
        Column("views_seen", "integer", "Marker row: 1 when a view event was seen."),
        Column("rules", "text", "Marker row: fingerprint of the login and view settings."),
    ),
)
OLDER_COLUMNS = [
    Column("user_email", "text", "user_email"),
    Column("last_login", "timestamp", "last_login"),
    Column("last_view", "timestamp", "last_view"),
]
_MARKER = {"user_email": ""}


def window_days(unused_after_days: int) -> int:
    """The longest window of a run: 90 days (``logins_90d``), or ``unused_after_days`` when longer."""
    return max(90, unused_after_days)


def rules_fingerprint(*parts: object) -> str:
    """A short fingerprint of the settings that decide what a login and a view are."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def forget_seen(tx: Transaction, days: Sequence[date]) -> None:
    """Empty the table when it covers one of ``days``, whose audit events changed (the next run
    refills it). Takes member activity's lock, so no run folds in the days while they change."""
    if not days:
        return
    tx.lock(MEMBER_ACTIVITY)
    marker = _marker(tx)
    if marker is not None and marker[0] is not None and min(days) <= marker[0]:
        log.info("Audit events of %s changed: member activity's older-history table is reset", min(days))
        tx.execute(f"DELETE FROM {tx.table_name(SEEN)} WHERE 1 = 1")


def _marker(tx: Transaction) -> tuple[date | None, date | None, int | None, str | None] | None:
    clause, params = tx.where(SEEN, _MARKER)
    rows = tx.query(
        f"SELECT through_day, first_login_day, views_seen, rules FROM {tx.table_name(SEEN)} WHERE {clause}",
        params,
        types=["date", "date", "integer", "text"],
    )
    return rows[0] if rows else None


class OlderHistory:
    """Every user's last login and view on or before ``before`` (the day before the window), the
    first login day and whether a view exists, from the table (brought up to date first) or, for an
    ``as_of`` older than it, from the audit events.

    :param events_sql: the flagged login and view events (``user_email, day, request_time, ok, login,
        viewed``), a SELECT ending with ``WHERE``; and its parameters.
    :param temps: two temp tables with :data:`OLDER_COLUMNS` (created before the first write).
    """

    def __init__(
        self,
        tx: Transaction,
        before: date,
        events: tuple[str, Sequence[object]],
        rules: str,
        temps: Sequence[TempTable],
    ) -> None:
        self.tx = tx
        self.before = before
        self.events_sql, self.params = events[0], list(events[1])
        self.rules = rules
        self.folded, self.merged = temps

    def load(self) -> tuple[str, date | None, bool]:
        """Returns the table of (user_email, last_login, last_view) to read, the first login day on or
        before ``before`` and whether a view event is stored on or before it."""
        tx = self.tx
        marker = _marker(tx)
        through = marker[0] if marker is not None and marker[3] == self.rules else None
        if through is not None and through > self.before:  # a backfill: the table is newer
            first, views = self._fold(None)
            return self.folded.name, first, views
        if through == self.before and marker is not None:
            return tx.table_name(SEEN), marker[1], bool(marker[2])
        if through is None:
            tx.execute(f"DELETE FROM {tx.table_name(SEEN)} WHERE 1 = 1")
            known: tuple[date | None, bool] = (None, False)
        else:
            assert marker is not None
            known = (marker[1], bool(marker[2]))
        first, views = self._fold(through)
        seen = tx.table_name(SEEN)
        later = "CASE WHEN s.{0} IS NULL OR f.{0} > s.{0} THEN f.{0} ELSE s.{0} END"
        tx.execute(
            f"INSERT INTO {self.merged.name} SELECT f.user_email, {later.format('last_login')}, "
            f"{later.format('last_view')} FROM {self.folded.name} f LEFT JOIN {seen} s "
            f"ON s.user_email = f.user_email WHERE f.user_email IS NOT NULL AND f.user_email <> ''"
        )
        tx.upsert(SEEN, self.merged)
        first, views = known[0] or first, known[1] or views
        tx.delete(SEEN, _MARKER)
        tx.insert_rows(SEEN, [("", None, None, self.before, first, int(views), self.rules)])
        return seen, first, views

    def _fold(self, after: date | None) -> tuple[date | None, bool]:
        """Aggregate per user the events of the days after ``after`` (all when None) through ``before``;
        returns their first login day and whether a view is among them."""
        tx, p = self.tx, self.tx.placeholder
        since = "" if after is None else f"day > {p} AND "
        events = f"({self.events_sql} {since}day <= {p}) f"
        params = [*self.params, *([] if after is None else [after]), self.before]
        tx.execute(
            f"INSERT INTO {self.folded.name} SELECT user_email, MAX(CASE WHEN ok = 1 THEN request_time END), "
            f"MAX(CASE WHEN viewed = 1 THEN request_time END) FROM {events} GROUP BY user_email",
            params,
        )
        first, views = tx.query(
            f"SELECT MIN(CASE WHEN login = 1 THEN day END), MAX(viewed) FROM {events}",
            params,
            types=["date", "integer"],
        )[0]
        return first, bool(views)
