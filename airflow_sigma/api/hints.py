"""What to try when Sigma answers 403, per endpoint.

A 403 body may be empty (``{}``), so the hint cannot rely on Sigma's ``message``: it is chosen from
the path (and query) that was refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_WORKBOOK_PART = re.compile(r"^/v2/workbooks/[^/]+/(pages|sources|elements|queries)(/|$)")
_LINEAGE = re.compile(r"^/v2/workbooks/[^/]+/lineage(/|$)")
_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        _LINEAGE,
        "The credentials' owner cannot read this element's lineage: a source it uses (data model, "
        "dataset or connection) is not shared with them.",
    ),
    (
        _WORKBOOK_PART,
        "The credentials' owner cannot open this workbook: share it with them or add them to its "
        "workspace (the Admin account type alone does not grant access to a workbook's contents).",
    ),
    (
        re.compile(r"^/v2/workbooks/[^/]+$"),
        "The credentials' owner cannot open this workbook: share it with them or add them to its workspace.",
    ),
    (
        re.compile(r"^/v2(\.1)?/members(/|$)"),
        "Listing members needs credentials owned by a user with the Admin account type.",
    ),
    (
        re.compile(r"^/v2(\.1)?/teams(/|$)"),
        "Listing teams and their members needs credentials owned by a user with the Admin account type.",
    ),
    (
        re.compile(r"^/v2(\.1)?/workspaces(/|$)"),
        "The credentials' owner may not see this workspace: add them to it, or use Admin credentials.",
    ),
    (
        re.compile(r"^/v2/files(/|$)"),
        "The credentials' owner may not browse these documents: add them to the workspace or folder.",
    ),
    (
        re.compile(r"^/v2/dataModels(/|$)"),
        "The credentials' owner cannot see this data model: share it with them or add them to its "
        "workspace (personal data models are visible to their owner only).",
    ),
    (
        re.compile(r"^/v2/datasets(/|$)"),
        "The credentials' owner cannot see these datasets: share them or add the owner to their workspace.",
    ),
)
_ADMIN_LISTING = (
    "skipPermissionCheck=true is only available to credentials owned by a user with the Admin account "
    "type; without it, workbooks are listed for the workspaces the owner is a member of."
)
_DEFAULT = "The credentials' owner is not allowed to do this: check their account type and access."


def forbidden_hint(path: str, params: Mapping[str, Any] | None = None) -> str:
    """The hint added to a 403 from ``GET path``.

    :param path: the API path, e.g. ``/v2/workbooks/<id>/pages``.
    :param params: the query parameters sent.
    """
    if path == "/v2/workbooks":
        flag = str((params or {}).get("skipPermissionCheck", "")).lower()
        if flag == "true":
            return _ADMIN_LISTING
        return "The credentials' owner may not list workbooks: check their account type."
    for pattern, hint in _HINTS:
        if pattern.match(path):
            return hint
    return _DEFAULT
