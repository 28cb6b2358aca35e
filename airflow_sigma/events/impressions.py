"""Impression events from a CSV export: the "prepared shape" or a raw audit-log export.

Prepared shape: ``request_time``, ``user_email``, ``workbook_url_id`` (required), ``element_id`` and
``count`` (optional; empty count = 1). A file that also has an event-type column is a raw audit-log
export: only rows matching ``impression_filter`` are impressions, the others are counted as filtered.
By default those are the successful view events
(:data:`~airflow_sigma.events.columns.DEFAULT_IMPRESSION_FILTER`): a view that failed (``Failure``,
``PERMISSION_DENIED``) showed the user nothing.

A file with an event-id column keys each event by its id; a row whose id is empty is a bad row
(``missing_event_id``): keyed by its content instead, it would be counted again by every export that
repeats it with a different id.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import datetime

import numpy as np
import pyarrow as pa

from airflow_sigma.events.chunking import ReadableStream
from airflow_sigma.events.columns import (
    DEFAULT_IMPRESSION_FILTER,
    IMPRESSION_COLUMN_ALIASES,
    IMPRESSION_REQUIRED_COLUMNS,
    ResolvedColumns,
    find_header,
    quoted_headers,
    resolve_columns,
    with_event_id_column,
)
from airflow_sigma.events.keys import hash_emails, impression_keys
from airflow_sigma.events.source import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_RECORD_BYTES,
    CsvEventSource,
    RawTable,
    RowTriage,
    finish,
    snippet,
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
    blank_among,
    constant_reason,
    decode_utf8,
    empty_mask,
    lower,
    match_loosely,
    nul_mask,
    nul_reason,
    parse_counts,
    parse_timestamps,
    too_long_mask,
    too_long_reason,
    utc_days,
)

#: The columns of every impressions batch.
IMPRESSION_SCHEMA = pa.schema(
    [
        pa.field("event_key", pa.string(), nullable=False),
        pa.field("request_time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("user_email", pa.string(), nullable=False),
        pa.field("workbook_url_id", pa.string(), nullable=False),
        pa.field("element_id", pa.string(), nullable=False),
        pa.field("impressions", pa.int64(), nullable=False),
    ]
)

# Columns read for the output (filter columns are added per file).
_READ = ("request_time", "user_email", "workbook_url_id", "element_id", "count", "event_id")
# Columns whose values are stripped; the others are parsed by code that ignores surrounding spaces.
_KEYED = ("user_email", "workbook_url_id", "element_id")  # sigma_impressions_daily's key
_TRIMMED = ("user_email", "workbook_url_id", "element_id", "event_id")
_LOGICAL_FILTER_KEYS = ("event_type", "event_name", "event_status", "object_type")


def _resolve_filter(
    uri: str, columns: ResolvedColumns, impression_filter: Mapping[str, Collection[str]] | None
) -> list[tuple[int, tuple[str, ...], bool]]:
    """``(header position, accepted values, is the category column)`` for each filter entry."""
    resolved = []
    chosen = DEFAULT_IMPRESSION_FILTER if impression_filter is None else impression_filter
    for key, accepted in chosen.items():
        if isinstance(accepted, str):
            raise ValueError(f"impression_filter[{key!r}] must be a collection of values, not a string")
        if key in _LOGICAL_FILTER_KEYS:
            position = columns.index.get(key)
        else:
            position = find_header(uri, columns.headers, key, f"impression_filter column {key!r}")
        if position is None and impression_filter is None and key == "event_status":
            continue  # the default's status condition needs a status column
        if position is None:
            raise EventFileError(
                uri,
                FileErrorKind.MISSING_COLUMN,
                f"the file is a raw audit-log export (it has the event-type column "
                f"{columns.header_of('event_type')!r}) but has no column {key!r} used by impression_filter. "
                f"The file's header line starts: {quoted_headers(columns.headers)}",
            )
        resolved.append((position, tuple(accepted), position == columns.index["event_type"]))
    return resolved


class _ImpressionReader:
    def __init__(
        self,
        source: CsvEventSource,
        columns: ResolvedColumns,
        filters: list[tuple[int, tuple[str, ...], bool]],
        email_salt: str | None,
        batch_rows: int,
        latest_time: datetime | None,
    ) -> None:
        self.source = source
        self.stats = source.stats
        self.columns = columns
        self.filters = filters
        self.email_salt = email_salt
        self.batch_rows = batch_rows
        self.latest_time = latest_time
        index = columns.index
        self.trimmed = {index[name] for name in _TRIMMED if name in index}

    def batches(self) -> Iterator[pa.RecordBatch]:
        index = self.columns.index
        used = {index[name] for name in _READ if name in index}
        wanted = sorted(used | {position for position, _, _ in self.filters})
        for raw in self.source.tables(wanted):
            yield from self._convert(raw)

    def _convert(self, raw: RawTable) -> Iterator[pa.RecordBatch]:
        triage = RowTriage(raw, self.stats)
        text: dict[int, pa.Array] = {}
        invalid: dict[int, np.ndarray | None] = {}
        index = self.columns.index
        for position, column in raw.columns.items():
            text[position], invalid[position] = decode_utf8(
                column, trim=position in self.trimmed, ascii_only=raw.is_ascii
            )

        def utf8_reason(position: int) -> Callable[[int], str]:
            return constant_reason(f"bytes that are not UTF-8 in column {self.columns.headers[position]!r}")

        for position, _, _ in self.filters:
            triage.reject(invalid[position], BadRowKind.INVALID_UTF8, utf8_reason(position))
        for position, accepted, category in self.filters:
            triage.filter_out(~match_loosely(text[position], accepted, category=category))
        for position in text:
            triage.reject(invalid[position], BadRowKind.INVALID_UTF8, utf8_reason(position))
        if raw.contains(b"\x00"):
            for logical in _TRIMMED:  # the text values stored
                if logical in index:
                    header = self.columns.header_of(logical)
                    triage.reject(nul_mask(text[index[logical]]), BadRowKind.NUL_BYTE, nul_reason(header))

        times = text[index["request_time"]]
        request_time, bad_time = parse_timestamps(times)
        for logical in IMPRESSION_REQUIRED_COLUMNS:
            values = text[index[logical]]
            blank = blank_among(times, bad_time) if logical == "request_time" else empty_mask(values)
            header = self.columns.header_of(logical)
            triage.reject(
                blank, BadRowKind.MISSING_VALUE, constant_reason(f"empty {logical} (column {header!r})")
            )
        if "event_id" in index:
            triage.reject_empty_ids(text[index["event_id"]], self.columns.header_of("event_id"))
        for logical in _KEYED:
            if logical in index:
                reason = too_long_reason(logical, self.columns.header_of(logical))
                triage.reject(too_long_mask(text[index[logical]]), BadRowKind.VALUE_TOO_LONG, reason)
        time_header = self.columns.header_of("request_time")
        triage.reject(bad_time, BadRowKind.BAD_TIMESTAMP, bad_timestamp_reason(times, time_header))
        if self.latest_time is not None:
            triage.reject_after(request_time, times, time_header, self.latest_time)
        counts = None
        if "count" in index:
            count_text = text[index["count"]]
            counts, bad_count = parse_counts(count_text)
            triage.reject(
                bad_count,
                BadRowKind.BAD_COUNT,
                lambda row: f"count {snippet(count_text[row].as_py())} is not a whole number >= 1",
            )
        table = self._output(raw, triage.kept(), text, request_time, counts)
        yield from triage.accept(table, self.batch_rows)

    def _output(
        self,
        raw: RawTable,
        kept: pa.Array | None,
        text: dict[int, pa.Array],
        request_time: pa.Array,
        counts: pa.Array | None,
    ) -> pa.Table:
        def column(logical: str) -> pa.Array | None:
            if logical not in self.columns.index:
                return None
            values = text[self.columns.index[logical]]
            return values if kept is None else values.take(kept)

        if kept is not None:
            request_time = request_time.take(kept)
            counts = counts.take(kept) if counts is not None else None
        size = len(request_time)
        email = lower(column("user_email"), ascii_only=raw.is_ascii)
        if self.email_salt is not None:
            email = hash_emails(email, self.email_salt)
        workbook = column("workbook_url_id")
        element = column("element_id")
        if element is None:
            element = pa.repeat(pa.scalar("", pa.string()), size)
        keys = column("event_id")  # never empty: rows without an id are bad rows
        if keys is None:
            escaping = raw.contains(b"%", b"|")
            keys = impression_keys(request_time, email, workbook, element, may_need_escaping=escaping)
        if counts is None:
            counts = pa.repeat(pa.scalar(1, pa.int64()), size)
        arrays = [keys, request_time, utc_days(request_time), email, workbook, element, counts]
        return pa.Table.from_arrays(arrays, schema=IMPRESSION_SCHEMA)


def read_impressions(
    stream: ReadableStream,
    uri: str,
    *,
    column_map: Mapping[str, str] | None = None,
    impression_filter: Mapping[str, Collection[str]] | None = None,
    event_id_column: str | None = None,
    email_salt: str | None = None,
    latest_time: datetime | None = None,
    bad_row_budget: BadRowBudget | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    read_ahead: bool = True,
) -> tuple[Iterator[pa.RecordBatch], FileStats]:
    """Read impression events from one CSV file.

    The header is read and checked before this returns; the rows are read as the batches are consumed,
    and the stats are final (``stats.complete``) once the iterator is exhausted.

    :param stream: binary file-like object (decompressed), read from its current position.
    :param uri: the file's name, used in errors and stats.
    :param column_map: logical column -> header, overriding the aliases in
        :data:`~airflow_sigma.events.columns.IMPRESSION_COLUMN_ALIASES`.
    :param impression_filter: for raw audit-log exports (files with an event-type column): column ->
        accepted values; ``None`` means :data:`DEFAULT_IMPRESSION_FILTER` (successful view events),
        ``{}`` keeps every row. Keys are logical names (event_type, event_name, event_status,
        object_type) or headers. Ignored for files without an event-type column.
    :param event_id_column: header of a unique event id (same as ``column_map["event_id"]``); rows use
        it as their ``event_key``, and a row with an empty id is a bad row (``missing_event_id``).
    :param email_salt: when set, ``user_email`` is replaced by
        :func:`~airflow_sigma.events.keys.hash_email` of it (and keys use the hash).
    :param latest_time: rows dated after it are bad rows (``future_timestamp``); ``None``: no limit.
    :param bad_row_budget: stop reading (:class:`~airflow_sigma.events.stats.TooManyBadRowsError`) once the
        run's bad-row limit can no longer be met.
    :param batch_rows: most rows per batch.
    :param chunk_bytes: bytes read and parsed at a time.
    :param max_record_bytes: longest row accepted; a longer one fails the file.
    :param max_samples: bad rows kept in ``stats.samples``.
    :param read_ahead: parse the next piece in a background thread while the caller consumes batches.
    :return: the batches (schema :data:`IMPRESSION_SCHEMA`) and the file's stats.
    :raises EventFileError: when the file cannot be read (also while iterating).
    """
    column_map = with_event_id_column(column_map, event_id_column)
    stats = FileStats(uri, max_samples=max_samples)
    source = CsvEventSource(
        stream, stats, chunk_bytes=chunk_bytes, max_record_bytes=max_record_bytes, budget=bad_row_budget
    )
    if stats.empty_file:
        stats.complete = True
        return iter(()), stats
    columns = resolve_columns(
        uri, source.headers, IMPRESSION_COLUMN_ALIASES, IMPRESSION_REQUIRED_COLUMNS, column_map
    )
    stats.columns = columns.used_names()
    filters: list[tuple[int, tuple[str, ...], bool]] = []
    if "event_type" in columns.index:
        filters = _resolve_filter(uri, columns, impression_filter)
    reader = _ImpressionReader(source, columns, filters, email_salt, batch_rows, latest_time)
    return finish(reader.batches(), stats, read_ahead=read_ahead), stats
