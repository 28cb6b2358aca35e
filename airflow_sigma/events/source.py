"""From a byte stream to Arrow tables of raw text columns, with the per-row bookkeeping.

Shared by the impressions and audit readers: they pick the columns, this module parses them and counts
rows with the wrong number of fields or an unclosed quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from airflow_sigma.events.chunking import ChunkingError, Piece, ReadableStream, RecordChunker
from airflow_sigma.events.prefetch import prefetch
from airflow_sigma.events.stats import BadRowKind, EventFileError, FileErrorKind, FileStats

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
    names = next(csv.reader(io.StringIO(text, newline="")), [])
    return [name.strip() or f"column_{i + 1}" for i, name in enumerate(names)]


def _line_of_text(piece: Piece, text: str) -> int | None:
    """Line where ``text`` (a row pyarrow rejected) starts in the piece; pyarrow's parallel parser
    does not report it."""
    offset = piece.find(text.encode("utf-8"))
    return piece.first_line + piece.count(b"\n", offset) if offset >= 0 else None


def _skipped_lines(piece: Piece, invalid: list[pa_csv.InvalidRow], table: pa.Table) -> list[int] | None:
    if piece.num_lines != table.num_rows + len(invalid) or len(invalid) > _MAX_LOCATED_INVALID_ROWS:
        return None
    located = [_line_of_text(piece, row.text) for row in invalid]
    return None if None in located else sorted(line for line in located if line is not None)


class CsvEventSource:
    """Read the header of ``stream`` now, then its rows piece by piece.

    :param stream: binary file-like object (already decompressed).
    :param stats: the file's stats; rows with a wrong field count or unclosed quote are counted here.
    :param chunk_bytes: bytes per piece (one piece becomes one or more batches).
    :param max_record_bytes: longest row accepted before the file fails.
    """

    def __init__(
        self,
        stream: ReadableStream,
        stats: FileStats,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self.stats = stats
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
        ascii_text, text, raw_bytes = (
            pa_csv.ConvertOptions(
                include_columns=include, column_types=dict.fromkeys(include, kind), check_utf8=check
            )
            for kind, check in ((pa.string(), False), (pa.string(), True), (pa.binary(), False))
        )
        try:
            for piece in self._chunker.pieces():
                if piece.unterminated:
                    self._count_unterminated(piece)
                    continue
                conversions = (ascii_text,) if piece.is_ascii else (text, raw_bytes)
                yield self._parse(piece, names, conversions, wanted)
        except ChunkingError as exc:
            raise EventFileError(self.stats.uri, FileErrorKind.UNREADABLE, str(exc)) from None

    def _count_unterminated(self, piece: Piece) -> None:
        lines = piece.num_lines
        self.stats.rows_read += 1
        self.stats.add_bad(BadRowKind.UNTERMINATED_QUOTE, 1)
        self.stats.add_sample(
            piece.first_line,
            BadRowKind.UNTERMINATED_QUOTE,
            f"a quote opened in this row is never closed; the last {lines} line(s) of the file were "
            f"read as this one row: {snippet(bytes(piece.data[:_SNIPPET]).decode('utf-8', 'replace'))}",
        )

    def _parse(
        self,
        piece: Piece,
        names: list[str],
        conversions: tuple[pa_csv.ConvertOptions, ...],
        wanted: Sequence[int],
    ) -> RawTable:
        invalid: list[pa_csv.InvalidRow] = []

        def on_invalid(row: pa_csv.InvalidRow) -> str:
            invalid.append(row)
            return "skip"

        parse = pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid)
        for attempt, convert in enumerate(conversions, start=1):
            invalid.clear()
            try:
                table = self._read(piece, names, parse, convert)
                break
            except pa.ArrowInvalid as exc:
                if attempt < len(conversions):
                    continue  # bytes that are not UTF-8: read this piece again as binary
                raise EventFileError(
                    self.stats.uri,
                    FileErrorKind.UNREADABLE,
                    f"cannot parse the rows from line {piece.first_line}: {exc}",
                ) from None
        self._count_invalid(piece, invalid, len(names))
        self.stats.rows_read += table.num_rows
        columns = {i: table.column(f"c{i}").combine_chunks() for i in wanted}
        skipped = _skipped_lines(piece, invalid, table)
        return RawTable(columns, table.num_rows, piece.first_line, skipped, piece)

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

    def _count_invalid(self, piece: Piece, invalid: list[pa_csv.InvalidRow], expected: int) -> None:
        if not invalid:
            return
        self.stats.rows_read += len(invalid)
        self.stats.add_bad(BadRowKind.WRONG_FIELD_COUNT, len(invalid))
        for row in invalid[: max(self.stats.wants_samples(), 0)]:
            spans = row.text.count("\n") + 1
            extra = f", spanning {spans} lines (a stray or unclosed quote?)" if spans > 1 else ""
            self.stats.add_sample(
                _line_of_text(piece, row.text),
                BadRowKind.WRONG_FIELD_COUNT,
                f"expected {expected} fields, found {row.actual_columns}{extra}: {snippet(row.text)}",
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

    def kept(self) -> pa.Array | None:
        """Positions of the rows still pending, to ``take`` from the columns (``None``: all of them)."""
        return None if self.pending.all() else pa.array(np.flatnonzero(self.pending))

    def accept(self, table: pa.Table, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Count the rows of ``table`` (built from the :meth:`kept` rows) as accepted, in batches."""
        self.stats.rows_accepted += table.num_rows
        yield from table.to_batches(max_chunksize=batch_rows)


def finish(
    batches: Iterator[pa.RecordBatch], stats: FileStats, *, read_ahead: bool
) -> Iterator[pa.RecordBatch]:
    """The batches as handed to the caller: optionally read ahead, and ``stats.complete`` set once the
    caller has had the last one."""
    yield from prefetch(batches) if read_ahead else batches
    stats.complete = True
