"""The usage summary over long histories: identical to the definitions computed in Python from every row,
while it reads only its windows plus ``sigma_usage_last_seen`` (daily runs, jumps, backfills, rebuilt
old days, a longer ``used`` window), on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from airflow_sigma.usage import UsageSettings, build_usage_summary, rebuild_daily
from airflow_sigma.usage.summary import LAST_SEEN
from airflow_sigma.warehouse import (
    IMPRESSION_EVENTS,
    IMPRESSIONS_DAILY,
    USAGE,
    WORKBOOK_ELEMENTS,
    WORKBOOKS,
    Warehouse,
)

START = date(2023, 1, 1)
HISTORY_DAYS = 400
Daily = dict[tuple[date, str, str, str], int]
Key = tuple[str, str, str]


def history(rng: random.Random) -> Daily:
    """Daily rows over 400 days: workbooks viewed all along, only early on, only lately, or in bursts;
    elements likewise; a few workbooks the catalog does not know."""
    rows: Daily = {}
    for w in range(30):
        wb = f"wb{w}"
        first, last = sorted(rng.sample(range(HISTORY_DAYS), 2))
        for offset in range(first, last + 1):
            if rng.random() < 0.15:
                for element in ["", *(f"e{e}" for e in range(3))]:
                    if rng.random() < 0.5:
                        user = f"u{rng.randrange(6)}"
                        rows[(START + timedelta(days=offset), wb, element, user)] = rng.randrange(1, 5)
    return rows


def catalog() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Workbooks wb0..wb24 (wb25.. are undiscovered), each with elements e0, e1 and e3 (e2 is not
    catalogued, e3 never viewed), in one snapshot before the history and one in it."""
    workbooks, elements = [], []
    for snapshot in (START - timedelta(days=1), START + timedelta(days=200)):
        for w in range(25):
            workbooks.append((snapshot, f"id-{w}", f"wb{w}", f"Workbook {w}", "Shared", f"o{w}@x.com"))
            for e in (0, 1, 3):
                elements.append((snapshot, f"id-{w}", f"wb{w}", "p1", f"e{e}", f"Element {e}"))
    return workbooks, elements


def expected(rows: Daily, as_of: date, settings: UsageSettings) -> dict[Key, tuple[Any, ...]]:
    """The module's definitions, from every daily row."""
    catalog_wbs = {f"wb{w}" for w in range(25)}
    catalog_els = {(wb, f"e{e}") for wb in catalog_wbs for e in (0, 1, 3)}
    own: dict[tuple[str, str], list[tuple[date, str, int]]] = defaultdict(list)
    whole: dict[str, list[tuple[date, str, int]]] = defaultdict(list)
    for (d, wb, element, user), n in rows.items():
        if d <= as_of:
            own[(wb, element)].append((d, user, n))
            whole[wb].append((d, user, n))

    def total(seen: list[tuple[date, str, int]], days: int, elements_only: bool = False) -> int:
        return sum(n for d, _, n in seen if (as_of - d).days < days)

    def users(seen: list[tuple[date, str, int]], days: int) -> int:
        return len({u for d, u, _ in seen if (as_of - d).days < days})

    def tail(seen: list[tuple[date, str, int]], used: int) -> tuple[Any, ...]:
        last = max((d for d, _, _ in seen), default=None)
        at = datetime.combine(last, time(), timezone.utc) if last else None
        since = (as_of - last).days if last else None
        return at, since, used >= settings.used_min_impressions

    result: dict[Key, tuple[Any, ...]] = {}
    for wb in catalog_wbs | {wb for wb, seen in whole.items() if total(seen, 60)}:
        mine, everything = own[(wb, "")], whole[wb]
        elements = [r for (w, e), seen in own.items() if w == wb and e for r in seen]
        result[("workbook", wb, "")] = (
            wb in catalog_wbs,
            *(total(mine, n) for n in (7, 14, 30, 60)),
            total(elements, 30),
            users(everything, 14),
            users(everything, 30),
            *tail(everything, total(everything, settings.used_window_days)),
        )
    viewed = {key for key, seen in own.items() if key[1] and total(seen, 60)}
    for wb, element in catalog_els | viewed:
        seen = own[(wb, element)]
        result[("element", wb, element)] = (
            (wb, element) in catalog_els,
            *(total(seen, n) for n in (7, 14, 30, 60)),
            total(seen, 30),
            users(seen, 14),
            users(seen, 30),
            *tail(seen, total(seen, settings.used_window_days)),
        )
    return result


def stored(warehouse: Warehouse, as_of: date) -> dict[Key, tuple[Any, ...]]:
    names = USAGE.column_names
    metrics = ["discovered", "impressions_7d", "impressions_14d", "impressions_30d", "impressions_60d",
               "element_impressions_30d", "unique_users_14d", "unique_users_30d", "last_impression_at",
               "days_since_last_impression", "used"]  # fmt: skip
    result = {}
    for row in warehouse.read_table(USAGE, {"as_of": as_of}):
        values = dict(zip(names, row, strict=True))
        result[(values["resource_type"], values["workbook_url_id"], values["element_id"])] = tuple(
            values[m] for m in metrics
        )
    return result


def through(warehouse: Warehouse) -> date | None:
    rows = warehouse.read_table(LAST_SEEN, {"workbook_url_id": "", "element_id": ""})
    return rows[0][2] if rows else None


def test_summary_matches_the_definitions_over_long_histories(warehouse: Warehouse) -> None:
    rng = random.Random(17)
    rows = history(rng)
    workbooks, elements = catalog()
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSIONS_DAILY, IMPRESSION_EVENTS, WORKBOOKS, WORKBOOK_ELEMENTS, LAST_SEEN)
        tx.insert_rows(IMPRESSIONS_DAILY, [(*key, n) for key, n in rows.items()])
        names = ["snapshot_date", "workbook_id", "workbook_url_id", "name", "path", "owner_email"]
        tx.insert_rows(WORKBOOKS, workbooks, names)
        names = ["snapshot_date", "workbook_id", "workbook_url_id", "page_id", "element_id", "name"]
        tx.insert_rows(WORKBOOK_ELEMENTS, elements, names)
    default = UsageSettings()

    def check(as_of: date, settings: UsageSettings = default) -> None:
        build_usage_summary(warehouse, as_of, settings)
        truth = expected(rows, as_of, settings)
        assert stored(warehouse, as_of) == truth, as_of
        # The history is long enough that the check covers last views before the window.
        assert any(v[8] and v[9] >= 60 for v in truth.values()), as_of

    day = START + timedelta(days=300)
    check(day)  # the first run fills the last-seen table from the whole history
    assert through(warehouse) == day - timedelta(days=60)
    for offset in range(1, 4):  # daily runs fold in one day each
        check(day + timedelta(days=offset))
    check(day + timedelta(days=40))  # a jump folds in the days between
    assert through(warehouse) == day - timedelta(days=20)
    check(day - timedelta(days=50))  # a backfill older than the table reads the older days itself
    assert through(warehouse) == day - timedelta(days=20)
    check(day + timedelta(days=40), UsageSettings(used_window_days=90, used_min_impressions=3))

    # Late events rebuild a day the table covers: it is reset, and refilled by the next run.
    old = day - timedelta(days=100)
    late = [(f"k{i}", datetime.combine(old, time(12), timezone.utc), old, "u9", f"wb{i}", "e1", 2, "s3://b/f")
            for i in range(5)]  # fmt: skip
    with warehouse.transaction() as tx:
        tx.insert_rows(IMPRESSION_EVENTS, late)
        rebuild_daily(tx, [old])
    rows = {key: n for key, n in rows.items() if key[0] != old}
    rows.update({(old, f"wb{i}", "e1", "u9"): 2 for i in range(5)})
    assert through(warehouse) is None
    check(day + timedelta(days=41))
    assert through(warehouse) == day - timedelta(days=19)
