"""From a byte stream to Arrow tables of raw text columns, with the per-row bookkeeping.

Shared by the impressions and audit readers: they pick the columns, this module parses them and counts
rows with the wrong number of fields or an unclosed quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from airflow_sigma.events.chunking import (
    ChunkingError,
    Piece,
    ReadableStream,
    RecordChunker,
    newlines_outside_quotes,
)
from airflow_sigma.events.prefetch import prefetch
from airflow_sigma.events.stats import BadRowBudget, BadRowKind, EventFileError, FileErrorKind, FileStats

DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_RECORD_BYTES = 256 * 1024 * 1024
DEFAULT_BATCH_ROWS = 131_072
_PARSE_BLOCK_BYTES = 1024 * 1024  # pyarrow's unit of parallel parsing inside one piece
_SNIPPET = 80
_MAX_LOCATED_INVALID_ROWS = 100


def snippet(text: str) -> str:
    """A value shortened for a log line."""
    return repr(text if len(text) <= _SNIPPET else text[:_SNIPPET] + "...")


@dataclass
class RawTable:
    """The wanted columns of one piece of the file, unparsed.

    :param columns: header position -> string column (binary if the piece has bytes that are not UTF-8).
    :param num_rows: rows parsed (rows with a wrong field count are already counted and dropped).
    :param first_line: physical line of the piece's first row.
    :param skipped_lines: when every record of the piece is one line, the (sorted) lines of the rows
        dropped for a wrong field count, so the lines of the other rows can be worked out; else ``None``.
    :param piece: where the rows come from.
    """

    columns: dict[int, pa.Array]
    num_rows: int
    first_line: int
    skipped_lines: list[int] | None
    piece: Piece

    @property
    def is_ascii(self) -> bool:
        """Whether the piece is pure ASCII."""
        return self.piece.is_ascii

    def contains(self, *needles: bytes) -> bool:
        """Whether any value (or anything else in the piece) contains one of ``needles``."""
        return any(self.piece.find(needle) >= 0 for needle in needles)

    def line_of(self, row: int) -> int | None:
        """Physical line of row ``row``, when it can be known cheaply."""
        if self.skipped_lines is None:
            return None
        line = self.first_line + row
        for skipped in self.skipped_lines:
            if skipped <= line:
                line += 1
        return line


def _parse_header(uri: str, raw: bytes) -> list[str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventFileError(
            uri, FileErrorKind.BAD_HEADER, f"the header line is not UTF-8 ({exc}); export the file as UTF-8"
        ) from None
    if "\x00" in text:
        raise EventFileError(
            uri,
            FileErrorKind.BAD_HEADER,
            "the header line holds NUL bytes (a UTF-16 file without a byte order mark?); "
            "export the file as UTF-8 CSV",
        )
    names = next(csv.reader(io.StringIO(text, newline="")), [])
    return [name.strip() or f"column_{i + 1}" for i, name in enumerate(names)]


@dataclass(frozen=True)
class _BadRecord:
    """A row pyarrow could not split into the header's fields.

    :param line: physical line where it starts, ``None`` when it cannot be found.
    :param spans: physical lines it covers (more than one after a stray quote).
    :param fields: how many fields it has.
    :param text: the row, for the samples (never for exceptions: it may hold an email).
    """

    line: int | None
    spans: int
    fields: int
    text: str


def _locate(piece: Piece, invalid: list[pa_csv.InvalidRow]) -> list[_BadRecord]:
    """Where the rows pyarrow rejected start (its parallel parser does not say), found in one pass over
    the piece's lines; rows with the same text are matched to its occurrences in order (in linear time:
    a million identical rows take each the next occurrence, never a scan of the ones already taken)."""
    if not invalid:
        return []
    texts = [row.text.encode("utf-8") for row in invalid]
    firsts = {text.split(b"\n", 1)[0].rstrip(b"\r") for text in texts}
    data = bytes(piece.data)
    lines = data.split(b"\n")
    starts_record = [True, *newlines_outside_quotes(data).tolist()]  # not a line inside a quoted value
    starts: dict[bytes, list[int]] = {}
    for number, line in enumerate(lines):
        key = line.rstrip(b"\r")
        if key in firsts and starts_record[number]:
            starts.setdefault(key, []).append(number)
    records = []
    taken: set[int] = set()
    first_free: dict[bytes, int] = {}  # per first line: candidates before this index are all taken
    for row, text in zip(invalid, texts, strict=True):
        spans = text.count(b"\n") + 1
        first = text.split(b"\n", 1)[0].rstrip(b"\r")
        candidates = starts.get(first, [])
        found = None
        for i in range(first_free.get(first, 0), len(candidates)):
            n = candidates[i]
            if n not in taken and b"\n".join(lines[n : n + spans]).rstrip(b"\r") == text.rstrip(b"\r"):
                found = n
                break
        if found is not None:
            taken.add(found)
            free = first_free.get(first, 0)
            while free < len(candidates) and candidates[free] in taken:
                free += 1
            first_free[first] = free
        start = None if found is None else piece.first_line + found
        records.append(_BadRecord(start, spans, row.actual_columns, row.text))
    return records


def _drop_wrong_widths(piece: Piece, fields: int) -> tuple[Piece, list[_BadRecord], int]:
    """Empty the lines of a piece without quotes (each line is then a record) that do not have
    ``fields`` fields, in a few vectorised passes: a flood of bad rows costs no Python per row, and
    pyarrow no longer hands them over one by one.

    :return: the piece with those lines emptied (line numbers unchanged), the first of them as records
        (at most ``_MAX_LOCATED_INVALID_ROWS + 1``, for samples and line numbers), and how many there were.
    """
    data = np.frombuffer(piece.buffer, dtype=np.uint8, count=piece.size)
    newlines = np.flatnonzero(data == 0x0A)
    ends = newlines if piece.size and data[-1] == 0x0A else np.append(newlines, piece.size)
    starts = np.concatenate(([0], newlines[: len(ends) - 1] + 1))
    commas = np.flatnonzero(data == 0x2C)
    widths = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    lengths = ends - starts
    first_bytes = data[np.minimum(starts, max(piece.size - 1, 0))]
    blank = (lengths == 0) | ((lengths == 1) & (first_bytes == 0x0D))  # pyarrow skips empty lines
    wrong = np.flatnonzero((widths != fields) & ~blank)
    if not len(wrong):
        return piece, [], 0
    edges = np.zeros(piece.size + 1, dtype=np.int8)
    edges[starts[wrong]] = 1
    edges[ends[wrong]] = -1
    inside = np.cumsum(edges[:-1], dtype=np.int8).view(bool)
    kept = data[~inside].tobytes()
    records = [
        _BadRecord(
            piece.first_line + int(i),
            1,
            int(widths[i]),
            piece.buffer[starts[i] : ends[i]].decode("utf-8", "replace"),
        )
        for i in wrong[: _MAX_LOCATED_INVALID_ROWS + 1]
    ]
    return Piece(kept, len(kept), piece.first_line, piece.num_lines), records, len(wrong)


def _skipped_lines(piece: Piece, bad: list[_BadRecord], table: pa.Table) -> list[int] | None:
    """Every line of the ``bad`` records, when each other record is one line (else ``None``)."""
    spanned = sum(record.spans for record in bad)
    if piece.num_lines != table.num_rows + spanned or len(bad) > _MAX_LOCATED_INVALID_ROWS:
        return None
    lines: list[int] = []
    for record in bad:
        if record.line is None:
            return None
        lines.extend(range(record.line, record.line + record.spans))
    return sorted(lines)


def _blank_lines(piece: Piece, records: list[tuple[int, int]]) -> Piece:
    """``piece`` with the lines of ``records`` (first line, lines spanned) emptied: pyarrow skips empty
    lines, and the other rows keep their line numbers."""
    data = bytes(piece.data)
    starts = [0, *(int(i) + 1 for i in np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A))]
    starts.append(len(data))
    parts, position = [], 0
    for line, spans in sorted(records):
        first = line - piece.first_line
        parts += [data[position : starts[first]], b"\n" * spans]
        position = starts[min(first + spans, len(starts) - 1)]
    parts.append(data[position:])
    blanked = b"".join(parts)
    return Piece(blanked, len(blanked), piece.first_line, piece.num_lines)


class CsvEventSource:
    """Read the header of ``stream`` now, then its rows piece by piece.

    :param stream: binary file-like object (already decompressed).
    :param stats: the file's stats; rows with a wrong field count or unclosed quote are counted here.
    :param chunk_bytes: bytes per piece (one piece becomes one or more batches).
    :param max_record_bytes: longest row accepted before the file fails.
    :param budget: stops reading once the run's bad-row limit can no longer be met.
    """

    def __init__(
        self,
        stream: ReadableStream,
        stats: FileStats,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        budget: BadRowBudget | None = None,
    ) -> None:
        self.stats = stats
        self.budget = budget
        self._chunker = RecordChunker(stream, chunk_bytes, max_record_bytes)
        try:
            header = self._chunker.read_header()
        except ChunkingError as exc:
            raise EventFileError(stats.uri, FileErrorKind.UNREADABLE, str(exc)) from None
        self.headers: list[str] = [] if header is None else _parse_header(stats.uri, header)
        stats.empty_file = header is None

    def tables(self, wanted: Sequence[int]) -> Iterator[RawTable]:
        """Parse the rest of the file, keeping the columns at positions ``wanted``.

        Columns come as strings, or as binary for a piece that holds bytes that are not UTF-8.
        """
        if self.stats.empty_file:
            return
        names = [f"c{i}" for i in range(len(self.headers))]
        include = [names[i] for i in wanted]
        text, raw_bytes = (
            pa_csv.ConvertOptions(
                include_columns=include, column_types=dict.fromkeys(include, kind), check_utf8=False
            )
            for kind in (pa.string(), pa.binary())
        )
        try:
            for piece in self._chunker.pieces():
                if self.budget is not None:  # every piece before this one is counted
                    self.budget.check(self.stats, self._chunker.consumed - piece.size, len(self.headers))
                if piece.unterminated:
                    self._count_unterminated(piece)
                    continue
                yield self._parse(piece, names, text if piece.is_utf8 else raw_bytes, wanted)
        except ChunkingError as exc:
            raise EventFileError(self.stats.uri, FileErrorKind.UNREADABLE, str(exc)) from None

    def _count_unterminated(self, piece: Piece) -> None:
        lines = piece.num_lines
        quote_line = piece.first_line + lines - 1
        self.stats.rows_read += lines
        self.stats.add_bad(BadRowKind.UNTERMINATED_QUOTE, lines)
        rows = f"lines {piece.first_line}-{quote_line} were" if lines > 1 else "the line was"
        quote_at = piece.buffer.rfind(b"\n", 0, piece.size - 1) + 1  # the start of the quote's line
        self.stats.add_sample(
            quote_line,
            BadRowKind.UNTERMINATED_QUOTE,
            f"a quote opened on line {quote_line} is never closed; {rows} skipped and reading went on "
            f"with the next line: {snippet(str(piece.data[quote_at:], 'utf-8', 'replace'))}",
        )

    def _parse(
        self, piece: Piece, names: list[str], convert: pa_csv.ConvertOptions, wanted: Sequence[int]
    ) -> RawTable:
        bad: list[_BadRecord] = []
        dropped = 0
        if piece.find(b'"') < 0:
            piece, bad, dropped = _drop_wrong_widths(piece, len(names))
            dropped -= len(bad)  # the lines counted but not listed in ``bad``
        if not piece.is_utf8:
            # pyarrow cannot hand over a row with the wrong number of fields and bytes that are not UTF-8:
            # it fails decoding it (and its error quotes the row). Find such rows in a decodable copy and
            # blank their lines first.
            data = str(piece.data, "utf-8", "replace").encode("utf-8")
            copy = Piece(data, len(data), piece.first_line, piece.num_lines)
            parse_only = pa_csv.ConvertOptions(
                include_columns=names[:1], column_types={names[0]: pa.binary()}
            )
            undecodable = _locate(copy, self._read_rows(copy, names, parse_only)[1])
            located = [(record.line, record.spans) for record in undecodable if record.line is not None]
            if len(located) < len(undecodable):
                raise self._unparseable(piece)
            piece = _blank_lines(piece, located) if undecodable else piece
            bad += undecodable
        table, invalid = self._read_rows(piece, names, convert)
        bad += _locate(piece, invalid)
        self._count_invalid(bad, len(names), dropped)
        self.stats.rows_read += table.num_rows
        columns = {i: table.column(f"c{i}").combine_chunks() for i in wanted}
        skipped = None if dropped else _skipped_lines(piece, bad, table)
        return RawTable(columns, table.num_rows, piece.first_line, skipped, piece)

    def _read_rows(
        self, piece: Piece, names: list[str], convert: pa_csv.ConvertOptions
    ) -> tuple[pa.Table, list[pa_csv.InvalidRow]]:
        """The rows of ``piece``, and apart the rows with a wrong field count."""
        invalid: list[pa_csv.InvalidRow] = []

        def on_invalid(row: pa_csv.InvalidRow) -> str:
            invalid.append(row)
            return "skip"

        parse = pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid)
        try:
            return self._read(piece, names, parse, convert), invalid
        except pa.ArrowInvalid:
            raise self._unparseable(piece) from None  # never pyarrow's message: it quotes the row

    def _unparseable(self, piece: Piece) -> EventFileError:
        last = piece.first_line + piece.num_lines - 1
        detail = f"cannot parse the rows on lines {piece.first_line}-{last} as CSV"
        return EventFileError(self.stats.uri, FileErrorKind.UNREADABLE, detail)

    @staticmethod
    def _read(
        piece: Piece, names: list[str], parse: pa_csv.ParseOptions, convert: pa_csv.ConvertOptions
    ) -> pa.Table:
        block = _PARSE_BLOCK_BYTES
        while True:
            read = pa_csv.ReadOptions(column_names=names, block_size=block)
            try:
                return pa_csv.read_csv(pa.BufferReader(pa.py_buffer(piece.data)), read, parse, convert)
            except pa.ArrowInvalid as exc:
                # A row longer than the block: parse the piece as one block (it ends on a row end).
                if "straddling" not in str(exc) or block > piece.size:
                    raise
                block = piece.size + 1

    def _count_invalid(self, bad: list[_BadRecord], expected: int, unlisted: int = 0) -> None:
        """Count the ``bad`` records and ``unlisted`` more one-line ones as ``wrong_field_count``."""
        if not bad:
            return
        spanned = sum(record.spans for record in bad) + unlisted
        self.stats.rows_read += spanned
        self.stats.add_bad(BadRowKind.WRONG_FIELD_COUNT, spanned)
        for record in bad[: max(self.stats.wants_samples(), 0)]:
            extra = ""
            if record.spans > 1:
                extra = f", spanning {record.spans} lines, each counted (a stray or unclosed quote?)"
            self.stats.add_sample(
                record.line,
                BadRowKind.WRONG_FIELD_COUNT,
                f"expected {expected} fields, found {record.fields}{extra}: {snippet(record.text)}",
            )


class RowTriage:
    """Sort the rows of one :class:`RawTable` into accepted, filtered out, or bad by kind.

    Each rule applies only to rows still pending, so a row is counted once, by the first rule it fails.
    """

    def __init__(self, raw: RawTable, stats: FileStats) -> None:
        self.raw = raw
        self.stats = stats
        self.pending = np.ones(raw.num_rows, dtype=bool)

    def filter_out(self, mask: np.ndarray) -> None:
        """Count the pending rows in ``mask`` as filtered out."""
        hit = mask & self.pending
        self.stats.rows_filtered += int(hit.sum())
        self.pending &= ~hit

    def reject(self, mask: np.ndarray | None, kind: BadRowKind, describe: Callable[[int], str]) -> None:
        """Count the pending rows in ``mask`` as bad rows of ``kind``.

        :param describe: row index -> short reason, called only for the rows kept as samples.
        """
        if mask is None:
            return
        hit = mask & self.pending
        count = int(hit.sum())
        if not count:
            return
        self.stats.add_bad(kind, count)
        self.pending &= ~hit
        for row in np.flatnonzero(hit)[: max(self.stats.wants_samples(), 0)]:
            self.stats.add_sample(self.raw.line_of(int(row)), kind, describe(int(row)))

    def reject_empty_ids(self, ids: pa.Array, header: str) -> None:
        """Count the pending rows whose event id (column ``header``) is empty as ``missing_event_id``."""
        reason = f"empty event id (column {header!r}): the event cannot be deduplicated"
        self.reject(_mask(pc.equal(ids, "")), BadRowKind.MISSING_EVENT_ID, lambda row: reason)

    def reject_after(self, request_time: pa.Array, times: pa.Array, header: str, latest: datetime) -> None:
        """Count the pending rows dated after ``latest`` as ``future_timestamp``.

        :param request_time: the parsed times (null where invalid); ``times``: the text, for samples.
        """
        later = _mask(pc.greater(request_time, pa.scalar(latest, request_time.type)))
        self.reject(
            later,
            BadRowKind.FUTURE_TIMESTAMP,
            lambda row: (
                f"request_time {snippet(times[row].as_py())} (column {header!r}) is after "
                f"{latest.isoformat()}, the latest time an event of this run can have"
            ),
        )

    def kept(self) -> pa.Array | None:
        """Positions of the rows still pending, to ``take`` from the columns (``None``: all of them)."""
        return None if self.pending.all() else pa.array(np.flatnonzero(self.pending))

    def accept(self, table: pa.Table, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Count the rows of ``table`` (built from the :meth:`kept` rows) as accepted, in batches."""
        self.stats.rows_accepted += table.num_rows
        yield from table.to_batches(max_chunksize=batch_rows)


def _mask(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def finish(
    batches: Iterator[pa.RecordBatch], stats: FileStats, *, read_ahead: bool
) -> Iterator[pa.RecordBatch]:
    """The batches as handed to the caller: optionally read ahead, and ``stats.complete`` set once the
    caller has had the last one."""
    yield from prefetch(batches) if read_ahead else batches
    stats.complete = True
