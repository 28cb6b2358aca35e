"""What users install: the wheel, installed with the README's own line into a fresh environment.

Builds the wheel from this checkout, checks that it holds the provider and its license and nothing
else, installs it without the lock into a new venv with uv (its cache keeps this fast), and in that
venv runs ``airflow providers list`` and the sample DAG ``sigma_usage_daily`` with ``airflow dags
test``, configured as the docs show: the shipped local Sigma server (its printed URI connection),
exports in a local folder and a SQLite warehouse.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_sigma.testing.exports import newest_landed_day, write_exports
from airflow_sigma.testing.org import Org, OrgSpec
from airflow_sigma.testing.sample_dags import org_export_spec

# Several Airflow commands, each a fresh interpreter: slow on a loaded 2-core machine, never unbounded.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"
PROVIDER = '"airflow-provider-sigma"'  # how the README's install line names the package
WORKBOOKS = 20
DAYS = 3


def readme_install_line() -> list[str]:
    """The README's first ``pip install`` line for the provider without extras, as arguments."""
    for line in (REPO / "README.md").read_text().splitlines():
        if line.startswith("pip install ") and PROVIDER in line:
            return shlex.split(line.split("#", 1)[0])[2:]
    raise AssertionError(f"README.md has no `pip install ... {PROVIDER}` line")


def locked_airflow() -> str:
    """The Airflow version of requirements/lock.txt: what the rest of the suite tests."""
    match = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements" / "lock.txt").read_text(), re.M)
    assert match, "apache-airflow is not pinned in requirements/lock.txt"
    return match.group(1)


def run(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run a command; fail the test with its output if it fails. Returns its stdout."""
    result = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(
            f"{shlex.join(map(str, args))} failed ({result.returncode}):\n"
            f"{result.stdout[-8000:]}\n{result.stderr[-8000:]}"
        )
    return result.stdout


def json_output(stdout: str) -> list[dict[str, Any]]:
    """The JSON list an ``airflow ... -o json`` command printed (its last line; logs may come first)."""
    data: list[dict[str, Any]] = json.loads(stdout.strip().splitlines()[-1])
    return data


def readme_connection_check() -> str:
    """The code of the README's ``python -c`` line that tests the connection."""
    for line in (REPO / "README.md").read_text().splitlines():
        if line.startswith('python -c "from airflow_sigma.hooks import SigmaHook'):
            return shlex.split(line)[2]
    raise AssertionError("README.md has no `python -c` line testing the connection")


def readme_dag() -> str:
    """The README's minimal DAG (its Python block that defines a DAG)."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    (dag,) = [block for block in blocks if "with DAG(" in block]
    return dag


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--wheel", "--quiet", "--out-dir", dist, REPO)
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh venv holding what the README's install line installs (the wheel in place of PyPI's)."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, root)
    requirements = [str(wheel) if arg == PROVIDER.strip('"') else arg for arg in readme_install_line()]
    run(UV, "pip", "install", "--quiet", "--python", root / "bin" / "python", *requirements, timeout=600)
    return root


def test_readme_pins_the_airflow_the_suite_tests():
    assert f"apache-airflow=={locked_airflow()}" in readme_install_line()


def test_wheel_holds_the_provider_and_its_license_only(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = next(name.split("/")[0] for name in names if ".dist-info/" in name)
    assert {name.split("/")[0] for name in names} == {"airflow_sigma", dist_info}
    assert sorted(name for name in names if name.startswith(dist_info)) == [
        f"{dist_info}/{name}"
        for name in ("METADATA", "RECORD", "WHEEL", "entry_points.txt", "licenses/LICENSE")
    ]
    assert "Apache License" in zipfile.ZipFile(wheel).read(f"{dist_info}/licenses/LICENSE").decode()
    assert not [name for name in names if name.endswith((".json", "demo.py"))]
    assert "airflow_sigma/py.typed" in names
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert entry_points.split() == [
        "[apache_airflow_provider]", "provider_info", "=", "airflow_sigma.get_provider_info:get_provider_info"
    ]  # fmt: skip


@pytest.fixture
def airflow_env(venv: Path, tmp_path: Path) -> dict[str, str]:
    """A clean environment for the venv's ``airflow``: nothing from this test session leaks in."""
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    return {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
    }


@pytest.fixture
def sigma_process(venv: Path, tmp_path: Path, airflow_env: dict[str, str]) -> Iterator[list[str]]:
    """``python -m airflow_sigma.testing.server`` from the venv; yields the lines it printed."""
    process = subprocess.Popen(
        [venv / "bin" / "python", "-m", "airflow_sigma.testing.server", "--workbooks", str(WORKBOOKS)],
        env=airflow_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        yield [process.stdout.readline() for _ in range(4)]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_installed_wheel_runs_a_sample_dag(
    venv: Path, tmp_path: Path, airflow_env: dict[str, str], sigma_process: list[str]
):
    airflow = venv / "bin" / "airflow"
    providers = json_output(run(airflow, "providers", "list", "-o", "json", env=airflow_env))
    assert {"airflow-provider-sigma", "apache-airflow-providers-sqlite"} <= {
        p["package_name"] for p in providers
    }

    # As the docs show: the server's printed URI line, a local exports folder, a SQLite warehouse.
    uri_line = sigma_process[3].strip()
    assert uri_line.startswith("export AIRFLOW_CONN_SIGMA_DEFAULT='sigma://http://"), sigma_process
    today = newest_landed_day()  # just after midnight UTC, yesterday: the export after it has landed
    org = Org.generate(OrgSpec(workbooks=WORKBOOKS))
    exports = tmp_path / "exports"
    write_exports(exports, org_export_spec(org, today - timedelta(days=DAYS), DAYS, events_per_day=120))
    warehouse = tmp_path / "warehouse.db"
    dags = Path(airflow_env["AIRFLOW__CORE__DAGS_FOLDER"])
    shutil.copy(REPO / "dags" / "sigma_usage.py", dags)
    (dags / "readme_dag.py").write_text(readme_dag())
    env = {
        **airflow_env,
        "AIRFLOW_CONN_SIGMA_DEFAULT": shlex.split(uri_line)[1].split("=", 1)[1],
        "AIRFLOW_CONN_SIGMA_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(warehouse)}),
        "AIRFLOW_VAR_SIGMA_EXPORTS_URI": exports.as_uri(),
        "AIRFLOW_VAR_SIGMA_INCLUDE_PERSONAL": "true",
        "SIGMA_DAG_RETRIES": "0",
    }
    secret = env["AIRFLOW_CONN_SIGMA_DEFAULT"].split("@")[0].rsplit(":", 1)[1]

    # The README's check of the connection.
    checked = run(venv / "bin" / "python", "-c", readme_connection_check(), env=env)
    assert "(True, 'Connected to Sigma at http://127.0.0.1:" in checked and secret not in checked

    run(airflow, "db", "migrate", env=env)
    listed = json_output(run(airflow, "dags", "list", "--local", "-o", "json", env=env))
    assert {"sigma_usage_daily", "sigma_usage_weekly", "sigma_usage"} <= {d["dag_id"] for d in listed}
    output = run(airflow, "dags", "test", "sigma_usage_daily", today.isoformat(), env=env, timeout=600)
    assert secret not in output  # the run succeeded: `airflow dags test` exits non-zero on a failed run

    with sqlite3.connect(warehouse) as db:
        (workbooks,) = db.execute("SELECT count(DISTINCT workbook_id) FROM sigma_workbooks").fetchone()
        (used,) = db.execute("SELECT count(*) FROM sigma_usage WHERE used").fetchone()
    listed = org.visible_workbooks(admin=True, skip_permission_check=True, exclude_explorations=True)
    assert workbooks == len(listed)
    assert used > 0
