"""discover_catalog against the local Sigma server over real HTTP."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from airflow_sigma.api.errors import SigmaAPIError
from airflow_sigma.catalog import CatalogError, CatalogIncompleteError, CatalogOptions, discover_catalog
from airflow_sigma.testing.org import MY_DOCUMENTS, OrgSpec
from tests.catalog.expected import element_count, expected_workbooks, page_count

# The parts of issue 18 off: the request counts below are those of workbooks, elements and members.
CORE = {"include_data_models": False, "include_datasets": False, "include_workbook_sources": False,
        "include_teams": False, "include_workspaces": False}  # fmt: skip
PAGES = "GET /v2/workbooks/{workbookId}/pages"
ELEMENTS = "GET /v2/workbooks/{workbookId}/pages/{pageId}/elements"


def ids(catalog) -> set[str]:
    return {row.workbook_id for row in catalog.workbooks}


def test_admin_with_personal_content_lists_everything_with_the_fewest_requests(sigma_server, client):
    org = sigma_server.org
    catalog = discover_catalog(client, CatalogOptions(include_personal=True, **CORE))
    expected = expected_workbooks(org, include_personal=True)
    assert ids(catalog) == {wb.workbook_id for wb in expected}
    assert len(catalog.workbooks) == len(expected)
    stats = catalog.stats
    assert (stats.admin, stats.personal) == (True, "all")
    assert stats.personal_workbooks == sum(wb.is_personal for wb in expected) > 1
    assert {wb.owner_id for wb in expected if wb.is_personal} - {org.caller.member_id}, "others' My Documents"
    assert stats.pages == page_count(org, expected)
    assert stats.elements == len(catalog.elements) == element_count(org, expected)
    assert stats.members == len(org.members)
    assert stats.skipped == ()
    server = sigma_server.stats
    assert server.by_endpoint == {
        "POST /v2/auth/token": 1,
        "GET /v2/workbooks": 1,
        "GET /v2/members": 1,
        PAGES: len(expected),
        ELEMENTS: stats.pages,
    }
    assert stats.requests == server.requests
    assert all(r.query.get("skipPermissionCheck") == "true" and r.query.get("excludeExplorations") == "true"
               for r in sigma_server.requests if r.endpoint == "GET /v2/workbooks")  # fmt: skip


def test_rows_carry_the_api_fields(sigma_server, client):
    org = sigma_server.org
    catalog = discover_catalog(client, CatalogOptions(include_personal=True))
    emails = {m.member_id: m.email for m in org.members}
    workspaces = {ws.workspace_id: ws.name for ws in org.workspaces}
    for row in catalog.workbooks:
        wb = org.workbook_by_id[row.workbook_id]
        assert (row.name, row.path, row.url, row.workbook_url_id) == (
            wb.name,
            wb.path,
            wb.url,
            wb.workbook_url_id,
        )
        assert row.owner_id == wb.owner_id and row.owner_email == emails[wb.owner_id]
        assert row.is_personal == wb.is_personal
        assert row.workspace == (MY_DOCUMENTS if wb.is_personal else workspaces[wb.workspace_id])
        assert row.latest_version == wb.latest_version and row.is_archived is False
        assert (
            row.created_at is not None
            and row.created_at.isoformat(timespec="milliseconds")[:23] == wb.created_at[:23]
        )
    by_key = {(e.workbook_id, e.page_id, e.element_id): e for e in catalog.elements}
    for row in catalog.workbooks:
        for page in org.pages[row.workbook_id]:
            for element in org.elements[(row.workbook_id, page.page_id)]:
                got = by_key[(row.workbook_id, page.page_id, element.element_id)]
                assert (got.page_name, got.name, got.type) == (page.name, element.name, element.type)
                assert got.visualization_type == element.vizualization_type
                assert got.column_count == len(element.columns)
                assert got.workbook_url_id == row.workbook_url_id


def test_elements_with_empty_names_are_kept(sigma_server, client):
    org = sigma_server.org
    catalog = discover_catalog(client, CatalogOptions(include_personal=True))
    expected = expected_workbooks(org, include_personal=True)
    empty = [
        element
        for wb in expected
        for page in org.pages[wb.workbook_id]
        for element in org.elements[(wb.workbook_id, page.page_id)]
        if element.name == ""
    ]
    assert empty
    assert sorted(e.element_id for e in catalog.elements if e.name == "") == sorted(
        e.element_id for e in empty
    )


def test_admin_without_personal_content(sigma_server, client):
    org = sigma_server.org
    catalog = discover_catalog(client, CatalogOptions(include_personal=False))
    expected = expected_workbooks(org, include_personal=False)
    assert ids(catalog) == {wb.workbook_id for wb in expected}
    assert not any(row.is_personal for row in catalog.workbooks)
    assert (catalog.stats.admin, catalog.stats.personal) == (None, "none")
    assert all("skipPermissionCheck" not in r.query for r in sigma_server.requests)


def test_non_admin_asking_for_personal_content_is_told_and_continues(
    sigma_server_factory, sigma_org_spec, make_client, caplog
):
    server = sigma_server_factory(sigma_org_spec, admin=False)
    with caplog.at_level(logging.WARNING):
        catalog = discover_catalog(make_client(server), CatalogOptions(include_personal=True, **CORE))
    assert "NOT an admin" in caplog.text and "Admin account type" in caplog.text
    expected = expected_workbooks(server.org, admin=False, include_personal=True)
    assert ids(catalog) == {wb.workbook_id for wb in expected}
    personal = [row for row in catalog.workbooks if row.is_personal]
    assert personal and {row.owner_id for row in personal} == {server.org.caller.member_id}
    assert (catalog.stats.admin, catalog.stats.personal) == (False, "own")
    assert server.stats.by_status.get(403) == 1
    assert catalog.stats.skipped == ()


def test_non_admin_without_personal_content(sigma_server_factory, sigma_org_spec, make_client):
    server = sigma_server_factory(sigma_org_spec, admin=False)
    catalog = discover_catalog(make_client(server), CatalogOptions(**CORE))
    expected = expected_workbooks(server.org, admin=False)
    assert ids(catalog) == {wb.workbook_id for wb in expected}
    assert not any(row.is_personal for row in catalog.workbooks)
    assert 403 not in server.stats.by_status


def test_workspace_filter_is_case_insensitive_and_unknown_names_are_reported(sigma_server, client, caplog):
    org = sigma_server.org
    wanted = [org.workspaces[0].name.upper(), f" {org.workspaces[1].name} ", "Nope"]
    with caplog.at_level(logging.WARNING):
        catalog = discover_catalog(client, CatalogOptions(include_personal=True, workspaces=tuple(wanted)))
    expected = expected_workbooks(org, include_personal=True, workspaces=[n.strip() for n in wanted])
    assert ids(catalog) == {wb.workbook_id for wb in expected}
    shared = {row.workspace for row in catalog.workbooks if not row.is_personal}
    assert shared == {org.workspaces[0].name, org.workspaces[1].name}
    assert catalog.stats.workspaces == 2
    assert "Workspace 'Nope' is not among the" in caplog.text
    assert org.workspaces[0].name in caplog.text  # the visible names are listed to help


def test_archived_workbooks_only_when_asked(sigma_server, client):
    org = sigma_server.org
    without = discover_catalog(client, CatalogOptions(include_personal=True))
    assert not any(row.is_archived for row in without.workbooks)
    sigma_server.reset_stats()
    with_archived = discover_catalog(client, CatalogOptions(include_personal=True, include_archived=True))
    expected = expected_workbooks(org, include_personal=True, include_archived=True)
    assert ids(with_archived) == {wb.workbook_id for wb in expected}
    archived = {row.workbook_id for row in with_archived.workbooks if row.is_archived}
    assert archived == {wb.workbook_id for wb in org.archived_workbooks} and archived
    assert with_archived.stats.archived_workbooks == len(archived)
    listings = [r.query.get("isArchived") for r in sigma_server.requests if r.endpoint == "GET /v2/workbooks"]
    assert sorted(listings) == ["false", "true"]


def test_without_elements_no_page_is_listed(sigma_server, client):
    catalog = discover_catalog(client, CatalogOptions(include_personal=True, include_elements=False, **CORE))
    assert catalog.workbooks and catalog.elements == []
    assert catalog.stats.pages == 0
    assert set(sigma_server.stats.by_endpoint) == {
        "POST /v2/auth/token",
        "GET /v2/workbooks",
        "GET /v2/members",
    }


def test_rate_limits_and_server_errors_give_the_same_catalog(sigma_server, client, make_client):
    options = CatalogOptions(include_personal=True, include_archived=True, max_concurrency=4)
    clean = discover_catalog(client, options)
    sigma_server.fail_next(1, 503, path="/v2/workbooks")
    sigma_server.fail_next(1, 429, path="/v2/members")
    sigma_server.fail_next(3, 429, path="/v2/workbooks/*/pages")
    sigma_server.fail_next(3, 502, path="/v2/workbooks/*/elements")
    sigma_server.drop_next(2, path="/v2/workbooks/*/elements")
    sigma_server.configure(error_rate=0.1)
    faulty_client = make_client(max_retries=8)
    faulty = discover_catalog(faulty_client, options)
    assert faulty.stats.skipped == ()
    assert faulty_client.stats.retries >= 10
    assert sigma_server.stats.injected_errors >= 8
    assert (faulty.workbooks, faulty.elements, faulty.members) == (
        clean.workbooks,
        clean.elements,
        clean.members,
    )


def test_expired_token_is_replaced_once(sigma_server, client):
    discover_catalog(client, CatalogOptions(include_elements=False))
    sigma_server.expire_tokens()
    sigma_server.reset_stats()
    catalog = discover_catalog(client, CatalogOptions(include_personal=True))
    assert catalog.stats.skipped == ()
    assert sigma_server.stats.token_requests == 1


@pytest.mark.parametrize("path", ["/v2/workbooks", "/v2/members"])
def test_persistent_failure_of_a_top_level_listing_fails(sigma_server, client, path):
    sigma_server.fail_path(path, 503)
    with pytest.raises(CatalogError, match="nothing is written") as raised:
        discover_catalog(client, CatalogOptions(include_personal=True))
    assert "HTTP 503" in str(raised.value)
    assert PAGES not in sigma_server.stats.by_endpoint  # stopped before fanning out


def test_workbook_whose_pages_are_forbidden_is_skipped_and_counted(sigma_server, client, caplog):
    org = sigma_server.org
    expected = expected_workbooks(org, include_personal=True)
    victim, broken = expected[3], expected[5]
    sigma_server.fail_path(f"/v2/workbooks/{victim.workbook_id}/pages", 403)
    sigma_server.fail_path(f"/v2/workbooks/{broken.workbook_id}/pages/*/elements", 500)
    options = CatalogOptions(include_personal=True, max_skipped_fraction=0.1)
    with caplog.at_level(logging.WARNING):
        catalog = discover_catalog(client, options)
    assert ids(catalog) == {wb.workbook_id for wb in expected}  # rows kept
    skipped = {s.workbook_id: s for s in catalog.stats.skipped}
    assert set(skipped) == {victim.workbook_id, broken.workbook_id}
    assert skipped[victim.workbook_id].reason == "pages: HTTP 403 (forbidden)"
    assert skipped[broken.workbook_id].reason.startswith("elements of page ")
    assert "HTTP 500" in skipped[broken.workbook_id].reason
    assert skipped[victim.workbook_id].name == victim.name
    assert not {e.workbook_id for e in catalog.elements} & set(skipped)
    rest = [wb for wb in expected if wb.workbook_id not in skipped]
    assert len(catalog.elements) == element_count(org, rest)
    assert catalog.stats.pages == page_count(org, rest)
    assert victim.name in caplog.text and broken.workbook_id in caplog.text
    summary = catalog.summary(date(2026, 1, 1))
    assert summary["skipped"] == 2
    assert {s["workbook_id"] for s in summary["skipped_workbooks"]} == set(skipped)


def test_too_many_skipped_workbooks_fail_the_run(sigma_server, client):
    sigma_server.fail_path("/v2/workbooks/*/pages", 404)
    with pytest.raises(CatalogIncompleteError, match=r"max_skipped_fraction=0\.05") as raised:
        discover_catalog(client, CatalogOptions(include_personal=True, max_concurrency=2))
    assert "HTTP 404" in str(raised.value)
    # It stopped early instead of trying every workbook.
    assert sigma_server.stats.by_endpoint[PAGES] < len(
        expected_workbooks(sigma_server.org, include_personal=True)
    )


def test_authentication_failure_on_pages_is_not_a_skip(sigma_server, client):
    sigma_server.fail_path("/v2/workbooks/*/pages", 401)
    with pytest.raises(SigmaAPIError) as raised:
        discover_catalog(client, CatalogOptions(include_personal=True, max_skipped_fraction=1.0))
    assert raised.value.status == 401


def test_never_more_requests_in_flight_than_max_concurrency(sigma_server, make_client):
    sigma_server.configure(latency=0.02)
    one_workspace = (sigma_server.org.workspaces[0].name,)
    for concurrency, workspaces in ((1, one_workspace), (3, None)):
        sigma_server.reset_stats()
        options = CatalogOptions(include_personal=True, workspaces=workspaces, max_concurrency=concurrency)
        catalog = discover_catalog(make_client(pool_size=concurrency), options)
        assert catalog.stats.skipped == () and catalog.elements
        peak = sigma_server.stats.peak_in_flight
        assert peak <= concurrency
        if concurrency > 1:
            assert peak >= 2  # requests really overlap


def test_small_pages_are_each_fetched_once(sigma_server, client):
    org = sigma_server.org
    clean = discover_catalog(client, CatalogOptions(include_personal=True))
    sigma_server.reset_stats()
    paged = discover_catalog(client, CatalogOptions(include_personal=True, page_size=2, **CORE))
    assert (paged.workbooks, paged.elements, paged.members) == (
        clean.workbooks,
        clean.elements,
        clean.members,
    )

    def pages_of(count: int) -> int:
        return max(1, -(-count // 2))

    expected = expected_workbooks(org, include_personal=True)
    minimum = pages_of(paged.stats.listed_workbooks) + pages_of(len(org.members))
    minimum += sum(pages_of(len(org.pages[wb.workbook_id])) for wb in expected)
    minimum += sum(
        pages_of(len(org.elements[(wb.workbook_id, p.page_id)]))
        for wb in expected
        for p in org.pages[wb.workbook_id]
    )
    assert sigma_server.stats.requests == minimum  # the token is cached from the first run


def test_workbooks_without_pages(sigma_server_factory, make_client):
    server = sigma_server_factory(OrgSpec(seed=3, workbooks=8, pages_per_workbook=0))
    catalog = discover_catalog(make_client(server), CatalogOptions(include_personal=True))
    assert len(catalog.workbooks) == len(expected_workbooks(server.org, include_personal=True)) > 0
    assert (catalog.elements, catalog.stats.pages, catalog.stats.skipped) == ([], 0, ())
