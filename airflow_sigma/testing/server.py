"""A local, Sigma-compatible HTTP API server on 127.0.0.1, for tests, demos and benchmarks.

In a test::

    with SigmaTestServer(OrgSpec(workbooks=100)) as server:
        client = server.client()
        assert len(list(client.list_workbooks())) == len(server.org.visible_workbooks(admin=True))

As a process (``make demo``, ``airflow dags test`` in another process)::

    python -m airflow_sigma.testing.server --workbooks 300

It listens on a free port (``--port`` to choose one), prints its URL and a ready ``sigma_default``
connection (``export AIRFLOW_CONN_SIGMA_DEFAULT=...`` as JSON and as a URI) once it listens, and runs
until SIGTERM/SIGINT. ``--info-file`` writes the same as JSON for scripts.
Each request runs in its own daemon thread (``ThreadingHTTPServer``), so concurrency and latency are real.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import shlex
import signal
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

from airflow_sigma.testing.app import (
    DROP,
    RecordedRequest,
    Request,
    Response,
    ServerOptions,
    ServerStats,
    SigmaApp,
)
from airflow_sigma.testing.org import Org, OrgSpec

if TYPE_CHECKING:
    from airflow_sigma.api.client import SigmaClient

HOST = "127.0.0.1"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], app: SigmaApp) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout, a test that has its answer) is routine, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request stderr line."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(
            method=method,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        result = self.server.app.handle(request)
        if result is DROP or not isinstance(result, Response):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = json.dumps(result.body).encode()
        self.send_response(result.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in result.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not result.truncated:
            self.wfile.write(payload)
            return
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class SigmaTestServer:
    """A Sigma API host for one generated organisation, serving on ``127.0.0.1`` in a background thread.

    :param org: an :class:`Org`, or an :class:`OrgSpec` to generate one (default ``OrgSpec()``).
    :param port: TCP port; 0 picks a free one.
    :param client_id: the only accepted client id (default: random, so credentials work on this server only).
    :param client_secret: its secret (default: random).
    :param fault_seed: seeds random fault injection.
    :param options: keyword arguments for :class:`ServerOptions` (``admin``, ``latency``, ``error_rate``...).
    """

    def __init__(
        self,
        org: Org | OrgSpec | None = None,
        *,
        port: int = 0,
        client_id: str | None = None,
        client_secret: str | None = None,
        fault_seed: int = 0,
        **options: Any,
    ) -> None:
        self.org = org if isinstance(org, Org) else Org.generate(org)
        self.client_id = client_id or f"test-client-{secrets.token_hex(6)}"
        self.client_secret = client_secret or f"test-secret-{secrets.token_urlsafe(18)}"
        self.options = ServerOptions(**options)
        self._app = SigmaApp(
            self.org, self.client_id, self.client_secret, self.options, fault_seed=fault_seed
        )
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> SigmaTestServer:
        """Bind ``127.0.0.1`` and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer((HOST, self._port), self._app)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sigma-test-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        with httpd.connections_lock:
            open_connections = list(httpd.connections)
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SigmaTestServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("SigmaTestServer is not running: call start() or use it as a context manager")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{HOST}:{self.port}"

    # -- observation ----------------------------------------------------------------------------------

    @property
    def stats(self) -> ServerStats:
        """Counters: requests per endpoint, token requests, statuses, peak concurrent requests."""
        return self._app.stats()

    def reset_stats(self) -> None:
        """Zero every counter and forget the request log."""
        self._app.reset_stats()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Recent requests (method, path, endpoint template, query, status), oldest first."""
        return self._app.requests()

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token issued so far, expired ones included (to assert they never leak)."""
        return self._app.issued_tokens()

    # -- faults ---------------------------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change :class:`ServerOptions` at runtime, refusing unknown names.

        :param changes: option names and their new values.
        """
        known = {f.name for f in fields(ServerOptions)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"Unknown SigmaTestServer options {unknown}; known: {sorted(known)}")
        for name, value in changes.items():
            setattr(self.options, name, value)

    def fail_next(
        self, count: int, status: int = 503, *, path: str = "*", retry_after: str | None = None
    ) -> None:
        """Answer the next ``count`` requests matching ``path`` (a glob) with ``status`` (a burst).

        :param count: how many requests fail.
        :param status: the HTTP status, e.g. 429, 502, 503, 504.
        :param path: glob on the request path, e.g. ``/v2/workbooks`` or ``/v2/workbooks/*/pages``.
        :param retry_after: ``Retry-After`` sent with a 429 (default: ``options.retry_after``).
        """
        self._app.add_fault(path, status, count, retry_after)

    def drop_next(self, count: int, *, path: str = "*") -> None:
        """Close the connection of the next ``count`` requests matching ``path`` without answering.

        :param count: how many requests are dropped.
        :param path: glob on the request path.
        """
        self._app.add_fault(path, None, count)

    def truncate_next(self, count: int, *, path: str = "*") -> None:
        """Answer the next ``count`` requests matching ``path`` with half their body, then close.

        :param count: how many answers are cut off.
        :param path: glob on the request path.
        """
        self._app.add_fault(path, None, count, truncate=True)

    def fail_path(self, path: str, status: int = 500, *, message: str | None = None) -> None:
        """Answer every request matching ``path`` (a glob) with ``status`` until :meth:`clear_faults`.

        :param path: glob on the request path, e.g. ``/v2/workbooks`` or ``/v2/workbooks/<id>/pages``.
        :param status: the HTTP status.
        :param message: the error body's ``message``.
        """
        self._app.add_fault(path, status, None, message=message)

    def clear_faults(self) -> None:
        """Remove every burst and persistent failure (random rates stay in ``options``)."""
        self._app.clear_faults()

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far (the next API call answers 401)."""
        self._app.expire_tokens()

    # -- helpers for clients ----------------------------------------------------------------------------

    def client(self, **kwargs: Any) -> SigmaClient:
        """A :class:`~airflow_sigma.api.client.SigmaClient` for this server (``allow_custom_host`` set).

        :param kwargs: further ``SigmaClient`` keyword arguments.
        """
        from airflow_sigma.api.client import SigmaClient

        return SigmaClient(self.url, self.client_id, self.client_secret, allow_custom_host=True, **kwargs)

    def connection_json(self, *, extra: Mapping[str, Any] | None = None) -> str:
        """An ``AIRFLOW_CONN_<ID>`` value in JSON form pointing at this server.

        :param extra: extra fields merged over ``{"allow_custom_host": true}``.
        """
        return json.dumps(
            {
                "conn_type": "sigma",
                "host": self.url,
                "login": self.client_id,
                "password": self.client_secret,
                "extra": {"allow_custom_host": True, **(extra or {})},
            }
        )

    def connection_uri(self) -> str:
        """An ``AIRFLOW_CONN_<ID>`` value in URI form pointing at this server."""
        login, password = quote(self.client_id, safe=""), quote(self.client_secret, safe="")
        return f"sigma://http://{login}:{password}@{HOST}:{self.port}/?allow_custom_host=true"


def main(argv: Sequence[str] | None = None) -> int:
    """Run a server until SIGTERM or SIGINT (``python -m airflow_sigma.testing.server --help``)."""
    parser = argparse.ArgumentParser(description="Local Sigma-compatible API server (binds 127.0.0.1).")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0: any free port)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workbooks", type=int, default=OrgSpec.workbooks)
    parser.add_argument("--pages-per-workbook", type=int, default=OrgSpec.pages_per_workbook)
    parser.add_argument("--elements-per-page", type=int, default=OrgSpec.elements_per_page)
    parser.add_argument("--members", type=int, default=OrgSpec.members)
    parser.add_argument("--workspaces", type=int, default=OrgSpec.workspaces)
    parser.add_argument("--client-id", default=None, help="default: random")
    parser.add_argument("--client-secret", default=None, help="default: random")
    parser.add_argument("--non-admin", action="store_true", help="the caller is not an admin")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of GETs answering 429/5xx")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="share of GETs whose connection drops")
    parser.add_argument("--truncate-rate", type=float, default=0.0, help="share of GETs cut off mid-body")
    parser.add_argument("--retry-after", default="1", help="Retry-After sent with 429s")
    parser.add_argument("--token-lifetime", type=float, default=3600.0)
    parser.add_argument(
        "--info-file", default=None, help="write the url, credentials and connection here as JSON"
    )
    args = parser.parse_args(argv)

    spec = OrgSpec(
        seed=args.seed,
        workbooks=args.workbooks,
        pages_per_workbook=args.pages_per_workbook,
        elements_per_page=args.elements_per_page,
        members=args.members,
        workspaces=args.workspaces,
    )
    server = SigmaTestServer(
        spec,
        port=args.port,
        client_id=args.client_id,
        client_secret=args.client_secret,
        admin=not args.non_admin,
        latency=args.latency,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        truncate_rate=args.truncate_rate,
        retry_after=args.retry_after,
        token_lifetime=args.token_lifetime,
    )
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    with server:
        info = {
            "url": server.url,
            "client_id": server.client_id,
            "client_secret": server.client_secret,
            "connection_json": server.connection_json(),
            "connection_uri": server.connection_uri(),
        }
        if args.info_file:
            with open(args.info_file, "w", encoding="utf-8") as handle:
                json.dump(info, handle)
        print(ready_message(server), flush=True)
        while not stopped.wait(0.5):
            pass
    return 0


def ready_message(server: SigmaTestServer) -> str:
    """What the process prints once it listens: the URL, then the connection as JSON and as a URI."""
    admin = "admin" if server.options.admin else "non-admin"
    return (
        f"Local Sigma API server on {server.url}: {len(server.org.workbooks)} workbooks, {admin} caller. "
        "Ctrl-C stops it.\n"
        "Its connection, as JSON or as a URI (either line, in the shell that runs Airflow):\n"
        f"export AIRFLOW_CONN_SIGMA_DEFAULT={shlex.quote(server.connection_json())}\n"
        f"export AIRFLOW_CONN_SIGMA_DEFAULT={shlex.quote(server.connection_uri())}"
    )


if __name__ == "__main__":
    sys.exit(main())
