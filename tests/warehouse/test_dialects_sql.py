"""Generated SQL for every dialect, as text (what it does is tested by running it: on SQLite, PostgreSQL,
fakesnow, and for BigQuery through DuckDB in tests/warehouse/test_bigquery.py)."""

from __future__ import annotations

import pytest

from airflow_sigma.warehouse import (
    AUDIT_EVENTS,
    DAILY_LOGINS,
    IMPRESSION_EVENTS,
    BigQueryDialect,
    Column,
    Dialect,
    PostgresDialect,
    SnowflakeDialect,
    SqliteDialect,
    dialect_for,
)
from airflow_sigma.warehouse.tables import COLUMN_TYPES

LOGINS_COLUMNS = ["day", "successful_logins", "failed_logins", "users_logged_in"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sqlite", SqliteDialect),
        ("postgres", PostgresDialect),
        ("postgresql", PostgresDialect),
        ("postgresql+psycopg", PostgresDialect),
        ("Snowflake", SnowflakeDialect),
        ("bigquery", BigQueryDialect),
        ("gcpbigquery", BigQueryDialect),
        ("mysql", Dialect),
        ("mssql", Dialect),
    ],
)
def test_dialect_for(name: str, expected: type[Dialect]) -> None:
    assert type(dialect_for(name)) is expected


def test_placeholders() -> None:
    assert dialect_for("sqlite").placeholder == "?"
    assert dialect_for("postgres").placeholder == "%s"
    assert dialect_for("oracle", placeholder=":1").placeholder == ":1"
    assert [dialect_for(name).paramstyle for name in ("sqlite", "postgres")] == ["qmark", "format"]


def test_quoting() -> None:
    generic, bigquery = Dialect(), BigQueryDialect()
    assert generic.quote("sigma_workbooks") == "sigma_workbooks"
    assert generic.quote("select") == '"select"'
    assert generic.quote("Mixed") == '"Mixed"'
    assert generic.quote('we"ird') == '"we""ird"'
    assert generic.qualify("analytics", "sigma_usage") == "analytics.sigma_usage"
    assert bigquery.qualify("my-project.sigma", "sigma_usage") == "`my-project`.sigma.sigma_usage"
    assert bigquery.quote("a`b") == "`a``b`"
    assert SnowflakeDialect().qualify("DB.ANALYTICS", "sigma_usage") == '"DB"."ANALYTICS".sigma_usage'


def test_snowflake_create_table() -> None:
    sql = SnowflakeDialect().create_table_sql(AUDIT_EVENTS, "analytics.sigma_audit_events")
    assert sql == (
        "CREATE TABLE IF NOT EXISTS analytics.sigma_audit_events (\n"
        "  event_key VARCHAR NOT NULL,\n"
        "  request_time TIMESTAMP_TZ NOT NULL,\n"
        "  day DATE NOT NULL,\n"
        "  event_type VARCHAR,\n"
        "  event_name VARCHAR,\n"
        "  event_status VARCHAR,\n"
        "  user_email VARCHAR,\n"
        "  object_id VARCHAR,\n"
        "  object_name VARCHAR,\n"
        "  object_type VARCHAR,\n"
        "  attributes VARIANT,\n"
        "  source_uri VARCHAR NOT NULL,\n"
        "  PRIMARY KEY (event_key)\n"
        ")"
    )


def test_bigquery_create_table() -> None:
    sql = BigQueryDialect().create_table_sql(DAILY_LOGINS, "sigma.sigma_daily_logins")
    assert sql == (
        "CREATE TABLE IF NOT EXISTS sigma.sigma_daily_logins (\n"
        "  day DATE NOT NULL,\n"
        "  successful_logins INT64 NOT NULL,\n"
        "  failed_logins INT64 NOT NULL,\n"
        "  users_logged_in INT64 NOT NULL,\n"
        "  PRIMARY KEY (day) NOT ENFORCED\n"
        ")\n"
        "PARTITION BY day"
    )
    assert "attributes JSON" in BigQueryDialect().create_table_sql(AUDIT_EVENTS, "t")


def test_generic_create_table_is_ansi() -> None:
    sql = Dialect().create_table_sql(DAILY_LOGINS, "sigma_daily_logins")
    assert sql.startswith(
        "CREATE TABLE sigma_daily_logins (\n  day DATE NOT NULL,\n  successful_logins BIGINT"
    )
    assert sql.endswith("  PRIMARY KEY (day)\n)")


@pytest.mark.parametrize("dialect", [SnowflakeDialect(), BigQueryDialect(), Dialect()])
def test_merge_for_warehouses_without_on_conflict(dialect: Dialect) -> None:
    sql = dialect.upsert_sql(
        "analytics.sigma_daily_logins", "staging", LOGINS_COLUMNS, ["day"], LOGINS_COLUMNS[1:]
    )
    assert sql == (
        "MERGE INTO analytics.sigma_daily_logins AS tgt USING staging AS src ON tgt.day = src.day "
        "WHEN MATCHED THEN UPDATE SET successful_logins = src.successful_logins, "
        "failed_logins = src.failed_logins, users_logged_in = src.users_logged_in "
        "WHEN NOT MATCHED THEN INSERT (day, successful_logins, failed_logins, users_logged_in) "
        "VALUES (src.day, src.successful_logins, src.failed_logins, src.users_logged_in)"
    )
    assert "ON CONFLICT" not in sql


def test_merge_insert_only() -> None:
    sql = SnowflakeDialect().upsert_sql("t", "s", ["event_key", "day"], ["event_key"], [])
    assert sql == (
        "MERGE INTO t AS tgt USING s AS src ON tgt.event_key = src.event_key "
        "WHEN NOT MATCHED THEN INSERT (event_key, day) VALUES (src.event_key, src.day)"
    )


@pytest.mark.parametrize("dialect", [SqliteDialect(), PostgresDialect()])
def test_on_conflict_for_sqlite_and_postgres(dialect: Dialect) -> None:
    sql = dialect.upsert_sql("sigma_daily_logins", "staging", LOGINS_COLUMNS, ["day"], ["failed_logins"])
    assert sql == (
        "INSERT INTO sigma_daily_logins (day, successful_logins, failed_logins, users_logged_in) "
        "SELECT day, successful_logins, failed_logins, users_logged_in FROM staging AS src WHERE true "
        "ON CONFLICT (day) DO UPDATE SET failed_logins = excluded.failed_logins"
    )
    assert dialect.upsert_sql("t", "s", ["k"], ["k"], []).endswith("ON CONFLICT (k) DO NOTHING")


def test_snowflake_multi_row_insert_parses_json() -> None:
    columns = [AUDIT_EVENTS.column("event_key"), AUDIT_EVENTS.column("attributes")]
    sql = SnowflakeDialect().insert_sql("sigma_audit_events", columns, rows=2)
    assert sql == (
        "INSERT INTO sigma_audit_events (event_key, attributes) SELECT column1, PARSE_JSON(column2) "
        "FROM VALUES (%s, %s), (%s, %s)"
    )


def test_bigquery_multi_row_insert_parses_json() -> None:
    columns = [AUDIT_EVENTS.column("event_key"), AUDIT_EVENTS.column("attributes")]
    sql = BigQueryDialect().insert_sql("sigma.sigma_audit_events", columns, rows=2)
    assert sql == (
        "INSERT INTO sigma.sigma_audit_events (event_key, attributes) "
        "VALUES (?, PARSE_JSON(?)), (?, PARSE_JSON(?))"
    )


def test_temp_tables() -> None:
    columns = [Column("event_key", "text", "k"), Column("attributes", "json", "a")]
    assert PostgresDialect().create_temp_table_sql("staging", columns) == (
        "CREATE TEMPORARY TABLE staging (\n  event_key TEXT,\n  attributes JSONB\n) ON COMMIT DROP"
    )
    assert SqliteDialect().create_temp_table_sql("staging", columns).startswith("CREATE TEMP TABLE staging (")
    assert SnowflakeDialect().create_temp_table_sql("staging", columns) == (
        "CREATE TEMPORARY TABLE staging (\n  event_key VARCHAR,\n  attributes VARIANT\n)"
    )
    assert BigQueryDialect().create_temp_table_sql("staging", columns) == (
        "CREATE TEMP TABLE staging (\n  event_key STRING,\n  attributes JSON\n)"
    )


def test_dedupe_subquery_skips_json_in_ordering() -> None:
    columns = [AUDIT_EVENTS.column(name) for name in ("event_key", "attributes", "source_uri")]
    sql = BigQueryDialect().dedupe_sql("staging", columns, ["event_key"])
    assert sql == (
        "(SELECT event_key, attributes, source_uri FROM (SELECT event_key, attributes, source_uri, "
        "ROW_NUMBER() OVER (PARTITION BY event_key ORDER BY source_uri) AS sigma_row_number FROM staging) "
        "AS ranked WHERE sigma_row_number = 1)"
    )


def test_where_and_insert_use_the_placeholder() -> None:
    assert SqliteDialect().where_sql([("day", 1), ("element_id", 3)]) == "day = ? AND element_id IN (?, ?, ?)"
    columns = list(IMPRESSION_EVENTS.columns[:2])
    assert (
        PostgresDialect().insert_sql("t", columns)
        == "INSERT INTO t (event_key, request_time) VALUES (%s, %s)"
    )


def test_every_type_maps_in_every_dialect() -> None:
    for dialect in (Dialect(), SqliteDialect(), PostgresDialect(), SnowflakeDialect(), BigQueryDialect()):
        for column_type in COLUMN_TYPES:
            assert dialect.column_type(Column("c", column_type, "doc"))  # type: ignore[arg-type]


def test_type_names_can_be_overridden() -> None:
    dialect = Dialect("?", type_names={"text": "NVARCHAR(MAX)"})
    assert dialect.column_type(Column("c", "text", "doc")) == "NVARCHAR(MAX)"
    assert dialect.column_type(Column("c", "json", "doc")) == "VARCHAR(4000)"
    assert Dialect().column_type(Column("c", "text", "doc")) == "VARCHAR(4000)"
    with pytest.raises(ValueError, match=r"\['string'\] are not column types"):
        Dialect(type_names={"string": "STRING"})
