"""Conditions compiled to Spark Columns (R-TRIG-1), applied to small hand-made frames.

Each case names exactly the rows that must match, so a wrong operator, a wrong cast (numbers vs
text) or null leaking through ``not`` shows up as a different set of rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import yaml
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reconnect.campaigns import (
    CustomCampaign,
    ProductViewCampaign,
    ScheduledCampaign,
    attributes_map,
    compile_change,
    compile_condition,
    load_campaign_file,
)
from reconnect.campaigns.conditions import (
    EVENT_SCOPE,
    PRODUCT_SCOPE,
    USER_SCOPE,
    FieldScope,
    parse_condition,
)
from reconnect.campaigns.triggers import SHORTHAND_CONDITIONS, AttributeChange
from reconnect.lake.schemas import MONEY
from reconnect.settings import DEFAULT_CONF_DIR

pytestmark = pytest.mark.spark

TEXT_MAP = T.MapType(T.StringType(), T.StringType())
EVENTS = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("event_type", T.StringType()),
        T.StructField("event_name", T.StringType()),
        T.StructField("product_id", T.StringType()),
        T.StructField("category", T.StringType()),
        T.StructField("price", MONEY),
        T.StructField("quantity", T.IntegerType()),
        T.StructField("properties", TEXT_MAP),
        T.StructField("attributes", TEXT_MAP),
    ]
)
# e3's empty brand and e5's empty category count as missing; e5 has no maps at all.
EVENT_ROWS = [
    ("e1", "add_to_cart", None, "P1", "apparel.shoes.sneakers", Decimal("20.00"), 1,
     {"color": "red", "rating": "10"}, {"brand": "Aurora", "stock": "0", "tier": "Gold"}),
    ("e2", "product_view", None, "P2", "apparel.jacket", Decimal("19.99"), 2,
     {"color": "blue", "rating": "9"}, {"brand": "Lumo", "stock": "5"}),
    ("e3", "purchase", None, "P3", "books.fiction", Decimal("100.00"), None,
     {"rating": "n/a"}, {"brand": "", "stock": "12.0"}),
    ("e4", "custom", "store_visit", None, None, None, None,
     {"store": "Berlin Mitte", "channel": "offline"}, {}),
    ("e5", "custom", "ping", None, "", None, None, None, None),
]  # fmt: skip
ANY_FIELD = FieldScope("a test row", EVENT_SCOPE.fields, ("properties", "attributes"))


@pytest.fixture(scope="module")
def events(spark: Any) -> DataFrame:
    return spark.createDataFrame(EVENT_ROWS, EVENTS).cache()


def matching(frame: DataFrame, column: Column, key: str = "event_id") -> list[str]:
    return sorted(r[key] for r in frame.where(column).select(key).collect())


def compiled(condition: Any, scope: FieldScope = ANY_FIELD) -> Column:
    raw = yaml.safe_load(condition) if isinstance(condition, str) else condition
    return compile_condition(parse_condition(raw, scope))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # eq / ne: a number compares numerically, text as text; ne is true where eq is not.
        ("{field: event_type, op: eq, value: custom}", ["e4", "e5"]),
        ("{field: price, op: eq, value: 20}", ["e1"]),
        ("{field: price, op: eq, value: '20'}", []),
        ("{field: price, op: eq, value: '20.0000'}", ["e1"]),
        ("{field: price, op: ne, value: 20}", ["e2", "e3", "e4", "e5"]),
        # order operators on a decimal column, edges included / excluded
        ("{field: price, op: gt, value: 19.99}", ["e1", "e3"]),
        ("{field: price, op: gte, value: 19.99}", ["e1", "e2", "e3"]),
        ("{field: price, op: lt, value: 20}", ["e2"]),
        ("{field: price, op: lte, value: 20}", ["e1", "e2"]),
        ("{field: quantity, op: gte, value: 1}", ["e1", "e2"]),
        # numbers vs text on the same text property: 10 > 9 as numbers; 'n/a' > '9' as text
        ("{field: properties.rating, op: gt, value: 9}", ["e1"]),
        ("{field: properties.rating, op: gt, value: '9'}", ["e3"]),
        ("{field: attributes.stock, op: eq, value: 12}", ["e3"]),
        ("{field: attributes.stock, op: eq, value: '12'}", []),
        # in / not_in, also with a list that mixes numbers and text
        ("{field: category, op: in, value: [apparel.jacket, books.fiction]}", ["e2", "e3"]),
        ("{field: properties.rating, op: in, value: [10, n/a]}", ["e1", "e3"]),
        ("{field: properties.rating, op: not_in, value: [10, n/a]}", ["e2", "e4", "e5"]),
        ("{field: category, op: contains, value: apparel}", ["e1", "e2"]),
        # exists: null, an absent key, an empty string and a null map are all missing
        ("{field: category, op: exists}", ["e1", "e2", "e3"]),
        ("{field: category, op: not_exists}", ["e4", "e5"]),
        ("{field: attributes.brand, op: exists}", ["e1", "e2"]),
        ("{field: properties.store, op: eq, value: Berlin Mitte}", ["e4"]),
        ("{field: properties.nothing, op: ne, value: x}", ["e1", "e2", "e3", "e4", "e5"]),
    ],
)
def test_r_trig_1_each_operator_matches_exactly_its_rows(events, condition, expected):
    assert matching(events, compiled(condition)) == expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("""{all: [{field: event_type, op: eq, value: custom},
                   {field: properties.channel, op: eq, value: offline}]}""", ["e4"]),
        ("""{any: [{field: product_id, op: eq, value: P1},
                   {field: event_name, op: eq, value: ping}]}""", ["e1", "e5"]),
        # not over a missing field: the leaf is false, never null, so its negation is true
        ("{not: {field: attributes.tier, op: eq, value: Gold}}", ["e2", "e3", "e4", "e5"]),
        ("""{not: {any: [{field: price, op: gt, value: 50},
                         {field: category, op: not_exists}]}}""", ["e1", "e2"]),
        ("""{all: [{any: [{field: properties.color, op: eq, value: red},
                          {field: properties.color, op: eq, value: blue}]},
                   {not: {field: attributes.stock, op: eq, value: 0}}]}""", ["e2"]),
    ],
)  # fmt: skip
def test_r_trig_1_all_any_and_not_combine_leaves(events, condition, expected):
    assert matching(events, compiled(condition)) == expected


def test_compiled_columns_are_never_null(events):
    column = compiled("{not: {field: properties.rating, op: lt, value: 10}}")
    values = {r["event_id"]: r["m"] for r in events.select("event_id", column.alias("m")).collect()}
    assert values == {"e1": True, "e2": False, "e3": True, "e4": True, "e5": True}


def test_the_purchase_shorthand_is_the_purchase_event_condition(events):
    assert matching(events, compile_condition(SHORTHAND_CONDITIONS["purchase"])) == ["e3"]
    assert matching(events, compile_condition(SHORTHAND_CONDITIONS["add_to_cart"])) == ["e1"]


def test_a_resolver_places_fields_in_another_frame(events):
    renamed = events.withColumnRenamed("attributes", "product_attributes")

    def resolve(field: str) -> Column:
        head, _, key = field.partition(".")
        if head == "attributes":
            return F.try_element_at(F.col("product_attributes"), F.lit(key))
        return F.col(field)

    condition = parse_condition(
        {"field": "attributes.brand", "op": "in", "value": ["Lumo", "Aurora"]}, PRODUCT_SCOPE
    )
    assert matching(renamed, compile_condition(condition, resolve)) == ["e1", "e2"]


# --- campaign conditions as loaded from the shipped files -----------------------------------


def test_a_shipped_product_trigger_selects_its_products(events):
    view = load_campaign_file(DEFAULT_CONF_DIR / "campaigns" / "browse-sneakers.yaml")
    assert isinstance(view, ProductViewCampaign) and view.trigger.product is not None
    # sneakers at 20.00 are below its 40 EUR floor; add one above it
    frame = events.unionByName(
        events.where("event_id = 'e1'").select(
            F.lit("e6").alias("event_id"),
            *[c for c in events.columns if c not in ("event_id", "price")],
            F.lit(Decimal("40.00")).cast(MONEY).alias("price"),
        )
    )
    assert matching(frame, compile_condition(view.trigger.product)) == ["e6"]


def test_a_shipped_custom_trigger_and_exit_condition_read_events(events):
    visit = load_campaign_file(DEFAULT_CONF_DIR / "campaigns" / "store-visit.yaml")
    assert isinstance(visit, CustomCampaign) and visit.trigger.where is not None
    assert matching(events, compile_condition(visit.trigger.where)) == ["e4"]
    structured = [r for r in visit.dont_send_if if not isinstance(r, str)]
    assert [matching(events, compile_condition(r)) for r in structured] == [["e4"]]


def test_a_shipped_audience_selects_users_by_attributes(spark):
    users = spark.createDataFrame(
        [
            ("c1", "Gold", "DE"),
            ("c2", "Bronze", "DE"),
            ("c3", "Platinum", "US"),
            ("c4", "Silver", None),
            ("c5", None, "AT"),
        ],
        "cuid string, loyalty_tier string, country string",
    ).withColumn("attributes", F.create_map().cast(TEXT_MAP))
    frame = users.withColumn("attributes", attributes_map(["loyalty_tier", "country"]))
    picks = load_campaign_file(DEFAULT_CONF_DIR / "campaigns" / "weekly-picks.yaml")
    assert isinstance(picks, ScheduledCampaign) and picks.audience is not None
    assert matching(frame, compile_condition(picks.audience), "cuid") == ["c1", "c4"]


# --- feed attributes as one map -------------------------------------------------------------


def test_attributes_map_merges_named_columns_over_the_map(spark):
    feed = spark.createDataFrame(
        [("P1", 5, "Aurora", {"color": "red", "stock": "99"}), ("P2", None, None, {})],
        T.StructType(
            [
                T.StructField("product_id", T.StringType()),
                T.StructField("stock", T.IntegerType()),
                T.StructField("brand", T.StringType()),
                T.StructField("attributes", TEXT_MAP),
            ]
        ),
    )
    rows = feed.select("product_id", attributes_map(["stock", "brand"]).alias("a")).collect()
    merged = {r["product_id"]: r["a"] for r in rows}
    assert merged == {
        "P1": {"stock": "5", "brand": "Aurora", "color": "red"},
        "P2": {"stock": None, "brand": None},
    }
    back_in = parse_condition({"field": "attributes.stock", "op": "gt", "value": 0}, PRODUCT_SCOPE)
    frame = feed.withColumn("attributes", attributes_map(["stock", "brand"]))
    assert matching(frame, compile_condition(back_in), "product_id") == ["P1"]


def test_user_conditions_read_only_user_attributes(spark):
    condition = parse_condition(
        {"field": "attributes.country", "op": "ne", "value": "DE"}, USER_SCOPE
    )
    users = spark.createDataFrame(
        [("c1", {"country": "DE"}), ("c2", {"country": "AT"}), ("c3", {})],
        T.StructType(
            [T.StructField("cuid", T.StringType()), T.StructField("attributes", TEXT_MAP)]
        ),
    )
    assert matching(users, compile_condition(condition), "cuid") == ["c2", "c3"]


# --- attribute changes between two syncs (R-TYPE-PATTR, R-TYPE-UATTR) -----------------------

CHANGES = [
    ("c1", "0", "5"),
    ("c2", "5", "5.0"),  # the same number: not a change
    ("c3", "Bronze", "Silver"),
    ("c4", "Silver", None),  # deleted: not a change
    ("c5", None, "Silver"),  # first appearance
    ("c6", "Gold", "Silver"),
    ("c7", "5", "0"),
    ("c8", "0", "0"),
    ("c9", "", "3"),  # empty is absent: a first appearance
]


@pytest.fixture(scope="module")
def changes(spark: Any) -> DataFrame:
    return spark.createDataFrame(CHANGES, "id string, old string, new string").cache()


@pytest.mark.parametrize(
    ("change", "first_appearance", "expected"),
    [
        ({}, False, ["c1", "c3", "c6", "c7"]),
        ({}, True, ["c1", "c3", "c5", "c6", "c7", "c9"]),
        ({"to": "Silver"}, False, ["c3", "c6"]),
        ({"to": "Silver"}, True, ["c3", "c5", "c6"]),
        ({"from": "Bronze", "to": "Silver"}, True, ["c3"]),
        ({"from": 0, "to_greater_than": 0}, False, ["c1"]),
        ({"to_greater_than": 0}, True, ["c1", "c9"]),
        ({"to_less_than": 1}, False, ["c7"]),
        ({"to": 0}, False, ["c7"]),
    ],
)
def test_r_type_attr_changes_match_exactly_their_rows(changes, change, first_appearance, expected):
    spec = AttributeChange.model_validate({"attribute": "x", **change})
    column = compile_change(spec, F.col("old"), F.col("new"), first_appearance)
    assert matching(changes, column, "id") == expected
