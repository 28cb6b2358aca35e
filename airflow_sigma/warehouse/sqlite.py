"""SQLite through Python's sqlite3 (the Airflow ``SqliteHook`` connection): all of its SQL.

Dates, timestamps and JSON are stored as TEXT (timestamps as fixed-width ``YYYY-MM-DDTHH:MM:SS.ffffffZ``,
booleans as 0/1); an explicit ``BEGIN IMMEDIATE`` makes DDL part of the transaction; the file's own
journal mode (WAL when set on the file); ``INSERT .. ON CONFLICT`` upserts. A loading run stages its
rows in a scratch database written through ADBC (:mod:`airflow_sigma.loading.scratch`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from functools import partial
from typing import Any
from urllib.parse import quote, urlencode

from airflow_sigma.warehouse.generic import Dialect, Endpoint, map_values, on_conflict_sql
from airflow_sigma.warehouse.tables import Column
from airflow_sigma.warehouse.values import (
    Codec,
    WarehouseConnectionError,
    boolean_integer,
    codec,
    date_text,
    timestamp_text,
    to_float,
    to_integer,
    to_json_text,
    to_text,
    unchanged,
)

log = logging.getLogger(__name__)


class SqliteDialect(Dialect):
    """SQLite through Python's sqlite3 (the Airflow ``SqliteHook`` connection).

    :param journal_mode: journal mode set on the file before each write transaction. None (default)
        leaves the file's own mode: SQLite's rollback journal, or WAL once set on the file (WAL lets
        readers keep reading the previous state while a run writes, but writes a large load twice:
        into the WAL, then into the database; 25% slower on the benchmark's first load).
    :param busy_timeout_ms: how long to wait for another writer's lock before failing.
    :param sort_threads: helper threads SQLite may use for large sorts (``PRAGMA threads``); by default
        one fewer than the CPUs this process may use, at most 3. The daily rebuild of a big load sorts
        about 1.5x faster with one helper on two CPUs.
    :param page_size: page size in bytes given to a database file this dialect creates (``PRAGMA
        page_size`` before the first write; an existing file keeps its own). With 16 KiB pages a big
        first load makes a quarter of the writes of SQLite's 4 KiB default (the SQL of the 5M-row
        impressions benchmark took 7.3 s instead of 9.2 s), and a daily run reads fewer pages. None
        leaves SQLite's default.
    """

    name = "sqlite"
    type_names = {
        "text": "TEXT",
        "integer": "INTEGER",
        "float": "REAL",
        "boolean": "INTEGER",
        "date": "TEXT",
        "timestamp": "TEXT",
        "json": "TEXT",
    }
    if_not_exists = "IF NOT EXISTS "
    create_temp_table = "CREATE TEMP TABLE"

    def __init__(
        self,
        journal_mode: str | None = None,
        busy_timeout_ms: int = 30_000,
        sort_threads: int | None = None,
        page_size: int | None = 16384,
    ) -> None:
        super().__init__("?")
        if page_size is not None and (page_size < 512 or page_size > 65536 or page_size & (page_size - 1)):
            raise ValueError(f"page_size must be a power of two from 512 to 65536, got {page_size!r}")
        self.journal_mode = journal_mode
        self.page_size = page_size
        self.busy_timeout_ms = busy_timeout_ms
        self.sort_threads = min(3, _usable_cpus() - 1) if sort_threads is None else sort_threads

    def qualify(self, schema: str | None, name: str) -> str:
        if schema is not None and schema.lower() in ("temp", "temporary"):
            raise WarehouseConnectionError(
                f"schema={schema!r} on SQLite is the connection's temporary schema: its tables vanish when "
                "the task's connection closes, so nothing would be kept. Leave schema empty (the tables go "
                "in the database file) and use table_prefix to tell tables apart."
            )
        if schema not in (None, "", "main"):
            raise ValueError(
                f"SQLite has no schemas: schema={schema!r} is not possible (use table_prefix, or no schema)"
            )
        return super().qualify(schema, name)

    def endpoint(self, conn_id: str, connection: Any, hook: Any) -> Endpoint:
        path = database_path(conn_id, connection.host or "", connection.schema or "")
        query = urlencode({k: v for k, v in connection.extra_dejson.items() if isinstance(v, str | int)})
        uri = f"file:{quote(path)}{'?' + query if query else ''}"
        return Endpoint(
            partial(sqlite3.connect, uri, uri=True),
            f"warehouse connection {conn_id!r} (SQLite file {path})",
            (os.path.dirname(path),),
        )

    def check_writable(self, cursor: Any) -> None:
        cursor.execute("PRAGMA user_version")
        (version,) = cursor.fetchone()
        cursor.execute(f"PRAGMA user_version = {int(version)}")  # a write that changes nothing

    def ensure_schema(self, cursor: Any, schema: str) -> None:
        self.qualify(schema, "x")

    def existing_columns(self, cursor: Any, schema: str | None, name: str) -> list[str] | None:
        cursor.execute("SELECT name FROM pragma_table_info(?, ?)", (name, schema or "main"))
        names = [str(row[0]).lower() for row in cursor.fetchall()]
        return names or None

    def upsert_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> str:
        return on_conflict_sql(self, target, source, columns, key, update_columns)

    def codec(self, column: Column) -> Codec:
        return _SQLITE_CODECS[column.type]

    def adapt_param(self, value: Any) -> Any:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, datetime):
            return timestamp_text(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, (dict, list)):
            return to_json_text(value)
        return value

    def begin(self, connection: Any, write: bool = True) -> None:
        # isolation_level=None stops sqlite3 from opening (and committing) transactions on its own,
        # so our explicit BEGIN covers DDL too and a failure rolls back everything.
        connection.isolation_level = None
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        cursor.execute(f"PRAGMA threads = {max(0, int(self.sort_threads))}")
        if not write:
            cursor.execute("BEGIN")  # deferred: a reader does not wait for (or block) writers in WAL mode
            cursor.close()
            return
        if self.page_size is not None:  # a no-op once the file has pages; before journal_mode (WAL fixes it)
            cursor.execute(f"PRAGMA page_size = {int(self.page_size)}")
        if self.journal_mode:
            try:
                cursor.execute(f"PRAGMA journal_mode = {self.journal_mode}")
            except Exception as exc:  # e.g. locked by a reader or read-only directory: keep current mode
                log.warning("Could not set SQLite journal_mode=%s: %s", self.journal_mode, exc)
        cursor.execute("BEGIN IMMEDIATE")  # take the write lock now, not halfway through the run
        cursor.close()

    def before_commit(self, cursor: Any) -> None:
        # What SQLite recommends for short-lived connections: statistics for the tables this transaction
        # used that lack them or changed much, measured on a sample (analysis_limit), so the planner of
        # later runs has them; without any, a join may be planned as a scan of a whole table.
        cursor.execute("PRAGMA analysis_limit = 1000")
        cursor.execute("PRAGMA optimize")

    # -- SQL the jobs build on ------------------------------------------------------------------------
    stages_in_scratch = True

    def from_text(self, expression: str, column_type: str) -> str:
        return expression  # dates, timestamps and JSON are stored as the text they are staged as

    def days_between(self, later: str, earlier: str) -> str:
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"

    def start_of_day(self, day: str) -> str:
        return f"({day} || 'T00:00:00.000000Z')"

    def epoch_micros_text(self, timestamp: str) -> str:
        # Stored as fixed-width YYYY-MM-DDTHH:MM:SS.ffffffZ: whole seconds, then the six digits after
        # the point, in integers (julianday and unixepoch(.., 'subsec') go through floating point).
        seconds = f"CAST(strftime('%s', substr({timestamp}, 1, 19)) AS INTEGER)"
        return f"CAST({seconds} * 1000000 + CAST(substr({timestamp}, 21, 6) AS INTEGER) AS TEXT)"

    def create_index_sql(
        self, schema: str | None, table: str, unqualified_table: str, columns: Sequence[str]
    ) -> str | None:
        # SQLite puts the schema on the index name, never on the table.
        name = self.quote(f"{unqualified_table}_{'_'.join(columns)}_idx")
        name = f"{self.quote(schema)}.{name}" if schema else name
        names = ", ".join(self.quote(column) for column in columns)
        return f"CREATE INDEX IF NOT EXISTS {name} ON {self.quote(unqualified_table)} ({names})"

    def insert_sums_sql(self, target: str, keys: Sequence[str], value: str, source: str) -> str:
        """Each row is added, in key order, to its target row (``ON CONFLICT DO UPDATE``): the same sums
        as a ``GROUP BY``, about 20% faster, SQLite's ``GROUP BY`` costing more than the sort it needs."""
        listed = ", ".join(keys)
        return (
            f"INSERT INTO {target} ({listed}, {value}) SELECT {listed}, {value} FROM {source} "
            f"ORDER BY {listed} ON CONFLICT ({listed}) DO UPDATE SET {value} = {value} + excluded.{value}"
        )

    def upsert_changed_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> list[str]:
        if not update_columns:
            return [self.upsert_sql(target, source, columns, key, update_columns)]
        q = self.quote
        names = ", ".join(q(c) for c in columns)
        old = ", ".join(f"tgt.{q(c)}" for c in update_columns)
        sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update_columns)
        new = ", ".join(f"excluded.{q(c)}" for c in update_columns)
        return [
            f"INSERT INTO {target} AS tgt ({names}) SELECT {names} FROM {source} AS src WHERE true "
            f"ON CONFLICT ({', '.join(q(k) for k in key)}) DO UPDATE SET {sets} WHERE ({old}) IS NOT ({new})"
        ]


ACCEPTED_FORMS = (
    'a connection whose host is the absolute path of the database file ({"conn_type": "sqlite", "host": '
    '"/abs/path/warehouse.db"}), or the URI sqlite:///abs/path/warehouse.db or sqlite:////abs/path/warehouse.db'
)


def database_path(conn_id: str, host: str, schema: str) -> str:
    """The absolute path of a SQLite connection's database file, checked to be usable for writing.

    The path is the host; or, in the URI forms (no host), the path part: ``sqlite:////abs/warehouse.db``
    (which Airflow's own SQLite hook cannot open) and ``sqlite:///abs/warehouse.db`` both name
    ``/abs/warehouse.db``.

    :param conn_id: the connection id, for messages.
    :param host: the connection's host field.
    :param schema: the connection's schema field (the URI's path).
    :raises WarehouseConnectionError: no file, an in-memory or relative path, or a directory that is
        missing or not writable.
    """
    where = f"SQLite warehouse connection {conn_id!r}"
    text = host.strip() or ("/" + schema.strip().lstrip("/") if schema.strip() else "")
    if not text or text in (":memory:", "/:memory:") or "mode=memory" in text:
        raise WarehouseConnectionError(
            f"{where} names no database file, so the tables would live in memory and be lost when the task "
            f"ends. Give it {ACCEPTED_FORMS}."
        )
    if not os.path.isabs(text):
        raise WarehouseConnectionError(
            f"{where} names the relative path {text!r}, which depends on the worker's working directory. "
            f"Give it {ACCEPTED_FORMS}."
        )
    path = os.path.normpath(text)
    directory = os.path.dirname(path)
    if os.path.isdir(path):
        raise WarehouseConnectionError(f"{where} names {path}, which is a directory: name the database file.")
    if not os.path.isdir(directory):
        raise WarehouseConnectionError(
            f"{where}: the directory of its database file {path} does not exist; create it, or correct "
            "the path."
        )
    if not os.access(directory, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise WarehouseConnectionError(
            f"{where}: {path} (or its directory) is not writable by the user running the task; SQLite "
            "writes the file and its journal there. Change the permissions or point the connection at a "
            "writable path."
        )
    return path


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # Linux: the CPUs this process may run on
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_SQLITE_CODECS: dict[str, Codec] = {
    "text": codec(to_text, (str,), unchanged),
    "integer": codec(to_integer, (int,), unchanged),
    "float": codec(to_float, (float,), unchanged),
    "boolean": codec(boolean_integer, (bool,), map_values(int)),
    "date": codec(date_text, (date,), map_values(date.isoformat)),
    "timestamp": codec(timestamp_text),
    "json": codec(to_json_text),
}
