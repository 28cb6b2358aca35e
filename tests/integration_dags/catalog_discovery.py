"""Integration DAG for tests/operators/test_catalog.py: one SigmaDiscoverWorkbooksOperator task.

Configuration comes from environment variables the test sets (the Sigma connection itself is an
``AIRFLOW_CONN_*`` variable); the defaults only keep the file importable when other tests parse
this folder.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_sigma.operators import SigmaDiscoverWorkbooksOperator

SIGMA_CONN_ID = os.environ.get("SIGMA_TEST_CATALOG_SIGMA_CONN_ID", "sigma_default")
WAREHOUSE_CONN_ID = os.environ.get("SIGMA_TEST_CATALOG_WAREHOUSE_CONN_ID", "sigma_warehouse")
HOOK_PARAMS = json.loads(os.environ.get("SIGMA_TEST_CATALOG_HOOK_PARAMS", "{}"))

with DAG(
    dag_id="catalog_discovery",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    render_template_as_native_obj=True,
    params={"include_personal": True, "workspaces": None},
    tags=["test"],
):
    SigmaDiscoverWorkbooksOperator(
        task_id="discover_workbooks",
        sigma_conn_id=SIGMA_CONN_ID,
        warehouse_conn_id=WAREHOUSE_CONN_ID,
        include_personal="{{ params.include_personal }}",
        workspaces="{{ params.workspaces }}",
        max_concurrency=4,
        sigma_hook_params=HOOK_PARAMS,
    )
