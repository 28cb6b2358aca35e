"""The sample DAGs in dags/: they parse cleanly and light, and run end to end on real Airflow.

The end-to-end runs use ``dag.test()`` on a fresh Airflow DB against the local Sigma server, with
the exports on a local folder, moto S3 or the GCS emulator and the warehouse on SQLite or
PostgreSQL, and check the tables against the generated data's ground truth.
"""

from __future__ import annotations

import gzip
import itertools
import json
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.testing.exports import GroundTruth
from airflow_sigma.testing.sample_dags import airflow_env
from airflow_sigma.warehouse import MEMBER_ACTIVITY, USAGE, WORKBOOKS
from benchmarks.parsing import FORBIDDEN_MODULES
from tests.catalog.expected import expected_workbooks
from tests.fixtures.dags import DAGS, SampleDags
from tests.fixtures.exports import export_rows

DAG_FILES = sorted(DAGS.glob("*.py"))
START = date(2026, 3, 2)
DAYS = 5
LAST_DAY = START + timedelta(days=DAYS - 1)  # the sensed export (end of LAST_DAY) is the last file


def day(n: int) -> timedelta:
    return timedelta(days=n)


# -- parsing ---------------------------------------------------------------------------------------


def _bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    return bag


def test_dagbag_has_no_import_errors_and_the_public_dag_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGMA_DAG_RETRIES", raising=False)
    bag = _bag()
    assert set(bag.dag_ids) == {"sigma_usage_daily", "sigma_usage_weekly", "sigma_audit_history_daily"}
    for dag in bag.dags.values():
        assert dag.tags == {"sigma"} and not dag.catchup and dag.max_active_runs == 1
        assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
        for task in dag.tasks:
            assert (task.retries, task.retry_delay, task.retry_exponential_backoff) == (
                2,
                timedelta(minutes=5),
                True,
            )
            waits = task.task_id == "wait_for_export"  # may wait 6 h: a timeout longer than that
            assert task.execution_timeout == timedelta(hours=7 if waits else 2)
    usage = bag.dags["sigma_usage_daily"]
    chain = [
        "discover_workbooks",
        "wait_for_export",
        "list_exports",
        "aggregate_impressions",
        "build_usage_summary",
    ]
    for upstream, downstream in itertools.pairwise(chain):
        assert usage.get_task(upstream).downstream_task_ids == {downstream}
    audit = bag.dags["sigma_audit_history_daily"]
    for upstream, downstream in itertools.pairwise(
        ["list_exports", "load_audit_events", "build_member_activity"]
    ):
        assert audit.get_task(upstream).downstream_task_ids == {downstream}
    sensor = usage.get_task("wait_for_export")
    assert sensor.deferrable and sensor.timeout == 6 * 3600 < sensor.execution_timeout.total_seconds()


def test_tasks_declare_the_tables_they_write_as_assets() -> None:
    bag = _bag()
    expected = {
        "discover_workbooks": {"workbooks", "workbook_elements", "members"},
        "aggregate_impressions": {"impression_events", "impressions_daily", "export_files"},
        "build_usage_summary": {"usage"},
        "load_audit_events": {"audit_events", "daily_logins", "daily_event_counts", "export_files"},
        "build_member_activity": {"member_activity"},
    }
    for dag in bag.dags.values():
        for task in dag.tasks:
            names = {asset.name for asset in task.outlets}
            assert names == {f"sigma_{table}" for table in expected.get(task.task_id, set())}, task.task_id
            assert all(a.uri == f"x-sigma-warehouse://{a.name}" and a.group == "sigma" for a in task.outlets)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[f.name for f in DAG_FILES])
def test_parsing_a_dag_file_imports_no_heavy_library(dag_file: Path, tmp_path: Path) -> None:
    # Modules already loaded at start-up (the google-cloud namespace packages' .pth files) don't count.
    code = (
        "import json, runpy, sys\n"
        "before = set(sys.modules)\n"
        f"namespace = runpy.run_path({str(dag_file)!r})\n"
        "dags = sorted(v.dag_id for v in namespace.values() if type(v).__name__ == 'DAG')\n"
        "new = set(sys.modules) - before\n"
        f"forbidden = {FORBIDDEN_MODULES!r}\n"
        "heavy = sorted(m for m in new if any(m == h or m.startswith(h + '.') for h in forbidden))\n"
        "print(json.dumps({'dags': dags, 'heavy': heavy, 'modules': len(new)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=airflow_env(tmp_path, DAGS) | {"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    parsed = json.loads(result.stdout.splitlines()[-1])
    assert parsed["dags"] and parsed["modules"] > 100, "the file defines no DAG, or nothing was imported"
    assert parsed["heavy"] == []


# -- end to end ------------------------------------------------------------------------------------


def rows_in(path: Path) -> int:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return data.decode().count("\n") - 1  # header excluded


def check_export_files(sample_dags: SampleDags, truth: GroundTruth, job: str, names: list[str]) -> None:
    """The job read exactly ``names``, every row of them, each accepted, filtered out or bad."""
    read = export_rows(sample_dags.warehouse(), job)
    assert sorted(read) == sorted(names)
    sizes = {path.name: rows_in(path) for path in truth.files}
    for name, row in read.items():
        bad = row["bad_rows"]
        assert bad == sum(row["bad_row_kinds"].values()), name
        assert row["rows_read"] == sizes[name] == row["rows_accepted"] + row["rows_filtered"] + bad, name


def exported(truth: GroundTruth, first: date, last: date) -> list[str]:
    """Names of the files exported (at 00:00 UTC) on the days ``first`` to ``last``."""
    return [path.name for path in truth.files if str(first) <= path.name[:10] <= str(last)]


def check_usage(sample_dags: SampleDags, truth: GroundTruth, as_of: date) -> None:
    """sigma_usage as of ``as_of`` against the catalog and the ground truth (all data within 30 days)."""
    org = sample_dags.server.org
    catalog = {wb.workbook_url_id for wb in expected_workbooks(org, include_personal=True)}
    snapshot = sample_dags.warehouse().read_table(WORKBOOKS, {"snapshot_date": as_of})
    assert {row[2] for row in snapshot} == catalog
    usage = [dict(zip(USAGE.column_names, r, strict=True)) for r in sample_dags.warehouse().read_table(USAGE)]
    workbooks = {r["workbook_url_id"]: r for r in usage if r["resource_type"] == "workbook"}
    assert {r["as_of"] for r in usage} == {as_of}
    viewed = truth.workbook_totals()
    own: Counter[str] = Counter()
    for (_, wb, element, _), n in truth.impressions.items():
        own[wb] += 0 if element else n
    assert {wb for wb, r in workbooks.items() if r["discovered"]} == catalog
    assert {wb for wb, r in workbooks.items() if not r["discovered"]} == set(viewed) - catalog
    assert {wb: r["impressions_30d"] for wb, r in workbooks.items()} == {wb: own[wb] for wb in workbooks}
    assert {wb for wb, r in workbooks.items() if r["used"]} == set(viewed)
    assert catalog - set(viewed), "the data should leave some discovered workbooks unused"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("storage", "warehouse"), [("local", "sqlite"), ("s3", "postgres"), ("gcs", "sqlite")]
)
def test_usage_and_audit_dags_end_to_end(sample_dags: SampleDags, storage: str, warehouse: str) -> None:
    truth = sample_dags.stage(sample_dags.spec(START, DAYS), storage=storage, warehouse=warehouse)
    usage, audit = sample_dags.run(
        ("sigma_usage_daily", LAST_DAY), ("sigma_audit_history_daily", LAST_DAY + day(1))
    )

    # The usage run covers LAST_DAY: the files that landed from 2 days before it to its end, plus
    # the export the sensor waited for (landed after the interval: LAST_DAY's events, 3 bad rows).
    listed = exported(truth, LAST_DAY - day(2), LAST_DAY)
    [sensed] = exported(truth, LAST_DAY + day(1), LAST_DAY + day(1))
    assert usage["data_interval"] == [f"{LAST_DAY}T00:00:00+00:00", f"{LAST_DAY + day(1)}T00:00:00+00:00"]
    assert [f["uri"].rsplit("/", 1)[1] for f in usage["xcom"]["wait_for_export"]] == [sensed]
    check_export_files(sample_dags, truth, "impressions", [*listed, sensed])
    aggregated = usage["xcom"]["aggregate_impressions"]
    assert aggregated["bad_rows"] == sum(aggregated["bad_row_kinds"].values()) == truth.bad_rows == 3
    assert sample_dags.impressions_daily() == truth.impressions  # 48 h per file: every day is covered
    check_usage(sample_dags, truth, LAST_DAY)

    # The audit run (no sensor) covers the day after: the files that landed from LAST_DAY - 1 to its end.
    check_export_files(sample_dags, truth, "audit", exported(truth, LAST_DAY - day(1), LAST_DAY + day(1)))
    assert audit["xcom"]["load_audit_events"]["files"] == 3
    logins = sample_dags.daily_logins()
    covered = {d: n for d, n in truth.logins.items() if d >= START + day(1)}
    assert {d: n for d, n in logins.items() if d in covered} == covered
    assert all(n == [0, 0, 0] for d, n in logins.items() if d not in covered)  # days of other events only
    check_member_activity(sample_dags, LAST_DAY + day(1), audit["xcom"]["build_member_activity"])


def check_member_activity(sample_dags: SampleDags, as_of: date, summary: dict[str, Any]) -> None:
    """One row per member of the usage run's snapshot; their logins add up to sigma_daily_logins'."""
    members = sample_dags.server.org.members
    rows = [
        dict(zip(MEMBER_ACTIVITY.column_names, r, strict=True))
        for r in sample_dags.warehouse().read_table(MEMBER_ACTIVITY)
    ]
    assert {r["as_of"] for r in rows} == {as_of} and summary["as_of"] == as_of.isoformat()
    assert {r["member_id"]: r["email"] for r in rows} == {m.member_id: m.email for m in members}
    assert all(r["in_catalog"] for r in rows) and summary["users_not_in_catalog"] == 0
    logins = sample_dags.daily_logins()
    assert sum(r["logins_30d"] for r in rows) == sum(n[0] for d, n in logins.items() if d <= as_of) > 0
    # A few days of history cannot show 60 silent days: no seat is called unused.
    assert summary["seats_unused"] == 0 and not any(r["seat_unused"] for r in rows)


@pytest.mark.integration
def test_a_weekly_run_equals_its_seven_daily_runs(
    sample_dags: SampleDags, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sunday = date(2026, 3, 1)
    week = [sunday + day(n) for n in range(7)]
    truth = sample_dags.stage(sample_dags.spec(sunday - day(4), 14))  # data on both sides of the week
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMA_WEEKLY", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "weekly.db")})
    )
    weekly_run = {
        "dag_id": "sigma_usage_weekly",
        "logical_date": f"{sunday + day(7)}T00:00:00+00:00",
        "env": {"AIRFLOW_VAR_SIGMA_WAREHOUSE_CONN_ID": "sigma_weekly"},
    }
    *dailies, weekly = sample_dags.run(*(("sigma_usage_daily", d) for d in week), weekly_run)

    assert weekly["data_interval"] == [f"{sunday}T00:00:00+00:00", f"{sunday + day(7)}T00:00:00+00:00"]
    daily_tables, daily_usage = (
        sample_dags.impressions_daily(),
        sample_dags.warehouse().read_table(USAGE, {"as_of": week[-1]}),
    )
    sample_dags.warehouse_conn_id = "sigma_weekly"
    weekly_tables, weekly_usage = sample_dags.impressions_daily(), sample_dags.warehouse().read_table(USAGE)

    # Both read every event up to the end of the week (files overlap by 48 h) and none after it.
    expected = Counter({k: n for k, n in truth.impressions.items() if k[0] <= week[-1]})
    assert weekly_tables == daily_tables == expected
    in_week = sum(n for k, n in weekly_tables.items() if k[0] in week)
    per_day = [sum(n for k, n in daily_tables.items() if k[0] == d) for d in week]
    assert in_week == sum(per_day) == sum(n for k, n in truth.impressions.items() if k[0] in week) > 0
    assert weekly_usage == daily_usage and {row[0] for row in weekly_usage} == {week[-1]}
    assert [r["xcom"]["aggregate_impressions"]["files"] for r in [*dailies, weekly]] == [4] * 7 + [10]
