"""A thread-safe client for Sigma's REST API (no Airflow imports).

One :class:`~airflow_sigma.api.transport.Transport` (a ``requests`` session with a connection pool of
``pool_size``) serves every thread; it follows no redirect, gives each attempt a wall-clock deadline and
caps response sizes. The access token is cached until shortly before it expires; one lock makes
concurrent callers share a single token request. GETs are retried with backoff on 429/502/503/504,
connection errors and attempt deadlines; the token POST is retried only on 429 (the server said it did
nothing). One call, token request included, stays within ``retry_budget``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tenacity import RetryCallState

from airflow_sigma.api.auth import TOKEN_PATH, TokenSource
from airflow_sigma.api.errors import (
    SigmaAPIError,
    SigmaAuthError,
    SigmaConfigError,
    SigmaConnectionError,
    SigmaError,
)
from airflow_sigma.api.hints import forbidden_hint
from airflow_sigma.api.pagination import MAX_PAGE_SIZE, Scheme, iter_entries
from airflow_sigma.api.redact import Redactor
from airflow_sigma.api.regions import (
    CLOUD_HOSTS,
    HostAdvice,
    check_host_allowed,
    cloud_key_for,
    normalize_base_url,
)
from airflow_sigma.api.retry import (
    CONNECTION_ERRORS,
    RETRY_STATUSES,
    RetryPolicy,
    TransientStatus,
    describe_outcome,
    is_transient,
)
from airflow_sigma.api.settings import SigmaSettings
from airflow_sigma.api.transport import (
    DEFAULT_ATTEMPT_DEADLINE,
    DEFAULT_MAX_RESPONSE_BYTES,
    Reply,
    Transport,
    no_answer,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClientStats:
    """A snapshot of a client's counters.

    :param requests: HTTP requests sent, including token requests and retries.
    :param token_requests: token requests sent.
    :param retries: GET or token attempts repeated after a transient failure.
    :param reauthentications: API calls answered 401 and replayed once with a new token.
    """

    requests: int = 0
    token_requests: int = 0
    retries: int = 0
    reauthentications: int = 0


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, int] = dict.fromkeys(ClientStats.__dataclass_fields__, 0)

    def add(self, **increments: int) -> None:
        with self._lock:
            for name, amount in increments.items():
                self._values[name] += amount

    def snapshot(self) -> ClientStats:
        with self._lock:
            return ClientStats(**self._values)


class SigmaClient:
    """Sigma REST API client.

    :param base_url: API base URL (``https://aws-api.sigmacomputing.com``, with or without ``/v2``).
    :param client_id: OAuth client id.
    :param client_secret: OAuth client secret.
    :param cloud: the cloud key ``base_url`` came from, used in error messages (found when omitted).
    :param allow_custom_host: allow a host outside ``https://*.sigmacomputing.com`` (proxy, test server).
    :param timeout: seconds for connecting and for each read from the socket.
    :param attempt_deadline: wall-clock seconds one attempt (request and whole answer) may take, however
        slowly the server sends.
    :param max_response_bytes: largest answer accepted (default 64 MiB); a larger one fails the call.
    :param max_retries: retries of a GET after its first attempt.
    :param backoff_initial: first backoff in seconds (doubles each retry, plus jitter).
    :param backoff_max: ceiling of one backoff in seconds.
    :param retry_after_max: ceiling applied to a server's ``Retry-After`` in seconds.
    :param retry_budget: total seconds one call may take, token request, attempts and waits included.
    :param pool_size: HTTP connections kept per host; size it to the number of threads sharing the client.
    :param on_token: called with each new access token (the hook registers it with the secret masker).
    :param token_refresh_margin: seconds before ``expires_in`` at which a new token is requested.
    :param known_hosts: cloud key → host map used in messages (default ``CLOUD_HOSTS``).
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        cloud: str | None = None,
        allow_custom_host: bool = False,
        timeout: float = 30.0,
        attempt_deadline: float = DEFAULT_ATTEMPT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_retries: int = 5,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        retry_after_max: float = 60.0,
        retry_budget: float = 300.0,
        pool_size: int = 16,
        on_token: Callable[[str], None] | None = None,
        token_refresh_margin: float = 60.0,
        known_hosts: Mapping[str, str] | None = None,
    ) -> None:
        if not client_id or not client_secret:
            raise SigmaConfigError("A Sigma client needs both a client id and a client secret.")
        self.base_url = normalize_base_url(base_url)
        check_host_allowed(self.base_url, allow_custom_host)
        self._known_hosts = dict(CLOUD_HOSTS if known_hosts is None else known_hosts)
        self.cloud = cloud or cloud_key_for(self.base_url, known_hosts=self._known_hosts)
        self.client_id = client_id
        self.timeout = timeout
        self._advice = HostAdvice(self.base_url, self.cloud, self._known_hosts)
        self._redact = Redactor(client_secret)
        self.retry_policy = RetryPolicy(
            max_retries=max_retries,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            retry_after_max=retry_after_max,
            budget=retry_budget,
        )
        self._counters = _Counters()
        self._transport = Transport(
            self.base_url,
            timeout=timeout,
            attempt_deadline=attempt_deadline,
            max_response_bytes=max_response_bytes,
            pool_size=pool_size,
            redact=self._redact,
        )
        self._tokens = TokenSource(
            self._transport,
            client_id,
            client_secret,
            redact=self._redact,
            retry_policy=self.retry_policy,
            advice=self._advice,
            on_token=on_token,
            on_request=lambda: self._counters.add(requests=1, token_requests=1),
            before_sleep=self._before_sleep("POST", TOKEN_PATH),
            refresh_margin=token_refresh_margin,
        )

    # -- construction ---------------------------------------------------------------------------------

    @classmethod
    def from_settings(
        cls, settings: SigmaSettings, *, known_hosts: Mapping[str, str] | None = None, **kwargs: Any
    ) -> SigmaClient:
        """Build a client from validated connection settings, probing the hosts when cloud is ``auto``.

        :param settings: the result of ``SigmaSettings.from_connection_fields``.
        :param known_hosts: cloud key → host map (default ``CLOUD_HOSTS``).
        :param kwargs: further ``SigmaClient`` keyword arguments.
        """
        common = dict(kwargs, allow_custom_host=settings.allow_custom_host, known_hosts=known_hosts)
        if settings.base_url is None:
            return cls.auto(settings.client_id, settings.client_secret, **common)
        return cls(
            settings.base_url, settings.client_id, settings.client_secret, cloud=settings.cloud, **common
        )

    @classmethod
    def auto(
        cls,
        client_id: str,
        client_secret: str,
        *,
        known_hosts: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> SigmaClient:
        """Try the token endpoint of every known host; return a client for the first that accepts.

        :param client_id: OAuth client id.
        :param client_secret: OAuth client secret.
        :param known_hosts: cloud key → host to try, in order (default ``CLOUD_HOSTS``).
        :param kwargs: further ``SigmaClient`` keyword arguments.
        """
        hosts = dict(CLOUD_HOSTS if known_hosts is None else known_hosts)
        for url in hosts.values():  # refuse before sending credentials anywhere
            check_host_allowed(normalize_base_url(url), bool(kwargs.get("allow_custom_host", False)))
        failures: list[str] = []
        for key, url in hosts.items():
            client = cls(url, client_id, client_secret, cloud=key, known_hosts=hosts, **kwargs)
            try:
                client._tokens.get()
            except (SigmaAuthError, SigmaAPIError) as exc:
                status = getattr(exc, "status", None)
                failures.append(f"{key} ({client.base_url}): {f'HTTP {status}' if status else 'no answer'}")
                client.close()
                continue
            log.info("Sigma cloud 'auto': %s (%s) accepted the credentials", key, client.base_url)
            return client
        raise SigmaAuthError(
            "Sigma cloud 'auto': no known API host accepted client id "
            f"{client_id!r}. Tried {'; '.join(failures)}. Check the client id and secret "
            "(Administration > Developer Access), or set the connection host explicitly.",
        )

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()

    def __enter__(self) -> SigmaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SigmaClient(base_url={self.base_url!r}, client_id={self.client_id!r}, cloud={self.cloud!r})"

    def redact(self, value: object) -> str:
        """``value`` as text with this client's secret and tokens blanked out, for messages.

        :param value: anything that may hold server-supplied text.
        """
        return self._redact(value)

    @property
    def stats(self) -> ClientStats:
        """Counters of requests, token requests, retries and re-authentications (thread-safe snapshot)."""
        return self._counters.snapshot()

    # -- typed API ------------------------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        """``GET /v2/whoami``: ``{"userId": ..., "organizationId": ...}`` of the credentials' owner."""
        return self.get("/v2/whoami")

    def list_workbooks(
        self,
        *,
        skip_permission_check: bool = False,
        exclude_explorations: bool = False,
        is_archived: bool | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[dict[str, Any]]:
        """Yield workbooks (``GET /v2/workbooks``).

        :param skip_permission_check: admins only: every workbook of the organisation, including other
            users' My Documents.
        :param exclude_explorations: with ``skip_permission_check``, leave out explorations.
        :param is_archived: ``True`` for archived workbooks, ``False`` for the others, ``None`` to not send
            the parameter (Sigma's default: non-archived).
        :param page_size: entries per request, 1..1000.
        """
        params: dict[str, Any] = {}
        if skip_permission_check:
            params["skipPermissionCheck"] = "true"
        if exclude_explorations:
            params["excludeExplorations"] = "true"
        if is_archived is not None:
            params["isArchived"] = _flag(is_archived)
        return self.paginate("/v2/workbooks", params, page_size=page_size)

    def get_workbook(self, workbook_id: str) -> dict[str, Any]:
        """``GET /v2/workbooks/{workbookId}``.

        :param workbook_id: the workbook UUID.
        """
        return self.get(f"/v2/workbooks/{_segment(workbook_id)}")

    def list_workbook_pages(
        self, workbook_id: str, *, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Yield the pages of a workbook (``GET /v2/workbooks/{workbookId}/pages``).

        :param workbook_id: the workbook UUID.
        :param page_size: entries per request, 1..1000.
        """
        return self.paginate(f"/v2/workbooks/{_segment(workbook_id)}/pages", page_size=page_size)

    def list_page_elements(
        self, workbook_id: str, page_id: str, *, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Yield the elements of a workbook page (``.../pages/{pageId}/elements``).

        :param workbook_id: the workbook UUID.
        :param page_id: the page id.
        :param page_size: entries per request, 1..1000.
        """
        path = f"/v2/workbooks/{_segment(workbook_id)}/pages/{_segment(page_id)}/elements"
        return self.paginate(path, page_size=page_size)

    def list_workspaces(self, *, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Yield workspaces (``GET /v2/workspaces``, always with ``limit`` to get the paginated shape).

        :param page_size: entries per request, 1..1000.
        """
        return self.paginate("/v2/workspaces", page_size=page_size)

    def list_members(
        self, *, include_archived: bool = True, include_inactive: bool = True, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Yield organisation members (``GET /v2/members``).

        :param include_archived: include archived members (owners of old workbooks often are).
        :param include_inactive: include inactive members.
        :param page_size: entries per request, 1..1000.
        """
        params = {"includeArchived": _flag(include_archived), "includeInactive": _flag(include_inactive)}
        return self.paginate("/v2/members", params, page_size=page_size)

    # -- generic --------------------------------------------------------------------------------------

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
        scheme: Scheme = "page",
    ) -> Iterator[dict[str, Any]]:
        """Yield every entry of any list endpoint (see :mod:`airflow_sigma.api.pagination`).

        :param path: API path, e.g. ``/v2/workbooks``.
        :param params: extra query parameters.
        :param page_size: entries per request, 1..1000 (sent as ``limit``, or ``pageSize`` for scheme token).
        :param scheme: ``"page"`` (limit/page/nextPage) or ``"token"`` (pageSize/pageToken/nextPageToken).
        """
        path = _normalize_path(path)
        return iter_entries(
            lambda query: self.get(path, query), path, params, page_size=page_size, scheme=scheme
        )

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET an API path and return its parsed JSON; retries transient failures, re-authenticates once.

        The whole call (token request, attempts, waits, the replay after a 401) ends within the retry
        budget.

        :param path: API path, e.g. ``/v2/whoami``.
        :param params: query parameters.
        """
        path = _normalize_path(path)
        until = self.retry_policy.deadline()
        token = self._tokens.get(until=until)
        response = self._get_with_retries(path, params, token, until)
        if response.status_code == 401:
            self._counters.add(reauthentications=1)
            log.info("Sigma API GET %s answered 401: requesting a new token and retrying once", path)
            token = self._tokens.get(stale=token, until=until)
            response = self._get_with_retries(path, params, token, until)
        if not 200 <= response.status_code < 300:
            raise self._api_error(response, path, params)
        try:
            return response.json()
        except ValueError:
            content_type = self._redact(response.headers.get("Content-Type")) or "no content type"
            raise SigmaAPIError(
                f"Sigma API GET {path} at {self.base_url} answered HTTP {response.status_code} "
                f"with a body that is not JSON ({content_type}).",
                status=response.status_code,
                path=path,
            ) from None

    # -- internals ------------------------------------------------------------------------------------

    def _get_with_retries(
        self, path: str, params: Mapping[str, Any] | None, token: str, until: float
    ) -> Reply:
        headers = {"Authorization": f"Bearer {token}"}
        attempts = 0

        def attempt() -> Reply:
            nonlocal attempts
            attempts += 1
            self._counters.add(requests=1)
            response = self._transport.send("GET", path, params=params, headers=headers, until=until)
            log.debug("Sigma API GET %s -> HTTP %s", path, response.status_code)
            if response.status_code in RETRY_STATUSES:
                raise TransientStatus(response)
            return response

        try:
            return self.retry_policy.retrying(is_transient, self._before_sleep("GET", path), until=until)(
                attempt
            )
        except TransientStatus as exc:
            return exc.response
        except CONNECTION_ERRORS as exc:
            raise SigmaConnectionError(
                f"Sigma API GET {path} at {self.base_url} got no response after {attempts} "
                f"attempt{'s' if attempts > 1 else ''} ({no_answer(exc)}). {self._advice.unreachable(exc)}",
                path=path,
            ) from None

    def _before_sleep(self, method: str, path: str) -> Callable[[RetryCallState], None]:
        def before_sleep(retry_state: RetryCallState) -> None:
            self._counters.add(retries=1)
            wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
            log.warning(
                "Sigma API %s %s: %s; retry %d/%d in %.2fs",
                method,
                path,
                describe_outcome(retry_state),
                retry_state.attempt_number,
                self.retry_policy.max_retries,
                wait,
            )

        return before_sleep

    def _api_error(
        self, response: Reply, path: str, params: Mapping[str, Any] | None = None
    ) -> SigmaAPIError:
        status = response.status_code
        code, message, request_id = _error_fields(response, self._redact)
        text = f"Sigma API GET {path} failed with HTTP {status}"
        if code:
            text += f" ({code})"
        if message:
            text += f": {message}"
        text += f" [host {self.base_url}" + (f", request id {request_id}]" if request_id else "]")
        if status == 401:
            text += f". A freshly issued token was rejected too. {self._advice.rejected()}"
        elif status == 403:
            text += f". {forbidden_hint(path, params)}"
        return SigmaAPIError(text, status=status, path=path, code=code, request_id=request_id)


def _error_fields(response: Reply, redact: Redactor) -> tuple[str | None, str | None, str | None]:
    """``code``, ``message`` and request id of an error answer, each redacted (any may echo secrets)."""
    body = response.json_or_none()
    body = body if isinstance(body, dict) else {}
    request_id = body.get("requestId") or response.headers.get("x-request-id")

    def clean(value: object) -> str | None:
        return redact(value) or None

    return clean(body.get("code")), clean(body.get("message")), clean(request_id)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _segment(value: str) -> str:
    if not value:
        raise SigmaError("An empty id cannot be used in a Sigma API path.")
    return quote(str(value), safe="")


def _normalize_path(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"
