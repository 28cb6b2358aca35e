"""SigmaLoadAuditEventsOperator: parameters, execute() on real files and databases, and dag.test()."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from airflow_sigma.events import TooManyBadRowsError
from airflow_sigma.operators import SigmaLoadAuditEventsOperator
from airflow_sigma.storage import ExportConfigError
from airflow_sigma.testing.exports import AUDIT_HEADER, ExportSpec, write_exports
from airflow_sigma.warehouse import AUDIT_EVENTS, DAILY_EVENT_COUNTS, DAILY_LOGINS, Warehouse
from tests.fixtures.airflow import fails_without_retry
from tests.fixtures.cloud import GcsServer
from tests.fixtures.exports import at, write_export

UTC = timezone.utc
DAGS = Path(__file__).resolve().parents[1] / "integration_dags"
CONTEXT: Any = {"data_interval_start": at("2024-05-02T00:00"), "data_interval_end": at("2024-05-03T00:00")}
HEADER = "Request Time,Event Type,Event Name,Event Status,User Email"
ROWS = [
    "2024-05-02T08:00:00Z,ACCESS_SIGMA,Login,Success,ann@x.com",
    "2024-05-02T08:01:00Z,ACCESS_SIGMA,Login,Failure,bob@x.com",
    "2024-05-02T08:02:00Z,TEAMS,add_team_member,Success,ann@x.com",
]


def load(**kwargs: Any) -> SigmaLoadAuditEventsOperator:
    return SigmaLoadAuditEventsOperator(task_id="load", **kwargs)


def logins(conn_id: str) -> dict[date, tuple[int, ...]]:
    return {row[0]: tuple(row[1:]) for row in Warehouse.from_conn_id(conn_id).read_table(DAILY_LOGINS)}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ExportConfigError, "Give either files"),
        ({"files": [], "bucket_uri": "gs://bucket/x"}, ExportConfigError, "not both"),
        ({"files": [], "categories": "ACCESS_SIGMA"}, ValueError, "not a string"),
        ({"files": [], "max_bad_row_fraction": -0.1}, ValueError, "max_bad_row_fraction"),
        ({"bucket_uri": "gs://bucket/x", "days_back": 0}, ExportConfigError, "days_back"),
    ],
)
def test_parameters_are_checked_at_parse_time(kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        load(**kwargs)


def test_bad_login_settings_fail_the_task_before_reading(sqlite_conn_id: str) -> None:
    op = load(
        files=[], warehouse_conn_id=sqlite_conn_id, success_statuses=["Done"], failure_statuses=["done"]
    )
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=r"share .* \(not retried"):  # a parameter error
        op.execute(CONTEXT)


def test_execute_on_listed_files(sqlite_conn_id: str, tmp_path: Path) -> None:
    export = write_export(tmp_path, "a.csv", ROWS, header=HEADER, modified=at("2024-05-02T12:00"))
    op = load(files=json.dumps([export]), warehouse_conn_id=sqlite_conn_id)
    with capture_logs() as logs:
        summary = op.execute(CONTEXT)
    json.dumps(summary)
    assert (summary["files"], summary["events_written"], summary["days_rebuilt"]) == (1, 3, 1)
    assert logins(sqlite_conn_id) == {date(2024, 5, 2): (1, 1, 1)}
    counts = Warehouse.from_conn_id(sqlite_conn_id).read_table(DAILY_EVENT_COUNTS)
    assert (date(2024, 5, 2), "TEAMS", "add_team_member", "Success", 1, 1) in counts
    assert "3 rows read, 3 accepted" in "\n".join(str(entry) for entry in logs)


def test_too_many_bad_rows_fail_the_task(sqlite_conn_id: str, tmp_path: Path) -> None:
    rows = [*ROWS, "soon,ACCESS_SIGMA,Login,Success,x@x.com"]
    export = write_export(tmp_path, "a.csv", rows, header=HEADER, modified=at("2024-05-02T12:00"))
    with fails_without_retry(TooManyBadRowsError, match="Nothing was written"):
        load(files=[export], warehouse_conn_id=sqlite_conn_id).execute(CONTEXT)
    with Warehouse.from_conn_id(sqlite_conn_id).transaction() as tx:  # not even the tables were created
        assert tx.query("SELECT name FROM sqlite_master WHERE name LIKE 'sigma%'") == []


def test_execute_lists_a_gcs_bucket(
    gcs_connection: GcsServer, gcs_bucket: str, postgres_conn_id: str
) -> None:
    body = HEADER + "\n" + "\n".join(ROWS) + "\n"
    gcs_connection.put(gcs_bucket, "audit/2024-05-02.csv", body, last_modified=at("2024-05-02T12:00"))
    gcs_connection.put(gcs_bucket, "audit/2024-04-01.csv", body, last_modified=at("2024-04-01T12:00"))
    op = load(
        bucket_uri=f"gs://{gcs_bucket}/audit", categories=["access_sigma"], warehouse_conn_id=postgres_conn_id
    )
    summary = op.execute(CONTEXT)
    assert (summary["files"], summary["events_written"], summary["rows_filtered"]) == (1, 2, 1)
    assert logins(postgres_conn_id) == {date(2024, 5, 2): (1, 1, 1)}


@pytest.mark.integration
def test_dag_run(
    airflow_db: None, postgres_conn_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    spec = ExportSpec(
        workbooks={"wbA": ["e1"], "wbB": []}, users=["ann@x.com", "bob@x.com", "cy@x.com"],
        start=date(2024, 5, 1), days=2, events_per_day=20, files=4, export_lag_minutes=0,
    )  # fmt: skip
    truth = write_exports(tmp_path, spec)
    assert AUDIT_HEADER[0] == "Event Id"  # the generated files carry event ids
    monkeypatch.setenv("SIGMA_TEST_AUDIT_EXPORTS_URI", f"file://{tmp_path}")
    monkeypatch.setenv("SIGMA_TEST_AUDIT_WAREHOUSE_CONN_ID", postgres_conn_id)
    bag = DagBag(dag_folder=str(DAGS / "audit_history.py"))
    assert bag.import_errors == {}
    run = bag.get_dag("audit_history").test(logical_date=datetime(2024, 5, 3, tzinfo=UTC))
    assert run.state == "success"
    assert len(Warehouse.from_conn_id(postgres_conn_id).read_table(AUDIT_EVENTS)) == truth.events
    assert logins(postgres_conn_id) == {day: tuple(counts) for day, counts in truth.logins.items()}
