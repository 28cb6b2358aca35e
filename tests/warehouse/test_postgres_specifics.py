"""PostgreSQL specifics on a real server: COPY bulk loads with both drivers, types, schemas."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_sigma.warehouse import AUDIT_EVENTS, IMPRESSION_EVENTS, BadRowError
from tests.warehouse.conftest import postgres_warehouse

UTC = timezone.utc


def impression_row(i: int) -> tuple[Any, ...]:
    return (
        f"{i:016x}",
        datetime(2024, 5, 1, tzinfo=UTC) + timedelta(seconds=i),
        date(2024, 5, 1) + timedelta(days=i % 30),
        f"user{i % 1000}@example.com",
        f"wb{i % 200}",
        "" if i % 3 == 0 else f"el-{i % 50}",
        1 + i % 5,
        "s3://bucket/exports/2024-05-01-impressions.csv.gz",
    )


def impression_rows(count: int) -> Iterator[tuple[Any, ...]]:
    return map(impression_row, range(count))


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_copy_loads_200k_rows(postgres_database: str, driver: str) -> None:
    count = 200_000
    warehouse = postgres_warehouse(postgres_database, driver)
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSION_EVENTS)
        assert tx.insert_rows(IMPRESSION_EVENTS, impression_rows(count)) == count
    with warehouse.transaction() as tx:
        table = tx.table_name(IMPRESSION_EVENTS)
        total = sum(1 + i % 5 for i in range(count))
        assert tx.query(f"SELECT COUNT(*), SUM(impressions), COUNT(DISTINCT user_email) FROM {table}") == [
            (count, total, 1000)
        ]
        assert tx.query(f"SELECT COUNT(*) FROM {table} WHERE element_id = ''") == [(count // 3 + 1,)]
    sample = warehouse.read_table(IMPRESSION_EVENTS, {"event_key": [f"{i:016x}" for i in (0, 1, 199_999)]})
    assert sample == [impression_row(i) for i in (0, 1, 199_999)]


@pytest.mark.parametrize("driver", ["psycopg", "psycopg2"])
def test_copy_refuses_bad_values_and_nul(postgres_database: str, driver: str) -> None:
    warehouse = postgres_warehouse(postgres_database, driver)
    warehouse.ensure_tables(IMPRESSION_EVENTS)
    rows = list(impression_rows(3))
    rows[2] = (*rows[2][:3], "nul\x00byte", *rows[2][4:])
    with (
        pytest.raises(BadRowError, match=r"row 3, column 'user_email': .*NUL"),
        warehouse.transaction() as tx,
    ):
        tx.insert_rows(IMPRESSION_EVENTS, rows)
    assert warehouse.read_table(IMPRESSION_EVENTS) == []


def test_column_types_are_native(postgres_database: str) -> None:
    warehouse = postgres_warehouse(postgres_database)
    warehouse.ensure_tables(AUDIT_EVENTS)
    with warehouse.transaction() as tx:
        types = dict(
            tx.query(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
                ["sigma_audit_events"],
            )
        )
        keys = tx.query(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'sigma_audit_events'::regclass AND i.indisprimary"
        )
    assert types["request_time"] == "timestamp with time zone"
    assert types["day"] == "date"
    assert types["attributes"] == "jsonb"
    assert keys == [("event_key",)]


def test_json_is_queryable(postgres_database: str) -> None:
    warehouse = postgres_warehouse(postgres_database)
    row = ("k", datetime(2024, 5, 1, tzinfo=UTC), date(2024, 5, 1), "LOGIN", "Login", "SUCCESS", "a@x.com")
    with warehouse.transaction() as tx:
        tx.ensure_tables(AUDIT_EVENTS)
        tx.insert_rows(AUDIT_EVENTS, [(*row, None, None, None, {"ip": "10.0.0.1", "n": 2}, "s3://f")])
        table = tx.table_name(AUDIT_EVENTS)
        assert tx.query(f"SELECT attributes->>'ip', (attributes->>'n')::int FROM {table}") == [
            ("10.0.0.1", 2)
        ]


def test_existing_schema_without_create_privilege(postgres_database: str, postgres_server: Any) -> None:
    """A user who may write tables in an existing schema, but not create schemas, can still run."""
    warehouse = postgres_warehouse(postgres_database)
    database = postgres_database.rsplit("/", 1)[1]
    with warehouse.transaction() as tx:
        tx.execute("CREATE ROLE sigma_writer LOGIN")
        tx.execute("CREATE SCHEMA sigma AUTHORIZATION sigma_writer")
        tx.execute(f'REVOKE CREATE ON DATABASE "{database}" FROM PUBLIC')
    dsn = postgres_database.replace("//postgres@", "//sigma_writer@")
    writer = postgres_warehouse(dsn, schema="sigma")
    try:
        writer.ensure_tables(IMPRESSION_EVENTS)
        writer.ensure_tables(IMPRESSION_EVENTS)
        assert writer.read_table(IMPRESSION_EVENTS) == []
    finally:
        with warehouse.transaction() as tx:
            tx.execute("DROP SCHEMA sigma CASCADE")
            tx.execute("DROP ROLE sigma_writer")
