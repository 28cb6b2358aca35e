"""Integration DAG for tests/sensors/test_export_sensor.py: wait for a new Sigma export, then list.

Configuration comes from environment variables the test sets; the defaults only keep the file
importable when other tests parse this folder.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from airflow.sdk import DAG

from airflow_sigma.operators import SigmaListAuditExportsOperator
from airflow_sigma.sensors import SigmaAuditExportSensor

EXPORTS_URI = os.environ.get("SIGMA_TEST_EXPORTS_URI", "file:///tmp/sigma-test-exports")
DEFERRABLE = os.environ.get("SIGMA_TEST_EXPORTS_DEFERRABLE", "true").lower() == "true"

with DAG(
    dag_id="exports_sensor",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["test"],
):
    wait = SigmaAuditExportSensor(
        task_id="wait_for_export",
        bucket_uri=EXPORTS_URI,
        deferrable=DEFERRABLE,
        poke_interval=0.2,
        timeout=120,
    )
    listed = SigmaListAuditExportsOperator(task_id="list_exports", bucket_uri=EXPORTS_URI, days_back=1)
    wait >> listed
