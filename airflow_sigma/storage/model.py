"""What a listing returns: one :class:`ExportFile` row per export file, and the scan summary."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from airflow_sigma.storage.patterns import matches_patterns
from airflow_sigma.storage.uri import ExportLocation
from airflow_sigma.storage.window import ExportWindow, format_timestamp, latest_trusted_mtime


class ExportFile(TypedDict):
    """One export file, as pushed to XCom (JSON-serialisable).

    ``uri``: full URI (``s3://bucket/key``, ``gs://bucket/key``, ``file:///path``), accepted by
    :func:`~airflow_sigma.storage.open_export`. ``size``: bytes as stored (compressed for ``.gz``).
    ``last_modified``: ISO 8601 UTC. ``version``: changes whenever the content does: the S3 ETag
    (without quotes), the GCS generation, or ``<mtime_ns>-<size>`` for local files.
    """

    uri: str
    size: int
    last_modified: str
    version: str


@dataclass(frozen=True)
class StoredObject:
    """One object seen while listing, before filtering.

    :param uri: full URI of the object.
    :param name: the file name (last path segment), which patterns are matched against.
    :param size: size in bytes.
    :param last_modified: last-modified time (UTC).
    :param version: ETag / generation / local version string.
    """

    uri: str
    name: str
    size: int
    last_modified: datetime
    version: str

    def to_export_file(self) -> ExportFile:
        return ExportFile(
            uri=self.uri,
            size=self.size,
            last_modified=format_timestamp(self.last_modified),
            version=self.version,
        )


@dataclass(frozen=True)
class ExportScan:
    """The result of scanning a location: matching files in the window, and counts for the log.

    :param location: what was scanned.
    :param window: the last-modified window applied.
    :param patterns: the file-name globs applied.
    :param objects_seen: every object under the prefix.
    :param pattern_matches: objects whose name matched the patterns (in the window or not).
    :param newest_match: newest last-modified time among pattern matches, in the window or not.
    :param files: pattern matches inside the window, oldest first.
    """

    location: ExportLocation
    window: ExportWindow
    patterns: tuple[str, ...]
    objects_seen: int
    pattern_matches: int
    newest_match: datetime | None
    files: list[ExportFile] = field(default_factory=list)

    def summary(self) -> str:
        """One log line: how many objects were seen, matched, and fell in the window."""
        text = (
            f"{self.location.describe()}: {self.objects_seen} object(s) seen, {self.pattern_matches} "
            f"matched {list(self.patterns)}, {len(self.files)} last modified in window {self.window}."
        )
        if self.objects_seen == 0:
            text += " Nothing under this prefix: check the bucket URI and that Sigma's export writes there."
        elif self.pattern_matches == 0:
            text += " No file name matched the pattern(s): check the pattern and the export's file type."
        elif not self.files and self.newest_match is not None:
            text += f" Newest matching file was last modified {format_timestamp(self.newest_match)}."
        limit = latest_trusted_mtime()
        if self.newest_match is not None and self.newest_match > limit:
            newest = format_timestamp(self.newest_match)
            text += (
                f" Ignored: file(s) last modified in the future (newest {newest}, after "
                f"{format_timestamp(limit)}): a wrong clock or a time set by hand; such files are not read "
                "until that time."
            )
        return text


def select_exports(
    location: ExportLocation,
    objects: Iterable[StoredObject],
    window: ExportWindow,
    patterns: tuple[str, ...],
) -> ExportScan:
    """Filter listed objects by name pattern and window; sort oldest first (then by URI)."""
    seen = matched = 0
    newest: datetime | None = None
    selected: list[StoredObject] = []
    for obj in objects:
        seen += 1
        if not matches_patterns(obj.name, patterns):
            continue
        matched += 1
        if newest is None or obj.last_modified > newest:
            newest = obj.last_modified
        if window.contains(obj.last_modified):
            selected.append(obj)
    selected.sort(key=lambda obj: (obj.last_modified, obj.uri))
    return ExportScan(
        location=location,
        window=window,
        patterns=patterns,
        objects_seen=seen,
        pattern_matches=matched,
        newest_match=newest,
        files=[obj.to_export_file() for obj in selected],
    )
