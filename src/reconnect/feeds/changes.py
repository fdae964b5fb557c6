"""Pure transforms: consecutive feed snapshots -> change rows (docs/feeds.md).

Both functions take the snapshots of the syncs to diff, each tagged with the feed's previous
sync (``previous_sync_time``), and the snapshots of those previous syncs. No I/O here.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from reconnect.lake.schemas import MONEY, PERCENT, PRODUCT_CHANGES, USER_ATTRIBUTE_CHANGES

CHANGED = "changed"
FIRST_APPEARANCE = "first_appearance"
PRICE = "price"
STOCK = "stock"

# drop_percent is kept in units of 1e-4 %, floored: a threshold with at most 4 decimals is met
# exactly when the true drop meets it (30 -> 27.0001 is 9.99966..%, kept as 9.9996, never 10).
_PERCENT_UNITS = 1_000_000  # 100 % * 10^4


def drop_percent(old_price: str, new_price: str) -> Column:
    """The drop from column ``old_price`` to column ``new_price`` in %, floored to 4 decimals.

    Null when the price did not drop (a rise or no change) or the old price is 0. Exact: an
    integral division of decimals, no rounding at any step. The detect stage can apply it to
    the baseline price of R-TRIG-4 (100 -> 90.00 is 10.0000, 100 -> 90.01 is 9.9900).
    """
    old, new = F.col(old_price).cast(MONEY), F.col(new_price).cast(MONEY)
    # For a drop, 0 < drop <= old, so the quotient is in [0, 10^6]: no overflow, and truncating
    # a non-negative quotient is flooring it. ``div`` has no DataFrame-function spelling.
    units = F.expr(
        f"((CAST(`{old_price}` AS DECIMAL(18,4)) - CAST(`{new_price}` AS DECIMAL(18,4)))"
        f" * {_PERCENT_UNITS}) div CAST(`{old_price}` AS DECIMAL(18,4))"
    )
    return F.when((old > new) & (old > 0), units.cast("decimal(18,0)") / 10_000).cast(PERCENT)


def _attribute_map(snapshots: DataFrame) -> Column:
    # Price is diffed as a decimal (its own row), stock as the typed integer: "5" and "05"
    # are the same stock, and "100" and "100.00" the same price.
    others = F.map_filter("attributes", lambda k, v: ~k.isin(PRICE, STOCK))
    stock = F.map_filter(
        F.create_map(F.lit(STOCK), F.col(STOCK).cast("string")), lambda k, v: v.isNotNull()
    )
    return F.map_concat(others, stock)


def product_changes(current: DataFrame, previous: DataFrame) -> DataFrame:
    """Product changes, one row per (product_id, sync_time, attribute) that changed.

    ``current``: bronze.product_snapshots rows of the syncs to diff plus ``previous_sync_time``;
    ``previous``: the snapshots of those previous syncs. A product absent from its feed's
    previous sync (new, or back after a gap) has no baseline and gives no rows. A deleted
    attribute gives no row; an attribute newly present on a known product is a
    ``first_appearance``.
    """
    cur = current.select(
        "product_id",
        "sync_time",
        "previous_sync_time",
        F.col("price").alias("new_price"),
        F.col(STOCK).alias("new_stock"),
        _attribute_map(current).alias("new_attrs"),
    )
    prev = previous.select(
        "product_id",
        F.col("sync_time").alias("previous_sync_time"),
        F.col("price").alias("old_price"),
        F.col(STOCK).alias("old_stock"),
        _attribute_map(previous).alias("old_attrs"),
    )
    pairs = cur.join(prev, ["product_id", "previous_sync_time"], "inner")

    price_rows = pairs.where(F.col("old_price") != F.col("new_price")).select(
        "product_id",
        "sync_time",
        "previous_sync_time",
        F.lit(PRICE).alias("attribute"),
        F.lit(CHANGED).alias("change_kind"),
        F.col("old_price").cast("string").alias("old_value"),
        F.col("new_price").cast("string").alias("new_value"),
        "old_price",
        "new_price",
        (F.col("old_price") - F.col("new_price")).cast(MONEY).alias("drop_amount"),
        drop_percent("old_price", "new_price").alias("drop_percent"),
        F.lit(False).alias("back_in_stock"),
    )

    attribute_rows = attribute_diff(
        pairs, ["product_id", "sync_time", "previous_sync_time", "old_stock", "new_stock"]
    ).select(
        "product_id",
        "sync_time",
        "previous_sync_time",
        "attribute",
        "change_kind",
        "old_value",
        "new_value",
        F.lit(None).cast(MONEY).alias("old_price"),
        F.lit(None).cast(MONEY).alias("new_price"),
        F.lit(None).cast(MONEY).alias("drop_amount"),
        F.lit(None).cast(PERCENT).alias("drop_percent"),
        # R-TYPE-PATTR "back in stock": stock 0 -> > 0 (an absent stock is not 0).
        (
            (F.col("attribute") == STOCK)
            & F.coalesce((F.col("old_stock") == 0) & (F.col("new_stock") > 0), F.lit(False))
        ).alias("back_in_stock"),
    )
    return _conform(price_rows.unionByName(attribute_rows), PRODUCT_CHANGES.fieldNames())


def attribute_diff(pairs: DataFrame, keep: list[str]) -> DataFrame:
    """One row per attribute of ``new_attrs`` that is new or differs from ``old_attrs``.

    Output: ``keep`` columns, ``attribute``, ``change_kind`` (changed / first appearance),
    ``old_value``, ``new_value``. Only keys present now are looked at: an attribute that
    disappeared is a deletion, not a change (R-TYPE-UATTR).
    """
    exploded = pairs.select(
        *keep, "old_attrs", "new_attrs", F.explode(F.map_keys("new_attrs")).alias("attribute")
    )
    old_value = F.col("old_attrs")[F.col("attribute")]
    new_value = F.col("new_attrs")[F.col("attribute")]
    return exploded.where(old_value.isNull() | (old_value != new_value)).select(
        *keep,
        "attribute",
        F.when(old_value.isNull(), F.lit(FIRST_APPEARANCE))
        .otherwise(F.lit(CHANGED))
        .alias("change_kind"),
        old_value.alias("old_value"),
        new_value.alias("new_value"),
    )


def user_attribute_changes(current: DataFrame, previous: DataFrame) -> DataFrame:
    """User attribute changes, one row per (cuid, sync_time, attribute) changed or new.

    ``current``: bronze.user_snapshots rows of the syncs to diff plus ``previous_sync_time``
    (null for the feed's first sync); ``previous``: the snapshots of those previous syncs.
    R-TYPE-UATTR: a deleted attribute (absent or empty now) gives no row; a user or attribute
    absent from the previous sync gives a ``first_appearance`` row (campaigns opt in).
    """
    cur = current.select(
        "cuid", "sync_time", "previous_sync_time", F.col("attributes").alias("new_attrs")
    )
    prev = previous.select(
        "cuid",
        F.col("sync_time").alias("previous_sync_time"),
        F.col("attributes").alias("old_attrs"),
    )
    pairs = cur.join(prev, ["cuid", "previous_sync_time"], "left")
    out = attribute_diff(pairs, ["cuid", "sync_time", "previous_sync_time"])
    return _conform(out, USER_ATTRIBUTE_CHANGES.fieldNames())


def _conform(df: DataFrame, columns: list[str]) -> DataFrame:
    return df.select(*columns)
