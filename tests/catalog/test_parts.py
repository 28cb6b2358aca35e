"""Issue 18: data models, datasets, workbook sources, element lineage, teams and workspaces, compared with
the local server's own truth, with the fewest requests, clean and under faults."""

from __future__ import annotations

import logging
from datetime import date
from types import SimpleNamespace

import pytest

from airflow_sigma.catalog import CatalogError, CatalogOptions, discover_catalog, write_catalog
from airflow_sigma.catalog.parts import (
    DataModelRow,
    DatasetRow,
    LineageRow,
    SourceRow,
    TeamMemberRow,
    TeamRow,
    WorkspaceRow,
)
from airflow_sigma.testing.org import OrgSpec
from airflow_sigma.warehouse.tables import (
    DATA_MODELS,
    DATASETS,
    ELEMENT_LINEAGE,
    TEAM_MEMBERS,
    TEAMS,
    WORKBOOK_SOURCES,
    WORKSPACES,
)
from tests.catalog.expected import expected_parts, expected_workbooks, found_parts, no_lineage_counts

EVERYTHING = CatalogOptions(include_personal=True, include_element_lineage=True)
DAY = date(2026, 2, 1)


def minimum_by_endpoint(org, workbooks) -> dict[str, int]:
    """The fewest requests per endpoint for EVERYTHING (pages of 1,000) by an admin."""
    data_elements = sum(len(org.data_elements(wb.workbook_id)) for wb in workbooks)
    used = {s.source_id for wb in workbooks for s in org.sources[wb.workbook_id] if s.type == "data-model"}
    personal = sum(1 for dm in org.data_models if dm.is_personal and dm.data_model_id in used)
    counts = {
        "POST /v2/auth/token": 1,
        "GET /v2/workbooks": 1,
        "GET /v2/members": 1,
        "GET /v2/dataModels": 1,
        "GET /v2/datasets": 1,
        "GET /v2/teams": 1,
        "GET /v2/workspaces": 1,
        "GET /v2/files": 1,
        "GET /v2/teams/{teamId}/members": len(org.teams),
        "GET /v2/workbooks/{workbookId}/pages": len(workbooks),
        "GET /v2/workbooks/{workbookId}/sources": len(workbooks),
        "GET /v2/workbooks/{workbookId}/pages/{pageId}/elements": sum(
            len(org.pages[wb.workbook_id]) for wb in workbooks
        ),
        "GET /v2/workbooks/{workbookId}/lineage/elements/{elementId}": data_elements,
        "GET /v2/dataModels/{dataModelId}": personal,
    }
    return {endpoint: count for endpoint, count in counts.items() if count}


def test_every_part_matches_the_server_truth_with_the_fewest_requests(sigma_server, client, caplog):
    org = sigma_server.org
    workbooks = expected_workbooks(org, include_personal=True)
    with caplog.at_level(logging.INFO):
        catalog = discover_catalog(client, EVERYTHING)
    assert found_parts(catalog.parts) == expected_parts(org, workbooks)
    assert sigma_server.stats.by_endpoint == minimum_by_endpoint(org, workbooks)
    assert catalog.stats.requests == sigma_server.stats.requests
    # the quirks are present and handled
    truth = no_lineage_counts(org, workbooks)
    assert truth[500] and truth[409]
    assert catalog.stats.no_lineage == {
        "no lineage (HTTP 500)": truth[500],
        "source archived (HTTP 409)": truth[409],
    }
    assert f"{truth[500] + truth[409]} data elements have no lineage rows" in caplog.text
    assert any(dm.is_personal for dm in catalog.parts.data_models)
    assert "not in /v2/dataModels (personal ones are left out)" in caplog.text
    unlisted = [r for r in catalog.parts.lineage if r.node_type == "data-model" and r.node_name is None]
    assert unlisted, "data-model nodes named only by an edge get a row"
    assert any(len(r.upstream_node_id) == 2 for r in catalog.parts.lineage), "joins have two upstream nodes"
    summary = catalog.summary(DAY)
    assert summary["parts"]["lineage"] == len(catalog.parts.lineage)


def test_only_the_parts_asked_for_are_requested(sigma_server, client):
    options = CatalogOptions(
        include_elements=False,
        include_data_models=False,
        include_datasets=False,
        include_teams=False,
        include_workspaces=False,
    )
    catalog = discover_catalog(client, options)
    parts = catalog.parts
    assert parts.sources and parts.data_models is None and parts.lineage is None and parts.teams is None
    assert set(sigma_server.stats.by_endpoint) == {
        "POST /v2/auth/token",
        "GET /v2/workbooks",
        "GET /v2/members",
        "GET /v2/workbooks/{workbookId}/sources",
    }
    with pytest.raises(ValueError, match="include_element_lineage needs include_elements"):
        CatalogOptions(include_elements=False, include_element_lineage=True)


def test_faults_give_the_same_parts(sigma_server, client, make_client):
    clean = discover_catalog(client, EVERYTHING)
    sigma_server.fail_next(1, 503, path="/v2/dataModels")
    sigma_server.fail_next(1, 429, path="/v2/teams")
    sigma_server.fail_next(2, 502, path="/v2/workbooks/*/sources")
    sigma_server.fail_next(3, 429, path="/v2/workbooks/*/lineage/elements/*")
    sigma_server.fail_next(1, 504, path="/v2/files")
    sigma_server.drop_next(2, path="/v2/teams/*/members")
    sigma_server.configure(error_rate=0.1)
    faulty_client = make_client(max_retries=8)
    faulty = discover_catalog(faulty_client, EVERYTHING)
    assert faulty.stats.skipped == ()
    assert sigma_server.stats.injected_errors >= 8
    assert faulty.parts == clean.parts
    assert faulty.stats.no_lineage == clean.stats.no_lineage


@pytest.mark.parametrize(
    "path",
    ["/v2/dataModels", "/v2/teams", "/v2/workspaces", "/v2/files", "/v2/datasets", "/v2/teams/*/members"],
)
def test_a_failed_listing_fails_the_run(sigma_server, client, path):
    sigma_server.fail_path(path, 503)
    with pytest.raises(CatalogError, match="nothing is written") as raised:
        discover_catalog(client, EVERYTHING)
    assert "HTTP 503" in str(raised.value)


def test_datasets_api_gone_leaves_its_table_alone(sigma_server_factory, sigma_org_spec, make_client, caplog):
    server = sigma_server_factory(sigma_org_spec, datasets_gone=True)
    with caplog.at_level(logging.WARNING):
        catalog = discover_catalog(make_client(server), CatalogOptions(include_elements=False))
    assert catalog.parts.datasets is None and catalog.parts.data_models
    assert "deprecated datasets API answered HTTP 404" in caplog.text


def test_non_admin_sees_its_workspaces_and_counts_unreadable_personal_data_models(
    sigma_server_factory, sigma_org_spec, make_client
):
    server = sigma_server_factory(sigma_org_spec, admin=False)
    org = server.org
    catalog = discover_catalog(make_client(server), CatalogOptions(include_personal=True))
    workbooks = expected_workbooks(org, admin=False, include_personal=True)
    expected = expected_parts(org, workbooks, admin=False)
    found = found_parts(catalog.parts)
    for name in ("data_models", "sources", "workspaces", "teams", "team_members"):
        assert found[name] == expected[name], name
    assert all(visible for _, _, visible in found["workspaces"])
    used = {s.source_id for wb in workbooks for s in org.sources[wb.workbook_id] if s.type == "data-model"}
    others = [dm for dm in org.data_models if dm.is_personal and dm.data_model_id in used
              and dm.owner_id != org.caller.member_id]  # fmt: skip
    assert catalog.stats.unresolved_data_models == len(others)


def test_workbook_with_forbidden_sources_is_skipped_not_failed(sigma_server, client):
    org = sigma_server.org
    workbooks = expected_workbooks(org, include_personal=True)
    victim = workbooks[2]
    sigma_server.fail_path(f"/v2/workbooks/{victim.workbook_id}/sources", 403)
    catalog = discover_catalog(client, CatalogOptions(include_personal=True, max_skipped_fraction=0.1))
    skipped = [(s.workbook_id, s.reason) for s in catalog.stats.skipped]
    assert skipped == [(victim.workbook_id, "sources: HTTP 403 (forbidden)")]
    assert not any(r.workbook_id == victim.workbook_id for r in catalog.parts.sources)
    assert not any(r.workbook_id == victim.workbook_id for r in catalog.elements)


def test_parts_are_stored_and_replaced_per_snapshot(sigma_server, client, make_warehouse):
    org = sigma_server.org
    warehouse = make_warehouse()
    catalog = discover_catalog(client, EVERYTHING)
    written = write_catalog(warehouse, catalog, DAY)
    assert written["sigma_element_lineage"] == len(catalog.parts.lineage)
    write_catalog(warehouse, catalog, DAY)  # a re-run replaces its own snapshot

    def stored(table, row_type):
        rows = warehouse.read_table(table)
        assert {row[0] for row in rows} == {DAY}
        return [row_type(*row[1:]) for row in rows]

    parts = SimpleNamespace(
        data_models=stored(DATA_MODELS, DataModelRow),
        datasets=stored(DATASETS, DatasetRow),
        sources=stored(WORKBOOK_SOURCES, SourceRow),
        lineage=stored(ELEMENT_LINEAGE, LineageRow),
        teams=stored(TEAMS, TeamRow),
        team_members=stored(TEAM_MEMBERS, TeamMemberRow),
        workspaces=stored(WORKSPACES, WorkspaceRow),
    )
    assert found_parts(parts) == expected_parts(org, expected_workbooks(org, include_personal=True))
    # parts switched off leave their tables as they are
    lean = discover_catalog(client, CatalogOptions(include_element_lineage=False, include_teams=False))
    write_catalog(warehouse, lean, DAY)
    assert len(warehouse.read_table(ELEMENT_LINEAGE)) == len(catalog.parts.lineage)
    assert len(warehouse.read_table(TEAMS)) == len(catalog.parts.teams)


def test_small_pages_give_the_same_parts(sigma_server_factory, make_client):
    server = sigma_server_factory(OrgSpec(seed=4, workbooks=6, pages_per_workbook=1, elements_per_page=2,
                                          members=5, data_models=5, datasets=3, teams=3))  # fmt: skip
    clean = discover_catalog(make_client(server), EVERYTHING)
    options = CatalogOptions(include_personal=True, include_element_lineage=True, page_size=2)
    paged = discover_catalog(make_client(server), options)
    assert paged.parts == clean.parts
    assert server.stats.by_endpoint["GET /v2/dataModels"] == 1 + 3  # two runs: 1 page, then 3 pages of 2
