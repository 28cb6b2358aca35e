"""``make demo``: the sample DAGs, end to end, on real Airflow against a local Sigma and local exports.

Run from a checkout (``python scripts/demo.py``): it needs the repository's ``dags/`` folder.

In ``.demo/`` under the current directory (re-created on every run): a fresh ``AIRFLOW_HOME`` with a
migrated SQLite metadata DB, two weeks of realistic audit-log exports in ``.demo/exports`` and a
SQLite warehouse ``.demo/warehouse.db``. The local Sigma API server runs in this process while
``airflow dags test`` runs ``sigma_usage_daily`` and ``sigma_audit_history_daily`` in subprocesses
as the runs of yesterday (data interval [yesterday, today) UTC), configured only through
``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` environment variables.
Then it prints a report from the warehouse and how to point the DAGs at real systems.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from demo_report import NEXT_STEPS, print_report, step

from airflow_sigma.testing.exports import newest_landed_day, write_exports
from airflow_sigma.testing.org import OrgSpec
from airflow_sigma.testing.sample_dags import airflow_env, org_export_spec, sample_dags_env
from airflow_sigma.testing.server import SigmaTestServer

DAG_IDS = ("sigma_usage_daily", "sigma_audit_history_daily")
DAYS = 14
SILENT = 4  # members who never sign in


def main() -> int:
    started = time.monotonic()
    project = Path.cwd()
    root = project / ".demo"
    shutil.rmtree(root, ignore_errors=True)
    home, exports, warehouse = root / "airflow", root / "exports", root / "warehouse.db"
    home.mkdir(parents=True)
    # `airflow dags test <dag> <today>` runs the last full interval before today: yesterday. Just
    # after midnight UTC "today" is yesterday, so that the export after the interval has landed.
    today = newest_landed_day()

    with SigmaTestServer(OrgSpec.demo(), client_secret=secrets.token_urlsafe(24)) as server:
        step(f"Local Sigma API server on {server.url}: {len(server.org.workbooks)} workbooks")
        # Like a scheduled export of Sigma's audit log: each file holds the last 30 days of events.
        # Archived and inactive members cannot sign in; a few others hold a seat they never use.
        users = [m.email for m in server.org.members if not (m.is_archived or m.is_inactive)]
        spec = org_export_spec(
            server.org, today - timedelta(days=DAYS), DAYS, window_hours=30 * 24, users=users[:-SILENT]
        )
        truth = write_exports(exports, spec)
        step(f"Wrote {DAYS} days of audit-log exports into {exports.relative_to(project)}")
        print(
            f"    {len(truth.files)} files, each holding the last {spec.window_hours // 24} days: "
            f"{truth.rows_written} rows of {truth.events} distinct events by {len(spec.users)} users, "
            f"{truth.bad_rows} bad rows"
        )
        env = dict(os.environ)
        env.update(airflow_env(home, project / "dags"))
        env.update(
            sample_dags_env(sigma_connection=server.connection_json(), exports_uri=exports.as_uri()),
            AIRFLOW_CONN_SIGMA_WAREHOUSE=json.dumps({"conn_type": "sqlite", "host": str(warehouse)}),
            AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        )
        _run("Migrating a fresh Airflow metadata DB in .demo/airflow", ["db", "migrate"], env)
        for dag_id in DAG_IDS:
            _run(f"airflow dags test {dag_id} {today}", ["dags", "test", dag_id, today.isoformat()], env)
        step(f"The local Sigma API server answered {server.stats.requests} requests")

    print_report(warehouse)
    elapsed = time.monotonic() - started
    print(f"\nDemo finished in {elapsed:.0f} s. The warehouse: sqlite3 {warehouse.relative_to(project)}")
    print(NEXT_STEPS)
    return 0


def _run(title: str, args: list[str], env: dict[str, str]) -> None:
    step(title)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-20_000:] + result.stderr[-20_000:])
        raise SystemExit(
            f"`airflow {' '.join(args)}` failed (exit {result.returncode}); its output is above."
        )
    print(f"    done in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    raise SystemExit(main())
