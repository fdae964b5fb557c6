"""The JSON line of each step of a visit, and its effect on the visit and the shop's people.

:class:`EventBodies` is the half of the shop simulation (:mod:`reconnect.generate.shop`) that
writes event lines: one writer per visit step code, each given the visit and the line's start
(event id and time) and returning the whole line. Writers update the visit (cart, viewed product)
and the people (identities, consent) as the event says.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from reconnect.generate import session as st
from reconnect.generate.catalog import CURRENCY, Catalog
from reconnect.generate.people import APP_PUSH, EMAIL, SMS, WEB_PUSH, Population, user_id
from reconnect.generate.session import Session

_CUSTOM = (
    ("wishlist_add", 0.35),
    ("search", 0.70),
    ("review_submitted", 0.85),
    ("video_play", 1.0),
)
_QUERIES = ("running shoes", "coffee", "gift ideas", "sale", "usb-c cable", "winter jacket",
            "lego", "sofa bed")  # fmt: skip
_STORES = ("Berlin Mitte", "Hamburg Altona", "München Marienplatz", "Wien Neubau",
           "Zürich HB", "Köln Ehrenfeld")  # fmt: skip


_CHANNEL_BITS = {"email": EMAIL, "sms": SMS, "web_push": WEB_PUSH, "app_push": APP_PUSH}


def visit_head(user: int, cuid: str | None, sid: str | None) -> str:
    """Build the JSON members every event of a visit shares: user, cuid once known, session."""
    head = f'"user_id":"{user_id(user)}",'
    if cuid is not None:
        head += f'"cuid":"{cuid}",'
    if sid is not None:
        head += f'"session_id":"{sid}",'
    return head


class EventBodies:
    """Event line writers; the shop provides the random stream, catalog, people and counters."""

    rng: random.Random
    catalog: Catalog
    people: Population
    tag: str
    orders: int
    messages: int

    def _handler_table(self) -> list[Callable[[Session, str], str]]:
        """The body writer of each visit step code (:mod:`reconnect.generate.session`)."""
        table: dict[int, Callable[[Session, str], str]] = {
            st.PAGE_VIEW: self._page_view,
            st.CATEGORY_VIEW: self._category_view,
            st.PRODUCT_VIEW: self._product_view,
            st.CART_VIEW: self._cart_view,
            st.ADD: self._add,
            st.REMOVE: self._remove,
            st.SYNC_CART: self._sync_cart,
            st.PURCHASE: self._purchase,
            st.MESSAGE_OPEN: self._message_open,
            st.MESSAGE_CLICK: self._message_click,
            st.IDENTIFY: self._identify,
            st.OPT_IN_EMAIL: lambda s, pre: self._consent(s, pre, "opt_in", "email"),
            st.OPT_IN_SMS: lambda s, pre: self._consent(s, pre, "opt_in", "sms"),
            st.OPT_IN_WEB_PUSH: lambda s, pre: self._consent(s, pre, "opt_in", "web_push"),
            st.OPT_IN_APP_PUSH: lambda s, pre: self._consent(s, pre, "opt_in", "app_push"),
            st.OPT_OUT_EMAIL: lambda s, pre: self._consent(s, pre, "opt_out", "email"),
            st.OPT_OUT_SMS: lambda s, pre: self._consent(s, pre, "opt_out", "sms"),
            st.OPT_OUT_WEB_PUSH: lambda s, pre: self._consent(s, pre, "opt_out", "web_push"),
            st.OPT_OUT_APP_PUSH: lambda s, pre: self._consent(s, pre, "opt_out", "app_push"),
            st.CUSTOM: self._custom,
            st.STORE_VISIT: self._store_visit,
        }
        return [table[code] for code in range(st.STEP_COUNT)]

    def _product_fields(self, p: int) -> str:
        cat = self.catalog
        return (
            f'"product_id":"{cat.ids[p]}","category":"{cat.category_names[p % cat.n_categories]}",'
            f'"price":{cat.price_str[p]},"currency":"{CURRENCY}"'
        )

    def _page_view(self, s: Session, pre: str) -> str:
        return f'{pre}{s.head}"event_type":"page_view"}}\n'

    def _category_view(self, s: Session, pre: str) -> str:
        s.category = self.catalog.pick_category(self.rng.random())
        name = self.catalog.category_names[s.category]
        return f'{pre}{s.head}"event_type":"category_view","category":"{name}"}}\n'

    def _view_product(self, s: Session) -> int:
        """Pick a product to view, mostly in the category the visitor is browsing."""
        rng = self.rng
        cat = self.catalog
        if s.category < 0 or rng.random() < 0.4:
            s.category = cat.pick_category(rng.random())
        return cat.pick_in_category(s.category, rng.random())

    def _product_view(self, s: Session, pre: str) -> str:
        p = s.product = self._view_product(s)
        return f'{pre}{s.head}"event_type":"product_view",{self._product_fields(p)}}}\n'

    def _cart_view(self, s: Session, pre: str) -> str:
        p = self._view_product(s)
        # Carts hold distinct products, so a removal never empties a cart meant for a purchase.
        while p in s.cart:
            p = (p + 1) % self.catalog.size
        s.product = p
        return f'{pre}{s.head}"event_type":"product_view",{self._product_fields(p)}}}\n'

    def _add(self, s: Session, pre: str) -> str:
        r = self.rng.random()
        qty = 1 if r < 0.85 else 2 if r < 0.95 else 3
        p = s.product
        s.cart[p] = s.cart.get(p, 0) + qty
        return (
            f'{pre}{s.head}"event_type":"add_to_cart",{self._product_fields(p)},'
            f'"quantity":{qty}}}\n'
        )

    def _remove(self, s: Session, pre: str) -> str:
        products = list(s.cart)
        p = products[self.rng.randrange(len(products))]
        qty = s.cart.pop(p)
        return (
            f'{pre}{s.head}"event_type":"remove_from_cart",{self._product_fields(p)},'
            f'"quantity":{qty}}}\n'
        )

    def _sync_cart(self, s: Session, pre: str) -> str:
        ids = self.catalog.ids
        cart = ",".join(f'{{"product_id":"{ids[p]}","quantity":{q}}}' for p, q in s.cart.items())
        return f'{pre}{s.head}"event_type":"sync_cart","cart":[{cart}]}}\n'

    def _purchase(self, s: Session, pre: str) -> str:
        cat = self.catalog
        self.orders += 1
        revenue = sum(cat.price_cents[p] * q for p, q in s.cart.items())
        items = ",".join(
            f'{{"product_id":"{cat.ids[p]}","quantity":{q},"price":{cat.price_str[p]}}}'
            for p, q in s.cart.items()
        )
        s.cart.clear()
        return (
            f'{pre}{s.head}"event_type":"purchase","order_id":"{self.tag}-o{self.orders}",'
            f'"revenue":{revenue // 100}.{revenue % 100:02d},"currency":"{CURRENCY}",'
            f'"items":[{items}]}}\n'
        )

    def _message_id(self, s: Session) -> str:
        if not s.message_id:
            self.messages += 1
            s.message_id = f"{self.tag}-m{self.messages}"
        return s.message_id

    def _message_open(self, s: Session, pre: str) -> str:
        return f'{pre}{s.head}"event_type":"message_open","message_id":"{self._message_id(s)}"}}\n'

    def _message_click(self, s: Session, pre: str) -> str:
        mid = self._message_id(s)
        return f'{pre}{s.head}"event_type":"message_click","message_id":"{mid}"}}\n'

    def _identify(self, s: Session, pre: str) -> str:
        cuid = self.people.identify(s.user)
        s.head = visit_head(s.user, cuid, s.sid)
        return f'{pre}{s.head}"event_type":"identify"}}\n'

    def _consent(self, s: Session, pre: str, event: str, channel: str) -> str:
        people = self.people
        u = s.user
        bit = _CHANNEL_BITS[channel]
        if event == "opt_in":
            people.flags[u] |= bit
        else:
            people.flags[u] &= ~bit
        if channel == "email":
            address = people.email(u)
        elif channel == "sms":
            address = people.phone(u)
        else:
            address = people.push_token(u, channel)
        return (
            f'{pre}{s.head}"event_type":"{event}","channel":"{channel}","address":"{address}"}}\n'
        )

    def _custom(self, s: Session, pre: str) -> str:
        rng = self.rng
        r = rng.random()
        name = next(n for n, cum in _CUSTOM if r < cum)
        props = ""
        if name in ("wishlist_add", "review_submitted"):
            p = s.product if s.product >= 0 else self._view_product(s)
            props = f'"product_id":"{self.catalog.ids[p]}"'
            if name == "review_submitted":
                props += f',"rating":"{rng.randint(1, 5)}"'
        elif name == "search":
            props = f'"query":"{_QUERIES[rng.randrange(len(_QUERIES))]}"'
        body = f',"properties":{{{props}}}' if props else ""
        return f'{pre}{s.head}"event_type":"custom","event_name":"{name}"{body}}}\n'

    def _store_visit(self, s: Session, pre: str) -> str:
        store = _STORES[self.rng.randrange(len(_STORES))]
        return (
            f'{pre}{s.head}"event_type":"custom","event_name":"store_visit",'
            f'"properties":{{"channel":"offline","store":"{store}"}}}}\n'
        )
