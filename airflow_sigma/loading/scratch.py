"""Staging on SQLite: a scratch database file written through ADBC, then attached for the merge.

Python's ``sqlite3`` turns every value of every row into a Python object and binds it one by one;
staging millions of rows that way costs as much as the rest of a load together. The ADBC SQLite
driver binds Arrow arrays in C: on the benchmark's files it stages the same rows, with the same
upsert, about 2x faster. It needs a connection of its own, so the rows go to a scratch database file
(no journal, no fsync: nothing in it outlives the run), which the run's connection then ``ATTACH``es
and reads inside its transaction. The warehouse is still written in one transaction; the scratch
file is deleted when the run ends, whether it commits or fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from airflow_sigma.warehouse import Transaction

#: Scratch directories are named ``<prefix><host>-<pid>-<random>`` so that those left by a killed run
#: can be found and removed by the next one.
SCRATCH_PREFIX = "airflow-sigma-stage-"

#: Nothing in the file outlives the run: no journal, no fsync. Bigger pages and a 64 MiB cache halve
#: the system calls of staging millions of rows (about 25% faster on the benchmark's files).
SCRATCH_PRAGMAS = (
    "PRAGMA page_size = 16384",
    "PRAGMA cache_size = -65536",
    "PRAGMA journal_mode = OFF",
    "PRAGMA synchronous = OFF",
)


class ScratchDatabase:
    """A SQLite file written through ADBC, then attached to a transaction (see the module docs).

    ADBC's low-level API is used: its DB-API module imports pandas, which costs seconds per task.

    :param path: the file to create; its directory must exist and be removed by the caller.
    """

    def __init__(self, path: Path) -> None:
        import adbc_driver_manager
        import adbc_driver_sqlite

        self.path = path
        self._database: Any = adbc_driver_sqlite.connect(str(path))
        self._connection: Any = adbc_driver_manager.AdbcConnection(self._database)
        self._statement: Any = adbc_driver_manager.AdbcStatement(self._connection)
        self._sql: str | None = None
        for sql in (*SCRATCH_PRAGMAS, "BEGIN"):
            self.execute(sql)

    def execute(self, sql: str) -> None:
        """Run one statement in the scratch database."""
        self._prepare(sql)
        self._statement.execute_update()

    def executemany(self, sql: str, batch: pa.RecordBatch) -> None:
        """Run ``sql`` once per row of ``batch``, its columns bound to the parameters in order."""
        if batch.num_rows:
            self._prepare(sql)
            self._statement.bind(batch)
            self._statement.execute_update()

    def attach(self, tx: Transaction, alias: str) -> str:
        """Commit and close the ADBC connection, attach the file to ``tx``'s connection as ``alias``
        (no journal there either) and return the quoted alias, to qualify table names with."""
        self.execute("COMMIT")
        self.close()
        quoted = tx.dialect.quote(alias)
        tx.execute(f"ATTACH DATABASE {tx.placeholder} AS {quoted}", [str(self.path)])
        tx.execute(f"PRAGMA {quoted}.journal_mode = OFF")
        return quoted

    def close(self) -> None:
        """Close the ADBC connection (uncommitted rows are dropped); safe to call twice."""
        if self._database is not None:
            for handle in (self._statement, self._connection, self._database):
                handle.close()
            self._database = self._connection = self._statement = None

    def _prepare(self, sql: str) -> None:
        if self._statement is None:
            raise RuntimeError(f"scratch database {self.path} is already attached or closed")
        if sql != self._sql:
            self._statement.set_sql_query(sql)
            self._sql = sql


@contextmanager
def scratch_directory(root: Path | None = None) -> Iterator[Path]:
    """A new directory for a run's scratch database, removed when the block ends.

    A run killed outright (SIGKILL, out of memory) cannot remove its directory, so directories of
    processes of this host that no longer exist are removed first.

    :param root: where to create it; the system's temporary directory (``TMPDIR``) by default.
    """
    root = root or Path(tempfile.gettempdir())
    host = socket.gethostname().replace("-", "_")
    remove_abandoned(root, host)
    prefix = f"{SCRATCH_PREFIX}{host}-{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=root, ignore_cleanup_errors=True) as directory:
        yield Path(directory)


def remove_abandoned(root: Path, host: str) -> list[Path]:
    """Remove the scratch directories in ``root`` of ``host``'s processes that are gone; returns them."""
    removed = []
    for path in root.glob(f"{SCRATCH_PREFIX}{host}-*-*"):
        pid = path.name[len(SCRATCH_PREFIX) + len(host) + 1 :].split("-", 1)[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
