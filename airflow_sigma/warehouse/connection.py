"""From an Airflow connection id to a warehouse that can work, and database errors a user can act on.

Airflow is imported inside the functions that need it only: the rest of the warehouse layer stays
Airflow-free.
"""

from __future__ import annotations

import errno
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow_sigma.warehouse.values import WarehouseConnectionError, WarehouseError, WarehouseUnavailableError

if TYPE_CHECKING:
    from airflow_sigma.warehouse.session import Warehouse

#: The pip package that brings the hook of each SQL connection type (``<type>`` otherwise).
PROVIDER_PACKAGES = {
    "sqlite": "apache-airflow-providers-sqlite",
    "postgres": "apache-airflow-providers-postgres",
    "snowflake": "apache-airflow-providers-snowflake",
    "gcpbigquery": "apache-airflow-providers-google",
    "google_cloud_platform": "apache-airflow-providers-google",
    "redshift": "apache-airflow-providers-amazon",
    "databricks": "apache-airflow-providers-databricks",
    "mysql": "apache-airflow-providers-mysql",
    "mssql": "apache-airflow-providers-microsoft-mssql",
    "oracle": "apache-airflow-providers-oracle",
    "trino": "apache-airflow-providers-trino",
    "vertica": "apache-airflow-providers-vertica",
    "teradata": "apache-airflow-providers-teradata",
    "exasol": "apache-airflow-providers-exasol",
}


def provider_package(conn_type: str) -> str:
    """The pip package providing the hook of ``conn_type``.

    :param conn_type: an Airflow connection type.
    """
    key = conn_type.strip().lower()
    return PROVIDER_PACKAGES.get(key, f"apache-airflow-providers-{key.replace('_', '-')}")


def airflow_connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id``.

    :raises WarehouseConnectionError: it is not defined.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise WarehouseConnectionError(
            f"The warehouse connection {conn_id!r} is not defined: create it (Admin > Connections, or an "
            f"AIRFLOW_CONN_{conn_id.upper()} environment variable), or set warehouse_conn_id."
        ) from None


def sql_hook(conn_id: str, connection: Any, hook_params: dict[str, Any] | None) -> Any:
    """The hook of ``connection``.

    :raises WarehouseConnectionError: the Airflow provider of its type is not installed (names the package).
    """
    conn_type = connection.conn_type or ""
    try:
        return connection.get_hook(hook_params=hook_params)
    except Exception as error:
        if "Unknown hook type" not in str(error):
            raise
        raise WarehouseConnectionError(
            f"The warehouse connection {conn_id!r} has type {conn_type!r}, but the Airflow provider for it "
            f"is not installed: pip install {provider_package(conn_type)} (on every worker)."
        ) from None


@contextmanager
def explained_errors(warehouse: Warehouse) -> Iterator[None]:
    """Raise database errors a user must act on as :class:`WarehouseError` naming the warehouse and remedy.

    :param warehouse: the warehouse being written.
    """
    try:
        yield
    except WarehouseError:
        raise
    except Exception as error:
        explained = explain(warehouse, error)
        if explained is None:
            raise
        raise explained from error


def explain(warehouse: Warehouse, error: BaseException) -> WarehouseError | None:
    """The actionable error for a raw database ``error``, or None when it is not one we recognise."""
    text = str(error).lower()
    where = warehouse.description
    if "readonly database" in text or "read-only" in text or "read only" in text:
        return WarehouseConnectionError(
            f"{where} refuses writes ({error}): give the user running the task write access to the "
            "database (for SQLite, the file and its directory), or point the connection at a writable one. "
            "Nothing was written."
        )
    if "unable to open database file" in text:
        return WarehouseConnectionError(
            f"{where} cannot be opened ({error}): check that the file's directory exists and is writable by "
            "the user running the task."
        )
    disk_full = (
        "database or disk is full" in text
        or "no space left" in text
        or getattr(error, "errno", None) == errno.ENOSPC
        or getattr(error, "pgcode", None) == "53100"
        or getattr(error, "sqlstate", None) == "53100"
    )
    if disk_full:
        return WarehouseUnavailableError(
            f"No space left while writing to {where} ({error}); nothing was written. Free space and run the "
            f"task again: {free_space(warehouse.local_dirs)}."
        )
    return None


def free_space(directories: tuple[str, ...]) -> str:
    """Free space of each directory the database writes to, and of the staging scratch space (TMPDIR)."""
    places = [(d, "database") for d in directories] + [(tempfile.gettempdir(), "TMPDIR, staging scratch")]
    parts = []
    for directory, role in places:
        try:
            free = f"{shutil.disk_usage(directory).free / 2**20:,.1f} MiB free"
        except OSError:
            free = "free space unknown"
        parts.append(f"{directory} ({role}): {free}")
    return "; ".join(parts)
