"""Impressions (events, dedupe, daily rebuild, retention) and the usage summary, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.events import hash_email
from airflow_sigma.loading import list_run_files
from airflow_sigma.storage import ExportFile
from airflow_sigma.testing.exports import ExportSpec, GroundTruth, write_exports
from airflow_sigma.usage import UsageSettings, build_usage_summary, last_full_day
from airflow_sigma.warehouse import (
    IMPRESSION_EVENTS,
    IMPRESSIONS_DAILY,
    USAGE,
    WORKBOOK_ELEMENTS,
    WORKBOOKS,
    Warehouse,
)
from tests.fixtures.exports import (
    at,
    export_rows,
    exported,
    load_impressions,
    make_warehouse,
    tables,
    write_export,
)
from tests.fixtures.snowflake import watched

UTC = timezone.utc


def daily(warehouse: Warehouse) -> dict[tuple[date, str, str, str], int]:
    return {(d, wb, el, user): n for d, wb, el, user, n in warehouse.read_table(IMPRESSIONS_DAILY)}


def events(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    rows = [
        dict(zip(IMPRESSION_EVENTS.column_names, r, strict=True))
        for r in warehouse.read_table(IMPRESSION_EVENTS)
    ]
    return {row["event_key"]: row for row in rows}


# -- impressions: what counts, and once --------------------------------------------------------------------


def test_aliases_mixed_case_counts_workbook_and_element_rows(warehouse: Warehouse, tmp_path: Path) -> None:
    export = write_export(
        tmp_path,
        "a.csv",
        [
            "2024-05-01T10:00:00Z,Ann@Example.COM,wbA,,",  # workbook-level, empty count
            "2024-05-01 10:05:00,ann@example.com,wbA,el1,3",  # element-level, count > 1, naive = UTC
            "2024-05-01T23:59:59.999999Z,bob@example.com,wbA,el1,1",
            "2024-05-02T01:30:00+02:00,bob@example.com,wbB,,2",  # 2024-05-01T23:30Z
            "2024-05-02T00:00:00Z,bob@example.com,wbB,, ",
        ],
        header="Request Time,USER_EMAIL,Workbook URL ID,element id,COUNT",
        modified=at("2024-05-02T02:00"),
    )
    result = load_impressions(warehouse, [export], date(2024, 5, 2))
    assert daily(warehouse) == {
        (date(2024, 5, 1), "wbA", "", "ann@example.com"): 1,
        (date(2024, 5, 1), "wbA", "el1", "ann@example.com"): 3,
        (date(2024, 5, 1), "wbA", "el1", "bob@example.com"): 1,
        (date(2024, 5, 1), "wbB", "", "bob@example.com"): 2,
        (date(2024, 5, 2), "wbB", "", "bob@example.com"): 1,
    }
    assert result.days == [date(2024, 5, 1), date(2024, 5, 2)]
    stored = sorted((e["request_time"], e["day"], e["source_uri"]) for e in events(warehouse).values())[-2:]
    assert stored == [
        (at("2024-05-01T23:59:59.999999"), date(2024, 5, 1), export["uri"]),
        (at("2024-05-02T00:00"), date(2024, 5, 2), export["uri"]),
    ]


def test_overlapping_files_count_each_event_once(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = [f"2024-05-01T{h:02d}:00:00Z,ann@x.com,wbA,el1,2" for h in range(10)]
    a = write_export(tmp_path, "a.csv", rows[:6], modified=at("2024-05-01T12:00"))
    b = write_export(tmp_path, "b.csv", rows[3:], modified=at("2024-05-01T13:00"))
    c = write_export(tmp_path, "c.csv", rows, modified=at("2024-05-01T14:00"))
    result = load_impressions(warehouse, [a, b, c], date(2024, 5, 1))
    load_impressions(warehouse, [b, c], date(2024, 5, 1))  # the same files again, in another run
    assert daily(warehouse) == {(date(2024, 5, 1), "wbA", "el1", "ann@x.com"): 20}
    assert result.events == 10
    files = export_rows(warehouse)
    # Every event is stored from the newest file holding it (c.csv): the others' rows are duplicates.
    assert {name: row["duplicate_events"] for name, row in files.items()} == {
        "a.csv": 6,
        "b.csv": 7,
        "c.csv": 0,
    }


def test_the_newest_file_wins_within_a_run_across_runs_and_in_any_order(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    event = "2024-05-01T10:00:00Z,ann@x.com,wbA,,{}"
    old = write_export(tmp_path, "old.csv", [event.format(1)], modified=at("2024-05-01T12:00"))
    new = write_export(tmp_path, "new.csv", [event.format(5)], modified=at("2024-05-01T13:00"))
    # Same last-modified time as new.csv: the URI decides, and "a-tie.csv" sorts before "new.csv".
    a_tie = write_export(tmp_path, "a-tie.csv", [event.format(7)], modified=at("2024-05-01T13:00"))
    load_impressions(warehouse, [new, old], date(2024, 5, 1))
    assert [e["impressions"] for e in events(warehouse).values()] == [5]
    load_impressions(warehouse, [old], date(2024, 5, 1))  # an older file read later changes nothing
    load_impressions(warehouse, [a_tie], date(2024, 5, 1))
    [stored] = events(warehouse).values()
    assert (stored["impressions"], stored["source_uri"]) == (5, new["uri"])
    assert daily(warehouse) == {(date(2024, 5, 1), "wbA", "", "ann@x.com"): 5}
    newest = write_export(tmp_path, "zz.csv", [event.format(2)], modified=at("2024-05-02T13:00"))
    load_impressions(warehouse, [newest], date(2024, 5, 2))
    assert daily(warehouse) == {(date(2024, 5, 1), "wbA", "", "ann@x.com"): 2}


def test_re_reading_the_same_files_rewrites_no_stored_event(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = ["2024-05-01T10:00:00Z,ann@x.com,wbA,,1", "2024-05-01T11:00:00Z,bob@x.com,wbA,el1,2"]
    files = [write_export(tmp_path, "a.csv", rows, modified=at("2024-05-01T12:00"))]
    load_impressions(warehouse, files, date(2024, 5, 1))
    table = warehouse.table_name(IMPRESSION_EVENTS)
    count = "INSERT INTO sigma_rewrites VALUES (1)"
    if warehouse.dialect.name in ("snowflake", "bigquery"):  # no triggers: count the rows its UPDATEs change
        return _assert_no_rewrites_without_triggers(warehouse, files, rows, tmp_path)
    with warehouse.transaction() as tx:  # count the stored rows each later run rewrites
        tx.execute("CREATE TABLE sigma_rewrites (n INTEGER)")
        if tx.dialect.name == "sqlite":
            tx.execute(f"CREATE TRIGGER sigma_rewrites AFTER UPDATE ON {table} BEGIN {count}; END")
        else:
            body = f"BEGIN {count}; RETURN NULL; END"
            tx.execute(f"CREATE FUNCTION sigma_rewrites() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$")
            tx.execute(
                f"CREATE TRIGGER sigma_rewrites AFTER UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION sigma_rewrites()"
            )

    def rewrites() -> int:
        with warehouse.transaction() as tx:
            return int(tx.query("SELECT COUNT(*) FROM sigma_rewrites")[0][0])

    load_impressions(warehouse, files, date(2024, 5, 1))
    assert rewrites() == 0
    changed = [rows[0], rows[1].replace(",2", ",3")]
    files.append(write_export(tmp_path, "b.csv", changed, modified=at("2024-05-01T13:00")))
    load_impressions(warehouse, files, date(2024, 5, 1))
    assert rewrites() == 2  # ann's event now comes from b.csv, bob's has a new count
    assert sorted(e["impressions"] for e in events(warehouse).values()) == [1, 3]


def _assert_no_rewrites_without_triggers(
    warehouse: Warehouse, files: list[Any], rows: list[str], tmp_path: Path
) -> None:
    """Snowflake: the rows of its ``UPDATE``; BigQuery: of its ``MERGE`` (no new event is inserted
    after the first run, so the rows it changes are the rows it updates)."""
    table = warehouse.table_name(IMPRESSION_EVENTS)
    verb = "MERGE INTO" if warehouse.dialect.name == "bigquery" else "UPDATE"
    updated: list[int] = []

    def count_updates(cursor: Any, sql: str) -> None:
        if sql.startswith(f"{verb} {table} "):
            updated.append(int(cursor.rowcount))

    warehouse.connect = watched(warehouse.connect, count_updates)
    load_impressions(warehouse, files, date(2024, 5, 1))
    assert sum(updated) == 0
    changed = [rows[0], rows[1].replace(",2", ",3")]
    files.append(write_export(tmp_path, "b.csv", changed, modified=at("2024-05-01T13:00")))
    load_impressions(warehouse, files, date(2024, 5, 1))
    assert sum(updated) == 2  # ann's event now comes from b.csv, bob's has a new count
    assert sorted(e["impressions"] for e in events(warehouse).values()) == [1, 3]


def test_a_late_file_updates_the_days_it_touches(warehouse: Warehouse, tmp_path: Path) -> None:
    first = write_export(
        tmp_path,
        "a.csv",
        ["2024-05-01T10:00:00Z,ann@x.com,wbA,,", "2024-05-02T10:00:00Z,ann@x.com,wbA,,"],
        modified=at("2024-05-02T12:00"),
    )
    load_impressions(warehouse, [first], date(2024, 5, 2))
    late = write_export(
        tmp_path, "late.csv", ["2024-05-01T22:00:00Z,bob@x.com,wbA,,4"], modified=at("2024-05-03T09:00")
    )
    result = load_impressions(warehouse, [first, late], date(2024, 5, 3))
    assert result.days == [date(2024, 5, 1), date(2024, 5, 2)]
    assert daily(warehouse) == {
        (date(2024, 5, 1), "wbA", "", "ann@x.com"): 1,
        (date(2024, 5, 1), "wbA", "", "bob@x.com"): 4,
        (date(2024, 5, 2), "wbA", "", "ann@x.com"): 1,
    }


def test_an_event_moved_to_another_day_leaves_its_old_day(warehouse: Warehouse, tmp_path: Path) -> None:
    header = "Event Id,request_time,user_email,workbook_url_id"
    first = write_export(tmp_path, "a.csv", ["ev1,2024-05-01T23:59:00Z,ann@x.com,wbA"], header=header,
                         modified=at("2024-05-02T01:00"))  # fmt: skip
    load_impressions(warehouse, [first], date(2024, 5, 2))
    fixed = write_export(tmp_path, "b.csv", ["ev1,2024-05-02T00:01:00Z,ann@x.com,wbA"], header=header,
                         modified=at("2024-05-02T02:00"))  # fmt: skip
    result = load_impressions(warehouse, [fixed], date(2024, 5, 2))
    assert daily(warehouse) == {(date(2024, 5, 2), "wbA", "", "ann@x.com"): 1}
    assert result.details["days_rebuilt"] == 2


SPEC = ExportSpec(
    workbooks={"wbAlpha": ["e1", "e2"], "wbBeta": ["e3"], "wbGamma": [], "wbDelta": ["e4", "e5", "e6"]},
    users=["ann@x.com", "bob@x.com", "cy@x.com"],
    start=date(2024, 5, 1),
    days=6,
    events_per_day=40,
    files=12,
    shape="prepared",
    multi_count_share=0.3,
)


def run_days(warehouse: Warehouse, folder: Path, days: list[date], **options: Any) -> None:
    """The daily runs of ``days``: each lists its window (days_back=2) and loads what it finds."""
    for day in days:
        start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        files = list_run_files(
            f"file://{folder}",
            days_back=2,
            data_interval_start=start,
            data_interval_end=start + timedelta(days=1),
            aws_conn_id=None,
            gcp_conn_id=None,
        )
        load_impressions(warehouse, files, day, **options)


def test_reruns_and_reversed_run_order_give_identical_tables(
    request: pytest.FixtureRequest, tmp_path: Path, warehouse: Warehouse
) -> None:
    truth = write_exports(tmp_path / "exports", SPEC)
    days = [SPEC.start + timedelta(days=n) for n in range(SPEC.days + 1)]
    run_days(warehouse, tmp_path / "exports", days)
    forward = tables(warehouse)
    assert daily(warehouse) == dict(truth.impressions)
    backend = "sqlite" if warehouse.dialect.name == "sqlite" else "postgres"
    reversed_ = make_warehouse(request, tmp_path / "reversed", backend, table_prefix="rev_")
    (tmp_path / "reversed").mkdir()
    run_days(reversed_, tmp_path / "exports", days[::-1])
    run_days(warehouse, tmp_path / "exports", [days[3], days[0], days[6], days[3]])
    assert tables(warehouse) == forward
    assert tables(reversed_) == forward
    assert (
        sum(row["duplicate_events"] for row in export_rows(warehouse).values())
        == truth.rows_written - truth.events
    )


def test_backfills_past_the_retention_window_count_every_day_in_any_order(
    request: pytest.FixtureRequest, tmp_path: Path, warehouse: Warehouse
) -> None:
    # 16 days of overlapping exports, events kept 6 days: most days leave the buffer before the end.
    # (An order that jumps ahead by more than the retention and back again is not covered: the jump
    # prunes days an older run still adds late events to, which that run then reports, not counts.)
    spec = replace(SPEC, days=16, files=32, events_per_day=12, window_hours=36)
    truth = write_exports(tmp_path / "exports", spec)
    days = [spec.start + timedelta(days=n) for n in range(spec.days + 1)]
    backend = "sqlite" if warehouse.dialect.name == "sqlite" else "postgres"
    orders = {
        "forward": days,
        "reversed": days[::-1],
        "scheduled run first, then the backfill": [days[-1], *days[:-1]],
        "forward, then re-runs of pruned days": [*days, days[2], days[0], days[9]],
    }
    for n, (name, order) in enumerate(orders.items()):
        target = make_warehouse(request, tmp_path / name, backend, table_prefix=f"o{n}_")
        (tmp_path / name).mkdir()
        run_days(target, tmp_path / "exports", order, event_retention_days=6)
        assert daily(target) == dict(truth.impressions), name
        stored = {e["day"] for e in events(target).values()}
        assert stored and min(stored) >= days[-1] - timedelta(days=5 + 16), name


def test_each_bad_row_kind_is_counted(warehouse: Warehouse, tmp_path: Path) -> None:
    data = (
        b"request_time,user_email,workbook_url_id,element_id,count\n"
        b"2024-05-01T10:00:00Z,ann@x.com,wbA,,\n"
        b"2024-05-01T10:00:01Z,ann@x.com,wbA,,,extra\n"  # wrong_field_count
        b"2024-05-01T10:00:02Z,\xffann@x.com,wbA,,\n"  # invalid_utf8
        b"2024-05-01T10:00:03Z,,wbA,,\n"  # missing_value
        b"yesterday,ann@x.com,wbA,,\n"  # bad_timestamp
        b"2024-05-01T10:00:04Z,ann@x.com,wbA,,2.5\n"  # bad_count
        b'2024-05-01T10:00:05Z,ann@x.com,"wbA,,\n'  # unterminated_quote (swallows the rest)
    )
    export = write_export(tmp_path, "bad.csv", data, modified=at("2024-05-01T12:00"))
    result = load_impressions(warehouse, [export], date(2024, 5, 1), max_bad_row_fraction=1.0)
    kinds = [
        "bad_count",
        "bad_timestamp",
        "invalid_utf8",
        "missing_value",
        "unterminated_quote",
        "wrong_field_count",
    ]
    assert export_rows(warehouse)["bad.csv"]["bad_row_kinds"] == dict.fromkeys(kinds, 1)
    assert result.summary()["rows_read"] == 7 and result.summary()["rows_accepted"] == 1


def test_raw_audit_exports_count_views_and_ignore_other_events(warehouse: Warehouse, tmp_path: Path) -> None:
    spec = ExportSpec(
        workbooks={"wbA": ["e1", "e2"], "wbB": [], "wbC": ["e3"]},
        users=["ann@x.com", "bob@x.com"],
        start=date(2024, 5, 1),
        days=3,
        events_per_day=30,
        files=6,
        bad_rows=2,
        gzip_every=2,
    )
    truth = write_exports(tmp_path, spec)
    files = [write_export_row(path) for path in truth.files]
    result = load_impressions(warehouse, files, date(2024, 5, 3), max_bad_row_fraction=0.05)
    assert daily(warehouse) == dict(truth.impressions)
    totals = result.totals()
    assert totals["rows_filtered"] > 0  # logins and the other categories
    assert totals["bad_rows"] == sum(totals["bad_row_kinds"].values()) == truth.bad_rows


def write_export_row(path: Path) -> ExportFile:
    return exported(path.parent, path.name)


def test_hashed_emails(warehouse: Warehouse, tmp_path: Path) -> None:
    export = write_export(
        tmp_path,
        "a.csv",
        ["2024-05-01T10:00:00Z,Ann@X.com,wbA,,", "2024-05-01T10:00:00Z,ann@x.com,wbA,,"],
        modified=at("2024-05-01T12:00"),
    )
    load_impressions(warehouse, [export], date(2024, 5, 1), email_salt="pepper")
    hashed = hash_email("ann@x.com", "pepper")
    assert daily(warehouse) == {(date(2024, 5, 1), "wbA", "", hashed): 1}
    [stored] = events(warehouse).values()
    assert stored["user_email"] == hashed and "ann" not in stored["event_key"]


def test_retention_keeps_recent_events_and_never_rebuilds_days_it_no_longer_holds(
    warehouse: Warehouse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [f"2024-05-0{d}T10:00:00Z,ann@x.com,wbA,,{d}" for d in range(1, 6)]
    first = write_export(tmp_path, "a.csv", rows, modified=at("2024-05-05T12:00"))
    result = load_impressions(warehouse, [first], date(2024, 5, 5), event_retention_days=3)
    assert result.details["retention_cutoff"] == "2024-05-03" and result.details["events_expired"] == 2
    assert sorted(e["day"].day for e in events(warehouse).values()) == [3, 4, 5]
    assert sorted(k[0].day for k in daily(warehouse)) == [1, 2, 3, 4, 5]  # daily rows stay
    late = write_export(
        tmp_path,
        "late.csv",
        [
            "2024-05-01T11:00:00Z,bob@x.com,wbA,,",
            "2024-05-04T11:00:00Z,bob@x.com,wbA,,",
            "2150-01-01T00:00:00Z,cy@x.com,wbA,,",
        ],
        modified=at("2024-05-06T12:00"),
    )
    with caplog.at_level(logging.WARNING):
        result = load_impressions(
            warehouse, [late], date(2024, 5, 6), event_retention_days=3, max_bad_row_fraction=0.5
        )
    assert result.details["days_not_rebuilt"] == ["2024-05-01"]
    assert "2024-05-01" in caplog.text and "event_retention_days" in caplog.text
    assert daily(warehouse)[(date(2024, 5, 1), "wbA", "", "ann@x.com")] == 1  # not replaced by a partial day
    assert (date(2024, 5, 1), "wbA", "", "bob@x.com") not in daily(warehouse)
    assert daily(warehouse)[(date(2024, 5, 4), "wbA", "", "bob@x.com")] == 1
    # A far-future timestamp is a bad row, and does not move the retention window: May's events stay.
    assert result.totals()["bad_row_kinds"] == {"future_timestamp": 1}
    assert sorted(e["day"] for e in events(warehouse).values())[:1] == [date(2024, 5, 3)]


# -- the usage summary -------------------------------------------------------------------------------------

AS_OF = date(2024, 5, 31)


def day(offset: int) -> date:
    return AS_OF + timedelta(days=offset)


def seed_usage(warehouse: Warehouse) -> None:
    """Daily rows around the window edges and a catalog with three snapshots."""
    impressions = [
        # wbA itself: one row per window edge, powers of two so every sum is unique.
        (day(0), "wbA", "", "u1", 1),
        (day(-6), "wbA", "", "u2", 2),
        (day(-7), "wbA", "", "u3", 4),
        (day(-13), "wbA", "", "u1", 8),
        (day(-14), "wbA", "", "u4", 16),
        (day(-29), "wbA", "", "u5", 32),
        (day(-30), "wbA", "", "u6", 64),
        (day(-59), "wbA", "", "u6", 128),
        (day(-60), "wbA", "", "u6", 256),
        (day(1), "wbA", "", "u7", 512),  # after as_of: never counted
        (day(-11), "wbA", "e1", "u8", 10),
        (day(-1), "wbA", "e2", "u1", 7),  # e2 is not in the catalog
        (day(-60), "wbC", "", "u1", 3),
        (day(-21), "wbD", "e9", "u2", 5),  # wbD is not in the catalog
        (day(-61), "wbE", "", "u2", 9),  # undiscovered and older than 60 days: no row
    ]
    catalog = [
        (date(2024, 5, 1), "id-A", "wbA", "Old name", "Old/Path", "old@x.com"),
        (date(2024, 5, 30), "id-A", "wbA", "Sales", "Shared/Sales", "owner@x.com"),
        (date(2024, 5, 30), "id-B", "wbB", "Never opened", "Shared", "owner@x.com"),
        (date(2024, 5, 30), "id-C", "wbC", "Stale", "Shared", None),
        (date(2024, 5, 30), "id-N", None, "No URL id", "Shared", None),
        (date(2024, 6, 1), "id-Z", "wbZ", "Future", "Shared", None),
    ]
    elements = [
        (date(2024, 5, 30), "id-A", "wbA", "p1", "e1", "Revenue"),
        (date(2024, 5, 30), "id-B", "wbB", "p1", "e3", "Unused chart"),
        (date(2024, 5, 30), "id-B", None, "p2", "e4", "Via workbook"),
    ]
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSIONS_DAILY, WORKBOOKS, WORKBOOK_ELEMENTS)
        tx.insert_rows(IMPRESSIONS_DAILY, impressions)
        names = ["snapshot_date", "workbook_id", "workbook_url_id", "name", "path", "owner_email"]
        tx.insert_rows(WORKBOOKS, catalog, names)
        names = ["snapshot_date", "workbook_id", "workbook_url_id", "page_id", "element_id", "name"]
        tx.insert_rows(WORKBOOK_ELEMENTS, elements, names)


def usage(warehouse: Warehouse, as_of: date = AS_OF) -> dict[tuple[str, str, str], dict[str, Any]]:
    rows = [
        dict(zip(USAGE.column_names, r, strict=True)) for r in warehouse.read_table(USAGE, {"as_of": as_of})
    ]
    return {(r["resource_type"], r["workbook_url_id"], r["element_id"]): r for r in rows}


def metrics(row: dict[str, Any]) -> tuple[Any, ...]:
    names = ["impressions_7d", "impressions_14d", "impressions_30d", "impressions_60d",
             "element_impressions_30d", "unique_users_14d", "unique_users_30d", "days_since_last_impression",
             "used"]  # fmt: skip
    return tuple(row[name] for name in names)


def test_usage_windows_on_their_edges(warehouse: Warehouse) -> None:
    seed_usage(warehouse)
    summary = build_usage_summary(warehouse, AS_OF)
    rows = usage(warehouse)
    assert set(rows) == {
        ("workbook", "wbA", ""), ("workbook", "wbB", ""), ("workbook", "wbC", ""), ("workbook", "wbD", ""),
        ("element", "wbA", "e1"), ("element", "wbA", "e2"), ("element", "wbB", "e3"),
        ("element", "wbB", "e4"), ("element", "wbD", "e9"),
    }  # fmt: skip
    a = rows[("workbook", "wbA", "")]
    assert (a["workbook_id"], a["name"], a["path"], a["owner_email"], a["discovered"]) == (
        "id-A", "Sales", "Shared/Sales", "owner@x.com", True,
    )  # fmt: skip
    # 7d: 1+2; 14d: +4+8; 30d: +16+32; 60d: +64+128. Elements of wbA in 30 days: 10+7.
    # Users in 14 days (own or elements): u1 u2 u3 u8; in 30: also u4 u5.
    assert metrics(a) == (3, 15, 63, 255, 17, 4, 6, 0, True)
    assert a["last_impression_at"] == datetime(2024, 5, 31, tzinfo=UTC)
    assert metrics(rows[("element", "wbA", "e1")]) == (0, 10, 10, 10, 10, 1, 1, 11, True)
    e2 = rows[("element", "wbA", "e2")]
    assert (e2["discovered"], e2["workbook_id"], e2["name"], e2["path"]) == (
        False,
        "id-A",
        None,
        "Shared/Sales",
    )
    b = rows[("workbook", "wbB", "")]
    assert metrics(b) == (0, 0, 0, 0, 0, 0, 0, None, False) and b["last_impression_at"] is None
    c = rows[("workbook", "wbC", "")]
    assert metrics(c) == (0, 0, 0, 0, 0, 0, 0, 60, False)
    assert c["last_impression_at"] == datetime(2024, 4, 1, tzinfo=UTC)
    d = rows[("workbook", "wbD", "")]
    assert (d["discovered"], d["workbook_id"], d["name"]) == (False, None, None)
    assert metrics(d) == (0, 0, 0, 0, 5, 0, 1, 21, True)  # used through its element
    assert rows[("element", "wbB", "e4")]["discovered"] is True  # workbook_url_id taken from the workbook
    assert summary == {
        "as_of": "2024-05-31", "snapshot_date": "2024-05-30", "catalog_rows_without_url_id": 1,
        "workbooks": 4, "workbooks_used": 2, "workbooks_undiscovered": 1,
        "elements": 5, "elements_used": 3, "elements_undiscovered": 2,
        "data_models": 0, "data_models_used": 0, "data_models_undiscovered": 0,
    }  # fmt: skip


def test_used_threshold_and_rebuilding_an_as_of(warehouse: Warehouse) -> None:
    seed_usage(warehouse)
    build_usage_summary(warehouse, AS_OF, UsageSettings(used_window_days=7, used_min_impressions=10))
    first = usage(warehouse)
    # wbA: own 1+2 and e2's 7 in the last 7 days = 10; e1 has none in 7 days.
    assert first[("workbook", "wbA", "")]["used"] is True
    assert first[("element", "wbA", "e1")]["used"] is False
    assert first[("workbook", "wbD", "")]["used"] is False
    build_usage_summary(warehouse, day(-1), UsageSettings(used_window_days=7, used_min_impressions=10))
    build_usage_summary(warehouse, AS_OF, UsageSettings(used_window_days=7, used_min_impressions=10))
    assert usage(warehouse) == first
    earlier = usage(warehouse, day(-1))
    assert earlier[("workbook", "wbA", "")]["impressions_7d"] == 6  # day(-7) .. day(-1): 4 + 2


def test_usage_without_a_catalog_marks_everything_undiscovered(
    warehouse: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSIONS_DAILY)
        tx.insert_rows(IMPRESSIONS_DAILY, [(AS_OF, "wbA", "", "u1", 2), (AS_OF, "wbA", "e1", "u2", 1)])
    with caplog.at_level(logging.WARNING):
        summary = build_usage_summary(warehouse, AS_OF)
    assert "No catalog snapshot on or before 2024-05-31" in caplog.text
    assert summary["workbooks_undiscovered"] == summary["workbooks"] == 1
    assert {key: row["discovered"] for key, row in usage(warehouse).items()} == {
        ("workbook", "wbA", ""): False,
        ("element", "wbA", "e1"): False,
    }


def test_loaded_impressions_feed_the_usage_summary(warehouse: Warehouse, tmp_path: Path) -> None:
    truth: GroundTruth = write_exports(tmp_path, SPEC)
    files = [write_export_row(path) for path in truth.files]
    load_impressions(warehouse, files, date(2024, 5, 7))
    build_usage_summary(warehouse, date(2024, 5, 6))
    rows = usage(warehouse, date(2024, 5, 6))
    own: Counter[str] = Counter()
    for (_, wb, element, _), n in truth.impressions.items():
        if not element:
            own[wb] += n
    assert {wb: rows[("workbook", wb, "")]["impressions_7d"] for wb in own} == dict(own)


def test_last_full_day() -> None:
    assert last_full_day(at("2024-05-02T00:00")) == date(2024, 5, 1)
    assert last_full_day(at("2024-05-02T06:00")) == date(2024, 5, 1)
    assert last_full_day(datetime(2024, 5, 2, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == date(2024, 4, 30)
