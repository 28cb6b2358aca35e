"""The report ``make demo`` prints from its SQLite warehouse, and how to go on from there."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

TOP = 10


def step(message: str) -> None:
    """Print a step heading."""
    print(f"\n==> {message}", flush=True)


def print_report(warehouse: Path) -> None:
    """Most viewed workbooks, discovered-but-unused workbooks, daily logins, unused seats, and what the
    runs read.

    :param warehouse: the SQLite warehouse file the sample DAGs wrote.
    """
    db = sqlite3.connect(warehouse)
    try:
        (as_of,) = db.execute("SELECT max(as_of) FROM sigma_usage").fetchone()
        workbooks = "FROM sigma_usage WHERE as_of = ? AND resource_type = 'workbook'"
        step(f"Most viewed workbooks (30 days up to {as_of}, sigma_usage)")
        rows = db.execute(
            f"SELECT coalesce(name, '(not in catalog) ' || workbook_url_id), path, impressions_30d, "
            f"unique_users_30d, element_impressions_30d {workbooks} "
            f"ORDER BY impressions_30d DESC, name LIMIT {TOP}",
            (as_of,),
        ).fetchall()
        print_table(("workbook", "path", "views", "users", "element views"), rows)

        (unused,) = db.execute(
            f"SELECT count(*) {workbooks} AND discovered AND NOT used", (as_of,)
        ).fetchone()
        (discovered,) = db.execute(f"SELECT count(*) {workbooks} AND discovered", (as_of,)).fetchone()
        step(f"Discovered but unused workbooks: {unused} of {discovered} (first {TOP} by path)")
        rows = db.execute(
            f"SELECT name, path, owner_email {workbooks} AND discovered AND NOT used ORDER BY path, name "
            f"LIMIT {TOP}",
            (as_of,),
        ).fetchall()
        print_table(("workbook", "path", "owner"), rows)

        print_unused_sources(db, as_of)

        step("Daily logins (sigma_daily_logins)")
        rows = db.execute(
            "SELECT day, successful_logins, failed_logins, users_logged_in FROM sigma_daily_logins "
            "ORDER BY day"
        ).fetchall()
        print_table(("day", "successful", "failed", "users"), rows)

        print_unused_seats(db)

        step("Export files read (sigma_export_files): every row is accepted, filtered out or bad")
        rows = db.execute(
            "SELECT job, count(*), sum(rows_read), sum(rows_accepted), sum(rows_filtered), "
            "sum(rows_read - rows_accepted - rows_filtered) FROM sigma_export_files GROUP BY job ORDER BY job"
        ).fetchall()
        print_table(("job", "files", "rows read", "accepted", "filtered out", "bad"), rows)
    finally:
        db.close()


def print_unused_seats(db: sqlite3.Connection) -> None:
    """Paid seats (members neither archived nor inactive) nobody uses, from ``sigma_member_activity``.

    :param db: the demo's warehouse.
    """
    (as_of,) = db.execute("SELECT max(as_of) FROM sigma_member_activity").fetchone()
    (since,) = db.execute(
        "SELECT min(day) FROM sigma_daily_logins WHERE successful_logins + failed_logins > 0"
    ).fetchone()
    seats = (
        "FROM sigma_member_activity WHERE as_of = ? AND in_catalog AND NOT is_archived AND NOT is_inactive"
    )
    total, active, unused, silent = db.execute(
        f"SELECT count(*), sum(logins_30d > 0), sum(seat_unused IS 1), sum(last_login_at IS NULL) {seats}",
        (as_of,),
    ).fetchone()
    step(f"Unused seats (sigma_member_activity as of {as_of}; logins stored since {since})")
    print(f"    {total} seats: {active} signed in within 30 days, {unused} unused (no sign-in in 60 days),")
    print(f"    {silent} never signed in since {since} (unknown until the history covers 60 days)")
    rows = db.execute(
        f"SELECT email, member_type, last_login_at, impressions_90d, seat_unused {seats} "
        f"AND (seat_unused OR last_login_at IS NULL) ORDER BY email LIMIT {TOP}",
        (as_of,),
    ).fetchall()
    shown = [(*row[:4], {1: "unused", 0: "in use"}.get(row[4], "unknown yet")) for row in rows]
    print_table(("member", "type", "last sign-in", "views (90 d)", "seat"), shown)


def print_unused_sources(db: sqlite3.Connection, as_of: str) -> None:
    """Data models and warehouse tables whose every workbook is unused (sigma_workbook_sources).

    :param db: the demo warehouse.
    :param as_of: the usage date.
    """
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"sigma_workbook_sources", "sigma_data_models"} <= tables:
        return
    (snapshot,) = db.execute(
        "SELECT max(snapshot_date) FROM sigma_workbook_sources WHERE snapshot_date <= ?", (as_of,)
    ).fetchone()
    feeds = (
        "SELECT s.source_id, count(*) AS workbooks FROM sigma_workbook_sources s "
        "JOIN sigma_usage u ON u.as_of = ? AND u.resource_type = 'workbook' "
        "AND u.workbook_id = s.workbook_id "
        "WHERE s.snapshot_date = ? AND s.source_type = ? GROUP BY s.source_id HAVING max(u.used) = 0"
    )
    rows = db.execute(
        f"SELECT m.name, m.path, f.workbooks, m.owner_email FROM ({feeds}) f "
        "JOIN sigma_data_models m ON m.snapshot_date = ? AND m.data_model_id = f.source_id "
        f"ORDER BY f.workbooks DESC, m.name LIMIT {TOP}",
        (as_of, snapshot, "data-model", snapshot),
    ).fetchall()
    step(f"Data models that feed only unused workbooks (first {TOP}; sigma_usage, sigma_workbook_sources)")
    print_table(("data model", "path", "workbooks", "owner"), rows)
    names = "NULL"
    if "sigma_element_lineage" in tables:
        names = "(SELECT max(node_name) FROM sigma_element_lineage l WHERE l.node_id = f.source_id)"
    rows = db.execute(
        f"SELECT f.source_id, {names}, f.workbooks FROM ({feeds}) f ORDER BY f.workbooks DESC, f.source_id "
        f"LIMIT {TOP}",
        (as_of, snapshot, "table"),
    ).fetchall()
    step(f"Warehouse tables that feed only unused workbooks (first {TOP}; names from element lineage)")
    print_table(("table inode id", "name", "workbooks"), rows)


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print rows as an aligned text table (cells cut at 48 characters).

    :param header: column titles.
    :param rows: the rows.
    """
    cells = [[str(v) for v in header]] + [["" if v is None else str(v)[:48] for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("    " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("    " + "  ".join("-" * w for w in widths))


NEXT_STEPS = """
Point the same DAGs at your own Sigma organisation, storage and warehouse: no code changes, only
connections and Variables (Admin > Connections / Variables, or environment variables):

  # Sigma: Administration > Developer Access > client credentials, and your organisation's API host
  export AIRFLOW_CONN_SIGMA_DEFAULT='{"conn_type": "sigma", "login": "<client id>",
      "password": "<client secret>", "host": "https://aws-api.sigmacomputing.com"}'
      # or "extra": {"cloud": "aws-eu"} (a region key), or {"cloud": "auto"} to try every host

  # Where Sigma's scheduled audit-log export lands: S3 ...
  export AIRFLOW_VAR_SIGMA_EXPORTS_URI='s3://my-bucket/sigma/audit-log'
  export AIRFLOW_CONN_AWS_DEFAULT='{"conn_type": "aws", "extra": {"region_name": "eu-west-1"}}'
      # no keys: the worker's role; or "login"/"password" = access key id/secret (both or neither)
  # ... or GCS
  export AIRFLOW_VAR_SIGMA_EXPORTS_URI='gs://my-bucket/sigma/audit-log'
  export AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT='{"conn_type": "google_cloud_platform",
      "extra": {"key_path": "/secrets/sigma-reader.json"}}'   # no key: Application Default Credentials

  # The warehouse: any common-sql connection, e.g. PostgreSQL ...
  export AIRFLOW_CONN_SIGMA_WAREHOUSE='postgresql://user:password@db.example.com:5432/analytics'
  # ... or Snowflake
  export AIRFLOW_CONN_SIGMA_WAREHOUSE='{"conn_type": "snowflake", "login": "<user>", "password": "<pw>",
      "schema": "SIGMA", "extra": {"account": "<account>", "database": "ANALYTICS", "warehouse": "<wh>"}}'

  export AIRFLOW_VAR_SIGMA_INCLUDE_PERSONAL=true   # admin credentials: everyone's My Documents too
  export AIRFLOW_VAR_SIGMA_WORKSPACES='Finance, Sales'   # optional: only these shared workspaces

Then enable sigma_usage_daily (or sigma_usage_weekly) and sigma_audit_history_daily. The docs
(docs/, `make docs`) cover the Sigma side (API credentials, audit-log export) and troubleshooting."""
