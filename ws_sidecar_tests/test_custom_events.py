"""The custom websocket events against the simulator over real sockets, through to the strict labeller.

`new_market` → the market is subscribed within seconds (whatever the budget) and recorded as its first sighting;
`market_resolved` → a provisional resolution row within seconds, which `resolutions` then confirms (or, for a
claim that disagrees with Gamma/CLOB, contradicts: UNKNOWN with the reason).
"""

from __future__ import annotations

import os
from datetime import timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from polymarket_assets.defs.partitions import hourly_partitions
from polymarket_assets.defs.resolutions.assets import resolutions
from polymarket_assets.defs.resources import ClockResource, LakeResource, PolymarketApiResource
from polymarket_assets.defs.trades.assets import market_events
from polymarket_assets.lib.incoming import list_incoming
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_EVENTS_SCHEMA
from polymarket_sim import run_sim
from polymarket_tools.sidecar import run_sidecar

from .conftest import FAST, START, read_kind, seeded_dir, wait

CLAIM = {
    "YES": "YES",
    "NO": "NO",
    "INVALID": "UNKNOWN",
}  # the simulator names no winner for an invalid market


def test_new_market_subscribed_at_once_and_market_resolved_labelled_provisionally_then_confirmed(tmp_path):
    with run_sim(markets=30, seed=11, speed=0, faults="none", start=START, rate_limit="off") as sim:
        data_dir, _ = seeded_dir(tmp_path, sim)
        # 20 assets per socket: several sockets, each of which receives every custom event once.
        with run_sidecar(sim.env, data_dir, data_timeout_s=120, assets_per_connection=20, **FAST) as sc:
            sc.wait_for(lambda s: s["connections_live"] >= 2 and not s["restart_gap_open"], 30, "live")
            pending = [m for m in sim.control.markets() if m["state"] != "resolved"]
            # Past the next two resolutions and long enough for their slots' next markets (gap <= 30 min).
            target = sorted(m["resolves_at"] for m in pending)[1] + 1900
            while sim.control.now() < target:
                sim.control.advance(120)
            truth = sim.control.ws_custom_events()
            resolved = [e for e in truth if e["event_type"] == "market_resolved"]
            n_created = sum(e["event_type"] == "new_market" for e in truth)
            assert n_created and len(resolved) >= 2
            created = wait(
                lambda: (
                    [
                        e
                        for e in sim.control.ws_custom_events()
                        if e["event_type"] == "new_market" and e["first_subscribed_wall"] is not None
                    ]
                    if n_created
                    else None
                ),
                10,
                "subscribed",
            )
            wait(
                lambda: len(read_kind(data_dir, "market_events")) >= n_created + len(resolved),
                10,
                "event rows",
            )
        assert len(created) == n_created, "every announced market was subscribed"
        # What the recorder wrote, read before ingestion takes the files out of incoming/.
        rows = read_kind(data_dir, "market_events")
        written = {}
        for f in list_incoming(data_dir, ["market_events"]):
            for r in pq.read_table(f.path).to_pylist():
                written.setdefault(r["event_key"], os.stat(f.path).st_mtime)
        labels = label_with_dagster(sim, data_dir, resolved)

    # Subscribed at once: from the event leaving the exchange to the recorder's subscribe, well under 5 s.
    latencies = [e["first_subscribed_wall"] - e["sent_wall"] for e in created]
    assert max(latencies) <= 5.0, latencies

    keys = [r["event_key"] for r in rows]
    assert len(keys) == len(set(keys)), "one row per event, not one per socket"
    sightings = {r["condition_id"]: r for r in rows if r["event_type"] == "new_market"}
    assert {e["condition_id"] for e in created} <= set(sightings)
    assert all(r["source"] == "ws_new_market" and len(r["asset_ids"]) == 2 for r in sightings.values())
    # The schedule arrives with the event (every simulated category but geopolitics charges a taker fee).
    assert all((r["fee_rate"] or 0) > 0 for r in sightings.values() if r["fees_enabled"])

    # Provisional resolutions: the claim by outcome name, in a closed file within seconds of the event.
    provisional = {r["condition_id"]: r for r in rows if r["event_type"] == "market_resolved"}
    for e in resolved:
        row = provisional[e["condition_id"]]
        assert row["source"] == "ws_market_resolved" and row["outcome"] == CLAIM[e["outcome"]], (row, e)
        assert written[row["event_key"]] - e["sent_wall"] <= 30.0

    # The strict labeller confirms every true claim and contradicts the forged one.
    confirmed, liar, false_claim = labels["confirmed"], labels["liar"], labels["false_claim"]
    for e in confirmed:
        label = labels["rows"][e["condition_id"]]
        assert label["outcome"] == e["outcome"] and "confirms ws_market_resolved" in label["detail"], label
        assert label["ws_outcome"] == e["outcome"]
    contradicted = labels["rows"][liar["condition_id"]]
    assert contradicted["outcome"] == "UNKNOWN" and contradicted["source"] == "conflict", contradicted
    assert f"ws_market_resolved says {false_claim}" in contradicted["detail"]


def label_with_dagster(sim, data_dir, resolved: list[dict]) -> dict:
    """Ingest the recorded events (`market_events`), forge one false claim, and run `resolutions` at sim time."""
    env = sim.env
    res = {
        "lake": LakeResource(data_dir=str(data_dir)),
        "clock": ClockResource(source="sim", sim_control_url=env["PM_SIM_CONTROL_URL"]),
        "polymarket": PolymarketApiResource(
            gamma_url=env["PM_GAMMA_URL"], clob_url=env["PM_CLOB_URL"], data_api_url=env["PM_DATA_API_URL"]
        ),
    }
    hours = sorted({f.partition_key for f in list_incoming(data_dir, ["market_events"])})
    for key in hours:
        assert dg.materialize([market_events], partition_key=key, resources=res).success
    lake = Lake(data_dir)
    recorded = {
        r["condition_id"]: r
        for r in lake.read("market_events").to_pylist()
        if r["event_type"] == "market_resolved"
    }
    final = [e for e in resolved if e["outcome"] in ("YES", "NO")]
    assert len(final) >= 2
    liar = final[0]
    false_claim = {"YES": "NO", "NO": "YES"}[liar["outcome"]]
    original = recorded[liar["condition_id"]]
    forged = {
        **original,
        "event_key": "forged",
        "outcome": false_claim,
        "exchange_ts": original["exchange_ts"] + timedelta(seconds=1),
    }
    lake.write(
        "market_events",
        pa.Table.from_pylist([forged], schema=MARKET_EVENTS_SCHEMA),
        {"date": hours[-1][:10], "hour": hours[-1][11:13]},
        "forged",
    )
    now = sim.control.now()
    assert dg.materialize(
        [resolutions], partition_key=hourly_partitions.get_partition_key_for_timestamp(now), resources=res
    ).success
    rows = {r["condition_id"]: r for r in lake.read("resolutions").to_pylist()}
    return {"rows": rows, "confirmed": final[1:], "liar": liar, "false_claim": false_claim}
