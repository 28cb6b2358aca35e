"""Checks of the loading jobs' settings, cheap enough to run when a DAG is parsed (no pyarrow)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

from airflow_sigma.exceptions import ParameterError


def check_fraction(name: str, value: object) -> float:
    """A number from 0.0 to 1.0 (``max_bad_row_fraction``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ParameterError(f"{name} must be a number from 0.0 to 1.0, got {value!r}")
    return float(value)


def check_positive_int(name: str, value: object) -> int:
    """A whole number >= 1 (days, thresholds)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def as_date(name: str, value: object) -> date:
    """A date given as a date, a datetime (its date) or ``YYYY-MM-DD``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ParameterError(f"{name} must be a date or 'YYYY-MM-DD', got {value!r}")


class TaskLog(Protocol):
    """What the loading code logs to: a :class:`logging.Logger` or an Airflow task's ``self.log``."""

    def info(self, msg: Any, /, *args: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any) -> Any: ...
