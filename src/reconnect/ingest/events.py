"""Pure transforms from clickstream JSON lines to typed bronze events (spec/DATA.md).

Every field is first read as text (so a wrong JSON type can be named rather than silently
nulled), then checked in a fixed order; the first failed check is the line's quarantine reason.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from reconnect.ingest.lines import failure, first_failure, shown
from reconnect.lake.schemas import EVENTS, MONEY
from reconnect.vocabulary import CHANNELS, EVENT_TYPES
from reconnect.vocabulary import QuarantineReason as R

# What fits a MONEY column (DECIMAL(18, 4)); a larger number (1e15, 1e309) is a range error.
MONEY_RANGE = "an amount between -10^14 and 10^14 (at most 14 digits before the point)"

# Fields a type needs beyond the four every event needs (DATA.md's "required" column).
REQUIRED_BY_TYPE: dict[str, tuple[str, ...]] = {
    "custom": ("event_name",),
    "product_view": ("product_id",),
    "add_to_cart": ("product_id",),
    "remove_from_cart": ("product_id",),
    "sync_cart": ("cart",),
    "purchase": ("order_id", "items"),
    "message_click": ("message_id",),
    "message_open": ("message_id",),
    "opt_in": ("channel",),
    "opt_out": ("channel",),
}
ALWAYS_REQUIRED = ("event_id", "event_time", "user_id", "event_type")

# The DATA.md fields are the bronze columns less the ones ingest derives (day, lineage).
_DERIVED = ("event_date", "source_file", "source_line")
_TEXT_FIELDS = [f.name for f in EVENTS.fields if f.name not in _DERIVED]
_CORRUPT = "_corrupt_record"
RAW_EVENT = T.StructType(
    [T.StructField(n, T.StringType()) for n in _TEXT_FIELDS]
    + [T.StructField(_CORRUPT, T.StringType())]
)
_CART_TEXT = T.ArrayType(
    T.StructType(
        [T.StructField("product_id", T.StringType()), T.StructField("quantity", T.StringType())]
    )
)
_ITEMS_TEXT = T.ArrayType(
    T.StructType(
        [
            T.StructField("product_id", T.StringType()),
            T.StructField("quantity", T.StringType()),
            T.StructField("price", T.StringType()),
        ]
    )
)
_PROPERTIES = T.MapType(T.StringType(), T.StringType())


# Strict JSON: Spark would otherwise accept single-quoted strings and NaN.
JSON_OPTIONS = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": _CORRUPT,
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
}


def _blank(c: Column) -> Column:
    return c.isNull() | (F.trim(c) == "")


def _int_or_null(c: Column) -> Column:
    # A cast, not a regex: it is the hot path, and casts already refuse "two", "1.5", "NaN".
    return c.try_cast("int")


def _money_or_null(c: Column) -> Column:
    return c.try_cast(MONEY)


def _is_number(text: Column) -> Column:
    """Whether a field read as text holds a JSON number.

    A number beyond a double's range (``1e309``) reads as the text ``"Infinity"``.
    """
    return text.try_cast("double").isNotNull() | text.isin('"Infinity"', '"-Infinity"')


def _has_offset(t: Column) -> Column:
    """ISO-8601 date-time shape with a ``Z`` or ``+hh:mm`` / ``-hh:mm`` suffix (cheap checks)."""
    return (F.substring(t, 11, 1) == "T") & (
        t.endswith("Z") | (F.substring(t, -6, 1).isin("+", "-") & (F.substring(t, -3, 1) == ":"))
    )


def _parse_nested(j: Column) -> list[tuple[str, Column]]:
    """Nested fields parsed from their JSON text (null where absent or of the wrong shape)."""
    return [
        ("cart_p", F.from_json(j["cart"], _CART_TEXT)),
        ("items_p", F.from_json(j["items"], _ITEMS_TEXT)),
        ("properties_p", F.from_json(j["properties"], _PROPERTIES.simpleString())),
        # Parsed once here and referenced by both the checks and the typed columns.
        ("ts", F.try_to_timestamp(j["event_time"])),
        ("q", _int_or_null(j["quantity"])),
        ("pr", _money_or_null(j["price"])),
        ("rev", _money_or_null(j["revenue"])),
    ]


def _checks(j: Column) -> Column:
    """The first failed contract check of a parsed line, or null when the line is valid."""
    etype = j["event_type"]
    checks: list[Column] = [
        failure(
            j.isNull() | j[_CORRUPT].isNotNull(),
            R.NOT_JSON,
            None,
            "expected one JSON object per line",
        )
    ]
    checks += [
        failure(_blank(j[f]), R.MISSING_FIELD, f, f"{f}: required, missing or empty")
        for f in ALWAYS_REQUIRED
    ]
    checks.append(
        failure(
            ~_has_offset(j["event_time"]) | F.col("ts").isNull(),
            R.BAD_TIMESTAMP,
            "event_time",
            F.concat(
                F.lit("event_time: expected ISO-8601 with an offset or Z, got "),
                shown(j["event_time"]),
            ),
        )
    )
    checks.append(
        failure(
            ~etype.isin(*EVENT_TYPES),
            R.UNKNOWN_EVENT_TYPE,
            "event_type",
            F.concat(
                F.lit(f"event_type: expected one of {', '.join(EVENT_TYPES)}; got "),
                shown(etype),
            ),
        )
    )
    for event_type, fields in REQUIRED_BY_TYPE.items():
        for f in fields:
            checks.append(
                failure(
                    (etype == event_type) & _blank(j[f]),
                    R.MISSING_FIELD,
                    f,
                    f"{f}: required for {event_type} events",
                )
            )
    checks += _type_checks(j)
    checks += _value_checks(j)
    return first_failure(*checks)


def _type_checks(j: Column) -> list[Column]:
    def wrong(field: str, bad: Column, expected: str) -> Column:
        return failure(
            j[field].isNotNull() & bad,
            R.WRONG_TYPE,
            field,
            F.concat(F.lit(f"{field}: expected {expected}, got "), shown(j[field])),
        )

    cart, items = F.col("cart_p"), F.col("items_p")
    cart_ok = F.forall(
        cart, lambda e: e["product_id"].isNotNull() & _int_or_null(e["quantity"]).isNotNull()
    )
    items_ok = F.forall(
        items,
        lambda e: (
            e["product_id"].isNotNull()
            & (e["quantity"].isNull() | _int_or_null(e["quantity"]).isNotNull())
            & (e["price"].isNull() | _is_number(e["price"]))
        ),
    )
    return [
        wrong("quantity", F.col("q").isNull(), "an integer"),
        # A number out of MONEY's range is a number: its check is a range check (below).
        wrong("price", ~_is_number(j["price"]), "a decimal number"),
        wrong("revenue", ~_is_number(j["revenue"]), "a decimal number"),
        wrong(
            "cart",
            cart.isNull() | ~cart_ok,
            "an array of {product_id, quantity (integer)}",
        ),
        wrong(
            "items",
            items.isNull() | ~items_ok,
            "an array of {product_id, quantity (integer), price (decimal)}",
        ),
        wrong("properties", F.col("properties_p").isNull(), "an object of string values"),
    ]


def _value_checks(j: Column) -> list[Column]:
    def invalid(field: str, bad: Column, expected: str, value: Column) -> Column:
        return failure(
            bad,
            R.INVALID_VALUE,
            field,
            F.concat(F.lit(f"{field}: expected {expected}, got "), shown(value)),
        )

    quantity = F.col("q")
    positive = "an integer >= 1"
    return [
        invalid("quantity", quantity < 1, positive, j["quantity"]),
        invalid(
            "cart",
            F.exists(F.col("cart_p"), lambda e: _int_or_null(e["quantity"]) < 1),
            f"every quantity {positive}",
            j["cart"],
        ),
        invalid(
            "items",
            F.exists(F.col("items_p"), lambda e: _int_or_null(e["quantity"]) < 1),
            f"every quantity {positive}",
            j["items"],
        ),
        invalid("price", F.col("pr") < 0, "a price >= 0", j["price"]),
        *(
            invalid(field, j[field].isNotNull() & F.col(parsed).isNull(), MONEY_RANGE, j[field])
            for field, parsed in (("price", "pr"), ("revenue", "rev"))
        ),
        invalid(
            "items",
            F.exists(
                F.col("items_p"),
                lambda e: e["price"].isNotNull() & _money_or_null(e["price"]).isNull(),
            ),
            f"every price {MONEY_RANGE}",
            j["items"],
        ),
        invalid(
            "channel",
            j["channel"].isNotNull() & ~j["channel"].isin(*CHANNELS),
            f"one of {', '.join(CHANNELS)}",
            j["channel"],
        ),
    ]


def parse_event_lines(lines: DataFrame) -> DataFrame:
    """Typed events plus an ``error`` struct (null when valid) and ``raw`` kept only for errors.

    Grain: one row per input line. ``lines`` has ``raw``; its other columns (the line's
    position: ``source_file``, ``source_line`` or block and row ids) are carried through.
    """
    position = [c for c in lines.columns if c != "raw"]
    parsed = lines.select(*position, "raw", F.from_json("raw", RAW_EVENT, JSON_OPTIONS).alias("j"))
    j = F.col("j")
    with_nested = parsed.select("*", *[c.alias(n) for n, c in _parse_nested(j)])
    checked = with_nested.withColumn("error", _checks(j))
    etype = j["event_type"]
    default_one = etype.isin("add_to_cart", "remove_from_cart")
    quantity = F.coalesce(F.col("q"), F.when(default_one, F.lit(1)))
    event_time = F.col("ts")
    cart = F.transform(
        F.col("cart_p"),
        lambda e: F.struct(
            e["product_id"].alias("product_id"),
            _int_or_null(e["quantity"]).alias("quantity"),
        ),
    )
    items = F.transform(
        F.col("items_p"),
        lambda e: F.struct(
            e["product_id"].alias("product_id"),
            F.coalesce(_int_or_null(e["quantity"]), F.lit(1)).alias("quantity"),
            _money_or_null(e["price"]).alias("price"),
        ),
    )
    typed = {
        "event_id": j["event_id"],
        "event_time": event_time,
        "event_date": F.to_date(event_time),
        "user_id": j["user_id"],
        "cuid": j["cuid"],
        "session_id": j["session_id"],
        "event_type": etype,
        "event_name": j["event_name"],
        "product_id": j["product_id"],
        "quantity": quantity,
        "price": F.col("pr"),
        "currency": j["currency"],
        "category": j["category"],
        "cart": cart,
        "order_id": j["order_id"],
        "revenue": F.col("rev"),
        "items": items,
        "message_id": j["message_id"],
        "channel": j["channel"],
        "address": j["address"],
        "properties": F.col("properties_p"),
    }
    return checked.select(
        *[typed[f.name].cast(f.dataType).alias(f.name) for f in EVENTS.fields if f.name in typed],
        *position,
        "error",
        # Text that is not UTF-8 only reaches quarantine: repair it so every reader can show it.
        F.when(F.col("error").isNotNull(), F.make_valid_utf8("raw")).alias("raw"),
    )


def valid_events(parsed: DataFrame) -> DataFrame:
    """Rows of :func:`parse_event_lines` that passed every check, in the bronze events schema."""
    return parsed.where(F.col("error").isNull()).select(*EVENTS.fieldNames())


def keep_first_per_event_id(events: DataFrame) -> DataFrame:
    """One row per ``event_id``: the copy with the smallest ``(source_file, source_line)``.

    Deterministic whatever the partitioning, so one big batch and many small ones keep the
    same copy when files land in name order. Only the ids seen more than once are shuffled
    and broadcast back (duplicates are a few percent at most), not the events themselves.
    """
    position = F.struct("source_file", "source_line")
    repeated = (
        events.groupBy("event_id")
        .agg(F.count(F.lit(1)).alias("copies"), F.min(position).alias("first"))
        .where(F.col("copies") > 1)
        .select("event_id", "first")
    )
    return (
        events.join(F.broadcast(repeated), "event_id", "left")
        .where(F.col("first").isNull() | (F.col("first") == position))
        .select(*EVENTS.fieldNames())
    )
