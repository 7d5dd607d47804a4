"""The code location loads, validates with Dagster's own CLI, and its Dagster family is one release."""

import os
import subprocess
import sys
from importlib.metadata import requires, version

import dagster as dg

from polymarket_assets.definitions import defs

EXPECTED_ASSETS = {
    "markets",
    "snapshots_t0",
    "snapshots_t1",
    "snapshots_t2",
    "snapshots_t3",
    "snapshots_t4",
    "snapshots_stale",
    "resolutions",
    "coverage",
    "warehouse",
}


def test_definitions_load_with_every_domain():
    loaded = defs()
    assert isinstance(loaded, dg.Definitions)
    keys = {k.to_user_string() for k in loaded.resolve_asset_graph().get_all_asset_keys()}
    assert EXPECTED_ASSETS <= keys
    schedules = {s.name for s in loaded.schedules}
    assert {f"snapshots_{t}_schedule" for t in ("t0", "t1", "t2", "t3", "t4", "stale")} <= schedules
    assert {"markets_schedule", "resolutions_schedule", "coverage_schedule"} <= schedules
    assert set(loaded.resources) == {"polymarket", "lake", "clock"}
    for asset in loaded.assets:
        for key in asset.keys:
            assert asset.group_names_by_key[key] != "default", key


def test_dagster_definitions_validate_passes(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "polymarket_assets.definitions"],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_dagster_postgres_belongs_to_installed_dagster():
    # dagster-postgres 0.29.N is released together with dagster 1.13.N and requires it exactly.
    dagster_version = version("dagster")
    pins = [r for r in requires("dagster-postgres") or [] if r.replace(" ", "").startswith("dagster==")]
    assert pins, "dagster-postgres does not pin dagster; an unpinned install may have picked a 2021 release"
    assert pins[0].replace(" ", "").split(";")[0] == f"dagster=={dagster_version}"
    assert version("dagster-webserver") == dagster_version


def test_loading_the_code_location_leaves_the_ml_libraries_unimported():
    """Every run worker (one per slot run, every minute per tier) loads the whole code location; XGBoost,
    scikit-learn and matplotlib are imported only by the ML steps that use them, which took ~1.9 s off each
    worker's start (benchmarks/deploy_bench.py)."""
    probe = (
        "import sys; from polymarket_assets.definitions import defs; defs(); "
        "print(sorted(m for m in ('xgboost', 'sklearn', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
