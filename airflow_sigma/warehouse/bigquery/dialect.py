"""BigQuery's SQL: types, partitioned and clustered tables, typed parameters, and the load path."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from airflow_sigma.warehouse.bigquery.access import check_access
from airflow_sigma.warehouse.bigquery.session import BIGQUERY_TYPES, SessionConnection, Typed
from airflow_sigma.warehouse.generic import Dialect, Endpoint
from airflow_sigma.warehouse.tables import Column, Table
from airflow_sigma.warehouse.values import WarehouseConnectionError

#: Date columns a table is partitioned by, in order of preference.
PARTITION_COLUMNS = ("day", "snapshot_date", "as_of")
_CLUSTERABLE = frozenset({"text", "integer", "boolean", "date", "timestamp"})


class BigQueryDialect(Dialect):
    """BigQuery through the ``google.cloud.bigquery`` client of the connection's ``BigQueryHook``.

    Each transaction is one BigQuery session holding one multi-statement transaction
    (:mod:`airflow_sigma.warehouse.bigquery.session`); staged rows go in by load job
    (:mod:`airflow_sigma.warehouse.bigquery.loads`). ``schema`` is the dataset (``project.dataset``
    works). Tables are partitioned by their date column (``day``, ``snapshot_date`` or ``as_of``) and
    clustered by their other key columns; primary keys are ``NOT ENFORCED`` (BigQuery records them only).

    Use one dialect per :class:`~airflow_sigma.warehouse.Warehouse`: it keeps the warehouse's dataset
    for the load jobs' staging tables.
    """

    name = "bigquery"
    quote_char = "`"
    type_names = dict(BIGQUERY_TYPES)
    if_not_exists = "IF NOT EXISTS "
    primary_key_suffix = " NOT ENFORCED"
    create_temp_table = "CREATE TEMP TABLE"
    rows_per_statement = 500
    #: BigQuery refuses DDL on the dataset's tables inside a transaction (only temp tables may be
    #: created there), so, as on Snowflake, every table is created before the first write.
    ddl_commits = True

    def __init__(self, type_names: dict[str, str] | None = None) -> None:
        super().__init__("?", type_names)
        self.dataset: str | None = None

    def bind_schema(self, schema: str | None) -> None:
        self.dataset = schema

    # -- DDL -------------------------------------------------------------------------------------------
    def create_table_sql(self, table: Table, qualified_name: str) -> str:
        sql = super().create_table_sql(table, qualified_name)
        partition = partition_column(table)
        if partition is not None:
            sql += f"\nPARTITION BY {self.quote(partition)}"
        clustering = cluster_columns(table)
        if clustering:
            sql += "\nCLUSTER BY " + ", ".join(self.quote(name) for name in clustering)
        return sql

    def ensure_schema(self, cursor: Any, schema: str) -> None:
        """Create the dataset when it does not exist. Looked up first: ``CREATE SCHEMA IF NOT EXISTS``
        needs ``bigquery.datasets.create`` on the project even when the dataset exists."""
        from google.api_core.exceptions import NotFound

        connection: SessionConnection = cursor.connection
        try:
            connection.client.get_dataset(_full_name(connection, schema))
        except NotFound:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote_schema(schema)}")

    def existing_columns(self, cursor: Any, schema: str | None, name: str) -> list[str] | None:
        """The table's columns from its metadata (``tables.get``; no query job, nothing billed)."""
        from google.api_core.exceptions import NotFound

        connection: SessionConnection = cursor.connection
        dataset = schema or connection.default_dataset
        if not dataset:
            return None
        try:
            table = connection.client.get_table(f"{_full_name(connection, dataset)}.{name}")
        except NotFound:
            return None
        return [field.name.lower() for field in table.schema] or None

    # -- rows ------------------------------------------------------------------------------------------
    def value_sql(self, column: Column) -> str:
        return f"PARSE_JSON({self.placeholder})" if column.type == "json" else self.placeholder

    def statement_params(self, columns: Sequence[Column], chunk: Sequence[Sequence[Any]]) -> list[Any]:
        """Typed parameters (a NULL needs its type): multi-row ``INSERT`` statements are used inside the
        transaction; the run's staged events go by load job instead (:meth:`append_arrays`)."""
        kinds = ["STRING" if c.type == "json" else BIGQUERY_TYPES[c.type] for c in columns]
        return [
            Typed(value, kind)
            for row in zip(*chunk, strict=True)
            for value, kind in zip(row, kinds, strict=True)
        ]

    def append_arrays(
        self, cursor: Any, qualified_name: str, columns: Sequence[Column], arrays: Sequence[Any]
    ) -> int:
        """Written to a Parquet file, loaded by one load job before the next statement (see
        :mod:`~airflow_sigma.warehouse.bigquery.loads`). Once the transaction has begun, a load job
        would not be part of it: the batch then goes in as ``INSERT`` statements."""
        connection = getattr(cursor, "connection", None)
        if isinstance(connection, SessionConnection) and not connection.in_transaction:
            return connection.stage(qualified_name, columns, arrays)
        return super().append_arrays(cursor, qualified_name, columns, arrays)

    # -- connections -----------------------------------------------------------------------------------
    def sql_hook(self, conn_id: str, hook_params: dict[str, Any] | None) -> Any:
        """``BigQueryHook`` on a ``google_cloud_platform`` connection (the one Google operators use)."""
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

        return BigQueryHook(gcp_conn_id=conn_id, **(hook_params or {}))

    def endpoint(self, conn_id: str, connection: Any, hook: Any) -> Endpoint:
        """Sessions of the ``google.cloud.bigquery`` client of the connection's ``BigQueryHook``
        (project, credentials and ``location`` from the connection; its ``schema``, or extra
        ``dataset``, is the default dataset)."""
        if not hasattr(hook, "get_client"):
            raise WarehouseConnectionError(
                f"Connection {conn_id!r}: its hook {type(hook).__name__} has no BigQuery client; use a "
                "connection of type gcpbigquery or google_cloud_platform (apache-airflow-providers-google)"
            )
        extra = connection.extra_dejson or {}
        # The project as configured; else the credentials' own (which loads them).
        project = _extra_field(extra, "project") or hook.project_id
        location = getattr(hook, "location", None) or None
        dataset = connection.schema or _extra_field(extra, "dataset")
        default = f"{project}.{dataset}" if dataset and "." not in dataset else dataset
        description = f"warehouse connection {conn_id!r} (BigQuery project {project}"
        description += f", location {location})" if location else ")"

        @cache
        def client() -> Any:
            return hook.get_client(project_id=project, location=location)

        return Endpoint(lambda: SessionConnection(client(), location, default, description), description)

    def begin(self, connection: Any, write: bool = True) -> None:
        if isinstance(connection, SessionConnection) and self.dataset:
            connection.staging_dataset = self.dataset

    def check_writable(self, cursor: Any) -> None:
        check_access(cursor.connection)

    # -- SQL the jobs build on ------------------------------------------------------------------------
    def from_text(self, expression: str, column_type: str) -> str:
        if column_type == "json":
            return f"PARSE_JSON({expression})"
        return super().from_text(expression, column_type)

    def days_between(self, later: str, earlier: str) -> str:
        return f"DATE_DIFF({later}, {earlier}, DAY)"

    def start_of_day(self, day: str) -> str:
        return f"TIMESTAMP({day})"

    def epoch_micros_text(self, timestamp: str) -> str:
        return f"CAST(UNIX_MICROS({timestamp}) AS STRING)"

    def upsert_changed_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> list[str]:
        """A ``MERGE`` whose ``WHEN MATCHED`` updates only rows with a changed value, so a re-read event
        rewrites nothing. Values are compared as ``TO_JSON_STRING``: BigQuery cannot compare JSON values,
        and the column types are not known here."""
        sql = self.merge_sql(target, source, columns, key, update_columns)
        if not update_columns:
            return [sql]
        q = self.quote
        changed = " OR ".join(
            f"TO_JSON_STRING(tgt.{q(c)}) IS DISTINCT FROM TO_JSON_STRING(src.{q(c)})" for c in update_columns
        )
        return [sql.replace(" WHEN MATCHED THEN ", f" WHEN MATCHED AND ({changed}) THEN ", 1)]


def _full_name(connection: SessionConnection, dataset: str) -> str:
    """``project.dataset`` (the client's project when ``dataset`` names none)."""
    return dataset if "." in dataset else f"{connection.client.project}.{dataset}"


def _extra_field(extra: dict[str, Any], name: str) -> str | None:
    """A field of a Google connection's extras, plain or with the prefix older connections carry."""
    value = extra.get(name) or extra.get(f"extra__google_cloud_platform__{name}")
    return str(value) if value else None


def partition_column(table: Table) -> str | None:
    """The table's date column it is partitioned by (``day``, ``snapshot_date`` or ``as_of``), or None."""
    for name in PARTITION_COLUMNS:
        if name in table.column_names and table.column(name).type == "date":
            return name
    return None


def cluster_columns(table: Table) -> list[str]:
    """Up to four key columns (BigQuery's limit) other than the partition column, that can cluster."""
    partition = partition_column(table)
    names = [n for n in table.key if n != partition and table.column(n).type in _CLUSTERABLE]
    return names[:4]
