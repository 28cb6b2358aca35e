"""Idempotence of the sample DAGs: the same logical date run three times leaves identical tables."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.fixtures.dags import SampleDags

START = date(2026, 3, 2)
LAST_DAY = START + timedelta(days=4)


@pytest.mark.integration
def test_each_sample_dag_run_three_times_leaves_identical_tables(sample_dags: SampleDags) -> None:
    truth = sample_dags.stage(sample_dags.spec(START, 5), warehouse="postgres")
    usage = ("sigma_usage_daily", LAST_DAY)
    audit = ("sigma_audit_history_daily", LAST_DAY)
    # The week [Sun Feb 22, Sun Mar 1): its sensor finds the exports of Mar 2 (none land after Mar 7).
    weekly = {"dag_id": "sigma_usage_weekly", "logical_date": "2026-03-01T00:00:00+00:00"}
    runs = (usage, usage, usage, audit, audit, audit, weekly, weekly, weekly)
    results = sample_dags.run(*runs, snapshot_tables=True)
    snapshots = [result["tables"] for result in results]

    first_usage, first_audit = snapshots[0], snapshots[3]
    assert snapshots[1] == first_usage and snapshots[2] == first_usage
    assert snapshots[4] == first_audit and snapshots[5] == first_audit
    first_weekly = snapshots[6]
    assert snapshots[7] == first_weekly and snapshots[8] == first_weekly
    assert len(first_weekly["usage"]) > len(first_audit["usage"])  # the weekly run added its as_of
    # Not vacuous: the runs wrote every table, and the audit runs changed only their own tables.
    for name in (
        "workbooks",
        "workbook_elements",
        "members",
        "impression_events",
        "impressions_daily",
        "usage",
    ):
        assert first_usage[name], name
        assert first_audit[name] == first_usage[name], name
    for name in ("audit_events", "daily_logins", "daily_event_counts", "member_activity"):
        assert first_audit[name] and not first_usage[name], name
    assert sample_dags.impressions_daily() == truth.impressions
    # Three complete runs (dag.test() makes a new manual run each time) of one data interval.
    assert len({result["run_id"] for result in results[:3]}) == 3
    assert len({tuple(result["data_interval"]) for result in results[:3]}) == 1
