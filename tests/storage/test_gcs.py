"""GCS listing and reading through GCSHook against the GCS emulator (real HTTP on 127.0.0.1).

The hook gets anonymous credentials from the connection extra ``is_anonymous`` and the client
follows ``STORAGE_EMULATOR_HOST`` (see tests/fixtures/cloud.py).
"""

from __future__ import annotations

from datetime import timedelta

import pyarrow.csv as pacsv
import pytest

from airflow_sigma.storage import (
    ExportConfigError,
    ExportReader,
    ExportStorageError,
    ExportWindow,
    list_exports,
    open_export,
    parse_export_uri,
    scan_exports,
)
from tests.fixtures.cloud import GcsServer
from tests.storage._data import CSV_BYTES, CSV_GZ_BYTES, CSV_TEXT, INTERVAL_END, WINDOW_START

TICK = timedelta(microseconds=1)


def test_window_edges_nested_prefixes_and_siblings(gcs_connection: GcsServer, gcs_bucket: str) -> None:
    stamps = {
        "exports/before.csv": WINDOW_START - TICK,
        "exports/start-edge.csv": WINDOW_START,
        "exports/nested/deeper/middle.csv.gz": WINDOW_START + timedelta(hours=30),
        "exports/end-edge.csv": INTERVAL_END,
        "exports/after.csv": INTERVAL_END + TICK,
        "exports/readme.txt": WINDOW_START + timedelta(hours=1),
        "exports-old/sibling.csv": WINDOW_START + timedelta(hours=1),
    }
    for key, when in stamps.items():
        gcs_connection.put(gcs_bucket, key, CSV_BYTES, last_modified=when)
    scan = scan_exports(
        parse_export_uri(f"gs://{gcs_bucket}/exports"), ExportWindow(WINDOW_START, INTERVAL_END)
    )
    assert (scan.objects_seen, scan.pattern_matches) == (6, 5)
    assert [f["uri"] for f in scan.files] == [
        f"gs://{gcs_bucket}/exports/start-edge.csv",
        f"gs://{gcs_bucket}/exports/nested/deeper/middle.csv.gz",
        f"gs://{gcs_bucket}/exports/end-edge.csv",
    ]
    first = scan.files[0]
    assert first["last_modified"] == "2024-05-05T00:00:00+00:00"
    assert first["size"] == len(CSV_BYTES)
    blob = gcs_connection.client().bucket(gcs_bucket).get_blob("exports/start-edge.csv")
    assert first["version"] == str(blob.generation)


def test_more_than_a_page_of_objects(gcs_connection: GcsServer, gcs_bucket: str) -> None:
    # The emulator answers in one page; this checks the client-side loop over many objects.
    for i in range(60):
        gcs_connection.put(gcs_bucket, f"p/{i:03d}.csv", b"a\n1\n")
    assert len(list_exports(parse_export_uri(f"gs://{gcs_bucket}/p/"), None, None)) == 60


def test_read_gzip_and_plain_streams(gcs_connection: GcsServer, gcs_bucket: str) -> None:
    gcs_connection.put(gcs_bucket, "p/a.csv.gz", CSV_GZ_BYTES)
    gcs_connection.put(gcs_bucket, "p/b.csv", CSV_BYTES)
    reader = ExportReader()
    files = list_exports(parse_export_uri(f"gs://{gcs_bucket}/p"), None, None)
    assert len(files) == 2
    for export in files:
        with reader.open(export, mode="rb") as binary:
            assert pacsv.open_csv(binary).read_all().num_rows == 2
        with reader.open(export["uri"], mode="rt") as text:
            assert text.read() == CSV_TEXT


def test_reads_large_object_in_chunks(gcs_connection: GcsServer, gcs_bucket: str) -> None:
    rows = "".join(f"2024-05-06 10:00:00,u{i}@example.com,wb{i % 7},,1\n" for i in range(60000))
    body = CSV_TEXT.splitlines(keepends=True)[0] + rows
    assert len(body) > 2 * 1024 * 1024  # more than two reader chunks
    gcs_connection.put(gcs_bucket, "p/big.csv", body)
    with open_export(f"gs://{gcs_bucket}/p/big.csv", mode="rb") as binary:
        assert pacsv.open_csv(binary).read_all().num_rows == 60000


def test_missing_bucket_is_a_clear_error(gcs_connection: GcsServer) -> None:
    with pytest.raises(ExportStorageError, match=r"GCS bucket 'no-such-bucket-here' does not exist") as info:
        list_exports(parse_export_uri("gs://no-such-bucket-here/p"), None, None)
    assert "google_cloud_default" in str(info.value)


def test_missing_object_is_a_clear_error(gcs_connection: GcsServer, gcs_bucket: str) -> None:
    with pytest.raises(ExportStorageError, match="Not found"):
        open_export(f"gs://{gcs_bucket}/p/gone.csv")


def test_missing_connection_is_a_clear_error(gcs_server: GcsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint_url)
    location = parse_export_uri("gs://some-bucket/p", gcp_conn_id="not_defined_anywhere")
    with pytest.raises(ExportConfigError, match="'not_defined_anywhere' is not defined"):
        list_exports(location, None, None)
