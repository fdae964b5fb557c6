"""The dbt project (models/): a hand-made lake through `reconnect models build`, in-process.

One lake for the module (dbt's parse and compile are slow): a cart campaign with a treatment and
a control variation and a browse campaign without one; SENT, SUPPRESSED and CANCELLED messages,
opens, clicks, a late cancel, purchases and their credit. The first build runs the CLI's
`reconnect models build` in this process (the shared session is the one dbt's session method
takes); later builds call the same public function, `reconnect.analytics.dbt.build`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from tests.helpers.serving import served

from reconnect.analytics.dbt import PROJECT_DIR, artifacts_dir, build
from reconnect.cli import EXIT_FAILED, EXIT_OK, main
from reconnect.lake.migrations import ensure_tables, register_analytics_tables
from reconnect.lake.tables import (
    BRONZE_EVENTS,
    GOLD_ATTRIBUTED_PURCHASES,
    GOLD_LATE_CANCELS,
    GOLD_MESSAGE_ENGAGEMENT,
    GOLD_MESSAGES,
    SILVER_JOURNEYS,
    TableSpec,
)
from reconnect.lake.writes import append, replace_groups
from reconnect.settings import Settings
from reconnect.vocabulary import CHANNELS, REASONS

pytestmark = pytest.mark.spark
RECONNECT = str(Path(sys.executable).parent / "reconnect")
DAY0 = datetime(2026, 3, 2)

CART = """
id: cart
name: Cart reminder
type: cart_abandonment
channels: [email, sms]
primary_metric: revenue_per_user
variations:
  - id: treat
    weight: 50
    steps: [{name: reminder}, {name: nudge, wait: 1d}]
  - id: ctl
    weight: 50
    control: true
    steps: [{name: reminder}, {name: nudge, wait: 1d}]
"""
BROWSE = """
id: browse
name: Browse abandonment
type: product_view
channels: [web_push]
steps: [{name: browse}]
"""


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return DAY0 + timedelta(days=day, hours=hh, minutes=mm)


def rows(spark, spec: TableSpec, dicts: list[dict]):
    return spark.createDataFrame(
        [tuple(d.get(f) for f in spec.schema.fieldNames()) for d in dicts], spec.schema
    )


def journey(jid, campaign, variation, user, trigger, **kw):
    ctype = "cart_abandonment" if campaign == "cart" else "product_view"
    return {
        "journey_id": jid,
        "campaign_id": campaign,
        "campaign_type": ctype,
        "variation_id": variation,
        "is_control": variation == "ctl",
        "key_kind": "user",
        "user_key": user,
        "user_id": user,
        "trigger_time": trigger,
        "trigger_id": f"t-{jid}",
        "steps": 2 if campaign == "cart" else 1,
        "first_due_at": trigger,
        "last_due_at": trigger + timedelta(days=1),
        "state": "ACTIVE",
        **kw,
    }


def message(mid, j, step, name, send_at, state="SENT", reason=None, channel=None):
    return {
        "message_id": mid,
        "journey_id": j["journey_id"],
        "campaign_id": j["campaign_id"],
        "campaign_type": j["campaign_type"],
        "variation_id": j["variation_id"],
        "is_control": j["is_control"],
        "step_number": step,
        "step_name": name,
        "person_key": f"u:{j['user_id']}",
        "user_id": j["user_id"],
        "trigger_time": j["trigger_time"],
        "due_at": send_at,
        "send_at": send_at,
        "state": state,
        "reason": reason,
        "channel": channel,
    }


def engaged(eid, m, kind, t):
    return {
        "event_id": eid,
        "event_time": t,
        "event_type": f"message_{kind}",
        **{
            k: m[k]
            for k in (
                "message_id",
                "campaign_id",
                "variation_id",
                "is_control",
                "step_number",
                "step_name",
                "channel",
                "user_id",
                "send_at",
            )
        },
    }


def purchase(eid, user, t, revenue):
    return {
        "event_id": eid,
        "event_time": t,
        "event_date": t.date(),
        "user_id": user,
        "event_type": "purchase",
        "order_id": f"o-{eid}",
        "revenue": Decimal(revenue),
        "currency": "EUR",
        "source_file": "events/test.jsonl",
        "source_line": 1,
    }


def credit(view, p, click):
    m = MESSAGES[click["message_id"]]
    return {
        "attribution": view,
        "purchase_event_id": p["event_id"],
        "order_id": p["order_id"],
        "purchase_time": p["event_time"],
        "user_id": p["user_id"],
        "revenue": p["revenue"],
        "currency": "EUR",
        **{
            k: m[k]
            for k in (
                "campaign_id",
                "variation_id",
                "is_control",
                "step_number",
                "step_name",
                "channel",
                "message_id",
            )
        },
        "click_event_id": click["event_id"],
        "click_time": click["event_time"],
    }


J = {
    "j1": journey("j1", "cart", "treat", "u1", at(0, 9)),
    "j2": journey("j2", "cart", "treat", "u2", at(0, 10)),
    "j3": journey("j3", "cart", "treat", "u3", at(0, 11)),
    "j4": journey(
        "j4", "cart", "treat", "u4", at(0, 12), state="CANCELLED", reason="EXIT_CONDITION"
    ),
    "j5": journey("j5", "cart", "ctl", "u5", at(0, 9, 30)),
    "j6": journey("j6", "cart", "ctl", "u6", at(0, 10, 30)),
    "j7": journey("j7", "browse", "default", "u7", at(5, 9)),
    "j8": journey("j8", "browse", "default", "u2", at(5, 11, 30)),
    "j9": journey("j9", "browse", "default", "u7", at(6, 9)),
}
MESSAGES = {
    m["message_id"]: m
    for m in [
        message("m1", J["j1"], 1, "reminder", at(0, 10), channel="email"),
        message("m2", J["j2"], 1, "reminder", at(0, 11), channel="sms"),
        message("m3", J["j3"], 1, "reminder", at(0, 12), "SUPPRESSED", "NOT_OPTED_IN"),
        message("m4", J["j4"], 1, "reminder", at(0, 13), "CANCELLED", "EXIT_CONDITION"),
        message("m5", J["j1"], 2, "nudge", at(1, 10), channel="email"),
        message("m6", J["j2"], 2, "nudge", at(1, 11), "SUPPRESSED", "FREQUENCY_CAP_GLOBAL"),
        message(
            "m7", J["j5"], 1, "reminder", at(0, 10, 30), "SUPPRESSED", "CONTROL_GROUP", "email"
        ),
        message("m8", J["j6"], 1, "reminder", at(0, 11, 30), "SUPPRESSED", "CONTROL_GROUP", "sms"),
        message("m9", J["j5"], 2, "nudge", at(1, 10, 30), "SUPPRESSED", "CONTROL_GROUP", "email"),
        message("m10", J["j7"], 1, "browse", at(5, 10), channel="web_push"),
        message("m11", J["j8"], 1, "browse", at(5, 12), channel="web_push"),
        message("m12", J["j9"], 1, "browse", at(6, 10), channel="web_push"),
    ]
}
M = MESSAGES
E = {
    e["event_id"]: e
    for e in [
        engaged("open-m1", M["m1"], "open", at(0, 10, 5)),
        engaged("click-m1", M["m1"], "click", at(0, 10, 6)),
        engaged("click-m2", M["m2"], "click", at(0, 11, 30)),  # an SMS: a click, no open tracked
        engaged("open-m5", M["m5"], "open", at(1, 10, 10)),
        engaged("click-m10", M["m10"], "click", at(5, 10, 30)),
    ]
}
P = {
    p["event_id"]: p
    for p in [
        purchase("p0", "u1", at(0, 9, 59), 10),  # before m1 was sent: a late cancel of m1
        purchase("p1", "u1", at(0, 12), 50),
        purchase("p2", "u2", at(6, 9), 20),
        purchase("p3", "u7", at(5, 15), 15),
        purchase("p4", "u5", at(1, 12), 40),  # a control user's purchase: a conversion, no credit
    ]
}
CREDIT = [
    *(credit(v, P["p1"], E["click-m1"]) for v in ("last_click", "per_campaign")),
    *(credit(v, P["p2"], E["click-m2"]) for v in ("last_click", "per_campaign")),
    *(credit(v, P["p3"], E["click-m10"]) for v in ("last_click", "per_campaign")),
]
LATE_CANCEL = {
    "event_id": "p0",
    "event_time": at(0, 9, 59),
    "event_type": "purchase",
    "message_id": "m1",
    "campaign_id": "cart",
    "user_id": "u1",
    "due_at": at(0, 10),
    "send_at": at(0, 10),
}


def lake_settings(base: Settings, root: Path, suffix: str) -> Settings:
    catalog = base.catalog.model_copy(
        update={layer: f"{layer}_{suffix}" for layer in ("bronze", "silver", "gold", "analytics")}
    )
    return base.with_paths(root).model_copy(
        update={
            "catalog": catalog,
            "paths": base.with_paths(root).paths.model_copy(update={"campaigns": str(root / "c")}),
        }
    )


def conf_file(settings: Settings, path: Path) -> Path:
    """A settings file naming the lake's folders and catalog names (for the CLI)."""
    path.write_text(
        yaml.safe_dump(
            {
                "paths": settings.paths.model_dump(),
                "catalog": settings.catalog.model_dump(exclude_none=True),
            }
        )
    )
    return path


def new_lake(spark, spark_settings, template: Path, root: Path, suffix: str) -> Settings:
    settings = lake_settings(spark_settings, root, suffix)
    shutil.copytree(template, settings.paths.lakehouse)
    ensure_tables(spark, settings)
    campaigns = Path(settings.paths.campaigns)
    campaigns.mkdir(parents=True)
    (campaigns / "cart.yaml").write_text(CART)
    (campaigns / "browse.yaml").write_text(BROWSE)
    return settings


@pytest.fixture(scope="module")
def built(spark, spark_settings, lakehouse_template, tmp_path_factory):
    """The lake, built once by `reconnect models build`; the first build's run results."""
    root = tmp_path_factory.mktemp("models")
    lake = new_lake(spark, spark_settings, lakehouse_template, root, "models")
    append(lake, SILVER_JOURNEYS, rows(spark, SILVER_JOURNEYS, list(J.values())))
    append(lake, GOLD_MESSAGES, rows(spark, GOLD_MESSAGES, list(MESSAGES.values())))
    append(lake, GOLD_MESSAGE_ENGAGEMENT, rows(spark, GOLD_MESSAGE_ENGAGEMENT, list(E.values())))
    append(lake, GOLD_LATE_CANCELS, rows(spark, GOLD_LATE_CANCELS, [LATE_CANCEL]))
    append(lake, GOLD_ATTRIBUTED_PURCHASES, rows(spark, GOLD_ATTRIBUTED_PURCHASES, CREDIT))
    append(lake, BRONZE_EVENTS, rows(spark, BRONZE_EVENTS, list(P.values())))
    conf = conf_file(lake, root / "conf.yaml")
    code = main(["models", "build", "--conf", str(conf)])
    assert code == EXIT_OK
    results = json.loads((artifacts_dir(lake) / "target" / "run_results.json").read_text())
    report = spark.table(f"{lake.catalog.analytics}.rpt_campaign_performance")
    return (
        lake,
        conf,
        results,
        {(r.campaign_id, r.variation_id, r.step_name): r.asDict() for r in report.collect()},
    )


COUNTS = [
    "users_allocated",
    "messages_due",
    "sent",
    *(f"sent_{c}" for c in CHANNELS),
    "suppressed",
    "cancelled",
    "superseded",
    *(f"not_sent_{r.lower()}" for r in REASONS),
    "late_cancels",
    "opens",
    "clicks",
    "email_opens",
    "email_clicks",
    "purchases",
    "per_campaign_purchases",
    "converting_users",
    "conversions",
]


def report_row(key, names, variation, **values):
    """The expected row of ``key``: every count 0, revenue 0 and rates null unless given."""
    campaign, variation_id, step = key
    row = {c: 0 for c in COUNTS} | {
        "campaign_id": campaign,
        "campaign_name": names[0],
        "campaign_type": names[1],
        "primary_metric": names[2],
        "variation_id": variation_id,
        "step_name": step,
        "ctr": None,
        "email_open_rate": None,
        "email_click_to_open_rate": None,
        "revenue": Decimal(0),
        "revenue_currency": None,
        "revenue_by_currency": None,
        "purchases_per_allocated_user": 0.0,
        "revenue_per_allocated_user": Decimal(0),
        "per_campaign_revenue": Decimal(0),
        "per_campaign_revenue_currency": None,
    }
    return key, row | variation | values


CART_NAMES = ("Cart reminder", "cart_abandonment", "revenue_per_user")
BROWSE_NAMES = ("Browse abandonment", "product_view", "purchases_per_user")
# Variation columns: treat converts 3 purchases of 4 users (u1: p0 and p1, u2: p2), 80 EUR; the
# control 1 of 2 users (u5: p4), 40 EUR; per user 0.75 vs 0.5 (+50 %), 20 vs 20 EUR (+0 %).
TREAT = {
    "is_control": False,
    "control_variation_id": "ctl",
    "users_allocated": 4,
    "converting_users": 2,
    "conversions": 3,
    "conversion_revenue": Decimal(80),
    "conversion_revenue_currency": "EUR",
    "conversion_revenue_by_currency": {"EUR": 80},
    "conversion_rate": 0.5,
    "conversions_per_allocated_user": 0.75,
    "conversion_revenue_per_allocated_user": Decimal(20),
    "uplift_conversions_per_user": 0.5,
    "uplift_conversion_revenue_per_user": 0.0,
}
CONTROL = {
    "is_control": True,
    "control_variation_id": "ctl",
    "users_allocated": 2,
    "converting_users": 1,
    "conversions": 1,
    "conversion_revenue": Decimal(40),
    "conversion_revenue_currency": "EUR",
    "conversion_revenue_by_currency": {"EUR": 40},
    "conversion_rate": 0.5,
    "conversions_per_allocated_user": 0.5,
    "conversion_revenue_per_allocated_user": Decimal(20),
    "uplift_conversions_per_user": None,
    "uplift_conversion_revenue_per_user": None,
}
# browse has no control: no uplift. u7 (two journeys) bought p3, u2 bought p2 within the window.
BROWSE_VARIATION = {
    "is_control": False,
    "control_variation_id": None,
    "users_allocated": 2,
    "converting_users": 2,
    "conversions": 2,
    "conversion_revenue": Decimal(35),
    "conversion_revenue_currency": "EUR",
    "conversion_revenue_by_currency": {"EUR": 35},
    "conversion_rate": 1.0,
    "conversions_per_allocated_user": 1.0,
    "conversion_revenue_per_allocated_user": Decimal("17.5"),
    "uplift_conversions_per_user": None,
    "uplift_conversion_revenue_per_user": None,
}


def test_r_attr_2_r_step_2_the_report_has_a_row_per_campaign_variation_and_step_name(built):
    report = built[3]
    expected = [
        # m1 e-mail (opened, clicked, late-cancelled by p0), m2 SMS (clicked), m3 not opted in,
        # m4 cancelled; p1 and p2 credited to their clicks (last click and per campaign).
        report_row(("cart", "treat", "reminder"), CART_NAMES, TREAT, step_number=1,
                   messages_due=4, sent=2, sent_email=1, sent_sms=1, suppressed=1, cancelled=1,
                   not_sent_not_opted_in=1, not_sent_exit_condition=1, late_cancels=1, opens=2,
                   clicks=2, ctr=1.0, email_opens=1, email_clicks=1, email_open_rate=1.0,
                   email_click_to_open_rate=1.0, purchases=2, revenue=Decimal(70),
                   revenue_currency="EUR", revenue_by_currency={"EUR": 70},
                   purchases_per_allocated_user=0.5, revenue_per_allocated_user=Decimal("17.5"),
                   per_campaign_purchases=2, per_campaign_revenue=Decimal(70),
                   per_campaign_revenue_currency="EUR"),
        # m5 e-mail opened, not clicked; m6 capped.
        report_row(("cart", "treat", "nudge"), CART_NAMES, TREAT, step_number=2, messages_due=2,
                   sent=1, sent_email=1, suppressed=1, not_sent_frequency_cap_global=1, opens=1,
                   ctr=0.0, email_opens=1, email_open_rate=1.0, email_click_to_open_rate=0.0),
        # The control's messages are SUPPRESSED with CONTROL_GROUP: nothing to open or click.
        report_row(("cart", "ctl", "reminder"), CART_NAMES, CONTROL, step_number=1,
                   messages_due=2, suppressed=2, not_sent_control_group=2),
        report_row(("cart", "ctl", "nudge"), CART_NAMES, CONTROL, step_number=2, messages_due=1,
                   suppressed=1, not_sent_control_group=1),
        # m10 clicked (p3 credited), m11 and m12 not engaged.
        report_row(("browse", "default", "browse"), BROWSE_NAMES, BROWSE_VARIATION,
                   step_number=1, messages_due=3, sent=3, sent_web_push=3, opens=1, clicks=1,
                   ctr=1 / 3, purchases=1, revenue=Decimal(15), revenue_currency="EUR",
                   revenue_by_currency={"EUR": 15}, purchases_per_allocated_user=0.5,
                   revenue_per_allocated_user=Decimal("7.5"), per_campaign_purchases=1,
                   per_campaign_revenue=Decimal(15), per_campaign_revenue_currency="EUR"),
    ]  # fmt: skip
    assert sorted(report) == sorted(key for key, _ in expected)
    for key, row in expected:
        assert report[key] == row, key


def test_every_data_test_and_unit_test_ran_and_passed(built):
    _, _, results, _ = built
    by_kind: dict[str, list[str]] = {}
    for r in results["results"]:
        kind = r["unique_id"].split(".")[0]
        by_kind.setdefault(kind, []).append(r["status"])
    assert by_kind["unit_test"] == ["pass", "pass"]
    assert len(by_kind["test"]) > 50 and set(by_kind["test"]) == {"pass"}
    assert len(by_kind["model"]) == 7 and set(by_kind["model"]) == {"success"}


def test_r_attr_3_the_variation_stats_count_what_each_metric_compares(spark, built):
    lake = built[0]
    stats = {
        (r.campaign_id, r.variation_id): r.asDict()
        for r in spark.table(f"{lake.catalog.analytics}.rpt_variation_stats").collect()
    }
    # In-window revenue per allocated person: treat u1 60 (p0 10 + p1 50), u2 20 (p2);
    # control u5 40 (p4); browse u7 15 (p3), u2 20 (p2). Sends: treat m1, m2, m5; browse 3.
    common = {"sends": 0, "clicked_sends": 0}
    assert stats == {
        ("cart", "treat"): {**common, "campaign_id": "cart", "variation_id": "treat",
                            "is_control": False, "primary_metric": "revenue_per_user",
                            "users_allocated": 4, "converting_users": 2, "revenue_sum": 80.0,
                            "revenue_sum_squares": 4000.0, "sends": 3, "clicked_sends": 2},
        ("cart", "ctl"): {**common, "campaign_id": "cart", "variation_id": "ctl",
                          "is_control": True, "primary_metric": "revenue_per_user",
                          "users_allocated": 2, "converting_users": 1, "revenue_sum": 40.0,
                          "revenue_sum_squares": 1600.0},
        ("browse", "default"): {**common, "campaign_id": "browse", "variation_id": "default",
                                "is_control": False, "primary_metric": "purchases_per_user",
                                "users_allocated": 2, "converting_users": 2,
                                "revenue_sum": 35.0, "revenue_sum_squares": 625.0, "sends": 3,
                                "clicked_sends": 1},
    }  # fmt: skip


def test_r_attr_3_models_build_writes_each_campaigns_verdict(spark, built):
    from reconnect.analytics.winners import verdict_rows

    lake = built[0]
    written = spark.table(f"{lake.catalog.analytics}.rpt_variation_winners").collect()
    stats = [
        r.asDict() for r in spark.table(f"{lake.catalog.analytics}.rpt_variation_stats").collect()
    ]
    assert sorted(
        (r.asDict() for r in written), key=lambda r: (r["campaign_id"], r["variation_id"])
    ) == sorted(
        verdict_rows(stats, lake.analytics.winner_threshold),
        key=lambda r: (r["campaign_id"], r["variation_id"]),
    )
    status = {(r.campaign_id, r.variation_id): r.status for r in written}
    assert status[("browse", "default")] == "single_variation"
    assert {status[("cart", "treat")], status[("cart", "ctl")]} <= {"winner", "no_winner"}


def test_the_report_columns_are_the_documented_ones(spark, built):
    lake = built[0]
    documented = yaml.safe_load(
        (PROJECT_DIR / "marts" / "rpt_campaign_performance.yml").read_text()
    )
    columns = [c["name"] for c in documented["models"][0]["columns"]]
    assert spark.table(f"{lake.catalog.analytics}.rpt_campaign_performance").columns == columns


def test_the_dims_join_the_campaign_files_and_what_the_journeys_name(spark, built):
    lake = built[0]
    steps = spark.table(f"{lake.catalog.analytics}.dim_campaign_steps").orderBy(
        "campaign_id", "variation_id", "step_number"
    )
    assert [
        (
            r.campaign_id,
            r.variation_id,
            r.step_number,
            r.step_name,
            r.channels,
            r.offset_seconds,
            r.is_configured,
        )
        for r in steps.collect()
    ] == [
        ("browse", "default", 1, "browse", ["web_push"], 0, True),
        ("cart", "ctl", 1, "reminder", ["email", "sms"], 0, True),
        ("cart", "ctl", 2, "nudge", ["email", "sms"], 86400, True),
        ("cart", "treat", 1, "reminder", ["email", "sms"], 0, True),
        ("cart", "treat", 2, "nudge", ["email", "sms"], 86400, True),
    ]
    campaigns = spark.table(f"{lake.catalog.analytics}.dim_campaigns").orderBy("campaign_id")
    assert [
        (r.campaign_id, r.attribution_window_seconds, r.variation_count, r.is_configured)
        for r in campaigns.collect()
    ] == [("browse", 604800, 1, True), ("cart", 604800, 2, True)]


def snapshot(spark, lake, model: str, key: list[str]) -> list[dict]:
    df = spark.table(f"{lake.catalog.analytics}.{model}")
    return [r.asDict() for r in df.orderBy(*key).collect()]


def last_operations(spark, lake, model: str, n: int) -> list[tuple[str, dict]]:
    history = spark.sql(f"DESCRIBE HISTORY {lake.catalog.analytics}.{model}").orderBy("version")
    return [(r.operation, r.operationMetrics) for r in history.collect()[-n:]]


def test_an_incremental_build_after_late_rows_equals_a_full_refresh(spark, built):
    lake = built[0]
    incremental = ["fct_messages", "fct_attributed_purchases"]
    # Late data inside the 3-day lookback (the newest send is day 6 10:00, the newest purchase
    # day 6 09:00): a click on m11 (browse, day 5 20:00) after m2's, which moves p2's last-click
    # credit from cart to browse (the stage replaces p2's rows), and an open of m5, a message
    # sent on day 1, before the lookback, by an open on day 6.
    late = [
        engaged("click-m11", M["m11"], "click", at(5, 20)),
        engaged("open-m5-again", M["m5"], "open", at(6, 11)),
    ]
    append(lake, GOLD_MESSAGE_ENGAGEMENT, rows(spark, GOLD_MESSAGE_ENGAGEMENT, late))
    p2 = [
        credit("last_click", P["p2"], late[0]),
        credit("per_campaign", P["p2"], E["click-m2"]),
        credit("per_campaign", P["p2"], late[0]),
    ]
    new_rows = rows(spark, GOLD_ATTRIBUTED_PURCHASES, p2)
    replace_groups(
        spark,
        GOLD_ATTRIBUTED_PURCHASES,
        lake,
        new_rows,
        new_rows.select("purchase_event_id"),
        ["purchase_event_id"],
        ["attribution", "purchase_event_id", "campaign_id"],
    )

    run = build(spark, lake, select=incremental)
    assert run.success, run.failures
    messages = snapshot(spark, lake, "fct_messages", ["message_id"])
    credited = snapshot(
        spark, lake, "fct_attributed_purchases", ["attribution", "purchase_event_id", "campaign_id"]
    )
    # It was incremental: the merge read only the 4 messages the lookback touched (m5 by its
    # open, m10 to m12 by their send time) of 12, and the credit model deleted and re-inserted
    # only the rows of purchases within 3 days of the newest (p2, p3), leaving p1 alone.
    ((op, metrics),) = last_operations(spark, lake, "fct_messages", 1)
    assert op == "MERGE" and metrics["numSourceRows"] == "4", metrics
    (op1, deleted), (op2, merged) = last_operations(spark, lake, "fct_attributed_purchases", 2)
    assert (op1, deleted["numDeletedRows"]) == ("DELETE", "4"), deleted
    assert (op2, merged["numSourceRows"]) == ("MERGE", "5"), merged
    # ... and it took the late rows in: m5 opened twice, p2 credited to browse by last click.
    assert next(m for m in messages if m["message_id"] == "m5")["open_events"] == 2
    last_p2 = [
        (c["campaign_id"], c["message_id"])
        for c in credited
        if c["attribution"] == "last_click" and c["purchase_event_id"] == "p2"
    ]
    assert last_p2 == [("browse", "m11")]

    run = build(spark, lake, select=incremental, full_refresh=True)
    assert run.success, run.failures
    assert snapshot(spark, lake, "fct_messages", ["message_id"]) == messages
    assert (
        snapshot(
            spark,
            lake,
            "fct_attributed_purchases",
            ["attribution", "purchase_event_id", "campaign_id"],
        )
        == credited
    )
    assert (
        last_operations(spark, lake, "fct_messages", 1)[0][0] == "CREATE OR REPLACE TABLE AS SELECT"
    )


def test_a_new_session_registers_the_models_under_the_analytics_schema(spark, built):
    lake = built[0]
    other = lake.model_copy(
        update={"catalog": lake.catalog.model_copy(update={"analytics": "analytics_models_b"})}
    )
    names = register_analytics_tables(spark, other)
    assert names == [
        f"analytics_models_b.{t}"
        for t in (
            "dim_campaign_steps",
            "dim_campaign_variations",
            "dim_campaigns",
            "fct_attributed_purchases",
            "fct_messages",
            "rpt_campaign_performance",
            "rpt_variation_stats",
            "rpt_variation_winners",
        )
    ]
    assert spark.table("analytics_models_b.rpt_campaign_performance").count() == 5


def test_reconnect_serve_gives_the_report_to_a_hive_client(spark, built, tmp_path):
    from pyhive import hive

    lake, conf = built[0], built[1]
    report = f"{lake.catalog.analytics}.rpt_campaign_performance"
    columns = "campaign_id, variation_id, step_name, sent, purchases"
    query = f"SELECT {columns} FROM {report} ORDER BY 1, 2, 3"
    expected = [tuple(r) for r in spark.sql(query).collect()]
    with served(conf, tmp_path) as port:
        connection = hive.connect(host="127.0.0.1", port=port, username="analyst")
        try:
            cursor = connection.cursor()
            cursor.execute(query)
            assert cursor.fetchall() == expected and len(expected) == 5
        finally:
            connection.close()


def test_reconnect_sql_reads_the_report_from_a_fresh_process(built, tmp_path):
    lake, conf = built[0], built[1]
    query = (
        f"SELECT campaign_id, variation_id, step_name, sent, purchases "
        f"FROM {lake.catalog.analytics}.rpt_campaign_performance ORDER BY 1, 2, 3"
    )
    done = subprocess.run(
        [RECONNECT, "sql", query, "--conf", str(conf)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "campaign_id  variation_id  step_name  sent  purchases",
        "browse       default       browse     3     1",
        "cart         ctl           nudge      0     0",
        "cart         ctl           reminder   0     0",
        "cart         treat         nudge      1     0",
        "cart         treat         reminder   2     2",
        "(5 rows)",
    ]


def test_a_failed_data_test_exits_1_with_dbts_failure_lines(
    spark, spark_settings, lakehouse_template, tmp_path, capsys
):
    lake = new_lake(spark, spark_settings, lakehouse_template, tmp_path / "bad", "models_bad")
    bad = {**MESSAGES["m3"], "reason": "NOT_A_REASON"}
    append(lake, GOLD_MESSAGES, rows(spark, GOLD_MESSAGES, [bad]))
    conf = conf_file(lake, tmp_path / "conf.yaml")
    code = main(["models", "build", "--conf", str(conf), "--select", "stg_reconnect__messages"])
    out, err = capsys.readouterr()
    assert code == EXIT_FAILED
    assert "reconnect models build: dbt failed" in err
    assert "FAIL test.reconnect.accepted_values_stg_reconnect__messages_reason" in err
    assert "Traceback" not in out + err


def test_reconnect_models_docs_writes_the_docs_site_with_the_models_catalog(built, capsys):
    lake, conf = built[0], built[1]
    capsys.readouterr()
    assert main(["models", "docs", "--conf", str(conf)]) == EXIT_OK
    target = artifacts_dir(lake) / "target"
    assert f"docs: {target / 'static_index.html'}" in capsys.readouterr().out
    assert (target / "static_index.html").stat().st_size > 100_000
    catalog = json.loads((target / "catalog.json").read_text())
    report = catalog["nodes"]["model.reconnect.rpt_campaign_performance"]
    assert report["metadata"]["schema"] == lake.catalog.analytics
    assert "uplift_conversions_per_user" in report["columns"]
