"""One ``sigma_export_files`` row per file version a job read, written in the run's transaction."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_sigma.events.stats import FileStats
from airflow_sigma.storage import ExportFile
from airflow_sigma.warehouse import EXPORT_FILES, TempTable, Transaction


@dataclass
class FileResult:
    """What happened to one file in a run.

    :param export: the file as listed.
    :param rank: its position in the run, oldest first (from 1).
    :param stats: the reader's row accounting.
    :param duplicates: accepted rows whose event is stored from a newer file (or repeats an event of
        this file); set once the run's events are merged.
    """

    export: ExportFile
    rank: int
    stats: FileStats
    duplicates: int = 0

    @property
    def status(self) -> str:
        """``empty`` for a file without even a header, else ``loaded``."""
        return "empty" if self.stats.empty_file else "loaded"

    def summary(self) -> str:
        """One log line for the file."""
        return f"{self.stats.summary()}, {self.duplicates} duplicate events"


def ensure_export_files(tx: Transaction) -> None:
    """Create ``sigma_export_files`` when missing, and migrate one made before ``bad_row_kinds`` existed
    (its ``bad_rows`` held the breakdown as JSON): that column is renamed ``bad_row_kinds`` and the
    new integer ``bad_rows`` is filled with each row's total. Idempotent; runs in the caller's
    transaction, so a failed run leaves the old table as it was (except on Snowflake, where DDL
    commits)."""
    name = tx.warehouse.unqualified_name(EXPORT_FILES)
    existing = tx.dialect.existing_columns(tx.cursor, tx.warehouse.schema, name) or []
    migrate = "bad_rows" in existing and "bad_row_kinds" not in existing
    table, q = tx.table_name(EXPORT_FILES), tx.dialect.quote
    if migrate:
        tx.execute(f"ALTER TABLE {table} RENAME COLUMN {q('bad_rows')} TO {q('bad_row_kinds')}")
    tx.ensure_tables(EXPORT_FILES)
    if not migrate:
        return
    key = ", ".join(q(k) for k in EXPORT_FILES.key)
    p = tx.placeholder
    for job, uri, etag, kinds in tx.query(
        f"SELECT {key}, {q('bad_row_kinds')} FROM {table}", types=["text", "text", "text", "json"]
    ):
        total = sum(int(n) for n in (kinds or {}).values())
        tx.execute(
            f"UPDATE {table} SET {q('bad_rows')} = {p} WHERE {q('job')} = {p} AND {q('uri')} = {p} "
            f"AND {q('etag')} = {p}",
            [total, job, uri, etag],
        )


def export_files_table(tx: Transaction, job: str) -> TempTable:
    """The empty temp table :func:`record_export_files` stages the files' rows in (created before
    the run writes anything)."""
    return tx.create_temp_table(f"sigma_export_files_{job}", EXPORT_FILES)


def record_export_files(
    tx: Transaction,
    job: str,
    results: Sequence[FileResult],
    run_at: datetime,
    staging: TempTable | None = None,
) -> None:
    """Upsert the files' rows. ``processed_at`` keeps the earliest run time that read a file version,
    so re-running runs in any order leaves the same value.

    :param staging: the table from :func:`export_files_table` (created here when None).
    """
    if not results:
        return
    uris = sorted({result.export["uri"] for result in results})
    first_seen: dict[tuple[str, str], datetime] = {}
    for row in tx.read_table(EXPORT_FILES, {"job": job, "uri": uris}, order_by_key=False):
        values = dict(zip(EXPORT_FILES.column_names, row, strict=True))
        if values["processed_at"] is not None:
            first_seen[(values["uri"], values["etag"])] = values["processed_at"]
    rows = [_row(job, result, run_at, first_seen) for result in results]
    staged = staging or export_files_table(tx, job)
    tx.insert_rows(staged, rows)
    tx.upsert(EXPORT_FILES, staged)


def add_displaced_duplicates(
    tx: Transaction, job: str, displaced: Mapping[str, int], run_uris: Collection[str]
) -> None:
    """Count, as duplicates of earlier runs' files, their events that now come from a newer file.

    The run's own files get fresh counts from :func:`record_export_files`; an earlier file's count is
    raised here, on the row of its newest version read, so the final counts do not depend on the order
    in which runs execute.
    """
    files, p = tx.table_name(EXPORT_FILES), tx.placeholder
    for uri, count in sorted(displaced.items()):
        if uri in run_uris or count <= 0:
            continue
        tx.execute(
            f"UPDATE {files} SET duplicate_events = COALESCE(duplicate_events, 0) + {p} "
            f"WHERE job = {p} AND uri = {p} AND last_modified = "
            f"(SELECT MAX(last_modified) FROM {files} WHERE job = {p} AND uri = {p})",
            [count, job, uri, job, uri],
        )


def _row(
    job: str, result: FileResult, run_at: datetime, first_seen: dict[tuple[str, str], datetime]
) -> tuple[Any, ...]:
    export, stats = result.export, result.stats
    key = (export["uri"], export["version"])
    processed_at = min(run_at, first_seen[key]) if key in first_seen else run_at
    return (
        job,
        export["uri"],
        export["version"],
        export["size"] if export["size"] >= 0 else None,
        export["last_modified"] or None,
        stats.rows_read,
        stats.rows_accepted,
        stats.rows_filtered,
        stats.bad_total,
        dict(sorted(stats.bad_rows.items())),
        result.duplicates,
        processed_at,
        result.status,
    )
