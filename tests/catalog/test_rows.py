"""Turning Sigma API entries into catalog rows."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from airflow_sigma.catalog import CatalogDataError, ElementRow, MemberRow, WorkbookRow, workspace_of
from airflow_sigma.catalog.rows import Page, element_row, member_row, page_of, workbook_row
from airflow_sigma.warehouse import MEMBERS, WORKBOOK_ELEMENTS, WORKBOOKS

WORKBOOK = {
    "workbookId": "4ea60fe9-f487-43b0-aa7a-3ef43ca3a90e",
    "workbookUrlId": "2opi6VLEne4BaPyj00US50",
    "createdBy": "owner1",
    "updatedBy": "owner1",
    "createdAt": "2024-09-12T21:22:49.072Z",
    "updatedAt": "2024-09-12T23:20:39.848+01:00",
    "name": "Sample Workbook",
    "url": "https://app.sigmacomputing.com/acme/workbook/2opi6VLEne4BaPyj00US50",
    "path": "Finance/Quarterly",
    "latestVersion": 5,
    "ownerId": "owner1",
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Finance/Folder 1", ("Finance", False)),
        ("Sales", ("Sales", False)),
        ("/Sales/Deep/", ("Sales", False)),
        ("My Documents", ("My Documents", True)),
        ("My Documents/Drafts", ("My Documents", True)),
        ("My documents/Drafts", ("My Documents", True)),
        ("My Documents Archive/x", ("My Documents Archive", False)),
        ("User Folder", ("My Documents", True)),
        ("User Folders/x", ("User Folders", False)),
        ("", (None, False)),
        (None, (None, False)),
    ],
)
def test_workspace_is_the_first_path_segment(path, expected):
    assert workspace_of(path) == expected


def test_row_types_have_the_table_columns_in_order():
    for table, row_type in ((WORKBOOKS, WorkbookRow), (WORKBOOK_ELEMENTS, ElementRow), (MEMBERS, MemberRow)):
        assert ("snapshot_date", *row_type._fields) == table.column_names


def test_workbook_row_maps_every_field():
    row = workbook_row(WORKBOOK, listed_archived=False, emails={"owner1": "ada@acme.example"})
    assert row == WorkbookRow(
        workbook_id="4ea60fe9-f487-43b0-aa7a-3ef43ca3a90e",
        workbook_url_id="2opi6VLEne4BaPyj00US50",
        name="Sample Workbook",
        path="Finance/Quarterly",
        workspace="Finance",
        is_personal=False,
        url="https://app.sigmacomputing.com/acme/workbook/2opi6VLEne4BaPyj00US50",
        owner_id="owner1",
        owner_email="ada@acme.example",
        created_at=datetime(2024, 9, 12, 21, 22, 49, 72000, tzinfo=timezone.utc),
        updated_at=datetime(2024, 9, 12, 22, 20, 39, 848000, tzinfo=timezone.utc),
        latest_version=5,
        is_archived=False,
        created_by="owner1",
        updated_by="owner1",
    )


def test_workbook_archived_flag_comes_from_the_entry_or_else_the_listing():
    assert workbook_row({**WORKBOOK, "isArchived": True}, listed_archived=False, emails={}).is_archived
    assert workbook_row(WORKBOOK, listed_archived=True, emails={}).is_archived
    assert not workbook_row({**WORKBOOK, "isArchived": "false"}, listed_archived=True, emails={}).is_archived


def test_workbook_with_unknown_owner_has_no_email():
    assert workbook_row(WORKBOOK, listed_archived=False, emails={}).owner_email is None


def test_unusable_timestamp_and_version_become_null_with_a_warning(caplog):
    entry = {**WORKBOOK, "createdAt": "yesterday", "latestVersion": "v5"}
    with caplog.at_level(logging.WARNING):
        row = workbook_row(entry, listed_archived=False, emails={})
    assert row.created_at is None and row.latest_version is None
    assert "createdAt is 'yesterday'" in caplog.text and "latestVersion is 'v5'" in caplog.text
    assert WORKBOOK["workbookId"] in caplog.text


def test_numeric_text_version_is_read():
    assert (
        workbook_row({**WORKBOOK, "latestVersion": "7"}, listed_archived=False, emails={}).latest_version == 7
    )


@pytest.mark.parametrize("bad", [None, "", True, {"id": 1}])
def test_workbook_without_an_id_is_refused(bad):
    with pytest.raises(CatalogDataError, match="workbookId"):
        workbook_row({**WORKBOOK, "workbookId": bad}, listed_archived=False, emails={})


def test_page_and_element_rows():
    workbook = workbook_row(WORKBOOK, listed_archived=False, emails={})
    page = page_of({"pageId": "qwMyyHBCuC", "name": "Page 1", "hidden": False})
    assert page == Page("qwMyyHBCuC", "Page 1")
    entry = {
        "elementId": "_MuHPbskp0",
        "type": "visualization",
        "name": "",
        "columns": ["Order Id", "Customer Id", "Revenue"],
        "vizualizationType": "bar",
    }
    assert element_row(entry, workbook, page) == ElementRow(
        workbook_id=workbook.workbook_id,
        workbook_url_id="2opi6VLEne4BaPyj00US50",
        page_id="qwMyyHBCuC",
        page_name="Page 1",
        element_id="_MuHPbskp0",
        name="",
        type="visualization",
        visualization_type="bar",
        column_count=3,
    )


def test_element_without_columns_or_chart_kind():
    workbook = workbook_row(WORKBOOK, listed_archived=False, emails={})
    row = element_row({"elementId": "e1", "type": "text"}, workbook, Page("p1", None))
    assert (row.name, row.visualization_type, row.column_count) == (None, None, None)
    spelled_right = element_row({"elementId": "e2", "visualizationType": "line"}, workbook, Page("p1", None))
    assert spelled_right.visualization_type == "line"


def test_element_and_page_without_ids_are_refused():
    workbook = workbook_row(WORKBOOK, listed_archived=False, emails={})
    with pytest.raises(CatalogDataError, match="elementId"):
        element_row({"name": "x"}, workbook, Page("p1", None))
    with pytest.raises(CatalogDataError, match="pageId"):
        page_of({"name": "x"})


def test_member_row():
    entry = {
        "memberId": "m1",
        "email": "grace@acme.example",
        "firstName": "Grace",
        "lastName": "Hopper",
        "memberType": "Admin",
        "isArchived": False,
        "isInactive": True,
        "createdAt": "2024-02-03T04:05:06.789Z",
    }
    created = datetime(2024, 2, 3, 4, 5, 6, 789000, tzinfo=timezone.utc)
    assert member_row(entry) == MemberRow(
        "m1", "grace@acme.example", "Grace", "Hopper", "Admin", False, True, created
    )
    assert member_row({"memberId": "m2"}) == MemberRow("m2", None, None, None, None, None, None)
