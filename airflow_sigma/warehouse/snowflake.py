"""Snowflake through the Snowflake connector (the Airflow ``SnowflakeHook`` connection): all of its SQL
and its load path.

Types VARIANT (JSON, through ``PARSE_JSON``) and TIMESTAMP_TZ. Snowflake commits the open transaction at
every DDL statement (https://docs.snowflake.com/en/sql-reference/transactions: "Explicit transactions
should contain only DML statements and query statements"), so every table, staging table and the
run's temporary stage are created before the first write; inside the transaction only DML runs.

Staged event rows are loaded in bulk (:class:`ParquetStageLoad`): written as Parquet files in a local
scratch directory, uploaded with ``PUT`` to a temporary internal stage and loaded with one
``COPY INTO`` when the run's SQL first reads them; the dedupe and the merge then run in the warehouse.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from typing import Any

from airflow_sigma.warehouse.generic import ArrayLoad, Dialect
from airflow_sigma.warehouse.tables import Column
from airflow_sigma.warehouse.values import WarehouseConnectionError, WarehouseError

#: The temporary internal stage a transaction's Parquet files go through, in the connection's schema. A
#: temporary stage is dropped with its files when the session ends (the connector's own
#: ``write_pandas`` loads through one too); each load uses its own path in it.
STAGE = "sigma_staging"
#: Arrow bytes written to one Parquet file before the next is started (the file, compressed, is
#: smaller); Snowflake loads the files of a ``COPY`` in parallel.
FILE_BYTES = 256 * 2**20


class SnowflakeDialect(Dialect):
    """Snowflake (run by the tests on fakesnow). JSON goes into VARIANT through PARSE_JSON.

    :param placeholder: the connector's parameter marker (``%s``, its default paramstyle).
    :param type_names: overrides of the SQL type per column type.
    :param parquet_loads: load appended Arrow batches through Parquet files, ``PUT`` and ``COPY INTO``
        (default); False sends them as ``INSERT .. SELECT .. FROM VALUES`` statements of 1,000 rows.
    :param file_bytes: Arrow bytes per Parquet file (:data:`FILE_BYTES`).
    """

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

    def __init__(
        self,
        placeholder: str = "%s",
        type_names: dict[str, str] | None = None,
        *,
        parquet_loads: bool = True,
        file_bytes: int = FILE_BYTES,
    ) -> None:
        super().__init__(placeholder, type_names)
        self.parquet_loads = parquet_loads
        self.file_bytes = file_bytes

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

    # -- bulk loads -------------------------------------------------------------------------------------
    def prepare_staging(self, cursor: Any) -> None:
        """Create the transaction's temporary stage with its first temp table: DDL, so before any write."""
        if self.parquet_loads:
            cursor.execute(f"CREATE TEMPORARY STAGE IF NOT EXISTS {STAGE}")

    def array_load(self, cursor: Any, qualified_name: str, columns: Sequence[Column]) -> ArrayLoad:
        if not self.parquet_loads:
            return super().array_load(cursor, qualified_name, columns)
        return ParquetStageLoad(self, cursor, qualified_name, columns)

    def copy_sql(self, qualified_name: str, columns: Sequence[Column], location: str) -> str:
        """``COPY INTO`` the table from the Parquet files at ``location``, each column read by name.

        A transformation (``SELECT $1:name::type``) rather than ``MATCH_BY_COLUMN_NAME``: the same on
        Snowflake, and fakesnow cannot match columns by name into a temporary table. ``PURGE`` removes
        the files once loaded; the default ``ON_ERROR = ABORT_STATEMENT`` fails the load at a bad value.
        """
        names = ", ".join(self.quote(column.name) for column in columns)
        fields = ", ".join(self._parquet_field(column) for column in columns)
        return (
            f"COPY INTO {qualified_name} ({names}) FROM (SELECT {fields} FROM {location}) "
            "FILE_FORMAT = (TYPE = PARQUET) PURGE = TRUE"
        )

    def _parquet_field(self, column: Column) -> str:
        field = f'$1:"{column.name}"'
        if column.type == "json":
            return f"PARSE_JSON({field}::VARCHAR)"
        return f"{field}::{self.type_names[column.type]}"

    # -- privileges -----------------------------------------------------------------------------------
    def check_privileges(self, cursor: Any, schema: str | None) -> None:
        """Do, on a small scale, what a run needs: create the schema's tables (a temporary table), the
        temporary stage, and write a row (which needs the warehouse); a refusal is raised as a
        :class:`WarehouseConnectionError` naming the role, the privilege, the object and the grant."""
        connection = getattr(cursor, "connection", None)
        cursor.execute("SELECT CURRENT_ROLE(), CURRENT_DATABASE(), CURRENT_SCHEMA()")
        role, database, current = cursor.fetchall()[0]
        check = _PrivilegeCheck(cursor, str(role or getattr(connection, "role", None) or "PUBLIC"))
        if not database:
            name = getattr(connection, "database", None) or "<database>"
            raise check.refused("USAGE", "DATABASE", name, "the connection has no current database")
        if not current:
            name = f"{database}.{getattr(connection, 'schema', None) or '<schema>'}"
            raise check.refused("USAGE", "SCHEMA", name, "the connection has no current schema")
        here = f"{database}.{current}"
        target = here if not schema else schema if "." in schema else f"{database}.{schema}"
        if schema:
            check.run(
                "CREATE SCHEMA", "DATABASE", target.split(".")[0], lambda: self.ensure_schema(cursor, schema)
            )
        if target.upper() != here.upper():
            table = f"{self.quote_schema(target)}.sigma_privilege_check"
            check.sql("CREATE TABLE", "SCHEMA", target, f"CREATE TEMPORARY TABLE {table} (checked INTEGER)")
            check.sql("CREATE TABLE", "SCHEMA", target, f"DROP TABLE {table}")
        # The run's temporary tables and stage go in the session's schema; a write needs the warehouse.
        check.sql(
            "CREATE TABLE", "SCHEMA", here, "CREATE TEMPORARY TABLE sigma_privilege_check (checked INTEGER)"
        )
        if self.parquet_loads:
            check.sql("CREATE STAGE", "SCHEMA", here, f"CREATE TEMPORARY STAGE IF NOT EXISTS {STAGE}")
        warehouse = getattr(connection, "warehouse", None) or "<warehouse>"
        check.sql("USAGE", "WAREHOUSE", warehouse, "INSERT INTO sigma_privilege_check (checked) VALUES (1)")
        check.sql("CREATE TABLE", "SCHEMA", here, "DROP TABLE sigma_privilege_check")

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

    def epoch_micros_text(self, timestamp: str) -> str:
        return f"TO_VARCHAR(DATE_PART(EPOCH_MICROSECOND, {timestamp}))"


class ParquetStageLoad(ArrayLoad):
    """Batches appended to a Snowflake staging table, loaded in bulk: written to Parquet files in a
    local scratch directory (one row group per batch, a new file every ``file_bytes``), each file
    uploaded with ``PUT`` to the transaction's temporary stage as it is completed, and all of them loaded
    with one ``COPY INTO`` at :meth:`flush`. The worker holds one batch at a time.

    ``COPY INTO <table>`` is DML, part of the run's transaction (rolled back with it); ``PUT`` only
    uploads files to the session's temporary stage, which no table sees until the ``COPY``.
    """

    def __init__(
        self, dialect: SnowflakeDialect, cursor: Any, qualified_name: str, columns: Sequence[Column]
    ):
        import pyarrow as pa

        super().__init__(dialect, cursor, qualified_name, columns)
        self.snowflake = dialect
        self.schema = pa.schema(
            [(column.name, getattr(pa, _PARQUET_TYPES[column.type])()) for column in self.columns]
        )
        self.location = f"@{STAGE}/{uuid.uuid4().hex}/"
        self.directory: str | None = None
        self.writer: Any = None
        self.path = ""
        self.pending_bytes = 0
        self.files = 0
        self.rows = 0

    def write(self, arrays: Sequence[Any]) -> int:
        import pyarrow as pa
        import pyarrow.parquet as pq

        values = [_parquet_values(array, column) for array, column in zip(arrays, self.columns, strict=True)]
        batch = pa.RecordBatch.from_arrays(values, schema=self.schema)
        if self.writer is None:
            if self.directory is None:
                self.directory = tempfile.mkdtemp(prefix="sigma_snowflake_")
            self.files += 1
            self.path = os.path.join(self.directory, f"part-{self.files:05d}.parquet")
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.writer.write_batch(batch)
        self.pending_bytes += batch.nbytes
        self.rows += batch.num_rows
        if self.pending_bytes >= self.snowflake.file_bytes:
            self._put()
        return batch.num_rows

    def _put(self) -> None:
        self.writer.close()
        self.writer = None
        self.pending_bytes = 0
        path = self.path.replace("\\", "\\\\").replace("'", "\\'")
        self.cursor.execute(f"PUT 'file://{path}' {self.location} AUTO_COMPRESS = FALSE")
        os.remove(self.path)

    def flush(self) -> None:
        """Upload the last file and ``COPY`` every file into the table; checks the rows loaded."""
        try:
            if self.writer is not None:
                self._put()
            if not self.rows:
                return
            self.cursor.execute(self.snowflake.copy_sql(self.name, self.columns, self.location))
            loaded = sum(int(row[3] or 0) for row in self.cursor.fetchall() if len(row) > 3)
            if loaded != self.rows:
                raise WarehouseError(
                    f"COPY INTO {self.name} loaded {loaded} rows of the {self.rows} written to "
                    f"{self.files} Parquet files at {self.location}; nothing was kept"
                )
        finally:
            self.discard()

    def discard(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):  # the load failed already; the files go next
                self.writer.close()
            self.writer = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def _parquet_values(array: Any, column: Column) -> Any:
    """``array`` as the Parquet file stores ``column``: dates, timestamps (UTC, ``...Z``) and JSON as text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.type == "timestamp" and pa.types.is_timestamp(array.type):
        return pc.strftime(array.cast(pa.timestamp("us", "UTC")), "%Y-%m-%dT%H:%M:%SZ")
    target = getattr(pa, _PARQUET_TYPES[column.type])()
    return array if array.type == target else array.cast(target)


# The Arrow (and Parquet) type each column type is written as.
_PARQUET_TYPES = {
    "text": "string",
    "json": "string",
    "date": "string",
    "timestamp": "string",
    "integer": "int64",
    "float": "float64",
    "boolean": "bool_",
}


class _PrivilegeCheck:
    """Runs one step of :meth:`SnowflakeDialect.check_privileges`, naming what a refusal means."""

    def __init__(self, cursor: Any, role: str) -> None:
        self.cursor, self.role = cursor, role

    def sql(self, privilege: str, kind: str, name: str, statement: str) -> None:
        self.run(privilege, kind, name, lambda: self.cursor.execute(statement))

    def run(self, privilege: str, kind: str, name: str, step: Any) -> None:
        try:
            step()
        except Exception as error:
            refusal = _refusal(error)
            if refusal is None:
                raise
            unseen, said = refusal
            raise self.refused(
                "USAGE" if unseen else privilege, kind, name, f"Snowflake said: {said}"
            ) from error

    def refused(self, privilege: str, kind: str, name: str, reason: str) -> WarehouseConnectionError:
        grants = [f"GRANT {privilege} ON {kind} {name} TO ROLE {self.role}"]
        if kind == "SCHEMA":
            database = name.split(".")[0]
            grants = (
                [f"GRANT USAGE ON DATABASE {database} TO ROLE {self.role}"]
                + ([f"GRANT USAGE ON SCHEMA {name} TO ROLE {self.role}"] if privilege != "USAGE" else [])
                + grants
            )
        what = "it does not exist or " if privilege == "USAGE" else ""
        return WarehouseConnectionError(
            f"Snowflake role {self.role} lacks {privilege} on {kind.lower()} {name} ({what}{reason}). "
            f"An administrator can run: {'; '.join(grants)}. "
            "Checked before any Sigma call; nothing was written."
        )


def _refusal(error: BaseException) -> tuple[bool, str] | None:
    """For a Snowflake refusal: whether the object went unseen (it does not exist, or the role lacks
    USAGE on it or has no warehouse), and Snowflake's message; None for any other error."""
    said = " ".join(str(getattr(error, "msg", None) or error).split())
    text, number = said.lower(), getattr(error, "errno", None)
    if number in _UNSEEN_ERRNOS or any(m in text for m in _UNSEEN_MESSAGES):
        return True, said
    if number == _INSUFFICIENT_PRIVILEGES or "insufficient privileges" in text:
        return False, said
    return None


# Snowflake's error numbers: 3001 insufficient privileges; 2003 object does not exist or not authorized;
# 606 no active warehouse (the connection's warehouse is missing or the role lacks USAGE on it).
_INSUFFICIENT_PRIVILEGES = 3001
_UNSEEN_ERRNOS = frozenset({2003, 606})
_UNSEEN_MESSAGES = ("does not exist or not authorized", "no active warehouse")
