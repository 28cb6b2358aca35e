"""Window computation, days_back validation, timestamps and patterns (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pendulum
import pytest

from airflow_sigma.storage import (
    ExportConfigError,
    ExportWindow,
    export_window,
    format_timestamp,
    matches_patterns,
    newer_than_window,
    normalise_patterns,
    parse_timestamp,
    validate_days_back,
)

UTC = timezone.utc
START = datetime(2024, 5, 6, tzinfo=UTC)
END = datetime(2024, 5, 7, tzinfo=UTC)


def test_daily_window_reaches_days_back_before_the_interval() -> None:
    window = export_window(START, END, 2)
    assert window.start == datetime(2024, 5, 4, tzinfo=UTC)
    assert window.end == END


def test_weekly_window_covers_the_whole_week_plus_slack() -> None:
    week_start, week_end = datetime(2024, 5, 6, tzinfo=UTC), datetime(2024, 5, 13, tzinfo=UTC)
    window = export_window(week_start, week_end, 1)
    assert (window.start, window.end) == (datetime(2024, 5, 5, tzinfo=UTC), week_end)
    assert all(window.contains(week_start + timedelta(hours=h)) for h in range(0, 7 * 24 + 1))


def test_edges_are_included_and_just_outside_is_not() -> None:
    window = export_window(START, END, 1)
    tick = timedelta(microseconds=1)
    assert window.contains(START - timedelta(days=1))
    assert window.contains(END)
    assert not window.contains(START - timedelta(days=1) - tick)
    assert not window.contains(END + tick)


def test_consecutive_daily_runs_leave_no_gap() -> None:
    first = export_window(START, END, 1)
    second = export_window(END, END + timedelta(days=1), 1)
    assert second.start is not None and first.end is not None
    assert second.start <= first.end


@pytest.mark.parametrize("good", [1, 2, 6])
def test_days_back_accepts_1_to_6(good: int) -> None:
    assert validate_days_back(good) == good


@pytest.mark.parametrize("bad", [0, 7, -1, 30])
def test_days_back_out_of_range(bad: int) -> None:
    with pytest.raises(ExportConfigError, match=r"from 1 to 6 days, got"):
        validate_days_back(bad)


@pytest.mark.parametrize("bad", [True, 2.0, "2", None])
def test_days_back_must_be_an_int(bad: object) -> None:
    with pytest.raises(ExportConfigError, match="whole number"):
        validate_days_back(bad)


def test_timezones_normalise_to_utc() -> None:
    paris = pendulum.datetime(2024, 5, 6, 2, tz="Europe/Paris")
    window = export_window(paris, paris.add(days=1), 1)
    assert window.start == datetime(2024, 5, 5, 0, tzinfo=UTC)
    assert type(window.start) is datetime
    assert ExportWindow(datetime(2024, 1, 1), None).start == datetime(2024, 1, 1, tzinfo=UTC)


def test_window_start_after_end_is_refused() -> None:
    with pytest.raises(ExportConfigError, match="after its end"):
        ExportWindow(END, START)


def test_newer_than_is_strict() -> None:
    window = newer_than_window(START)
    assert not window.contains(START)
    assert window.contains(START + timedelta(microseconds=1))
    now = datetime.now(UTC)  # ends an hour after now: a later last-modified time is not true
    assert window.end is not None
    assert now + timedelta(minutes=59) < window.end <= datetime.now(UTC) + timedelta(hours=1)


def test_timestamp_format_and_parse() -> None:
    assert format_timestamp(datetime(2024, 5, 6, 1, 2, 3, tzinfo=UTC)) == "2024-05-06T01:02:03+00:00"
    assert format_timestamp(datetime(2024, 5, 6, 1, 2, 3, 5)) == "2024-05-06T01:02:03.000005+00:00"
    assert parse_timestamp("2024-05-06T01:02:03Z", field="x") == datetime(2024, 5, 6, 1, 2, 3, tzinfo=UTC)
    assert parse_timestamp("2024-05-06T03:02:03+02:00", field="x") == datetime(
        2024, 5, 6, 1, 2, 3, tzinfo=UTC
    )
    with pytest.raises(ExportConfigError, match="newer_than must be a datetime or an ISO 8601"):
        parse_timestamp("yesterday", field="newer_than")


def test_default_patterns_match_csv_and_csv_gz_only() -> None:
    patterns = normalise_patterns(("*.csv", "*.csv.gz"))
    assert matches_patterns("2024-05-06-0600 audit.csv", patterns)
    assert matches_patterns("2024-05-06-0600 audit.CSV.GZ", patterns)
    assert not matches_patterns("2024-05-06-0600 audit.json", patterns)
    assert not matches_patterns("audit.csv.tmp", patterns)


def test_pattern_validation() -> None:
    assert normalise_patterns("audit_*.csv") == ("audit_*.csv",)
    for bad in ([], [""], ["exports/*.csv"], [3]):
        with pytest.raises(ExportConfigError, match="pattern"):
            normalise_patterns(bad)  # type: ignore[arg-type]
