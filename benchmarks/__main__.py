"""``python -m benchmarks [--quick] [--only NAME ...] [--runs N] [--output PATH]`` (``make bench``).

Runs the benchmarks, prints one table of measurements against targets (``MISSED`` where a target is
not met) and writes them as JSON: ``benchmarks/results.json`` for a full run, ``benchmarks/data/
results-quick.json`` (git-ignored) for ``--quick``, which uses small sizes to check the harness works.
The exit code is 0 even when a target is missed: the table and the JSON say so.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks import discovery, history, impressions, parsing, postgres, snowflake
from benchmarks.exports import DATA_DIR
from benchmarks.report import RESULTS_FILE, Result, print_table, write_results

BENCHMARKS: dict[str, Callable[..., Result]] = {
    "discovery": discovery.run,
    "impressions": impressions.run,
    "postgres": postgres.run,
    "dag_parsing": parsing.run,
    "history": history.run,
    "snowflake": snowflake.run,
}
FULL_RUNS = 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each (harness check)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    parser.add_argument("--runs", type=int, default=None, help=f"runs per measurement (full: {FULL_RUNS})")
    parser.add_argument("--output", type=Path, default=None, help="where the JSON goes")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else FULL_RUNS)
    output = args.output or (DATA_DIR / "results-quick.json" if args.quick else RESULTS_FILE)
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = []
    for name in args.only or list(BENCHMARKS):
        print(f"[{name}] ({'quick' if args.quick else 'full'}, {runs} run(s))", flush=True)
        results.append(BENCHMARKS[name](quick=args.quick, runs=runs))
    seconds = time.perf_counter() - started
    print()
    print_table(results)
    write_results(results, quick=args.quick, path=output, seconds=seconds)
    print(f"Wrote {output} after {seconds:.0f} s. Timings are from a shared machine: compare the ratios.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
