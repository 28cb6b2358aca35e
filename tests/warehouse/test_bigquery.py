"""BigQuery: sessions, one transaction per write, load jobs, partitioned tables and missing privileges.

Run on the stand-in of :mod:`tests.fixtures.bigquery` (the client's calls recorded, the SQL transpiled
by sqlglot and executed on DuckDB). Not run on BigQuery.
"""

from __future__ import annotations

import json
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from google.api_core.exceptions import BadRequest, Forbidden, InternalServerError

from airflow_sigma.storage import ExportFile
from airflow_sigma.testing.exports import GroundTruth, write_exports
from airflow_sigma.warehouse import (
    ALL_TABLES,
    EXPORT_FILES,
    IMPRESSION_EVENTS,
    IMPRESSIONS_DAILY,
    USAGE,
    WORKBOOKS,
    Warehouse,
    WarehouseConnectionError,
    WarehouseError,
)
from airflow_sigma.warehouse.bigquery import BigQueryDialect, cluster_columns, partition_column
from airflow_sigma.warehouse.bigquery.session import SessionConnection
from tests.fixtures.bigquery import DATASET, PROJECT, FakeBigQuery, Job, bigquery_warehouse
from tests.fixtures.exports import listed, make_warehouse, tables
from tests.reliability.jobs import JOB_TABLES, JOBS, load_job
from tests.reliability.test_crash_recovery import SPEC, assert_correct, expected_tables, runs

_TRANSACTION = ("BEGIN TRANSACTION", "COMMIT TRANSACTION", "ROLLBACK TRANSACTION")


@pytest.fixture
def backend() -> str:
    return "bigquery"


@pytest.fixture
def exports(tmp_path: Path) -> tuple[list[ExportFile], GroundTruth]:
    truth = write_exports(tmp_path / "exports", SPEC)
    return listed(tmp_path / "exports"), truth


def sql_of(job: Job) -> str:
    return " ".join(job.target.split())


def writes_to(sql: str, temp_tables: set[str] | None = None) -> bool:
    """Whether ``sql`` changes a table of the dataset: any but the session's temp tables."""
    words = sql.split()
    verb = " ".join(words[:2])
    if verb not in ("INSERT INTO", "DELETE FROM", "MERGE INTO", "TRUNCATE TABLE") and words[0] != "UPDATE":
        return False
    target = words[1] if words[0] == "UPDATE" else words[2]
    return target not in (temp_tables or set())


def temp_tables_of(sent: list[str]) -> set[str]:
    return {sql.split()[3] for sql in sent if sql.startswith("CREATE TEMP TABLE ")}


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize(
    "failing",
    ["the events merge", "the daily rebuild", "the export-file record", "the commit"],
)
def test_a_failure_at_any_write_leaves_every_table_unchanged(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    job: str,
    failing: str,
    exports: Any,
    fake_bigquery: FakeBigQuery,
) -> None:
    files, truth = exports
    warehouse = make_warehouse(request, tmp_path, "bigquery")
    (first, first_date), (second, second_date) = runs(files)
    load_job(job, warehouse, first, first_date)
    before = tables(warehouse, JOB_TABLES[job])
    events, daily = (warehouse.unqualified_name(t) for t in JOB_TABLES[job][:2])
    prefix = {
        "the events merge": f"MERGE INTO {events} ",
        "the daily rebuild": f"INSERT INTO {daily} ",
        "the export-file record": f"MERGE INTO {warehouse.unqualified_name(EXPORT_FILES)} ",
        "the commit": "COMMIT TRANSACTION",
    }[failing]
    fake_bigquery.fail("query", lambda sql: sql.startswith(prefix), InternalServerError("injected"))
    start = len(fake_bigquery.jobs)
    with pytest.raises(InternalServerError, match="injected"):
        load_job(job, warehouse, second, second_date)
    sent = [sql_of(j) for j in fake_bigquery.jobs[start:] if j.kind == "query"]
    assert tables(warehouse, JOB_TABLES[job]) == before
    begin = sent.index("BEGIN TRANSACTION")
    temp = temp_tables_of(sent)
    assert any(writes_to(s, temp) for s in sent[begin:-2]) or failing == "the events merge"
    assert sent[-2:] == ["ROLLBACK TRANSACTION", "CALL BQ.ABORT_SESSION()"]
    assert not fake_bigquery.sessions and not fake_bigquery.open_transactions()
    fake_bigquery.failures.clear()
    load_job(job, warehouse, second, second_date)
    assert_correct(warehouse, job, expected_tables(request, tmp_path, "bigquery", job, files), truth)


@pytest.mark.parametrize("job", JOBS)
def test_statement_order_sessions_transactions_and_load_jobs(
    request: pytest.FixtureRequest, tmp_path: Path, job: str, exports: Any, fake_bigquery: FakeBigQuery
) -> None:
    """Temp tables only inside a session; every write to the dataset's tables inside that session's one
    transaction, with no DDL on them inside it; load jobs before it, into expiring staging tables."""
    files, truth = exports
    warehouse = make_warehouse(request, tmp_path, "bigquery")
    for run_files, run_date in runs(files):
        load_job(job, warehouse, run_files, run_date)
    queries = fake_bigquery.queries()
    assert all(q.session is not None for q in queries)  # no statement outside a session
    for query in queries:
        if sql_of(query).startswith("CREATE TEMP TABLE"):
            assert query.config.create_session or query.config.connection_properties
    by_session: dict[str, list[Job]] = {}
    for query in queries:
        by_session.setdefault(str(query.session), []).append(query)
    written = 0
    for session in by_session.values():
        sent = [sql_of(q) for q in session]
        assert sent[-1] == "CALL BQ.ABORT_SESSION()"
        assert sent.count("BEGIN TRANSACTION") <= 1 and "ROLLBACK TRANSACTION" not in sent
        inside, temp = False, temp_tables_of(sent)
        for sql in sent:
            if sql == "BEGIN TRANSACTION":
                inside = True
            elif sql == "COMMIT TRANSACTION":
                inside = False
            elif writes_to(sql, temp):
                assert inside, sql
                written += 1
            elif sql.split(None, 1)[0] in ("CREATE", "ALTER", "DROP") and inside:
                assert sql.startswith("CREATE TEMP TABLE"), sql
        assert not inside
    assert written
    loads = fake_bigquery.loads()
    assert len(loads) == len(runs(files))  # one load job per run, for all of its staged rows
    for load in loads:
        assert not load.in_transaction
        config = load.config
        assert (config.source_format, config.write_disposition) == ("PARQUET", "WRITE_TRUNCATE")
        assert (config.schema[0].name, config.schema[-1].name) == ("event_key", "file_rank")
        assert load.target.startswith(f"{DATASET}.sigma_load_sigma_stage_{job}_")
        staging = load.target.split(".")[1]
        assert fake_bigquery.expirations[staging] is not None
        assert not fake_bigquery.client()._columns(DATASET, staging)  # dropped after the run
    assert_correct(warehouse, job, expected_tables(request, tmp_path, "bigquery", job, files), truth)


def test_tables_are_partitioned_by_day_and_clustered_by_their_keys(
    make_warehouse: Any, fake_bigquery: FakeBigQuery
) -> None:
    make_warehouse().ensure_tables(*ALL_TABLES)
    for table in ALL_TABLES:
        name = f"sigma_{table.base_name}"
        assert fake_bigquery.partitioning.get(name) == partition_column(table), name
        assert fake_bigquery.clustering.get(name, []) == cluster_columns(table), name
    assert partition_column(IMPRESSION_EVENTS) == "day" and cluster_columns(IMPRESSION_EVENTS) == [
        "event_key"
    ]
    assert cluster_columns(IMPRESSIONS_DAILY) == ["workbook_url_id", "element_id", "user_email"]
    assert (partition_column(WORKBOOKS), cluster_columns(WORKBOOKS)) == ("snapshot_date", ["workbook_id"])
    assert (partition_column(USAGE), partition_column(EXPORT_FILES)) == ("as_of", None)
    assert cluster_columns(EXPORT_FILES) == ["job", "uri", "etag"]


def test_a_standalone_temp_table_is_what_bigquery_refuses(fake_bigquery: FakeBigQuery) -> None:
    """The stand-in refuses what BigQuery refuses, so the tests above would catch it."""
    client = fake_bigquery.client()
    with pytest.raises(BadRequest, match="requires a script or session"):
        client.query("CREATE TEMP TABLE t (a INT64)")
    with pytest.raises(BadRequest, match="outside a session"):
        client.query("BEGIN TRANSACTION")


def test_ddl_on_a_dataset_table_inside_the_transaction_is_refused(make_warehouse: Any) -> None:
    warehouse = make_warehouse()
    warehouse.ensure_tables(IMPRESSION_EVENTS)
    with (
        pytest.raises(WarehouseError, match="create every table and staging table before writing"),
        warehouse.transaction() as tx,
    ):
        tx.execute(f"DELETE FROM {tx.table_name(IMPRESSION_EVENTS)} WHERE TRUE")
        tx.ensure_tables(WORKBOOKS)
    connection = warehouse.connect()
    connection.execute(f"DELETE FROM {warehouse.table_name(IMPRESSION_EVENTS)} WHERE TRUE")
    with pytest.raises(WarehouseError, match="BigQuery allows DDL only on temporary tables"):
        connection.execute("CREATE TABLE sigma_late (a INT64)")
    connection.rollback()
    connection.close()


# -- missing datasets and privileges, before any Sigma call --------------------------------------------------


def test_missing_dataset_is_named_with_the_remedy(make_warehouse: Any) -> None:
    with pytest.raises(WarehouseConnectionError) as raised:
        make_warehouse(schema="missing_ds").checked()
    message = str(raised.value)
    assert f"the BigQuery dataset {PROJECT}.missing_ds does not exist" in message
    assert f"bq --location=EU mk --dataset {PROJECT}:missing_ds" in message
    assert "roles/bigquery.dataEditor" in message and not raised.value.retryable


@pytest.mark.parametrize(
    ("kind", "error", "permission", "remedy"),
    [
        (
            "query",
            f"Access Denied: Project {PROJECT}: User does not have bigquery.jobs.create permission in "
            f"project {PROJECT}.",
            "bigquery.jobs.create",
            f"roles/bigquery.jobUser on project {PROJECT}",
        ),
        (
            "create_table",
            f"Access Denied: Dataset {PROJECT}:{DATASET}: Permission bigquery.tables.create denied on "
            f"dataset {PROJECT}:{DATASET} (or it may not exist).",
            "bigquery.tables.create",
            f"roles/bigquery.dataEditor on dataset {PROJECT}.{DATASET}",
        ),
        (
            "get_dataset",
            "Access Denied: Dataset: User does not have permission to access the dataset.",
            "bigquery.datasets.get",
            f"roles/bigquery.dataEditor on dataset {PROJECT}.{DATASET}",
        ),
        (
            "delete_table",
            "Access Denied: Table: User does not have bigquery.tables.delete permission.",
            "bigquery.tables.delete",
            f"roles/bigquery.dataEditor on dataset {PROJECT}.{DATASET}",
        ),
    ],
)
def test_a_missing_privilege_names_the_permission_and_the_role(
    make_warehouse: Any, fake_bigquery: FakeBigQuery, kind: str, error: str, permission: str, remedy: str
) -> None:
    fake_bigquery.fail(kind, lambda target: True, Forbidden(error))
    with pytest.raises(WarehouseConnectionError) as raised:
        make_warehouse().checked()
    message = str(raised.value)
    assert f"lacks {permission}" in message and f"Grant it {remedy}" in message, message
    assert not raised.value.retryable


def test_a_permission_refused_mid_run_is_terminal(make_warehouse: Any, fake_bigquery: FakeBigQuery) -> None:
    warehouse = make_warehouse()
    warehouse.ensure_tables(WORKBOOKS)
    fake_bigquery.fail(
        "query",
        lambda sql: sql.startswith("DELETE"),
        Forbidden("Access Denied: Table sigma: User does not have bigquery.tables.updateData permission."),
    )
    with (
        pytest.raises(WarehouseConnectionError, match=r"lacks bigquery\.tables\.updateData"),
        warehouse.transaction() as tx,
    ):
        tx.replace_partition(WORKBOOKS, {"snapshot_date": date(2024, 5, 1)}, [])


def test_checked_passes_and_leaves_nothing_behind(make_warehouse: Any, fake_bigquery: FakeBigQuery) -> None:
    make_warehouse().checked()
    probes = [j for j in fake_bigquery.jobs if j.kind == "create_table"]
    assert [j.target.split(".")[1].startswith("sigma_access_check_") for j in probes] == [True]
    assert not fake_bigquery.client()._columns(DATASET, probes[0].target.split(".")[1])
    assert not fake_bigquery.sessions


@pytest.fixture(params=["gcpbigquery", "google_cloud_platform"])
def bigquery_conn_id(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, fake_bigquery: FakeBigQuery
) -> list[tuple[str, Any]]:
    """An Airflow connection ``sigma_test_bigquery`` of either Google type whose
    ``BigQueryHook.get_client`` returns a client of ``fake_bigquery``; the list records the (project,
    location) each call asked."""
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

    connection = {
        "conn_type": request.param,
        "schema": DATASET,
        "extra": {"project": PROJECT, "location": "EU"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_TEST_BIGQUERY", json.dumps(connection))
    asked: list[tuple[str, Any]] = []

    def get_client(self: Any, project_id: str, location: str | None = None) -> Any:
        asked.append((project_id, location))
        return fake_bigquery.client()

    monkeypatch.setattr(BigQueryHook, "get_client", get_client)
    return asked


def test_a_bigquery_connection_through_the_bigquery_hook(bigquery_conn_id: list[tuple[str, Any]]) -> None:
    """``Warehouse.from_conn_id`` on a ``gcpbigquery`` or ``google_cloud_platform`` connection: the
    ``BigQueryHook``'s client (stood in for at ``BigQueryHook.get_client``), its project and location,
    and its schema as the default dataset."""
    asked = bigquery_conn_id
    warehouse = Warehouse.from_conn_id("sigma_test_bigquery").checked()
    assert isinstance(warehouse.dialect, BigQueryDialect)
    assert warehouse.description == (
        f"warehouse connection 'sigma_test_bigquery' (BigQuery project {PROJECT}, location EU)"
    )
    with warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS)
        assert isinstance(tx.cursor.connection, SessionConnection)
        assert tx.cursor.connection.default_dataset == f"{PROJECT}.{DATASET}"
    assert warehouse.read_table(WORKBOOKS) == []
    assert asked == [(PROJECT, "EU")]  # one client per warehouse


def test_a_second_warehouse_on_the_same_project_keeps_its_own_dataset(fake_bigquery: FakeBigQuery) -> None:
    other = bigquery_warehouse(fake_bigquery, schema="other_ds")
    other.ensure_tables(WORKBOOKS)
    assert fake_bigquery.client()._columns("other_ds", "sigma_workbooks")
    assert not fake_bigquery.client()._columns(DATASET, "sigma_workbooks")


def test_a_missing_privilege_fails_the_operator_before_any_sigma_call(
    sigma_server: Any, monkeypatch: pytest.MonkeyPatch, bigquery_conn_id: Any, fake_bigquery: FakeBigQuery
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from airflow_sigma.operators import SigmaDiscoverWorkbooksOperator

    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_FIRST", sigma_server.connection_json())
    fake_bigquery.fail(
        "create_table",
        lambda target: True,
        Forbidden(f"Access Denied: Dataset {PROJECT}:{DATASET}: Permission bigquery.tables.create denied"),
    )
    operator = SigmaDiscoverWorkbooksOperator(
        task_id="discover",
        sigma_conn_id="sigma_first",
        warehouse_conn_id="sigma_test_bigquery",
        sigma_hook_params={"client_kwargs": {"max_retries": 0}},
    )
    day = datetime(2026, 4, 5, tzinfo=timezone.utc)
    with pytest.raises(AirflowFailException) as raised:
        operator.execute({"data_interval_start": day, "data_interval_end": day + timedelta(days=1)})
    assert isinstance(raised.value.__cause__, WarehouseConnectionError)
    assert f"roles/bigquery.dataEditor on dataset {PROJECT}.{DATASET}" in str(raised.value)
    assert sigma_server.stats.requests == 0


@pytest.mark.parametrize("job", JOBS)
def test_a_failed_load_job_writes_nothing_and_leaves_no_staging_table(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    job: str,
    exports: Any,
    fake_bigquery: FakeBigQuery,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files, _ = exports
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    warehouse = make_warehouse(request, tmp_path, "bigquery")
    (first, first_date), (second, second_date) = runs(files)
    load_job(job, warehouse, first, first_date)
    before = tables(warehouse, JOB_TABLES[job])
    fake_bigquery.fail("load", lambda target: True, BadRequest("Error while reading data: injected"))
    with pytest.raises(BadRequest, match="injected"):
        load_job(job, warehouse, second, second_date)
    assert tables(warehouse, JOB_TABLES[job]) == before
    staging = [j.target for j in fake_bigquery.jobs if j.kind == "create_table"]
    assert staging and not any(fake_bigquery.client()._columns(*name.split(".")) for name in staging)
    assert not fake_bigquery.sessions
    assert not list(scratch.glob("sigma-bigquery-*.parquet"))


def test_staged_batches_go_to_disk_as_they_arrive(tmp_path: Path) -> None:
    """Bounded memory: each batch is written to the Parquet file (as a row group) when it is staged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from airflow_sigma.warehouse import Column
    from airflow_sigma.warehouse.bigquery.loads import ParquetStage

    columns = (Column("event_key", "text", "k"), Column("n", "integer", "n"), Column("at", "timestamp", "t"))
    stage = ParquetStage("sigma_stage_x", columns)
    sizes = []
    try:
        for batch in range(5):
            keys = pa.array([f"e{batch}-{i}" for i in range(2_000)])
            numbers = pa.array(range(2_000), pa.int64())
            stamps = pa.array([datetime(2024, 5, 1, tzinfo=timezone.utc)] * 2_000)
            assert stage.write([keys, numbers, stamps]) == 2_000
            sizes.append(Path(stage.path).stat().st_size)
        stage.close()
        assert sizes == sorted(sizes) and sizes[0] < sizes[-1]  # written out batch by batch
        assert pq.ParquetFile(stage.path).metadata.num_row_groups == 5
        assert pq.read_table(stage.path).num_rows == 10_000
    finally:
        stage.discard()
    assert not Path(stage.path).exists()


def test_an_existing_dataset_needs_no_dataset_creation_right(
    make_warehouse: Any, fake_bigquery: FakeBigQuery
) -> None:
    """roles/bigquery.dataEditor on the dataset is enough: no CREATE SCHEMA when it exists."""
    refused = Forbidden(f"Access Denied: Project {PROJECT}: User does not have bigquery.datasets.create")
    fake_bigquery.fail("query", lambda sql: sql.startswith("CREATE SCHEMA"), refused)
    make_warehouse(schema=DATASET).ensure_tables(WORKBOOKS)
    with pytest.raises(WarehouseConnectionError, match=f"roles/bigquery.user on project {PROJECT}"):
        make_warehouse(schema="new_ds").ensure_tables(WORKBOOKS)
