"""Python values in and out of the warehouse, per portable column type.

Going in, every value is first checked and brought to one canonical Python value for its column type
(``str``, ``int``, ``float``, ``bool``, ``date``, UTC-aware ``datetime``, JSON text); the dialect then
turns that into what its database stores. Coming out, :func:`from_db` turns whatever a driver returns
back into the canonical value, so rows read from SQLite and PostgreSQL compare equal.

Accepted input per type: ``text`` str; ``integer`` int (not bool); ``float`` int or float; ``boolean``
bool; ``date`` date (not datetime) or ``'YYYY-MM-DD'``; ``timestamp`` datetime (naive means UTC) or an
ISO 8601 string (``Z`` allowed); ``json`` any JSON-serialisable value, or a str holding valid JSON.
``None`` is NULL for every type.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from itertools import islice
from typing import Any

from airflow_sigma.exceptions import BadInputError, ConfigurationError, SigmaProviderError, TransientError

UTC = timezone.utc
Converter = Callable[[Any], Any]


class WarehouseError(SigmaProviderError):
    """A warehouse operation cannot be done as asked (bad table state, bad arguments, a connection that
    cannot work). Terminal unless a subclass says otherwise
    (:class:`~airflow_sigma.warehouse.WarehouseUnavailableError`)."""

    @property
    def retryable(self) -> bool:
        return False


class WarehouseConnectionError(WarehouseError, ConfigurationError):
    """The warehouse connection cannot work as configured: its Airflow provider is missing, a SQLite
    connection names no file or a temporary schema, or the database refuses writes."""


class WarehouseUnavailableError(WarehouseError, TransientError):
    """The warehouse cannot take the writes now (no space left); a later run may succeed."""

    @property
    def retryable(self) -> bool:
        return True


class BadRowError(WarehouseError, BadInputError, ValueError):
    """A row to be written has the wrong shape or a value of the wrong type."""


def _describe(value: Any) -> str:
    text = repr(value)
    return (
        f"{text[:80]}... ({type(value).__name__})" if len(text) > 80 else f"{text} ({type(value).__name__})"
    )


def to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a str, got {_describe(value)}")


def to_integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an int, got {_describe(value)}")


def to_float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a float or int, got {_describe(value)}")


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected a bool, got {_describe(value)}")


def to_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise TypeError(f"expected a date or 'YYYY-MM-DD' string, got {_describe(value)}")


def to_timestamp(value: Any) -> datetime:
    """A UTC-aware datetime; naive datetimes (and strings without offset) are taken as UTC."""
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise TypeError(f"expected an ISO 8601 timestamp, got {_describe(value)}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    raise TypeError(f"expected a datetime or ISO 8601 string, got {_describe(value)}")


def to_json_text(value: Any) -> str:
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            raise TypeError(f"expected valid JSON text, got {_describe(value)}") from None
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"expected a JSON-serialisable value, got {_describe(value)}: {exc}") from None


CANONICAL: dict[str, Converter] = {
    "text": to_text,
    "integer": to_integer,
    "float": to_float,
    "boolean": to_boolean,
    "date": to_date,
    "timestamp": to_timestamp,
    "json": to_json_text,
}


def timestamp_text(value: Any) -> str:
    """The SQLite storage form of a timestamp: fixed-width ISO 8601 UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Fixed width (always microseconds) keeps text comparison equal to time comparison.
    """
    return to_timestamp(value).isoformat(timespec="microseconds")[:-6] + "Z"  # drop "+00:00"


def date_text(value: Any) -> str:
    return to_date(value).isoformat()


def boolean_integer(value: Any) -> int:
    return 1 if to_boolean(value) else 0


def from_db(column_type: str, value: Any) -> Any:
    """Turn a value as returned by a driver back into the canonical Python value of its column type."""
    if value is None:
        return None
    if column_type == "date":
        if isinstance(value, datetime):
            return value.date()
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if column_type == "timestamp":
        return to_timestamp(value)
    if column_type == "json":
        return json.loads(value) if isinstance(value, (str, bytes)) else value
    if column_type == "boolean":
        return bool(value)
    if column_type == "integer":
        return int(value)
    if column_type == "float":
        return float(value)
    return value


def null_safe(convert: Converter) -> Converter:
    """``convert`` that passes None through."""

    def converter(value: Any) -> Any:
        return None if value is None else convert(value)

    return converter


def unchanged(values: Sequence[Any]) -> Sequence[Any]:
    return values


@dataclass(frozen=True)
class Codec:
    """How one column's values are checked and turned into what the database is given.

    :param convert: one value (None included) to its stored form; raises TypeError/ValueError.
    :param fast_types: when every value of a chunk has exactly one of these types, ``fast`` converts
        the whole column at once (C-speed maps instead of a Python call per value).
    :param fast: converts a column of values known to be of ``fast_types``.
    """

    convert: Converter
    fast_types: frozenset[type] = frozenset()
    fast: Callable[[Sequence[Any]], Sequence[Any]] | None = None


def codec(
    convert: Converter, fast_types: tuple[type, ...] = (), fast: Callable[..., Any] | None = None
) -> Codec:
    """A :class:`Codec` whose ``convert`` passes None through."""
    return Codec(null_safe(convert), frozenset(fast_types), fast)


def column_chunks(
    rows: Iterable[Sequence[Any]],
    codecs: Sequence[Codec],
    names: Sequence[str],
    target: str,
    chunk_rows: int,
) -> Iterator[list[Sequence[Any]]]:
    """Read ``rows`` lazily, ``chunk_rows`` at a time, and yield each chunk converted, as columns.

    Errors name the target, the row number (from 1) and the column.
    """
    iterator = iter(rows)
    first = 1
    width = len(codecs)
    while chunk := list(islice(iterator, chunk_rows)):
        try:
            if set(map(len, chunk)) != {width}:
                raise ValueError("row length")
            columns = [
                _convert_column(values, c) for values, c in zip(zip(*chunk, strict=True), codecs, strict=True)
            ]
        except (TypeError, ValueError):
            for _ in converted_rows(chunk, [c.convert for c in codecs], names, target, first):
                pass  # raises the precise error
            raise
        yield columns
        first += len(chunk)


def _convert_column(values: Sequence[Any], codec: Codec) -> Sequence[Any]:
    if codec.fast is not None and set(map(type, values)) <= codec.fast_types:
        return codec.fast(values)
    return list(map(codec.convert, values))


def converted_rows(
    rows: Iterable[Sequence[Any]],
    converters: Sequence[Converter],
    names: Sequence[str],
    target: str,
    first: int = 1,
) -> Iterator[tuple[Any, ...]]:
    """Lazily convert each row with one converter per column; errors name the target, row and column.

    :param rows: the input rows (sequences in the order of ``names``); consumed lazily.
    :param converters: one converter per column (None handling included).
    :param names: column names, for error messages.
    :param target: table name, for error messages.
    :param first: number of the first row, for error messages.
    """
    width = len(converters)
    pairs = list(enumerate(converters))
    for number, row in enumerate(rows, start=first):
        if len(row) != width:
            raise BadRowError(
                f"{target}: row {number} has {len(row)} values, expected {width} for columns {list(names)}"
            )
        try:
            yield tuple([convert(row[index]) for index, convert in pairs])
        except (TypeError, ValueError) as exc:
            index = _failing_index(row, converters)
            raise BadRowError(f"{target}: row {number}, column {names[index]!r}: {exc}") from exc


def _failing_index(row: Sequence[Any], converters: Sequence[Converter]) -> int:
    for index, convert in enumerate(converters):
        try:
            convert(row[index])
        except (TypeError, ValueError):
            return index
    return 0
