"""SigmaDiscoverWorkbooksOperator: parameters, execute() on real SQLite and PostgreSQL, and dag.test()."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_sigma.catalog import CatalogError
from airflow_sigma.operators import SigmaDiscoverWorkbooksOperator
from airflow_sigma.operators.catalog import as_flag, snapshot_date_of, workspace_names
from airflow_sigma.testing.org import OrgSpec
from airflow_sigma.usage import last_full_day
from airflow_sigma.warehouse import MEMBERS, WORKBOOK_ELEMENTS, WORKBOOKS, Warehouse
from airflow_sigma.warehouse.tables import (
    DATA_MODELS,
    DATASETS,
    ELEMENT_LINEAGE,
    TEAM_MEMBERS,
    TEAMS,
    WORKBOOK_SOURCES,
    WORKSPACES,
)
from tests.catalog.expected import element_count, expected_workbooks

UTC = timezone.utc
HOOK_PARAMS = {"client_kwargs": {"max_retries": 3, "backoff_initial": 0.001, "backoff_max": 0.01,
                                 "retry_after_max": 0.01}}  # fmt: skip
DAGS = Path(__file__).resolve().parents[1] / "integration_dags"
TABLES = (WORKBOOKS, WORKBOOK_ELEMENTS, MEMBERS)
CATALOG_PARTS = (DATA_MODELS, DATASETS, WORKBOOK_SOURCES, ELEMENT_LINEAGE, TEAMS, TEAM_MEMBERS, WORKSPACES)
PART_NAMES = {"data_models": "data_models", "datasets": "datasets", "workbook_sources": "sources",
              "element_lineage": "lineage", "teams": "teams", "team_members": "team_members",
              "workspaces": "workspaces"}  # fmt: skip


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    return OrgSpec(seed=3, workbooks=30, pages_per_workbook=2, elements_per_page=3, members=6)


@pytest.fixture
def sigma_conn(sigma_server, monkeypatch) -> str:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_DEFAULT", sigma_server.connection_json())
    return "sigma_default"


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_conn_id(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_conn_id"))


def operator(**kwargs) -> SigmaDiscoverWorkbooksOperator:
    return SigmaDiscoverWorkbooksOperator(task_id="discover", sigma_hook_params=HOOK_PARAMS, **kwargs)


def on(day: datetime) -> Any:
    """The task context of the daily run for ``day``: data interval [day, day + 1 day)."""
    return {"logical_date": day, "data_interval_start": day, "data_interval_end": day + timedelta(days=1)}


def snapshot(warehouse_conn_id: str) -> list[list[tuple]]:
    warehouse = Warehouse.from_conn_id(warehouse_conn_id)
    return [warehouse.read_table(table) for table in TABLES]


# -- parameters -----------------------------------------------------------------------------------------


def test_defaults_and_templated_fields():
    op = SigmaDiscoverWorkbooksOperator(task_id="discover")
    assert (op.sigma_conn_id, op.warehouse_conn_id, op.table_prefix, op.schema) == (
        "sigma_default", "sigma_warehouse", "sigma_", None,
    )  # fmt: skip
    assert (op.include_personal, op.include_archived, op.include_elements) == (False, False, True)
    assert (op.max_concurrency, op.max_skipped_fraction, op.workspaces) == (8, 0.05, None)
    assert {
        "sigma_conn_id",
        "warehouse_conn_id",
        "workspaces",
        "include_personal",
        "schema",
        "table_prefix",
    } <= set(op.template_fields)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": "8"}, "max_concurrency"),
        ({"max_skipped_fraction": 2}, "max_skipped_fraction"),
    ],
)
def test_bad_parameters_fail_when_the_dag_is_parsed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SigmaDiscoverWorkbooksOperator(task_id="discover", **kwargs)


def test_snapshot_date_is_the_usage_summarys_as_of_however_the_run_was_started():
    daily = {
        "data_interval_start": datetime(2026, 3, 5, tzinfo=UTC),
        "data_interval_end": datetime(2026, 3, 6, tzinfo=UTC),
    }
    assert snapshot_date_of(daily) == last_full_day(daily["data_interval_end"]) == date(2026, 3, 5)
    weekly = {
        "data_interval_start": datetime(2026, 3, 1, tzinfo=UTC),
        "data_interval_end": datetime(2026, 3, 8, tzinfo=UTC),
    }
    assert snapshot_date_of(weekly) == date(2026, 3, 7)  # taken at the week's end, not its start
    just_after_midnight_in_paris = datetime(2026, 3, 3, 0, 30, tzinfo=timezone(timedelta(hours=2)))
    assert snapshot_date_of({"logical_date": just_after_midnight_in_paris}) == date(2026, 3, 1)
    # `airflow dags trigger` without a logical date: no interval, the run time stands in.
    run = SimpleNamespace(run_after=datetime(2026, 3, 7, 23, 59, tzinfo=UTC))
    no_interval = {
        "logical_date": None,
        "data_interval_start": None,
        "data_interval_end": None,
        "dag_run": run,
    }
    assert snapshot_date_of(no_interval) == date(2026, 3, 6)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("True", True), ("false", False), ("1", True), ("", False), (None, False)],
)
def test_flags_rendered_from_templates(value, expected):
    assert as_flag(value, "include_personal") is expected


def test_unreadable_flag_names_the_parameter():
    with pytest.raises(ValueError, match="include_archived must be true or false, got 'maybe'"):
        as_flag("maybe", "include_archived")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("None", None),
        ([], None),
        (["Finance", " Sales "], ("Finance", "Sales")),
        ("Finance, Sales", ("Finance", "Sales")),
        ("['Finance', 'Sales']", ("Finance", "Sales")),
    ],
)
def test_workspace_names(value, expected):
    assert workspace_names(value) == expected


def test_operator_module_imports_nothing_heavy_at_top_level():
    import ast

    import airflow_sigma.operators.catalog as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    allowed = {"__future__", "ast", "collections.abc", "datetime", "typing", "airflow.sdk"}
    assert imported - allowed <= {"airflow_sigma.exceptions", "airflow_sigma.operators.failures"}


# -- execute ---------------------------------------------------------------------------------------------


def test_execute_writes_the_snapshot_and_returns_a_summary(sigma_server, sigma_conn, warehouse_conn_id):
    org = sigma_server.org
    op = operator(warehouse_conn_id=warehouse_conn_id, include_personal=True, max_concurrency=3)
    summary = op.execute(on(datetime(2026, 3, 1, 6, tzinfo=UTC)))
    expected = expected_workbooks(org, include_personal=True)
    assert summary["snapshot_date"] == "2026-03-01"
    assert summary["workbooks"] == len(expected)
    assert summary["elements"] == element_count(org, expected)
    assert summary["members"] == len(org.members)
    assert (summary["skipped"], summary["admin"], summary["personal_content"]) == (0, True, "all")
    assert len(json.dumps(summary)) < 2000  # counts, never rows
    workbooks, elements, members = snapshot(warehouse_conn_id)
    assert {row[1] for row in workbooks} == {wb.workbook_id for wb in expected}
    assert {row[0] for row in workbooks + elements + members} == {date(2026, 3, 1)}
    assert len(elements) == summary["elements"] and len(members) == summary["members"]
    assert sigma_server.stats.peak_in_flight <= 3
    assert sigma_server.stats.token_requests == 1


def test_rerunning_a_date_is_idempotent_and_keeps_other_dates(sigma_server, sigma_conn, warehouse_conn_id):
    op = operator(warehouse_conn_id=warehouse_conn_id, include_personal=True)
    op.execute(on(datetime(2026, 3, 1, tzinfo=UTC)))
    op.execute(on(datetime(2026, 3, 2, tzinfo=UTC)))
    first = snapshot(warehouse_conn_id)
    op.execute(on(datetime(2026, 3, 2, tzinfo=UTC)))
    assert snapshot(warehouse_conn_id) == first
    assert {row[0] for row in first[0]} == {date(2026, 3, 1), date(2026, 3, 2)}


def test_failed_workbook_listing_fails_and_keeps_the_previous_snapshot(
    sigma_server, sigma_conn, sqlite_conn_id
):
    op = operator(warehouse_conn_id=sqlite_conn_id, include_personal=True)
    op.execute(on(datetime(2026, 3, 1, tzinfo=UTC)))
    before = snapshot(sqlite_conn_id)
    sigma_server.fail_path("/v2/workbooks", 503)
    with pytest.raises(CatalogError, match="nothing is written"):
        op.execute(on(datetime(2026, 3, 1, tzinfo=UTC)))
    assert snapshot(sqlite_conn_id) == before


def test_every_part_is_written_and_a_failed_part_listing_keeps_every_table(
    sigma_server, sigma_conn, warehouse_conn_id
):
    op = operator(warehouse_conn_id=warehouse_conn_id, include_personal=True, include_element_lineage="true")
    summary = op.execute(on(datetime(2026, 3, 1, tzinfo=UTC)))
    warehouse = Warehouse.from_conn_id(warehouse_conn_id)
    before = [warehouse.read_table(table) for table in (*TABLES, *CATALOG_PARTS)]
    for table, rows in zip(CATALOG_PARTS, before[len(TABLES) :], strict=True):
        assert len(rows) == summary["parts"][PART_NAMES[table.base_name]] > 0, table.base_name
        assert {row[0] for row in rows} == {date(2026, 3, 1)}
    sigma_server.fail_path("/v2/dataModels", 503)
    with pytest.raises(CatalogError, match="Listing Sigma data models failed"):
        op.execute(on(datetime(2026, 3, 1, tzinfo=UTC)))
    assert [warehouse.read_table(table) for table in (*TABLES, *CATALOG_PARTS)] == before


def test_part_switches_are_templated_flags():
    op = operator(include_teams="false", include_element_lineage="{{ params.lineage }}")
    assert "include_teams" in op.template_fields and "include_element_lineage" in op.template_fields
    assert as_flag(op.include_teams, "include_teams") is False


def test_templated_strings_and_a_non_admin(
    sigma_server_factory, sigma_org_spec, monkeypatch, sqlite_conn_id, caplog
):
    server = sigma_server_factory(sigma_org_spec, admin=False)
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_NON_ADMIN", server.connection_json())
    workspace = server.org.workspaces[0].name
    op = operator(
        sigma_conn_id="sigma_non_admin",
        warehouse_conn_id=sqlite_conn_id,
        include_personal="True",
        include_elements="false",
        workspaces=f"{workspace}, ",
    )
    summary = op.execute(on(datetime(2026, 3, 1, tzinfo=UTC)))
    assert (summary["admin"], summary["personal_content"], summary["elements"]) == (False, "own", 0)
    expected = expected_workbooks(server.org, admin=False, include_personal=True, workspaces=[workspace])
    workbooks, elements, _ = snapshot(sqlite_conn_id)
    assert {row[1] for row in workbooks} == {wb.workbook_id for wb in expected}
    assert elements == []
    assert "NOT an admin" in caplog.text


# -- a real DAG run ------------------------------------------------------------------------------------


def _xcom(run_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run_id, key="return_value", task_ids="discover_workbooks", dag_ids="catalog_discovery"
        )
        return [XComModel.deserialize_value(row) for row in session.scalars(query)]


@pytest.mark.integration
def test_dag_run(airflow_db, sigma_server, sqlite_conn_id, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_CATALOG_DAG", sigma_server.connection_json())
    monkeypatch.setenv("SIGMA_TEST_CATALOG_SIGMA_CONN_ID", "sigma_catalog_dag")
    monkeypatch.setenv("SIGMA_TEST_CATALOG_WAREHOUSE_CONN_ID", sqlite_conn_id)
    monkeypatch.setenv("SIGMA_TEST_CATALOG_HOOK_PARAMS", json.dumps(HOOK_PARAMS))
    bag = DagBag(dag_folder=str(DAGS / "catalog_discovery.py"))
    assert bag.import_errors == {}
    dag = bag.get_dag("catalog_discovery")
    logical_date = datetime(2026, 4, 5, 22, 0, tzinfo=UTC)
    run = dag.test(logical_date=logical_date)
    assert run.state == "success"
    [summary] = _xcom(run.run_id)
    expected = expected_workbooks(sigma_server.org, include_personal=True)
    assert summary["snapshot_date"] == "2026-04-04"  # unscheduled: the day before the logical date
    assert summary["workbooks"] == len(expected) and summary["personal_content"] == "all"
    workbooks, elements, members = snapshot(sqlite_conn_id)
    assert {row[1] for row in workbooks} == {wb.workbook_id for wb in expected}
    assert len(elements) == summary["elements"] > 0 and len(members) == summary["members"]
    assert sigma_server.stats.peak_in_flight <= 4
