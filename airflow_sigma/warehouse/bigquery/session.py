"""A DB-API connection over one BigQuery session, whose writes form one multi-statement transaction.

Every statement of a :class:`~airflow_sigma.warehouse.Warehouse` transaction is a query job of the
``google.cloud.bigquery`` client run in one session: the first query creates it
(``QueryJobConfig(create_session=True)``), the others join it (``ConnectionProperty("session_id", ..)``),
and :meth:`SessionConnection.close` ends it (``CALL BQ.ABORT_SESSION()``). BigQuery allows temporary
tables only inside a script or a session, and a multi-statement transaction spans several queries only
in a session ("Multi-statement transactions", https://cloud.google.com/bigquery/docs/transactions;
"Introduction to sessions", https://cloud.google.com/bigquery/docs/sessions-intro).

``BEGIN TRANSACTION`` is sent just before the first statement that changes a table of the dataset, and
``COMMIT TRANSACTION`` at commit: every change to the dataset's tables is in that one transaction, and a
failure at any statement (or a task that dies, which ends the session) leaves them as they were.
Before it run the reads and the work on the session's temporary tables, including the load jobs that
stage a run's rows (:mod:`airflow_sigma.warehouse.bigquery.loads`): a transaction reads a snapshot of
the tables it references, and load jobs are not part of it. Inside the transaction BigQuery allows DML
and DDL on temporary tables only; DDL on the dataset's tables is refused here before BigQuery would.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from airflow_sigma.warehouse.bigquery.access import explained
from airflow_sigma.warehouse.bigquery.loads import ParquetStage
from airflow_sigma.warehouse.tables import Column
from airflow_sigma.warehouse.values import WarehouseError

log = logging.getLogger(__name__)

#: Column type -> BigQuery type of a query parameter and of a load-job schema field.
BIGQUERY_TYPES = {
    "text": "STRING",
    "integer": "INT64",
    "float": "FLOAT64",
    "boolean": "BOOL",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "json": "JSON",
}

_TARGET = re.compile(
    r"^\s*(?:INSERT\s+(?:INTO\s+)?|UPDATE\s+|DELETE\s+(?:FROM\s+)?|MERGE\s+(?:INTO\s+)?|TRUNCATE\s+TABLE\s+)"
    r"(`[^`]+`|[\w.-]+)",
    re.IGNORECASE,
)
_TEMP_TABLE = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?TEMP(?:ORARY)?\s+TABLE\s+(`[^`]+`|[\w.]+)", re.I)
_DROP_TABLE = re.compile(r"^\s*DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(`[^`]+`|[\w.]+)", re.I)
_DDL = frozenset({"CREATE", "ALTER", "DROP"})


@dataclass(frozen=True)
class Typed:
    """A query parameter with its BigQuery type (a NULL needs one: ``INT64``, ``DATE``, ...)."""

    value: Any
    type: str


def query_parameter(value: Any) -> Any:
    """The ``google.cloud.bigquery`` positional parameter for a Python value (``?`` in the SQL)."""
    from google.cloud.bigquery import ScalarQueryParameter

    if isinstance(value, Typed):
        return ScalarQueryParameter(None, value.type, value.value)
    if isinstance(value, bool):
        kind = "BOOL"
    elif isinstance(value, int):
        kind = "INT64"
    elif isinstance(value, float):
        kind = "FLOAT64"
    elif isinstance(value, Decimal):
        kind = "NUMERIC"
    elif isinstance(value, datetime):
        kind = "TIMESTAMP"
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
    elif isinstance(value, date):
        kind = "DATE"
    elif isinstance(value, bytes):
        kind = "BYTES"
    else:
        kind = "STRING"
    return ScalarQueryParameter(None, kind, value)


def _plain(name: str) -> str:
    return name.strip("`").lower()


class SessionConnection:
    """One BigQuery session used as a DB-API connection (see the module docs).

    :param client: a ``google.cloud.bigquery.Client`` (from the connection's ``BigQueryHook``).
    :param location: where the session and its jobs run (None: the client's default).
    :param default_dataset: ``project.dataset`` for unqualified table names, or None.
    :param description: names the warehouse in messages.
    """

    def __init__(
        self, client: Any, location: str | None, default_dataset: str | None, description: str
    ) -> None:
        self.client = client
        self.location = location
        self.default_dataset = default_dataset
        self.description = description
        #: The dataset staging tables for load jobs go to (the warehouse's schema; see BigQueryDialect.begin).
        self.staging_dataset: str | None = default_dataset
        self.session_id: str | None = None
        self.in_transaction = False
        self.temp_tables: set[str] = set()
        self.stages: dict[str, ParquetStage] = {}
        self.staging_tables: list[Any] = []

    # -- DB-API ----------------------------------------------------------------------------------------
    def cursor(self) -> SessionCursor:
        return SessionCursor(self)

    def commit(self) -> None:
        if self.in_transaction:
            self.run("COMMIT TRANSACTION")
            self.in_transaction = False

    def rollback(self) -> None:
        if self.in_transaction:
            self.in_transaction = False
            self.run("ROLLBACK TRANSACTION")

    def close(self) -> None:
        """Drop the staging tables and end the session (its temp tables go with it)."""
        for stage in self.stages.values():
            stage.discard()
        self.stages.clear()
        for table in self.staging_tables:
            try:
                self.client.delete_table(table, not_found_ok=True)
            except Exception as exc:  # it expires on its own
                log.warning("Could not drop the staging table %s (it expires within a day): %s", table, exc)
        self.staging_tables.clear()
        if self.session_id is not None:
            try:
                self.run("CALL BQ.ABORT_SESSION()")
            except Exception as exc:  # BigQuery ends idle sessions after 24 hours
                log.warning("Could not end BigQuery session: %s", exc)
            self.session_id = None

    # -- queries ---------------------------------------------------------------------------------------
    def run(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, Any]:
        """Run one query job in the session (creating the session on the first); returns the job and
        its rows."""
        from google.cloud.bigquery import ConnectionProperty, QueryJobConfig

        config = QueryJobConfig(query_parameters=[query_parameter(value) for value in params or ()])
        if self.default_dataset:
            config.default_dataset = self.default_dataset
        if self.session_id is None:
            config.create_session = True
        else:
            config.connection_properties = [ConnectionProperty("session_id", self.session_id)]
        with explained(self, f"the query {' '.join(sql.split())[:60]!r}", "bigquery.jobs.create"):
            job = self.client.query(sql, job_config=config, location=self.location)
            rows = job.result()
        if self.session_id is None:
            self.session_id = job.session_info.session_id
            log.info("BigQuery session %s opened (%s)", self.session_id, self.description)
        return job, rows

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, Any]:
        """Run one statement of the transaction: staged rows are loaded first, the transaction begins
        before the first change to a dataset table, and DDL on dataset tables inside it is refused."""
        self.flush_stages()
        verb = sql.lstrip()[:8].split(None, 1)[0].upper() if sql.strip() else ""
        target = _TARGET.match(sql)
        if target and _plain(target.group(1)) not in self.temp_tables and not self.in_transaction:
            self.run("BEGIN TRANSACTION")
            self.in_transaction = True
        temp = _TEMP_TABLE.match(sql)
        if verb in _DDL and temp is None and self.in_transaction:
            dropped = _DROP_TABLE.match(sql)
            if dropped is None or _plain(dropped.group(1)) not in self.temp_tables:
                raise WarehouseError(
                    f"{sql.lstrip()[:60]!r} inside the transaction: BigQuery allows DDL only on temporary "
                    "tables inside a multi-statement transaction; create the dataset's tables before writing"
                )
        done = self.run(sql, params)
        if temp is not None:
            self.temp_tables.add(_plain(temp.group(1)))
        return done

    # -- load jobs -------------------------------------------------------------------------------------
    def stage(self, temp_table: str, columns: Sequence[Column], arrays: Sequence[Any]) -> int:
        """Append one batch of Arrow arrays to ``temp_table`` through a Parquet file and a load job,
        which run before the next statement (:meth:`flush_stages`)."""
        stage = self.stages.get(temp_table)
        if stage is None:
            stage = self.stages[temp_table] = ParquetStage(temp_table, tuple(columns))
        return stage.write(arrays)

    def flush_stages(self) -> None:
        """Load every staged Parquet file into a staging table, and copy it into its temp table."""
        while self.stages:
            temp_table, stage = self.stages.popitem()
            try:
                if not self.staging_dataset:
                    raise WarehouseError(
                        f"{self.description}: no dataset for the load jobs' staging tables: give the "
                        "warehouse a schema (the dataset)"
                    )
                with explained(self, f"a load job into {self.staging_dataset}", "bigquery.tables.create"):
                    table = stage.load(self.client, self.staging_dataset, self.location)
                self.staging_tables.append(table.reference)
                names = ", ".join(f"`{column.name}`" for column in stage.columns)
                self.run(
                    f"INSERT INTO {temp_table} ({names}) SELECT {names} FROM "
                    f"`{table.project}.{table.dataset_id}.{table.table_id}`"
                )
                self.client.delete_table(table.reference, not_found_ok=True)
            finally:
                stage.discard()


class SessionCursor:
    """A DB-API cursor of a :class:`SessionConnection` (qmark parameters: ``?``)."""

    arraysize = 1

    def __init__(self, connection: SessionConnection) -> None:
        self.connection = connection
        self.rowcount = -1
        self.description: tuple[tuple[Any, ...], ...] | None = None
        self._rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> None:
        if isinstance(params, Mapping):
            raise TypeError("BigQuery statements take positional parameters (?)")
        job, result = self.connection.execute(sql, params)
        affected = job.num_dml_affected_rows
        self._rows = [tuple(row.values()) if hasattr(row, "values") else tuple(row) for row in result]
        schema = getattr(result, "schema", None) or ()
        self.description = tuple(
            (field.name, field.field_type, None, None, None, None, None) for field in schema
        )
        self.rowcount = int(affected) if affected is not None else len(self._rows)

    def executemany(self, sql: str, seq_of_params: Sequence[Sequence[Any]]) -> None:
        total = 0
        for params in seq_of_params:
            self.execute(sql, params)
            total += max(self.rowcount, 0)
        self.rowcount = total

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        size = self.arraysize if size is None else size
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def close(self) -> None:
        self._rows = []
