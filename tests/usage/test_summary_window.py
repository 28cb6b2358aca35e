"""``sigma_usage_window``, the state that keeps the usage summary's cost flat in history: filled once from
an existing database, brought forward day by day, left alone by re-runs, backfills and failed runs, reset
by rebuilt days; every run's rows equal the definitions computed from every daily row."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.usage import UsageSettings, build_usage_summary, rebuild_daily
from airflow_sigma.usage.window import DAYS, RECENT_DAYS, TABLES, TOTALS, VIEWERS
from airflow_sigma.warehouse import (
    IMPRESSION_EVENTS,
    IMPRESSIONS_DAILY,
    WORKBOOK_ELEMENTS,
    WORKBOOKS,
    Warehouse,
)
from tests.fixtures.exports import make_warehouse
from tests.usage.test_summary_history import Daily, catalog, expected, stored

START = date(2023, 1, 1)
HISTORY_DAYS = 150
MARKER = {"workbook_url_id": "", "element_id": ""}


def history(rng: random.Random) -> Daily:
    """150 days of daily rows: 30 workbooks (25 catalogued) with elements, six viewers."""
    rows: Daily = {}
    for w in range(30):
        first, last = sorted(rng.sample(range(HISTORY_DAYS), 2))
        for offset in range(first, last + 1):
            if rng.random() < 0.3:
                for element in ["", "e0", "e1", "e2"]:
                    if rng.random() < 0.5:
                        key = (START + timedelta(days=offset), f"wb{w}", element, f"u{rng.randrange(6)}")
                        rows[key] = rng.randrange(1, 5)
    return rows


def seeded(warehouse: Warehouse, rows: Daily) -> Warehouse:
    workbooks, elements = catalog()
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSIONS_DAILY, IMPRESSION_EVENTS, WORKBOOKS, WORKBOOK_ELEMENTS)
        tx.insert_rows(IMPRESSIONS_DAILY, [(*key, n) for key, n in rows.items()])
        names = ["snapshot_date", "workbook_id", "workbook_url_id", "name", "path", "owner_email"]
        tx.insert_rows(WORKBOOKS, workbooks, names)
        names = ["snapshot_date", "workbook_id", "workbook_url_id", "page_id", "element_id", "name"]
        tx.insert_rows(WORKBOOK_ELEMENTS, elements, names)
    return warehouse


@pytest.fixture
def rows() -> Daily:
    return history(random.Random(5))


@pytest.fixture
def db(warehouse: Warehouse, rows: Daily) -> Warehouse:
    return seeded(warehouse, rows)


def state(warehouse: Warehouse) -> list[list[tuple[Any, ...]]]:
    return [warehouse.read_table(table) for table in TABLES]


def through(warehouse: Warehouse) -> date | None:
    marker = warehouse.read_table(TOTALS, MARKER)
    return marker[0][2] if marker else None


def viewers(warehouse: Warehouse) -> set[tuple[str, str, str]]:
    return {row[:3] for row in warehouse.read_table(VIEWERS)}


def older_viewers(rows: Daily, as_of: date) -> set[tuple[str, str, str]]:
    """Who viewed what in the window's days up to ``as_of - RECENT_DAYS``."""
    return {
        key[1:] for key in rows if as_of - timedelta(days=59) <= key[0] <= as_of - timedelta(days=RECENT_DAYS)
    }


def check(warehouse: Warehouse, rows: Daily, as_of: date, settings: UsageSettings | None = None) -> None:
    settings = settings or UsageSettings()
    build_usage_summary(warehouse, as_of, settings)
    assert stored(warehouse, as_of) == expected(rows, as_of, settings), as_of


def test_state_is_filled_once_then_brought_forward_and_rows_stay_exact(db: Warehouse, rows: Daily) -> None:
    day = START + timedelta(days=100)
    check(db, rows, day)  # an existing database: the first run fills the state from the window
    assert through(db) == day - timedelta(days=RECENT_DAYS)
    assert viewers(db) == older_viewers(rows, day)  # exactly the viewers of the window's older days
    for offset in range(1, 8):  # daily runs bring it forward a day each
        check(db, rows, day + timedelta(days=offset))
        assert through(db) == day + timedelta(days=offset - RECENT_DAYS)
    assert viewers(db) == older_viewers(rows, day + timedelta(days=7))  # those gone out are dropped
    kept = {row[0] for row in db.read_table(DAYS)}
    assert min(kept) >= day + timedelta(days=7 - 59) and max(kept) == day + timedelta(days=7 - RECENT_DAYS)
    check(db, rows, day + timedelta(days=10))  # a run skipped two days: brought forward by three
    assert through(db) == day + timedelta(days=10 - RECENT_DAYS)
    check(db, rows, day + timedelta(days=45))  # far ahead: refilled from the window
    assert through(db) == day + timedelta(days=45 - RECENT_DAYS)
    # A longer used window is another state: refilled, exact, and the default one again after it.
    check(db, rows, day + timedelta(days=46), UsageSettings(used_window_days=90, used_min_impressions=3))
    check(db, rows, day + timedelta(days=46), UsageSettings(used_window_days=2))
    check(db, rows, day + timedelta(days=47))


def test_reruns_and_backfills_leave_the_state_and_give_the_same_rows(db: Warehouse, rows: Daily) -> None:
    day = START + timedelta(days=90)
    for offset in range(3):
        check(db, rows, day + timedelta(days=offset))
    before, first_rows = state(db), stored(db, day + timedelta(days=2))
    check(db, rows, day + timedelta(days=2))  # a re-run
    assert state(db) == before
    assert stored(db, day + timedelta(days=2)) == first_rows
    for back in (1, 2, 3, 30):  # backfills older than the state (and one within RECENT_DAYS of it)
        check(db, rows, day + timedelta(days=2 - back))
        assert state(db) == before
    check(db, rows, day + timedelta(days=3))  # the daily runs carry on from where they were
    assert through(db) == day + timedelta(days=3 - RECENT_DAYS)


def test_rebuilding_a_covered_day_resets_the_state(db: Warehouse, rows: Daily) -> None:
    day = START + timedelta(days=120)
    check(db, rows, day)
    old = day - timedelta(days=20)  # covered by the state, within the windows
    late = [(f"k{i}", datetime.combine(old, time(9), timezone.utc), old, "u9", f"wb{i}", "e1", 3, "s3://b/f")
            for i in range(4)]  # fmt: skip
    with db.transaction() as tx:
        tx.insert_rows(IMPRESSION_EVENTS, late)
        rebuild_daily(tx, [old])
    assert state(db) == [[], [], []]
    rows = {key: n for key, n in rows.items() if key[0] != old}
    rows.update({(old, f"wb{i}", "e1", "u9"): 3 for i in range(4)})
    check(db, rows, day + timedelta(days=1))
    assert through(db) == day + timedelta(days=1 - RECENT_DAYS)
    # Rebuilding the recent days a daily load re-reads does not touch the state.
    before = state(db)
    with db.transaction() as tx:
        rebuild_daily(tx, [day + timedelta(days=1 - n) for n in range(RECENT_DAYS)])
    assert state(db) == before


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_failed_run_leaves_the_state_as_it_was(
    request: pytest.FixtureRequest, tmp_path: Path, rows: Daily, backend: str
) -> None:
    db = seeded(make_warehouse(request, tmp_path, backend), rows)
    day = START + timedelta(days=100)
    check(db, rows, day)
    before, kept = state(db), stored(db, day)
    with db.transaction() as tx:  # every insert into sigma_usage fails, after the state is brought forward
        if backend == "sqlite":
            raise_ = "SELECT RAISE(ABORT, 'blocked')"
            tx.execute(f"CREATE TRIGGER blocked BEFORE INSERT ON sigma_usage BEGIN {raise_}; END")
        else:
            tx.execute("ALTER TABLE sigma_usage ADD COLUMN blocker integer")
            tx.execute("ALTER TABLE sigma_usage ADD CONSTRAINT blocked CHECK (blocker IS NOT NULL) NOT VALID")
    for as_of in (day + timedelta(days=1), day + timedelta(days=30)):  # brought forward, and refilled
        with pytest.raises(Exception, match="blocked"):
            build_usage_summary(db, as_of)
        assert state(db) == before
        assert stored(db, day) == kept
