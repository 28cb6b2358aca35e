"""Audit-log events from a CSV export of Sigma's audit log, every category, normalised.

The base columns become fixed columns; every other column of the row goes into ``attributes``, a JSON
object keyed by the original header (a repeated header gets `` (2)``, `` (3)``... appended). Categories
are never dropped for being unknown; ``categories`` only narrows them on request. A file with an
event-id column keys each event by its id, and a row whose id is empty is a bad row
(``missing_event_id``); without such a column events are keyed by their content.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airflow_sigma.events.chunking import ReadableStream
from airflow_sigma.events.columns import (
    AUDIT_COLUMN_ALIASES,
    AUDIT_REQUIRED_COLUMNS,
    ResolvedColumns,
    find_header,
    normalise_header,
    quoted_headers,
    resolve_columns,
    with_event_id_column,
)
from airflow_sigma.events.keys import audit_keys
from airflow_sigma.events.source import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_RECORD_BYTES,
    CsvEventSource,
    RawTable,
    RowTriage,
    finish,
)
from airflow_sigma.events.stats import (
    DEFAULT_MAX_SAMPLES,
    BadRowBudget,
    BadRowKind,
    EventFileError,
    FileErrorKind,
    FileStats,
)
from airflow_sigma.events.values import (
    bad_timestamp_reason,
    constant_reason,
    decode_utf8,
    empty_mask,
    json_literals,
    match_loosely,
    nul_mask,
    nul_reason,
    parse_timestamps,
    too_long_mask,
    too_long_reason,
    utc_days,
)

#: Audit-log categories documented by Sigma (older docs spell some in the plural). Informational: any
#: other category is kept too.
KNOWN_AUDIT_CATEGORIES = (
    "ACCESS_SIGMA",
    "USER_ACCOUNT",
    "ACCOUNT_TYPE",
    "TEAMS",
    "CONNECTION",
    "OBJECT_INTERACTION",
    "QUERY_EXECUTIONS",
    "PUBLIC_API",
    "EXPORTS",
    "PERMISSIONS",
    "SCHEDULES",
    "MATERIALIZATIONS",
)

_OPTIONAL_TEXT_COLUMNS = (
    "event_name",
    "event_status",
    "user_email",
    "object_id",
    "object_name",
    "object_type",
)

#: The columns of every audit-events batch. Optional base columns are null when absent or empty.
AUDIT_EVENT_SCHEMA = pa.schema(
    [
        pa.field("event_key", pa.string(), nullable=False),
        pa.field("event_id", pa.string()),
        pa.field("request_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        *(pa.field(name, pa.string()) for name in _OPTIONAL_TEXT_COLUMNS),
        pa.field("attributes", pa.string(), nullable=False),
    ]
)


def _attribute_names(headers: Sequence[str], positions: Sequence[int]) -> list[str]:
    """JSON keys for the attribute columns: the header, numbered `` (2)``, `` (3)``... when repeated."""
    originals = [headers[p] for p in positions]
    reserved = set(originals)
    names: list[str] = []
    for name in originals:
        candidate, copy = name, 1
        while candidate in names or (copy > 1 and candidate in reserved):
            copy += 1
            candidate = f"{name} ({copy})"
        names.append(candidate)
    return names


class _AuditReader:
    def __init__(
        self,
        source: CsvEventSource,
        columns: ResolvedColumns,
        categories: Collection[str] | None,
        key_positions: list[int] | None,
        batch_rows: int,
        latest_time: datetime | None,
    ) -> None:
        self.source = source
        self.stats = source.stats
        self.columns = columns
        self.categories = categories
        self.batch_rows = batch_rows
        self.latest_time = latest_time
        self.logical_positions = set(columns.index.values())
        self.attribute_positions = [i for i in range(len(columns.headers)) if i not in self.logical_positions]
        self.attribute_names = _attribute_names(columns.headers, self.attribute_positions)
        self.key_positions = key_positions

    def batches(self) -> Iterator[pa.RecordBatch]:
        for raw in self.source.tables(range(len(self.columns.headers))):
            yield from self._convert(raw)

    def _utf8_reason(self, position: int) -> Callable[[int], str]:
        return constant_reason(f"bytes that are not UTF-8 in column {self.columns.headers[position]!r}")

    def _convert(self, raw: RawTable) -> Iterator[pa.RecordBatch]:
        triage = RowTriage(raw, self.stats)
        text: dict[int, pa.Array] = {}
        invalid: dict[int, np.ndarray | None] = {}
        for position, column in raw.columns.items():
            trim = position in self.logical_positions  # attributes are kept verbatim
            text[position], invalid[position] = decode_utf8(column, trim=trim, ascii_only=raw.is_ascii)
        index = self.columns.index
        event_type = text[index["event_type"]]
        triage.reject(
            invalid[index["event_type"]], BadRowKind.INVALID_UTF8, self._utf8_reason(index["event_type"])
        )
        triage.reject(empty_mask(event_type), BadRowKind.MISSING_VALUE, constant_reason("empty event_type"))
        if self.categories is not None:
            triage.filter_out(~match_loosely(event_type, self.categories, category=True))
        for position in text:
            triage.reject(invalid[position], BadRowKind.INVALID_UTF8, self._utf8_reason(position))
        if raw.contains(b"\x00"):
            for position in text:  # every value is stored, as a column or in attributes
                reason = nul_reason(self.columns.headers[position])
                triage.reject(nul_mask(text[position]), BadRowKind.NUL_BYTE, reason)
        for logical in ("event_type", "event_name", "event_status"):  # sigma_daily_event_counts' key
            if logical in index:
                reason = too_long_reason(logical, self.columns.header_of(logical))
                triage.reject(too_long_mask(text[index[logical]]), BadRowKind.VALUE_TOO_LONG, reason)
        times = text[index["request_time"]]
        triage.reject(empty_mask(times), BadRowKind.MISSING_VALUE, constant_reason("empty request_time"))
        if "event_id" in index:
            triage.reject_empty_ids(text[index["event_id"]], self.columns.header_of("event_id"))
        request_time, bad_time = parse_timestamps(times)
        time_header = self.columns.header_of("request_time")
        triage.reject(bad_time, BadRowKind.BAD_TIMESTAMP, bad_timestamp_reason(times, time_header))
        if self.latest_time is not None:
            triage.reject_after(request_time, times, time_header, self.latest_time)
        kept = triage.kept()
        if kept is not None:
            text = {position: values.take(kept) for position, values in text.items()}
            request_time = request_time.take(kept)
        yield from triage.accept(self._output(text, request_time), self.batch_rows)

    def _output(self, text: dict[int, pa.Array], request_time: pa.Array) -> pa.Table:
        index = self.columns.index
        size = len(request_time)
        fields: dict[str, pa.Array] = {"event_type": text[index["event_type"]]}
        for logical in _OPTIONAL_TEXT_COLUMNS:
            if logical in index:
                values = text[index[logical]]
                fields[logical] = pc.utf8_lower(values) if logical == "user_email" else values
        attributes = {p: json_literals(text[p]) for p in self.attribute_positions}
        event_ids = text[index["event_id"]] if "event_id" in index else None
        keys = self._keys(request_time, fields, attributes) if event_ids is None else event_ids
        optional = [_null_if_empty(fields.get(logical), size) for logical in _OPTIONAL_TEXT_COLUMNS]
        arrays = [
            keys,
            _null_if_empty(event_ids, size),
            request_time,
            utc_days(request_time),
            fields["event_type"],
            *optional,
            self._attributes(attributes, size),
        ]
        return pa.Table.from_arrays(arrays, schema=AUDIT_EVENT_SCHEMA)

    def _keys(
        self, request_time: pa.Array, fields: dict[str, pa.Array], attributes: dict[int, pa.Array]
    ) -> pa.Array:
        named = [(name, json_literals(values)) for name, values in fields.items()]
        named += [(normalise_header(self.columns.headers[p]), lit) for p, lit in attributes.items()]
        if self.key_positions is not None:
            wanted = {self._key_name(p) for p in self.key_positions}
            named = [(name, literals) for name, literals in named if name in wanted]
        return audit_keys(request_time, named)

    def _key_name(self, position: int) -> str:
        for logical, logical_position in self.columns.index.items():
            if logical_position == position:
                return logical
        return normalise_header(self.columns.headers[position])

    def _attributes(self, literals: dict[int, pa.Array], size: int) -> pa.Array:
        if not self.attribute_positions:
            return pa.repeat(pa.scalar("{}", pa.string()), size)
        pieces: list[pa.Array | str] = ["{"]
        for n, (position, name) in enumerate(
            zip(self.attribute_positions, self.attribute_names, strict=True)
        ):
            pieces.append(("," if n else "") + json.dumps(name) + ":")
            pieces.append(literals[position])
        pieces.append("}")
        return pc.binary_join_element_wise(*pieces, "")


def _null_if_empty(values: pa.Array | None, size: int) -> pa.Array:
    if values is None:
        return pa.nulls(size, pa.string())
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def _resolve_key_columns(uri: str, columns: ResolvedColumns, key_columns: Sequence[str]) -> list[int]:
    positions = []
    for name in key_columns:
        if name in AUDIT_COLUMN_ALIASES:
            position = columns.index.get(name)
        else:
            position = find_header(uri, columns.headers, name, f"key_columns entry {name!r}")
        if position is None:
            raise EventFileError(
                uri,
                FileErrorKind.MISSING_COLUMN,
                f"key_columns names {name!r}, which is not a column of the file. "
                f"The file's header line starts: {quoted_headers(columns.headers)}",
            )
        positions.append(position)
    return positions


def read_audit_events(
    stream: ReadableStream,
    uri: str,
    *,
    column_map: Mapping[str, str] | None = None,
    event_id_column: str | None = None,
    categories: Collection[str] | None = None,
    key_columns: Sequence[str] | None = None,
    latest_time: datetime | None = None,
    bad_row_budget: BadRowBudget | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    read_ahead: bool = True,
) -> tuple[Iterator[pa.RecordBatch], FileStats]:
    """Read every audit event of one CSV export.

    The header is read and checked before this returns; the stats are final once the batches are
    exhausted. Required columns: request_time and event_type (aliases in
    :data:`~airflow_sigma.events.columns.AUDIT_COLUMN_ALIASES`).

    :param stream: binary file-like object (decompressed), read from its current position.
    :param uri: the file's name, used in errors and stats.
    :param column_map: logical column -> header, overriding the aliases.
    :param event_id_column: header of a unique event id (same as ``column_map["event_id"]``); a row
        with an empty id is a bad row (``missing_event_id``).
    :param categories: keep only these categories (case, punctuation and a trailing "S" ignored; ``*`` is
        a wildcard); the other rows are counted as filtered. ``None`` keeps every category.
    :param key_columns: columns (logical names or headers) that identify an event without an id, with
        request_time always included; ``None`` means every column (see :mod:`airflow_sigma.events.keys`).
    :param latest_time: rows dated after it are bad rows (``future_timestamp``); ``None``: no limit.
    :param bad_row_budget: stop reading (:class:`~airflow_sigma.events.stats.TooManyBadRowsError`) once the
        run's bad-row limit can no longer be met.
    :param batch_rows: most rows per batch.
    :param chunk_bytes: bytes read and parsed at a time.
    :param max_record_bytes: longest row accepted; a longer one fails the file.
    :param max_samples: bad rows kept in ``stats.samples``.
    :param read_ahead: parse the next piece in a background thread while the caller consumes batches.
    :return: the batches (schema :data:`AUDIT_EVENT_SCHEMA`) and the file's stats.
    :raises EventFileError: when the file cannot be read (also while iterating).
    """
    if isinstance(categories, str):
        raise ValueError("categories must be a collection of category names, not a string")
    column_map = with_event_id_column(column_map, event_id_column)
    stats = FileStats(uri, max_samples=max_samples)
    source = CsvEventSource(
        stream, stats, chunk_bytes=chunk_bytes, max_record_bytes=max_record_bytes, budget=bad_row_budget
    )
    if stats.empty_file:
        stats.complete = True
        return iter(()), stats
    columns = resolve_columns(uri, source.headers, AUDIT_COLUMN_ALIASES, AUDIT_REQUIRED_COLUMNS, column_map)
    stats.columns = columns.used_names()
    key_positions = None if key_columns is None else _resolve_key_columns(uri, columns, key_columns)
    reader = _AuditReader(source, columns, categories, key_positions, batch_rows, latest_time)
    return finish(reader.batches(), stats, read_ahead=read_ahead), stats
