"""Set-up for running the sample DAGs (``dags/``) against local parts: ``make demo`` and the DAG tests.

* :func:`org_export_spec`: audit-log exports whose views reference a generated organisation's
  workbooks and elements (as the local Sigma server serves them), by its members.
* :func:`airflow_env`: an isolated Airflow (its own home, SQLite metadata DB and DAGs folder).
* :func:`sample_dags_env`: the connection and Variables the sample DAGs read.

Everything is environment variables, so ``airflow dags test`` in a subprocess sees the same set-up.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from airflow_sigma.testing.exports import ExportSpec
from airflow_sigma.testing.org import Org

# Workbook URL ids that are viewed but that the catalog never lists (deleted since).
DELETED_WORKBOOKS = {"deletedWorkbook00001": [], "deletedWorkbook00002": ["gone-element"]}


def org_export_spec(org: Org, start: date, days: int, **overrides: Any) -> ExportSpec:
    """Exports of ``days`` days from ``start`` on the organisation's workbooks, one file a day.

    Explorations are never viewed; the two :data:`DELETED_WORKBOOKS` are, so the usage summary has
    content seen only in impressions.

    :param org: the organisation the local Sigma server serves.
    :param start: first UTC day of events.
    :param days: number of days of events (and of files).
    :param overrides: any other :class:`~airflow_sigma.testing.exports.ExportSpec` field.
    """
    workbooks: dict[str, list[str]] = {}
    for wb in org.workbooks:
        if not wb.is_exploration:
            pages = org.pages.get(wb.workbook_id, [])
            workbooks[wb.workbook_url_id] = [
                el.element_id for page in pages for el in org.elements.get((wb.workbook_id, page.page_id), [])
            ]
    workbooks.update(DELETED_WORKBOOKS)
    fields: dict[str, Any] = {
        "workbooks": workbooks,
        "users": [m.email for m in org.members],
        "start": start,
        "days": days,
        "events_per_day": 300,
        "files": days,
        "window_hours": 48,
        "bad_rows": 3,
        "gzip_every": 4,
    }
    fields.update(overrides)
    return ExportSpec(**fields)


def airflow_env(home: Path, dags_folder: Path) -> dict[str, str]:
    """An Airflow of its own: ``home``, the SQLite DB ``home/airflow.db``, ``dags_folder``, no retries.

    :param home: the ``AIRFLOW_HOME`` (task logs go to ``home/logs``).
    :param dags_folder: the DAGs folder (the DAG bundle ``airflow dags test`` and ``dag.test()`` use).
    """
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "SIGMA_DAG_RETRIES": "0",  # a failed task fails the run at once instead of waiting to retry
    }


def sample_dags_env(
    *,
    sigma_connection: str,
    exports_uri: str,
    warehouse_conn_id: str = "sigma_warehouse",
    include_personal: bool = True,
) -> dict[str, str]:
    """The ``sigma_default`` connection and the Variables of the sample DAGs.

    :param sigma_connection: the ``AIRFLOW_CONN_SIGMA_DEFAULT`` value (JSON or URI).
    :param exports_uri: ``file://``, ``s3://`` or ``gs://`` location of the exports.
    :param warehouse_conn_id: the warehouse connection (defined separately).
    :param include_personal: catalog every user's My Documents (admin credentials).
    """
    return {
        "AIRFLOW_CONN_SIGMA_DEFAULT": sigma_connection,
        "AIRFLOW_VAR_SIGMA_EXPORTS_URI": exports_uri,
        "AIRFLOW_VAR_SIGMA_WAREHOUSE_CONN_ID": warehouse_conn_id,
        "AIRFLOW_VAR_SIGMA_INCLUDE_PERSONAL": str(include_personal).lower(),
    }
