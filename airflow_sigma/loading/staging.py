"""Appending Arrow batches to a staging table: COPY on PostgreSQL, executemany elsewhere.

Values are handed over column by column: one ``to_pylist`` per column and batch, no per-row Python
objects beyond the tuples the driver needs. On PostgreSQL the batch is written as CSV by pyarrow and
sent with ``COPY .. FROM STDIN (FORMAT csv)`` (nulls are empty unquoted fields, empty strings quoted).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv

from airflow_sigma.warehouse import TempTable, Transaction


def constant_column(value: int, size: int) -> pa.Array:
    """An int64 column holding ``value`` ``size`` times."""
    return pa.repeat(pa.scalar(value, pa.int64()), size)


def append_arrays(tx: Transaction, staging: TempTable, arrays: Sequence[pa.Array]) -> int:
    """Append one batch, given as arrays in the order of the staging table's columns.

    :return: the number of rows written.
    """
    if len(arrays) != len(staging.columns):
        raise ValueError(f"{staging.name}: {len(arrays)} arrays for {len(staging.columns)} columns")
    size = len(arrays[0])
    if not size:
        return 0
    cursor = tx.cursor
    if tx.dialect.name == "postgres" and (hasattr(cursor, "copy") or hasattr(cursor, "copy_expert")):
        _copy_csv(cursor, staging, arrays, tx.dialect.quote)
        return size
    return tx.insert_rows(staging, zip(*(array.to_pylist() for array in arrays), strict=True))


def _copy_csv(
    cursor: Any, staging: TempTable, arrays: Sequence[pa.Array], quote: Callable[[str], str]
) -> None:
    names = [column.name for column in staging.columns]
    sink = pa.BufferOutputStream()
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    pa_csv.write_csv(pa.Table.from_arrays(list(arrays), names=names), sink, options)
    data = sink.getvalue()
    sql = f"COPY {staging.name} ({', '.join(map(quote, names))}) FROM STDIN WITH (FORMAT csv)"
    if hasattr(cursor, "copy"):  # psycopg 3
        with cursor.copy(sql) as copy:
            copy.write(memoryview(data))
    else:  # psycopg2
        cursor.copy_expert(sql, io.BytesIO(data.to_pybytes()))
