"""S3 listing and reading through S3Hook against moto's S3 server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

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
from airflow_sigma.storage.s3 import s3_hook
from tests.fixtures.cloud import S3Server
from tests.storage._data import CSV_BYTES, CSV_GZ_BYTES, CSV_TEXT, INTERVAL_END, UTC, WINDOW_START

MANY = 1234
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def big_bucket(s3_server: S3Server) -> Iterator[str]:
    """A bucket with more than one listing page under exports/, plus nested and sibling prefixes."""
    bucket = s3_server.create_bucket()
    s3_server.put_many(bucket, [(f"exports/2024-05-06-{i:05d}.csv", b"a\n1\n") for i in range(MANY)])
    s3_server.put(bucket, "exports/nested/deeper/2024-05-06-nested.csv.gz", CSV_GZ_BYTES)
    s3_server.put(bucket, "exports/folder/", b"")
    s3_server.put(bucket, "exports/2024-05-06-readme.txt", b"not an export")
    s3_server.put(bucket, "exports-old/2024-05-06-sibling.csv", CSV_BYTES)
    yield bucket


def test_lists_more_than_one_page_nested_prefixes_not_siblings(
    aws_connection: S3Server, big_bucket: str
) -> None:
    scan = scan_exports(parse_export_uri(f"s3://{big_bucket}//exports"), ExportWindow(None, None))
    assert scan.objects_seen == MANY + 2  # the folder marker is not an object we count
    assert scan.pattern_matches == MANY + 1
    uris = [f["uri"] for f in scan.files]
    assert len(uris) == len(set(uris)) == MANY + 1
    assert f"s3://{big_bucket}/exports/nested/deeper/2024-05-06-nested.csv.gz" in uris
    assert not any("exports-old" in uri for uri in uris)


def test_window_edges_on_s3(aws_connection: S3Server, s3_bucket: str) -> None:
    stamps = {
        "before.csv": WINDOW_START - SECOND,
        "start-edge.csv": WINDOW_START,
        "middle.csv.gz": WINDOW_START + timedelta(hours=30),
        "end-edge.csv": INTERVAL_END,
        "after.csv": INTERVAL_END + SECOND,
    }
    for name, when in stamps.items():
        aws_connection.put(s3_bucket, f"p/{name}", CSV_BYTES, last_modified=when)
    files = list_exports(parse_export_uri(f"s3://{s3_bucket}/p/"), WINDOW_START, INTERVAL_END)
    assert [f["uri"].rsplit("/", 1)[1] for f in files] == ["start-edge.csv", "middle.csv.gz", "end-edge.csv"]
    assert files[0]["last_modified"] == "2024-05-05T00:00:00+00:00"
    assert files[0]["size"] == len(CSV_BYTES)
    head = aws_connection.client().head_object(Bucket=s3_bucket, Key="p/start-edge.csv")
    assert files[0]["version"] == head["ETag"].strip('"')


def test_window_around_real_upload_times(aws_connection: S3Server, s3_bucket: str) -> None:
    aws_connection.put(s3_bucket, "p/first.csv", CSV_BYTES)
    uploaded = aws_connection.client().head_object(Bucket=s3_bucket, Key="p/first.csv")["LastModified"]
    location = parse_export_uri(f"s3://{s3_bucket}/p")
    assert len(list_exports(location, uploaded, uploaded)) == 1
    assert list_exports(location, uploaded + SECOND, None) == []
    assert list_exports(location, None, uploaded - SECOND) == []


def test_read_gzip_and_plain_streams(aws_connection: S3Server, s3_bucket: str) -> None:
    aws_connection.put(s3_bucket, "p/a.csv.gz", CSV_GZ_BYTES)
    aws_connection.put(s3_bucket, "p/b.csv", CSV_BYTES)
    reader = ExportReader()
    for export in list_exports(parse_export_uri(f"s3://{s3_bucket}/p"), None, None):
        with reader.open(export, mode="rb") as binary:
            assert pacsv.open_csv(binary).read_all().num_rows == 2
        with reader.open(export["uri"], mode="rt") as text:
            assert text.read() == CSV_TEXT
    with open_export(f"s3://{s3_bucket}/p/a.csv.gz", mode="rt") as text:
        assert text.readline() == CSV_TEXT.splitlines(keepends=True)[0]


def test_missing_bucket_is_a_clear_error(aws_connection: S3Server) -> None:
    with pytest.raises(ExportStorageError, match=r"S3 bucket 'no-such-bucket-here' does not exist") as info:
        list_exports(parse_export_uri("s3://no-such-bucket-here/p"), None, None)
    assert "aws_default" in str(info.value)


def test_missing_object_is_a_clear_error(aws_connection: S3Server, s3_bucket: str) -> None:
    with pytest.raises(ExportStorageError, match="Not found"):
        open_export(f"s3://{s3_bucket}/p/gone.csv")


@pytest.mark.parametrize(
    ("overrides", "have"),
    [
        ({"password": None}, "login is set"),
        ({"login": None}, "password is set"),
        (
            {"login": None, "password": None, "aws_access_key_id": "AKIAHALF"},
            "extra aws_access_key_id is set",
        ),
        (
            {"login": None, "password": None, "aws_secret_access_key": "half-secret-value"},
            "extra aws_secret_access_key is set",
        ),
    ],
)
def test_half_a_key_pair_is_refused(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, overrides: dict, have: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", s3_server.connection_json(**overrides))
    with pytest.raises(ExportConfigError, match="half an access key pair") as info:
        list_exports(parse_export_uri(f"s3://{s3_bucket}/p"), None, None)
    message = str(info.value)
    assert have in message
    assert "ambient credentials" in message
    assert "half-secret-value" not in message


def test_session_token_and_region_override(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMA_S3",
        s3_server.connection_json(aws_session_token="session-token-value", region_name="eu-west-1"),
    )
    hook = s3_hook("sigma_s3")
    assert hook.conn_config.region_name == "eu-west-1"
    assert hook.conn_config.aws_session_token == "session-token-value"
    assert hook.get_conn().meta.region_name == "eu-west-1"
    s3_server.put(s3_bucket, "p/x.csv", CSV_BYTES)
    location = parse_export_uri(f"s3://{s3_bucket}/p", aws_conn_id="sigma_s3")
    assert len(list_exports(location, None, None)) == 1


def test_missing_connection_falls_back_to_ambient_credentials(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    s3_server.put(s3_bucket, "p/x.csv", CSV_BYTES)
    assert len(list_exports(parse_export_uri(f"s3://{s3_bucket}/p"), None, None)) == 1


def test_export_rows_are_json_serialisable(aws_connection: S3Server, s3_bucket: str) -> None:
    aws_connection.put(
        s3_bucket, "p/x.csv", CSV_BYTES, last_modified=datetime(2024, 5, 6, 1, 2, 3, tzinfo=UTC)
    )
    files = list_exports(parse_export_uri(f"s3://{s3_bucket}/p"), None, None)
    assert json.loads(json.dumps(files)) == files
    assert set(files[0]) == {"uri", "size", "last_modified", "version"}
