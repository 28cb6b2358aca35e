"""The local Sigma server speaks the documented API shapes and its switches do what they say.

Raw ``requests`` calls (not our client) so the server is checked on its own terms.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from airflow_sigma.testing.org import Org, OrgSpec


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    return OrgSpec(seed=5, workbooks=30, pages_per_workbook=2, elements_per_page=4)


def token_for(server, **form_overrides):
    form = {
        "grant_type": "client_credentials",
        "client_id": server.client_id,
        "client_secret": server.client_secret,
        **form_overrides,
    }
    return requests.post(f"{server.url}/v2/auth/token", data=form, timeout=5)


@pytest.fixture
def api(sigma_server):
    token = token_for(sigma_server).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def get(path, **params):
        return session.get(f"{sigma_server.url}{path}", params=params, timeout=5)

    yield get
    session.close()


def test_token_response_shape(sigma_server):
    sigma_server.configure(token_lifetime=120)
    body = token_for(sigma_server).json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 120


def test_token_rules(sigma_server):
    assert token_for(sigma_server, client_secret="wrong").status_code == 401
    as_json = requests.post(
        f"{sigma_server.url}/v2/auth/token", timeout=5, json={"grant_type": "client_credentials"}
    )
    assert as_json.status_code == 400
    basic = base64.b64encode(f"{sigma_server.client_id}:{sigma_server.client_secret}".encode()).decode()
    with_basic = requests.post(
        f"{sigma_server.url}/v2/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=5,
    )
    assert with_basic.status_code == 200
    refreshed = token_for(
        sigma_server, grant_type="refresh_token", refresh_token=with_basic.json()["refresh_token"]
    )
    assert refreshed.status_code == 200
    assert sigma_server.stats.token_requests == 4


def test_credentials_work_only_on_their_own_server(sigma_server, sigma_server_factory):
    other = sigma_server_factory(OrgSpec(workbooks=2))
    response = requests.post(
        f"{other.url}/v2/auth/token",
        timeout=5,
        data={
            "grant_type": "client_credentials",
            "client_id": sigma_server.client_id,
            "client_secret": sigma_server.client_secret,
        },
    )
    assert response.status_code == 401
    token = token_for(sigma_server).json()["access_token"]
    whoami = requests.get(f"{other.url}/v2/whoami", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert whoami.status_code == 401


def test_api_needs_a_valid_token(sigma_server, api):
    assert requests.get(f"{sigma_server.url}/v2/whoami", timeout=5).status_code == 401
    assert api("/v2/whoami").status_code == 200
    sigma_server.expire_tokens()
    response = api("/v2/whoami")
    assert response.status_code == 401
    assert set(response.json()) == {"message", "code", "requestId"}
    assert response.headers["x-request-id"] == response.json()["requestId"]


def test_workbooks_envelope_and_opaque_tokens(sigma_server, api):
    first = api("/v2/workbooks", limit=4).json()
    assert set(first) == {"entries", "nextPage", "total", "hasMore"}
    assert len(first["entries"]) == 4 and first["hasMore"] is True
    token = first["nextPage"]
    assert isinstance(token, str) and not token.isdigit()
    second = api("/v2/workbooks", limit=4, page=token).json()
    assert second["entries"][0] != first["entries"][0]
    assert api("/v2/workbooks", limit=4, page="4").status_code == 400  # not an offset
    default = api("/v2/workbooks").json()
    assert len(default["entries"]) == min(50, first["total"])


def test_last_page_has_null_next_page(sigma_server, api):
    body = api("/v2/workbooks", limit=1000).json()
    assert body["nextPage"] is None and body["hasMore"] is False
    assert body["total"] == len(body["entries"])


def test_limit_bounds(api):
    assert api("/v2/workbooks", limit=1001).status_code == 400
    assert api("/v2/workbooks", limit=0).status_code == 400


@pytest.mark.parametrize("path", ["/v2/members", "/v2/workspaces"])
def test_bare_array_without_limit_and_envelope_with_it(api, path):
    bare = api(path).json()
    assert isinstance(bare, list) and bare
    paged = api(path, limit=2).json()
    assert set(paged) == {"entries", "nextPage"}
    assert paged["entries"] == bare[:2]


@pytest.mark.parametrize("path", ["/v2.1/members", "/v2.1/workspaces"])
def test_v21_always_paginates(api, path):
    assert set(api(path).json()) == {"entries", "nextPage", "total", "hasMore"}


def test_page_token_scheme_on_account_types(sigma_server, api):
    first = api("/v2/accountTypes", pageSize=2).json()
    assert set(first) == {"entries", "nextPageToken"} and len(first["entries"]) == 2
    second = api("/v2/accountTypes", pageSize=2, pageToken=first["nextPageToken"]).json()
    assert second["entries"] == sigma_server.org.account_types[2:4]


def test_elements_use_sigmas_vizualization_spelling(sigma_server, api):
    org = sigma_server.org
    found = []
    for workbook in org.workbooks[:5]:
        for page in org.pages[workbook.workbook_id]:
            found += api(f"/v2/workbooks/{workbook.workbook_id}/pages/{page.page_id}/elements").json()[
                "entries"
            ]
    assert any("vizualizationType" in e for e in found)
    assert not any("visualizationType" in e for e in found)
    assert set(api(f"/v2/workbooks/{org.workbooks[0].workbook_id}/pages").json()) == {
        "entries",
        "nextPage",
        "total",
    }


def test_admin_and_non_admin_views(sigma_server, api):
    org = sigma_server.org

    def listed(**params):
        return {wb["workbookId"] for wb in api("/v2/workbooks", limit=1000, **params).json()["entries"]}

    everyone = listed(skipPermissionCheck="true")
    own = listed()
    others_personal = {wb.workbook_id for wb in org.personal_workbooks if wb.owner_id != org.caller.member_id}
    assert others_personal <= everyone and others_personal.isdisjoint(own)

    sigma_server.configure(admin=False)
    assert listed() == own
    forbidden = api("/v2/workbooks", skipPermissionCheck="true")
    assert forbidden.status_code == 403 and "admin" in forbidden.json()["message"]
    sigma_server.configure(non_admin_skip_permission_check="ignore")
    assert listed(skipPermissionCheck="true") == own
    hidden = next(wb for wb in org.workbooks if not org.caller_can_access(wb))
    assert api(f"/v2/workbooks/{hidden.workbook_id}/pages").status_code == 403
    assert len(api("/v2/workspaces").json()) == len(org.caller_workspace_ids())


def test_explorations_and_archived_filters(sigma_server, api):
    org = sigma_server.org

    def listed(**params):
        return {wb["workbookId"] for wb in api("/v2/workbooks", limit=1000, **params).json()["entries"]}

    explorations = {wb.workbook_id for wb in org.explorations}
    assert explorations <= listed(skipPermissionCheck="true")
    assert explorations.isdisjoint(listed(skipPermissionCheck="true", excludeExplorations="true"))
    assert explorations.isdisjoint(listed())
    assert listed(isArchived="true", skipPermissionCheck="true") == {
        wb.workbook_id for wb in org.archived_workbooks
    }


def test_persistent_failure_of_one_endpoint(sigma_server, api):
    workbook_id = sigma_server.org.workbooks[3].workbook_id
    sigma_server.fail_path(f"/v2/workbooks/{workbook_id}/pages", 404)
    assert all(api(f"/v2/workbooks/{workbook_id}/pages").status_code == 404 for _ in range(3))
    assert api(f"/v2/workbooks/{sigma_server.org.workbooks[4].workbook_id}/pages").status_code == 200
    sigma_server.clear_faults()
    assert api(f"/v2/workbooks/{workbook_id}/pages").status_code == 200


def test_burst_then_recovery_and_retry_after(sigma_server, api):
    sigma_server.fail_next(2, 429, path="/v2/workbooks", retry_after="3")
    statuses = [api("/v2/workbooks", limit=1) for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "3"
    assert sigma_server.stats.injected_errors == 2


def test_random_error_rate_and_drops(sigma_server, api):
    sigma_server.configure(error_rate=1.0, error_statuses=(502,))
    assert api("/v2/whoami").status_code == 502
    sigma_server.configure(error_rate=0.0, drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api("/v2/whoami")
    assert sigma_server.stats.dropped_connections == 1


def test_counters_and_reset(sigma_server, api):
    api("/v2/whoami")
    api(f"/v2/workbooks/{sigma_server.org.workbooks[0].workbook_id}/pages")
    api("/v2/nope")
    stats = sigma_server.stats
    assert stats.by_endpoint["GET /v2/workbooks/{workbookId}/pages"] == 1
    assert stats.by_endpoint["POST /v2/auth/token"] == 1 and stats.token_requests == 1
    assert stats.by_status[404] == 1
    sigma_server.reset_stats()
    assert sigma_server.stats.requests == 0 and sigma_server.requests == []


def test_concurrent_requests_are_served_in_parallel(sigma_server, api):
    sigma_server.configure(latency=0.2)
    barrier = threading.Barrier(8)

    def call(_):
        barrier.wait(timeout=10)
        return api("/v2/whoami").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(call, range(8))) == [200] * 8
    assert sigma_server.stats.peak_in_flight >= 2


def test_configure_rejects_unknown_options(sigma_server):
    with pytest.raises(TypeError, match="latncy"):
        sigma_server.configure(latncy=1)


def test_binds_loopback_only(sigma_server):
    assert sigma_server.url.startswith("http://127.0.0.1:")


def test_runs_as_a_subprocess(tmp_path: Path):
    info_file = tmp_path / "info.json"
    command = [
        sys.executable,
        "-m",
        "airflow_sigma.testing.server",
        "--port",
        "0",
        "--workbooks",
        "6",
        "--client-id",
        "demo-id",
        "--client-secret",
        "demo-secret",
        "--info-file",
        str(info_file),
    ]
    env = {**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "server did not print its address within 30 s"
        printed = [process.stdout.readline() for _ in range(4)]
        info = json.loads(info_file.read_text())
        assert info["client_secret"] == "demo-secret"
        assert printed[0].startswith(f"Local Sigma API server on {info['url']}: 6 workbooks")
        # The printed connection lines work as they are, in a shell.
        var = "$AIRFLOW_CONN_SIGMA_DEFAULT"
        script = f"{printed[2]}first={var}; {printed[3]}echo $first; echo {var}"
        exported = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, check=True
        ).stdout.splitlines()
        assert exported == [info["connection_json"], info["connection_uri"]]
        assert json.loads(exported[0]) == {
            "conn_type": "sigma",
            "host": info["url"],
            "login": "demo-id",
            "password": "demo-secret",
            "extra": {"allow_custom_host": True},
        }
        assert exported[1] == f"sigma://http://demo-id:demo-secret@{info['url'][7:]}/?allow_custom_host=true"
        line = info
        token = requests.post(
            f"{line['url']}/v2/auth/token",
            timeout=5,
            data={"grant_type": "client_credentials", "client_id": "demo-id", "client_secret": "demo-secret"},
        )
        assert token.status_code == 200
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        body = requests.get(
            f"{line['url']}/v2/workbooks",
            params={"limit": 100, "skipPermissionCheck": "true"},
            headers=headers,
            timeout=5,
        ).json()
        expected = Org.generate(OrgSpec(seed=42, workbooks=6)).visible_workbooks(
            admin=True, skip_permission_check=True
        )
        assert [wb["workbookId"] for wb in body["entries"]] == [wb.workbook_id for wb in expected]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert process.stderr is not None and "Traceback" not in process.stderr.read()


def test_testing_package_does_not_import_airflow():
    code = (
        "import sys, airflow_sigma.testing as t, airflow_sigma.testing.pytest_plugin;"
        "t.SigmaTestServer, t.Org, t.ServerOptions;"
        "print([m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
