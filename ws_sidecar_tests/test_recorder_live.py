"""The recorder as a real process against the simulator: subscriptions, reseeds, outages, gaps, zero loss."""

from __future__ import annotations

import time

from polymarket_sim import run_sim
from polymarket_tools.sidecar import run_sidecar

from .conftest import FAST, START, capture, read_kind, rebuild_books, seeded_dir, wait


def rest_reseeds(sim, tokens, after_wall: float) -> set[str]:
    served = sim.control.served_books()["entries"]
    return {
        e["token_id"] for e in served if e["source"] == "rest" and e["served_at_wall"] >= after_wall
    } & set(tokens)


def test_subscribes_both_tokens_reseeds_and_recovers_from_disconnect_and_freeze_without_losing_trades(
    live_sim, tmp_path
):
    sim = live_sim
    live = sorted(m["condition_id"] for m in sim.control.markets() if m["state"] != "resolved")
    held_back, dropped = live[:6], live[6:12]
    data_dir, markets = seeded_dir(tmp_path, sim, live[6:])
    tokens = {t for r in markets for t in (r["yes_token_id"], r["no_token_id"])}
    started_wall = time.time()
    with run_sidecar(sim.env, data_dir, assets_per_connection=40, data_timeout_s=1.5, **FAST) as sc:
        n_conns = -(-len(markets) // 20)
        status = sc.wait_for(
            lambda s: s["connections_live"] == n_conns and not s["restart_gap_open"], 30, "all live"
        )
        t0 = sim.control.now()
        # Every market, both tokens, at most 40 assets per socket; every book seeded with POST /books.
        assert status["subscribed_assets"] == len(tokens) and status["subscribed_markets"] == len(markets)
        assert all(c["assets"] <= 40 for c in status["connections"])
        assert rest_reseeds(sim, tokens, started_wall) == tokens

        # A forced disconnect of every socket: each reconnects, resubscribes everything and reseeds again.
        cut_wall = time.time()
        assert sim.control.ws_disconnect_all()["disconnected"] == n_conns
        status = sc.wait_for(
            lambda s: (
                s["gaps_last_hour_by_reason"].get("disconnect", 0) >= n_conns
                and s["connections_live"] == n_conns
            ),
            20,
            "reconnects",
        )
        assert status["subscribed_assets"] == len(tokens)
        assert all(c["disconnects"] >= 1 for c in status["connections"])
        assert rest_reseeds(sim, tokens, cut_wall) == tokens

        # A silent freeze: PONGs continue, data stops. The watchdog notices within its window, keeps the
        # outage open while the stream stays silent, and closes it at the first data after the freeze.
        freeze_wall = time.time()
        sim.control.ws_freeze(4)
        sc.wait_for(lambda s: all(c["freezes"] >= 1 for c in s["connections"]), 1.5 + 1.5, "watchdog")
        assert time.time() - freeze_wall <= 1.5 + 1.5
        sc.wait_for(
            lambda s: (
                s["gaps_last_hour_by_reason"].get("freeze", 0) >= n_conns and s["connections_live"] == n_conns
            ),
            4 + 1.5 + 3,
            "recovery after the freeze",
        )
        assert time.time() - freeze_wall <= 4 + 1.5 + 3

        # Discovery changes its mind: markets leave and arrive without a reconnect (dynamic operations).
        reconnects = {c["id"]: c["reconnects"] for c in sc.status()["connections"]}
        switch_wall = time.time()
        _, now_tracked = seeded_dir(tmp_path, sim, held_back + live[12:])
        added = {
            t
            for r in now_tracked
            if r["condition_id"] in held_back
            for t in (r["yes_token_id"], r["no_token_id"])
        }
        gone = {
            t for r in markets if r["condition_id"] in dropped for t in (r["yes_token_id"], r["no_token_id"])
        }
        status = sc.wait_for(
            lambda s: (
                s["subscribed_markets"] == len(now_tracked) and s["subscribed_assets"] == 2 * len(now_tracked)
            ),
            10,
            "re-subscription",
        )
        assert {c["id"]: c["reconnects"] for c in status["connections"]} == reconnects, (
            "no reconnect was needed"
        )
        wait(lambda: rest_reseeds(sim, added, switch_wall) == added, 10, "new books seeded")
        t_switch = sim.control.now()

        # Zero loss: once the audit has passed the outages, recorded trades equal the exchange's prints.
        t_out = sim.control.now()
        sc.wait_for(
            lambda s: s["backfill"]["audited_through_epoch"] >= t_out + 5, 30, "audit past the outages"
        )
        state = sc.state()

    gaps = read_kind(data_dir, "ws_gaps")
    by_reason = {}
    for g in gaps:
        by_reason.setdefault(g["reason"], []).append(g)
        assert g["start_ts"] <= g["end_ts"] and g["n_assets"] > 0
    assert sorted(g["connection_id"] for g in by_reason["disconnect"]) == [
        f"c{i:02d}" for i in range(n_conns)
    ]
    freeze = by_reason["freeze"]
    assert len(freeze) == n_conns, "one freeze gap per connection, however many silent reconnects it took"
    # The freeze lasted 4 wall seconds = 20 simulated seconds; each gap covers it.
    assert all(15 <= (g["end_ts"] - g["start_ts"]).total_seconds() <= 20 + 5 * 3.5 for g in freeze)
    stats = capture(data_dir, sim, state["tracked"], t0, state["audited_through"])
    assert stats["truth"] >= 10
    assert stats["capture_ratio"] == 1.0 and stats["duplicates"] == 0 and stats["unexplained"] == 0, stats
    sources = {r["source"] for r in read_kind(data_dir, "trades")}
    assert sources == {"ws", "data_api"}, "the outages were filled from the Data API"
    books = read_kind(data_dir, "book_updates")
    late = [r for r in books if r["asset_id"] in gone and r["received_at"].timestamp() > t_switch + 1]
    assert not late, "unsubscribed markets stop arriving"
    assert {r["asset_id"] for r in books if r["asset_id"] in added and r["source"] == "ws"} == added


def test_books_rebuilt_from_the_recording_equal_the_exchange_after_updates_and_a_burst(tmp_path):
    with run_sim(markets=40, seed=5, speed=0, faults="none", start=START, rate_limit="off") as sim:
        data_dir, markets = seeded_dir(tmp_path, sim)
        tokens = sorted({t for r in markets for t in (r["yes_token_id"], r["no_token_id"])})
        with run_sidecar(sim.env, data_dir, data_timeout_s=60, **FAST) as sc:
            sc.wait_for(lambda s: s["connections_live"] >= 1, 30, "live")
            for _ in range(6):  # two simulated minutes of book ticks and trades, in steps
                sim.control.advance(20)
            before = sim.control.stats()["ws_messages_sent"]
            sim.control.ws_burst(20_000)
            sent = wait(
                lambda: (n := sim.control.stats()["ws_messages_sent"]) >= before + 20_000 and n,
                30,
                "burst sent",
            )
            status = sc.wait_for(lambda s: s["messages_total"] >= sent, 30, "every message processed")
            assert status["book_mismatches"] == 0 and status["book_resyncs"] == 0
        # SIGTERM: everything buffered is flushed (the rows below are read after the exit), exit code 0.
        assert sc.process.returncode == 0 and sc.state()["clean_shutdown"] is True
        assert sc.status()["state"] == "stopped" and sc.status()["pending_rows"] == 0
        rows = read_kind(data_dir, "book_updates")
        assert sum(r["kind"] == "change" for r in rows) > 20_000
        books = rebuild_books(rows)
        for token in tokens:
            truth = sim.control.truth_book(token)
            expected = {
                "bids": {float(x["price"]): float(x["size"]) for x in truth["bids"]},
                "asks": {float(x["price"]): float(x["size"]) for x in truth["asks"]},
            }
            assert books[token] == expected, token
