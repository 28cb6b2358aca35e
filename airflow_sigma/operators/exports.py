"""List the Sigma audit-log export files a run should read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_sigma.operators.failures import fail_fast
from airflow_sigma.storage import (
    DEFAULT_DAYS_BACK,
    DEFAULT_PATTERNS,
    ExportFile,
    ExportLocation,
    export_window,
    is_templated,
    normalise_patterns,
    parse_export_uri,
    scan_exports,
    validate_days_back,
)
from airflow_sigma.storage.uri import DEFAULT_AWS_CONN_ID, DEFAULT_GCP_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context


def run_data_interval(context: Context | Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The run's data interval; a run without one (manual, unscheduled) uses its logical date or run time."""
    start = context.get("data_interval_start")
    end = context.get("data_interval_end")
    if start is not None and end is not None:
        return start, end
    dag_run = context.get("dag_run")
    fallback = (
        end
        or start
        or context.get("logical_date")
        or getattr(dag_run, "run_after", None)
        or datetime.now(timezone.utc)
    )
    return start or fallback, end or fallback


def checked_location(bucket_uri: str, aws_conn_id: str | None, gcp_conn_id: str | None) -> str:
    """Validate ``bucket_uri`` now unless it is a Jinja template; return it normalised (or unchanged)."""
    if is_templated(bucket_uri):
        return bucket_uri
    return parse_export_uri(bucket_uri, aws_conn_id=aws_conn_id, gcp_conn_id=gcp_conn_id).uri


class SigmaListAuditExportsOperator(BaseOperator):
    """List the Sigma audit-log export files that landed in this run's window.

    Sigma writes one CSV (or CSV.gz) per scheduled export run under a prefix. Exports overlap in
    time and land late, so each run also rescans ``days_back`` days before its data interval: the
    window is ``[data_interval_start - days_back, data_interval_end]``, both ends included. A weekly
    DAG therefore covers its whole week plus the slack, with no gap between runs; consecutive runs
    see some files twice, which downstream loading deduplicates.

    **Which timestamp counts.** A file is in the window when its storage *last-modified* time is:
    that is when Sigma's export landed. The date in the file name depends on how the export was set
    up, and the events inside a file run up to about two hours behind it, so neither is used.

    Returns (as XCom) one :class:`~airflow_sigma.storage.ExportFile` per file, oldest first:
    ``uri``, ``size``, ``last_modified`` (ISO 8601 UTC) and ``version`` (S3 ETag, GCS generation,
    or ``<mtime_ns>-<size>`` for local files). Read them with :func:`airflow_sigma.storage.open_export`.

    :param bucket_uri: ``s3://bucket/prefix``, ``gs://bucket/prefix`` or ``file:///absolute/dir``
        (sub-folders included). Validated when the DAG is parsed unless it is a Jinja template.
    :param days_back: extra days (1 to 6) before the data interval to rescan for late files.
    :param pattern: file-name glob(s), matched case-insensitively; default ``*.csv`` and ``*.csv.gz``.
    :param aws_conn_id: amazon connection for ``s3://`` (missing connection or no keys: ambient
        credentials; half an access key pair is refused).
    :param gcp_conn_id: google connection for ``gs://`` (no key fields: Application Default Credentials).
    """

    template_fields: Sequence[str] = ("bucket_uri", "aws_conn_id", "gcp_conn_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        bucket_uri: str,
        days_back: int = DEFAULT_DAYS_BACK,
        pattern: str | Iterable[str] = DEFAULT_PATTERNS,
        aws_conn_id: str | None = DEFAULT_AWS_CONN_ID,
        gcp_conn_id: str | None = DEFAULT_GCP_CONN_ID,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.days_back = validate_days_back(days_back)
        self.pattern = list(normalise_patterns(pattern))
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.bucket_uri = checked_location(bucket_uri, aws_conn_id, gcp_conn_id)

    def location(self) -> ExportLocation:
        """The (rendered) location, validated."""
        return parse_export_uri(self.bucket_uri, aws_conn_id=self.aws_conn_id, gcp_conn_id=self.gcp_conn_id)

    @fail_fast
    def execute(self, context: Context) -> list[ExportFile]:
        location = self.location()
        start, end = run_data_interval(context)
        window = export_window(start, end, self.days_back)
        self.log.info(
            "Listing %s for files last modified in %s (data interval %s to %s, days_back=%d).",
            location.describe(),
            window,
            start.isoformat(),
            end.isoformat(),
            self.days_back,
        )
        scan = scan_exports(location, window, patterns=self.pattern)
        self.log.info(
            "%d object(s) seen, %d matched %s, %d in window.",
            scan.objects_seen,
            scan.pattern_matches,
            self.pattern,
            len(scan.files),
        )
        if not scan.files:
            self.log.warning("%s", scan.summary())
        return scan.files
