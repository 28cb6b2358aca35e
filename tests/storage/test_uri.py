"""Export location parsing and normalisation (pure)."""

from __future__ import annotations

import pytest

from airflow_sigma.storage import (
    ACCEPTED_FORMS,
    ExportConfigError,
    is_templated,
    parse_export_uri,
    parse_object_uri,
)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("s3://bucket/prefix", "s3://bucket/prefix/"),
        ("s3://bucket/prefix/", "s3://bucket/prefix/"),
        ("s3://bucket//prefix//sub///", "s3://bucket/prefix/sub/"),
        ("s3://bucket", "s3://bucket/"),
        ("s3://bucket/", "s3://bucket/"),
        ("S3://bucket/Prefix", "s3://bucket/Prefix/"),
        ("  gs://my_bucket.example/a/b  ", "gs://my_bucket.example/a/b/"),
        ("file:///tmp/exports", "file:///tmp/exports/"),
        ("file:////tmp//exports//", "file:///tmp/exports/"),
        ("file://localhost/tmp/x/../exports", "file:///tmp/exports/"),
    ],
)
def test_normalises(raw: str, normalised: str) -> None:
    assert parse_export_uri(raw).uri == normalised


def test_parts_and_connections() -> None:
    s3 = parse_export_uri("s3://bkt/a//b", aws_conn_id="my_aws", gcp_conn_id="my_gcp")
    assert (s3.scheme, s3.bucket, s3.prefix, s3.conn_id) == ("s3", "bkt", "a/b/", "my_aws")
    gs = parse_export_uri("gs://bkt", aws_conn_id="my_aws", gcp_conn_id="my_gcp")
    assert (gs.scheme, gs.bucket, gs.prefix, gs.conn_id) == ("gs", "bkt", "", "my_gcp")
    local = parse_export_uri("file:///srv/sigma")
    assert (local.scheme, local.bucket, local.prefix, local.conn_id) == ("file", "", "/srv/sigma/", None)
    assert s3.object_uri("a/b/2024-05-01 x.csv") == "s3://bkt/a/b/2024-05-01 x.csv"
    assert local.object_uri("/srv/sigma/sub/x.csv") == "file:///srv/sigma/sub/x.csv"


@pytest.mark.parametrize(
    "bad",
    [
        "bucket/prefix",
        "/abs/dir",
        "gcs://bucket/prefix",
        "s3a://bucket/prefix",
        "https://bucket.s3.amazonaws.com/prefix",
        "az://container/prefix",
        "",
        "   ",
    ],
)
def test_unsupported_forms_list_accepted_ones(bad: str) -> None:
    with pytest.raises(ExportConfigError) as info:
        parse_export_uri(bad)
    assert ACCEPTED_FORMS in str(info.value)


def test_non_string_is_refused() -> None:
    with pytest.raises(ExportConfigError, match="non-empty string"):
        parse_export_uri(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["s3://", "s3:///prefix", "s3://ab/x", "gs://Upper/x", "s3://bad bucket/x"])
def test_bad_bucket_names(bad: str) -> None:
    with pytest.raises(ExportConfigError, match="bucket name"):
        parse_export_uri(bad)


def test_file_uri_needs_absolute_path() -> None:
    with pytest.raises(ExportConfigError, match="three slashes"):
        parse_export_uri("file://relative/dir")


def test_credentials_in_uri_are_refused_without_echoing_them() -> None:
    with pytest.raises(ExportConfigError) as info:
        parse_export_uri("s3://AKIAEXAMPLE:verysecretvalue@bucket/prefix")
    assert "verysecretvalue" not in str(info.value)
    assert "connection" in str(info.value)


def test_object_uris() -> None:
    ref = parse_object_uri("s3://bkt/a/b/2024-05-01T06:00 export?.csv")
    assert (ref.scheme, ref.bucket, ref.key) == ("s3", "bkt", "a/b/2024-05-01T06:00 export?.csv")
    assert ref.uri == "s3://bkt/a/b/2024-05-01T06:00 export?.csv"
    assert parse_object_uri("file:///tmp/x.csv").key == "/tmp/x.csv"
    for folder in ("s3://bkt/a/", "gs://bkt", "file:///tmp/"):
        with pytest.raises(ExportConfigError, match="not a file"):
            parse_object_uri(folder)


def test_template_detection() -> None:
    assert is_templated("s3://{{ var.value.bucket }}/x")
    assert is_templated("{% if x %}s3://a/b{% endif %}")
    assert not is_templated("s3://bucket/x")
    assert not is_templated(None)
