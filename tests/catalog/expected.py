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
