"""Which header holds which logical column: normalisation, alias tables and ``column_map``.

Headers are compared after :func:`normalise_header` (case, spaces, underscores and punctuation ignored),
so ``Request Time``, ``REQUEST_TIME`` and ``request-time`` are one name. Aliases are tried in the order
listed, and the first alias found in the file wins: a file with both ``user_email`` and ``email`` reads
``user_email``. Two headers that normalise to the same winning name (``user_email`` and ``User Email``)
are ambiguous and fail the file. ``column_map`` (logical name -> header) overrides the aliases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airflow_sigma.events.stats import EventFileError, FileErrorKind

#: Headers accepted for the timestamp of an event (impressions and audit events).
REQUEST_TIME_ALIASES = ("request_time", "request_timestamp", "event_time", "event_timestamp", "timestamp")
#: Headers accepted for the user's email.
USER_EMAIL_ALIASES = ("user_email", "user_email_address", "email", "email_address")
#: Headers accepted as an event identifier. ``Request ID`` is deliberately not one: a single request can
#: log several events, so it is used only when named with ``event_id_column``.
EVENT_ID_ALIASES = ("event_id", "audit_event_id", "audit_log_event_id")

#: Impressions, the "prepared shape". ``workbook_url_id`` is the id at the end of a workbook's URL, not
#: the workbook UUID: ``workbook_id``/``document_id``/``object_id`` are NOT aliases of it (map them with
#: ``column_map`` if they really hold URL ids). The event_* columns mark a raw audit-log export.
IMPRESSION_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "request_time": REQUEST_TIME_ALIASES,
    "user_email": USER_EMAIL_ALIASES,
    "workbook_url_id": ("workbook_url_id", "document_url_id"),
    "element_id": ("element_id", "workbook_element_id"),
    "count": ("count", "impressions", "impression_count", "view_count"),
    "event_id": EVENT_ID_ALIASES,
    "event_type": ("event_type", "event_category"),
    "event_name": ("event_name",),
    "event_status": ("event_status",),
    "object_type": ("object_type",),
}
IMPRESSION_REQUIRED_COLUMNS = ("request_time", "user_email", "workbook_url_id")

#: Which rows of a raw audit-log export are impressions: column -> accepted values, compared ignoring
#: case, spaces and punctuation; ``*`` is a wildcard; the event_type column also tolerates a trailing
#: "S". Sigma's exact OBJECT_INTERACTION event names are UNCONFIRMED, so the default takes any event
#: whose name mentions viewing or opening. Check your export and set exact names when you can. Only
#: successful events count: ``event_status`` must start with "succe" (``Success``, ``SUCCESS``,
#: ``Succeeded``, ``successful``); ``Failure``, ``PERMISSION_DENIED`` or an empty status are filtered out.
#: The status condition of the default applies only to files that have an ``event_status`` column.
DEFAULT_IMPRESSION_FILTER: dict[str, tuple[str, ...]] = {
    "event_type": ("OBJECT_INTERACTION",),
    "event_name": ("*view*", "*open*"),
    "event_status": ("succe*",),
}

#: Audit events: Sigma's audit-log base columns, as friendly names or column ids.
AUDIT_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "request_time": REQUEST_TIME_ALIASES,
    "event_type": ("event_type", "event_category"),
    "event_name": ("event_name",),
    "event_status": ("event_status",),
    "user_email": USER_EMAIL_ALIASES,
    "object_id": ("object_id",),
    "object_name": ("object_name",),
    "object_type": ("object_type",),
    "event_id": EVENT_ID_ALIASES,
}
AUDIT_REQUIRED_COLUMNS = ("request_time", "event_type")


def normalise_header(name: str) -> str:
    """Lower-case ``name`` and keep only its letters and digits."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


@dataclass(frozen=True)
class ResolvedColumns:
    """The result of matching a file's header.

    :param headers: the file's header names, in order.
    :param index: logical name -> position of its column in ``headers``.
    """

    headers: tuple[str, ...]
    index: dict[str, int]

    def header_of(self, logical: str) -> str:
        """The header a logical column was read from."""
        return self.headers[self.index[logical]]

    def used_names(self) -> dict[str, str]:
        """Logical name -> header, for :attr:`FileStats.columns`."""
        return {logical: self.headers[i] for logical, i in self.index.items()}


#: Characters of a file's header line quoted in an error: enough to recognise it, never a whole line of
#: a file that is not an export at all (``files=`` pointed at a system file).
HEADER_QUOTE_CHARS = 80


def quoted_headers(headers: Sequence[str]) -> str:
    """The header line for an error message: at most HEADER_QUOTE_CHARS characters, control characters
    escaped, and how much was left out."""
    line = ",".join(headers)
    shown = line[:HEADER_QUOTE_CHARS].encode("unicode_escape").decode("ascii")
    rest = len(line) - HEADER_QUOTE_CHARS
    return f"'{shown}'" + (f" (and {rest} more characters)" if rest > 0 else "")


def _delimiter_hint(headers: Sequence[str]) -> str:
    if len(headers) != 1:
        return ""
    for delimiter, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if delimiter in headers[0]:
            return f" The header is one column containing {name}s: export the file comma-separated."
    return ""


def find_header(
    uri: str, headers: Sequence[str], wanted: str, what: str, *, prefer_exact: bool = True
) -> int | None:
    """Position of the header named ``wanted``, or ``None``.

    :param prefer_exact: a header spelled exactly like ``wanted`` wins over ones that only normalise
        to the same name (used for names the user wrote, not for aliases).
    :raises EventFileError: several headers match.
    """
    exact = [i for i, h in enumerate(headers) if h.strip() == wanted.strip()] if prefer_exact else []
    if len(exact) == 1:
        return exact[0]
    matches = exact or [i for i, h in enumerate(headers) if normalise_header(h) == normalise_header(wanted)]
    if len(matches) > 1:
        names = ", ".join(repr(headers[i]) for i in matches)
        raise EventFileError(
            uri,
            FileErrorKind.DUPLICATE_COLUMN,
            f"{what}: headers {names} (columns {', '.join(str(i + 1) for i in matches)}) all match "
            f"{wanted!r}; rename one or choose one with column_map",
        )
    return matches[0] if matches else None


def resolve_columns(
    uri: str,
    headers: Sequence[str],
    aliases: Mapping[str, Sequence[str]],
    required: Sequence[str],
    column_map: Mapping[str, str] | None,
) -> ResolvedColumns:
    """Match the header row against the logical columns.

    :param uri: the file, for error messages.
    :param headers: the file's header names.
    :param aliases: logical name -> accepted headers, in priority order.
    :param required: logical names the file must have.
    :param column_map: logical name -> header, overriding the aliases.
    :raises EventFileError: a required column is missing, or a column is ambiguous.
    :raises ValueError: ``column_map`` names an unknown logical column.
    """
    column_map = dict(column_map or {})
    unknown = sorted(set(column_map) - set(aliases))
    if unknown:
        raise ValueError(f"column_map has unknown logical columns {unknown}; known: {sorted(aliases)}")
    index: dict[str, int] = {}
    for logical, names in aliases.items():
        if logical in column_map:
            found = find_header(uri, headers, column_map[logical], f"column_map[{logical!r}]")
            if found is None:
                raise EventFileError(
                    uri,
                    FileErrorKind.MISSING_COLUMN,
                    f"column_map maps {logical!r} to {column_map[logical]!r}, which is not a header of "
                    f"the file. The file's header line starts: {quoted_headers(headers)}."
                    f"{_delimiter_hint(headers)}",
                )
            index[logical] = found
            continue
        for name in names:
            found = find_header(uri, headers, name, f"column {logical!r}", prefer_exact=False)
            if found is not None:
                index[logical] = found
                break
    missing = [logical for logical in required if logical not in index]
    if missing:
        accepted = "; ".join(f"{m}: {', '.join(aliases[m])}" for m in missing)
        example = ", ".join(f"{m!r}: '<header>'" for m in missing)
        raise EventFileError(
            uri,
            FileErrorKind.MISSING_COLUMN,
            f"required column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} not found. "
            f"Accepted headers (case, spaces and punctuation ignored): {accepted}; or set "
            f"column_map={{{example}}}. The file's header line starts: {quoted_headers(headers)}."
            f"{_delimiter_hint(headers)}",
        )
    return ResolvedColumns(tuple(headers), index)


def with_event_id_column(column_map: Mapping[str, str] | None, event_id_column: str | None) -> dict[str, str]:
    """``column_map`` with ``event_id`` set from ``event_id_column`` (they must agree)."""
    merged = dict(column_map or {})
    if event_id_column is not None:
        if merged.get("event_id", event_id_column) != event_id_column:
            raise ValueError("event_id_column and column_map['event_id'] name different headers")
        merged["event_id"] = event_id_column
    return merged
