"""Run either loading job the way its operator does, for the reliability tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from airflow_sigma.loading import LoadResult
from airflow_sigma.storage import ExportFile
from airflow_sigma.warehouse import Table, Warehouse
from tests.fixtures.exports import AUDIT_TABLES, IMPRESSION_TABLES, load_audit, load_impressions

JOBS = ("impressions", "audit")
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
    load = {"impressions": load_impressions, "audit": load_audit}[job]
    return load(warehouse, files, run_date, max_bad_row_fraction=max_bad_row_fraction)
