"""Adding a tier is one edit of the tier plan: everything kept per tier follows from `DEFAULT_PLAN`.

The code is copied, the plan in the copy gets a T5 between T3 and T4 (T4 narrowed to its last half hour), and
the copy's code location, recorder, health thresholds and ML inputs are asked about T5 in a fresh process, so
that nothing (not even a default argument bound at import) still sees the old plan.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
T4_LINE = re.compile(r'^(?P<indent>\s*)TierSpec\(\s*"T4",\s*float\("-inf"\),\s*1\.0,', re.MULTILINE)
T5_LINE = 'TierSpec("T5", 0.5, 1.0, 20, books=True, tolerance_s=5.0, slot_s=60, ws_always=True),'

PROBE = """
import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow as pa

from polymarket_assets.definitions import defs
from polymarket_assets.lib.coverage import expected_pairs
from polymarket_assets.lib.health_thresholds import HealthThresholds
from polymarket_assets.lib.ml.synthetic import TIER_CADENCE
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from ws_sidecar.config import SidecarConfig
from ws_sidecar.universe import FILL_ORDER, load_markets, select

loaded = defs()
graph = loaded.resolve_asset_graph()
key = dg.AssetKey("snapshots_t5")
node = graph.get(key)
schedule = loaded.resolve_schedule_def("snapshots_t5_schedule")
parents = lambda name: sorted(k.to_user_string() for k in graph.get(dg.AssetKey(name)).parent_keys)

now = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
Lake("data").replace_partition("markets_current", pa.Table.from_pylist([{
    "condition_id": "0xc", "yes_token_id": "1", "no_token_id": "2", "discovery_status": "open",
    "end_date": now + timedelta(minutes=45)}]), {})
markets = load_markets("data", now)
config = SidecarConfig()
print(json.dumps({
    "tier_tag": node.tags.get("tier"),
    "freshness_policy": getattr(node, "freshness_policy", None) is not None,
    "checks": sorted(c.name for c in graph.get_check_keys_for_assets([key])),
    "job_assets": sorted(k.to_user_string() for k in loaded.resolve_job_def("snapshots_t5_job").asset_layer.selected_asset_keys),
    "schedule": [schedule.job_name, schedule.cron_schedule],
    "reassembled": sorted(k.to_user_string() for k in
                          loaded.resolve_job_def("snapshots_reassembly_job").asset_layer.selected_asset_keys),
    "warehouse_deps": parents("warehouse"),
    "coverage_deps": parents("coverage"),
    "features_deps": parents("features"),
    "coverage_tiers": sorted(expected_pairs([], now, now + timedelta(hours=1))),
    "sweeps_missed_max": HealthThresholds().sweeps_missed_max,
    "instants_per_hour": DEFAULT_PLAN.instants_per_hour,
    "recorder_always": list(config.always_tiers),
    "recorder_fill": list(FILL_ORDER),
    "recorded": [(m.tier, [x.condition_id for x in select(markets, always_tiers=config.always_tiers,
                                                          capacity_markets=0, fill_budget=True)]) for m in markets],
    "synthetic_tiers": [t for t, _, _ in TIER_CADENCE],
}))
"""


def _copy_with_t5(dest: Path) -> None:
    for package in ROOT.iterdir():
        if (package / "__init__.py").is_file() and not package.name.endswith("_tests"):
            shutil.copytree(package, dest / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest)  # Dagster's defs-folder loader finds the project by it
    tiers = dest / "polymarket_assets" / "lib" / "tiers.py"
    text, count = T4_LINE.subn(
        lambda m: f'{m["indent"]}{T5_LINE}\n{m["indent"]}TierSpec("T4", float("-inf"), 0.5,',
        tiers.read_text(),
    )
    assert count == 1, "the T4 line of DEFAULT_PLAN was not found"
    tiers.write_text(text)


def test_a_tier_added_to_the_plan_gets_everything_per_tier(tmp_path):
    code = tmp_path / "code"
    _copy_with_t5(code)
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(code),
            "DAGSTER_HOME": str(tmp_path),
            "PM_COLLECTION_START": "2026-11-01",
            "PM_DATA_DIR": str(tmp_path / "data"),
        },
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert seen["tier_tag"] == "T5"
    # Like every tier, none: a tier may rightly be empty; collection_health judges coverage and sweeps.
    assert not seen["freshness_policy"]
    assert seen["checks"] == sorted(
        [
            "unique_condition_slot",
            "bid_not_above_ask",
            "prices_in_unit_interval",
            "non_empty",
            "no_rows_lost",
            "sweeps_on_time",
        ]
    )
    assert seen["job_assets"] == ["snapshots_t5"]
    assert seen["schedule"] == ["snapshots_t5_job", "* * * * *"]
    for deps in ("reassembled", "warehouse_deps", "coverage_deps", "features_deps"):
        assert "snapshots_t5" in seen[deps], deps
    assert "T5" in seen["coverage_tiers"]
    # 180 more instants an hour (every 20 s) raise the lost-instants threshold from 5 to 7.
    assert seen["instants_per_hour"] == 434 + 180
    assert seen["sweeps_missed_max"] == 7
    assert seen["recorder_always"] == ["T2", "T3", "T5", "T4"]
    assert seen["recorder_fill"] == ["T1", "T0", "STALE"]
    assert seen["recorded"] == [["T5", ["0xc"]]]
    assert seen["synthetic_tiers"] == ["T0", "T1", "T2", "T3", "T5", "T4"]
