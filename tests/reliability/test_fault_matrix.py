"""The discovery snapshot under combined API faults equals a clean run's; a listing that keeps failing
fails the task and leaves the previous snapshot as it was.

Real HTTP against the local Sigma server (random 429s with ``Retry-After``, 502/503/504, tokens that
expire mid-run without the client being told, connections dropped before an answer or in the middle of
one), the real operator and hook, real SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_sigma.catalog import CatalogError
from airflow_sigma.operators import SigmaDiscoverWorkbooksOperator
from airflow_sigma.testing import OrgSpec, SigmaTestServer
from airflow_sigma.warehouse import MEMBERS, WORKBOOK_ELEMENTS, WORKBOOKS, Warehouse

CLEAN_DAY, FAULTY_DAY = date(2026, 3, 1), date(2026, 3, 2)
RETRY_AFTER = "0.2"  # seconds: short for the test, but above the backoff so honouring it is visible
HOOK_PARAMS = {
    "client_kwargs": {
        "max_retries": 10,
        "backoff_initial": 0.001,
        "backoff_max": 0.01,
        "retry_after_max": 5.0,  # no cap below RETRY_AFTER: the server's value is what is waited
        "timeout": 5.0,
    }
}
# 15% of GETs fail: two thirds 429 (10%), one third 502/503/504 (5%).
MIXED_STATUSES = (429, 429, 429, 429, 429, 429, 502, 503, 504)
# Tokens are announced as lasting an hour but expire after a second or two, so the client learns of it
# from 401s mid-run. The lifetime stays above one call's longest plausible retry sequence (a token that
# expires between a re-authentication and its replay would be a test artefact), and the latency makes
# the run outlast it.
EXPIRING = {"token_lifetime": 1.0, "reported_expires_in": 3600, "latency": 0.06}

FAULTS: dict[str, dict[str, Any]] = {
    "429-retry-after": {"error_rate": 0.10, "error_statuses": (429,)},
    "502-503-504": {"error_rate": 0.05, "error_statuses": (502, 503, 504)},
    "token-expiry": EXPIRING,
    "dropped-connections": {"drop_rate": 0.03, "truncate_rate": 0.03},
    "combined": {
        "error_rate": 0.15,
        "error_statuses": MIXED_STATUSES,
        "drop_rate": 0.02,
        "truncate_rate": 0.02,
        **EXPIRING,
        "token_lifetime": 2.0,
    },
}
UTC = timezone.utc


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    return OrgSpec(seed=11, workbooks=40, pages_per_workbook=2, elements_per_page=3, members=8)


@pytest.fixture
def sigma_conn(sigma_server: SigmaTestServer, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_FAULTS", sigma_server.connection_json())
    sigma_server.configure(latency=0.03, retry_after=RETRY_AFTER)
    return "sigma_faults"


def discover(sigma_conn: str, warehouse_conn_id: str, day: date, **hook: Any) -> dict[str, Any]:
    op = SigmaDiscoverWorkbooksOperator(
        task_id="discover",
        sigma_conn_id=sigma_conn,
        warehouse_conn_id=warehouse_conn_id,
        include_personal=True,
        include_archived=True,
        max_concurrency=4,
        sigma_hook_params={"client_kwargs": {**HOOK_PARAMS["client_kwargs"], **hook}},
    )
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)  # the daily run for ``day``
    return op.execute({"data_interval_start": start, "data_interval_end": start + timedelta(days=1)})


def snapshot(warehouse_conn_id: str) -> dict[date, list[list[tuple[Any, ...]]]]:
    """Every catalog row by snapshot date, per table, without the date column."""
    warehouse = Warehouse.from_conn_id(warehouse_conn_id)
    by_day: dict[date, list[list[tuple[Any, ...]]]] = {}
    for index, table in enumerate((WORKBOOKS, WORKBOOK_ELEMENTS, MEMBERS)):
        for row in warehouse.read_table(table):
            by_day.setdefault(row[0], [[], [], []])[index].append(row[1:])
    return by_day


def retry_waits(log_text: str, status: int) -> list[str]:
    """The waits the client announced before retrying after ``status``."""
    return re.findall(rf"HTTP {status}; retry \d+/\d+ in (\d+\.\d+)s", log_text)


def assert_faults_were_met(name: str, server: SigmaTestServer, log_text: str) -> None:
    stats = server.stats
    options = FAULTS[name]
    if 429 in options.get("error_statuses", ()):
        waits = retry_waits(log_text, 429)
        assert stats.by_status.get(429, 0) >= 2 and waits
        assert set(waits) == {f"{float(RETRY_AFTER):.2f}"}  # Retry-After honoured, neither capped nor ignored
    if 502 in options.get("error_statuses", ()):
        assert sum(stats.by_status.get(s, 0) for s in (502, 503, 504)) >= 1
    if "token_lifetime" in options:
        assert stats.by_status.get(401, 0) >= 1 and stats.token_requests >= 2
    if "drop_rate" in options:
        assert stats.dropped_connections >= 2


@pytest.mark.parametrize("name", [*FAULTS, pytest.param("combined", id="combined-postgres")])
def test_faulty_api_gives_the_clean_snapshot(
    request: pytest.FixtureRequest,
    name: str,
    sigma_server: SigmaTestServer,
    sigma_conn: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = "postgres" if request.node.callspec.id == "combined-postgres" else "sqlite"
    warehouse_conn_id = request.getfixturevalue(f"{backend}_conn_id")
    clean_summary = discover(sigma_conn, warehouse_conn_id, CLEAN_DAY)
    clean = snapshot(warehouse_conn_id)
    sigma_server.reset_stats()
    sigma_server.configure(**FAULTS[name])
    if "drop_rate" in FAULTS[name]:  # at least one of each, whatever the dice say
        sigma_server.drop_next(1, path="/v2/workbooks")
        sigma_server.truncate_next(1, path="/v2/workbooks/*/pages/*/elements")
    caplog.set_level("WARNING", logger="airflow_sigma.api.client")
    summary = discover(sigma_conn, warehouse_conn_id, FAULTY_DAY)
    assert_faults_were_met(name, sigma_server, caplog.text)
    assert summary["skipped"] == 0
    assert summary["requests"] > clean_summary["requests"]  # the retries
    varying = {"snapshot_date", "requests"}
    assert {k: v for k, v in summary.items() if k not in varying} == {
        k: v for k, v in clean_summary.items() if k not in varying
    }
    after = snapshot(warehouse_conn_id)
    assert after[CLEAN_DAY] == clean[CLEAN_DAY]  # the other date is untouched
    assert after[FAULTY_DAY] == clean[CLEAN_DAY]
    assert sum(map(len, after[FAULTY_DAY])) > 250


@pytest.mark.parametrize(
    ("backend", "failure"),
    [("sqlite", "503"), ("sqlite", "429"), ("sqlite", "drop"), ("sqlite", "truncate"), ("postgres", "503")],
)
def test_a_workbook_listing_that_keeps_failing_fails_and_keeps_the_previous_snapshot(
    request: pytest.FixtureRequest, backend: str, failure: str, sigma_server: SigmaTestServer, sigma_conn: str
) -> None:
    warehouse_conn_id = request.getfixturevalue(f"{backend}_conn_id")
    discover(sigma_conn, warehouse_conn_id, CLEAN_DAY)
    before = snapshot(warehouse_conn_id)
    sigma_server.configure(**FAULTS["combined"])
    if failure == "drop":
        sigma_server.drop_next(1000, path="/v2/workbooks")
    elif failure == "truncate":
        sigma_server.truncate_next(1000, path="/v2/workbooks")
    else:
        sigma_server.fail_path("/v2/workbooks", int(failure))
    sigma_server.reset_stats()
    for day in (CLEAN_DAY, FAULTY_DAY):  # replacing the stored date, and adding a new one
        with pytest.raises(CatalogError, match="Listing Sigma workbooks failed") as raised:
            discover(sigma_conn, warehouse_conn_id, day, max_retries=3)
        message = str(raised.value)
        assert "nothing is written" in message and "/v2/workbooks" in message
        assert sigma_server.url in message
        assert snapshot(warehouse_conn_id) == before
    assert "GET /v2/workbooks/{workbookId}/pages" not in sigma_server.stats.by_endpoint  # stopped early
