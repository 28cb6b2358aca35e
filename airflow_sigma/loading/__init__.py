"""Loading Sigma export files into the warehouse: the machinery shared by the impressions and audit jobs.

Airflow-free. Names are loaded lazily so that importing :mod:`airflow_sigma.loading.files` (as the
operators do when a DAG is parsed) does not import pyarrow.

Public API::

    normalise_files(files) -> list[ExportFile]              # the listing operator's XCom, checked
    list_run_files(bucket_uri, days_back=..., data_interval_start=..., data_interval_end=..., ...)
    load_exports(warehouse, files, job, run_at=..., max_bad_row_fraction=0.01, ...) -> LoadResult
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_sigma.loading.files import (
        check_file_source,
        list_run_files,
        normalise_files,
        rank_files,
        resolve_run_files,
    )
    from airflow_sigma.loading.loader import EventJob, LoadResult, load_exports, staging_columns
    from airflow_sigma.loading.merge import MergeCounts, StagedMerge, file_order
    from airflow_sigma.loading.records import FileResult, record_export_files

_EXPORTS = {
    "airflow_sigma.loading.files": (
        "check_file_source",
        "list_run_files",
        "normalise_files",
        "rank_files",
        "resolve_run_files",
    ),
    "airflow_sigma.loading.loader": ("EventJob", "LoadResult", "load_exports", "staging_columns"),
    "airflow_sigma.loading.merge": ("MergeCounts", "StagedMerge", "file_order"),
    "airflow_sigma.loading.records": ("FileResult", "record_export_files"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "EventJob",
    "FileResult",
    "LoadResult",
    "MergeCounts",
    "StagedMerge",
    "check_file_source",
    "file_order",
    "list_run_files",
    "load_exports",
    "normalise_files",
    "rank_files",
    "record_export_files",
    "resolve_run_files",
    "staging_columns",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
