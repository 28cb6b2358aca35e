"""Which export files a run loads: the listing operator's XCom, or a listing made on the spot.

Files are ranked oldest first by ``(last_modified, uri)``: when one event appears in several files with
different values, the newest file's values win.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from airflow_sigma.loading.settings import TaskLog
from airflow_sigma.storage import (
    DEFAULT_PATTERNS,
    ExportConfigError,
    ExportFile,
    export_window,
    format_timestamp,
    parse_export_uri,
    parse_object_uri,
    parse_timestamp,
    scan_exports,
)

log = logging.getLogger(__name__)


def normalise_files(files: object) -> list[ExportFile]:
    """The ``files`` argument as :class:`ExportFile` rows (the listing operator's XCom).

    Accepts a list of ExportFile mappings or plain URIs, or that list as JSON / Python-literal text
    (what a Jinja template renders when the DAG does not render native objects). A plain URI has no
    last-modified time and ranks before every listed file.

    :raises ExportConfigError: for anything else, naming the offending entry.
    """
    if isinstance(files, str):
        files = _parse_text(files)
    if isinstance(files, Mapping) or not isinstance(files, Iterable):
        raise ExportConfigError(
            f"files must be a list of export files (the XCom of SigmaListAuditExportsOperator) or URIs, "
            f"got {type(files).__name__}."
        )
    rows: list[ExportFile] = []
    for position, item in enumerate(files):
        rows.append(_export_file(item, position))
    return rows


def _parse_text(text: str) -> object:
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith(("[", "(")):
        try:
            return json.loads(stripped)
        except ValueError:
            try:
                return ast.literal_eval(stripped)
            except (ValueError, SyntaxError):
                pass
        raise ExportConfigError(f"files looks like a list but cannot be parsed: {stripped[:200]!r}")
    return [stripped]  # a single URI


def _export_file(item: object, position: int) -> ExportFile:
    if isinstance(item, str):
        return ExportFile(uri=parse_object_uri(item).uri, size=-1, last_modified="", version="")
    if not isinstance(item, Mapping) or not isinstance(item.get("uri"), str):
        raise ExportConfigError(
            f"files[{position}] must be an export file row with a 'uri' (or a URI string), got {item!r}."
        )
    last_modified = item.get("last_modified") or ""
    if last_modified:
        last_modified = format_timestamp(
            parse_timestamp(last_modified, field=f"files[{position}].last_modified")
        )
    size = item.get("size")
    return ExportFile(
        uri=parse_object_uri(item["uri"]).uri,
        size=int(size) if isinstance(size, (int, float, str)) and str(size).lstrip("-").isdigit() else -1,
        last_modified=str(last_modified),
        version=str(item.get("version") or item.get("etag") or item.get("generation") or ""),
    )


def file_recency(export: ExportFile) -> tuple[datetime | None, str]:
    """Sort key: last-modified time (None first), then URI."""
    stamp = export["last_modified"]
    return (parse_timestamp(stamp, field="last_modified") if stamp else None, export["uri"])


def rank_files(files: Iterable[ExportFile]) -> list[ExportFile]:
    """Oldest first by ``(last_modified, uri)``; a URI listed twice is kept once (its newest listing)."""
    newest: dict[str, ExportFile] = {}
    for export in files:
        current = newest.get(export["uri"])
        if current is None or _sort_key(export) >= _sort_key(current):
            newest[export["uri"]] = export
    return sorted(newest.values(), key=_sort_key)


def _sort_key(export: ExportFile) -> tuple[int, Any, str, str]:
    when, uri = file_recency(export)
    return (0, datetime.min, uri, export["version"]) if when is None else (1, when, uri, export["version"])


def list_run_files(
    bucket_uri: str,
    *,
    days_back: int,
    data_interval_start: datetime,
    data_interval_end: datetime,
    aws_conn_id: str | None,
    gcp_conn_id: str | None,
    patterns: str | Iterable[str] = DEFAULT_PATTERNS,
    logger: TaskLog | None = None,
) -> list[ExportFile]:
    """List the files of ``bucket_uri`` last modified in ``[start - days_back, end]`` (as the listing
    operator does), logging what was seen."""
    location = parse_export_uri(bucket_uri, aws_conn_id=aws_conn_id, gcp_conn_id=gcp_conn_id)
    scan = scan_exports(
        location, export_window(data_interval_start, data_interval_end, days_back), patterns=patterns
    )
    (logger or log).info("%s", scan.summary())
    return scan.files


def check_file_source(files: object, bucket_uri: object) -> None:
    """Exactly one of ``files`` and ``bucket_uri`` must be given.

    :raises ExportConfigError: otherwise.
    """
    if files is None and not bucket_uri:
        raise ExportConfigError(
            "Give either files (the XCom of SigmaListAuditExportsOperator, e.g. files=list_exports.output) "
            "or bucket_uri with days_back to list the export files directly."
        )
    if files is not None and bucket_uri:
        raise ExportConfigError("Give either files or bucket_uri, not both: files are read as listed.")


def resolve_run_files(
    files: object,
    bucket_uri: str | None,
    *,
    days_back: int,
    data_interval_start: datetime,
    data_interval_end: datetime,
    aws_conn_id: str | None,
    gcp_conn_id: str | None,
    patterns: str | Iterable[str] = DEFAULT_PATTERNS,
    logger: TaskLog | None = None,
) -> list[ExportFile]:
    """The run's files: ``files`` (the listing XCom) when given, else a listing of ``bucket_uri``.

    :raises ExportConfigError: both or neither given, or a malformed ``files``.
    """
    check_file_source(files, bucket_uri)
    if files is not None:
        return normalise_files(files)
    assert bucket_uri is not None
    return list_run_files(
        bucket_uri,
        days_back=days_back,
        data_interval_start=data_interval_start,
        data_interval_end=data_interval_end,
        aws_conn_id=aws_conn_id,
        gcp_conn_id=gcp_conn_id,
        patterns=patterns,
        logger=logger,
    )
