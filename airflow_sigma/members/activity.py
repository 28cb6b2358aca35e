"""``sigma_member_activity``: who uses their seat, as of a date, from the catalog and the audit history.

Built in SQL from the latest ``sigma_members`` snapshot on or before ``as_of`` and the
``sigma_audit_events`` of days on or before ``as_of`` (later events never count, so re-running an
old date gives the same rows). Windows of N days end on ``as_of`` inclusive, by the events' UTC day.

- **Rows:** every member of that snapshot (``in_catalog`` true), plus every user with a successful
  login or a view in the stored history whom no member matches (``in_catalog`` false, ``member_id``
  their lower-cased email, catalog columns NULL). Without any snapshot, every row is such a user.
- **Matching:** an event belongs to the member whose email equals its ``user_email`` ignoring case
  and surrounding spaces (audit exports carry no member id; a member without an email matches no
  event and gets NULL activity).
- **Successful login:** the audit job's own rule
  (:meth:`airflow_sigma.audit.LoginSettings.successful_login_sql`).
- **View (impression):** an event whose category is one of ``view_event_types``, whose name matches
  ``view_event_names`` and whose status matches ``view_event_statuses`` (an event without a status
  counts too). The defaults are the impressions job's
  :data:`~airflow_sigma.events.columns.DEFAULT_IMPRESSION_FILTER`: successful ``OBJECT_INTERACTION``
  events whose name mentions viewing or opening. Compared ignoring case, spaces, underscores and
  hyphens, ``*`` a wildcard, a trailing ``S`` on the category tolerated. Each event counts once.
- **NULL, not 0:** when no login event of any status is stored on or before ``as_of`` (logins not
  exported, or the login settings do not recognise them), ``last_login_at``, ``logins_Nd`` and
  ``seat_unused`` are NULL on every row; likewise ``last_impression_at`` and ``impressions_Nd`` when
  no view event is stored, and ``days_active_30d`` when neither is. Otherwise a member without such
  events gets 0 (and a NULL ``last_*_at``).
- **seat_unused:** false when the member has a successful login in the ``unused_after_days`` days
  ending on ``as_of``; true when they have none and the stored login history covers all those days
  (its first login event is on or before the window's first day); NULL when the history is shorter,
  so a silent member is never called unused on too little evidence. Archived and inactive members
  keep their flags: filter on ``is_archived`` and ``is_inactive`` for paid seats.

``last_login_at`` and ``last_impression_at`` are the latest over the whole stored history. A run reads
the login and view events of its longest window only (90 days, or ``unused_after_days`` when longer);
the last logins and views before it, the first login day and whether views are stored come from
``sigma_member_activity_seen``, which the runs keep (see :mod:`airflow_sigma.members.seen`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from airflow_sigma.audit import LoginSettings
from airflow_sigma.events.columns import DEFAULT_IMPRESSION_FILTER
from airflow_sigma.exceptions import ParameterError
from airflow_sigma.loading.settings import TaskLog, check_positive_int
from airflow_sigma.loading.sql import loose_text, loose_value, string_literals
from airflow_sigma.members.seen import OLDER_COLUMNS, SEEN, OlderHistory, rules_fingerprint, window_days
from airflow_sigma.warehouse import AUDIT_EVENTS, MEMBER_ACTIVITY, MEMBERS, Column, Transaction, Warehouse

log = logging.getLogger(__name__)

DEFAULT_UNUSED_AFTER_DAYS = 60
DEFAULT_VIEW_EVENT_TYPES: tuple[str, ...] = DEFAULT_IMPRESSION_FILTER["event_type"]
DEFAULT_VIEW_EVENT_NAMES: tuple[str, ...] = DEFAULT_IMPRESSION_FILTER["event_name"]
DEFAULT_VIEW_EVENT_STATUSES: tuple[str, ...] = DEFAULT_IMPRESSION_FILTER["event_status"]

_USERS = [
    Column(name, kind, name)  # type: ignore[arg-type]
    for name, kind in (
        ("user_email", "text"),
        ("last_login", "timestamp"),
        ("logins_30", "integer"),
        ("logins_90", "integer"),
        ("logins_recent", "integer"),
        ("last_view", "timestamp"),
        ("views_30", "integer"),
        ("views_90", "integer"),
        ("days_30", "integer"),
        ("first_login_day", "date"),
    )
]


def _loose_match(
    column: str, values: Sequence[str], placeholder: str, *, category: bool = False
) -> tuple[str, list[str]]:
    """SQL: ``column`` loosely equals one of ``values`` (``*`` a wildcard; categories may end in S),
    and the LIKE patterns it binds (given as parameters: ``%`` in SQL text would clash with ``%s``)."""
    exact: set[str] = set()
    patterns: set[str] = set()
    for value in values:
        loose = loose_value(value)
        if "*" in loose:
            patterns.add(loose.replace("*", "%"))
        elif category:
            exact |= {loose.removesuffix("s"), loose.removesuffix("s") + "s"}
        else:
            exact.add(loose)
    text = loose_text(column)
    parts = [f"{text} IN ({string_literals(sorted(exact))})"] if exact else []
    parts += [f"{text} LIKE {placeholder}" for _ in patterns]
    return "(" + " OR ".join(parts) + ")", sorted(patterns)


def _strings(name: str, values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ParameterError(f"{name} must be a non-empty list of non-empty strings, got {values!r}")
    return tuple(values)


@dataclass(frozen=True)
class MemberActivitySettings:
    """What counts as a view, and when a seat is unused.

    :param unused_after_days: a member without a successful login in this many days (ending on
        ``as_of``) has an unused seat.
    :param view_event_types: categories of view events.
    :param view_event_names: names of view events (``*`` a wildcard).
    :param logins: what counts as a (successful) login: the audit job's settings.
    :param view_event_statuses: statuses of views that count (``*`` a wildcard); an event without a
        status counts too. None: any status.
    """

    unused_after_days: int = DEFAULT_UNUSED_AFTER_DAYS
    view_event_types: Sequence[str] = DEFAULT_VIEW_EVENT_TYPES
    view_event_names: Sequence[str] = DEFAULT_VIEW_EVENT_NAMES
    logins: LoginSettings = field(default_factory=LoginSettings)
    view_event_statuses: Sequence[str] | None = DEFAULT_VIEW_EVENT_STATUSES

    def __post_init__(self) -> None:
        check_positive_int("unused_after_days", self.unused_after_days)
        for name in ("view_event_types", "view_event_names", "view_event_statuses"):
            values = getattr(self, name)
            if values is not None or name != "view_event_statuses":
                object.__setattr__(self, name, _strings(name, values))

    def view_sql(self, placeholder: str) -> tuple[str, list[str]]:
        """SQL condition on ``sigma_audit_events`` columns: the event is a workbook or element view;
        and its parameters.

        :param placeholder: the warehouse's parameter marker.
        """
        types, type_params = _loose_match("event_type", self.view_event_types, placeholder, category=True)
        names, name_params = _loose_match("event_name", self.view_event_names, placeholder)
        if self.view_event_statuses is None:
            return f"{types} AND {names}", type_params + name_params
        statuses, status_params = _loose_match("event_status", self.view_event_statuses, placeholder)
        condition = f"{types} AND {names} AND (event_status IS NULL OR {statuses})"
        return condition, type_params + name_params + status_params


def build_member_activity(
    warehouse: Warehouse,
    as_of: date,
    settings: MemberActivitySettings | None = None,
    *,
    logger: TaskLog | None = None,
) -> dict[str, Any]:
    """Replace the ``as_of`` rows of ``sigma_member_activity`` in one transaction (see the module docs).

    :return: counts for the log and XCom.
    """
    settings = settings or MemberActivitySettings()
    logger = logger or log
    with warehouse.transaction() as tx:
        tx.lock(MEMBER_ACTIVITY)
        tx.ensure_tables(MEMBERS, AUDIT_EVENTS, MEMBER_ACTIVITY, SEEN)
        snapshot = tx.query(
            f"SELECT MAX(snapshot_date) FROM {tx.table_name(MEMBERS)} "
            f"WHERE snapshot_date <= {tx.placeholder}",
            [as_of],
            types=["date"],
        )[0][0]
        build = _ActivityQueries(tx, as_of, settings, snapshot)
        login_start, views_known = build.stage()
        tx.delete(MEMBER_ACTIVITY, {"as_of": as_of})
        build.insert_rows(login_start, views_known)
        counts = tx.query(
            f"SELECT in_catalog, seat_unused, COUNT(*) FROM {tx.table_name(MEMBER_ACTIVITY)} "
            f"WHERE as_of = {tx.placeholder} GROUP BY in_catalog, seat_unused",
            [as_of],
            types=["boolean", "boolean", "integer"],
        )
    if snapshot is None:
        logger.warning(
            "No sigma_members snapshot on or before %s: has the discovery job run? Rows are the users of "
            "the audit events, by email, without catalog columns.",
            as_of,
        )
    if login_start is None:
        logger.warning(
            "No login event on or before %s in sigma_audit_events: login figures and seat_unused are NULL. "
            "Does the export include ACCESS_SIGMA events, and do the login settings match their names?",
            as_of,
        )
    if not views_known:
        logger.warning(
            "No view event on or before %s in sigma_audit_events: impression figures are NULL. Check "
            "view_event_types and view_event_names against the export's OBJECT_INTERACTION events.",
            as_of,
        )
    summary = {
        "as_of": as_of.isoformat(),
        "snapshot_date": snapshot.isoformat() if snapshot else None,
        "login_history_from": login_start.isoformat() if login_start else None,
        "views_known": views_known,
        "members": sum(c[2] for c in counts if c[0]),
        "users_not_in_catalog": sum(c[2] for c in counts if not c[0]),
        "seats_unused": sum(c[2] for c in counts if c[1] is True),
        "seats_unknown": sum(c[2] for c in counts if c[1] is None),
    }
    logger.info(
        "Member activity as of %s (catalog snapshot %s, logins stored from %s): %d members, %d users not "
        "in the catalog; %d unused seats, %d unknown.",
        summary["as_of"],
        summary["snapshot_date"],
        summary["login_history_from"],
        summary["members"],
        summary["users_not_in_catalog"],
        summary["seats_unused"],
        summary["seats_unknown"],
    )
    return summary


class _ActivityQueries:
    def __init__(self, tx: Transaction, as_of: date, settings: MemberActivitySettings, snapshot: date | None):
        self.tx = tx
        self.as_of = as_of
        self.settings = settings
        self.snapshot = snapshot
        self.p = tx.placeholder

    def _start(self, days: int) -> date:
        return self.as_of - timedelta(days=days - 1)

    def stage(self) -> tuple[date | None, bool]:
        """Aggregate the login and view events per user into a temp table: the window's days from the
        audit events, older days from :mod:`airflow_sigma.members.seen`; returns the first day with a
        login event (None: no login stored) and whether any view event is stored."""
        tx, p = self.tx, self.p
        logins = self.settings.logins
        self.users = tx.create_temp_table("sigma_member_activity_users", _USERS)
        recent = tx.create_temp_table("sigma_member_activity_recent", _USERS)
        older_temps = [tx.create_temp_table(f"sigma_member_activity_{name}", OLDER_COLUMNS)
                       for name in ("folded", "merged")]  # fmt: skip
        viewed, view_params = self.settings.view_sql(p)
        flagged = (
            f"SELECT LOWER(user_email) AS user_email, day, request_time, "
            f"CASE WHEN {logins.successful_login_sql()} THEN 1 ELSE 0 END AS ok, "
            f"CASE WHEN {logins.login_sql()} THEN 1 ELSE 0 END AS login, "
            f"CASE WHEN {viewed} THEN 1 ELSE 0 END AS viewed "
            f"FROM {tx.table_name(AUDIT_EVENTS)} WHERE (({logins.login_sql()}) OR ({viewed})) AND "
        )
        flagged_params = [*view_params, *view_params]
        start = self._start(window_days(self.settings.unused_after_days))
        count = "SUM(CASE WHEN {0} = 1 AND day >= {1} THEN 1 ELSE 0 END)"
        tx.execute(
            f"INSERT INTO {recent.name} SELECT user_email, "
            f"MAX(CASE WHEN ok = 1 THEN request_time END), {count.format('ok', p)}, "
            f"{count.format('ok', p)}, {count.format('ok', p)}, "
            f"MAX(CASE WHEN viewed = 1 THEN request_time END), {count.format('viewed', p)}, "
            f"{count.format('viewed', p)}, "
            f"COUNT(DISTINCT CASE WHEN (ok = 1 OR viewed = 1) AND day >= {p} THEN day END), "
            f"MIN(CASE WHEN login = 1 THEN day END) FROM ({flagged}day >= {p} AND day <= {p}) flagged "
            f"GROUP BY user_email",
            [
                self._start(30),
                self._start(90),
                self._start(self.settings.unused_after_days),
                self._start(30),
                self._start(90),
                self._start(30),
                *flagged_params,
                start,
                self.as_of,
            ],
        )
        rules = rules_fingerprint(logins.login_sql(), logins.successful_login_sql(), viewed, view_params)
        older, older_first, older_views = OlderHistory(
            tx, start - timedelta(days=1), (flagged, flagged_params), rules, older_temps
        ).load()
        nulls = ", ".join(["NULL"] * 3)
        tx.execute(
            f"INSERT INTO {self.users.name} SELECT user_email, MAX(last_login), SUM(logins_30), "
            f"SUM(logins_90), SUM(logins_recent), MAX(last_view), SUM(views_30), SUM(views_90), "
            f"SUM(days_30), MIN(first_login_day) FROM (SELECT * FROM {recent.name} UNION ALL "
            f"SELECT user_email, last_login, {nulls}, last_view, {nulls}, NULL FROM {older} "
            f"WHERE user_email <> '') u GROUP BY user_email"
        )
        first_login, views = tx.query(
            f"SELECT MIN(first_login_day), COUNT(last_view) FROM {recent.name}", types=["date", "integer"]
        )[0]
        if older_first is not None and (first_login is None or older_first < first_login):
            first_login = older_first
        return first_login, bool(views) or older_views

    def insert_rows(self, login_start: date | None, views_known: bool) -> None:
        """Insert the members of the snapshot, then the users no member matches."""
        tx, p = self.tx, self.p
        target = f"INSERT INTO {tx.table_name(MEMBER_ACTIVITY)} ({', '.join(MEMBER_ACTIVITY.column_names)}) "
        as_of = tx.dialect.from_text(p, "date")
        members = tx.table_name(MEMBERS)
        email = "LOWER(TRIM(m.email))"
        if self.snapshot is not None:
            metrics = self._metrics(login_start, views_known, f"m.email IS NOT NULL AND {email} <> ''")
            tx.execute(
                f"{target}SELECT {as_of}, m.member_id, TRUE, m.email, m.member_type, m.is_archived, "
                f"m.is_inactive, m.created_at, {metrics} FROM {members} m "
                f"LEFT JOIN {self.users.name} u ON u.user_email = {email} WHERE m.snapshot_date = {p}",
                [self.as_of, self.snapshot],
            )
        unmatched = ""
        params: list[Any] = [self.as_of]
        if self.snapshot is not None:
            unmatched = (
                f" AND NOT EXISTS (SELECT 1 FROM {members} m "
                f"WHERE m.snapshot_date = {p} AND {email} = u.user_email)"
            )
            params.append(self.snapshot)
        tx.execute(
            f"{target}SELECT {as_of}, u.user_email, FALSE, u.user_email, NULL, NULL, NULL, NULL, "
            f"{self._metrics(login_start, views_known, None)} FROM {self.users.name} u "
            f"WHERE u.user_email IS NOT NULL AND u.user_email <> '' "
            f"AND (u.last_login IS NOT NULL OR u.last_view IS NOT NULL){unmatched}",
            params,
        )

    def _metrics(self, login_start: date | None, views_known: bool, matchable: str | None) -> str:
        """The activity columns, from ``u`` (the user's aggregate, NULL when they have no events)."""

        def known(expression: str, is_known: bool) -> str:
            if not is_known:
                return "NULL"
            return expression if matchable is None else f"CASE WHEN {matchable} THEN {expression} END"

        logins_known = login_start is not None
        window_start = self._start(self.settings.unused_after_days)
        covered = login_start is not None and login_start <= window_start
        unused = f"CASE WHEN COALESCE(u.logins_recent, 0) > 0 THEN FALSE{' ELSE TRUE' if covered else ''} END"
        return ", ".join(
            [
                known("u.last_login", logins_known),
                known("u.last_view", views_known),
                known("COALESCE(u.logins_30, 0)", logins_known),
                known("COALESCE(u.logins_90, 0)", logins_known),
                known("COALESCE(u.views_30, 0)", views_known),
                known("COALESCE(u.views_90, 0)", views_known),
                known("COALESCE(u.days_30, 0)", logins_known or views_known),
                known(unused, logins_known),
            ]
        )
