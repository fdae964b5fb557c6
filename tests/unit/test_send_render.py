"""R-SEND-3: template variables and the JSON payload handed to a provider."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from reconnect.send.render import (
    format_percent,
    format_price,
    message_context,
    payload_json,
    render,
    render_payload,
)


def product(slot: int = 1, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "slot": slot,
        "product_id": f"p{slot}",
        "name": f"Shoe {slot}",
        "image_url": f"https://img/{slot}.png",
        "url": f"https://shop/p{slot}",
        "price": Decimal("90.0000"),
        "old_price": Decimal("100.0000"),
        "drop_percent": Decimal("10.0000"),
    }
    row.update(fields)
    return row


def context(products: list[dict[str, object]] | None = None, **user: str) -> dict[str, object]:
    return message_context(
        message_id="m1",
        campaign_id="c1",
        campaign_name="Cart reminder",
        step_name="first",
        channel="email",
        products=[product(1), product(2, price=Decimal("12.5"))] if products is None else products,
        user=user or {"first_name": "Ada", "city": "Paris"},
    )


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{product.name}}", "Shoe 1"),  # product: the first slot
        ("{{ product.price }} was {{product.old_price}}", "90.00 was 100.00"),
        ("-{{product.drop_percent}}%", "-10%"),
        ("{{products.1.name}} at {{products.1.price}}", "Shoe 2 at 12.50"),
        ("{{product.image_url}}", "https://img/1.png"),
        ("{{product.slot}}", "1"),
        ("Hi {{user.first_name}} from {{user.city}}", "Hi Ada from Paris"),
        ("{{campaign.id}}/{{campaign.name}}", "c1/Cart reminder"),
        ("{{message.id}} {{message.step}} {{message.channel}}", "m1 first email"),
    ],
)
def test_r_send_3_every_root_renders(template, expected):
    assert render(template, context()) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{user.last_name}}",  # unknown key
        "{{products.7.name}}",  # index out of range
        "{{product.brand}}",  # not in the feed
        "{{products.x.name}}",  # not an index
        "{{products.0}}",  # not a scalar
        "{{nothing.here}}",  # unknown root
    ],
)
def test_r_send_3_a_missing_value_renders_empty(template):
    assert render(f"[{template}]", context()) == "[]"


def test_r_send_3_null_values_and_no_products_render_empty():
    ctx = context(products=[], first_name="Ada")
    assert ctx["product"] == {}
    assert render("Hi {{user.first_name}}, {{product.name}}!", ctx) == "Hi Ada, !"
    ctx = context(products=[product(1, old_price=None, drop_percent=None)])
    assert render("{{product.old_price}}|{{product.drop_percent}}", ctx) == "|"


@pytest.mark.parametrize(
    ("value", "price", "percent"),
    [
        (Decimal("10.0000"), "10.00", "10"),
        (Decimal("12.5"), "12.50", "12.5"),
        (Decimal("9.9996"), "10.00", "9.99"),  # a drop is floored, a price rounded
        (Decimal("0.005"), "0.01", "0"),
        (10.0, "10.00", "10"),
        (7, "7.00", "7"),
    ],
)
def test_r_send_3_prices_have_two_decimals_and_drops_no_trailing_zeros(value, price, percent):
    assert format_price(value) == price
    assert format_percent(value) == percent


def test_r_send_3_payload_is_plain_json_with_rendered_content():
    template = {"subject": "Hi {{user.first_name}}", "body": "{{product.name}} {{product.price}}"}
    payload = render_payload(template, context(), address="ada@example.com")
    assert payload["message_id"] == "m1" and payload["campaign_id"] == "c1"
    assert payload["step_name"] == "first" and payload["channel"] == "email"
    assert payload["to"] == "ada@example.com"
    assert payload["content"] == {"subject": "Hi Ada", "body": "Shoe 1 90.00"}
    assert payload["products"][1]["price"] == "12.50"
    assert payload["products"][0]["old_price"] == "100.00"
    assert payload["products"][0]["drop_percent"] == "10"
    assert payload["user"] == {"first_name": "Ada", "city": "Paris"}
    # Only JSON types: a round trip gives the same payload, and the text is deterministic.
    assert json.loads(json.dumps(payload)) == payload
    again = render_payload(dict(reversed(template.items())), context(), address="ada@example.com")
    assert payload_json(again) == payload_json(payload)


def hostile(channel: str = "email") -> dict[str, object]:
    return message_context(
        message_id="m1", campaign_id="c1", campaign_name="Cart", step_name="first",
        channel=channel, products=[product(1, name='<script>alert("x")</script> & Co')],
        user={"first_name": "<b>Ada</b>", "email": "ada@example.com", "phone": "+4915112345678",
              "city": "Paris"},
    )  # fmt: skip


def test_values_rendered_into_an_html_email_body_are_escaped():
    template = {
        "subject": "{{product.name}}",
        "body": "<p>Hi {{user.first_name}}: {{product.name}}</p>",
    }
    payload = render_payload(template, hostile(), address="ada@example.com")
    assert payload["content"]["body"] == (
        "<p>Hi &lt;b&gt;Ada&lt;/b&gt;: "
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co</p>"
    )
    # The subject is plain text (a header, not markup): as the value reads.
    assert payload["content"]["subject"] == '<script>alert("x")</script> & Co'


def test_a_variable_marked_raw_is_trusted_markup_and_left_as_it_is():
    template = {"subject": "s", "body": "{{user.first_name | raw}} {{ user.first_name|raw }}"}
    payload = render_payload(template, hostile(), address="ada@example.com")
    assert payload["content"]["body"] == "<b>Ada</b> <b>Ada</b>"


def test_sms_and_push_texts_are_plain_text_and_not_escaped():
    payload = render_payload({"body": "{{product.name}}"}, hostile("sms"), address="+4915112345678")
    assert payload["content"]["body"] == '<script>alert("x")</script> & Co'


@pytest.mark.parametrize(("channel", "address"), [("email", "ada@example.com"),
                                                  ("sms", "+4915112345678"),
                                                  ("app_push", "token-1")])  # fmt: skip
def test_a_payload_carries_only_the_address_of_its_own_channel(channel, address):
    payload = render_payload({"title": "t", "body": "b"}, hostile(channel), address=address)
    text = payload_json(payload)
    others = {"ada@example.com", "+4915112345678", "token-1"} - {address}
    assert payload["to"] == address and not [a for a in others if a in text]
    assert payload["user"] == {"first_name": "<b>Ada</b>", "city": "Paris"}
