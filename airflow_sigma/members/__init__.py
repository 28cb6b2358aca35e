"""Who uses their seat: ``sigma_member_activity`` from the catalog's members and the audit history.

Airflow-free; the names load lazily (the audit job imports :mod:`airflow_sigma.members.seen`, which
must not import the activity module and, through it, the audit job). Public API::

    build_member_activity(warehouse, as_of, MemberActivitySettings(unused_after_days=60))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_sigma.members.activity import (
        DEFAULT_UNUSED_AFTER_DAYS,
        DEFAULT_VIEW_EVENT_NAMES,
        DEFAULT_VIEW_EVENT_STATUSES,
        DEFAULT_VIEW_EVENT_TYPES,
        MemberActivitySettings,
        build_member_activity,
    )

__all__ = [
    "DEFAULT_UNUSED_AFTER_DAYS",
    "DEFAULT_VIEW_EVENT_NAMES",
    "DEFAULT_VIEW_EVENT_STATUSES",
    "DEFAULT_VIEW_EVENT_TYPES",
    "MemberActivitySettings",
    "build_member_activity",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module("airflow_sigma.members.activity"), name)
