"""Streaming readers of Sigma CSV exports: impression events and audit-log events.

Pure Python + pyarrow, no Airflow. The names are loaded lazily, so importing this package (for example
for :class:`EventFileError` or :class:`FileStats`) does not import pyarrow; the readers do.

Typical use::

    batches, stats = read_impressions(stream, "s3://bucket/export.csv")
    for batch in batches:
        ...  # write the batch
    log.info(stats.summary())  # final once the batches are exhausted
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_sigma.events.audit import AUDIT_EVENT_SCHEMA, KNOWN_AUDIT_CATEGORIES, read_audit_events
    from airflow_sigma.events.columns import (
        AUDIT_COLUMN_ALIASES,
        AUDIT_REQUIRED_COLUMNS,
        DEFAULT_IMPRESSION_FILTER,
        EVENT_ID_ALIASES,
        IMPRESSION_COLUMN_ALIASES,
        IMPRESSION_REQUIRED_COLUMNS,
        normalise_header,
    )
    from airflow_sigma.events.impressions import IMPRESSION_SCHEMA, read_impressions
    from airflow_sigma.events.keys import hash_email, hash_emails
    from airflow_sigma.events.stats import (
        BadRowKind,
        BadRowSample,
        EventFileError,
        FileErrorKind,
        FileStats,
        TooManyBadRowsError,
        check_bad_row_fraction,
    )
    from airflow_sigma.events.values import MAX_IMPRESSION_COUNT, TIMESTAMP_PATTERN

_EXPORTS = {
    "airflow_sigma.events.audit": ("AUDIT_EVENT_SCHEMA", "KNOWN_AUDIT_CATEGORIES", "read_audit_events"),
    "airflow_sigma.events.columns": (
        "AUDIT_COLUMN_ALIASES",
        "AUDIT_REQUIRED_COLUMNS",
        "DEFAULT_IMPRESSION_FILTER",
        "EVENT_ID_ALIASES",
        "IMPRESSION_COLUMN_ALIASES",
        "IMPRESSION_REQUIRED_COLUMNS",
        "normalise_header",
    ),
    "airflow_sigma.events.impressions": ("IMPRESSION_SCHEMA", "read_impressions"),
    "airflow_sigma.events.keys": ("hash_email", "hash_emails"),
    "airflow_sigma.events.stats": (
        "BadRowKind",
        "BadRowSample",
        "EventFileError",
        "FileErrorKind",
        "FileStats",
        "TooManyBadRowsError",
        "check_bad_row_fraction",
    ),
    "airflow_sigma.events.values": ("MAX_IMPRESSION_COUNT", "TIMESTAMP_PATTERN"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "AUDIT_COLUMN_ALIASES",
    "AUDIT_EVENT_SCHEMA",
    "AUDIT_REQUIRED_COLUMNS",
    "DEFAULT_IMPRESSION_FILTER",
    "EVENT_ID_ALIASES",
    "IMPRESSION_COLUMN_ALIASES",
    "IMPRESSION_REQUIRED_COLUMNS",
    "IMPRESSION_SCHEMA",
    "KNOWN_AUDIT_CATEGORIES",
    "MAX_IMPRESSION_COUNT",
    "TIMESTAMP_PATTERN",
    "BadRowKind",
    "BadRowSample",
    "EventFileError",
    "FileErrorKind",
    "FileStats",
    "TooManyBadRowsError",
    "check_bad_row_fraction",
    "hash_email",
    "hash_emails",
    "normalise_header",
    "read_audit_events",
    "read_impressions",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
