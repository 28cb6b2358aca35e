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

import fcntl
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from airflow_sigma.warehouse import Transaction

log = logging.getLogger(__name__)

#: Scratch directories are named ``<prefix><random>`` so that those left by a killed run can be found
#: and removed by the next one.
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
        self._sql: str | None = None
        with ExitStack() as handles:  # closed here if opening fails, else by close()
            database = handles.enter_context(closing(adbc_driver_sqlite.connect(str(path))))
            self._connection: Any = handles.enter_context(
                closing(adbc_driver_manager.AdbcConnection(database))
            )
            self._statement: Any = handles.enter_context(
                closing(adbc_driver_manager.AdbcStatement(self._connection))
            )
            for sql in SCRATCH_PRAGMAS:
                self.execute(sql)
            self._connection.set_options(**{"adbc.connection.autocommit": "false"})
            self._handles = handles.pop_all()

    def execute(self, sql: str) -> None:
        """Run one statement in the scratch database."""
        self._prepare(sql).execute_update()

    def executemany(self, sql: str, batch: pa.RecordBatch) -> None:
        """Run ``sql`` once per row of ``batch``, its columns bound to the parameters in order."""
        if batch.num_rows:
            statement = self._prepare(sql)
            statement.bind(batch)
            statement.execute_update()

    def attach(self, tx: Transaction, alias: str) -> str:
        """Commit and close the ADBC connection, attach the file to ``tx``'s connection as ``alias``
        (no journal there either) and return the quoted alias, to qualify table names with."""
        self._require_open()
        self._connection.commit()
        self.close()
        quoted = tx.dialect.quote(alias)
        tx.execute(f"ATTACH DATABASE {tx.placeholder} AS {quoted}", [str(self.path)])
        tx.execute(f"PRAGMA {quoted}.journal_mode = OFF")
        return quoted

    def close(self) -> None:
        """Close the ADBC connection, uncommitted rows or not (without a journal, they may be in the
        file: it is scratch, removed with its directory); safe to call twice."""
        self._connection = self._statement = None
        self._handles.close()

    def _require_open(self) -> None:
        if self._statement is None:
            raise RuntimeError(f"scratch database {self.path} is already attached or closed")

    def _prepare(self, sql: str) -> Any:
        self._require_open()
        if sql != self._sql:
            self._statement.set_sql_query(sql)
            self._sql = sql
        return self._statement


@contextmanager
def scratch_directory(root: Path | None = None) -> Iterator[Path]:
    """A new private directory for a run's scratch database, removed when the block ends.

    The run holds an exclusive ``flock`` on the directory while it exists. A run killed outright
    (SIGKILL, out of memory) cannot remove its directory, but the kernel releases its lock, so the
    next run removes every scratch directory whose lock it can take (:func:`remove_abandoned`).

    :param root: where to create it; the system's temporary directory (``TMPDIR``) by default.
    """
    root = Path(root or tempfile.gettempdir())
    remove_abandoned(root)
    # Created under a name the cleanup ignores, and renamed once locked: no run can remove another's.
    hidden = Path(tempfile.mkdtemp(prefix=f".{SCRATCH_PREFIX}", dir=root))
    lock = os.open(hidden, os.O_RDONLY | os.O_DIRECTORY)
    directory = hidden
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        directory = hidden.rename(hidden.with_name(hidden.name[1:]))
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        os.close(lock)


def remove_abandoned(root: Path) -> list[Path]:
    """Remove this user's scratch directories in ``root`` that no run holds; returns them."""
    removed = []
    for path in root.glob(f"{SCRATCH_PREFIX}*"):
        try:
            lock = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # not a directory, another user's, or just removed
            continue
        try:
            if os.fstat(lock).st_uid == os.getuid() and _take(lock):
                shutil.rmtree(path)
                removed.append(path)
        except OSError as error:
            log.warning("Could not remove the abandoned scratch directory %s: %s", path, error)
        finally:
            os.close(lock)
    return removed


def _take(lock: int) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # its run is alive
        return False
    return True
