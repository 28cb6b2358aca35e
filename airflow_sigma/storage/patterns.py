"""File-name patterns: which objects under the prefix are export files."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from airflow_sigma.storage.errors import ExportConfigError

DEFAULT_PATTERNS: tuple[str, ...] = ("*.csv", "*.csv.gz")


def normalise_patterns(pattern: str | Iterable[str]) -> tuple[str, ...]:
    """One glob or several, as a tuple.

    :param pattern: shell-style globs matched against the file name (not the path), ignoring case.
    :raises ExportConfigError: if empty, not strings, or containing a ``/``.
    """
    patterns = (pattern,) if isinstance(pattern, str) else tuple(pattern)
    if not patterns:
        raise ExportConfigError(
            f"pattern must name at least one file-name glob, e.g. {list(DEFAULT_PATTERNS)}."
        )
    for item in patterns:
        if not isinstance(item, str) or not item.strip():
            raise ExportConfigError(f"pattern entries must be non-empty strings, got {item!r}.")
        if "/" in item:
            raise ExportConfigError(
                f"pattern {item!r} contains '/': patterns match file names, not paths. Put folders in "
                f"the bucket URI instead (sub-folders of the prefix are always included)."
            )
    return tuple(item.strip() for item in patterns)


def matches_patterns(name: str, patterns: Iterable[str]) -> bool:
    """Whether the file name ``name`` matches any of ``patterns`` (case-insensitive)."""
    lowered = name.lower()
    return any(fnmatchcase(lowered, item.lower()) for item in patterns)
