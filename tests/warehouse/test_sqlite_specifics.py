"""SQLite specifics: explicit transactions, journal modes, storage formats."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from airflow_sigma.warehouse import IMPRESSION_EVENTS, WORKBOOKS, SqliteDialect, Warehouse
from tests.warehouse.conftest import sqlite_warehouse

UTC = timezone.utc
EVENT = ("e1", datetime(2024, 5, 1, 9, 5, 7, tzinfo=UTC), date(2024, 5, 1), "a@x.com", "wb", "", 3, "s3://f")


def test_storage_formats_are_documented_text(tmp_path: Path) -> None:
    warehouse = sqlite_warehouse(tmp_path / "w.db")
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSION_EVENTS)
        tx.insert_rows(IMPRESSION_EVENTS, [EVENT])
        columns = "request_time, typeof(request_time), day, typeof(day), impressions"
        stored = tx.query(f"SELECT {columns} FROM sigma_impression_events")
        assert stored == [("2024-05-01T09:05:07.000000Z", "text", "2024-05-01", "text", 3)]
        # the stored form works with SQLite's date functions
        assert tx.query(
            "SELECT date(request_time), strftime('%H', request_time) FROM sigma_impression_events"
        ) == [("2024-05-01", "09")]


def test_in_wal_mode_a_reader_sees_the_previous_state_while_a_run_writes(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    warehouse = Warehouse(lambda: sqlite3.connect(path), SqliteDialect(journal_mode="wal"))
    warehouse.ensure_tables(IMPRESSION_EVENTS)
    reader = sqlite3.connect(path, timeout=0.1)
    try:
        with warehouse.transaction() as tx:
            tx.insert_rows(IMPRESSION_EVENTS, [EVENT])
            # WAL: the reader is neither blocked nor shown uncommitted rows
            assert reader.execute("SELECT COUNT(*) FROM sigma_impression_events").fetchall() == [(0,)]
        assert reader.execute("SELECT COUNT(*) FROM sigma_impression_events").fetchall() == [(1,)]
        assert reader.execute("PRAGMA journal_mode").fetchall() == [("wal",)]
    finally:
        reader.close()


@pytest.mark.parametrize("mode", ["delete", "wal"])
def test_by_default_the_files_own_journal_mode_is_kept(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "w.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA journal_mode = {mode}")
    warehouse = Warehouse(lambda: sqlite3.connect(path), SqliteDialect())
    with warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchall() == [(mode,)]


def test_second_writer_waits_then_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    warehouse = Warehouse(lambda: sqlite3.connect(path), SqliteDialect(busy_timeout_ms=50))
    warehouse.ensure_tables(IMPRESSION_EVENTS)
    locked = pytest.raises(sqlite3.OperationalError, match="locked")
    # the first transaction holds the write lock (BEGIN IMMEDIATE); the second cannot start
    with warehouse.transaction(), locked, warehouse.transaction() as tx:
        tx.insert_rows(IMPRESSION_EVENTS, [EVENT])
    assert warehouse.read_table(IMPRESSION_EVENTS) == []


def test_ddl_is_rolled_back_with_the_run(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    warehouse = sqlite_warehouse(path)
    with pytest.raises(RuntimeError), warehouse.transaction() as tx:
        tx.ensure_tables(WORKBOOKS, IMPRESSION_EVENTS)
        tx.insert_rows(IMPRESSION_EVENTS, [EVENT])
        raise RuntimeError("boom")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_schema_other_than_main_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SQLite has no schemas"):
        sqlite_warehouse(tmp_path / "w.db", schema="analytics")
    assert sqlite_warehouse(tmp_path / "w.db", schema="main").table_name(WORKBOOKS) == "main.sigma_workbooks"


class MultiRowSqliteDialect(SqliteDialect):
    rows_per_statement = 4  # the multi-row INSERT path Snowflake and BigQuery use


def test_multi_row_insert_path(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    warehouse = Warehouse(lambda: sqlite3.connect(path), MultiRowSqliteDialect())
    rows = [(f"e{i}", *EVENT[1:]) for i in range(10)]  # 2 full statements and one of 2 rows
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSION_EVENTS)
        assert tx.insert_rows(IMPRESSION_EVENTS, iter(rows)) == 10
    assert warehouse.read_table(IMPRESSION_EVENTS) == sorted(rows)


def test_a_read_during_a_small_write_sees_the_committed_state(tmp_path: Path) -> None:
    # With the rollback journal, until the writer spills its cache or commits; in WAL mode, always.
    warehouse = Warehouse(lambda: sqlite3.connect(tmp_path / "w.db"), SqliteDialect(busy_timeout_ms=50))
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSION_EVENTS)
        tx.insert_rows(IMPRESSION_EVENTS, [EVENT])
    with warehouse.transaction() as tx:
        tx.delete(IMPRESSION_EVENTS, {"event_key": "e1"})
        assert warehouse.read_table(IMPRESSION_EVENTS) == [EVENT]  # the committed state, no lock wait
    assert warehouse.read_table(IMPRESSION_EVENTS) == []


def test_large_sorts_may_use_helper_threads(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    for threads in (0, 2):
        warehouse = Warehouse(lambda: sqlite3.connect(path), SqliteDialect(sort_threads=threads))
        with warehouse.transaction() as tx:
            assert tx.query("PRAGMA threads") == [(threads,)]
    assert 0 <= SqliteDialect().sort_threads <= 3


@pytest.mark.parametrize("journal_mode", [None, "wal"])
def test_a_new_file_gets_the_dialects_page_size_and_an_existing_file_keeps_its_own(
    tmp_path: Path, journal_mode: str | None
) -> None:
    def page_size(path: Path) -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("PRAGMA page_size").fetchone()[0])

    new, existing = tmp_path / "new.db", tmp_path / "existing.db"
    with sqlite3.connect(existing) as conn:
        conn.execute("CREATE TABLE other (x INTEGER)")  # SQLite's default page size
    default = page_size(existing)
    for path in (new, existing):
        warehouse = Warehouse(lambda p=path: sqlite3.connect(p), SqliteDialect(journal_mode=journal_mode))
        with warehouse.transaction() as tx:
            tx.ensure_tables(IMPRESSION_EVENTS)
            tx.insert_rows(IMPRESSION_EVENTS, [EVENT])
        assert warehouse.read_table(IMPRESSION_EVENTS) == [EVENT]
    assert (page_size(new), page_size(existing)) == (16384, default)
    unset = tmp_path / "unset.db"
    Warehouse(lambda: sqlite3.connect(unset), SqliteDialect(page_size=None)).ensure_tables(WORKBOOKS)
    assert page_size(unset) == default


@pytest.mark.parametrize("size", [0, 1000, 131072])
def test_a_page_size_sqlite_cannot_use_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="page_size must be a power of two"):
        SqliteDialect(page_size=size)
