"""Headless Chromium for the report tests: the page's DOM after its scripts ran, its console
messages, and a screenshot.

Chromium is the Debian package (``.ci/run`` installs it when missing). It starts with the flags
a closed network needs (no background connections) and a fresh profile each time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]  # fmt: skip
_CONSOLE = re.compile(r":CONSOLE(?::\d+)?\] (.*)$")


@dataclass(frozen=True)
class Page:
    dom: str
    console: list[str]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("headless Chromium is needed: apt-get install chromium chromium-driver")
    return found


def _run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
         *extra, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def open_page(page: Path, profile: Path) -> Page:
    """The DOM after the page's scripts ran, and every console message they logged."""
    done = _run(page, profile, "--dump-dom", "--virtual-time-budget=5000")
    console = [m[1] for line in done.stderr.splitlines() if (m := _CONSOLE.search(line))]
    return Page(done.stdout, console)


def screenshot(page: Path, profile: Path, out: Path, size: str = "1200,2600") -> None:
    """A PNG of the page at ``size`` (width,height) pixels."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(page, profile, f"--screenshot={out}", f"--window-size={size}",
         "--virtual-time-budget=5000")  # fmt: skip
    if not out.is_file():
        raise RuntimeError(f"Chromium wrote no screenshot to {out}")
