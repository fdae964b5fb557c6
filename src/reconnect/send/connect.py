"""A channel's provider, built from its settings: the file outbox, the console or a webhook."""

from __future__ import annotations

from reconnect.send.providers import ConsoleProvider, FileProvider, Provider
from reconnect.send.webhook import WebhookProvider
from reconnect.settings import ProviderSettings


def build_provider(settings: ProviderSettings, channel: str, lakehouse_root: str) -> Provider:
    """The provider ``settings.kind`` names for ``channel``; ProviderError when misconfigured."""
    if settings.kind == "webhook":
        return WebhookProvider(settings, channel)
    if settings.kind == "console":
        return ConsoleProvider(channel)
    return FileProvider(settings, channel, lakehouse_root)
