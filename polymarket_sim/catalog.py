"""The set of markets and events over time: slots, generations, ids, lifecycle times and lookups.

The world has a fixed number of *slots*. A slot hosts one event at a time (one market, or a negRisk group of
3-6 mutually exclusive markets); when that event resolves, the slot's next generation is created after a
short gap. Every property of a generation is drawn from a Stream keyed by (seed, slot, generation), so the
catalog is a pure function of the seed and --start. Generations are materialised lazily in creation order
(a heap keyed by creation time), which keeps ids increasing with creation time whichever clock moves happen.
"""

from __future__ import annotations

import bisect
import heapq
import math

from . import names
from .fees import CATEGORY_RATES, fee_category
from .pricing import (
    CALIBRATIONS,
    DEFAULT_MARKET,
    Calibration,
    endpoints_given_outcome,
    group_endpoints_given_winner,
)
from .rng import T_EVENT, T_IDGAP, T_SLOT, Stream, h, u01

HOUR = 3600.0
DAY = 86400.0
MATERIALISE_AHEAD = 2 * HOUR

YES, NO, INVALID = "YES", "NO", "INVALID"
V1, V2 = "v1", "v2"
DEFAULT_NO_YES_SHARE = 0.15
DEFAULT_V2_SHARE = 0.3


class Event:
    __slots__ = (
        "comment_count",
        "created_at",
        "description",
        "end_date",
        "gap",
        "gen",
        "id",
        "image",
        "kind",
        "markets",
        "neg_risk",
        "neg_risk_market_id",
        "resolved_at",
        "slot",
        "slug",
        "start_date",
        "static",
        "tags",
        "ticker",
        "title",
    )

    def __init__(self) -> None:
        self.static = None


class Market:
    __slots__ = (
        "accepting_after_close",
        "clock_power",
        "condition_id",
        "created_at",
        "density",
        "depth",
        "description",
        "end_date",
        "event",
        "fee_category",
        "fees_enabled",
        "gen",
        "gid",
        "group_item_title",
        "group_threshold",
        "has_cap",
        "has_floor",
        "has_rewards",
        "image",
        "key",
        "kind",
        "ladder_ticks",
        "lam",
        "legacy_tokens",
        "listed_order",
        "member",
        "micros_start",
        "neg_risk",
        "neg_risk_request_id",
        "no_token",
        "no_uma_status",
        "outcome",
        "outcomes",
        "phase_ms",
        "proposed_at",
        "question",
        "question_id",
        "refresh_ticks",
        "resolved_at",
        "slot",
        "slug",
        "stale",
        "start_date",
        "static",
        "tags",
        "thin_side",
        "tick_ms",
        "umabond",
        "version",
        "volume_scale",
        "x0",
        "yes_token",
        "z1",
    )

    def __init__(self) -> None:
        self.static = None

    def state(self, t: float) -> str:
        """open | closed_pending | proposed | resolved | stale (more than 24 h past endDate, unresolved)."""
        if t >= self.resolved_at:
            return "resolved"
        if t < self.end_date:
            return "open"
        if t - self.end_date > 24 * HOUR:
            return "stale"
        if t >= self.proposed_at:
            return "proposed"
        return "closed_pending"

    def tokens(self) -> tuple[str, str]:
        return (self.yes_token, self.no_token)

    # Internally index 0 is always the YES side (the first outcome of the question's own order); the wire
    # lists outcomes in `listed_order`, so a ["No", "Yes"] market is (1, 0). Every renderer goes through these.
    def listed_outcomes(self) -> list[str]:
        return [self.outcomes[i] for i in self.listed_order]

    def listed_tokens(self) -> list[str]:
        tokens = self.tokens()
        return [tokens[i] for i in self.listed_order]

    def listed_index(self, internal_index: int) -> int:
        """Position on the wire (outcomes, ids, outcomePrices, outcomeIndex) of internal outcome index."""
        return self.listed_order.index(internal_index)


def _slot_layout(seed: int, n_markets: int) -> list[tuple[str, int]]:
    """Slot kinds and sizes, so the slots together hold exactly n_markets markets."""
    slots: list[tuple[str, int]] = []
    total = 0
    i = 0
    while total < n_markets:
        rs = Stream(seed, T_SLOT, i, -1)
        r = rs.random()
        remaining = n_markets - total
        if r < 0.05 and remaining >= 3:
            kind, size = "negrisk", min(remaining, rs.randint(3, 6))
        elif r < 0.14:
            kind, size = "updown", 1
        elif r < 0.22:
            kind, size = "sports", 1
        else:
            kind, size = "yesno", 1
        slots.append((kind, size))
        total += size
        i += 1
    return slots


def _log_uniform(rs: Stream, lo: float, hi: float) -> float:
    return math.exp(rs.uniform(math.log(lo), math.log(hi)))


_UINT256 = 1 << 256
_TOKEN_FLOOR = 10**73


def _token_id(rs: Stream) -> str:
    """A CLOB token id: a uniform uint256 (as the real ERC-1155 position ids are), so 77 digits are most common,
    78-digit ids start with 10/11 (below 2**256), and shorter ones thin out; the floor keeps ids at 74+ digits."""
    big = 0
    for _ in range(5):
        big = (big << 64) | rs.next64()
    return str(_TOKEN_FLOOR + big % (_UINT256 - _TOKEN_FLOOR))


class _GenPlan:
    """Durations of one slot generation, drawn before its creation time is known."""

    __slots__ = ("gap", "lifetime", "liveness", "propose_delay", "rs", "stale")

    def __init__(self, seed: int, slot: int, gen: int, kind: str) -> None:
        rs = Stream(seed, T_SLOT, slot, gen)
        if kind == "updown":
            self.lifetime = rs.uniform(2 * HOUR, 12 * HOUR)
        elif kind == "sports":
            self.lifetime = _log_uniform(rs, 6 * HOUR, 4 * DAY)
        elif kind == "negrisk":
            self.lifetime = _log_uniform(rs, 1 * DAY, 14 * DAY)
        else:
            self.lifetime = _log_uniform(rs, 8 * HOUR, 12 * DAY)
        self.stale = rs.random() < 0.04
        self.propose_delay = rs.uniform(26 * HOUR, 48 * HOUR) if self.stale else rs.uniform(600, 5400)
        self.liveness = 2 * HOUR + rs.uniform(0, 1800)
        self.gap = rs.uniform(60, 1800)
        self.rs = rs

    @property
    def cycle(self) -> float:
        return self.lifetime + self.propose_delay + self.liveness + self.gap


class Catalog:
    """All markets and events ever created up to the materialised horizon, sorted by id (= creation order).

    ``calibration``: how prices move and what the market maker learns (``pricing.CALIBRATIONS``; default
    ``realistic``). ``no_yes_share``: share of Yes/No markets listed as ``["No", "Yes"]``. ``v2_share``: share
    of the markets created at or after ``v2_since`` (epoch s; None = ``start``) that are Protocol V2 markets
    (polymarket_api.md §9.6); markets created from ``v2_since`` on carry a ``version`` field, older ones none
    (as the real 2024-26 payloads).
    """

    def __init__(
        self,
        seed: int,
        n_markets: int,
        start: float,
        calibration: Calibration | None = None,
        *,
        no_yes_share: float = DEFAULT_NO_YES_SHARE,
        v2_share: float = DEFAULT_V2_SHARE,
        v2_since: float | None = None,
    ) -> None:
        for name, share in (("no_yes_share", no_yes_share), ("v2_share", v2_share)):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {share}")
        self.seed = seed
        self.start = start
        self.calibration = calibration or CALIBRATIONS[DEFAULT_MARKET]
        self.no_yes_share = no_yes_share
        self.v2_share = v2_share
        self.v2_since = start if v2_since is None else v2_since
        self.layout = _slot_layout(seed, n_markets)
        self.markets: list[Market] = []
        self.created: list[float] = []
        self.gids: list[int] = []
        self.events: list[Event] = []
        self.event_created: list[float] = []
        self.event_ids: list[int] = []
        self.by_id: dict[int, Market] = {}
        self.by_condition: dict[str, Market] = {}
        self.by_token: dict[str, tuple[Market, int]] = {}
        self.by_slug: dict[str, Market] = {}
        self.events_by_id: dict[int, Event] = {}
        self.events_by_slug: dict[str, Event] = {}
        # (resolved_at, gid) kept sorted, for market_resolved emission and "what resolved between t0 and t1".
        self.resolutions: list[tuple[float, int]] = []
        self._next_market_id = 1_400_000
        self._next_event_id = 120_000
        self._heap: list[tuple[float, int, int]] = []
        self._horizon = -math.inf

        initial: list[Event] = []
        for slot, (kind, size) in enumerate(self.layout):
            plan0 = _GenPlan(seed, slot, 0, kind)
            u = Stream(seed, T_SLOT, slot, -2).random()
            created0 = start - u * plan0.cycle
            initial.append(self._build(slot, 0, kind, size, created0, plan0))
            if Stream(seed, T_SLOT, slot, -3).random() < 0.25:
                plan_prev = _GenPlan(seed, slot, -1, kind)
                initial.append(self._build(slot, -1, kind, size, created0 - plan_prev.cycle, plan_prev))
            nxt = self._next_created(initial[-1] if initial[-1].gen == 0 else initial[-2])
            heapq.heappush(self._heap, (nxt, slot, 1))
        initial.sort(key=lambda e: (e.created_at, e.slot))
        for ev in initial:
            self._register(ev)

    # -- construction -------------------------------------------------------------------------------------

    def _next_created(self, ev: Event) -> float:
        return ev.resolved_at + ev.gap

    def _build(self, slot: int, gen: int, kind: str, size: int, created: float, plan: _GenPlan) -> Event:
        seed = self.seed
        rs = plan.rs
        end = round((created + plan.lifetime) / 60.0) * 60.0
        proposed = end + plan.propose_delay
        resolved = proposed + plan.liveness
        ev = Event()
        ev.slot, ev.gen, ev.kind = slot, gen, kind
        ev.created_at = created
        ev.start_date = created + rs.uniform(30, 600)
        ev.end_date = end
        ev.resolved_at = resolved
        ev.neg_risk = kind == "negrisk"
        ev.comment_count = int(_log_uniform(rs, 1, 3000)) - 1
        if ev.neg_risk:
            text = names.negrisk_event(rs, size, end)
            ev.title = text["title"]
            ev.image = names.IMAGE_BASE + text["image"]
            ev.tags = text["tags"]
            ev.neg_risk_market_id = "0x" + rs.hexstr(62) + "00"
            winner = rs.randint(0, size - 1)
        else:
            text = names.single_question(kind, rs, end)
            ev.title = text["title"]
            ev.image = names.IMAGE_BASE + text["image"]
            ev.tags = text["tags"]
            ev.neg_risk_market_id = ""
            winner = -1
        ev.slug = f"{text['slug_base']}-{rs.randint(100, 999)}" if kind != "updown" else text["slug_base"]
        ev.ticker = ev.slug
        ev.description = (
            f'This market will resolve according to the listed outcome for "{ev.title}". '
            "The resolution source is a consensus of credible reporting."
        )
        ev.markets = []
        if ev.neg_risk:
            gs = Stream(seed, T_SLOT, slot, gen, -1)
            group_paths = group_endpoints_given_winner(
                [(gs.gauss(), gs.gauss()) for _ in range(size)], winner, self.calibration.prior_var
            )
        for j in range(size):
            m = Market()
            m.slot, m.gen, m.member, m.kind, m.event = slot, gen, j, kind, ev
            m.key = h(seed, slot, gen, j) >> 1
            ms = Stream(seed, T_SLOT, slot, gen, j)
            m.created_at = created + 0.05 * j
            m.start_date = ev.start_date + 0.01 * j
            m.micros_start = ms.random() < 0.6
            m.end_date = end
            m.proposed_at = proposed
            m.resolved_at = resolved
            m.stale = plan.stale
            if ev.neg_risk:
                m.question = text["questions"][j]
                m.outcomes = ("Yes", "No")
                m.group_item_title = text["candidates"][j]
                m.group_threshold = str(j)
                m.outcome = YES if j == winner else NO
                m.slug = f"{names.slugify(m.question)}-{ms.randint(100, 999)}"
            else:
                m.question = text["question"]
                m.outcomes = text["outcomes"]
                m.group_item_title = ""
                m.group_threshold = "0"
                m.outcome = (
                    INVALID
                    if (kind == "yesno" and ms.random() < 0.03)
                    else (YES if ms.random() < 0.5 else NO)
                )
                m.slug = ev.slug
            m.neg_risk = ev.neg_risk
            m.yes_token = _token_id(ms)
            m.no_token = _token_id(ms)
            self._identity(m)
            m.condition_id = "0x" + ms.hexstr(64)
            m.question_id = (ev.neg_risk_market_id[:-2] + f"{j:02x}") if ev.neg_risk else "0x" + ms.hexstr(64)
            m.neg_risk_request_id = ("0x" + ms.hexstr(64)) if ev.neg_risk else ""
            m.accepting_after_close = ms.random() < 0.06
            m.no_uma_status = ms.random() < 0.12
            if ev.neg_risk:
                m.x0, m.z1 = group_paths[j]
            else:
                sign = 1.0 if m.outcome == YES else (-1.0 if m.outcome == NO else 0.0)
                m.x0, m.z1 = endpoints_given_outcome(ms.gauss(), ms.gauss(), sign, self.calibration.prior_var)
            m.clock_power = self.calibration.clock_power
            m.tick_ms = int(ms.weighted([5000, 10000, 15000, 20000, 30000, 60000], [2, 4, 3, 3, 2, 1]))
            m.phase_ms = ms.randint(0, m.tick_ms - 1)
            if ev.neg_risk and j > 0:
                m.tick_ms, m.phase_ms = ev.markets[0].tick_ms, ev.markets[0].phase_ms
            # Trades per second: log-uniform from 1 per 2 h to 2 per minute (median about 8 per hour).
            m.lam = _log_uniform(ms, 1 / 7200.0, 1 / 30.0)
            m.depth = _log_uniform(ms, 40.0, 4000.0)
            m.thin_side = ms.random() < 0.35
            m.volume_scale = _log_uniform(ms, 2_000.0, 3_000_000.0)
            if kind != "updown":
                # This draw once decided fees; it is kept so every later property keeps its seeded value.
                ms.random()
            m.fee_category = fee_category(kind, ev.tags)
            m.fees_enabled = CATEGORY_RATES[m.fee_category][0] > 0
            m.has_rewards = ms.random() < 0.5
            m.ladder_ticks = ms.randint(6, 25)
            m.density = ms.uniform(0.35, 0.8)
            m.refresh_ticks = ms.randint(3, 12)
            m.has_floor = ms.random() < 0.4
            m.has_cap = ms.random() < 0.4
            m.umabond = ms.choice(["500", "750", "1500", "25000"])
            m.description = ev.description
            m.image = ev.image
            m.tags = ev.tags
            ev.markets.append(m)
        ev.gap = plan.gap
        return ev

    def _identity(self, m: Market) -> None:
        """Listed outcome order and protocol version, from hashes of the market key (not the market's Stream,
        so every other property stays what it was before these options existed)."""
        flip = tuple(m.outcomes) == ("Yes", "No") and u01(m.key, 90) < self.no_yes_share
        m.listed_order = (1, 0) if flip else (0, 1)
        m.version = None
        m.legacy_tokens = ()
        if m.created_at >= self.v2_since:
            m.version = V2 if u01(m.key, 91) < self.v2_share else V1
        if m.version == V2 and h(m.key, 92) % 2:
            # Half the v2 markets also carry a `clobTokenIds` whose ids the CLOB does not trade: a client
            # must choose the id field by `version`, not by presence.
            m.legacy_tokens = tuple(str(10**75 + h(m.key, 93, i) % (9 * 10**75)) for i in (0, 1))

    def _register(self, ev: Event) -> None:
        ev.id = self._next_event_id
        self._next_event_id += 1 + h(self.seed, T_EVENT, ev.slot, ev.gen) % 5
        self.events.append(ev)
        self.event_created.append(ev.created_at)
        self.event_ids.append(ev.id)
        self.events_by_id[ev.id] = ev
        self.events_by_slug.setdefault(ev.slug, ev)
        for m in ev.markets:
            m.gid = self._next_market_id
            self._next_market_id += 1 + h(self.seed, T_IDGAP, m.key) % 4
            self.markets.append(m)
            self.created.append(m.created_at)
            self.gids.append(m.gid)
            self.by_id[m.gid] = m
            self.by_condition[m.condition_id] = m
            self.by_token[m.yes_token] = (m, 0)
            self.by_token[m.no_token] = (m, 1)
            self.by_slug.setdefault(m.slug, m)
            bisect.insort(self.resolutions, (m.resolved_at, m.gid))

    # -- lazy growth ---------------------------------------------------------------------------------------

    def ensure(self, t: float) -> None:
        """Materialise every generation created up to t + MATERIALISE_AHEAD, in creation order."""
        limit = t + MATERIALISE_AHEAD
        if limit <= self._horizon:
            return
        heap = self._heap
        while heap and heap[0][0] <= limit:
            created, slot, gen = heapq.heappop(heap)
            kind, size = self.layout[slot]
            plan = _GenPlan(self.seed, slot, gen, kind)
            ev = self._build(slot, gen, kind, size, created, plan)
            self._register(ev)
            heapq.heappush(heap, (ev.resolved_at + plan.gap, slot, gen + 1))
        self._horizon = limit

    def visible(self, t: float) -> int:
        """How many markets (a prefix of self.markets) exist at time t."""
        return bisect.bisect_right(self.created, t)

    def visible_events(self, t: float) -> int:
        return bisect.bisect_right(self.event_created, t)

    def market_by_token(self, token_id: str, t: float):
        hit = self.by_token.get(token_id)
        if hit is None or hit[0].created_at > t:
            return None
        return hit
