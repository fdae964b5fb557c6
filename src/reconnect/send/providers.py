"""Provider integrations: how rendered messages leave the system, one per channel (R-SEND-3).

The product does not deliver messages itself. A provider takes a batch of :class:`Outgoing`
messages (payloads from :func:`reconnect.send.render.render_payload`), tries each one, retrying
inside, and returns every :class:`Attempt` it made. It never raises for a failed message: a
message that did not end ``DELIVERED`` is handed over again by the caller on its next run with
the same message id, which is the idempotency key, so nothing is lost and the receiving side can
drop repeats. Addresses and secrets (bearer token, URL query string) are never logged.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import IO, Any, Final, Literal, Protocol
from urllib.parse import urlsplit

from reconnect.send.render import payload_json
from reconnect.settings import ProviderSettings

logger = logging.getLogger(__name__)

AttemptStatus = Literal["DELIVERED", "FAILED", "SKIPPED_CIRCUIT_OPEN"]
DELIVERED: Final = "DELIVERED"
FAILED: Final = "FAILED"
SKIPPED_CIRCUIT_OPEN: Final = "SKIPPED_CIRCUIT_OPEN"

_ALREADY_RECEIVED = 409  # the receiver already has this idempotency key


@dataclass(frozen=True)
class RetryRule:
    """Which answers are tried again (docs/sending.md, "Webhook" and "Exactly once").

    ``in_run``: 4xx answers retried within a run after the backoff, like 5xx and no answer at
    all (timeout, connection error), up to ``max_attempts``. ``next_run``: 4xx answers not
    retried within the run but handed over again on the next one (credentials, fixed by
    configuration). ``refused``: the answers after which a ``FAILED`` attempt is final, except
    the two sets above.
    """

    in_run: frozenset[int] = frozenset({408, 429})
    next_run: frozenset[int] = frozenset({401, 403})
    refused: range = range(300, 500)

    @property
    def retried(self) -> frozenset[int]:
        """The refused-range answers whose message is handed over again on a later run."""
        return self.in_run | self.next_run


RETRY_RULE = RetryRule()


class ProviderError(Exception):
    """A provider that cannot be built from its settings: a configuration error, not a send."""


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver.

    ``payload`` is what ``render_payload`` returned for it, or ``text`` is that payload already
    dumped by ``payload_json`` (``gold.messages.payload``), which a provider sends as it is.
    """

    message_id: str
    channel: str
    address: str
    payload: Mapping[str, Any] | None = None
    text: str | None = None

    def json(self) -> str:
        """The payload as one line of JSON (``payload_json``)."""
        return self.text if self.text is not None else payload_json(self.payload or {})

    def data(self) -> Mapping[str, Any]:
        """The payload as a mapping."""
        if self.payload is not None:
            return self.payload
        loaded: Mapping[str, Any] = json.loads(self.text or "{}")
        return loaded


@dataclass(frozen=True)
class Attempt:
    """One try at delivering one message (``attempted_at`` is UTC, tz-aware)."""

    message_id: str
    channel: str
    provider: str
    attempt: int
    status: AttemptStatus
    http_status: int | None
    error: str | None
    attempted_at: datetime
    duration_ms: int


class Provider(Protocol):
    """Delivers a batch and returns every attempt made; never raises for a failed message."""

    name: str

    def deliver(self, messages: Sequence[Outgoing]) -> list[Attempt]:
        """Every attempt made for ``messages``; a message's last attempt tells how it ended."""
        ...


def mask_address(address: str) -> str:
    """An address fit for a log line: its first 2 characters and ``***``."""
    return address[:2] + "***"


def redact_url(url: str) -> str:
    """``scheme://host:port/path`` of ``url``: no user info, query string or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _now() -> datetime:
    return datetime.now(UTC)


def _summary(provider: str, channel: str, attempts: Sequence[Attempt]) -> str:
    """``'<provider> <channel>: n messages, d delivered, ...'`` by each message's last attempt."""
    last = [a.status for a in {a.message_id: a for a in attempts}.values()]
    return (
        f"{provider} {channel}: {len(last)} messages, {last.count(DELIVERED)} delivered, "
        f"{last.count(FAILED)} failed, {last.count(SKIPPED_CIRCUIT_OPEN)} skipped (circuit open)"
    )


@dataclass(frozen=True)
class _Response:
    """What one webhook request came to; ``http_status`` None: no HTTP answer at all."""

    http_status: int | None
    error: str | None = None
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        s = self.http_status
        return s is not None and (200 <= s < 300 or s == _ALREADY_RECEIVED)

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
            logger.info("%s (%s)", _summary(self.name, self._channel, attempts), self._where)
        return attempts

    def _deliver_one(self, message: Outgoing) -> list[Attempt]:
        try:
            body = message.json().encode("utf-8")
        except (TypeError, ValueError) as e:
            error = f"payload is not JSON-serialisable: {e}"
            return [self._attempt(message, 1, FAILED, _now(), 0, None, error)]
        attempts: list[Attempt] = []
        delay = 0.0
        for n in range(1, self._settings.max_attempts + 1):
            if not self._circuit_allows():
                return attempts or [
                    self._attempt(message, n, SKIPPED_CIRCUIT_OPEN, _now(), 0, None, None)
                ]
            if n > 1:
                self._sleep(delay)
            started_at, started = _now(), self._clock()
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


class FileProvider:
    """Writes each batch as one JSON Lines file: ``<root>/<folder>/<channel>/batch-<hash>.jsonl``.

    One line per message (``payload_json``, sorted by message id). The file name is a hash of the
    batch's sorted message ids and the file appears by an atomic rename after an fsync, so
    delivering the same batch again (a crash after the write, before the caller recorded it)
    replaces the file instead of adding lines. A batch of other ids gets another file, so a
    consumer must deduplicate by ``message_id`` (in every line) across files, and ignore names
    starting with ``.`` (temporary files a crash may leave). ``root`` must be a local folder.
    """

    name = "file"

    def __init__(self, settings: ProviderSettings, channel: str, root: str) -> None:
        if "://" in root:
            raise ProviderError(
                f"file provider for {channel}: expected a local folder; got {root} "
                "(use kind: webhook on an object store)"
            )
        self._channel = channel
        self._folder = Path(root) / settings.folder / channel

    def deliver(self, messages: Sequence[Outgoing]) -> list[Attempt]:
        """One attempt per message: all delivered once the file is in place, else all failed."""
        if not messages:
            return []
        started_at, started = _now(), time.monotonic()
        lines: list[tuple[str, str]] = []
        errors: dict[str, str] = {}
        for m in messages:
            try:
                lines.append((m.message_id, m.json()))
            except (TypeError, ValueError) as e:
                errors[m.message_id] = f"payload is not JSON-serialisable: {e}"
        if lines:
            lines.sort()
            digest = hashlib.sha256("\n".join(i for i, _ in lines).encode("utf-8")).hexdigest()
            path = self._folder / f"batch-{digest[:32]}.jsonl"
            try:
                _write_durably(path, "".join(line + "\n" for _, line in lines))
                logger.info("file %s: wrote %d messages to %s", self._channel, len(lines), path)
            except OSError as e:
                logger.warning("file %s: could not write %s: %s", self._channel, path, e)
                errors.update((i, f"{type(e).__name__}: {e}") for i, _ in lines)
        duration_ms = int((time.monotonic() - started) * 1000)
        return [
            Attempt(
                m.message_id,
                self._channel,
                self.name,
                1,
                FAILED if m.message_id in errors else DELIVERED,
                None,
                errors.get(m.message_id),
                started_at,
                duration_ms,
            )
            for m in messages
        ]


def _write_durably(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` by fsync + atomic rename + fsync of the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class ConsoleProvider:
    """Prints one line per message, for demos: ``[channel] to=ab*** message=<id> <headline>``.

    The headline is the rendered ``subject`` or ``title``, else the first 60 characters of the
    ``body``; the address is masked (:func:`mask_address`).
    """

    name = "console"

    def __init__(self, channel: str, stream: IO[str] | None = None) -> None:
        """``stream`` defaults to ``sys.stdout`` as it is when a line is printed."""
        self._channel = channel
        self._stream = stream

    def deliver(self, messages: Sequence[Outgoing]) -> list[Attempt]:
        """One attempt per message; a stream that cannot be written fails the message."""
        attempts: list[Attempt] = []
        for m in messages:
            started_at = _now()
            line = f"[{self._channel}] to={mask_address(m.address)} message={m.message_id} "
            status: AttemptStatus = DELIVERED
            error: str | None = None
            try:
                print(line + _headline(m.data()), file=self._stream or sys.stdout, flush=True)
            except OSError as e:
                status, error = FAILED, f"{type(e).__name__}: {e}"
            attempts.append(
                Attempt(
                    m.message_id, self._channel, self.name, 1, status, None, error, started_at, 0
                )
            )
        return attempts


def _headline(payload: Mapping[str, Any]) -> str:
    """The rendered subject or title, else the first 60 characters of the body, on one line."""
    content = payload.get("content") or {}
    text = content.get("subject") or content.get("title")
    if text:
        return " ".join(str(text).split())
    return " ".join(str(content.get("body") or "").split())[:60]


def build_provider(settings: ProviderSettings, channel: str, lakehouse_root: str) -> Provider:
    """The provider ``settings.kind`` names for ``channel``; ProviderError when misconfigured."""
    if settings.kind == "webhook":
        return WebhookProvider(settings, channel)
    if settings.kind == "console":
        return ConsoleProvider(channel)
    return FileProvider(settings, channel, lakehouse_root)
