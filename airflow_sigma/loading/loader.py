"""The loading machinery shared by the impressions and audit-history jobs.

One run, one transaction: every file is opened through storage, parsed by the events reader and
streamed batch by batch into a staging table; the bad-row threshold is checked over the whole run;
the job's event table gets the run's events merged in (:mod:`airflow_sigma.loading.merge`); the job
rebuilds its derived tables; ``sigma_export_files`` records each file. Any error (a missing column,
too many bad rows, an unreadable file, a database error) rolls everything back: nothing is written.
"""

from __future__ import annotations

import gzip
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import IO, Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from airflow_sigma.events.stats import (
    MAX_DEFLATE_RATIO,
    BadRowBudget,
    FileStats,
    TooManyBadRowsError,
    check_bad_row_fraction,
)
from airflow_sigma.loading.files import file_recency, rank_files
from airflow_sigma.loading.merge import MergeCounts, StagedMerge, scratch_for
from airflow_sigma.loading.records import (
    FileResult,
    add_displaced_duplicates,
    ensure_export_files,
    export_files_table,
    record_export_files,
)
from airflow_sigma.loading.settings import TaskLog
from airflow_sigma.loading.withdraw import Span, Withdrawal, check_not_emptied, rewritten_files, widen_span
from airflow_sigma.storage import ExportFile, open_export
from airflow_sigma.warehouse import Column, Table, Transaction, Warehouse

log = logging.getLogger(__name__)

MAX_SAMPLES_LOGGED = 5
#: Events dated more than this after both the run's end (its data interval end) and their file's
#: last-modified time are bad rows (``future_timestamp``): no export can hold them, and kept they would
#: count forever. The file's time matters for runs that read exports landing after their interval.
FUTURE_TOLERANCE = timedelta(days=1)


class EventJob(Protocol):
    """What a loading job supplies: how to read a file, where events go, what to rebuild after.

    ``target`` is keyed by ``event_key`` and has ``request_time`` (when the event happened), ``day``
    (its UTC date) and ``source_uri`` columns; the reader's batches carry every column of it but
    ``source_uri`` by name.
    """

    @property
    def name(self) -> str:
        """Recorded as ``job`` in ``sigma_export_files``; also names the temp tables."""
        ...

    @property
    def target(self) -> Table:
        """The event table."""
        ...

    @property
    def tables(self) -> tuple[Table, ...]:
        """Every table the job writes (created when missing)."""
        ...

    @property
    def log_samples(self) -> bool:
        """Whether bad-row samples (which quote values) may be logged."""
        ...

    def read(
        self,
        stream: IO[bytes],
        uri: str,
        *,
        latest_time: datetime | None = None,
        bad_row_budget: BadRowBudget | None = None,
    ) -> tuple[Iterator[pa.RecordBatch], FileStats]:
        """Parse one file (see :mod:`airflow_sigma.events`); rows dated after ``latest_time`` are bad."""
        ...

    def prepare(self, tx: Transaction, days: Sequence[date]) -> None:
        """After staging, before the merge: indexes, and what ``finish`` needs to know of the tables as
        they were before the run (``days``: the UTC days of the run's staged events)."""
        ...

    def rekey(self, tx: Transaction, staged: str, days: Sequence[date]) -> None:
        """In the merge, before stored copies are looked up (never on a first load): give stored
        events keyed in a form earlier versions wrote today's keys (``staged``: the SQL name of a table
        holding the run's keys, ``event_key``)."""
        ...

    def finish(self, tx: Transaction, days: Sequence[date]) -> dict[str, Any]:
        """After the merge: rebuild derived tables for ``days`` (the days of the run's events, and
        those its events moved away from); return facts for the summary."""
        ...


@dataclass
class LoadResult:
    """The outcome of :func:`load_exports`.

    :param job: the job name.
    :param files: per file, in rank order (oldest first).
    :param events: distinct events written (inserted or updated) by the run.
    :param days: UTC days the run's events fall on, sorted.
    :param bad_fraction: bad rows over rows read, across the run.
    :param details: what the job's ``finish`` reported.
    :param conflicts: events whose copies differ (see :class:`~airflow_sigma.loading.merge.MergeCounts`).
    :param conflict_samples: a few of their keys.
    :param withdrawal: stored events that rewritten files no longer hold, removed by the run.
    """

    job: str
    files: list[FileResult]
    events: int
    days: list[date]
    bad_fraction: float
    details: dict[str, Any] = field(default_factory=dict)
    conflicts: int = 0
    conflict_samples: list[str] = field(default_factory=list)
    withdrawal: Withdrawal = field(default_factory=Withdrawal)

    def totals(self) -> dict[str, Any]:
        """Counts summed over the files."""
        bad: dict[str, int] = {}
        for result in self.files:
            for kind, count in result.stats.bad_rows.items():
                bad[kind] = bad.get(kind, 0) + count
        return {
            "files": len(self.files),
            "rows_read": sum(r.stats.rows_read for r in self.files),
            "rows_accepted": sum(r.stats.rows_accepted for r in self.files),
            "rows_filtered": sum(r.stats.rows_filtered for r in self.files),
            "bad_rows": sum(bad.values()),
            "bad_row_kinds": dict(sorted(bad.items())),
            "duplicate_events": sum(r.duplicates for r in self.files),
            "conflicting_events": self.conflicts,
            "events_written": self.events,
            "events_withdrawn": self.withdrawal.events,
        }

    def log(self, logger: TaskLog, *, samples: bool = True) -> None:
        """Log the totals, each file's duplicates, and hints when nothing useful was loaded."""
        totals = self.totals()
        logger.info(
            "[%s] %d file(s): %d rows read, %d accepted, %d filtered out, %d bad %s; %d duplicate events; "
            "%d distinct events written, on %d day(s).",
            self.job,
            totals["files"],
            totals["rows_read"],
            totals["rows_accepted"],
            totals["rows_filtered"],
            totals["bad_rows"],
            totals["bad_row_kinds"] or "",
            totals["duplicate_events"],
            self.events,
            len(self.days),
        )
        for result in self.files:
            logger.info("  %s", result.summary())
        if self.conflicts:
            logger.warning(
                "[%s] %d event(s) have copies with different values (in the run's files, or the stored "
                "copy)%s; each keeps the copy of the newest file (by last-modified time, then URI), within "
                "a file the greatest values compared column by column.",
                self.job,
                self.conflicts,
                f", e.g. {', '.join(self.conflict_samples)}" if samples and self.conflict_samples else "",
            )
        if self.withdrawal.days:
            _log_withdrawal(logger, self.job, self.withdrawal, samples)
        if not self.files:
            logger.warning(
                "[%s] No export files to read: check the bucket URI (prefix), that Sigma's scheduled export "
                "writes there, and that the connection can list and read it.",
                self.job,
            )
        elif totals["rows_read"] and not totals["rows_accepted"]:
            logger.warning(
                "[%s] No row was accepted: see the filtered and bad counts above (a raw audit-log export "
                "whose rows all fail the filter, or rows all bad).",
                self.job,
            )

    def summary(self) -> dict[str, Any]:
        """A small JSON-serialisable summary (the operators' XCom)."""
        return {
            **self.totals(),
            "bad_row_fraction": round(self.bad_fraction, 6),
            "first_day": self.days[0].isoformat() if self.days else None,
            "last_day": self.days[-1].isoformat() if self.days else None,
            **self.details,
        }


def staging_columns(target: Table) -> tuple[Column, ...]:
    """The staging columns for ``target``: its columns but ``source_uri``, with dates, timestamps and
    JSON staged as text (converted in SQL, which is much faster than per-value Python conversion)."""
    return tuple(
        Column(c.name, "text" if c.type in ("date", "timestamp", "json") else c.type, c.doc)
        for c in target.columns
        if c.name != "source_uri"
    )


def staged_arrays(
    batch: pa.RecordBatch, columns: Sequence[Column], types: Mapping[str, str]
) -> list[pa.Array]:
    """The batch's arrays for ``columns``: timestamps as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, dates ISO."""
    arrays = []
    for column in columns:
        values = batch.column(column.name)
        if types[column.name] == "timestamp":
            # Formatting a naive timestamp is ~30x faster than strftime, which looks up the zone.
            text = values.cast(pa.timestamp("us")).cast(pa.string())  # YYYY-MM-DD HH:MM:SS.ffffff
            values = pc.binary_join_element_wise(pc.utf8_replace_slice(text, 10, 11, "T"), "Z", "")
        elif types[column.name] == "date":
            values = values.cast(pa.string())
        arrays.append(values)
    return arrays


def load_exports(
    warehouse: Warehouse,
    files: Sequence[ExportFile],
    job: EventJob,
    *,
    run_at: datetime,
    max_bad_row_fraction: float = 0.01,
    aws_conn_id: str | None = "aws_default",
    gcp_conn_id: str | None = "google_cloud_default",
    logger: TaskLog | None = None,
) -> LoadResult:
    """Load ``files`` for ``job`` in one transaction (see the module docs).

    :param warehouse: where the tables live.
    :param files: the files to read (any order; they are ranked oldest first).
    :param job: the job (impressions or audit).
    :param run_at: the run's time (its data interval end), recorded as ``processed_at``; events dated
        more than :data:`FUTURE_TOLERANCE` after both it and their file's last-modified time are bad
        rows (``future_timestamp``).
    :param max_bad_row_fraction: the largest share of bad rows, over the run, that still loads.
    :param aws_conn_id: connection for ``s3://`` files.
    :param gcp_conn_id: connection for ``gs://`` files.
    :param logger: where progress goes (the task log).
    :raises EventFileError: a file cannot be read (missing column, ...).
    :raises TooManyBadRowsError: above ``max_bad_row_fraction``.
    """
    logger = logger or log
    if not 0.0 <= max_bad_row_fraction <= 1.0:
        raise ValueError(f"max_bad_row_fraction must be from 0.0 to 1.0, got {max_bad_row_fraction!r}")
    ranked = rank_files(files)
    latest = run_at + FUTURE_TOLERANCE
    columns = staging_columns(job.target)
    types = {c.name: c.type for c in job.target.columns}
    results: list[FileResult] = []
    days: set[date] = set()
    spans: dict[str, Span] = {}
    # The scratch directory goes after the connection that attached the staging database in it.
    with scratch_for(warehouse.dialect) as scratch, warehouse.transaction() as tx:
        tx.lock(job.target)
        tx.ensure_tables(*job.tables)
        records = export_files_table(tx, job.name)  # every table and temp table before the first write
        with StagedMerge(tx, job.name, job.target, columns, scratch) as merger:
            ensure_export_files(tx)  # DDL, then its migration's UPDATEs (the first write, if any)
            merger.number_files(ranked)
            rewritten = rewritten_files(tx, job.name, ranked)
            # Newest file first: an older copy of an event then finds the newest copy staged and, unless
            # its values differ, leaves it as it is instead of rewriting it (the merge keeps the same
            # rows whatever the order; staging the benchmark's 5M rows took 4.0 s instead of 4.8 s).
            for rank, export in reversed(list(enumerate(ranked, start=1))):
                budget = _budget(max_bad_row_fraction, [r.stats for r in results], ranked[: rank - 1])
                stats = _stage_file(
                    job,
                    merger,
                    export,
                    columns,
                    types,
                    (days, spans),
                    (latest, budget),
                    (aws_conn_id, gcp_conn_id),
                )
                results.append(FileResult(export, rank, stats))
                _log_file(logger, job, stats, rank, len(ranked))
            results.reverse()  # rank order, oldest first
            try:
                fraction = check_bad_row_fraction([r.stats for r in results], max_bad_row_fraction)
            except TooManyBadRowsError as error:
                raise TooManyBadRowsError(f"{error} Nothing was written.") from None
            accepted = sum(r.stats.rows_accepted for r in results)
            check_not_emptied(tx, job.target, rewritten, results)
            job.prepare(tx, sorted(days))
            withdrawing = {uri: spans[uri] for uri in rewritten if uri in spans}
            merged = (
                merger.merge(withdrawing, rekey=lambda staged: job.rekey(tx, staged, sorted(days)))
                if accepted
                else MergeCounts({}, 0)
            )
        for result in results:
            result.duplicates = result.stats.rows_accepted - merged.kept.get(result.export["uri"], 0)
        details = job.finish(tx, sorted(days | set(merged.former_days) | set(merged.withdrawal.days)))
        record_export_files(tx, job.name, results, run_at, records)
        add_displaced_duplicates(tx, job.name, merged.displaced, {r.export["uri"] for r in results})
    return LoadResult(
        job.name,
        results,
        merged.events,
        sorted(days),
        fraction,
        details,
        merged.conflicts,
        merged.conflict_samples,
        merged.withdrawal,
    )


def _log_withdrawal(logger: TaskLog, job: str, withdrawal: Withdrawal, samples: bool) -> None:
    files = ", ".join(f"{uri} ({count})" for uri, count in sorted(withdrawal.by_file.items()))
    logger.warning(
        "[%s] %d stored event(s) were withdrawn: files rewritten since an earlier run read them no longer "
        "hold them within the time span they now cover, and no other file of the run does%s%s. %d other "
        "event(s) of those files now come from an older file of the run that still holds them. The %d "
        "day(s) they were on were rebuilt.",
        job,
        withdrawal.events,
        f" ({files})" if files else "",
        f", e.g. {', '.join(withdrawal.samples)}" if samples and withdrawal.samples else "",
        withdrawal.moved,
        len(withdrawal.days),
    )


def _stage_file(
    job: EventJob,
    merger: StagedMerge,
    export: ExportFile,
    columns: Sequence[Column],
    types: Mapping[str, str],
    seen: tuple[set[date], dict[str, Span]],
    limits: tuple[datetime, BadRowBudget],
    conn_ids: tuple[str | None, str | None],
) -> FileStats:
    """Stage one file; add its events' days to ``seen[0]`` and their time span to ``seen[1]``."""
    (days, spans), (run_latest, budget) = seen, limits
    modified = file_recency(export)[0]
    latest = run_latest if modified is None else max(run_latest, modified + FUTURE_TOLERANCE)
    with open_export(export, mode="rb", aws_conn_id=conn_ids[0], gcp_conn_id=conn_ids[1]) as stream:
        size = export["size"] if export["size"] >= 0 else math.inf
        inflation = MAX_DEFLATE_RATIO if isinstance(stream, gzip.GzipFile) else 1
        budget = replace(budget, file_bytes=size * inflation)
        batches, stats = job.read(stream, export["uri"], latest_time=latest, bad_row_budget=budget)
        try:
            for batch in batches:
                arrays = staged_arrays(batch, columns, types)
                merger.write(export, arrays)
                days.update(pc.unique(batch.column("day")).to_pylist())
                widen_span(spans, export["uri"], batch.column("request_time"))
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # stops the reader's read-ahead thread when the load fails midway
    return stats


def _budget(max_fraction: float, before: Sequence[FileStats], after: Sequence[ExportFile]) -> BadRowBudget:
    """The bad-row budget of the next file, between the files read and the files still to read (each
    bounded by its size as if gzipped, at two bytes a row: a value and a newline)."""
    sizes = [export["size"] for export in after]
    rows_after = math.inf if any(size < 0 for size in sizes) else sum(sizes) * MAX_DEFLATE_RATIO / 2
    worst = sorted((s for s in before if s.bad_total), key=lambda s: -s.bad_total)[:MAX_SAMPLES_LOGGED]
    return BadRowBudget(
        max_fraction,
        bad_before=sum(s.bad_total for s in before),
        read_before=sum(s.rows_read for s in before),
        rows_after=rows_after,
        bad_files=tuple(s.summary() for s in worst),
    )


def _log_file(logger: TaskLog, job: EventJob, stats: FileStats, rank: int, total: int) -> None:
    logger.info("[%s file %d/%d] %s", job.name, rank, total, stats.summary())
    if job.log_samples:
        for sample in stats.samples[:MAX_SAMPLES_LOGGED]:
            where = f"{stats.uri} line {sample.line if sample.line is not None else 'unknown'}"
            logger.warning("  bad row (%s, %s): %s", where, sample.kind, sample.reason)
