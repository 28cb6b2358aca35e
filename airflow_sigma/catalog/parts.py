"""Rows of the optional catalog tables (data models, datasets, workbook sources, element lineage, teams,
workspaces), built from Sigma API entries (no Airflow, no I/O).

Like :mod:`airflow_sigma.catalog.rows`, each row type has its table's columns in order, minus
``snapshot_date``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from airflow_sigma.catalog.rows import (
    CatalogDataError,
    WorkbookRow,
    _flag,
    _integer,
    _required_id,
    _text,
    _timestamp,
    is_personal_space,
    owner_of,
    workspace_of,
)

DATA_ELEMENT_TYPES = frozenset({"table", "visualization", "pivot-table"})
"""Element types that hold data: the ones whose lineage is requested (others answer 400)."""


def segment(value: str) -> str:
    """An id made safe for one segment of an API path.

    :param value: the id.
    """
    return quote(str(value), safe="")


class DataModelRow(NamedTuple):
    """One row of ``sigma_data_models`` (without ``snapshot_date``)."""

    data_model_id: str
    data_model_url_id: str | None
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
    is_archived: bool | None


class DatasetRow(NamedTuple):
    """One row of ``sigma_datasets`` (without ``snapshot_date``)."""

    dataset_id: str
    url_id: str | None
    name: str | None
    description: str | None
    url: str | None
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None
    is_archived: bool | None


class SourceRow(NamedTuple):
    """One row of ``sigma_workbook_sources`` (without ``snapshot_date``)."""

    workbook_id: str
    source_type: str
    source_id: str
    workbook_url_id: str | None
    element_ids: list[str] | None
    version_tag_id: str | None


class LineageRow(NamedTuple):
    """One row of ``sigma_element_lineage`` (without ``snapshot_date``)."""

    workbook_id: str
    element_id: str
    node_id: str
    workbook_url_id: str | None
    node_type: str | None
    node_name: str | None
    upstream_node_id: list[str]


class TeamRow(NamedTuple):
    """One row of ``sigma_teams`` (without ``snapshot_date``)."""

    team_id: str
    name: str | None
    description: str | None
    visibility: str | None
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None
    is_archived: bool | None


class TeamMemberRow(NamedTuple):
    """One row of ``sigma_team_members`` (without ``snapshot_date``)."""

    team_id: str
    member_id: str
    email: str | None


class WorkspaceRow(NamedTuple):
    """One row of ``sigma_workspaces`` (without ``snapshot_date``)."""

    workspace_id: str
    name: str | None
    is_personal: bool
    visible_to_caller: bool
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None


def data_model_row(entry: Mapping[str, Any], emails: Mapping[str, str]) -> DataModelRow:
    """A row from a ``GET /v2/dataModels`` (or ``/v2/dataModels/{id}``) entry.

    :param entry: the API entry.
    :param emails: member id -> email, for ``owner_email``.
    """
    data_model_id = _required_id(entry, "dataModelId", "data model")
    path = _text(entry.get("path"))
    workspace, personal = workspace_of(path)
    owner_id, _ = owner_of(entry)
    label = f"data model {data_model_id}"
    return DataModelRow(
        data_model_id=data_model_id,
        data_model_url_id=_text(entry.get("dataModelUrlId") or entry.get("urlId")),
        name=_text(entry.get("name")),
        path=path,
        workspace=workspace,
        is_personal=personal,
        url=_text(entry.get("url")),
        owner_id=owner_id,
        owner_email=emails.get(owner_id) if owner_id else None,
        created_at=_timestamp(entry.get("createdAt"), f"{label} createdAt"),
        updated_at=_timestamp(entry.get("updatedAt"), f"{label} updatedAt"),
        latest_version=_integer(entry.get("latestVersion"), f"{label} latestVersion"),
        is_archived=_flag(entry.get("isArchived")),
    )


def dataset_row(entry: Mapping[str, Any]) -> DatasetRow:
    """A row from a ``GET /v2/datasets`` entry; ``url_id`` is the URL's last segment.

    :param entry: the API entry.
    """
    dataset_id = _required_id(entry, "datasetId", "dataset")
    url = _text(entry.get("url"))
    return DatasetRow(
        dataset_id=dataset_id,
        url_id=url.rstrip("/").rsplit("/", 1)[-1] or None if url else None,
        name=_text(entry.get("name")),
        description=_text(entry.get("description")),
        url=url,
        created_by=_text(entry.get("createdBy")),
        created_at=_timestamp(entry.get("createdAt"), f"dataset {dataset_id} createdAt"),
        updated_at=_timestamp(entry.get("updatedAt"), f"dataset {dataset_id} updatedAt"),
        is_archived=_flag(entry.get("isArchived")),
    )


def source_rows(entries: Any, workbook: WorkbookRow) -> list[SourceRow]:
    """Rows from a ``GET /v2/workbooks/{id}/sources`` answer (a bare array).

    A source listed twice (e.g. two version tags of one data model) is kept once, with the element ids
    of both.

    :param entries: the parsed answer.
    :param workbook: the workbook it belongs to.
    """
    if isinstance(entries, Mapping) and isinstance(entries.get("entries"), list):
        entries = entries["entries"]
    if not isinstance(entries, list):
        raise CatalogDataError(
            f"Sigma's sources of workbook {workbook.workbook_id} are a {type(entries).__name__}, not a list."
        )
    rows: dict[tuple[str, str], SourceRow] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise CatalogDataError(
                f"A source of workbook {workbook.workbook_id} is not an object: {entry!r:.80}"
            )
        source_type = _required_id(entry, "type", "workbook source")
        id_field = "dataModelId" if source_type == "data-model" else "inodeId"
        source_id = _required_id(entry, id_field if id_field in entry else "id", "workbook source")
        element_ids = entry.get("elementIds")
        ids = [str(e) for e in element_ids] if isinstance(element_ids, list) else None
        key = (source_type, source_id)
        if key in rows:
            known = rows[key].element_ids
            merged = list(dict.fromkeys([*(known or []), *(ids or [])])) if known or ids else None
            rows[key] = rows[key]._replace(element_ids=merged)
            continue
        rows[key] = SourceRow(
            workbook.workbook_id,
            source_type,
            source_id,
            workbook.workbook_url_id,
            ids,
            _text(entry.get("versionTagId")),
        )
    return list(rows.values())


def lineage_rows(body: Any, workbook: WorkbookRow, element_id: str) -> list[LineageRow]:
    """Rows from a ``GET /v2/workbooks/{id}/lineage/elements/{elementId}`` answer.

    Nodes named only as an edge's source (data models do this) get a row too, typed ``data-model``
    when the id looks like ``<url id>/<suffix>``.

    :param body: the parsed answer: ``{"dependencies": {id: node}, "edges": [{source, target}]}``.
    :param workbook: the element's workbook.
    :param element_id: the element.
    """
    if not isinstance(body, Mapping):
        raise CatalogDataError(f"Lineage of element {element_id} is a {type(body).__name__}, not an object.")
    dependencies = body.get("dependencies") or {}
    edges = body.get("edges") or []
    if not isinstance(dependencies, Mapping) or not isinstance(edges, list):
        raise CatalogDataError(f"Lineage of element {element_id} has no usable dependencies/edges.")
    nodes: dict[str, tuple[str | None, str | None]] = {}
    for key, node in dependencies.items():
        node = node if isinstance(node, Mapping) else {}
        node_id = _text(node.get("nodeId")) or str(key)
        nodes[node_id] = (_text(node.get("type")), _text(node.get("name")))
    upstream: dict[str, list[str]] = {}
    for edge in edges:
        if not isinstance(edge, Mapping) or not edge.get("source") or not edge.get("target"):
            continue
        source, target = str(edge["source"]), str(edge["target"])
        upstream.setdefault(target, [])
        if source not in upstream[target]:
            upstream[target].append(source)
        for node_id in (source, target):
            nodes.setdefault(node_id, ("data-model" if "/" in node_id else None, None))
    return [
        LineageRow(
            workbook.workbook_id,
            element_id,
            node_id,
            workbook.workbook_url_id,
            node_type,
            node_name,
            sorted(upstream.get(node_id, [])),
        )
        for node_id, (node_type, node_name) in nodes.items()
    ]


def team_row(entry: Mapping[str, Any]) -> TeamRow:
    """A row from a ``GET /v2/teams`` entry.

    :param entry: the API entry.
    """
    team_id = _required_id(entry, "teamId", "team")
    return TeamRow(
        team_id=team_id,
        name=_text(entry.get("name")),
        description=_text(entry.get("description")),
        visibility=_text(entry.get("visibility")),
        created_by=_text(entry.get("createdBy")),
        created_at=_timestamp(entry.get("createdAt"), f"team {team_id} createdAt"),
        updated_at=_timestamp(entry.get("updatedAt"), f"team {team_id} updatedAt"),
        is_archived=_flag(entry.get("isArchived")),
    )


def team_member_rows(team_id: str, entries: Iterable[Mapping[str, Any]]) -> list[TeamMemberRow]:
    """Rows from ``GET /v2/teams/{teamId}/members`` entries (each member once).

    :param team_id: the team.
    :param entries: the API entries.
    """
    rows: dict[str, TeamMemberRow] = {}
    for entry in entries:
        member_id = _required_id(entry, "memberId", "team member")
        rows.setdefault(member_id, TeamMemberRow(team_id, member_id, _text(entry.get("email"))))
    return list(rows.values())


def workspace_row(entry: Mapping[str, Any], visible: set[str]) -> WorkspaceRow:
    """A row from a ``GET /v2/workspaces`` entry.

    :param entry: the API entry.
    :param visible: ids of the workspaces the caller can see (``/v2/files?typeFilters=workspace``).
    """
    workspace_id = _required_id(entry, "workspaceId", "workspace")
    name = _text(entry.get("name"))
    personal = is_personal_space(name)
    return WorkspaceRow(
        workspace_id=workspace_id,
        name=name,
        is_personal=personal,
        visible_to_caller=personal or workspace_id in visible,
        created_by=_text(entry.get("createdBy")),
        created_at=_timestamp(entry.get("createdAt"), f"workspace {workspace_id} createdAt"),
        updated_at=_timestamp(entry.get("updatedAt"), f"workspace {workspace_id} updatedAt"),
    )
