"""SQL helpers the loading and summary jobs share; what differs between engines is asked of the
dialect (:mod:`airflow_sigma.warehouse.generic` and one module per engine)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from airflow_sigma.warehouse import TempTable, Transaction


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


def holds_rows(tx: Transaction, table: str) -> bool:
    """Whether ``table`` (its name for SQL) holds a row: a first load skips work that only stored rows
    need, and indexes the table after its bulk insert."""
    [(found,)] = tx.query(f"SELECT CASE WHEN EXISTS (SELECT 1 FROM {table}) THEN 1 ELSE 0 END")
    return bool(int(found))


def ensure_index(tx: Transaction, table: str, unqualified_table: str, columns: Sequence[str]) -> None:
    """Create an index on ``columns`` of ``table`` where the engine has indexes (SQLite, PostgreSQL).

    :param table: the table's name for SQL (qualified, quoted).
    :param unqualified_table: the table's plain name, used to name the index.
    :param columns: the indexed columns.
    """
    sql = tx.dialect.create_index_sql(tx.warehouse.schema, table, unqualified_table, columns)
    if sql is not None:
        tx.execute(sql)


def index_temp_table(tx: Transaction, temp: TempTable, columns: Sequence[str]) -> None:
    """Index ``columns`` of a temp table where the engine has indexes (SQLite, PostgreSQL), so that
    catalog-sized joins and ``NOT EXISTS`` probes seek instead of scanning it once per outer row."""
    sql = tx.dialect.create_index_sql(None, temp.name, temp.name.strip('"'), columns)
    if sql is not None:
        tx.execute(sql)


@contextmanager
def through_indexes(tx: Transaction) -> Iterator[None]:
    """Run the block's statements reading stored tables only through their indexes, whatever the
    engine estimates (see :meth:`~airflow_sigma.warehouse.Dialect.through_indexes_sql`)."""
    before, after = tx.dialect.through_indexes_sql()
    for sql in before:
        tx.execute(sql)
    yield
    for sql in after:
        tx.execute(sql)
