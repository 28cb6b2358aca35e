"""Usage of Sigma content: impression events, daily impressions and the usage summary.

Airflow-free; pyarrow is imported only by the names that need it (loaded lazily).

Public API::

    ImpressionsJob(run_date, column_map=None, impression_filter=None, event_id_column=None,
                   email_salt=None, event_retention_days=35)   # a job for airflow_sigma.loading.load_exports
    build_usage_summary(warehouse, as_of, UsageSettings(used_window_days=30, used_min_impressions=1))
    last_full_day(data_interval_end) -> date
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_sigma.usage.impressions import (
        DEFAULT_EVENT_RETENTION_DAYS,
        ImpressionsJob,
        check_retention_days,
        rebuild_daily,
    )
    from airflow_sigma.usage.summary import UsageSettings, build_usage_summary, last_full_day

_EXPORTS = {
    "airflow_sigma.usage.impressions": (
        "DEFAULT_EVENT_RETENTION_DAYS",
        "ImpressionsJob",
        "check_retention_days",
        "rebuild_daily",
    ),
    "airflow_sigma.usage.summary": ("UsageSettings", "build_usage_summary", "last_full_day"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "DEFAULT_EVENT_RETENTION_DAYS",
    "ImpressionsJob",
    "UsageSettings",
    "build_usage_summary",
    "check_retention_days",
    "last_full_day",
    "rebuild_daily",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
