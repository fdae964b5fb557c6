"""`reconnect serve` in a subprocess for the tests: start it on a settings file, wait until it
says where it listens, stop it with SIGINT."""

from __future__ import annotations

import contextlib
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

RECONNECT = str(Path(sys.executable).parent / "reconnect")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lines_of(stream) -> queue.Queue[str | None]:
    """The lines of a process's output as they come (None at its end), read by a thread."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


@contextlib.contextmanager
def served(conf: Path, cwd: Path) -> Iterator[int]:
    """The port of a `reconnect serve` over ``conf``'s lake, once it listens; stopped after."""
    port = free_port()
    server = subprocess.Popen(
        [RECONNECT, "serve", "--conf", str(conf), "--port", str(port)],
        cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        first = lines_of(server.stdout).get(timeout=180)
        assert first is not None and f":{port}/default" in first, first
        yield port
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
