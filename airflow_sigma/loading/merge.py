"""Merging a run's events into an event table: each event stored once, the newest file's values winning.

Files are ordered by ``(last_modified, uri)`` across runs: the run's files and every file the job has
recorded in ``sigma_export_files`` (:func:`file_order`). For each event the row kept is the greatest
by ``(file order, other columns in table order)``, so the result never depends on the order in which
files or runs were loaded, and a re-run changes nothing. Events whose copies differ (within the run, or
from the stored copy) are counted, with a few keys as samples (:attr:`MergeCounts.conflicts`).
``source_uri`` names the file the stored values come from. In SQL:

1. stage the run's rows with their file's order, keeping the newest row per event. On SQLite the
   staging table, in a scratch database written through ADBC (:mod:`airflow_sigma.loading.scratch`),
   is keyed by ``event_key`` and each batch is upserted with that rule (SQLite sorts slowly; B-tree
   upserts are what it does best). Elsewhere rows are appended (COPY on PostgreSQL) and the newest
   row per event is kept, flagged when the event's copies differ, in one sort of the staged rows
   that compares each row with the one before it (window functions);
2. look up the stored copy of each staged event by key, once: its file, its day and whether its
   values differ go to a temp table, so that what follows does not read the event table again, and
   the merge's cost follows the run's size, not the history's (nothing to look up in an empty table);
3. withdraw the stored events of files rewritten since an earlier run read them that the run no longer
   supplies (:mod:`airflow_sigma.loading.withdraw`), then drop the events the table already holds
   from a newer file (an earlier run may have read one);
4. update the stored events whose values changed, and insert the new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from airflow_sigma.loading.files import file_recency
from airflow_sigma.loading.scratch import ScratchDatabase, scratch_directory
from airflow_sigma.loading.sql import holds_rows, index_temp_table, through_indexes
from airflow_sigma.loading.staging import constant_column
from airflow_sigma.loading.withdraw import Span, Withdrawal, withdraw_absent
from airflow_sigma.storage import ExportFile
from airflow_sigma.warehouse import EXPORT_FILES, Column, Dialect, Table, TempTable, Transaction

_CONFLICT_SAMPLES = 5
FILE_RANK = Column(
    "file_rank", "integer", "Order of the file among all the job's files, oldest first.", False
)
_FILE_ORDER_COLUMNS = (Column("uri", "text", "A file's URI.", False), FILE_RANK)
_STORED_COLUMNS = (
    Column("event_key", "text", "A staged event's key.", False),
    Column("source_uri", "text", "The file of its stored copy.", False),
    Column("day", "date", "The day of its stored copy.", False),
    Column("differs", "integer", "1 when the stored copy's values (but JSON) differ from the staged.", False),
)
_CONFLICTING = Column("conflicting", "integer", "1 when the run's copies of the event differ.", False)


@dataclass(frozen=True)
class MergeCounts:
    """What a merge did.

    :param kept: file URI -> events whose stored values come from that file.
    :param events: distinct events of the run now stored (inserted, updated or already identical).
    :param former_days: UTC days that events of the run moved away from (a newer export gave an
        event id another time): derived tables must be rebuilt there too.
    :param displaced: file URI -> stored events that now come from a newer file of the run instead.
    :param conflicts: events with copies whose values differ, within the run's files or between the
        run's copy and the stored one (JSON columns are not compared with the stored copy).
    :param conflict_samples: a few of their keys, smallest first.
    :param withdrawal: stored events of rewritten files that the run no longer supplies.
    """

    kept: dict[str, int]
    events: int
    former_days: list[date] = field(default_factory=list)
    displaced: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0
    conflict_samples: list[str] = field(default_factory=list)
    withdrawal: Withdrawal = field(default_factory=Withdrawal)


def _differs(a: str, b: str) -> str:
    """SQL: ``a`` and ``b`` differ, NULL counting as a value (portable ``IS DISTINCT FROM``)."""
    return f"NOT COALESCE({a} = {b}, {a} IS NULL AND {b} IS NULL)"


def file_order(
    tx: Transaction, job: str, files: Sequence[ExportFile], table: TempTable | None = None
) -> tuple[dict[str, int], TempTable]:
    """Number the run's files and the job's recorded files by ``(last_modified, uri)``, from 1.

    A file without a last-modified time (given as a plain URI) comes before every listed one.

    :param table: an empty temp table from :func:`file_order_table` to fill (created when None).
    :return: URI -> order for the run's files, and a temp table (uri, file_rank) of all of them.
    """
    newest: dict[str, datetime | None] = {}
    for uri, stamp in tx.query(
        f"SELECT uri, MAX(last_modified) FROM {tx.table_name(EXPORT_FILES)} WHERE job = {tx.placeholder} "
        "GROUP BY uri",
        [job],
        types=["text", "timestamp"],
    ):
        newest[str(uri)] = stamp
    for export in files:
        stamp, uri = file_recency(export)
        known = newest.get(uri)
        newest[uri] = stamp if known is None or (stamp is not None and stamp > known) else known

    def recency(uri: str) -> tuple[bool, datetime, str]:
        stamp = newest[uri]
        return (stamp is not None, stamp or datetime.min.replace(tzinfo=timezone.utc), uri)

    order = {uri: position for position, uri in enumerate(sorted(newest, key=recency), start=1)}
    table = table or file_order_table(tx, job)
    tx.insert_rows(table, list(order.items()))
    return {export["uri"]: order[export["uri"]] for export in files}, table


def file_order_table(tx: Transaction, job: str) -> TempTable:
    """The empty temp table :func:`file_order` fills, indexed on its columns."""
    table = tx.create_temp_table(f"sigma_file_order_{job}", _FILE_ORDER_COLUMNS)
    index_temp_table(tx, table, ["file_rank"])
    index_temp_table(tx, table, ["uri"])
    return table


def scratch_for(dialect: Dialect) -> AbstractContextManager[Path | None]:
    """The scratch directory a :class:`StagedMerge` on ``dialect`` needs (SQLite), or None; enter it
    before the transaction, so that it is removed after the connection that attaches it is closed."""
    return scratch_directory() if dialect.stages_in_scratch else nullcontext(None)


class StagedMerge:
    """Stage a run's batches, then merge them (see the module docs). A context manager: leaving it
    closes the scratch database (SQLite), merged or not.

    Every temp table the merge uses is created here, before anything is written, so that engines on
    which DDL commits the open transaction (Snowflake) run the whole write as one transaction. Then
    :meth:`number_files`, :meth:`write` for each batch, and :meth:`merge`.

    :param tx: the run's transaction.
    :param job: the job's name (names the temp tables).
    :param target: an event table keyed by ``event_key`` with a ``source_uri`` column.
    :param columns: the staged columns: the target's other columns in order, dates, timestamps and
        JSON as text.
    :param scratch_dir: the directory from :func:`scratch_for`, required on SQLite.
    """

    def __init__(
        self,
        tx: Transaction,
        job: str,
        target: Table,
        columns: Sequence[Column],
        scratch_dir: Path | None = None,
    ) -> None:
        if columns[0].name != "event_key" or tuple(target.key) != ("event_key",):
            raise ValueError(f"{target.base_name}: expected a table keyed by event_key, staged first")
        self.tx, self.job, self.target, self.columns = tx, job, target, list(columns)
        self.order: Mapping[str, int] = {}
        self.order_table = file_order_table(tx, job)
        self.stored = tx.create_temp_table(f"sigma_stored_{job}", _STORED_COLUMNS)
        index_temp_table(tx, self.stored, ["event_key"])
        staged = (*columns, FILE_RANK)
        self.scratch: ScratchDatabase | None = None
        if not tx.dialect.stages_in_scratch:
            self.staging = tx.create_temp_table(f"sigma_stage_{job}", staged)
            self.best = tx.create_temp_table(f"sigma_best_{job}", (*staged, _CONFLICTING))
            return
        if scratch_dir is None:
            raise ValueError("StagedMerge on SQLite needs a scratch_dir for its staging database")
        q = tx.dialect.quote
        self.staging = TempTable(q("stage"), staged)  # qualified by the scratch database's alias in merge()
        columns_sql = [tx.dialect.column_sql(column) for column in staged]
        body = ", ".join([*columns_sql, "conflicting INTEGER NOT NULL DEFAULT 0", "PRIMARY KEY (event_key)"])
        self.scratch = ScratchDatabase(scratch_dir / f"stage_{job}.db")
        try:
            self.scratch.execute(f"CREATE TABLE {self.staging.name} ({body}) WITHOUT ROWID")
        except BaseException:
            self.scratch.close()
            raise
        ranking = ["file_rank", *(c.name for c in columns[1:])]

        def rank_of(row: str) -> str:  # NULL sorts below every value, as NULLS LAST does in DESC order
            values = (f"{row}.{q(n)}" for n in ranking[1:])
            return ", ".join([f"{row}.file_rank", *(f"{v} IS NOT NULL, COALESCE({v}, '')" for v in values)])

        stage = self.staging.name
        newer = f"({rank_of('excluded')}) > ({rank_of(stage)})"
        differs = " OR ".join(f"excluded.{q(n)} IS NOT {stage}.{q(n)}" for n in ranking[1:])
        updates = ", ".join(
            f"{q(n)} = CASE WHEN {newer} THEN excluded.{q(n)} ELSE {stage}.{q(n)} END" for n in ranking
        )
        self._upsert = (
            f"{tx.dialect.insert_sql(stage, staged)} ON CONFLICT (event_key) DO UPDATE SET {updates}, "
            f"conflicting = CASE WHEN {differs} THEN 1 ELSE {stage}.conflicting END "
            f"WHERE {newer} OR {differs}"
        )

    def __enter__(self) -> StagedMerge:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.scratch is not None:
            self.scratch.close()

    def number_files(self, files: Sequence[ExportFile]) -> Mapping[str, int]:
        """Order the run's files among the job's (see :func:`file_order`); returns URI -> order."""
        self.order, _ = file_order(self.tx, self.job, files, self.order_table)
        return self.order

    def write(self, export: ExportFile, arrays: Sequence[pa.Array]) -> None:
        """Stage one batch of ``export`` (arrays in the order of the staged columns)."""
        size = len(arrays[0])
        ranks = constant_column(self.order[export["uri"]], size)
        if self.scratch is None:
            self.tx.append_arrays(self.staging, [*arrays, ranks])
        else:
            batch = pa.RecordBatch.from_arrays([*arrays, ranks], names=list(self.staging.column_names))
            self.scratch.executemany(self._upsert, batch)

    def merge(
        self, rewritten: Mapping[str, Span] | None = None, rekey: Callable[[str], object] | None = None
    ) -> MergeCounts:
        """Merge the staged rows into the target; first withdraw the stored events of the ``rewritten``
        files (with their new time spans) that the run no longer supplies
        (:mod:`airflow_sigma.loading.withdraw`). ``rekey``, given the name of the table of the run's
        newest rows, updates stored keys of an earlier form before they are looked up."""
        tx, q = self.tx, self.tx.dialect.quote
        if self.scratch is not None:
            alias = self.scratch.attach(tx, f"sigma_scratch_{self.job}")
            best = TempTable(f"{alias}.{self.staging.name}", self.staging.columns)
        else:
            best = self._newest_per_event()
        target = tx.table_name(self.target)
        first_load = not holds_rows(tx, target)  # then no stored copy is looked up, and none updated
        if not first_load:
            if rekey is not None:
                rekey(best.name)
            self._look_up_stored(best)
        # the one pass over the staged events that counts: per file, and those whose copies differ
        staged: dict[int, int] = {}
        in_run = 0
        for rank, count, conflicting in tx.query(
            f"SELECT file_rank, COUNT(*), SUM(conflicting) FROM {best.name} GROUP BY file_rank"
        ):
            staged[int(rank)] = int(count)
            in_run += int(conflicting or 0)
        conflicts, samples = self._conflicts(best, in_run, first_load)
        withdrawal = withdraw_absent(tx, self.target, best, self.order_table, rewritten or {})
        stored, order = self.stored.name, self.order_table.name
        if withdrawal.days:  # stored events were deleted: their copies are looked up again
            tx.execute(f"DELETE FROM {stored}")
            self._look_up_stored(best)
        if not first_load:  # drop the events stored from a newer file
            newer = (
                f"FROM {stored} s JOIN {best.name} b ON b.event_key = s.event_key JOIN {order} o "
                "ON o.uri = s.source_uri WHERE o.file_rank > b.file_rank"
            )
            for rank, count in tx.query(f"SELECT b.file_rank, COUNT(*) {newer} GROUP BY b.file_rank"):
                staged[int(rank)] -= int(count)
            tx.execute(f"DELETE FROM {best.name} WHERE event_key IN (SELECT s.event_key {newer})")
        uris = {rank: uri for uri, rank in self.order.items()}
        kept = {uris[rank]: count for rank, count in staged.items() if count}
        former, displaced = self._stored_copies(best)
        types = {c.name: c.type for c in self.target.columns}
        casts = ", ".join(
            f"{tx.dialect.from_text('b.' + q(c.name), types[c.name])} AS {q(c.name)}" for c in self.columns
        )
        names = [*(c.name for c in self.columns), "source_uri"]
        listed = ", ".join(q(n) for n in names)

        def source(stored_copy: str) -> str:
            return (
                f"(SELECT {casts}, o.uri AS source_uri FROM {best.name} b JOIN {order} o "
                f"ON o.file_rank = b.file_rank WHERE {stored_copy} (SELECT 1 FROM {stored} s "
                "WHERE s.event_key = b.event_key))"
            )

        key, updates = self.target.key, [n for n in names if n not in self.target.key]
        if not first_load:
            with through_indexes(tx):
                for sql in tx.dialect.update_changed_sql(target, source("EXISTS"), names, key, updates):
                    tx.execute(sql)
        tx.execute(f"INSERT INTO {target} ({listed}) SELECT {listed} FROM {source('NOT EXISTS')} n")
        return MergeCounts(kept, sum(kept.values()), former, displaced, conflicts, samples, withdrawal)

    def _look_up_stored(self, best: TempTable) -> None:
        """Find the stored copy of each staged event, by key, in one pass (see the module docs).

        ``CROSS JOIN`` makes SQLite walk the staged events and look each up by key, as
        :func:`~airflow_sigma.loading.sql.through_indexes` makes PostgreSQL do: without statistics
        SQLite may otherwise scan the whole event table (0.14 s became 11.8 s after a year of audit
        history), and PostgreSQL hashed all of it."""
        tx, q = self.tx, self.tx.dialect.quote
        types = {c.name: c.type for c in self.target.columns}
        compared = [
            _differs(tx.dialect.from_text(f"b.{q(c.name)}", types[c.name]), f"t.{q(c.name)}")
            for c in self.columns[1:]
            if types[c.name] != "json"
        ]
        differs = f"CASE WHEN {' OR '.join(compared)} THEN 1 ELSE 0 END" if compared else "0"
        with through_indexes(tx):
            tx.execute(
                f"INSERT INTO {self.stored.name} (event_key, source_uri, day, differs) "
                f"SELECT b.event_key, t.source_uri, t.day, {differs} FROM {best.name} b "
                f"CROSS JOIN {tx.table_name(self.target)} t WHERE t.event_key = b.event_key"
            )

    def _conflicts(self, best: TempTable, in_run: int, first_load: bool) -> tuple[int, list[str]]:
        """Events whose copies differ: ``in_run`` of them within the run (flagged while staging on
        SQLite, while keeping the newest copy elsewhere), and those whose kept copy differs from the
        stored one. Only the staged events so flagged are read again, for a few samples."""
        tx = self.tx
        samples: list[str] = []
        if in_run:
            flagged = f"SELECT event_key FROM {best.name} WHERE conflicting = 1 ORDER BY event_key"
            samples = [str(key) for (key,) in tx.query(f"{flagged} LIMIT {_CONFLICT_SAMPLES}")]
        with_stored = 0
        if not first_load:
            found = (
                f"FROM {self.stored.name} s WHERE s.differs = 1 AND s.event_key IN "
                f"(SELECT event_key FROM {best.name} WHERE conflicting = 0)"
            )
            [(count,)] = tx.query(f"SELECT COUNT(*) {found}")
            with_stored = int(count)
            if with_stored:
                listed = f"SELECT s.event_key {found} ORDER BY s.event_key LIMIT {_CONFLICT_SAMPLES}"
                samples += [str(key) for (key,) in tx.query(listed)]
        return in_run + with_stored, sorted(samples)[:_CONFLICT_SAMPLES]

    def _stored_copies(self, best: TempTable) -> tuple[list[date], dict[str, int]]:
        """What the merge replaces: the stored days that events move away from, and per file, the
        stored events a newer file now supplies."""
        tx = self.tx
        day = tx.dialect.from_text("b.day", "date")
        sql = (
            f"SELECT s.source_uri, s.day, SUM(CASE WHEN s.source_uri <> o.uri THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN s.day <> {day} THEN 1 ELSE 0 END) FROM {self.stored.name} s "
            f"JOIN {best.name} b ON b.event_key = s.event_key JOIN {self.order_table.name} o "
            f"ON o.file_rank = b.file_rank GROUP BY s.source_uri, s.day"
        )
        former: set[date] = set()
        displaced: dict[str, int] = {}
        for uri, stored_day, replaced, moved in tx.query(sql, types=["text", "date", "integer", "integer"]):
            if int(replaced or 0):
                displaced[str(uri)] = displaced.get(str(uri), 0) + int(replaced)
            if int(moved or 0):
                former.add(stored_day)
        return sorted(former), displaced

    def _newest_per_event(self) -> TempTable:
        tx, q = self.tx, self.tx.dialect.quote
        listed = [q(c.name) for c in self.staging.columns]  # event_key, the values, file_rank
        compared = listed[1:-1]
        order = ", ".join(f"{n} DESC NULLS LAST" for n in [q("file_rank"), *compared])
        for sql in tx.dialect.keep_newest_sql(
            self.best.name, self.staging.name, listed, q("event_key"), order, compared
        ):
            tx.execute(sql)
        return self.best
