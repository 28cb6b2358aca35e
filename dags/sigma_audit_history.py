"""Sample DAG ``sigma_audit_history_daily``: keep Sigma's audit log past its 30-day retention.

list exports -> load every audit event, deduplicated, into ``sigma_audit_events`` and rebuild
``sigma_daily_logins`` and ``sigma_daily_event_counts`` for the days the run touched -> rebuild
``sigma_member_activity`` (who uses their seat) as of the run's day, from the latest ``sigma_members``
snapshot (written by the usage DAGs) and the audit history.

Configure with the same Variables as the usage DAGs: ``sigma_exports_uri``, ``sigma_aws_conn_id``,
``sigma_gcp_conn_id``, ``sigma_warehouse_conn_id``.
"""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_sigma.dag_settings import (
    DEFAULT_ARGS,
    START_DATE,
    interval_schedule,
    required_setting,
    setting,
    table_assets,
)
from airflow_sigma.operators import (
    SigmaBuildMemberActivityOperator,
    SigmaListAuditExportsOperator,
    SigmaLoadAuditEventsOperator,
)

EXPORTS_URI = required_setting("sigma_exports_uri")
AWS_CONN_ID = setting("sigma_aws_conn_id", "aws_default")
GCP_CONN_ID = setting("sigma_gcp_conn_id", "google_cloud_default")
WAREHOUSE_CONN_ID = setting("sigma_warehouse_conn_id", "sigma_warehouse")

with DAG(
    dag_id="sigma_audit_history_daily",
    description="Sigma audit events kept in the warehouse, with daily logins",
    schedule=interval_schedule("@daily"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["sigma"],
    doc_md=__doc__,
) as dag:
    list_exports = SigmaListAuditExportsOperator(
        task_id="list_exports",
        bucket_uri=EXPORTS_URI,
        days_back=2,
        aws_conn_id=AWS_CONN_ID,
        gcp_conn_id=GCP_CONN_ID,
    )

    # [START howto_operator_sigma_load_audit_events]
    load_audit_events = SigmaLoadAuditEventsOperator(
        task_id="load_audit_events",
        files=list_exports.output,
        aws_conn_id=AWS_CONN_ID,
        gcp_conn_id=GCP_CONN_ID,
        warehouse_conn_id=WAREHOUSE_CONN_ID,
        outlets=table_assets("audit_events", "daily_logins", "daily_event_counts", "export_files"),
    )
    # [END howto_operator_sigma_load_audit_events]

    # [START howto_operator_sigma_build_member_activity]
    build_member_activity = SigmaBuildMemberActivityOperator(
        task_id="build_member_activity",
        warehouse_conn_id=WAREHOUSE_CONN_ID,
        unused_after_days=60,
        outlets=table_assets("member_activity"),
    )
    # [END howto_operator_sigma_build_member_activity]

    list_exports >> load_audit_events >> build_member_activity
