"""``make demo``: the Sigma hook and the catalog job against the local Sigma API server.

Starts the local Sigma-compatible server (300 workbooks), points an ``AIRFLOW_CONN_SIGMA_DEFAULT``
connection at it, checks the connection with :class:`~airflow_sigma.hooks.SigmaHook`, discovers the
catalog (workbooks, pages, elements, members) with bounded concurrency, writes it to a SQLite
warehouse in ``.demo/`` and prints what it found. (The sample DAGs take over this command once the
impressions and audit-history operators land.)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from airflow_sigma.testing.org import OrgSpec
from airflow_sigma.testing.server import SigmaTestServer


def main() -> int:
    started = time.monotonic()
    root = Path.cwd() / ".demo"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-sigma-demo-")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    warehouse_path = root / "warehouse.db"
    os.environ["AIRFLOW_CONN_SIGMA_WAREHOUSE"] = json.dumps(
        {"conn_type": "sqlite", "host": str(warehouse_path)}
    )

    from airflow_sigma.catalog import CatalogOptions, discover_catalog, write_catalog
    from airflow_sigma.hooks import SigmaHook
    from airflow_sigma.warehouse import Warehouse

    with SigmaTestServer(OrgSpec.demo(), client_secret=secrets.token_urlsafe(24), latency=0.005) as server:
        os.environ["AIRFLOW_CONN_SIGMA_DEFAULT"] = server.connection_json()
        print(f"==> Local Sigma API server on {server.url}")
        hook = SigmaHook("sigma_default")
        ok, message = hook.test_connection()
        print(f"==> test_connection: {ok}: {message}")
        if not ok:
            return 1
        options = CatalogOptions(include_personal=True, include_archived=True, max_concurrency=8)
        catalog = discover_catalog(hook.get_client(), options)
        snapshot = datetime.now(timezone.utc).date()
        written = write_catalog(Warehouse.from_conn_id("sigma_warehouse"), catalog, snapshot)
        print(f"==> Catalog snapshot {snapshot} written to {warehouse_path}: {written}")

    db = sqlite3.connect(warehouse_path)
    print("\n==> Workbooks per workspace")
    for workspace, n, personal in db.execute(
        "SELECT coalesce(workspace, '(personal)'), count(*), sum(is_personal) FROM sigma_workbooks "
        "GROUP BY 1 ORDER BY 2 DESC"
    ):
        print(f"    {workspace:<28} {n:>4} workbooks{' (My Documents)' if personal else ''}")
    print("\n==> Element types")
    for kind, n in db.execute(
        "SELECT coalesce(visualization_type, type), count(*) FROM sigma_workbook_elements "
        "GROUP BY 1 ORDER BY 2 DESC"
    ):
        print(f"    {kind:<28} {n:>5}")
    db.close()
    print(
        f"\nDemo finished in {time.monotonic() - started:.1f} s. Query the catalog: sqlite3 {warehouse_path}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
