"""The synthetic users: a few bytes of state each, their identities and the user-side feeds."""

from __future__ import annotations

import hashlib
import random
from array import array
from datetime import datetime
from pathlib import Path

from reconnect.generate.config import GeneratorConfig
from reconnect.lake.landing import (
    SubscriberChannel,
    atomic_text_file,
    feed_sync_dir,
    subscribers_sync_dir,
)

USER_HEADER = "cuid,email,phone,timezone,country,loyalty_tier"
SUBSCRIBER_HEADER = "cuid,address"

# Flag bits of one user.
SEEN = 1
IDENTIFIED = 2
EMAIL = 4  # subscribed to e-mail (list and opt-in events agree)
SMS = 8
WEB_PUSH = 16
APP_PUSH = 32
IN_SESSION = 64

TIERS: tuple[str, ...] = ("", "Bronze", "Silver", "Gold", "Platinum")  # 0 = deleted
_TIER_START = (0.60, 0.85, 0.96)  # cumulative shares of Bronze, Silver, Gold at sign-up

# (country, IANA time zone, mobile prefix in E.164, subscriber digits, cumulative weight)
COUNTRIES: tuple[tuple[str, str, str, int, float], ...] = (
    ("DE", "Europe/Berlin", "+49151", 8, 0.40),
    ("AT", "Europe/Vienna", "+43664", 7, 0.48),
    ("CH", "Europe/Zurich", "+4179", 7, 0.53),
    ("FR", "Europe/Paris", "+336", 8, 0.65),
    ("NL", "Europe/Amsterdam", "+316", 8, 0.73),
    ("ES", "Europe/Madrid", "+346", 8, 0.80),
    ("IT", "Europe/Rome", "+393", 9, 0.87),
    ("PL", "Europe/Warsaw", "+485", 8, 0.92),
    ("GB", "Europe/London", "+447", 9, 0.97),
    ("US", "America/New_York", "+1212", 7, 1.00),
)
_FIRST = ("anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ida", "jonas",
          "lea", "max", "mia", "noah", "olga", "paul", "rosa", "sven", "tara", "yusuf")  # fmt: skip
_LAST = ("schmidt", "muller", "dupont", "rossi", "garcia", "kowalski", "jansen", "smith",
         "berger", "weber", "martin", "novak", "lopez", "fischer", "bauer", "silva")  # fmt: skip
_DOMAINS = ("example.com", "example.org", "example.net")

_MASK = (1 << 64) - 1


def mix64(x: int) -> int:
    """Return a well-mixed 64-bit integer from ``x`` (SplitMix64 finaliser)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def user_id(index: int) -> str:
    """Return the browser / device id of user ``index``: ``u0000042``."""
    return f"u{index:07d}"


def cuid_of(email: str) -> str:
    """Return the cuid of an e-mail: SHA-256 hex of the trimmed, lower-case address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class Population:
    """Users with per-user flags, last activity, tier and (once identified) their cuid."""

    def __init__(self, config: GeneratorConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        n = config.user_count
        self.size = n
        # Identity attributes are pure functions of (seed, index), so they need no memory.
        self._key = mix64(config.seed & _MASK)
        self.flags = bytearray(n)
        self.last_time = array("q", [0]) * n
        self.tier = bytearray(n)
        self.identified = array("q")  # user indices in order of identification
        self.cuids: list[str] = []  # cuid of identified[k]
        self.ident_pos = array("q", [-1]) * n

    def _u(self, index: int, salt: int) -> float:
        return mix64(self._key ^ (index * 0x100000001B3 + salt)) / 18446744073709551616.0

    def identifiable(self, index: int) -> bool:
        """Whether user ``index`` is among the ``identify_ratio`` share who identify."""
        return self._u(index, 1) < self.config.identify_ratio

    def has_phone(self, index: int) -> bool:
        """Whether user ``index`` has a mobile number on file."""
        return self._u(index, 2) < self.config.phone_ratio

    def country(self, index: int) -> tuple[str, str, str, int, float]:
        """Return the country row (code, zone, phone prefix, digits, weight) of ``index``."""
        u = self._u(index, 3)
        for row in COUNTRIES:
            if u < row[4]:
                return row
        return COUNTRIES[-1]

    def email(self, index: int) -> str:
        """Return the e-mail address of user ``index``."""
        h = mix64(self._key ^ (index * 0x9E3779B1 + 4))
        first = _FIRST[h % len(_FIRST)]
        last = _LAST[(h >> 8) % len(_LAST)]
        return f"{first}.{last}{index}@{_DOMAINS[(h >> 16) % len(_DOMAINS)]}"

    def phone(self, index: int) -> str:
        """Return the E.164 mobile number of user ``index`` (empty when they have none)."""
        if not self.has_phone(index):
            return ""
        _, _, prefix, digits, _ = self.country(index)
        number = mix64(self._key ^ (index * 0x9E3779B1 + 5)) % (10**digits)
        return f"{prefix}{number:0{digits}d}"

    def push_token(self, index: int, channel: str) -> str:
        """Return the push token of user ``index`` for ``web_push`` or ``app_push``."""
        return hashlib.sha256(f"{channel}:{self._key}:{index}".encode()).hexdigest()[:40]

    def identify(self, index: int) -> str:
        """Mark user ``index`` identified, give a starting loyalty tier; returns the cuid."""
        cuid = cuid_of(self.email(index))
        self.flags[index] |= IDENTIFIED
        self.ident_pos[index] = len(self.identified)
        self.identified.append(index)
        self.cuids.append(cuid)
        u = self.rng.random()
        self.tier[index] = 1 + sum(u >= c for c in _TIER_START)
        return cuid

    def cuid(self, index: int) -> str | None:
        """Return the cuid of user ``index``, or None before they identified."""
        pos = self.ident_pos[index]
        return self.cuids[pos] if pos >= 0 else None

    def apply_sync_changes(self) -> None:
        """Move loyalty tiers, delete some, and let users join or leave the subscriber lists."""
        cfg = self.config
        rng = self.rng
        tier = self.tier
        flags = self.flags
        change = cfg.tier_change_ratio
        remove = change + cfg.attribute_removal_ratio
        join = cfg.subscriber_join_ratio
        leave = cfg.subscriber_leave_ratio
        for index in self.identified:
            r = rng.random()
            if r < change and tier[index]:
                # Upgrades outnumber downgrades, as loyalty programmes mostly promote.
                up = tier[index] == 1 or (tier[index] < 4 and rng.random() < 0.7)
                tier[index] += 1 if up else -1
            elif change <= r < remove:
                tier[index] = 0
            for bit in (EMAIL, SMS):
                if bit == SMS and not self.has_phone(index):
                    continue
                r = rng.random()
                if flags[index] & bit:
                    if r < leave:
                        flags[index] &= ~bit
                elif r < join:
                    flags[index] |= bit

    def write_user_feed(self, landing: Path, sync_time: datetime) -> Path:
        """Write ``users.csv`` of one user-feed sync: every user identified by then."""
        path = feed_sync_dir(landing, "user_feed", sync_time) / "users.csv"
        with atomic_text_file(path) as f:
            f.write(USER_HEADER + "\n")
            for pos, index in enumerate(self.identified):
                country, tz, _, _, _ = self.country(index)
                f.write(
                    f"{self.cuids[pos]},{self.email(index)},{self.phone(index)},{tz},"
                    f"{country},{TIERS[self.tier[index]]}\n"
                )
        return path

    def write_subscribers(self, landing: Path, sync_time: datetime) -> list[Path]:
        """Write the e-mail and SMS subscriber lists of one sync."""
        paths = []
        lists: tuple[tuple[SubscriberChannel, int], ...] = (("email", EMAIL), ("sms", SMS))
        for channel, bit in lists:
            path = subscribers_sync_dir(landing, channel, sync_time) / "subscribers.csv"
            with atomic_text_file(path) as f:
                f.write(SUBSCRIBER_HEADER + "\n")
                for pos, index in enumerate(self.identified):
                    if self.flags[index] & bit:
                        address = self.email(index) if bit == EMAIL else self.phone(index)
                        f.write(f"{self.cuids[pos]},{address}\n")
            paths.append(path)
        return paths
