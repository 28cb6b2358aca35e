"""Settings shared by the sample DAGs: schedules, configuration through Airflow Variables, table Assets.

Everything configurable is resolved at run time through Jinja, so parsing a DAG file reads no
Variable and touches no database.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, CronDataIntervalTimetable

START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFAULT_ARGS = {
    "owner": "data-platform",
    # SIGMA_DAG_RETRIES (read when the file is parsed) lets `make demo` and the tests fail fast.
    "retries": int(os.environ.get("SIGMA_DAG_RETRIES", "2")),
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=2),
}


def interval_schedule(cron: str) -> CronDataIntervalTimetable:
    """A UTC data-interval timetable: the run of ``@daily`` for May 1 covers [May 1, May 2).

    Airflow 3's default for a cron string is a trigger timetable whose data interval has no length;
    the sample DAGs need real intervals: a weekly run reads its whole week, and its usage summary
    (and catalog snapshot) is dated the week's last day.

    :param cron: a cron expression or preset such as ``@daily``.
    """
    return CronDataIntervalTimetable(cron, timezone="UTC")


def setting(name: str, default: str) -> str:
    """A template for the Airflow Variable ``name`` (or env ``AIRFLOW_VAR_<NAME>``), else ``default``.

    :param name: the Variable's key.
    :param default: the value when the Variable is not set.
    """
    return "{{ var.value.get(" + repr(name) + ", " + repr(default) + ") }}"


def required_setting(name: str) -> str:
    """A template for the Airflow Variable ``name`` (or env ``AIRFLOW_VAR_<NAME>``); until it is set,
    a run fails with ``VARIABLE_NOT_FOUND: ... Variable <name> not found``.

    :param name: the Variable's key (a Python identifier).
    """
    if not name.isidentifier():
        raise ValueError(f"Variable name {name!r} must be a Python identifier")
    return "{{ var.value." + name + " }}"


def include_personal_setting() -> str:
    """``params.include_personal`` when given for the run, else Variable ``sigma_include_personal``."""
    return (
        "{{ params.include_personal if params.include_personal is not none "
        "else (var.value.get('sigma_include_personal', 'false') | lower in ('true', '1', 'yes')) }}"
    )


def workspaces_setting() -> str:
    """``params.workspaces`` when given, else Variable ``sigma_workspaces`` (comma-separated; empty = all)."""
    return (
        "{{ params.workspaces if params.workspaces is not none else "
        "((var.value.get('sigma_workspaces', '') | trim).split(',') | map('trim') | select | list) or none }}"
    )


def listed_and_awaited_files(list_task_id: str, sensor_task_id: str) -> str:
    """The files a listing task returned, plus the oldest of those a sensor waited for (native template).

    The sensor waits for the first export that landed after the data interval; it holds the
    interval's last hours of events, which the listing (ending at the interval's end) leaves out.

    :param list_task_id: the :class:`~airflow_sigma.operators.SigmaListAuditExportsOperator` task.
    :param sensor_task_id: the :class:`~airflow_sigma.sensors.SigmaAuditExportSensor` task.
    """
    return (
        f"{{{{ (ti.xcom_pull(task_ids={list_task_id!r}) or []) "
        f"+ (ti.xcom_pull(task_ids={sensor_task_id!r}) or [])[:1] }}}}"
    )


def table_assets(*base_names: str) -> list[Asset]:
    """Assets for warehouse tables (default names), so users can schedule their own DAGs on them.

    :param base_names: table names without the ``sigma_`` prefix.
    """
    return [Asset(name=f"sigma_{n}", uri=f"x-sigma-warehouse://sigma_{n}", group="sigma") for n in base_names]
