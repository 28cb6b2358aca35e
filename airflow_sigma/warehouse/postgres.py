"""PostgreSQL through psycopg 3 or psycopg2 (the Airflow ``PostgresHook`` connection): all of its SQL.

``timestamptz``, ``jsonb``, ``COPY`` bulk loads, ``INSERT .. ON CONFLICT`` upserts, advisory locks
between runs, and an ``UPDATE`` + ``INSERT`` merge that leaves unchanged rows alone.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from airflow_sigma.warehouse.generic import Dialect, map_values, on_conflict_sql
from airflow_sigma.warehouse.tables import Column
from airflow_sigma.warehouse.values import (
    Codec,
    Converter,
    column_chunks,
    to_boolean,
    to_date,
    to_float,
    to_integer,
    to_json_text,
    to_text,
    to_timestamp,
)


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
        return on_conflict_sql(self, target, source, columns, key, update_columns)

    def begin(self, connection: Any, write: bool = True) -> None:
        if getattr(connection, "autocommit", False) is True:
            connection.autocommit = False
        cursor = connection.cursor()
        cursor.execute("SET TIME ZONE 'UTC'")  # date(timestamptz) and friends in UTC
        # JIT compiles each statement estimated above jit_above_cost: up to a second per statement of a
        # load, more as history (hence the estimates) grows, for statements that run a few seconds.
        cursor.execute("SET jit = off")
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

    def append_arrays(
        self, cursor: Any, qualified_name: str, columns: Sequence[Column], arrays: Sequence[Any]
    ) -> int:
        """The batch written as CSV by pyarrow and sent with ``COPY .. FROM STDIN (FORMAT csv)`` (nulls
        are empty unquoted fields, empty strings quoted); executemany for other drivers."""
        if not (hasattr(cursor, "copy") or hasattr(cursor, "copy_expert")):
            return super().append_arrays(cursor, qualified_name, columns, arrays)
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        names = [column.name for column in columns]
        sink = pa.BufferOutputStream()
        options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
        pa_csv.write_csv(pa.Table.from_arrays(list(arrays), names=names), sink, options)
        data = sink.getvalue()
        sql = f"COPY {qualified_name} ({', '.join(map(self.quote, names))}) FROM STDIN WITH (FORMAT csv)"
        if hasattr(cursor, "copy"):  # psycopg 3
            with cursor.copy(sql) as copy:
                copy.write(memoryview(data))
        else:  # psycopg2
            cursor.copy_expert(sql, io.BytesIO(data.to_pybytes()))
        return len(arrays[0]) if arrays else 0

    # -- SQL the jobs build on ------------------------------------------------------------------------
    def create_index_sql(
        self, schema: str | None, table: str, unqualified_table: str, columns: Sequence[str]
    ) -> str | None:
        name = self.quote(f"{unqualified_table}_{'_'.join(columns)}_idx")
        names = ", ".join(self.quote(column) for column in columns)
        return f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({names})"

    def insert_sums_sql(self, target: str, keys: Sequence[str], value: str, source: str) -> str:
        """The sums inserted in key order, so that the primary-key inserts are sequential."""
        return super().insert_sums_sql(target, keys, value, source) + f" ORDER BY {', '.join(keys)}"

    def upsert_changed_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> list[str]:
        """An ``UPDATE`` of the changed rows, then an ``INSERT`` of the new ones: ``ON CONFLICT`` inserts
        each row speculatively, which made a first load of 2.5 million events 1.6x slower."""
        if not update_columns:
            return [self.upsert_sql(target, source, columns, key, update_columns)]
        q = self.quote
        names = ", ".join(q(c) for c in columns)
        old = ", ".join(f"tgt.{q(c)}" for c in update_columns)
        sets = ", ".join(f"{q(c)} = src.{q(c)}" for c in update_columns)
        new = ", ".join(f"src.{q(c)}" for c in update_columns)
        same_key = " AND ".join(f"tgt.{q(k)} = src.{q(k)}" for k in key)
        return [
            f"UPDATE {target} AS tgt SET {sets} FROM {source} AS src "
            f"WHERE {same_key} AND ({old}) IS DISTINCT FROM ({new})",
            f"INSERT INTO {target} ({names}) SELECT {names} FROM {source} AS src "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS tgt WHERE {same_key})",
        ]

    def update_changed_sql(
        self,
        target: str,
        source: str,
        columns: Sequence[str],
        key: Sequence[str],
        update_columns: Sequence[str],
    ) -> list[str]:
        """The ``UPDATE`` of :meth:`upsert_changed_sql` alone."""
        return self.upsert_changed_sql(target, source, columns, key, update_columns)[:1]

    def through_indexes_sql(self) -> tuple[list[str], list[str]]:
        """Sequential scans, hash and merge joins off: the run's rows are temp tables without
        statistics, and estimated, their join with the event table hashed all of it (5.3 million events,
        17 s, after a year of history); the rows of three days were read by a scan of all of them."""
        settings = ("enable_seqscan", "enable_hashjoin", "enable_mergejoin")
        return [f"SET LOCAL {name} = off" for name in settings], [f"RESET {name}" for name in settings]

    def keep_newest_sql(
        self, target: str, source: str, columns: Sequence[str], key: str, order: str, compared: Sequence[str]
    ) -> list[str]:
        """One sort of the staged rows, in ``order`` within each key, compared each with the row before
        it: the first row of each key is kept, and so are the rows that differ from the one before them
        (flagged 2), rare, then deleted once their key's kept row is flagged. A ``DISTINCT ON`` and
        then a join of every staged row with the row kept sorted them twice (13.1 s against 8.0 s for
        the 5 million rows of the benchmark); window functions partitioned by key took 11.5 s."""
        listed = ", ".join(columns)
        values = f"ROW({', '.join(compared)})"
        window = f"(ORDER BY {key}, {order})"
        first = f"{key} IS DISTINCT FROM LAG({key}) OVER {window}"
        changed = (
            f"{key} = LAG({key}) OVER {window} AND {values} IS DISTINCT FROM LAG({values}) OVER {window}"
        )
        return [
            f"INSERT INTO {target} ({listed}, conflicting) SELECT {listed}, sigma_flag FROM (SELECT "
            f"{listed}, CASE WHEN {first} THEN 0 WHEN {changed} THEN 2 END AS sigma_flag FROM {source}) "
            "flagged WHERE sigma_flag IS NOT NULL",
            f"WITH changed AS (DELETE FROM {target} WHERE conflicting = 2 RETURNING {key}) UPDATE {target} "
            f"SET conflicting = 1 WHERE conflicting = 0 AND {key} IN (SELECT {key} FROM changed)",
        ]


_COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


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


_BOOLEAN_TEXT = {True: "t", False: "f"}
# Values of PostgreSQL's COPY text format; naive datetimes are UTC because the session time zone is.
_COPY_CODECS: dict[str, Codec] = {
    "text": _copy_codec(lambda v: _copy_escape(to_text(v)), (str,), _copy_text_column),
    "integer": _copy_codec(lambda v: str(to_integer(v)), (int,), map_values(str)),
    "float": _copy_codec(lambda v: repr(to_float(v)), (float,), map_values(repr)),
    "boolean": _copy_codec(
        lambda v: _BOOLEAN_TEXT[to_boolean(v)], (bool,), map_values(_BOOLEAN_TEXT.__getitem__)
    ),
    "date": _copy_codec(lambda v: to_date(v).isoformat(), (date,), map_values(date.isoformat)),
    "timestamp": _copy_codec(
        lambda v: to_timestamp(v).isoformat(), (datetime,), map_values(datetime.isoformat)
    ),
    "json": _copy_codec(lambda v: _copy_escape(to_json_text(v)), (), None),
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
