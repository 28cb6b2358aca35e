"""Warehouse.from_conn_id on real Airflow connections (AIRFLOW_CONN_* env vars) to real databases."""

from __future__ import annotations

import json
from datetime import date

import pytest

from airflow_sigma.warehouse import (
    DAILY_LOGINS,
    Dialect,
    PostgresDialect,
    SqliteDialect,
    Warehouse,
    WarehouseError,
)

ROWS = [(date(2024, 5, 1), 10, 2, 7), (date(2024, 5, 2), 12, 0, 9)]


def write_and_read(warehouse: Warehouse) -> list[tuple[object, ...]]:
    with warehouse.transaction() as tx:
        tx.ensure_tables(DAILY_LOGINS)
        tx.replace_partition(DAILY_LOGINS, {"day": [row[0] for row in ROWS]}, ROWS)
    return warehouse.read_table(DAILY_LOGINS)


def test_sqlite_connection(sqlite_conn_id: str) -> None:
    warehouse = Warehouse.from_conn_id(sqlite_conn_id)
    assert isinstance(warehouse.dialect, SqliteDialect)
    assert write_and_read(warehouse) == ROWS
    assert Warehouse.from_conn_id(sqlite_conn_id).read_table(DAILY_LOGINS) == ROWS  # same file


def test_postgres_connection_with_schema_and_prefix(postgres_conn_id: str) -> None:
    warehouse = Warehouse.from_conn_id(postgres_conn_id, schema="sigma", table_prefix="acme_")
    assert isinstance(warehouse.dialect, PostgresDialect)
    assert warehouse.table_name(DAILY_LOGINS) == "sigma.acme_daily_logins"
    assert write_and_read(warehouse) == ROWS
    with warehouse.transaction() as tx:
        assert tx.query("SELECT SUM(successful_logins) FROM sigma.acme_daily_logins") == [(22,)]


def test_dialect_can_be_overridden(postgres_conn_id: str) -> None:
    warehouse = Warehouse.from_conn_id(postgres_conn_id, dialect=Dialect("%s"))
    assert type(warehouse.dialect) is Dialect
    assert write_and_read(warehouse) == ROWS


def test_non_sql_connection_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_API", json.dumps({"conn_type": "http", "host": "127.0.0.1"}))
    with pytest.raises(WarehouseError, match=r"'sigma_api' has type 'http'.*not a SQL"):
        Warehouse.from_conn_id("sigma_api")


def test_from_hook(sqlite_conn_id: str) -> None:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    warehouse = Warehouse.from_hook(DbApiHook.get_hook(sqlite_conn_id), table_prefix="x_")
    assert isinstance(warehouse.dialect, SqliteDialect)
    assert write_and_read(warehouse) == ROWS
