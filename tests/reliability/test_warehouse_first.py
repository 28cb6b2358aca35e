"""The warehouse is checked before any Sigma call or export read, and what cannot work is refused.

A missing Airflow provider names the package to install; a SQLite connection without a file, with a
temporary schema, or a read-only database is refused; the ``sqlite:////abs/path.db`` URI form (which
Airflow's own SQLite hook cannot open) works. Raw database errors (a full disk, full staging scratch
space) are raised with the connection, the path and the remedy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_sigma.operators import (
    SigmaAggregateImpressionsOperator,
    SigmaBuildUsageSummaryOperator,
    SigmaDiscoverWorkbooksOperator,
    SigmaLoadAuditEventsOperator,
)
from airflow_sigma.testing.org import OrgSpec
from airflow_sigma.warehouse import WORKBOOKS, Warehouse

WarehouseConnectionError = Exception

UTC = timezone.utc
REPO = Path(__file__).resolve().parents[2]
DAY = datetime(2026, 4, 5, tzinfo=UTC)
CONTEXT: Any = {"data_interval_start": DAY, "data_interval_end": DAY + timedelta(days=1)}
FAST = {"client_kwargs": {"max_retries": 0}}


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    return OrgSpec(seed=9, workbooks=5, pages_per_workbook=1, elements_per_page=1, members=2)


@pytest.fixture
def sigma_conn(sigma_server, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_FIRST", sigma_server.connection_json())
    return "sigma_first"


def warehouse_conn(monkeypatch: pytest.MonkeyPatch, value: str | dict[str, Any]) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_WH_UNDER_TEST", value if isinstance(value, str) else json.dumps(value))
    return "wh_under_test"


def discover(sigma_conn: str, warehouse_conn_id: str, **kwargs: Any) -> dict[str, Any]:
    op = SigmaDiscoverWorkbooksOperator(
        task_id="discover",
        sigma_conn_id=sigma_conn,
        warehouse_conn_id=warehouse_conn_id,
        sigma_hook_params=FAST,
        **kwargs,
    )
    return op.execute(CONTEXT)


def refused(call: Any, *says: str) -> str:
    with pytest.raises(AirflowFailException) as raised:
        call()
    assert isinstance(raised.value.__cause__, WarehouseConnectionError), repr(raised.value.__cause__)
    message = str(raised.value)
    assert all(text in message for text in says), message
    return message


# -- before any Sigma call --------------------------------------------------------------------------------


CASES: dict[str, tuple[dict[str, Any] | str, dict[str, Any], tuple[str, ...]]] = {
    "provider-missing": (
        {"conn_type": "mysql", "host": "127.0.0.1", "port": 9},
        {},
        ("type 'mysql'", "pip install apache-airflow-providers-mysql"),
    ),
    "sqlite-without-file": ("sqlite://", {}, ("names no database file", "sqlite:////abs/path/warehouse.db")),
    "sqlite-memory": ({"conn_type": "sqlite", "host": ":memory:"}, {}, ("names no database file",)),
    "sqlite-relative": (
        {"conn_type": "sqlite", "host": "warehouse.db"},
        {},
        ("relative path 'warehouse.db'",),
    ),
    "sqlite-missing-directory": (
        {"conn_type": "sqlite", "host": "/nonexistent-dir-for-sigma/warehouse.db"},
        {},
        ("/nonexistent-dir-for-sigma/warehouse.db", "does not exist"),
    ),
    "sqlite-temp-schema": (
        "sqlite:///{tmp}/warehouse.db",
        {"schema": "temp"},
        ("schema='temp'", "vanish when the task's connection closes"),
    ),
    "undefined-connection": ("", {}, ("'wh_under_test' is not defined", "AIRFLOW_CONN_WH_UNDER_TEST")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_warehouse_that_cannot_work_is_refused_before_any_sigma_call(
    case: str, sigma_server, sigma_conn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection, kwargs, says = CASES[case]
    if connection:
        conn_id = warehouse_conn(
            monkeypatch, connection.format(tmp=tmp_path) if isinstance(connection, str) else connection
        )
    else:
        conn_id = "wh_under_test"
    refused(lambda: discover(sigma_conn, conn_id, **kwargs), *says)
    assert sigma_server.stats.requests == 0


def test_a_read_only_database_is_refused_before_any_sigma_call(
    sigma_server, sigma_conn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "warehouse.db"
    Warehouse.from_conn_id(warehouse_conn(monkeypatch, {"conn_type": "sqlite", "host": str(path)})).checked()
    conn_id = warehouse_conn(monkeypatch, {"conn_type": "sqlite", "host": str(path), "extra": {"mode": "ro"}})
    refused(
        lambda: discover(sigma_conn, conn_id), "'wh_under_test'", str(path), "refuses writes", "write access"
    )
    assert sigma_server.stats.requests == 0


@pytest.mark.parametrize("operator", [SigmaAggregateImpressionsOperator, SigmaLoadAuditEventsOperator])
def test_the_loading_operators_check_the_warehouse_before_listing_exports(
    operator: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = warehouse_conn(monkeypatch, {"conn_type": "snowflakeish", "host": "x"})
    op = operator(task_id="load", bucket_uri=f"file://{tmp_path}/not-there", warehouse_conn_id=conn_id)
    refused(lambda: op.execute(CONTEXT), "pip install apache-airflow-providers-snowflakeish")


def test_the_usage_summary_checks_its_warehouse(monkeypatch: pytest.MonkeyPatch) -> None:
    op = SigmaBuildUsageSummaryOperator(
        task_id="usage", warehouse_conn_id=warehouse_conn(monkeypatch, "sqlite://")
    )
    refused(lambda: op.execute(CONTEXT), "names no database file")


@pytest.mark.parametrize("uri", ["sqlite:////{tmp}/warehouse.db", "sqlite:///{tmp}/warehouse.db"])
def test_the_sqlite_uri_forms_name_the_file(
    uri: str, sigma_server, sigma_conn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn_id = warehouse_conn(monkeypatch, uri.format(tmp=str(tmp_path).lstrip("/")))
    summary = discover(sigma_conn, conn_id)
    stored = {"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}
    rows = Warehouse.from_conn_id(warehouse_conn(monkeypatch, stored)).read_table(WORKBOOKS)
    assert len(rows) == summary["workbooks"] > 0


@pytest.mark.integration
def test_a_missing_provider_fails_the_dag_run_at_once(
    airflow_db: None, sigma_server, sigma_conn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.reliability.test_fail_fast import Outcome, run_task

    conn_id = warehouse_conn(monkeypatch, {"conn_type": "mysql", "host": "127.0.0.1", "port": 9})
    kwargs = {"sigma_conn_id": sigma_conn, "warehouse_conn_id": conn_id, "sigma_hook_params": FAST}
    assert run_task(monkeypatch, "SigmaDiscoverWorkbooksOperator", **kwargs) == Outcome("failed", 1, 0)
    assert sigma_server.stats.requests == 0


# -- raw database errors, explained -----------------------------------------------------------------------

FULL_DISK_RUN = """
import json, sys
from datetime import datetime, timedelta, timezone
from airflow_sigma.operators import SigmaAggregateImpressionsOperator
day = datetime(2024, 5, 8, tzinfo=timezone.utc)
op = SigmaAggregateImpressionsOperator(
    task_id="t", bucket_uri=sys.argv[1], days_back=6, warehouse_conn_id="wh"
)
try:
    op.execute({"data_interval_start": day - timedelta(days=1), "data_interval_end": day})
    print(json.dumps({"error": None}))
except Exception as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error), "retryable": error.retryable}))
"""


def run_on_a_small_filesystem(mount: Path, env: dict[str, str], exports: Path) -> dict[str, Any]:
    """Run FULL_DISK_RUN with a 256 KiB tmpfs mounted on ``mount`` (in a user and mount namespace)."""
    if subprocess.run(["unshare", "-Urm", "true"], capture_output=True).returncode != 0:
        pytest.skip("this kernel does not allow user namespaces (needed to mount a small filesystem)")
    script = (
        f'mount -t tmpfs -o size=256k tmpfs {mount} && exec {sys.executable} -c "$SCRIPT" {exports.as_uri()}'
    )
    result = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", script],
        env={**os.environ, **env, "SCRIPT": textwrap.dedent(FULL_DISK_RUN)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def big_exports(tmp_path: Path) -> Path:
    from airflow_sigma.testing.exports import ExportSpec, write_exports

    folder = tmp_path / "exports"
    spec = ExportSpec(
        workbooks={f"wb{i}": [f"e{i}"] for i in range(20)},
        users=[f"u{i}@x.com" for i in range(30)],
        start=date(2024, 5, 1),
        days=7,
        events_per_day=3000,
        files=7,
        shape="prepared",
        export_lag_minutes=0,
    )
    write_exports(folder, spec)
    return folder


def test_a_full_disk_under_the_warehouse_file_is_explained(tmp_path: Path, big_exports: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    database = mount / "warehouse.db"
    env = {"AIRFLOW_CONN_WH": json.dumps({"conn_type": "sqlite", "host": str(database)})}
    outcome = run_on_a_small_filesystem(mount, env, big_exports)
    assert outcome["error"] == "WarehouseUnavailableError" and outcome["retryable"] is True, outcome
    message = outcome["message"]
    assert "No space left while writing to warehouse connection 'wh'" in message
    assert str(database) in message and f"{mount} (database):" in message and "Free space" in message


def test_full_staging_scratch_space_is_explained(tmp_path: Path, big_exports: Path) -> None:
    mount = tmp_path / "small-tmp"
    mount.mkdir()
    env = {
        "AIRFLOW_CONN_WH": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "warehouse.db")}),
        "TMPDIR": str(mount),
    }
    outcome = run_on_a_small_filesystem(mount, env, big_exports)
    assert outcome["error"] == "WarehouseUnavailableError", outcome
    assert f"{mount} (TMPDIR, staging scratch): 0.0 MiB free" in outcome["message"]
