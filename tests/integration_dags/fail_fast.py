"""Integration DAG for tests/reliability/test_fail_fast.py: one task of any provider operator.

The test sets ``SIGMA_TEST_FAIL_FAST`` to ``{"operator": <class name>, "kwargs": {...}, "retries": n}``;
the default only keeps the file importable when other tests parse this folder.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG

from airflow_sigma import operators

SPEC = json.loads(
    os.environ.get(
        "SIGMA_TEST_FAIL_FAST",
        '{"operator": "SigmaListAuditExportsOperator", "kwargs": {"bucket_uri": "file:///tmp"}}',
    )
)

with DAG(
    dag_id="fail_fast",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": SPEC.get("retries", 2), "retry_delay": timedelta(0)},
    tags=["test"],
):
    getattr(operators, SPEC["operator"])(task_id="task", **SPEC["kwargs"])
