"""A crash between staging and merge leaves the warehouse exactly as it was, and the next run is right.

The faults are injected in the database and the process, never in our code: a trigger on the job's
event table fires on the merge's first insert (every file is staged by then) and either raises, or
blocks so that the PostgreSQL backend can be terminated, or the loading process killed with SIGKILL.
Before/after states compare every table's content byte for byte (SQLite: the SQL dump and the
checkpointed file; PostgreSQL: each table's rows as text).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.storage import ExportFile
from airflow_sigma.testing.exports import ExportSpec, GroundTruth, write_exports
from airflow_sigma.warehouse import DAILY_LOGINS, IMPRESSIONS_DAILY, Warehouse
from tests.fixtures.exports import listed, make_warehouse, tables
from tests.reliability.jobs import JOB_TABLES, JOBS, load_job

REPO = Path(__file__).resolve().parents[2]
SPEC = ExportSpec(
    workbooks={f"wb{n}": [f"e{n}.{k}" for k in range(n % 4)] for n in range(12)},
    users=[f"user{n}@x.com" for n in range(8)],
    start=date(2024, 5, 1),
    days=3,
    events_per_day=300,
    files=6,
)
FIRST_RUN, SECOND_RUN = date(2024, 5, 2), date(2024, 5, 3)
TRIGGER = "sigma_test_crash"
LOCK_KEY = 4242
DEADLINE = 60.0  # seconds any wait in these tests may take


@pytest.fixture
def exports(tmp_path: Path) -> tuple[list[ExportFile], GroundTruth]:
    truth = write_exports(tmp_path / "exports", SPEC)
    return listed(tmp_path / "exports"), truth


def runs(files: list[ExportFile]) -> list[tuple[list[ExportFile], date]]:
    """Two overlapping runs: the first half of the files, then all of them (late files included)."""
    return [(files[: len(files) // 2], FIRST_RUN), (files, SECOND_RUN)]


def target_of(job: str, warehouse: Warehouse) -> str:
    return warehouse.unqualified_name(JOB_TABLES[job][0])


# -- states -----------------------------------------------------------------------------------------------


def sqlite_state(path: Path) -> tuple[str, bytes]:
    """The SQL dump of every table and the database file's bytes once the WAL is checkpointed."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dump = "\n".join(db.iterdump())
    return dump, path.read_bytes()


def postgres_state(dsn: str) -> dict[str, tuple[int, str]]:
    """Per table of the public schema: its row count and the MD5 of its rows as text, in order."""
    import psycopg

    with psycopg.connect(dsn) as db:
        names = [row[0] for row in db.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )]  # fmt: skip
        return {
            name: db.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                f'FROM "{name}" t'
            ).fetchone()
            for name in names
        }


# -- faults -----------------------------------------------------------------------------------------------


def sqlite_trigger(path: Path, table: str, action: str, after_rows: int = 0) -> None:
    """Run ``action`` on the insert that brings ``table`` to ``after_rows`` more rows than it has now."""
    with closing(sqlite3.connect(path)) as db:
        (count,) = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()
        when = f'(SELECT count(*) FROM "{table}") >= {count + max(after_rows, 1)}'
        db.execute(f'CREATE TRIGGER {TRIGGER} AFTER INSERT ON "{table}" WHEN {when} BEGIN {action}; END')
        db.commit()


def drop_sqlite_trigger(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute(f"DROP TRIGGER {TRIGGER}")
        db.commit()


def postgres_trigger(dsn: str, table: str, body: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(f"CREATE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} END $$")
        db.execute(
            f'CREATE TRIGGER {TRIGGER} AFTER INSERT ON "{table}" FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()'
        )


def drop_postgres_trigger(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute(f"DROP FUNCTION {TRIGGER}() CASCADE")


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {DEADLINE}s waiting for {what}")


@pytest.fixture
def postgres_lock(postgres_database: str) -> Iterator[Any]:
    """A session holding advisory lock LOCK_KEY, so the trigger blocks the merge until it is released."""
    import psycopg

    with psycopg.connect(postgres_database, autocommit=True) as db:
        db.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        yield db


CHILD = """
import json, sqlite3, sys, time
from datetime import date
from pathlib import Path
from airflow_sigma.warehouse import SqliteDialect, Warehouse
from tests.reliability.jobs import load_job

path, marker, job, run_date, files, journal_mode = sys.argv[1:7]

def crash_point():
    Path(marker).write_text("merging")
    time.sleep(120)  # killed here

def connect():
    db = sqlite3.connect(path)
    db.create_function("crash_point", 0, crash_point)
    db.execute("PRAGMA cache_size = 2")  # spill the uncommitted merge into the database files before the kill
    return db

dialect = SqliteDialect(journal_mode=journal_mode)
load_job(job, Warehouse(connect, dialect), json.loads(files), date.fromisoformat(run_date))
"""


# -- tests ------------------------------------------------------------------------------------------------


def expected_tables(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str, job: str, files: list[ExportFile]
) -> dict[str, list[tuple[Any, ...]]]:
    """The tables after the two runs with no crash, in another database (SQLite) or schema (PostgreSQL)."""
    (tmp_path / "clean").mkdir()
    clean = make_warehouse(
        request, tmp_path / "clean", backend, schema=None if backend == "sqlite" else "clean"
    )
    for run_files, run_date in runs(files):
        load_job(job, clean, run_files, run_date)
    return tables(clean, JOB_TABLES[job])


def assert_correct(warehouse: Warehouse, job: str, expected: dict[str, Any], truth: GroundTruth) -> None:
    assert tables(warehouse, JOB_TABLES[job]) == expected
    if job == "impressions":
        daily = {tuple(row[:4]): row[4] for row in warehouse.read_table(IMPRESSIONS_DAILY)}
        assert daily == dict(truth.impressions)
    else:
        assert {row[0]: list(row[1:]) for row in warehouse.read_table(DAILY_LOGINS)} == truth.logins


@pytest.mark.parametrize("job", JOBS)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_failing_merge_changes_nothing_and_the_next_run_is_correct(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    backend: str,
    job: str,
    exports: Any,
    scratch_root: Path,
) -> None:
    files, truth = exports
    warehouse = make_warehouse(request, tmp_path, backend)
    (first, first_date), (second, second_date) = runs(files)
    load_job(job, warehouse, first, first_date)
    table = target_of(job, warehouse)
    if backend == "sqlite":
        path = tmp_path / "warehouse.db"
        sqlite_trigger(path, table, f"SELECT RAISE(ABORT, 'injected crash in the merge into {table}')")
        state: Callable[[], Any] = lambda: sqlite_state(path)  # noqa: E731
    else:
        dsn = request.getfixturevalue("postgres_database")
        postgres_trigger(dsn, table, f"RAISE EXCEPTION 'injected crash in the merge into {table}';")
        state = lambda: postgres_state(dsn)  # noqa: E731
    before = state()
    with pytest.raises(Exception, match=f"injected crash in the merge into {table}"):
        load_job(job, warehouse, second, second_date)
    assert state() == before
    assert list(scratch_root.iterdir()) == []
    if backend == "sqlite":
        drop_sqlite_trigger(path)
    else:
        drop_postgres_trigger(dsn)
    load_job(job, warehouse, second, second_date)
    assert_correct(warehouse, job, expected_tables(request, tmp_path, backend, job, files), truth)


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
@pytest.mark.parametrize("job", JOBS)
def test_sqlite_load_killed_during_the_merge(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    job: str,
    journal_mode: str,
    exports: Any,
    scratch_root: Path,
) -> None:
    files, truth = exports
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA journal_mode = {journal_mode}")
    warehouse = make_warehouse(request, tmp_path, "sqlite")
    (first, first_date), (second, second_date) = runs(files)
    load_job(job, warehouse, first, first_date)
    sqlite_trigger(path, target_of(job, warehouse), "SELECT crash_point()", after_rows=100)
    before = sqlite_state(path)
    marker, errors = tmp_path / "merging", tmp_path / "child.stderr"
    with errors.open("wb") as stderr:
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                str(path),
                str(marker),
                job,
                second_date.isoformat(),
                json.dumps(second),
                journal_mode,
            ],
            cwd=REPO,
            env={**os.environ, "TMPDIR": str(scratch_root)},
            stderr=stderr,
        )
    try:
        wait_for(lambda: marker.exists() or child.poll() is not None, "the load to reach the merge")
        assert marker.exists(), errors.read_text()
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=DEADLINE) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=DEADLINE)
    # the killed run had written into the WAL, or the database file with its rollback journal
    assert Path(f"{path}-{'wal' if journal_mode == 'wal' else 'journal'}").stat().st_size > 0
    abandoned = list(scratch_root.glob("airflow-sigma-stage-*/*.db"))
    assert abandoned, "the killed run's scratch database"
    assert sqlite_state(path) == before
    drop_sqlite_trigger(path)
    load_job(job, warehouse, second, second_date)
    assert list(scratch_root.iterdir()) == []  # the next run removed the abandoned scratch directory
    assert_correct(warehouse, job, expected_tables(request, tmp_path, "sqlite", job, files), truth)


@pytest.mark.parametrize("job", JOBS)
def test_postgres_backend_terminated_during_the_merge(
    request: pytest.FixtureRequest, tmp_path: Path, job: str, exports: Any, postgres_lock: Any
) -> None:
    import psycopg

    files, truth = exports
    dsn = request.getfixturevalue("postgres_database")
    warehouse = make_warehouse(request, tmp_path, "postgres")
    (first, first_date), (second, second_date) = runs(files)
    load_job(job, warehouse, first, first_date)
    postgres_trigger(
        dsn, target_of(job, warehouse), f"PERFORM pg_advisory_xact_lock({LOCK_KEY}); RETURN NULL;"
    )
    before = postgres_state(dsn)
    terminated: list[bool] = []

    def terminate_the_blocked_load() -> None:
        waiting = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        pid = wait_for(lambda: postgres_lock.execute(waiting).fetchone(), "the load to block in the merge")
        terminated.append(postgres_lock.execute("SELECT pg_terminate_backend(%s)", pid).fetchone()[0])

    killer = threading.Thread(target=terminate_the_blocked_load, daemon=True)
    killer.start()
    with pytest.raises(psycopg.OperationalError):
        load_job(job, warehouse, second, second_date)
    killer.join(timeout=DEADLINE)
    assert terminated == [True]
    postgres_lock.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    assert postgres_state(dsn) == before
    drop_postgres_trigger(dsn)
    load_job(job, warehouse, second, second_date)
    assert_correct(warehouse, job, expected_tables(request, tmp_path, "postgres", job, files), truth)
