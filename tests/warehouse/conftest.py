"""Warehouses on real databases: a SQLite file, or a fresh PostgreSQL database per test.

The ``generic`` backend runs the generic ANSI dialect (information_schema, MERGE, executemany) against
PostgreSQL, which supports all of it, so the fallback used for other databases is tested for real. The
``snowflake`` backend runs the Snowflake dialect on fakesnow (see :mod:`tests.fixtures.snowflake`), the
``bigquery`` one the BigQuery module on a stand-in client running its SQL on DuckDB
(:mod:`tests.fixtures.bigquery`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.warehouse import Dialect, PostgresDialect, SqliteDialect, Warehouse
from tests.fixtures.bigquery import bigquery_warehouse
from tests.fixtures.snowflake import snowflake_warehouse


def sqlite_warehouse(path: Path, **options: Any) -> Warehouse:
    return Warehouse(lambda: sqlite3.connect(path), SqliteDialect(), **options)


def postgres_warehouse(
    dsn: str, driver: str = "psycopg", dialect: Dialect | None = None, **options: Any
) -> Warehouse:
    if driver == "psycopg2":
        import psycopg2

        return Warehouse(lambda: psycopg2.connect(dsn), dialect or PostgresDialect(), **options)
    import psycopg

    return Warehouse(lambda: psycopg.connect(dsn), dialect or PostgresDialect(), **options)


@pytest.fixture(params=["sqlite", "postgres", "generic", "snowflake", "bigquery"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database (and dialect) the test runs on."""
    return str(request.param)


@pytest.fixture
def make_warehouse(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Warehouse]:
    """Factory of warehouses on this test's database (options: schema, table_prefix)."""
    if backend == "sqlite":
        path = tmp_path / "warehouse.db"
        return lambda **options: sqlite_warehouse(path, **options)
    if backend == "snowflake":
        connect = request.getfixturevalue("fake_snowflake")
        return lambda **options: snowflake_warehouse(connect, **options)
    if backend == "bigquery":
        fake = request.getfixturevalue("fake_bigquery")
        return lambda **options: bigquery_warehouse(fake, **options)
    dsn = request.getfixturevalue("postgres_database")
    if backend == "generic":
        return lambda **options: postgres_warehouse(dsn, dialect=Dialect("%s"), **options)
    return lambda **options: postgres_warehouse(dsn, **options)


@pytest.fixture
def warehouse(make_warehouse: Callable[..., Warehouse]) -> Warehouse:
    return make_warehouse()
