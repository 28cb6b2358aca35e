"""Trigger waiting for a Sigma audit-log export file to land (async I/O, runs in the triggerer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_sigma.exceptions import is_retryable
from airflow_sigma.storage import (
    DEFAULT_PATTERNS,
    ExportConfigError,
    ExportStorageError,
    newer_than_window,
    parse_export_uri,
    parse_timestamp,
)
from airflow_sigma.storage.aio import AsyncExportScanner
from airflow_sigma.storage.uri import DEFAULT_AWS_CONN_ID, DEFAULT_GCP_CONN_ID


class SigmaAuditExportTrigger(BaseTrigger):
    """Poll an export location until a matching file last modified after ``newer_than`` exists.

    Yields one event and stops: ``{"status": "success", "files": [...], "message": ...}`` with the
    new files oldest first, ``{"status": "timeout", "message": ...}`` once ``timeout_at`` passes,
    or ``{"status": "error", "message": ..., "retryable": ...}`` when the location cannot be listed
    (``retryable`` False for a terminal error: the sensor then fails without retries).

    :param bucket_uri: ``s3://bucket/prefix``, ``gs://bucket/prefix`` or ``file:///absolute/dir``.
    :param newer_than: ISO 8601 timestamp; only files last modified strictly after it count.
    :param patterns: file-name globs.
    :param aws_conn_id: amazon connection for ``s3://`` (fetched asynchronously).
    :param gcp_conn_id: google connection for ``gs://`` (fetched asynchronously).
    :param poke_interval: seconds between listings.
    :param timeout_at: ISO 8601 time after which to give up (None: never; Airflow's deferral
        timeout still applies).
    """

    def __init__(
        self,
        *,
        bucket_uri: str,
        newer_than: str,
        patterns: list[str] | None = None,
        aws_conn_id: str | None = DEFAULT_AWS_CONN_ID,
        gcp_conn_id: str | None = DEFAULT_GCP_CONN_ID,
        poke_interval: float = 60.0,
        timeout_at: str | None = None,
    ) -> None:
        super().__init__()
        self.bucket_uri = bucket_uri
        self.newer_than = newer_than
        self.patterns = list(patterns) if patterns is not None else list(DEFAULT_PATTERNS)
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.poke_interval = float(poke_interval)
        self.timeout_at = timeout_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "bucket_uri": self.bucket_uri,
                "newer_than": self.newer_than,
                "patterns": self.patterns,
                "aws_conn_id": self.aws_conn_id,
                "gcp_conn_id": self.gcp_conn_id,
                "poke_interval": self.poke_interval,
                "timeout_at": self.timeout_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            event = await self._wait()
        except (ExportConfigError, ExportStorageError) as error:
            event = {"status": "error", "message": str(error), "retryable": is_retryable(error)}
        except Exception as error:
            event = {
                "status": "error",
                "message": f"Waiting for exports under {self.bucket_uri} failed: {error!r}",
                "retryable": is_retryable(error),
            }
        yield TriggerEvent(event)

    async def _wait(self) -> dict[str, Any]:
        location = parse_export_uri(
            self.bucket_uri, aws_conn_id=self.aws_conn_id, gcp_conn_id=self.gcp_conn_id
        )
        threshold = parse_timestamp(self.newer_than, field="newer_than")
        deadline = parse_timestamp(self.timeout_at, field="timeout_at") if self.timeout_at else None
        window = newer_than_window(threshold)
        async with AsyncExportScanner(location) as scanner:
            while True:
                scan = await scanner.scan(window, patterns=self.patterns)
                self.log.info("%s", scan.summary())
                if scan.files:
                    return {"status": "success", "files": scan.files, "message": scan.summary()}
                delay = self.poke_interval
                if deadline is not None:
                    remaining = (deadline - datetime.now(timezone.utc)).total_seconds()
                    if remaining <= 0:
                        return {
                            "status": "timeout",
                            "message": f"No export file matching {self.patterns} last modified after "
                            f"{threshold.isoformat()} appeared under {location.describe()} "
                            f"by {self.timeout_at}.",
                        }
                    delay = min(delay, remaining)
                await asyncio.sleep(delay)
