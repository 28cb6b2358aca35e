"""Connection fields → validated settings, with clear errors that never quote secrets."""

from __future__ import annotations

import pytest

from airflow_sigma.api.errors import SigmaConfigError
from airflow_sigma.api.regions import CLOUD_HOSTS
from airflow_sigma.api.settings import SigmaSettings, parse_bool, parse_extra


def settings(**overrides):
    fields = {
        "conn_id": "sigma_default",
        "host": "https://aws-api.sigmacomputing.com",
        "login": "client-id",
        "password": "client-secret-value",
        "extra": None,
    }
    fields.update(overrides)
    return SigmaSettings.from_connection_fields(**fields)


def test_host_form():
    result = settings(host="aws-api.sigmacomputing.com/v2/")
    assert result.base_url == "https://aws-api.sigmacomputing.com"
    assert result.cloud is None
    assert result.allow_custom_host is False


def test_cloud_form_with_empty_host():
    result = settings(host="", extra='{"cloud": "azure-eu"}')
    assert result.base_url == "https://api.eu.azure.sigmacomputing.com"
    assert result.cloud == "azure-eu"


def test_auto_form_leaves_the_base_url_to_probing():
    result = settings(host=None, extra={"cloud": "auto"})
    assert result.base_url is None
    assert result.cloud == "auto"


def test_port_is_appended_to_a_host_without_one():
    result = settings(host="http://127.0.0.1", port=8123, extra={"allow_custom_host": "true"})
    assert result.base_url == "http://127.0.0.1:8123"
    assert result.allow_custom_host is True


@pytest.mark.parametrize("port", [443, 0, None])
def test_the_port_the_connection_form_asks_for_changes_no_host(port):
    """443 (the form's placeholder, for Airflow 3.3.2's Test button) agrees with host and cloud."""
    assert settings(port=port).base_url == "https://aws-api.sigmacomputing.com"
    both = settings(port=port, extra={"cloud": "aws-us-west"})
    assert (both.base_url, both.cloud) == ("https://aws-api.sigmacomputing.com", "aws-us-west")
    assert settings(host=None, port=port, extra={"cloud": "aws-eu"}).base_url == CLOUD_HOSTS["aws-eu"]


def test_schema_v2_from_a_uri_path_is_accepted_and_anything_else_refused():
    assert settings(schema="v2").base_url == "https://aws-api.sigmacomputing.com"
    with pytest.raises(SigmaConfigError, match="schema"):
        settings(schema="reports")


def test_secret_is_not_in_the_repr():
    assert "client-secret-value" not in repr(settings())


@pytest.mark.parametrize(("field", "message"), [("login", "no client id"), ("password", "no client secret")])
def test_half_configured_credentials_are_refused(field, message):
    with pytest.raises(SigmaConfigError, match=message) as err:
        settings(**{field: ""})
    assert "'sigma_default'" in str(err.value)


def test_malformed_extra_names_the_connection_and_does_not_quote_it():
    with pytest.raises(SigmaConfigError) as err:
        settings(extra='{"cloud": "aws-eu", "note": "pw=leaky-secret-123"')
    message = str(err.value)
    assert "not valid JSON" in message
    assert "sigma_default" in message
    assert "leaky-secret-123" not in message


@pytest.mark.parametrize("extra", ['["aws-eu"]', '"aws-eu"', "42"])
def test_extra_must_be_a_json_object(extra):
    with pytest.raises(SigmaConfigError, match="must be a JSON object"):
        parse_extra(extra, where="Sigma connection 'x'")


def test_unknown_extra_keys_are_logged_by_name_only(caplog):
    parse_extra({"clod": "aws-eu", "token": "abcdef-secret"}, where="Sigma connection 'x'")
    assert "clod" in caplog.text
    assert "abcdef-secret" not in caplog.text


def test_airflow_2_prefixed_extras_are_read_and_plain_keys_win():
    legacy = settings(host="", extra={"extra__sigma__cloud": "aws-eu", "extra__sigma__allow_custom_host": ""})
    assert (legacy.cloud, legacy.allow_custom_host) == ("aws-eu", False)
    both = settings(host="", extra={"extra__sigma__cloud": "aws-eu", "cloud": "gcp-us"})
    assert both.cloud == "gcp-us"


def test_unknown_cloud_key_is_refused():
    with pytest.raises(SigmaConfigError, match="Valid keys"):
        settings(host="", extra={"cloud": "us-west"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("True", True),
        ("1", True),
        ("false", False),
        ("0", False),
    ],
)
def test_allow_custom_host_accepts_json_and_uri_booleans(raw, expected):
    assert parse_bool(raw, name="allow_custom_host") is expected


def test_allow_custom_host_rejects_nonsense():
    with pytest.raises(SigmaConfigError, match="allow_custom_host"):
        parse_bool("perhaps", name="allow_custom_host")
