"""SigmaAuditExportSensor: validation, poke and deferral, and a real dag.test() run on moto."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_sigma.sensors import SigmaAuditExportSensor
from airflow_sigma.storage import ExportConfigError
from airflow_sigma.triggers import SigmaAuditExportTrigger
from tests.fixtures.cloud import S3Server

UTC = timezone.utc
INTERVAL_END = datetime(2024, 5, 7, tzinfo=UTC)
CONTEXT = {"data_interval_start": INTERVAL_END - timedelta(days=1), "data_interval_end": INTERVAL_END}
DAGS = Path(__file__).resolve().parents[1] / "integration_dags"


def touch(path: Path, when: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"a\n1\n")
    stamp = int(when.timestamp()) * 10**9
    os.utime(path, ns=(stamp, stamp))


def sensor(uri: str, **kwargs: object) -> SigmaAuditExportSensor:
    return SigmaAuditExportSensor(task_id="wait", bucket_uri=uri, **kwargs)  # type: ignore[arg-type]


def test_validates_at_parse_time() -> None:
    with pytest.raises(ExportConfigError, match="file:///absolute/dir"):
        sensor("http://example.com/exports")
    with pytest.raises(ExportConfigError, match="newer_than"):
        sensor("s3://bkt/p", newer_than="last tuesday")
    templated = sensor("{{ params.uri }}", newer_than="{{ data_interval_start }}")
    assert templated.bucket_uri == "{{ params.uri }}"
    assert sensor("s3://bkt//p").bucket_uri == "s3://bkt/p/"


def test_defaults() -> None:
    waiting = sensor("s3://bkt/p")
    assert waiting.deferrable is True
    assert waiting.pattern == ["*.csv", "*.csv.gz"]
    assert waiting.poke_interval == 300
    assert waiting.timeout == 24 * 60 * 60
    assert isinstance(waiting, BaseSensorOperator)


def test_returns_at_once_when_a_newer_file_exists(tmp_path: Path) -> None:
    touch(tmp_path / "at-threshold.csv", INTERVAL_END)
    touch(tmp_path / "sub" / "newer.csv", INTERVAL_END + timedelta(seconds=1))
    files = sensor(f"file://{tmp_path}").execute(CONTEXT)
    assert [f["uri"] for f in files] == [f"file://{tmp_path}/sub/newer.csv"]


def test_defers_with_a_serialisable_trigger(tmp_path: Path) -> None:
    touch(tmp_path / "at-threshold.csv", INTERVAL_END)
    waiting = sensor(f"file://{tmp_path}", poke_interval=7, timeout=600, pattern="*.csv")
    with pytest.raises(TaskDeferred) as info:
        waiting.execute(CONTEXT)
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout == timedelta(seconds=600)
    trigger = deferred.trigger
    assert isinstance(trigger, SigmaAuditExportTrigger)
    _, kwargs = trigger.serialize()
    assert kwargs["bucket_uri"] == f"file://{tmp_path}/"
    assert kwargs["newer_than"] == "2024-05-07T00:00:00+00:00"
    assert kwargs["patterns"] == ["*.csv"]
    assert kwargs["poke_interval"] == 7


def test_explicit_newer_than(tmp_path: Path) -> None:
    touch(tmp_path / "a.csv", INTERVAL_END)
    files = sensor(f"file://{tmp_path}", newer_than="2024-05-06T23:59:59Z").execute(CONTEXT)
    assert len(files) == 1


def test_poke_mode_when_not_deferrable(tmp_path: Path) -> None:
    waiting = sensor(f"file://{tmp_path}", deferrable=False, poke_interval=0, timeout=0)
    assert waiting.poke(CONTEXT).is_done is False
    with pytest.raises(AirflowSensorTimeout):
        waiting.execute(CONTEXT)
    touch(tmp_path / "new.csv", INTERVAL_END + timedelta(hours=1))
    assert [f["uri"] for f in waiting.execute(CONTEXT)] == [f"file://{tmp_path}/new.csv"]


def test_execute_complete_statuses() -> None:
    waiting = sensor("s3://bkt/p")
    files = [{"uri": "s3://bkt/p/a.csv", "size": 1, "last_modified": "x", "version": "v"}]
    assert waiting.execute_complete({}, {"status": "success", "files": files, "message": "ok"}) == files
    with pytest.raises(AirflowSensorTimeout, match="nothing came"):
        waiting.execute_complete({}, {"status": "timeout", "message": "nothing came"})
    with pytest.raises(AirflowException, match="bucket gone") as retried:
        waiting.execute_complete({}, {"status": "error", "message": "bucket gone"})
    assert not isinstance(retried.value, AirflowFailException)
    with pytest.raises(AirflowFailException, match=r"bad location.*not retried"):
        waiting.execute_complete({}, {"status": "error", "message": "bad location", "retryable": False})
    soft = sensor("s3://bkt/p", soft_fail=True)
    with pytest.raises(AirflowSkipException):
        soft.resume_execution("execute_complete", {"event": {"status": "timeout", "message": "m"}}, {})


class _SeenMessage(logging.Handler):
    """Sets an event when a log record contains ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.INFO)
        self.text = text
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@pytest.fixture
def trigger_started() -> Iterator[_SeenMessage]:
    """Signals when dag.test() starts running a deferred task's trigger in line."""
    logger = logging.getLogger("airflow.sdk.definitions.dag")
    handler = _SeenMessage("running trigger in line")
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


def _load_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS / "exports_sensor.py"))
    assert bag.import_errors == {}
    return bag.get_dag("exports_sensor")


def _xcom(run_id: str, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(
            run_id=run_id, key="return_value", task_ids=task_id, dag_ids="exports_sensor"
        )
        return [XComModel.deserialize_value(row) for row in session.scalars(query)]


@pytest.mark.integration
def test_dag_test_defers_and_completes_when_a_file_lands(
    airflow_db: None,
    aws_connection: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    trigger_started: _SeenMessage,
) -> None:
    # S3 last-modified has one-second resolution: start the run on a whole second in the past.
    logical_date = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    aws_connection.put(
        s3_bucket, "exports/old.csv", b"a\n1\n", last_modified=logical_date - timedelta(hours=1)
    )
    monkeypatch.setenv("SIGMA_TEST_EXPORTS_URI", f"s3://{s3_bucket}/exports")
    monkeypatch.setenv("SIGMA_TEST_EXPORTS_DEFERRABLE", "true")

    def upload_once_deferred() -> None:
        if trigger_started.seen.wait(timeout=90):
            time.sleep(1)  # let the trigger poll and find nothing first (not needed for correctness)
            aws_connection.put(s3_bucket, "exports/2024/landed.csv.gz", b"a\n1\n")

    uploader = threading.Thread(target=upload_once_deferred, daemon=True)
    uploader.start()
    run = _load_dag().test(logical_date=logical_date)
    uploader.join(timeout=5)

    assert trigger_started.seen.is_set(), "the sensor never deferred"
    assert run.state == "success"
    [waited] = _xcom(run.run_id, "wait_for_export")
    assert [f["uri"] for f in waited] == [f"s3://{s3_bucket}/exports/2024/landed.csv.gz"]
    [listed] = _xcom(run.run_id, "list_exports")
    assert [f["uri"] for f in listed] == [f"s3://{s3_bucket}/exports/old.csv"]


def test_templated_newer_than_renders_from_a_datetime_string(tmp_path: Path) -> None:
    import pendulum

    touch(tmp_path / "a.csv", INTERVAL_END)
    waiting = sensor(f"file://{tmp_path}", newer_than="{{ params.since }}")
    waiting.render_template_fields({"params": {"since": str(pendulum.datetime(2024, 5, 6, 23, tz="UTC"))}})
    assert len(waiting.execute(CONTEXT)) == 1
