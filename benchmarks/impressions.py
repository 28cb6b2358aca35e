"""Benchmark 2: impressions end to end into SQLite, against a plain baseline on the same files.

Ours: :func:`airflow_sigma.loading.load_exports` with :class:`airflow_sigma.usage.ImpressionsJob`
(events merged, daily rebuilt) and :func:`airflow_sigma.usage.build_usage_summary`, on a SQLite
warehouse configured as an Airflow ``sqlite`` connection gets it (``SqliteDialect()``).

Baseline (issue 5's definition): ``pyarrow.csv.read_csv`` of each file, ``sqlite3`` ``executemany``
upsert of its rows into a table keyed by the event identity (request_time, user_email,
workbook_url_id, element_id; the newest file's count wins), then one ``GROUP BY`` into a daily table,
in one transaction.

Each side runs in a child process of its own (``python -m benchmarks.impressions <side> ...``, which
prints one JSON line), so peak RSS is measured per side. Both must end with the same events and the
same impressions per day, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.exports import ImpressionData, ensure_exports
from benchmarks.report import Result, Target, median, peak_rss_bytes, run_child

if TYPE_CHECKING:
    from airflow_sigma.loading import LoadResult
    from airflow_sigma.warehouse import Warehouse

MAX_RATIO = 1.5
MAX_RSS_BYTES = 1024**3
MAX_RSS_GROWTH = 0.25
MiB = 1024**2


def full_data() -> ImpressionData:
    """5M rows over 6 days in 24 files (about 450 MB)."""
    return ImpressionData(rows=5_000_000)


def quick_data() -> ImpressionData:
    return ImpressionData(rows=20_000, days=2, users=50, workbooks=40, elements_per_workbook=5)


def doubled(spec: ImpressionData) -> ImpressionData:
    """Twice the days (and files, and rows) of ``spec``, at the same daily rate."""
    return replace(spec, rows=spec.rows * 2, days=spec.days * 2)


# -- the two sides (run in child processes) ----------------------------------------------------------


def load_folder(warehouse: Warehouse, folder: Path, last_day: date) -> tuple[LoadResult, float]:
    """The impressions job over every file of ``folder``, as the daily run of ``last_day``; and its
    wall time in seconds (listing included)."""
    from airflow_sigma.loading import load_exports
    from airflow_sigma.storage import list_exports, parse_export_uri
    from airflow_sigma.usage import ImpressionsJob

    run_at = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    started = time.perf_counter()
    files = list_exports(parse_export_uri(f"file://{folder}"), None, None)
    loaded = load_exports(warehouse, files, ImpressionsJob(run_date=last_day), run_at=run_at)
    return loaded, time.perf_counter() - started


def run_ours(folder: Path, database: Path, last_day: date, *, wal: bool = False) -> dict[str, Any]:
    from airflow_sigma.usage import build_usage_summary
    from airflow_sigma.warehouse import SqliteDialect, Warehouse

    dialect = SqliteDialect(journal_mode="wal") if wal else SqliteDialect()
    warehouse = Warehouse(lambda: sqlite3.connect(database), dialect)
    started = time.perf_counter()
    loaded, load_seconds = load_folder(warehouse, folder, last_day)
    build_usage_summary(warehouse, last_day)
    total_seconds = time.perf_counter() - started
    with sqlite3.connect(database) as connection:
        events, days = _totals(connection, "sigma_impression_events", "sigma_impressions_daily")
    return {
        "seconds": total_seconds,
        "load_seconds": load_seconds,
        "rows_read": loaded.totals()["rows_read"],
        "events": events,
        "daily": days,
    }


# "ours_wal" is a diagnostic, not a target: ours on a SQLite file in WAL mode, to show what WAL costs
# on big loads (SqliteDialect() keeps a new file's rollback journal, as the baseline does).
SIDES = ("ours", "baseline", "ours_wal")
BASELINE_COLUMNS = ("request_time", "user_email", "workbook_url_id", "element_id", "count")


def run_baseline(folder: Path, database: Path) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    started = time.perf_counter()
    paths = sorted(folder.glob("*.csv"), key=lambda p: (p.stat().st_mtime, p.name))  # oldest first
    types = {name: pa.string() for name in BASELINE_COLUMNS} | {"count": pa.int64()}
    convert = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=False)
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("BEGIN")
    connection.execute(
        "CREATE TABLE events (request_time TEXT NOT NULL, user_email TEXT NOT NULL, "
        "workbook_url_id TEXT NOT NULL, element_id TEXT NOT NULL, impressions INTEGER NOT NULL, "
        "PRIMARY KEY (request_time, user_email, workbook_url_id, element_id))"
    )
    upsert = (
        "INSERT INTO events VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT DO UPDATE SET impressions = excluded.impressions"
    )
    rows_read = 0
    for path in paths:
        table = pa_csv.read_csv(path, convert_options=convert)
        rows_read += table.num_rows
        connection.executemany(
            upsert, zip(*(table.column(n).to_pylist() for n in BASELINE_COLUMNS), strict=True)
        )
    connection.execute(
        "CREATE TABLE daily AS SELECT substr(request_time, 1, 10) AS day, workbook_url_id, element_id, "
        "user_email, SUM(impressions) AS impressions FROM events GROUP BY 1, 2, 3, 4"
    )
    connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    events, days = _totals(connection, "events", "daily")
    connection.close()
    return {"seconds": seconds, "rows_read": rows_read, "events": events, "daily": days}


def _totals(connection: sqlite3.Connection, events: str, daily: str) -> tuple[int, dict[str, int]]:
    count = connection.execute(f"SELECT COUNT(*) FROM {events}").fetchone()[0]
    per_day = connection.execute(f"SELECT day, SUM(impressions) FROM {daily} GROUP BY day ORDER BY day")
    return int(count), {str(day): int(total) for day, total in per_day}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One side of the impressions benchmark (prints JSON).")
    parser.add_argument("side", choices=SIDES)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--last-day", type=date.fromisoformat, required=True)
    args = parser.parse_args(argv)
    if args.side == "baseline":
        outcome = run_baseline(args.folder, args.database)
    else:
        outcome = run_ours(args.folder, args.database, args.last_day, wal=args.side == "ours_wal")
    print(json.dumps({**outcome, "peak_rss_bytes": peak_rss_bytes()}))
    return 0


# -- the benchmark (parent process) ------------------------------------------------------------------


def run_side(side: str, folder: Path, spec: ImpressionData, scratch: Path) -> dict[str, Any]:
    """Run one side on an empty database in ``scratch`` (deleted afterwards)."""
    database = scratch / f"{side}.db"
    try:
        args = ["--folder", str(folder), "--database", str(database), "--last-day", str(spec.last_day)]
        outcome = run_child("benchmarks.impressions", side, *args)
    finally:
        for leftover in scratch.glob(f"{side}.db*"):
            leftover.unlink()
    peak = outcome["peak_rss_bytes"] / MiB
    print(f"  impressions {side} ({spec.days} days): {outcome['seconds']:.2f} s, peak RSS {peak:,.0f} MiB")
    return outcome


def run(*, quick: bool, runs: int) -> Result:
    spec = quick_data() if quick else full_data()
    folder, facts = ensure_exports(spec)
    longer = doubled(spec)
    longer_folder, longer_facts = ensure_exports(longer)
    outcomes: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="sigma-bench-") as scratch_dir:
        scratch = Path(scratch_dir)
        for n in range(runs):
            for side in SIDES[n % 2 :] + SIDES[: n % 2]:  # rotate the order: drift hits every side
                outcomes[side].append(run_side(side, folder, spec, scratch))
        longer_ours = run_side("ours", longer_folder, longer, scratch)
    ours, baseline = outcomes["ours"], outcomes["baseline"]
    wal = outcomes["ours_wal"]
    _check_same_results(ours[0], baseline[0])
    _check_same_results(wal[0], baseline[0])
    ours_s = median([r["seconds"] for r in ours])
    baseline_s = median([r["seconds"] for r in baseline])
    rss = max(r["peak_rss_bytes"] for r in ours)
    rss_growth = longer_ours["peak_rss_bytes"] / rss - 1
    return Result(
        name="impressions",
        setup={
            "data": asdict(spec),
            "files": facts,
            "doubled_days_files": longer_facts,
            "runs": runs,
            "warehouse": "SQLite file, SqliteDialect() defaults (the new file's rollback journal), "
            "one child process per side",
        },
        measurements={
            "ours_s_median": round(ours_s, 3),
            "ours_load_s_median": round(median([r["load_seconds"] for r in ours]), 3),
            "baseline_s_median": round(baseline_s, 3),
            "ours_wal_s_median": round(median([r["seconds"] for r in wal]), 3),
            "rows_read": ours[0]["rows_read"],
            "events": ours[0]["events"],
            "ours_peak_rss_mib": round(rss / MiB),
            "baseline_peak_rss_mib": round(max(r["peak_rss_bytes"] for r in baseline) / MiB),
            "doubled_days_peak_rss_mib": round(longer_ours["peak_rss_bytes"] / MiB),
            "doubled_days_s": round(longer_ours["seconds"], 3),
            "runs_ours": [_brief(r) for r in ours],
            "runs_baseline": [_brief(r) for r in baseline],
            "runs_ours_wal": [_brief(r) for r in wal],
        },
        notes=[
            "ours_wal (a diagnostic, not the target) is ours on a SQLite file in WAL mode, in which a big "
            "transaction is written twice (to the WAL, then checkpointed into the database).",
            "ours = load_exports (events merged, daily rebuilt) + build_usage_summary; the baseline builds "
            "no usage summary and keeps no event keys, source URIs or day index.",
        ],
        targets=[
            Target("time ours / baseline", ours_s / baseline_s, MAX_RATIO, "<=", "x"),
            Target("peak RSS (ours)", rss / MiB, MAX_RSS_BYTES / MiB, "<=", "MiB"),
            Target(
                f"peak RSS growth, {spec.days} -> {longer.days} days",
                100 * rss_growth,
                100 * MAX_RSS_GROWTH,
                "<=",
                "%",
            ),
        ],
    )


def _brief(outcome: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in outcome.items() if key != "daily"}


def _check_same_results(ours: dict[str, Any], baseline: dict[str, Any]) -> None:
    if ours["events"] != baseline["events"] or ours["daily"] != baseline["daily"]:
        raise AssertionError(
            f"ours and the baseline disagree: {ours['events']} vs {baseline['events']} events, "
            f"daily totals {ours['daily']} vs {baseline['daily']}"
        )


if __name__ == "__main__":
    sys.exit(main())
