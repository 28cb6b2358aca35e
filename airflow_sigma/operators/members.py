"""Who uses their seat: build ``sigma_member_activity`` from the catalog's members and the audit history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_sigma.audit import (
    DEFAULT_FAILURE_STATUSES,
    DEFAULT_LOGIN_EVENT_NAMES,
    DEFAULT_LOGIN_EVENT_TYPES,
    DEFAULT_SUCCESS_STATUSES,
    LoginSettings,
)
from airflow_sigma.loading.settings import as_date
from airflow_sigma.members import (
    DEFAULT_UNUSED_AFTER_DAYS,
    DEFAULT_VIEW_EVENT_NAMES,
    DEFAULT_VIEW_EVENT_STATUSES,
    DEFAULT_VIEW_EVENT_TYPES,
    MemberActivitySettings,
    build_member_activity,
)
from airflow_sigma.operators.exports import run_data_interval
from airflow_sigma.operators.failures import fail_fast

if TYPE_CHECKING:
    from airflow.sdk import Context


class SigmaBuildMemberActivityOperator(BaseOperator):
    """Write ``sigma_member_activity``: every member's logins and views, and whether their seat is unused.

    ``as_of`` defaults to the last full UTC day of the run's data interval. One row per member of the
    latest ``sigma_members`` snapshot on or before ``as_of``, plus one per user of the audit events whom
    no member matches (by email, ignoring case): last successful login, last view, logins and views over
    30 and 90 days, active days over 30, and ``seat_unused`` (no successful login in
    ``unused_after_days``). Login figures are NULL, not 0, when no login event is stored; view figures
    likewise. Replaces its ``as_of`` in one transaction. Definitions: :mod:`airflow_sigma.members.activity`.

    Returns a small summary (XCom): as_of, snapshot date, first day of the login history, member and
    user counts, unused and unknown seats.

    :param warehouse_conn_id: any Airflow SQL connection.
    :param schema: schema (dataset) of the tables; None for the connection's default.
    :param table_prefix: put before the table names (default ``sigma_``).
    :param as_of: the date to compute (``YYYY-MM-DD`` or a date; templated); None for the default.
    :param unused_after_days: a seat is unused without a successful login in this many days.
    :param view_event_types: categories of view events (default: the impressions job's,
        ``OBJECT_INTERACTION``).
    :param view_event_names: names of view events, ``*`` a wildcard (default: the impressions job's,
        ``*view*`` and ``*open*``).
    :param view_event_statuses: statuses of views that count, ``*`` a wildcard; an event without a
        status counts too (default: the impressions job's, ``succe*``); ``[]`` for any status.
    :param login_event_types: event categories of logins (as for the audit-history operator).
    :param login_event_names: event names of logins.
    :param success_statuses: ``event_status`` values of successful logins.
    :param failure_statuses: ``event_status`` values of failed logins.
    """

    template_fields: Sequence[str] = ("warehouse_conn_id", "schema", "table_prefix", "as_of")
    ui_color = "#fef7e0"

    def __init__(
        self,
        *,
        warehouse_conn_id: str = "sigma_warehouse",
        schema: str | None = None,
        table_prefix: str = "sigma_",
        as_of: date | str | None = None,
        unused_after_days: int = DEFAULT_UNUSED_AFTER_DAYS,
        view_event_types: Sequence[str] = DEFAULT_VIEW_EVENT_TYPES,
        view_event_names: Sequence[str] = DEFAULT_VIEW_EVENT_NAMES,
        view_event_statuses: Sequence[str] = DEFAULT_VIEW_EVENT_STATUSES,
        login_event_types: Sequence[str] = DEFAULT_LOGIN_EVENT_TYPES,
        login_event_names: Sequence[str] = DEFAULT_LOGIN_EVENT_NAMES,
        success_statuses: Sequence[str] = DEFAULT_SUCCESS_STATUSES,
        failure_statuses: Sequence[str] = DEFAULT_FAILURE_STATUSES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id
        self.schema = schema
        self.table_prefix = table_prefix
        self.as_of = as_of
        self.unused_after_days = unused_after_days
        self.view_event_types = view_event_types
        self.view_event_names = view_event_names
        self.view_event_statuses = view_event_statuses
        self.login_event_types = list(login_event_types)
        self.login_event_names = list(login_event_names)
        self.success_statuses = list(success_statuses)
        self.failure_statuses = list(failure_statuses)
        self._settings()  # bad values fail when the DAG is parsed, not at run time

    def _settings(self) -> MemberActivitySettings:
        logins = LoginSettings(
            self.login_event_types, self.login_event_names, self.success_statuses, self.failure_statuses
        )
        statuses = self.view_event_statuses
        any_status = not isinstance(statuses, str) and len(statuses) == 0
        return MemberActivitySettings(
            self.unused_after_days,
            self.view_event_types,
            self.view_event_names,
            logins,
            None if any_status else statuses,
        )

    @fail_fast
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_sigma.usage import last_full_day
        from airflow_sigma.warehouse import Warehouse

        as_of = as_date("as_of", self.as_of) if self.as_of else last_full_day(run_data_interval(context)[1])
        warehouse = Warehouse.from_conn_id(
            self.warehouse_conn_id, schema=self.schema, table_prefix=self.table_prefix
        ).checked()
        self.log.info("Building member activity as of %s in %r.", as_of, warehouse)
        return build_member_activity(warehouse, as_of, self._settings(), logger=self.log)
