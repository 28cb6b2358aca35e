"""Secrets never leak: run the sample DAGs with a known client secret and S3 keys, then search for them.

Searched: every file under the Airflow home's logs folder, every XCom value, rendered template
field and trigger in the Airflow DB, and everything the DAG runs and this test printed. Searched
for: the Sigma client secret, every access token the local Sigma server issued, and the S3 access
key id and secret. The search is shown to work on planted values first.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from tests.fixtures.dags import SampleDags

DAY = date(2026, 3, 6)
DB_TEXT = {
    "xcom": "SELECT dag_id, run_id, task_id, key, value FROM xcom",
    "rendered_task_instance_fields": "SELECT task_id, rendered_fields FROM rendered_task_instance_fields",
    "trigger": "SELECT classpath, kwargs FROM trigger",
}


def find(needles: dict[str, str], sources: dict[str, str]) -> list[tuple[str, str]]:
    """``(source, needle name)`` for every needle found in a source."""
    return [
        (where, name) for where, text in sources.items() for name, value in needles.items() if value in text
    ]


def log_files(home: Path) -> dict[str, str]:
    return {
        str(path): path.read_text(errors="replace") for path in (home / "logs").rglob("*") if path.is_file()
    }


def airflow_db_rows(database: Path) -> dict[str, str]:
    """Every row of the tables holding task values, as text, by table and row number."""
    with sqlite3.connect(database) as db:
        return {
            f"{table}[{n}]": " ".join(str(value) for value in row)
            for table, query in DB_TEXT.items()
            for n, row in enumerate(db.execute(query))
        }


@pytest.mark.integration
def test_no_secret_in_task_logs_xcom_or_output(
    sample_dags: SampleDags, capfd: pytest.CaptureFixture[str]
) -> None:
    sample_dags.stage(sample_dags.spec(date(2026, 3, 2), 5), storage="s3")
    runs = sample_dags.run(("sigma_usage_daily", DAY), ("sigma_audit_history_daily", DAY))
    assert sample_dags.storage_keys is not None
    server = sample_dags.server
    needles = {
        "client secret": server.client_secret,
        "S3 access key id": sample_dags.storage_keys[0],
        "S3 secret access key": sample_dags.storage_keys[1],
    }
    needles.update({f"access token {n}": token for n, token in enumerate(server.issued_tokens)})
    assert len(needles) > 3, "the Sigma server issued no token: the usage DAG did not call the API"

    # The search finds a planted secret (a token inside a log line) and reads the DB and the output.
    logs = sample_dags.home / "logs"
    planted = logs / "control" / "attempt=1.log"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(f"INFO - got token={server.issued_tokens[0]} for sigma_default\n")
    assert find(needles, log_files(sample_dags.home)) == [(str(planted), "access token 0")]
    planted.unlink()
    db_rows = airflow_db_rows(sample_dags.home / "airflow.db")
    assert any("s3://" in text for key, text in db_rows.items() if key.startswith("xcom[")), (
        "no XCom was read"
    )
    output = "\n".join(sample_dags.outputs)
    for result in runs:
        for task_id in result["tasks"]:
            assert f"[DAG TEST] end task task_id={task_id}" in output, f"no log of {task_id} in the output"
    # The tasks' own log lines (those next to which a secret would be printed) are in what is searched.
    for line in (
        "Obtained a Sigma access token",
        "Discovering the Sigma catalog",
        "Loading impressions events",
    ):
        assert line in output, f"the task log line {line!r} is not in the searched output"

    captured = capfd.readouterr()
    sources = {
        **log_files(sample_dags.home),
        **db_rows,
        "DAG runs' stdout and stderr (the task logs of dag.test())": output,
        "this test's stdout": captured.out,
        "this test's stderr": captured.err,
    }
    assert find(needles, sources) == []
