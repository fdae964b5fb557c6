"""The per-user state machine of detection: pure Python, no Spark, one user's inputs in time order.

Spark prepares the inputs (:mod:`reconnect.detect.inputs`): each is a finalized clickstream event,
a product-feed change fanned out to a user who watches the product, a user-feed change or a
schedule slot, with the campaign conditions already evaluated as flags (R-TRIG-1: conditions
compile to Spark Columns). This module applies, in event-time order, what depends on the order:

- journeys start on triggers, with the variation by hash (R-AB-1) and the step due times
  (R-STEP-1, R-TRIG-2, R-TRIG-3);
- a new trigger of a campaign supersedes the remaining messages of its active journey
  (R-REL-1); a custom campaign with ``cancel_all_others`` cancels the user's other journeys
  (R-PRIO-3);
- a "don't send if" event after the trigger and at or before a message's due time cancels that
  message and every later step (R-EXIT-1), with the event's id;
- the cart (add / remove / sync-cart), the viewed products and the watch list with its baseline
  prices (R-TRIG-4) are kept, and a pending message's payload follows the state until it is due
  (R-REL-2: the payload is the state at due time).

A message is due at ``due``; an input at time ``t`` first freezes every message with
``due < t`` (it can no longer change: events at or before ``due`` have all been applied), then
applies itself. Everything is a function of the inputs and their order (time, rank, id), never of
how they were split into batches: the replay guarantee rests on this.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconnect.detect.plan import CampaignPlan
from reconnect.detect.state import Journey, Product, UserState, dec, undec
from reconnect.vocabulary import (
    ACTIVE,
    CANCELLED,
    CANCELLED_BY_PRIORITY,
    EXIT_CONDITION,
    PENDING,
    RETRIGGERED,
    SUPERSEDED,
)

EVENT, PRODUCT_CHANGE, USER_CHANGE, SLOT = "event", "product_change", "user_change", "slot"
# Inputs at the same instant: feed changes and slots before events. A sync at time S is the
# price "in force" for an interaction at S, so it is not a drop relative to that interaction.
RANKS = {PRODUCT_CHANGE: 0, USER_CHANGE: 0, SLOT: 0, EVENT: 1}


@dataclass(slots=True)
class Input:
    """One input of one user, prepared by Spark (see the module note)."""

    time: int  # UTC microseconds
    seq: str  # event id, or the synthetic id of a feed change / slot
    kind: str = EVENT
    event_type: str | None = None
    product_id: str | None = None
    new_session: bool = False
    cuid: str | None = None
    items: tuple[str, ...] = ()  # purchase: its products; sync_cart: the cart's products
    triggers: tuple[int, ...] = ()  # campaigns whose trigger (and audience) this input meets
    exits: tuple[int, ...] = ()  # campaigns whose "don't send if" condition this event meets
    price: Decimal | None = None  # event: feed price in force; product change: the new price

    def order(self) -> tuple[int, int, str]:
        """The processing order: time, rank (feeds first), id."""
        return (self.time, RANKS[self.kind], self.seq)


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One message's row of step eligibility, as of the input that last changed it."""

    message_id: str
    journey_id: str
    campaign_id: str
    campaign_type: str
    variation_id: str
    control: bool
    step_number: int
    step_name: str
    key_kind: str
    user_key: str
    cuid: str | None
    trigger_time: int
    trigger_id: str
    due_at: int
    state: str
    reason: str | None
    decided_by: str | None
    decided_at: int | None
    products: tuple[Product, ...]


@dataclass(frozen=True, slots=True)
class JourneyRow:
    """One journey's row, as of the input that last changed it."""

    journey_id: str
    campaign_id: str
    campaign_type: str
    variation_id: str
    control: bool
    key_kind: str
    user_key: str
    cuid: str | None
    trigger_time: int
    trigger_id: str
    steps: int
    first_due_at: int
    last_due_at: int
    state: str
    reason: str | None
    ended_by: str | None
    ended_at: int | None


def _hash(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def journey_id(campaign_id: str, key_kind: str, user_key: str, trigger_id: str) -> str:
    """A journey's id: a hash of campaign, user and the trigger's id."""
    return _hash(campaign_id, key_kind, user_key, trigger_id)


def message_id(
    campaign_id: str, variation_id: str, step: int, key_kind: str, user_key: str, journey: str
) -> str:
    """A message's deterministic id (R-SEND-1): campaign, variation, step, user, journey."""
    return _hash(campaign_id, variation_id, str(step), key_kind, user_key, journey)


def drop_percent(old: Decimal, new: Decimal) -> Decimal | None:
    """The drop from ``old`` to ``new`` in %, floored to 4 decimals (same as silver's)."""
    o, n = int(old.scaleb(4)), int(new.scaleb(4))
    if o <= 0 or n >= o:
        return None
    return Decimal((o - n) * 1_000_000 // o).scaleb(-4)


class Machine:
    """Runs inputs of one key (user_id, or cuid for cuid-keyed campaigns) against its state."""

    def __init__(self, plans: Sequence[CampaignPlan], product_slots: int = 3) -> None:
        self.plans = tuple(plans)
        self.by_id = {p.id: p for p in plans}
        self.slots = product_slots
        kinds = {p.interaction for p in plans if p.interaction}
        self.watch_kinds = frozenset(k for k in kinds if k)
        self.max_window = max((p.watch_window for p in plans), default=0)

    # --- driving ------------------------------------------------------------------------------

    def run(
        self, key_kind: str, user_key: str, state: UserState, inputs: Iterable[Input]
    ) -> tuple[list[MessageRow], list[JourneyRow], int]:
        """Apply ``inputs`` (already in :meth:`Input.order`) to ``state`` in place.

        Returns the message and journey rows changed (the last version of each) and the time of
        the last input that is the key's own (0 if none): a product-feed change is not activity
        of the user, so it does not keep the state alive (``state_ttl`` counts from events).
        """
        run = _Run(self, key_kind, user_key, state)
        last = 0
        for x in inputs:
            run.apply(x)
            if x.kind != PRODUCT_CHANGE:
                last = x.time
        return list(run.messages.values()), list(run.journeys.values()), last


class _Run:
    """One key's pass over its inputs; collects the rows it changes."""

    def __init__(self, m: Machine, key_kind: str, user_key: str, state: UserState) -> None:
        self.m = m
        self.key_kind = key_kind
        self.user_key = user_key
        self.s = state
        self.messages: dict[str, MessageRow] = {}
        self.journeys: dict[str, JourneyRow] = {}

    def apply(self, x: Input) -> None:
        if x.cuid is not None:
            self.s.cuid = x.cuid
        self._freeze(x.time)
        if x.kind == EVENT:
            self._exits(x)
            if self.key_kind == "user":
                self._track(x)
        triggered = [self.m.plans[i] for i in x.triggers]
        if any(p.cancel_all_others for p in triggered):
            self._cancel_all_others(x, {p.id for p in triggered})
        for plan in triggered:
            self._trigger(plan, x)

    # --- message states -----------------------------------------------------------------------

    def _freeze(self, now: int) -> None:
        """Drop messages due before ``now`` from the state: they are settled (see module note)."""
        for cid in list(self.s.active):
            j = self.s.active[cid]
            if j.remaining and j.remaining[0][1] < now:
                j.remaining = [r for r in j.remaining if r[1] >= now]
                if not j.remaining:
                    del self.s.active[cid]

    def _end(self, j: Journey, state: str, reason: str, x: Input) -> None:
        """Every remaining message of ``j`` ends in ``state`` because of ``x``."""
        plan = self.m.by_id[j.campaign]
        for step, due, _mid in j.remaining:
            self._emit_message(plan, j, step, due, state, reason, x.seq, x.time)
        self._emit_journey(plan, j, state, reason, x.seq, x.time)
        del self.s.active[j.campaign]

    def _emit_message(
        self,
        plan: CampaignPlan,
        j: Journey,
        step: int,
        due: int,
        state: str = PENDING,
        reason: str | None = None,
        by: str | None = None,
        at: int | None = None,
    ) -> None:
        v = next(v for v in plan.variations if v.id == j.variation)
        mid = message_id(plan.id, v.id, step, self.key_kind, self.user_key, j.id)
        self.messages[mid] = MessageRow(
            mid, j.id, plan.id, plan.type, v.id, v.control, step, v.steps[step - 1].name,
            self.key_kind, self.user_key, j.cuid, j.time, j.trigger, due, state, reason, by, at,
            tuple(j.products),
        )  # fmt: skip

    def _emit_journey(
        self,
        plan: CampaignPlan,
        j: Journey,
        state: str = ACTIVE,
        reason: str | None = None,
        by: str | None = None,
        at: int | None = None,
    ) -> None:
        v = next(v for v in plan.variations if v.id == j.variation)
        self.journeys[j.id] = JourneyRow(
            j.id, plan.id, plan.type, v.id, v.control, self.key_kind, self.user_key, j.cuid,
            j.time, j.trigger, len(v.steps), j.first_due, j.last_due, state, reason, by, at,
        )  # fmt: skip

    # --- exits and priority -------------------------------------------------------------------

    def _exits(self, x: Input) -> None:
        """R-EXIT-1: a matching event after the trigger cancels every message not yet due."""
        et = x.event_type
        for j in list(self.s.active.values()):
            if x.time <= j.time:
                continue  # not after the trigger
            plan = self.m.by_id[j.campaign]
            ex = plan.exits
            hit = (
                plan.index in x.exits
                or (et == "purchase" and ("purchase" in ex or "purchase_in_watch_window" in ex))
                or (et == "add_to_cart" and "add_to_cart" in ex)
                or (x.new_session and "new_session" in ex)
                or (
                    et == "purchase"
                    and "purchase_of_product" in ex
                    and any(p[0] in x.items for p in j.products)
                )
            )
            if hit:
                self._end(j, CANCELLED, EXIT_CONDITION, x)

    def _cancel_all_others(self, x: Input, triggering: set[str]) -> None:
        """R-PRIO-3: every other active journey of the user ends (a cuid's are not touched)."""
        for j in list(self.s.active.values()):
            plan = self.m.by_id[j.campaign]
            if plan.key_kind == "cuid" or plan.id in triggering:
                continue
            self._end(j, CANCELLED, CANCELLED_BY_PRIORITY, x)

    # --- user state ---------------------------------------------------------------------------

    def _track(self, x: Input) -> None:
        """Cart, views, watches and purchases (R-REL-2, R-TRIG-4)."""
        s, et, pid = self.s, x.event_type, x.product_id
        cart_before = list(s.cart)
        if x.new_session:
            s.views.clear()  # viewed products are this session's (docs/detection.md)
        if et == "add_to_cart" and pid:
            s.cart = [pid] + [p for p in s.cart if p != pid]
        elif et == "remove_from_cart" and pid:
            s.cart = [p for p in s.cart if p != pid]
        elif et == "sync_cart":
            s.cart = list(dict.fromkeys(x.items))
        elif et == "purchase":
            bought = set(x.items)
            s.cart = [p for p in s.cart if p not in bought]  # bought items leave the cart
            s.last_purchase = x.time
            for key in [k for k in s.watches if k.split("|", 1)[1] in bought]:
                del s.watches[key]  # R-TYPE-PATTR: a purchase of the product ends its watch
            for cid in list(s.drops):
                plan = self.m.by_id.get(cid)
                if plan is None or plan.type == "price_drop":
                    del s.drops[cid]  # R-TYPE-PRICE: any purchase ends the watch window
                else:
                    s.drops[cid] = [d for d in s.drops[cid] if d[0] not in bought]
        if et in self.m.watch_kinds and pid:
            # R-TRIG-4: the window restarts and the baseline is the price in force now.
            s.watches[f"{et}|{pid}"] = [x.time, dec(x.price)]
        if s.cart != cart_before:
            self._cart_changed()

    def _cart_changed(self) -> None:
        products = [(p, None, None) for p in self.s.cart[: self.m.slots]]
        for j in self.s.active.values():
            plan = self.m.by_id[j.campaign]
            if plan.traits.payload == "cart" and j.products != products:
                j.products = list(products)
                for step, due, _mid in j.remaining:
                    self._emit_message(plan, j, step, due)

    # --- triggers -----------------------------------------------------------------------------

    def _trigger(self, plan: CampaignPlan, x: Input) -> None:
        products = self._payload(plan, x)
        if products is None:
            return  # a product change the user does not watch (or no longer qualifies)
        old = self.s.active.get(plan.id)
        if old is not None:
            self._end(old, SUPERSEDED, RETRIGGERED, x)  # R-REL-1
        v = plan.variation_for(self.user_key)  # R-AB-1
        jid = journey_id(plan.id, self.key_kind, self.user_key, x.seq)
        due = plan.first_due(x.time)
        remaining: list[list[Any]] = []
        for step in v.steps:
            due = due if step.number == 1 else due + step.wait
            mid = message_id(plan.id, v.id, step.number, self.key_kind, self.user_key, jid)
            remaining.append([step.number, due, mid])
        j = Journey(
            jid, plan.id, v.id, x.time, x.seq, x.cuid or self.s.cuid, products, remaining,
            remaining[0][1], remaining[-1][1],
        )  # fmt: skip
        self.s.active[plan.id] = j
        self._emit_journey(plan, j)
        for step, due, _mid in remaining:
            self._emit_message(plan, j, step, due)

    def _payload(self, plan: CampaignPlan, x: Input) -> list[Product] | None:
        """The products of a new journey (R-REL-2), or None when the trigger does not hold."""
        n = self.m.slots
        payload = plan.traits.payload
        if payload == "cart":
            return [(p, None, None) for p in self.s.cart[:n]]
        if payload == "session_views":
            seen = self.s.views.get(plan.id, [])
            if x.product_id:
                seen = [x.product_id] + [p for p in seen if p != x.product_id]
            self.s.views[plan.id] = seen[:n]
            return [(p, None, None) for p in seen[:n]]
        if payload == "watched_changes":
            return self._watched_change(plan, x)
        if x.product_id:
            return [(x.product_id, None, None)]
        return []

    def _watched_change(self, plan: CampaignPlan, x: Input) -> list[Product] | None:
        """R-TYPE-PRICE / R-TYPE-PATTR with the watch window and baseline of R-TRIG-4."""
        if x.kind != PRODUCT_CHANGE or not x.product_id:
            return None
        watch = self.s.watches.get(f"{plan.interaction}|{x.product_id}")
        if watch is None:
            return None
        at, baseline = watch[0], undec(watch[1])
        if not at < x.time <= at + plan.watch_window:
            return None  # the watch expired (or starts with this very sync)
        old: Decimal | None = None
        pct: Decimal | None = None
        if plan.type == "price_drop":
            if self.s.last_purchase is not None and self.s.last_purchase >= at:
                return None  # a purchase since the interaction ended the watch
            if baseline is None or x.price is None:
                return None  # no price was in force at the interaction: no baseline
            pct = drop_percent(baseline, x.price)
            amount = baseline - x.price
            enough = (plan.min_drop_percent is not None and pct is not None
                      and pct >= plan.min_drop_percent) or (
                plan.min_drop_amount is not None and amount >= plan.min_drop_amount
            )  # fmt: skip
            if not enough:
                return None
            old = baseline
        horizon = x.time - plan.watch_window
        entries = [
            d for d in self.s.drops.get(plan.id, []) if d[0] != x.product_id and d[1] >= horizon
        ]
        entries.insert(0, [x.product_id, x.time, dec(old), dec(pct)])
        self.s.drops[plan.id] = entries[: self.m.slots]
        return [(d[0], undec(d[2]), undec(d[3])) for d in entries[: self.m.slots]]


def sorted_inputs(inputs: Iterable[Input]) -> Iterator[Input]:
    """Inputs in processing order (tests build them in any order)."""
    return iter(sorted(inputs, key=Input.order))
