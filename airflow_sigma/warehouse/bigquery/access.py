"""What BigQuery refuses, said as the permission, where, and the IAM role that grants it.

:func:`check_access` runs in :meth:`Warehouse.checked` (before any Sigma call): the dataset must exist
(in the connection's location) and take a new table; the ``SELECT 1`` before it needs jobs in the
project. A ``Forbidden`` or ``NotFound`` from ``google.api_core`` anywhere in a run becomes a
:class:`~airflow_sigma.warehouse.WarehouseConnectionError` (terminal: no retries) through
:func:`explained`. Roles: https://cloud.google.com/bigquery/docs/access-control
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_sigma.warehouse.values import WarehouseConnectionError

#: The predefined role granting each permission our runs need, and where to grant it.
ROLES = {
    "bigquery.jobs.create": ("roles/bigquery.jobUser", "project"),
    "bigquery.datasets.get": ("roles/bigquery.dataEditor", "dataset"),
    "bigquery.datasets.create": ("roles/bigquery.user", "project"),
    "bigquery.tables.create": ("roles/bigquery.dataEditor", "dataset"),
    "bigquery.tables.get": ("roles/bigquery.dataEditor", "dataset"),
    "bigquery.tables.getData": ("roles/bigquery.dataEditor", "dataset"),
    "bigquery.tables.updateData": ("roles/bigquery.dataEditor", "dataset"),
    "bigquery.tables.update": ("roles/bigquery.dataEditor", "dataset"),
    "bigquery.tables.delete": ("roles/bigquery.dataEditor", "dataset"),
}
_PERMISSION = re.compile(r"bigquery\.[a-zA-Z]+\.[a-zA-Z]+")


def _message(error: Any) -> str:
    return str(getattr(error, "message", None) or error)


def refused(
    error: Any, *, doing: str, permission: str, project: str, dataset: str | None, description: str
) -> WarehouseConnectionError:
    """The terminal error for a ``Forbidden`` ``error`` while ``doing`` something that needs
    ``permission`` (the one BigQuery names in its message wins)."""
    named = _PERMISSION.search(_message(error))
    permission = named.group(0) if named else permission
    role, scope = ROLES.get(permission, ("roles/bigquery.dataEditor", "dataset"))
    where = (
        f"project {project}" if scope == "project" or not dataset else f"dataset {_full(project, dataset)}"
    )
    return WarehouseConnectionError(
        f"{description}: BigQuery refused {doing}: the connection's identity lacks {permission} "
        f"({_message(error)}). Grant it {role} on {where}, then run the task again. Nothing was written."
    )


def missing_dataset(error: Any, *, project: str, dataset: str, location: str | None, description: str) -> Any:
    """The terminal error for a dataset that does not exist."""
    where = f"--location={location} " if location else ""
    return WarehouseConnectionError(
        f"{description}: the BigQuery dataset {_full(project, dataset)} does not exist ({_message(error)}). "
        f"Create it (bq {where}mk --dataset {_full(project, dataset).replace('.', ':', 1)}) and grant the "
        "connection's identity roles/bigquery.dataEditor on it, or set schema to an existing dataset. "
        "Nothing was written."
    )


def _full(project: str, dataset: str) -> str:
    return dataset if "." in dataset else f"{project}.{dataset}"


@contextmanager
def explained(connection: Any, doing: str, permission: str) -> Iterator[None]:
    """Raise BigQuery's ``Forbidden`` inside the block as a terminal error naming the permission."""
    from google.api_core.exceptions import Forbidden

    try:
        yield
    except Forbidden as error:
        raise refused(
            error,
            doing=doing,
            permission=permission,
            project=connection.client.project,
            dataset=connection.staging_dataset,
            description=connection.description,
        ) from None


def check_access(connection: Any) -> None:
    """The dataset exists, in the session's location, and takes (and drops) a new table.

    :raises WarehouseConnectionError: naming the missing dataset or permission, and the role to grant.
    """
    from google.api_core.exceptions import NotFound
    from google.cloud.bigquery import SchemaField, Table

    client, project = connection.client, connection.client.project
    dataset = connection.staging_dataset
    if not dataset:
        raise WarehouseConnectionError(
            f"{connection.description}: no BigQuery dataset: pass schema='<dataset>' to the operator, or set "
            "the connection's schema (or extra 'dataset')."
        )
    full = _full(project, dataset)
    with explained(connection, f"reading the dataset {full}", "bigquery.datasets.get"):
        try:
            found = client.get_dataset(full)
        except NotFound as error:
            raise missing_dataset(
                error,
                project=project,
                dataset=dataset,
                location=connection.location,
                description=connection.description,
            ) from None
    location = connection.location
    if location and found.location and found.location.lower() != location.lower():
        raise WarehouseConnectionError(
            f"{connection.description}: the dataset {full} is in {found.location}, but the connection's "
            f"location is {location}: set the connection's location to {found.location}."
        )
    probe = Table(f"{full}.sigma_access_check_{uuid.uuid4().hex[:12]}", schema=[SchemaField("x", "INT64")])
    probe.expires = datetime.now(timezone.utc) + timedelta(hours=1)
    with explained(connection, f"creating a table in {full}", "bigquery.tables.create"):
        created = client.create_table(probe)
    with explained(connection, f"dropping a table in {full}", "bigquery.tables.delete"):
        client.delete_table(created.reference, not_found_ok=True)
