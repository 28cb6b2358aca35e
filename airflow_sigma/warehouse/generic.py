"""Generic ANSI SQL: the :class:`Dialect` every warehouse engine module specialises.

Each engine has one module holding all of its SQL and load path: :mod:`~airflow_sigma.warehouse.sqlite`,
:mod:`~airflow_sigma.warehouse.postgres`, :mod:`~airflow_sigma.warehouse.snowflake` and
:mod:`~airflow_sigma.warehouse.bigquery`. :class:`Dialect` itself is the fallback for any other DB-API
connection: information_schema introspection, ``MERGE`` upserts, DB-API ``executemany`` loads. Adding
an engine means adding one module with a subclass and registering its conn types in
:mod:`~airflow_sigma.warehouse.dialects`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from airflow_sigma.warehouse.tables import COLUMN_TYPES, Column, Table
from airflow_sigma.warehouse.values import (
    CANONICAL,
    Codec,
    Converter,
    codec,
    column_chunks,
    to_json_text,
    to_timestamp,
    unchanged,
)


@dataclass(frozen=True)
class Endpoint:
    """How to reach a warehouse given by an Airflow connection.

    :param connect: returns a new DB-API connection each call.
    :param description: names it in messages: the connection id, and the file for SQLite.
    :param local_dirs: directories on this machine the database writes to (for a disk-full message).
    """

    connect: Callable[[], Any]
    description: str
    local_dirs: tuple[str, ...] = ()


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

    #: Whether a DDL statement commits the open transaction (Snowflake): then every table and staging
    #: table is created before the first write, and the transaction begins at that write.
    ddl_commits = False

    def begin_writes(self, cursor: Any) -> None:
        """Called before the first write of a transaction (after its DDL); nothing by default."""

    def bind_schema(self, schema: str | None) -> None:
        """Told the schema of the :class:`~airflow_sigma.warehouse.Warehouse` it serves (nothing by
        default; BigQuery puts its load jobs' staging tables there)."""

    def begin(self, connection: Any, write: bool = True) -> None:
        """Prepare a fresh connection so that everything up to commit is one transaction.

        :param write: False for transactions that only read (SQLite then takes no write lock).
        """

    def sql_hook(self, conn_id: str, hook_params: dict[str, Any] | None) -> Any:
        """A SQL hook on ``conn_id`` when the connection type's own hook is not one (None by default).

        :param conn_id: the Airflow connection id.
        :param hook_params: passed to the hook's constructor.
        """
        return None

    def endpoint(self, conn_id: str, connection: Any, hook: Any) -> Endpoint:
        """Check the Airflow ``connection`` and say how to connect (default: the hook's ``get_conn``).

        :param conn_id: the connection id, for messages.
        :param connection: the Airflow connection.
        :param hook: its common-sql hook.
        :raises WarehouseConnectionError: the connection cannot work.
        """
        return Endpoint(hook.get_conn, f"warehouse connection {conn_id!r}")

    def check_writable(self, cursor: Any) -> None:
        """Fail now if the database refuses writes (inside a transaction that is then rolled back)."""

    def check_privileges(self, cursor: Any, schema: str | None) -> None:
        """Fail now, naming the privilege and the grant, if the connection's role lacks one the jobs
        need (nothing by default: the first statement that needs it fails).

        :param schema: the schema of the tables (None: the connection's default).
        :raises WarehouseConnectionError: a privilege is missing.
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
            cursor.execute(sql, self.statement_params(columns, chunk))
            total += count
        return total

    def statement_params(self, columns: Sequence[Column], chunk: Sequence[Sequence[Any]]) -> list[Any]:
        """The parameters of one multi-row ``INSERT`` from a chunk of encoded columns, row after row."""
        return [value for row in zip(*chunk, strict=True) for value in row]

    def prepare_staging(self, cursor: Any) -> None:
        """Create what :meth:`array_load` needs besides the staging tables (a stage on Snowflake); run
        with the first temp table of a transaction, so before its first write. Nothing by default."""

    def array_load(self, cursor: Any, qualified_name: str, columns: Sequence[Column]) -> ArrayLoad:
        """How batches appended to the staging table ``qualified_name`` reach it: by default each batch
        at once, through :meth:`append_arrays`."""
        return ArrayLoad(self, cursor, qualified_name, columns)

    def append_arrays(
        self, cursor: Any, qualified_name: str, columns: Sequence[Column], arrays: Sequence[Any]
    ) -> int:
        """Append one batch of Arrow arrays (in the order of ``columns``) to a staging table.

        Values are handed over column by column: one ``to_pylist`` per array, no per-row objects beyond
        the tuples the driver needs. :return: the number of rows written.
        """
        rows = zip(*(array.to_pylist() for array in arrays), strict=True)
        return self.bulk_insert(cursor, qualified_name, columns, rows)

    # -- SQL the loading and summary jobs build on ---------------------------------------------------
    #: Whether :class:`~airflow_sigma.loading.merge.StagedMerge` stages into a scratch database written
    #: through ADBC and attached to the run's connection (SQLite) instead of a temp table.
    stages_in_scratch = False

    def from_text(self, expression: str, column_type: str) -> str:
        """``expression``, text as staged (``...Z`` timestamps, ``YYYY-MM-DD`` dates, JSON), as
        ``column_type``."""
        if column_type == "text":
            return expression
        return f"CAST({expression} AS {self.type_names[column_type]})"

    def days_between(self, later: str, earlier: str) -> str:
        """Whole days from the date ``earlier`` to the date ``later`` (both SQL expressions)."""
        return f"({later} - {earlier})"

    def start_of_day(self, day: str) -> str:
        """The timestamp at 00:00 UTC of the date ``day``."""
        return f"CAST({day} AS {self.type_names['timestamp']})"

    def epoch_micros_text(self, timestamp: str) -> str:
        """The UTC epoch microseconds of the stored timestamp ``timestamp`` as decimal text, the way
        Python writes the integer (what event keys start with)."""
        micros = f"CAST(EXTRACT(EPOCH FROM {timestamp}) * 1000000 AS {self.type_names['integer']})"
        return f"CAST({micros} AS {self.type_names['text']})"

    def create_index_sql(
        self, schema: str | None, table: str, unqualified_table: str, columns: Sequence[str]
    ) -> str | None:
        """``CREATE INDEX IF NOT EXISTS`` on ``columns`` of ``table``, or None where the database has
        no indexes (or the generic dialect cannot know).

        :param table: the table's name for SQL (qualified, quoted).
        :param unqualified_table: the table's plain name, used to name the index.
        """
        return None

    def insert_sums_sql(self, target: str, keys: Sequence[str], value: str, source: str) -> str:
        """Insert into ``target`` (keyed by ``keys``, holding none of the rows yet) the sum of ``value``
        per ``keys`` over ``source`` (a table name, optionally followed by ``WHERE ..``)."""
        listed = ", ".join(keys)
        return (
            f"INSERT INTO {target} ({listed}, {value}) SELECT {listed}, SUM({value}) FROM {source} "
            f"GROUP BY {listed}"
        )

    def upsert_statements(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> list[str]:
        """The statements of :meth:`upsert_sql` (one, unless the engine upserts in several)."""
        return [self.upsert_sql(target, source, columns, key, update_columns)]

    def upsert_changed_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> list[str]:
        """Statements that do what :meth:`upsert_sql` does, except that a row whose values are all
        unchanged is not rewritten where the engine can tell (re-reading an export then costs no
        writes). The caller keeps other writers out of ``target`` until the transaction ends."""
        return self.upsert_statements(target, source, columns, key, update_columns)

    def update_changed_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> list[str]:
        """Statements that update the rows of ``target`` from ``source``, every key of which ``target``
        holds already, leaving unchanged rows alone where the engine can tell."""
        return self.upsert_changed_sql(target, source, columns, key, update_columns)

    def through_indexes_sql(self) -> tuple[list[str], list[str]]:
        """Statements that make the next ones read stored tables only through their indexes (a lookup
        by key per row of the run, the rows of the run's days), whatever the planner estimates, and
        statements that undo it. Planned by estimates, a join of the run's rows with a stored table may
        read all of it instead, a cost that grows with history."""
        return [], []

    def keep_newest_sql(
        self, target: str, source: str, columns: Sequence[str], key: str, order: str, compared: Sequence[str]
    ) -> list[str]:
        """Statements inserting into ``target`` the row of ``source`` that sorts first by ``order`` per
        ``key``, with ``conflicting`` set to 1 when the ``compared`` columns of the key's rows differ,
        else 0: in one pass, which compares each row with the one before it in the same order (rows are
        all alike exactly when no row differs from the one before it).

        :param columns: the columns copied (quoted).
        :param key: the partition column (quoted).
        :param order: an ``ORDER BY`` list.
        :param compared: the columns (quoted) whose values make copies differ.
        """
        listed = ", ".join(columns)
        window = f"(PARTITION BY {key} ORDER BY {order})"
        changed = " OR ".join(f"{c} IS DISTINCT FROM LAG({c}, 1, {c}) OVER {window}" for c in compared)
        return [
            f"INSERT INTO {target} ({listed}, conflicting) SELECT {listed}, conflicting FROM (SELECT "
            f"{listed}, sigma_rank, MAX(sigma_changed) OVER (PARTITION BY {key}) AS conflicting FROM "
            f"(SELECT s.*, ROW_NUMBER() OVER {window} AS sigma_rank, CASE WHEN {changed or '1 = 0'} THEN 1 "
            f"ELSE 0 END AS sigma_changed FROM {source} s) changed) ranked WHERE sigma_rank = 1"
        ]


class ArrayLoad:
    """Batches of Arrow arrays appended to one staging table during a transaction
    (:meth:`Transaction.append_arrays <airflow_sigma.warehouse.Transaction.append_arrays>`).

    This one writes each batch at once with :meth:`Dialect.append_arrays`; an engine may instead buffer
    them and load them in bulk at :meth:`flush`, which the transaction calls before its next statement.
    """

    def __init__(self, dialect: Dialect, cursor: Any, qualified_name: str, columns: Sequence[Column]) -> None:
        self.dialect, self.cursor, self.name, self.columns = dialect, cursor, qualified_name, tuple(columns)

    def write(self, arrays: Sequence[Any]) -> int:
        """Append one batch (arrays in the order of the columns); returns its number of rows."""
        return self.dialect.append_arrays(self.cursor, self.name, self.columns, arrays)

    def flush(self) -> None:
        """Make every row written so far visible to SQL (nothing to do here)."""

    def discard(self) -> None:
        """Drop what was written but not flushed (the transaction failed); nothing to do here."""


def on_conflict_sql(
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


def map_values(function: Callable[[Any], Any]) -> Callable[[Sequence[Any]], list[Any]]:
    """A column-at-a-time converter applying ``function`` to each value."""
    return lambda values: list(map(function, values))


# Python types a driver takes as they are, per column type.
_NATIVE_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "integer": (int,),
    "float": (float,),
    "boolean": (bool,),
    "date": (date,),
}
