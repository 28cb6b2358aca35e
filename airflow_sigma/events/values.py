"""Vectorised parsing of CSV values: UTF-8, timestamps, counts, loose matching, JSON strings.

Every function takes a whole column (an Arrow array) and returns the parsed array plus a numpy mask
of the rows that failed, so the common case never loops over rows in Python. Columns with few distinct
values (counts, time zones, event types) are parsed once per distinct value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airflow_sigma.events.source import snippet

#: The largest ``count`` accepted on one row; sums over millions of rows stay far from int64 limits.
MAX_IMPRESSION_COUNT = 2**31 - 1

#: Accepted timestamps: ISO 8601 ``YYYY-MM-DD``, then optionally ``T`` or a space (either case) and
#: ``hh``, ``hh:mm`` or ``hh:mm:ss`` with an optional fraction (digits after the sixth are truncated),
#: then optionally (after spaces) ``Z``, ``UTC``, ``+hh``, ``+hhmm`` or ``+hh:mm``; no zone means UTC,
#: a bare date is midnight UTC. Values outside :data:`TIMESTAMP_RANGE` are rejected too.
TIMESTAMP_PATTERN = (
    r"^\s*(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<time>\d{2}(?::\d{2}(?::\d{2})?)?)(?:(?P<fraction>\.\d{1,6})\d*)?)?"
    r"\s*(?P<zone>[Zz]|UTC|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
#: Plausible event times (UTC, start inclusive, end exclusive); anything else is a bad timestamp.
TIMESTAMP_RANGE = (datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(2200, 1, 1, tzinfo=timezone.utc))
#: The longest value, in UTF-8 bytes, of a column that is part of a table's key (ids, emails, event
#: names): PostgreSQL cannot index values much above 2.7 kB, and real ones are far shorter.
MAX_KEY_VALUE_BYTES = 512
#: What a bad-timestamp sample says was expected.
TIMESTAMP_EXPECTED = (
    "an ISO 8601 time such as 2024-05-01T10:00:00Z or 2024-05-01 12:00:00+02:00, from 1970 to 2199"
)
_UTC = pa.timestamp("us", tz="UTC")
_ARROW_LOCAL = r"\d{4}-\d\d-\d\d(?:[T ]\d\d(?::\d\d){0,2}(?:\.\d{1,6})?)?"
_ARROW_NAIVE = re.compile(_ARROW_LOCAL)
_ARROW_ZONED = re.compile(_ARROW_LOCAL + r"(?:Z|[+-]\d\d(?::?\d\d)?)")
_SPACED_ZONE = re.compile(_ARROW_LOCAL + r" [+-]\d\d(?::?\d\d)?")
_COUNT_RE = re.compile(r"\+?(\d{1,19})(?:\.0*)?")
_MICROS_PER_MINUTE = 60_000_000
_JSON_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def to_mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as a numpy bool array (nulls are False)."""
    if array.null_count:
        array = pc.and_kleene(array, pc.is_valid(array))
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def too_long_mask(values: pa.Array) -> np.ndarray:
    """Mask of the values longer than :data:`MAX_KEY_VALUE_BYTES` UTF-8 bytes."""
    return to_mask(pc.greater(pc.binary_length(values), MAX_KEY_VALUE_BYTES))


def too_long_reason(logical: str, header: str) -> Callable[[int], str]:
    """The reason given for a value rejected by :func:`too_long_mask`."""
    return constant_reason(
        f"{logical} (column {header!r}) is longer than the {MAX_KEY_VALUE_BYTES} bytes allowed for an id, "
        "email or event name"
    )


def nul_mask(values: pa.Array) -> np.ndarray:
    """Mask of the values holding a NUL character (PostgreSQL's text and JSON types cannot hold one, so
    such rows are bad on every warehouse)."""
    return to_mask(pc.match_substring(values, "\x00"))


def nul_reason(header: str) -> Callable[[int], str]:
    """The reason given for a value rejected by :func:`nul_mask`."""
    return constant_reason(f"a NUL byte (\\x00) in column {header!r}, which PostgreSQL cannot store")


def empty_mask(values: pa.Array) -> np.ndarray:
    """Mask of the empty strings."""
    return to_mask(pc.equal(values, ""))


def blank_among(values: pa.Array, rows: np.ndarray) -> np.ndarray:
    """Mask of the rows in ``rows`` (a mask) whose value is empty or only whitespace."""
    if not rows.any():
        return rows
    subset = pc.utf8_trim_whitespace(values.filter(pa.array(rows)))
    blank = rows.copy()
    blank[rows] = to_mask(pc.equal(subset, ""))
    return blank


def bad_timestamp_reason(times: pa.Array, header: str) -> Callable[[int], str]:
    """The reason given for a ``request_time`` value that :func:`parse_timestamps` rejected.

    :param times: the column's values.
    :param header: the column's header in the file.
    """
    return lambda row: (
        f"request_time {snippet(times[row].as_py())} (column {header!r}) is not {TIMESTAMP_EXPECTED}"
    )


def constant_reason(reason: str) -> Callable[[int], str]:
    """A sample-reason callback that ignores the row."""
    return lambda row: reason


def lower(values: pa.Array, *, ascii_only: bool) -> pa.Array:
    """Lower-case strings (the ASCII kernel is ten times faster when it gives the same result)."""
    return pc.ascii_lower(values) if ascii_only else pc.utf8_lower(values)


def utc_days(timestamps: pa.Array) -> pa.Array:
    """The UTC date of ``timestamp[us, UTC]`` values from 1970 on (faster than a cast to date32)."""
    days = pc.divide(timestamps.cast(pa.int64()), 86_400_000_000).cast(pa.int32())
    return days.view(pa.date32())


def decode_utf8(
    column: pa.Array, *, trim: bool = True, ascii_only: bool = False
) -> tuple[pa.Array, np.ndarray | None]:
    """Turn a column read as binary or as (already validated) strings into strings.

    Columns are never null: pyarrow reads empty fields as empty values.

    :param trim: strip leading and trailing whitespace.
    :param ascii_only: the caller knows the values are ASCII (faster trimming, same result).
    :return: the strings (``""`` where the bytes are not UTF-8) and a mask of the invalid rows, or
        ``None`` when every row is valid (the usual case, checked in one vectorised cast).
    """
    invalid = None
    try:
        strings = column if pa.types.is_string(column.type) else column.cast(pa.string())
    except pa.ArrowInvalid:
        decoded: list[str] = []
        invalid = np.zeros(len(column), dtype=bool)
        for i, raw in enumerate(column.to_pylist()):
            try:
                decoded.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                invalid[i] = True
                decoded.append("")
        strings = pa.array(decoded, pa.string())
    if trim:
        strings = pc.ascii_trim_whitespace(strings) if ascii_only else pc.utf8_trim_whitespace(strings)
    return strings, invalid


def _cast_by_halves(values: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast, turning the values that fail into nulls (bisects, so few bad values cost little)."""
    try:
        return values.cast(target)
    except pa.ArrowInvalid:
        if len(values) == 1:
            return pa.nulls(1, target)
        half = len(values) // 2
        return pa.concat_arrays(
            [_cast_by_halves(values.slice(0, half), target), _cast_by_halves(values.slice(half), target)]
        )


def _zone_offset_minutes(zone: str) -> int | None:
    if zone in ("", "Z", "z", "UTC"):
        return 0
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        return None
    return (-1 if zone[0] == "-" else 1) * (hours * 60 + minutes)


def _map_distinct(values: pa.Array, parse: Callable[[str], object], target: pa.DataType) -> pa.Array:
    """Apply ``parse`` once per distinct value of ``values``."""
    encoded = pc.dictionary_encode(values)
    parsed = pa.array([parse(v) for v in encoded.dictionary.to_pylist()], target)
    return parsed.take(encoded.indices)


def _cast_whole(values: pa.Array) -> pa.Array | None:
    """The fast paths: cast the whole column in the first value's form, else ``None``.

    pyarrow parses its own ISO 8601 forms quickly, but spends microseconds on every value it rejects,
    so the form is sniffed from the first value instead of tried blindly. Each form is a subset of
    :data:`TIMESTAMP_PATTERN` with the same meaning, so the result never depends on the path taken.
    """
    first = values[0].as_py() if len(values) else ""
    cast: Callable[[], pa.Array]
    if _ARROW_ZONED.fullmatch(first):
        cast = lambda: values.cast(_UTC)  # noqa: E731
    elif _ARROW_NAIVE.fullmatch(first):
        cast = lambda: values.cast(pa.timestamp("us")).cast(_UTC)  # noqa: E731
    elif _SPACED_ZONE.fullmatch(first):  # Snowflake's "2024-05-01 12:34:56.789 -0700"
        cast = lambda: pc.replace_substring(pc.replace_substring(values, " +", "+"), " -", "-").cast(_UTC)  # noqa: E731
    else:
        return None
    try:
        return cast()
    except pa.ArrowInvalid:
        return None


def _parse_by_pattern(values: pa.Array) -> pa.Array:
    """The slow path: split with :data:`TIMESTAMP_PATTERN`, cast the local part, apply the offset."""
    parts = pc.extract_regex(values, TIMESTAMP_PATTERN)
    local = pc.binary_join_element_wise(parts.field("date"), parts.field("time"), " ")
    local = pc.utf8_rtrim_whitespace(pc.binary_join_element_wise(local, parts.field("fraction"), ""))
    local = pc.if_else(parts.is_valid(), local, pa.scalar(None, pa.string()))
    micros = _cast_by_halves(local, pa.timestamp("us")).cast(pa.int64())
    offsets = _map_distinct(parts.field("zone"), _zone_offset_minutes, pa.int64())
    if offsets.null_count or pc.max(pc.abs(offsets)).as_py():
        micros = pc.subtract(micros, pc.multiply(offsets, _MICROS_PER_MINUTE))
    return micros.cast(_UTC)


def parse_timestamps(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Parse timestamps (see :data:`TIMESTAMP_PATTERN`) into ``timestamp[us, UTC]``.

    :return: the timestamps (null where invalid) and a mask of the invalid rows.
    """
    result = _cast_whole(values)
    if result is None:
        result = _parse_by_pattern(values)
    low, high = (int(bound.timestamp()) * 1_000_000 for bound in TIMESTAMP_RANGE)
    micros = result.cast(pa.int64())
    extremes = pc.min_max(micros).as_py()
    if extremes["min"] is not None and (extremes["min"] < low or extremes["max"] >= high):
        in_range = pc.and_(pc.greater_equal(micros, low), pc.less(micros, high))
        result = pc.if_else(in_range, micros, pa.scalar(None, pa.int64())).cast(_UTC)
    return result, to_mask(result.is_null())


def _parse_count(text: str) -> int | None:
    text = text.strip()
    if not text:
        return 1
    match = _COUNT_RE.fullmatch(text)
    if match is None:
        return None
    value = int(match.group(1))
    return value if 1 <= value <= MAX_IMPRESSION_COUNT else None


def parse_counts(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Parse impression counts: empty means 1; else a whole number from 1 to
    :data:`MAX_IMPRESSION_COUNT` (``3``, ``+3`` and ``3.0`` are fine; ``0``, ``-1``, ``2.5``, ``1e3``
    and ``1,000`` are not).

    :return: the counts (null where invalid) and a mask of the invalid rows.
    """
    counts = _map_distinct(values, _parse_count, pa.int64())
    return counts, to_mask(counts.is_null())


def loose_key(text: str, *, category: bool = False) -> str:
    """Lower-case letters and digits of ``text``; for categories also without a trailing ``s``."""
    key = "".join(ch for ch in text.casefold() if ch.isalnum())
    return key[:-1] if category and key.endswith("s") else key


def loose_matcher(accepted: Collection[str], *, category: bool = False) -> Callable[[str], bool]:
    """A predicate: does a value equal one of ``accepted``, ignoring case, spaces and punctuation?

    An accepted value containing ``*`` is a wildcard pattern (``*view*`` matches ``VIEW_WORKBOOK``).
    """
    exact = {loose_key(a, category=category) for a in accepted if "*" not in a}
    patterns = [
        re.compile(".*".join(re.escape(loose_key(part)) for part in a.split("*")))
        for a in accepted
        if "*" in a
    ]

    def matches(value: str) -> bool:
        key = loose_key(value, category=category)
        return key in exact or any(p.fullmatch(key) for p in patterns)

    return matches


def match_loosely(values: pa.Array, accepted: Collection[str], *, category: bool = False) -> np.ndarray:
    """Mask of the rows whose value matches ``accepted`` (see :func:`loose_matcher`)."""
    matcher = loose_matcher(accepted, category=category)
    return to_mask(_map_distinct(values, matcher, pa.bool_()))


def json_literals(values: pa.Array) -> pa.Array:
    """Each string as a JSON string literal, or ``null`` when empty."""
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    printable = pc.or_(pc.ascii_is_printable(values), pc.equal(values, ""))
    if not pc.all(printable).as_py():  # control characters, or text that is not ASCII
        for char, replacement in _JSON_SHORT_ESCAPES.items():
            escaped = pc.replace_substring(escaped, char, replacement)
        if pc.any(pc.match_substring_regex(escaped, r"[\x00-\x1f]")).as_py():
            for code in range(0x20):
                escaped = pc.replace_substring(escaped, chr(code), f"\\u{code:04x}")
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    return pc.if_else(pc.equal(values, ""), pa.scalar("null"), quoted)
