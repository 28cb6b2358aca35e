"""Keep Sigma's audit log in the warehouse, past its 30-day retention."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_sigma.audit import (
    DEFAULT_FAILURE_STATUSES,
    DEFAULT_LOGIN_EVENT_NAMES,
    DEFAULT_LOGIN_EVENT_TYPES,
    DEFAULT_SUCCESS_STATUSES,
)
from airflow_sigma.exceptions import ParameterError
from airflow_sigma.operators.failures import fail_fast
from airflow_sigma.operators.loading import _ExportLoadingOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_sigma.audit import AuditJob


class SigmaLoadAuditEventsOperator(_ExportLoadingOperator):
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

    The files, connections and tables are chosen as for
    :class:`~airflow_sigma.operators.SigmaAggregateImpressionsOperator`: ``files`` or ``bucket_uri`` (with
    ``days_back`` and ``pattern``), ``aws_conn_id``, ``gcp_conn_id``, ``warehouse_conn_id``, ``schema``,
    ``table_prefix``; bad rows by ``max_bad_row_fraction``.

    :param column_map: logical column -> header for renamed columns (``request_time``, ``event_type``,
        ``event_name``, ``event_status``, ``user_email``, ``object_id``, ``object_name``,
        ``object_type``, ``event_id``).
    :param event_id_column: header of a unique event id, when the export has one under another name.
    :param categories: keep only these categories (case and punctuation ignored); None keeps all.
    :param key_columns: columns identifying an event that has no id (default: every column); narrow
        it when an export carries values that change between exports.
    :param login_event_types: event categories of logins (default ``ACCESS_SIGMA``).
    :param login_event_names: event names of logins; matched ignoring case, spaces and underscores.
    :param success_statuses: ``event_status`` values of successful logins.
    :param failure_statuses: ``event_status`` values of failed logins.
    """

    template_fields: Sequence[str] = (*_ExportLoadingOperator.template_fields, "categories")
    ui_color = "#fef7e0"

    def __init__(
        self,
        *,
        categories: Collection[str] | None = None,
        key_columns: Sequence[str] | None = None,
        login_event_types: Sequence[str] = DEFAULT_LOGIN_EVENT_TYPES,
        login_event_names: Sequence[str] = DEFAULT_LOGIN_EVENT_NAMES,
        success_statuses: Sequence[str] = DEFAULT_SUCCESS_STATUSES,
        failure_statuses: Sequence[str] = DEFAULT_FAILURE_STATUSES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(categories, str):
            raise ParameterError("categories must be a list of category names, not a string")
        self.categories = categories
        self.key_columns = key_columns
        self.login_event_types = list(login_event_types)
        self.login_event_names = list(login_event_names)
        self.success_statuses = list(success_statuses)
        self.failure_statuses = list(failure_statuses)

    @fail_fast
    def execute(self, context: Context) -> dict[str, Any]:
        return self.load(context, self._job).summary()

    def _job(self, run_at: datetime) -> AuditJob:
        from airflow_sigma.audit import AuditJob, LoginSettings

        logins = LoginSettings(
            self.login_event_types, self.login_event_names, self.success_statuses, self.failure_statuses
        )
        return AuditJob(
            column_map=self.column_map,
            event_id_column=self.event_id_column,
            categories=self.categories,
            key_columns=self.key_columns,
            logins=logins,
        )
