"""Discovery, every tier's snapshots, resolutions, coverage and the warehouse against the simulator's ground truth."""

from datetime import UTC, timedelta

import duckdb
import pytest

from polymarket_assets.defs.snapshots.assets import CHECK_NAMES as CHECKS
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.tiers import assign_tier
from polymarket_assets_tests.collection.conftest import HOUR0
from polymarket_assets_tests.collection.harness import load_defs, partition_of, run_job, run_slots

ALL_TIERS = ["T0", "T1", "T2", "T3", "T4", "STALE"]


@pytest.fixture(scope="module")
def collected(collection_env):
    env = collection_env
    sim, instance = env["sim"], env["instance"]
    defs = load_defs()
    lake = Lake(env["data_dir"])
    out = {"defs": defs, "lake": lake, **env}
    discovery = run_job(defs, instance, "markets_job", partition_of(HOUR0 - timedelta(hours=1)))
    assert discovery.success
    out["discovery"] = discovery
    # Two hours' partitions: the first slot of hour 0 for every tier, a second minute, then hour 1.
    out["slot_results"] = run_slots(sim, lake, HOUR0, ALL_TIERS)
    out["slot_results"] += run_slots(sim, lake, HOUR0 + timedelta(minutes=1), ["T2", "T3", "T4"])
    sim.control.set_time((HOUR0 + timedelta(minutes=59)).timestamp())
    out["slot_results"] += run_slots(sim, lake, HOUR0 + timedelta(hours=1), ALL_TIERS)
    sim.control.set_time((HOUR0 + timedelta(hours=1, minutes=30)).timestamp())
    # The run succeeds although its check fails (test_coverage_counts_slots_that_never_ran_as_missed): the check
    # does not block.
    out["coverage"] = run_job(defs, instance, "coverage_job", partition_of(HOUR0))
    assert out["coverage"].success
    assert run_job(defs, instance, "resolutions_job", partition_of(HOUR0 + timedelta(hours=1))).success
    import dagster as dg

    wh = next(a for a in defs.assets if "warehouse" in {k.to_user_string() for k in a.keys})
    assert dg.materialize([wh], instance=instance, resources=dict(defs.resources)).success
    out["con"] = duckdb.connect(str(env["data_dir"] / "warehouse.duckdb"), read_only=True)
    return out


def test_every_slot_run_succeeded_and_passed_its_checks(collected):
    assert len(collected["slot_results"]) == 15
    for tier, outcome in collected["slot_results"]:
        assert outcome.success, (tier, outcome.error)
        assert set(CHECKS) <= set(outcome.checks) and all(outcome.checks.values()), (tier, outcome.checks)


def test_discovery_maps_tokens_and_tiers_like_the_ground_truth(collected):
    con, sim = collected["con"], collected["sim"]
    truth = {m["condition_id"]: m for m in sim.control.markets()}
    rows = con.execute(
        "SELECT condition_id, yes_token_id, no_token_id, end_date, tier, question FROM markets"
    ).fetchall()
    assert len(rows) >= 250
    tiers = set()
    for cid, yes, no, end_date, tier, question in rows:
        t = truth[cid]
        assert (yes, no) == (t["yes_token_id"], t["no_token_id"])
        assert question == t["question"]
        tiers.add(tier)
    assert {"T0", "T1", "T2", "T3", "T4"} <= tiers


def test_snapshots_match_the_books_the_sim_served_at_each_instant(collected):
    con, sim = collected["con"], collected["sim"]
    rows = con.execute(
        "SELECT condition_id, tier, slot_ts, captured_at, yes_token_id, best_bid, best_ask, mid, book_hash "
        "FROM snapshots WHERE source = 'books' AND book_status = 'ok' ORDER BY random() LIMIT 40"
    ).fetchall()
    assert rows
    for cid, tier, slot_ts, captured_at, yes, best_bid, best_ask, mid, book_hash in rows:
        assert captured_at == slot_ts  # a paused clock: swept exactly at the instant
        book = sim.control.truth_book(yes, ts=slot_ts.timestamp())
        bids = [float(level["price"]) for level in book["bids"]]
        asks = [float(level["price"]) for level in book["asks"]]
        assert book["hash"] == book_hash
        assert best_bid == (max(bids) if bids else None)
        assert best_ask == (min(asks) if asks else None)
        if bids and asks:
            assert mid == pytest.approx((max(bids) + min(asks)) / 2)


def test_each_row_belongs_to_the_tier_of_its_instant(collected):
    con, sim = collected["con"], collected["sim"]
    truth = {m["condition_id"]: m for m in sim.control.markets()}
    from datetime import datetime

    for cid, tier, slot_ts in con.execute("SELECT condition_id, tier, slot_ts FROM snapshots").fetchall():
        end = truth[cid]["end_date"]
        end_dt = (
            datetime.fromtimestamp(end, tz=UTC)
            if isinstance(end, (int, float))
            else datetime.fromisoformat(end)
        )
        assert assign_tier(end_dt, slot_ts) == tier


def test_sub_minute_tiers_swept_at_every_instant(collected):
    con = collected["con"]
    counts = dict(
        con.execute(
            "SELECT tier, count(DISTINCT slot_ts) FROM sweeps WHERE status IN ('captured', 'partial') GROUP BY tier"
        ).fetchall()
    )
    assert counts["T4"] == 12 and counts["T3"] == 6 and counts["T2"] == 3
    assert con.execute("SELECT count(*) FROM sweeps WHERE status = 'missed'").fetchone()[0] == 0
    dupes = con.execute(
        "SELECT count(*) FROM (SELECT condition_id, slot_ts FROM snapshots GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0]
    assert dupes == 0


def test_coverage_counts_slots_that_never_ran_as_missed(collected):
    con = collected["con"]
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT tier, expected, captured, coverage FROM coverage WHERE hour = ?", [HOUR0]
        ).fetchall()
    }
    # Only the first two minutes of hour 0 were swept, so fast tiers are far below target...
    expected, captured, _coverage = rows["T4"]
    assert expected > 0 and 0 < captured < expected
    # ... and T0, swept once at :00 as scheduled, is complete.
    assert rows["T0"][2] == 1.0
    evaluation = collected["coverage"].get_asset_check_evaluations()[0]
    assert evaluation.check_name == "coverage_above_threshold" and not evaluation.passed


def test_rerunning_a_slot_adds_no_duplicates(collected):
    env = collected
    count_rows = "SELECT count(*) FROM snapshots"
    before = env["con"].execute(count_rows).fetchone()[0]
    assert before > 0
    # Replay hour 1's T2 slot at its instant: the instant's file is replaced, not appended to.
    env["sim"].control.set_time((HOUR0 + timedelta(hours=1) - timedelta(seconds=5)).timestamp())
    [(_, replay)] = run_slots(env["sim"], env["lake"], HOUR0 + timedelta(hours=1), ["T2"])
    assert replay.success, replay.error
    table = env["lake"].read(
        "snapshots", {"tier": "T2", "date": HOUR0.strftime("%Y-%m-%d"), "hour": f"{HOUR0.hour + 1:02d}"}
    )
    keys = list(zip(table.column("condition_id").to_pylist(), table.column("slot_ts").to_pylist()))
    assert len(keys) == len(set(keys))
    # The warehouse's views read the files as they are now: the same books at the same instant, the same rows.
    assert env["con"].execute(count_rows).fetchone()[0] == before
