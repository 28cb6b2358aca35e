"""``python -m benchmarks --quick`` runs every benchmark end to end on small sizes, so the harness
cannot rot. Only the output's structure is asserted, never timings (those belong to ``make bench``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = {"discovery", "impressions", "postgres", "dag_parsing", "history", "snowflake"}


@pytest.mark.integration
@pytest.mark.timeout(1200)  # six quick benchmarks, each in child processes, on a shared 2-core machine
def test_quick_run_reports_every_benchmark(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1140,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    document = json.loads(output.read_text())
    assert document["mode"] == "quick"
    assert document["machine"]["cpus"] >= 1
    results = {result["name"]: result for result in document["benchmarks"]}
    assert set(results) == BENCHMARKS

    missed = []
    for name, result in results.items():
        assert result["targets"], name
        for target in result["targets"]:
            assert set(target) == {"name", "value", "limit", "comparison", "unit", "met"}
            assert target["comparison"] in ("<=", ">=")
            holds = (
                target["value"] <= target["limit"]
                if target["comparison"] == "<="
                else (target["value"] >= target["limit"])
            )
            assert target["met"] is holds, target
            if not holds:
                missed.append(f"{name}: {target['name']}")
        assert result["met"] is all(t["met"] for t in result["targets"])
    assert document["missed"] == missed
    assert document["all_targets_met"] is (not missed)

    discovery = results["discovery"]["measurements"]
    assert discovery["runs_c8"][0]["requests"] >= discovery["minimum_requests"] > 0
    assert discovery["runs_c8"][0]["peak_in_flight"] >= 1
    impressions = results["impressions"]["measurements"]
    assert impressions["rows_read"] >= impressions["events"] > 0  # overlapping files repeat events
    assert results["postgres"]["measurements"]["rows_read"] == impressions["rows_read"]
    parsed = results["dag_parsing"]["measurements"]
    assert set(parsed) == {path.name for path in (REPO / "dags").glob("*.py")}
    assert all(entry["dags"] for entry in parsed.values())

    history = results["history"]["measurements"]
    for engine in ("sqlite", "postgres"):
        for case in history[engine].values():
            assert set(case["seconds"]) == {"impressions", "usage", "audit"}
            assert case["rows"]["sigma_impressions_daily"] > 0 and case["rows"]["sigma_usage"] > 0
    assert [t["name"] for t in results["history"]["targets"]][-1] == "sqlite usage summary after 12 d"

    snowflake = results["snowflake"]["measurements"]
    staged = snowflake["runs_bulk"] + snowflake["runs_insert"]
    assert {run["path"] for run in staged} == {"bulk", "insert"}
    assert all(run["rows"] == snowflake["rows_staged"] > 0 for run in staged)
    assert snowflake["loads"][1]["rows_read"] > snowflake["loads"][0]["rows_read"] > 0

    table = done.stdout
    assert "benchmark" in table and "status" in table
    for name in BENCHMARKS:
        assert name in table
    assert ("TARGETS MISSED" in table) is bool(missed)
