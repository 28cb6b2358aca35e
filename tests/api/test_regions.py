"""Host resolution and the rule that credentials only go to https://*.sigmacomputing.com."""

from __future__ import annotations

import pytest

from airflow_sigma.api.errors import SigmaConfigError
from airflow_sigma.api.regions import (
    CLOUD_HOSTS,
    check_host_allowed,
    normalize_base_url,
    resolve_base_url,
    wrong_host_hint,
)

# reference/sigma-api.md §2 (Sigma's OpenAPI servers list), typed in independently of CLOUD_HOSTS.
DOCUMENTED = {
    "aws-us-west": "aws-api.sigmacomputing.com",
    "aws-us-east": "api.us-a.aws.sigmacomputing.com",
    "aws-ca": "api.ca.aws.sigmacomputing.com",
    "aws-eu": "api.eu.aws.sigmacomputing.com",
    "aws-uk": "api.uk.aws.sigmacomputing.com",
    "aws-au": "api.au.aws.sigmacomputing.com",
    "azure-us": "api.us.azure.sigmacomputing.com",
    "azure-eu": "api.eu.azure.sigmacomputing.com",
    "azure-ca": "api.ca.azure.sigmacomputing.com",
    "azure-uk": "api.uk.azure.sigmacomputing.com",
    "gcp-us": "api.sigmacomputing.com",
    "gcp-sa": "api.sa.gcp.sigmacomputing.com",
}


def test_the_twelve_documented_keys_and_no_others():
    assert set(CLOUD_HOSTS) == set(DOCUMENTED)


@pytest.mark.parametrize("key", sorted(DOCUMENTED))
def test_every_region_key_resolves_to_its_documented_host(key):
    base_url = resolve_base_url(None, key)
    assert base_url == f"https://{DOCUMENTED[key]}"
    check_host_allowed(base_url, allow_custom_host=False)


@pytest.mark.parametrize("key", ["AWS-EU", " aws-eu "])
def test_cloud_key_is_case_and_space_insensitive(key):
    assert resolve_base_url("", key) == "https://api.eu.aws.sigmacomputing.com"


@pytest.mark.parametrize(
    "typed",
    [
        "https://aws-api.sigmacomputing.com",
        "https://aws-api.sigmacomputing.com/",
        "https://aws-api.sigmacomputing.com/v2",
        "https://aws-api.sigmacomputing.com/v2/",
        "aws-api.sigmacomputing.com",
        "aws-api.sigmacomputing.com/v2",
        "  HTTPS://AWS-API.SigmaComputing.com/v2  ",
        "https://aws-api.sigmacomputing.com:443",
        "aws-api.sigmacomputing.com:443/v2",
    ],
)
def test_host_forms_normalize_to_one_base_url(typed):
    assert normalize_base_url(typed) == "https://aws-api.sigmacomputing.com"


def test_leading_space_of_the_openapi_ksa_server_is_tolerated():
    assert (
        normalize_base_url(" https://api.sa.gcp.sigmacomputing.com")
        == "https://api.sa.gcp.sigmacomputing.com"
    )


def test_port_and_proxy_prefix_are_kept():
    assert normalize_base_url("http://127.0.0.1:8080/sigma/v2/") == "http://127.0.0.1:8080/sigma"
    assert normalize_base_url("http://127.0.0.1:80") == "http://127.0.0.1"
    assert normalize_base_url("https://proxy.example.com:8443") == "https://proxy.example.com:8443"


@pytest.mark.parametrize(
    "url",
    [
        "http://aws-api.sigmacomputing.com",
        "https://example.com",
        "https://sigmacomputing.com.evil.example",
        "https://evilsigmacomputing.com",
        "http://127.0.0.1:8080",
    ],
)
def test_credentials_go_only_to_https_sigma_hosts(url):
    with pytest.raises(SigmaConfigError, match="allow_custom_host"):
        check_host_allowed(normalize_base_url(url), allow_custom_host=False)


def test_allow_custom_host_permits_a_proxy_or_local_server():
    check_host_allowed("http://127.0.0.1:8080", allow_custom_host=True)
    check_host_allowed("https://sigma-proxy.corp.example", allow_custom_host=True)


def test_app_host_is_refused_with_a_pointer_to_the_api_host():
    with pytest.raises(SigmaConfigError, match="app host, not the API host"):
        check_host_allowed(normalize_base_url("https://app.sigmacomputing.com"), allow_custom_host=True)


def test_unknown_cloud_key_lists_valid_keys():
    with pytest.raises(SigmaConfigError) as err:
        resolve_base_url(None, "aws-mars")
    message = str(err.value)
    assert "aws-mars" in message
    assert all(key in message for key in CLOUD_HOSTS)
    assert "auto" in message


def test_host_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(SigmaConfigError) as err:
        normalize_base_url("https://someone:hunter2-secret@aws-api.sigmacomputing.com")
    assert "hunter2-secret" not in str(err.value)


@pytest.mark.parametrize(
    "bad", ["ftp://aws-api.sigmacomputing.com", "https://aws-api.sigmacomputing.com/?x=1"]
)
def test_malformed_hosts_are_refused(bad):
    with pytest.raises(SigmaConfigError):
        normalize_base_url(bad)


def test_neither_host_nor_cloud_is_a_clear_error():
    with pytest.raises(SigmaConfigError, match="neither a host nor an extra 'cloud'"):
        resolve_base_url("", None)


def test_host_and_conflicting_cloud_is_an_error():
    with pytest.raises(SigmaConfigError, match="does not match"):
        resolve_base_url("https://aws-api.sigmacomputing.com", "aws-eu")
    assert (
        resolve_base_url("aws-api.sigmacomputing.com/v2", "aws-us-west")
        == "https://aws-api.sigmacomputing.com"
    )


def test_host_with_cloud_auto_is_an_error():
    with pytest.raises(SigmaConfigError, match="auto"):
        resolve_base_url("https://aws-api.sigmacomputing.com", "auto")


def test_injected_known_hosts_replace_the_region_table():
    hosts = {"aws-eu": "http://127.0.0.1:9999"}
    assert resolve_base_url(None, "aws-eu", known_hosts=hosts) == "http://127.0.0.1:9999"
    with pytest.raises(SigmaConfigError, match="aws-us-west"):
        resolve_base_url(None, "aws-us-west", known_hosts=hosts)


def test_wrong_host_hint_names_host_key_and_the_other_keys():
    hint = wrong_host_hint("https://api.eu.aws.sigmacomputing.com", None)
    assert "https://api.eu.aws.sigmacomputing.com" in hint
    assert "'aws-eu'" in hint
    listed = hint.split("Other cloud keys to try:")[1].split(";")[0]
    assert {key.strip() for key in listed.split(",")} == set(CLOUD_HOSTS) - {"aws-eu"}
