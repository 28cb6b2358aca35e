"""Transactional writes to the warehouse tables, on any DB-API connection.

A :class:`Warehouse` is a connection factory plus a :class:`~airflow_sigma.warehouse.dialects.Dialect`;
nothing here imports Airflow except :meth:`Warehouse.from_conn_id`. Each
:meth:`Warehouse.transaction` uses one new connection: everything done through the
:class:`Transaction` (DDL included) commits together at the end of the ``with`` block, or is rolled
back when the block raises, leaving every table as it was.

Example::

    warehouse = Warehouse.from_conn_id("warehouse_default", schema="analytics")
    with warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS, WORKBOOK_ELEMENTS)
        tx.replace_partition(WORKBOOKS, {"snapshot_date": day}, workbook_rows)
        tx.replace_partition(WORKBOOK_ELEMENTS, {"snapshot_date": day}, element_rows)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from airflow_sigma.warehouse.connection import airflow_connection, explained_errors, sql_hook
from airflow_sigma.warehouse.dialects import Dialect, dialect_for
from airflow_sigma.warehouse.generic import ArrayLoad
from airflow_sigma.warehouse.tables import Column, Table
from airflow_sigma.warehouse.values import (
    CANONICAL,
    BadRowError,
    WarehouseConnectionError,
    WarehouseError,
    from_db,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TempTable:
    """A session-scoped temporary (staging) table created by :meth:`Transaction.create_temp_table`.

    :param name: its name as used in SQL (quoted as needed).
    :param columns: its columns.
    """

    name: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def select(self, names: Sequence[str] | None) -> tuple[Column, ...]:
        if names is None:
            return self.columns
        by_name = {column.name: column for column in self.columns}
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise ValueError(f"temp table {self.name} has no columns {unknown}; columns: {list(by_name)}")
        return tuple(by_name[name] for name in names)


class Warehouse:
    """Where the tables live: a connection factory, a dialect, a schema and a table-name prefix.

    :param connect: returns a new DB-API connection each call; the warehouse closes it.
    :param dialect: the SQL dialect of that connection (see :func:`dialect_for`).
    :param schema: schema (dataset) of the tables; None uses the connection's default.
    :param table_prefix: put before every table's base name (``"sigma_"`` gives ``sigma_workbooks``).
    :param description: names the warehouse in error messages (connection id, file).
    :param local_dirs: directories on this machine the database writes to, named when the disk is full.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        dialect: Dialect,
        *,
        schema: str | None = None,
        table_prefix: str = "sigma_",
        description: str = "the warehouse",
        local_dirs: Sequence[str] = (),
    ) -> None:
        self.connect = connect
        self.dialect = dialect
        self.schema = schema or None
        self.table_prefix = table_prefix
        self.description = description
        self.local_dirs = tuple(local_dirs)
        if self.schema:
            dialect.qualify(self.schema, "x")  # refuse impossible schemas (SQLite) up front
        dialect.bind_schema(self.schema)

    def __repr__(self) -> str:
        return f"Warehouse({self.dialect.name}, schema={self.schema!r}, table_prefix={self.table_prefix!r})"

    @classmethod
    def from_conn_id(
        cls,
        conn_id: str,
        *,
        schema: str | None = None,
        table_prefix: str = "sigma_",
        dialect: Dialect | None = None,
        hook_params: dict[str, Any] | None = None,
    ) -> Warehouse:
        """A warehouse on any Airflow SQL connection, through its common-sql ``DbApiHook``.

        :param conn_id: Airflow connection id (sqlite, postgres, snowflake, gcpbigquery or
            google_cloud_platform, or any other connection whose hook is a ``DbApiHook``; those get the
            generic dialect).
        :param schema: see :class:`Warehouse`.
        :param table_prefix: see :class:`Warehouse`.
        :param dialect: overrides the dialect picked from the connection type.
        :param hook_params: passed to the hook's constructor.
        """
        from airflow.providers.common.sql.hooks.sql import DbApiHook

        connection = airflow_connection(conn_id)
        hook = sql_hook(conn_id, connection, hook_params)
        if not isinstance(hook, DbApiHook):  # e.g. google_cloud_platform: BigQuery's hook on it
            hook = dialect_for(connection.conn_type or "").sql_hook(conn_id, hook_params) or hook
        if not isinstance(hook, DbApiHook):
            raise WarehouseConnectionError(
                f"Connection {conn_id!r} has type {connection.conn_type!r}, whose hook "
                f"{type(hook).__name__} is not a SQL (common-sql DbApiHook) hook; use a database connection"
            )
        chosen = dialect or dialect_for(connection.conn_type or "", placeholder=hook.placeholder)
        endpoint = chosen.endpoint(conn_id, connection, hook)
        return cls(
            endpoint.connect,
            chosen,
            schema=schema,
            table_prefix=table_prefix,
            description=endpoint.description,
            local_dirs=endpoint.local_dirs,
        )

    @classmethod
    def from_hook(
        cls,
        hook: Any,
        *,
        schema: str | None = None,
        table_prefix: str = "sigma_",
        dialect: Dialect | None = None,
    ) -> Warehouse:
        """A warehouse on an existing common-sql ``DbApiHook`` (connections from ``hook.get_conn()``).

        :param hook: the hook; its ``conn_type`` picks the dialect unless ``dialect`` is given.
        :param schema: see :class:`Warehouse`.
        :param table_prefix: see :class:`Warehouse`.
        :param dialect: overrides the dialect picked from the hook's connection type.
        """
        chosen = dialect or dialect_for(getattr(hook, "conn_type", "") or "", placeholder=hook.placeholder)
        return cls(hook.get_conn, chosen, schema=schema, table_prefix=table_prefix)

    def unqualified_name(self, table: Table) -> str:
        """The table's name without schema or quotes, e.g. ``sigma_workbooks``."""
        return self.table_prefix + table.base_name

    def table_name(self, table: Table) -> str:
        """The table's name for SQL: schema-qualified and quoted as needed."""
        return self.dialect.qualify(self.schema, self.unqualified_name(table))

    def checked(self) -> Warehouse:
        """Connect, and check that the database takes writes, before any expensive work; returns self.

        :raises WarehouseConnectionError: the warehouse cannot be reached, refuses writes, or the
            connection's role lacks a privilege the jobs need (named, with the grant that gives it).
        """
        with self.transaction() as tx:
            tx.query("SELECT 1")
            self.dialect.check_writable(tx.cursor)
            self.dialect.check_privileges(tx.cursor, self.schema)
        return self

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        """One connection and one transaction: commit when the block ends, roll back when it raises.

        A database error that needs the user's action (a read-only database, a full disk) is raised
        as a :class:`WarehouseError` naming the connection, the path and what to do.

        :param write: False when the block only reads (on SQLite it then does not take the write lock).
        """
        with explained_errors(self), self._transaction(write) as tx:
            yield tx

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Transaction]:
        connection = self.connect()
        try:
            self.dialect.begin(connection, write)
            cursor = connection.cursor()
            tx = Transaction(self, cursor)
            try:
                yield tx
                tx.flush()
                if write:
                    self.dialect.before_commit(cursor)
            finally:
                tx.discard_loads()
                cursor.close()
            connection.commit()
        except BaseException:
            try:
                connection.rollback()
            except Exception as exc:  # the original error matters more
                log.warning("Rollback failed: %s", exc)
            raise
        finally:
            connection.close()

    def ensure_tables(self, *tables: Table) -> None:
        """Create the tables that are missing, in a transaction of their own."""
        with self.transaction() as tx:
            tx.ensure_tables(*tables)

    def read_table(
        self, table: Table, where: Mapping[str, Any] | None = None, order_by_key: bool = True
    ) -> list[tuple[Any, ...]]:
        """All rows of ``table`` (optionally filtered), as canonical Python values; for tests and checks."""
        with self.transaction(write=False) as tx:
            return tx.read_table(table, where, order_by_key)


class Transaction:
    """Operations inside one :meth:`Warehouse.transaction`. Do not keep it after the block ends."""

    def __init__(self, warehouse: Warehouse, cursor: Any) -> None:
        self.warehouse = warehouse
        self.dialect = warehouse.dialect
        self.cursor = cursor
        self.writing = False
        self._loads: dict[str, ArrayLoad] = {}
        self._staging_prepared = False

    def begin_writes(self) -> None:
        """Mark the start of the writes (done by every writing method): from here on only DML.

        On engines that commit at every DDL statement (Snowflake) the transaction begins here, so every
        table and staging table must be created before; :meth:`check_ddl` refuses DDL after it.
        """
        if not self.writing:
            self.writing = True
            self.dialect.begin_writes(self.cursor)

    def check_ddl(self, what: str) -> None:
        """Refuse DDL (``what`` names it) once writes began on an engine where DDL commits."""
        if self.writing and self.dialect.ddl_commits:
            raise WarehouseError(
                f"{what} after the first write: on {self.dialect.name} DDL commits the open transaction, "
                "so a failure after it would leave tables half-written; create every table and staging "
                "table before writing"
            )

    @property
    def placeholder(self) -> str:
        """The parameter marker to write in SQL given to :meth:`execute` / :meth:`query`."""
        return self.dialect.placeholder

    def table_name(self, table: Table | TempTable) -> str:
        """Name of a table (or temp table) for SQL: qualified and quoted as needed."""
        return table.name if isinstance(table, TempTable) else self.warehouse.table_name(table)

    # -- raw SQL -----------------------------------------------------------------------------------------
    def lock(self, table: Table) -> None:
        """Wait for, then hold until commit or rollback, a lock named after ``table`` (where the dialect
        has such locks), so that two runs writing the same tables take turns instead of deadlocking."""
        sql = self.dialect.lock_sql()
        if sql is not None:
            self.flush()
            self.cursor.execute(sql, [f"airflow_sigma:{self.table_name(table)}"])

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> int:
        """Run one statement (in the dialect's paramstyle); returns the driver's rowcount."""
        self.flush()
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if verb in _DDL_VERBS:
            self.check_ddl(sql.lstrip()[:60])
        elif verb in _DML_VERBS:
            self.begin_writes()
        if params is None:
            self.cursor.execute(sql)
        else:
            self.cursor.execute(sql, self._adapt(params))
        return int(self.cursor.rowcount if self.cursor.rowcount is not None else -1)

    def query(
        self,
        sql: str,
        params: Sequence[Any] | Mapping[str, Any] | None = None,
        types: Sequence[str] | None = None,
    ) -> list[tuple[Any, ...]]:
        """Run a query and return all rows as tuples.

        :param types: column types of the result (e.g. ``["date", "integer"]``); when given, values are
            returned as canonical Python values (SQLite's date text becomes a ``date``, and so on),
            otherwise as the driver returns them.
        """
        self.execute(sql, params)
        rows = [
            tuple(row.values()) if isinstance(row, Mapping) else tuple(row) for row in self.cursor.fetchall()
        ]
        if types is None:
            return rows
        return [tuple(from_db(t, v) for t, v in zip(types, row, strict=True)) for row in rows]

    def _adapt(self, params: Sequence[Any] | Mapping[str, Any]) -> Any:
        if isinstance(params, Mapping):
            return {name: self.dialect.adapt_param(value) for name, value in params.items()}
        return [self.dialect.adapt_param(value) for value in params]

    # -- tables ----------------------------------------------------------------------------------------------
    def ensure_tables(self, *tables: Table) -> None:
        """Create missing tables (with primary key); add missing nullable columns to existing ones.

        Raises :class:`WarehouseError` when an existing table lacks a key or NOT NULL column.
        """
        self.check_ddl(f"ensure_tables({', '.join(t.base_name for t in tables)})")
        schema = self.warehouse.schema
        if schema:
            self.dialect.ensure_schema(self.cursor, schema)
        for table in tables:
            name = self.warehouse.unqualified_name(table)
            qualified = self.table_name(table)
            existing = self.dialect.existing_columns(self.cursor, schema, name)
            if existing is None:
                self.cursor.execute(self.dialect.create_table_sql(table, qualified))
                continue
            missing = [column for column in table.columns if column.name not in existing]
            required = [c.name for c in missing if c.name in table.key or not c.nullable]
            if required:
                raise WarehouseError(
                    f"Table {qualified} exists but lacks required columns {required} (it was created by "
                    "another version or tool); migrate or drop it"
                )
            for column in missing:
                log.info("Adding column %s to %s", column.name, qualified)
                self.cursor.execute(self.dialect.add_column_sql(qualified, column))

    def create_temp_table(
        self,
        name: str,
        columns: Sequence[Column] | Table,
        rows: Iterable[Sequence[Any]] | None = None,
    ) -> TempTable:
        """Create a temporary staging table for this transaction, optionally bulk-loading ``rows``.

        :param name: plain name (no schema); it is dropped when the transaction ends.
        :param columns: its columns, or a :class:`Table` whose columns it copies (without the key).
        :param rows: rows in column order, streamed into it with the bulk path.
        """
        spec = tuple(columns.columns if isinstance(columns, Table) else columns)
        self.check_ddl(f"creating the temp table {name}")
        if not self._staging_prepared:
            self.dialect.prepare_staging(self.cursor)
            self._staging_prepared = True
        self.cursor.execute(self.dialect.create_temp_table_sql(name, spec))
        temp = TempTable(self.dialect.temp_table_name(name), spec)
        if rows is not None:
            self.insert_rows(temp, rows)
        return temp

    # -- writing ---------------------------------------------------------------------------------------------
    def insert_rows(
        self,
        table: Table | TempTable,
        rows: Iterable[Sequence[Any]],
        columns: Sequence[str] | None = None,
    ) -> int:
        """Bulk-insert ``rows`` (streamed; COPY on PostgreSQL). Returns the number of rows.

        :param table: target table or temp table.
        :param rows: sequences of Python values in the order of ``columns``.
        :param columns: column names; all columns of the table when None.
        """
        self.begin_writes()
        self.flush()
        return self.dialect.bulk_insert(self.cursor, self.table_name(table), table.select(columns), rows)

    def append_arrays(self, table: TempTable, arrays: Sequence[Any]) -> int:
        """Append one batch of Arrow arrays (in the order of the table's columns) by the engine's bulk
        path; returns the number of rows.

        An engine may hold the rows back to load them in bulk (Parquet files on Snowflake): they reach
        the table at :meth:`flush`, which runs before the transaction's next statement."""
        if len(arrays) != len(table.columns):
            raise ValueError(f"{table.name}: {len(arrays)} arrays for {len(table.columns)} columns")
        if not len(arrays[0]):
            return 0
        self.begin_writes()
        load = self._loads.get(table.name)
        if load is None:
            load = self._loads[table.name] = self.dialect.array_load(self.cursor, table.name, table.columns)
        return load.write(arrays)

    def flush(self) -> None:
        """Load the rows :meth:`append_arrays` holds back into their tables (done before every other
        statement of the transaction, and before it commits)."""
        while self._loads:
            name = next(iter(self._loads))
            self._loads[name].flush()
            del self._loads[name]

    def discard_loads(self) -> None:
        """Drop the rows held back and not loaded (the transaction is ending)."""
        loads, self._loads = self._loads, {}
        for load in loads.values():
            load.discard()

    def delete(self, table: Table | TempTable, where: Mapping[str, Any]) -> int:
        """Delete the rows matching ``where`` (see :meth:`where`); returns the driver's rowcount."""
        clause, params = self.where(table, where)
        return self.execute(f"DELETE FROM {self.table_name(table)} WHERE {clause}", params)

    def replace_partition(
        self,
        table: Table,
        where: Mapping[str, Any],
        rows: Iterable[Sequence[Any]],
        columns: Sequence[str] | None = None,
    ) -> int:
        """Replace the partition ``where`` (e.g. ``{"snapshot_date": day}``) by ``rows``.

        Every row must fall inside the partition (checked), so re-running gives identical tables.

        :param where: column -> value, or column -> collection of values (any of them).
        :param rows: the partition's new rows, in the order of ``columns``; streamed.
        :param columns: column names; all columns of the table when None.
        :return: number of rows inserted.
        """
        names = list(columns) if columns is not None else list(table.column_names)
        deleted = self.delete(table, where)
        checked = _inside_partition(rows, table, names, where, self.table_name(table))
        inserted = self.insert_rows(table, checked, names)
        log.info(
            "Replaced %s %s: %s old rows, %d new", self.table_name(table), dict(where), deleted, inserted
        )
        return inserted

    def upsert(
        self,
        target: Table,
        staging: TempTable | str,
        columns: Sequence[str] | None = None,
        key: Sequence[str] | None = None,
        update_columns: Sequence[str] | None = None,
        *,
        dedupe: bool = False,
    ) -> int:
        """Insert staging rows into ``target``; rows whose key exists are updated.

        Emits ``INSERT .. ON CONFLICT`` (SQLite, PostgreSQL), ``UPDATE`` + ``INSERT`` (Snowflake) or
        ``MERGE`` (others).

        :param target: the table to write.
        :param staging: a temp table from :meth:`create_temp_table`, or the plain name of a table.
        :param columns: columns to copy; default: the target's columns the staging table has.
        :param key: conflict key; default: the target's primary key.
        :param update_columns: columns updated on conflict; default all non-key ``columns``; empty: keep
            the existing row (insert new keys only).
        :param dedupe: when the staging table has several rows per key, keep the first by the other
            columns; when False such rows raise :class:`WarehouseError`.
        :return: the driver's rowcount.
        """
        key = tuple(key or target.key)
        if not key:
            raise WarehouseError(f"upsert into {self.table_name(target)} needs a key")
        if columns is None:
            has = staging.column_names if isinstance(staging, TempTable) else target.column_names
            columns = [name for name in target.column_names if name in has]
        missing_key = [name for name in key if name not in columns]
        if missing_key:
            raise WarehouseError(
                f"upsert into {self.table_name(target)}: key columns {missing_key} not copied"
            )
        specs = target.select(list(columns))
        updates = [c for c in columns if c not in key] if update_columns is None else list(update_columns)
        target.select(updates)
        source = staging.name if isinstance(staging, TempTable) else self.dialect.quote(staging)
        if dedupe:
            source = self.dialect.dedupe_sql(source, specs, key)
        else:
            self._refuse_duplicate_keys(source, key)
        statements = self.dialect.upsert_statements(
            self.table_name(target), source, list(columns), key, updates
        )
        return sum(self.execute(sql) for sql in statements)

    def _refuse_duplicate_keys(self, source: str, key: Sequence[str]) -> None:
        keys = ", ".join(self.dialect.quote(name) for name in key)
        rows = self.query(f"SELECT {keys}, COUNT(*) FROM {source} GROUP BY {keys} HAVING COUNT(*) > 1")
        if rows:
            raise WarehouseError(
                f"Staging table {source} has {len(rows)} keys with several rows, e.g. "
                f"{dict(zip(key, rows[0][:-1], strict=True))} ({rows[0][-1]} rows); "
                "dedupe first or pass dedupe=True"
            )

    # -- reading ---------------------------------------------------------------------------------------------
    def where(self, table: Table | TempTable, where: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """SQL condition and parameters for ``where``: ``{column: value}`` or ``{column: [values]}``."""
        if not where:
            raise ValueError(f"{self.table_name(table)}: an empty condition would match every row")
        conditions: list[tuple[str, int]] = []
        params: list[Any] = []
        for name, value in where.items():
            column = table.select([name])[0]
            values = _as_values(value, f"{self.table_name(table)}.{name}")
            convert = self.dialect.value_converter(column)
            try:
                params += [convert(v) for v in values]
            except (TypeError, ValueError) as exc:
                raise BadRowError(f"{self.table_name(table)}: condition on {name!r}: {exc}") from exc
            conditions.append((name, len(values)))
        return self.dialect.where_sql(conditions), params

    def read_table(
        self,
        table: Table | TempTable,
        where: Mapping[str, Any] | None = None,
        order_by_key: bool = True,
    ) -> list[tuple[Any, ...]]:
        """Rows of ``table`` as canonical Python values (dates, UTC datetimes, bools, parsed JSON)."""
        q = self.dialect.quote
        sql = f"SELECT {', '.join(q(c.name) for c in table.columns)} FROM {self.table_name(table)}"
        params: list[Any] | None = None
        if where:
            clause, params = self.where(table, where)
            sql += f" WHERE {clause}"
        if order_by_key:
            key = table.key if isinstance(table, Table) and table.key else ()
            order = key or tuple(c.name for c in table.columns if c.type != "json")
            sql += " ORDER BY " + ", ".join(q(name) for name in order)
        types = [column.type for column in table.columns]
        return [
            tuple(from_db(t, v) for t, v in zip(types, row, strict=True)) for row in self.query(sql, params)
        ]

    def count(self, table: Table | TempTable, where: Mapping[str, Any] | None = None) -> int:
        """Number of rows of ``table`` (matching ``where``)."""
        sql = f"SELECT COUNT(*) FROM {self.table_name(table)}"
        params: list[Any] | None = None
        if where:
            clause, params = self.where(table, where)
            sql += f" WHERE {clause}"
        return int(self.query(sql, params)[0][0])


_DDL_VERBS = frozenset({"CREATE", "ALTER", "DROP", "TRUNCATE", "COMMENT", "GRANT", "REVOKE"})
_DML_VERBS = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "UPSERT", "REPLACE"})


def _as_values(value: Any, label: str) -> list[Any]:
    scalar = isinstance(value, (str, bytes)) or not isinstance(value, Collection)
    values = [value] if scalar else list(value)
    if not values:
        raise ValueError(f"{label}: empty list of values")
    if any(v is None for v in values):
        raise ValueError(f"{label}: None cannot be matched; partitions need values")
    return values


def _inside_partition(
    rows: Iterable[Sequence[Any]],
    table: Table,
    names: Sequence[str],
    where: Mapping[str, Any],
    label: str,
) -> Iterator[Sequence[Any]]:
    """Pass rows through, raising BadRowError for the first row outside the partition."""
    checks = []
    for name, value in where.items():
        if name not in names:
            raise BadRowError(f"{label}: rows must include the partition column {name!r}")
        canonical = CANONICAL[table.column(name).type]
        allowed = {canonical(v) for v in _as_values(value, f"{label}.{name}")}
        checks.append((names.index(name), name, canonical, allowed))
    for number, row in enumerate(rows, start=1):
        for index, name, canonical, allowed in checks:
            if len(row) != len(names):
                break  # the loader reports the wrong row length
            value = row[index]
            try:
                inside = value is not None and canonical(value) in allowed
            except (TypeError, ValueError) as exc:
                raise BadRowError(f"{label}: row {number}, column {name!r}: {exc}") from exc
            if not inside:
                raise BadRowError(
                    f"{label}: row {number} has {name}={value!r}, outside the partition being replaced "
                    f"({name} in {sorted(map(str, allowed))})"
                )
        yield row


__all__ = ["TempTable", "Transaction", "Warehouse"]
