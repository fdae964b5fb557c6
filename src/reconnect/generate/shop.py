"""A deterministic synthetic shop that streams its clickstream and feeds into a landing zone.

The simulation is a single event-time loop over a heap of what happens next: feed syncs at each
day boundary, an hourly tick that schedules the hour's visits, visit starts, and the next step of
every open visit. Popping the heap in order makes the output time-ordered while memory holds only
the open visits; per user there are a few bytes (flags, last activity, tier, cuid once identified).

Pacing: the tick sizes each hour's visits from the lines still to write, the hour's share of the
remaining daily/weekly traffic curve and the mean visit length seen so far, so the run reaches the
exact line target near the end of the period. The run stops at exactly ``events`` lines, possibly
cutting the last visits short; if the period ends first (rare, small runs), extra visits start
after it, so a few events may fall after ``start + days`` (they see the last sync's prices).
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from reconnect.generate import session as st
from reconnect.generate.catalog import Catalog
from reconnect.generate.config import MALFORMED_KINDS, GenerationSummary, GeneratorConfig
from reconnect.generate.engagement import (
    Delivered,
    EngagementConfig,
    EngagementCounts,
    counts_of,
    engagement_lines,
)
from reconnect.generate.event_bodies import EventBodies, visit_head
from reconnect.generate.lines import EventFiles, TimeFormatter, malformed_line
from reconnect.generate.people import (
    IDENTIFIED,
    IN_SESSION,
    SEEN,
    Population,
    user_id,
)
from reconnect.generate.session import Planner, Session
from reconnect.lake.landing import atomic_text_file, events_dir

Progress = Callable[[int, int], None]

PROGRESS_EVERY = 100_000
SESSION_TIMEOUT = 30 * 60  # R-TRIG-6: a visit of the same user must start later than this
MAX_GAP = 25 * 60  # within a visit, events stay closer than the session timeout
MEAN_GAP = 40.0  # seconds between events of a visit (typical time on a product page)
DUPLICATE_WINDOW = 512  # duplicates copy one of this many most recent valid lines
USER_SKEW = 1.3  # visits per user follow index ** (1 / USER_SKEW - 1): some users return often
PICK_TRIES = 8
PACING_MARGIN = 1.02  # a slight over-supply of visits makes a run end by cutting, not topping up

# Heap priorities at equal times: a feed sync takes effect before events at the same second.
_SYNC, _TICK, _EVENT = 0, 1, 2

# Relative visits by UTC hour (European shop: quiet nights, evening peak) and by weekday (Mon..Sun).
HOURLY = (2.0, 1.2, 0.8, 0.6, 0.6, 0.8, 1.5, 2.5, 3.5, 4.0, 4.2, 4.3,
          4.5, 4.4, 4.3, 4.3, 4.5, 5.0, 5.8, 6.5, 6.8, 6.0, 4.5, 3.0)  # fmt: skip
WEEKDAY = (1.0, 1.0, 0.98, 0.98, 0.95, 1.02, 1.12)


def run_tag(config: GeneratorConfig) -> str:
    """Return a short id of the config; it prefixes every generated id so runs never share ids."""
    return hashlib.sha256(repr(config).encode()).hexdigest()[:8]


def _midnight(day: date) -> datetime:
    """Return UTC midnight at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class _Shop(EventBodies):
    """State of one generation run; ``run`` drives it and returns the summary."""

    def __init__(self, config: GeneratorConfig, landing: Path, progress: Progress | None) -> None:
        self.c = config
        self.landing = landing
        self.progress = progress
        self.tag = run_tag(config)
        seed = config.seed
        # Independent streams, so that e.g. a feed change does not reshuffle the clickstream.
        self.rng = random.Random(f"{seed}:visits")
        self.noise_rng = random.Random(f"{seed}:noise")
        self.catalog = Catalog(config, random.Random(f"{seed}:catalog"))
        self.people = Population(config, random.Random(f"{seed}:people"))
        self.planner = Planner(config, self.rng)
        self.ts = TimeFormatter(config.start)
        self.origin = self.ts.origin
        self.hours = config.days * 24

        self.heap: list[tuple[int, int, int, Session | int | None]] = []
        self.seq = 0
        self.now = self.origin
        self.lines = 0
        self.valid = 0
        self.duplicates = 0
        self.malformed = dict.fromkeys(MALFORMED_KINDS, 0)
        self.next_id = 0
        self.sessions = 0
        self.orders = 0
        self.messages = 0
        self.ring: list[str] = []
        self.pending = 0  # planned events of open visits not yet written
        self.visits = 0  # visits started (online and offline)
        self.planned = 0  # events planned by those visits
        self.prior_len = self._prior_visit_length()
        self.syncs = 0
        self.subscriber_files = 0
        self.reported = 0  # lines at the last progress report

        total = self.c.malformed_ratio + self.c.duplicate_ratio
        # Noise lines follow valid lines; these per-valid-line chances give the ratios of all lines.
        self.p_malformed = self.c.malformed_ratio / (1.0 - total)
        self.p_noise = total / (1.0 - total)
        self.lines_per_event = 1.0 / (1.0 - total)
        self.hour_weight = [
            HOURLY[h % 24] * WEEKDAY[(config.start.weekday() + h // 24) % 7]
            for h in range(self.hours)
        ]
        self.weight_left = [0.0] * (self.hours + 1)
        for h in range(self.hours - 1, -1, -1):
            self.weight_left[h] = self.weight_left[h + 1] + self.hour_weight[h]
        self.handlers: list[Callable[[Session, str], str]] = self._handler_table()

    # ----------------------------------------------------------------------------- scheduling

    def _push(self, t: int, prio: int, item: Session | int | None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, prio, self.seq, item))

    def _prior_visit_length(self) -> float:
        """Mean events per visit of plans drawn from a throwaway stream (pacing's first guess)."""
        planner = Planner(self.c, random.Random(f"{self.c.seed}:prior"))
        n = 400
        return sum(len(planner.online(False, False, 0, False)) for _ in range(n)) / n

    def _tick(self, hour: int) -> None:
        """Schedule the visits of ``hour`` and the next tick."""
        rng = self.rng
        t0 = self.origin + hour * 3600
        if hour + 1 < self.hours:
            self._push(t0 + 3600, _TICK, hour + 1)
        need = (self.c.events - self.lines) / self.lines_per_event - self.pending
        if need <= 0:
            return
        k = 20.0  # weight of the prior guess, in visits
        mean = (self.planned + self.prior_len * k) / (self.visits + k)
        share = self.hour_weight[hour] / self.weight_left[hour]
        margin = PACING_MARGIN if hour + 1 < self.hours else 1.1
        expected = need * share / mean * margin
        count = int(expected) + (rng.random() < expected - int(expected))
        for offset in sorted(rng.randrange(3600) for _ in range(count)):
            self._push(t0 + offset, _EVENT, None)

    def _sync(self, day: int) -> None:
        """Apply one day of feed changes and write the product, user and subscriber snapshots."""
        sync_time = self.c.start + timedelta(days=day)
        when = _midnight(sync_time)
        if day > 0:
            self.catalog.apply_sync_changes()
            self.people.apply_sync_changes()
        self.catalog.write_snapshot(self.landing, when)
        self.people.write_user_feed(self.landing, when)
        self.subscriber_files += len(self.people.write_subscribers(self.landing, when))
        self.syncs += 1

    # --------------------------------------------------------------------------------- visits

    def _pick_user(self, t: int) -> int:
        """Pick a user free to start a visit at ``t`` (not in a visit, idle > 30 min), or -1."""
        rng = self.rng
        n = self.people.size
        flags = self.people.flags
        last = self.people.last_time
        for _ in range(PICK_TRIES):
            u = int(n * rng.random() ** USER_SKEW)
            if not flags[u] & IN_SESSION and t - last[u] > SESSION_TIMEOUT:
                return u
        return -1

    def _start(self, t: int) -> Session | None:
        """Start a visit at ``t``: an online session, or an offline store visit / message open."""
        u = self._pick_user(t)
        if u < 0:
            return None
        people = self.people
        flags = people.flags[u]
        sid: str | None = None
        plan: list[int] | None = None
        if flags & IDENTIFIED:
            r = self.rng.random()
            if r < self.c.store_visit_ratio:
                plan = [st.STORE_VISIT]
            elif r < self.c.store_visit_ratio + self.c.open_only_ratio:
                plan = [st.MESSAGE_OPEN]
        if plan is None:
            identify = not flags & IDENTIFIED and people.identifiable(u)
            plan = self.planner.online(not flags & SEEN, identify, flags, people.has_phone(u))
            self.sessions += 1
            sid = f"{self.tag}-s{self.sessions}"
        people.flags[u] = flags | SEEN | IN_SESSION
        self.visits += 1
        self.planned += len(plan)
        self.pending += len(plan)
        return Session(u, sid, visit_head(u, people.cuid(u), sid), plan)

    def _end(self, s: Session, t: int) -> None:
        self.people.flags[s.user] &= ~IN_SESSION
        self.people.last_time[s.user] = t

    # ------------------------------------------------------------------------------ main loop

    def run(self) -> GenerationSummary:
        """Simulate until exactly ``events`` lines are written, then write the remaining syncs."""
        c = self.c
        for day in range(c.days + 1):
            self._push(self.origin + day * 86_400, _SYNC, day)
        self._push(self.origin, _TICK, 0)
        with EventFiles(self.landing, c.events_per_file) as files:
            self._loop(files)
        while self.heap:
            _, prio, _, item = heapq.heappop(self.heap)
            if prio == _SYNC:
                assert isinstance(item, int)
                self._sync(item)
        if self.progress is not None and self.reported < self.lines:
            self.progress(self.lines, c.events)
        return GenerationSummary(
            lines=self.lines,
            valid_events=self.valid,
            duplicates=self.duplicates,
            malformed=dict(self.malformed),
            event_files=files.files,
            product_syncs=self.syncs,
            user_syncs=self.syncs,
            subscriber_syncs=self.subscriber_files,
            users=self.people.size,
            products=self.catalog.size,
        )

    def _loop(self, files: EventFiles) -> None:
        target = self.c.events
        heap = self.heap
        heappop = heapq.heappop
        rng = self.rng
        noise = self.noise_rng.random
        handlers = self.handlers
        ts = self.ts
        tag = self.tag
        ring = self.ring
        write = files.write
        next_progress = PROGRESS_EVERY
        while self.lines < target:
            if not heap:
                self._push(self.now + rng.randint(1, 60), _EVENT, None)
            t, prio, _, item = heappop(heap)
            self.now = t
            if prio == _SYNC:
                assert isinstance(item, int)
                self._sync(item)
                continue
            if prio == _TICK:
                assert isinstance(item, int)
                self._tick(item)
                continue
            s = self._start(t) if item is None else item
            if s is None:
                continue
            assert isinstance(s, Session)
            code = s.plan[s.pos]
            s.pos += 1
            self.pending -= 1
            self.next_id += 1
            line = handlers[code](
                s, f'{{"event_id":"{tag}-e{self.next_id}","event_time":"{ts(t)}",'
            )
            write(line)
            self.valid += 1
            self.lines += 1
            if len(ring) < DUPLICATE_WINDOW:
                ring.append(line)
            else:
                ring[self.valid % DUPLICATE_WINDOW] = line
            if self.lines < target and noise() < self.p_noise:
                write(self._noise_line(s, t))
                self.lines += 1
            if s.pos < len(s.plan):
                gap = 1 + int(rng.expovariate(1.0 / MEAN_GAP))
                self._push(t + min(gap, MAX_GAP), _EVENT, s)
            else:
                self._end(s, t)
            if self.lines >= next_progress:
                if self.progress is not None:
                    self.progress(self.lines, target)
                    self.reported = self.lines
                next_progress += PROGRESS_EVERY

    def _noise_line(self, s: Session, t: int) -> str:
        """Make a malformed line or copy a recent valid line, in the configured proportions."""
        rng = self.noise_rng
        if rng.random() * self.p_noise >= self.p_malformed:
            self.duplicates += 1
            return self.ring[rng.randrange(len(self.ring))]
        kind = MALFORMED_KINDS[rng.randrange(len(MALFORMED_KINDS))]
        self.malformed[kind] += 1
        self.next_id += 1
        cat = self.catalog
        p = cat.pick_in_category(cat.pick_category(rng.random()), rng.random())
        return malformed_line(
            kind,
            rng,
            f"{self.tag}-e{self.next_id}",
            self.ts(t),
            user_id(s.user),
            cat.ids[p],
            cat.price_str[p],
            cat.category_names[cat.category_of(p)],
        )


def generate_shop(
    config: GeneratorConfig, landing: Path, progress: Progress | None = None
) -> GenerationSummary:
    """Write a synthetic shop's events, product feed, user feed and subscriber lists to ``landing``.

    ``progress(lines_written, target_lines)`` is called about every 100,000 lines and at the end.
    The same config always produces byte-identical files.
    """
    return _Shop(config, Path(landing), progress).run()


def engagement_file(landing: Path, send_batch: int) -> Path:
    """Where the engagement with one send batch's messages is written."""
    return events_dir(landing) / f"engagement-send-batch-{send_batch:06d}.jsonl"


def write_engagement(
    landing: Path, send_batch: int, messages: Iterable[Delivered], config: EngagementConfig
) -> EngagementCounts:
    """Write the opens, clicks and purchases of one send batch's messages, in event time.

    One file per send batch (:func:`engagement_file`), appearing complete; the same messages
    and config give the same bytes.
    """
    counts = EngagementCounts()
    lines: list[tuple[datetime, str]] = []
    for m in messages:
        mine = engagement_lines(m, config)
        counts.add(counts_of(mine))
        lines += mine
    with atomic_text_file(engagement_file(landing, send_batch)) as f:
        f.writelines(line + "\n" for _, line in sorted(lines))
    return counts
