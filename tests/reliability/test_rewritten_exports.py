"""An export rewritten in place: the events it no longer holds are withdrawn, and only those.

Each case loads a file, rewrites it under the same URI (a new version: local files change their
modification time and size), and loads again, through the real loader, for the impressions and the
audit-history jobs, on SQLite, PostgreSQL, Snowflake (fakesnow) and the BigQuery stand-in (SQL parsed
as BigQuery's by sqlglot and run on DuckDB: not proof that BigQuery accepts it). The tables after the
second run must equal those of a warehouse that only ever read the files as they are now
(sigma_export_files aside), and a re-run must leave them as they are.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from airflow_sigma.events import TooManyBadRowsError
from airflow_sigma.loading import LoadResult
from airflow_sigma.loading.withdraw import EmptiedExportError
from airflow_sigma.storage import ExportFile
from airflow_sigma.warehouse import AUDIT_EVENTS, EXPORT_FILES, IMPRESSION_EVENTS, Table, Warehouse
from tests.fixtures.cloud import GcsServer, S3Server
from tests.fixtures.exports import HEADER, at, make_warehouse, tables, write_export
from tests.reliability.jobs import JOB_TABLES, JOBS, load_job

RUN_DATE = date(2024, 5, 1)
NEXT_RUN = date(2024, 5, 2)
AUDIT_HEADER = "Event Id,Request Time,Event Type,Event Name,Event Status,User Email,Client IP"
# a, b and c on three days: b, alone on its day, lies between a and c (within the span of a and c).
ROWS = {
    "impressions": {
        "a": "2024-04-30T10:00:00Z,ann@x.com,wbA,el1,1",
        "b": "2024-05-01T11:00:00Z,bob@x.com,wbB,,2",
        "c": "2024-05-02T12:00:00Z,cid@x.com,wbA,,1",
        "b_elsewhere": "2024-05-01T11:00:00Z,bob@x.com,wbB,,2",
    },
    "audit": {
        "a": "e1,2024-04-30T10:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com,10.0.0.1",
        "b": "e2,2024-05-01T11:00:00Z,ACCESS_SIGMA,Login,Failure,bob@x.com,10.0.0.2",
        "c": "e3,2024-05-02T12:00:00Z,OBJECT_INTERACTION,View,Success,cid@x.com,10.0.0.3",
        "b_elsewhere": "e2,2024-05-01T11:00:00Z,ACCESS_SIGMA,Login,Success,bob@x.com,10.0.0.2",
    },
}
HEADERS = {"impressions": HEADER, "audit": AUDIT_HEADER}
TARGETS = {"impressions": IMPRESSION_EVENTS, "audit": AUDIT_EVENTS}


def export(folder: Path, job: str, name: str, rows: Sequence[str], hour: int) -> ExportFile:
    lines = [ROWS[job][r] for r in rows]
    return write_export(folder, name, lines, modified=at(f"2024-05-01T{hour:02d}:00"), header=HEADERS[job])


def derived(warehouse: Warehouse, job: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of ``job`` but sigma_export_files."""
    return {
        name: rows
        for name, rows in tables(warehouse, JOB_TABLES[job]).items()
        if name != EXPORT_FILES.base_name
    }


def sources(warehouse: Warehouse, job: str) -> dict[str, str]:
    """Stored events: user email -> name of the file they come from."""
    table: Table = TARGETS[job]
    rows = [dict(zip(table.column_names, row, strict=True)) for row in warehouse.read_table(table)]
    return {row["user_email"]: row["source_uri"].rsplit("/", 1)[1] for row in rows}


def fresh(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, job: str, files: list[ExportFile]
) -> Any:
    """The derived tables of a warehouse that only ever read ``files`` as they are now."""
    clean = make_warehouse(request, tmp_path / "fresh", backend, table_prefix="fresh_")  # same database
    load_job(job, clean, files, NEXT_RUN)
    return derived(clean, job)


def b_also_in_an_older_file(folder: Path, job: str, warehouse: Warehouse) -> tuple[ExportFile, ExportFile]:
    """Load older.csv (b) and day.csv (a, b, c: b is stored from it), then rewrite day.csv without b."""
    older = export(folder, job, "older.csv", ["b_elsewhere"], 5)
    load_job(job, warehouse, [older, export(folder, job, "day.csv", ["a", "b", "c"], 6)], RUN_DATE)
    assert sources(warehouse, job)["bob@x.com"] == "day.csv"
    return older, export(folder, job, "day.csv", ["a", "c"], 9)


@pytest.fixture(params=["sqlite", "postgres", "snowflake", "bigquery"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def warehouse(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Warehouse:
    (tmp_path / "fresh").mkdir()
    return make_warehouse(request, tmp_path, backend)


@pytest.mark.parametrize("job", JOBS)
def test_events_no_longer_in_a_rewritten_file_are_withdrawn(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    backend: str,
    warehouse: Warehouse,
    job: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder = tmp_path / "exports"
    load_job(job, warehouse, [export(folder, job, "day.csv", ["a", "b", "c"], 6)], RUN_DATE)
    rewritten = export(folder, job, "day.csv", ["a", "c"], 9)
    result = load_job(job, warehouse, [rewritten], NEXT_RUN)
    caplog.set_level("INFO")
    result.log(logging.getLogger(__name__))  # what the operator logs
    assert result.summary()["events_withdrawn"] == 1
    assert result.withdrawal.days == [date(2024, 5, 1)]
    assert "1 stored event(s) were withdrawn" in caplog.text and "day.csv (1)" in caplog.text
    assert sorted(sources(warehouse, job)) == ["ann@x.com", "cid@x.com"]
    after = derived(warehouse, job)
    assert after == fresh(request, tmp_path, backend, job, [rewritten])  # daily tables rebuilt, b's day too
    again = load_job(job, warehouse, [rewritten], NEXT_RUN)  # idempotent
    assert again.summary()["events_withdrawn"] == 0 and derived(warehouse, job) == after


@pytest.mark.parametrize("job", JOBS)
def test_an_event_an_older_file_of_the_run_still_holds_stays_from_that_file(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, warehouse: Warehouse, job: str
) -> None:
    older, rewritten = b_also_in_an_older_file(tmp_path / "exports", job, warehouse)
    result = load_job(job, warehouse, [older, rewritten], NEXT_RUN)
    assert result.summary()["events_withdrawn"] == 0 and result.withdrawal.moved == 1
    assert sources(warehouse, job) == {
        "ann@x.com": "day.csv",
        "bob@x.com": "older.csv",
        "cid@x.com": "day.csv",
    }
    assert derived(warehouse, job) == fresh(request, tmp_path, backend, job, [older, rewritten])


@pytest.mark.parametrize("job", JOBS)
def test_a_copy_in_a_file_the_run_does_not_read_is_not_consulted_until_read_again(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, warehouse: Warehouse, job: str
) -> None:
    older, rewritten = b_also_in_an_older_file(tmp_path / "exports", job, warehouse)
    assert load_job(job, warehouse, [rewritten], NEXT_RUN).summary()["events_withdrawn"] == 1
    assert "bob@x.com" not in sources(warehouse, job)
    restored = load_job(job, warehouse, [older, rewritten], NEXT_RUN)  # e.g. files=[older, day]
    assert restored.summary()["events_withdrawn"] == 0
    assert sources(warehouse, job)["bob@x.com"] == "older.csv"
    assert derived(warehouse, job) == fresh(request, tmp_path, backend, job, [older, rewritten])


@pytest.mark.parametrize("job", JOBS)
def test_events_that_left_a_rolling_export_window_are_kept(
    tmp_path: Path, warehouse: Warehouse, job: str
) -> None:
    """An export overwritten daily with the last n days: the new version starts later, its older
    events are outside the new span and stay (Sigma's file without the date-time prefix)."""
    folder = tmp_path / "exports"
    load_job(job, warehouse, [export(folder, job, "latest.csv", ["a", "b"], 6)], RUN_DATE)
    moved_on = export(folder, job, "latest.csv", ["b", "c"], 9)
    result = load_job(job, warehouse, [moved_on], NEXT_RUN)
    assert result.summary()["events_withdrawn"] == 0 and result.withdrawal.days == []
    assert sources(warehouse, job) == {
        "ann@x.com": "latest.csv",
        "bob@x.com": "latest.csv",
        "cid@x.com": "latest.csv",
    }


def test_a_file_read_again_unchanged_withdraws_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    job, folder = "impressions", tmp_path / "exports"
    day = export(folder, job, "day.csv", ["a", "b", "c"], 6)
    newer = export(folder, job, "newer.csv", ["a"], 7)
    load_job(job, warehouse, [day, newer], RUN_DATE)
    before = derived(warehouse, job)
    result = load_job(job, warehouse, [day], NEXT_RUN)  # a ranks below newer.csv; nothing changed
    assert result.summary()["events_withdrawn"] == 0 and result.withdrawal.days == []
    assert derived(warehouse, job) == before


def test_an_event_a_newer_file_supplies_is_not_withdrawn(warehouse: Warehouse, tmp_path: Path) -> None:
    job, folder = "audit", tmp_path / "exports"
    load_job(job, warehouse, [export(folder, job, "day.csv", ["a", "b", "c"], 6)], RUN_DATE)
    rewritten = export(folder, job, "day.csv", ["a", "c"], 9)
    newer = export(folder, job, "newer.csv", ["b_elsewhere"], 10)
    result = load_job(job, warehouse, [rewritten, newer], NEXT_RUN)
    assert result.summary()["events_withdrawn"] == 0
    assert sources(warehouse, job)["bob@x.com"] == "newer.csv"


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize("content", ["header only", "zero bytes"])
def test_a_rewritten_file_that_is_now_empty_fails_the_run_and_withdraws_nothing(
    tmp_path: Path, warehouse: Warehouse, job: str, content: str
) -> None:
    folder = tmp_path / "exports"
    load_job(job, warehouse, [export(folder, job, "day.csv", ["a", "b", "c"], 6)], RUN_DATE)
    before = tables(warehouse, JOB_TABLES[job])
    data = b"" if content == "zero bytes" else f"{HEADERS[job]}\n".encode()
    emptied = write_export(folder, "day.csv", data, modified=at("2024-05-01T09:00"))
    with pytest.raises(EmptiedExportError) as raised:
        load_job(job, warehouse, [emptied], NEXT_RUN)
    assert f"{emptied['uri']} was read before" in str(raised.value) and "3 stored event(s)" in str(
        raised.value
    )
    assert tables(warehouse, JOB_TABLES[job]) == before


@pytest.mark.parametrize("job", JOBS)
def test_a_rewritten_file_above_the_bad_row_limit_fails_the_run_and_withdraws_nothing(
    tmp_path: Path, warehouse: Warehouse, job: str
) -> None:
    folder = tmp_path / "exports"
    load_job(job, warehouse, [export(folder, job, "day.csv", ["a", "b", "c"], 6)], RUN_DATE)
    before = tables(warehouse, JOB_TABLES[job])
    broken = [ROWS[job]["a"], "not,a,valid,row,at,all,x", "2024-13-45,nobody,,,"]
    rewritten = write_export(folder, "day.csv", broken, modified=at("2024-05-01T09:00"), header=HEADERS[job])
    with pytest.raises(TooManyBadRowsError):
        load_job(job, warehouse, [rewritten], NEXT_RUN)
    assert tables(warehouse, JOB_TABLES[job]) == before


@pytest.mark.parametrize("job", JOBS)
def test_a_failure_after_the_withdrawal_leaves_every_table_as_it_was(
    tmp_path: Path, request: pytest.FixtureRequest, job: str
) -> None:
    """The daily table's rebuild (after the events were deleted) fails: a SQLite trigger raises."""
    warehouse = make_warehouse(request, tmp_path, "sqlite")
    folder = tmp_path / "exports"
    load_job(job, warehouse, [export(folder, job, "day.csv", ["a", "b", "c"], 6)], RUN_DATE)
    before = tables(warehouse, JOB_TABLES[job])
    daily = warehouse.unqualified_name(JOB_TABLES[job][1])
    with closing(sqlite3.connect(tmp_path / "warehouse.db")) as db:
        db.execute(
            f"CREATE TRIGGER fail AFTER INSERT ON \"{daily}\" BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
        db.commit()
    rewritten = export(folder, job, "day.csv", ["a", "c"], 9)
    with pytest.raises(Exception, match="disk on fire"):
        load_job(job, warehouse, [rewritten], NEXT_RUN)
    assert tables(warehouse, JOB_TABLES[job]) == before


def test_a_plain_uri_has_no_version_and_withdraws_nothing(warehouse: Warehouse, tmp_path: Path) -> None:
    job, folder = "impressions", tmp_path / "exports"
    load_job(job, warehouse, [export(folder, job, "day.csv", ["a", "b", "c"], 6)], RUN_DATE)
    rewritten = export(folder, job, "day.csv", ["a", "c"], 9)
    result: LoadResult = load_job(job, warehouse, [{**rewritten, "version": ""}], NEXT_RUN)  # type: ignore[list-item]
    assert result.summary()["events_withdrawn"] == 0
    assert sorted(sources(warehouse, job)) == ["ann@x.com", "bob@x.com", "cid@x.com"]


# -- through the operators, on object storage (S3 ETags, GCS generations) --------------------------------

CONTEXT: Any = {"data_interval_start": at("2024-05-01T00:00"), "data_interval_end": at("2024-05-02T00:00")}


def test_an_s3_object_rewritten_in_place_withdraws_through_the_impressions_operator(
    aws_connection: S3Server, s3_bucket: str, postgres_conn_id: str
) -> None:
    from airflow_sigma.operators import SigmaAggregateImpressionsOperator

    def put(rows: Sequence[str], hour: int) -> None:
        body = "".join(f"{line}\n" for line in (HEADER, *(ROWS["impressions"][r] for r in rows)))
        aws_connection.put(s3_bucket, "sigma/latest.csv", body, last_modified=at(f"2024-05-01T{hour:02d}:00"))

    operator = SigmaAggregateImpressionsOperator(
        task_id="aggregate", bucket_uri=f"s3://{s3_bucket}/sigma", warehouse_conn_id=postgres_conn_id
    )
    put(["a", "b", "c"], 6)
    assert operator.execute(CONTEXT)["events_withdrawn"] == 0
    put(["a", "c"], 9)  # same key, new ETag
    with capture_logs() as logs:
        summary = operator.execute(CONTEXT)
    assert summary["events_withdrawn"] == 1 and summary["events_written"] == 2
    assert "1 stored event(s) were withdrawn" in "\n".join(str(entry) for entry in logs)
    assert sorted(sources(Warehouse.from_conn_id(postgres_conn_id), "impressions")) == [
        "ann@x.com",
        "cid@x.com",
    ]
    assert operator.execute(CONTEXT)["events_withdrawn"] == 0  # the re-run changes nothing


def test_a_gcs_object_rewritten_in_place_withdraws_through_the_audit_operator(
    gcs_connection: GcsServer, gcs_bucket: str, sqlite_conn_id: str
) -> None:
    from airflow_sigma.operators import SigmaLoadAuditEventsOperator

    def put(rows: Sequence[str], hour: int) -> None:
        body = "".join(f"{line}\n" for line in (AUDIT_HEADER, *(ROWS["audit"][r] for r in rows)))
        gcs_connection.put(
            gcs_bucket, "sigma/latest.csv", body, last_modified=at(f"2024-05-01T{hour:02d}:00")
        )

    operator = SigmaLoadAuditEventsOperator(
        task_id="audit", bucket_uri=f"gs://{gcs_bucket}/sigma", warehouse_conn_id=sqlite_conn_id
    )
    put(["a", "b", "c"], 6)
    operator.execute(CONTEXT)
    put(["a", "c"], 9)  # a new generation
    assert operator.execute(CONTEXT)["events_withdrawn"] == 1
    assert sorted(sources(Warehouse.from_conn_id(sqlite_conn_id), "audit")) == ["ann@x.com", "cid@x.com"]
