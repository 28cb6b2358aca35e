"""sigma_usage.owner_active: content whose owner left, from the members of the same catalog snapshot."""

from __future__ import annotations

from datetime import date, timedelta

from airflow_sigma.catalog import Catalog, CatalogStats, ElementRow, MemberRow, WorkbookRow, write_catalog
from airflow_sigma.usage import build_usage_summary
from airflow_sigma.warehouse import IMPRESSIONS_DAILY, USAGE, Warehouse

DAY = date(2024, 5, 1)
OWNERS = {  # workbook -> owner id
    "wbActive": "m-active",
    "wbArchived": "m-archived",
    "wbInactive": "m-inactive",
    "wbNoFlags": "m-noflags",
    "wbGone": "m-gone",  # not among the members
    "wbNobody": None,
}
MEMBERS = [
    MemberRow("m-active", "a@x.com", None, None, "Creator", False, False),
    MemberRow("m-archived", "b@x.com", None, None, "Creator", True, False),
    MemberRow("m-inactive", "c@x.com", None, None, "Creator", False, True),
    MemberRow("m-noflags", "d@x.com", None, None, "Creator", None, None),
]


def catalog(members: list[MemberRow]) -> Catalog:
    workbooks = [
        WorkbookRow(f"id-{wb}", wb, wb, "S", "S", False, None, owner, None, None, None, 1, False, None, None)
        for wb, owner in OWNERS.items()
    ]
    elements = [ElementRow(f"id-{wb}", wb, "p", None, "e1", None, None, None, None) for wb in OWNERS]
    return Catalog(workbooks, elements, members, CatalogStats())


def owner_active(warehouse: Warehouse, as_of: date) -> dict[tuple[str, str, str], bool | None]:
    names = USAGE.column_names
    rows = [dict(zip(names, row, strict=True)) for row in warehouse.read_table(USAGE, {"as_of": as_of})]
    return {(r["resource_type"], r["workbook_url_id"], r["element_id"]): r["owner_active"] for r in rows}


def test_owner_active_from_the_snapshots_members(warehouse: Warehouse) -> None:
    write_catalog(warehouse, catalog(MEMBERS), DAY)
    # A later snapshot in which the active owner has left: it decides later dates only.
    left = [m._replace(is_archived=True) if m.member_id == "m-active" else m for m in MEMBERS]
    write_catalog(warehouse, catalog(left), DAY + timedelta(days=2))
    with warehouse.transaction() as tx:
        tx.ensure_tables(IMPRESSIONS_DAILY)
        rows = [
            (DAY, "wbGone", "e1", "u1", 2),
            (DAY, "wbDeleted", "", "u1", 1),
            (DAY, "wbDeleted", "e9", "u1", 1),
        ]
        tx.insert_rows(IMPRESSIONS_DAILY, rows)
    build_usage_summary(warehouse, DAY)
    build_usage_summary(warehouse, DAY + timedelta(days=2))
    states = {"wbActive": True, "wbArchived": False, "wbInactive": False, "wbNoFlags": None, "wbGone": None,
              "wbNobody": None}  # fmt: skip
    expected = {("workbook", wb, ""): state for wb, state in states.items()}
    expected |= {("element", wb, "e1"): state for wb, state in states.items()}  # its workbook's owner
    expected |= {("workbook", "wbDeleted", ""): None, ("element", "wbDeleted", "e9"): None}  # undiscovered
    assert owner_active(warehouse, DAY) == expected
    later = owner_active(warehouse, DAY + timedelta(days=2))
    assert later[("workbook", "wbActive", "")] is False and later[("element", "wbActive", "e1")] is False


def test_owner_active_is_null_without_members(warehouse: Warehouse) -> None:
    write_catalog(warehouse, catalog([]), DAY)
    build_usage_summary(warehouse, DAY)
    assert set(owner_active(warehouse, DAY).values()) == {None}
