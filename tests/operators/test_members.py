"""SigmaBuildMemberActivityOperator: parameters checked at DAG parse time, execute() on both warehouses."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from airflow_sigma.audit import AuditJob, LoginSettings
from airflow_sigma.exceptions import ParameterError
from airflow_sigma.loading import load_exports
from airflow_sigma.operators import SigmaBuildMemberActivityOperator
from airflow_sigma.warehouse import MEMBER_ACTIVITY, Warehouse
from tests.fixtures.exports import at, write_export

CONTEXT: Any = {"data_interval_start": at("2024-05-02T00:00"), "data_interval_end": at("2024-05-03T00:00")}
HEADER = "Request Time,Event Type,Event Name,Event Status,User Email"
ROWS = [
    "2024-05-01T08:00:00Z,ACCESS_SIGMA,Sign In,Succeeded,Ann@x.com",
    "2024-05-02T09:00:00Z,ACCESS_SIGMA,Sign In,Denied,bob@x.com",
    "2024-05-02T09:30:00Z,OBJECT_INTERACTION,Workbook Opened,SUCCESS,bob@x.com",
    "2024-05-03T09:30:00Z,ACCESS_SIGMA,Sign In,Succeeded,bob@x.com",  # after as_of: not counted
]


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_conn_id(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_conn_id"))


def log_text(logs: list[dict[str, Any]]) -> str:
    return "\n".join(str(entry.get("event", "")) for entry in logs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"unused_after_days": 0}, "unused_after_days must be a whole number >= 1"),
        ({"view_event_names": "Workbook Opened"}, "view_event_names must be a non-empty list"),
        ({"view_event_statuses": "SUCCESS"}, "view_event_statuses must be a non-empty list"),
        ({"success_statuses": ["OK"], "failure_statuses": ["ok"]}, "share"),
    ],
)
def test_bad_parameters_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        SigmaBuildMemberActivityOperator(task_id="activity", **kwargs)


def test_execute_as_of_the_last_full_day_with_the_audit_jobs_login_settings(
    warehouse_conn_id: str, tmp_path: Path
) -> None:
    export = write_export(tmp_path, "a.csv", ROWS, header=HEADER, modified=at("2024-05-03T12:00"))
    warehouse = Warehouse.from_conn_id(warehouse_conn_id)
    logins = LoginSettings(login_event_names=["Sign In"], failure_statuses=["Denied"])
    load_exports(warehouse, [export], AuditJob(logins=logins), run_at=at("2024-05-04T00:00"))
    op = SigmaBuildMemberActivityOperator(
        task_id="activity",
        warehouse_conn_id=warehouse_conn_id,
        unused_after_days=2,
        view_event_names=["*opened*"],
        login_event_names=["Sign In"],
        failure_statuses=["Denied"],
    )
    with capture_logs() as logs:
        summary = op.execute(CONTEXT)
    json.dumps(summary)  # XCom-serialisable
    assert summary["as_of"] == "2024-05-02" and summary["snapshot_date"] is None
    assert summary["login_history_from"] == "2024-05-01" and summary["users_not_in_catalog"] == 2
    assert "No sigma_members snapshot on or before 2024-05-02" in log_text(logs)
    rows = {row[1]: row[8:] for row in warehouse.read_table(MEMBER_ACTIVITY)}
    ann_login = at("2024-05-01T08:00")
    assert rows == {
        "ann@x.com": (ann_login, None, 1, 1, 0, 0, 1, False),
        "bob@x.com": (None, at("2024-05-02T09:30"), 0, 0, 1, 1, 1, True),
    }
    templated = SigmaBuildMemberActivityOperator(
        task_id="activity", warehouse_conn_id=warehouse_conn_id, as_of="{{ ds }}", unused_after_days=2
    )
    templated.render_template_fields({"ds": "2024-05-01"})
    assert templated.execute(CONTEXT)["as_of"] == "2024-05-01"
    assert {row[0] for row in warehouse.read_table(MEMBER_ACTIVITY)} == {date(2024, 5, 1), date(2024, 5, 2)}


def test_a_bad_as_of_fails_without_retries(sqlite_conn_id: str) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    op = SigmaBuildMemberActivityOperator(task_id="activity", warehouse_conn_id=sqlite_conn_id, as_of="soon")
    with pytest.raises(AirflowFailException, match=r"as_of must be a date or 'YYYY-MM-DD'.*not retried"):
        op.execute(CONTEXT)
