"""Settings shared by the sample DAGs: configuration through Airflow Variables, and table Assets.

Everything here is resolved at run time through Jinja, so parsing a DAG file reads no Variable and
touches no database.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset

START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=2),
}


def setting(name: str, default: str) -> str:
    """A template for the Airflow Variable ``name`` (or env ``AIRFLOW_VAR_<NAME>``), else ``default``.

    :param name: the Variable's key.
    :param default: the value when the Variable is not set.
    """
    return "{{ var.value.get(" + repr(name) + ", " + repr(default) + ") }}"


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


def table_assets(*base_names: str) -> list[Asset]:
    """Assets for warehouse tables (default names), so users can schedule their own DAGs on them.

    :param base_names: table names without the ``sigma_`` prefix.
    """
    return [Asset(name=f"sigma_{n}", uri=f"x-sigma-warehouse://sigma_{n}", group="sigma") for n in base_names]
