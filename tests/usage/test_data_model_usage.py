"""``sigma_usage`` rows of data models: the usage of the workbooks using them (issue 18), on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from airflow_sigma.usage import build_usage_summary
from airflow_sigma.warehouse import IMPRESSIONS_DAILY, USAGE, WORKBOOKS, Warehouse
from airflow_sigma.warehouse.tables import DATA_MODELS, WORKBOOK_SOURCES

AS_OF = date(2024, 5, 31)
SNAPSHOT = date(2024, 5, 30)


def day(offset: int) -> date:
    return AS_OF + timedelta(days=offset)


def seed(warehouse: Warehouse) -> None:
    impressions = [
        (day(0), "wbA", "", "u1", 1),
        (day(-10), "wbA", "e1", "u2", 2),
        (day(-20), "wbB", "", "u1", 4),  # u1 again: counted once for a model used by wbA and wbB
        (day(-20), "wbB", "", "u3", 8),
        (day(-45), "wbC", "", "u4", 16),  # outside the 30-day used window: wbC is not used
    ]
    workbooks = [(SNAPSHOT, f"id-{x}", f"wb{x}", f"Workbook {x}") for x in "ABCD"]
    models = [
        (SNAPSHOT, "dm-1", "url1", "Sales model", "Shared", "a@x.com"),
        (SNAPSHOT, "dm-2", "url2", "Stale model", "Shared", None),
        (SNAPSHOT, "dm-3", None, "Orphan model", "My Documents", None),
        (date(2024, 5, 1), "dm-old", "urlold", "Old snapshot", "Shared", None),
    ]
    sources = [
        (SNAPSHOT, "id-A", "data-model", "dm-1", ["e1"]),
        (SNAPSHOT, "id-B", "data-model", "dm-1", []),
        (SNAPSHOT, "id-C", "data-model", "dm-2", []),
        (SNAPSHOT, "id-D", "data-model", "dm-2", []),  # wbD: never viewed
        (SNAPSHOT, "id-A", "table", "T1", None),
    ]
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSIONS_DAILY, WORKBOOKS, DATA_MODELS, WORKBOOK_SOURCES)
        tx.insert_rows(IMPRESSIONS_DAILY, impressions)
        tx.insert_rows(WORKBOOKS, workbooks, ["snapshot_date", "workbook_id", "workbook_url_id", "name"])
        names = ["snapshot_date", "data_model_id", "data_model_url_id", "name", "path", "owner_email"]
        tx.insert_rows(DATA_MODELS, models, names)
        names = ["snapshot_date", "workbook_id", "source_type", "source_id", "element_ids"]
        tx.insert_rows(WORKBOOK_SOURCES, sources, names)


def model_rows(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    rows = [
        dict(zip(USAGE.column_names, r, strict=True)) for r in warehouse.read_table(USAGE, {"as_of": AS_OF})
    ]
    return {r["workbook_id"]: r for r in rows if r["resource_type"] == "data_model"}


def test_data_models_take_the_usage_of_their_workbooks(warehouse: Warehouse) -> None:
    seed(warehouse)
    summary = build_usage_summary(warehouse, AS_OF)
    rows = model_rows(warehouse)
    assert set(rows) == {"dm-1", "dm-2", "dm-3"}
    one, two, orphan = rows["dm-1"], rows["dm-2"], rows["dm-3"]
    described = [one[name] for name in ("workbook_url_id", "element_id", "name", "owner_email", "discovered")]
    assert described == ["url1", "", "Sales model", "a@x.com", True]
    # wbA's own 1 (7d..60d) + wbB's 12 (30d, 60d); wbA's element 2 in 14 days.
    assert [one[f"impressions_{n}d"] for n in (7, 14, 30, 60)] == [1, 1, 13, 13]
    assert one["element_impressions_30d"] == 2
    assert (one["unique_users_14d"], one["unique_users_30d"]) == (2, 3)  # u1 u2; then u3
    assert one["last_impression_at"] == datetime(2024, 5, 31, tzinfo=timezone.utc)
    assert (one["days_since_last_impression"], one["used"]) == (0, True)
    assert [two[f"impressions_{n}d"] for n in (7, 14, 30, 60)] == [0, 0, 0, 16]
    assert (two["unique_users_30d"], two["days_since_last_impression"], two["used"]) == (0, 45, False)
    assert orphan["workbook_url_id"] == "dm-3"  # no url id: the id keeps the key filled
    assert (orphan["impressions_60d"], orphan["used"], orphan["last_impression_at"]) == (0, False, None)
    assert (summary["data_models"], summary["data_models_used"]) == (3, 1)
    build_usage_summary(warehouse, AS_OF)  # a rebuild replaces them
    assert model_rows(warehouse) == rows
