"""OAuth client-credentials tokens for one Sigma API host: requested once, cached, shared by threads."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from tenacity import RetryCallState

from airflow_sigma.api.errors import SigmaAPIError, SigmaAuthError
from airflow_sigma.api.retry import RetryPolicy, TransientStatus

log = logging.getLogger(__name__)

TOKEN_PATH = "/v2/auth/token"
DEFAULT_EXPIRES_IN = 3600.0
MAX_SERVER_MESSAGE = 400


class Secret:
    """Holds a secret so that it never shows up in a repr, a traceback's locals or a log line."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"


class TokenSource:
    """Requests ``POST {base}/v2/auth/token`` (form-encoded client credentials) and caches the token.

    One lock serialises requests, so threads that need a token at the same moment share one request.
    The token POST is retried only on 429 (the server did nothing); any other failure is raised.

    :param session: the HTTP session shared with the client.
    :param base_url: the API base URL.
    :param client_id: OAuth client id.
    :param client_secret: OAuth client secret.
    :param timeout: seconds for connecting and reading.
    :param retry_policy: backoff settings (used for 429 only).
    :param hint: returns the "wrong host? try these cloud keys" advice for error messages.
    :param on_token: called with each new token (secret masking).
    :param on_request: called before each token request (counters).
    :param before_sleep: called before a 429 retry wait (logging, counters).
    :param refresh_margin: seconds before ``expires_in`` at which a new token is requested.
    """

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float,
        retry_policy: RetryPolicy,
        hint: Callable[[], str],
        on_token: Callable[[str], None] | None = None,
        on_request: Callable[[], None] | None = None,
        before_sleep: Callable[[RetryCallState], None] | None = None,
        refresh_margin: float = 60.0,
    ) -> None:
        self._session = session
        self._url = f"{base_url}{TOKEN_PATH}"
        self._base_url = base_url
        self._client_id = client_id
        self._secret = Secret(client_secret)
        self._timeout = timeout
        self._retry_policy = retry_policy
        self._hint = hint
        self._on_token = on_token
        self._on_request = on_request
        self._before_sleep = before_sleep
        self._refresh_margin = refresh_margin
        self._token: Secret | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()

    def get(self, stale: str | None = None) -> str:
        """Return a valid token; request one when none is cached, it is due, or it equals ``stale``.

        :param stale: a token the server just rejected (401); ignored if another thread replaced it.
        """
        with self._lock:
            current = self._token.value if self._token else None
            if current is not None and current != stale and time.monotonic() < self._refresh_at:
                return current
            token, expires_in = self._request()
            if self._on_token is not None:
                self._on_token(token)
            self._token = Secret(token)
            self._refresh_at = time.monotonic() + max(expires_in - self._refresh_margin, expires_in / 2)
            return token

    def scrub(self, text: str | None) -> str:
        """Shorten server-provided text and blank out the secret and the current token.

        :param text: e.g. an error ``message`` from a response body.
        """
        if not text:
            return ""
        text = text[:MAX_SERVER_MESSAGE]
        for secret in (self._secret.value, self._token.value if self._token else None):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _request(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret.value,
        }

        def attempt() -> requests.Response:
            if self._on_request is not None:
                self._on_request()
            response = self._session.post(self._url, data=form, timeout=self._timeout)
            if response.status_code == 429:
                raise TransientStatus(response)
            return response

        def only_rate_limits(exc: BaseException) -> bool:
            return isinstance(exc, TransientStatus)

        try:
            response = self._retry_policy.retrying(only_rate_limits, self._before_sleep)(attempt)
        except TransientStatus as exc:
            response = exc.response
        except requests.RequestException as exc:
            raise SigmaAuthError(
                f"Could not request a Sigma token from {self._url} ({type(exc).__name__}: no answer from "
                f"the host). {self._hint()}",
                host=self._base_url,
            ) from None
        return self._read(response)

    def _read(self, response: requests.Response) -> tuple[str, float]:
        status = response.status_code
        if status >= 500 or status == 429:
            why = (
                "still rate limited after the retries"
                if status == 429
                else "a token request that may have reached Sigma is not replayed"
            )
            raise SigmaAPIError(
                f"The Sigma token endpoint {self._url} answered HTTP {status} ({why}); try again later.",
                status=status,
                path=TOKEN_PATH,
                request_id=response.headers.get("x-request-id"),
            )
        body = json_or_none(response)
        if status != 200:
            code, message = (
                (body.get("code"), body.get("message")) if isinstance(body, dict) else (None, None)
            )
            detail = ": ".join(str(part) for part in (code, self.scrub(message and str(message))) if part)
            raise SigmaAuthError(
                f"Sigma rejected the token request for client id {self._client_id!r} at {self._url} "
                f"(HTTP {status}{': ' + detail if detail else ''}). Check the client id and secret. "
                f"{self._hint()}",
                host=self._base_url,
                status=status,
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise SigmaAuthError(
                f"{self._url} answered HTTP 200 without an access_token: is {self._base_url} the Sigma API "
                f"host (not the app host)? {self._hint()}",
                host=self._base_url,
                status=status,
            )
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
            expires_in = DEFAULT_EXPIRES_IN
        log.info("Obtained a Sigma access token from %s (expires in %ss)", self._base_url, expires_in)
        return token, float(expires_in)


def json_or_none(response: requests.Response) -> Any:
    """The parsed JSON body, or ``None`` when the body is not JSON.

    :param response: any response.
    """
    try:
        return response.json()
    except ValueError:
        return None
