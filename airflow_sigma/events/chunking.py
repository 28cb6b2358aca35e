"""Split a CSV byte stream into pieces that end on record boundaries.

pyarrow's streaming CSV reader fails on a row longer than its block size, and a failed stream cannot be
resumed. So we cut the stream ourselves, always at the end of a record (a newline outside quotes), and hand
each piece to ``pyarrow.csv.read_csv``. A long row just makes its piece longer; only a "row" larger than
``max_record_bytes`` (in practice an unterminated quote swallowing the file) is an error. A quote still
open at the end of the file is a stray one: the lines up to the end of its line are returned as one
``unterminated`` piece, and reading goes on with the next line.

Old Mac "CSV (Macintosh)" files end lines with a lone CR; their CRs are read as LFs.

Quote rules are pyarrow's (and RFC 4180's): a field is quoted only when its first character is ``"``;
inside it ``""`` is a literal quote; a quote anywhere else is a literal character.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np

from airflow_sigma.exceptions import BadInputError

_QUOTE = 0x22
_FIELD_START_BEFORE = (0x2C, 0x0A, 0x0D)  # a quote after ',' or a line end opens a quoted field
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class ReadableStream(Protocol):
    """What the readers need from a stream: ``read(n)`` returning bytes (``b""`` at the end)."""

    def read(self, size: int = -1, /) -> bytes: ...


class ChunkingError(BadInputError, ValueError):
    """The stream cannot be cut into records (raised as :class:`EventFileError` by the readers)."""


@dataclass(frozen=True)
class Piece:
    """Whole records of the file: ``buffer[:size]`` (kept as a view to avoid copying megabytes).

    :param buffer: bytes holding the piece at its start.
    :param size: the piece's length; it ends at a record boundary (or at the end of the file).
    :param first_line: physical line number (1-based, header included) of the first byte.
    :param num_lines: lines in the piece (a last line without a newline counts).
    :param unterminated: the piece is a record whose quote is never closed, up to the end of the line
        holding that quote (the lines after it are read as records again).
    """

    buffer: bytes
    size: int
    first_line: int
    num_lines: int
    unterminated: bool = False

    @property
    def data(self) -> memoryview:
        """The piece's bytes, without copying."""
        return memoryview(self.buffer)[: self.size]

    def find(self, needle: bytes, start: int = 0) -> int:
        """Offset of ``needle`` in the piece (from ``start``), or -1."""
        return self.buffer.find(needle, start, self.size)

    @cached_property
    def is_ascii(self) -> bool:
        """Whether every byte is ASCII (then no UTF-8 check is needed and faster kernels apply)."""
        return self.buffer.isascii() if self.size == len(self.buffer) else bytes(self.data).isascii()

    @cached_property
    def is_utf8(self) -> bool:
        """Whether the bytes are valid UTF-8."""
        if self.is_ascii:
            return True
        try:
            str(self.data, "utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def count(self, needle: bytes, end: int | None = None) -> int:
        """Occurrences of ``needle`` in the piece (up to ``end``)."""
        return self.buffer.count(needle, 0, self.size if end is None else end)


def _is_field_start(buf: bytes, pos: int) -> bool:
    return pos == 0 or buf[pos - 1] in _FIELD_START_BEFORE


def _quoted_regions_slow(buf: bytes, end: int) -> list[tuple[int, int]]:
    """Quoted regions ``(open, close)`` in ``buf[:end]``, exactly as pyarrow reads them.

    Walks the quotes one by one: used only when the vectorised parity check finds stray quotes.
    ``close`` is ``end`` when the last quoted field is still open at ``end``.
    """
    regions: list[tuple[int, int]] = []
    pos = buf.find(b'"', 0, end)
    while pos >= 0:
        if _is_field_start(buf, pos):
            close = pos + 1
            while True:
                close = buf.find(b'"', close, end)
                if close < 0:
                    regions.append((pos, end))
                    return regions
                if close + 1 < end and buf[close + 1] == _QUOTE:
                    close += 2  # doubled quote: a literal quote inside the field
                    continue
                break
            regions.append((pos, close))
            pos = buf.find(b'"', close + 1, end)
        else:
            pos = buf.find(b'"', pos + 1, end)  # a literal quote inside an unquoted field
    return regions


def _parity_is_exact(buf: bytes, quotes: np.ndarray, end: int) -> bool:
    """Whether pairing quotes by parity gives pyarrow's reading (true for every well-formed CSV)."""
    data = np.frombuffer(buf, dtype=np.uint8, count=end)
    openers, closers = quotes[0::2], quotes[1::2]
    before = data[np.maximum(openers - 1, 0)]
    opener_ok = (openers == 0) | np.isin(before, _FIELD_START_BEFORE) | (before == _QUOTE)
    nxt = data[np.minimum(closers + 1, end - 1)]
    closer_ok = (closers + 1 >= end) | np.isin(nxt, _FIELD_START_BEFORE) | (nxt == _QUOTE)
    return bool(opener_ok.all() and closer_ok.all())


def last_record_end(buf: bytes) -> tuple[int, int | None]:
    """Find where the last complete record of ``buf`` ends; ``buf`` must start at a record start.

    :return: ``(end, open_at)``: ``end`` is the offset just after the last newline outside quotes
        (0 if there is none); ``open_at`` is the offset of a quote still open at the end of ``buf``
        (the start of a quoted field the data so far does not close), else ``None``.
    """
    last_nl = buf.rfind(b"\n")
    first_quote = buf.find(b'"')
    if first_quote < 0:
        return last_nl + 1, None
    quotes = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == _QUOTE)
    if _parity_is_exact(buf, quotes, len(buf)):
        open_at = int(quotes[-1]) if len(quotes) % 2 else None
        pos = last_nl
        while pos >= 0:
            before = int(np.searchsorted(quotes, pos))
            if before % 2 == 0:
                break
            pos = buf.rfind(b"\n", 0, int(quotes[before - 1]))
        return pos + 1, open_at
    regions = _quoted_regions_slow(buf, len(buf))
    open_at = regions[-1][0] if regions and regions[-1][1] == len(buf) else None
    pos = last_nl
    for start, stop in reversed(regions):
        if pos < 0:
            break
        if start < pos < stop:
            pos = buf.rfind(b"\n", 0, start)
    return pos + 1, open_at


def newlines_outside_quotes(buf: bytes) -> np.ndarray:
    """For each newline of ``buf`` (which must start at a record start), whether it ends a record."""
    data = np.frombuffer(buf, dtype=np.uint8)
    newlines = np.flatnonzero(data == 0x0A)
    quotes = np.flatnonzero(data == _QUOTE)
    if not len(quotes):
        return np.ones(len(newlines), dtype=bool)
    if _parity_is_exact(buf, quotes, len(buf)):
        return np.searchsorted(quotes, newlines) % 2 == 0
    regions = np.array(_quoted_regions_slow(buf, len(buf)), dtype=np.int64).reshape(-1, 2)
    if not len(regions):
        return np.ones(len(newlines), dtype=bool)
    last_open = np.searchsorted(regions[:, 0], newlines) - 1
    inside = (last_open >= 0) & (newlines < regions[np.maximum(last_open, 0), 1])
    return ~inside


def _lone_cr_ends_first_line(buf: bytes) -> bool:
    """Whether the first line of ``buf`` ends with a CR that is not followed by an LF."""
    cr = buf.find(b"\r")
    return 0 <= cr < len(buf) - 1 and buf[cr + 1] != 0x0A and buf.find(b"\n", 0, cr) < 0


def first_record_end(buf: bytes) -> int:
    """Offset just after the first newline outside quotes in ``buf`` (0 if there is none yet)."""
    pos = 0
    while True:
        nl = buf.find(b"\n", pos)
        quote = buf.find(b'"', pos, nl if nl >= 0 else len(buf))
        if nl < 0 and quote < 0:
            return 0
        if quote < 0:
            return nl + 1
        if not _is_field_start(buf, quote):
            pos = quote + 1
            continue
        close = quote + 1
        while True:
            close = buf.find(b'"', close)
            if close < 0:
                return 0
            if buf[close + 1 : close + 2] == b'"':
                close += 2
                continue
            break
        pos = close + 1


class RecordChunker:
    """Read a stream as a header record followed by pieces of whole records.

    :param stream: binary file-like object, already decompressed.
    :param chunk_bytes: how much to read at a time; pieces are about this size.
    :param max_record_bytes: the longest record accepted before giving up with :class:`ChunkingError`.
    """

    def __init__(self, stream: ReadableStream, chunk_bytes: int, max_record_bytes: int) -> None:
        self._stream = stream
        self._chunk_bytes = chunk_bytes
        self._max_record_bytes = max(max_record_bytes, chunk_bytes)
        self._buf = b""
        self._read_total = 0
        self._eof = False
        self._line = 1
        self._cr_lines = False

    def _fill(self, minimum: int) -> None:
        parts = [self._buf] if self._buf else []
        size = len(self._buf)
        while size < minimum and not self._eof:
            data = self._stream.read(self._chunk_bytes)
            if not data:
                self._eof = True
                break
            parts.append(bytes(data).replace(b"\r", b"\n") if self._cr_lines else bytes(data))
            size += len(data)
            self._read_total += len(data)
        self._buf = parts[0] if len(parts) == 1 else b"".join(parts)

    @property
    def consumed(self) -> int:
        """Bytes of the stream handed out so far (as the header or in pieces)."""
        return self._read_total - len(self._buf)

    def read_header(self) -> bytes | None:
        """The header record without its line ending, or ``None`` for an empty (or blank) stream."""
        self._fill(4)
        if self._buf.startswith(_UTF16_BOMS):
            raise ChunkingError(
                "the file is UTF-16 encoded (it starts with a UTF-16 byte order mark); export it as UTF-8 CSV"
            )
        if self._buf.startswith(_UTF8_BOM):
            self._buf = self._buf[len(_UTF8_BOM) :]
        while True:
            stripped = self._buf.lstrip(b"\r\n")
            self._line += self._buf.count(b"\n", 0, len(self._buf) - len(stripped))
            self._buf = stripped
            if not self._cr_lines and _lone_cr_ends_first_line(self._buf):
                self._cr_lines = True
                self._buf = self._buf.replace(b"\r", b"\n")
            end = first_record_end(self._buf)
            if end or self._eof:
                break
            if len(self._buf) > self._max_record_bytes:
                raise ChunkingError(f"no end of the header line within {self._max_record_bytes} bytes")
            self._fill(len(self._buf) + self._chunk_bytes)
        if not end:
            end = len(self._buf)
        header = self._buf[:end]
        self._buf = self._buf[end:]
        self._line += header.count(b"\n")
        header = header.rstrip(b"\r\n")
        return header if header.strip() else None

    def pieces(self) -> Iterator[Piece]:
        """Yield the records after the header, in pieces of about ``chunk_bytes``."""
        while True:
            self._fill(self._chunk_bytes)
            if not self._buf:
                return
            if self._eof and len(self._buf) > 2 * self._chunk_bytes:
                # Read ahead looking for the end of a quote: cut what follows it into pieces again.
                end, _ = last_record_end(self._buf[: self._chunk_bytes])
                if end:
                    yield self._take(end)
                    continue
            if self._eof:
                end, open_at = last_record_end(self._buf)
                if open_at is None:
                    yield self._take(len(self._buf))
                    return
                if end:
                    yield self._take(end)
                    open_at -= end
                line_end = self._buf.find(b"\n", open_at)
                yield self._take(len(self._buf) if line_end < 0 else line_end + 1, unterminated=True)
                continue
            end, _ = last_record_end(self._buf)
            if end:
                yield self._take(end)
            elif len(self._buf) > self._max_record_bytes:
                raise ChunkingError(
                    f"line {self._line} starts a row longer than {self._max_record_bytes} bytes, "
                    "most likely a quote that is never closed"
                )
            else:
                self._fill(len(self._buf) + self._chunk_bytes)

    def _take(self, end: int, *, unterminated: bool = False) -> Piece:
        newlines = int(np.count_nonzero(np.frombuffer(self._buf, dtype=np.uint8, count=end) == 0x0A))
        lines = newlines + (0 if end and self._buf[end - 1] == 0x0A else 1)
        piece = Piece(self._buf, end, self._line, lines, unterminated)
        self._buf = self._buf[end:]
        self._line += newlines
        return piece
