"""Who uses their seat: ``sigma_member_activity`` from the catalog's members and the audit history.

Airflow-free. Public API::

    build_member_activity(warehouse, as_of, MemberActivitySettings(unused_after_days=60))
"""

from __future__ import annotations

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
