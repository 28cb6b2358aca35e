"""write_catalog on real SQLite and PostgreSQL databases."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from airflow_sigma.catalog import (
    Catalog,
    CatalogOptions,
    CatalogStats,
    ElementRow,
    MemberRow,
    WorkbookRow,
    write_catalog,
)
from airflow_sigma.warehouse import MEMBERS, WORKBOOK_ELEMENTS, WORKBOOKS, BadRowError

DAY = date(2026, 3, 1)
UTC = timezone.utc


def workbook(n: int, **changes) -> WorkbookRow:
    row = WorkbookRow(
        workbook_id=f"wb-{n}",
        workbook_url_id=f"url{n}",
        name=f"Workbook {n}",
        path="Finance/Folder 1" if n % 2 else "My Documents",
        workspace="Finance" if n % 2 else "My Documents",
        is_personal=not n % 2,
        url=f"https://app.sigmacomputing.com/acme/workbook/url{n}",
        owner_id="m1",
        owner_email="ada@acme.example" if n != 3 else None,
        created_at=datetime(2024, 1, n, 9, 30, 15, 123000, tzinfo=UTC),
        updated_at=None,
        latest_version=n,
        is_archived=n == 4,
        created_by="m1",
        updated_by=None,
    )
    return row._replace(**changes)


def element(n: int, page: str, e: str, **changes) -> ElementRow:
    name = "" if e == "e0" else f"Chart {e}"
    row = ElementRow(f"wb-{n}", f"url{n}", page, "Overview", e, name, "visualization", "bar", 3)
    return row._replace(**changes)


def catalog(workbooks: int = 4, elements: list[ElementRow] | None = None) -> Catalog:
    rows = [workbook(n) for n in range(1, workbooks + 1)]
    if elements is None:
        elements = [element(n, "p1", e) for n in range(1, workbooks + 1) for e in ("e0", "e1")]
    members = [MemberRow("m1", "ada@acme.example", "Ada", "Lovelace", "Admin", False, False,
                         datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
               MemberRow("m2", None, None, None, None, None, None)]  # fmt: skip
    return Catalog(rows, elements, members, CatalogStats(), CatalogOptions())


def stored(warehouse, table, day=None):
    return warehouse.read_table(table, {"snapshot_date": day} if day else None)


def test_creates_the_tables_and_stores_every_row(make_warehouse):
    warehouse = make_warehouse()
    cat = catalog()
    written = write_catalog(warehouse, cat, DAY)
    assert written == {"sigma_workbooks": 4, "sigma_workbook_elements": 8, "sigma_members": 2}
    assert stored(warehouse, WORKBOOKS) == sorted((DAY, *row) for row in cat.workbooks)
    assert stored(warehouse, WORKBOOK_ELEMENTS) == sorted((DAY, *row) for row in cat.elements)
    assert stored(warehouse, MEMBERS) == sorted((DAY, *row) for row in cat.members)
    empty_names = [row for row in stored(warehouse, WORKBOOK_ELEMENTS) if row[6] == ""]
    assert len(empty_names) == 4


def test_rerunning_a_date_replaces_only_that_date(make_warehouse):
    warehouse = make_warehouse()
    earlier = date(2026, 2, 28)
    write_catalog(warehouse, catalog(workbooks=2), earlier)
    write_catalog(warehouse, catalog(workbooks=4), DAY)
    before = [stored(warehouse, table) for table in (WORKBOOKS, WORKBOOK_ELEMENTS, MEMBERS)]
    write_catalog(warehouse, catalog(workbooks=4), DAY)
    assert [stored(warehouse, table) for table in (WORKBOOKS, WORKBOOK_ELEMENTS, MEMBERS)] == before
    smaller = catalog(workbooks=3)
    write_catalog(warehouse, smaller, DAY)
    assert len(stored(warehouse, WORKBOOKS, DAY)) == 3
    assert len(stored(warehouse, WORKBOOK_ELEMENTS, DAY)) == 6
    assert len(stored(warehouse, WORKBOOKS, earlier)) == 2  # other snapshots untouched


def test_a_failed_write_leaves_every_table_as_it_was(make_warehouse):
    warehouse = make_warehouse()
    write_catalog(warehouse, catalog(), DAY)
    before = [stored(warehouse, table) for table in (WORKBOOKS, WORKBOOK_ELEMENTS, MEMBERS)]
    # The workbooks are replaced first; a bad element row makes the write fail after that.
    bad = catalog(workbooks=2, elements=[element(1, "p1", "e1", column_count="three")])
    with pytest.raises(BadRowError, match="column_count"):
        write_catalog(warehouse, bad, DAY)
    assert [stored(warehouse, table) for table in (WORKBOOKS, WORKBOOK_ELEMENTS, MEMBERS)] == before


def test_schema_and_table_prefix(make_warehouse, request):
    options = {"table_prefix": "acme_"}
    if "postgres" in request.node.callspec.id:
        options["schema"] = "analytics"
    warehouse = make_warehouse(**options)
    write_catalog(warehouse, catalog(workbooks=1), DAY)
    assert len(stored(warehouse, WORKBOOKS)) == 1
    with warehouse.transaction(write=False) as tx:
        names = {warehouse.table_name(t) for t in (WORKBOOKS, WORKBOOK_ELEMENTS, MEMBERS)}
        assert all("acme_" in name for name in names)
        assert tx.count(MEMBERS) == 2
