"""Protocol V2 markets and ["No", "Yes"] markets, end to end against the simulator's ground truth.

One world in which about half the markets are v2 (their ids in `positionIds`, some with a `clobTokenIds` of
ids the CLOB does not trade) and about half the Yes/No markets list `["No", "Yes"]`. Every such market must be
discovered, swept, subscribed, traded and labelled exactly like a v1 `["Yes", "No"]` one: discovery through
the `markets` job, slot runs of every tier, the recorder as a real process, ingestion through the
`ws_ingest_job`'s `trades` asset, then resolutions after the clock has moved past many resolutions, read back
through the warehouse's `markets` and `resolutions` views.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from polymarket_assets.lib.incoming import list_incoming
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.trades.plan import SensorCursor, plan_runs
from polymarket_assets_tests.collection.harness import load_defs, partition_of, run_job, run_slots
from polymarket_sim import run_sim
from polymarket_tools.sidecar import run_sidecar
from polymarket_tools.sim_truth import compare_with_truth
from ws_sidecar_tests.conftest import FAST

HOUR1 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LATER = HOUR1 + timedelta(hours=40)
ALL_TIERS = ["T0", "T1", "T2", "T3", "T4", "STALE"]


@pytest.fixture(scope="module")
def sim():
    # Every market carries `version` (v2_since long before the start); half are v2, half the Yes/No ones flipped.
    with run_sim(
        markets=90,
        seed=23,
        speed=0.0,
        faults="none",
        start=(HOUR1 - timedelta(minutes=2)).isoformat(),
        rate_limit="off",
        v2_share=0.5,
        v2_since="2026-01-01",
        no_yes_share=0.5,
    ) as handle:
        yield handle
        assert handle.control.stats()["internal_errors"] == 0


def _warehouse(defs, instance, data_dir):
    wh = next(a for a in defs.assets if "warehouse" in {k.to_user_string() for k in a.keys})
    assert dg.materialize([wh], instance=instance, resources=dict(defs.resources)).success
    return duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)


@pytest.fixture(scope="module")
def world(collection_env):
    env = collection_env
    sim, instance, data_dir = env["sim"], env["instance"], env["data_dir"]
    defs = load_defs()
    lake = Lake(data_dir)
    out = {"defs": defs, "lake": lake, **env}
    out["truth_at_discovery"] = {m["condition_id"]: m for m in sim.control.markets()}
    out["discovery"] = run_job(defs, instance, "markets_job", partition_of(HOUR1 - timedelta(hours=1)))
    assert out["discovery"].success
    out["current"] = lake.read("markets_current").to_pylist()
    out["discovery_books"] = {
        cid: sim.control.truth_book(t["yes_token_id"])
        for cid, t in out["truth_at_discovery"].items()
        if _flipped(t) and t["state"] != "resolved"
    }

    out["slot_results"] = run_slots(sim, lake, HOUR1, ALL_TIERS)

    # The recorder, subscribed from the discovered markets, while the market runs at 30x for a few seconds.
    with run_sidecar(sim.env, data_dir, **FAST) as sc:
        status = sc.wait_for(
            lambda s: s["connections_live"] >= 1 and not s["restart_gap_open"], 30, "recorder live"
        )
        out["status"] = status
        t_start = sim.control.now() + 1
        sim.control.set_speed(30)
        time.sleep(8)
        sim.control.set_speed(0)
        t_end = sim.control.now()
        time.sleep(3)  # the last flush
        out["recorder_window"] = (t_start, t_end - 2)
        out["status_end"] = sc.status()
    out["book_updates"] = [r for f in list_incoming(data_dir, ["book_updates"]) for r in _rows(f.path)]
    out["recorded_trades"] = [r for f in list_incoming(data_dir, ["trades"]) for r in _rows(f.path)]

    # Ingestion of the recorded trades, as the sensor would request it.
    plan = plan_runs(list_incoming(data_dir, ["trades"]), SensorCursor(), lambda pk: True)
    assert plan.runs and not plan.rejected and not plan.waiting
    ingest = defs.resolve_job_def("ws_ingest_job")
    for run in plan.runs:
        result = ingest.execute_in_process(
            run_config=run.run_config(),
            partition_key=run.partition_key,
            instance=instance,
            asset_selection=[dg.AssetKey("trades")],
        )
        assert result.success

    # Many markets resolve in the next 40 hours: discovery sees them leave, resolutions labels them.
    sim.control.set_time(LATER.timestamp())
    assert run_job(defs, instance, "markets_job", partition_of(LATER - timedelta(hours=1))).success
    assert run_job(defs, instance, "resolutions_job", partition_of(LATER)).success
    out["truth"] = {m["condition_id"]: m for m in sim.control.markets()}
    out["con"] = _warehouse(defs, instance, data_dir)
    return out


def _rows(path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def _flipped(truth_row) -> bool:
    return truth_row["outcomes"] == ["No", "Yes"]


def test_the_world_mixes_versions_and_outcome_orders(world):
    open_truth = [m for m in world["truth_at_discovery"].values() if m["state"] != "resolved"]
    versions = {m["version"] for m in open_truth}
    assert versions == {"v1", "v2"}
    assert sum(_flipped(m) for m in open_truth) >= 5
    assert sum(_flipped(m) and m["version"] == "v2" for m in open_truth) >= 2


def test_every_market_is_discovered_with_its_trading_ids_by_outcome_name(world):
    con = world["con"]
    truth = world["truth_at_discovery"]
    listed = {cid for cid, m in truth.items() if m["state"] != "resolved"}
    rows = con.execute(
        "SELECT condition_id, version, yes_token_id, no_token_id, yes_outcome, no_outcome, "
        "outcomes, clob_token_ids, position_ids FROM markets"
    ).fetchall()
    seen = {r[0]: r for r in rows}
    assert listed <= set(seen)
    metadata = world["discovery"].asset_materializations_for_node("markets")[0].metadata
    assert metadata["version_v2"].value == sum(truth[c]["version"] == "v2" for c in listed)
    assert metadata["version_v1"].value == sum(truth[c]["version"] == "v1" for c in listed)
    for cid in listed:
        _, version, yes, no, yes_name, no_name, outcomes, clob_ids, position_ids = seen[cid]
        t = truth[cid]
        assert (version, yes, no) == (t["version"], t["yes_token_id"], t["no_token_id"]), cid
        assert (yes_name, no_name, json.loads(outcomes)) == (t["yes_outcome"], t["no_outcome"], t["outcomes"])
        if version == "v2":
            assert json.loads(position_ids) == [
                {t["yes_outcome"]: yes, t["no_outcome"]: no}[o] for o in t["outcomes"]
            ]
            assert clob_ids is None or not {yes, no} & set(json.loads(clob_ids)), (
                "v2 ids never come from clobTokenIds"
            )
        else:
            assert position_ids is None


def test_yes_price_is_the_price_of_the_outcome_named_yes(world):
    """Gamma's outcomePrices of a ["No", "Yes"] market list the No price first; yes_price is the Yes one."""
    books = world["discovery_books"]
    assert len(books) >= 5
    states = {r["condition_id"]: r for r in world["current"]}
    checked = 0
    for cid, book in books.items():
        bids = [float(x["price"]) for x in book["bids"]]
        asks = [float(x["price"]) for x in book["asks"]]
        if not bids or not asks or min(asks) - max(bids) > 0.10:
            continue  # Gamma shows the last trade when the spread is wide
        yes_mid = (max(bids) + min(asks)) / 2
        assert states[cid]["yes_price"] == pytest.approx(yes_mid, abs=1e-4), cid
        assert states[cid]["no_price"] == pytest.approx(1 - yes_mid, abs=1e-4), cid
        checked += 1
    assert checked >= 3


def test_v2_markets_are_swept_like_v1_ones(world):
    for tier, result in world["slot_results"]:
        assert result.success, (tier, result.error)
    con, truth = world["con"], world["truth_at_discovery"]
    # Book tiers ask /books with the ids; the others /prices and /midpoints: either way a price came back.
    swept = dict(
        con.execute(
            "SELECT condition_id, count(*) FROM snapshots WHERE book_status = 'ok' "
            "OR (book_status = 'not_requested' AND mid IS NOT NULL) GROUP BY 1"
        ).fetchall()
    )
    open_ids = [cid for cid, m in truth.items() if m["state"] != "resolved"]
    by_version = {"v1": [], "v2": []}
    for cid in open_ids:
        by_version[truth[cid]["version"]].append(cid in swept)
    assert by_version["v2"] and all(by_version["v2"]), "every open v2 market has a book snapshot"
    assert all(by_version["v1"])
    for cid, yes in con.execute("SELECT condition_id, yes_token_id FROM snapshots LIMIT 200").fetchall():
        assert yes == truth[cid]["yes_token_id"]


def test_v2_markets_are_subscribed_and_their_trades_recorded_like_v1_ones(world):
    truth = world["truth_at_discovery"]
    open_ids = {cid for cid, m in truth.items() if m["state"] != "resolved"}
    assert world["status_end"]["subscribed_markets"] == len(open_ids)
    ws_books = {
        r["asset_id"] for r in world["book_updates"] if r["source"] == "ws" and r["kind"] == "snapshot"
    }
    for cid in open_ids:
        t = truth[cid]
        assert {t["yes_token_id"], t["no_token_id"]} <= ws_books, (cid, t["version"])
    recorded = [
        (
            r["asset_id"],
            r["side"],
            r["size"],
            r["price"],
            int(r["exchange_ts"].timestamp() * 1000),
            r["condition_id"],
        )
        for r in world["recorded_trades"]
    ]
    start, end = world["recorder_window"]
    sim = world["sim"]
    stats = {
        v: compare_with_truth(
            recorded, sim.control, [c for c in open_ids if truth[c]["version"] == v], start, end
        )
        for v in ("v1", "v2")
    }
    assert stats["v2"]["truth"] >= 5, stats
    for version, s in stats.items():
        assert s["missing"] == 0 and s["unexplained"] == 0 and s["capture_ratio"] == 1.0, (version, s)


def test_ingested_trades_carry_the_outcome_name_and_listed_index(world):
    truth = world["truth_at_discovery"]
    side_of = {}
    for m in truth.values():
        side_of[m["yes_token_id"]] = m["yes_outcome"], m["outcomes"].index(m["yes_outcome"])
        side_of[m["no_token_id"]] = m["no_outcome"], m["outcomes"].index(m["no_outcome"])
    rows = (
        world["con"].execute("SELECT asset_id, outcome, outcome_index, condition_id FROM trades").fetchall()
    )
    assert rows
    flipped = 0
    for asset, outcome, index, cid in rows:
        assert (outcome, index) == side_of[asset], (cid, truth[cid]["version"], truth[cid]["outcomes"])
        flipped += _flipped(truth[cid])
    assert flipped > 0


def test_resolutions_label_by_outcome_name_for_every_version(world):
    con, truth = world["con"], world["truth"]
    discovered = {r["condition_id"] for r in world["current"]}
    resolved = [cid for cid in discovered if truth[cid]["state"] == "resolved"]
    labels = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT condition_id, outcome, winning_token_id, winning_outcome FROM resolutions"
        ).fetchall()
    }
    assert {c for c in resolved} <= set(labels)
    kinds = set()
    for cid in resolved:
        t = truth[cid]
        outcome, winning_token, winning_name = labels[cid]
        expected_token = {"YES": t["yes_token_id"], "NO": t["no_token_id"]}.get(t["outcome"])
        expected_name = {"YES": t["yes_outcome"], "NO": t["no_outcome"]}.get(t["outcome"])
        assert (outcome, winning_token, winning_name) == (t["outcome"], expected_token, expected_name), (
            cid,
            t,
        )
        kinds.add((t["version"], _flipped(t), t["outcome"]))
    # The traps are covered: flipped markets that resolved each way, and v2 markets.
    assert {(True, "YES"), (True, "NO")} <= {(f, o) for _v, f, o in kinds}, kinds
    assert any(v == "v2" for v, _f, _o in kinds), kinds
    versions = dict(con.execute("SELECT condition_id, version FROM markets").fetchall())
    assert all(versions[cid] == truth[cid]["version"] for cid in resolved if cid in versions)
