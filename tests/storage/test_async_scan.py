"""The async listing used by the trigger: aiobotocore against moto, gcloud-aio against the emulator."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airflow_sigma.storage import (
    ExportConfigError,
    ExportStorageError,
    ExportWindow,
    parse_export_uri,
    scan_exports,
)
from airflow_sigma.storage.aio import AsyncExportScanner
from tests.fixtures.cloud import GcsServer, S3Server
from tests.storage._data import CSV_BYTES, INTERVAL_END, WINDOW_START

EVERYTHING = ExportWindow(None, None)


async def test_s3_pages_and_matches_the_sync_scan(aws_connection: S3Server, s3_bucket: str) -> None:
    aws_connection.put_many(s3_bucket, [(f"p/{i:05d}.csv", b"a\n1\n") for i in range(1100)])
    aws_connection.put(s3_bucket, "p/nested/x.csv.gz", CSV_BYTES)
    aws_connection.put(s3_bucket, "p/notes.txt", CSV_BYTES)
    aws_connection.put(s3_bucket, "p-old/y.csv", CSV_BYTES)
    location = parse_export_uri(f"s3://{s3_bucket}/p")
    async with AsyncExportScanner(location) as scanner:
        scan = await scanner.scan(EVERYTHING)
    assert (scan.objects_seen, scan.pattern_matches, len(scan.files)) == (1102, 1101, 1101)
    assert scan.files == scan_exports(location, EVERYTHING).files


async def test_s3_window_edges(aws_connection: S3Server, s3_bucket: str) -> None:
    for name, when in {
        "before.csv": WINDOW_START - timedelta(seconds=1),
        "start.csv": WINDOW_START,
        "end.csv": INTERVAL_END,
        "after.csv": INTERVAL_END + timedelta(seconds=1),
    }.items():
        aws_connection.put(s3_bucket, f"p/{name}", CSV_BYTES, last_modified=when)
    async with AsyncExportScanner(parse_export_uri(f"s3://{s3_bucket}/p")) as scanner:
        scan = await scanner.scan(ExportWindow(WINDOW_START, INTERVAL_END))
    assert [f["uri"].rsplit("/", 1)[1] for f in scan.files] == ["start.csv", "end.csv"]


async def test_s3_missing_bucket(aws_connection: S3Server) -> None:
    async with AsyncExportScanner(parse_export_uri("s3://no-such-bucket-here/p")) as scanner:
        with pytest.raises(ExportStorageError, match="'no-such-bucket-here' does not exist"):
            await scanner.scan(EVERYTHING)


async def test_s3_half_key_pair(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", s3_server.connection_json(password=None))
    with pytest.raises(ExportConfigError, match="half an access key pair"):
        async with AsyncExportScanner(parse_export_uri("s3://any-bucket/p")):
            pass


async def test_gcs_listing_and_missing_bucket(gcs_connection: GcsServer, gcs_bucket: str) -> None:
    gcs_connection.put(gcs_bucket, "p/a.csv", CSV_BYTES, last_modified=WINDOW_START)
    gcs_connection.put(gcs_bucket, "p/deep/b.csv.gz", CSV_BYTES, last_modified=INTERVAL_END)
    gcs_connection.put(
        gcs_bucket, "p/late.csv", CSV_BYTES, last_modified=INTERVAL_END + timedelta(microseconds=1)
    )
    location = parse_export_uri(f"gs://{gcs_bucket}/p/")
    window = ExportWindow(WINDOW_START, INTERVAL_END)
    async with AsyncExportScanner(location) as scanner:
        scan = await scanner.scan(window)
    assert [f["uri"] for f in scan.files] == [
        f"gs://{gcs_bucket}/p/a.csv",
        f"gs://{gcs_bucket}/p/deep/b.csv.gz",
    ]
    assert scan.files == scan_exports(location, window).files
    async with AsyncExportScanner(parse_export_uri("gs://no-such-bucket-here/p")) as scanner:
        with pytest.raises(ExportStorageError, match="GCS bucket 'no-such-bucket-here' does not exist"):
            await scanner.scan(EVERYTHING)


async def test_gcs_missing_connection(gcs_server: GcsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint_url)
    location = parse_export_uri("gs://some-bucket/p", gcp_conn_id="not_defined_anywhere")
    with pytest.raises(ExportConfigError, match="'not_defined_anywhere' is not defined"):
        async with AsyncExportScanner(location):
            pass


async def test_local_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.csv").write_bytes(CSV_BYTES)
    async with AsyncExportScanner(parse_export_uri(f"file://{tmp_path}")) as scanner:
        scan = await scanner.scan(EVERYTHING)
    assert [f["uri"] for f in scan.files] == [f"file://{tmp_path}/sub/a.csv"]
    async with AsyncExportScanner(parse_export_uri(f"file://{tmp_path}/missing")) as scanner:
        with pytest.raises(ExportStorageError, match="does not exist"):
            await scanner.scan(EVERYTHING)


async def test_s3_without_connection_uses_ambient_credentials(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    s3_server.put(s3_bucket, "p/x.csv", CSV_BYTES)
    async with AsyncExportScanner(parse_export_uri(f"s3://{s3_bucket}/p")) as scanner:
        scan = await scanner.scan(EVERYTHING)
    assert [f["uri"] for f in scan.files] == [f"s3://{s3_bucket}/p/x.csv"]
