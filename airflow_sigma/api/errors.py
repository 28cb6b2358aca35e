"""Exceptions raised by the Sigma API client.

Messages are written for the person reading a task log: they name the host, the endpoint and what to
try next. They never contain the client secret or an access token.
"""

from __future__ import annotations

from airflow_sigma.exceptions import ConfigurationError, CredentialsError, SigmaProviderError, TransientError

#: HTTP statuses after which running the task again may succeed (besides no answer at all).
RETRYABLE_STATUSES = frozenset({408, 425, 429})


class SigmaError(SigmaProviderError):
    """Base class of every error raised by :mod:`airflow_sigma.api`."""


class SigmaConfigError(SigmaError, ConfigurationError):
    """The connection settings are unusable (host not allowed, unknown cloud key, missing field...)."""


class SigmaAuthError(SigmaError, CredentialsError):
    """The token request was rejected, or the host could not issue a token.

    Terminal (the task is not retried) unless no answer came at all (``transient``).

    :param message: human-readable explanation naming the host, the cloud key and the keys to try.
    :param host: the API base URL the token was requested from.
    :param status: HTTP status of the token response, ``None`` when no response was received.
    :param transient: the host did not answer; a later try may succeed.
    """

    def __init__(
        self, message: str, *, host: str | None = None, status: int | None = None, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.host = host
        self.status = status
        self.transient = transient

    @property
    def retryable(self) -> bool:
        return self.transient


class SigmaAPIError(SigmaError):
    """A Sigma API call answered with a non-2xx status (after retries) or an unusable body.

    Retryable (:attr:`retryable`) when no response came, on 5xx, 408, 425 and 429; any other status
    (403 permission denied, 404, 400...) fails the task without retries.

    :param message: human-readable explanation.
    :param status: HTTP status code, ``None`` when no response was received at all.
    :param path: the API path that was called, e.g. ``/v2/workbooks``.
    :param code: Sigma's error ``code`` from the response body, when present.
    :param request_id: Sigma's request id (body ``requestId`` or header ``x-request-id``) for support.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        path: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.code = code
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status in RETRYABLE_STATUSES


class SigmaConnectionError(SigmaAPIError, TransientError):
    """No HTTP response could be obtained (connection refused, reset or timed out) after retries."""


class SigmaResponseError(SigmaAPIError):
    """Sigma's answer cannot be used and is not retried: a redirect (never followed), a body above the
    size limit, or JSON nested too deeply to parse."""

    @property
    def retryable(self) -> bool:
        return False


class SigmaPaginationError(SigmaAPIError):
    """A list endpoint answered in a way that cannot be paginated safely (repeated token, bad shape,
    empty pages that keep pointing to a next page)."""

    @property
    def retryable(self) -> bool:
        return False
