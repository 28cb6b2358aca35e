"""Wait for a new Sigma audit-log export file to land."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from airflow_sigma.operators.exports import checked_location, run_data_interval
from airflow_sigma.operators.failures import NOT_RETRIED, fail_fast
from airflow_sigma.storage import (
    DEFAULT_PATTERNS,
    ExportFile,
    ExportLocation,
    format_timestamp,
    is_templated,
    newer_than_window,
    normalise_patterns,
    parse_export_uri,
    parse_timestamp,
    scan_exports,
)
from airflow_sigma.storage.uri import DEFAULT_AWS_CONN_ID, DEFAULT_GCP_CONN_ID
from airflow_sigma.triggers.exports import SigmaAuditExportTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class SigmaAuditExportSensor(BaseSensorOperator):
    """Wait until a Sigma audit-log export file newer than a given time exists under a prefix.

    "Newer" compares the file's storage last-modified time (when the export landed) with
    ``newer_than``, strictly. Deferrable by default: after one immediate check the wait moves to
    the triggerer (:class:`~airflow_sigma.triggers.exports.SigmaAuditExportTrigger`) and holds no
    worker slot. With ``deferrable=False`` it pokes with the synchronous listing (``mode`` as usual).

    Returns (as XCom) the new files, oldest first, in the same shape as
    :class:`~airflow_sigma.operators.exports.SigmaListAuditExportsOperator`.

    :param bucket_uri: ``s3://bucket/prefix``, ``gs://bucket/prefix`` or ``file:///absolute/dir``.
    :param newer_than: a datetime or ISO 8601 string (templated); default: the run's data interval end.
    :param pattern: file-name glob(s); default ``*.csv`` and ``*.csv.gz``.
    :param aws_conn_id: amazon connection for ``s3://``.
    :param gcp_conn_id: google connection for ``gs://``.
    :param deferrable: wait in the triggerer (default) instead of a worker.
    :param poke_interval: seconds between checks (default 5 minutes).
    :param timeout: seconds before giving up (default 24 hours); ``soft_fail`` skips instead of failing.
    """

    template_fields: Sequence[str] = ("bucket_uri", "newer_than", "aws_conn_id", "gcp_conn_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        bucket_uri: str,
        newer_than: datetime | str | None = None,
        pattern: str | Iterable[str] = DEFAULT_PATTERNS,
        aws_conn_id: str | None = DEFAULT_AWS_CONN_ID,
        gcp_conn_id: str | None = DEFAULT_GCP_CONN_ID,
        deferrable: bool = True,
        poke_interval: float = 300,
        timeout: float = 24 * 60 * 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.pattern = list(normalise_patterns(pattern))
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.deferrable = deferrable
        self.bucket_uri = checked_location(bucket_uri, aws_conn_id, gcp_conn_id)
        if newer_than is not None and not is_templated(newer_than):
            parse_timestamp(newer_than, field="newer_than")
        self.newer_than = newer_than

    def location(self) -> ExportLocation:
        return parse_export_uri(self.bucket_uri, aws_conn_id=self.aws_conn_id, gcp_conn_id=self.gcp_conn_id)

    def threshold(self, context: Context) -> datetime:
        """Files must be last modified strictly after this time."""
        if self.newer_than is None or self.newer_than == "":
            return parse_timestamp(run_data_interval(context)[1], field="newer_than")
        return parse_timestamp(self.newer_than, field="newer_than")

    @fail_fast
    def poke(self, context: Context) -> PokeReturnValue:
        scan = scan_exports(
            self.location(), newer_than_window(self.threshold(context)), patterns=self.pattern
        )
        self.log.info("%s", scan.summary())
        return PokeReturnValue(is_done=bool(scan.files), xcom_value=scan.files)

    @fail_fast
    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        found = self.poke(context)
        if found.is_done:
            return found.xcom_value
        timeout_at = datetime.now(timezone.utc) + timedelta(seconds=self.timeout)
        self.log.info(
            "No new export yet; deferring (checking every %ss until %s).", self.poke_interval, timeout_at
        )
        self.defer(
            trigger=SigmaAuditExportTrigger(
                bucket_uri=self.location().uri,
                newer_than=format_timestamp(self.threshold(context)),
                patterns=self.pattern,
                aws_conn_id=self.aws_conn_id,
                gcp_conn_id=self.gcp_conn_id,
                poke_interval=self.poke_interval,
                timeout_at=format_timestamp(timeout_at),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    @fail_fast
    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> list[ExportFile]:
        """Resume after the trigger: return the files, or fail with the trigger's message."""
        status = (event or {}).get("status")
        message = (event or {}).get("message", "no message")
        if status == "success":
            self.log.info("%s", message)
            return list((event or {}).get("files", []))
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        failure = f"Waiting for a Sigma audit export failed: {message}"
        if (event or {}).get("retryable", True):
            raise AirflowException(failure)
        raise AirflowFailException(f"{failure} ({NOT_RETRIED})")
