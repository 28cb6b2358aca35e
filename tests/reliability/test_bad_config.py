"""The bad-configuration corpus: each mistake is refused by the operators or the hook with a message
that names the field and what is allowed, and never quotes a secret.

Export settings are checked when an operator is constructed (DAG parse time); connection settings when
the hook builds its client (task run time), through real Airflow connections from the environment.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_sigma.api.errors import SigmaConfigError
from airflow_sigma.api.regions import CLOUD_HOSTS
from airflow_sigma.hooks import SigmaHook
from airflow_sigma.operators import (
    SigmaAggregateImpressionsOperator,
    SigmaDiscoverWorkbooksOperator,
    SigmaListAuditExportsOperator,
    SigmaLoadAuditEventsOperator,
)
from airflow_sigma.storage import ExportConfigError

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRET"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
ACCEPTED_URIS = "s3://bucket/prefix, gs://bucket/prefix or file:///absolute/dir"
VALID_CLOUDS = ", ".join(CLOUD_HOSTS)
UTC = timezone.utc
OPERATORS = {
    "list": SigmaListAuditExportsOperator,
    "impressions": SigmaAggregateImpressionsOperator,
    "audit": SigmaLoadAuditEventsOperator,
}


def assert_clear(message: str, *says: str) -> None:
    assert all(text in message for text in says), message
    assert SECRET not in message and KEY_ID not in message


EXPORT_CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "bad-uri-scheme": ({"bucket_uri": "ftp://bucket/exports"}, ("'ftp://bucket/exports'", ACCEPTED_URIS)),
    "http-uri": ({"bucket_uri": "https://bucket.s3.amazonaws.com/x"}, ("Unsupported", ACCEPTED_URIS)),
    "no-scheme": ({"bucket_uri": "bucket/exports"}, ("'bucket/exports'", ACCEPTED_URIS)),
    "credentials-in-uri": (
        {"bucket_uri": f"s3://{KEY_ID}:{SECRET}@bucket/exports"},
        ("must not carry credentials", "Airflow connection", ACCEPTED_URIS),
    ),
    "bad-bucket-name": (
        {"bucket_uri": "s3://My_Bucket/x"},
        ("Invalid bucket name 'My_Bucket'", "lower-case"),
    ),
    "relative-file-uri": ({"bucket_uri": "file://exports/x"}, ("three slashes", "file:///absolute/dir")),
    "days-back-zero": ({"days_back": 0}, ("days_back must be from 1 to 6 days, got 0",)),
    "days-back-seven": ({"days_back": 7}, ("days_back must be from 1 to 6 days, got 7",)),
    "days-back-text": ({"days_back": "3"}, ("days_back must be a whole number of days from 1 to 6", "'3'")),
    "days-back-bool": ({"days_back": True}, ("days_back must be a whole number", "bool")),
    "days-back-decimal": ({"days_back": 2.5}, ("days_back must be a whole number", "2.5")),
}


@pytest.mark.parametrize("operator", list(OPERATORS))
@pytest.mark.parametrize("case", list(EXPORT_CASES))
def test_export_settings_are_refused_when_the_dag_is_parsed(operator: str, case: str) -> None:
    kwargs, says = EXPORT_CASES[case]
    with pytest.raises(ExportConfigError) as raised:
        OPERATORS[operator](task_id="t", **{"bucket_uri": "s3://bucket/exports", **kwargs})
    assert_clear(str(raised.value), *says)


def aws_connection(**fields: Any) -> str:
    return json.dumps({"conn_type": "aws", "extra": {"endpoint_url": "http://127.0.0.1:9"}, **fields})


HALF_PAIRS = {
    "key-id-without-secret": ({"login": KEY_ID}, "login is set but password is empty"),
    "secret-without-key-id": ({"password": SECRET}, "password is set but login is empty"),
    "extra-secret-without-key-id": (
        {"extra": {"aws_secret_access_key": SECRET, "endpoint_url": "http://127.0.0.1:9"}},
        "extra aws_secret_access_key is set but extra aws_access_key_id is empty",
    ),
}


@pytest.mark.parametrize("case", list(HALF_PAIRS))
def test_half_an_s3_key_pair_is_refused_before_any_request(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields, says = HALF_PAIRS[case]
    monkeypatch.setenv("AIRFLOW_CONN_AWS_HALF", aws_connection(**fields))
    op = SigmaListAuditExportsOperator(
        task_id="list", bucket_uri="s3://bucket/exports", aws_conn_id="aws_half"
    )
    context: Any = {
        "data_interval_start": datetime(2024, 5, 1, tzinfo=UTC),
        "data_interval_end": datetime(2024, 5, 2, tzinfo=UTC),
    }
    with pytest.raises(AirflowFailException) as raised:  # port 9 is closed: it was refused, not tried
        op.execute(context)
    assert isinstance(raised.value.__cause__, ExportConfigError)
    assert_clear(str(raised.value), "AWS connection 'aws_half' has half an access key pair", says,
                 "Give both the access key id and the secret access key, or neither")  # fmt: skip


def sigma_connection(**fields: Any) -> str:
    return json.dumps({"conn_type": "sigma", "login": "client-id", "password": SECRET, **fields})


CONNECTION_CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "unknown-cloud-key": (
        {"extra": {"cloud": "aws-mars"}},
        ("Unknown Sigma cloud key 'aws-mars'", f"Valid keys: {VALID_CLOUDS}, or 'auto'"),
    ),
    "cloud-key-not-a-string": (
        {"extra": {"cloud": 5}},
        ("Extra 'cloud' must be a string, got int", f"Valid keys: {VALID_CLOUDS}"),
    ),
    "non-sigma-host": (
        {"host": "https://api.example.com"},
        (
            "Refusing to send Sigma credentials to https://api.example.com",
            "sigmacomputing.com",
            '"allow_custom_host": true',
        ),
    ),
    "plain-http-sigma-host": (
        {"host": "http://aws-api.sigmacomputing.com"},
        ("Refusing to send Sigma credentials to http://aws-api.sigmacomputing.com", "https://"),
    ),
    "app-host-instead-of-api-host": (
        {"host": "https://app.sigmacomputing.com"},
        ("is the Sigma app host, not the API host", "https://aws-api.sigmacomputing.com", VALID_CLOUDS),
    ),
    "extra-not-json": (
        {"extra": '{"cloud": "aws-us-west", "client_secret": "' + SECRET},
        ("The extra of Sigma connection 'sigma_bad' is not valid JSON", 'such as {"cloud": "aws-us-west"}'),
    ),
    "extra-not-an-object": (
        {"extra": json.dumps(["aws-us-west", SECRET])},
        ("must be a JSON object, got list", '{"cloud": "aws-us-west"}'),
    ),
    "allow-custom-host-not-a-flag": (
        {"host": "https://api.example.com", "extra": {"allow_custom_host": "maybe"}},
        ("Extra 'allow_custom_host' must be true or false, got 'maybe'",),
    ),
    "no-client-secret": (
        {"password": None, "extra": {"cloud": "aws-us-west"}},
        ("has no client secret", "password (Client Secret) field"),
    ),
    "no-client-id": (
        {"login": " ", "extra": {"cloud": "aws-us-west"}},
        ("has no client id", "login (Client ID)"),
    ),
    "path-after-the-host": (
        {"host": "https://aws-api.sigmacomputing.com", "schema": "v3"},
        ("schema/path 'v3'", "expected nothing or 'v2'"),
    ),
}


@pytest.mark.parametrize("case", list(CONNECTION_CASES))
def test_sigma_connection_mistakes_are_refused_by_the_hook(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields, says = CONNECTION_CASES[case]
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_BAD", sigma_connection(**fields))
    hook = SigmaHook("sigma_bad")
    with pytest.raises(SigmaConfigError) as raised:
        hook.get_client()
    assert_clear(str(raised.value), *says)
    ok, message = hook.test_connection()  # what the UI's "Test" button shows
    assert not ok
    assert_clear(message, *says)


def test_the_discovery_task_fails_on_a_bad_connection_before_writing(
    monkeypatch: pytest.MonkeyPatch, sqlite_conn_id: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_BAD", sigma_connection(extra={"cloud": "aws-mars"}))
    op = SigmaDiscoverWorkbooksOperator(
        task_id="discover", sigma_conn_id="sigma_bad", warehouse_conn_id=sqlite_conn_id
    )
    with pytest.raises(AirflowFailException) as raised:
        op.execute({"logical_date": datetime(2026, 3, 1, tzinfo=UTC)})
    assert isinstance(raised.value.__cause__, SigmaConfigError)
    assert_clear(str(raised.value), "Unknown Sigma cloud key 'aws-mars'")
    with closing(sqlite3.connect(tmp_path / "warehouse.db")) as db:  # the sqlite_conn_id database
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []
