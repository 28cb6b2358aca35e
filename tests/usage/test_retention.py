"""Retention set by users: the catalog job keeps its newest snapshots, the usage summary its newest
as_of dates, each in its own transaction; audit history and impressions are never touched."""

from __future__ import annotations

import inspect
import logging
from datetime import date, timedelta

import pytest

from airflow_sigma.catalog import Catalog, CatalogStats, ElementRow, MemberRow, WorkbookRow, write_catalog
from airflow_sigma.usage import build_usage_summary
from airflow_sigma.warehouse import (
    IMPRESSIONS_DAILY,
    MEMBERS,
    USAGE,
    WORKBOOK_ELEMENTS,
    WORKBOOKS,
    Table,
    Warehouse,
)
from airflow_sigma.warehouse.retention import (
    DEFAULT_KEEP_SNAPSHOTS,
    DEFAULT_KEEP_USAGE_DATES,
    check_keep,
    oldest_kept,
)

DAY = date(2024, 5, 1)


def catalog(workbooks: int) -> Catalog:
    rows = [
        WorkbookRow(
            f"id-{w}", f"wb{w}", "W", "S", "S", False, None, None, None, None, None, 1, False, None, None
        )
        for w in range(workbooks)
    ]
    elements = [
        ElementRow(f"id-{w}", f"wb{w}", "p", None, "e1", None, None, None, None) for w in range(workbooks)
    ]
    members = [MemberRow("m1", "a@x.com", None, None, None, False, False)]
    return Catalog(rows, elements, members, CatalogStats())


def dates(warehouse: Warehouse, table: Table, column: str) -> list[date]:
    with warehouse.transaction(write=False) as tx:
        rows = tx.query(f"SELECT DISTINCT {column} FROM {tx.table_name(table)} ORDER BY 1", types=["date"])
    return [row[0] for row in rows]


def test_catalog_keeps_its_newest_snapshots(warehouse: Warehouse, caplog: pytest.LogCaptureFixture) -> None:
    for offset in (0, 2, 3, 7, 8):  # a weekly-ish schedule with gaps: retention counts snapshots, not days
        write_catalog(warehouse, catalog(3), DAY + timedelta(days=offset), keep_snapshots=3)
    kept = [DAY + timedelta(days=offset) for offset in (3, 7, 8)]
    for table in (WORKBOOKS, WORKBOOK_ELEMENTS, MEMBERS):
        assert dates(warehouse, table, "snapshot_date") == kept
    with warehouse.transaction(write=False) as tx:
        assert tx.count(WORKBOOKS) == 9
    # A backfill older than every kept snapshot is written and removed in the same transaction.
    with caplog.at_level(logging.WARNING):
        write_catalog(warehouse, catalog(3), DAY, keep_snapshots=3)
    assert "older than the 3 newest snapshots kept" in caplog.text
    assert dates(warehouse, WORKBOOKS, "snapshot_date") == kept
    # None keeps everything; re-running changes nothing.
    write_catalog(warehouse, catalog(3), DAY, keep_snapshots=None)
    write_catalog(warehouse, catalog(3), DAY, keep_snapshots=None)
    assert dates(warehouse, WORKBOOK_ELEMENTS, "snapshot_date") == [DAY, *kept]


def test_usage_keeps_its_newest_dates_and_never_the_daily_table(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSIONS_DAILY)
        tx.insert_rows(IMPRESSIONS_DAILY, [(DAY + timedelta(days=d), "wbA", "", "u1", 1) for d in range(10)])
    for d in range(10):
        build_usage_summary(warehouse, DAY + timedelta(days=d), keep_dates=4)
    assert dates(warehouse, USAGE, "as_of") == [DAY + timedelta(days=d) for d in range(6, 10)]
    assert len(dates(warehouse, IMPRESSIONS_DAILY, "day")) == 10
    build_usage_summary(warehouse, DAY, keep_dates=None)
    assert len(dates(warehouse, USAGE, "as_of")) == 5


def test_oldest_kept_walks_distinct_dates(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSIONS_DAILY)
        assert oldest_kept(tx, IMPRESSIONS_DAILY, "day", 3) is None
        rows = [(DAY + timedelta(days=d), f"wb{w}", "", "u", 1) for d in (0, 5, 6, 9) for w in range(3)]
        tx.insert_rows(IMPRESSIONS_DAILY, rows)
        assert oldest_kept(tx, IMPRESSIONS_DAILY, "day", 1) == DAY + timedelta(days=9)
        assert oldest_kept(tx, IMPRESSIONS_DAILY, "day", 3) == DAY + timedelta(days=5)
        assert oldest_kept(tx, IMPRESSIONS_DAILY, "day", 50) == DAY


def test_operators_default_to_the_documented_retention() -> None:
    from airflow_sigma.operators import SigmaBuildUsageSummaryOperator, SigmaDiscoverWorkbooksOperator

    catalog_default = inspect.signature(SigmaDiscoverWorkbooksOperator).parameters["keep_snapshots"].default
    usage_default = inspect.signature(SigmaBuildUsageSummaryOperator).parameters["keep_usage_dates"].default
    assert (catalog_default, usage_default) == (DEFAULT_KEEP_SNAPSHOTS, DEFAULT_KEEP_USAGE_DATES) == (90, 90)


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "3"])
def test_keep_must_be_a_positive_whole_number(value: object) -> None:
    with pytest.raises(ValueError, match="keep_snapshots must be a whole number >= 1, or None"):
        check_keep("keep_snapshots", value)
