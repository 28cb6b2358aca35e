"""Snowflake's bulk path, run on fakesnow: staged rows go as Parquet files through ``PUT`` to a temporary
stage and one ``COPY INTO``, inside the run's one transaction.

What fakesnow 0.12.1 cannot show, and real Snowflake does: ``PUT`` uploads to Snowflake's storage (here
a local directory, one file per ``PUT``), a temporary stage is dropped with its files when the session
ends (fakesnow keeps stages in a global catalog, so the stage outlives the connection), and
``COPY INTO`` loads files in parallel on the warehouse (here DuckDB reads them in this process).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from airflow_sigma.storage import ExportFile
from airflow_sigma.testing.exports import GroundTruth, write_exports
from airflow_sigma.warehouse import Column, SnowflakeDialect, Warehouse
from airflow_sigma.warehouse.snowflake import STAGE
from tests.fixtures.exports import listed, tables
from tests.fixtures.snowflake import snowflake_warehouse, watched
from tests.reliability.jobs import JOB_TABLES, JOBS, load_job
from tests.reliability.test_crash_recovery import SPEC, assert_correct, expected_tables, runs
from tests.warehouse.test_snowflake import InjectedFailure, failing_at


@pytest.fixture
def exports(tmp_path: Path) -> tuple[list[ExportFile], GroundTruth]:
    truth = write_exports(tmp_path / "exports", SPEC)
    return listed(tmp_path / "exports"), truth


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR of this test, where the Parquet files are written before their PUT."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def recording(warehouse: Warehouse, log: list[str], dialect: SnowflakeDialect | None = None) -> Warehouse:
    """The same warehouse, whose connections append every statement they run to ``log``."""
    return Warehouse(
        watched(warehouse.connect, lambda cursor, sql: log.append(sql)),
        dialect or warehouse.dialect,
        schema=warehouse.schema,
    )


def staged_files(warehouse: Warehouse) -> list[Any]:
    with warehouse.transaction(write=False) as tx:
        return tx.query(f"LIST @{STAGE}")


@pytest.mark.parametrize("job", JOBS)
def test_staged_rows_go_through_parquet_put_and_one_copy_inside_the_transaction(
    fake_snowflake: Callable[[], Any], job: str, exports: Any, scratch: Path
) -> None:
    files, truth = exports
    statements: list[str] = []
    warehouse = recording(snowflake_warehouse(fake_snowflake), statements)
    result = load_job(job, warehouse, files, SPEC.start)
    stage = f"sigma_stage_{job}"
    copies = [s for s in statements if s.startswith("COPY INTO ")]
    puts = [s for s in statements if s.startswith("PUT ")]
    assert len(copies) == 1 and copies[0].startswith(f"COPY INTO {stage} (")
    assert len(puts) == 1  # every batch of every export file in one Parquet file (below the size bound)
    assert not [s for s in statements if s.startswith(f"INSERT INTO {stage} ")]  # no INSERT .. FROM VALUES
    begin = statements.index("BEGIN")
    assert (
        statements.index(f"CREATE TEMPORARY STAGE IF NOT EXISTS {STAGE}") < begin < statements.index(puts[0])
    )
    # The rows are in the staging table before the merge's first statement reads it.
    assert statements.index(copies[0]) < min(i for i, s in enumerate(statements) if f"FROM {stage} " in s)
    assert result.events > 0
    assert not list(scratch.iterdir())  # the local Parquet files are gone
    assert staged_files(warehouse) == []  # PURGE = TRUE removed the staged ones
    inserted = Warehouse(fake_snowflake, SnowflakeDialect(parquet_loads=False), schema="by_insert")
    load_job(job, inserted, files, SPEC.start)
    assert tables(warehouse, JOB_TABLES[job]) == tables(inserted, JOB_TABLES[job])
    if job == "impressions":
        from airflow_sigma.warehouse import IMPRESSIONS_DAILY

        daily = {tuple(row[:4]): row[4] for row in warehouse.read_table(IMPRESSIONS_DAILY)}
        assert daily == dict(truth.impressions)


def test_files_roll_at_the_size_bound_and_load_in_one_copy(
    fake_snowflake: Callable[[], Any],
    exports: Any,
    scratch: Path,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    files, truth = exports
    statements: list[str] = []
    small = SnowflakeDialect(file_bytes=1)  # a new file after every batch
    warehouse = recording(snowflake_warehouse(fake_snowflake), statements, small)
    for run_files, run_date in runs(files):
        load_job("impressions", warehouse, run_files, run_date)
    puts = [s for s in statements if s.startswith("PUT ")]
    assert len(puts) >= len(files) + len(files) // 2  # a file per batch: at least one per export file read
    assert len([s for s in statements if s.startswith("COPY INTO ")]) == 2  # one per run
    expected = expected_tables(request, tmp_path, "snowflake", "impressions", files)
    assert_correct(warehouse, "impressions", expected, truth)
    assert not list(scratch.iterdir())


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize("at", ["PUT ", "COPY INTO "])
def test_a_failure_during_the_bulk_load_leaves_every_table_unchanged(
    fake_snowflake: Callable[[], Any],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    job: str,
    at: str,
    exports: Any,
    scratch: Path,
) -> None:
    files, truth = exports
    warehouse = snowflake_warehouse(fake_snowflake)
    (first, first_date), (second, second_date) = runs(files)
    load_job(job, warehouse, first, first_date)
    before = tables(warehouse, JOB_TABLES[job])
    statements: list[str] = []
    with pytest.raises(InjectedFailure):
        load_job(job, failing_at(warehouse, at, statements), second, second_date)
    assert any(s.startswith(at) for s in statements[statements.index("BEGIN") :])
    assert tables(warehouse, JOB_TABLES[job]) == before
    assert not list(scratch.iterdir())  # the failed run's local files are removed too
    load_job(job, warehouse, second, second_date)
    load_job(job, warehouse, second, second_date)  # a re-run gives identical tables
    assert_correct(warehouse, job, expected_tables(request, tmp_path, "snowflake", job, files), truth)


COLUMNS = (
    Column("k", "text", "key", False),
    Column("n", "integer", "integer"),
    Column("f", "float", "float"),
    Column("b", "boolean", "boolean"),
    Column("d", "date", "date"),
    Column("t", "timestamp", "timestamp"),
    Column("j", "json", "json"),
)


def arrow_batch() -> list[pa.Array]:
    t = datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=timezone.utc)
    return [
        pa.array(["a", "b", "c'\"\\ é"]),
        pa.array([1, None, -(2**62)], pa.int64()),
        pa.array([1.5, None, -0.0]),
        pa.array([True, None, False]),
        pa.array([date(2026, 3, 2), None, date(1999, 12, 31)]),
        pa.array([t, None, t.replace(microsecond=0)], pa.timestamp("us", "UTC")),
        pa.array(['{"x": [1, 2.5, "y"], "z": null}', None, "[]"]),
    ]


@pytest.mark.parametrize("parquet_loads", [True, False])
def test_every_column_type_arrives_as_through_insert(
    fake_snowflake: Callable[[], Any], parquet_loads: bool, scratch: Path
) -> None:
    """VARIANT from JSON text, TIMESTAMP_TZ, DATE, NUMBER, FLOAT and BOOLEAN: the Parquet path gives what
    the INSERT path gives, and what was appended."""
    statements: list[str] = []
    base = snowflake_warehouse(fake_snowflake)
    warehouse = recording(base, statements, SnowflakeDialect(parquet_loads=parquet_loads))
    with warehouse.transaction() as tx:
        temp = tx.create_temp_table("sigma_types", COLUMNS)
        assert tx.append_arrays(temp, arrow_batch()) == 3
        rows = tx.read_table(temp, order_by_key=False)
    assert any(s.startswith("COPY INTO ") for s in statements) is parquet_loads
    t = datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=timezone.utc)
    assert sorted(rows, key=lambda row: row[0]) == [
        ("a", 1, 1.5, True, date(2026, 3, 2), t, {"x": [1, 2.5, "y"], "z": None}),
        ("b", None, None, None, None, None, None),
        ("c'\"\\ é", -(2**62), -0.0, False, date(1999, 12, 31), t.replace(microsecond=0), []),
    ]


def test_rows_held_back_reach_the_table_before_the_next_statement(
    fake_snowflake: Callable[[], Any], scratch: Path
) -> None:
    warehouse = snowflake_warehouse(fake_snowflake)
    with warehouse.transaction() as tx:
        temp = tx.create_temp_table("sigma_held", COLUMNS[:2])
        tx.append_arrays(temp, [pa.array(["a", "b"]), pa.array([1, 2])])
        assert list(scratch.iterdir())  # written locally, not loaded yet
        assert tx.count(temp) == 2
        tx.append_arrays(temp, [pa.array(["c"]), pa.array([3])])
        assert tx.query(f"SELECT SUM(n) FROM {temp.name}") == [(6,)]
    assert not list(scratch.iterdir())
