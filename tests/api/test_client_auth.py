"""Tokens, hosts and credentials: concurrency, wrong credentials, wrong region, disallowed hosts, auto."""

from __future__ import annotations

import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_sigma.api.client import SigmaClient
from airflow_sigma.api.errors import SigmaAPIError, SigmaAuthError, SigmaConfigError
from airflow_sigma.api.regions import CLOUD_HOSTS
from airflow_sigma.api.settings import SigmaSettings
from airflow_sigma.testing.org import OrgSpec
from tests.api.conftest import FAST_RETRIES


def test_16_threads_starting_at_once_make_exactly_one_token_request(sigma_server, client):
    sigma_server.configure(latency=0.02)
    barrier = threading.Barrier(16)

    def call(_):
        barrier.wait(timeout=10)
        return client.whoami()["userId"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        users = list(pool.map(call, range(16)))
    assert users == [sigma_server.org.caller.member_id] * 16
    assert sigma_server.stats.token_requests == 1
    assert client.stats.token_requests == 1
    assert sigma_server.stats.by_endpoint["GET /v2/whoami"] == 16


def test_wrong_credentials(sigma_server):
    client = SigmaClient(sigma_server.url, sigma_server.client_id, "wrong-secret-42", allow_custom_host=True)
    with pytest.raises(SigmaAuthError) as err:
        client.whoami()
    message = str(err.value)
    assert "HTTP 401" in message and sigma_server.url in message
    assert "Check the client id and secret" in message
    assert "wrong-secret-42" not in message
    assert err.value.host == sigma_server.url and err.value.status == 401


def test_valid_credentials_fail_on_another_regions_host(sigma_server_factory):
    home = sigma_server_factory(OrgSpec(workbooks=4))
    other = sigma_server_factory(OrgSpec(workbooks=4))
    hosts = {"aws-us-west": home.url, "aws-eu": other.url, "gcp-us": "http://127.0.0.1:9"}
    client = SigmaClient(
        other.url, home.client_id, home.client_secret, allow_custom_host=True, known_hosts=hosts
    )
    with pytest.raises(SigmaAuthError) as err:
        client.whoami()
    message = str(err.value)
    assert other.url in message
    assert "cloud key 'aws-eu'" in message
    assert "Other cloud keys to try: aws-us-west, gcp-us" in message
    assert home.stats.requests == 0


def test_closed_port_names_the_host_and_what_to_try():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = SigmaClient(url, "id", "secret-value", allow_custom_host=True, **FAST_RETRIES)
    with pytest.raises(SigmaAuthError) as err:
        client.whoami()
    message = str(err.value)
    assert url in message and "no answer from the host" in message
    assert all(key in message for key in CLOUD_HOSTS)


def test_default_region_table_is_named_for_a_real_host_error():
    client = SigmaClient("https://api.eu.aws.sigmacomputing.com", "id", "secret")
    assert client.cloud == "aws-eu"
    assert "cloud key 'aws-eu'" in client._hint()


def test_non_sigma_host_is_refused_before_any_request(sigma_server):
    with pytest.raises(SigmaConfigError, match="allow_custom_host"):
        SigmaClient(sigma_server.url, sigma_server.client_id, sigma_server.client_secret)
    with pytest.raises(SigmaConfigError, match=r"only https:// hosts under sigmacomputing\.com"):
        SigmaClient("https://sigma.example.com", "id", "secret")
    assert sigma_server.stats.requests == 0


def test_missing_credentials_are_a_config_error():
    with pytest.raises(SigmaConfigError, match="client id and a client secret"):
        SigmaClient("https://aws-api.sigmacomputing.com", "id", "")


def test_auto_picks_the_host_that_accepts_the_credentials(sigma_server_factory, caplog):
    caplog.set_level(logging.INFO, logger="airflow_sigma")
    first = sigma_server_factory(OrgSpec(workbooks=4))
    mine = sigma_server_factory(OrgSpec(workbooks=4, seed=3))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    hosts = {"aws-us-west": closed, "aws-us-east": first.url, "azure-eu": mine.url}
    client = SigmaClient.auto(
        mine.client_id, mine.client_secret, known_hosts=hosts, allow_custom_host=True, **FAST_RETRIES
    )
    assert client.base_url == mine.url and client.cloud == "azure-eu"
    assert client.whoami()["organizationId"] == mine.org.organization_id
    assert first.stats.token_requests == 1 and mine.stats.token_requests == 1
    assert f"Sigma cloud 'auto': azure-eu ({mine.url}) accepted the credentials" in caplog.text


def test_auto_through_settings(sigma_server):
    settings = SigmaSettings.from_connection_fields(
        conn_id="sigma_default",
        host=None,
        login=sigma_server.client_id,
        password=sigma_server.client_secret,
        extra={"cloud": "auto", "allow_custom_host": True},
        known_hosts={"gcp-us": sigma_server.url},
    )
    client = SigmaClient.from_settings(settings, known_hosts={"gcp-us": sigma_server.url})
    assert client.cloud == "gcp-us"


def test_auto_with_no_accepting_host_lists_what_was_tried(sigma_server_factory):
    one, two = sigma_server_factory(OrgSpec(workbooks=4)), sigma_server_factory(OrgSpec(workbooks=4))
    with pytest.raises(SigmaAuthError) as err:
        SigmaClient.auto(
            "nobody",
            "nothing-secret",
            known_hosts={"aws-ca": one.url, "aws-uk": two.url},
            allow_custom_host=True,
        )
    message = str(err.value)
    assert f"aws-ca ({one.url}): HTTP 401" in message and f"aws-uk ({two.url}): HTTP 401" in message
    assert "nothing-secret" not in message


def test_auto_refuses_disallowed_hosts_before_probing_any(sigma_server):
    hosts = {"aws-ca": "https://api.ca.aws.sigmacomputing.com", "aws-uk": sigma_server.url}
    with pytest.raises(SigmaConfigError, match="allow_custom_host"):
        SigmaClient.auto("id", "secret", known_hosts=hosts)
    assert sigma_server.stats.requests == 0


def test_forbidden_pages_of_one_workbook(sigma_server, client):
    workbook_id = sigma_server.org.workbooks[0].workbook_id
    sigma_server.fail_path(f"/v2/workbooks/{workbook_id}/pages", 403, message="no access")
    with pytest.raises(SigmaAPIError) as err:
        list(client.list_workbook_pages(workbook_id))
    assert (err.value.status, err.value.code, err.value.path) == (
        403,
        "forbidden",
        f"/v2/workbooks/{workbook_id}/pages",
    )
    other = sigma_server.org.workbooks[1].workbook_id
    assert list(client.list_workbook_pages(other))


def test_unknown_workbook_is_404(client):
    with pytest.raises(SigmaAPIError) as err:
        list(client.list_workbook_pages("00000000-0000-4000-8000-000000000000"))
    assert err.value.status == 404 and err.value.code == "not_found"


def test_non_admin_skip_permission_check_is_forbidden(sigma_server, client):
    sigma_server.configure(admin=False)
    with pytest.raises(SigmaAPIError, match="Admin account type") as err:
        list(client.list_workbooks(skip_permission_check=True))
    assert err.value.status == 403


def test_whoami(sigma_server, client):
    assert client.whoami() == {
        "userId": sigma_server.org.caller.member_id,
        "organizationId": sigma_server.org.organization_id,
    }
