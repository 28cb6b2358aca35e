"""Issue 14 §6: answers recorded from real Sigma organisations that differ from the documented shape.

Each variant is a switch of the local server (``ServerOptions``); the catalog must store the truth of
the generated organisation anyway, and say what it did.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import date

import pytest

from airflow_sigma.api.errors import SigmaAPIError
from airflow_sigma.catalog import CatalogError, CatalogOptions, discover_catalog, workspace_of, write_catalog
from airflow_sigma.testing import OrgSpec, SigmaTestServer
from airflow_sigma.warehouse import WORKBOOKS, SqliteDialect, Warehouse

SPEC = OrgSpec(seed=5, workbooks=24, pages_per_workbook=1, elements_per_page=2, members=8,
               archived_members=2, inactive_members=2)  # fmt: skip
FAST = {"max_retries": 2, "backoff_initial": 0.001, "backoff_max": 0.01, "retry_after_max": 0.01}


@pytest.fixture
def serve(sigma_server_factory) -> Iterator:
    clients = []

    def start(**options):
        server: SigmaTestServer = sigma_server_factory(SPEC, **options)
        client = server.client(pool_size=8, **FAST)
        clients.append(client)
        return server, client

    yield start
    for client in clients:
        client.close()


def test_workbooks_without_owner_id_take_their_creator_and_say_so(serve, tmp_path, caplog):
    server, client = serve(omit_owner_ids=True)
    org = server.org
    with caplog.at_level(logging.WARNING):
        catalog = discover_catalog(client, CatalogOptions(include_personal=True, include_elements=False))
    emails = {m.member_id: m.email for m in org.members}
    rows = catalog.workbooks
    without = [row for row in rows if org.workbook_index[row.workbook_id] % 2 == 1]
    assert without and len(without) < len(rows)
    for row in rows:
        wb = org.workbook_by_id[row.workbook_id]
        assert (row.created_by, row.updated_by) == (wb.created_by, wb.updated_by)
        assert row.owner_id == wb.created_by == wb.owner_id
        assert row.owner_email == emails[wb.owner_id]
    assert f"{len(without)} workbooks have no ownerId" in caplog.text
    assert f"createdBy for {len(without)}" in caplog.text
    warehouse = Warehouse(lambda: sqlite3.connect(tmp_path / "w.db"), SqliteDialect())
    write_catalog(warehouse, catalog, date(2026, 1, 1))
    names = WORKBOOKS.column_names
    stored = {r[names.index("workbook_id")]: r for r in warehouse.read_table(WORKBOOKS)}
    assert all(stored[row.workbook_id][names.index("created_by")] == row.created_by for row in rows)
    assert all(stored[row.workbook_id][names.index("owner_id")] is not None for row in rows)


def test_members_without_flags_are_derived_from_the_filtered_listings(serve, caplog):
    server, client = serve(member_flags=False)
    with caplog.at_level(logging.WARNING):
        catalog = discover_catalog(client, CatalogOptions(include_elements=False))
    truth = server.org.member_flags()
    got = {m.member_id: (m.is_archived, m.is_inactive) for m in catalog.members}
    assert got == truth
    assert any(a for a, _ in truth.values()) and any(i for _, i in truth.values())
    assert "have no isArchived/isInactive flags" in caplog.text
    listings = sorted(
        (r.query["includeArchived"], r.query["includeInactive"])
        for r in server.requests
        if r.endpoint == "GET /v2/members"
    )
    assert listings == [("false", "true"), ("true", "false"), ("true", "true")]


def test_members_with_flags_are_listed_once(serve):
    server, client = serve()
    discover_catalog(client, CatalogOptions(include_elements=False))
    assert server.stats.by_endpoint["GET /v2/members"] == 1


def test_user_folder_is_the_personal_space(serve, caplog):
    assert workspace_of("User Folder/Drafts") == ("My Documents", True)
    assert workspace_of("user folder") == ("My Documents", True)
    with pytest.raises(ValueError, match="include_personal=True"):
        CatalogOptions(workspaces=("User Folder",))
    server, client = serve(personal_space_name="User Folder")
    shared = server.org.workspaces[0].name
    options = CatalogOptions(
        include_personal=True, include_elements=False, workspaces=("User Folder", shared)
    )
    with caplog.at_level(logging.WARNING):
        catalog = discover_catalog(client, options)
    assert "User Folder" not in caplog.text
    assert any(row.is_personal for row in catalog.workbooks)
    assert {row.workspace for row in catalog.workbooks if not row.is_personal} == {shared}


def test_forbidden_with_an_empty_body_gets_the_hint_of_its_endpoint(serve):
    server, client = serve(empty_error_bodies=True)
    workbook = server.org.workbooks[0].workbook_id
    server.fail_path(f"/v2/workbooks/{workbook}/pages", 403)
    with pytest.raises(SigmaAPIError) as raised:
        list(client.list_workbook_pages(workbook))
    text = str(raised.value)
    assert raised.value.status == 403 and raised.value.code is None
    assert "cannot open this workbook" in text and "skipPermissionCheck" not in text
    server.fail_path("/v2/members", 403)
    with pytest.raises(CatalogError) as failed:
        discover_catalog(client, CatalogOptions(include_elements=False))
    assert "HTTP 403" in str(failed.value) and "Listing members needs" in str(failed.value)


def test_non_admin_refusal_with_an_empty_body_is_still_recognised(sigma_server_factory):
    server = sigma_server_factory(SPEC, admin=False, empty_error_bodies=True)
    with server.client(**FAST) as client:
        catalog = discover_catalog(client, CatalogOptions(include_personal=True, include_elements=False))
        with pytest.raises(SigmaAPIError) as raised:
            list(client.list_workbooks(skip_permission_check=True))
    assert catalog.stats.admin is False
    assert "only available to credentials owned by a user with the Admin account type" in str(raised.value)
