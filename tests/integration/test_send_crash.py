"""Crash test (R-SEND-1, R-SEND-3): the sender killed with SIGKILL at random moments.

A lake is prepared up to detection (several detection batches, so the sender works in several
micro-batches). A copy of it is sent without interruption; the original is sent by `reconnect
send` processes killed with SIGKILL, again and again, while they write their tables and while
they deliver to a local webhook server on 127.0.0.1 (a separate process that logs every request
durably before answering, and lives on through the kills). Kills alternate between three
moments: right after a new commit of a sending table, in the middle of delivering, and at a
random time after the start (often while it starts up); once the server holds every message,
only the random moment is left. Then one last run goes to the end.

Afterwards, deduplicating by the idempotency key (as real providers do), the server holds every
SENT message exactly once and nothing else, and the messages table equals the uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from tests.helpers.paths import REPO_ROOT

from helpers.lake import separate_lake
from helpers.scenario import Scenario, campaign, run_pipeline
from helpers.webhook_server import RecordingServer
from reconnect.lake.tables import GOLD_MESSAGES
from reconnect.send.pipeline import run_send
from reconnect.settings import ProviderSettings
from reconnect.vocabulary import CHANNELS

pytestmark = pytest.mark.spark

# Each kill costs the start of a cold `reconnect send` process. The suite kills 12 times (every
# moment kind several times over); RECONNECT_CRASH_KILLS=50 makes a longer hunt.
KILLS = int(os.environ.get("RECONNECT_CRASH_KILLS", "12"))
USERS = 30
CART = {"id": "cart", "name": "Cart", "type": "cart_abandonment", "wait": "1h",
        "dont_send_if": ["purchase"], "channels": ["email", "web_push"],
        "steps": [{"name": "first"}, {"name": "second", "wait": "1h"}]}  # fmt: skip
SENDING_LOGS = (
    "gold/messages",
    "gold/deliveries",
    "silver/send_progress",
    "silver/delivery_progress",
)


def _events(batch: int) -> list[dict]:
    """Ten users carting in hour ``batch``; every other one with a web push token only."""
    rows = []
    for i in range(batch * 10, batch * 10 + 10):
        at = f"2026-01-05T{8 + batch:02d}:{i % 10 * 5:02d}:00Z"
        if i % 2:
            token = {"channel": "web_push", "address": f"tok{i}"}
            rows.append({"event_id": f"o{i}", "event_time": at, "user_id": f"u{i}",
                         "event_type": "opt_in", **token})  # fmt: skip
        cuid = {"cuid": f"c{i}"} if i % 2 == 0 else {}
        rows.append({"event_id": f"a{i}", "event_time": at, "user_id": f"u{i}",
                     "event_type": "add_to_cart", "product_id": "P1", **cuid})  # fmt: skip
    # The tick moves the watermark to the next file's hour (minus the lateness), the last one far
    # enough for every step to be due.
    tick = f"2026-01-05T{8 + batch + (1 if batch < USERS // 10 - 1 else 4):02d}:00:00Z"
    rows.append({"event_id": f"t{batch}", "event_time": tick, "user_id": "tick",
                 "event_type": "page_view"})  # fmt: skip
    return rows


def _messages(spark, settings) -> list[tuple]:
    df = spark.read.format("delta").load(GOLD_MESSAGES.location(settings))
    return sorted(tuple(r) for r in df.collect())


def _commits(lakehouse: Path) -> int:
    return sum(len(list((lakehouse / t / "_delta_log").glob("*.json"))) for t in SENDING_LOGS)


def _lines(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _keys(log: Path) -> set[str]:
    """The idempotency keys the server has logged (complete lines only)."""
    lines = log.read_text().split("\n")[:-1] if log.exists() else []
    return {json.loads(line)["key"] for line in lines}


def _wait_for(proc: subprocess.Popen, ready, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(0.02)
    return False


def _conf(lake, campaigns: Path, url: str, path: Path) -> Path:
    """A configuration file for `reconnect send` on ``lake``, delivering to the webhook at ``url``.

    The driver JVM compiles with C1 only (``TieredStopAtLevel=1``): these processes are short and
    small, and most of their time is start-up, which compiling less shortens (~15 % of a start on
    an empty lake). A speed setting of this test only: the sender's behaviour does not depend on it.
    (Not for the test session's long-lived JVM: there C1 only made two test modules 308 s -> 459 s.)
    The test session's Spark settings are copied, so these processes also evaluate expressions
    interpreted, without code generation (tests/conftest.py): a whole cold `reconnect send` of
    this lake took 58.8-62.9 s that way against 69.6-73.0 s with code generation (four runs each,
    2026-12-02).
    """
    conf = lake.model_dump(mode="json")
    conf["paths"]["campaigns"] = str(campaigns)
    conf["spark"]["driver_memory"] = "1g"
    conf["spark"]["conf"] = {
        **conf["spark"]["conf"],
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",  # added to the UTC flag
    }
    hook = {"kind": "webhook", "url": url, "backoff_seconds": 0.01, "max_attempts": 3}
    # Every channel to the webhook (the campaigns use e-mail and web push): a file channel would
    # run an empty delivery in the executors in each of the many runs, only costing time.
    conf["sender"]["providers"] = {c: hook for c in CHANNELS}
    path.write_text(yaml.safe_dump(conf))
    return path


def test_sigkill_during_writes_and_delivery_sends_every_message_once(spark, lake, tmp_path):
    # The lake up to detection: three detection batches (one events file each), so the sender
    # works in several micro-batches too.
    s = Scenario(
        [campaign(CART)],
        product_feed=[
            {
                "sync_time": "2026-01-05T00:00:00Z",
                "rows": [{"product_id": "P1", "price": 9.5, "name": "Mug"}],
            }
        ],
        subscribers={"email": [[f"c{i}", f"{i}@example.com"] for i in range(0, USERS, 2)]},
    )
    landing = Path(lake.paths.landing)
    s.write_feeds(landing)
    for b in range(USERS // 10):
        s.write_events(landing, _events(b), f"events-{b}.jsonl")
        os.utime(landing / "events" / f"events-{b}.jsonl", (1_700_000_000 + b,) * 2)
    one_file = lake.streaming.model_copy(update={"max_files_per_trigger": 1})
    lake = lake.model_copy(update={"streaming": one_file})
    run_pipeline(spark, lake, s.campaigns, send=False)

    # The uninterrupted reference, on a copy, delivering to an in-process server.
    ref = separate_lake(lake, "_ref")
    shutil.copytree(lake.paths.lakehouse, ref.paths.lakehouse)
    shutil.copytree(lake.paths.checkpoints, ref.paths.checkpoints)
    with RecordingServer() as server:
        hook = ProviderSettings(kind="webhook", url=server.url, backoff_seconds=0.01)
        ref = ref.model_copy(update={"sender": ref.sender.model_copy(
            update={"providers": {c: hook for c in CHANNELS}})})  # fmt: skip
        run_send(spark, ref, s.campaigns)
        assert len(server.unique_keys()) == len(server.requests)
    reference = _messages(spark, ref)
    sent_ids = {r[0] for r in reference if r[15] == "SENT"}
    assert len(sent_ids) >= USERS  # two steps for most users, over e-mail and web push

    # The crashing runs: `reconnect send` processes against a webhook server process.
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    (campaigns / "cart.yaml").write_text(yaml.safe_dump(CART))
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    port_file, log = tmp_path / "port", tmp_path / "requests.jsonl"
    server_proc = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "tests" / "helpers" / "webhook_server.py"),
         "--port-file", str(port_file), "--log", str(log), "--delay", "0.03"]
    )  # fmt: skip
    try:
        while not port_file.exists():
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}/hook"
        conf = _conf(lake, campaigns, url, tmp_path / "crash.yaml")
        cmd = [sys.executable, "-m", "reconnect.cli", "send", "--conf", str(conf)]
        lakehouse = Path(lake.paths.lakehouse)

        rng = random.Random(11)
        kills, moments = 0, []
        for run in range(4 * KILLS):
            if kills >= KILLS:
                break
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            mode = ("write", "random", "delivery", "random")[run % 4]
            if _keys(log) >= sent_ids:
                # Every message has reached the server: no run has a send left to deliver, and
                # one waiting for a new request, or a commit (at most a last progress mark is
                # left), would run to its end (~25 s of a cold process) without a kill, as two
                # did. The remaining kills land at random moments.
                mode = "random"
            if mode == "write":
                commits = _commits(lakehouse)
                hit = _wait_for(proc, lambda n=commits: _commits(lakehouse) > n, 120)
            elif mode == "delivery":
                lines = _lines(log)
                hit = _wait_for(proc, lambda n=lines: _lines(log) > n, 120)
                time.sleep(rng.uniform(0, 0.3))
            else:
                hit = _wait_for(proc, lambda: False, rng.uniform(1, 8)) or proc.poll() is None
            if hit and proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                moments.append(mode)
            else:
                _, err = proc.communicate()
                assert proc.returncode == 0, err.decode()[-3000:]
        assert kills >= KILLS, f"only {kills} kills landed before the work ran out"
        assert {"write", "delivery"} <= set(moments)
        final = subprocess.run(cmd, env=env, capture_output=True, timeout=600)
        assert final.returncode == 0, final.stderr.decode()[-3000:]
    finally:
        server_proc.send_signal(signal.SIGTERM)
        server_proc.wait(timeout=30)

    received = [json.loads(line) for line in log.read_text().splitlines()]
    keys = {r["key"] for r in received}
    assert keys == sent_ids, "every SENT message reached the server, and nothing else"
    assert all(r["body"]["message_id"] == r["key"] for r in received)
    assert _messages(spark, lake) == reference
