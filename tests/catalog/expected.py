"""What a catalog of a generated organisation must contain, computed from the organisation itself."""

from __future__ import annotations

from collections.abc import Iterable

from airflow_sigma.testing.org import Org, Workbook


def expected_workbooks(
    org: Org,
    *,
    admin: bool = True,
    include_personal: bool = False,
    include_archived: bool = False,
    workspaces: Iterable[str] | None = None,
) -> list[Workbook]:
    """The workbooks a catalog run must store (explorations never are).

    :param org: the organisation served.
    :param admin: the credentials are an admin's.
    :param include_personal: the run's option.
    :param include_archived: the run's option.
    :param workspaces: the run's workspace filter (case-insensitive names).
    """
    wanted = {name.casefold() for name in workspaces} if workspaces is not None else None
    names = {ws.workspace_id: ws.name for ws in org.workspaces}
    everything = admin and include_personal  # the admin listing sees every user's content
    result = []
    for wb in org.workbooks:
        if wb.is_exploration or (wb.is_archived and not include_archived):
            continue
        if not everything and not org.caller_can_access(wb):
            continue
        if wb.is_personal:
            if include_personal:
                result.append(wb)
            continue
        if wanted is None or names[wb.workspace_id or ""].casefold() in wanted:
            result.append(wb)
    return result


def element_count(org: Org, workbooks: Iterable[Workbook]) -> int:
    return sum(
        len(org.elements[(wb.workbook_id, p.page_id)]) for wb in workbooks for p in org.pages[wb.workbook_id]
    )


def page_count(org: Org, workbooks: Iterable[Workbook]) -> int:
    return sum(len(org.pages[wb.workbook_id]) for wb in workbooks)


def expected_parts(org: Org, workbooks: Iterable[Workbook], *, admin: bool = True) -> dict[str, set[tuple]]:
    """The keys (and main values) of every optional table, from the organisation's own truth.

    :param org: the organisation served.
    :param workbooks: the catalogued workbooks (none skipped).
    :param admin: the credentials are an admin's (only admins read others' personal data models).
    """
    workbooks = list(workbooks)
    sources = {
        (wb.workbook_id, s.type, s.source_id, tuple(s.element_ids) if s.type == "data-model" else None)
        for wb in workbooks
        for s in org.sources[wb.workbook_id]
    }
    used = {source_id for _, kind, source_id, _ in sources if kind == "data-model"}
    readable = {
        dm.data_model_id
        for dm in org.data_models
        if not dm.is_personal or (dm.data_model_id in used and (admin or dm.owner_id == org.caller.member_id))
    }
    lineage = set()
    for wb in workbooks:
        for _, element in org.data_elements(wb.workbook_id):
            graph = org.lineage.get((wb.workbook_id, element.element_id))
            if graph is None or graph.status != 200:
                continue
            for node in graph.nodes:
                lineage.add(
                    (wb.workbook_id, element.element_id, node.node_id, node.type,
                     node.name if node.listed else None, tuple(sorted(node.upstream)))
                )  # fmt: skip
    members = {m.member_id: m.email for m in org.members}
    mine = org.caller_workspace_ids()
    return {
        "data_models": {
            (
                dm.data_model_id,
                dm.url_id,
                dm.name,
                dm.path,
                dm.is_personal,
                dm.owner_id,
                members[dm.owner_id],
                dm.latest_version,
                dm.is_archived,
            )
            for dm in org.data_models
            if dm.data_model_id in readable
        },
        "datasets": {
            (ds.dataset_id, ds.url_id, ds.name, ds.url, ds.created_by, ds.is_archived) for ds in org.datasets
        },
        "sources": sources,
        "lineage": lineage,
        "teams": {(t.team_id, t.name, t.visibility, t.is_archived) for t in org.teams},
        "team_members": {(t.team_id, m, members[m]) for t in org.teams for m in t.member_ids},
        "workspaces": {
            (ws.workspace_id, ws.name, ws.workspace_id in mine)
            for ws in org.workspaces
            if admin or ws.workspace_id in mine
        },
    }


def found_parts(parts) -> dict[str, set[tuple]]:
    """The same shape as :func:`expected_parts`, from discovered (or stored) rows."""
    return {
        "data_models": {
            (
                r.data_model_id,
                r.data_model_url_id,
                r.name,
                r.path,
                r.is_personal,
                r.owner_id,
                r.owner_email,
                r.latest_version,
                r.is_archived,
            )
            for r in parts.data_models
        },
        "datasets": {
            (r.dataset_id, r.url_id, r.name, r.url, r.created_by, r.is_archived) for r in parts.datasets
        },
        "sources": {
            (
                r.workbook_id,
                r.source_type,
                r.source_id,
                tuple(r.element_ids) if r.element_ids is not None else None,
            )
            for r in parts.sources
        },
        "lineage": {
            (r.workbook_id, r.element_id, r.node_id, r.node_type, r.node_name, tuple(r.upstream_node_id))
            for r in parts.lineage or ()
        },
        "teams": {(r.team_id, r.name, r.visibility, r.is_archived) for r in parts.teams},
        "team_members": {(r.team_id, r.member_id, r.email) for r in parts.team_members},
        "workspaces": {(r.workspace_id, r.name, r.visible_to_caller) for r in parts.workspaces},
    }


def no_lineage_counts(org: Org, workbooks: Iterable[Workbook]) -> dict[int, int]:
    """Data elements whose lineage answers an error, by HTTP status."""
    counts: dict[int, int] = {}
    for wb in workbooks:
        for _, element in org.data_elements(wb.workbook_id):
            graph = org.lineage.get((wb.workbook_id, element.element_id))
            if graph is not None and graph.status != 200:
                counts[graph.status] = counts.get(graph.status, 0) + 1
    return counts
