"""A planned matching-engine restart (polymarket_api.md §9.8) against the simulator over real sockets.

The simulator halts matching for 90 s (order endpoints answer 425, the market channel goes quiet, nothing
prints), then trades post-only for 2 minutes. The recorder must write one `planned_restart` gap covering it,
label the sockets' silence inside it the same way instead of as outages, lose no trade, and leave every health
check passing, through the ingestion job and the checks as Dagster runs them.
"""

from __future__ import annotations

import time

import dagster as dg

from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.defs.trades.assets import ws_gaps
from polymarket_assets.defs.trades.checks import ws_gap_minutes
from polymarket_assets.lib.incoming import list_incoming
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.recorder_health import RecorderLimits, recorder_problems
from polymarket_sim import run_sim
from polymarket_tools.sidecar import run_sidecar

from .conftest import FAST, START, capture, seeded_dir


def test_a_planned_restart_is_one_planned_restart_gap_and_no_health_check_fails(tmp_path):
    with run_sim(markets=30, seed=4, speed=5, faults="none", start=START, rate_limit="off") as sim:
        data_dir, _ = seeded_dir(tmp_path, sim)
        settings = {
            **FAST,
            "data_timeout_s": 1.5,
            "exchange_probe_interval_s": 1.0,
            "assets_per_connection": 40,
        }
        with run_sidecar(sim.env, data_dir, **settings) as sc:
            sc.wait_for(
                lambda s: s["connections_live"] == s["connections_total"] > 0 and not s["restart_gap_open"],
                30,
                "live",
            )
            t0 = sim.control.now()
            window = sim.control.schedule_restart(in_s=70)
            assert sim.control.restarts(start=window["start"] - 1, end=window["start"] + 1) == [window]
            # During the halt: quiet sockets and 425s, yet the recorder's health verdict stays clean.
            verdicts = []
            while sim.control.now() < window["halt_end"] + 30:
                status = sc.status()
                verdicts.append(
                    (
                        status["planned_restart_open"],
                        recorder_problems(status, RecorderLimits(), time.time()),
                    )
                )
                time.sleep(0.5)
            status = sc.wait_for(
                lambda s: (
                    s["planned_restarts_seen"] == 1
                    and not s["planned_restart_open"]
                    and s["connections_live"] == s["connections_total"]
                ),
                60,
                "back after the restart",
            )
            assert any(open_ for open_, _ in verdicts), "the watch saw the restart while it lasted"
            assert not any(problems for _, problems in verdicts), [p for _, p in verdicts if p]
            end = window["post_only_end"] + 30
            while sim.control.now() < end:
                time.sleep(0.5)
            sc.wait_for(lambda s: s["backfill"]["audited_through_epoch"] >= end, 60, "audit past the restart")
            state = sc.state()
        truth_in_window = sim.control.truth_trades(start=window["start"], end=window["post_only_end"])
        assert sim.control.stats()["faults"].get("planned_restart_425", 0) >= 1
        # Nothing printed during the halt or the post-only period, and nothing was lost around it.
        assert truth_in_window == []
        stats = capture(data_dir, sim, state["tracked"], t0, state["audited_through"])
        assert stats["truth"] > 0 and stats["capture_ratio"] == 1.0 and stats["duplicates"] == 0, stats
        verdicts_after = health_through_dagster(sim, data_dir)

    # Ingestion (health_through_dagster) took the recorder's files out of incoming/: the lake holds every gap.
    gaps = Lake(data_dir).read("ws_gaps").to_pylist()
    planned = [g for g in gaps if g["reason"] == "planned_restart"]
    exchange = [g for g in planned if g["connection_id"] == "exchange"]
    assert len(exchange) == 1
    g = exchange[0]
    # From the last good probe (1 wall s = 5 simulated s before the halt, plus a little) to recovery + post-only.
    assert window["start"] - 12 <= g["start_ts"].timestamp() <= window["start"] + 1
    assert g["end_ts"].timestamp() >= window["post_only_end"] - 1
    outages = [
        x
        for x in gaps
        if x["reason"] in ("disconnect", "freeze")
        and x["start_ts"].timestamp() < window["halt_end"]
        and x["end_ts"].timestamp() > window["start"]
    ]
    assert outages == [], "the sockets' silence during the halt is the restart's, not an outage"
    assert len(planned) > 1, "the quiet sockets' own gaps were recorded, as planned_restart"

    gap_check = verdicts_after["ws_gap_minutes"]
    assert gap_check.passed, gap_check.metadata
    assert (
        gap_check.metadata["planned_restart_minutes"].value
        >= (window["post_only_end"] - window["start"]) / 60 - 0.2
    )
    assert gap_check.metadata["worst_hour_gap_minutes"].value < 1.0


def health_through_dagster(sim, data_dir) -> dict:
    """Ingest the recorded gaps, then run `ws_gap_minutes` as `ws_health_job` does (the simulator's clock)."""
    res = {
        "lake": LakeResource(data_dir=str(data_dir)),
        "clock": ClockResource(source="sim", sim_control_url=sim.env["PM_SIM_CONTROL_URL"]),
    }
    for key in sorted({f.partition_key for f in list_incoming(data_dir, ["ws_gaps"])}):
        assert dg.materialize([ws_gaps], partition_key=key, resources=res).success
    defs = dg.Definitions(
        assets=[ws_gaps],
        asset_checks=[ws_gap_minutes],
        jobs=[dg.define_asset_job("health", selection=dg.AssetSelection.checks(ws_gap_minutes))],
        resources=res,
    )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("health").execute_in_process(instance=instance)
    return {e.check_name: e for e in result.get_asset_check_evaluations()}
