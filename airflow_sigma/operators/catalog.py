"""Discover the Sigma catalog (workbooks, pages, elements, members, data models, datasets, sources,
lineage, teams, workspaces) into warehouse snapshot tables."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_sigma.exceptions import ParameterError
from airflow_sigma.operators.failures import fail_fast

if TYPE_CHECKING:
    from airflow.sdk import Context

PART_SWITCHES = (
    "include_data_models",
    "include_datasets",
    "include_workbook_sources",
    "include_element_lineage",
    "include_teams",
    "include_workspaces",
)
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")


class SigmaDiscoverWorkbooksOperator(BaseOperator):
    """Take a snapshot of the Sigma catalog: workbooks, their pages and elements, members, and the parts
    switched on: data models, datasets, workbook sources, element lineage, teams and workspaces.

    Writes ``sigma_workbooks``, ``sigma_workbook_elements``, ``sigma_members`` and the tables of the
    parts switched on (``sigma_data_models``, ``sigma_datasets``, ``sigma_workbook_sources``,
    ``sigma_element_lineage``, ``sigma_teams``, ``sigma_team_members``, ``sigma_workspaces``; created
    when missing) for one ``snapshot_date``: the last full UTC day before the run's data interval end,
    the same date as the usage summary's ``as_of``, however the run was started. One transaction
    replaces exactly that date in those tables, so re-running a date gives identical tables, and a
    failed run changes nothing. A part switched off leaves its table as it is.

    A failure of a run-wide listing (workbooks, members, data models, datasets, teams and their
    members, workspaces) fails the task; the deprecated datasets API answering 404 or 410 only skips
    ``sigma_datasets``. A workbook whose pages, elements or sources cannot be listed (403, 404, or
    errors that outlast the retries) keeps its row but not its elements, sources and lineage; such
    workbooks are counted, named in the log and in the returned summary, and fail the task only when
    they are more than ``max_skipped_fraction`` of the workbooks. An element without lineage (Sigma
    answers 500, 400, 403, 404 or 409 ``inode_archived`` per element) is counted by reason and logged.

    Returns a small summary (XCom): counts of workspaces, workbooks, pages, elements, members and
    skipped workbooks, the snapshot date, and whether personal content was included (``"all"``
    users', the caller's ``"own"``, or ``"none"``) and the credentials were an admin's.

    :param sigma_conn_id: the Sigma connection.
    :param warehouse_conn_id: any Airflow SQL connection (common-sql ``DbApiHook``): SQLite,
        PostgreSQL, Snowflake, BigQuery...
    :param workspaces: names of the shared workspaces to include (a list, or a comma-separated
        string; case-insensitive); None for all. A workbook's workspace is the first segment of its
        path. Personal content is governed by ``include_personal`` alone.
    :param include_personal: include personal "My Documents" content. With admin credentials that is
        every user's (``skipPermissionCheck=true&excludeExplorations=true``); otherwise the task logs
        that the credentials are not an admin's and continues with the caller's own.
    :param include_archived: include archived workbooks.
    :param include_elements: also list every workbook's pages and their elements.
    :param include_data_models: list data models (``sigma_data_models``), plus the personal ones
        workbook sources use (``/v2/dataModels`` leaves those out; one request each).
    :param include_datasets: list datasets (``sigma_datasets``; Sigma's API for them is deprecated).
    :param include_workbook_sources: one ``/sources`` request per workbook (``sigma_workbook_sources``).
    :param include_element_lineage: one lineage request per table, visualization or pivot table
        element (``sigma_element_lineage``); off by default, needs ``include_elements``.
    :param include_teams: list teams and, one request per team, their members (``sigma_teams``,
        ``sigma_team_members``).
    :param include_workspaces: list workspaces and which of them the credentials' owner can see
        (``sigma_workspaces``; two requests).
    :param max_concurrency: the most Sigma API requests in flight at once.
    :param max_skipped_fraction: share of workbooks (0 to 1) whose elements may be skipped before
        the task fails.
    :param schema: schema (dataset) of the tables; None for the connection's default.
    :param table_prefix: put before the table names (default ``sigma_``).
    :param keep_snapshots: how many snapshot dates to keep in the catalog tables a run writes (the
        newest; older ones are deleted by each run, in its transaction); None keeps every snapshot.
    :param sigma_hook_params: extra ``SigmaHook`` keyword arguments (``timeout``, ``max_retries``,
        ``client_kwargs`` for backoff settings); ``pool_size`` is raised to ``max_concurrency``.
    """

    template_fields: Sequence[str] = (
        "sigma_conn_id",
        "warehouse_conn_id",
        "workspaces",
        "include_personal",
        "include_archived",
        "include_elements",
        "include_data_models",
        "include_datasets",
        "include_workbook_sources",
        "include_element_lineage",
        "include_teams",
        "include_workspaces",
        "schema",
        "table_prefix",
    )
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        sigma_conn_id: str = "sigma_default",
        warehouse_conn_id: str = "sigma_warehouse",
        workspaces: Sequence[str] | str | None = None,
        include_personal: bool | str = False,
        include_archived: bool | str = False,
        include_elements: bool | str = True,
        include_data_models: bool | str = True,
        include_datasets: bool | str = True,
        include_workbook_sources: bool | str = True,
        include_element_lineage: bool | str = False,
        include_teams: bool | str = True,
        include_workspaces: bool | str = True,
        max_concurrency: int = 8,
        max_skipped_fraction: float = 0.05,
        schema: str | None = None,
        table_prefix: str = "sigma_",
        keep_snapshots: int | None = 90,  # DEFAULT_KEEP_SNAPSHOTS (not imported here: DAGs parse fast)
        sigma_hook_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        from airflow_sigma.warehouse.retention import check_keep

        self.keep_snapshots = check_keep("keep_snapshots", keep_snapshots)
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ParameterError(f"max_concurrency must be an integer >= 1, got {max_concurrency!r}")
        if not isinstance(max_skipped_fraction, int | float) or not 0 <= max_skipped_fraction <= 1:
            raise ParameterError(
                f"max_skipped_fraction must be a number from 0 to 1, got {max_skipped_fraction!r}"
            )
        self.sigma_conn_id = sigma_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.workspaces = workspaces
        self.include_personal = include_personal
        self.include_archived = include_archived
        self.include_elements = include_elements
        self.include_data_models = include_data_models
        self.include_datasets = include_datasets
        self.include_workbook_sources = include_workbook_sources
        self.include_element_lineage = include_element_lineage
        self.include_teams = include_teams
        self.include_workspaces = include_workspaces
        self.max_concurrency = max_concurrency
        self.max_skipped_fraction = float(max_skipped_fraction)
        self.schema = schema
        self.table_prefix = table_prefix
        self.sigma_hook_params = dict(sigma_hook_params or {})

    @fail_fast
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_sigma.catalog import CatalogOptions, discover_catalog, write_catalog
        from airflow_sigma.hooks.sigma import SigmaHook
        from airflow_sigma.warehouse import Warehouse

        snapshot = snapshot_date_of(context)
        options = CatalogOptions(
            workspaces=workspace_names(self.workspaces),
            include_personal=as_flag(self.include_personal, "include_personal"),
            include_archived=as_flag(self.include_archived, "include_archived"),
            include_elements=as_flag(self.include_elements, "include_elements"),
            **{name: as_flag(getattr(self, name), name) for name in PART_SWITCHES},
            max_concurrency=self.max_concurrency,
            max_skipped_fraction=self.max_skipped_fraction,
        )
        warehouse = Warehouse.from_conn_id(
            self.warehouse_conn_id, schema=self.schema or None, table_prefix=self.table_prefix
        ).checked()  # before any Sigma call
        hook_params = dict(self.sigma_hook_params)
        pool_size = max(int(hook_params.pop("pool_size", 0)), options.max_concurrency)
        hook = SigmaHook(self.sigma_conn_id, pool_size=pool_size, **hook_params)
        self.log.info(
            "Discovering the Sigma catalog of %s (snapshot %s) into %s",
            self.sigma_conn_id,
            snapshot.isoformat(),
            warehouse,
        )
        try:
            catalog = discover_catalog(hook.get_client(), options)
        finally:
            hook.close()
        write_catalog(warehouse, catalog, snapshot, self.keep_snapshots)
        summary = catalog.summary(snapshot)
        self.log.info("Sigma catalog summary: %s", summary)
        return summary


def snapshot_date_of(context: Mapping[str, Any]) -> date:
    """The last full UTC day before the run's data interval end: the usage summary's ``as_of``.

    So the usage summary of a run always finds the catalog the same run took, however the run was
    started (scheduled, ``airflow dags test``, or triggered without a logical date, which falls back
    to the run time; see :func:`~airflow_sigma.operators.exports.run_data_interval`).

    :param context: the task context.
    """
    from airflow_sigma.operators.exports import run_data_interval
    from airflow_sigma.usage.summary import last_full_day

    return last_full_day(run_data_interval(context)[1])


def as_flag(value: Any, name: str) -> bool:
    """A boolean parameter that may arrive rendered from a template (``"True"``, ``"false"``, ``"1"``).

    :param value: the (rendered) value.
    :param name: the parameter's name, for the error message.
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE or text == "none":
        return False
    raise ParameterError(f"{name} must be true or false, got {value!r}")


def workspace_names(value: Any) -> tuple[str, ...] | None:
    """Workspace names from a list, a comma-separated string, or a rendered Python list literal.

    :param value: the (rendered) ``workspaces`` parameter; None, ``""`` or ``"None"`` mean all.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text in ("", "None", "null"):
            return None
        if text.startswith("[") and text.endswith("]"):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise ParameterError(f"workspaces looks like a list but is not one: {value!r}") from None
        else:
            value = text.split(",")
    if not isinstance(value, list | tuple | set | frozenset):
        raise ParameterError(f"workspaces must be a list of names or a comma-separated string, got {value!r}")
    names = tuple(str(name).strip() for name in value if name is not None and str(name).strip())
    return names or None
