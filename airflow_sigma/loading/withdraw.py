"""Events withdrawn from an export rewritten in place.

An export file can be rewritten under the same URI (a new S3 ETag, GCS generation, or local
modification time and size). A run that reads a file whose *other* version it finds in
``sigma_export_files`` treats it as rewritten, and its stored events follow the new version:

- an event stored from the file (``source_uri``) that no file of the run holds is deleted from the
  event table and counted as withdrawn; its day's derived tables are rebuilt;
- an event stored from the file that an older file of the run still holds stays, with that file's
  values and URI (the merge's usual rule: the newest file holding an event supplies it);
- files the run does not read are not consulted: an event that only such a file still holds is
  withdrawn too, and comes back when a run reads that file again (``files=`` naming it);
- a rewritten file that now holds no row at all (empty, or a header only) while events are stored from
  it fails the run (:class:`EmptiedExportError`) instead of withdrawing them all: an export truncated
  to nothing is far likelier a broken write than the end of every event it held.

A file read again at a version already recorded, or given as a plain URI (no version to compare),
withdraws nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date

from airflow_sigma.exceptions import BadInputError
from airflow_sigma.loading.records import FileResult
from airflow_sigma.loading.sql import ensure_index
from airflow_sigma.storage import ExportFile
from airflow_sigma.warehouse import EXPORT_FILES, Table, TempTable, Transaction

_SAMPLES = 5


class EmptiedExportError(BadInputError, ValueError):
    """A rewritten export file now holds no row, while stored events come from it (see the module)."""


@dataclass(frozen=True)
class Withdrawal:
    """What a merge removed because rewritten files no longer hold it.

    :param by_file: rewritten file URI -> its stored events that no file of the run holds (deleted).
    :param moved: stored events of a rewritten file that an older file of the run still holds (now
        stored from that file).
    :param days: UTC days of the events deleted or moved: their derived tables are rebuilt.
    :param samples: a few withdrawn event keys, smallest first.
    """

    by_file: dict[str, int] = field(default_factory=dict)
    moved: int = 0
    days: list[date] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)

    @property
    def events(self) -> int:
        """Events withdrawn, over every rewritten file."""
        return sum(self.by_file.values())


def rewritten_files(tx: Transaction, job: str, files: Sequence[ExportFile]) -> list[str]:
    """The URIs of ``files`` that ``job`` read before at another version, and never at this one."""
    versions = {f["uri"]: f["version"] for f in files if f["version"]}
    uris = sorted(versions)
    if not uris:
        return []
    condition, params = tx.where(EXPORT_FILES, {"job": job, "uri": uris})
    recorded: dict[str, set[str]] = {}
    for uri, version in tx.query(
        f"SELECT uri, etag FROM {tx.table_name(EXPORT_FILES)} WHERE {condition}",
        params,
        types=["text", "text"],
    ):
        recorded.setdefault(str(uri), set()).add(str(version or ""))
    return [uri for uri, version in versions.items() if uri in recorded and version not in recorded[uri]]


def check_not_emptied(
    tx: Transaction, target: Table, rewritten: Collection[str], results: Sequence[FileResult]
) -> None:
    """Refuse to withdraw every event of a rewritten file that now holds no row.

    :raises EmptiedExportError: naming the file, its stored events and what to check.
    """
    for result in results:
        uri = result.export["uri"]
        if uri not in rewritten or result.stats.rows_read:
            continue
        condition, params = tx.where(target, {"source_uri": uri})
        [(stored,)] = tx.query(f"SELECT COUNT(*) FROM {tx.table_name(target)} WHERE {condition}", params)
        if int(stored):
            raise EmptiedExportError(
                f"{uri} was read before at another version and now holds no row, while {int(stored)} stored "
                f"event(s) come from it: a rewritten export that is empty is likelier a broken write than "
                f"the withdrawal of all its events, so nothing was written. Check the export in Sigma and "
                f"the file in the bucket; once it holds its events again the next run loads it."
            )


def withdraw_absent(
    tx: Transaction, target: Table, best: TempTable, order: TempTable, rewritten: Collection[str]
) -> Withdrawal:
    """Delete the stored events of ``rewritten`` files that the run does not supply from that file or
    a newer one (see the module docs). Runs before the merge drops staged events held from newer files.

    :param target: the event table.
    :param best: the run's newest copy of each event, with its ``file_rank``.
    :param order: ``(uri, file_rank)`` of the job's files.
    :param rewritten: URIs from :func:`rewritten_files`.
    """
    if not rewritten:
        return Withdrawal()
    table = tx.table_name(target)
    ensure_index(tx, table, tx.warehouse.unqualified_name(target), ["source_uri"])
    uris = sorted(rewritten)
    marks = ", ".join([tx.placeholder] * len(uris))
    # CROSS JOIN: SQLite walks the few rewritten files and seeks their events by source_uri.
    gone = (
        f"FROM {order.name} o CROSS JOIN {table} t LEFT JOIN {best.name} b ON b.event_key = t.event_key "
        f"WHERE o.uri IN ({marks}) AND t.source_uri = o.uri "
        f"AND (b.event_key IS NULL OR b.file_rank < o.file_rank)"
    )
    by_file: dict[str, int] = {}
    days: set[date] = set()
    moved = 0
    for uri, day, count, withdrawn in tx.query(
        f"SELECT o.uri, t.day, COUNT(*), SUM(CASE WHEN b.event_key IS NULL THEN 1 ELSE 0 END) {gone} "
        f"GROUP BY o.uri, t.day",
        uris,
        types=["text", "date", "integer", "integer"],
    ):
        days.add(day)
        by_file[str(uri)] = by_file.get(str(uri), 0) + int(withdrawn or 0)
        moved += int(count) - int(withdrawn or 0)
    if not days:
        return Withdrawal()
    tx.execute(f"SELECT t.event_key {gone} AND b.event_key IS NULL ORDER BY t.event_key", uris)
    samples = [str(row[0]) for row in tx.cursor.fetchmany(_SAMPLES)]
    tx.execute(f"DELETE FROM {table} WHERE event_key IN (SELECT t.event_key {gone})", uris)
    return Withdrawal({u: n for u, n in by_file.items() if n}, moved, sorted(days), samples)
