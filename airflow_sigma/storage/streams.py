"""Turning a backend's byte stream into the binary or text stream callers read.

Nothing is read ahead beyond one buffer, and nothing is written to disk: a gzip file is
decompressed as it is read. Gzip is recognised by its magic bytes, so ``.csv.gz`` files and
gzip-encoded files without the suffix both read as plain CSV.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from typing import IO, Any, Protocol, TypeVar, cast

from airflow_sigma.storage.errors import ExportStorageError

_T = TypeVar("_T")

GZIP_MAGIC = b"\x1f\x8b"
BUFFER_SIZE = 1024 * 1024


class Readable(Protocol):
    """What a backend hands over: ``read(n)`` returning at most n bytes (b"" at the end) and ``close()``."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class _RawReader(io.RawIOBase):
    """Adapts a backend body (boto StreamingBody, GCS BlobReader, file) to :class:`io.RawIOBase`."""

    def __init__(self, source: Readable, name: str) -> None:
        super().__init__()
        self._source = source
        self.name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            data = self._source.read(len(buffer))
        except Exception as error:  # network or storage errors from the backend's body
            raise ExportStorageError(f"Reading {self.name} failed: {error}") from error
        size = len(data)
        buffer[:size] = data
        return size

    def close(self) -> None:
        if not self.closed:
            try:
                self._source.close()
            finally:
                super().close()


class _GzipReader(gzip.GzipFile):
    """A GzipFile that names the file in decompression errors and closes the stream it reads."""

    def __init__(self, inner: Any, name: str) -> None:
        super().__init__(filename=name, mode="rb", fileobj=inner)
        self._inner = inner
        self._uri = name

    def _guard(self, call: Callable[[int], _T], size: int) -> _T:
        try:
            return call(size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise ExportStorageError(f"{self._uri} is not a valid gzip file: {error}") from error

    def read(self, size: int | None = -1) -> bytes:
        return self._guard(super().read, -1 if size is None else size)

    def read1(self, size: int = -1) -> bytes:
        return self._guard(super().read1, size)

    def peek(self, n: int) -> bytes:
        return self._guard(super().peek, n)

    def readline(self, size: int | None = -1) -> bytes:
        return self._guard(super().readline, -1 if size is None else size)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._inner.close()


def binary_stream(source: Readable, *, name: str) -> IO[bytes]:
    """A buffered binary stream over ``source``, gunzipped when the content is gzip.

    :param source: the backend's body; closed when the returned stream is closed.
    :param name: the file's URI (shown in errors and as the stream's ``name``).
    """
    buffered = io.BufferedReader(_RawReader(source, name), buffer_size=BUFFER_SIZE)
    try:
        is_gzip = buffered.peek(2)[:2] == GZIP_MAGIC
    except BaseException:
        buffered.close()
        raise
    if is_gzip:
        return cast(IO[bytes], _GzipReader(buffered, name))
    return buffered


def text_stream(binary: IO[bytes], *, encoding: str = "utf-8-sig") -> IO[str]:
    """A text stream over ``binary`` with universal newlines left to the CSV reader (``newline=""``).

    :param binary: from :func:`binary_stream`; closed with the text stream.
    :param encoding: text encoding; the default also drops a UTF-8 byte-order mark.
    """
    return io.TextIOWrapper(binary, encoding=encoding, newline="")
