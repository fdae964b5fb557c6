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
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from reconnect.send.render import payload_json
from reconnect.settings import ProviderSettings
from reconnect.vocabulary import DELIVERED, FAILED, SKIPPED_CIRCUIT_OPEN, AttemptStatus

logger = logging.getLogger(__name__)

ALREADY_RECEIVED = 409  # the receiver already has this idempotency key


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


def utc_now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def summary_line(provider: str, channel: str, attempts: Sequence[Attempt]) -> str:
    """``'<provider> <channel>: n messages, d delivered, ...'`` by each message's last attempt."""
    last = [a.status for a in {a.message_id: a for a in attempts}.values()]
    return (
        f"{provider} {channel}: {len(last)} messages, {last.count(DELIVERED)} delivered, "
        f"{last.count(FAILED)} failed, {last.count(SKIPPED_CIRCUIT_OPEN)} skipped (circuit open)"
    )


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
        started_at, started = utc_now(), time.monotonic()
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
            started_at = utc_now()
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
