"""Which export files a run looks at: the time window, and timestamp helpers.

A file is *in the window* when its last-modified time (when Sigma's export landed in storage) lies
in ``[data_interval_start - days_back, data_interval_end]``, both ends included. Exports arrive
late and overlap, so consecutive runs deliberately see some files twice; consumers deduplicate.

A file last modified more than :data:`FUTURE_MTIME_TOLERANCE` after the current time is in no window:
object stores stamp the time a file landed, so such a time was set by a wrong clock or by hand. The
sensor used to fire on it (it is "newer" than any threshold, so every run's sensor fired at once,
without waiting for the real export) while the listing left it out; now neither takes it, and both say
so in their summary line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from airflow_sigma.storage.errors import ExportConfigError

MIN_DAYS_BACK = 1
MAX_DAYS_BACK = 6
DEFAULT_DAYS_BACK = 2

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: How far in the future a file's last-modified time may be (clock skew) and still be trusted.
FUTURE_MTIME_TOLERANCE = timedelta(hours=1)


def latest_trusted_mtime(now: datetime | None = None) -> datetime:
    """The latest last-modified time a file may have to be taken: now plus the clock-skew tolerance."""
    return as_utc(now or datetime.now(timezone.utc)) + FUTURE_MTIME_TOLERANCE


def validate_days_back(days_back: object) -> int:
    """Check ``days_back`` is a whole number of days in 1..6.

    :param days_back: days before the data interval to rescan for late exports.
    :raises ExportConfigError: otherwise.
    """
    if isinstance(days_back, bool) or not isinstance(days_back, int):
        raise ExportConfigError(
            f"days_back must be a whole number of days from {MIN_DAYS_BACK} to {MAX_DAYS_BACK}, "
            f"got {days_back!r} ({type(days_back).__name__})."
        )
    if not MIN_DAYS_BACK <= days_back <= MAX_DAYS_BACK:
        raise ExportConfigError(
            f"days_back must be from {MIN_DAYS_BACK} to {MAX_DAYS_BACK} days, got {days_back}: each run "
            f"also rescans that many days before its data interval for exports that landed late."
        )
    return days_back


def as_utc(when: datetime) -> datetime:
    """A plain :class:`datetime` in UTC (naive values are taken to be UTC already)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    utc = when.astimezone(timezone.utc)
    # Rebuild as a stdlib datetime: pendulum subclasses format and compare slightly differently.
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=timezone.utc
    )


def from_epoch_ns(ns: int) -> datetime:
    """A UTC datetime from nanoseconds since the epoch, truncated to microseconds (exact, no float)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def format_timestamp(when: datetime) -> str:
    """ISO 8601 in UTC, e.g. ``2024-05-01T06:00:00+00:00`` (microseconds only when non-zero)."""
    return as_utc(when).isoformat()


def parse_timestamp(value: str | datetime, *, field: str) -> datetime:
    """Parse an ISO 8601 timestamp (or pass a datetime through), returning UTC.

    :param value: the timestamp; naive values are taken as UTC.
    :param field: the parameter name, for the error message.
    :raises ExportConfigError: if it is not a datetime or ISO 8601 string.
    """
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str):
        try:
            return as_utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            pass
    raise ExportConfigError(
        f"{field} must be a datetime or an ISO 8601 timestamp such as 2024-05-01T06:00:00+00:00, "
        f"got {value!r}."
    )


@dataclass(frozen=True)
class ExportWindow:
    """A closed time interval on files' last-modified times; ``None`` leaves that side open.

    :param start: earliest last-modified time included.
    :param end: latest last-modified time included.
    """

    start: datetime | None
    end: datetime | None

    def __post_init__(self) -> None:
        start = as_utc(self.start) if self.start is not None else None
        end = as_utc(self.end) if self.end is not None else None
        if start is not None and end is not None and start > end:
            raise ExportConfigError(
                f"Export window start {start.isoformat()} is after its end {end.isoformat()}."
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` lies in the window (edges included)."""
        when = as_utc(when)
        return (self.start is None or when >= self.start) and (self.end is None or when <= self.end)

    def __str__(self) -> str:
        start = self.start.isoformat() if self.start else "-inf"
        end = self.end.isoformat() if self.end else "+inf"
        return f"[{start}, {end}]"


def export_window(data_interval_start: datetime, data_interval_end: datetime, days_back: int) -> ExportWindow:
    """The window a run scans: ``[data_interval_start - days_back days, data_interval_end]``.

    A weekly DAG therefore covers its whole week plus the slack, with no gap between runs.

    :param data_interval_start: the run's data interval start.
    :param data_interval_end: the run's data interval end.
    :param days_back: 1..6 extra days before the interval, for exports that landed late.
    """
    days = validate_days_back(days_back)
    start = as_utc(data_interval_start) - timedelta(days=days)
    return ExportWindow(start, max(min(as_utc(data_interval_end), latest_trusted_mtime()), start))


def newer_than_window(when: datetime) -> ExportWindow:
    """Files last modified strictly after ``when`` (timestamps have microsecond resolution), and not in
    the future (see :data:`FUTURE_MTIME_TOLERANCE`)."""
    start = as_utc(when) + timedelta(microseconds=1)
    return ExportWindow(start, max(latest_trusted_mtime(), start))
