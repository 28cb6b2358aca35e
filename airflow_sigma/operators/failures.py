"""Where provider errors become Airflow task outcomes: terminal errors fail the task without retries.

Every ``execute`` (and the sensor's ``poke`` and ``execute_complete``) is wrapped by :func:`fail_fast`,
so a configuration, credentials or bad-input error fails the task at once with
:class:`~airflow.sdk.exceptions.AirflowFailException` (the original error chained, its message kept),
while transient errors are raised unchanged and retried as the task's ``retries`` say.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from airflow_sigma.exceptions import is_retryable

F = TypeVar("F", bound=Callable[..., Any])
NOT_RETRIED = "not retried: retrying cannot fix this"


def not_retried(error: BaseException) -> AirflowFailException:
    """The no-retry failure for a terminal ``error``, with its message.

    :param error: the terminal error.
    """
    return AirflowFailException(f"{type(error).__name__}: {error} ({NOT_RETRIED})")


def fail_fast(method: F) -> F:
    """Wrap a task method so that a terminal provider error fails the task without retries."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as error:
            # An undefined connection is configuration: no retry defines it.
            if is_retryable(error) and not isinstance(error, AirflowNotFoundException):
                raise
            raise not_retried(error) from error

    run.fails_fast = True  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]
