"""What the impressions and audit-history operators share: which files, which connections, which tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_sigma.loading.files import check_file_source
from airflow_sigma.loading.settings import check_fraction
from airflow_sigma.operators.exports import checked_location, run_data_interval
from airflow_sigma.storage import DEFAULT_DAYS_BACK, DEFAULT_PATTERNS, normalise_patterns, validate_days_back
from airflow_sigma.storage.uri import DEFAULT_AWS_CONN_ID, DEFAULT_GCP_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_sigma.loading import EventJob, LoadResult


class _ExportLoadingOperator(BaseOperator):
    """Load Sigma audit-log export files into the warehouse with one job of :mod:`airflow_sigma.loading`.

    The parameters are documented on :class:`~airflow_sigma.operators.SigmaAggregateImpressionsOperator`
    and :class:`~airflow_sigma.operators.SigmaLoadAuditEventsOperator`.
    """

    template_fields: Sequence[str] = (
        "files",
        "bucket_uri",
        "aws_conn_id",
        "gcp_conn_id",
        "warehouse_conn_id",
        "schema",
        "table_prefix",
        "column_map",
        "event_id_column",
    )

    def __init__(
        self,
        *,
        files: Any = None,
        bucket_uri: str | None = None,
        days_back: int = DEFAULT_DAYS_BACK,
        pattern: str | Iterable[str] = DEFAULT_PATTERNS,
        aws_conn_id: str | None = DEFAULT_AWS_CONN_ID,
        gcp_conn_id: str | None = DEFAULT_GCP_CONN_ID,
        warehouse_conn_id: str = "sigma_warehouse",
        schema: str | None = None,
        table_prefix: str = "sigma_",
        column_map: Mapping[str, str] | None = None,
        event_id_column: str | None = None,
        max_bad_row_fraction: float = 0.01,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_file_source(files, bucket_uri)
        self.files = files
        self.bucket_uri = checked_location(bucket_uri, aws_conn_id, gcp_conn_id) if bucket_uri else None
        self.days_back = validate_days_back(days_back)
        self.pattern = list(normalise_patterns(pattern))
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.schema = schema
        self.table_prefix = table_prefix
        self.column_map = column_map
        self.event_id_column = event_id_column
        self.max_bad_row_fraction = check_fraction("max_bad_row_fraction", max_bad_row_fraction)

    def load(self, context: Context, job_for: Callable[[datetime], EventJob]) -> LoadResult:
        """Resolve the run's files and load them with the job made for the run's data interval end."""
        from airflow_sigma.loading import load_exports, resolve_run_files
        from airflow_sigma.storage.window import as_utc
        from airflow_sigma.warehouse import Warehouse

        warehouse = Warehouse.from_conn_id(
            self.warehouse_conn_id, schema=self.schema, table_prefix=self.table_prefix
        ).checked()  # before any file is listed or read
        start, end = run_data_interval(context)
        files = resolve_run_files(
            self.files,
            self.bucket_uri,
            days_back=self.days_back,
            data_interval_start=start,
            data_interval_end=end,
            aws_conn_id=self.aws_conn_id,
            gcp_conn_id=self.gcp_conn_id,
            patterns=self.pattern,
            logger=self.log,
        )
        job = job_for(as_utc(end))
        self.log.info("Loading %s events from %d file(s) into %r.", job.name, len(files), warehouse)
        result = load_exports(
            warehouse,
            files,
            job,
            run_at=as_utc(end),
            max_bad_row_fraction=self.max_bad_row_fraction,
            aws_conn_id=self.aws_conn_id,
            gcp_conn_id=self.gcp_conn_id,
            logger=self.log,
        )
        result.log(self.log, samples=job.log_samples)
        return result
