"""A storage location the user must fix fails at once; a storage hiccup is retried.

A missing bucket, refused credentials and a denied permission are terminal (the message names the
bucket, the prefix, the connection id and what to do); throttling and 5xx answers are transient. Each
is provoked over HTTP: moto's S3 server (with IAM checks switched on for the denied cases), the GCS
emulator, and a stub speaking the GCS JSON API where the emulator cannot refuse anything. The same
classes reach the task: through ``dag.test()``, a terminal one fails the task on its first try.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_sigma.catalog import CatalogIncompleteError
from airflow_sigma.exceptions import is_retryable
from airflow_sigma.storage import (
    ExportAccessError,
    ExportLocationError,
    ExportStorageError,
    ExportWindow,
    parse_export_uri,
    scan_exports,
)
from airflow_sigma.storage.aio import AsyncExportScanner
from airflow_sigma.testing.org import OrgSpec
from tests.fixtures.cloud import GcsServer, S3Server
from tests.reliability.hostile import StubHandler, StubServer, send_json
from tests.reliability.tasks import Outcome, discover, run_task

pytestmark = pytest.mark.integration

EVERYTHING = ExportWindow(None, None)
ONE_TRY = {"config_kwargs": {"retries": {"max_attempts": 1, "mode": "standard"}}}


@pytest.fixture
def sigma_org_spec() -> OrgSpec:
    return OrgSpec(seed=5, workbooks=4, pages_per_workbook=1, elements_per_page=1, members=2)


@pytest.fixture
def iam_checked(s3_server: S3Server) -> Iterator[dict[str, str]]:
    """moto checks IAM for the test; yields the keys of a user that holds no permission at all."""
    import boto3
    from moto.core.authorization import enable_iam_authentication

    iam = boto3.client(
        "iam",
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
    )
    user = f"nobody-{id(iam)}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    with enable_iam_authentication():
        yield {"login": key["AccessKeyId"], "password": key["SecretAccessKey"]}


def gcs_refusing(status: int) -> StubServer:
    """A GCS JSON API stub answering every request with ``status`` and Google's error body."""

    def refuse(handler: StubHandler) -> None:
        send_json(handler, status, {"error": {"code": status, "message": "caller does not have access"}})

    return StubServer({"*": refuse})


def s3_503() -> StubServer:
    """An S3 endpoint answering every request 503 SlowDown, as S3 does when throttling."""

    def slow_down(handler: StubHandler) -> None:
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        handler.send_response(503)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return StubServer({"*": slow_down})


def use_gcs(monkeypatch: pytest.MonkeyPatch, endpoint: str, conn_id: str = "google_cloud_default") -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", GcsServer(endpoint, None).connection_json())


def terminal(error: BaseException, *words: str) -> None:
    """``error`` is not retried and its message names each of ``words``."""
    assert not is_retryable(error)
    for word in words:
        assert word in str(error)


# -- S3 -------------------------------------------------------------------------------------------------


def test_s3_missing_bucket_is_terminal(aws_connection: S3Server) -> None:
    with pytest.raises(ExportLocationError) as raised:
        scan_exports(parse_export_uri("s3://no-such-bucket-here/sigma/audit"), EVERYTHING)
    terminal(raised.value, "'no-such-bucket-here'", "s3://no-such-bucket-here/sigma/audit/", "'aws_default'")
    assert "create the bucket" in str(raised.value)


async def test_s3_missing_bucket_is_terminal_in_the_trigger(aws_connection: S3Server) -> None:
    async with AsyncExportScanner(parse_export_uri("s3://no-such-bucket-here/p")) as scanner:
        with pytest.raises(ExportLocationError) as raised:
            await scanner.scan(EVERYTHING)
    terminal(raised.value, "'no-such-bucket-here'", "'aws_default'")


def test_s3_access_denied_is_terminal(
    s3_server: S3Server, s3_bucket: str, iam_checked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_EXPORTS", s3_server.connection_json(**iam_checked))
    location = parse_export_uri(f"s3://{s3_bucket}/sigma", aws_conn_id="aws_exports")
    with pytest.raises(ExportAccessError) as raised:
        scan_exports(location, EVERYTHING)
    terminal(raised.value, "AccessDenied", f"s3://{s3_bucket}/sigma/", "'aws_exports'", "s3:ListBucket")
    assert iam_checked["password"] not in str(raised.value)


def test_s3_unknown_access_key_is_terminal(
    s3_server: S3Server, s3_bucket: str, iam_checked: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = s3_server.connection_json(login="AKIANOTAREALKEY00000", password="not-the-secret-value")
    monkeypatch.setenv("AIRFLOW_CONN_AWS_EXPORTS", wrong)
    location = parse_export_uri(f"s3://{s3_bucket}/sigma", aws_conn_id="aws_exports")
    with pytest.raises(ExportAccessError) as raised:
        scan_exports(location, EVERYTHING)
    terminal(raised.value, "InvalidAccessKeyId", "'aws_exports'", "fix the access key id")
    assert "not-the-secret-value" not in str(raised.value)


def test_s3_throttling_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with s3_503() as stub:
        conn = S3Server(stub.url).connection_json(**ONE_TRY)
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", conn)
        with pytest.raises(ExportStorageError, match="SlowDown") as raised:
            scan_exports(parse_export_uri("s3://busy-bucket/p"), EVERYTHING)
    assert type(raised.value) is ExportStorageError and is_retryable(raised.value)


# -- GCS ------------------------------------------------------------------------------------------------


def test_gcs_missing_bucket_is_terminal(gcs_connection: GcsServer) -> None:
    with pytest.raises(ExportLocationError) as raised:
        scan_exports(parse_export_uri("gs://no-such-bucket-here/sigma"), EVERYTHING)
    terminal(
        raised.value, "'no-such-bucket-here'", "gs://no-such-bucket-here/sigma/", "'google_cloud_default'"
    )


@pytest.mark.parametrize(
    ("status", "kind"), [(403, "storage.objects.list"), (401, "rejected the credentials")]
)
def test_gcs_refusals_are_terminal(status: int, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with gcs_refusing(status) as stub:
        use_gcs(monkeypatch, stub.url)
        with pytest.raises(ExportAccessError) as raised:
            scan_exports(parse_export_uri("gs://locked-bucket/sigma"), EVERYTHING)
    terminal(raised.value, kind, "gs://locked-bucket/sigma/", "'google_cloud_default'")


async def test_gcs_refusal_is_terminal_in_the_trigger(monkeypatch: pytest.MonkeyPatch) -> None:
    with gcs_refusing(403) as stub:
        use_gcs(monkeypatch, stub.url)
        async with AsyncExportScanner(parse_export_uri("gs://locked-bucket/sigma")) as scanner:
            with pytest.raises(ExportAccessError) as raised:
                await scanner.scan(EVERYTHING)
    terminal(raised.value, "HTTP 403", "'locked-bucket'", "'google_cloud_default'")


def test_gcs_errors_a_retry_can_fix_stay_transient() -> None:
    from google.api_core import exceptions as google
    from google.auth.exceptions import RefreshError, TransportError

    from airflow_sigma.storage.gcs import gcs_error

    where: dict[str, Any] = {"action": "listing", "uri": "gs://b/p/", "bucket": "b", "gcp_conn_id": "gcp"}
    for error in (google.TooManyRequests("x"), google.ServiceUnavailable("x"), TransportError("x")):
        assert type(gcs_error(error, **where)) is ExportStorageError
    assert isinstance(gcs_error(RefreshError("invalid_grant"), **where), ExportAccessError)
    opening = {**where, "action": "opening", "uri": "gs://b/p/gone.csv"}
    assert type(gcs_error(google.NotFound("x"), **opening)) is ExportStorageError  # deleted since listed


# -- through the task -----------------------------------------------------------------------------------


def test_a_missing_bucket_fails_the_listing_task_without_retries(
    airflow_db: None, aws_connection: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = run_task(monkeypatch, "SigmaListAuditExportsOperator", bucket_uri="s3://no-such-bucket-here/p")
    assert outcome == Outcome("failed", 1, 0)


def test_denied_gcs_access_fails_the_listing_task_without_retries(
    airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gcs_refusing(403) as stub:
        use_gcs(monkeypatch, stub.url)
        outcome = run_task(monkeypatch, "SigmaListAuditExportsOperator", bucket_uri="gs://locked-bucket/p")
    assert outcome == Outcome("failed", 1, 0)


def test_s3_throttling_fails_the_listing_task_with_retries(
    airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with s3_503() as stub:
        monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", S3Server(stub.url).connection_json(**ONE_TRY))
        outcome = run_task(
            monkeypatch, "SigmaListAuditExportsOperator", retries=1, bucket_uri="s3://busy-bucket/p"
        )
    assert outcome == Outcome("failed", 2, 1)


# -- an incomplete catalog ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"), [(403, Outcome("failed", 1, 0)), (503, Outcome("failed", 2, 1))]
)
def test_an_incomplete_catalog_is_retried_only_when_a_retry_can_complete_it(
    status: int,
    expected: Outcome,
    airflow_db: None,
    sigma_server: Any,
    sqlite_conn_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_PAGES", sigma_server.connection_json())
    sigma_server.fail_path("/v2/workbooks/*/pages", status)
    outcome = run_task(
        monkeypatch, "SigmaDiscoverWorkbooksOperator", retries=1, **discover("sigma_pages", sqlite_conn_id)
    )
    assert outcome == expected


def test_an_incomplete_catalog_says_which_failures_a_retry_cannot_fix(sigma_server: Any) -> None:
    from airflow_sigma.catalog import CatalogOptions, discover_catalog

    sigma_server.fail_path("/v2/workbooks/*/pages", 403)
    with sigma_server.client(max_retries=0) as client, pytest.raises(CatalogIncompleteError) as raised:
        discover_catalog(client, CatalogOptions(max_skipped_fraction=0.0))
    terminal(raised.value, "a retry cannot fix", "HTTP 403", "share those workbooks", "max_skipped_fraction")
    assert [s.retryable for s in raised.value.skipped] == [False]
    assert json.dumps([s.as_dict() for s in raised.value.skipped])  # still reportable as before
