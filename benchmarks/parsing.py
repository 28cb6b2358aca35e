"""Benchmark 4: DAG parsing cost of each sample DAG file, over a bare ``import airflow.sdk``.

Each measurement is a fresh interpreter (``python -m benchmarks.parsing <file>``) that imports
``airflow.sdk``, then executes the DAG file as a module, timing both steps; the extra time is the
second. The child also reports which heavy modules are loaded once the DAG file is: none may be.
Modules already there when the interpreter started do not count: a ``*-nspkg.pth`` file of the
Google packages creates the empty ``google.cloud`` namespace package in every interpreter.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.report import Result, Target, median, run_child

DAGS_DIR = Path(__file__).resolve().parent.parent / "dags"
MAX_EXTRA_SECONDS = 0.3
FORBIDDEN_MODULES = ("pandas", "pyarrow", "boto3", "botocore", "google.cloud")


def measure(path: Path) -> dict[str, Any]:
    """Import ``airflow.sdk``, then execute the DAG file; time both and list heavy modules loaded."""
    at_start = set(sys.modules)
    started = time.perf_counter()
    import airflow.sdk  # noqa: F401

    sdk_seconds = time.perf_counter() - started
    spec = importlib.util.spec_from_file_location(f"sigma_bench_dag_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    started = time.perf_counter()
    spec.loader.exec_module(module)
    dag_seconds = time.perf_counter() - started
    dags = sorted(name for name, value in vars(module).items() if type(value).__name__ == "DAG")
    return {
        "sdk_seconds": sdk_seconds,
        "dag_seconds": dag_seconds,
        "heavy_modules": _forbidden(set(sys.modules) - at_start),
        "present_at_interpreter_start": _forbidden(at_start),
        "dags": dags,
    }


def _forbidden(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN_MODULES))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Parse one DAG file in this fresh process (prints JSON).")
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.path)))
    return 0


def run(*, quick: bool, runs: int) -> Result:
    files = sorted(DAGS_DIR.glob("*.py"))
    if not files:
        raise RuntimeError(f"no DAG files in {DAGS_DIR}")
    measurements: dict[str, Any] = {}
    targets: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="sigma-bench-airflow-") as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        for path in files:
            samples = [run_child("benchmarks.parsing", str(path), env=env) for _ in range(runs)]
            extra = median([s["dag_seconds"] for s in samples])
            heavy = sorted({name for s in samples for name in s["heavy_modules"]})
            measurements[path.name] = {
                "extra_s_median": round(extra, 4),
                "bare_airflow_sdk_s_median": round(median([s["sdk_seconds"] for s in samples]), 4),
                "extra_s_runs": [round(s["dag_seconds"], 4) for s in samples],
                "dags": samples[0]["dags"],
                "heavy_modules": heavy,
                "present_at_interpreter_start": samples[0]["present_at_interpreter_start"],
            }
            print(f"  parsing {path.name}: +{extra:.3f} s over airflow.sdk, heavy modules {heavy or 'none'}")
            targets.append(
                Target(f"{path.name}: import time over airflow.sdk", extra, MAX_EXTRA_SECONDS, "<=", "s")
            )
            targets.append(Target(f"{path.name}: heavy modules imported", len(heavy), 0, "<=", "modules"))
    return Result(
        name="dag_parsing",
        setup={"files": [p.name for p in files], "runs": runs, "forbidden": list(FORBIDDEN_MODULES)},
        measurements=measurements,
        targets=targets,
    )


if __name__ == "__main__":
    sys.exit(main())
