"""The reader API: list export files in a window and open them as streams (sync).

Used by the listing operator and sensor, and by the impressions and audit-history code::

    from airflow_sigma.storage import ExportReader, list_exports, parse_export_uri

    location = parse_export_uri("s3://bucket/sigma/audit", aws_conn_id="aws_default")
    reader = ExportReader(aws_conn_id="aws_default")
    for export in list_exports(location, start, end):
        with reader.open(export, mode="rb") as stream:
            batches = pyarrow.csv.open_csv(stream)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import IO, Any, Literal, overload

from airflow_sigma.storage.errors import ExportConfigError
from airflow_sigma.storage.model import ExportFile, ExportScan, StoredObject, select_exports
from airflow_sigma.storage.patterns import DEFAULT_PATTERNS, normalise_patterns
from airflow_sigma.storage.streams import BUFFER_SIZE, Readable, binary_stream, text_stream
from airflow_sigma.storage.uri import (
    DEFAULT_AWS_CONN_ID,
    DEFAULT_GCP_CONN_ID,
    ExportLocation,
    ObjectRef,
    parse_object_uri,
)
from airflow_sigma.storage.window import ExportWindow


def iter_objects(location: ExportLocation) -> Iterator[StoredObject]:
    """Every object under the location (sub-folders included), unfiltered, in listing order."""
    if location.scheme == "s3":
        from airflow_sigma.storage.s3 import iter_s3_objects

        return iter_s3_objects(location)
    if location.scheme == "gs":
        from airflow_sigma.storage.gcs import iter_gcs_objects

        return iter_gcs_objects(location)
    from airflow_sigma.storage.local import iter_local_objects

    return iter_local_objects(location)


def scan_exports(
    location: ExportLocation,
    window: ExportWindow,
    *,
    patterns: str | Iterable[str] = DEFAULT_PATTERNS,
) -> ExportScan:
    """List the location and keep files matching ``patterns`` whose last-modified time is in ``window``.

    :param location: from :func:`parse_export_uri`.
    :param window: last-modified window (edges included).
    :param patterns: file-name globs, matched case-insensitively against the file name.
    :return: the files (oldest first) and the counts the operators log.
    """
    globs = normalise_patterns(patterns)
    return select_exports(location, iter_objects(location), window, globs)


def list_exports(
    location: ExportLocation,
    start: datetime | None,
    end: datetime | None,
    *,
    patterns: str | Iterable[str] = DEFAULT_PATTERNS,
) -> list[ExportFile]:
    """Export files last modified in ``[start, end]`` (edges included; None leaves a side open), oldest first.

    :param location: from :func:`parse_export_uri`.
    :param start: earliest last-modified time included.
    :param end: latest last-modified time included.
    :param patterns: file-name globs, default ``*.csv`` and ``*.csv.gz``.
    """
    return scan_exports(location, ExportWindow(start, end), patterns=patterns).files


class ExportReader:
    """Opens export files as streams, reusing one S3 hook / GCS client across files.

    Connection handling is the listing's (same hooks, same checks). Create one per task and call
    :meth:`open` for each file; :func:`open_export` is the one-off shortcut.

    :param aws_conn_id: connection for ``s3://`` files.
    :param gcp_conn_id: connection for ``gs://`` files.
    """

    def __init__(
        self,
        *,
        aws_conn_id: str | None = DEFAULT_AWS_CONN_ID,
        gcp_conn_id: str | None = DEFAULT_GCP_CONN_ID,
    ) -> None:
        self.aws_conn_id = aws_conn_id
        self.gcp_conn_id = gcp_conn_id
        self._s3_hook: Any = None
        self._gcs_client: Any = None

    @overload
    def open(
        self, export: str | Mapping[str, object], *, mode: Literal["rb"] = ..., encoding: str = ...
    ) -> IO[bytes]: ...

    @overload
    def open(
        self, export: str | Mapping[str, object], *, mode: Literal["rt", "r"], encoding: str = ...
    ) -> IO[str]: ...

    def open(
        self,
        export: str | Mapping[str, object],
        *,
        mode: Literal["rb", "rt", "r"] = "rb",
        encoding: str = "utf-8-sig",
    ) -> IO[bytes] | IO[str]:
        """Open one export file as a stream; gzip content is decompressed as it is read.

        The file is streamed: nothing is fetched ahead beyond one buffer, nothing goes to disk.
        Use the stream as a context manager so the HTTP response or file gets closed.

        :param export: an :class:`ExportFile` row (as listed) or its ``uri``.
        :param mode: ``"rb"`` for bytes (e.g. ``pyarrow.csv.open_csv``) or ``"rt"`` for text.
        :param encoding: text encoding for ``"rt"``; the default drops a UTF-8 byte-order mark.
        :raises ExportConfigError: bad URI or mode, or an unusable connection.
        :raises ExportStorageError: the file cannot be found or read.
        """
        if mode not in ("rb", "rt", "r"):
            raise ExportConfigError(f"Export files open with mode 'rb' or 'rt', got {mode!r}.")
        uri = export if isinstance(export, str) else export.get("uri")
        if not isinstance(uri, str):
            raise ExportConfigError(f"Expected an export file URI or a row with a 'uri', got {export!r}.")
        ref = parse_object_uri(uri)
        binary = binary_stream(self._source(ref), name=ref.uri)
        return binary if mode == "rb" else text_stream(binary, encoding=encoding)

    def _source(self, ref: ObjectRef) -> Readable:
        if ref.scheme == "s3":
            from airflow_sigma.storage.s3 import open_s3_object, s3_hook

            if self._s3_hook is None:
                self._s3_hook = s3_hook(self.aws_conn_id)
            return open_s3_object(self._s3_hook, ref)
        if ref.scheme == "gs":
            from airflow_sigma.storage.gcs import gcs_client, open_gcs_object

            if self._gcs_client is None:
                self._gcs_client = gcs_client(self.gcp_conn_id)
            return open_gcs_object(self._gcs_client, ref, self.gcp_conn_id, chunk_size=BUFFER_SIZE)
        from airflow_sigma.storage.local import open_local_file

        return open_local_file(ref.key)


@overload
def open_export(
    export: str | Mapping[str, object],
    *,
    mode: Literal["rb"] = ...,
    encoding: str = ...,
    aws_conn_id: str | None = ...,
    gcp_conn_id: str | None = ...,
) -> IO[bytes]: ...


@overload
def open_export(
    export: str | Mapping[str, object],
    *,
    mode: Literal["rt", "r"],
    encoding: str = ...,
    aws_conn_id: str | None = ...,
    gcp_conn_id: str | None = ...,
) -> IO[str]: ...


def open_export(
    export: str | Mapping[str, object],
    *,
    mode: Literal["rb", "rt", "r"] = "rb",
    encoding: str = "utf-8-sig",
    aws_conn_id: str | None = DEFAULT_AWS_CONN_ID,
    gcp_conn_id: str | None = DEFAULT_GCP_CONN_ID,
) -> IO[bytes] | IO[str]:
    """Open one export file as a stream (see :meth:`ExportReader.open`; use a reader for many files).

    :param export: an :class:`ExportFile` row (as listed) or its ``uri``.
    :param mode: ``"rb"`` for bytes or ``"rt"`` for text.
    :param encoding: text encoding for ``"rt"``.
    :param aws_conn_id: connection for ``s3://`` files (same handling as the listing).
    :param gcp_conn_id: connection for ``gs://`` files.
    """
    reader = ExportReader(aws_conn_id=aws_conn_id, gcp_conn_id=gcp_conn_id)
    return reader.open(export, mode=mode, encoding=encoding)
