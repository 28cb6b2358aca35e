"""SQL constructs the loading jobs need that differ between databases, asked of the Dialect.

These belong in :mod:`airflow_sigma.warehouse.dialects` eventually (one method each on ``Dialect``);
until then they branch on ``dialect.name`` here and fall back to ANSI SQL for the generic dialect.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from airflow_sigma.warehouse import Dialect, Transaction

_INDEXED_DIALECTS = ("sqlite", "postgres")


def from_text(dialect: Dialect, expression: str, column_type: str) -> str:
    """``expression``, text as staged (``...Z`` timestamps, ``YYYY-MM-DD`` dates, JSON), as ``column_type``.

    SQLite stores those types as text already, so the value passes through unchanged.
    """
    if dialect.name == "sqlite" or column_type == "text":
        return expression
    if column_type == "json" and dialect.name in ("snowflake", "bigquery"):
        return f"PARSE_JSON({expression})"
    return f"CAST({expression} AS {dialect.type_names[column_type]})"


def days_between(dialect: Dialect, later: str, earlier: str) -> str:
    """Whole days from the date ``earlier`` to the date ``later`` (both SQL expressions)."""
    if dialect.name == "sqlite":
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    if dialect.name == "snowflake":
        return f"DATEDIFF(day, {earlier}, {later})"
    if dialect.name == "bigquery":
        return f"DATE_DIFF({later}, {earlier}, DAY)"
    return f"({later} - {earlier})"  # PostgreSQL: date - date is an integer


def start_of_day(dialect: Dialect, day: str) -> str:
    """The timestamp at 00:00 UTC of the date ``day``."""
    if dialect.name == "sqlite":
        return f"({day} || 'T00:00:00.000000Z')"
    if dialect.name == "bigquery":
        return f"TIMESTAMP({day})"
    if dialect.name == "snowflake":
        return f"TO_TIMESTAMP_TZ({day} || ' 00:00:00 +00:00', 'YYYY-MM-DD HH24:MI:SS TZH:TZM')"
    return f"CAST({day} AS {dialect.type_names['timestamp']})"  # the session time zone is UTC


def loose_text(expression: str) -> str:
    """``expression`` lower-cased without spaces, underscores and hyphens (portable SQL)."""
    inner = f"LOWER(TRIM({expression}))"
    for char in (" ", "_", "-"):
        inner = f"REPLACE({inner}, '{char}', '')"
    return inner


def loose_value(value: str) -> str:
    """The Python twin of :func:`loose_text`."""
    return re.sub(r"[ _-]", "", value.strip().lower())


def string_literals(values: Sequence[str]) -> str:
    """``'a', 'b'`` for an IN list of constant strings (quotes doubled)."""
    return ", ".join("'" + value.replace("'", "''") + "'" for value in values)


def ensure_index(tx: Transaction, table: str, unqualified_table: str, columns: Sequence[str]) -> None:
    """Create an index on ``columns`` of ``table`` when the database has indexes (SQLite, PostgreSQL).

    :param table: the table's name for SQL (qualified, quoted).
    :param unqualified_table: the table's plain name, used to name the index.
    :param columns: the indexed columns.
    """
    dialect = tx.dialect
    if dialect.name not in _INDEXED_DIALECTS:
        return  # Snowflake and BigQuery have no indexes; the generic dialect may not either
    name = dialect.quote(f"{unqualified_table}_{'_'.join(columns)}_idx")
    schema = tx.warehouse.schema
    if dialect.name == "sqlite":  # SQLite puts the schema on the index name, never on the table
        name = f"{dialect.quote(schema)}.{name}" if schema else name
        table = dialect.quote(unqualified_table)
    names = ", ".join(dialect.quote(column) for column in columns)
    tx.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({names})")


def insert_sums_sql(dialect: Dialect, target: str, keys: Sequence[str], value: str, source: str) -> str:
    """Insert into ``target`` (keyed by ``keys``, holding none of the rows yet) the sum of ``value``
    per ``keys`` over ``source`` (a table name, optionally followed by ``WHERE ..``).

    On SQLite each row is added, in key order, to its target row (``ON CONFLICT DO UPDATE``): the same
    sums as a ``GROUP BY``, about 20% faster, SQLite's ``GROUP BY`` costing more than the sort it needs.
    On PostgreSQL the sums are inserted in key order, so that the primary-key inserts are sequential.
    """
    listed = ", ".join(keys)
    if dialect.name == "sqlite":
        return (
            f"INSERT INTO {target} ({listed}, {value}) SELECT {listed}, {value} FROM {source} "
            f"ORDER BY {listed} ON CONFLICT ({listed}) DO UPDATE SET {value} = {value} + excluded.{value}"
        )
    ordered = f" ORDER BY {listed}" if dialect.name == "postgres" else ""
    return (
        f"INSERT INTO {target} ({listed}, {value}) SELECT {listed}, SUM({value}) FROM {source} "
        f"GROUP BY {listed}{ordered}"
    )


def upsert_changed_sql(
    dialect: Dialect,
    target: str,
    source: str,
    columns: Sequence[str],
    key: Sequence[str],
    update_columns: Sequence[str],
) -> list[str]:
    """Statements that do what ``dialect.upsert_sql`` does, except that a row whose values are all
    unchanged is not rewritten.

    Re-reading an export (every run re-reads ``days_back`` days of them) then costs no writes, dead
    tuples or WAL for the events already stored. SQLite and PostgreSQL only; other dialects get the
    plain upsert (BigQuery cannot compare JSON values). On PostgreSQL an ``UPDATE`` of the changed rows
    then an ``INSERT`` of the new ones: ``ON CONFLICT`` inserts each row speculatively, which made a
    first load of 2.5 million events 1.6x slower. The caller must keep other writers out of ``target``
    (the loader holds its lock) until the transaction ends.
    """
    if dialect.name not in ("sqlite", "postgres") or not update_columns:
        return [dialect.upsert_sql(target, source, columns, key, update_columns)]
    q = dialect.quote
    names = ", ".join(q(c) for c in columns)
    old = ", ".join(f"tgt.{q(c)}" for c in update_columns)
    if dialect.name == "postgres":
        sets = ", ".join(f"{q(c)} = src.{q(c)}" for c in update_columns)
        new = ", ".join(f"src.{q(c)}" for c in update_columns)
        same_key = " AND ".join(f"tgt.{q(k)} = src.{q(k)}" for k in key)
        return [
            f"UPDATE {target} AS tgt SET {sets} FROM {source} AS src "
            f"WHERE {same_key} AND ({old}) IS DISTINCT FROM ({new})",
            f"INSERT INTO {target} ({names}) SELECT {names} FROM {source} AS src "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS tgt WHERE {same_key})",
        ]
    sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in update_columns)
    new = ", ".join(f"excluded.{q(c)}" for c in update_columns)
    return [
        f"INSERT INTO {target} AS tgt ({names}) SELECT {names} FROM {source} AS src WHERE true "
        f"ON CONFLICT ({', '.join(q(k) for k in key)}) DO UPDATE SET {sets} WHERE ({old}) IS NOT ({new})"
    ]
