"""Hostile and careless exports (issue 14, sections 2 and 3): each file goes through the real readers and
the real loader into SQLite and PostgreSQL, and the numbers stay exact: impressions count only what
users saw, events without an id or dated in the future are counted as bad rows, conflicting copies of an
event are counted and resolved the same way whatever the run order, and a file of bad rows cannot
exhaust the worker.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.events import read_impressions
from airflow_sigma.events.stats import (
    DEFAULT_MAX_SAMPLES,
    MAX_DEFLATE_RATIO,
    BadRowBudget,
    TooManyBadRowsError,
)
from airflow_sigma.loading import list_run_files
from airflow_sigma.storage import newer_than_window, open_export, scan_exports
from airflow_sigma.testing.exports import ExportSpec, write_exports
from airflow_sigma.warehouse import (
    AUDIT_EVENTS,
    EXPORT_FILES,
    IMPRESSION_EVENTS,
    IMPRESSIONS_DAILY,
    Column,
    Warehouse,
)
from tests.fixtures.exports import (
    HEADER,
    at,
    export_rows,
    listed,
    load_audit,
    load_impressions,
    make_warehouse,
    run_end,
    write_export,
)

RUN_DATE = date(2024, 5, 1)
UTC = timezone.utc
RAW_HEADER = "Event Id,Request Time,Event Type,Event Name,Event Status,User Email,Workbook URL Id,Element Id"


def daily(warehouse: Warehouse) -> dict[tuple[Any, ...], int]:
    return {(d, wb, el, user): n for d, wb, el, user, n in warehouse.read_table(IMPRESSIONS_DAILY)}


def stored_keys(warehouse: Warehouse, table: Any = IMPRESSION_EVENTS) -> list[str]:
    return [row[0] for row in warehouse.read_table(table)]


# -- impressions count only successful views ----------------------------------------------------------------


def test_failed_views_are_not_impressions(warehouse: Warehouse, tmp_path: Path) -> None:
    """Realistic raw exports hold failed views (Failure, PERMISSION_DENIED): they are filtered out."""
    spec = ExportSpec(
        workbooks={"wbA": ["e1", "e2"], "wbB": [], "wbC": ["e3"]}, users=["ann@x.com", "bob@x.com", "cy@x"],
        start=date(2024, 5, 1), days=2, events_per_day=400, files=4, failed_view_share=0.05,
        export_lag_minutes=0,
    )  # fmt: skip
    truth = write_exports(tmp_path / "exports", spec)
    assert truth.failed_views == 40
    result = load_impressions(warehouse, listed(tmp_path / "exports"), date(2024, 5, 2))
    assert daily(warehouse) == dict(truth.impressions)
    totals = result.totals()
    assert (totals["bad_rows"], totals["bad_row_kinds"]) == (0, {})
    assert totals["rows_read"] == truth.rows_written
    assert totals["rows_accepted"] + totals["rows_filtered"] == truth.rows_written


@pytest.mark.parametrize(
    ("status", "counted"),
    [("Success", True), ("SUCCESS", True), ("succeeded", True), ("Successful", True),
     ("Failure", False), ("PERMISSION_DENIED", False), ("failed", False), ("", False)],
)  # fmt: skip
def test_status_is_matched_loosely(
    request: pytest.FixtureRequest, tmp_path: Path, status: str, counted: bool
) -> None:
    rows = [f"e1,2024-05-01T10:00:00Z,OBJECT_INTERACTION,view_workbook,{status},ann@x.com,wbA,"]
    export = write_export(tmp_path / "x", "a.csv", rows, modified=at("2024-05-01T12:00"), header=RAW_HEADER)
    warehouse = make_warehouse(request, tmp_path, "sqlite")
    result = load_impressions(warehouse, [export], RUN_DATE)
    assert (result.totals()["rows_accepted"], result.totals()["rows_filtered"]) == (int(counted), 1 - counted)


def test_impression_filter_without_status_counts_failures(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The documented way back: an impression_filter without an event_status entry."""
    rows = [
        "e1,2024-05-01T10:00:00Z,OBJECT_INTERACTION,view_workbook,Success,ann@x.com,wbA,",
        "e2,2024-05-01T10:01:00Z,OBJECT_INTERACTION,view_workbook,Failure,ann@x.com,wbA,",
    ]
    export = write_export(tmp_path / "x", "a.csv", rows, modified=at("2024-05-01T12:00"), header=RAW_HEADER)
    warehouse = make_warehouse(request, tmp_path, "sqlite")
    chosen = {"event_type": ["OBJECT_INTERACTION"], "event_name": ["*view*"]}
    result = load_impressions(warehouse, [export], RUN_DATE, impression_filter=chosen)
    assert result.totals()["rows_accepted"] == 2


# -- events without an id ------------------------------------------------------------------------------------


def test_empty_event_id_is_a_bad_row(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = [
        "e1,2024-05-01T10:00:00Z,OBJECT_INTERACTION,view_workbook,Success,ann@x.com,wbA,",
        ",2024-05-01T10:05:00Z,OBJECT_INTERACTION,view_workbook,Success,bob@x.com,wbA,",
        "  ,2024-05-01T10:06:00Z,OBJECT_INTERACTION,view_workbook,Success,bob@x.com,wbA,",
    ]
    export = write_export(tmp_path / "x", "a.csv", rows, modified=at("2024-05-01T12:00"), header=RAW_HEADER)
    result = load_impressions(warehouse, [export], RUN_DATE, max_bad_row_fraction=1.0)
    assert result.totals()["bad_row_kinds"] == {"missing_event_id": 2}
    assert stored_keys(warehouse) == ["e1"]
    assert export_rows(warehouse)["a.csv"]["bad_row_kinds"] == {"missing_event_id": 2}
    assert export_rows(warehouse)["a.csv"]["bad_rows"] == 2


def test_empty_event_id_is_a_bad_row_in_the_audit_history(warehouse: Warehouse, tmp_path: Path) -> None:
    header = "Event Id,Request Time,Event Type,Event Name,Event Status,User Email"
    rows = [
        "e1,2024-05-01T10:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com",
        ",2024-05-01T10:05:00Z,ACCESS_SIGMA,Login,Success,bob@x.com",
    ]
    export = write_export(tmp_path / "x", "a.csv", rows, modified=at("2024-05-01T12:00"), header=header)
    result = load_audit(warehouse, [export], RUN_DATE, max_bad_row_fraction=1.0)
    assert result.totals()["bad_row_kinds"] == {"missing_event_id": 1}
    assert stored_keys(warehouse, AUDIT_EVENTS) == ["e1"]


def test_event_id_column_given_makes_empty_ids_bad(warehouse: Warehouse, tmp_path: Path) -> None:
    header = "request_time,user_email,workbook_url_id,Row Key"
    rows = ["2024-05-01T10:00:00Z,ann@x.com,wbA,k1", "2024-05-01T10:00:00Z,ann@x.com,wbA,"]
    export = write_export(tmp_path / "x", "a.csv", rows, modified=at("2024-05-01T12:00"), header=header)
    result = load_impressions(
        warehouse, [export], RUN_DATE, event_id_column="Row Key", max_bad_row_fraction=1.0
    )
    assert result.totals()["bad_row_kinds"] == {"missing_event_id": 1}
    assert stored_keys(warehouse) == ["k1"]


# -- events dated in the future ------------------------------------------------------------------------------


def test_future_events_are_bad_rows(warehouse: Warehouse, tmp_path: Path) -> None:
    """An event more than a day after the run's end cannot be in its exports: a bad row, never kept."""
    end = run_end(RUN_DATE)
    inside = (end + timedelta(hours=23)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = [
        "2024-05-01T10:00:00Z,ann@x.com,wbA,,",
        f"{inside},ann@x.com,wbA,,",
        "2099-01-01T00:00:00Z,bob@x.com,wbA,,",
        "2024-05-03T00:00:01Z,bob@x.com,wbB,,",
    ]
    export = write_export(tmp_path / "x", "a.csv", rows, modified=at("2024-05-01T12:00"))
    result = load_impressions(warehouse, [export], RUN_DATE, max_bad_row_fraction=1.0)
    assert result.totals()["bad_row_kinds"] == {"future_timestamp": 2}
    assert sum(daily(warehouse).values()) == 2
    header = "Event Id,Request Time,Event Type"
    audit = write_export(
        tmp_path / "y",
        "b.csv",
        ["e1,2099-01-01T00:00:00Z,ACCESS_SIGMA"],
        modified=at("2024-05-01T12:00"),
        header=header,
    )
    assert load_audit(warehouse, [audit], RUN_DATE, max_bad_row_fraction=1.0).totals()["bad_row_kinds"] == {
        "future_timestamp": 1
    }


def test_events_of_a_file_landing_after_the_run_are_not_future(warehouse: Warehouse, tmp_path: Path) -> None:
    """A run may read exports that land after its interval (a weekly run, a backfill): their events up to
    a day past the file's own time are real; only what no file can hold yet is a bad row."""
    end = run_end(RUN_DATE)
    later = end + timedelta(days=3)
    rows = [
        (later - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ") + ",ann@x.com,wbA,,",
        "2099-01-01T00:00:00Z,bob@x.com,wbA,,",
    ]
    export = write_export(tmp_path / "x", "a.csv", rows, modified=later)
    result = load_impressions(warehouse, [export], RUN_DATE, max_bad_row_fraction=1.0)
    assert result.totals()["bad_row_kinds"] == {"future_timestamp": 1}
    assert sum(daily(warehouse).values()) == 1


# -- sigma_export_files.bad_rows is a number ---------------------------------------------------------------


def test_bad_rows_sum_in_sql(warehouse: Warehouse, tmp_path: Path) -> None:
    rows = ["2024-05-01T10:00:00Z,ann@x.com,wbA,,", "nonsense,ann@x.com,wbA,,", "2024-05-01T10:00:00Z,,wbA,,"]
    first = write_export(tmp_path / "x", "a.csv", rows, modified=at("2024-05-01T12:00"))
    second = write_export(tmp_path / "x", "b.csv", rows[:2], modified=at("2024-05-01T13:00"))
    load_impressions(warehouse, [first, second], RUN_DATE, max_bad_row_fraction=1.0)
    files = export_rows(warehouse)
    assert files["a.csv"]["bad_row_kinds"] == {"bad_timestamp": 1, "missing_value": 1}
    assert files["b.csv"]["bad_row_kinds"] == {"bad_timestamp": 1}
    with warehouse.transaction(write=False) as tx:
        [(total,)] = tx.query(f"SELECT SUM(bad_rows) FROM {tx.table_name(EXPORT_FILES)}")
    assert int(total) == 3


def test_export_files_of_the_old_schema_are_migrated(warehouse: Warehouse, tmp_path: Path) -> None:
    """A table created when bad_rows held the JSON breakdown: migrated in place, the old counts kept."""
    old_columns = [
        Column("bad_rows", "json", c.doc) if c.name == "bad_rows" else c
        for c in EXPORT_FILES.columns
        if c.name != "bad_row_kinds"
    ]
    old = replace(EXPORT_FILES, columns=tuple(old_columns))
    with warehouse.transaction() as tx:
        tx.ensure_tables(old)
        tx.insert_rows(
            old,
            [
                (
                    "impressions",
                    "file:///old.csv",
                    "v1",
                    10,
                    at("2024-04-01T00:00"),
                    5,
                    2,
                    0,
                    {"bad_timestamp": 2, "missing_value": 1},
                    0,
                    at("2024-04-02T00:00"),
                    "loaded",
                )
            ],
        )
    rows = ["2024-05-01T10:00:00Z,ann@x.com,wbA,,", "nonsense,ann@x.com,wbA,,"]
    export = write_export(tmp_path / "x", "a.csv", rows, modified=at("2024-05-01T12:00"))
    for _ in range(2):  # idempotent
        load_impressions(warehouse, [export], RUN_DATE, max_bad_row_fraction=1.0)
    files = export_rows(warehouse)
    assert (files["old.csv"]["bad_rows"], files["old.csv"]["bad_row_kinds"]) == (
        3,
        {"bad_timestamp": 2, "missing_value": 1},
    )
    assert (files["a.csv"]["bad_rows"], files["a.csv"]["bad_row_kinds"]) == (1, {"bad_timestamp": 1})
    with warehouse.transaction(write=False) as tx:
        [(total,)] = tx.query(f"SELECT SUM(bad_rows) FROM {tx.table_name(EXPORT_FILES)}")
    assert int(total) == 4


# -- bad files cannot exhaust the worker ---------------------------------------------------------------------

MiB = 1024 * 1024
BAD_ROW = b"a,b,c\n"  # 3 fields where the header has 5


def write_gzip_bomb(path: Path, inflated: int) -> int:
    """A small multi-member .gz: the header, then one member of 1 MiB of wrong-field-count rows repeated
    until ``inflated`` bytes. Returns the rows it holds."""
    block = BAD_ROW * (MiB // len(BAD_ROW))
    member = gzip.compress(block, compresslevel=9, mtime=0)
    with path.open("wb") as out:
        out.write(gzip.compress(f"{HEADER}\n".encode(), mtime=0))
        for _ in range(inflated // len(block)):
            out.write(member)
    return inflated // len(block) * (len(block) // len(BAD_ROW))


class CountingStream:
    """A stream that counts the bytes read through it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.total = inner, 0

    def read(self, size: int = -1, /) -> bytes:
        data = self.inner.read(size)
        self.total += len(data)
        return data


def test_gzip_bomb_of_bad_rows_stops_early(tmp_path: Path) -> None:
    """2 GiB of wrong-field-count rows from a few MB of .gz: reading stops once even a run of good rows
    could not bring the share of bad rows under the limit, after a small part of the stream."""
    path = tmp_path / "bomb.csv.gz"
    rows = write_gzip_bomb(path, 2048 * MiB)
    size = path.stat().st_size
    assert size < 8 * MiB
    budget = BadRowBudget(0.01, file_bytes=size * MAX_DEFLATE_RATIO)
    with open_export(f"file://{path}") as raw:
        stream = CountingStream(raw)
        batches, stats = read_impressions(stream, "bomb.csv.gz", bad_row_budget=budget)
        with pytest.raises(TooManyBadRowsError, match=r"reading stopped after .* even if every row"):
            list(batches)
    assert stream.total < 128 * MiB  # of 2048 MiB
    assert stats.rows_read == stats.bad_rows["wrong_field_count"] < rows / 16
    assert len(stats.samples) == DEFAULT_MAX_SAMPLES and stats.samples[0].line == 2


_CHILD = """
import json, sys
from datetime import date
from pathlib import Path
from airflow_sigma.events import TooManyBadRowsError
from tests.fixtures.exports import listed, load_impressions, make_warehouse

folder, fraction = Path(sys.argv[1]), float(sys.argv[2])
warehouse = make_warehouse(None, folder.parent, "sqlite")
try:
    result = load_impressions(warehouse, listed(folder), date(2024, 5, 1), max_bad_row_fraction=fraction)
    outcome = result.totals()
except TooManyBadRowsError as error:
    outcome = str(error)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would report the parent's size.
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "max_rss": int(peak.split()[1]) * 1024}))
"""


def load_in_child(folder: Path, fraction: float) -> dict[str, Any]:
    """Load ``folder`` with the impressions job in a fresh interpreter; its outcome and peak RSS."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), str(fraction)],
        capture_output=True, text=True, timeout=900, check=True, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


def test_gzip_bomb_fails_the_load_early_with_bounded_memory(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_gzip_bomb(folder / "2024-05-01_bomb.csv.gz", 2048 * MiB)
    child = load_in_child(folder, 0.01)
    assert "reading stopped after" in child["outcome"] and "Nothing was written" in child["outcome"]
    assert child["max_rss"] < 1024 * MiB


def test_memory_stays_bounded_reading_a_whole_file_of_bad_rows(tmp_path: Path) -> None:
    """With no limit (max_bad_row_fraction=1.0) the whole file is read: memory does not grow with it."""
    folder = tmp_path / "exports"
    folder.mkdir()
    rows = write_gzip_bomb(folder / "2024-05-01_bad.csv.gz", 256 * MiB)
    child = load_in_child(folder, 1.0)
    assert child["outcome"]["bad_row_kinds"] == {"wrong_field_count": rows}
    assert child["outcome"]["rows_read"] == rows
    assert child["max_rss"] < 1024 * MiB


@pytest.mark.parametrize("row", [BAD_ROW, b'"a",b,c\n'], ids=["plain", "quoted"])
def test_a_million_identical_bad_rows(warehouse: Warehouse, tmp_path: Path, row: bytes) -> None:
    """Identical bad rows are counted in linear time (the quoted ones go through pyarrow's handler)."""
    data = f"{HEADER}\n".encode() + row * 1_000_000 + b"2024-05-01T10:00:00Z,ann@x.com,wbA,,\n"
    export = write_export(tmp_path / "x", "a.csv", data, modified=at("2024-05-01T12:00"))
    result = load_impressions(warehouse, [export], RUN_DATE, max_bad_row_fraction=1.0)
    [file] = result.files
    assert (file.stats.rows_read, file.stats.rows_accepted) == (1_000_001, 1)
    assert file.stats.bad_rows == {"wrong_field_count": 1_000_000}
    assert [s.line for s in file.stats.samples] == list(range(2, 2 + DEFAULT_MAX_SAMPLES))
    assert export_rows(warehouse)["a.csv"]["bad_rows"] == 1_000_000


# -- files last modified in the future -----------------------------------------------------------------------


def test_a_file_modified_in_the_future_is_taken_by_neither_the_sensor_nor_the_listing(tmp_path: Path) -> None:
    """Before, the sensor fired at once on it (newer than any threshold) and the listing left it out."""
    from airflow_sigma.sensors import SigmaAuditExportSensor

    now = datetime.now(UTC)
    end = now.replace(microsecond=0) - timedelta(hours=2)
    context = {"data_interval_start": end - timedelta(days=1), "data_interval_end": end}
    folder = tmp_path / "exports"
    write_export(
        folder, "future.csv", ["2024-05-01T10:00:00Z,ann@x.com,wbA,,"], modified=now + timedelta(days=30)
    )
    waiting = SigmaAuditExportSensor(task_id="wait", bucket_uri=f"file://{folder}", deferrable=False)
    assert waiting.poke(context).is_done is False
    scan = scan_exports(waiting.location(), newer_than_window(end))  # what the sensor logs
    assert "Ignored: file(s) last modified in the future" in scan.summary()
    landed = write_export(folder, "landed.csv", [], modified=end + timedelta(minutes=30))
    assert [f["uri"] for f in waiting.poke(context).xcom_value] == [landed["uri"]]
    ahead = {"data_interval_start": now - timedelta(days=1), "data_interval_end": now + timedelta(days=60)}
    files = list_run_files(
        f"file://{folder}", days_back=1, data_interval_start=ahead["data_interval_start"],
        data_interval_end=ahead["data_interval_end"], aws_conn_id=None, gcp_conn_id=None,
    )  # fmt: skip
    assert [f["uri"] for f in files] == [landed["uri"]]


# -- the same event id with different values -----------------------------------------------------------------

VIEW = "{id},2024-05-01T10:0{m}:00Z,OBJECT_INTERACTION,view_workbook,Success,ann@x.com,{wb},"


def conflicting_exports(folder: Path) -> list[Any]:
    """e1 differs between the files, e3 within the newer one; e2 is the same everywhere; e4 is twice
    the same in the newer file and different in the older one (the copies that differ come last)."""
    older = [
        VIEW.format(id="e1", m=1, wb="wbA"),
        VIEW.format(id="e2", m=2, wb="wbA"),
        VIEW.format(id="e4", m=4, wb="wbB"),
    ]
    newer = [
        VIEW.format(id="e1", m=1, wb="wbB"),
        VIEW.format(id="e2", m=2, wb="wbA"),
        VIEW.format(id="e3", m=3, wb="wbC"),
        VIEW.format(id="e3", m=3, wb="wbA"),
        VIEW.format(id="e4", m=4, wb="wbA"),
        VIEW.format(id="e4", m=4, wb="wbA"),
    ]
    return [
        write_export(folder, "a.csv", older, modified=at("2024-05-01T11:00"), header=RAW_HEADER),
        write_export(folder, "b.csv", newer, modified=at("2024-05-01T12:00"), header=RAW_HEADER),
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "snowflake", "bigquery"])
def test_conflicting_copies_are_counted_and_the_winner_does_not_depend_on_the_order(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    """The newest file's copy wins; within a file the greatest values (wbC > wbA). Whatever the order of
    the files in a run or of the runs, the tables end the same, and the conflicts are counted."""
    a, b = conflicting_exports(tmp_path / "x")
    orders = {
        "one run": [[a, b]],
        "one run, reversed": [[b, a]],
        "a then b": [[a], [b]],
        "b then a": [[b], [a]],
    }
    outcomes = {}
    for n, (name, runs) in enumerate(orders.items()):
        warehouse = make_warehouse(request, tmp_path, backend, table_prefix=f"o{n}_")
        results = [load_impressions(warehouse, files, RUN_DATE) for files in runs]
        stored = {row[0]: row[4] for row in warehouse.read_table(IMPRESSION_EVENTS)}
        outcomes[name] = (stored, daily(warehouse))
        conflicts = [r.totals()["conflicting_events"] for r in results]
        samples = [r.conflict_samples for r in results]
        expected = {
            "one run": ([3], [["e1", "e3", "e4"]]),
            "one run, reversed": ([3], [["e1", "e3", "e4"]]),
            "a then b": ([0, 3], [[], ["e1", "e3", "e4"]]),
            "b then a": ([1, 2], [["e3"], ["e1", "e4"]]),
        }[name]
        assert (conflicts, samples) == expected, name
    assert outcomes["one run"][0] == {"e1": "wbB", "e2": "wbA", "e3": "wbC", "e4": "wbA"}
    assert all(outcome == outcomes["one run"] for outcome in outcomes.values()), outcomes
