"""Events withdrawn from an export rewritten in place.

An export file can be rewritten under the same URI (a new S3 ETag, GCS generation, or local
modification time and size): Sigma overwrites its file at every export when the file name is not
prefixed with the date and time, and an export can be sent again. A run that reads a file at a version
never read before, while ``sigma_export_files`` records another version of it, treats it as rewritten.
The new version covers the time *span* from its earliest to its latest event (its accepted rows), and
within that span its stored events follow it:

- an event stored from the file (``source_uri``) and dated within the span, that no file of the run
  supplies, is deleted from the event table and counted as withdrawn; its day's derived tables are
  rebuilt;
- an event stored from the file, dated within the span, that an older file of the run still holds
  stays, with that file's values and URI (the merge's usual rule: the newest file holding an event
  supplies it);
- an event dated outside the span is kept: it left a rolling export window (an audit-log export
  overwritten daily holds the last 30 days), which says nothing about whether it happened;
- files the run does not read are not consulted: an event that only such a file still holds is
  withdrawn too, and comes back when a run reads that file again (``files=`` naming it);
- a rewritten file that now holds no row at all (empty, or a header only) while events are stored from
  it fails the run (:class:`EmptiedExportError`): an export truncated to nothing is far likelier a
  broken write than the end of every event it held.

A file read again at a version already recorded, or given as a plain URI (no version to compare),
withdraws nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from airflow_sigma.exceptions import BadInputError
from airflow_sigma.loading.records import FileResult
from airflow_sigma.loading.sql import ensure_index
from airflow_sigma.storage import ExportFile
from airflow_sigma.warehouse import EXPORT_FILES, Table, TempTable, Transaction

_SAMPLES = 5
#: The earliest and latest event time of a file's accepted rows.
Span = tuple[datetime, datetime]


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


def widen_span(spans: dict[str, Span], uri: str, times: pa.Array | pa.ChunkedArray) -> None:
    """Widen the span of ``uri`` in ``spans`` to the event times of one staged batch."""
    bounds = pc.min_max(times)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None or high is None:
        return
    if uri in spans:
        low, high = min(low, spans[uri][0]), max(high, spans[uri][1])
    spans[uri] = (low, high)


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
    tx: Transaction, target: Table, best: TempTable, order: TempTable, rewritten: Mapping[str, Span]
) -> Withdrawal:
    """Delete the stored events of ``rewritten`` files, dated within the file's new span, that the run
    does not supply from that file or a newer one (see the module docs). Runs before the merge drops
    staged events held from newer files.

    :param target: the event table.
    :param best: the run's newest copy of each event, with its ``file_rank``.
    :param order: ``(uri, file_rank)`` of the job's files.
    :param rewritten: the URIs from :func:`rewritten_files` that hold events, with their new span.
    """
    if not rewritten:
        return Withdrawal()
    table = tx.table_name(target)
    ensure_index(tx, table, tx.warehouse.unqualified_name(target), ["source_uri"])
    p = tx.placeholder
    uris = sorted(rewritten)
    spans = " OR ".join([f"(o.uri = {p} AND t.request_time >= {p} AND t.request_time <= {p})"] * len(uris))
    params = [value for uri in uris for value in (uri, *rewritten[uri])]
    # CROSS JOIN: SQLite walks the few rewritten files and seeks their events by source_uri.
    gone = (
        f"FROM {order.name} o CROSS JOIN {table} t LEFT JOIN {best.name} b ON b.event_key = t.event_key "
        f"WHERE t.source_uri = o.uri AND ({spans}) "
        f"AND (b.event_key IS NULL OR b.file_rank < o.file_rank)"
    )
    by_file: dict[str, int] = {}
    days: set[date] = set()
    moved = 0
    for uri, day, count, withdrawn in tx.query(
        f"SELECT o.uri, t.day, COUNT(*), SUM(CASE WHEN b.event_key IS NULL THEN 1 ELSE 0 END) {gone} "
        f"GROUP BY o.uri, t.day",
        params,
        types=["text", "date", "integer", "integer"],
    ):
        days.add(day)
        by_file[str(uri)] = by_file.get(str(uri), 0) + int(withdrawn or 0)
        moved += int(count) - int(withdrawn or 0)
    if not days:
        return Withdrawal()
    tx.execute(f"SELECT t.event_key {gone} AND b.event_key IS NULL ORDER BY t.event_key", params)
    samples = [str(row[0]) for row in tx.cursor.fetchmany(_SAMPLES)]
    tx.execute(f"DELETE FROM {table} WHERE event_key IN (SELECT t.event_key {gone})", params)
    return Withdrawal({u: n for u, n in by_file.items() if n}, moved, sorted(days), samples)
