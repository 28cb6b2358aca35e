"""Fixtures for the catalog tests: a small organisation, a fast-retrying client, real warehouses."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.api.client import SigmaClient
from airflow_sigma.testing import OrgSpec, SigmaTestServer
from airflow_sigma.warehouse import PostgresDialect, SqliteDialect, Warehouse

FAST_RETRIES: dict[str, Any] = {
    "max_retries": 3,
    "backoff_initial": 0.001,
    "backoff_max": 0.01,
    "retry_after_max": 0.01,
}


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    return OrgSpec(seed=3, workbooks=40, pages_per_workbook=2, elements_per_page=3, members=6)


@pytest.fixture
def make_client(sigma_server: SigmaTestServer) -> Iterator[Callable[..., SigmaClient]]:
    """Clients of ``sigma_server`` (or of another server) with fast retries; closed afterwards."""
    clients: list[SigmaClient] = []

    def make(server: SigmaTestServer | None = None, **kwargs: Any) -> SigmaClient:
        client = (server or sigma_server).client(**{"pool_size": 8, **FAST_RETRIES, **kwargs})
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., SigmaClient]) -> SigmaClient:
    return make_client()


@pytest.fixture(params=["sqlite", "postgres"])
def make_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Warehouse]:
    """Warehouses (options: schema, table_prefix) on a SQLite file or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "warehouse.db"
        return lambda **options: Warehouse(lambda: sqlite3.connect(path), SqliteDialect(), **options)
    import psycopg

    dsn = request.getfixturevalue("postgres_database")
    return lambda **options: Warehouse(lambda: psycopg.connect(dsn), PostgresDialect(), **options)
