"""The audit-history job: every event kept once and forever, daily logins and event counts."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.audit import LoginSettings
from airflow_sigma.events import EventFileError
from airflow_sigma.testing.exports import ExportSpec, write_exports
from airflow_sigma.warehouse import AUDIT_EVENTS, DAILY_EVENT_COUNTS, DAILY_LOGINS, Warehouse
from tests.fixtures.exports import (
    AUDIT_TABLES,
    at,
    export_rows,
    exported,
    load_audit,
    make_warehouse,
    tables,
    write_export,
)

UTC = timezone.utc
HEADER = "Event Id,Request Time,Event Type,Event Name,Event Status,User Email,Object Id,Object Name,Client IP"


def stored(warehouse: Warehouse) -> list[dict[str, Any]]:
    return [
        dict(zip(AUDIT_EVENTS.column_names, row, strict=True)) for row in warehouse.read_table(AUDIT_EVENTS)
    ]


def logins(warehouse: Warehouse) -> dict[date, tuple[int, int, int]]:
    return {row[0]: tuple(row[1:]) for row in warehouse.read_table(DAILY_LOGINS)}


CATEGORIES = (
    "ACCESS_SIGMA", "USER_ACCOUNT", "ACCOUNT_TYPE", "TEAMS", "CONNECTION", "OBJECT_INTERACTION",
    "QUERY_EXECUTIONS", "PUBLIC_API", "EXPORTS", "PERMISSIONS", "SCHEDULES", "MATERIALIZATIONS",
    "SOMETHING_SIGMA_ADDS_IN_2030",
)  # fmt: skip


def test_all_twelve_documented_categories_and_a_new_one_are_stored(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = [
        f"c{n},2024-05-01T08:{n:02d}:00Z,{name},event,Success,ann@x.com,,,"
        for n, name in enumerate(CATEGORIES)
    ]
    export = write_export(tmp_path, "a.csv", rows, header=HEADER, modified=at("2024-05-01T12:00"))
    load_audit(warehouse, [export], date(2024, 5, 1))
    assert sorted(r["event_type"] for r in stored(warehouse)) == sorted(CATEGORIES)
    counts = warehouse.read_table(DAILY_EVENT_COUNTS)
    assert sorted(row[1] for row in counts) == sorted(CATEGORIES)


def test_one_event_id_twice_in_a_file_keeps_the_same_row_on_every_warehouse(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    rows = [
        "e3,2024-05-01T10:00:00Z,ACCESS_SIGMA,,Success,cy@x.com,,,",
        "e3,2024-05-01T10:00:00Z,ACCESS_SIGMA,Login,Success,cy@x.com,,,",
        "e3,2024-05-01T10:00:00Z,ACCESS_SIGMA,,Success,cy@x.com,,,",
    ]
    export = write_export(tmp_path, "a.csv", rows, header=HEADER, modified=at("2024-05-01T12:00"))
    load_audit(warehouse, [export], date(2024, 5, 1))
    # A missing value ranks below any value, on SQLite and PostgreSQL alike.
    assert [r["event_name"] for r in stored(warehouse)] == ["Login"]
    assert logins(warehouse) == {date(2024, 5, 1): (1, 0, 1)}


def test_every_category_is_kept_unknown_ones_too(warehouse: Warehouse, tmp_path: Path) -> None:
    export = write_export(
        tmp_path,
        "a.csv",
        [
            "e1,2024-05-01T08:00:00Z,ACCESS_SIGMA,Login,Success,Ann@x.com,,,10.0.0.1",
            "e2,2024-05-01T08:01:00Z,OBJECT_INTERACTION,view_workbook,Success,ann@x.com,wb1,Sales,10.0.0.1",
            "e3,2024-05-01T08:02:00Z,QUERY_EXECUTIONS,run_query,Failure,bob@x.com,wb1,Sales,",
            "e4,2024-05-01T08:03:00Z,AI_CONVERSATIONS,ask_question,Success,bob@x.com,,,10.0.0.2",
            'e5,2024-05-01T08:04:00Z,ROBOTS,"beep, boop",,,,"say ""hi""",',
        ],
        header=HEADER,
        modified=at("2024-05-01T12:00"),
    )
    result = load_audit(warehouse, [export], date(2024, 5, 1))
    rows = stored(warehouse)
    assert sorted(r["event_type"] for r in rows) == [
        "ACCESS_SIGMA", "AI_CONVERSATIONS", "OBJECT_INTERACTION", "QUERY_EXECUTIONS", "ROBOTS",
    ]  # fmt: skip
    robot = next(r for r in rows if r["event_type"] == "ROBOTS")
    assert (robot["event_key"], robot["event_name"], robot["event_status"], robot["user_email"]) == (
        "e5", "beep, boop", None, None,
    )  # fmt: skip
    assert robot["object_name"] == 'say "hi"' and robot["attributes"] == {"Client IP": None}
    login = next(r for r in rows if r["event_key"] == "e1")
    assert login["user_email"] == "ann@x.com" and login["attributes"] == {"Client IP": "10.0.0.1"}
    assert login["request_time"] == at("2024-05-01T08:00") and login["source_uri"] == export["uri"]
    counts = warehouse.read_table(DAILY_EVENT_COUNTS)
    assert (date(2024, 5, 1), "ROBOTS", "beep, boop", "", 1, 0) in counts
    assert (date(2024, 5, 1), "QUERY_EXECUTIONS", "run_query", "Failure", 1, 1) in counts
    assert logins(warehouse) == {date(2024, 5, 1): (1, 0, 1)}
    assert result.events == 5
    narrowed = make_warehouse_like(warehouse, tmp_path)
    result = load_audit(narrowed, [export], date(2024, 5, 1), categories=["access sigma", "robot"])
    assert sorted(r["event_key"] for r in stored(narrowed)) == ["e1", "e5"]
    assert result.totals()["rows_filtered"] == 3


def make_warehouse_like(warehouse: Warehouse, tmp_path: Path) -> Warehouse:
    """Another set of tables next to ``warehouse`` (same database, another prefix)."""
    return Warehouse(warehouse.connect, warehouse.dialect, table_prefix="other_")


def test_renamed_columns_through_column_map(warehouse: Warehouse, tmp_path: Path) -> None:
    export = write_export(
        tmp_path,
        "renamed.csv",
        ["x-1,2024-05-01T08:00:00Z,ACCESS_SIGMA,Login,Failure,ann@x.com,Berlin"],
        header="Audit Ref,When,Kind,What,Outcome,Who,City",
        modified=at("2024-05-01T12:00"),
    )
    column_map = {
        "request_time": "When", "event_type": "Kind", "event_name": "What", "event_status": "Outcome",
        "user_email": "Who",
    }  # fmt: skip
    load_audit(warehouse, [export], date(2024, 5, 1), column_map=column_map, event_id_column="Audit Ref")
    [row] = stored(warehouse)
    assert (row["event_key"], row["event_status"], row["attributes"]) == (
        "x-1",
        "Failure",
        {"City": "Berlin"},
    )
    assert logins(warehouse) == {date(2024, 5, 1): (0, 1, 0)}


def test_a_file_without_event_type_fails_and_changes_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    export = write_export(
        tmp_path,
        "a.csv",
        ["2024-05-01T08:00:00Z,Login"],
        header="Request Time,Event Name",
        modified=at("2024-05-01T12:00"),
    )
    with pytest.raises(EventFileError, match=r"a\.csv: required column 'event_type' not found.*Event Name'"):
        load_audit(warehouse, [export], date(2024, 5, 1))
    assert tables(warehouse, AUDIT_TABLES) == {t.base_name: [] for t in AUDIT_TABLES}


def test_overlapping_exports_are_stored_once_with_or_without_event_ids(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    with_ids = [f"id{n},2024-05-01T08:0{n}:00Z,ACCESS_SIGMA,Login,Success,u{n}@x.com,,,ip" for n in range(6)]
    a = write_export(tmp_path, "a.csv", with_ids[:4], header=HEADER, modified=at("2024-05-01T12:00"))
    changed = [*with_ids[2:5], "id5,2024-05-01T08:05:00Z,ACCESS_SIGMA,Login,Failure,u5@x.com,,,ip"]
    b = write_export(tmp_path, "b.csv", changed, header=HEADER, modified=at("2024-05-01T13:00"))
    no_ids = [row.split(",", 1)[1] for row in with_ids]
    c = write_export(
        tmp_path, "c.csv", no_ids[:3], header=HEADER.split(",", 1)[1], modified=at("2024-05-01T14:00")
    )
    d = write_export(
        tmp_path, "d.csv", no_ids[1:], header=HEADER.split(",", 1)[1], modified=at("2024-05-01T15:00")
    )
    load_audit(warehouse, [a, b], date(2024, 5, 1))
    load_audit(warehouse, [c, d], date(2024, 5, 1))
    load_audit(warehouse, [d, b], date(2024, 5, 1))
    rows = stored(warehouse)
    assert len(rows) == 12  # 6 events with ids, the same 6 exported without ids (hashed keys)
    hashed = [r for r in rows if not r["event_key"].startswith("id")]
    assert len({r["event_key"] for r in hashed}) == 6
    assert all(r["event_key"] == f"{micros(r['request_time'])};{r['event_key'][-32:]}" for r in hashed)
    assert next(r for r in rows if r["event_key"] == "id5")["event_status"] == "Failure"  # newest file wins
    assert export_rows(warehouse, "audit")["d.csv"]["duplicate_events"] == 0
    assert export_rows(warehouse, "audit")["c.csv"]["duplicate_events"] == 2


def micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def test_events_keyed_by_their_hash_alone_are_rekeyed_not_stored_twice(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Keys stored by 0.1.0 were the bare hash: the days a run loads get the time in front first."""
    header = HEADER.split(",", 1)[1]
    times = ["2024-04-30T23:59:59.999999Z", "2024-05-01T00:00:00.000001Z", "2024-05-01T08:00:00.5Z"]
    rows = [f"{t},ACCESS_SIGMA,Login,Success,u{n}@x.com,,,ip" for n, t in enumerate(times)]
    old_day = ["1999-12-31T23:59:59.123456Z,ACCESS_SIGMA,Login,Success,z@x.com,,,ip"]
    a = write_export(tmp_path, "a.csv", [*old_day, *rows], header=header, modified=at("2024-05-01T12:00"))
    load_audit(warehouse, [a], date(2024, 5, 1))
    keys = {r["event_key"] for r in stored(warehouse)}
    assert len(keys) == 4
    assert all(
        r["event_key"] == f"{micros(r['request_time'])};{r['event_key'][-32:]}" for r in stored(warehouse)
    )
    with warehouse.transaction() as tx:  # what 0.1.0 stored
        table, p = tx.table_name(AUDIT_EVENTS), tx.placeholder
        for key in keys:
            tx.execute(f"UPDATE {table} SET event_key = {p} WHERE event_key = {p}", [key.split(";")[1], key])
    b = write_export(tmp_path, "b.csv", rows[1:], header=header, modified=at("2024-05-01T13:00"))
    result = load_audit(warehouse, [b], date(2024, 5, 1))
    assert result.events == 2  # updated from the newer file, not inserted again
    after = {r["event_key"]: r for r in stored(warehouse)}
    may_1 = micros(at("2024-05-01T00:00"))
    reloaded = {k for k in keys if int(k.split(";")[0]) >= may_1}  # not 30 April, nor 1999: not loaded again
    assert len(reloaded) == 2
    assert set(after) == reloaded | {k.split(";")[1] for k in keys - reloaded}
    assert sorted(r["source_uri"].rsplit("/", 1)[1] for r in after.values()) == [
        "a.csv",
        "a.csv",
        "b.csv",
        "b.csv",
    ]
    assert logins(warehouse)[date(2024, 5, 1)] == (2, 0, 2)
    load_audit(warehouse, [a, b], date(2024, 5, 1))  # every day again: the SQL's time is Python's
    assert {r["event_key"] for r in stored(warehouse)} == keys


def test_an_event_id_that_looks_like_a_hash_is_never_rekeyed(warehouse: Warehouse, tmp_path: Path) -> None:
    row = "2024-05-01T08:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,,,ip"
    hexadecimal = "0123456789abcdef0123456789abcdef"
    a = write_export(
        tmp_path, "a.csv", [f"{hexadecimal},{row}"], header=HEADER, modified=at("2024-05-01T12:00")
    )
    load_audit(warehouse, [a], date(2024, 5, 1))
    header = HEADER.split(",", 1)[1]
    b = write_export(tmp_path, "b.csv", [row], header=header, modified=at("2024-05-01T13:00"))
    load_audit(warehouse, [b], date(2024, 5, 1))
    keys = sorted(r["event_key"] for r in stored(warehouse))
    assert (
        len(keys) == 2 and keys[0] == hexadecimal and keys[1].startswith(f"{micros(at('2024-05-01T08:00'))};")
    )


def test_reruns_in_any_order_give_identical_tables(
    request: pytest.FixtureRequest, warehouse: Warehouse, tmp_path: Path
) -> None:
    spec = ExportSpec(
        workbooks={"wbA": ["e1"], "wbB": []},
        users=["ann@x.com", "bob@x.com", "cy@x.com"],
        start=date(2024, 5, 1),
        days=4,
        events_per_day=20,
        files=8,
        bad_rows=3,  # a bad timestamp, a row without email (a fine audit event), a short row
    )
    truth = write_exports(tmp_path / "exports", spec)
    files = [exported(path.parent, path.name) for path in truth.files]
    runs = [files[0:3], files[2:6], files[5:8]]
    for run_number, run in enumerate(runs):
        load_audit(warehouse, run, date(2024, 5, 2 + run_number), max_bad_row_fraction=0.1)
    forward = tables(warehouse, AUDIT_TABLES)
    assert len(forward["audit_events"]) == truth.events + 1  # + the view event without an email
    expected = {day: tuple(counts) for day, counts in truth.logins.items()}
    assert logins(warehouse) == {**expected, date(2024, 5, 5): (0, 0, 0)}  # the email-less view's day
    for run_number, run in reversed(list(enumerate(runs))):
        load_audit(warehouse, run, date(2024, 5, 2 + run_number), max_bad_row_fraction=0.1)
    assert tables(warehouse, AUDIT_TABLES) == forward
    backend = "sqlite" if warehouse.dialect.name == "sqlite" else "postgres"
    reversed_ = make_warehouse(request, tmp_path, backend, table_prefix="rev_")
    for run_number, run in reversed(list(enumerate(runs))):
        load_audit(reversed_, run, date(2024, 5, 2 + run_number), max_bad_row_fraction=0.1)
    assert tables(reversed_, AUDIT_TABLES) == forward


def test_login_counts_per_utc_day_and_configurable_names(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = [
        "1,2024-05-01T23:59:59.999999Z,ACCESS_SIGMA,Login,SUCCESS,ann@x.com,,,",
        "2,2024-05-02T00:00:00Z,access_sigma,LOG_IN,success,ann@x.com,,,",
        "3,2024-05-02T01:00:00+02:00,ACCESS_SIGMA,login,Failure,bob@x.com,,,",  # 2024-05-01T23:00Z
        "4,2024-05-01T00:00:00Z,ACCESS_SIGMA,Login,Failed,bob@x.com,,,",
        "5,2024-05-01T12:00:00Z,ACCESS_SIGMA,Logout,Success,cy@x.com,,,",
        "6,2024-05-01T12:00:00Z,OBJECT_INTERACTION,Login,Success,cy@x.com,,,",
        "7,2024-05-01T13:00:00Z,ACCESS_SIGMA,Sign On,OK,dee@x.com,,,",
        "8,2024-05-01T14:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,,,",
        "9,2024-05-03T09:00:00Z,EXPORTS,export_workbook,Success,ann@x.com,,,",
    ]
    export = write_export(tmp_path, "a.csv", rows, header=HEADER, modified=at("2024-05-03T12:00"))
    load_audit(warehouse, [export], date(2024, 5, 3))
    assert logins(warehouse) == {
        date(2024, 5, 1): (2, 2, 1),
        date(2024, 5, 2): (1, 0, 1),
        date(2024, 5, 3): (0, 0, 0),  # events that day, no logins
    }
    settings = LoginSettings(
        login_event_names=["sign on", "Login"], success_statuses=["ok"], failure_statuses=["fail"]
    )
    load_audit(warehouse, [export], date(2024, 5, 3), logins=settings)
    assert logins(warehouse)[date(2024, 5, 1)] == (1, 0, 1)


def test_non_utf8_and_truncated_rows_are_counted(warehouse: Warehouse, tmp_path: Path) -> None:
    data = (
        HEADER.encode() + b"\n"
        b"1,2024-05-01T08:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,,,ip\n"
        b"2,2024-05-01T08:01:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,,Caf\xe9,ip\n"
        b"3,2024-05-01T08:02:00Z,ACCESS_SIGMA,Login,Success,bob@x.com,,,ip\n"
        b"4,2024-05-01T08:03:00Z,ACCESS_SIGMA,Lo"
    )
    export = write_export(tmp_path, "a.csv", data, modified=at("2024-05-01T12:00"))
    result = load_audit(warehouse, [export], date(2024, 5, 1), max_bad_row_fraction=0.5)
    assert export_rows(warehouse, "audit")["a.csv"]["bad_row_kinds"] == {
        "invalid_utf8": 1,
        "wrong_field_count": 1,
    }
    assert result.events == 2 and logins(warehouse) == {date(2024, 5, 1): (2, 0, 2)}


def test_a_five_year_old_event_is_kept(warehouse: Warehouse, tmp_path: Path) -> None:
    old = write_export(
        tmp_path, "old.csv", ["old,2019-05-01T08:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,,,"],
        header=HEADER, modified=at("2024-05-01T12:00"),
    )  # fmt: skip
    load_audit(warehouse, [old], date(2024, 5, 1))
    new = write_export(
        tmp_path, "new.csv", ["new,2024-06-01T08:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,,,"],
        header=HEADER, modified=at("2024-06-01T12:00"),
    )  # fmt: skip
    load_audit(warehouse, [new], date(2024, 6, 1))
    assert [r["event_key"] for r in stored(warehouse)] == ["new", "old"]
    assert logins(warehouse) == {date(2019, 5, 1): (1, 0, 1), date(2024, 6, 1): (1, 0, 1)}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"login_event_names": []}, "login_event_names must be a non-empty list"),
        ({"success_statuses": "Success"}, "success_statuses must be a non-empty list"),
        ({"failure_statuses": ["Success "]}, "share"),
        ({"login_event_types": [""]}, "login_event_types"),
    ],
)
def test_login_settings_are_checked(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LoginSettings(**options)
