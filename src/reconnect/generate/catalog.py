"""The synthetic catalogue: products, their current feed values and daily feed snapshots."""

from __future__ import annotations

import random
from array import array
from bisect import bisect
from datetime import datetime
from itertools import accumulate
from pathlib import Path

from reconnect.generate.config import GeneratorConfig
from reconnect.lake.landing import atomic_text_file, feed_sync_dir

PRODUCT_HEADER = "product_id,price,name,url,image_url,category,brand,currency,stock,color"
CURRENCY = "EUR"

# (category code as in REES46, noun for product names, price range in euros, popularity weight)
CATEGORIES: tuple[tuple[str, str, int, int, float], ...] = (
    ("electronics.smartphone", "Smartphone", 150, 1200, 14.0),
    ("electronics.audio.headphone", "Headphones", 20, 400, 9.0),
    ("computers.notebook", "Notebook", 400, 2500, 6.0),
    ("electronics.tablet", "Tablet", 150, 1300, 4.0),
    ("appliances.kitchen.coffee_machine", "Coffee Machine", 60, 900, 5.0),
    ("apparel.shoes.sneakers", "Sneakers", 40, 220, 10.0),
    ("apparel.jacket", "Jacket", 50, 350, 7.0),
    ("furniture.living_room.sofa", "Sofa", 300, 2000, 2.0),
    ("furniture.bedroom.lamp", "Lamp", 15, 150, 3.0),
    ("sport.bicycle", "Bicycle", 250, 3000, 2.5),
    ("beauty.skincare.cream", "Face Cream", 5, 80, 8.0),
    ("kids.toys.puzzle", "Puzzle", 8, 60, 4.0),
    ("home.kitchen.cookware", "Pan", 15, 200, 5.0),
    ("books.fiction", "Novel", 8, 30, 3.5),
    ("garden.tools", "Garden Shears", 10, 250, 2.0),
    ("accessories.bag", "Backpack", 20, 400, 4.0),
)
BRANDS: tuple[str, ...] = (
    "Nordlicht", "Aurora", "Kestrel", "Lumo", "Vantaa", "Brisa", "Okapi", "Solenne",
    "Tundra", "Marlo", "Zephyr", "Quill",
)  # fmt: skip
COLORS: tuple[str, ...] = ("black", "white", "grey", "blue", "red", "green", "beige", "navy")
# A name change appends an edition; index 0 is the original name.
EDITIONS: tuple[str, ...] = ("", " (2026 edition)", " Pro", " Plus", " Limited", " Eco")

# Within a category, product k (by popularity rank) is drawn as int(m * u**_SKEW): a head of
# bestsellers and a long tail, like real view logs.
_SKEW = 1.6


def product_id(index: int) -> str:
    """Return the feed and event id of product ``index``: ``p000042``."""
    return f"p{index:06d}"


def format_cents(cents: int) -> str:
    """Format a price in cents with two decimal places: ``1999`` -> ``19.99``."""
    return f"{cents // 100}.{cents % 100:02d}"


class Catalog:
    """Products with the feed values in force now; only small per-product arrays are kept."""

    def __init__(self, config: GeneratorConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        n = config.product_count
        self.size = n
        self.n_categories = min(len(CATEGORIES), n)
        # Product i belongs to category i % n_categories, so a category's products are found
        # without an index: c, c + n_categories, c + 2 * n_categories, ...
        self.category_names = [c[0] for c in CATEGORIES[: self.n_categories]]
        self._category_cum = list(accumulate(c[4] for c in CATEGORIES[: self.n_categories]))
        self._category_total = self._category_cum[-1]
        self._category_sizes = [
            (n - c + self.n_categories - 1) // self.n_categories for c in range(self.n_categories)
        ]
        self.ids = [product_id(i) for i in range(n)]
        self.price_cents = array("q", [0]) * n
        self.price_str: list[str] = [""] * n
        self.stock = array("q", [0]) * n
        self.brand = bytearray(n)
        self.color = bytearray(n)
        self.edition = bytearray(n)
        self.model = array("H", [0]) * n
        for i in range(n):
            self._init_product(i)

    def _init_product(self, i: int) -> None:
        rng = self.rng
        _, _, low, high, _ = CATEGORIES[i % self.n_categories]
        # Log-uniform within the category's range, ending in .99/.95/.90/.00 like shop prices.
        euros = int(low * (high / low) ** rng.random())
        cents = euros * 100 + rng.choice((99, 95, 90, 0))
        self._set_price(i, max(cents, 100))
        in_stock = rng.random() >= self.config.initial_out_of_stock_ratio
        self.stock[i] = rng.randint(1, 200) if in_stock else 0
        self.brand[i] = rng.randrange(len(BRANDS))
        self.color[i] = rng.randrange(len(COLORS))
        self.model[i] = rng.randint(100, 999)

    def _set_price(self, i: int, cents: int) -> None:
        self.price_cents[i] = cents
        self.price_str[i] = format_cents(cents)

    def pick_category(self, u: float) -> int:
        """Return a category index drawn by popularity from one uniform draw ``u``."""
        return bisect(self._category_cum, u * self._category_total)

    def pick_in_category(self, category: int, u: float) -> int:
        """Return a product of ``category``, bestsellers first, from one uniform draw ``u``."""
        return category + self.n_categories * int(self._category_sizes[category] * u**_SKEW)

    def category_of(self, product: int) -> int:
        """Return the category index of ``product``."""
        return product % self.n_categories

    def name(self, i: int) -> str:
        """Return the current display name of product ``i``."""
        noun = CATEGORIES[i % self.n_categories][1]
        return f"{BRANDS[self.brand[i]]} {noun} {self.model[i]}{EDITIONS[self.edition[i]]}"

    def apply_sync_changes(self) -> None:
        """Move prices, stock, names and colours the way one day of shop operations does."""
        cfg = self.config
        rng = self.rng
        big = cfg.price_drop_ratio * cfg.big_drop_share
        drop = cfg.price_drop_ratio
        rise = drop + cfg.price_rise_ratio
        for i in range(self.size):
            r = rng.random()
            if r < rise:
                self._change_price(i, r, big, drop)
            self._change_stock(i)
            if rng.random() < cfg.description_change_ratio:
                self.edition[i] = 1 + (self.edition[i] % (len(EDITIONS) - 1))
            if rng.random() < cfg.color_change_ratio:
                self.color[i] = (self.color[i] + rng.randrange(1, len(COLORS))) % len(COLORS)

    def _change_price(self, i: int, r: float, big: float, drop: float) -> None:
        old = self.price_cents[i]
        rng = self.rng
        if r < big:
            # Floor keeps a drop drawn as >= 10 % at >= 10 % after rounding to cents.
            new = int(old * (1.0 - rng.uniform(0.10, 0.40)))
        elif r < drop:
            new = round(old * (1.0 - rng.uniform(0.01, 0.09)))
            new = min(new, old - 1)
        else:
            new = round(old * (1.0 + rng.uniform(0.05, 0.25)))
        self._set_price(i, max(new, 100))

    def _change_stock(self, i: int) -> None:
        cfg = self.config
        rng = self.rng
        r = rng.random()
        if self.stock[i] == 0:
            if r < cfg.back_in_stock_ratio:
                self.stock[i] = rng.randint(5, 100)
        elif r < cfg.out_of_stock_ratio:
            self.stock[i] = 0
        elif r < cfg.out_of_stock_ratio + cfg.stock_update_ratio:
            self.stock[i] = max(1, self.stock[i] + rng.randint(-10, 10))

    def write_snapshot(self, landing: Path, sync_time: datetime) -> Path:
        """Write every product's current values as ``products.csv`` of one feed sync."""
        path = feed_sync_dir(landing, "product_feed", sync_time) / "products.csv"
        with atomic_text_file(path) as f:
            f.write(PRODUCT_HEADER + "\n")
            for i in range(self.size):
                pid = self.ids[i]
                f.write(
                    f"{pid},{self.price_str[i]},{self.name(i)},"
                    f"https://shop.example.com/p/{pid},https://cdn.example.com/img/{pid}.jpg,"
                    f"{self.category_names[i % self.n_categories]},{BRANDS[self.brand[i]]},"
                    f"{CURRENCY},{self.stock[i]},{COLORS[self.color[i]]}\n"
                )
        return path
