"""Snowflake transactions that hold, run on fakesnow (see :mod:`tests.fixtures.snowflake`).

Snowflake commits the open transaction at every DDL statement, so a run creates every table and
staging table first, then begins the transaction at its first write and runs only DML inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.storage import ExportFile
from airflow_sigma.testing.exports import GroundTruth, write_exports
from airflow_sigma.warehouse import IMPRESSION_EVENTS, Warehouse, WarehouseError
from tests.fixtures.dags import SampleDags
from tests.fixtures.exports import listed, make_warehouse, tables
from tests.fixtures.snowflake import watched
from tests.reliability.jobs import JOB_TABLES, JOBS, load_job
from tests.reliability.test_crash_recovery import SPEC, assert_correct, expected_tables, runs

START = date(2026, 3, 2)
LAST_DAY = START + timedelta(days=2)


class InjectedFailure(RuntimeError):
    pass


def failing_at(warehouse: Warehouse, prefix: str, log: list[str]) -> Warehouse:
    """The same warehouse, whose connections record each statement and fail at the first one starting
    with ``prefix`` (after running it, as if the connection dropped before the commit)."""

    def record(cursor: Any, sql: str) -> None:
        log.append(sql)
        if sql.startswith(prefix):
            raise InjectedFailure(f"injected failure after: {sql[:60]}")

    return Warehouse(watched(warehouse.connect, record), warehouse.dialect, schema=warehouse.schema)


@pytest.fixture
def exports(tmp_path: Path) -> tuple[list[ExportFile], GroundTruth]:
    truth = write_exports(tmp_path / "exports", SPEC)
    return listed(tmp_path / "exports"), truth


@pytest.mark.parametrize("job", JOBS)
def test_a_failure_mid_merge_leaves_every_table_unchanged(
    request: pytest.FixtureRequest, tmp_path: Path, job: str, exports: Any
) -> None:
    files, truth = exports
    warehouse = make_warehouse(request, tmp_path, "snowflake")
    (first, first_date), (second, second_date) = runs(files)
    load_job(job, warehouse, first, first_date)
    before = tables(warehouse, JOB_TABLES[job])
    target = warehouse.table_name(JOB_TABLES[job][0])
    statements: list[str] = []
    failing = failing_at(warehouse, f"INSERT INTO {target} ", statements)
    with pytest.raises(InjectedFailure):
        load_job(job, failing, second, second_date)
    assert tables(warehouse, JOB_TABLES[job]) == before
    # The run had already updated stored events when it failed, inside its one transaction.
    begin = statements.index("BEGIN")
    assert any(s.startswith(f"UPDATE {target} ") for s in statements[begin:])
    assert not [s for s in statements[begin:] if s.split(None, 1)[0].upper() in ("CREATE", "ALTER", "DROP")]
    load_job(job, warehouse, second, second_date)
    assert_correct(warehouse, job, expected_tables(request, tmp_path, "snowflake", job, files), truth)


def test_ddl_after_the_first_write_is_refused(make_warehouse: Callable[..., Warehouse]) -> None:
    warehouse = make_warehouse()
    warehouse.ensure_tables(IMPRESSION_EVENTS)
    with (
        pytest.raises(WarehouseError, match="DDL commits the open transaction"),
        warehouse.transaction() as tx,
    ):
        tx.execute(f"DELETE FROM {tx.table_name(IMPRESSION_EVENTS)}")
        tx.create_temp_table("too_late", IMPRESSION_EVENTS)


@pytest.mark.integration
@pytest.mark.timeout(600)  # two dag.test() runs of three tasks; 221 s on the shared 2-core machine
def test_the_usage_sample_dag_on_a_snowflake_connection(sample_dags: SampleDags) -> None:
    """dag.test() of the sample usage DAG, unchanged, on a Snowflake connection (SnowflakeHook) served by
    fakesnow: exact against ground truth, and a re-run leaves identical tables."""
    truth = sample_dags.stage(sample_dags.spec(START, 3), warehouse="snowflake")
    first, second = sample_dags.run(
        ("sigma_usage_daily", LAST_DAY), ("sigma_usage_daily", LAST_DAY), snapshot_tables=True
    )
    assert first["tables"] == second["tables"]
    assert first["tables"]["usage"] and first["tables"]["workbooks"]
    assert sample_dags.impressions_daily() == truth.impressions


@pytest.fixture
def backend() -> str:
    return "snowflake"
