"""Retention by date: keep the newest N dates of dated tables (catalog snapshots, usage summaries).

The tasks that write those tables apply it at the end of their own transaction, so a run and its
retention commit together. Audit history is never touched. The cut-off date is found by walking the
distinct dates from the newest down through the index on the date column (at most N index seeks, in
one recursive query), so finding it costs the same however many rows each date holds.
"""

from __future__ import annotations

from datetime import date

from airflow_sigma.warehouse.session import Transaction
from airflow_sigma.warehouse.tables import Table

DEFAULT_KEEP_SNAPSHOTS = 90
DEFAULT_KEEP_USAGE_DATES = 90


def check_keep(name: str, value: object) -> int | None:
    """``value`` as a number of dates to keep: a whole number >= 1, or None to keep every date."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, or None to keep every date; got {value!r}")
    return value


def oldest_kept(tx: Transaction, table: Table, column: str, keep: int) -> date | None:
    """The oldest of the ``keep`` newest distinct dates of ``column`` in ``table`` (None when empty)."""
    name, p = tx.table_name(table), tx.placeholder
    sql = (
        f"WITH RECURSIVE kept (d, n) AS (SELECT MAX({column}), 1 FROM {name} UNION ALL "
        f"SELECT (SELECT MAX({column}) FROM {name} WHERE {column} < kept.d), n + 1 FROM kept "
        f"WHERE n < {p} AND kept.d IS NOT NULL) SELECT MIN(d) FROM kept"
    )
    return tx.query(sql, [keep], types=["date"])[0][0]


def keep_newest(tx: Transaction, tables: tuple[Table, ...], column: str, keep: int | None) -> date | None:
    """Delete the rows of ``tables`` dated before the ``keep`` newest dates of the first table.

    :param tables: tables dated by ``column``; the first one decides which dates exist.
    :param keep: how many dates to keep; None keeps everything.
    :return: the oldest date kept (None when nothing was deleted or kept).
    """
    if keep is None:
        return None
    oldest = oldest_kept(tx, tables[0], column, keep)
    if oldest is not None:
        for table in tables:
            tx.execute(f"DELETE FROM {tx.table_name(table)} WHERE {column} < {tx.placeholder}", [oldest])
    return oldest
