"""OAuth client-credentials tokens for one Sigma API host: requested once, cached, shared by threads."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable

import requests
from tenacity import RetryCallState

from airflow_sigma.api.errors import SigmaAPIError, SigmaAuthError
from airflow_sigma.api.redact import Redactor
from airflow_sigma.api.regions import HostAdvice
from airflow_sigma.api.retry import RetryPolicy, TransientStatus
from airflow_sigma.api.transport import Reply, Transport, no_answer

log = logging.getLogger(__name__)

TOKEN_PATH = "/v2/auth/token"
DEFAULT_EXPIRES_IN = 3600.0
# A token is reused for at least this long whatever expires_in says (0.001 would mean one token
# request per call); a server that really expires it sooner answers 401 and a new one is requested.
MIN_TOKEN_REUSE = 60.0
MAX_TOKEN_LENGTH = 8192
# Visible ASCII only: a token goes into an HTTP header, where CR, LF or spaces would forge or break it.
_USABLE_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{MAX_TOKEN_LENGTH}}}")


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
    Tokens are checked on receipt (visible ASCII, at most :data:`MAX_TOKEN_LENGTH` characters) and
    reused for at least :data:`MIN_TOKEN_REUSE` seconds.

    :param transport: sends the request (no redirects, attempt deadline, size limit).
    :param client_id: OAuth client id.
    :param client_secret: OAuth client secret.
    :param redact: blanks the secret and tokens out of server-supplied text; learns each new token.
    :param retry_policy: backoff settings (used for 429 only) and the call budget.
    :param advice: what to suggest when the host refuses the credentials or does not answer.
    :param on_token: called with each new token (secret masking).
    :param on_request: called before each token request (counters).
    :param before_sleep: called before a 429 retry wait (logging, counters).
    :param refresh_margin: seconds before ``expires_in`` at which a new token is requested.
    """

    def __init__(
        self,
        transport: Transport,
        client_id: str,
        client_secret: str,
        *,
        redact: Redactor,
        retry_policy: RetryPolicy,
        advice: HostAdvice,
        on_token: Callable[[str], None] | None = None,
        on_request: Callable[[], None] | None = None,
        before_sleep: Callable[[RetryCallState], None] | None = None,
        refresh_margin: float = 60.0,
    ) -> None:
        self._transport = transport
        self._base_url = transport.base_url
        self._url = f"{transport.base_url}{TOKEN_PATH}"
        self._client_id = client_id
        self._secret = Secret(client_secret)
        self._redact = redact
        self._retry_policy = retry_policy
        self._advice = advice
        self._on_token = on_token
        self._on_request = on_request
        self._before_sleep = before_sleep
        self._refresh_margin = refresh_margin
        self._token: Secret | None = None
        self._refresh_at = 0.0
        self._lock = threading.Lock()

    def get(self, stale: str | None = None, *, until: float | None = None) -> str:
        """Return a valid token; request one when none is cached, it is due, or it equals ``stale``.

        :param stale: a token the server just rejected (401); ignored if another thread replaced it.
        :param until: the calling API call's deadline (``time.monotonic()``); default: a fresh budget.
        """
        with self._lock:
            current = self._token.value if self._token else None
            if current is not None and current != stale and time.monotonic() < self._refresh_at:
                return current
            token, expires_in = self._request(self._retry_policy.deadline() if until is None else until)
            if self._on_token is not None:
                self._on_token(token)
            self._token = Secret(token)
            reuse = max(MIN_TOKEN_REUSE, expires_in - self._refresh_margin, expires_in / 2)
            self._refresh_at = time.monotonic() + reuse
            return token

    def _request(self, until: float) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._secret.value,
        }

        def attempt() -> Reply:
            if self._on_request is not None:
                self._on_request()
            response = self._transport.send("POST", TOKEN_PATH, data=form, until=until)
            if response.status_code == 429:
                raise TransientStatus(response)
            return response

        def only_rate_limits(exc: BaseException) -> bool:
            return isinstance(exc, TransientStatus)

        try:
            response = self._retry_policy.retrying(only_rate_limits, self._before_sleep, until=until)(attempt)
        except TransientStatus as exc:
            response = exc.response
        except requests.RequestException as exc:
            raise SigmaAuthError(
                f"Could not request a Sigma token from {self._url} ({no_answer(exc)}). "
                f"{self._advice.unreachable(exc)}",
                host=self._base_url,
                transient=True,
            ) from None
        return self._read(response)

    def _read(self, response: Reply) -> tuple[str, float]:
        status = response.status_code
        request_id = self._redact(response.headers.get("x-request-id")) or None
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
                request_id=request_id,
            )
        if status != 200:
            body = response.json_or_none()
            fields = (body.get("code"), body.get("message")) if isinstance(body, dict) else ()
            detail = ": ".join(self._redact(part) for part in fields if part)
            raise SigmaAuthError(
                f"Sigma rejected the token request for client id {self._client_id!r} at {self._url} "
                f"(HTTP {status}{': ' + detail if detail else ''}). {self._advice.rejected()}",
                host=self._base_url,
                status=status,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if token is None or token == "":
            raise SigmaAuthError(
                f"{self._url} answered HTTP 200 without an access_token: is {self._base_url} the Sigma API "
                f"host (not the app host)? {self._advice.wrong_api_host()}",
                host=self._base_url,
                status=status,
            )
        if not isinstance(token, str) or not _USABLE_TOKEN.fullmatch(token):
            raise SigmaAuthError(
                f"{self._url} answered HTTP 200 with an access_token that cannot be used ({_flaw(token)}); "
                f"expected 1 to {MAX_TOKEN_LENGTH} visible ASCII characters. The token is not shown. Is "
                f"{self._base_url} the Sigma API host?",
                host=self._base_url,
                status=status,
            )
        self._redact.add(token)
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or not math.isfinite(expires_in)
            or expires_in <= 0
        ):
            expires_in = DEFAULT_EXPIRES_IN
        log.info("Obtained a Sigma access token from %s (expires in %ss)", self._base_url, expires_in)
        return token, float(expires_in)


def _flaw(token: object) -> str:
    if not isinstance(token, str):
        return f"a JSON {type(token).__name__}, not a string"
    if len(token) > MAX_TOKEN_LENGTH:
        return f"{len(token)} characters, more than {MAX_TOKEN_LENGTH}"
    return "it holds spaces, control characters or non-ASCII characters"
