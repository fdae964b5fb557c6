"""One visit of one user: its plan of steps, drawn up front, and the state it carries."""

from __future__ import annotations

import math
import random

from reconnect.generate.config import GeneratorConfig
from reconnect.generate.people import APP_PUSH, EMAIL, SMS, WEB_PUSH

# Step codes. A plan is a list of these; each step writes exactly one valid event, so the plan's
# length is the number of events the visit will write (the shop's pacing relies on it).
PAGE_VIEW = 0
CATEGORY_VIEW = 1
PRODUCT_VIEW = 2
CART_VIEW = 3  # a product view of a product not yet in the cart, followed by its add
ADD = 4
REMOVE = 5
SYNC_CART = 6
PURCHASE = 7
MESSAGE_OPEN = 8
MESSAGE_CLICK = 9
IDENTIFY = 10
OPT_IN_EMAIL = 11
OPT_IN_SMS = 12
OPT_IN_WEB_PUSH = 13
OPT_IN_APP_PUSH = 14
OPT_OUT_EMAIL = 15
OPT_OUT_SMS = 16
OPT_OUT_WEB_PUSH = 17
OPT_OUT_APP_PUSH = 18
CUSTOM = 19
STORE_VISIT = 20
STEP_COUNT = 21

MAX_ADDS = 8
MAX_VIEWS = 60

# (step, flag bit, channel) of the opt-out steps, in plan order.
OPT_OUTS: tuple[tuple[int, int, str], ...] = (
    (OPT_OUT_EMAIL, EMAIL, "email"),
    (OPT_OUT_SMS, SMS, "sms"),
    (OPT_OUT_WEB_PUSH, WEB_PUSH, "web_push"),
    (OPT_OUT_APP_PUSH, APP_PUSH, "app_push"),
)


class Session:
    """A visit in progress: the plan, where it is, and the little state its events need."""

    __slots__ = ("cart", "category", "head", "message_id", "plan", "pos", "product", "sid",
                 "user")  # fmt: skip

    def __init__(self, user: int, sid: str | None, head: str, plan: list[int]) -> None:
        self.user = user
        self.sid = sid
        self.head = head  # the '"user_id":...,' part shared by every event of the visit
        self.plan = plan
        self.pos = 0
        self.cart: dict[int, int] = {}  # product index -> quantity; insertion-ordered
        self.category = -1
        self.product = -1
        self.message_id = ""


def _geometric(rng: random.Random, mean: float, cap: int) -> int:
    """Draw a count >= 1 with the given mean (geometric), at most ``cap``."""
    if mean <= 1.0:
        return 1
    p = 1.0 / mean
    k = 1 + int(math.log(1.0 - rng.random()) / math.log(1.0 - p))
    return min(k, cap)


class Planner:
    """Draws the plan of a visit from the funnel ratios of the config."""

    def __init__(self, config: GeneratorConfig, rng: random.Random) -> None:
        self.c = config
        self.rng = rng
        # Only sessions without a cart can bounce, so the bounce share of all sessions is met by
        # a higher bounce chance among the non-carting ones.
        no_cart = 1.0 - config.cart_session_ratio
        self.bounce_no_cart = min(1.0, config.bounce_ratio / no_cart) if no_cart > 0 else 0.0

    def online(self, first_visit: bool, identify: bool, flags: int, has_phone: bool) -> list[int]:
        """Draw the steps of a web / app session of a user in the given state."""
        c = self.c
        rng = self.rng
        plan: list[int] = []
        if rng.random() < c.message_click_ratio:
            if rng.random() < c.message_open_ratio:
                plan.append(MESSAGE_OPEN)
            plan.append(MESSAGE_CLICK)
        else:
            plan.append(PAGE_VIEW)
        self._consent(plan, first_visit, identify, flags, has_phone)
        carts = rng.random() < c.cart_session_ratio
        if not carts and rng.random() < self.bounce_no_cart:
            return plan
        views = _geometric(rng, c.views_per_session_mean, MAX_VIEWS)
        body: list[list[int]] = []
        for _ in range(views):
            body.append([CATEGORY_VIEW, PRODUCT_VIEW] if rng.random() < c.category_view_ratio
                        else [PRODUCT_VIEW])  # fmt: skip
        if rng.random() < c.custom_event_ratio:
            body.insert(rng.randint(0, len(body)), [CUSTOM])
        if carts:
            body.extend(self._cart_steps())
        for block in body:
            plan.extend(block)
        return plan

    def _consent(
        self, plan: list[int], first_visit: bool, identify: bool, flags: int, has_phone: bool
    ) -> None:
        c = self.c
        rng = self.rng
        if identify:
            plan.append(IDENTIFY)
            if rng.random() < c.opt_in_email:
                plan.append(OPT_IN_EMAIL)
            if has_phone and rng.random() < c.opt_in_sms:
                plan.append(OPT_IN_SMS)
        if first_visit:
            if rng.random() < c.opt_in_web_push:
                plan.append(OPT_IN_WEB_PUSH)
            if rng.random() < c.opt_in_app_push:
                plan.append(OPT_IN_APP_PUSH)
        ratios = (c.opt_out_email, c.opt_out_sms, c.opt_out_web_push, c.opt_out_app_push)
        for (step, bit, _), ratio in zip(OPT_OUTS, ratios, strict=True):
            if flags & bit and rng.random() < ratio:
                plan.append(step)

    def _cart_steps(self) -> list[list[int]]:
        c = self.c
        rng = self.rng
        adds = _geometric(rng, c.adds_per_cart_session_mean, MAX_ADDS)
        remove = rng.random() < c.remove_given_cart
        if remove:
            # A removal always leaves at least one product, so a later purchase has items.
            adds = max(adds, 2)
        blocks: list[list[int]] = []
        for _ in range(adds):
            if rng.random() < c.category_view_ratio:
                blocks.append([CATEGORY_VIEW, CART_VIEW, ADD])
            else:
                blocks.append([CART_VIEW, ADD])
        tail: list[int] = []
        if remove:
            tail.append(REMOVE)
        if rng.random() < c.sync_cart_ratio:
            tail.append(SYNC_CART)
        if rng.random() < c.purchase_given_cart:
            tail.append(PURCHASE)
        blocks.append(tail)
        return blocks
