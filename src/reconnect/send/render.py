"""Template rendering and the JSON payload handed to a provider (R-SEND-3; docs/sending.md).

Pure functions, no I/O. A template variable is ``{{ root.key }}`` with a root of ``product``,
``products``, ``user``, ``campaign`` or ``message`` (the roots the campaign loader accepts);
``{{ root.key | raw }}`` marks a value as trusted markup.

An e-mail's ``body`` is HTML: every value rendered into it is HTML-escaped (``<`` becomes
``&lt;``), unless its variable is marked ``raw``. Subjects, titles, URLs and SMS and push texts
are plain text and are not escaped. A payload carries only its own channel's address (``to``):
the user's e-mail and phone are left out of its ``user``.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from reconnect.campaigns.content import RAW_MARK, TEMPLATE_VARIABLE
from reconnect.vocabulary import EMAIL

HTML_FIELDS = {EMAIL: frozenset({"body"})}  # channel -> its template fields that are HTML
ADDRESS_KEYS = frozenset({"email", "phone"})  # user attributes that are another channel's address
_CENT = Decimal("0.01")
PRICE_KEYS = frozenset({"price", "old_price"})
PERCENT_KEY = "drop_percent"
_MISSING = object()


def format_price(value: Decimal | float | int) -> str:
    """A price as plain text with 2 decimals, rounded half up: ``Decimal('12.5') -> '12.50'``."""
    return str(Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP))


def format_percent(value: Decimal | float | int) -> str:
    """A drop % floored to 2 decimals without trailing zeros: ``10.0 -> '10'``, ``12.5 -> '12.5'``.

    Floored like ``drop_percent`` itself (docs/feeds.md): 9.9996 shows as ``9.99``, so a message
    never states a larger drop than the one that was detected.
    """
    text = str(Decimal(str(value)).quantize(_CENT, rounding=ROUND_DOWN))
    return text.rstrip("0").rstrip(".")


def _is_number(value: object) -> bool:
    return isinstance(value, Decimal | float | int) and not isinstance(value, bool)


def _format(key: str, value: Any) -> str:
    """The text of one scalar; ``key`` (the last path segment) picks the number format."""
    if _is_number(value) and key in PRICE_KEYS:
        return format_price(value)
    if _is_number(value) and key == PERCENT_KEY:
        return format_percent(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (digits index lists), or ``_MISSING``."""
    current: Any = context
    for segment in path.split("."):
        if isinstance(current, Mapping) and segment in current:
            current = current[segment]
        elif (
            isinstance(current, Sequence)
            and not isinstance(current, str)
            and segment.isdigit()
            and int(segment) < len(current)
        ):
            current = current[int(segment)]
        else:
            return _MISSING
    return current


def render(text: str, context: Mapping[str, Any], escape: bool = False) -> str:
    """``text`` with every ``{{ path }}`` replaced by its value in ``context``.

    ``path`` is dotted (``product.name``, ``products.1.price``, ``user.first_name``); its first
    segment is a key of ``context`` and digits index lists. ``price`` and ``old_price`` render
    with 2 decimals (``12.50``), ``drop_percent`` floored to at most 2 decimals without trailing
    zeros (``10``, ``12.5``), booleans as ``true``/``false``, dates in ISO-8601.

    Decision: a missing value (unknown key, index out of range, null) and a value that is not a
    scalar (a whole product, a list) render as the empty string. A user without a first name
    still gets "Hi , ..." rather than no message; the campaign loader already refuses unknown
    roots, so a typo in the namespace cannot reach this point.

    ``escape``: HTML-escape every value (quotes too) except those of ``| raw`` variables; the
    template's own text is left as written.
    """
    pieces: list[str] = []
    for literal, path, last, raw in _parts(text):
        pieces.append(literal)
        if path is None:
            continue
        value = _lookup(context, path)
        if type(value) is str:  # the common case, without the checks below
            shown = value
        elif not (value is _MISSING or value is None or isinstance(value, Mapping | list | tuple)):
            shown = _format(last, value)
        else:
            continue
        pieces.append(html.escape(shown) if escape and not raw else shown)
    return "".join(pieces)


@functools.lru_cache(maxsize=4096)
def _parts(text: str) -> tuple[tuple[str, str | None, str, bool], ...]:
    """A template cut once into its pieces.

    Each piece: (literal text, variable path or None, the path's last segment, whether the
    variable is marked ``raw``).
    """
    parts: list[tuple[str, str | None, str, bool]] = []
    start = 0
    for match in TEMPLATE_VARIABLE.finditer(text):
        inner = match.group(1).strip()
        raw = bool(RAW_MARK.search(inner))
        path = RAW_MARK.sub("", inner).strip()
        parts.append((text[start : match.start()], path, path.rsplit(".", 1)[-1], raw))
        start = match.end()
    parts.append((text[start:], None, "", False))
    return tuple(parts)


def message_context(
    *,
    message_id: str,
    campaign_id: str,
    campaign_name: str,
    step_name: str,
    channel: str,
    products: Sequence[Mapping[str, Any]],
    user: Mapping[str, str],
) -> dict[str, Any]:
    """The rendering context of one message: the roots of :func:`render`'s variables.

    ``products`` are the message's product slots in order, each with ``slot``, ``product_id``,
    ``name``, ``image_url``, ``url``, ``price``, ``old_price``, ``drop_percent`` (any may be
    None; prices are Decimals). ``product`` is the first of them, ``{}`` when there is none.
    """
    items = [dict(p) for p in products]
    return {
        "product": items[0] if items else {},
        "products": items,
        "user": dict(user),
        "campaign": {"id": campaign_id, "name": campaign_name},
        "message": {"id": message_id, "step": step_name, "channel": channel},
    }


def _jsonable(key: str, value: Any) -> Any:
    """``value`` made JSON-serialisable; Decimals become exact strings (prices ``'12.50'``)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value  # exact types first: the isinstance checks below are slow on ABCs
    if kind is Decimal:
        return _format(key, value)
    if kind is list:
        return [_jsonable(key, v) for v in value]
    if kind is dict or isinstance(value, Mapping):
        return {str(k): _jsonable(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(key, v) for v in value]
    if isinstance(value, Decimal | datetime | date):
        return _format(key, value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def render_payload(
    template_fields: Mapping[str, str], context: Mapping[str, Any], *, address: str
) -> dict[str, Any]:
    """The JSON payload of one message for its channel's provider (R-SEND-3).

    ``template_fields`` is the step's template for the channel (``subject``/``title``/``body``/
    ``url``), ``context`` comes from :func:`message_context`, ``address`` is where the message
    goes (e-mail, E.164 phone or push token). Only str, int, float, bool, None, lists and dicts
    are returned: Decimals become strings (prices ``"12.50"``, ``drop_percent`` as rendered),
    dates ISO-8601. The e-mail body's values are HTML-escaped; ``user`` leaves out the e-mail
    and phone (``to`` is the one address the payload carries). Dump with :func:`payload_json`
    for a deterministic text.
    """
    message, campaign = context["message"], context["campaign"]
    markup = HTML_FIELDS.get(message["channel"], frozenset())
    user = {k: v for k, v in context["user"].items() if k not in ADDRESS_KEYS}
    return {
        "message_id": message["id"],
        "campaign_id": campaign["id"],
        "step_name": message["step"],
        "channel": message["channel"],
        "to": address,
        "content": {
            field: render(text, context, escape=field in markup)
            for field, text in template_fields.items()
        },
        "products": _jsonable("products", context["products"]),
        "user": _jsonable("user", user),
    }


def payload_json(payload: Mapping[str, Any]) -> str:
    """The payload as one line of JSON with sorted keys: the same payload gives the same text."""
    return json.dumps(payload, sort_keys=True)
