"""SQLite staging through ADBC: the scratch database, its directory, and what a run leaves behind."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from airflow_sigma.events import TooManyBadRowsError
from airflow_sigma.loading.scratch import SCRATCH_PREFIX, ScratchDatabase, remove_abandoned, scratch_directory
from airflow_sigma.warehouse import SqliteDialect, Warehouse
from tests.fixtures.exports import at, load_impressions, write_export


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


def test_closing_before_attaching_drops_the_staged_rows(tmp_path: Path) -> None:
    scratch = ScratchDatabase(tmp_path / "stage.db")
    scratch.execute("CREATE TABLE stage (k TEXT)")
    scratch.executemany("INSERT INTO stage VALUES (?)", pa.record_batch([pa.array(["a"])], ["k"]))
    scratch.close()
    with sqlite3.connect(tmp_path / "stage.db") as db:
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_abandoned_scratch_directories_of_dead_processes_are_removed(tmp_path: Path) -> None:
    host = socket.gethostname().replace("-", "_")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    names = {
        "dead": f"{SCRATCH_PREFIX}{host}-{int(dead.stdout)}-x1",
        "alive": f"{SCRATCH_PREFIX}{host}-{os.getpid()}-x2",
        "other_host": f"{SCRATCH_PREFIX}elsewhere-{int(dead.stdout)}-x3",
        "unrelated": "something-else",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "stage_impressions.db").write_bytes(b"x" * 10)
    assert remove_abandoned(tmp_path, host) == [tmp_path / names["dead"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(v for k, v in names.items() if k != "dead")
    with scratch_directory(tmp_path) as directory:
        assert directory.name.startswith(f"{SCRATCH_PREFIX}{host}-{os.getpid()}-")
    assert not directory.exists()


@pytest.mark.parametrize("outcome", ["loaded", "failed"])
def test_a_sqlite_run_leaves_no_scratch_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    warehouse = Warehouse(lambda: sqlite3.connect(tmp_path / "w.db"), SqliteDialect())
    rows = ["2024-05-01T10:00:00Z,ann@x.com,wbA,el1,2"] + ["bad row"] * (outcome == "failed")
    files = [write_export(tmp_path, "a.csv", rows, modified=at("2024-05-01T12:00"))]
    if outcome == "failed":
        with pytest.raises(TooManyBadRowsError):
            load_impressions(warehouse, files, date(2024, 5, 1))
    else:
        assert load_impressions(warehouse, files, date(2024, 5, 1)).events == 1
    assert list(scratch_root.iterdir()) == []
