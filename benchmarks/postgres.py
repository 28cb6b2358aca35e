"""Benchmark 3: the impressions load into PostgreSQL (COPY into staging, then SQL), in rows per second.

The same files as the SQLite benchmark go through :func:`airflow_sigma.loading.load_exports` with
:class:`airflow_sigma.usage.ImpressionsJob` into a fresh database of a local PostgreSQL server, started
the way the test suite starts it (:mod:`tests.fixtures.postgres`: 127.0.0.1, a free port, its own data
directory, removed afterwards). Rows per second = rows read / wall time of the whole load (staging,
merge, daily rebuild, commit).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.exports import ensure_exports
from benchmarks.impressions import full_data, load_folder, quick_data
from benchmarks.report import Result, Target, median, peak_rss_bytes, run_child

MIN_ROWS_PER_SECOND = 150_000


def load(dsn: str, folder: Path, last_day: date) -> dict[str, Any]:
    import psycopg

    from airflow_sigma.warehouse import PostgresDialect, Warehouse

    warehouse = Warehouse(lambda: psycopg.connect(dsn), PostgresDialect())
    loaded, seconds = load_folder(warehouse, folder, last_day)
    rows = loaded.totals()["rows_read"]
    return {"seconds": seconds, "rows_read": rows, "events": loaded.events, "rows_per_s": rows / seconds}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One PostgreSQL load (prints JSON).")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--last-day", type=date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    outcome = load(args.dsn, args.folder, args.last_day)
    print(json.dumps({**outcome, "peak_rss_bytes": peak_rss_bytes()}))
    return 0


def run(*, quick: bool, runs: int) -> Result:
    from tests.fixtures.postgres import start_postgres_server, stop_postgres_server

    spec = quick_data() if quick else full_data()
    folder, facts = ensure_exports(spec)
    loads: list[dict[str, Any]] = []
    server = start_postgres_server()
    try:
        for n in range(runs):
            name = f"sigma_bench_{n}"
            dsn = server.create_database(name)
            try:
                args = ["--dsn", dsn, "--folder", str(folder), "--last-day", str(spec.last_day)]
                outcome = run_child("benchmarks.postgres", *args)
            finally:
                server.drop_database(name)
            loads.append(outcome)
            print(f"  postgres load: {outcome['seconds']:.2f} s, {outcome['rows_per_s']:,.0f} rows/s")
    finally:
        stop_postgres_server(server)
    rate = median([r["rows_per_s"] for r in loads])
    return Result(
        name="postgres",
        setup={"files": facts, "runs": runs, "server": "local PostgreSQL, fsync=off (as in the tests)"},
        measurements={
            "rows_read": loads[0]["rows_read"],
            "events": loads[0]["events"],
            "seconds_median": round(median([r["seconds"] for r in loads]), 3),
            "rows_per_s_median": round(rate),
            "runs": loads,
        },
        targets=[Target("load rate (rows read / s)", rate, MIN_ROWS_PER_SECOND, ">=", "rows/s")],
        notes=["The server runs with fsync=off, synchronous_commit=off (the test suite's settings)."],
    )


if __name__ == "__main__":
    sys.exit(main())
