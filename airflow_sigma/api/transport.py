"""The one place HTTP requests to a Sigma host are sent: no redirects, a deadline, a size limit.

Every token request and API call goes through :meth:`Transport.send`, which

* never follows a redirect: a 3xx fails with "Sigma answered HTTP 307 redirect to <host>; not followed"
  (credentials and tokens go to the configured host only, and another host's JSON is never taken as
  Sigma's answer);
* gives each attempt a wall-clock deadline: a watchdog thread shuts the attempt's socket down when it
  passes, so a server dripping a byte at a time (in the headers or the body) cannot hold the call;
  ``requests``' own ``timeout`` only bounds each single read;
* streams the body and stops at ``max_response_bytes``;
* parses JSON without letting deep nesting escape as a ``RecursionError``.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

from airflow_sigma import __version__
from airflow_sigma.api.errors import SigmaResponseError

MiB = 1024 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 64 * MiB
DEFAULT_ATTEMPT_DEADLINE = 60.0
_CHUNK = 256 * 1024


class AttemptTimeout(requests.exceptions.Timeout):
    """An attempt had no complete answer by its wall-clock deadline (retried like any timeout)."""


class Reply:
    """A fully read response: status, headers and at most ``max_response_bytes`` of body.

    :param status_code: the HTTP status.
    :param headers: the response headers (case-insensitive mapping).
    :param content: the body.
    :param path: the API path that was called.
    :param where: "Sigma API GET /v2/x at https://host", for error messages.
    """

    def __init__(
        self, status_code: int, headers: Mapping[str, str], content: bytes, path: str, where: str
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.path = path
        self.where = where

    def json(self) -> Any:
        """The parsed body: ``ValueError`` if it is not JSON, ``SigmaResponseError`` if nested too deeply."""
        try:
            return json.loads(self.content)
        except RecursionError:
            raise SigmaResponseError(
                f"{self.where} answered HTTP {self.status_code} with JSON nested too deeply to parse; "
                "this is not a Sigma API answer.",
                status=self.status_code,
                path=self.path,
            ) from None

    def json_or_none(self) -> Any:
        """The parsed body, or ``None`` when it is not JSON or cannot be parsed (for error bodies)."""
        try:
            return self.json()
        except (ValueError, SigmaResponseError):
            return None


class Transport:
    """Sends requests to one Sigma base URL over a pooled, thread-safe ``requests`` session.

    :param base_url: the API base URL (scheme, host, port).
    :param timeout: seconds for connecting and for each read.
    :param attempt_deadline: wall-clock seconds one attempt (request and whole body) may take.
    :param max_response_bytes: largest body accepted.
    :param pool_size: connections kept per host.
    :param redact: blanks credentials out of server-supplied text (a redirect target).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        attempt_deadline: float = DEFAULT_ATTEMPT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        pool_size: int = 16,
        redact: Callable[[object], str] = str,
    ) -> None:
        if attempt_deadline <= 0:
            raise ValueError(f"attempt_deadline must be positive, got {attempt_deadline!r}")
        if max_response_bytes <= 0:
            raise ValueError(f"max_response_bytes must be positive, got {max_response_bytes!r}")
        self.base_url = base_url
        self.timeout = timeout
        self.attempt_deadline = attempt_deadline
        self.max_response_bytes = max_response_bytes
        self._redact = redact
        self._session = requests.Session()
        adapter = _WatchedAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(
            {"Accept": "application/json", "User-Agent": f"airflow-provider-sigma/{__version__}"}
        )

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        until: float,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One attempt: send the request and read the whole answer, within the attempt's deadline.

        :param method: ``GET`` or ``POST``.
        :param path: the API path, e.g. ``/v2/whoami``.
        :param until: ``time.monotonic()`` value by which the whole call must end (the retry budget);
            the attempt ends at the earlier of it and ``attempt_deadline`` from now.
        :param params: query parameters.
        :param data: a form body.
        :param headers: extra request headers.
        """
        where = f"Sigma API {method} {path} at {self.base_url}"
        own = time.monotonic() + self.attempt_deadline
        attempt = _Attempt(min(own, until))
        why = (
            f"no complete answer within the {self.attempt_deadline:g} s attempt deadline"
            if own <= until
            else "no complete answer before the call's retry budget ran out"
        )
        _current.attempt = attempt
        _WATCHDOG.watch(attempt)
        try:
            response = self._session.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
            with contextlib.closing(response):
                if 300 <= response.status_code < 400:
                    raise self._redirect_error(response, path, where)
                content = self._read_body(response, path, where)
        except SigmaResponseError:
            raise
        except Exception:
            if attempt.expired:  # the watchdog shut the socket: whatever broke, the deadline did it
                raise AttemptTimeout(why) from None
            raise
        finally:
            attempt.finish()
            _current.attempt = None
        if attempt.expired:  # a body delimited by the connection's end reads "complete" when shut down
            raise AttemptTimeout(why)
        return Reply(response.status_code, response.headers, content, path, where)

    def _read_body(self, response: requests.Response, path: str, where: str) -> bytes:
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large(response, path, where)
        body = bytearray()
        for chunk in response.iter_content(_CHUNK):
            body += chunk
            if len(body) > limit:
                raise self._too_large(response, path, where)
        return bytes(body)

    def _too_large(self, response: requests.Response, path: str, where: str) -> SigmaResponseError:
        limit = self.max_response_bytes
        size = f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit} bytes"
        return SigmaResponseError(
            f"{where} answered HTTP {response.status_code} with a body larger than the {size} response "
            "limit (max_response_bytes); stopped reading.",
            status=response.status_code,
            path=path,
        )

    def _redirect_error(self, response: requests.Response, path: str, where: str) -> SigmaResponseError:
        status = response.status_code
        location = response.headers.get("Location")
        target = (
            "a location it did not name" if not location else self._redact(_host_of(response.url, location))
        )
        return SigmaResponseError(
            f"{where}: Sigma answered HTTP {status} redirect to {target}; not followed. Credentials and "
            "tokens are only sent to the configured host: set the connection host to the API base URL "
            "itself (Administration > Developer Access).",
            status=status,
            path=path,
        )


def no_answer(exc: BaseException) -> str:
    """Why an attempt got no usable answer, in words that never quote a URL, a header or a body.

    :param exc: what the attempt raised (a ``requests`` exception or :class:`AttemptTimeout`).
    """
    if isinstance(exc, AttemptTimeout):
        return str(exc)
    return f"{type(exc).__name__}: no answer from the host"


def _host_of(url: str, location: str) -> str:
    parts = urlsplit(urljoin(url, location))
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or "an unnamed host"
    return f"{host}:{port}" if port is not None else host


# -- the attempt deadline -----------------------------------------------------------------------------


class _Attempt:
    """The sockets one attempt uses, shut down by the watchdog if the attempt outlives its deadline."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.finished = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if not self.finished:
                self._sockets.append(sock)
            expired = self.expired and not self.finished
        if expired:
            _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def finish(self) -> None:
        with self._lock:
            self.finished = True
            self._sockets.clear()


def _shut(sock: socket.socket) -> None:
    # socket.socket.shutdown on an SSLSocket too: unblocks a reader in another thread without touching
    # the TLS object it is using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread expiring attempts at their deadlines (a heap; finished attempts are skipped).

    A forked child starts afresh (new lock, no inherited attempts): the parent's thread does not exist
    there, and its lock may have been held at the moment of the fork.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Attempt]] = []
        self._order = itertools.count()
        self._started = False

    def watch(self, attempt: _Attempt) -> None:
        with self._cond:
            if not self._started:
                self._started = True
                threading.Thread(target=self._run, name="sigma-attempt-deadlines", daemon=True).start()
            heapq.heappush(self._heap, (attempt.deadline, next(self._order), attempt))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2].finished:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._cond.wait()
                        continue
                    delay = self._heap[0][0] - time.monotonic()
                    if delay <= 0:
                        attempt = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(delay)
            attempt.expire()


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG._reset)
_current = threading.local()


def _watch(sock: socket.socket | None) -> None:
    attempt: _Attempt | None = getattr(_current, "attempt", None)
    if attempt is not None:
        attempt.add(sock)


class _WatchedHTTPConnection(HTTPConnection):
    """Registers its socket with the current thread's attempt, on connect and on each reuse."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)  # the plain socket: covers the TLS handshake
        return sock

    def connect(self) -> None:
        super().connect()
        _watch(self.sock)  # the TLS socket

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose pools (direct or through a proxy) use the watched connection classes."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _use_watched_pools(self.poolmanager)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> PoolManager:
        manager = super().proxy_manager_for(*args, **kwargs)
        _use_watched_pools(manager)
        return manager


def _use_watched_pools(manager: PoolManager) -> None:
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
