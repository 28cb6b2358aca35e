"""SQLite staging through ADBC: the scratch database, its directory, and what a run leaves behind."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from airflow_sigma.events import TooManyBadRowsError
from airflow_sigma.loading.loader import staging_columns
from airflow_sigma.loading.merge import StagedMerge
from airflow_sigma.loading.scratch import SCRATCH_PREFIX, ScratchDatabase, remove_abandoned, scratch_directory
from airflow_sigma.storage import ExportFile
from airflow_sigma.testing.exports import ExportSpec, write_exports
from airflow_sigma.warehouse import AUDIT_EVENTS, EXPORT_FILES, IMPRESSION_EVENTS, SqliteDialect, Warehouse
from tests.fixtures.exports import at, listed, load_audit, load_impressions, write_export


def write_sample_exports(folder: Path) -> list[ExportFile]:
    """A day and a half of raw audit-log exports: impressions, logins and other events."""
    spec = ExportSpec(
        workbooks={f"wb{n}": [f"e{n}.{k}" for k in range(n % 3)] for n in range(4)},
        users=["ann@x.com", "bob@x.com"],
        start=date(2024, 5, 1),
        days=2,
        events_per_day=40,
        files=3,
    )
    write_exports(folder, spec)
    return listed(folder)


def test_rows_staged_through_adbc_are_read_in_the_runs_transaction(tmp_path: Path) -> None:
    warehouse = Warehouse(lambda: sqlite3.connect(tmp_path / "w.db"), SqliteDialect())
    scratch = ScratchDatabase(tmp_path / "stage.db")
    scratch.execute("CREATE TABLE stage (k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID")
    upsert = (
        "INSERT INTO stage VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET n = excluded.n WHERE excluded.n > n"
    )
    scratch.executemany(upsert, pa.record_batch([pa.array(["a", "b", "a"]), pa.array([1, 5, 3])], ["k", "n"]))
    scratch.executemany(
        upsert, pa.record_batch([pa.array([], pa.string()), pa.array([], pa.int64())], ["k", "n"])
    )
    with warehouse.transaction() as tx:
        alias = scratch.attach(tx, "sigma_scratch_test")
        assert tx.query(f"SELECT k, n FROM {alias}.stage ORDER BY k") == [("a", 3), ("b", 5)]
        tx.execute(f"DELETE FROM {alias}.stage WHERE k = 'a'")  # the merge may change it, unjournaled
    with pytest.raises(RuntimeError, match="already attached or closed"):
        scratch.execute("SELECT 1")
    scratch.close()  # a second close does nothing


def test_a_failing_statement_raises_and_closing_twice_is_harmless(tmp_path: Path) -> None:
    scratch = ScratchDatabase(tmp_path / "stage.db")
    with pytest.raises(Exception, match="no such table"):
        scratch.execute("INSERT INTO missing VALUES (1)")
    scratch.close()
    scratch.close()
    with pytest.raises(RuntimeError, match="already attached or closed"):
        scratch.executemany("INSERT INTO stage VALUES (?)", pa.record_batch([pa.array(["a"])], ["k"]))


def test_sqlite_staging_needs_a_scratch_directory(tmp_path: Path) -> None:
    warehouse = Warehouse(lambda: sqlite3.connect(tmp_path / "w.db"), SqliteDialect())
    with warehouse.transaction() as tx:
        tx.ensure_tables(EXPORT_FILES, IMPRESSION_EVENTS)
        columns = staging_columns(IMPRESSION_EVENTS)
        with pytest.raises(ValueError, match="needs a scratch_dir"):
            StagedMerge(tx, "impressions", IMPRESSION_EVENTS, columns)


def test_only_scratch_directories_no_run_holds_are_removed(tmp_path: Path) -> None:
    with scratch_directory(tmp_path) as held:
        assert held.name.startswith(SCRATCH_PREFIX) and held.stat().st_mode & 0o777 == 0o700
        (held / "stage_impressions.db").write_bytes(b"x" * 10)
        abandoned = tmp_path / f"{SCRATCH_PREFIX}killed"
        (abandoned / "sub").mkdir(parents=True)
        (abandoned / "sub" / "stage_audit.db").write_bytes(b"x" * 10)
        others = [f".{SCRATCH_PREFIX}being-created", "something-else"]
        for name in others:
            (tmp_path / name).mkdir()
        (tmp_path / f"{SCRATCH_PREFIX}a-file").write_text("not a directory")
        assert remove_abandoned(tmp_path) == [abandoned]
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == sorted([held.name, *others, f"{SCRATCH_PREFIX}a-file"])
        with scratch_directory(tmp_path) as second:  # also cleans up first, and spares the held one
            assert second != held and held.exists()
    assert not held.exists() and not second.exists()


def test_a_scratch_directory_is_released_when_its_process_dies(tmp_path: Path) -> None:
    child = (
        "import os, sys; from pathlib import Path\n"
        "from airflow_sigma.loading.scratch import scratch_directory\n"
        "with scratch_directory(Path(sys.argv[1])) as d:\n"
        "    print(d, flush=True); sys.stdin.readline(); os._exit(9)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", child, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdin is not None
    directory = Path(process.stdout.readline().strip())
    assert remove_abandoned(tmp_path) == [] and directory.exists()  # its process holds it
    process.stdin.write("\n")
    process.stdin.close()
    assert process.wait(timeout=60) == 9  # exited without removing it
    assert remove_abandoned(tmp_path) == [directory] and not directory.exists()


@pytest.mark.parametrize("job", ["impressions", "audit"])
def test_staged_values_keep_the_storage_types_of_their_columns(tmp_path: Path, job: str) -> None:
    files = write_sample_exports(tmp_path / "exports")
    warehouse = Warehouse(lambda: sqlite3.connect(tmp_path / "w.db"), SqliteDialect())
    result = {"impressions": load_impressions, "audit": load_audit}[job](warehouse, files, date(2024, 5, 2))
    assert result.events > 0
    table = {"impressions": IMPRESSION_EVENTS, "audit": AUDIT_EVENTS}[job]
    stored = {"text": "text", "date": "text", "timestamp": "text", "json": "text", "integer": "integer"}
    with closing(sqlite3.connect(tmp_path / "w.db")) as db:
        for column in table.columns:
            name = warehouse.unqualified_name(table)
            kinds = {k for (k,) in db.execute(f'SELECT DISTINCT typeof("{column.name}") FROM {name}')}
            assert kinds - {"null"} == {stored[column.type]}, column.name


@pytest.mark.parametrize("outcome", ["loaded", "failed"])
def test_a_sqlite_run_leaves_no_scratch_files(tmp_path: Path, scratch_root: Path, outcome: str) -> None:
    warehouse = Warehouse(lambda: sqlite3.connect(tmp_path / "w.db"), SqliteDialect())
    rows = ["2024-05-01T10:00:00Z,ann@x.com,wbA,el1,2"] + ["bad row"] * (outcome == "failed")
    files = [write_export(tmp_path, "a.csv", rows, modified=at("2024-05-01T12:00"))]
    if outcome == "failed":
        with pytest.raises(TooManyBadRowsError):
            load_impressions(warehouse, files, date(2024, 5, 1))
    else:
        assert load_impressions(warehouse, files, date(2024, 5, 1)).events == 1
    assert list(scratch_root.iterdir()) == []
