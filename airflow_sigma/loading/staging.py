"""Appending Arrow batches to a staging table, by the engine's own bulk path (COPY on PostgreSQL,
executemany elsewhere; see ``Dialect.append_arrays``)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

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
    if not len(arrays[0]):
        return 0
    return tx.dialect.append_arrays(tx.cursor, staging.name, staging.columns, arrays)
