"""Run either loading job the way its operator does, for the reliability tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from airflow_sigma.audit import AuditJob
from airflow_sigma.loading import LoadResult, load_exports
from airflow_sigma.storage import ExportFile
from airflow_sigma.warehouse import (
    AUDIT_EVENTS,
    DAILY_EVENT_COUNTS,
    DAILY_LOGINS,
    EXPORT_FILES,
    Table,
    Warehouse,
)
from tests.fixtures.exports import IMPRESSION_TABLES, UTC, load_impressions

JOBS = ("impressions", "audit")
AUDIT_TABLES = (AUDIT_EVENTS, DAILY_LOGINS, DAILY_EVENT_COUNTS, EXPORT_FILES)
JOB_TABLES: dict[str, tuple[Table, ...]] = {"impressions": IMPRESSION_TABLES, "audit": AUDIT_TABLES}


def load_job(
    job: str,
    warehouse: Warehouse,
    files: Sequence[ExportFile],
    run_date: date,
    max_bad_row_fraction: float = 0.01,
) -> LoadResult:
    """Run ``job`` (``impressions`` or ``audit``) as the run of ``run_date``.

    :param job: which job.
    :param warehouse: where its tables are.
    :param files: the export files to read.
    :param run_date: the run's date; its data interval ends the next midnight (UTC).
    :param max_bad_row_fraction: the job's bad-row threshold.
    """
    if job == "impressions":
        return load_impressions(warehouse, files, run_date, max_bad_row_fraction=max_bad_row_fraction)
    run_at = datetime.combine(run_date + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return load_exports(
        warehouse, files, AuditJob(), run_at=run_at, max_bad_row_fraction=max_bad_row_fraction
    )
