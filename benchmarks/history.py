"""Benchmark 5: a daily run after a week and after a year of history, on SQLite and PostgreSQL.

Each case is a database holding ``H`` days of history, built once; then the real daily run of the
next day is timed task by task, ``--runs`` times on fresh copies of it, the two cases alternating
(each task's median is reported): the impressions job (three files read: the new day's export and the two
before it, ``days_back=2``), the usage summary, and the audit-history job on the same three days of
audit-log exports. Goal: each task after 365 days within 1.2x of its time after 7 days, and the
usage summary under 5 s on SQLite with the 5,000-workbook x 20-element catalog.

The history is built fast, but through the tables the tasks keep: the two days before the run are
loaded by the real jobs (events, daily rows, audit events and their daily tables, the files read),
the catalog is written by :func:`~airflow_sigma.catalog.write_catalog`; older days are copies of the
first loaded day shifted in time, written in SQL: daily impressions for every day (all of a day's
rows for the 61 days before it, a fifth of the users' rows for older days, which only the last-seen
state reads), impression events
for the days ``event_retention_days`` keeps, audit events (an eighth of a day's events, so that a year
fits on the disk and in the time; they are kept forever), their daily tables rebuilt by the audit
job's own code, a file record per day and job; catalog snapshots and usage dates as many as the
default retention keeps (90). Each copied day's rows are written together, in the order a run
inserts them, and an impression event's key is shifted with its time (the key starts with the
event's time), as the daily runs leave them: copies that kept the first day's keys or interleaved
the days would scatter each day over the whole table and its key index, which no daily run does,
and deleting a day would then cost what rewriting the table costs. The last-seen state is filled by
a usage summary of the day before the run, as the previous daily run leaves it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.exports import DATA_DIR, ImpressionData, ensure_exports
from benchmarks.report import Result, Target, median, run_child

HISTORY_DAYS = (7, 365)
QUICK_HISTORY_DAYS = (4, 12)
MAX_GROWTH = 1.2
MAX_SQLITE_USAGE_SECONDS = 5.0
TASKS = ("impressions", "usage", "audit")
AUDIT_HISTORY_SHARE = "('0', '1')"  # last hex digit of the key: an eighth of the events
WINDOW_DAYS = 61  # days back from the first loaded day seeded with every daily row
OLD_DAYS_SHARE = "('1', '5')"  # older days: the users whose number ends in 1 or 5 (a fifth)
RETAINED_DATES = 90
EVENT_DAYS = 35
CASE_TIMEOUT_SECONDS = 3600


def full_data() -> ImpressionData:
    """Three daily exports of 150,000 rows each, for 3,000 users and 5,000 workbooks x 20 elements."""
    return ImpressionData(rows=450_000, days=3, files_per_day=1, window_hours=24, start=date(2026, 3, 2))


def quick_data() -> ImpressionData:
    return ImpressionData(
        rows=6_000, days=3, files_per_day=1, window_hours=24, users=50, workbooks=40, elements_per_workbook=5
    )


# -- the history and the timed run (in a child process) --------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """What differs between the engines in the benchmark's own seeding SQL."""

    name: str
    connect: Callable[[], Any]
    shift_day: str  # "{col}" shifted back by "n" days
    shift_time: str
    key_tail: str
    user_tail: str
    shift_key: str  # a key's leading epoch microseconds (up to "{sep}") shifted back by "n" days
    in_order: str  # what orders rows as the daily runs wrote them: "n", then the source table's order

    def warehouse(self) -> Any:
        from airflow_sigma.warehouse import PostgresDialect, SqliteDialect, Warehouse

        dialect = SqliteDialect() if self.name == "sqlite" else PostgresDialect()
        return Warehouse(self.connect, dialect)


def sqlite_engine(path: Path) -> Engine:
    return Engine(
        "sqlite",
        lambda: sqlite3.connect(path),
        "date({col}, '-' || n || ' days')",
        "date({col}, '-' || n || ' days') || substr({col}, 11)",
        "substr(event_key, -1)",
        "substr(user_email, instr(user_email, '@') - 1, 1)",
        "(CAST(substr(event_key, 1, instr(event_key, '{sep}') - 1) AS INTEGER) - n * 86400000000) "
        "|| substr(event_key, instr(event_key, '{sep}'))",
        "",  # the numbers are the outer loop of the CROSS JOIN, then the source table's rowid order
    )


def postgres_engine(dsn: str) -> Engine:
    import psycopg

    return Engine(
        "postgres",
        lambda: psycopg.connect(dsn),
        "({col} - n)",
        "({col} - n * INTERVAL '1 day')",
        "right(event_key, 1)",
        "substr(user_email, strpos(user_email, '@') - 1, 1)",
        "(split_part(event_key, '{sep}', 1)::bigint - n * 86400000000)::text "
        "|| substr(event_key, strpos(event_key, '{sep}'))",
        "ORDER BY n, 1",
    )


def audit_exports(folder: Path) -> Path:
    """The impression exports of ``folder`` as raw audit-log exports (views, and a login for one row
    in 20), written next to them once."""
    import os

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    target = folder / "audit"
    if (target / "done").exists():
        return target
    target.mkdir(exist_ok=True)
    for path in sorted(folder.glob("*.csv")):
        table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(strings_can_be_null=False))
        size = table.num_rows
        login = pa.array([i % 20 == 0 for i in range(size)])
        audit = pa.table(
            {
                "Request Time": table["request_time"],
                "Event Type": pc.if_else(login, "ACCESS_SIGMA", "OBJECT_INTERACTION"),
                "Event Name": pc.if_else(login, "Login", "view_workbook"),
                "Event Status": pa.array(["SUCCESS"] * size),
                "User Email": table["user_email"],
                "Object Id": table["workbook_url_id"],
                "Workbook URL Id": table["workbook_url_id"],
                "Element Id": table["element_id"],
                "Count": table["count"],
            }
        )
        out = target / path.name.replace("impressions", "audit")
        pa_csv.write_csv(audit, out)
        stamp = path.stat().st_mtime
        os.utime(out, (stamp, stamp))
    (target / "done").write_text("")
    return target


def catalog_of(spec: ImpressionData) -> Any:
    """The catalog of the generated exports' workbooks and elements (the generator's ids, regenerated
    from its seed)."""
    import numpy as np

    from airflow_sigma.catalog import Catalog, CatalogStats, ElementRow, MemberRow, WorkbookRow
    from benchmarks.exports import _codes

    rng = np.random.default_rng(spec.seed)
    urls = _codes(rng, spec.workbooks, 22).to_pylist()
    elements = _codes(rng, spec.workbooks * spec.elements_per_workbook, 10).to_pylist()
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    workbooks = [
        WorkbookRow(
            f"id-{w}",
            url,
            f"Workbook {w}",
            "Shared/Team",
            "Shared",
            False,
            None,
            "m1",
            "a@x.com",
            now,
            now,
            1,
            False,
            "m1",
            "m1",
        )
        for w, url in enumerate(urls)
    ]
    rows = [
        ElementRow(
            f"id-{w}",
            url,
            "page-1",
            "Page 1",
            elements[w * spec.elements_per_workbook + e],
            None,
            "table",
            None,
            3,
        )
        for w, url in enumerate(urls)
        for e in range(spec.elements_per_workbook)
    ]
    members = [MemberRow("m1", "a@x.com", "A", "B", "admin", False, False)]
    return Catalog(workbooks, rows, members, CatalogStats())


def seed_history(
    engine: Engine, spec: ImpressionData, folder: Path, audit: Path, days: int
) -> dict[str, Any]:
    """``days`` days of history before the run's day (see the module docs)."""
    from airflow_sigma.audit import AuditJob, LoginSettings, rebuild_audit_days
    from airflow_sigma.catalog import write_catalog
    from airflow_sigma.loading import load_exports
    from airflow_sigma.usage import ImpressionsJob, build_usage_summary
    from airflow_sigma.warehouse import AUDIT_EVENTS

    warehouse = engine.warehouse()
    first, second = spec.start, spec.start + timedelta(days=1)
    write_catalog(warehouse, catalog_of(spec), second, keep_snapshots=None)
    run_at = at_midnight(second + timedelta(days=1))
    load_exports(warehouse, listed(folder)[:2], ImpressionsJob(run_date=second), run_at=run_at)
    load_exports(warehouse, listed(audit)[:2], AuditJob(), run_at=run_at)
    older = days - 2
    kept = min(days, RETAINED_DATES) - 1
    connection = engine.connect()
    try:
        cursor = connection.cursor()

        def run(sql: str, limit: int | None = None) -> None:
            numbers = f"(SELECT n FROM bench_n WHERE n <= {limit})" if limit is not None else "bench_n"
            cursor.execute(sql.replace("{numbers}", numbers))

        shift_day = engine.shift_day.format(col="day")
        moved = {
            "uri": "'file:///history/' || n || '/' || uri",
            "last_modified": engine.shift_time.format(col="last_modified"),
        }
        shifted_files = [moved.get(c, c) for c in _columns(cursor, engine, "sigma_export_files")]
        cursor.execute("CREATE TABLE bench_n (n INTEGER PRIMARY KEY)")
        cursor.execute(f"INSERT INTO bench_n VALUES {', '.join(f'({n})' for n in range(1, older + 1))}")
        run(
            f"INSERT INTO sigma_impressions_daily SELECT {shift_day}, workbook_url_id, element_id, "
            f"user_email, impressions FROM sigma_impressions_daily CROSS JOIN {{numbers}} x "
            f"WHERE day = '{first}' AND (n <= {WINDOW_DAYS} OR {engine.user_tail} IN {OLD_DAYS_SHARE}) "
            f"ORDER BY 1, 2, 3, 4"
        )
        run(
            f"INSERT INTO sigma_impression_events SELECT {engine.shift_key.format(sep='|')}, "
            f"{engine.shift_time.format(col='request_time')}, {shift_day}, user_email, workbook_url_id, "
            f"element_id, impressions, source_uri FROM {{numbers}} x CROSS JOIN sigma_impression_events "
            f"WHERE day = '{first}' {engine.in_order}",
            EVENT_DAYS - 2,
        )
        columns = ", ".join(c.name for c in AUDIT_EVENTS.columns[3:-1])
        run(
            f"INSERT INTO sigma_audit_events SELECT {engine.shift_key.format(sep=';')}, "
            f"{engine.shift_time.format(col='request_time')}, {shift_day}, {columns}, source_uri "
            f"FROM {{numbers}} x CROSS JOIN sigma_audit_events WHERE day = '{first}' "
            f"AND {engine.key_tail} IN {AUDIT_HISTORY_SHARE} {engine.in_order}"
        )
        run(
            f"INSERT INTO sigma_export_files SELECT {', '.join(shifted_files)} FROM sigma_export_files "
            f"CROSS JOIN {{numbers}} x WHERE uri LIKE '%{first}%'"
        )
        for table, key in (("sigma_workbooks", "snapshot_date"), ("sigma_workbook_elements", "snapshot_date"),
                           ("sigma_members", "snapshot_date")):  # fmt: skip
            names = ", ".join(_columns(cursor, engine, table)[1:])
            run(
                f"INSERT INTO {table} SELECT {engine.shift_day.format(col=key)}, {names} "
                f"FROM {{numbers}} x CROSS JOIN {table} {engine.in_order}",
                kept,
            )
        connection.commit()
    finally:
        connection.close()
    with warehouse.transaction() as tx:
        history = [first - timedelta(days=n) for n in range(1, older + 1)]
        rebuild_audit_days(tx, history, LoginSettings())
    build_usage_summary(warehouse, second, keep_dates=None)  # the previous daily run
    connection = engine.connect()
    try:
        cursor = connection.cursor()
        names = ", ".join(_columns(cursor, engine, "sigma_usage")[1:])
        cursor.execute(
            f"INSERT INTO sigma_usage SELECT {engine.shift_day.format(col='as_of')}, {names} "
            f"FROM (SELECT n FROM bench_n WHERE n <= {kept}) x CROSS JOIN sigma_usage {engine.in_order}"
        )  # date by date, as runs write them: retention deletes one date, not rows spread over the table
        cursor.execute("DROP TABLE bench_n")
        counts = {}
        for table in ("sigma_impressions_daily", "sigma_impression_events", "sigma_audit_events",
                      "sigma_workbook_elements", "sigma_usage"):  # fmt: skip
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = int(cursor.fetchone()[0])
        connection.commit()
        if engine.name == "postgres":  # what autovacuum does to tables this size on a live server
            connection.autocommit = True
            cursor.execute("VACUUM ANALYZE")
    finally:
        connection.close()
    return counts


def _columns(cursor: Any, engine: Engine, table: str) -> list[str]:
    if engine.name == "sqlite":
        cursor.execute(f"SELECT name FROM pragma_table_info('{table}')")
    else:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        )
    return [str(row[0]) for row in cursor.fetchall()]


def at_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc)


def listed(folder: Path) -> list[Any]:
    """The exports directly in ``folder`` (the listing is recursive: the audit exports are in a
    subfolder, and the impressions run must not read them too)."""
    from airflow_sigma.storage import list_exports, parse_export_uri

    exports = list_exports(parse_export_uri(f"file://{folder}"), None, None)
    here = [export for export in exports if export["uri"].rsplit("/", 1)[0] == f"file://{folder}"]
    return sorted(here, key=lambda export: export["uri"])


def daily_run(engine: Engine, spec: ImpressionData, folder: Path, audit: Path) -> dict[str, dict[str, float]]:
    """The daily run of the day after the history, task by task: wall seconds, and this process's CPU
    seconds (on SQLite all the work; on PostgreSQL the server's is not in it)."""
    from airflow_sigma.audit import AuditJob
    from airflow_sigma.loading import load_exports
    from airflow_sigma.usage import ImpressionsJob, build_usage_summary

    warehouse = engine.warehouse()
    day = spec.last_day
    run_at = at_midnight(day + timedelta(days=1))
    tasks: dict[str, Callable[[], Any]] = {
        "impressions": lambda: load_exports(
            warehouse, listed(folder), ImpressionsJob(run_date=day), run_at=run_at
        ),
        "usage": lambda: build_usage_summary(warehouse, day),
        "audit": lambda: load_exports(warehouse, listed(audit), AuditJob(), run_at=run_at),
    }
    seconds, cpu = {}, {}
    for task, work in tasks.items():
        started, used = time.perf_counter(), time.process_time()
        work()
        seconds[task] = time.perf_counter() - started
        cpu[task] = time.process_time() - used
    return {"seconds": seconds, "process_cpu_seconds": cpu}


def one_case(engine: Engine, quick: bool, days: int, step: str) -> dict[str, Any]:
    """``step`` "seed": build the history; "run": the timed daily run on it."""
    spec = quick_data() if quick else full_data()
    folder, _ = ensure_exports(spec)
    audit = audit_exports(folder)
    if step == "run":
        return daily_run(engine, spec, folder, audit)
    started = time.perf_counter()
    counts = seed_history(engine, spec, folder, audit, days)
    return {"seed_seconds": time.perf_counter() - started, "rows": counts}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Seed a history, or time a daily run on one (prints JSON).")
    parser.add_argument("step", choices=("seed", "run"))
    parser.add_argument("--engine", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dsn")
    parser.add_argument("--database", type=Path, help="the SQLite file")
    args = parser.parse_args(argv)
    engine = postgres_engine(args.dsn) if args.engine == "postgres" else sqlite_engine(args.database)
    print(json.dumps(one_case(engine, args.quick, args.days, args.step)))
    return 0


# -- the benchmark (in the parent) ---------------------------------------------------------------------


class Histories:
    """Where each case's seeded history lives, and fresh copies of it for the timed runs: a copy of
    the SQLite file, or a PostgreSQL database created from the seeded one as its template."""

    def __init__(self, engine: str, scratch: Path, server: Any = None) -> None:
        self.engine, self.scratch, self.server = engine, scratch, server

    def seeded(self, days: int) -> list[str]:
        if self.engine == "sqlite":
            return ["--database", str(self.scratch / f"history_{days}.db")]
        return ["--dsn", self.server.create_database(f"sigma_history_{days}")]

    def copy(self, days: int) -> list[str]:
        if self.engine == "sqlite":
            target = self.scratch / "run.db"
            shutil.copyfile(self.scratch / f"history_{days}.db", target)
            with target.open("rb+") as copied:  # on disk, as a long-lived warehouse file is: else the
                os.fsync(copied.fileno())  # run's first commit waits for the whole copy to be written
            return ["--database", str(target)]
        name = f"sigma_history_{days}"
        # a template must have no sessions: autovacuum may be working in it
        self.server.admin_execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        self.server.admin_execute(f'CREATE DATABASE "sigma_run" TEMPLATE "{name}"')
        return ["--dsn", self.server.dsn("sigma_run")]

    def drop_copy(self) -> None:
        if self.engine == "sqlite":
            (self.scratch / "run.db").unlink(missing_ok=True)
        else:
            self.server.drop_database("sigma_run")

    def drop(self, days: int) -> None:
        if self.engine == "sqlite":
            (self.scratch / f"history_{days}.db").unlink(missing_ok=True)
        else:
            self.server.drop_database(f"sigma_history_{days}")


def measure(histories: Histories, history: Sequence[int], flags: list[str], runs: int) -> dict[int, Any]:
    """Seed each case, then time ``runs`` daily runs of each on fresh copies, the cases alternating
    (so that a busy spell of the machine hits both), and keep each task's median."""
    engine = histories.engine
    cases: dict[int, dict[str, Any]] = {}
    try:
        for days in history:
            args = ["seed", "--engine", engine, "--days", str(days), *histories.seeded(days), *flags]
            cases[days] = {**run_child("benchmarks.history", *args, timeout=CASE_TIMEOUT_SECONDS), "runs": []}
        for n in range(runs):
            for days in [*history[n % 2 :], *history[: n % 2]]:
                copy = histories.copy(days)
                try:
                    args = ["run", "--engine", engine, "--days", str(days), *copy, *flags]
                    cases[days]["runs"].append(
                        run_child("benchmarks.history", *args, timeout=CASE_TIMEOUT_SECONDS)
                    )
                finally:
                    histories.drop_copy()
    finally:
        for days in cases:
            histories.drop(days)
    for days, case in cases.items():
        for kind in ("seconds", "process_cpu_seconds"):
            case[kind] = {task: median([r[kind][task] for r in case["runs"]]) for task in TASKS}
        _print(engine, days, case)
    return cases


def run(*, quick: bool, runs: int) -> Result:
    from tests.fixtures.postgres import start_postgres_server, stop_postgres_server

    spec = quick_data() if quick else full_data()
    folder, facts = ensure_exports(spec)
    audit_exports(folder)
    history = QUICK_HISTORY_DAYS if quick else HISTORY_DAYS
    flags = ["--quick"] if quick else []
    cases: dict[str, dict[int, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(dir=DATA_DIR) as scratch:
        cases["sqlite"] = measure(Histories("sqlite", Path(scratch)), history, flags, runs)
    server = start_postgres_server()
    try:
        cases["postgres"] = measure(Histories("postgres", Path(), server), history, flags, runs)
    finally:
        stop_postgres_server(server)
    short, long = history
    targets = [
        Target(
            f"{engine} {task}: {long} d / {short} d",
            cases[engine][long]["seconds"][task] / cases[engine][short]["seconds"][task],
            MAX_GROWTH,
            "<=",
            "x",
        )
        for engine in cases
        for task in TASKS
    ]
    targets.append(
        Target(
            f"sqlite usage summary after {long} d",
            cases["sqlite"][long]["seconds"]["usage"],
            MAX_SQLITE_USAGE_SECONDS,
            "<=",
            "s",
        )
    )
    return Result(
        name="history",
        setup={
            "files": facts,
            "history_days": list(history),
            "catalog": f"{spec.workbooks} workbooks x {spec.elements_per_workbook} elements",
            "audit_history_share": 0.125,
            "daily_rows_share_beyond_61_days": 0.2,
            "runs": runs,
        },
        measurements={
            engine: {str(d): case for d, case in by_days.items()} for engine, by_days in cases.items()
        },
        targets=targets,
        notes=[
            "Each case's history is built once; each run is the daily run on a fresh copy of it (a copied "
            "SQLite file, a PostgreSQL database created from it as template), the cases alternating; "
            "seconds are each task's median over the runs. The PostgreSQL server runs with fsync=off.",
            "Audit history holds an eighth of each day's events for the days before the two loaded ones.",
        ],
    )


def _print(engine: str, days: int, case: dict[str, Any]) -> None:
    timings = ", ".join(
        f"{task} {case['seconds'][task]:.2f} s (cpu {case['process_cpu_seconds'][task]:.2f} s)"
        for task in TASKS
    )
    print(f"  {engine} after {days} days (seeded in {case['seed_seconds']:.0f} s): {timings}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
