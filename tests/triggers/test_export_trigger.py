"""SigmaAuditExportTrigger: serialisation and its run loop against real servers and folders."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.sdk.serde import deserialize, serialize

from airflow_sigma.storage import format_timestamp
from airflow_sigma.triggers import SigmaAuditExportTrigger
from tests.fixtures.cloud import GcsServer, S3Server

UTC = timezone.utc
THRESHOLD = datetime(2024, 5, 7, tzinfo=UTC)
FAR_FUTURE = format_timestamp(datetime.now(UTC) + timedelta(hours=1))


def make_trigger(uri: str, **overrides: object) -> SigmaAuditExportTrigger:
    kwargs: dict = {
        "bucket_uri": uri,
        "newer_than": format_timestamp(THRESHOLD),
        "poke_interval": 0.05,
        "timeout_at": FAR_FUTURE,
        **overrides,
    }
    return SigmaAuditExportTrigger(**kwargs)


async def first_event(trigger: SigmaAuditExportTrigger, limit: float = 60) -> dict:
    event = await asyncio.wait_for(anext(trigger.run()), timeout=limit)
    return event.payload


def test_serialises_to_plain_json_and_back() -> None:
    trigger = make_trigger("s3://bkt/p/", patterns=["*.csv"], aws_conn_id="my_aws", gcp_conn_id=None)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_sigma.triggers.exports.SigmaAuditExportTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    rebuilt = SigmaAuditExportTrigger(**deserialize(serialize(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)


async def test_fires_with_files_newer_than_threshold(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"
    new = tmp_path / "sub" / "new.csv.gz"
    new.parent.mkdir()
    for path, when in ((old, THRESHOLD), (new, THRESHOLD + timedelta(seconds=1))):
        path.write_bytes(b"a\n1\n")
        stamp = int(when.timestamp()) * 10**9
        os.utime(path, ns=(stamp, stamp))
    payload = await first_event(make_trigger(f"file://{tmp_path}"))
    assert payload["status"] == "success"
    assert [f["uri"] for f in payload["files"]] == [f"file://{new}"]
    assert json.loads(json.dumps(payload)) == payload


async def test_waits_for_an_upload_on_s3(aws_connection: S3Server, s3_bucket: str) -> None:
    aws_connection.put(s3_bucket, "p/old.csv", b"a\n1\n", last_modified=THRESHOLD)
    task = asyncio.ensure_future(first_event(make_trigger(f"s3://{s3_bucket}/p")))
    await asyncio.sleep(0.5)
    assert not task.done(), "fired although only a file at the threshold (not newer) exists"
    await asyncio.to_thread(aws_connection.put, s3_bucket, "p/deeper/new.csv", b"a\n1\n")
    payload = await task
    assert payload["status"] == "success"
    assert [f["uri"] for f in payload["files"]] == [f"s3://{s3_bucket}/p/deeper/new.csv"]


async def test_waits_for_an_upload_on_gcs(gcs_connection: GcsServer, gcs_bucket: str) -> None:
    gcs_connection.put(gcs_bucket, "p/old.csv", b"a\n1\n", last_modified=THRESHOLD - timedelta(days=1))
    task = asyncio.ensure_future(first_event(make_trigger(f"gs://{gcs_bucket}/p")))
    await asyncio.sleep(0.5)
    assert not task.done()
    await asyncio.to_thread(gcs_connection.put, gcs_bucket, "p/new.csv.gz", b"a\n1\n")
    payload = await task
    assert payload["status"] == "success"
    assert [f["uri"] for f in payload["files"]] == [f"gs://{gcs_bucket}/p/new.csv.gz"]


async def test_times_out_with_a_message(tmp_path: Path) -> None:
    soon = format_timestamp(datetime.now(UTC) + timedelta(seconds=0.3))
    payload = await first_event(make_trigger(f"file://{tmp_path}", timeout_at=soon))
    assert payload["status"] == "timeout"
    assert str(tmp_path) in payload["message"]


async def test_missing_bucket_is_an_error_event(aws_connection: S3Server) -> None:
    payload = await first_event(make_trigger("s3://no-such-bucket-here/p"))
    assert set(payload) == {"status", "message", "retryable"}
    assert payload["status"] == "error" and payload["retryable"] is False  # the user must act
    assert "'no-such-bucket-here' does not exist" in payload["message"]


async def test_bad_location_is_an_error_event() -> None:
    payload = await first_event(make_trigger("ftp://host/p"))
    assert payload["status"] == "error" and payload["retryable"] is False
    assert "s3://bucket/prefix, gs://bucket/prefix or file:///absolute/dir" in payload["message"]
