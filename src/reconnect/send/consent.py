"""Consent and identifiers at send time (R-OPT-1, R-OPT-2).

The ledger is built with Spark (:func:`ledger`, :func:`for_pass`); the per-person pass looks a
message's consent up in its person's rows in Python (:func:`flags`).

The consent ledger has one row per change of a person's consent for a channel:

- subscriber lists (email, SMS; DATA.md): a cuid in a list is opted in from that sync on, with
  the list's address; a cuid missing from the channel's next list is opted out from that sync on.
  Every list restates consent at its sync time (DATA.md): an opt-out event is overridden by a
  later list that still holds the cuid. A restatement changes nothing otherwise, so only the
  cuids with an opt event keep a row per sync; the others get a row where their list entry
  changed from the channel's previous sync;
- ``opt_in`` / ``opt_out`` events: e-mail and SMS ones apply to the cuid the user is linked to at
  the event (the event's own cuid, else the latest cuid the user's events carried before it);
  push ones apply to the device (``user_id``) and carry the push token as ``address``.

At one instant an event beats a list (it is the more specific statement), then event id decides.
The latest row at or before the send time wins (R-OPT-1). Late events (``silver.late_events``)
are left out, so a replay sees the same consent as the live run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from reconnect.vocabulary import CHANNELS

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
    """Every list row before ``until``, with the sync's index in its channel and the next sync.

    ``(channel, key, time, opted, address, src, seq, i, next_sync)``: ``i`` numbers the
    channel's syncs in time order, ``next_sync`` is the channel's sync after this one (null for
    the last one before ``until``).
    """
    subs = subscriptions.where(F.col("sync_time") < F.lit(until))
    in_channel = Window.partitionBy("channel").orderBy("sync_time")
    syncs = (
        subs.select("channel", "sync_time")
        .distinct()
        .select(
            "channel",
            "sync_time",
            F.row_number().over(in_channel).alias("i"),
            F.lead("sync_time").over(in_channel).alias("next_sync"),
        )
    )
    return subs.join(F.broadcast(syncs), ["channel", "sync_time"]).select(
        "channel",
        cuid_key(F.col("cuid")).alias("key"),
        F.col("sync_time").alias("time"),
        F.lit(True).alias("opted"),
        "address",
        F.lit(0).alias("src"),
        F.lit("").alias("seq"),
        "i",
        "next_sync",
    )


def _event_rows(events: DataFrame, late: DataFrame, until: datetime) -> DataFrame:
    """Opt events before ``until`` (late ones left out), keyed by cuid or device."""
    opts = (
        events.where(F.col("event_type").isin(*OPT_TYPES) & (F.col("event_time") < F.lit(until)))
        .where(F.col("channel").isin(*CHANNELS))
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
    """``(channel, key, time, opted, address, src, seq)``: the consent rows before ``until``.

    Every opt event (:func:`_event_rows`), and the list rows that can decide a lookup: each
    sync's changes against the channel's previous sync. A cuid's row of a sync is an opt-in
    when the channel's previous sync did not list it (or listed it with another address); a
    cuid missing from a sync after one that listed it is an opt-out at that sync. The rows that
    restate the previous sync are left out, except for the cuids that have an opt event on the
    channel: a restating list row after an event overrides it (R-OPT-1), so those cuids keep
    every list row and :func:`for_pass` drops the ones that follow no event.

    One window over the list and event rows together, by channel and key, list rows first in
    the order of the channel's syncs; each row gives zero to two ledger rows (its own, and an
    opt-out at the next sync), so the lists are read and shuffled once and the opt events
    resolved once. Bronze holds one row per cuid per sync (ingest keeps the first copy of a key
    within a sync).
    """
    rows = _list_rows(subscriptions, until).unionByName(
        _event_rows(events, late, until), allowMissingColumns=True
    )
    by_sync = Window.partitionBy("channel", "key").orderBy("src", "i")
    whole = by_sync.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    rows = rows.select(
        "*",
        F.lag("i").over(by_sync).alias("prev_i"),
        F.lag("address").over(by_sync).alias("prev_address"),
        F.lead("src").over(by_sync).alias("next_src"),
        F.lead("i").over(by_sync).alias("next_i"),
        (F.max("src").over(whole) == 1).alias("has_event"),
    )
    listed = F.col("src") == 0
    keep = (
        ~listed
        | F.col("prev_i").isNull()
        | (F.col("prev_i") != F.col("i") - 1)
        | ~F.col("prev_address").eqNullSafe(F.col("address"))
        | F.col("has_event")
    )
    gone = (
        listed
        & F.col("next_sync").isNotNull()
        & (
            F.col("next_i").isNull()
            | (F.col("next_src") != 0)
            | (F.col("next_i") != F.col("i") + 1)
        )
    )
    own = F.struct("key", "time", "opted", "address", "src", "seq")
    opt_out = F.struct(
        "key",
        F.col("next_sync").alias("time"),
        F.lit(False).alias("opted"),
        F.lit(None).cast("string").alias("address"),
        F.lit(0).alias("src"),
        F.lit("").alias("seq"),
    )
    # A two-element array, exploded, the nulls dropped: cheaper than a higher-order filter over
    # the array with lag/lead of structs and a window of its own for the max. The channel stays
    # outside the array: a filter on it (for_pass's e-mail/SMS and push branches) then goes
    # below the explode and the window, and each branch runs the window on its channels only.
    out = F.array(F.when(keep, own), F.when(gone, opt_out))
    return (
        rows.where(keep | gone)
        .select("channel", F.explode(out).alias("row"))
        .where(F.col("row").isNotNull())
        .select("channel", "row.*")
    )


def for_pass(messages: DataFrame, consent: DataFrame) -> DataFrame:
    """The ledger rows that can decide consent for ``messages``, keyed by their person.

    ``messages`` has ``person_key``, ``cuid`` and ``user_id``. Returns ``(person_key, channel,
    device, time, opted, address, src, seq)``: the e-mail and SMS rows of the messages' cuids
    (``device`` null; their key is the person key), and the push rows of the messages' devices
    (``device`` is the ``u:<user_id>`` key), once for every person the device's messages count
    for. The per-person pass looks consent up in them (:func:`flags`), so they travel in its
    one shuffle by person instead of being joined to every message and channel.

    A list row that restates the row just before it for the same key and channel (same opt-in
    state and address, nothing in between) is dropped: it cannot change what the latest row at
    any instant says. A list row after an opt event is kept, since it overrides the event
    (R-OPT-1). Daily lists restate every listed cuid, so this keeps a month of them from
    multiplying a person's rows by ~30.
    """
    is_push = F.col("channel").isin(*PUSH)
    persons = (
        messages.where(F.col("cuid").isNotNull())
        .select(F.col("person_key").alias("key"))
        .distinct()
    )
    listed = consent.where(~is_push).join(persons, "key", "left_semi")
    before = Window.partitionBy("key").orderBy("channel", "time", "src", "seq")
    prev = F.lag(F.struct("channel", "src", "opted", "address")).over(before)
    restated = (
        (F.col("src") == 0)
        & (prev["src"] == 0)
        & (prev["channel"] == F.col("channel"))
        & prev["opted"].eqNullSafe(F.col("opted"))
        & prev["address"].eqNullSafe(F.col("address"))
    )
    kept = (
        listed.withColumn("restated", F.coalesce(restated, F.lit(False)))
        .where(~F.col("restated"))
        .select(
            F.col("key").alias("person_key"),
            "channel",
            F.lit(None).cast("string").alias("device"),
            "time",
            "opted",
            "address",
            "src",
            "seq",
        )
    )
    devices = (
        messages.where(F.col("user_id").isNotNull())
        .select(user_key(F.col("user_id")).alias("key"), "person_key")
        .distinct()
    )
    pushed = (
        consent.where(is_push)
        .join(devices, "key")
        .select(
            "person_key", "channel", F.col("key").alias("device"), "time", "opted", "address",
            "src", "seq",
        )
    )  # fmt: skip
    return kept.unionByName(pushed)


class LedgerRow(NamedTuple):
    """One row of :func:`for_pass` as the pass holds it (``time`` in microseconds)."""

    channel: str
    device: str | None
    time: int
    opted: bool
    address: str | None
    src: int
    seq: str


def flags(
    cuid: str | None,
    user_id: str | None,
    send_at: int,
    channels: Iterable[str],
    ledger: Sequence[LedgerRow],
) -> tuple[list[bool | None], list[bool | None], list[str | None]]:
    """``identified``, ``consent`` and ``address`` in CHANNELS order for one message.

    ``ledger`` holds the person's rows of :func:`for_pass`; ``channels`` are the channels to look
    up (the message's content channels; the others stay None). E-mail and SMS need a cuid
    (R-OPT-2); their address is the one of the winning opt-in (None when it had none: the
    decision then falls back to the user feed's ``email`` / ``phone``). Push needs a token: an
    opt-in of the device for that channel, with an address, at or before the send time. The
    latest row at or before the send time wins (R-OPT-1); at one instant an event beats a list,
    then the event id decides.
    """
    n = len(CHANNELS)
    identified: list[bool | None] = [None] * n
    consent: list[bool | None] = [None] * n
    address: list[str | None] = [None] * n
    device = None if user_id is None else f"u:{user_id}"
    for channel in channels:
        i = CHANNELS.index(channel)
        push = channel in PUSH
        # Push rows are the device's; e-mail and SMS rows are the cuid's (the person's own).
        keyed = device is not None if push else cuid is not None
        last: LedgerRow | None = None
        token = False
        if keyed:
            for r in ledger:
                if r.channel != channel or r.time > send_at or (push and r.device != device):
                    continue
                token = token or (r.opted and r.address is not None)
                if last is None or (r.time, r.src, r.seq) > (last.time, last.src, last.seq):
                    last = r
        identified[i] = token if push else cuid is not None
        consent[i] = bool(last and last.opted)
        address[i] = last.address if last and last.opted else None
    return identified, consent, address
