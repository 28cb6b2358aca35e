"""A daily run after long history reads the event table by key and by day, never all of it.

The statements of a load that read the stored events are planned (``EXPLAIN``) right after they run,
in the run's own transaction (its temp tables, its settings): the merge's lookup of the stored copies
and its update walk the run's events and look each up through the key index, and the day rebuild
reads the run's days through the ``day`` index. On PostgreSQL the stored events have statistics (as
autovacuum leaves them) and the run's temp tables none, the situation in which a hash join over the
whole event table was planned before (issue 17).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.warehouse import IMPRESSION_EVENTS, IMPRESSIONS_DAILY, Warehouse
from tests.fixtures.exports import UTC, at, load_impressions, write_export
from tests.fixtures.snowflake import watched
from tests.warehouse.conftest import postgres_warehouse, sqlite_warehouse

HISTORY_DAYS, EVENTS_PER_DAY, RUN_EVENTS = 30, 2_000, 3_000
FIRST_DAY = date(2024, 4, 1)
RUN_DAY = FIRST_DAY + timedelta(days=HISTORY_DAYS)
LOOKUP, DAILY = "INSERT INTO sigma_stored_", "INSERT INTO sigma_impressions_daily"
UPDATE = "UPDATE sigma_impression_events"  # PostgreSQL; SQLite updates by INSERT .. ON CONFLICT


def stored_event(i: int) -> tuple[Any, ...]:
    day = FIRST_DAY + timedelta(days=i // EVENTS_PER_DAY)
    time = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(seconds=i % EVENTS_PER_DAY)
    return (f"k{i:08d}", time, day, f"user{i % 300}@x.com", f"wb{i % 50}", "", 1, "file:///old.csv")


def planned(connect: Callable[[], Any], explain: str, plans: dict[str, list[str]]) -> Callable[[], Any]:
    """``connect``, whose connections plan each statement starting with a key of ``plans`` right after
    running it, adding the plan to that key's list."""

    class Cursor:
        def __init__(self, connection: Any) -> None:
            self.connection, self.inner = connection, connection.cursor()

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def execute(self, sql: str, *args: Any) -> Any:
            result = self.inner.execute(sql, *args)
            watched = next((prefix for prefix in plans if sql.startswith(prefix)), None)
            if watched is not None:
                cursor = self.connection.cursor()
                cursor.execute(f"{explain} {sql}", *args)
                plans[watched].append("\n".join(str(row) for row in cursor.fetchall()))
                cursor.close()
            return result

    class Connection:
        def __init__(self) -> None:
            object.__setattr__(self, "inner", connect())

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def __setattr__(self, name: str, value: Any) -> None:
            setattr(self.inner, name, value)

        def cursor(self) -> Cursor:
            return Cursor(self.inner)

    return Connection


def run_after_history(warehouse: Warehouse, tmp_path: Path, analyze: str | None) -> None:
    warehouse.ensure_tables(IMPRESSION_EVENTS, IMPRESSIONS_DAILY)
    with warehouse.transaction() as tx:
        tx.insert_rows(IMPRESSION_EVENTS, map(stored_event, range(HISTORY_DAYS * EVENTS_PER_DAY)))
        if analyze:
            tx.execute(analyze)
    rows = [
        f"{RUN_DAY}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z,u{i}@x.com,wb{i % 7},,"
        for i in range(RUN_EVENTS)
    ]
    export = write_export(tmp_path, "run.csv", rows, modified=at(f"{RUN_DAY}T23:00"))
    result = load_impressions(warehouse, [export], RUN_DAY)
    assert result.events == RUN_EVENTS


def test_sqlite_looks_stored_events_up_by_key_and_day(tmp_path: Path) -> None:
    plans: dict[str, list[str]] = {LOOKUP: [], DAILY: []}
    warehouse = sqlite_warehouse(tmp_path / "warehouse.db")
    warehouse.connect = planned(warehouse.connect, "EXPLAIN QUERY PLAN", plans)
    run_after_history(warehouse, tmp_path, None)
    [lookup], [daily] = plans.values()
    assert "SEARCH t USING INDEX sqlite_autoindex_sigma_impression_events_1 (event_key=?)" in lookup
    assert "SCAN t" not in lookup
    assert "SEARCH sigma_impression_events USING INDEX sigma_impression_events_day_idx (day=?)" in daily


def test_postgres_looks_stored_events_up_by_key_and_day(postgres_database: str, tmp_path: Path) -> None:
    plans: dict[str, list[str]] = {LOOKUP: [], UPDATE: [], DAILY: []}
    warehouse = postgres_warehouse(postgres_database)
    warehouse.connect = planned(warehouse.connect, "EXPLAIN", plans)
    run_after_history(warehouse, tmp_path, "ANALYZE sigma_impression_events")
    [lookup], [update], [daily] = plans.values()
    for plan in (lookup, update, daily):
        assert "Seq Scan on sigma_impression_events" not in plan
        assert "Hash Join" not in plan
    assert "Index Scan using sigma_impression_events_pkey on sigma_impression_events t" in lookup
    assert "Index Scan using sigma_impression_events_pkey on sigma_impression_events tgt" in update
    assert "sigma_impression_events_day_idx" in daily


@pytest.mark.parametrize("write", [True, False])
def test_postgres_transactions_run_without_jit(postgres_database: str, write: bool) -> None:
    with postgres_warehouse(postgres_database).transaction(write=write) as tx:
        assert tx.query("SHOW jit") == [("off",)]


def test_a_first_load_indexes_the_days_after_inserting_its_events(
    postgres_database: str, tmp_path: Path
) -> None:
    """The ``day`` index of an empty event table is built after the run's insert (cheaper than keeping it
    up to date row by row), before the day rebuild reads through it; later runs find it there."""
    warehouse = postgres_warehouse(postgres_database)
    statements: list[str] = []
    warehouse.connect = watched(warehouse.connect, lambda cursor, sql: statements.append(sql))
    for n in range(2):
        rows = [f"{RUN_DAY}T1{n}:00:{i:02d}Z,u{i}@x.com,wb{i % 7},," for i in range(60)]
        export = write_export(tmp_path, f"run{n}.csv", rows, modified=at(f"{RUN_DAY}T2{n}:00"))
        assert load_impressions(warehouse, [export], RUN_DAY).events == 60
        insert, index, daily = (
            next(i for i, sql in enumerate(statements) if sql.startswith(prefix))
            for prefix in (
                "INSERT INTO sigma_impression_events ",
                "CREATE INDEX IF NOT EXISTS sigma_impression_events_day_idx",
                DAILY,
            )
        )
        assert (insert < index < daily) if n == 0 else (index < insert < daily), statements
        statements.clear()
    plans: dict[str, list[str]] = {DAILY: []}
    warehouse.connect = planned(postgres_warehouse(postgres_database).connect, "EXPLAIN", plans)
    export = write_export(tmp_path, "run2.csv", rows, modified=at(f"{RUN_DAY}T22:00"))
    load_impressions(warehouse, [export], RUN_DAY)
    assert "sigma_impression_events_day_idx" in plans[DAILY][0]
