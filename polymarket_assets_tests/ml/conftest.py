"""Simulated worlds recorded by the real collection assets, then run through the ML assets (session-scoped).

Each world is a paused `polymarket_sim` stepped every 4 simulated hours (for 32 hours): discovery, slot runs
for T1-T3, the recorder's Data API backfill for T2-T3 markets (ingested by `ws_ingest_job`) and
resolutions, all as real Dagster runs in forked workers; then `features_job` for each day and
`ml_training_job`. The coarse cadence keeps a world under a minute; `benchmarks/ml_bench.py` runs the hourly
version. Both worlds share seed and markets and differ only in `--informed-flow`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

WORLD_START = datetime(2026, 11, 10, tzinfo=UTC)
WORLD_STEP = timedelta(hours=4)
WORLD_SEED = 5
# The informed world is the one the signal, label, artifact, leakage and notebook tests read; the null world
# only has to show the absence of a gain, which a smaller sample can (its CI is wider, not shifted).
# The informed world is the simulator's `strong` market (a price deaf to the tape): a pipeline check that the
# model finds a signal when there is one. The null world is the realistic default with no informed flow.
INFORMED = {"markets": 300, "hours": 32, "market": "strong"}
# The purged split needs the null world as long as the informed one: a label resolves hours after close.
NULL = {"markets": 200, "hours": 32, "market": "realistic"}
SLOT_TIERS = ("T1", "T2", "T3")
TRADE_TIERS = ("T2", "T3")


@dataclass
class World:
    informed_flow: float
    data_dir: Path
    home: Path
    stats: dict
    failed_runs: list[str]
    figures: dict
    truth: dict[str, dict]
    evaluation: dict = field(default_factory=dict)


def ml_config_for(step: timedelta, hours: int) -> dict:
    from polymarket_tools.ml_demo import coarse_run_config

    # The simulator's events are independent (no news spills from one cluster to another), so these short
    # worlds skip the embargo; the purge alone still keeps every fitted label before the first test row.
    return coarse_run_config(
        step, hours, min_rows=60, min_markets_per_split=10, replicates=1000, embargo_h=0.0
    )


def build_world(
    base: Path, informed_flow: float, markets: int, hours: int, with_coverage: bool, market: str
) -> World:
    import dagster as dg

    from polymarket_assets.defs.partitions import hourly_partitions
    from polymarket_assets.lib import tables
    from polymarket_assets.lib.warehouse import build_warehouse
    from polymarket_sim import run_sim
    from polymarket_tools.history import CleanRunPool, HistoryCollector
    from polymarket_tools.ml_demo import run_ml_pipeline

    data_dir, home = base / "data", base / "home"
    data_dir.mkdir(parents=True)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    start = (WORLD_START - timedelta(minutes=5)).isoformat()
    with run_sim(
        markets=markets,
        seed=WORLD_SEED,
        speed=0.0,
        faults="none",
        informed_flow=informed_flow,
        start=start,
        rate_limit="off",
        market=market,
    ) as sim:
        patch = pytest.MonkeyPatch()
        for key, value in {
            **sim.env,
            "PM_CLOCK": "sim",
            "PM_DATA_DIR": str(data_dir),
            "DAGSTER_HOME": str(home),
        }.items():
            patch.setenv(key, value)
        try:
            # workers fork from a clean forkserver: this process may already have trained a model in process
            with CleanRunPool(workers=4) as pool:
                collector = HistoryCollector(
                    pool, sim, data_dir, tiers=SLOT_TIERS, trade_tiers=TRADE_TIERS, resolutions_every=2
                )
                stats = collector.collect(WORLD_START, WORLD_START + timedelta(hours=hours), WORLD_STEP)
                if with_coverage:
                    hour = WORLD_START + timedelta(hours=hours - 4)
                    key = hourly_partitions.get_partition_key_for_timestamp(hour.timestamp())
                    coverage = pool.submit("coverage_job", key).result()
                    assert coverage.run_id, coverage.error
                days = sorted({(WORLD_START + timedelta(hours=h)).date() for h in range(hours + 1)})
                figures = run_ml_pipeline(pool, data_dir, days, ml_config_for(WORLD_STEP, hours))
            truth = {m["condition_id"]: m for m in sim.control.markets()}
            instance = dg.DagsterInstance.get()
            try:
                evaluation = {}
                for asset in ("model_evaluation", "backtest", "training_set", "xgb_model"):
                    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
                    evaluation[asset] = {k: v.value for k, v in event.asset_materialization.metadata.items()}
            finally:
                instance.dispose()
            build_warehouse(data_dir, tables.views())
        finally:
            patch.undo()
    return World(
        informed_flow, data_dir, home, stats.as_dict(), stats.failed_runs, figures, truth, evaluation
    )


@pytest.fixture(scope="session")
def signal_world(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("ml-world-informed"), 0.8, **INFORMED, with_coverage=True)


@pytest.fixture(scope="session")
def null_world(tmp_path_factory) -> World:
    return build_world(tmp_path_factory.mktemp("ml-world-null"), 0.0, **NULL, with_coverage=False)


def evaluation_of(world: World) -> dict:
    from polymarket_assets.lib.ml.model import latest_version, models_dir

    version = latest_version(world.data_dir)
    return json.loads((models_dir(world.data_dir) / version / "evaluation.json").read_text())
