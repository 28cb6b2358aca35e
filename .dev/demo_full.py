"""``make demo``: the sample DAGs, end to end, against a local Sigma and local export files.

Makes a fresh ``AIRFLOW_HOME`` under ``.demo/`` in the current directory, migrates its database,
starts the local Sigma API server, writes two weeks of realistic audit-log exports into
``.demo/exports``, points ``sigma_default``, the exports URI and a SQLite warehouse at them, runs
``sigma_usage_daily`` and ``sigma_audit_history_daily`` with ``airflow dags test`` and prints a short
report from the warehouse. Re-running starts from scratch.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from airflow_sigma.testing.exports import ExportSpec, GroundTruth, write_exports
from airflow_sigma.testing.org import Org, OrgSpec

DAG_IDS = ("sigma_usage_daily", "sigma_audit_history_daily")
DAYS = 14


def _step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def export_spec_for(org: Org, start: date, days: int, **overrides: object) -> ExportSpec:
    """Exports whose impressions reference the organisation's workbooks and elements.

    Two workbook ids that the catalog never returns (deleted since) are viewed too, so the usage
    summary shows content seen only in impressions.

    :param org: the generated organisation served by the local Sigma server.
    :param start: first UTC day of events.
    :param days: number of days of events.
    :param overrides: any other :class:`ExportSpec` field.
    """
    workbooks: dict[str, list[str]] = {}
    for wb in org.workbooks:
        if wb.is_exploration:
            continue
        pages = org.pages.get(wb.workbook_id, [])
        workbooks[wb.workbook_url_id] = [
            el.element_id for page in pages for el in org.elements.get((wb.workbook_id, page.page_id), [])
        ]
    workbooks.update({"deletedWorkbook00001": [], "deletedWorkbook00002": ["gone-element"]})
    spec: dict[str, object] = {
        "workbooks": workbooks,
        "users": [m.email for m in org.members],
        "start": start,
        "days": days,
        "events_per_day": 300,
        "files": days,
        "window_hours": 24 * 30,  # like Sigma's audit log: each export holds the rolling 30 days
        "bad_rows": 3,
        "gzip_every": 4,
    }
    spec.update(overrides)
    return ExportSpec(**spec)  # type: ignore[arg-type]


def main() -> int:
    started = time.monotonic()
    root = Path.cwd() / ".demo"
    home, exports, warehouse = root / "airflow", root / "exports", root / "warehouse.db"
    for stale in (home, exports):
        shutil.rmtree(stale, ignore_errors=True)
    warehouse.unlink(missing_ok=True)
    home.mkdir(parents=True)

    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=DAYS)
    run_date = today - timedelta(days=2)
    server_info = root / "sigma-server.json"
    server_info.unlink(missing_ok=True)
    client_secret = secrets.token_urlsafe(24)

    _step("Starting the local Sigma API server (300 workbooks)")
    server = subprocess.Popen(
        [sys.executable, "-m", "airflow_sigma.testing.server", "--port", "0", "--workbooks", "300",
         "--members", "40", "--workspaces", "6", "--client-id", "demo-client",
         "--client-secret", client_secret, "--info-file", str(server_info)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = _wait_for_server(server, server_info)
        env = _airflow_env(home, url, client_secret, exports, warehouse)

        _step(f"Writing {DAYS} days of audit-log exports into {exports}")
        org = Org.generate(OrgSpec(seed=42, workbooks=300, members=40, workspaces=6))
        truth = write_exports(exports, export_spec_for(org, start, DAYS))
        print(
            f"    {len(truth.files)} files, {truth.rows_written} rows (exports overlap), {truth.bad_rows} bad"
        )

        _step("Migrating a fresh Airflow database in .demo/airflow")
        _run([sys.executable, "-m", "airflow", "db", "migrate"], env)

        for dag_id in DAG_IDS:
            _step(f"airflow dags test {dag_id} {run_date}")
            _run([sys.executable, "-m", "airflow", "dags", "test", dag_id, run_date.isoformat()], env)

        _report(warehouse, truth)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"\nDemo finished in {time.monotonic() - started:.0f} s.")
    _print_next_steps()
    return 0


def _wait_for_server(server: subprocess.Popen[bytes], info_file: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the local Sigma server exited during start-up")
        if info_file.exists() and info_file.stat().st_size:
            return str(json.loads(info_file.read_text())["url"])
        time.sleep(0.1)
    raise RuntimeError("the local Sigma server did not start within 30 s")


def _airflow_env(home: Path, url: str, client_secret: str, exports: Path, warehouse: Path) -> dict[str, str]:
    sigma = {
        "conn_type": "sigma",
        "host": url,
        "login": "demo-client",
        "password": client_secret,
        "extra": {"allow_custom_host": True},
    }
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(Path.cwd() / "dags"),
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        AIRFLOW_CONN_SIGMA_DEFAULT=json.dumps(sigma),
        AIRFLOW_CONN_SIGMA_WAREHOUSE=json.dumps({"conn_type": "sqlite", "host": str(warehouse)}),
        AIRFLOW_VAR_SIGMA_EXPORTS_URI=exports.as_uri(),
        AIRFLOW_VAR_SIGMA_INCLUDE_PERSONAL="true",
    )
    return env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-20000:] + result.stderr[-20000:])
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(cmd[2:])}")
    failed = [line for line in result.stdout.splitlines() if "state=failed" in line.lower()]
    if failed:
        sys.stderr.write(result.stdout[-20000:])
        raise SystemExit(f"a task failed in: {' '.join(cmd[2:])}")


def _report(warehouse: Path, truth: GroundTruth) -> None:
    db = sqlite3.connect(warehouse)
    (as_of,) = db.execute("SELECT max(as_of) FROM sigma_usage").fetchone()
    _step(f"Most viewed workbooks (last 30 days, as of {as_of})")
    rows = db.execute(
        "SELECT name, path, impressions_30d, unique_users_30d FROM sigma_usage "
        "WHERE as_of = ? AND resource_type = 'workbook' ORDER BY impressions_30d DESC, name LIMIT 10",
        (as_of,),
    ).fetchall()
    _table(("workbook", "path", "views 30d", "users 30d"), rows)

    (unused,) = db.execute(
        "SELECT count(*) FROM sigma_usage WHERE as_of = ? AND resource_type = 'workbook' "
        "AND discovered AND NOT used",
        (as_of,),
    ).fetchone()
    _step(f"Discovered but unused workbooks: {unused} (first 10)")
    rows = db.execute(
        "SELECT name, path, owner_email FROM sigma_usage WHERE as_of = ? AND resource_type = 'workbook' "
        "AND discovered AND NOT used ORDER BY path, name LIMIT 10",
        (as_of,),
    ).fetchall()
    _table(("workbook", "path", "owner"), rows)

    _step("Daily logins (sigma_daily_logins)")
    rows = db.execute(
        "SELECT day, successful_logins, failed_logins, users_logged_in FROM sigma_daily_logins ORDER BY day"
    ).fetchall()
    _table(("day", "successful", "failed", "users"), rows)
    db.close()


def _table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    cells = [tuple(str(v) for v in header)] + [tuple("" if v is None else str(v) for v in r) for r in rows]
    widths = [min(48, max(len(row[i]) for row in cells)) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("    " + "  ".join(v[:48].ljust(w) for v, w in zip(row, widths, strict=True)))
        if n == 0:
            print("    " + "  ".join("-" * w for w in widths))


def _print_next_steps() -> None:
    print(
        """
Point the same DAGs at your own organisation (no code changes):
  export AIRFLOW_CONN_SIGMA_DEFAULT='{"conn_type": "sigma", "login": "<client id>",
      "password": "<client secret>", "host": "https://aws-api.sigmacomputing.com"}'
      # or "extra": {"cloud": "aws-eu"} / {"cloud": "auto"} instead of the host
  export AIRFLOW_VAR_SIGMA_EXPORTS_URI='s3://my-bucket/sigma/audit-log'   # or gs://bucket/prefix
  export AIRFLOW_CONN_AWS_DEFAULT='aws://?region_name=eu-west-1'           # or google_cloud_default
  export AIRFLOW_CONN_SIGMA_WAREHOUSE='postgresql://user:pass@host:5432/analytics'
      # any common-sql connection: PostgreSQL, Snowflake, BigQuery, ...
  export AIRFLOW_VAR_SIGMA_INCLUDE_PERSONAL=true   # admin credentials: everyone's My Documents
Then enable sigma_usage_daily (or sigma_usage_weekly) and sigma_audit_history_daily.
See docs/ for the Sigma-side set-up (API credentials, audit-log export) and troubleshooting."""
    )


if __name__ == "__main__":
    raise SystemExit(main())
