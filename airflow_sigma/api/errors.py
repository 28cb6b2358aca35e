"""Exceptions raised by the Sigma API client.

Messages are written for the person reading a task log: they name the host, the endpoint and what to
try next. They never contain the client secret or an access token.
"""

from __future__ import annotations


class SigmaError(Exception):
    """Base class of every error raised by :mod:`airflow_sigma.api`."""


class SigmaConfigError(SigmaError):
    """The connection settings are unusable (host not allowed, unknown cloud key, missing field...)."""


class SigmaAuthError(SigmaError):
    """The token request was rejected, or the host could not issue a token.

    :param message: human-readable explanation naming the host, the cloud key and the keys to try.
    :param host: the API base URL the token was requested from.
    :param status: HTTP status of the token response, ``None`` when no response was received.
    """

    def __init__(self, message: str, *, host: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.status = status


class SigmaAPIError(SigmaError):
    """A Sigma API call answered with a non-2xx status (after retries) or an unusable body.

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


class SigmaConnectionError(SigmaAPIError):
    """No HTTP response could be obtained (connection refused, reset or timed out) after retries."""


class SigmaResponseError(SigmaAPIError):
    """Sigma's answer cannot be used and is not retried: a redirect (never followed), a body above the
    size limit, or JSON nested too deeply to parse."""


class SigmaPaginationError(SigmaAPIError):
    """A list endpoint answered in a way that cannot be paginated safely (repeated token, bad shape,
    empty pages that keep pointing to a next page)."""
