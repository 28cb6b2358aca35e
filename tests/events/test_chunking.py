"""Cutting the byte stream into pieces of whole records, compared with Python's csv module."""

from __future__ import annotations

import csv
import io
import random

import pytest

from airflow_sigma.events.chunking import (
    ChunkingError,
    RecordChunker,
    first_record_end,
    last_record_end,
    newlines_outside_quotes,
)
from airflow_sigma.events.source import CsvEventSource
from airflow_sigma.events.stats import FileStats
from airflow_sigma.events.values import decode_utf8


def _random_field(rnd: random.Random) -> str:
    kind = rnd.randrange(6)
    if kind == 0:
        return ""
    if kind == 1:  # a quoted field with delimiters, doubled quotes and line breaks inside
        body = "".join(
            rnd.choice(["a", ",", '""', "\n", "\r\n", " ", "é"]) for _ in range(rnd.randrange(1, 12))
        )
        return f'"{body}"'
    if kind == 2:  # a stray quote inside an unquoted field is a literal character
        return f'x{rnd.randrange(99)}"inch'
    return "".join(rnd.choice("abcxyz019@._-") for _ in range(rnd.randrange(1, 20)))


def _random_csv(rnd: random.Random, rows: int) -> bytes:
    newline = rnd.choice(["\n", "\r\n"])
    lines = ["a,b,c"] + [",".join(_random_field(rnd) for _ in range(3)) for _ in range(rows)]
    return (newline.join(lines) + rnd.choice(["", newline])).encode("utf-8")


def _records(data: bytes) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")) if row]


class _Trickle(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read, like a network or gzip stream."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._pos, self._step = data, 0, step

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._pos + min(size, self._step)
        chunk, self._pos = self._data[self._pos : end], min(end, len(self._data))
        return chunk


@pytest.mark.parametrize("seed", range(12))
def test_pieces_are_whole_records(seed: int) -> None:
    rnd = random.Random(seed)
    data = _random_csv(rnd, rows=rnd.randrange(1, 120))
    expected = _records(data)
    for chunk_bytes in (1, 7, 64, 1000, 1 << 20):
        chunker = RecordChunker(_Trickle(data, rnd.randrange(1, 50)), chunk_bytes, max_record_bytes=1 << 20)
        header = chunker.read_header()
        assert header == b"a,b,c"
        got = [["a", "b", "c"]]
        line = 2
        for piece in chunker.pieces():
            assert not piece.unterminated
            assert piece.first_line == line
            piece_bytes = bytes(piece.data)
            got += _records(piece_bytes)
            line += piece_bytes.count(b"\n")
        assert got == expected, (seed, chunk_bytes)


def test_last_record_end_with_and_without_stray_quotes() -> None:
    assert last_record_end(b"a,b\nc,d\ne,f") == (8, None)
    assert last_record_end(b'a,"b\nc",d\ne') == (10, None)
    assert last_record_end(b'a,"b\nc') == (0, 2)
    assert last_record_end(b'5" screen,x\ny,"open\nz') == (12, 14)
    assert last_record_end(b'a,"x"y"\nb\n') == (10, None)


def test_first_record_end() -> None:
    assert first_record_end(b'"a\nb",c\nd') == 8
    assert first_record_end(b'"a""\n",c') == 0
    assert first_record_end(b'x"y,z\nw') == 6


def test_an_unterminated_quote_costs_its_line_and_reading_goes_on() -> None:
    chunker = RecordChunker(io.BytesIO(b'h1,h2\n1,2\n3,"4\n5,6\n7,8'), 1 << 10, 1 << 20)
    assert chunker.read_header() == b"h1,h2"
    pieces = list(chunker.pieces())
    assert [bytes(p.data) for p in pieces] == [b"1,2\n", b'3,"4\n', b"5,6\n7,8"]
    assert [p.unterminated for p in pieces] == [False, True, False]
    assert [p.first_line for p in pieces] == [2, 3, 4]


def test_an_unterminated_quote_opened_on_a_later_line_of_its_record() -> None:
    chunker = RecordChunker(io.BytesIO(b'h1,h2\n"a\nb",c,"d\n5,6\n'), 1 << 10, 1 << 20)
    chunker.read_header()
    pieces = list(chunker.pieces())
    assert [(bytes(p.data), p.unterminated, p.num_lines) for p in pieces] == [
        (b'"a\nb",c,"d\n', True, 2),
        (b"5,6\n", False, 1),
    ]


def test_lines_after_an_unterminated_quote_are_cut_into_pieces_again() -> None:
    body = b"".join(b"%d,x\n" % n for n in range(2000))
    chunker = RecordChunker(io.BytesIO(b'h1,h2\n1,"2\n' + body), 256, 1 << 20)
    chunker.read_header()
    pieces = list(chunker.pieces())
    assert pieces[0].unterminated and bytes(pieces[0].data) == b'1,"2\n'
    assert max(p.size for p in pieces[1:]) <= 2 * 256
    assert b"".join(bytes(p.data) for p in pieces[1:]) == body
    assert [p.first_line for p in pieces[:2]] == [2, 3]


@pytest.mark.parametrize("step", [1, 5, 1 << 10])
def test_cr_line_endings_are_read_as_line_feeds(step: int) -> None:
    chunker = RecordChunker(_Trickle(b'h1,h2\r1,"a\rb"\r3,4\r', step), 8, 1 << 20)
    assert chunker.read_header() == b"h1,h2"
    pieces = list(chunker.pieces())
    assert b"".join(bytes(p.data) for p in pieces) == b'1,"a\nb"\n3,4\n'
    assert pieces[0].first_line == 2


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b"h1,h2\r\n1,\r2\r\n", b"1,\r2\r\n"),
        (b"h1,h2\n1,\r2\n", b"1,\r2\n"),
        (b"h1,h2\r", b""),
        (b"h1,h2\r\n\r\n1,2\r\n", b"\r\n1,2\r\n"),
    ],
)
def test_crlf_and_lf_files_keep_their_carriage_returns(data: bytes, rows: bytes) -> None:
    chunker = RecordChunker(io.BytesIO(data), 1 << 10, 1 << 20)
    assert chunker.read_header() == b"h1,h2"
    assert b"".join(bytes(p.data) for p in chunker.pieces()) == rows


def test_record_longer_than_the_limit() -> None:
    chunker = RecordChunker(io.BytesIO(b"h\n" + b"x" * 5000 + b"\n"), 100, 1000)
    chunker.read_header()
    with pytest.raises(ChunkingError, match="line 2 starts a row longer than 1000 bytes"):
        list(chunker.pieces())


def test_leading_blank_lines_before_the_header() -> None:
    chunker = RecordChunker(io.BytesIO(b"\r\n\nh1,h2\n1,2\n"), 3, 1 << 20)
    assert chunker.read_header() == b"h1,h2"
    assert [p.first_line for p in chunker.pieces()] == [4]


@pytest.mark.parametrize("seed", range(6))
def test_parsed_rows_match_python_csv_whatever_the_piece_size(seed: int) -> None:
    rnd = random.Random(100 + seed)
    data = _random_csv(rnd, rows=200)
    expected = [[value.strip() for value in row] for row in _records(data)[1:]]
    for chunk_bytes in (5, 333, 1 << 20):
        stats = FileStats("mem://random.csv")
        source = CsvEventSource(io.BytesIO(data), stats, chunk_bytes=chunk_bytes)
        rows: list[list[str]] = []
        for raw in source.tables([0, 1, 2]):
            columns = [decode_utf8(raw.columns[i])[0].to_pylist() for i in range(3)]
            rows += [list(row) for row in zip(*columns, strict=True)]
        assert rows == expected, (seed, chunk_bytes)
        assert stats.rows_read == len(expected) and stats.bad_total == 0


@pytest.mark.parametrize("seed", range(6))
def test_newlines_outside_quotes_end_the_records(seed: int) -> None:
    data = _random_csv(random.Random(200 + seed), rows=100).rstrip(b"\r\n") + b"\n"
    flags = newlines_outside_quotes(data)
    assert len(flags) == data.count(b"\n")
    assert int(flags.sum()) == len(_records(data))
    assert newlines_outside_quotes(b'a,x"y\nb\n').tolist() == [True, True]  # a literal quote
    assert newlines_outside_quotes(b'"a\nb"c,d\ne\n').tolist() == [False, True, True]  # a stray closer
