"""Rows of the catalog tables, built from Sigma API entries (no Airflow, no I/O).

Each row type has the columns of its warehouse table (see :mod:`airflow_sigma.warehouse.tables`) in
the same order, minus ``snapshot_date``, which is added when a catalog is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, NamedTuple

from airflow_sigma.exceptions import BadInputError

log = logging.getLogger(__name__)

MY_DOCUMENTS = "My Documents"
PERSONAL_SPACE_NAMES: frozenset[str] = frozenset({"my documents", "user folder"})
"""The personal space's names, case-folded: paths say "My Documents"; some tenants list "User Folder"."""


class CatalogDataError(BadInputError, ValueError):
    """A Sigma API entry lacks a field the catalog cannot do without (an id)."""


class WorkbookRow(NamedTuple):
    """One row of ``sigma_workbooks`` (without ``snapshot_date``)."""

    workbook_id: str
    workbook_url_id: str | None
    name: str | None
    path: str | None
    workspace: str | None
    is_personal: bool
    url: str | None
    owner_id: str | None
    owner_email: str | None
    created_at: datetime | None
    updated_at: datetime | None
    latest_version: int | None
    is_archived: bool
    created_by: str | None
    updated_by: str | None


class ElementRow(NamedTuple):
    """One row of ``sigma_workbook_elements`` (without ``snapshot_date``)."""

    workbook_id: str
    workbook_url_id: str | None
    page_id: str
    page_name: str | None
    element_id: str
    name: str | None
    type: str | None
    visualization_type: str | None
    column_count: int | None


class MemberRow(NamedTuple):
    """One row of ``sigma_members`` (without ``snapshot_date``)."""

    member_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    member_type: str | None
    is_archived: bool | None
    is_inactive: bool | None
    created_at: datetime | None = None


class Page(NamedTuple):
    """A workbook page, kept only until its elements are listed."""

    page_id: str
    name: str | None


def workspace_of(path: str | None) -> tuple[str | None, bool]:
    """The workspace a workbook lives in (first segment of its ``path``) and whether it is personal.

    Personal content has a path starting with "My Documents" (matched case-insensitively: some
    tools spell it "My documents"), or with "User Folder", the name some tenants list it under.

    :param path: the workbook's ``path`` from the API, e.g. ``"Finance/Folder 1"``.
    """
    if not path:
        return None, False
    first = path.strip().strip("/").split("/", 1)[0].strip()
    if is_personal_space(first):
        return MY_DOCUMENTS, True
    return first or None, False


def is_personal_space(name: str | None) -> bool:
    """Whether a workspace name (or a path's first segment) is the personal space.

    :param name: e.g. ``"My Documents"``, ``"User Folder"`` or ``"Finance"``.
    """
    return name is not None and name.strip().casefold() in PERSONAL_SPACE_NAMES


def owner_of(entry: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The owner of a workbook or data model entry, and which field it came from.

    Some organisations' entries have no ``ownerId``: the owner is then the creator (``createdBy``),
    else the last editor (``updatedBy``).

    :param entry: the API entry.
    :return: ``(member id, field name)``, or ``(None, None)`` when none of the fields is set.
    """
    for field in ("ownerId", "createdBy", "updatedBy"):
        value = _text(entry.get(field))
        if value:
            return value, field
    return None, None


def workbook_row(
    entry: Mapping[str, Any], *, listed_archived: bool, emails: Mapping[str, str]
) -> WorkbookRow:
    """A workbook row from a ``GET /v2/workbooks`` entry.

    :param entry: the API entry.
    :param listed_archived: whether it came from the ``isArchived=true`` listing (used when the entry
        has no ``isArchived`` field).
    :param emails: member id -> email, for ``owner_email``.
    """
    workbook_id = _required_id(entry, "workbookId", "workbook")
    path = _text(entry.get("path"))
    workspace, personal = workspace_of(path)
    owner_id, _ = owner_of(entry)
    archived = _flag(entry.get("isArchived"))
    return WorkbookRow(
        workbook_id=workbook_id,
        workbook_url_id=_text(entry.get("workbookUrlId")),
        name=_text(entry.get("name")),
        path=path,
        workspace=workspace,
        is_personal=personal,
        url=_text(entry.get("url")),
        owner_id=owner_id,
        owner_email=emails.get(owner_id) if owner_id else None,
        created_at=_timestamp(entry.get("createdAt"), f"workbook {workbook_id} createdAt"),
        updated_at=_timestamp(entry.get("updatedAt"), f"workbook {workbook_id} updatedAt"),
        latest_version=_integer(entry.get("latestVersion"), f"workbook {workbook_id} latestVersion"),
        is_archived=listed_archived if archived is None else archived,
        created_by=_text(entry.get("createdBy")),
        updated_by=_text(entry.get("updatedBy")),
    )


def page_of(entry: Mapping[str, Any]) -> Page:
    """A page from a ``GET /v2/workbooks/{id}/pages`` entry.

    :param entry: the API entry.
    """
    return Page(_required_id(entry, "pageId", "page"), _text(entry.get("name")))


def element_row(entry: Mapping[str, Any], workbook: WorkbookRow, page: Page) -> ElementRow:
    """An element row from a ``.../pages/{pageId}/elements`` entry.

    An empty ``name`` is kept as ``""``. Sigma spells the chart kind ``vizualizationType``.

    :param entry: the API entry.
    :param workbook: the workbook the page belongs to.
    :param page: the page the element is on.
    """
    columns = entry.get("columns")
    viz = entry.get("vizualizationType", entry.get("visualizationType"))
    return ElementRow(
        workbook_id=workbook.workbook_id,
        workbook_url_id=workbook.workbook_url_id,
        page_id=page.page_id,
        page_name=page.name,
        element_id=_required_id(entry, "elementId", "element"),
        name=_text(entry.get("name")),
        type=_text(entry.get("type")),
        visualization_type=_text(viz),
        column_count=len(columns) if isinstance(columns, list) else None,
    )


def member_row(entry: Mapping[str, Any]) -> MemberRow:
    """A member row from a ``GET /v2/members`` entry.

    :param entry: the API entry.
    """
    return MemberRow(
        member_id=_required_id(entry, "memberId", "member"),
        email=_text(entry.get("email")),
        first_name=_text(entry.get("firstName")),
        last_name=_text(entry.get("lastName")),
        member_type=_text(entry.get("memberType")),
        is_archived=_flag(entry.get("isArchived")),
        is_inactive=_flag(entry.get("isInactive")),
        created_at=_timestamp(entry.get("createdAt"), f"member {entry.get('memberId')} createdAt"),
    )


def _required_id(entry: Mapping[str, Any], field: str, what: str) -> str:
    value = entry.get(field) if isinstance(entry, Mapping) else None
    if value is None or value == "" or isinstance(value, bool | dict | list):
        shown = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
        raise CatalogDataError(f"A Sigma {what} entry has no usable {field!r} (entry fields: {shown}).")
    return str(value)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _timestamp(value: Any, label: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return (
                moment.replace(tzinfo=timezone.utc)
                if moment.tzinfo is None
                else moment.astimezone(timezone.utc)
            )
    log.warning("Sigma %s is %r, not an ISO 8601 timestamp; stored as NULL", label, value)
    return None


def _integer(value: Any, label: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    log.warning("Sigma %s is %r, not an integer; stored as NULL", label, value)
    return None
