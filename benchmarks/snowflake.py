"""Benchmark 6: Snowflake's bulk path (Parquet, ``PUT``, ``COPY INTO``) against the ``INSERT`` path, on
the same fakesnow warehouse, side by side in one run.

The engine is fakesnow's HTTP server (DuckDB, the Snowflake SQL the tests run) in a child process of its
own, reached over 127.0.0.1 by the real Snowflake connector, as a worker reaches Snowflake. So the
worker's CPU and memory are its own: the connector's client-side work (binding every ``INSERT``
parameter into the statement's text; writing, and for ``PUT`` copying, the Parquet files) counts for
the worker, parsing and executing the SQL counts for the engine (measured apart, from the server's
``/proc/<pid>/stat``).

* **Worker CPU per million rows**: a child process reads the impressions exports the way the loader
  does (parse, event keys, staged text columns), keeps the staged batches, then appends them to the
  run's staging table (``Transaction.append_arrays``) and flushes; the CPU time (``time.process_time``,
  every thread of the process) of that append and flush is the figure. Once through the bulk path
  (``SnowflakeDialect()``) and once through the ``INSERT`` path (``SnowflakeDialect(parquet_loads=
  False)``: 1,000-row ``INSERT .. SELECT .. FROM VALUES``); both must leave every row in the table.
  Target: the bulk path costs the worker at most a fifth of the ``INSERT`` path.
* **Peak RSS when rows double**: a child process runs the whole impressions load (``load_exports``,
  bulk path) over the exports, then over twice the days (twice the rows); its ``VmHWM``. Target: the
  doubled load peaks below 1.25x.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.exports import ImpressionData, ensure_exports
from benchmarks.report import Result, Target, median, peak_rss_bytes, run_child

MAX_CPU_RATIO = 0.2  # bulk / INSERT worker CPU: at least 5x cheaper
MAX_RSS_GROWTH = 0.25
MiB = 1024**2
PATHS = ("bulk", "insert")
SERVER_START_SECONDS = 60.0


def full_data() -> ImpressionData:
    """40,000 rows over 3 days in 12 files: fakesnow's server takes about 5 ms of CPU per row of the
    INSERT path (parsing its statements), so larger sizes take many minutes."""
    return ImpressionData(rows=40_000, days=3, users=1_000, workbooks=2_000)


def quick_data() -> ImpressionData:
    return ImpressionData(rows=1_000, days=2, users=50, workbooks=40, elements_per_workbook=5)


# -- the engine: fakesnow's server, in a child process -----------------------------------------------


def serve(port: int) -> None:
    """fakesnow's server on ``port``, until stopped or until the benchmark that started it is gone."""
    import threading

    import uvicorn
    from fakesnow.server import app

    parent = os.getppid()

    def exit_when_orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)  # the benchmark was killed (a timeout): do not outlive it

    threading.Thread(target=exit_when_orphaned, daemon=True).start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


@contextmanager
def fakesnow_server() -> Iterator[tuple[int, int]]:
    """Start ``python -m benchmarks.snowflake serve`` on a free port of 127.0.0.1; yield (port, pid)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.snowflake", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the fakesnow server exited: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError as error:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"no fakesnow server on port {port} after {SERVER_START_SECONDS} s"
                    ) from error
                time.sleep(0.2)
        yield port, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the worker (child processes) --------------------------------------------------------------------


def connector(port: int, database: str | None = None) -> Any:
    """A connection factory of the real Snowflake connector to the fakesnow server on ``port``."""
    import snowflake.connector

    def connect() -> Any:
        return snowflake.connector.connect(
            user="fake",
            password="snow",
            account="fakesnow",
            host="127.0.0.1",
            port=port,
            protocol="http",
            database=database,
            schema="ANALYTICS" if database else None,
            session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
            network_timeout=600,
        )

    return connect


def create_database(port: int, database: str) -> None:
    connection = connector(port)()
    try:
        cursor = connection.cursor()
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.ANALYTICS")
    finally:
        connection.close()


def staged_batches(folder: Path, last_day: date) -> tuple[list[list[Any]], list[Any]]:
    """The impressions job's staged batches (its staging columns, then the file's rank) for every file
    of ``folder``, kept in memory; and the staging table's columns."""
    from airflow_sigma.loading.loader import staged_arrays, staging_columns
    from airflow_sigma.loading.merge import FILE_RANK
    from airflow_sigma.loading.staging import constant_column
    from airflow_sigma.storage import list_exports, parse_export_uri
    from airflow_sigma.usage import ImpressionsJob
    from airflow_sigma.warehouse import IMPRESSION_EVENTS

    columns = staging_columns(IMPRESSION_EVENTS)
    types = {c.name: c.type for c in IMPRESSION_EVENTS.columns}
    job = ImpressionsJob(run_date=last_day)
    files = sorted(list_exports(parse_export_uri(f"file://{folder}"), None, None), key=lambda f: f["uri"])
    batches = []
    for rank, export in enumerate(files, start=1):
        with open(export["uri"].removeprefix("file://"), "rb") as stream:
            read, _ = job.read(stream, export["uri"])
            for batch in read:
                arrays = staged_arrays(batch, columns, types)
                batches.append([*arrays, constant_column(rank, batch.num_rows)])
    return batches, [*columns, FILE_RANK]


def stage(port: int, path: str, folder: Path, last_day: date, database: str) -> dict[str, Any]:
    from airflow_sigma.warehouse import SnowflakeDialect, Warehouse

    batches, columns = staged_batches(folder, last_day)
    rows = sum(len(batch[0]) for batch in batches)
    create_database(port, database)
    warehouse = Warehouse(connector(port, database), SnowflakeDialect(parquet_loads=path == "bulk"))
    with warehouse.transaction() as tx:
        temp = tx.create_temp_table("sigma_stage_impressions", columns)
        cpu, wall = time.process_time(), time.perf_counter()
        for arrays in batches:
            tx.append_arrays(temp, arrays)
        tx.flush()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        loaded = tx.count(temp)
    if loaded != rows:
        raise AssertionError(f"{path}: {loaded} rows in the staging table, {rows} appended")
    return {"path": path, "rows": rows, "worker_cpu_s": cpu, "wall_s": wall, "batches": len(batches)}


def load(port: int, folder: Path, last_day: date, database: str) -> dict[str, Any]:
    from airflow_sigma.warehouse import SnowflakeDialect, Warehouse
    from benchmarks.impressions import load_folder

    create_database(port, database)
    warehouse = Warehouse(connector(port, database), SnowflakeDialect())
    cpu = time.process_time()
    loaded, seconds = load_folder(warehouse, folder, last_day)
    return {
        "rows_read": loaded.totals()["rows_read"],
        "events": loaded.events,
        "seconds": seconds,
        "worker_cpu_s": time.process_time() - cpu,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The Snowflake benchmark's processes (prints JSON).")
    parser.add_argument("mode", choices=("serve", "stage", "load"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", choices=PATHS, default="bulk")
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--last-day", type=date.fromisoformat)
    parser.add_argument("--database", default="SIGMA_BENCH")
    args = parser.parse_args(argv)
    if args.mode == "serve":
        serve(args.port)
        return 0
    if args.mode == "stage":
        outcome = stage(args.port, args.path, args.folder, args.last_day, args.database)
    else:
        outcome = load(args.port, args.folder, args.last_day, args.database)
    print(json.dumps({**outcome, "peak_rss_bytes": peak_rss_bytes()}))
    return 0


# -- the benchmark (parent process) ------------------------------------------------------------------


def run_measured(pid: int, *args: str) -> dict[str, Any]:
    """A worker child, with the engine's CPU time spent while it ran."""
    engine = cpu_seconds(pid)
    outcome = run_child("benchmarks.snowflake", *args)
    return {**outcome, "engine_cpu_s": cpu_seconds(pid) - engine}


def per_million(seconds: float, rows: int) -> float:
    return seconds * 1_000_000 / rows


def run(*, quick: bool, runs: int) -> Result:
    spec = quick_data() if quick else full_data()
    longer = replace(spec, rows=spec.rows * 2, days=spec.days * 2)
    folder, facts = ensure_exports(spec)
    longer_folder, longer_facts = ensure_exports(longer)
    staged: dict[str, list[dict[str, Any]]] = {path: [] for path in PATHS}
    loads: list[dict[str, Any]] = []
    with fakesnow_server() as (port, pid):
        common = ["--port", str(port), "--last-day"]
        for n in range(runs):
            for path in PATHS[n % 2 :] + PATHS[: n % 2]:  # rotate the order: drift hits both sides
                args = ["stage", *common, str(spec.last_day), "--folder", str(folder), "--path", path]
                outcome = run_measured(pid, *args, "--database", f"SIGMA_STAGE_{path}_{n}".upper())
                staged[path].append(outcome)
                print(
                    f"  snowflake {path}: {outcome['rows']:,} rows, "
                    f"worker {outcome['worker_cpu_s']:.2f} s CPU, "
                    f"engine {outcome['engine_cpu_s']:.2f} s CPU, {outcome['wall_s']:.2f} s",
                    flush=True,
                )
        for name, (data, where) in {"base": (spec, folder), "doubled": (longer, longer_folder)}.items():
            args = ["load", *common, str(data.last_day), "--folder", str(where)]
            outcome = run_measured(pid, *args, "--database", f"SIGMA_LOAD_{name}".upper())
            loads.append({"data": name, **outcome})
            print(
                f"  snowflake load ({data.days} days, {outcome['rows_read']:,} rows): peak RSS "
                f"{outcome['peak_rss_bytes'] / MiB:,.0f} MiB, {outcome['seconds']:.2f} s",
                flush=True,
            )
    rows = staged["bulk"][0]["rows"]
    cpu = {path: median([r["worker_cpu_s"] for r in staged[path]]) for path in PATHS}
    engine = {path: median([r["engine_cpu_s"] for r in staged[path]]) for path in PATHS}
    base, double = loads
    growth = double["peak_rss_bytes"] / base["peak_rss_bytes"]
    return Result(
        name="snowflake",
        setup={
            "data": asdict(spec),
            "files": facts,
            "doubled_days_files": longer_facts,
            "runs": runs,
            "engine": "fakesnow 0.12.1 HTTP server (DuckDB) in a child process, real Snowflake connector",
        },
        measurements={
            "rows_staged": rows,
            "bulk_worker_cpu_s_per_million": round(per_million(cpu["bulk"], rows), 3),
            "insert_worker_cpu_s_per_million": round(per_million(cpu["insert"], rows), 3),
            "bulk_engine_cpu_s_per_million": round(per_million(engine["bulk"], rows), 3),
            "insert_engine_cpu_s_per_million": round(per_million(engine["insert"], rows), 3),
            "bulk_wall_s_median": round(median([r["wall_s"] for r in staged["bulk"]]), 3),
            "insert_wall_s_median": round(median([r["wall_s"] for r in staged["insert"]]), 3),
            "load_peak_rss_mib": round(base["peak_rss_bytes"] / MiB),
            "doubled_load_peak_rss_mib": round(double["peak_rss_bytes"] / MiB),
            "load_worker_cpu_s_per_million": round(per_million(base["worker_cpu_s"], base["rows_read"]), 3),
            "runs_bulk": staged["bulk"],
            "runs_insert": staged["insert"],
            "loads": loads,
        },
        notes=[
            "Worker CPU is the staging only (append + flush of batches parsed beforehand); the whole load's "
            "worker CPU (parsing included) is load_worker_cpu_s_per_million.",
            "Engine CPU is fakesnow's (sqlglot parsing + DuckDB), not Snowflake's: only the worker figures "
            "carry over to a real account.",
            "The bulk path's worker CPU includes importing pyarrow.parquet and the connector's file "
            "transfer (about 0.08 s, once per process): at --quick sizes it outweighs the rows.",
        ],
        targets=[
            Target("worker CPU bulk / INSERT", cpu["bulk"] / cpu["insert"], MAX_CPU_RATIO, "<=", "x"),
            Target(
                f"peak RSS growth, {spec.days} -> {longer.days} days",
                100 * (growth - 1),
                100 * MAX_RSS_GROWTH,
                "<=",
                "%",
            ),
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
