"""Simulator → real recorder process → sensor → ingestion runs → `trades` view, through a kill -9 mid-write.

Asserts, end to end: the sensor never names a partial file; the kill is a `restart` gap; each file is
ingested once; re-running every ingestion run changes nothing; what the `trades` view holds equals every
trade the simulator printed for the tracked markets (no loss, no duplicate); the health checks pass.
"""

from __future__ import annotations

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from polymarket_assets.defs.resources import LakeResource
from polymarket_assets.defs.trades.sensors import incoming_files_sensor
from polymarket_assets.lib import tables
from polymarket_assets.lib.incoming import TMP_PREFIX, incoming_root
from polymarket_assets.lib.warehouse import build_warehouse
from polymarket_sim import run_sim
from polymarket_tools.demo_figures import demo_figures
from polymarket_tools.sidecar import run_sidecar
from polymarket_tools.sim_truth import compare_with_truth
from ws_sidecar_tests.conftest import FAST, START, seeded_dir, wait


@pytest.fixture
def env(tmp_path):
    with run_sim(markets=80, seed=13, speed=5, faults="none", start=START, rate_limit="off") as sim:
        patch = pytest.MonkeyPatch()
        home = tmp_path / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        data_dir, _markets = seeded_dir(tmp_path, sim)
        for key, value in {
            **sim.env,
            "PM_CLOCK": "sim",
            "PM_DATA_DIR": str(data_dir),
            "DAGSTER_HOME": str(home),
        }.items():
            patch.setenv(key, value)
        instance = dg.DagsterInstance.get()
        yield sim, data_dir, instance
        instance.dispose()
        patch.undo()


def defs():
    from polymarket_assets.definitions import defs as load

    return load()


def tick(data_dir, instance, cursor):
    context = dg.build_sensor_context(
        cursor=cursor, instance=instance, resources={"lake": LakeResource(data_dir=str(data_dir))}
    )
    return incoming_files_sensor(context)


def execute(definitions, instance, requests, only: str | None = None) -> None:
    job = definitions.resolve_job_def("ws_ingest_job")
    for request in requests:
        selection = [k for k in request.asset_selection or [] if only is None or k.to_user_string() == only]
        if not selection:
            continue
        config = {
            "ops": {k.to_user_string(): request.run_config["ops"][k.to_user_string()] for k in selection}
        }
        checks = {c for c in request.asset_check_keys if c.asset_key in selection}
        subset = job.get_subset(asset_selection=set(selection), asset_check_selection=checks)
        result = subset.execute_in_process(
            run_config=config, partition_key=request.partition_key, instance=instance, tags=request.tags
        )
        assert result.success
        assert {e.check_name for e in result.get_asset_check_evaluations()} == {c.name for c in checks}


def view_rows(data_dir):
    build_warehouse(data_dir, tables.views())
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        trades = con.execute(
            "SELECT asset_id, side, size, price, epoch_ms(exchange_ts), condition_id, trade_uid FROM trades"
        ).fetchall()
        gaps = con.execute(
            "SELECT reason, connection_id, epoch(start_ts), epoch(end_ts), detail FROM ws_gaps"
        ).fetchall()
    finally:
        con.close()
    return trades, gaps


def test_recorded_trades_reach_the_view_once_each_through_a_kill_mid_write(env):
    sim, data_dir, instance = env
    definitions = defs()
    requested: list = []
    with run_sidecar(sim.env, data_dir, debug_write_delay_s=0.6, **FAST) as sc:
        sc.wait_for(lambda s: s["files_written"].get("trades", 0) >= 1, 30, "first files")
        t0 = sim.control.now()
        incoming = incoming_root(data_dir)
        wait(lambda: list(incoming.rglob(TMP_PREFIX + "*")), 10, "a write in progress", poll_s=0.02)
        sc.kill()
        partial = {p.name for p in incoming.rglob(TMP_PREFIX + "*")}
        assert partial, "the kill landed in the middle of a write"
        killed = sc.state()
        assert killed["clean_shutdown"] is False

        first = tick(data_dir, instance, None)
        named = [
            f for r in first.run_requests for v in r.run_config["ops"].values() for f in v["config"]["files"]
        ]
        assert named and not [f for f in named if f.rsplit("/", 1)[1] in partial or ".tmp" in f]
        for f in named:
            assert pq.read_metadata(data_dir / "incoming" / f).num_rows > 0
        execute(definitions, instance, first.run_requests)
        requested += first.run_requests

        sc.restart()
        t_restart = sim.control.now()
        sc.wait_for(lambda s: not s["restart_gap_open"], 30, "restart gap closed")
        assert not [p for p in incoming.rglob(TMP_PREFIX + "*") if killed["run_id"] in p.name], (
            "the restart removed the dead writer's temporaries"
        )
        sc.wait_for(
            lambda s: s["backfill"]["audited_through_epoch"] >= t_restart + 5, 40, "audit past the restart"
        )
        second = tick(data_dir, instance, first.cursor)
        execute(definitions, instance, second.run_requests)
        requested += second.run_requests
        seen = [f for r in requested for v in r.run_config["ops"].values() for f in v["config"]["files"]]
        assert len(seen) == len(set(seen)), "no file is requested twice"

        health = definitions.resolve_job_def("ws_health_job").execute_in_process(instance=instance)
        verdicts = {e.check_name: e for e in health.get_asset_check_evaluations()}
        assert set(verdicts) == {"trades_fresh", "ws_gap_minutes", "ws_sidecar_health"}
        assert all(e.passed for e in verdicts.values()), {
            k: e.metadata for k, e in verdicts.items() if not e.passed
        }
        state = sc.state()

    last = tick(data_dir, instance, second.cursor)  # the files of the clean shutdown
    execute(definitions, instance, last.run_requests)
    assert not tick(data_dir, instance, last.cursor).run_requests

    trades, gaps = view_rows(data_dir)
    [restart] = [g for g in gaps if g[0] == "restart"]
    assert restart[1] == "recorder" and "died" in restart[4]
    # The outage starts where the dead run's files end, or earlier if a socket was already silent then.
    assert abs(restart[2] - min(killed["durable_through"], killed.get("silent_since") or float("inf"))) < 0.01
    assert state["previous_run_id"] == killed["run_id"]
    # Re-running every trades ingestion (a retry storm) changes nothing.
    execute(definitions, instance, requested + list(last.run_requests), only="trades")
    again, _ = view_rows(data_dir)
    assert sorted(again) == sorted(trades) and len({t[6] for t in trades}) == len(trades)

    stats = compare_with_truth(
        [t[:6] for t in trades], sim.control, state["tracked"], t0, state["audited_through"]
    )
    # A handful of trades at least (the realistic simulated market prints fewer than the old strong one did).
    assert stats["truth"] >= 5 and stats["capture_ratio"] == 1.0 and stats["duplicates"] == 0, stats

    # The demo's figures come from the same lake.
    figures = demo_figures(data_dir, sim.control, start=t0, end=state["audited_through"])
    assert figures["trades"] == len(trades) and figures["trade_capture_ratio"] == 1.0
    assert (
        figures["ws_gap_minutes"] > 0 and figures["whale_events"] == 0
    )  # whale_events runs hourly, not here
