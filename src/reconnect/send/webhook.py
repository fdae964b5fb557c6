"""The webhook provider: one POST per message, retries with backoff, a circuit breaker (R-SEND-3).

docs/sending.md, "Webhook": the answers, ``Retry-After``, redirects refused, secrets redacted.
"""

from __future__ import annotations

import http.client
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from typing import IO
from urllib.parse import urlsplit

from reconnect.send.providers import (
    ALREADY_RECEIVED,
    RETRY_RULE,
    Attempt,
    Outgoing,
    ProviderError,
    redact_url,
    summary_line,
    utc_now,
)
from reconnect.settings import ProviderSettings
from reconnect.vocabulary import DELIVERED, FAILED, SKIPPED_CIRCUIT_OPEN, AttemptStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Response:
    """What one webhook request came to; ``http_status`` None: no HTTP answer at all."""

    http_status: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        s = self.http_status
        return s is not None and (200 <= s < 300 or s == ALREADY_RECEIVED)

    @property
    def transient(self) -> bool:
        """Worth retrying, and counted by the circuit breaker: no answer, 408, 429 or 5xx."""
        s = self.http_status
        return s is None or s in RETRY_RULE.in_run or s >= 500


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuses redirects: the bearer token must not follow a 3xx to another host."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


def _retry_after(value: str | None) -> float | None:
    """A numeric ``Retry-After`` in seconds; None when absent or an HTTP date."""
    return float(value.strip()) if value is not None and value.strip().isdigit() else None


def _webhook_url(settings: ProviderSettings, channel: str, environ: Mapping[str, str]) -> str:
    if settings.url:
        url, source = settings.url, "url"
    elif settings.url_env:
        url, source = environ.get(settings.url_env, "").strip(), f"${settings.url_env}"
        if not url:
            raise ProviderError(
                f"webhook for {channel}: environment variable {settings.url_env} is not set; "
                "it must hold the webhook URL"
            )
    else:
        raise ProviderError(f"webhook for {channel}: expected url or url_env")
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if not port_ok or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderError(
            f"webhook for {channel}: {source} is not an http(s) URL with a host and a valid port"
        )
    return url


def _bearer_token(
    settings: ProviderSettings, channel: str, environ: Mapping[str, str]
) -> str | None:
    if not settings.token_env:
        return None
    token = environ.get(settings.token_env, "").strip()
    if not token:
        logger.warning(
            "webhook for %s: environment variable %s is not set; sending without a token",
            channel,
            settings.token_env,
        )
    return token or None


class WebhookProvider:
    """POSTs each message as JSON to an HTTP endpoint, with retries and a circuit breaker.

    Headers: ``Content-Type: application/json``, ``Idempotency-Key: <message_id>`` and, when
    ``token_env`` names a set variable, ``Authorization: Bearer <token>``. 2xx and 409 (the
    receiver already has the key) are delivered; 408, 429, 5xx, timeouts and connection errors
    are retried after ``min(backoff_max, backoff * 2**(n-1))`` seconds, or a numeric
    ``Retry-After`` when that is longer (capped the same way), up to ``max_attempts``; any other
    status (other 4xx, 3xx: redirects are not followed) fails the message at once.

    Circuit breaker: ``circuit_failures`` consecutive transient failures open the circuit for
    ``circuit_reset_seconds`` (by ``clock``); meanwhile messages are skipped without a request.
    Then one trial request decides: success closes it, failure opens it again. A permanent
    failure (e.g. 400) is the receiver's verdict on one message and does not count. The circuit
    lives as long as the provider object. Not thread-safe: one provider per sending thread.
    """

    name = "webhook"

    def __init__(
        self,
        settings: ProviderSettings,
        channel: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._settings = settings
        self._channel = channel
        self._sleep = sleep
        self._clock = clock
        self._url = _webhook_url(settings, channel, environ)
        self._where = redact_url(self._url)
        self._token = _bearer_token(settings, channel, environ)
        parts = urlsplit(self._url)
        secrets = [parts.query, parts.fragment, parts.password or "", self._token or ""]
        self._secrets = sorted((s for s in secrets if s), key=len, reverse=True)
        self._opener = urllib.request.build_opener(_NoRedirect)
        self._failures = 0
        self._opened_at: float | None = None

    def deliver(self, messages: Sequence[Outgoing]) -> list[Attempt]:
        """Every attempt made for ``messages``, in order; see the class docstring."""
        attempts: list[Attempt] = []
        for message in messages:
            attempts.extend(self._deliver_one(message))
        if attempts:
            logger.info("%s (%s)", summary_line(self.name, self._channel, attempts), self._where)
        return attempts

    def _deliver_one(self, message: Outgoing) -> list[Attempt]:
        try:
            body = message.json().encode("utf-8")
        except (TypeError, ValueError) as e:
            error = f"payload is not JSON-serialisable: {e}"
            return [self._attempt(message, 1, FAILED, utc_now(), 0, None, error)]
        attempts: list[Attempt] = []
        delay = 0.0
        for n in range(1, self._settings.max_attempts + 1):
            if not self._circuit_allows():
                return attempts or [
                    self._attempt(message, n, SKIPPED_CIRCUIT_OPEN, utc_now(), 0, None, None)
                ]
            if n > 1:
                self._sleep(delay)
            started_at, started = utc_now(), self._clock()
            response = self._post(body, message.message_id)
            duration_ms = int((self._clock() - started) * 1000)
            self._record(response)
            status: AttemptStatus = DELIVERED if response.delivered else FAILED
            attempts.append(
                self._attempt(
                    message,
                    n,
                    status,
                    started_at,
                    duration_ms,
                    response.http_status,
                    response.error,
                )
            )
            if response.delivered:
                break
            logger.warning(
                "webhook %s: message %s attempt %d/%d failed: %s",
                self._channel,
                message.message_id,
                n,
                self._settings.max_attempts,
                response.error,
            )
            if not response.transient:
                break
            delay = self._delay(n, response.retry_after)
        return attempts

    def _attempt(
        self,
        message: Outgoing,
        n: int,
        status: AttemptStatus,
        started_at: datetime,
        duration_ms: int,
        http_status: int | None,
        error: str | None,
    ) -> Attempt:
        return Attempt(
            message.message_id,
            self._channel,
            self.name,
            n,
            status,
            http_status,
            error,
            started_at,
            duration_ms,
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt``."""
        s = self._settings
        backoff = s.backoff_seconds * 2.0 ** (attempt - 1)
        return min(s.backoff_max_seconds, max(backoff, retry_after or 0.0))

    def _circuit_allows(self) -> bool:
        """True when closed, or open for ``circuit_reset_seconds`` already (half-open trial)."""
        if self._opened_at is None:
            return True
        return self._clock() - self._opened_at >= self._settings.circuit_reset_seconds

    def _record(self, response: _Response) -> None:
        """Count a request's outcome in the circuit breaker."""
        if not response.transient:
            if self._opened_at is not None:
                logger.info("webhook %s: circuit closed (%s)", self._channel, self._where)
            self._failures, self._opened_at = 0, None
            return
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._settings.circuit_failures:
            self._opened_at = self._clock()
            logger.warning(
                "webhook %s: circuit open for %.1f s after %d consecutive failures (%s)",
                self._channel,
                self._settings.circuit_reset_seconds,
                self._failures,
                self._where,
            )

    def _post(self, body: bytes, key: str) -> _Response:
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self._url, data=body, headers=headers, method="POST")
        timeout = self._settings.timeout_seconds
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                answer.read()
                return _Response(int(answer.status))
        except urllib.error.HTTPError as e:
            e.close()
            retry_after = _retry_after(e.headers.get("Retry-After"))
            return _Response(e.code, self._scrub(f"HTTP {e.code} {e.reason}"), retry_after)
        except (OSError, http.client.HTTPException, ValueError) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            if isinstance(reason, TimeoutError):
                return _Response(None, f"timed out after {timeout} s")
            return _Response(None, self._scrub(f"{type(reason).__name__}: {reason}"))

    def _scrub(self, text: str) -> str:
        """``text`` without the URL's query, fragment or password, nor the token."""
        text = text.replace(self._url, self._where)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
