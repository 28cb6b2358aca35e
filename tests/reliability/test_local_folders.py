"""Local export folders stay inside the folder, and a file that is not an export is never echoed.

A symbolic link resolving outside the folder is skipped, an entry that cannot be read (a link pointing
to itself) is skipped, both counted in the log, in the listing task, the sensor and the trigger alike;
``file:///`` is refused; an error about a file that is not a CSV export quotes at most a short,
escaped piece of its first line.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.operators import SigmaAggregateImpressionsOperator, SigmaListAuditExportsOperator
from airflow_sigma.sensors import SigmaAuditExportSensor
from airflow_sigma.storage import ExportConfigError, parse_export_uri
from airflow_sigma.triggers import SigmaAuditExportTrigger

UTC = timezone.utc
DAY = datetime(2026, 4, 5, tzinfo=UTC)
CONTEXT: Any = {"data_interval_start": DAY - timedelta(days=1), "data_interval_end": DAY + timedelta(days=1)}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An export folder with one real export, a link out of it, a link to itself and a link inside it."""
    exports = tmp_path / "exports"
    (exports / "sub").mkdir(parents=True)
    secret = tmp_path / "outside.csv"
    secret.write_text("request_time,user_email,workbook_url_id\n2026-04-05T10:00:00Z,x@x.com,wbSecret\n")
    real = exports / "sub" / "2026-04-05.csv"
    real.write_text("request_time,user_email,workbook_url_id\n2026-04-05T10:00:00Z,ann@x.com,wbA\n")
    (exports / "escape.csv").symlink_to(secret)
    (exports / "loop.csv").symlink_to(exports / "loop.csv")
    (exports / "alias.csv").symlink_to(real)
    for path in (secret, real):
        os.utime(path, (DAY.timestamp() + 3600,) * 2)
    return exports


def listed(files: list[dict[str, Any]]) -> list[str]:
    return sorted(Path(f["uri"].removeprefix("file://")).name for f in files)


def test_the_listing_keeps_to_the_folder_and_says_what_it_skipped(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        files = SigmaListAuditExportsOperator(task_id="list", bucket_uri=folder.as_uri()).execute(CONTEXT)
    assert listed(files) == ["2026-04-05.csv", "alias.csv"]
    assert "Skipped 1 symbolic link(s)" in caplog.text and "escape.csv" in caplog.text
    assert "Skipped 1 entr(ies)" in caplog.text and "loop.csv" in caplog.text


def test_the_sensor_and_the_trigger_skip_the_same_entries(folder: Path) -> None:
    sensor = SigmaAuditExportSensor(
        task_id="wait", bucket_uri=folder.as_uri(), newer_than=DAY.isoformat(), deferrable=False
    )
    assert listed(sensor.poke(CONTEXT).xcom_value) == ["2026-04-05.csv", "alias.csv"]
    trigger = SigmaAuditExportTrigger(bucket_uri=folder.as_uri(), newer_than=DAY.isoformat())

    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    payload = asyncio.run(first())
    assert payload["status"] == "success" and listed(payload["files"]) == ["2026-04-05.csv", "alias.csv"]


@pytest.mark.parametrize("uri", ["file:///", "file:////", "file:///.", "file://localhost/"])
def test_the_root_of_the_filesystem_is_refused(uri: str) -> None:
    with pytest.raises(ExportConfigError, match="root of the filesystem"):
        parse_export_uri(uri)
    with pytest.raises(ExportConfigError, match="root of the filesystem"):
        SigmaListAuditExportsOperator(task_id="list", bucket_uri=uri)


def test_a_file_that_is_not_an_export_is_not_echoed(
    tmp_path: Path, sqlite_conn_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    system_file = tmp_path / "shadow"
    secret_line = "root:$6$SECRETHASHSECRETHASH" + "x" * 200 + ":19000:0:99999:7:::\x1b[2J"
    system_file.write_text(secret_line + "\ndaemon:*:19000:0:99999:7:::\n")
    op = SigmaAggregateImpressionsOperator(
        task_id="impressions", files=[system_file.as_uri()], warehouse_conn_id=sqlite_conn_id
    )
    with pytest.raises(Exception) as raised:
        op.execute(CONTEXT)
    message = str(raised.value)
    assert "header line starts: 'root:$6$SECRETHASHSECRETHASH" in message
    assert "more characters)" in message and secret_line[80:] not in message
    assert "\x1b" not in message and "daemon" not in message and "19000" not in message
    assert secret_line[80:] not in caplog.text
