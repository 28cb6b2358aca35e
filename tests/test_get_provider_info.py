"""The provider is registered with Airflow and its connection form comes from metadata alone."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files

import jsonschema
import pytest

from airflow_sigma.api.regions import CLOUD_HOSTS
from airflow_sigma.get_provider_info import get_provider_info


def _airflow_cli(*args: str) -> list[dict]:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", *args, "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def test_provider_info_matches_airflow_schema():
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


@pytest.mark.integration
def test_airflow_providers_list_shows_the_provider():
    providers = {p["package_name"]: p for p in _airflow_cli("providers", "list")}
    assert "airflow-provider-sigma" in providers
    assert providers["airflow-provider-sigma"]["version"] == __import__("airflow_sigma").__version__


@pytest.mark.integration
def test_airflow_providers_hooks_lists_connection_type_sigma():
    hooks = {h["connection_type"]: h for h in _airflow_cli("providers", "hooks")}
    assert hooks["sigma"]["class"] == "airflow_sigma.hooks.sigma.SigmaHook"
    assert hooks["sigma"]["package_name"] == "airflow-provider-sigma"


def test_connection_form_is_built_from_metadata():
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "sigma"]
    assert meta.hook_name == "Sigma"
    std = meta.standard_fields
    assert std.host.title == "API base URL"
    assert std.login.title == "Client ID"
    assert std.password.title == "Client Secret"
    assert std.url_schema.hidden and not std.port.hidden and std.port.placeholder.startswith("443")
    extra = meta.extra_fields
    assert extra["cloud"]["schema"]["enum"] == ["auto", *CLOUD_HOSTS]
    assert set(CLOUD_HOSTS) == {
        "aws-us-west", "aws-us-east", "aws-ca", "aws-eu", "aws-uk", "aws-au",
        "azure-us", "azure-eu", "azure-ca", "azure-uk", "gcp-us", "gcp-sa",
    }  # fmt: skip
    assert extra["allow_custom_host"]["schema"]["type"] == ["boolean", "null"]
