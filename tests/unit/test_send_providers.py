"""R-SEND-3: provider integrations deliver each message, retry with backoff, never duplicate."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from helpers.webhook_server import RecordingServer
from reconnect.send.connect import build_provider
from reconnect.send.providers import (
    Attempt,
    ConsoleProvider,
    FileProvider,
    Outgoing,
    ProviderError,
)
from reconnect.send.webhook import WebhookProvider
from reconnect.settings import ProviderSettings, SettingsError, load_settings

TOKEN = "tok-7f3a9c-secret"
QUERY = "sig=q-secret-91"


class FakeTime:
    """An injected clock and sleep: sleeping records the delay and moves the clock on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def outgoing(i: int, channel: str = "email") -> Outgoing:
    address = f"person{i}@example.com"
    payload = {
        "message_id": f"m{i}",
        "channel": channel,
        "to": address,
        "content": {"subject": f"Hello {i}", "body": "Shoe 1 is now 90.00"},
    }
    return Outgoing(f"m{i}", channel, address, payload)


def webhook(
    url: str, fake: FakeTime, environ: dict[str, str] | None = None, **settings: Any
) -> WebhookProvider:
    conf = ProviderSettings(kind="webhook", url_env="HOOK_URL", token_env="HOOK_TOKEN", **settings)
    env = {"HOOK_URL": url, "HOOK_TOKEN": TOKEN} if environ is None else environ
    return WebhookProvider(conf, "email", sleep=fake.sleep, clock=fake.clock, environ=env)


def statuses(attempts: list[Attempt]) -> list[tuple[str, int, str, int | None]]:
    return [(a.message_id, a.attempt, a.status, a.http_status) for a in attempts]


def test_r_send_3_webhook_posts_json_with_idempotency_key_and_bearer_token(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeTime()
    with RecordingServer() as server:
        attempts = webhook(f"{server.url}?{QUERY}", fake).deliver([outgoing(1), outgoing(2)])
    assert statuses(attempts) == [("m1", 1, "DELIVERED", 200), ("m2", 1, "DELIVERED", 200)]
    assert all(a.provider == "webhook" and a.channel == "email" for a in attempts)
    assert all(a.attempted_at.tzinfo is not None for a in attempts)
    assert server.requests == [("m1", outgoing(1).payload), ("m2", outgoing(2).payload)]
    headers = server.request_headers[0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    for secret in (TOKEN, QUERY, "person1@example.com"):
        assert secret not in caplog.text


def test_r_send_3_secrets_never_reach_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    fake = FakeTime()
    with RecordingServer(status=500) as server:
        attempts = webhook(f"{server.url}?{QUERY}", fake, max_attempts=2).deliver([outgoing(1)])
    assert statuses(attempts) == [("m1", 1, "FAILED", 500), ("m1", 2, "FAILED", 500)]
    assert "HTTP 500" in (attempts[-1].error or "") and "webhook email" in caplog.text
    text = caplog.text + " ".join(str(a) for a in attempts)
    for secret in (TOKEN, QUERY, "person1@example.com"):
        assert secret not in text


def test_r_send_3_transient_failures_are_retried_with_exponential_backoff():
    fake = FakeTime()
    with RecordingServer(fail_first=2) as server:
        attempts = webhook(server.url, fake).deliver([outgoing(1)])
    assert statuses(attempts) == [
        ("m1", 1, "FAILED", 503),
        ("m1", 2, "FAILED", 503),
        ("m1", 3, "DELIVERED", 200),
    ]
    assert fake.sleeps == [0.5, 1.0]
    assert server.unique_keys() == {"m1"}  # every retry carries the same idempotency key


def test_r_send_3_backoff_is_capped_and_honours_retry_after():
    fake = FakeTime()
    with RecordingServer(fail_first=5, headers={"Retry-After": "3"}) as server:
        webhook(server.url, fake, max_attempts=3).deliver([outgoing(1)])
        webhook(server.url, fake, max_attempts=2, backoff_max_seconds=2).deliver([outgoing(2)])
    assert fake.sleeps == [3.0, 3.0, 2.0]


def test_r_send_3_a_rejected_message_fails_at_once():
    fake = FakeTime()
    with RecordingServer(status=400) as server:
        attempts = webhook(server.url, fake).deliver([outgoing(1)])
    assert statuses(attempts) == [("m1", 1, "FAILED", 400)]
    assert fake.sleeps == [] and len(server.requests) == 1


def test_r_send_3_conflict_means_the_receiver_already_has_the_message():
    with RecordingServer(status=409) as server:
        attempts = webhook(server.url, FakeTime()).deliver([outgoing(1)])
    assert statuses(attempts) == [("m1", 1, "DELIVERED", 409)]


def test_r_send_3_redirects_are_not_followed_and_bad_payloads_not_sent():
    fake = FakeTime()
    bad = Outgoing("m2", "email", "x@example.com", {"price": object()})
    with RecordingServer(status=302, headers={"Location": "http://example.com/"}) as server:
        attempts = webhook(server.url, fake).deliver([outgoing(1), bad])
    assert statuses(attempts) == [("m1", 1, "FAILED", 302), ("m2", 1, "FAILED", None)]
    assert "not JSON-serialisable" in (attempts[1].error or "")
    assert [key for key, _ in server.requests] == ["m1"]


def test_r_send_3_timeouts_are_retried():
    fake = FakeTime()
    with RecordingServer(delay_first=1, delay_seconds=1.0) as server:
        attempts = webhook(server.url, fake, timeout_seconds=0.2).deliver([outgoing(1)])
    assert statuses(attempts) == [("m1", 1, "FAILED", None), ("m1", 2, "DELIVERED", 200)]
    assert attempts[0].error == "timed out after 0.2 s"
    assert [key for key, _ in server.requests] == ["m1", "m1"]


def test_r_send_3_connection_errors_are_retried():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    fake = FakeTime()
    attempts = webhook(f"http://127.0.0.1:{port}/hook", fake, max_attempts=2).deliver([outgoing(1)])
    assert statuses(attempts) == [("m1", 1, "FAILED", None), ("m1", 2, "FAILED", None)]
    assert "ConnectionRefusedError" in (attempts[-1].error or "")


def test_r_send_3_circuit_opens_skips_the_rest_and_closes_after_the_reset():
    fake = FakeTime()
    with RecordingServer(status=503) as server:
        provider = webhook(
            server.url, fake, max_attempts=2, circuit_failures=3, circuit_reset_seconds=60
        )
        batch = [outgoing(i) for i in range(1, 5)]
        attempts = provider.deliver(batch)
        # m1 fails twice, m2 once more: 3 consecutive failures open the circuit.
        assert statuses(attempts) == [
            ("m1", 1, "FAILED", 503),
            ("m1", 2, "FAILED", 503),
            ("m2", 1, "FAILED", 503),
            ("m3", 1, "SKIPPED_CIRCUIT_OPEN", None),
            ("m4", 1, "SKIPPED_CIRCUIT_OPEN", None),
        ]
        assert len(server.requests) == 3 and fake.sleeps == [0.5]
        # After the reset one trial request decides; it fails, so the circuit opens again.
        fake.now += 60
        assert statuses(provider.deliver(batch[2:])) == [
            ("m3", 1, "FAILED", 503),
            ("m4", 1, "SKIPPED_CIRCUIT_OPEN", None),
        ]
        # The receiver is back: the trial succeeds and closes the circuit.
        server.status = 200
        fake.now += 60
        assert statuses(provider.deliver(batch[1:])) == [
            ("m2", 1, "DELIVERED", 200),
            ("m3", 1, "DELIVERED", 200),
            ("m4", 1, "DELIVERED", 200),
        ]
    assert len(server.requests) == 7


def test_r_send_3_missing_url_variable_is_a_configuration_error():
    with pytest.raises(ProviderError, match="RECONNECT_TEST_HOOK_URL"):
        WebhookProvider(
            ProviderSettings(kind="webhook", url_env="RECONNECT_TEST_HOOK_URL"), "sms", environ={}
        )


def test_r_send_3_a_bad_url_is_refused_without_showing_it():
    conf = ProviderSettings(kind="webhook", url=f"ftp://example.com/x?{QUERY}")
    with pytest.raises(ProviderError, match="http") as err:
        WebhookProvider(conf, "sms", environ={})
    assert QUERY not in str(err.value)


def test_r_send_3_missing_token_variable_sends_without_authorization(caplog):
    with RecordingServer() as server:
        provider = webhook(server.url, FakeTime(), environ={"HOOK_URL": server.url})
        provider.deliver([outgoing(1)])
    assert "Authorization" not in server.request_headers[0]
    assert "HOOK_TOKEN is not set" in caplog.text


def test_r_send_3_webhook_settings_need_a_url(tmp_path):
    with pytest.raises(ValidationError, match="webhook: expected url or url_env"):
        ProviderSettings(kind="webhook")
    conf = tmp_path / "bad.yaml"
    conf.write_text("sender:\n  providers:\n    sms: {kind: webhook, token_env: T}\n")
    with pytest.raises(SettingsError, match=r"sender\.providers\.sms"):
        load_settings(conf)


def test_r_send_3_build_provider_follows_the_kind(tmp_path):
    hook = ProviderSettings(kind="webhook", url="http://127.0.0.1:9/hook")
    assert isinstance(build_provider(hook, "email", str(tmp_path)), WebhookProvider)
    console = ProviderSettings(kind="console")
    assert isinstance(build_provider(console, "sms", str(tmp_path)), ConsoleProvider)
    assert isinstance(build_provider(ProviderSettings(), "sms", str(tmp_path)), FileProvider)
    with pytest.raises(ProviderError, match="local folder"):
        build_provider(ProviderSettings(), "sms", "s3a://bucket/lake")


def lines(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        p.name: [json.loads(line) for line in p.read_text().splitlines()]
        for p in sorted(folder.iterdir())
    }


def test_r_send_3_file_provider_writes_one_line_per_message_once(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    provider = FileProvider(ProviderSettings(folder="outbox"), "email", str(tmp_path))
    batch = [outgoing(2), outgoing(1), outgoing(3)]
    attempts = provider.deliver(batch)
    assert statuses(attempts) == [(f"m{i}", 1, "DELIVERED", None) for i in (2, 1, 3)]
    folder = tmp_path / "outbox" / "email"
    first = lines(folder)
    [(name, rows)] = first.items()
    assert name.startswith("batch-") and name.endswith(".jsonl")
    assert [r["message_id"] for r in rows] == ["m1", "m2", "m3"]
    assert rows[0] == outgoing(1).payload
    # A crash after the write makes the caller hand the same batch over again: same file.
    provider.deliver(list(reversed(batch)))
    assert lines(folder) == first
    assert "person1@example.com" not in caplog.text
    provider.deliver([outgoing(4)])
    assert len(lines(folder)) == 2


def test_r_send_3_file_provider_reports_a_write_error_as_failed(tmp_path):
    (tmp_path / "outbox").write_text("not a folder")
    provider = FileProvider(ProviderSettings(), "sms", str(tmp_path))
    attempts = provider.deliver([outgoing(1, "sms"), outgoing(2, "sms")])
    assert [a.status for a in attempts] == ["FAILED", "FAILED"]
    assert all("Error" in (a.error or "") for a in attempts)
    assert provider.deliver([]) == []


def test_r_send_3_file_deliveries_in_the_workers_cut_chunks_per_channel_and_repeat_them(tmp_path):
    # The sender hands a partition's messages, sorted by (channel, id), to deliver_partition in
    # the Python workers when the file provider runs there.
    import pyarrow as pa

    from reconnect.send.delivery import ATTEMPT_ROWS, deliver_partition
    from reconnect.send.render import payload_json

    messages = [outgoing(i) for i in range(1, 6)] + [outgoing(i, "sms") for i in (6, 7)]
    batch = pa.RecordBatch.from_pydict(
        {
            "message_id": [m.message_id for m in messages],
            "channel": [m.channel for m in messages],
            "address": [m.address for m in messages],
            "payload": [payload_json(m.payload or {}) for m in messages],
        }
    )
    # Only the channels delivered in the workers are handed over, each with its own chunk size.
    by_channel = {"email": ProviderSettings(batch_size=2), "sms": ProviderSettings(batch_size=1)}

    def deliver() -> list[dict[str, Any]]:
        # Two record batches: a chunk may span them.
        out = list(
            deliver_partition([batch.slice(0, 3), batch.slice(3)], by_channel, str(tmp_path), 7)
        )
        assert all(b.schema.names == ATTEMPT_ROWS.fieldNames() for b in out)
        return pa.Table.from_batches(out).to_pylist()

    attempts = deliver()
    assert [a["message_id"] for a in attempts] == [m.message_id for m in messages]
    assert {(a["status"], a["attempt"], a["send_batch"], a["provider"]) for a in attempts} == {
        ("DELIVERED", 1, 7, "file")
    }
    assert all(isinstance(a["attempted_at"], int) for a in attempts)  # UTC microseconds
    email, sms = lines(tmp_path / "outbox" / "email"), lines(tmp_path / "outbox" / "sms")
    assert sorted(len(rows) for rows in email.values()) == [1, 2, 2]  # batch_size per call
    assert sorted(len(rows) for rows in sms.values()) == [1, 1]
    assert sorted(r["message_id"] for rows in sms.values() for r in rows) == ["m6", "m7"]
    assert sorted(r["message_id"] for rows in email.values() for r in rows) == [
        f"m{i}" for i in range(1, 6)
    ]
    # A re-run of the same partition (a crash before its attempts were recorded) makes the same
    # calls: the same files, no new lines.
    deliver()
    assert lines(tmp_path / "outbox" / "email") == email
    assert lines(tmp_path / "outbox" / "sms") == sms


def test_r_send_3_console_prints_one_masked_line_per_message():
    stream = io.StringIO()
    sms = Outgoing("m9", "sms", "+33612345678", {"content": {"body": "x" * 80}})
    attempts = ConsoleProvider("email", stream).deliver([outgoing(1)])
    attempts += ConsoleProvider("sms", stream).deliver([sms])
    assert [a.status for a in attempts] == ["DELIVERED", "DELIVERED"]
    assert stream.getvalue().splitlines() == [
        "[email] to=pe*** message=m1 Hello 1",
        f"[sms] to=+3*** message=m9 {'x' * 60}",
    ]


def test_r_send_3_webhook_server_runs_as_a_process_and_logs_durably(tmp_path):
    script = Path(__file__).parents[1] / "helpers" / "webhook_server.py"
    port_file, log = tmp_path / "port", tmp_path / "requests.jsonl"
    args = [sys.executable, str(script), "--port-file", str(port_file), "--log", str(log)]
    process = subprocess.Popen([*args, "--fail-first", "1"])
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port_file.read_text()}/hook"
        attempts = webhook(url, FakeTime()).deliver([outgoing(1)])
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert [a.status for a in attempts] == ["FAILED", "DELIVERED"]
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["key"], r["status"]) for r in logged] == [("m1", 503), ("m1", 200)]
    assert logged[1]["body"] == outgoing(1).payload
