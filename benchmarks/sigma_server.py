"""The local Sigma server in a process of its own, so its request handling does not share the
benchmark's GIL; driven over stdin/stdout with one JSON line per command.

``python -m benchmarks.sigma_server --spec '{"workbooks": 1000}' --latency 0.02`` prints
``{"url": ..., "client_id": ..., "client_secret": ...}`` once it listens (127.0.0.1), then answers
each line read from stdin: ``stats`` (the server's counters as JSON) or ``reset`` (zero them). It
stops at the end of stdin, so it never outlives the benchmark that started it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import IO, Any

from airflow_sigma.testing.org import OrgSpec
from airflow_sigma.testing.server import SigmaTestServer

START_TIMEOUT_SECONDS = 120


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", type=json.loads, default={}, help="OrgSpec fields as a JSON object")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    args = parser.parse_args(argv)
    with SigmaTestServer(OrgSpec(**args.spec), latency=args.latency) as server:
        _reply({"url": server.url, "client_id": server.client_id, "client_secret": server.client_secret})
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                _reply(asdict(server.stats))
            elif command == "reset":
                server.reset_stats()
                _reply({"reset": True})
            else:
                _reply({"error": f"unknown command {command!r}; expected stats or reset"})
    return 0


def _reply(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


class ServerProcess:
    """Start :func:`main` in a child process; ``stats()`` and ``reset()`` talk to it.

    :param spec: the organisation the server generates (passed on its command line as JSON).
    :param latency: seconds the server waits before answering each request.
    """

    def __init__(self, spec: OrgSpec, latency: float) -> None:
        command = [sys.executable, "-m", "benchmarks.sigma_server", "--spec", json.dumps(asdict(spec))]
        command += ["--latency", str(latency)]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._read()

    def _send(self, command: str) -> dict[str, Any]:
        stdin = self._stdin
        stdin.write(command + "\n")
        stdin.flush()
        return self._read()

    @property
    def _stdin(self) -> IO[str]:
        assert self._process.stdin is not None
        return self._process.stdin

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait(timeout=START_TIMEOUT_SECONDS)
            raise RuntimeError(f"benchmarks.sigma_server exited (code {code}) without answering")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def stats(self) -> dict[str, Any]:
        """The server's counters (``ServerStats`` as a dict)."""
        return self._send("stats")

    def reset(self) -> None:
        """Zero the server's counters."""
        self._send("reset")

    def close(self) -> None:
        """Close stdin (the server stops) and wait for the process."""
        if self._process.poll() is None:
            self._stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


if __name__ == "__main__":
    sys.exit(main())
