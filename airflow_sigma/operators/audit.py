"""Keep Sigma's audit log in the warehouse, past its 30-day retention."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_sigma.audit import (
    DEFAULT_FAILURE_STATUSES,
    DEFAULT_LOGIN_EVENT_NAMES,
    DEFAULT_LOGIN_EVENT_TYPES,
    DEFAULT_SUCCESS_STATUSES,
)
from airflow_sigma.loading.files import check_file_source
from airflow_sigma.loading.settings import check_fraction
from airflow_sigma.operators.exports import checked_location, run_data_interval
from airflow_sigma.storage import DEFAULT_DAYS_BACK, DEFAULT_PATTERNS, normalise_patterns, validate_days_back
from airflow_sigma.storage.uri import DEFAULT_AWS_CONN_ID, DEFAULT_GCP_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context


class SigmaLoadAuditEventsOperator(BaseOperator):
    """Load every Sigma audit-log event from the exports into ``sigma_audit_events``, kept forever.

    Every row of every category is stored (an unknown category too; ``categories`` narrows them only
    when given), normalised to the base columns plus ``attributes`` (the other columns as JSON). The
    same event in several files or runs is stored once (by event id, else by its values); when it
    comes with different values, the newest file's win. Then ``sigma_daily_logins`` and
    ``sigma_daily_event_counts`` are rebuilt for the days the run's events fall on, and
    ``sigma_export_files`` records each file, all in one transaction: a failed run changes nothing,
    and re-running runs in any order gives the same tables. Bad rows are counted per file and kind;
    more than ``max_bad_row_fraction`` fails the task. See :mod:`airflow_sigma.audit`.

    Returns a small summary (XCom): file and row counts, bad rows by kind, duplicates, events written,
    days rebuilt.

    :param files: the files to read: the XCom of
        :class:`~airflow_sigma.operators.SigmaListAuditExportsOperator` (``list_exports.output``).
    :param bucket_uri: instead of ``files``: list ``s3://``, ``gs://`` or ``file://`` exports directly,
        last modified in ``[data_interval_start - days_back, data_interval_end]``.
    :param days_back: with ``bucket_uri``: extra days (1 to 6) to rescan for late files.
    :param pattern: with ``bucket_uri``: file-name glob(s).
    :param aws_conn_id: connection for ``s3://`` files.
    :param gcp_conn_id: connection for ``gs://`` files.
    :param warehouse_conn_id: any Airflow SQL connection (SQLite, PostgreSQL, Snowflake, BigQuery...).
    :param schema: schema (dataset) of the tables; None for the connection's default.
    :param table_prefix: put before the table names (default ``sigma_``).
    :param column_map: logical column -> header for renamed columns (``request_time``, ``event_type``,
        ``event_name``, ``event_status``, ``user_email``, ``object_id``, ``object_name``,
        ``object_type``, ``event_id``).
    :param event_id_column: header of a unique event id, when the export has one under another name.
    :param categories: keep only these categories (case and punctuation ignored); None keeps all.
    :param key_columns: columns identifying an event that has no id (default: every column); narrow
        it when an export carries values that change between exports.
    :param max_bad_row_fraction: the largest share of bad rows (over the run) that still loads.
    :param login_event_types: event categories of logins (default ``ACCESS_SIGMA``).
    :param login_event_names: event names of logins; matched ignoring case, spaces and underscores.
    :param success_statuses: ``event_status`` values of successful logins.
    :param failure_statuses: ``event_status`` values of failed logins.
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
        "categories",
    )
    ui_color = "#fef7e0"

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
        categories: Collection[str] | None = None,
        key_columns: Sequence[str] | None = None,
        max_bad_row_fraction: float = 0.01,
        login_event_types: Sequence[str] = DEFAULT_LOGIN_EVENT_TYPES,
        login_event_names: Sequence[str] = DEFAULT_LOGIN_EVENT_NAMES,
        success_statuses: Sequence[str] = DEFAULT_SUCCESS_STATUSES,
        failure_statuses: Sequence[str] = DEFAULT_FAILURE_STATUSES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_file_source(files, bucket_uri)
        if isinstance(categories, str):
            raise ValueError("categories must be a list of category names, not a string")
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
        self.categories = categories
        self.key_columns = key_columns
        self.max_bad_row_fraction = check_fraction("max_bad_row_fraction", max_bad_row_fraction)
        self.login_event_types = list(login_event_types)
        self.login_event_names = list(login_event_names)
        self.success_statuses = list(success_statuses)
        self.failure_statuses = list(failure_statuses)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_sigma.audit import AuditJob, LoginSettings
        from airflow_sigma.loading import load_exports, resolve_run_files
        from airflow_sigma.storage.window import as_utc
        from airflow_sigma.warehouse import Warehouse

        logins = LoginSettings(
            self.login_event_types, self.login_event_names, self.success_statuses, self.failure_statuses
        )
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
        warehouse = Warehouse.from_conn_id(
            self.warehouse_conn_id, schema=self.schema, table_prefix=self.table_prefix
        )
        job = AuditJob(
            column_map=self.column_map,
            event_id_column=self.event_id_column,
            categories=self.categories,
            key_columns=self.key_columns,
            logins=logins,
        )
        self.log.info("Loading audit events from %d file(s) into %r.", len(files), warehouse)
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
        result.log(self.log)
        return result.summary()
