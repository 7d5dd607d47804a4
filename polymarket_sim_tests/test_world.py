"""The world model: clock control, price motion, lifecycles, determinism, tiers and the REST/truth agreement."""

from __future__ import annotations

import collections
import json

import requests

from polymarket_sim import run_sim
from polymarket_sim.world import World

from .conftest import START, START_TS


def test_clock_set_advance_speed(sim):
    c = sim.control.clock()
    assert c["speed"] == 0 and abs(c["now"] - START_TS) < 1e6
    t0 = sim.control.now()
    sim.control.advance(30)
    assert abs(sim.control.now() - (t0 + 30)) < 1e-3
    sim.control.set_time(t0)
    assert abs(sim.control.now() - t0) < 1e-3
    assert sim.control.set_time("2026-11-25T00:00:00Z")["now"] == START_TS
    r = requests.post(sim.urls["PM_SIM_CONTROL_URL"] + "/clock", json={"advance": "x"}, timeout=10)
    assert r.status_code == 400


def test_books_move_with_clock_and_truth_book_matches_rest(sim):
    sim.control.set_time(START_TS)
    toks = [json.loads(m["clobTokenIds"])[0] for m in sim.gamma("/markets", limit=10)]
    before = {t: sim.clob("/book", token_id=t)["hash"] for t in toks}
    truth = {t: sim.control.truth_book(t)["hash"] for t in toks}
    assert before == truth
    sim.control.advance(900)
    after = {t: sim.clob("/book", token_id=t)["hash"] for t in toks}
    assert all(before[t] != after[t] for t in toks)
    # The truth endpoint can look back in time and agrees with what REST served then.
    assert {t: sim.control.truth_book(t, ts=START_TS)["hash"] for t in toks} == before
    served = sim.control.served_books(toks[0])
    assert {e["hash"] for e in served["entries"]} >= {before[toks[0]], after[toks[0]]}
    sim.control.set_time(START_TS)


def test_markets_resolve_as_the_clock_passes(sim):
    sim.control.set_time(START_TS)
    pending = [m for m in sim.control.markets() if m["state"] in ("proposed", "closed_pending")]
    assert pending
    m = min(pending, key=lambda x: x["resolves_at"])
    g = sim.gamma(f"/markets/{m['gamma_id']}")
    assert g["closed"] is False
    sim.control.set_time(m["resolves_at"] + 1)
    g = sim.gamma(f"/markets/{m['gamma_id']}")
    assert g["closed"] is True
    expect = {"YES": ["1", "0"], "NO": ["0", "1"], "INVALID": ["0", "0"]}[m["outcome"]]
    assert json.loads(g["outcomePrices"]) == expect
    r = sim.get("PM_CLOB_URL", "/book", token_id=m["yes_token_id"])
    assert r.status_code == 404
    row = next(x for x in sim.control.markets() if x["gamma_id"] == m["gamma_id"])
    assert row["state"] == "resolved" and row["resolved_at"] == m["resolves_at"]
    sim.control.set_time(START_TS)


def test_determinism_across_two_processes():
    snaps = []
    for _ in range(2):
        with run_sim(markets=120, seed=5, speed=0, start=START, rate_limit="off") as h:
            s = requests.Session()
            h.control.advance(600)
            page = s.get(h.urls["PM_GAMMA_URL"] + "/markets", params={"limit": 50}, timeout=30).json()
            toks = [json.loads(m["clobTokenIds"])[0] for m in page]
            books = s.post(
                h.urls["PM_CLOB_URL"] + "/books", json=[{"token_id": t} for t in toks], timeout=30
            ).json()
            trades = h.control.truth_trades(start=START_TS, end=START_TS + 600)
            snaps.append(
                (
                    json.dumps(
                        [{k: v for k, v in m.items() if k != "updatedAt"} for m in page], sort_keys=True
                    ),
                    [b["hash"] for b in books],
                    json.dumps(trades, sort_keys=True),
                )
            )
    assert snaps[0] == snaps[1]
    assert len(json.loads(snaps[0][2])) > 0


def test_different_seed_gives_a_different_world():
    a = World(1, 50, START_TS, 0, 0.0)
    b = World(2, 50, START_TS, 0, 0.0)
    assert [m.condition_id for m in a.catalog.markets] != [m.condition_id for m in b.catalog.markets]


def test_every_tier_is_populated_across_a_day():
    w = World(9, 200, START_TS, 0, 0.0)
    for hour in range(0, 25, 3):
        t = START_TS + hour * 3600
        w.catalog.ensure(t)
        n = w.catalog.visible(t)
        tiers = collections.Counter()
        for m in w.catalog.markets[:n]:
            st = m.state(t)
            if st == "resolved":
                continue
            hrs = (m.end_date - t) / 3600
            if st == "stale":
                tiers["stale"] += 1
            elif hrs < 1:
                tiers["T4"] += 1
            elif hrs < 4:
                tiers["T3"] += 1
            elif hrs < 12:
                tiers["T2"] += 1
            elif hrs < 48:
                tiers["T1"] += 1
            else:
                tiers["T0"] += 1
        assert all(tiers[k] > 0 for k in ("T0", "T1", "T2", "T3", "T4")), (hour, tiers)
        # Slots between a resolution and their next market's creation (a 1-30 min gap) hold no open market.
        assert 190 <= sum(tiers.values()) <= 200


def test_prices_drift_towards_outcome():
    from polymarket_sim.pricing import fair_yes

    w = World(4, 400, START_TS, 0, 0.0)
    right = total = 0
    for m in w.catalog.markets:
        if m.outcome == "INVALID":
            continue
        p = fair_yes(w.seed, m, m.end_date - 60)
        total += 1
        right += (p > 0.5) == (m.outcome == "YES")
    assert right / total > 0.97


def _resolved_binary(w):
    return [m for m in w.catalog.markets if m.outcome in ("YES", "NO")]


def test_fair_prices_are_calibrated_at_every_stage_of_a_market_s_life():
    """The fair price is the probability of YES given the path so far, so within any price bin the YES rate
    matches the mean price, early in a market's life and in its last hours alike. A miscalibrated simulator
    would let a model "beat" the market on price history alone, which the ML no-signal test forbids."""
    import random

    from polymarket_sim.pricing import fair_yes

    w = World(4, 3000, START_TS, 0, 0.0)
    rnd = random.Random(5)
    for lo, hi in ((0.05, 0.5), (0.5, 0.95), (0.95, 0.999)):
        bins = collections.defaultdict(lambda: [0.0, 0, 0])  # sum of prices, YES count, rows
        for m in _resolved_binary(w):
            life = m.end_date - m.created_at
            p = fair_yes(w.seed, m, m.created_at + life * rnd.uniform(lo, hi))
            b = bins[min(4, int(p * 5))]
            b[0] += p
            b[1] += m.outcome == "YES"
            b[2] += 1
        checked = [(index, b) for index, b in sorted(bins.items()) if b[2] >= 50]
        assert len(checked) >= 4, (lo, dict(bins))
        for index, (total, yes, rows) in checked:
            mean_p = total / rows
            # One draw per market: binomial noise only; 4 standard errors plus the price grid's half-tick.
            tolerance = 4 * (mean_p * (1 - mean_p) / rows) ** 0.5 + 0.01
            assert abs(yes / rows - mean_p) < tolerance, (lo, index, rows, yes / rows, mean_p)


def test_price_changes_do_not_predict_the_outcome_beyond_the_price():
    """Martingale check: over markets whose price sits in the same narrow band, the ones that rose over the
    last day resolve YES no more often than the ones that fell."""
    from polymarket_sim.pricing import fair_yes

    # Prices start decided in the realistic calibration, so it takes more markets to find 80 in the band.
    w = World(6, 9000, START_TS, 0, 0.0)
    groups = {"up": [0, 0], "down": [0, 0]}
    for m in _resolved_binary(w):
        if m.end_date - m.created_at < 3 * 86400:
            continue
        t = m.end_date - 86400
        p, before = fair_yes(w.seed, m, t), fair_yes(w.seed, m, t - 86400)
        if 0.3 <= p <= 0.7 and abs(p - before) > 0.05:
            g = groups["up" if p > before else "down"]
            g[0] += m.outcome == "YES"
            g[1] += 1
    (up_yes, up_n), (down_yes, down_n) = groups["up"], groups["down"]
    assert up_n > 80 and down_n > 80, groups
    # Equal YES rates within 3 standard errors (a drift towards the outcome would separate them widely).
    se = (0.25 / up_n + 0.25 / down_n) ** 0.5
    assert abs(up_yes / up_n - down_yes / down_n) < 3 * se, groups


def test_neg_risk_prices_sum_to_one_and_the_winner_ends_on_top():
    from polymarket_sim.pricing import fair_yes

    w = World(4, 2000, START_TS, 0, 0.0)
    events = {m.event.id: m.event for m in w.catalog.markets if m.neg_risk}
    assert len(events) > 20
    leading = 0
    for ev in events.values():
        for share in (0.2, 0.7, 0.99):
            t = ev.markets[0].created_at + (ev.end_date - ev.markets[0].created_at) * share
            prices = [fair_yes(w.seed, m, t) for m in ev.markets]
            assert abs(sum(prices) - 1.0) < 0.0015 * len(prices) + 1e-6, prices
        winner = next(m.member for m in ev.markets if m.outcome == "YES")
        closed = [fair_yes(w.seed, m, ev.end_date) for m in ev.markets]
        assert closed[winner] == max(closed) > 0.99
        closing = [fair_yes(w.seed, m, ev.end_date - 600) for m in ev.markets]
        leading += max(range(len(closing)), key=closing.__getitem__) == winner
    # Ten minutes before the end the winner usually, but not always, leads: close races exist.
    assert 0.8 < leading / len(events) < 1.0


def test_lifecycle_oddities_exist():
    w = World(8, 2000, START_TS, 0, 0.0)
    ms = w.catalog.markets
    assert any(m.outcome == "INVALID" for m in ms)
    assert any(m.accepting_after_close for m in ms)
    assert any(m.no_uma_status for m in ms)
    assert any(m.stale for m in ms)
    assert sum(m.resolved_at < START_TS for m in ms) > 100


def test_cli_prints_one_json_line_and_exits_cleanly_on_sigterm():
    import signal
    import subprocess
    import sys

    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "polymarket_sim",
            "--port",
            "0",
            "--markets",
            "30",
            "--speed",
            "0",
            "--seed",
            "1",
            "--faults",
            "light",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        urls = json.loads(p.stdout.readline())
        assert set(urls) == {
            "PM_GAMMA_URL",
            "PM_CLOB_URL",
            "PM_DATA_API_URL",
            "PM_WS_URL",
            "PM_SIM_CONTROL_URL",
        }
        assert urls["PM_GAMMA_URL"].startswith("http://127.0.0.1:") and urls["PM_GAMMA_URL"].endswith(
            "/gamma"
        )
        assert urls["PM_WS_URL"].startswith("ws://127.0.0.1:") and urls["PM_WS_URL"].endswith("/ws/market")
        assert requests.get(urls["PM_SIM_CONTROL_URL"] + "/faults", timeout=10).json()["profile"] == "light"
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
        assert p.stdout.read() == ""
    finally:
        if p.poll() is None:
            p.kill()


def test_the_realistic_market_is_as_hard_to_beat_as_polymarket():
    """Informed flow 0.3: the market's Brier 24 h before close is Polymarket's order (about 0.056), and even
    the Bayes-optimal use of every whale order beats it by only about 0.01, because the market maker prices
    whale orders once they are six hours old."""
    from polymarket_sim.world import market_brier

    worlds = [
        market_brier(World(seed, 400, START_TS, 0, 0.3), 24.0, START_TS, START_TS + 3 * 86400)
        for seed in (5, 11)
    ]
    n = sum(w[2] for w in worlds)
    market = sum(w[0] * w[2] for w in worlds) / n
    best = sum(w[1] * w[2] for w in worlds) / n
    assert n > 400 and 0.05 <= market <= 0.07, (market, n)
    assert -0.02 <= best - market <= -0.002, (best, market)


def test_the_market_maker_learns_from_whale_orders_only_when_whales_are_informed():
    from polymarket_sim.orderbook import tick_of
    from polymarket_sim.pricing import P_MAX, P_MIN, fair_yes

    informed, null = World(5, 150, START_TS, 0, 0.5), World(5, 150, START_TS, 0, 0.0)
    moved = towards = 0
    for m_inf, m_null in zip(_resolved_binary(informed)[:120], _resolved_binary(null)[:120]):
        t = m_inf.end_date - 3600
        t_ms = int(t * 1000)
        assert null.micro.market_yes(m_null, t_ms) == fair_yes(null.seed, m_null, t)
        lagged = informed.micro._net_whale_orders(m_inf, tick_of(m_inf, t_ms - 6 * 3600 * 1000))
        price, fair = informed.micro.market_yes(m_inf, t_ms), fair_yes(informed.seed, m_inf, t)
        if lagged and P_MIN < fair < P_MAX:
            moved += 1
            assert (price > fair if lagged > 0 else price < fair) or price in (P_MIN, P_MAX), (
                price,
                fair,
                lagged,
            )
            towards += (price > fair) == (m_inf.outcome == "YES")
        elif not lagged:
            assert price == fair
    # informed whales trade towards the outcome, so what the market maker learned points to it
    assert moved > 30 and towards / moved > 0.7


def test_the_strong_world_keeps_the_price_deaf_to_the_tape():
    from polymarket_sim.pricing import fair_yes

    w = World(5, 100, START_TS, 0, 0.8, "strong")
    for m in _resolved_binary(w)[:50]:
        t = m.end_date - 3600
        assert w.micro.market_yes(m, int(t * 1000)) == fair_yes(w.seed, m, t)


def test_the_market_maker_learns_nothing_from_whale_orders_a_restart_rejected():
    from polymarket_sim.orderbook import tick_of
    from polymarket_sim.restarts import HALT_S, POST_ONLY_S

    def learned_inside(w, start):
        """Net whale orders the maker counted over the ticks wholly inside the window, summed over markets."""
        end = start + HALT_S + POST_ONLY_S
        total = 0
        w.catalog.ensure(end)
        for m in w.catalog.markets:
            if not (m.created_at < start and m.end_date > end):
                continue
            k0, k1 = tick_of(m, int(start * 1000)) + 1, tick_of(m, int(end * 1000))
            if k1 > k0:
                total += abs(w.micro._net_whale_orders(m, k1) - w.micro._net_whale_orders(m, k0))
        return total

    start = START_TS + 86400
    halted, open_ = World(5, 400, START_TS, 0, 0.8), World(5, 400, START_TS, 0, 0.8)
    halted.schedule_restart(start)
    assert learned_inside(open_, start) > 0  # without the restart, whales did order in that window
    assert learned_inside(halted, start) == 0


def test_a_render_does_not_depend_on_what_was_asked_before(monkeypatch):
    """The price caches (path nodes, the maker's price by instant, ticks) are pure memos: a world that served
    other instants first, with caches small enough to be cleared and evicted on the way, renders every market
    exactly as a fresh world does."""
    from polymarket_sim import orderbook, pricing
    from polymarket_sim.gamma_render import market_object

    def render(world, t):
        world.catalog.ensure(t)
        return [
            json.dumps(market_object(world, m, t)) for m in world.catalog.markets[: world.catalog.visible(t)]
        ]

    t = START_TS + 5 * 3600
    fresh = render(World(3, 150, START_TS, 0, 0.4), t)
    monkeypatch.setattr(pricing, "_NODES", {})
    monkeypatch.setattr(pricing, "_NODES_MAX", 500)
    busy = World(3, 150, START_TS, 0, 0.4)
    busy.micro._cache_size = 40
    for earlier in (START_TS + 3600, t + 86400, t - 1800, t):
        served = render(busy, earlier)
    assert len(pricing._NODES) <= 501 and len(busy.micro._prices) <= orderbook.PRICES_PER_BOOK * 40 + 1
    assert served == fresh and len(fresh) > 100
