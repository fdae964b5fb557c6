"""The feed snapshots as of a time: what several stages look feed values up in.

The feeds are full snapshots, so the values "as of" a time come from the latest sync at or before
it: the price in force at an interaction (R-TRIG-4), the user's attributes for an audience
(R-TRIG-5) at trigger or send time, a message's products at its due time (R-REL-2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from reconnect.lake.reads import table
from reconnect.lake.tables import BRONZE_PRODUCT_SNAPSHOTS, BRONZE_USER_SNAPSHOTS
from reconnect.settings import Settings

# Feed columns that conditions and templates name as attributes (beside the ``attributes`` map).
PRODUCT_NAMED = ("name", "url", "image_url", "category", "brand", "currency", "stock")
USER_NAMED = ("email", "phone", "timezone", "country", "loyalty_tier")

_PRODUCT_SYNC, _USER_SYNC = "snapshot:product", "snapshot:user"  # tags of feeds_with's rows


@dataclass(frozen=True)
class Feeds:
    """The feed snapshots detection looks values up in, and their sync times (sorted)."""

    products: DataFrame  # bronze.product_snapshots
    users: DataFrame  # bronze.user_snapshots
    product_syncs: tuple[datetime, ...]
    user_syncs: tuple[datetime, ...]


def attributes_map(named: Sequence[str], attributes: str = "attributes") -> Column:
    """A ``map<string,string>`` of a feed row's named columns (as text) plus its ``attributes`` map.

    Feed snapshots keep usual columns (``stock``, ``loyalty_tier``...) as columns and the rest in
    ``attributes``; conditions name both as ``attributes.<key>``. Named columns win over map
    entries of the same key.
    """
    names = list(named)
    pairs = [x for n in names for x in (F.lit(n), F.col(n).cast("string"))]
    others = F.map_filter(F.col(attributes), lambda k, _v: ~k.isin(*names))
    return F.map_concat(F.create_map(*pairs), others) if names else F.col(attributes)


def _intervals(spark: SparkSession, syncs: Sequence[datetime], until: datetime) -> DataFrame:
    """``(day, sync_time, next_sync)`` for each day each sync is the latest one (small)."""
    rows = []
    for i, s in enumerate(syncs):
        nxt = syncs[i + 1] if i + 1 < len(syncs) else None
        end = (nxt or max(until, s)).date()
        day = s.date()
        while day <= end:
            rows.append((day, s, nxt))
            day += timedelta(days=1)
    schema = "day DATE, as_of_sync TIMESTAMP, next_sync TIMESTAMP"
    return spark.createDataFrame(rows, schema)


def with_sync(
    df: DataFrame, time_col: str, syncs: Sequence[datetime], until: datetime
) -> DataFrame:
    """Add ``as_of_sync``: the latest sync at or before ``time_col`` (null before the first).

    A broadcast equi-join on the day, then a range filter: each row meets one or two candidates.
    """
    spark = df.sparkSession
    if not syncs:
        return df.withColumn("as_of_sync", F.lit(None).cast("timestamp"))
    iv = F.broadcast(_intervals(spark, syncs, until))
    t = F.col(time_col)
    joined = df.join(
        iv,
        (F.to_date(t) == iv["day"])
        & (t >= iv["as_of_sync"])
        & (iv["next_sync"].isNull() | (t < iv["next_sync"])),
        "left",
    )
    return joined.drop("day", "next_sync")


def product_values(products: DataFrame) -> DataFrame:
    """Snapshot rows as ``(as_of_sync, product_id, feed_price, product_attributes)``."""
    return products.select(
        F.col("sync_time").alias("as_of_sync"),
        F.col("product_id").alias("feed_product_id"),
        F.col("price").alias("feed_price"),
        F.col("category").alias("feed_category"),
        attributes_map(PRODUCT_NAMED).alias("product_attributes"),
    )


def user_values(users: DataFrame) -> DataFrame:
    """Snapshot rows as ``(as_of_sync, cuid, user_attributes)``."""
    return users.select(
        F.col("sync_time").alias("user_sync"),
        F.col("cuid").alias("feed_cuid"),
        attributes_map(USER_NAMED).alias("user_attributes"),
    )


def with_user_attributes(
    df: DataFrame, cuid_col: str, time_col: str, feeds: Feeds, until: datetime
) -> DataFrame:
    """Add ``user_attributes``: the user's attributes in the latest user sync at ``time_col``."""
    df = with_sync(
        df.withColumnRenamed("as_of_sync", "_product_sync"), time_col, feeds.user_syncs, until
    )
    uv = user_values(feeds.users)
    df = df.join(
        uv, (df["as_of_sync"] == uv["user_sync"]) & (df[cuid_col] == uv["feed_cuid"]), "left"
    )
    return df.drop("user_sync", "feed_cuid", "as_of_sync").withColumnRenamed(
        "_product_sync", "as_of_sync"
    )


def load_feeds(spark: SparkSession, settings: Settings) -> Feeds:
    """The product and user snapshots and their sync times (one query)."""
    feeds, _ = feeds_with(spark, settings, None)
    return feeds


def feeds_with(
    spark: SparkSession, settings: Settings, extra: DataFrame | None
) -> tuple[Feeds, list[Any]]:
    """:func:`load_feeds`, plus the rows of ``extra`` (``feed``, ``sync_time``), sorted by time.

    One query for all of them: each query costs a micro-batch a fixed amount of planning and
    Delta bookkeeping, whatever its size.
    """
    products = table(spark, settings, BRONZE_PRODUCT_SNAPSHOTS)
    users = table(spark, settings, BRONZE_USER_SNAPSHOTS)
    parts = [
        products.select(F.lit(_PRODUCT_SYNC).alias("feed"), "sync_time").distinct(),
        users.select(F.lit(_USER_SYNC).alias("feed"), "sync_time").distinct(),
    ]
    if extra is not None:
        parts.append(extra.select("feed", "sync_time"))
    rows = sorted(reduce(DataFrame.unionByName, parts).collect(), key=lambda r: r["sync_time"])
    p_syncs = tuple(r["sync_time"] for r in rows if r["feed"] == _PRODUCT_SYNC)
    u_syncs = tuple(r["sync_time"] for r in rows if r["feed"] == _USER_SYNC)
    rest = [r for r in rows if r["feed"] not in (_PRODUCT_SYNC, _USER_SYNC)]
    return Feeds(products, users, p_syncs, u_syncs), rest
