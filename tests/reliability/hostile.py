"""A hostile Sigma-like HTTP server on 127.0.0.1: each test decides how every endpoint misbehaves.

Routes map ``"METHOD /path"`` to a function that writes the whole answer through the request handler
(status line, headers, body), so a route can redirect, drip bytes, stream an endless body or echo what
the client sent. Every request is recorded, so a test can assert that a host received nothing.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow_sigma.testing.app import Request

Route = Callable[["StubHandler"], None]
TOKEN_PATH = "/v2/auth/token"


class Seen(Request):
    """A request as the stub received it; ``form`` is its parsed form body."""

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


class StubHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        self.seen = Seen(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self.rfile.read(int(self.headers.get("Content-Length") or 0)),
        )
        with self.server.lock:
            self.server.seen.append(self.seen)
        route = self.server.routes.get(f"{self.command} {parts.path}") or self.server.routes.get("*")
        try:
            if route is None:
                send_json(self, 404, {"code": "not_found", "message": "no such route"})
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self.routes = dict(routes)
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), StubHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up mid-answer is what these tests provoke: no traceback."""


class StubServer:
    """Serve ``routes`` on 127.0.0.1 in a daemon thread (a context manager).

    :param routes: ``"POST /v2/auth/token"``-style keys (or ``"*"``) to route functions.
    """

    def __init__(self, routes: Mapping[str, Route]) -> None:
        self._httpd = _Server(routes)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def seen(self) -> list[Seen]:
        with self._httpd.lock:
            return list(self._httpd.seen)

    def count(self, method: str, path: str) -> int:
        return sum(1 for seen in self.seen if (seen.method, seen.path) == (method, path))


def send_json(handler: StubHandler, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(payload)


def issue_token(token: str | Any | None = None, expires_in: Any = 3600) -> Route:
    """A token endpoint that answers every request with ``token`` (default: a fresh random one)."""

    def route(handler: StubHandler) -> None:
        value = token if token is not None else f"tok-{secrets.token_urlsafe(24)}"
        send_json(handler, 200, {"access_token": value, "token_type": "bearer", "expires_in": expires_in})

    return route


def redirect(status: int, location: str) -> Route:
    def route(handler: StubHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def drip(*, every: float, limit: int = 60, in_headers: bool = False) -> Route:
    """Answer a byte every ``every`` seconds (``limit`` bytes at most), in the headers or the body."""

    def route(handler: StubHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        if not in_headers:
            handler.wfile.write(f"Content-Type: application/json\r\nContent-Length: {limit}\r\n\r\n".encode())
        handler.wfile.flush()
        byte = b"X" if in_headers else b" "
        for _ in range(limit):
            time.sleep(every)
            handler.wfile.write(byte)
            handler.wfile.flush()
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    return route


def stream(total: int, *, declare_length: bool) -> Route:
    """A 200 body of ``total`` bytes of spaces, with a Content-Length or chunked."""

    def route(handler: StubHandler) -> None:
        chunk = b" " * 65536
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if declare_length:
            handler.send_header("Content-Length", str(total))
        else:
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        sent = 0
        while sent < total:
            if declare_length:
                handler.wfile.write(chunk)
            else:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        if not declare_length:
            handler.wfile.write(b"0\r\n\r\n")

    return route
