"""The engagement simulator: opens, clicks and purchases after clicks for delivered messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from reconnect.generate.engagement import (
    Delivered,
    EngagementConfig,
    Rates,
    counts_of,
    engagement_lines,
)
from reconnect.generate.shop import engagement_file, write_engagement

SENT_AT = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
PAYLOAD = json.dumps({"products": [{"product_id": "p1", "price": "19.90"},
                                   {"product_id": "p2", "price": "5.10"}]})  # fmt: skip


def message(i: int, channel: str = "email", variation: str = "a", **more: object) -> Delivered:
    values: dict[str, object] = {
        "message_id": f"m{i}", "campaign_id": "cart", "variation_id": variation,
        "channel": channel, "user_id": f"u{i}", "cuid": None, "send_at": SENT_AT,
        "payload": PAYLOAD,
    }  # fmt: skip
    values.update(more)
    return Delivered(**values)  # type: ignore[arg-type]


def events(m: Delivered, config: EngagementConfig) -> list[dict[str, object]]:
    return [json.loads(line) for _, line in engagement_lines(m, config)]


ALWAYS = EngagementConfig(rates=Rates(open=1.0, click=1.0, purchase=1.0), channels={},
                          late_purchase_share=0.0)  # fmt: skip


def test_an_engaged_email_is_opened_then_clicked_then_bought_in_that_order_after_the_send():
    opened, clicked, bought = events(message(1), ALWAYS)
    assert [e["event_type"] for e in (opened, clicked, bought)] == [
        "message_open", "message_click", "purchase"]  # fmt: skip
    times = [datetime.fromisoformat(str(e["event_time"])) for e in (opened, clicked, bought)]
    assert SENT_AT < times[0] < times[1] < times[2]
    assert opened["message_id"] == clicked["message_id"] == "m1"
    assert {e["user_id"] for e in (opened, clicked, bought)} == {"u1"}


def test_the_purchase_buys_the_messages_products_at_the_price_it_showed():
    bought = events(message(1), ALWAYS)[-1]
    assert bought["items"] == [
        {"product_id": "p1", "quantity": 1, "price": "19.90"},
        {"product_id": "p2", "quantity": 1, "price": "5.10"},
    ]
    assert bought["revenue"] == "25.00"
    assert bought["order_id"] == "m1-order"


def test_a_message_without_products_leads_to_a_basket_with_a_positive_revenue():
    bought = events(message(1, payload=json.dumps({"products": []})), ALWAYS)[-1]
    assert bought["items"] == [] and float(str(bought["revenue"])) > 0


def test_sms_and_push_are_clicked_without_opens():
    for channel in ("sms", "web_push", "app_push"):
        kinds = [e["event_type"] for e in events(message(1, channel), ALWAYS)]
        assert kinds == ["message_click", "purchase"]


def test_a_person_reached_by_cuid_engages_from_a_device_carrying_the_cuid():
    opened = events(message(1, user_id=None, cuid="c" * 64), ALWAYS)[0]
    assert opened["cuid"] == "c" * 64 and str(opened["user_id"]).startswith("dev-")


def test_a_messages_events_do_not_depend_on_the_other_messages_or_their_order():
    config = EngagementConfig(seed=7, rates=Rates(open=1.0, click=1.0, purchase=1.0))
    alone = engagement_lines(message(5), config)
    assert len(alone) == 3
    batch = [line for i in (9, 5, 1) for line in engagement_lines(message(i), config)]
    assert all(line in batch for line in alone)
    other_seed = EngagementConfig(seed=8, rates=Rates(open=1.0, click=1.0, purchase=1.0))
    assert engagement_lines(message(5), other_seed) != alone  # the delays differ


def test_rates_are_those_of_the_settings_within_sampling_error():
    config = EngagementConfig(rates=Rates(open=0.3, click=0.2, purchase=0.5), channels={})
    n = 20_000
    total = [counts_of(engagement_lines(message(i), config)) for i in range(n)]
    opens = sum(c.opens for c in total)
    clicks = sum(c.clicks for c in total)
    purchases = sum(c.purchases for c in total)
    assert abs(opens - 0.3 * n) < 4 * (n * 0.3 * 0.7) ** 0.5
    assert abs(clicks - 0.2 * opens) < 4 * (opens * 0.2 * 0.8) ** 0.5
    assert abs(purchases - 0.5 * clicks) < 4 * (clicks * 0.25) ** 0.5


def test_a_variations_rates_override_its_campaigns_which_override_the_channels():
    config = EngagementConfig(
        rates=Rates(open=1.0, click=0.1, purchase=0.0),
        channels={"sms": Rates(click=0.2)},
        campaigns={"cart": {"*": Rates(click=0.5), "b": Rates(click=0.9)}},
    )
    assert config.rates_for("other", "a", "sms") == Rates(open=1.0, click=0.2, purchase=0.0)
    assert config.rates_for("cart", "a", "sms") == Rates(open=1.0, click=0.5, purchase=0.0)
    assert config.rates_for("cart", "b", "email") == Rates(open=1.0, click=0.9, purchase=0.0)


def test_late_purchases_come_eight_to_fourteen_days_after_the_click():
    config = EngagementConfig(rates=Rates(open=1.0, click=1.0, purchase=1.0), channels={},
                              late_purchase_share=1.0)  # fmt: skip
    for i in range(50):
        _, clicked, bought = events(message(i), config)
        gap = datetime.fromisoformat(str(bought["event_time"])) - datetime.fromisoformat(
            str(clicked["event_time"])
        )
        assert timedelta(days=8) <= gap < timedelta(days=14)


def test_a_rate_outside_0_and_1_is_refused_naming_where_it_is():
    with pytest.raises(ValueError, match=r"campaigns\.cart\.b\.click: expected a number between"):
        EngagementConfig.from_mapping({"campaigns": {"cart": {"b": {"click": 1.5}}}})
    with pytest.raises(ValueError, match=r"campaigns\.cart\.b\.clicks: expected one of"):
        EngagementConfig.from_mapping({"campaigns": {"cart": {"b": {"clicks": 0.5}}}})
    with pytest.raises(ValueError, match="rate: not a setting"):
        EngagementConfig.from_mapping({"rate": {}})


def test_a_send_batch_is_written_to_one_file_in_event_time_the_same_bytes_every_time(tmp_path):
    messages = [message(i) for i in range(200)]
    counts = write_engagement(tmp_path, 3, messages, EngagementConfig())
    path = engagement_file(tmp_path, 3)
    first = path.read_text()
    lines = [json.loads(x) for x in first.splitlines()]
    assert len(lines) == counts.opens + counts.clicks + counts.purchases > 0
    assert counts.messages == 200
    assert [e["event_time"] for e in lines] == sorted(e["event_time"] for e in lines)
    write_engagement(tmp_path, 3, list(reversed(messages)), EngagementConfig())
    assert path.read_text() == first


def test_the_packaged_rates_load_and_make_the_cart_reminders_variations_differ():
    from reconnect.cli.tools import engagement_config

    config = engagement_config(None, None)
    plain = config.rates_for("cart-reminder", "plain", "email")
    urgency = config.rates_for("cart-reminder", "urgency", "email")
    assert urgency.click is not None and plain.click is not None and urgency.click > plain.click
