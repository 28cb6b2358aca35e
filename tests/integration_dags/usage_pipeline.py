"""Integration DAG for tests/operators/test_usage.py: list exports -> aggregate impressions -> usage.

Configuration comes from environment variables the test sets; the defaults only keep the file
importable when other tests parse this folder.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_sigma.operators import (
    SigmaAggregateImpressionsOperator,
    SigmaBuildUsageSummaryOperator,
    SigmaListAuditExportsOperator,
)

EXPORTS_URI = os.environ.get("SIGMA_TEST_USAGE_EXPORTS_URI", "file:///tmp/sigma-test-usage-exports")
WAREHOUSE_CONN_ID = os.environ.get("SIGMA_TEST_USAGE_WAREHOUSE_CONN_ID", "sigma_warehouse")
SALT_CONN_ID = os.environ.get("SIGMA_TEST_USAGE_SALT_CONN_ID") or None

with DAG(
    dag_id="usage_pipeline",
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["test"],
):
    list_exports = SigmaListAuditExportsOperator(task_id="list_exports", bucket_uri=EXPORTS_URI, days_back=2)
    aggregate = SigmaAggregateImpressionsOperator(
        task_id="aggregate_impressions",
        files=list_exports.output,
        warehouse_conn_id=WAREHOUSE_CONN_ID,
        hash_user_emails=SALT_CONN_ID is not None,
        email_salt_conn_id=SALT_CONN_ID,
    )
    summary = SigmaBuildUsageSummaryOperator(
        task_id="build_usage_summary", warehouse_conn_id=WAREHOUSE_CONN_ID
    )
    list_exports >> aggregate >> summary
