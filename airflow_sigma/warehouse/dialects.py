"""Everything that differs between databases, in one place.

:class:`Dialect` is the generic ANSI fallback (information_schema introspection, ``MERGE`` upserts,
DB-API ``executemany`` loads). Subclasses change only what their database does differently:

- :class:`SqliteDialect`: dates, timestamps and JSON stored as TEXT (timestamps as fixed-width
  ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, booleans as 0/1); explicit ``BEGIN IMMEDIATE`` so DDL is part of the
  transaction; the file's own journal mode (WAL when set on the file); ``INSERT .. ON CONFLICT``.
- :class:`PostgresDialect`: ``timestamptz``, ``jsonb``, ``COPY`` bulk loads (psycopg 3 or psycopg2),
  ``INSERT .. ON CONFLICT``.
- :class:`SnowflakeDialect` and :class:`BigQueryDialect`: their types (VARIANT / JSON), ``MERGE``, and
  multi-row inserts that parse JSON. They are not run by the test suite; their SQL is.

Caveats: Snowflake commits implicitly on DDL, so create tables and temp tables before changing data in
a transaction. BigQuery's DB-API has no multi-statement transactions: each statement is atomic on its
own, but a failed run can leave earlier statements of the run applied.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from airflow_sigma.warehouse.tables import COLUMN_TYPES, Column, Table
from airflow_sigma.warehouse.values import (
    CANONICAL,
    Codec,
    Converter,
    boolean_integer,
    codec,
    column_chunks,
    date_text,
    timestamp_text,
    to_boolean,
    to_date,
    to_float,
    to_integer,
    to_json_text,
    to_text,
    to_timestamp,
    unchanged,
)

log = logging.getLogger(__name__)

# Words some of our dialects reserve; identifiers among them (or not plain lower-case) get quoted.
_RESERVED_WORDS = (
    "all alter and any array as asc between both by case cast check collate column connect constraint "
    "create cross current current_date current_time current_timestamp current_user default delete desc "
    "distinct drop else end except exists extract false fetch following for foreign from full grant "
    "group having if ilike in increment inner insert intersect interval into is join lateral leading "
    "left like limit localtime localtimestamp merge minus natural new not null of offset on or order "
    "outer over partition primary qualify range references regexp revoke right rlike row rows sample "
    "schema select set some start table tablesample then to trailing trigger true union unique unnest "
    "update user using values view when whenever where window with within"
)
RESERVED = frozenset(_RESERVED_WORDS.split())


class Dialect:
    """Generic ANSI SQL, and the interface every dialect implements.

    :param placeholder: the DB-API parameter marker of the driver (``%s`` for format/pyformat drivers,
        ``?`` for qmark drivers).
    :param type_names: overrides of the SQL type per column type, e.g. ``{"text": "NVARCHAR(MAX)"}``
        (the generic ``VARCHAR(4000)`` is a lowest common denominator).
    """

    name = "generic"
    quote_char = '"'
    type_names: dict[str, str] = {
        "text": "VARCHAR(4000)",
        "integer": "BIGINT",
        "float": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "json": "VARCHAR(4000)",
    }
    if_not_exists = ""  # ANSI has no CREATE .. IF NOT EXISTS; ensure_tables introspects first
    primary_key_suffix = ""
    create_temp_table = "CREATE TEMPORARY TABLE"
    temp_table_suffix = ""
    rows_per_statement = 1  # 1: DB-API executemany; more: multi-row INSERT statements
    chunk_rows = 10_000  # rows converted and sent at a time (bounded memory for streamed input)

    def __init__(self, placeholder: str = "%s", type_names: dict[str, str] | None = None) -> None:
        self.placeholder = placeholder
        if type_names:
            unknown = sorted(set(type_names) - set(COLUMN_TYPES))
            if unknown:
                raise ValueError(f"type_names: {unknown} are not column types {COLUMN_TYPES}")
            self.type_names = {**self.type_names, **type_names}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(placeholder={self.placeholder!r})"

    @property
    def paramstyle(self) -> str:
        """The DB-API paramstyle of ``placeholder``: ``qmark``, ``format``, or ``other``."""
        return {"?": "qmark", "%s": "format"}.get(self.placeholder, "other")

    # -- identifiers ---------------------------------------------------------------------------------
    def quote(self, identifier: str) -> str:
        """``identifier`` as is when it is plain lower-case and not reserved, else quoted."""
        plain = identifier.isidentifier() and identifier.isascii() and identifier == identifier.lower()
        if plain and identifier not in RESERVED:
            return identifier
        q = self.quote_char
        return q + identifier.replace(q, q + q) + q

    def quote_schema(self, schema: str) -> str:
        """``schema`` quoted; a dotted schema (``db.schema``, ``project.dataset``) is quoted per part."""
        return ".".join(self.quote(part) for part in schema.split("."))

    def qualify(self, schema: str | None, name: str) -> str:
        """``schema.name``, quoted as needed."""
        return f"{self.quote_schema(schema)}.{self.quote(name)}" if schema else self.quote(name)

    # -- DDL -------------------------------------------------------------------------------------------
    def column_type(self, column: Column) -> str:
        return self.type_names[column.type]

    def column_sql(self, column: Column, not_null: bool = False) -> str:
        null = " NOT NULL" if not_null or not column.nullable else ""
        return f"{self.quote(column.name)} {self.column_type(column)}{null}"

    def create_table_sql(self, table: Table, qualified_name: str) -> str:
        lines = [self.column_sql(column, column.name in table.key) for column in table.columns]
        if table.key:
            keys = ", ".join(self.quote(name) for name in table.key)
            lines.append(f"PRIMARY KEY ({keys}){self.primary_key_suffix}")
        body = ",\n  ".join(lines)
        return f"CREATE TABLE {self.if_not_exists}{qualified_name} (\n  {body}\n)"

    def add_column_sql(self, qualified_name: str, column: Column) -> str:
        return f"ALTER TABLE {qualified_name} ADD COLUMN {self.column_sql(column)}"

    def create_temp_table_sql(self, name: str, columns: Sequence[Column]) -> str:
        body = ",\n  ".join(self.column_sql(column) for column in columns)
        return f"{self.create_temp_table} {self.quote(name)} (\n  {body}\n){self.temp_table_suffix}"

    def temp_table_name(self, name: str) -> str:
        return self.quote(name)

    def ensure_schema(self, cursor: Any, schema: str) -> None:
        """Create ``schema`` when it does not exist."""
        cursor.execute(
            f"SELECT 1 FROM information_schema.schemata WHERE LOWER(schema_name) = LOWER({self.placeholder})",
            (schema,),
        )
        if not cursor.fetchall():
            cursor.execute(f"CREATE SCHEMA {self.quote_schema(schema)}")

    def existing_columns(self, cursor: Any, schema: str | None, name: str) -> list[str] | None:
        """Lower-cased column names of the table, or None when it does not exist (or cannot be seen)."""
        sql = (
            "SELECT LOWER(column_name) FROM information_schema.columns "
            f"WHERE LOWER(table_name) = LOWER({self.placeholder})"
        )
        params: list[Any] = [name]
        if schema:
            sql += f" AND LOWER(table_schema) = LOWER({self.placeholder})"
            params.append(schema.split(".")[-1])
        cursor.execute(sql + " ORDER BY ordinal_position", params)
        names = [row[0] for row in cursor.fetchall()]
        return names or None

    # -- DML -------------------------------------------------------------------------------------------
    def value_sql(self, column: Column) -> str:
        """The SQL expression that receives one parameter for ``column`` in an INSERT."""
        return self.placeholder

    def insert_sql(self, qualified_name: str, columns: Sequence[Column], rows: int = 1) -> str:
        names = ", ".join(self.quote(column.name) for column in columns)
        values = "(" + ", ".join(self.value_sql(column) for column in columns) + ")"
        return f"INSERT INTO {qualified_name} ({names}) VALUES " + ", ".join([values] * rows)

    def where_sql(self, conditions: Sequence[tuple[str, int]]) -> str:
        """``a = ? AND b IN (?, ?)`` for ``[("a", 1), ("b", 2)]`` (column, number of values)."""
        parts = []
        for name, count in conditions:
            if count == 1:
                parts.append(f"{self.quote(name)} = {self.placeholder}")
            else:
                marks = ", ".join([self.placeholder] * count)
                parts.append(f"{self.quote(name)} IN ({marks})")
        return " AND ".join(parts)

    def dedupe_sql(self, source: str, columns: Sequence[Column], key: Sequence[str]) -> str:
        """A subquery of ``source`` keeping one row per key: the first by the other (non-JSON) columns."""
        names = ", ".join(self.quote(column.name) for column in columns)
        partition = ", ".join(self.quote(name) for name in key)
        order = [self.quote(c.name) for c in columns if c.name not in key and c.type != "json"]
        order_by = " ORDER BY " + ", ".join(order) if order else ""
        return (
            f"(SELECT {names} FROM (SELECT {names}, ROW_NUMBER() OVER (PARTITION BY {partition}{order_by}) "
            f"AS sigma_row_number FROM {source}) AS ranked WHERE sigma_row_number = 1)"
        )

    def merge_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> str:
        """``MERGE`` rows of ``source`` (a table name or parenthesised subquery) into ``target``."""
        on = " AND ".join(f"tgt.{self.quote(k)} = src.{self.quote(k)}" for k in key)
        sql = f"MERGE INTO {target} AS tgt USING {source} AS src ON {on}"
        if update_columns:
            sets = ", ".join(f"{self.quote(c)} = src.{self.quote(c)}" for c in update_columns)
            sql += f" WHEN MATCHED THEN UPDATE SET {sets}"
        names = ", ".join(self.quote(c) for c in columns)
        values = ", ".join(f"src.{self.quote(c)}" for c in columns)
        return sql + f" WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"

    def upsert_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> str:
        """Insert rows of ``source`` into ``target``; rows whose key exists update ``update_columns``
        (or are skipped when there are none)."""
        return self.merge_sql(target, source, columns, key, update_columns)

    # -- values ----------------------------------------------------------------------------------------
    def codec(self, column: Column) -> Codec:
        """How values of ``column`` are checked and turned into what the driver is given."""
        if column.type in ("timestamp", "json"):
            return codec(CANONICAL[column.type])
        return codec(CANONICAL[column.type], _NATIVE_TYPES[column.type], unchanged)

    def value_converter(self, column: Column) -> Converter:
        """Checks one Python value for ``column`` and returns what the driver should be given."""
        return self.codec(column).convert

    def adapt_param(self, value: Any) -> Any:
        """A free-standing query parameter (no column known): datetimes to UTC, dicts/lists to JSON."""
        if isinstance(value, datetime):
            return to_timestamp(value)
        if isinstance(value, (dict, list)):
            return to_json_text(value)
        return value

    # -- connections and loading -----------------------------------------------------------------------
    def before_commit(self, cursor: Any) -> None:
        """Run at the end of each write transaction, before it commits (nothing by default)."""

    def lock_sql(self) -> str | None:
        """A statement taking a lock named by its one parameter until the transaction ends; None when
        the warehouse serialises writers on its own (SQLite) or offers no such lock."""
        return None

    def begin(self, connection: Any, write: bool = True) -> None:
        """Prepare a fresh connection so that everything up to commit is one transaction.

        :param write: False for transactions that only read (SQLite then takes no write lock).
        """

    def bulk_insert(
        self,
        cursor: Any,
        qualified_name: str,
        columns: Sequence[Column],
        rows: Iterable[Sequence[Any]],
    ) -> int:
        """Insert ``rows`` (streamed, ``chunk_rows`` at a time); returns the number of rows."""
        codecs = [self.codec(column) for column in columns]
        names = [column.name for column in columns]
        total = 0
        if self.rows_per_statement <= 1:
            sql = self.insert_sql(qualified_name, columns)
            for chunk in column_chunks(rows, codecs, names, qualified_name, self.chunk_rows):
                batch = list(zip(*chunk, strict=True))
                cursor.executemany(sql, batch)
                total += len(batch)
            return total
        per_statement = max(1, min(self.rows_per_statement, 10_000 // len(columns)))
        full_sql = self.insert_sql(qualified_name, columns, per_statement)
        for chunk in column_chunks(rows, codecs, names, qualified_name, per_statement):
            count = len(chunk[0])
            sql = full_sql if count == per_statement else self.insert_sql(qualified_name, columns, count)
            cursor.execute(sql, [value for row in zip(*chunk, strict=True) for value in row])
            total += count
        return total


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
        self, journal_mode: str | None = None, busy_timeout_ms: int = 30_000, sort_threads: int | None = None
    ) -> None:
        super().__init__("?")
        self.journal_mode = journal_mode
        self.busy_timeout_ms = busy_timeout_ms
        self.sort_threads = min(3, _usable_cpus() - 1) if sort_threads is None else sort_threads

    def qualify(self, schema: str | None, name: str) -> str:
        if schema not in (None, "", "main", "temp"):
            raise ValueError(
                f"SQLite has no schemas: schema={schema!r} is not possible (use table_prefix, or no schema)"
            )
        return super().qualify(schema, name)

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
        return _on_conflict_sql(self, target, source, columns, key, update_columns)

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


class PostgresDialect(Dialect):
    """PostgreSQL through psycopg 3 or psycopg2 (the Airflow ``PostgresHook`` connection)."""

    name = "postgres"
    type_names = {
        "text": "TEXT",
        "integer": "BIGINT",
        "float": "DOUBLE PRECISION",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMPTZ",
        "json": "JSONB",
    }
    if_not_exists = "IF NOT EXISTS "
    temp_table_suffix = " ON COMMIT DROP"
    copy_chunk_rows = 5_000

    def ensure_schema(self, cursor: Any, schema: str) -> None:
        # Checked first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when it exists.
        cursor.execute("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (schema,))
        if not cursor.fetchall():
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {self.quote(schema)}")

    def existing_columns(self, cursor: Any, schema: str | None, name: str) -> list[str] | None:
        cursor.execute("SELECT to_regclass(%s)::oid", (self.qualify(schema, name),))
        row = cursor.fetchone()
        if row is None or row[0] is None:
            return None
        cursor.execute(
            "SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = %s AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum",
            (row[0],),
        )
        return [str(r[0]) for r in cursor.fetchall()]

    def upsert_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> str:
        return _on_conflict_sql(self, target, source, columns, key, update_columns)

    def begin(self, connection: Any, write: bool = True) -> None:
        if getattr(connection, "autocommit", False) is True:
            connection.autocommit = False
        cursor = connection.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")  # date(timestamptz) and friends in UTC
        cursor.close()

    def lock_sql(self) -> str | None:
        return "SELECT pg_advisory_xact_lock(hashtext(%s))"

    def bulk_insert(
        self,
        cursor: Any,
        qualified_name: str,
        columns: Sequence[Column],
        rows: Iterable[Sequence[Any]],
    ) -> int:
        """``COPY .. FROM STDIN`` (text format), streamed in chunks; executemany for other drivers."""
        if not (hasattr(cursor, "copy") or hasattr(cursor, "copy_expert")):
            return super().bulk_insert(cursor, qualified_name, columns, rows)
        codecs = [_COPY_CODECS[column.type] for column in columns]
        names = [column.name for column in columns]
        counted = [0]

        def chunks() -> Iterable[bytes]:
            for chunk in column_chunks(rows, codecs, names, qualified_name, self.copy_chunk_rows):
                counted[0] += len(chunk[0])
                yield ("\n".join(map("\t".join, zip(*chunk, strict=True))) + "\n").encode()

        quoted = ", ".join(self.quote(name) for name in names)
        sql = f"COPY {qualified_name} ({quoted}) FROM STDIN"
        if hasattr(cursor, "copy"):  # psycopg 3
            with cursor.copy(sql) as copy:
                for data in chunks():
                    copy.write(data)
        else:  # psycopg2, which reports errors raised by read() as a cancelled COPY
            reader = _IterableReader(chunks())
            try:
                cursor.copy_expert(sql, reader)
            except Exception:
                if reader.error is not None:
                    raise reader.error from None
                raise
        return counted[0]


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

    def begin(self, connection: Any, write: bool = True) -> None:
        cursor = connection.cursor()
        cursor.execute("BEGIN")  # the connector autocommits by default
        cursor.close()


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


def _on_conflict_sql(
    dialect: Dialect,
    target: str,
    source: str,
    columns: Sequence[str],
    key: Sequence[str],
    update_columns: Sequence[str],
) -> str:
    """``INSERT .. SELECT .. ON CONFLICT`` (SQLite and PostgreSQL)."""
    q = dialect.quote
    names = ", ".join(q(c) for c in columns)
    # "WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join constraint.
    sql = f"INSERT INTO {target} ({names}) SELECT {names} FROM {source} AS src WHERE true"
    conflict = ", ".join(q(k) for k in key)
    if not update_columns:
        return sql + f" ON CONFLICT ({conflict}) DO NOTHING"
    sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update_columns)
    return sql + f" ON CONFLICT ({conflict}) DO UPDATE SET {sets}"


_COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # Linux: the CPUs this process may run on
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _copy_escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.translate(_COPY_ESCAPES)
    if "\x00" in text:
        raise ValueError("PostgreSQL text cannot contain NUL (\\x00) characters")
    return text


def _copy_text_column(values: Sequence[str]) -> Sequence[str]:
    joined = "".join(values)  # one C-speed scan instead of one per value
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined or "\x00" in joined:
        return list(map(_copy_escape, values))
    return values


def _copy_codec(encode: Converter, fast_types: tuple[type, ...], fast: Callable[..., Any] | None) -> Codec:
    def convert(value: Any) -> str:
        return _COPY_NULL if value is None else encode(value)

    return Codec(convert, frozenset(fast_types), fast)


def _map(function: Callable[[Any], Any]) -> Callable[[Sequence[Any]], list[Any]]:
    return lambda values: list(map(function, values))


_BOOLEAN_TEXT = {True: "t", False: "f"}
# Values of PostgreSQL's COPY text format; naive datetimes are UTC because the session time zone is.
_COPY_CODECS: dict[str, Codec] = {
    "text": _copy_codec(lambda v: _copy_escape(to_text(v)), (str,), _copy_text_column),
    "integer": _copy_codec(lambda v: str(to_integer(v)), (int,), _map(str)),
    "float": _copy_codec(lambda v: repr(to_float(v)), (float,), _map(repr)),
    "boolean": _copy_codec(lambda v: _BOOLEAN_TEXT[to_boolean(v)], (bool,), _map(_BOOLEAN_TEXT.__getitem__)),
    "date": _copy_codec(lambda v: to_date(v).isoformat(), (date,), _map(date.isoformat)),
    "timestamp": _copy_codec(lambda v: to_timestamp(v).isoformat(), (datetime,), _map(datetime.isoformat)),
    "json": _copy_codec(lambda v: _copy_escape(to_json_text(v)), (), None),
}
# Python types a driver takes as they are, per column type.
_NATIVE_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "integer": (int,),
    "float": (float,),
    "boolean": (bool,),
    "date": (date,),
}
_SQLITE_CODECS: dict[str, Codec] = {
    "text": codec(to_text, (str,), unchanged),
    "integer": codec(to_integer, (int,), unchanged),
    "float": codec(to_float, (float,), unchanged),
    "boolean": codec(boolean_integer, (bool,), _map(int)),
    "date": codec(date_text, (date,), _map(date.isoformat)),
    "timestamp": codec(timestamp_text),
    "json": codec(to_json_text),
}


class _IterableReader:
    """A read-only file over an iterable of byte chunks (what psycopg2's copy_expert reads from)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self.error: Exception | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return next(self._chunks, b"")
        except Exception as exc:
            self.error = exc
            raise

    readline = read


_DIALECTS: dict[str, type[Dialect]] = {
    "sqlite": SqliteDialect,
    "postgres": PostgresDialect,
    "postgresql": PostgresDialect,
    "snowflake": SnowflakeDialect,
    "bigquery": BigQueryDialect,
    "gcpbigquery": BigQueryDialect,
    "google_cloud_platform": BigQueryDialect,
}


def dialect_for(name_or_conn_type: str, *, placeholder: str | None = None) -> Dialect:
    """The dialect for a dialect name or Airflow conn type; the generic ANSI dialect for anything else.

    :param name_or_conn_type: e.g. ``sqlite``, ``postgres``/``postgresql``, ``snowflake``,
        ``bigquery``/``gcpbigquery``, or any other conn type (generic).
    :param placeholder: the driver's parameter marker, for the generic dialect (default ``%s``).
    """
    key = name_or_conn_type.strip().lower().split("+")[0]
    dialect_class = _DIALECTS.get(key)
    if dialect_class is SqliteDialect:
        return SqliteDialect()
    if dialect_class is not None:
        return dialect_class()
    return Dialect(placeholder or "%s")
