"""Aggregate Sigma impressions from audit-log exports, and build the usage summary."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_sigma.exceptions import ParameterError
from airflow_sigma.loading.settings import as_date, check_positive_int
from airflow_sigma.operators.exports import run_data_interval
from airflow_sigma.operators.failures import fail_fast
from airflow_sigma.operators.loading import _ExportLoadingOperator
from airflow_sigma.usage.impressions import DEFAULT_EVENT_RETENTION_DAYS
from airflow_sigma.warehouse.retention import DEFAULT_KEEP_USAGE_DATES, check_keep

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_sigma.usage import ImpressionsJob


class SigmaAggregateImpressionsOperator(_ExportLoadingOperator):
    """Load impression events from Sigma audit-log exports and rebuild the daily impressions.

    Reads each file (CSV or CSV.gz on S3, GCS or a local folder) with the events reader: the prepared
    shape (request_time, user_email, workbook_url_id, optional element_id and count), or a raw
    audit-log export whose view events are impressions (``impression_filter``). A row with an
    element_id is an impression of that element, without one of the workbook.

    In one transaction: events go to ``sigma_impression_events``, stored once however many files and
    runs repeat them (identified by the event id, else by time, user, workbook and element; when one
    event comes with different counts the newest file's count wins); ``sigma_impressions_daily`` is
    recomputed for the days the run's events fall on; ``sigma_export_files`` records each file. A file
    missing a required column, or more than ``max_bad_row_fraction`` bad rows over the run, fails the
    task and writes nothing. Re-running any run, and backfills in either direction, give the same
    daily table.

    Events are kept ``event_retention_days`` days back from the run's date (or the newest event day,
    if older); daily rows are kept forever. A day whose events were already pruned is not rebuilt:
    such late events are reported in the log. See :mod:`airflow_sigma.usage.impressions`.

    ``sigma_export_files.processed_at`` is the data interval end of the earliest run that read the file
    version, so it is the same whichever order runs happen in.

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
    :param column_map: logical column -> header, for renamed columns (e.g.
        ``{"workbook_url_id": "Document URL Id"}``); headers otherwise match case-insensitively, with
        common aliases.
    :param impression_filter: for raw audit-log exports: column -> accepted values (``*`` wildcard);
        None: OBJECT_INTERACTION events whose name mentions viewing or opening.
    :param event_id_column: header of a unique event id, when the export has one under another name.
    :param max_bad_row_fraction: the largest share of bad rows (over the run) that still loads.
    :param event_retention_days: days of events kept to recognise repeated events (>= days_back plus
        the exports' overlap).
    :param hash_user_emails: store salted SHA-256 hashes instead of emails.
    :param email_salt_conn_id: connection whose password (or extra ``salt``) is the salt; preferred.
    :param email_salt: the salt itself (not templated, never logged); prefer ``email_salt_conn_id``.
    """

    template_fields: Sequence[str] = (*_ExportLoadingOperator.template_fields, "impression_filter")
    ui_color = "#e6f4ea"

    def __init__(
        self,
        *,
        impression_filter: Mapping[str, Collection[str]] | None = None,
        event_retention_days: int = DEFAULT_EVENT_RETENTION_DAYS,
        hash_user_emails: bool = False,
        email_salt_conn_id: str | None = None,
        email_salt: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.impression_filter = impression_filter
        self.event_retention_days = check_positive_int("event_retention_days", event_retention_days)
        self.hash_user_emails = hash_user_emails
        if hash_user_emails and not (email_salt_conn_id or email_salt):
            raise ParameterError(
                "hash_user_emails=True needs a salt: set email_salt_conn_id (a connection whose password is "
                "the salt) or email_salt."
            )
        self.email_salt_conn_id = email_salt_conn_id
        self._email_salt = email_salt

    @fail_fast
    def execute(self, context: Context) -> dict[str, Any]:
        self.log.info("User emails are stored %s.", "hashed" if self.hash_user_emails else "as exported")
        result = self.load(context, self._job)
        if result.totals()["rows_accepted"] and not any(
            "element_id" in r.stats.columns for r in result.files
        ):
            self.log.warning(
                "No file has an element_id column: only workbook-level impressions were loaded. Add the "
                "element id to the export (or map it with column_map) to get element metrics."
            )
        return result.summary()

    def _job(self, run_at: datetime) -> ImpressionsJob:
        from airflow_sigma.usage import ImpressionsJob

        return ImpressionsJob(
            run_date=run_at.date(),
            column_map=self.column_map,
            impression_filter=self.impression_filter,
            event_id_column=self.event_id_column,
            email_salt=self._salt(),
            event_retention_days=self.event_retention_days,
            logger=self.log,
        )

    def _salt(self) -> str | None:
        if not self.hash_user_emails:
            return None
        from airflow.sdk import BaseHook
        from airflow.sdk.log import mask_secret

        salt = self._email_salt
        if self.email_salt_conn_id:
            connection = BaseHook.get_connection(self.email_salt_conn_id)
            salt = connection.password or connection.extra_dejson.get("salt")
            if not salt:
                raise ParameterError(
                    f"Connection {self.email_salt_conn_id!r} has no password and no extra 'salt': it must "
                    "hold the salt used to hash user emails."
                )
        assert salt
        mask_secret(salt)
        return str(salt)


class SigmaBuildUsageSummaryOperator(BaseOperator):
    """Write ``sigma_usage``: usage of every workbook and element as of a date.

    ``as_of`` defaults to the last full UTC day of the run's data interval (the day before the data
    interval end's UTC date: a daily run for May 1 summarises up to May 1). One row per workbook and
    element of the latest catalog snapshot on or before ``as_of`` (``discovered`` true), plus those
    seen only in impressions in the 60 days up to ``as_of`` (``discovered`` false). Impressions over
    7, 14, 30 and 60 days ending on ``as_of``, distinct users, last impression (day precision, from the
    daily table, so it is known however old), and ``used``. Replaces its ``as_of`` in one transaction.
    Definitions: :mod:`airflow_sigma.usage.summary`.

    Returns a small summary (XCom): as_of, snapshot date, counts of workbooks and elements (used,
    undiscovered).

    :param warehouse_conn_id: any Airflow SQL connection.
    :param schema: schema (dataset) of the tables; None for the connection's default.
    :param table_prefix: put before the table names (default ``sigma_``).
    :param as_of: the date to summarise (``YYYY-MM-DD`` or a date; templated); None for the default.
    :param used_window_days: days (ending on as_of) whose impressions decide ``used``.
    :param used_min_impressions: impressions needed in that window to be ``used``.
    :param keep_usage_dates: how many ``as_of`` dates of ``sigma_usage`` to keep (the newest; older
        ones are deleted by each run); None keeps every date.
    """

    template_fields: Sequence[str] = ("warehouse_conn_id", "schema", "table_prefix", "as_of")
    ui_color = "#e6f4ea"

    def __init__(
        self,
        *,
        warehouse_conn_id: str = "sigma_warehouse",
        schema: str | None = None,
        table_prefix: str = "sigma_",
        as_of: date | str | None = None,
        used_window_days: int = 30,
        used_min_impressions: int = 1,
        keep_usage_dates: int | None = DEFAULT_KEEP_USAGE_DATES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id
        self.schema = schema
        self.table_prefix = table_prefix
        self.as_of = as_of
        self.used_window_days = check_positive_int("used_window_days", used_window_days)
        self.used_min_impressions = check_positive_int("used_min_impressions", used_min_impressions)
        self.keep_usage_dates = check_keep("keep_usage_dates", keep_usage_dates)

    @fail_fast
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_sigma.usage import UsageSettings, build_usage_summary, last_full_day
        from airflow_sigma.warehouse import Warehouse

        as_of = as_date("as_of", self.as_of) if self.as_of else last_full_day(run_data_interval(context)[1])
        warehouse = Warehouse.from_conn_id(
            self.warehouse_conn_id, schema=self.schema, table_prefix=self.table_prefix
        ).checked()
        self.log.info("Building the usage summary as of %s in %r.", as_of, warehouse)
        settings = UsageSettings(self.used_window_days, self.used_min_impressions)
        summary = build_usage_summary(
            warehouse, as_of, settings, keep_dates=self.keep_usage_dates, logger=self.log
        )
        self.log.info(
            "Usage as of %s (catalog snapshot %s): %d workbooks (%d used, %d undiscovered), %d elements "
            "(%d used, %d undiscovered).",
            summary["as_of"],
            summary["snapshot_date"],
            summary["workbooks"],
            summary["workbooks_used"],
            summary["workbooks_undiscovered"],
            summary["elements"],
            summary["elements_used"],
            summary["elements_undiscovered"],
        )
        return summary
