"""R-SEND-1, R-SEND-3: which delivery attempts are final (docs/sending.md, "Exactly once").

A message is handed over again, on a later run and under the same idempotency key, until one of
its attempts is final: delivered, or refused for good (a 3xx, or a 4xx other than 401, 403, 408
and 429). The Column version of the rule is checked against this one over every input in
tests/integration/test_send_delivery_finality.py.
"""

from __future__ import annotations

import pytest

from helpers.webhook_server import RecordingServer
from reconnect.send.delivery import is_final, still_open
from reconnect.send.providers import Outgoing
from reconnect.send.webhook import WebhookProvider
from reconnect.settings import ProviderSettings


@pytest.mark.parametrize(
    ("status", "http_status", "final"),
    [
        ("DELIVERED", 200, True),
        ("DELIVERED", 409, True),  # the receiver already had the key
        ("FAILED", 301, True),  # redirects are not followed
        ("FAILED", 400, True),
        ("FAILED", 404, True),
        ("FAILED", 401, False),  # credentials: fixed by configuration, then delivered
        ("FAILED", 403, False),
        ("FAILED", 408, False),  # transient: retries ran out in this run
        ("FAILED", 429, False),
        ("FAILED", 500, False),
        ("FAILED", 503, False),
        ("FAILED", None, False),  # timeout, connection error, a file that could not be written
        ("SKIPPED_CIRCUIT_OPEN", None, False),
    ],
)
def test_r_send_1_an_attempt_is_final_when_delivered_or_refused_for_good(
    status: str, http_status: int | None, final: bool
):
    assert is_final(status, http_status) is final


ANSWERS = {"m401": 401, "m403": 403, "m408": 408, "m429": 429, "m500": 500, "m200": 200}


def test_r_send_3_webhook_answers_decide_what_is_retried_now_later_or_never():
    """401/403: one request, handed over next run; 408/429/5xx: retried up to max_attempts, then
    handed over next run; 2xx: delivered, final."""
    conf = ProviderSettings(
        kind="webhook", url="http://127.0.0.1:1/hook", max_attempts=3, circuit_failures=20
    )
    with RecordingServer(status_by_key=ANSWERS) as server:
        conf = conf.model_copy(update={"url": server.url})
        provider = WebhookProvider(conf, "email", sleep=lambda _: None, environ={})
        chunk = [Outgoing(k, "email", f"{k}@x.io", {"message_id": k}) for k in ANSWERS]
        attempts = provider.deliver(chunk)
        requests = [key for key, _ in server.requests]
    assert {k: requests.count(k) for k in ANSWERS} == {
        "m401": 1,
        "m403": 1,
        "m408": 3,
        "m429": 3,
        "m500": 3,
        "m200": 1,
    }
    final = {a.message_id for a in attempts if is_final(a.status, a.http_status)}
    assert final == {"m200"}
    assert still_open(chunk, attempts) == ["m401", "m403", "m408", "m429", "m500"]
