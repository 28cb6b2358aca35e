"""BigQuery through the BigQuery DB-API (the Airflow ``BigQueryHook`` connection): all of its SQL.

``schema`` is the dataset (``project.dataset`` works). Types JSON (through ``PARSE_JSON``), TIMESTAMP,
INT64; ``MERGE`` upserts; primary keys ``NOT ENFORCED``.
"""

from __future__ import annotations

from typing import Any

from airflow_sigma.warehouse.generic import Dialect
from airflow_sigma.warehouse.tables import Column


class BigQueryDialect(Dialect):
    """BigQuery (not run by the tests; its SQL is). ``schema`` is the dataset (``project.dataset`` works)."""

    name = "bigquery"
    quote_char = "`"
    type_names = {
        "text": "STRING",
        "integer": "INT64",
        "float": "FLOAT64",
        "boolean": "BOOL",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "json": "JSON",
    }
    if_not_exists = "IF NOT EXISTS "
    primary_key_suffix = " NOT ENFORCED"
    create_temp_table = "CREATE TEMP TABLE"
    rows_per_statement = 500

    def ensure_schema(self, cursor: Any, schema: str) -> None:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote_schema(schema)}")

    def existing_columns(self, cursor: Any, schema: str | None, name: str) -> list[str] | None:
        if not schema:
            return None  # no dataset to look in; CREATE TABLE IF NOT EXISTS still applies
        cursor.execute(
            f"SELECT LOWER(column_name) FROM {self.quote_schema(schema)}.INFORMATION_SCHEMA.COLUMNS "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (name,),
        )
        return [row[0] for row in cursor.fetchall()] or None

    def value_sql(self, column: Column) -> str:
        return f"PARSE_JSON({self.placeholder})" if column.type == "json" else self.placeholder

    # -- SQL the jobs build on ------------------------------------------------------------------------
    def from_text(self, expression: str, column_type: str) -> str:
        if column_type == "json":
            return f"PARSE_JSON({expression})"
        return super().from_text(expression, column_type)

    def days_between(self, later: str, earlier: str) -> str:
        return f"DATE_DIFF({later}, {earlier}, DAY)"

    def start_of_day(self, day: str) -> str:
        return f"TIMESTAMP({day})"
