"""Local-folder listing and reading (file:///dir), with exact last-modified edges via os.utime."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from airflow_sigma.exceptions import TerminalError
from airflow_sigma.storage import (
    ExportAccessError,
    ExportStorageError,
    ExportWindow,
    list_exports,
    open_export,
    parse_export_uri,
    scan_exports,
)
from tests.storage._data import (
    CSV_BYTES,
    CSV_GZ_BYTES,
    CSV_TEXT,
    INTERVAL_END,
    WINDOW_START,
    epoch_ns,
)

TICK = timedelta(microseconds=1)


def write(path: Path, content: bytes, when) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, ns=(epoch_ns(when), epoch_ns(when)))
    return path


@pytest.fixture
def export_dir(tmp_path: Path) -> Path:
    root = tmp_path / "sigma exports"
    write(root / "2024-05-05-0000 at start edge.csv", CSV_BYTES, WINDOW_START)
    write(root / "2024-05-04-2359 just before.csv", CSV_BYTES, WINDOW_START - TICK)
    write(root / "2024-05-07-0000 at end edge.csv.gz", CSV_GZ_BYTES, INTERVAL_END)
    write(root / "2024-05-07-0001 just after.csv", CSV_BYTES, INTERVAL_END + TICK)
    write(
        root / "nested" / "deeper" / "2024-05-06-1200 nested.csv", CSV_BYTES, WINDOW_START + timedelta(days=1)
    )
    write(root / "2024-05-06-1200 notes.txt", b"not an export", WINDOW_START + timedelta(days=1))
    write(
        tmp_path / "sigma exports-old" / "2024-05-06-1200 sibling.csv",
        CSV_BYTES,
        WINDOW_START + timedelta(days=1),
    )
    return root


def test_lists_window_with_both_edges_oldest_first(export_dir: Path) -> None:
    location = parse_export_uri(f"file://{export_dir}")
    files = list_exports(location, WINDOW_START, INTERVAL_END)
    names = [Path(f["uri"]).name for f in files]
    assert names == [
        "2024-05-05-0000 at start edge.csv",
        "2024-05-06-1200 nested.csv",
        "2024-05-07-0000 at end edge.csv.gz",
    ]
    first = files[0]
    assert first["uri"] == f"file://{export_dir}/2024-05-05-0000 at start edge.csv"
    assert first["size"] == len(CSV_BYTES)
    assert first["last_modified"] == "2024-05-05T00:00:00+00:00"
    assert first["version"] == f"{epoch_ns(WINDOW_START)}-{len(CSV_BYTES)}"


def test_scan_counts_seen_matched_and_in_window(export_dir: Path) -> None:
    scan = scan_exports(parse_export_uri(f"file://{export_dir}/"), ExportWindow(WINDOW_START, INTERVAL_END))
    assert (scan.objects_seen, scan.pattern_matches, len(scan.files)) == (6, 5, 3)
    assert "6 object(s) seen, 5 matched" in scan.summary()


def test_version_changes_when_the_file_is_rewritten(export_dir: Path) -> None:
    location = parse_export_uri(f"file://{export_dir}")
    before = {f["uri"]: f["version"] for f in list_exports(location, None, None)}
    path = export_dir / "2024-05-05-0000 at start edge.csv"
    write(path, CSV_BYTES + b"2024-05-06 11:00:00,cy@example.com,wb2,,1\n", WINDOW_START)
    after = {f["uri"]: f["version"] for f in list_exports(location, None, None)}
    changed = [uri for uri in before if before[uri] != after[uri]]
    assert changed == [f"file://{path}"]


def test_more_than_a_thousand_files(tmp_path: Path) -> None:
    for i in range(1203):
        (tmp_path / f"2024-05-06-{i:04d}.csv").write_bytes(b"a\n1\n")
    files = list_exports(parse_export_uri(f"file://{tmp_path}"), None, None)
    assert len(files) == 1203


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    location = parse_export_uri(f"file://{tmp_path}/does-not-exist")
    with pytest.raises(ExportStorageError, match=r"does-not-exist/ does not exist"):
        list_exports(location, None, None)


def test_custom_pattern(export_dir: Path) -> None:
    files = list_exports(parse_export_uri(f"file://{export_dir}"), None, None, patterns="*notes.txt")
    assert [Path(f["uri"]).name for f in files] == ["2024-05-06-1200 notes.txt"]


def test_open_plain_and_gzip_as_text_and_binary(export_dir: Path) -> None:
    files = list_exports(parse_export_uri(f"file://{export_dir}"), WINDOW_START, INTERVAL_END)
    for export in files:
        with open_export(export, mode="rt") as text:
            assert text.read() == CSV_TEXT
        with open_export(export["uri"], mode="rb") as binary:
            table = pacsv.open_csv(binary).read_all()
        assert table.num_rows == 2
        assert table.column_names[:3] == ["request_time", "user_email", "workbook_url_id"]


def test_open_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ExportStorageError, match="Cannot open export file"):
        open_export(f"file://{tmp_path}/gone.csv")


def _raised_by_an_unprivileged_user(action: Callable[[], object]) -> str:
    """``"<class>: <message>"`` of what ``action`` raises for a user without root's rights: this user,
    or, when the tests run as root (who reads everything), a forked child that has become ``nobody``."""

    def attempt() -> str:
        try:
            action()
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        return "nothing raised"

    if os.geteuid() != 0:
        return attempt()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, attempt().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reply:
        text = reply.read().decode()
    os.waitpid(pid, 0)
    return text


@pytest.fixture
def guarded() -> Iterator[Path]:
    """A world-readable folder holding a folder and a file only their owner may read."""
    root = Path(tempfile.mkdtemp(prefix="sigma-guarded-"))  # not under tmp_path: only root may enter that
    try:
        root.chmod(0o755)
        write(root / "locked" / "a.csv", CSV_BYTES, WINDOW_START).chmod(0o600)
        (root / "locked").chmod(0o700)
        write(root / "open" / "secret.csv", CSV_BYTES, WINDOW_START).chmod(0o600)
        yield root
    finally:
        shutil.rmtree(root)


def test_a_folder_the_worker_may_not_list_fails_without_retries(guarded: Path) -> None:
    location = parse_export_uri(f"file://{guarded}/locked")
    raised = _raised_by_an_unprivileged_user(lambda: list_exports(location, None, None))
    assert raised.startswith("ExportAccessError: Cannot list local export folder")
    assert "Permission denied" in raised and "must be able to read it" in raised
    assert issubclass(ExportAccessError, TerminalError)


def test_a_file_the_worker_may_not_read_fails_without_retries(guarded: Path) -> None:
    raised = _raised_by_an_unprivileged_user(lambda: open_export(f"file://{guarded}/open/secret.csv").close())
    assert raised.startswith(f"ExportAccessError: Cannot open export file file://{guarded}/open/secret.csv")
    assert "Permission denied" in raised


def test_a_file_gone_since_listed_is_retried(tmp_path: Path) -> None:
    with pytest.raises(ExportStorageError) as raised:
        open_export(f"file://{tmp_path}/gone.csv")
    assert raised.value.retryable and not isinstance(raised.value, ExportAccessError)
