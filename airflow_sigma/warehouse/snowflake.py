"""Snowflake through the Snowflake connector (the Airflow ``SnowflakeHook`` connection): all of its SQL.

Types VARIANT (JSON, through ``PARSE_JSON``) and TIMESTAMP_TZ, ``MERGE`` upserts. Snowflake commits
the open transaction at every DDL statement, so every table and staging table is created before the
first write; inside the transaction only DML runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_sigma.warehouse.generic import Dialect
from airflow_sigma.warehouse.tables import Column


class SnowflakeDialect(Dialect):
    """Snowflake (not run by the tests; its SQL is). JSON goes into VARIANT through PARSE_JSON."""

    name = "snowflake"
    type_names = {
        "text": "VARCHAR",
        "integer": "NUMBER(38,0)",
        "float": "FLOAT",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP_TZ",
        "json": "VARIANT",
    }
    if_not_exists = "IF NOT EXISTS "
    rows_per_statement = 1_000

    def ensure_schema(self, cursor: Any, schema: str) -> None:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote_schema(schema)}")

    def insert_sql(self, qualified_name: str, columns: Sequence[Column], rows: int = 1) -> str:
        # Snowflake refuses function calls (PARSE_JSON) inside VALUES, so select from a VALUES list.
        names = ", ".join(self.quote(column.name) for column in columns)
        selects = ", ".join(
            f"PARSE_JSON(column{i})" if column.type == "json" else f"column{i}"
            for i, column in enumerate(columns, start=1)
        )
        values = "(" + ", ".join([self.placeholder] * len(columns)) + ")"
        return f"INSERT INTO {qualified_name} ({names}) SELECT {selects} FROM VALUES " + ", ".join(
            [values] * rows
        )

    ddl_commits = True

    def begin(self, connection: Any, write: bool = True) -> None:
        """Nothing yet: the connector autocommits, so the DDL that comes first (tables, staging tables)
        commits on its own, as Snowflake would anyway; the transaction begins at the first write."""

    def begin_writes(self, cursor: Any) -> None:
        cursor.execute("BEGIN")

    def upsert_statements(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> list[str]:
        """``UPDATE .. FROM`` the rows whose key exists, then ``INSERT`` the others: inside the run's
        transaction the same result as a ``MERGE``. (fakesnow, which runs the Snowflake tests, cannot
        run ``MERGE`` inside an explicit transaction: it creates a table for it.)"""
        return self._update_then_insert(target, source, columns, key, update_columns, changed_only=False)

    def upsert_changed_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> list[str]:
        """As :meth:`upsert_statements`, updating only rows with a changed value (``IS DISTINCT FROM``):
        a re-read event is not rewritten (no new micro-partitions for the events already stored)."""
        return self._update_then_insert(target, source, columns, key, update_columns, changed_only=True)

    def _update_then_insert(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
        *,
        changed_only: bool,
    ) -> list[str]:
        q = self.quote
        same_key = " AND ".join(f"tgt.{q(k)} = src.{q(k)}" for k in key)
        names = ", ".join(q(c) for c in columns)
        insert = (
            f"INSERT INTO {target} ({names}) SELECT {names} FROM {source} AS src "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS tgt WHERE {same_key})"
        )
        if not update_columns:
            return [insert]
        sets = ", ".join(f"{q(c)} = src.{q(c)}" for c in update_columns)
        where = same_key
        if changed_only:
            where += (
                " AND ("
                + " OR ".join(f"tgt.{q(c)} IS DISTINCT FROM src.{q(c)}" for c in update_columns)
                + ")"
            )
        return [f"UPDATE {target} AS tgt SET {sets} FROM {source} AS src WHERE {where}", insert]

    # -- SQL the jobs build on ------------------------------------------------------------------------
    def from_text(self, expression: str, column_type: str) -> str:
        if column_type == "json":
            return f"PARSE_JSON({expression})"
        return super().from_text(expression, column_type)

    def days_between(self, later: str, earlier: str) -> str:
        return f"DATEDIFF(day, {earlier}, {later})"

    def start_of_day(self, day: str) -> str:
        return f"TO_TIMESTAMP_TZ({day} || ' 00:00:00 +00:00', 'YYYY-MM-DD HH24:MI:SS TZH:TZM')"
