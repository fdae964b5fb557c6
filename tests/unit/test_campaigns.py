"""Campaign files: loading, defaults and every validation rule (pure Python, no Spark).

Every refusal is checked for the three things an operator needs: the file, the field path and
what was expected (spec/DATA.md "Campaigns"; rule IDs from spec/RULES.md).
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconnect.campaigns import (
    CAMPAIGN_CLASSES,
    AllOf,
    Campaign,
    CampaignError,
    CartAbandonmentCampaign,
    Compare,
    CustomCampaign,
    Not,
    PriceDropCampaign,
    ProductAttributeChangeCampaign,
    ProductViewCampaign,
    ScheduledCampaign,
    UserAttributeChangeCampaign,
    campaign_rows,
    format_campaign_table,
    load_campaign_file,
    load_campaigns,
    parse_campaign,
)
from reconnect.campaigns.conditions import (
    EVENT_FIELDS,
    EVENT_SCOPE,
    USER_SCOPE,
    ConditionError,
    dump_condition,
    parse_condition,
)
from reconnect.campaigns.content import TEMPLATE_FIELDS
from reconnect.campaigns.types import SlotCampaign, WaitingCampaign, default_copy
from reconnect.campaigns.values import format_duration, parse_duration
from reconnect.lake.schemas import EVENTS
from reconnect.settings import DEFAULT_CONF_DIR
from reconnect.vocabulary import CHANNELS

CART: dict[str, Any] = {
    "id": "cart",
    "type": "cart_abandonment",
    "channels": ["email"],
    "steps": [{"name": "reminder"}],
}
MINIMAL: dict[str, dict[str, Any]] = {
    "cart_abandonment": CART,
    "product_view": {**CART, "id": "view", "type": "product_view"},
    "custom": {**CART, "id": "ping", "type": "custom", "trigger": {"event_name": "ping"}},
    "price_drop": {**CART, "id": "price", "type": "price_drop"},
    "product_attribute_change": {
        **CART,
        "id": "back",
        "type": "product_attribute_change",
        "trigger": {"change": {"attribute": "stock"}},
    },
    "user_attribute_change": {
        **CART,
        "id": "tier",
        "type": "user_attribute_change",
        "trigger": {"change": {"attribute": "loyalty_tier"}},
    },
    "scheduled": {
        **CART,
        "id": "news",
        "type": "scheduled",
        "trigger": {"every": {"days": ["monday"], "hour": 9}},
    },
}
WAITING_TYPES = ("cart_abandonment", "product_view", "custom")
SLOT_TYPES = ("price_drop", "product_attribute_change", "user_attribute_change")


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of ``base`` with fields replaced; a value of None removes the field."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def write(folder: Path, raw: Any, name: str = "campaign.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
    return path


def refusal(tmp_path: Path, raw: Any) -> tuple[Path, CampaignError]:
    path = write(tmp_path / "campaigns", raw)
    with pytest.raises(CampaignError) as err:
        load_campaigns(tmp_path / "campaigns")
    return path, err.value


def assert_refused(tmp_path: Path, raw: Any, field_path: str, expected: str) -> None:
    """The file is refused with exactly one problem at ``field_path`` that says ``expected``."""
    path, err = refusal(tmp_path, raw)
    assert len(err.problems) == 1, str(err)
    problem = err.problems[0]
    assert (problem.file, problem.path) == (str(path), field_path), str(err)
    assert expected in problem.message, str(err)
    assert f"{path}" in str(err) and f": {field_path}: " in str(err) and expected in str(err)


def loads(raw: dict[str, Any]) -> Campaign:
    return parse_campaign(raw, "test.yaml")


# --- vectors.yaml: every campaign is expressible ------------------------------------------------

# Each campaign of spec/vectors.yaml, in this project's format. Only three need translating: the
# trigger keys of price_drop, product_attribute_change and user_attribute_change sit under
# `trigger:` here (V11, V12, V13); the others are verbatim.
VECTOR_CAMPAIGNS = {
    "V01-V05-cart": """
        {id: cart, type: cart_abandonment, wait: 3h, dont_send_if: [purchase, new_session],
         channels: [email], steps: [{name: reminder}]}""",
    "V06-ping": """
        {id: ping, type: custom, trigger: {event_name: ping}, wait: 5m, dont_send_if: [],
         channels: [email], steps: [{name: ping}]}""",
    "V06-ping2": """
        {id: ping2, type: custom, trigger: {event_name: ping2}, wait: 5m, dont_send_if: [],
         channels: [email], steps: [{name: ping2}]}""",
    "V07-a": """
        {id: a, type: custom, priority: 1, trigger: {event_name: offer}, wait: 1h,
         dont_send_if: [], channels: [email], steps: [{name: a}]}""",
    "V07-b": """
        {id: b, type: custom, priority: 2, trigger: {event_name: offer}, wait: 1h,
         dont_send_if: [], channels: [email], steps: [{name: b}]}""",
    "V08-cart": """
        {id: cart, type: cart_abandonment, wait: 3h, dont_send_if: [purchase, new_session],
         channels: [email], steps: [{name: first}, {name: second, wait: 24h}]}""",
    "V08-view": """
        {id: view, type: product_view, wait: 3h,
         dont_send_if: [purchase, new_session, add_to_cart], channels: [email],
         steps: [{name: browse}]}""",
    "V09-cart": """
        {id: cart, type: cart_abandonment, wait: 3h, dont_send_if: [purchase],
         channels: [email, sms], steps: [{name: reminder}]}""",
    "V10-cart": """
        {id: cart, type: cart_abandonment, wait: 3h, dont_send_if: [purchase], channels: [email],
         variations: [{id: holdout, weight: 100, control: true, steps: [{name: reminder}]}]}""",
    "V11-price": """
        {id: price, type: price_drop,
         trigger: {interaction: add_to_cart, min_drop_percent: 10},
         schedule: {days: all, hour: 10}, channels: [email], steps: [{name: drop}]}""",
    "V12-back": """
        {id: back, type: product_attribute_change,
         trigger: {interaction: product_view,
                   change: {attribute: stock, from: 0, to_greater_than: 0}},
         schedule: {days: all, hour: 10}, timezone: Europe/Berlin, channels: [email],
         steps: [{name: back}]}""",
    "V12-monday": """
        {id: monday, type: product_attribute_change,
         trigger: {interaction: product_view,
                   change: {attribute: stock, from: 0, to_greater_than: 0}},
         schedule: {days: [monday], hour: 10}, channels: [email], steps: [{name: back}]}""",
    "V13-tier": """
        {id: tier, type: user_attribute_change,
         trigger: {change: {attribute: loyalty_tier, to: Silver}},
         schedule: {days: all, hour: 10}, channels: [email], steps: [{name: congrats}]}""",
}


@pytest.mark.parametrize("name", VECTOR_CAMPAIGNS)
def test_every_vectors_yaml_campaign_loads_from_a_file(tmp_path, name):
    path = write(tmp_path, VECTOR_CAMPAIGNS[name], f"{name}.yaml")
    campaign = load_campaign_file(path)
    assert campaign.id == yaml.safe_load(VECTOR_CAMPAIGNS[name])["id"]
    assert campaign.channels and campaign.variations[0].steps[0].templates


def vector(name: str) -> Campaign:
    return loads(yaml.safe_load(VECTOR_CAMPAIGNS[name]))


def test_vector_settings_are_read_as_the_vectors_mean_them():
    cart = vector("V08-cart")
    assert isinstance(cart, CartAbandonmentCampaign)
    assert cart.wait == timedelta(hours=3)
    assert [s.wait for s in cart.variations[0].steps] == [None, timedelta(hours=24)]
    assert cart.dont_send_if == ("purchase", "new_session")
    assert vector("V09-cart").channels == ("email", "sms")

    holdout = vector("V10-cart").variations
    assert [(v.id, v.weight, v.control) for v in holdout] == [("holdout", 100, True)]

    a, b = vector("V07-a"), vector("V07-b")
    assert isinstance(a, CustomCampaign) and isinstance(b, CustomCampaign)
    assert (a.priority, b.priority) == (1, 2)
    assert (a.trigger.event_type, a.trigger.event_name) == ("custom", "offer")
    assert vector("V06-ping").wait == timedelta(minutes=5)
    assert vector("V06-ping").dont_send_if == ()

    price = vector("V11-price")
    assert isinstance(price, PriceDropCampaign)
    assert price.trigger.min_drop_percent == Decimal(10)
    assert price.trigger.interaction == "add_to_cart"
    assert (price.schedule.weekday_numbers(), price.schedule.hour) == (tuple(range(7)), 10)
    assert price.watch_window == timedelta(days=30)

    back, monday = vector("V12-back"), vector("V12-monday")
    assert isinstance(back, ProductAttributeChangeCampaign)
    assert isinstance(monday, ProductAttributeChangeCampaign)
    assert back.timezone == "Europe/Berlin" and monday.timezone == "UTC"
    assert monday.schedule.weekday_numbers() == (0,)
    change = back.trigger.change
    assert (change.attribute, change.from_, change.to_greater_than) == ("stock", 0, 0.0)

    tier = vector("V13-tier")
    assert isinstance(tier, UserAttributeChangeCampaign)
    assert tier.trigger.change.to == "Silver"
    assert tier.trigger.include_first_appearance is False


# --- the shipped demo campaigns -------------------------------------------------------------

SHIPPED = DEFAULT_CONF_DIR / "campaigns"


def test_shipped_campaigns_load_and_cover_every_type():
    campaigns = load_campaigns(SHIPPED)
    assert sorted(c.type for c in campaigns) == sorted(CAMPAIGN_CLASSES)
    assert any(c.caps for c in campaigns)  # R-CAP-2
    assert any(isinstance(c, CustomCampaign) and c.cancel_all_others for c in campaigns)
    ab = [c for c in campaigns if len(c.variations) > 1]
    assert ab and any(v.control for c in ab for v in c.variations)  # R-AB-2


def test_shipped_campaign_file_names_are_their_ids():
    for path in SHIPPED.glob("*.yaml"):
        assert load_campaign_file(path).id == path.stem


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.stem)
def test_a_loaded_campaign_written_back_to_yaml_loads_equal(tmp_path, path):
    campaign = load_campaign_file(path)
    again = write(tmp_path, yaml.safe_dump(campaign.to_mapping(), sort_keys=False))
    assert load_campaign_file(again) == campaign


# --- defaults -------------------------------------------------------------------------------


def test_a_minimal_cart_campaign_gets_the_documented_defaults():
    cart = loads(CART)
    assert isinstance(cart, CartAbandonmentCampaign)
    assert (cart.name, cart.status, cart.priority, cart.timezone) == ("cart", "active", 1, "UTC")
    assert cart.wait == timedelta(hours=3)  # R-TRIG-2
    assert cart.dont_send_if == ("purchase", "new_session")  # R-TYPE-CART
    assert cart.audience is None  # R-TRIG-5: all users
    assert cart.attribution_window == timedelta(days=7)  # R-ATTR-1
    assert cart.caps == {} and cart.primary_metric == "purchases_per_user"
    assert cart.trigger.product is None
    [variation] = cart.variations
    assert (variation.id, variation.weight, variation.control) == ("default", 100, False)
    email = variation.steps[0].templates["email"]
    assert (email.subject, email.body) == default_copy()["cart_abandonment"]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("cart_abandonment", ("purchase", "new_session")),
        ("product_view", ("purchase", "new_session", "add_to_cart")),
        ("price_drop", ("purchase_in_watch_window",)),
        ("product_attribute_change", ("purchase_of_product",)),
        ("user_attribute_change", ()),
        ("custom", ()),
        ("scheduled", ()),
    ],
)
def test_dont_send_if_defaults_follow_the_rules_table(kind, expected):
    assert loads(MINIMAL[kind]).dont_send_if == expected


@pytest.mark.parametrize("kind", SLOT_TYPES)
def test_r_trig_3_schedule_defaults_to_every_day_at_ten(kind):
    campaign = loads(MINIMAL[kind])
    assert isinstance(campaign, SlotCampaign)
    assert (campaign.schedule.days, campaign.schedule.hour) == ("all", 10)


def test_r_trig_4_price_and_product_campaigns_watch_30_days_and_default_to_add_to_cart():
    price, back = loads(MINIMAL["price_drop"]), loads(MINIMAL["product_attribute_change"])
    assert isinstance(price, PriceDropCampaign)
    assert isinstance(back, ProductAttributeChangeCampaign)
    assert price.watch_window == back.watch_window == timedelta(days=30)
    assert price.trigger.interaction == back.trigger.interaction == "add_to_cart"
    assert (price.trigger.min_drop_percent, price.trigger.min_drop_amount) == (10, None)


def test_r_type_price_a_fixed_amount_replaces_the_default_percent():
    price = loads(with_(MINIMAL["price_drop"], trigger={"min_drop_amount": 5.5}))
    assert isinstance(price, PriceDropCampaign)
    assert (price.trigger.min_drop_percent, price.trigger.min_drop_amount) == (
        None,
        Decimal("5.5"),
    )


def test_r_type_uattr_first_appearance_is_not_a_change_unless_asked():
    tier = loads(MINIMAL["user_attribute_change"])
    assert isinstance(tier, UserAttributeChangeCampaign)
    assert tier.trigger.include_first_appearance is False
    trigger = {"change": {"attribute": "loyalty_tier"}, "include_first_appearance": True}
    asked = loads(with_(MINIMAL["user_attribute_change"], trigger=trigger))
    assert isinstance(asked, UserAttributeChangeCampaign)
    assert asked.trigger.include_first_appearance is True


def test_r_type_custom_an_event_name_implies_a_custom_event_and_no_cancel_all_others():
    ping = loads(MINIMAL["custom"])
    assert isinstance(ping, CustomCampaign)
    assert (ping.trigger.event_type, ping.cancel_all_others, ping.wait) == (
        "custom",
        False,
        timedelta(hours=3),
    )


def test_r_type_custom_a_tracked_action_with_a_property_condition():
    trigger = {
        "event_type": "product_view",
        "where": {"field": "properties.color", "op": "exists"},
    }
    custom = loads(with_(MINIMAL["custom"], trigger=trigger, cancel_all_others=True))
    assert isinstance(custom, CustomCampaign)
    assert custom.trigger.event_type == "product_view" and custom.trigger.event_name is None
    assert custom.trigger.where == Compare("properties.color", "exists")
    assert custom.cancel_all_others is True  # R-PRIO-3


def test_templates_left_out_get_the_type_default_for_every_channel():
    view = loads(with_(MINIMAL["product_view"], channels=["sms", "web_push"]))
    templates = view.variations[0].steps[0].templates
    headline, text = default_copy()["product_view"]
    assert set(templates) == {"sms", "web_push"}
    assert (templates["sms"].body, templates["sms"].subject) == (text, None)
    assert (templates["web_push"].title, templates["web_push"].body) == (headline, text)


def test_every_type_has_a_default_message_and_every_channel_a_template_rule():
    assert set(default_copy()) == set(CAMPAIGN_CLASSES)
    assert set(TEMPLATE_FIELDS) == set(CHANNELS)


def test_audience_all_means_every_user():
    assert loads(with_(CART, audience="all")).audience is None


def test_scheduled_one_off_time_without_offset_is_in_the_campaign_time_zone():
    news = loads(
        with_(
            MINIMAL["scheduled"],
            timezone="Europe/Berlin",
            trigger={"at": "2026-07-01T10:00:00"},
        )
    )
    assert isinstance(news, ScheduledCampaign)
    assert news.one_off_utc() == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # summer time, UTC+2


def test_schedule_day_names_are_case_insensitive():
    back = loads(
        with_(MINIMAL["product_attribute_change"], schedule={"days": ["Friday", "monday"]})
    )
    assert isinstance(back, ProductAttributeChangeCampaign)
    assert back.schedule.weekday_numbers() == (0, 4)


def test_r_ab_1_weights_with_two_decimals_fill_the_10000_buckets_exactly():
    steps = [{"name": "s"}]
    campaign = loads(
        with_(
            CART,
            steps=None,
            variations=[
                {"id": "a", "weight": 33.33, "steps": steps},
                {"id": "b", "weight": 33.33, "steps": steps},
                {"id": "c", "weight": 33.34, "steps": steps},
            ],
        )
    )
    assert campaign.variation_buckets() == (("a", 0, 3333), ("b", 3333, 6666), ("c", 6666, 10000))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5m", timedelta(minutes=5)), ("4m59s", timedelta(minutes=4, seconds=59)),
     ("1d12h", timedelta(hours=36)), ("90d", timedelta(days=90))],
)  # fmt: skip
def test_durations_read_and_write_back_the_same(text, expected):
    assert parse_duration(text) == expected
    assert format_duration(expected) == text


# --- R-TRIG-2 wait --------------------------------------------------------------------------


@pytest.mark.parametrize("wait", ["5m", "90d", "2160h", "1d2h30m"])
@pytest.mark.parametrize("kind", WAITING_TYPES)
def test_r_trig_2_waits_inside_5_minutes_to_90_days_are_accepted(kind, wait):
    campaign = loads(with_(MINIMAL[kind], wait=wait))
    assert isinstance(campaign, WaitingCampaign)
    assert campaign.wait == parse_duration(wait)


@pytest.mark.parametrize("wait", ["4m59s", "91d", "90d1s", "0m"])
def test_r_trig_2_wait_outside_5_minutes_to_90_days_is_rejected(tmp_path, wait):
    assert_refused(
        tmp_path, with_(CART, wait=wait), "wait", "expected a wait from 5m to 90d (R-TRIG-2)"
    )


def test_r_trig_2_wait_below_5_minutes_is_rejected_naming_the_campaign(tmp_path):
    _, err = refusal(tmp_path, with_(CART, wait="4m59s"))
    assert "(campaign cart): wait: expected a wait from 5m to 90d (R-TRIG-2); got 4m59s" in str(err)


@pytest.mark.parametrize("wait", ["3 hours", "3H", 180, "", "h"])
def test_r_trig_2_a_wait_that_is_not_a_duration_is_rejected(tmp_path, wait):
    assert_refused(tmp_path, with_(CART, wait=wait), "wait", "expected a duration such as 5m")


@pytest.mark.parametrize("kind", [*SLOT_TYPES, "scheduled"])
def test_r_trig_2_wait_on_a_schedule_type_is_rejected(tmp_path, kind):
    assert_refused(
        tmp_path,
        with_(MINIMAL[kind], wait="3h"),
        "wait",
        f"not available for {kind} campaigns; only for cart_abandonment, product_view, custom "
        "(R-TRIG-2",
    )


@pytest.mark.parametrize("kind", [*WAITING_TYPES, "scheduled"])
def test_r_trig_3_schedule_on_a_waiting_type_is_rejected(tmp_path, kind):
    assert_refused(
        tmp_path,
        with_(MINIMAL[kind], schedule={"days": "all", "hour": 10}),
        "schedule",
        f"not available for {kind} campaigns; only for price_drop",
    )


# --- R-TRIG-3 schedule, R-TRIG-4 watch window ----------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "field_path", "expected"),
    [
        ({"hour": 24}, "schedule.hour", "expected less than or equal to 23; got 24"),
        ({"hour": -1}, "schedule.hour", "expected greater than or equal to 0"),
        ({"hour": "10"}, "schedule.hour", "expected a valid integer; got '10'"),
        ({"days": ["funday"]}, "schedule.days", "weekday names (monday .. sunday)"),
        ({"days": []}, "schedule.days", "non-empty list of weekday names"),
        ({"days": ["monday", "monday"]}, "schedule.days", "each once"),
        ({"days": "weekdays"}, "schedule.days", "expected all or"),
        ({"minute": 30}, "schedule.minute", "unknown field; expected one of days, hour"),
    ],
)
def test_r_trig_3_bad_schedules_are_rejected(tmp_path, schedule, field_path, expected):
    assert_refused(tmp_path, with_(MINIMAL["price_drop"], schedule=schedule), field_path, expected)


@pytest.mark.parametrize("window", ["12h", "91d"])
def test_r_trig_4_watch_window_outside_1_to_90_days_is_rejected(tmp_path, window):
    assert_refused(
        tmp_path,
        with_(MINIMAL["price_drop"], watch_window=window),
        "watch_window",
        "expected a watch window from 1d to 90d (R-TRIG-4)",
    )


@pytest.mark.parametrize("kind", [*WAITING_TYPES, "user_attribute_change", "scheduled"])
def test_r_trig_4_watch_window_only_on_price_and_product_campaigns(tmp_path, kind):
    assert_refused(
        tmp_path,
        with_(MINIMAL[kind], watch_window="30d"),
        "watch_window",
        "only for price_drop, product_attribute_change (R-TRIG-4)",
    )


# --- triggers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "trigger", "field_path", "expected"),
    [
        ("price_drop", {"min_drop_percent": 10, "min_drop_amount": 5},
         "trigger.min_drop_amount", "expected min_drop_percent or min_drop_amount, not both"),
        ("price_drop", {"min_drop_percent": 0}, "trigger.min_drop_percent",
         "expected greater than 0"),
        ("price_drop", {"min_drop_percent": 101}, "trigger.min_drop_percent",
         "expected less than or equal to 100"),
        ("price_drop", {"interaction": "purchase"}, "trigger.interaction",
         "expected 'add_to_cart' or 'product_view'"),
        ("product_attribute_change", {}, "trigger.change", "required"),
        ("product_attribute_change",
         {"change": {"attribute": "stock", "to": 5, "to_greater_than": 0}},
         "trigger.change.to", "expected either to or to_greater_than / to_less_than"),
        ("user_attribute_change",
         {"change": {"attribute": "loyalty_tier", "from": "Gold", "to": "Gold"}},
         "trigger.change.to", "never a change"),
        ("user_attribute_change", {"change": {"attribute": "newsletter", "to": True}},
         "trigger.change.to", "quote it to compare text"),
        ("user_attribute_change",
         {"change": {"attribute": "tier"}, "include_first_appearance": "yes"},
         "trigger.include_first_appearance", "expected true or false"),
        ("product_attribute_change",
         {"change": {"attribute": "stock", "to_greater_than": 5, "to_less_than": 5}},
         "trigger.change.to_less_than", "expected a bound above to_greater_than"),
        ("custom", {"where": {"field": "event_name", "op": "eq", "value": "x"}},
         "trigger.event_type", "expected event_type and/or event_name"),
        ("custom", {"event_type": "purchase", "event_name": "ping"}, "trigger.event_name",
         "expected no event_name unless event_type is custom"),
        ("custom", {"event_type": "checkout"}, "trigger.event_type",
         "expected one of page_view, category_view"),
        ("scheduled", {"at": "2026-12-01T10:00:00", "every": {"hour": 9}}, "trigger",
         "expected either at (one-off) or every (recurring)"),
        ("scheduled", {}, "trigger", "expected either at (one-off) or every (recurring)"),
        ("scheduled", {"at": date(2026, 12, 1)}, "trigger.at",
         "expected a date and a time, e.g. 2026-12-01T10:00:00"),
        ("scheduled", {"at": "soon"}, "trigger.at", "expected a valid datetime"),
        ("cart_abandonment", {"product": {"field": "attributes.brand", "op": "like"}},
         "trigger.product.op", "expected one of eq, ne, in"),
    ],
)  # fmt: skip
def test_bad_triggers_are_rejected(tmp_path, kind, trigger, field_path, expected):
    assert_refused(tmp_path, with_(MINIMAL[kind], trigger=trigger), field_path, expected)


def test_custom_campaign_needs_a_trigger(tmp_path):
    assert_refused(tmp_path, with_(MINIMAL["custom"], trigger=None), "trigger", "required")


def test_r_prio_3_cancel_all_others_only_on_custom_campaigns(tmp_path):
    assert_refused(
        tmp_path,
        with_(CART, cancel_all_others=True),
        "cancel_all_others",
        "only for custom (R-PRIO-3)",
    )


def test_r_type_sched_a_local_time_skipped_by_the_clock_change_is_rejected(tmp_path):
    raw = with_(
        MINIMAL["scheduled"], timezone="Europe/Berlin", trigger={"at": "2026-03-29T02:30:00"}
    )
    assert_refused(
        tmp_path, raw, "trigger.at", "expected a local time that exists in Europe/Berlin"
    )


# --- R-TRIG-1 conditions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("audience", "field_path", "expected"),
    [
        ({"all": [{"field": "attributes.country", "op": "eq", "value": "DE"},
                  {"field": "attributes.tier", "op": "equals", "value": "Gold"}]},
         "audience.all[1].op", "expected one of eq, ne, in, not_in, gt, gte, lt, lte, contains, "
         "exists, not_exists; got 'equals'"),
        ({"field": "attributes.tier", "value": "Gold"}, "audience.op", "got missing"),
        ({"field": "category", "op": "eq", "value": "shoes"}, "audience.field",
         "expected a field of the user: attributes.<key>; got 'category'"),
        ({"field": "properties.x", "op": "exists"}, "audience.field",
         "unknown field namespace 'properties'"),
        ({"field": "user.country", "op": "exists"}, "audience.field",
         "unknown field namespace 'user'"),
        ({"field": "attributes.", "op": "exists"}, "audience.field", "expected a key after"),
        ({"field": "attributes.tier", "op": "in", "value": "Gold"}, "audience.value",
         "expected a non-empty list of text or numbers for 'in'"),
        ({"field": "attributes.tier", "op": "not_in", "value": []}, "audience.value",
         "expected a non-empty list"),
        ({"field": "attributes.tier", "op": "eq", "value": ["Gold"]}, "audience.value",
         "expected text or a number"),
        ({"field": "attributes.tier", "op": "eq"}, "audience.value", "expected a value for 'eq'"),
        ({"field": "attributes.tier", "op": "exists", "value": "x"}, "audience.value",
         "expected no value"),
        ({"field": "attributes.name", "op": "contains", "value": 5}, "audience.value",
         "expected text for 'contains'"),
        ({"field": "attributes.vip", "op": "eq", "value": True}, "audience.value",
         "got the YAML boolean True: quote it"),
        ({"field": "attributes.vip", "op": "eq", "value": None}, "audience.value",
         "expected text or a number, got None"),
        ({"field": "attributes.vip", "op": "eq", "value": 1, "note": "x"}, "audience.note",
         "unknown key"),
        ({"all": [], }, "audience.all", "expected a non-empty list of conditions"),
        ({"all": [{"field": "attributes.a", "op": "exists"}], "any": []}, "audience",
         "expected one key (all, any or not) per combination"),
        ({"not": "attributes.a"}, "audience.not", "expected a condition"),
        ("vip", "audience", "expected a condition"),
    ],
)  # fmt: skip
def test_r_trig_1_bad_conditions_are_rejected_with_their_path(
    tmp_path, audience, field_path, expected
):
    assert_refused(tmp_path, with_(CART, audience=audience), field_path, expected)


def test_r_trig_1_every_condition_problem_is_listed(tmp_path):
    audience = {
        "any": [
            {"field": "attributes.a", "op": "bad"},
            {"not": {"field": "category", "op": "exists"}},
        ]
    }
    _, err = refusal(tmp_path, with_(CART, audience=audience))
    assert [p.path for p in err.problems] == ["audience.any[0].op", "audience.any[1].not.field"]


@pytest.mark.parametrize(
    ("rule", "field_path", "expected"),
    [
        ("refund", "dont_send_if[1]", "expected one of purchase, purchase_of_product"),
        ({"field": "attributes.tier", "op": "exists"}, "dont_send_if[1].field",
         "unknown field namespace 'attributes'; expected an event"),
        ({"field": "colour", "op": "exists"}, "dont_send_if[1].field",
         "expected a field of an event: one of event_type, event_name"),
    ],
)  # fmt: skip
def test_r_exit_1_bad_dont_send_if_entries_are_rejected(tmp_path, rule, field_path, expected):
    assert_refused(tmp_path, with_(CART, dont_send_if=["purchase", rule]), field_path, expected)


def test_r_exit_1_dont_send_if_mixes_shorthands_and_event_conditions():
    rule = {
        "all": [
            {"field": "event_type", "op": "eq", "value": "purchase"},
            {"field": "revenue", "op": "gte", "value": 50},
        ]
    }
    cart = loads(with_(CART, dont_send_if=["new_session", rule]))
    assert cart.dont_send_if == (
        "new_session",
        AllOf((Compare("event_type", "eq", "purchase"), Compare("revenue", "gte", 50))),
    )


@pytest.mark.parametrize("word", ["purchase_of_product", "purchase_in_watch_window"])
def test_product_shorthands_are_rejected_where_there_is_no_product(tmp_path, word):
    assert_refused(
        tmp_path,
        with_(MINIMAL["user_attribute_change"], dont_send_if=[word]),
        "dont_send_if[0]",
        "expected one of purchase, new_session, add_to_cart or an event condition for "
        "user_attribute_change",
    )


@pytest.mark.parametrize("rules", [["purchase"], [], ["purchase_in_watch_window", "purchase"]])
def test_r_type_price_dont_send_if_is_fixed(tmp_path, rules):
    assert_refused(
        tmp_path,
        with_(MINIMAL["price_drop"], dont_send_if=rules),
        "dont_send_if",
        "fixed to [purchase_in_watch_window] for price_drop",
    )


def test_conditions_read_back_from_their_yaml_form():
    raw = {
        "any": [
            {"field": "event_name", "op": "in", "value": ["a", 2]},
            {"not": {"field": "properties.x", "op": "not_exists"}},
        ]
    }
    condition = parse_condition(raw, EVENT_SCOPE)
    assert condition == parse_condition(dump_condition(condition), EVENT_SCOPE)
    assert dump_condition(condition) == raw
    assert isinstance(condition.conditions[1], Not)  # type: ignore[union-attr]


def test_condition_errors_carry_every_location():
    with pytest.raises(ConditionError) as err:
        parse_condition({"all": [{"field": "x", "op": "eq", "value": 1}, 3]}, USER_SCOPE)
    assert [loc for loc, _ in err.value.problems] == [("all", 0, "field"), ("all", 1)]


def test_event_condition_fields_are_columns_of_the_bronze_events_table():
    assert set(EVENT_FIELDS) <= set(EVENTS.fieldNames())


# --- R-STEP-1 / R-STEP-2 steps --------------------------------------------------------------


def steps(n: int) -> list[dict[str, Any]]:
    return [{"name": f"s{i}", **({"wait": "1d"} if i else {})} for i in range(n)]


@pytest.mark.parametrize("count", [0, 11])
def test_r_step_1_step_count_outside_1_to_10_is_rejected(tmp_path, count):
    assert_refused(
        tmp_path,
        with_(CART, steps=steps(count)),
        "steps",
        f"expected 1 to 10 steps (R-STEP-1); got {count}",
    )


def test_r_step_1_ten_steps_are_accepted():
    assert len(loads(with_(CART, steps=steps(10))).variations[0].steps) == 10


def test_r_step_1_a_step_with_no_message_for_any_channel_is_rejected(tmp_path):
    raw = with_(CART, steps=[{"name": "empty", "templates": {}}])
    assert_refused(
        tmp_path,
        raw,
        "steps[0].templates",
        "expected a message for at least one of email (R-STEP-1); only a control variation",
    )


def test_r_step_1_a_step_with_messages_only_for_other_channels_is_rejected(tmp_path):
    raw = with_(CART, steps=[{"name": "s", "templates": {"sms": {"body": "hi"}}}])
    path, err = refusal(tmp_path, raw)
    assert {(p.path, p.message.split(";")[0].split(" (")[0]) for p in err.problems} == {
        ("steps[0].templates.sms", "expected a channel of this campaign"),
        ("steps[0].templates", "expected a message for at least one of email"),
    }
    assert all(p.file == str(path) for p in err.problems)


def test_r_ab_2_a_control_variation_may_have_steps_without_messages():
    raw = with_(
        CART,
        steps=None,
        variations=[
            {"id": "holdout", "weight": 100, "control": True,
             "steps": [{"name": "reminder", "templates": {}}]},
        ],
    )  # fmt: skip
    [holdout] = loads(raw).variations
    assert holdout.control and holdout.steps[0].templates == {}


@pytest.mark.parametrize(
    ("step_list", "field_path", "expected"),
    [
        ([{"name": "a", "wait": "1h"}], "steps[0].wait", "expected no wait on step 1"),
        ([{"name": "a"}, {"name": "b"}], "steps[1].wait", "expected the wait after the previous"),
        ([{"name": "a"}, {"name": "b", "wait": "4m"}], "steps[1].wait",
         "expected a wait from 5m to 90d (R-TRIG-2); got 4m"),
        ([{"name": "a"}, {"name": "a", "wait": "1d"}], "steps[1].name",
         "expected a unique step name; 'a' repeats (R-STEP-2)"),
        ([{"wait": "1d"}], "steps[0].name", "required"),
        ([{"name": "  "}], "steps[0].name", "expected non-empty text"),
        ([{"name": "a", "email": {"body": "x"}}], "steps[0].email",
         "unknown field; expected one of name, wait, templates"),
    ],
)  # fmt: skip
def test_r_step_bad_steps_are_rejected(tmp_path, step_list, field_path, expected):
    assert_refused(tmp_path, with_(CART, steps=step_list), field_path, expected)


# --- templates and channels (R-CHAN-1) ------------------------------------------------------


@pytest.mark.parametrize(
    ("templates", "field_path", "expected"),
    [
        ({"fax": {"body": "x"}}, "steps[0].templates.fax",
         "unknown channel; expected one of email, sms, web_push, app_push (R-CHAN-1)"),
        ({"email": {"body": "x"}}, "steps[0].templates.email.subject", "required in email"),
        ({"email": {"subject": "s"}}, "steps[0].templates.email.body", "required"),
        ({"email": {"subject": "s", "body": "b", "title": "t"}},
         "steps[0].templates.email.title", "not used by email; expected subject, body"),
        ({"email": {"subject": "Hi {{prodcut.name}}", "body": "b"}},
         "steps[0].templates.email.subject", "got {{prodcut.name}}"),
        ({"email": {"subject": "s", "body": "Hi {{user.first_name}"}},
         "steps[0].templates.email.body", "expected every {{ to be closed by }}"),
        ({"email": {"subject": "", "body": "b"}}, "steps[0].templates.email.subject",
         "expected non-empty text"),
        ({"email": "Hello"}, "steps[0].templates.email", "expected a mapping of fields"),
    ],
)  # fmt: skip
def test_r_chan_1_bad_templates_are_rejected(tmp_path, templates, field_path, expected):
    raw = with_(CART, steps=[{"name": "s", "templates": templates}])
    assert_refused(tmp_path, raw, field_path, expected)


@pytest.mark.parametrize(
    ("channels", "field_path", "expected"),
    [
        (["email", "fax"], "channels[1]",
         "expected one of email, sms, web_push, app_push (R-CHAN-1); got 'fax'"),
        (["email", "email"], "channels[1]", "expected each channel once; 'email' repeats"),
        ([], "channels", "expected at least one of email, sms, web_push, app_push (R-CHAN-1)"),
        (None, "channels", "required"),
        ("email", "channels", "expected a list"),
    ],
)  # fmt: skip
def test_r_chan_1_bad_channel_lists_are_rejected(tmp_path, channels, field_path, expected):
    raw = with_(CART, channels=channels) if channels is not None else with_(CART, channels=None)
    assert_refused(tmp_path, raw, field_path, expected)


# --- R-CAP-2 caps, R-ATTR-1 attribution -----------------------------------------------------


def test_r_cap_2_a_cap_window_defaults_to_24_hours():
    cart = loads(with_(CART, channels=["email", "sms"], caps={"sms": {"count": 2}}))
    assert (cart.caps["sms"].count, cart.caps["sms"].window) == (2, timedelta(hours=24))


@pytest.mark.parametrize(
    ("caps", "field_path", "expected"),
    [
        ({"sms": {"count": 1}}, "caps.sms", "expected a channel of this campaign (email)"),
        ({"fax": {"count": 1}}, "caps.fax", "unknown channel; expected one of email, sms"),
        ({"email": {"count": 0}}, "caps.email.count", "expected greater than or equal to 1"),
        ({"email": {"window": "1d"}}, "caps.email.count", "required"),
        ({"email": {"count": 1, "window": "30m"}}, "caps.email.window",
         "expected a cap window from 1h to 90d (R-CAP-2)"),
    ],
)  # fmt: skip
def test_r_cap_2_bad_caps_are_rejected(tmp_path, caps, field_path, expected):
    assert_refused(tmp_path, with_(CART, caps=caps), field_path, expected)


@pytest.mark.parametrize("window", ["1d", "30d", "36h"])
def test_r_attr_1_attribution_windows_of_1_to_30_days_are_accepted(window):
    assert loads(with_(CART, attribution_window=window)).attribution_window == parse_duration(
        window
    )


@pytest.mark.parametrize("window", ["23h", "31d"])
def test_r_attr_1_attribution_window_outside_1_to_30_days_is_rejected(tmp_path, window):
    assert_refused(
        tmp_path,
        with_(CART, attribution_window=window),
        "attribution_window",
        f"expected an attribution window from 1d to 30d (R-ATTR-1); got {window}",
    )


# --- R-AB-1 variations ----------------------------------------------------------------------


def variation(vid: str, weight: Any, **more: Any) -> dict[str, Any]:
    return {"id": vid, "weight": weight, "steps": [{"name": "s"}], **more}


@pytest.mark.parametrize(
    ("variations", "field_path", "expected"),
    [
        ([variation("a", 50), variation("b", 40)], "variations",
         "expected weights that sum to 100 (R-AB-1); they sum to 90"),
        ([variation("a", 50), variation("b", 50.5)], "variations", "they sum to 100.5"),
        ([variation("a", 50), variation("a", 50)], "variations[1].id",
         "expected a unique variation id; 'a' repeats"),
        ([variation("a", 100.001)], "variations[0].weight",
         "expected no more than 2 decimal places"),
        ([variation("a", 0), variation("b", 100)], "variations[0].weight",
         "expected greater than 0"),
        ([variation("A B", 100)], "variations[0].id", "expected an id of lowercase letters"),
        ([variation("a", 100, control="yes")], "variations[0].control",
         "expected true or false"),
        ([], "variations", "expected at least one variation"),
    ],
)  # fmt: skip
def test_r_ab_1_bad_variations_are_rejected(tmp_path, variations, field_path, expected):
    assert_refused(tmp_path, with_(CART, steps=None, variations=variations), field_path, expected)


def test_r_ab_1_weights_are_checked_even_when_a_variation_has_other_problems(tmp_path):
    bad_step = {"id": "b", "weight": 40, "steps": [{"name": "s", "wait": "1h"}]}
    _, err = refusal(tmp_path, with_(CART, steps=None, variations=[variation("a", 50), bad_step]))
    assert {p.path for p in err.problems} == {"variations", "variations[1].steps[0].wait"}


def test_steps_and_variations_together_are_rejected(tmp_path):
    raw = with_(CART, variations=[variation("a", 100)])
    assert_refused(tmp_path, raw, "steps", "expected steps (one variation) or variations, not both")


# --- top-level fields -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field_path", "expected"),
    [
        ({"id": "Cart Reminder"}, "id", "expected an id of lowercase letters, digits"),
        ({"id": None}, "id", "required"),
        ({"type": "abandoned_cart"}, "type",
         "expected one of cart_abandonment, product_view, price_drop"),
        ({"type": None}, "type", "missing"),
        ({"status": "on"}, "status", "expected 'active' or 'paused'; got 'on'"),
        ({"priority": 0}, "priority", "expected greater than or equal to 1; got 0"),
        ({"priority": 1.5}, "priority", "expected a valid integer"),
        ({"timezone": "Mars/Olympus"}, "timezone",
         "expected an IANA time zone such as Europe/Berlin; got 'Mars/Olympus'"),
        ({"timezone": "CET+1"}, "timezone", "expected an IANA time zone"),
        ({"primary_metric": "opens"}, "primary_metric",
         "expected 'purchases_per_user', 'revenue_per_user' or 'ctr'"),
        ({"wiat": "3h"}, "wiat", "unknown field; expected one of id, name, type"),
    ],
)  # fmt: skip
def test_bad_campaign_fields_are_rejected(tmp_path, changes, field_path, expected):
    assert_refused(tmp_path, with_(CART, **changes), field_path, expected)


def test_r_trig_3_an_iana_time_zone_is_accepted():
    assert loads(with_(CART, timezone="America/New_York")).zone().key == "America/New_York"


# --- files and folders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field_path", "expected"),
    [
        ("id: cart\nid: other\n", "(file)", "key 'id' is given twice"),
        ("id: [cart\n", "(file)", "expected valid YAML"),
        ("- id: cart\n", "(top level)", "expected a mapping of campaign fields"),
        ("", "(top level)", "expected a mapping of campaign fields"),
    ],
)
def test_files_that_are_not_one_yaml_mapping_are_rejected(tmp_path, text, field_path, expected):
    assert_refused(tmp_path, text, field_path, expected)


def test_r_trig_1_duplicate_campaign_ids_are_rejected_naming_both_files(tmp_path):
    folder = tmp_path / "campaigns"
    first = write(folder, CART, "a.yaml")
    second = write(folder, with_(CART, name="Another cart"), "b.yaml")
    with pytest.raises(CampaignError) as err:
        load_campaigns(folder)
    [problem] = err.value.problems
    assert (problem.file, problem.path) == (str(second), "id")
    assert f"expected a unique campaign id; 'cart' is also the id in {first}" in problem.message


def test_one_error_lists_every_problem_of_every_file_and_nothing_loads(tmp_path):
    folder = tmp_path / "campaigns"
    write(folder, MINIMAL["product_view"], "good.yaml")
    bad_wait = write(folder, with_(CART, wait="1m", channels=["fax"]), "bad1.yaml")
    bad_type = write(folder, with_(CART, id="x", type="nope"), "bad2.yaml")
    with pytest.raises(CampaignError) as err:
        load_campaigns(folder)
    found = {(p.file, p.path) for p in err.value.problems}
    assert found == {
        (str(bad_wait), "wait"),
        (str(bad_wait), "channels[0]"),
        (str(bad_type), "type"),
    }
    assert str(err.value).startswith("3 problems in campaign files; nothing was loaded")


def test_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(CampaignError, match=r"nowhere: \(folder\): expected a folder"):
        load_campaigns(tmp_path / "nowhere")


def test_only_visible_yaml_files_are_campaigns(tmp_path):
    write(tmp_path, CART, "cart.yml")
    write(tmp_path, "not: [yaml", "README.md")
    write(tmp_path, "not: [yaml", ".cart.yaml.swp.yaml")
    assert [c.id for c in load_campaigns(tmp_path)] == ["cart"]


def test_campaigns_load_in_id_order(tmp_path):
    write(tmp_path, with_(CART, id="zeta"), "1.yaml")
    write(tmp_path, with_(CART, id="alpha"), "2.yaml")
    assert [c.id for c in load_campaigns(tmp_path)] == ["alpha", "zeta"]


def test_from_yaml_gives_the_class_of_the_type(tmp_path):
    path = write(tmp_path, MINIMAL["price_drop"])
    assert type(Campaign.from_yaml(path)) is PriceDropCampaign
    assert type(PriceDropCampaign.from_yaml(path)) is PriceDropCampaign
    with pytest.raises(CampaignError, match="type: expected a CartAbandonmentCampaign"):
        CartAbandonmentCampaign.from_yaml(path)


def test_campaign_objects_are_frozen():
    cart = loads(CART)
    with pytest.raises(ValueError, match="frozen"):
        cart.priority = 2  # type: ignore[misc]


# --- listing for the CLI --------------------------------------------------------------------


def test_campaign_rows_list_id_type_status_priority_channels_variations_and_steps():
    ab = with_(
        CART,
        id="ab",
        status="paused",
        priority=3,
        channels=["sms", "email"],
        steps=None,
        variations=[
            {"id": "a", "weight": 45, "steps": steps(2)},
            {"id": "b", "weight": 45, "steps": steps(3)},
            {"id": "holdout", "weight": 10, "control": True, "steps": steps(2)},
        ],
    )
    rows = campaign_rows([loads(ab), loads(MINIMAL["product_view"])])
    assert [r.cells() for r in rows] == [
        ("ab", "cart_abandonment", "paused", "3", "sms > email",
         "a 45%, b 45%, holdout 10% (control)", "2/3/2"),
        ("view", "product_view", "active", "1", "email", "default 100%", "1"),
    ]  # fmt: skip
    table = format_campaign_table(rows).splitlines()
    assert table[0].split() == [
        "id",
        "type",
        "status",
        "priority",
        "channels",
        "variations",
        "steps",
    ]
    assert table[2].startswith("view ") and len(table) == 3


def test_every_campaign_class_is_registered_under_its_type():
    assert {cls.type_name(): cls for cls in CAMPAIGN_CLASSES.values()} == CAMPAIGN_CLASSES
    assert set(CAMPAIGN_CLASSES) == {
        "cart_abandonment", "product_view", "price_drop", "product_attribute_change",
        "user_attribute_change", "custom", "scheduled",
    }  # fmt: skip
    assert CAMPAIGN_CLASSES["product_view"] is ProductViewCampaign
