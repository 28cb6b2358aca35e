"""The local server's catalog endpoints keep Sigma's quirks (reference/sigma-api.md §3.3-3.7)."""

from __future__ import annotations

import pytest

from airflow_sigma.api.errors import SigmaAPIError
from airflow_sigma.testing import OrgSpec, SigmaTestServer
from airflow_sigma.testing.org import DATA_ELEMENT_TYPES, Org

SPEC = OrgSpec(seed=8, workbooks=12, pages_per_workbook=2, elements_per_page=4, members=6)


@pytest.fixture(scope="module")
def server():
    with SigmaTestServer(SPEC) as running:
        yield running


@pytest.fixture
def client(server):
    with server.client(max_retries=0) as made:
        yield made


def status_of(client, path, params=None) -> int:
    try:
        client.get(path, params)
    except SigmaAPIError as exc:
        return int(exc.status or 0)
    return 200


def test_generated_catalog_has_every_case():
    org = Org.generate(SPEC)
    assert any(dm.is_personal for dm in org.data_models) and any(dm.is_archived for dm in org.data_models)
    assert any(ds.is_archived for ds in org.datasets) and any(t.is_archived for t in org.teams)
    statuses = {lineage.status for lineage in org.lineage.values()}
    assert statuses == {200, 409, 500}
    kinds = {s.type for sources in org.sources.values() for s in sources}
    assert kinds == {"data-model", "dataset", "table"}
    assert Org.generate(SPEC).lineage == org.lineage  # deterministic
    # adding the catalog parts left the workbooks of a seed unchanged
    assert [wb.workbook_id for wb in org.workbooks] == [wb.workbook_id for wb in Org.generate(SPEC).workbooks]


def test_workbook_sources_are_a_bare_array_and_refuse_paging(server, client):
    workbook = server.org.workbooks[0].workbook_id
    body = client.get(f"/v2/workbooks/{workbook}/sources")
    assert body == [source.to_api() for source in server.org.sources[workbook]]
    assert status_of(client, f"/v2/workbooks/{workbook}/sources", {"limit": 10}) == 400


def test_lineage_answers_by_element_kind(server, client):
    org = server.org
    seen = set()
    for (workbook_id, _), elements in org.elements.items():
        for element in elements:
            path = f"/v2/workbooks/{workbook_id}/lineage/elements/{element.element_id}"
            lineage = org.lineage.get((workbook_id, element.element_id))
            expected = 400 if element.type not in DATA_ELEMENT_TYPES else lineage.status
            assert status_of(client, path) == expected
            seen.add(expected)
    assert seen == {200, 400, 409, 500}


def test_data_model_listing_leaves_personal_ones_out_but_answers_for_them(server, client):
    org = server.org
    listed = {e["dataModelId"] for e in client.paginate("/v2/dataModels")}
    assert listed == {dm.data_model_id for dm in org.data_models if not dm.is_personal}
    personal = next(dm for dm in org.data_models if dm.is_personal)
    by_url = client.get(f"/v2/dataModels/{personal.url_id}")
    assert by_url["dataModelId"] == personal.data_model_id and by_url["urlId"] is None
    assert client.get(f"/v2/dataModels/{personal.data_model_id}")["dataModelUrlId"] == personal.url_id


def test_teams_are_a_bare_array_without_limit(server, client):
    assert client.get("/v2/teams") == [team.to_api() for team in server.org.teams]
    team = server.org.teams[0]
    members = [e["memberId"] for e in client.paginate(f"/v2/teams/{team.team_id}/members", page_size=1)]
    assert members == list(team.member_ids)


def test_files_list_only_the_callers_workspaces_even_for_admins(server, client):
    ids = {e["id"] for e in client.paginate("/v2/files", {"typeFilters": "workspace"})}
    assert ids == server.org.caller_workspace_ids() and len(ids) < len(server.org.workspaces)
    assert status_of(client, "/v2/files") == 400


def test_datasets_gone_switch(server, client):
    assert len(list(client.paginate("/v2/datasets"))) == len(server.org.datasets)
    server.configure(datasets_gone=True)
    try:
        assert status_of(client, "/v2/datasets") == 404
    finally:
        server.configure(datasets_gone=False)
