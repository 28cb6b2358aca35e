"""Pagination over real HTTP against the local Sigma server."""

from __future__ import annotations

import pytest

from airflow_sigma.api.errors import SigmaPaginationError
from airflow_sigma.api.pagination import iter_entries


def ids(entries, key="workbookId"):
    return [entry[key] for entry in entries]


@pytest.mark.parametrize("page_size", [1, 7, 1000])
def test_every_workbook_is_listed_once_in_order_at_any_page_size(sigma_server, client, page_size):
    expected = [wb.workbook_id for wb in sigma_server.org.visible_workbooks(admin=True)]
    assert len(expected) > 7
    assert ids(client.list_workbooks(page_size=page_size)) == expected

    calls = [r for r in sigma_server.requests if r.path == "/v2/workbooks"]
    assert len(calls) == -(-len(expected) // page_size)
    assert all(call.query["limit"] == str(page_size) for call in calls)
    assert "page" not in calls[0].query  # page 1 is requested without a token, and kept


def test_opaque_tokens_are_passed_back_verbatim(sigma_server, client):
    list(client.list_workbooks(page_size=4))
    tokens = [r.query["page"] for r in sigma_server.requests if "page" in r.query]
    assert tokens
    assert all(not token.isdigit() and "+" in token and "/" in token for token in tokens)


def test_admin_skip_permission_check_lists_everyones_my_documents(sigma_server, client):
    org = sigma_server.org
    listed = ids(client.list_workbooks(skip_permission_check=True, exclude_explorations=True, page_size=7))
    expected = org.visible_workbooks(admin=True, skip_permission_check=True, exclude_explorations=True)
    assert listed == [wb.workbook_id for wb in expected]
    owners = {wb.owner_id for wb in expected if wb.is_personal}
    assert org.caller.member_id in owners and len(owners) > 1
    assert not any(wb.is_exploration for wb in expected)


def test_archived_flag(sigma_server, client):
    archived = ids(client.list_workbooks(is_archived=True, skip_permission_check=True, page_size=2))
    assert archived
    assert set(archived) == {wb.workbook_id for wb in sigma_server.org.archived_workbooks}
    assert sigma_server.requests[-1].query["isArchived"] == "true"


@pytest.mark.parametrize("page_size", [1, 1000])
def test_pages_and_elements_of_a_workbook(sigma_server, client, page_size):
    org = sigma_server.org
    workbook = org.workbooks[0]
    pages = list(client.list_workbook_pages(workbook.workbook_id, page_size=page_size))
    assert ids(pages, "pageId") == [p.page_id for p in org.pages[workbook.workbook_id]]
    first = pages[0]["pageId"]
    elements = list(client.list_page_elements(workbook.workbook_id, first, page_size=page_size))
    assert elements == [e.to_api() for e in org.elements[(workbook.workbook_id, first)]]


def test_members_and_workspaces_always_send_limit(sigma_server, client):
    org = sigma_server.org
    members = list(client.list_members(page_size=3))
    assert ids(members, "memberId") == [m.member_id for m in org.members]
    workspaces = list(client.list_workspaces(page_size=1))
    assert ids(workspaces, "workspaceId") == [ws.workspace_id for ws in org.visible_workspaces(admin=True)]
    listings = [r for r in sigma_server.requests if r.path in ("/v2/members", "/v2/workspaces")]
    assert all("limit" in r.query for r in listings)


def test_member_filters_are_sent(sigma_server, client):
    active = list(client.list_members(include_archived=False, include_inactive=False))
    expected = sigma_server.org.listed_members(include_archived=False, include_inactive=False)
    assert ids(active, "memberId") == [m.member_id for m in expected]
    assert len(expected) < len(sigma_server.org.members)


def test_bare_array_answer_is_accepted(sigma_server, client):
    """Without ``limit`` the server answers members with a bare JSON array; the paginator takes it whole."""

    def without_limit(query):
        return client.get("/v2/members", {k: v for k, v in query.items() if k != "limit"})

    assert isinstance(client.get("/v2/members"), list)
    members = list(iter_entries(without_limit, "/v2/members"))
    assert len(members) == len(
        sigma_server.org.listed_members(include_archived=False, include_inactive=False)
    )


@pytest.mark.parametrize("page_size", [1, 4, 1000])
def test_page_token_scheme(sigma_server, client, page_size):
    entries = list(client.paginate("/v2/accountTypes", scheme="token", page_size=page_size))
    assert entries == sigma_server.org.account_types
    calls = [r for r in sigma_server.requests if r.path == "/v2/accountTypes"]
    assert all(call.query["pageSize"] == str(page_size) and "limit" not in call.query for call in calls)
    assert all("pageToken" in call.query for call in calls[1:])


def test_has_more_as_string(sigma_server, client):
    sigma_server.configure(has_more_as_string=True)
    assert len(list(client.list_workbooks(page_size=5))) == len(
        sigma_server.org.visible_workbooks(admin=True)
    )


def test_repeated_page_token_is_an_error_not_an_endless_loop(sigma_server, client):
    sigma_server.configure(repeat_page_token=True)
    with pytest.raises(SigmaPaginationError, match="second time") as err:
        list(client.list_workbooks(page_size=5))
    assert err.value.path == "/v2/workbooks"
    assert sigma_server.stats.by_endpoint["GET /v2/workbooks"] == 2  # stopped as soon as seen


def test_page_size_over_1000_is_refused_before_any_request(sigma_server, client):
    with pytest.raises(ValueError, match="page_size"):
        list(client.list_workbooks(page_size=1001))
    assert sigma_server.stats.requests == 0
