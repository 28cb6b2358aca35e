"""sigma_member_activity against ground truth from generated audit exports, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.audit import LoginSettings
from airflow_sigma.catalog import Catalog, CatalogOptions, CatalogStats, MemberRow, write_catalog
from airflow_sigma.members import DEFAULT_VIEW_EVENT_NAMES, MemberActivitySettings, build_member_activity
from airflow_sigma.members.seen import SEEN
from airflow_sigma.testing.exports import ExportSpec, write_exports
from airflow_sigma.warehouse import MEMBER_ACTIVITY, SqliteDialect, Warehouse
from tests.fixtures.exports import listed, load_audit
from tests.fixtures.snowflake import watched

UTC = timezone.utc
START = date(2024, 1, 1)
DAYS = 100
WORKBOOKS = {f"wb{n}": [f"e{n}.{k}" for k in range(n % 3)] for n in range(8)}
# The events write some emails in another case than the catalog; dora is in no catalog.
ACTIVE = ["ann@example.com", "BOB@Example.com", "carl@example.com", "dora@example.com"]
OLD_TIMER = "Old.Timer@example.com"  # active only in the first 20 days
CREATED = datetime(2023, 6, 1, 8, 30, tzinfo=UTC)
MEMBERS = [
    MemberRow("m-ann", "Ann@Example.com", "Ann", "A", "Creator", False, False, CREATED),
    MemberRow("m-bob", " bob@example.com", "Bob", "B", "Viewer", False, False, None),
    MemberRow("m-carl", "carl@example.com", "Carl", "C", "Admin", False, True, CREATED),
    MemberRow("m-old", "old.timer@example.com", "Old", "Timer", "Viewer", True, False, CREATED),
    MemberRow("m-eve", "eve@example.com", "Eve", "E", "Viewer", False, False, CREATED),  # no events
    MemberRow("m-anon", None, None, None, "Viewer", False, False, None),  # no email: matches nothing
]
Activity = list[tuple[datetime, str, str]]


def specs() -> list[ExportSpec]:
    common: dict[str, Any] = {
        "workbooks": WORKBOOKS,
        "start": START,
        "record_activity": True,
        "failed_view_share": 0.1,  # denied views are not views
    }
    return [
        ExportSpec(users=ACTIVE, days=DAYS, events_per_day=15, files=10, window_hours=24 * 11, **common),
        ExportSpec(
            users=[OLD_TIMER],
            days=20,
            events_per_day=3,
            files=2,
            window_hours=24 * 11,
            file_stem="old_timer",
            seed=8,
            **common,
        ),
    ]


def write_history(folder: Path, chosen: Sequence[ExportSpec] | None = None) -> Activity:
    activity: Activity = []
    for spec in chosen or specs():
        activity += write_exports(folder, spec).activity
    return activity


def store_members(warehouse: Warehouse, snapshot: date, members: Sequence[MemberRow] = MEMBERS) -> None:
    write_catalog(warehouse, Catalog([], [], list(members), CatalogStats(), CatalogOptions()), snapshot)


def expected(
    activity: Activity, as_of: date, members: Sequence[MemberRow] | None, unused_after_days: int = 60
) -> list[tuple[Any, ...]]:
    """The rows sigma_member_activity must hold, computed independently of the SQL."""
    events = [(at, user.strip().lower(), kind) for at, user, kind in activity if at.date() <= as_of]
    login_days = [at.date() for at, _, kind in events if kind in ("login", "failed_login")]
    logins_known = bool(login_days)
    views_known = any(kind == "view" for _, _, kind in events)
    covered = logins_known and min(login_days) <= as_of - timedelta(days=unused_after_days - 1)

    def since(days: int) -> date:
        return as_of - timedelta(days=days - 1)

    def metrics(email: str | None) -> tuple[Any, ...]:
        mine = [(at, kind) for at, user, kind in events if email is not None and user == email]
        ok = [at for at, kind in mine if kind == "login"]
        views = [at for at, kind in mine if kind == "view"]

        def within(times: list[datetime], days: int) -> int:
            return sum(at.date() >= since(days) for at in times)

        active_days = len({at.date() for at in ok + views if at.date() >= since(30)})
        unused = None
        if within(ok, unused_after_days):
            unused = False
        elif covered:
            unused = True
        values = [
            (logins_known, max(ok, default=None)),
            (views_known, max(views, default=None)),
            (logins_known, within(ok, 30)),
            (logins_known, within(ok, 90)),
            (views_known, within(views, 30)),
            (views_known, within(views, 90)),
            (logins_known or views_known, active_days),
            (logins_known, unused),
        ]
        return tuple(value if known and email is not None else None for known, value in values)

    rows = []
    matched = set()
    for m in members or []:
        email = m.email.strip().lower() if m.email and m.email.strip() else None
        matched.add(email)
        catalog = (m.email, m.member_type, m.is_archived, m.is_inactive, m.created_at)
        rows.append((as_of, m.member_id, True, *catalog, *metrics(email)))
    seen = {user for _, user, kind in events if kind in ("login", "view")}
    for user in sorted(seen - matched):
        rows.append((as_of, user, False, user, None, None, None, None, *metrics(user)))
    return sorted(rows, key=lambda row: row[1])


def activity_rows(warehouse: Warehouse, as_of: date) -> list[tuple[Any, ...]]:
    return warehouse.read_table(MEMBER_ACTIVITY, {"as_of": as_of})


def columns(rows: Iterable[tuple[Any, ...]], *names: str) -> dict[str, tuple[Any, ...]]:
    index = [MEMBER_ACTIVITY.column_names.index(name) for name in names]
    return {row[1]: tuple(row[i] for i in index) for row in rows}


# -- exact against ground truth ---------------------------------------------------------------------------


def test_catalog_and_audit_history_match_the_ground_truth(warehouse: Warehouse, tmp_path: Path) -> None:
    activity = write_history(tmp_path / "exports")
    load_audit(warehouse, listed(tmp_path / "exports"), START + timedelta(days=DAYS))
    store_members(warehouse, START + timedelta(days=5))
    for offset, unused in ((99, 60), (70, 60), (40, 30), (40, 60), (10, 5)):
        as_of = START + timedelta(days=offset)
        settings = MemberActivitySettings(unused_after_days=unused)
        summary = build_member_activity(warehouse, as_of, settings)
        want = expected(activity, as_of, MEMBERS, unused)
        assert activity_rows(warehouse, as_of) == want, (offset, unused)
        assert summary["members"] == len(MEMBERS) and summary["users_not_in_catalog"] == 1
        assert summary["seats_unused"] == sum(row[-1] is True for row in want)
        assert summary["login_history_from"] == START.isoformat()
    # The history holds the answers the definitions promise: dora is found by email only, the old
    # timer's seat is unused once 60 days of history cover their silence, eve never logged in.
    late = columns(activity_rows(warehouse, START + timedelta(days=99)), "in_catalog", "seat_unused")
    assert late["dora@example.com"] == (False, False)
    assert late["m-old"] == (True, True) and late["m-eve"] == (True, True)
    assert late["m-anon"] == (True, None) and late["m-bob"] == (True, False)
    early = columns(activity_rows(warehouse, START + timedelta(days=40)), "seat_unused", "logins_90d")
    assert early["m-eve"] == (None, 0)  # 41 days of history cannot show 60 silent days


def test_without_a_catalog_rows_are_the_users_of_the_events(warehouse: Warehouse, tmp_path: Path) -> None:
    activity = write_history(tmp_path / "exports")
    load_audit(warehouse, listed(tmp_path / "exports"), START + timedelta(days=DAYS))
    as_of = START + timedelta(days=80)
    summary = build_member_activity(warehouse, as_of)
    rows = activity_rows(warehouse, as_of)
    assert rows == expected(activity, as_of, None)
    assert [row[1] for row in rows] == sorted(u.lower() for u in [*ACTIVE, OLD_TIMER])
    assert summary["snapshot_date"] is None and summary["members"] == 0


def test_a_snapshot_taken_after_as_of_is_not_used(warehouse: Warehouse, tmp_path: Path) -> None:
    activity = write_history(tmp_path / "exports")
    load_audit(warehouse, listed(tmp_path / "exports"), START + timedelta(days=DAYS))
    store_members(warehouse, START + timedelta(days=50))
    as_of = START + timedelta(days=30)
    build_member_activity(warehouse, as_of)
    assert activity_rows(warehouse, as_of) == expected(activity, as_of, None)


def test_without_logins_login_figures_are_null_not_zero(
    warehouse: Warehouse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    activity = write_history(tmp_path / "exports")
    files = listed(tmp_path / "exports")
    load_audit(warehouse, files, START + timedelta(days=DAYS), categories=["OBJECT_INTERACTION"])
    store_members(warehouse, START)
    as_of = START + timedelta(days=99)
    with caplog.at_level(logging.WARNING):
        summary = build_member_activity(warehouse, as_of)
    views_only = [event for event in activity if event[2] in ("view", "failed_view")]
    rows = activity_rows(warehouse, as_of)
    assert rows == expected(views_only, as_of, MEMBERS)
    logins = columns(rows, "last_login_at", "logins_30d", "logins_90d", "seat_unused")
    assert set(logins.values()) == {(None, None, None, None)}
    assert columns(rows, "impressions_90d")["m-eve"] == (0,)  # views are known: none is 0
    assert summary["login_history_from"] is None and summary["seats_unknown"] == len(rows)
    assert "No login event on or before 2024-04-09" in caplog.text


def test_without_audit_events_every_member_has_null_activity(
    warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    store_members(warehouse, START)
    with caplog.at_level(logging.WARNING):
        summary = build_member_activity(warehouse, START)
    rows = activity_rows(warehouse, START)
    assert rows == expected([], START, MEMBERS)
    assert {row[8:] for row in rows} == {(None,) * 8}
    assert summary["members"] == len(MEMBERS) and not summary["views_known"]
    assert "impression figures are NULL" in caplog.text


def test_login_settings_are_the_audit_jobs(warehouse: Warehouse, tmp_path: Path) -> None:
    """Logins named otherwise count only once the login settings (shared with the audit job) say so."""
    activity = write_history(tmp_path / "exports")
    load_audit(warehouse, listed(tmp_path / "exports"), START + timedelta(days=DAYS))
    as_of = START + timedelta(days=99)
    other = LoginSettings(login_event_names=["Sign In"])
    build_member_activity(warehouse, as_of, MemberActivitySettings(logins=other))
    rows = activity_rows(warehouse, as_of)
    assert set(columns(rows, "logins_90d").values()) == {(None,)}
    renamed = MemberActivitySettings(logins=LoginSettings(login_event_names=["LOG-IN"]))
    build_member_activity(warehouse, as_of, renamed)
    assert activity_rows(warehouse, as_of) == expected(activity, as_of, None)


# -- re-runs and failures ---------------------------------------------------------------------------------


def test_re_runs_give_the_same_table(warehouse: Warehouse, tmp_path: Path) -> None:
    write_history(tmp_path / "exports")
    load_audit(warehouse, listed(tmp_path / "exports"), START + timedelta(days=DAYS))
    store_members(warehouse, START)
    days = [START + timedelta(days=n) for n in (60, 90)]
    for day in days:
        build_member_activity(warehouse, day)
    first = warehouse.read_table(MEMBER_ACTIVITY)
    for day in reversed(days):
        build_member_activity(warehouse, day)
    assert warehouse.read_table(MEMBER_ACTIVITY) == first


def test_a_failed_run_leaves_the_table_as_it_was(warehouse: Warehouse, tmp_path: Path) -> None:
    write_history(tmp_path / "exports")
    load_audit(warehouse, listed(tmp_path / "exports"), START + timedelta(days=DAYS))
    store_members(warehouse, START)
    as_of = START + timedelta(days=90)
    build_member_activity(warehouse, as_of)
    before = warehouse.read_table(MEMBER_ACTIVITY)
    store_members(warehouse, START + timedelta(days=1), MEMBERS[:2])  # a run now would change rows
    _fail_inserts_of_users_not_in_catalog(warehouse)  # fault injected in the database
    with pytest.raises(Exception, match="injected"):
        build_member_activity(warehouse, as_of)
    assert warehouse.read_table(MEMBER_ACTIVITY) == before


def _fail_inserts_of_users_not_in_catalog(warehouse: Warehouse) -> None:
    table = warehouse.table_name(MEMBER_ACTIVITY)
    if warehouse.dialect.name in ("snowflake", "bigquery"):  # no triggers: fail its INSERTs in the driver

        def fail(cursor: Any, sql: str) -> None:
            if sql.startswith(f"INSERT INTO {table} "):
                raise RuntimeError("injected")

        warehouse.connect = watched(warehouse.connect, fail)
        return
    with warehouse.transaction() as tx:
        if warehouse.dialect.name == "sqlite":
            tx.execute(
                f"CREATE TRIGGER sigma_test_fail BEFORE INSERT ON {table} WHEN NEW.in_catalog = 0 "
                "BEGIN SELECT RAISE(ABORT, 'injected'); END"
            )
            return
        tx.execute(
            "CREATE FUNCTION sigma_test_fail() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'injected'; END $$"
        )
        tx.execute(
            f"CREATE TRIGGER sigma_test_fail BEFORE INSERT ON {table} FOR EACH ROW "
            "WHEN (NOT NEW.in_catalog) EXECUTE FUNCTION sigma_test_fail()"
        )


# -- settings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unused_after_days": 0}, "unused_after_days must be a whole number >= 1"),
        ({"view_event_types": "OBJECT_INTERACTION"}, "view_event_types must be a non-empty list"),
        ({"view_event_names": []}, "view_event_names must be a non-empty list"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MemberActivitySettings(**kwargs)


@pytest.mark.parametrize(
    ("statuses", "seen"),
    [
        (("succe*",), ["VIEW_ELEMENT", "open-workbook"]),
        (None, ["VIEW_ELEMENT", "open-workbook", "view_failed"]),
    ],
)
def test_views_match_loosely_with_wildcards(
    warehouse: Warehouse, statuses: tuple[str, ...] | None, seen: list[str]
) -> None:
    settings = MemberActivitySettings(
        view_event_names=["Open Workbook", "*view*"], view_event_statuses=statuses
    )
    rows = [
        ("OBJECT_INTERACTIONS", "open-workbook", "Succeeded"),  # plural category, other punctuation
        ("object interaction", "VIEW_ELEMENT", None),  # no status: counts
        ("OBJECT_INTERACTION", "open element", "SUCCESS"),  # not an exact name, and no wildcard matches
        ("OBJECT_INTERACTION", "view_failed", "PERMISSION_DENIED"),
        ("ACCESS_SIGMA", "view_workbook", "SUCCESS"),
    ]
    with warehouse.transaction() as tx:
        placeholders = ", ".join(f"({tx.placeholder}, {tx.placeholder}, {tx.placeholder})" for _ in rows)
        tx.execute(
            "CREATE TEMPORARY TABLE sigma_test_events (event_type TEXT, event_name TEXT, event_status TEXT)"
        )
        tx.execute(f"INSERT INTO sigma_test_events VALUES {placeholders}", [v for row in rows for v in row])
        sql, params = settings.view_sql(tx.placeholder)
        matched = tx.query(
            f"SELECT event_name FROM sigma_test_events WHERE {sql} ORDER BY event_name", params
        )
    assert sorted(row[0] for row in matched) == seen


# -- the older-history table (sigma_member_activity_seen) -----------------------------------------------


def seen_marker(warehouse: Warehouse) -> tuple[Any, ...] | None:
    rows = warehouse.read_table(SEEN, {"user_email": ""})
    return rows[0] if rows else None


def seen_state(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return warehouse.read_table(SEEN)


def test_older_history_is_kept_once_folded_daily_and_left_alone_by_backfills(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    activity = write_history(tmp_path / "exports")
    load_audit(warehouse, listed(tmp_path / "exports"), START + timedelta(days=DAYS))
    store_members(warehouse, START + timedelta(days=5))

    def check(offset: int, unused: int = 60) -> None:
        as_of = START + timedelta(days=offset)
        build_member_activity(warehouse, as_of, MemberActivitySettings(unused_after_days=unused))
        assert activity_rows(warehouse, as_of) == expected(activity, as_of, MEMBERS, unused), offset

    check(115)  # an existing history: the table is filled once, through the day before the window
    marker = seen_marker(warehouse)
    assert marker is not None and marker[3] == START + timedelta(days=115 - 90)
    for offset in (116, 117, 118, 125):  # daily runs and a jump fold in the days between
        check(offset)
        marker = seen_marker(warehouse)
        assert marker is not None and marker[3] == START + timedelta(days=offset - 90)
    # The old timer was last active before the window: their last login comes from the table only.
    late = columns(activity_rows(warehouse, START + timedelta(days=125)), "last_login_at", "logins_90d")
    assert late["m-old"][0] is not None and late["m-old"][1] == 0
    before = seen_state(warehouse)
    for offset in (125, 99, 60, 10):  # a re-run and backfills older than the table: left alone
        check(offset)
        assert seen_state(warehouse) == before
    check(126, unused=120)  # a longer window: the table is read as it is (older than that window)
    check(127)


def test_changed_audit_days_and_login_settings_refill_the_table(warehouse: Warehouse, tmp_path: Path) -> None:
    activity = write_history(tmp_path / "exports")
    load_audit(warehouse, listed(tmp_path / "exports"), START + timedelta(days=DAYS))
    store_members(warehouse, START)
    as_of = START + timedelta(days=112)
    build_member_activity(warehouse, as_of)
    assert seen_marker(warehouse) is not None
    # A late export with events of days the table covers: the audit job empties it.
    late = ExportSpec(
        workbooks=WORKBOOKS, users=["late@example.com"], start=START + timedelta(days=3), days=2,
        events_per_day=4, files=1, window_hours=48, file_stem="late", seed=3, record_activity=True,
    )  # fmt: skip
    activity += write_exports(tmp_path / "late", late).activity
    load_audit(warehouse, listed(tmp_path / "late"), START + timedelta(days=DAYS))
    assert seen_state(warehouse) == []
    build_member_activity(warehouse, as_of)
    assert activity_rows(warehouse, as_of) == expected(activity, as_of, MEMBERS)
    assert "late@example.com" in columns(activity_rows(warehouse, as_of), "in_catalog")
    # Other login settings are another table: refilled, and the rows follow the settings.
    marker = seen_marker(warehouse)
    settings = MemberActivitySettings(logins=LoginSettings(login_event_names=("Nothing such",)))
    build_member_activity(warehouse, as_of, settings)
    assert seen_marker(warehouse) != marker
    assert all(row[8] is None for row in activity_rows(warehouse, as_of))  # no login recognised


def test_a_failed_run_leaves_the_older_history_table_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    warehouse = Warehouse(lambda: sqlite3.connect(path), SqliteDialect())
    write_history(tmp_path / "exports")
    load_audit(warehouse, listed(tmp_path / "exports"), START + timedelta(days=DAYS))
    build_member_activity(warehouse, START + timedelta(days=110))
    before = seen_state(warehouse)
    with warehouse.transaction() as tx:
        block = "SELECT RAISE(ABORT, 'blocked')"
        tx.execute(f"CREATE TRIGGER blocked BEFORE INSERT ON sigma_member_activity BEGIN {block}; END")
    for offset in (111, 150):  # folded, and refilled after a change of settings
        with pytest.raises(Exception, match="blocked"):
            names = ("view*",) if offset == 150 else DEFAULT_VIEW_EVENT_NAMES
            settings = MemberActivitySettings(view_event_names=names)
            build_member_activity(warehouse, START + timedelta(days=offset), settings)
        assert seen_state(warehouse) == before
