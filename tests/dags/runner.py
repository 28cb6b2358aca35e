"""Run sample DAGs with ``dag.test()`` in this process: the subprocess side of tests/fixtures/dags.py.

``python -m tests.dags.runner PLAN RESULTS``: PLAN is JSON ``{"runs": [{"dag_id", "logical_date",
"env"?}], "snapshot_tables": bool}``. The Airflow environment (home, metadata DB, DAGs folder,
connections) comes from the environment; ``env`` is applied before its run (e.g. another warehouse).
Writes RESULTS: per run, the run state, task states, XCom return values and, when asked, every
``sigma_*`` table of the warehouse (``AIRFLOW_VAR_SIGMA_WAREHOUSE_CONN_ID``) after the run.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any


def main(plan_path: str, results_path: str) -> int:
    from airflow.dag_processing.dagbag import DagBag

    plan = json.loads(Path(plan_path).read_text())
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    results = []
    for spec in plan["runs"]:
        os.environ.update(spec.get("env", {}))
        dag = bag.get_dag(spec["dag_id"])
        run = dag.test(logical_date=datetime.fromisoformat(spec["logical_date"]))
        result: dict[str, Any] = {
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "state": str(run.state),
            "data_interval": [run.data_interval_start.isoformat(), run.data_interval_end.isoformat()],
            "tasks": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
            "xcom": _return_values(run.dag_id, run.run_id),
        }
        if plan.get("snapshot_tables"):
            result["tables"] = _tables()
        results.append(result)
    Path(results_path).write_text(json.dumps(results, default=str))
    return 0


def _return_values(dag_id: str, run_id: str) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run_id, key="return_value", dag_ids=dag_id))
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


def _tables() -> dict[str, Any]:
    from airflow_sigma.warehouse import ALL_TABLES, Warehouse
    from tests.fixtures.exports import tables

    return tables(Warehouse.from_conn_id(os.environ["AIRFLOW_VAR_SIGMA_WAREHOUSE_CONN_ID"]), ALL_TABLES)


if __name__ == "__main__":
    from tests.fixtures.snowflake import fakesnow_from_env

    with fakesnow_from_env():  # a Snowflake warehouse served by fakesnow, in this process
        sys.exit(main(*sys.argv[1:]))
