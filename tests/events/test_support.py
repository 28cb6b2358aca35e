"""Stats helpers, email hashing, the read-ahead thread and the package's lazy imports."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections.abc import Generator, Iterator

import pyarrow as pa
import pytest

from airflow_sigma.events import (
    FileStats,
    TooManyBadRowsError,
    check_bad_row_fraction,
    hash_email,
    hash_emails,
)
from airflow_sigma.events.prefetch import prefetch
from tests.events._util import csv_bytes, read_all


def _stats(uri: str, read: int, filtered: int, bad: int) -> FileStats:
    stats = FileStats(uri, rows_read=read, rows_filtered=filtered, rows_accepted=read - filtered - bad)
    if bad:
        stats.bad_rows["bad_timestamp"] = bad
    return stats


def test_bad_row_fraction_across_a_run() -> None:
    files = [_stats("a.csv", 100, 50, 5), _stats("b.csv", 50, 0, 0)]
    assert check_bad_row_fraction(files, 0.04) == pytest.approx(5 / 150)
    with pytest.raises(TooManyBadRowsError) as info:
        check_bad_row_fraction(files, 0.01)
    assert "5 of 150 rows (3.33%)" in str(info.value)
    assert "a.csv: 100 rows read, 45 accepted, 50 filtered out, 5 bad (bad_timestamp=5)" in str(info.value)
    assert "b.csv" not in str(info.value)
    assert check_bad_row_fraction([], 0.0) == 0.0


def test_file_stats_helpers() -> None:
    stats = _stats("a.csv", 10, 2, 4)
    assert stats.bad_total == 4 and stats.balanced and stats.bad_fraction == 0.4
    stats.rows_accepted += 1
    assert not stats.balanced


def test_malformed_rows_of_a_mostly_filtered_raw_export_are_a_share_of_all_rows_read() -> None:
    header = "Request Time,User Email,Workbook URL ID,Event Type,Event Name"
    rows = [
        f"2024-05-01T10:00:{n % 60:02d}Z,u{n}@x.com,wbA,"
        + ("OBJECT_INTERACTION,view_workbook" if n % 50 == 0 else "QUERY_EXECUTIONS,run_query")
        for n in range(1000)
    ]
    rows += ["2024-05-01T10:00:00Z,u@x.com,wbA,QUERY_EXECUTIONS,run_query,EXTRA"] * 5
    _, stats = read_all(csv_bytes(header, *rows))
    assert (stats.rows_read, stats.rows_accepted, stats.rows_filtered, stats.bad_total) == (1005, 20, 980, 5)
    assert check_bad_row_fraction([stats], 0.01) == pytest.approx(5 / 1005)


def test_hash_email() -> None:
    expected = hashlib.sha256(b"saltann@example.com").hexdigest()
    assert hash_email(" Ann@Example.com ", "salt") == expected
    assert hash_email("", "salt") == ""
    assert hash_email("ann@example.com", "other") != expected
    hashed = hash_emails(pa.chunked_array([["Ann@Example.com", None], ["ann@example.com"]]), "salt")
    assert hashed.to_pylist() == [expected, None, expected]


def test_prefetch_yields_everything_in_order() -> None:
    assert list(prefetch(iter(range(50)), depth=3)) == list(range(50))


def test_prefetch_reraises_errors_from_the_worker() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("boom in the worker")

    items = prefetch(failing())
    assert next(items) == 1
    with pytest.raises(ValueError, match="boom in the worker"):
        next(items)


def test_prefetch_stops_the_worker_when_the_consumer_stops() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    items = prefetch(endless())
    assert isinstance(items, Generator)
    assert next(items) == 1
    items.close()  # joins the worker
    assert closed.is_set()
    assert not any(t.name == "sigma-events-prefetch" and t.is_alive() for t in threading.enumerate())


def test_importing_the_package_does_not_import_pyarrow() -> None:
    code = (
        "import sys, airflow_sigma.events as e; e.FileStats; e.EventFileError; e.BadRowKind;"
        "assert 'pyarrow' not in sys.modules, 'pyarrow imported';"
        "e.read_impressions; assert 'pyarrow' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
