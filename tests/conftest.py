"""Test-session set-up shared by every test.

Airflow reads AIRFLOW_HOME and its config on first import, so the isolated home is set here,
before any test module (or fixture) imports airflow. Each xdist worker gets its own home.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_home = Path(tempfile.mkdtemp(prefix=f"airflow-sigma-{_worker}-"))

os.environ["AIRFLOW_HOME"] = str(_home)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "tests" / "integration_dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home}/airflow.db"

pytest_plugins = [
    "airflow_sigma.testing.pytest_plugin",
    "tests.fixtures.airflow",
    "tests.fixtures.postgres",
    "tests.fixtures.cloud",
    "tests.fixtures.exports",
    "tests.fixtures.snowflake",
    "tests.fixtures.bigquery",
    "tests.fixtures.dags",
]
