"""Helpers for the event-reader tests: read a whole CSV given as bytes, checking the accounting."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from airflow_sigma.events import (
    AUDIT_EVENT_SCHEMA,
    IMPRESSION_SCHEMA,
    FileStats,
    read_audit_events,
    read_impressions,
)

Reader = Callable[..., tuple[Any, FileStats]]


def read_all(data: bytes, reader: Reader = read_impressions, **options: Any) -> tuple[pa.Table, FileStats]:
    """Read ``data`` to the end and check the invariants every file must keep."""
    batches, stats = reader(io.BytesIO(data), "mem://test.csv", **options)
    schema = IMPRESSION_SCHEMA if reader is read_impressions else AUDIT_EVENT_SCHEMA
    table = pa.Table.from_batches(list(batches), schema=schema)
    assert stats.complete
    assert stats.rows_read == stats.rows_accepted + stats.rows_filtered + stats.bad_total, stats
    assert stats.rows_accepted == table.num_rows
    return table, stats


def read_audit(data: bytes, **options: Any) -> tuple[pa.Table, FileStats]:
    """:func:`read_all` with :func:`read_audit_events`."""
    return read_all(data, read_audit_events, **options)


def csv_bytes(header: str, *rows: str, newline: str = "\n") -> bytes:
    """A CSV file from a header and rows, all ending with ``newline``."""
    return "".join(line + newline for line in (header, *rows)).encode("utf-8")


IMPRESSION_HEADER = "request_time,user_email,workbook_url_id,element_id,count"
