"""Tokens, hosts and credentials: concurrency, wrong credentials, wrong region, disallowed hosts, auto."""

from __future__ import annotations

import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_sigma.api.client import SigmaClient
from airflow_sigma.api.errors import SigmaAPIError, SigmaAuthError, SigmaConfigError
from airflow_sigma.api.regions import CLOUD_HOSTS, HostAdvice
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


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def assert_no_region_advice(message: str) -> None:
    assert "cloud key" not in message and not any(key in message for key in CLOUD_HOSTS), message


def test_closed_port_on_a_custom_host_talks_about_the_host():
    url = closed_port_url()
    client = SigmaClient(url, "id", "secret-value", allow_custom_host=True, **FAST_RETRIES)
    with pytest.raises(SigmaAuthError) as err:
        client.whoami()
    message = str(err.value)
    assert url in message and "no answer from the host" in message
    assert f"Check that a server is running at {url} and listening on that host and port" in message
    assert_no_region_advice(message)


def test_https_to_a_plain_http_custom_host_says_to_write_http(sigma_server):
    netloc = sigma_server.url.removeprefix("http://")
    client = SigmaClient(
        f"https://{netloc}", sigma_server.client_id, sigma_server.client_secret, allow_custom_host=True
    )
    with pytest.raises(SigmaAuthError) as err:
        client.whoami()
    message = str(err.value)
    assert f"The TLS handshake with {netloc} failed" in message
    assert f"sigma://http://ID:SECRET@{netloc}/?allow_custom_host=true" in message
    assert_no_region_advice(message)


def test_wrong_secret_on_a_custom_host_talks_about_the_host(sigma_server):
    client = SigmaClient(sigma_server.url, sigma_server.client_id, "wrong-secret-42", allow_custom_host=True)
    with pytest.raises(SigmaAuthError) as err:
        client.whoami()
    message = str(err.value)
    assert "HTTP 401" in message and "Check the client id and secret" in message
    assert f"{sigma_server.url} is a custom host (allow_custom_host)" in message
    assert_no_region_advice(message)


def test_a_token_rejected_by_a_custom_host_on_replay_talks_about_the_host(sigma_server, client):
    sigma_server.configure(token_lifetime=0)
    with pytest.raises(SigmaAPIError) as err:
        client.whoami()
    assert "is a custom host" in str(err.value)
    assert_no_region_advice(str(err.value))


def test_closed_port_on_a_known_host_lists_the_cloud_keys():
    url = closed_port_url()
    client = SigmaClient(
        url, "id", "secret", allow_custom_host=True, known_hosts={"aws-eu": url, "gcp-us": "x"}
    )
    with pytest.raises(SigmaAuthError) as err:
        client.whoami()
    assert "cloud key 'aws-eu'" in str(err.value) and "Other cloud keys to try: gcp-us" in str(err.value)


def test_sigma_hosts_get_region_advice_and_custom_hosts_do_not():
    sigma = HostAdvice("https://api.eu.aws.sigmacomputing.com", "aws-eu")
    assert "cloud key 'aws-eu'" in sigma.rejected() and "aws-us-west" in sigma.rejected()
    unknown_region = HostAdvice("https://api.xx.sigmacomputing.com")
    assert "Other cloud keys to try" in unknown_region.unreachable(ConnectionError())
    custom = HostAdvice("https://proxy.example.com:8443")
    for advice in (custom.rejected(), custom.wrong_api_host(), custom.unreachable(ConnectionError())):
        assert "proxy.example.com:8443" in advice
        assert_no_region_advice(advice)


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
