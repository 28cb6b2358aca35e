"""Configuration, credentials and bad-input errors fail the task at once; transient errors are retried.

Each case runs one task with ``retries=2`` through a real ``dag.test()`` and reads its task instance back
from the Airflow metadata DB: a terminal error leaves it failed on try 1 with no retry recorded; a
transient one is tried again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_sigma.exceptions import (
    BadInputError,
    ConfigurationError,
    CredentialsError,
    SigmaProviderError,
    TransientError,
    is_retryable,
)
from airflow_sigma.testing.org import OrgSpec
from tests.reliability.tasks import Outcome, discover, run_task

pytestmark = pytest.mark.integration


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    return OrgSpec(seed=5, workbooks=4, pages_per_workbook=1, elements_per_page=1, members=2)


def test_the_branches_say_whether_a_retry_can_help() -> None:
    from airflow_sigma.api.errors import SigmaAPIError, SigmaAuthError, SigmaConfigError, SigmaConnectionError
    from airflow_sigma.events import EventFileError, FileErrorKind
    from airflow_sigma.storage import ExportConfigError, ExportStorageError
    from airflow_sigma.warehouse import BadRowError, WarehouseError

    assert issubclass(SigmaConfigError, ConfigurationError) and issubclass(ExportConfigError, ValueError)
    assert issubclass(SigmaAuthError, CredentialsError) and issubclass(BadRowError, BadInputError)
    assert issubclass(SigmaConnectionError, TransientError)
    terminal = [
        SigmaConfigError("x"),
        SigmaAuthError("x", status=401),
        SigmaAPIError("x", status=403),
        ExportConfigError("x"),
        EventFileError("f", FileErrorKind.MISSING_COLUMN, "x"),
        WarehouseError("x"),
    ]
    retried = [
        SigmaAPIError("x", status=503),
        SigmaAPIError("x", status=429),
        SigmaConnectionError("x"),
        SigmaAuthError("x", transient=True),
        ExportStorageError("x"),
        OSError("not ours"),
    ]
    assert all(isinstance(e, SigmaProviderError) for e in terminal + retried[:-1])
    assert [is_retryable(e) for e in terminal] == [False] * len(terminal)
    assert [is_retryable(e) for e in retried] == [True] * len(retried)


def test_rejected_credentials_fail_the_task_without_retries(
    airflow_db: None, sigma_server, sqlite_conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = json.loads(sigma_server.connection_json())
    wrong["password"] = "not-the-secret"
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_WRONG_SECRET", json.dumps(wrong))
    outcome = run_task(
        monkeypatch, "SigmaDiscoverWorkbooksOperator", **discover("sigma_wrong_secret", sqlite_conn_id)
    )
    assert outcome == Outcome("failed", 1, 0)


def test_an_undefined_sigma_connection_fails_the_task_without_retries(
    airflow_db: None, sqlite_conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SIGMA_NOT_DEFINED", raising=False)
    outcome = run_task(
        monkeypatch, "SigmaDiscoverWorkbooksOperator", **discover("sigma_not_defined", sqlite_conn_id)
    )
    assert outcome == Outcome("failed", 1, 0)


def test_a_sigma_outage_is_retried(
    airflow_db: None, sigma_server, sqlite_conn_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_DOWN", sigma_server.connection_json())
    sigma_server.fail_path("/v2/workbooks", 503)
    outcome = run_task(
        monkeypatch, "SigmaDiscoverWorkbooksOperator", retries=1, **discover("sigma_down", sqlite_conn_id)
    )
    assert outcome == Outcome("failed", 2, 1)


def test_a_bad_location_rendered_at_run_time_fails_without_retries(
    airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = run_task(monkeypatch, "SigmaListAuditExportsOperator", bucket_uri="{{ 'ftp://' ~ 'bucket/x' }}")
    assert outcome == Outcome("failed", 1, 0)


def test_a_file_without_the_required_columns_fails_without_retries(
    airflow_db: None, sqlite_conn_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "export.csv").write_text("when,who\n2026-04-04T10:00:00Z,ann@x.com\n")
    outcome = run_task(
        monkeypatch,
        "SigmaAggregateImpressionsOperator",
        files=[(tmp_path / "export.csv").as_uri()],
        warehouse_conn_id=sqlite_conn_id,
    )
    assert outcome == Outcome("failed", 1, 0)
