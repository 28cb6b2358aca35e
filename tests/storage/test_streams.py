"""Stream wrapping: gzip by content, text decoding, pyarrow on the binary stream, closing."""

from __future__ import annotations

import gzip
import io

import pyarrow.csv as pacsv
import pytest

from airflow_sigma.storage import ExportStorageError
from airflow_sigma.storage.streams import binary_stream, text_stream

CSV = "request_time,user_email,workbook_url_id\n2024-05-06 10:00:00,a@example.com,wb1\n"


class CountingSource(io.BytesIO):
    """A source that records the largest read and whether it was closed."""

    largest_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.largest_read = max(self.largest_read, len(data))
        return data


def test_plain_bytes_pass_through() -> None:
    with binary_stream(io.BytesIO(CSV.encode()), name="s3://b/x.csv") as stream:
        assert stream.read() == CSV.encode()


def test_gzip_is_detected_by_content() -> None:
    with binary_stream(io.BytesIO(gzip.compress(CSV.encode())), name="s3://b/x.csv") as stream:
        assert stream.read() == CSV.encode()


def test_text_stream_drops_bom_and_keeps_newlines() -> None:
    raw = ("\ufeff" + CSV.replace("\n", "\r\n")).encode()
    with text_stream(binary_stream(io.BytesIO(gzip.compress(raw)), name="x.csv.gz")) as text:
        content = text.read()
    assert content.startswith("request_time,")
    assert "\r\n" in content


def test_pyarrow_reads_a_gzipped_stream_in_batches() -> None:
    rows = "".join(f"2024-05-06 10:00:{i % 60:02d},u{i}@example.com,wb{i}\n" for i in range(20000))
    data = gzip.compress(("request_time,user_email,workbook_url_id\n" + rows).encode())
    with binary_stream(io.BytesIO(data), name="x.csv.gz") as stream:
        reader = pacsv.open_csv(stream, read_options=pacsv.ReadOptions(block_size=64 * 1024))
        total = sum(batch.num_rows for batch in reader)
    assert total == 20000


def test_reads_are_chunked_not_whole_file() -> None:
    source = CountingSource(b"x" * (5 * 1024 * 1024))
    with binary_stream(source, name="big.csv") as stream:
        while stream.read(64 * 1024):
            pass
    assert 0 < source.largest_read <= 1024 * 1024


def test_closing_any_layer_closes_the_source() -> None:
    for payload in (CSV.encode(), gzip.compress(CSV.encode())):
        source = io.BytesIO(payload)
        text = text_stream(binary_stream(source, name="x"))
        text.read()
        text.close()
        assert source.closed


def test_truncated_gzip_names_the_file() -> None:

    broken = gzip.compress(CSV.encode() * 50)[:-20]
    stream = binary_stream(io.BytesIO(broken), name="s3://b/2024-05-06.csv.gz")
    with pytest.raises(ExportStorageError, match=r"s3://b/2024-05-06.csv.gz is not a valid gzip file"):
        stream.read()
    stream.close()


def test_backend_read_errors_name_the_file() -> None:

    class Failing(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            raise ConnectionResetError("connection reset by peer")

    with pytest.raises(ExportStorageError, match=r"Reading gs://b/x.csv failed: connection reset"):
        binary_stream(Failing(b""), name="gs://b/x.csv")
