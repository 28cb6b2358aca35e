"""Run one provider task through a real ``dag.test()`` and read back how it ended (tries, retries)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

DAGS = Path(__file__).resolve().parents[1] / "integration_dags"
FAST = {"client_kwargs": {"max_retries": 1, "backoff_initial": 0.001, "backoff_max": 0.01}}


@dataclass(frozen=True)
class Outcome:
    state: str
    try_number: int
    retries_recorded: int


def run_task(monkeypatch: pytest.MonkeyPatch, operator: str, retries: int = 2, **kwargs: Any) -> Outcome:
    """Run one ``operator`` task with ``dag.test()`` (DAG ``fail_fast``); return its final task instance."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    spec = {"operator": operator, "kwargs": kwargs, "retries": retries}
    monkeypatch.setenv("SIGMA_TEST_FAIL_FAST", json.dumps(spec))
    bag = DagBag(dag_folder=str(DAGS / "fail_fast.py"))
    assert bag.import_errors == {}
    run = bag.get_dag("fail_fast").test(logical_date=datetime(2026, 4, 5, tzinfo=timezone.utc))
    assert run.state == "failed"
    where = (TaskInstance.dag_id == "fail_fast", TaskInstance.run_id == run.run_id)
    with create_session() as session:
        ti = session.scalars(select(TaskInstance).where(*where)).one()
        retried = session.scalar(
            select(func.count())
            .select_from(TaskInstanceHistory)
            .where(TaskInstanceHistory.dag_id == "fail_fast", TaskInstanceHistory.run_id == run.run_id)
        )
        return Outcome(str(ti.state), ti.try_number, retried)


def discover(sigma_conn_id: str, warehouse_conn_id: str) -> dict[str, Any]:
    """Arguments of SigmaDiscoverWorkbooksOperator with a client that gives up fast."""
    return {"sigma_conn_id": sigma_conn_id, "warehouse_conn_id": warehouse_conn_id, "sigma_hook_params": FAST}
