"""Retry policy for Sigma API calls: exponential backoff with jitter, honouring ``Retry-After``."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timezone
from typing import Any

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from airflow_sigma.api.transport import Reply

RETRY_STATUSES = frozenset({429, 502, 503, 504})
# No answer, or one cut off mid-body (the connection closed before Content-Length bytes arrived).
CONNECTION_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class TransientStatus(Exception):
    """Internal signal: the response has a status worth retrying (429, 502, 503, 504)."""

    def __init__(self, response: Reply) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = parse_retry_after(response.headers.get("Retry-After"))


def is_transient(exc: BaseException) -> bool:
    """Whether a failed GET may be retried: a retryable status, a connection error, a timeout or a
    response cut off mid-body.

    :param exc: what the attempt raised.
    """
    return isinstance(exc, (TransientStatus, *CONNECTION_ERRORS))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), ``None`` if unusable.

    :param value: the header value.
    :param now: the current epoch time (for tests); defaults to ``time.time()``.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one call.

    :param max_retries: retries after the first attempt.
    :param backoff_initial: first backoff in seconds; doubles per retry, plus up to as much jitter.
    :param backoff_max: ceiling of one backoff.
    :param retry_after_max: ceiling applied to a server's ``Retry-After``.
    :param budget: total seconds one call (token request, attempts and waits) may take.
    """

    max_retries: int = 5
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    budget: float = 300.0

    def wait_seconds(self, retry_state: RetryCallState) -> float:
        """Tenacity wait: the server's ``Retry-After`` (capped) when given, else exponential with jitter.

        :param retry_state: tenacity's state of the call being retried.
        """
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, TransientStatus) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry_after_max)
        backoff = wait_exponential_jitter(
            initial=self.backoff_initial, max=self.backoff_max, jitter=self.backoff_initial
        )
        return float(backoff(retry_state))

    def deadline(self) -> float:
        """The ``time.monotonic()`` value by which a call starting now must end."""
        return time.monotonic() + self.budget

    def retrying(
        self,
        retry_on: Callable[[BaseException], bool],
        before_sleep: Callable[[RetryCallState], Any] | None = None,
        *,
        until: float,
    ) -> Retrying:
        """A tenacity ``Retrying`` that re-raises the last error once attempts run out, or when the next
        wait would end past ``until``.

        :param retry_on: decides which exceptions are retried.
        :param before_sleep: called before each wait (logging, counters).
        :param until: the call's deadline, from :meth:`deadline`.
        """
        return Retrying(
            stop=stop_after_attempt(self.max_retries + 1) | _StopAt(until),
            wait=self.wait_seconds,
            retry=retry_if_exception(retry_on),
            before_sleep=before_sleep,
            reraise=True,
        )


class _StopAt(stop_base):
    """Stop when the next wait would end at or past ``until`` (a ``time.monotonic()`` value)."""

    def __init__(self, until: float) -> None:
        self.until = until

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() + retry_state.upcoming_sleep >= self.until


def describe_outcome(retry_state: RetryCallState) -> str:
    """Short text for a retry log line: the status or the exception type, never a URL body or header.

    :param retry_state: tenacity's state of the call being retried.
    """
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    if isinstance(exc, TransientStatus):
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__ if exc is not None else "unknown"
