"""Sample DAGs ``sigma_usage_daily`` and ``sigma_usage_weekly``: which Sigma content is used, and by whom.

discover workbooks -> wait for a new audit-log export -> list exports -> aggregate impressions
-> build the usage summary. A run covers its data interval (daily: one UTC day; weekly: Sunday to
Sunday). It reads the exports that landed in [interval start - days_back, interval end] plus the
first export after the interval (the one the sensor waited for, which holds the interval's last
hours), so the weekly run reads its whole week and no day falls between two runs.

Configure without editing this file (Airflow Variables, or ``AIRFLOW_VAR_<NAME>`` environment
variables): ``sigma_conn_id``, ``sigma_exports_uri``, ``sigma_aws_conn_id``, ``sigma_gcp_conn_id``,
``sigma_warehouse_conn_id``, ``sigma_include_personal``, ``sigma_workspaces`` (comma-separated).
``include_personal`` and ``workspaces`` are also DAG params, to change them for one run.
The connection ids default to ``sigma_default``, ``aws_default``, ``google_cloud_default`` and
``sigma_warehouse``; ``sigma_exports_uri`` has no default and must be set.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, Param

from airflow_sigma.dag_settings import (
    DEFAULT_ARGS,
    START_DATE,
    include_personal_setting,
    interval_schedule,
    listed_and_awaited_files,
    required_setting,
    setting,
    table_assets,
    workspaces_setting,
)
from airflow_sigma.operators import (
    SigmaAggregateImpressionsOperator,
    SigmaBuildUsageSummaryOperator,
    SigmaDiscoverWorkbooksOperator,
    SigmaListAuditExportsOperator,
)
from airflow_sigma.sensors import SigmaAuditExportSensor

SIGMA_CONN_ID = setting("sigma_conn_id", "sigma_default")
EXPORTS_URI = required_setting("sigma_exports_uri")
AWS_CONN_ID = setting("sigma_aws_conn_id", "aws_default")
GCP_CONN_ID = setting("sigma_gcp_conn_id", "google_cloud_default")
WAREHOUSE_CONN_ID = setting("sigma_warehouse_conn_id", "sigma_warehouse")


def usage_dag(dag_id: str, schedule: str, description: str) -> DAG:
    with DAG(
        dag_id=dag_id,
        description=description,
        schedule=interval_schedule(schedule),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        render_template_as_native_obj=True,
        params={
            "include_personal": Param(None, type=["null", "boolean"], description="None: the Variable"),
            "workspaces": Param(None, type=["null", "array"], description="None: the Variable (None = all)"),
        },
        tags=["sigma"],
        doc_md=__doc__,
    ) as dag:
        # [START howto_operator_sigma_discover_workbooks]
        discover = SigmaDiscoverWorkbooksOperator(
            task_id="discover_workbooks",
            sigma_conn_id=SIGMA_CONN_ID,
            warehouse_conn_id=WAREHOUSE_CONN_ID,
            include_personal=include_personal_setting(),
            workspaces=workspaces_setting(),
            max_concurrency=8,
            outlets=table_assets("workbooks", "workbook_elements", "members"),
        )
        # [END howto_operator_sigma_discover_workbooks]

        # [START howto_sensor_sigma_audit_export]
        wait_for_export = SigmaAuditExportSensor(
            task_id="wait_for_export",
            bucket_uri=EXPORTS_URI,
            aws_conn_id=AWS_CONN_ID,
            gcp_conn_id=GCP_CONN_ID,
            poke_interval=300,
            timeout=timedelta(hours=6).total_seconds(),
            execution_timeout=timedelta(hours=7),  # not the DAG's 2 h: the sensor may wait 6 h
            deferrable=True,
        )
        # [END howto_sensor_sigma_audit_export]

        # [START howto_operator_sigma_list_audit_exports]
        list_exports = SigmaListAuditExportsOperator(
            task_id="list_exports",
            bucket_uri=EXPORTS_URI,
            days_back=2,
            aws_conn_id=AWS_CONN_ID,
            gcp_conn_id=GCP_CONN_ID,
        )
        # [END howto_operator_sigma_list_audit_exports]

        # [START howto_operator_sigma_aggregate_impressions]
        aggregate = SigmaAggregateImpressionsOperator(
            task_id="aggregate_impressions",
            # The listed files plus the first export after the interval, which the sensor waited for
            # (a Jinja expression on both XComs; ``files=list_exports.output`` reads the listed ones).
            files=listed_and_awaited_files("list_exports", "wait_for_export"),
            aws_conn_id=AWS_CONN_ID,
            gcp_conn_id=GCP_CONN_ID,
            warehouse_conn_id=WAREHOUSE_CONN_ID,
            outlets=table_assets("impression_events", "impressions_daily", "export_files"),
        )
        # [END howto_operator_sigma_aggregate_impressions]

        # [START howto_operator_sigma_build_usage_summary]
        summary = SigmaBuildUsageSummaryOperator(
            task_id="build_usage_summary",
            warehouse_conn_id=WAREHOUSE_CONN_ID,
            outlets=table_assets("usage"),
        )
        # [END howto_operator_sigma_build_usage_summary]

        discover >> wait_for_export >> list_exports >> aggregate >> summary
    return dag


sigma_usage_daily = usage_dag("sigma_usage_daily", "@daily", "Sigma catalog and impressions, daily")
sigma_usage_weekly = usage_dag("sigma_usage_weekly", "@weekly", "Sigma catalog and impressions, weekly")
