"""SigmaAggregateImpressionsOperator and SigmaBuildUsageSummaryOperator: parameters, execute(), dag.test()."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from airflow_sigma.events import hash_email
from airflow_sigma.exceptions import ParameterError
from airflow_sigma.operators import SigmaAggregateImpressionsOperator, SigmaBuildUsageSummaryOperator
from airflow_sigma.storage import ExportConfigError
from airflow_sigma.testing.exports import ExportSpec, write_exports
from airflow_sigma.warehouse import IMPRESSIONS_DAILY, USAGE, Warehouse
from tests.fixtures.airflow import fails_without_retry
from tests.fixtures.cloud import S3Server
from tests.fixtures.exports import HEADER, at, write_export

UTC = timezone.utc
DAGS = Path(__file__).resolve().parents[1] / "integration_dags"
START, END = at("2024-05-02T00:00"), at("2024-05-03T00:00")
CONTEXT: Any = {"data_interval_start": START, "data_interval_end": END}
ROWS = [
    "2024-05-02T10:00:00Z,Ann@x.com,wbA,,",
    "2024-05-02T10:01:00Z,bob@x.com,wbA,el1,3",
    "2024-05-01T23:00:00Z,bob@x.com,wbB,,",
]


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_conn_id(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_conn_id"))


def aggregate(**kwargs: Any) -> SigmaAggregateImpressionsOperator:
    return SigmaAggregateImpressionsOperator(task_id="aggregate", **kwargs)


def daily(conn_id: str) -> dict[tuple[Any, ...], int]:
    return {tuple(row[:4]): row[4] for row in Warehouse.from_conn_id(conn_id).read_table(IMPRESSIONS_DAILY)}


def log_text(logs: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(str(entry) for entry in logs)


# -- parameters ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ExportConfigError, "Give either files"),
        ({"files": [], "bucket_uri": "s3://bucket/x"}, ExportConfigError, "not both"),
        ({"bucket_uri": "ftp://bucket/x"}, ExportConfigError, "Unsupported export location"),
        ({"bucket_uri": "s3://bucket/x", "days_back": 9}, ExportConfigError, "days_back must be from 1 to 6"),
        ({"files": [], "max_bad_row_fraction": 2}, ValueError, "max_bad_row_fraction"),
        ({"files": [], "event_retention_days": 0}, ValueError, "event_retention_days"),
        ({"files": [], "hash_user_emails": True}, ValueError, "needs a salt"),
    ],
)
def test_aggregate_parameters_are_checked_at_parse_time(
    kwargs: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        aggregate(**kwargs)


def test_aggregate_defaults_and_templated_fields() -> None:
    op = aggregate(files="{{ ti.xcom_pull('list_exports') }}")
    assert (op.warehouse_conn_id, op.table_prefix, op.max_bad_row_fraction, op.event_retention_days) == (
        "sigma_warehouse", "sigma_", 0.01, 35,
    )  # fmt: skip
    assert {"files", "bucket_uri", "warehouse_conn_id", "column_map", "impression_filter"} <= set(
        op.template_fields
    )
    assert aggregate(bucket_uri="s3://bucket//prefix").bucket_uri == "s3://bucket/prefix/"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"used_window_days": 0}, "used_window_days"), ({"used_min_impressions": True}, "used_min")],
)
def test_usage_parameters_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SigmaBuildUsageSummaryOperator(task_id="usage", **kwargs)


# -- execute ------------------------------------------------------------------------------------------------


def test_aggregate_files_from_the_listing_xcom(warehouse_conn_id: str, tmp_path: Path) -> None:
    export = write_export(tmp_path, "a.csv", ROWS, modified=at("2024-05-02T12:00"))
    op = aggregate(files=[export], warehouse_conn_id=warehouse_conn_id)
    with capture_logs() as logs:
        summary = op.execute(CONTEXT)
    json.dumps(summary)  # XCom-serialisable
    assert summary["files"] == 1 and summary["rows_accepted"] == 3 and summary["events_written"] == 3
    assert summary["days_rebuilt"] == 2 and (summary["first_day"], summary["last_day"]) == (
        "2024-05-01",
        "2024-05-02",
    )
    assert daily(warehouse_conn_id) == {
        (date(2024, 5, 1), "wbB", "", "bob@x.com"): 1,
        (date(2024, 5, 2), "wbA", "", "ann@x.com"): 1,
        (date(2024, 5, 2), "wbA", "el1", "bob@x.com"): 3,
    }
    text = log_text(logs)
    assert "3 rows read, 3 accepted, 0 filtered out, 0 bad" in text
    assert "0 duplicate events" in text


def test_aggregate_lists_a_bucket_itself_and_warns_without_element_ids(
    sqlite_conn_id: str, tmp_path: Path
) -> None:
    write_export(
        tmp_path,
        "too-old.csv",
        ["2024-04-01T10:00:00Z,ann@x.com,wbOld"],
        header="request_time,user_email,workbook_url_id",
        modified=at("2024-04-29T23:00"),
    )
    write_export(
        tmp_path,
        "a.csv",
        ["2024-05-02T10:00:00Z,ann@x.com,wbA"],
        header="request_time,user_email,workbook_url_id",
        modified=at("2024-05-02T12:00"),
    )
    op = aggregate(bucket_uri=f"file://{tmp_path}", days_back=2, warehouse_conn_id=sqlite_conn_id)
    with capture_logs() as logs:
        summary = op.execute(CONTEXT)
    assert summary["files"] == 1
    assert "No file has an element_id column" in log_text(logs)
    assert daily(sqlite_conn_id) == {(date(2024, 5, 2), "wbA", "", "ann@x.com"): 1}


def test_aggregate_warns_when_no_file_is_found(sqlite_conn_id: str, tmp_path: Path) -> None:
    with capture_logs() as logs:
        summary = aggregate(files=[], warehouse_conn_id=sqlite_conn_id).execute(CONTEXT)
    assert summary["files"] == 0
    assert "No export files to read: check the bucket URI" in log_text(logs)


def test_aggregate_from_s3(aws_connection: S3Server, s3_bucket: str, postgres_conn_id: str) -> None:
    body = HEADER + "\n" + "\n".join(ROWS) + "\n"
    aws_connection.put(s3_bucket, "exports/2024-05-02.csv", body, last_modified=at("2024-05-02T12:00"))
    op = aggregate(bucket_uri=f"s3://{s3_bucket}/exports", warehouse_conn_id=postgres_conn_id)
    assert op.execute(CONTEXT)["events_written"] == 3
    assert sum(daily(postgres_conn_id).values()) == 5


def test_hashed_emails_with_a_salt_from_a_connection_that_is_never_shown(
    sqlite_conn_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    salt = "s3cr3t-salt-value"
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_SALT", json.dumps({"conn_type": "generic", "password": salt}))
    export = write_export(
        tmp_path, "a.csv", [*ROWS, "yesterday,ann@x.com,wbA,,"], modified=at("2024-05-02T12:00")
    )
    op = aggregate(
        files=[export],
        warehouse_conn_id=sqlite_conn_id,
        hash_user_emails=True,
        email_salt_conn_id="sigma_salt",
        max_bad_row_fraction=0.5,
    )
    with capture_logs() as logs:
        summary = op.execute(CONTEXT)
    assert {key[3] for key in daily(sqlite_conn_id)} == {
        hash_email("ann@x.com", salt),
        hash_email("bob@x.com", salt),
    }
    assert salt not in log_text(logs) and salt not in json.dumps(summary)
    assert "ann@x.com" not in log_text(logs)  # bad-row samples are not logged when emails are hashed
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_SALT", json.dumps({"conn_type": "generic"}))
    with fails_without_retry(ParameterError, match="'sigma_salt' has no password and no extra 'salt'"):
        op.execute(CONTEXT)


def test_usage_summary_as_of_the_last_full_day_of_the_interval(
    warehouse_conn_id: str, tmp_path: Path
) -> None:
    export = write_export(tmp_path, "a.csv", ROWS, modified=at("2024-05-02T12:00"))
    aggregate(files=[export], warehouse_conn_id=warehouse_conn_id).execute(CONTEXT)
    op = SigmaBuildUsageSummaryOperator(task_id="usage", warehouse_conn_id=warehouse_conn_id)
    with capture_logs() as logs:
        summary = op.execute(CONTEXT)
    assert summary["as_of"] == "2024-05-02" and summary["workbooks"] == 2 and summary["elements"] == 1
    assert "No catalog snapshot on or before 2024-05-02" in log_text(logs)
    templated = SigmaBuildUsageSummaryOperator(
        task_id="usage", warehouse_conn_id=warehouse_conn_id, as_of="{{ ds }}"
    )
    templated.render_template_fields({"ds": "2024-05-01"})
    assert templated.execute(CONTEXT)["as_of"] == "2024-05-01"
    rows = Warehouse.from_conn_id(warehouse_conn_id).read_table(USAGE)
    assert sorted({row[0] for row in rows}) == [date(2024, 5, 1), date(2024, 5, 2)]


# -- a real DAG run -----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_dag_run(
    airflow_db: None, sqlite_conn_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    spec = ExportSpec(
        workbooks={"wbA": ["e1", "e2"], "wbB": []}, users=["ann@x.com", "bob@x.com"], start=date(2024, 5, 1),
        days=2, events_per_day=30, files=4, shape="prepared", export_lag_minutes=0,
    )  # fmt: skip
    truth = write_exports(tmp_path, spec)
    monkeypatch.setenv("SIGMA_TEST_USAGE_EXPORTS_URI", f"file://{tmp_path}")
    monkeypatch.setenv("SIGMA_TEST_USAGE_WAREHOUSE_CONN_ID", sqlite_conn_id)
    bag = DagBag(dag_folder=str(DAGS / "usage_pipeline.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("usage_pipeline")
    run = dag.test(logical_date=datetime(2024, 5, 3, tzinfo=UTC))  # lists [05-01, 05-03]: every file
    assert run.state == "success"
    assert daily(sqlite_conn_id) == dict(truth.impressions)
    usage = Warehouse.from_conn_id(sqlite_conn_id).read_table(USAGE)
    assert {row[0] for row in usage} == {date(2024, 5, 2)}  # the last full day before 05-03 00:00
    totals = {row[3]: row[11] for row in usage if row[1] == "workbook"}  # impressions_30d
    expected = {
        wb: sum(n for (_, w, el, _), n in truth.impressions.items() if w == wb and not el) for wb in totals
    }
    assert totals == expected and set(totals) == {"wbA", "wbB"}
