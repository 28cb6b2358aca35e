"""SigmaHook built from AIRFLOW_CONN_* env vars, against local Sigma servers over real HTTP."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest

import airflow_sigma.hooks
from airflow_sigma.api.errors import SigmaConfigError
from airflow_sigma.hooks import SigmaHook
from airflow_sigma.testing.org import OrgSpec

FAST = {"backoff_initial": 0.001, "backoff_max": 0.01, "retry_after_max": 0.01}
ENV = "AIRFLOW_CONN_SIGMA_DEFAULT"


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    return OrgSpec(seed=11, workbooks=25, pages_per_workbook=2, elements_per_page=2, members=6)


def conn_json(**fields) -> str:
    return json.dumps({"conn_type": "sigma", **fields})


def hook(**kwargs) -> SigmaHook:
    return SigmaHook(client_kwargs=FAST, **kwargs)


def test_discovery_attributes():
    assert SigmaHook.conn_name_attr == "sigma_conn_id"
    assert SigmaHook.default_conn_name == "sigma_default"
    assert SigmaHook.conn_type == "sigma"
    assert SigmaHook.hook_name == "Sigma"
    assert SigmaHook().sigma_conn_id == "sigma_default"


def test_uri_form(sigma_server, monkeypatch):
    monkeypatch.setenv(ENV, sigma_server.connection_uri())
    ok, message = hook().test_connection()
    assert ok, message
    org = sigma_server.org
    assert sigma_server.url in message
    assert org.caller.member_id in message and org.organization_id in message


def test_json_form(sigma_server, monkeypatch):
    monkeypatch.setenv(ENV, sigma_server.connection_json())
    assert hook().whoami()["userId"] == sigma_server.org.caller.member_id


def test_host_form_with_separate_port_and_v2_suffix(sigma_server, monkeypatch):
    monkeypatch.setenv(
        ENV,
        conn_json(
            host="http://127.0.0.1/v2/",
            port=sigma_server.port,
            login=sigma_server.client_id,
            password=sigma_server.client_secret,
            extra={"allow_custom_host": "true"},
        ),
    )
    sigma_hook = hook()
    assert sigma_hook.get_client().base_url == sigma_server.url
    assert sigma_hook.whoami()["organizationId"] == sigma_server.org.organization_id


def test_cloud_key_form(sigma_server, monkeypatch):
    monkeypatch.setenv(
        ENV,
        conn_json(
            login=sigma_server.client_id,
            password=sigma_server.client_secret,
            extra={"cloud": "aws-eu", "allow_custom_host": True},
        ),
    )
    sigma_hook = hook(known_hosts={"aws-us-west": "http://127.0.0.1:9", "aws-eu": sigma_server.url})
    ok, message = sigma_hook.test_connection()
    assert ok, message
    assert "(cloud aws-eu)" in message


def test_auto_form(sigma_server_factory, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="airflow_sigma")
    elsewhere = sigma_server_factory(OrgSpec(workbooks=3))
    mine = sigma_server_factory(OrgSpec(workbooks=3, seed=5))
    monkeypatch.setenv(
        ENV,
        conn_json(
            login=mine.client_id,
            password=mine.client_secret,
            extra={"cloud": "auto", "allow_custom_host": True},
        ),
    )
    sigma_hook = hook(known_hosts={"aws-us-west": elsewhere.url, "gcp-sa": mine.url})
    ok, message = sigma_hook.test_connection()
    assert ok, message
    assert mine.url in message and "(cloud gcp-sa)" in message
    assert "gcp-sa" in caplog.text and "accepted the credentials" in caplog.text
    assert elsewhere.stats.token_requests == 1


@pytest.mark.parametrize("page_size", [1, 7, 1000])
def test_hook_lists_every_workbook_at_any_page_size(sigma_server, monkeypatch, page_size):
    monkeypatch.setenv(ENV, sigma_server.connection_json())
    org = sigma_server.org
    listed = [
        wb["workbookId"] for wb in hook().list_workbooks(skip_permission_check=True, page_size=page_size)
    ]
    assert listed == [wb.workbook_id for wb in org.visible_workbooks(admin=True, skip_permission_check=True)]


def test_hook_typed_methods(sigma_server, monkeypatch):
    monkeypatch.setenv(ENV, sigma_server.connection_json())
    org, sigma_hook = sigma_server.org, hook()
    workbook = org.workbooks[0]
    pages = list(sigma_hook.list_workbook_pages(workbook.workbook_id, page_size=1))
    assert [p["pageId"] for p in pages] == [p.page_id for p in org.pages[workbook.workbook_id]]
    elements = list(sigma_hook.list_page_elements(workbook.workbook_id, pages[1]["pageId"]))
    assert len(elements) == org.spec.elements_per_page
    assert len(list(sigma_hook.list_members(page_size=2))) == len(org.members)
    assert len(list(sigma_hook.list_workspaces())) == len(org.workspaces)
    assert sigma_hook.get(f"/v2/workbooks/{workbook.workbook_id}")["name"] == workbook.name
    assert len(list(sigma_hook.paginate("/v2/workbooks", {"isArchived": "true"}))) == len(
        [wb for wb in org.visible_workbooks(admin=True, is_archived=True)]
    )


def test_client_is_shared_and_built_once(sigma_server, monkeypatch):
    monkeypatch.setenv(ENV, sigma_server.connection_json())
    sigma_hook = hook()
    assert sigma_hook.get_client() is sigma_hook.get_conn()
    sigma_hook.whoami()
    sigma_hook.whoami()
    assert sigma_server.stats.token_requests == 1
    sigma_hook.close()
    sigma_hook.whoami()
    assert sigma_server.stats.token_requests == 2


def test_test_connection_wrong_secret(sigma_server, monkeypatch):
    monkeypatch.setenv(
        ENV,
        conn_json(
            host=sigma_server.url,
            login=sigma_server.client_id,
            password="nope-123456",
            extra={"allow_custom_host": True},
        ),
    )
    ok, message = hook().test_connection()
    assert not ok
    assert "rejected the token request" in message and sigma_server.url in message
    assert "nope-123456" not in message


def test_test_connection_refuses_a_custom_host_without_the_extra(sigma_server, monkeypatch):
    monkeypatch.setenv(ENV, conn_json(host=sigma_server.url, login="id", password="secret-value"))
    ok, message = hook().test_connection()
    assert not ok and "allow_custom_host" in message
    assert sigma_server.stats.requests == 0


def test_malformed_extra(monkeypatch):
    monkeypatch.setenv(
        ENV,
        conn_json(
            host="aws-api.sigmacomputing.com", login="id", password="pw-secret", extra='{"cloud": "aws-eu",'
        ),
    )
    ok, message = hook().test_connection()
    assert not ok and "not valid JSON" in message and "'sigma_default'" in message
    with pytest.raises(SigmaConfigError):
        hook().get_client()


def test_unknown_cloud_key(monkeypatch):
    monkeypatch.setenv(ENV, conn_json(login="id", password="pw-secret", extra={"cloud": "aws-moon"}))
    ok, message = hook().test_connection()
    assert not ok and "aws-moon" in message and "aws-us-west" in message


def test_missing_secret(monkeypatch):
    monkeypatch.setenv(ENV, conn_json(host="aws-api.sigmacomputing.com", login="id"))
    ok, message = hook().test_connection()
    assert not ok and "no client secret" in message


def test_token_is_registered_with_the_secret_masker(sigma_server, monkeypatch):
    from airflow.sdk._shared.secrets_masker import redact

    monkeypatch.setenv(ENV, sigma_server.connection_json())
    hook().whoami()
    (token,) = sigma_server.issued_tokens
    assert redact(f"Authorization: Bearer {token}") == "Authorization: Bearer ***"
    assert sigma_server.client_secret not in redact(f"secret {sigma_server.client_secret}")


def test_secret_and_token_absent_from_logs_and_output(sigma_server, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(ENV, sigma_server.connection_uri())
    sigma_server.fail_next(1, 503, path="/v2/workbooks")
    sigma_hook = hook()
    assert sigma_hook.test_connection()[0]
    list(sigma_hook.list_workbooks(page_size=5))
    sigma_server.fail_path("/v2/whoami", 403)
    ok, message = sigma_hook.test_connection()
    assert not ok
    captured = capsys.readouterr()
    secrets = [sigma_server.client_secret, *sigma_server.issued_tokens]
    for text in (message, caplog.text, captured.out, captured.err, repr(sigma_hook.get_client())):
        assert all(secret not in text for secret in secrets)


def test_hook_modules_import_nothing_heavy_at_top_level():
    """DAG files import the hook: its module-level imports must stay light (no requests, pandas...)."""
    allowed = {
        "__future__",
        "threading",
        "collections.abc",
        "typing",
        "airflow.sdk",
        "airflow_sigma.hooks.sigma",
    }
    package = Path(airflow_sigma.hooks.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.parse(module.read_text()).body:  # top level only; TYPE_CHECKING blocks are `if`s
            if isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {node.module or ""}
            else:
                continue
            assert names <= allowed, f"{module.name} imports {names - allowed} at module level"
