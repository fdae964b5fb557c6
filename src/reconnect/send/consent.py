"""Consent and identifiers at send time (R-OPT-1, R-OPT-2), as Spark transforms.

The consent ledger has one row per change of a person's consent for a channel:

- subscriber lists (email, SMS; DATA.md): a cuid in a list is opted in from that sync on, with
  the list's address; a cuid missing from the channel's next list is opted out from that sync on.
  Every list restates consent at its sync time (DATA.md), so each listed cuid is a row per sync:
  an opt-out event is overridden by a later list that still holds the cuid;
- ``opt_in`` / ``opt_out`` events: e-mail and SMS ones apply to the cuid the user is linked to at
  the event (the event's own cuid, else the latest cuid the user's events carried before it);
  push ones apply to the device (``user_id``) and carry the push token as ``address``.

At one instant an event beats a list (it is the more specific statement), then event id decides.
The latest row at or before the send time wins (R-OPT-1). Late events (``silver.late_events``)
are left out, so a replay sees the same consent as the live run.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from reconnect.settings import CHANNEL_NAMES

PUSH = ("web_push", "app_push")
OPT_TYPES = ("opt_in", "opt_out")


def cuid_key(cuid: Column) -> Column:
    """The person key of a cuid (``c:<cuid>``)."""
    return F.concat(F.lit("c:"), cuid)


def user_key(user_id: Column) -> Column:
    """The person key of a device that never identified (``u:<user_id>``)."""
    return F.concat(F.lit("u:"), user_id)


def person_key(cuid: Column, user_id: Column) -> Column:
    """Whom caps and priority count for: the cuid once known, else the device."""
    return F.when(cuid.isNotNull(), cuid_key(cuid)).otherwise(user_key(user_id))


def _list_rows(subscriptions: DataFrame, until: datetime) -> DataFrame:
    """Opt-ins at each list sync and opt-outs at the sync that first misses a cuid."""
    subs = subscriptions.where(F.col("sync_time") < F.lit(until))
    syncs = subs.select("channel", "sync_time").distinct()
    following = syncs.withColumn(
        "next_sync", F.lead("sync_time").over(Window.partitionBy("channel").orderBy("sync_time"))
    )
    present = subs.join(F.broadcast(following), ["channel", "sync_time"])
    ins = present.select(
        "channel",
        cuid_key(F.col("cuid")).alias("key"),
        F.col("sync_time").alias("time"),
        F.lit(True).alias("opted"),
        "address",
        F.lit(0).alias("src"),
        F.lit("").alias("seq"),
    )
    later = subs.select(
        "channel", "cuid", F.col("sync_time").alias("next_sync"), F.lit(True).alias("kept")
    )
    gone = (
        present.where(F.col("next_sync").isNotNull())
        .join(later, ["channel", "cuid", "next_sync"], "left_anti")
        .select(
            "channel",
            cuid_key(F.col("cuid")).alias("key"),
            F.col("next_sync").alias("time"),
            F.lit(False).alias("opted"),
            F.lit(None).cast("string").alias("address"),
            F.lit(0).alias("src"),
            F.lit("").alias("seq"),
        )
    )
    return ins.unionByName(gone)


def _event_rows(events: DataFrame, late: DataFrame, until: datetime) -> DataFrame:
    """Opt events before ``until`` (late ones left out), keyed by cuid or device."""
    opts = (
        events.where(F.col("event_type").isin(*OPT_TYPES) & (F.col("event_time") < F.lit(until)))
        .where(F.col("channel").isin(*CHANNEL_NAMES))
        .join(late.select("event_id"), "event_id", "left_anti")
        .select("event_id", "event_time", "user_id", "cuid", "event_type", "channel", "address")
    )
    # The cuid a user is linked to at an opt event: its own, else the latest one before it.
    users = opts.select("user_id").distinct()
    links = (
        events.where(F.col("cuid").isNotNull() & (F.col("event_time") < F.lit(until)))
        .join(users, "user_id", "left_semi")
        .select(
            F.lit(None).cast("string").alias("event_id"),
            "event_time",
            "user_id",
            "cuid",
            F.lit(None).cast("string").alias("event_type"),
            F.lit(None).cast("string").alias("channel"),
            F.lit(None).cast("string").alias("address"),
        )
    )
    w = (
        Window.partitionBy("user_id")
        .orderBy("event_time", F.col("event_id").asc_nulls_first())
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    resolved = (
        opts.unionByName(links)
        .withColumn("linked", F.last("cuid", ignorenulls=True).over(w))
        .where(F.col("event_type").isNotNull())
    )
    is_push = F.col("channel").isin(*PUSH)
    return resolved.select(
        "channel",
        F.when(is_push, user_key(F.col("user_id")))
        .when(F.col("linked").isNotNull(), cuid_key(F.col("linked")))
        .alias("key"),
        F.col("event_time").alias("time"),
        (F.col("event_type") == "opt_in").alias("opted"),
        "address",
        F.lit(1).alias("src"),
        F.col("event_id").alias("seq"),
    ).where(F.col("key").isNotNull())


def ledger(
    subscriptions: DataFrame, events: DataFrame, late: DataFrame, until: datetime
) -> DataFrame:
    """``(channel, key, time, opted, address, src, seq)``: every consent change before ``until``."""
    return _list_rows(subscriptions, until).unionByName(_event_rows(events, late, until))


def at_send_time(messages: DataFrame, consent: DataFrame) -> DataFrame:
    """Per message: ``identified``, ``consent`` and ``address`` arrays in CHANNEL_NAMES order.

    ``messages`` has ``message_id``, ``cuid``, ``user_id``, ``send_at`` and optionally
    ``channels``, the channels to look up (every channel without it; the others are null in
    the arrays, and a message with no channel to look up has no row). E-mail and SMS need a
    cuid (R-OPT-2); their address is the one of the winning opt-in (null when it had none: the
    decision then falls back to the user feed's ``email`` / ``phone``). Push needs a token: an
    opt-in event of the device for that channel at or before the send time. A ``person_key``
    column of ``messages`` is carried through.
    """
    channels = (
        F.col("channels")
        if "channels" in messages.columns
        else F.array(*[F.lit(c) for c in CHANNEL_NAMES])
    )
    carried = [c for c in ("person_key",) if c in messages.columns]
    lookups = messages.select(
        "message_id",
        *carried,
        "send_at",
        "cuid",
        F.explode(channels).alias("channel"),
        "user_id",
    ).withColumn(
        "key",
        F.when(
            F.col("channel").isin(*PUSH),
            F.when(F.col("user_id").isNotNull(), user_key(F.col("user_id"))),
        ).otherwise(F.when(F.col("cuid").isNotNull(), cuid_key(F.col("cuid")))),
    )
    c = consent.alias("c")
    joined = lookups.alias("m").join(
        c,
        (F.col("m.key") == F.col("c.key"))
        & (F.col("m.channel") == F.col("c.channel"))
        & (F.col("c.time") <= F.col("m.send_at")),
        "left",
    )
    # One aggregation per message, a column per channel (no shuffle per channel); a channel not
    # looked up is null in the arrays. An ordering of null (another channel's row, or no ledger
    # row) is ignored by max_by.
    order = F.struct(F.col("c.time"), F.col("c.src"), F.col("c.seq"))
    found = F.col("c.time").isNotNull()
    parts = []
    for name in CHANNEL_NAMES:
        is_c = F.col("m.channel") == name
        parts += [
            F.max(is_c).alias(f"seen_{name}"),
            F.max_by(
                F.when(
                    is_c,
                    F.struct(F.col("c.opted").alias("opted"), F.col("c.address").alias("address")),
                ),
                F.when(is_c & found, order),
            ).alias(f"last_{name}"),
            F.max(F.when(is_c, F.col("c.opted") & F.col("c.address").isNotNull())).alias(
                f"token_{name}"
            ),
        ]
    per_message = joined.groupBy(
        F.col("m.message_id").alias("message_id"),
        *[F.col(f"m.{c}").alias(c) for c in carried],
        F.col("m.cuid").alias("cuid"),
    ).agg(*parts)

    def identified(name: str) -> Column:
        known = (
            F.coalesce(F.col(f"token_{name}"), F.lit(False))
            if name in PUSH
            else F.col("cuid").isNotNull()
        )
        return F.when(F.col(f"seen_{name}"), known)

    return per_message.select(
        "message_id",
        *carried,
        F.array(*[identified(c) for c in CHANNEL_NAMES]).alias("identified"),
        F.array(
            *[
                F.when(F.col(f"seen_{c}"), F.coalesce(F.col(f"last_{c}.opted"), F.lit(False)))
                for c in CHANNEL_NAMES
            ]
        ).alias("consent"),
        F.array(
            *[F.when(F.col(f"last_{c}.opted"), F.col(f"last_{c}.address")) for c in CHANNEL_NAMES]
        ).alias("address"),
    )
