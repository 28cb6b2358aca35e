"""Sigma audit-log exports in object storage: locations, time windows, listing and streaming reads.

Works on ``s3://bucket/prefix`` (amazon provider), ``gs://bucket/prefix`` (google provider) and
``file:///absolute/dir`` (local folders). The Airflow-free parts (URI parsing, windows, patterns,
local folders, streams) import nothing heavy; cloud SDKs are imported only when used.

Public API::

    parse_export_uri(uri, *, aws_conn_id="aws_default", gcp_conn_id="google_cloud_default") -> ExportLocation
    export_window(data_interval_start, data_interval_end, days_back) -> ExportWindow
    scan_exports(location, window, *, patterns=DEFAULT_PATTERNS) -> ExportScan
    list_exports(location, start, end, *, patterns=DEFAULT_PATTERNS) -> list[ExportFile]
    ExportReader(*, aws_conn_id=..., gcp_conn_id=...).open(export_or_uri, *, mode="rb" | "rt", encoding=...)
    open_export(export_or_uri, *, mode="rb" | "rt", encoding="utf-8-sig", aws_conn_id=..., gcp_conn_id=...)
"""

from __future__ import annotations

from airflow_sigma.storage.errors import (
    ExportAccessError,
    ExportConfigError,
    ExportLocationError,
    ExportStorageError,
)
from airflow_sigma.storage.exports import ExportReader, iter_objects, list_exports, open_export, scan_exports
from airflow_sigma.storage.model import ExportFile, ExportScan, StoredObject
from airflow_sigma.storage.patterns import DEFAULT_PATTERNS, matches_patterns, normalise_patterns
from airflow_sigma.storage.uri import (
    ACCEPTED_FORMS,
    ExportLocation,
    ObjectRef,
    is_templated,
    parse_export_uri,
    parse_object_uri,
)
from airflow_sigma.storage.window import (
    DEFAULT_DAYS_BACK,
    MAX_DAYS_BACK,
    MIN_DAYS_BACK,
    ExportWindow,
    export_window,
    format_timestamp,
    newer_than_window,
    parse_timestamp,
    validate_days_back,
)

__all__ = [
    "ACCEPTED_FORMS",
    "DEFAULT_DAYS_BACK",
    "DEFAULT_PATTERNS",
    "MAX_DAYS_BACK",
    "MIN_DAYS_BACK",
    "ExportAccessError",
    "ExportConfigError",
    "ExportFile",
    "ExportLocation",
    "ExportLocationError",
    "ExportReader",
    "ExportScan",
    "ExportStorageError",
    "ExportWindow",
    "ObjectRef",
    "StoredObject",
    "export_window",
    "format_timestamp",
    "is_templated",
    "iter_objects",
    "list_exports",
    "matches_patterns",
    "newer_than_window",
    "normalise_patterns",
    "open_export",
    "parse_export_uri",
    "parse_object_uri",
    "parse_timestamp",
    "scan_exports",
    "validate_days_back",
]
