"""A recording webhook receiver for tests, in-process or as its own process (stdlib only).

In-process::

    with RecordingServer(fail_first=2) as server:
        ...post to server.url...
        server.requests      # [(idempotency_key, json_body), ...] in arrival order
        server.unique_keys()

As a process (it outlives a sender that is SIGKILLed and restarted)::

    python tests/helpers/webhook_server.py --port-file PATH --log PATH [--fail-first N]

writes its port to PATH (atomically) once listening, and appends every received request as one
JSON line ``{"key": ..., "body": ..., "status": ...}`` to the log, with flush and fsync, before
answering. Stop it with SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a slow handler (timeout tests) never blocks shutdown
    block_on_close = False


class RecordingServer:
    """Answers POSTs and records them; failures are injected by arrival order.

    ``fail_first``: the first N requests get 503. ``status``: the answer to the others.
    ``status_by_key``: the answer to every request with that idempotency key (before both).
    ``delay_first`` requests are answered after ``delay_seconds`` (timeout tests).
    ``headers``: extra response headers (e.g. ``{"Retry-After": "3"}``).
    ``log``: a file to append every request to as a JSON line (fsynced before answering).
    """

    def __init__(
        self,
        *,
        fail_first: int = 0,
        status: int = 200,
        delay_first: int = 0,
        delay_seconds: float = 0.0,
        headers: dict[str, str] | None = None,
        log: Path | None = None,
        port: int = 0,
        status_by_key: dict[str, int] | None = None,
    ) -> None:
        self.fail_first, self.status = fail_first, status
        self.status_by_key = status_by_key or {}
        self.delay_first, self.delay_seconds = delay_first, delay_seconds
        self.headers = headers or {}
        self.log = log
        self.requests: list[tuple[str | None, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", port), self._handler())

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def unique_keys(self) -> set[str | None]:
        with self._lock:
            return {key for key, _ in self.requests}

    def __enter__(self) -> RecordingServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (process mode)."""
        self._httpd.serve_forever(poll_interval=0.05)  # a quick shutdown

    def stop(self) -> None:
        self._httpd.shutdown()

    def _record(self, key: str | None, body: Any, headers: dict[str, str]) -> tuple[int, float]:
        """Record one request; the status to answer and the delay before answering."""
        with self._lock:
            n = len(self.requests)
            status = 503 if n < self.fail_first else self.status
            status = self.status_by_key.get(key or "", status)
            self.requests.append((key, body))
            self.request_headers.append(headers)
            if self.log is not None:
                with open(self.log, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"key": key, "body": body, "status": status}) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
        return status, self.delay_seconds if n < self.delay_first else 0.0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body: Any = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                status, delay = server._record(
                    self.headers.get("Idempotency-Key"), body, dict(self.headers.items())
                )
                time.sleep(delay)
                answer = b'{"ok": true}' if status < 400 else b'{"ok": false}'
                try:
                    self.send_response(status)
                    for name, value in server.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    server = RecordingServer(
        fail_first=args.fail_first,
        status=args.status,
        log=args.log,
        port=args.port,
        delay_first=1 << 62 if args.delay else 0,
        delay_seconds=args.delay,
    )

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.stop).start()  # shutdown() must not run in serve's thread

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = args.port_file.with_name(args.port_file.name + ".tmp")
    tmp.write_text(str(server.port))
    os.replace(tmp, args.port_file)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
