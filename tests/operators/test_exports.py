"""SigmaListAuditExportsOperator: parse-time validation, rendering, and execute on all three backends."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pendulum
import pytest
from structlog.testing import capture_logs

from airflow_sigma.operators import SigmaListAuditExportsOperator
from airflow_sigma.storage import ACCEPTED_FORMS, ExportConfigError
from tests.fixtures.airflow import fails_without_retry
from tests.fixtures.cloud import GcsServer, S3Server

UTC = timezone.utc
START = datetime(2024, 5, 6, tzinfo=UTC)
END = datetime(2024, 5, 7, tzinfo=UTC)
CONTEXT = {"data_interval_start": START, "data_interval_end": END}


def operator(uri: str, **kwargs: object) -> SigmaListAuditExportsOperator:
    return SigmaListAuditExportsOperator(task_id="list", bucket_uri=uri, **kwargs)  # type: ignore[arg-type]


def touch(path: Path, when: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"a\n1\n")
    stamp = int(when.timestamp() * 1_000_000) * 1000
    os.utime(path, ns=(stamp, stamp))


@pytest.mark.parametrize("bad", ["bucket/prefix", "gcs://bucket/p", "file://relative/dir", "s3:/bucket"])
def test_bad_uri_fails_at_parse_time_listing_accepted_forms(bad: str) -> None:
    with pytest.raises(ExportConfigError) as info:
        operator(bad)
    assert ACCEPTED_FORMS in str(info.value)


@pytest.mark.parametrize("days_back", [0, 7])
def test_days_back_outside_1_to_6_fails_at_parse_time(days_back: int) -> None:
    with pytest.raises(ExportConfigError, match="from 1 to 6"):
        operator("s3://bkt/p", days_back=days_back)


def test_defaults_and_normalisation() -> None:
    op = operator("gs://bkt//sigma//audit")
    assert op.bucket_uri == "gs://bkt/sigma/audit/"
    assert (op.days_back, op.pattern) == (2, ["*.csv", "*.csv.gz"])
    assert (op.aws_conn_id, op.gcp_conn_id) == ("aws_default", "google_cloud_default")
    assert "bucket_uri" in op.template_fields


def test_templated_uri_is_validated_at_execute(tmp_path: Path) -> None:
    op = operator("{{ params.uri }}")
    assert op.bucket_uri == "{{ params.uri }}"
    op.render_template_fields({"params": {"uri": "ftp://host/exports"}})
    with fails_without_retry(ExportConfigError, match="Unsupported export location 'ftp://host/exports'"):
        op.execute(CONTEXT)
    good = operator("{{ params.uri }}")
    good.render_template_fields({"params": {"uri": f"file://{tmp_path}//"}})
    assert good.execute(CONTEXT) == []


def test_local_window_edges_and_logs(tmp_path: Path) -> None:
    window_start = START - timedelta(days=1)
    tick = timedelta(microseconds=1)
    touch(tmp_path / "before.csv", window_start - tick)
    touch(tmp_path / "start.csv", window_start)
    touch(tmp_path / "nested" / "middle.csv.gz", START + timedelta(hours=3))
    touch(tmp_path / "end.csv", END)
    touch(tmp_path / "after.csv", END + tick)
    touch(tmp_path / "notes.txt", START)
    with capture_logs() as logs:
        files = operator(f"file://{tmp_path}", days_back=1).execute(CONTEXT)
    assert [Path(f["uri"]).name for f in files] == ["start.csv", "middle.csv.gz", "end.csv"]
    assert files[0]["last_modified"] == "2024-05-05T00:00:00+00:00"
    text = "\n".join(str(entry.get("event")) for entry in logs)
    assert "[2024-05-05T00:00:00+00:00, 2024-05-07T00:00:00+00:00]" in text
    assert "6 object(s) seen, 5 matched" in text
    assert "3 in window" in text


def test_weekly_interval_plus_slack(tmp_path: Path) -> None:
    week_start, week_end = datetime(2024, 4, 29, tzinfo=UTC), datetime(2024, 5, 6, tzinfo=UTC)
    for day in range(-3, 9):
        touch(tmp_path / f"day{day:+d}.csv", week_start + timedelta(days=day, hours=12))
    files = operator(f"file://{tmp_path}", days_back=2).execute(
        {"data_interval_start": week_start, "data_interval_end": week_end}
    )
    assert [Path(f["uri"]).name for f in files] == [f"day{d:+d}.csv" for d in range(-2, 7)]


def test_run_without_data_interval_uses_logical_date(tmp_path: Path) -> None:
    logical = pendulum.datetime(2024, 5, 7, tz="UTC")
    touch(tmp_path / "a.csv", logical - timedelta(hours=1))
    touch(tmp_path / "b.csv", logical + timedelta(hours=1))
    context = {"data_interval_start": None, "data_interval_end": None, "logical_date": logical}
    assert [Path(f["uri"]).name for f in operator(f"file://{tmp_path}").execute(context)] == ["a.csv"]


def test_empty_prefix_warns_what_to_check(tmp_path: Path) -> None:
    with capture_logs() as logs:
        assert operator(f"file://{tmp_path}").execute(CONTEXT) == []
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert any("check the bucket URI" in str(entry["event"]) for entry in warnings)


def test_s3(aws_connection: S3Server, s3_bucket: str) -> None:
    aws_connection.put(s3_bucket, "sigma/a.csv", b"a\n1\n", last_modified=START)
    aws_connection.put(s3_bucket, "sigma/old.csv", b"a\n1\n", last_modified=START - timedelta(days=3))
    files = operator(f"s3://{s3_bucket}/sigma").execute(CONTEXT)
    assert [f["uri"] for f in files] == [f"s3://{s3_bucket}/sigma/a.csv"]


def test_s3_half_key_pair(s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIGMA_AWS", s3_server.connection_json(login=None))
    op = operator(f"s3://{s3_bucket}/sigma", aws_conn_id="sigma_aws")
    with fails_without_retry(ExportConfigError, match="AWS connection 'sigma_aws' has half an access key"):
        op.execute(CONTEXT)


def test_gcs(gcs_connection: GcsServer, gcs_bucket: str) -> None:
    gcs_connection.put(gcs_bucket, "sigma/x/a.csv.gz", b"a\n1\n", last_modified=END)
    files = operator(f"gs://{gcs_bucket}/sigma").execute(CONTEXT)
    assert [f["uri"] for f in files] == [f"gs://{gcs_bucket}/sigma/x/a.csv.gz"]


def test_missing_bucket_fails_the_task(aws_connection: S3Server) -> None:
    with pytest.raises(Exception, match="S3 bucket 'no-such-bucket-here' does not exist"):
        operator("s3://no-such-bucket-here/sigma").execute(CONTEXT)
