"""What every benchmark reports: measurements, targets met or missed, the table and ``results.json``."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

RESULTS_FILE = Path(__file__).resolve().parent / "results.json"
CHILD_TIMEOUT_SECONDS = 900


@dataclass
class Target:
    """One target: ``value`` compared with ``limit``.

    :param name: what is measured, e.g. ``"wall c=8 / wall c=1"``.
    :param value: the measurement.
    :param limit: the target's bound.
    :param comparison: ``"<="`` (at most) or ``">="`` (at least).
    :param unit: printed after the numbers.
    """

    name: str
    value: float
    limit: float
    comparison: Literal["<=", ">="]
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value <= self.limit if self.comparison == "<=" else self.value >= self.limit


@dataclass
class Result:
    """One benchmark's outcome.

    :param name: the benchmark.
    :param setup: what was run (sizes, options).
    :param measurements: absolute numbers (medians, per run lists).
    :param targets: the targets, each met or missed.
    :param notes: anything a reader must know to trust the numbers.
    """

    name: str
    setup: dict[str, Any]
    measurements: dict[str, Any]
    targets: list[Target]
    notes: list[str] = field(default_factory=list)

    @property
    def met(self) -> bool:
        return all(target.met for target in self.targets)

    def as_json(self) -> dict[str, Any]:
        targets = [{**asdict(t), "met": t.met} for t in self.targets]
        return {**asdict(self), "targets": targets, "met": self.met}


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def run_child(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = CHILD_TIMEOUT_SECONDS
) -> dict[str, Any]:
    """Run ``python -m module args`` and return the JSON object it prints on its last stdout line.

    Each measured side runs in a process of its own, so their peak memory and garbage do not mix.
    """
    command = [sys.executable, "-m", module, *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{' '.join(command)} failed with exit code {done.returncode}:\n{done.stderr[-4000:]}"
        )
    reply: dict[str, Any] = json.loads(lines[-1])
    return reply


def peak_rss_bytes() -> int:
    """This process's peak resident memory.

    Read from ``VmHWM`` of ``/proc/self/status`` where there is one: ``ru_maxrss`` survives ``exec``,
    so a child would report its parent's peak at the time it was forked.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux KiB, as a fallback


def format_value(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    if abs(value) >= 1000:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.3g} {unit}".strip()


def print_table(results: Sequence[Result]) -> None:
    rows = [("benchmark", "measure", "value", "target", "status")]
    for result in results:
        for target in result.targets:
            rows.append(
                (
                    result.name,
                    target.name,
                    format_value(target.value, target.unit),
                    f"{target.comparison} {format_value(target.limit, target.unit)}",
                    "ok" if target.met else "MISSED",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))
    missed = missed_targets(results)
    print()
    print(f"TARGETS MISSED: {'; '.join(missed)}" if missed else "All targets met.")


def missed_targets(results: Sequence[Result]) -> list[str]:
    """``"<benchmark>: <target>"`` for each target missed."""
    return [f"{r.name}: {t.name}" for r in results for t in r.targets if not t.met]


def write_results(results: Sequence[Result], *, quick: bool, path: Path, seconds: float) -> None:
    document = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "seconds": round(seconds, 1),
        "machine": machine(),
        "all_targets_met": all(r.met for r in results),
        "missed": missed_targets(results),
        "benchmarks": [r.as_json() for r in results],
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
