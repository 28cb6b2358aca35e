"""Integration DAG for tests/operators/test_audit.py: load audit events straight from a bucket URI.

Configuration comes from environment variables the test sets; the defaults only keep the file
importable when other tests parse this folder.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_sigma.operators import SigmaLoadAuditEventsOperator

EXPORTS_URI = os.environ.get("SIGMA_TEST_AUDIT_EXPORTS_URI", "file:///tmp/sigma-test-audit-exports")
WAREHOUSE_CONN_ID = os.environ.get("SIGMA_TEST_AUDIT_WAREHOUSE_CONN_ID", "sigma_warehouse")

with DAG(
    dag_id="audit_history",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["test"],
):
    SigmaLoadAuditEventsOperator(
        task_id="load_audit_events",
        bucket_uri=EXPORTS_URI,
        days_back=3,
        warehouse_conn_id=WAREHOUSE_CONN_ID,
    )
