"""Smoke tests of `make bench`: the runner on fake benchmark modules, and the collection benchmark's functions on
tiny sizes (300 markets; the first 20 minutes of one simulated hour, no faults). They check the output's shape,
not performance."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid

import pytest

from benchmarks import collection_bench, run_all


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    name = f"fakebench_{uuid.uuid4().hex[:8]}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "alpha_bench.py").write_text("def run():\n    return {'alpha_s': 1.5, 'shared': 1}\n")
    (package / "broken_bench.py").write_text(
        "def run():\n    raise RuntimeError('simulator did not start')\n"
    )
    (package / "gamma_bench.py").write_text("def run():\n    return {'gamma_markets': 300, 'shared': 2}\n")
    (package / "helpers.py").write_text("raise AssertionError('not a benchmark: never imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def test_runner_merges_flat_dicts_and_records_failures(fake_package, tmp_path, capsys):
    output = tmp_path / "results" / "latest.json"
    results = run_all.main(["--output", str(output)], package=fake_package)
    assert json.loads(output.read_text()) == results
    assert json.loads(capsys.readouterr().out) == results
    assert results["alpha_s"] == 1.5 and results["gamma_markets"] == 300
    assert results["broken_bench_error"] == "RuntimeError: simulator did not start"
    # A name reported twice keeps the first value; the second is kept under its module's name.
    assert results["shared"] == 1 and results["gamma_bench.shared"] == 2
    for module in ("alpha_bench", "broken_bench", "gamma_bench"):
        assert isinstance(results[f"{module}_wall_s"], float)
    assert not any(key.startswith("helpers") for key in results)
    assert all(isinstance(v, (int, float, str, bool)) or v is None for v in results.values())


def test_runner_only_filter(fake_package, tmp_path):
    output = tmp_path / "latest.json"
    results = run_all.main(["--only", "alpha", "--output", str(output)], package=fake_package)
    assert set(results) == {"alpha_s", "shared", "alpha_bench_wall_s"}
    results = run_all.main(
        ["--only", "gamma_bench", "--only", "broken", "--output", str(output)], package=fake_package
    )
    assert "gamma_markets" in results and "broken_bench_error" in results and "alpha_s" not in results
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nonexistent", "--output", str(output)], package=fake_package)


def test_the_real_package_lists_the_collection_benchmark():
    assert {"collection_bench", "sim_bench"} <= set(run_all.discover())


def _check_metric(results: dict, key: str, kind=(int, float)) -> None:
    assert key in results, key
    assert isinstance(results[key], kind) and not isinstance(results[key], bool), (key, results[key])


def test_discovery_and_sweep_on_300_markets():
    results = collection_bench.bench_discovery_and_sweep(
        markets=300, label="300", sweep_latencies_s=(0.0,), time_first_run=True
    )
    for key in (
        "discovery_300_s",
        "discovery_300_floor_ratio",
        "discovery_300_first_run_s",
        "sweep_300_s",
        "sweep_300_floor_ratio",
        "sweep_300_peak_rss_mb",
        "sweep_300_write_s",
    ):
        _check_metric(results, key, float)
        assert results[key] > 0, key
    for key in (
        "discovery_300_markets",
        "discovery_300_requests",
        "discovery_300_pages_min",
        "sweep_300_batches",
        "sweep_300_requests",
        "sweep_300_markets",
        "sweep_300_rows",
    ):
        _check_metric(results, key, int)
    assert results["discovery_300_matches_sequential"] is True
    assert results["discovery_300_ranges"] == 1  # three pages: one sequential listing
    assert results["discovery_300_markets"] == results["sweep_300_markets"] == results["sweep_300_rows"]
    assert results["sweep_300_batches"] == -(-2 * results["sweep_300_markets"] // 100)
    assert results["collection_sim_internal_errors_300"] == 0


def test_coverage_over_twenty_simulated_minutes_without_faults():
    results = collection_bench.bench_coverage(
        markets=300, hours=1, profile="none", segments=1, label="1h", minutes=20
    )
    _check_metric(results, "coverage_1h", float)
    # Without faults every scheduled pair is captured: anything less is a bug, not a performance figure.
    assert results["coverage_1h"] == 1.0
    assert results["coverage_1h_expected_pairs"] == results["coverage_1h_captured_pairs"] > 0
    for tier in ("T0", "T1", "T2", "T3", "T4"):
        assert results[f"coverage_1h_{tier}_expected"] > 0, tier
    assert (
        results["coverage_1h_minutes_per_hour"] == 20 and results["coverage_1h_discoveries"] == 2
    )  # the warm-up hour and the covered one
    for key in (
        "coverage_1h_requests",
        "coverage_1h_retries",
        "coverage_1h_faults_injected",
        "coverage_1h_sweeps",
    ):
        _check_metric(results, key, int)
    assert results["coverage_1h_faults_injected"] == 0 and results["coverage_1h_sweeps_failed"] == 0


def test_module_docstring_states_what_it_measures():
    doc = textwrap.dedent(collection_bench.__doc__ or "")
    for phrase in ("discovery", "sweep", "coverage", "Floor", "paused"):
        assert phrase in doc, phrase


def test_ml_bench_realistic_market_figures_on_a_tiny_world():
    from benchmarks import ml_bench

    results = ml_bench.bench_sim_market(seeds=(5,), markets=60)
    _check_metric(results, "sim_market_brier_24h", float)
    _check_metric(results, "sim_best_delta_brier_24h", float)
    assert results["sim_market_rows_24h"] > 10 and 0 < results["sim_market_brier_24h"] < 0.25
    worlds = [
        {"vs_best": [-0.004, -0.007, -0.001], "verdict": "gain", "ci": [-0.01, -0.002]},
        {"vs_best": [-0.001, -0.003, 0.001], "verdict": "none", "ci": [-0.003, 0.001]},
        {"vs_best": [0.002, -0.001, 0.004], "verdict": "none", "ci": [-0.001, 0.004]},
        {"vs_best": [-0.001, -0.0016, -0.0002], "verdict": "none", "ci": [-0.002, 0.001]},
    ]
    rates = ml_bench.false_gain_rates(worlds)
    assert rates == {
        "null_world_seeds": 4,
        "null_world_false_gain_rate": 0.5,
        "null_world_verdict_gain_rate": 0.25,
        "null_world_ci_below_zero_vs_market_rate": 0.25,
    }


def test_bad_input_benchmark_reports_rows_lost_across_the_fault_suites():
    from benchmarks import bad_input_bench

    assert "bad_input_bench" in run_all.discover()
    results = bad_input_bench.run()
    assert results["bad_input_rows_lost"] == 0 and results["bad_input_errors"] is None, results
    assert results["bad_input_good_rows"] > 0 and results["bad_input_quarantined_ratio"] == 1.0
    assert all(isinstance(v, (int, float, str)) or v is None for v in results.values())


def test_ids_v2_benchmark_on_a_small_world():
    from benchmarks import ids_v2_bench

    assert "ids_v2_bench" in run_all.discover()
    results = ids_v2_bench.run(markets=60)
    assert results["v2_markets_listed"] > 0 and results["v1_markets_listed"] > 0
    assert results["v2_markets_tracked_ratio"] == 1.0 and results["v1_markets_tracked_ratio"] == 1.0
    for key in ("ids_v2_loadavg_1m", "ids_v2_elapsed_s"):
        _check_metric(results, key, float)


def test_the_soak_benchmark_is_registered_and_reports_its_figures_against_their_targets(tmp_path):
    from benchmarks import soak_bench
    from polymarket_assets_tests.operation.soak import CheckState, SoakReport

    assert "soak_bench" in run_all.discover()
    report = SoakReport(
        launched=1000.0,
        ended=8200.0,
        first_snapshot_s=95.0,
        discovery_runs=[],
        markets_discovered=40,
        coverage_by_tier={"T2": 1.0, "T4": 0.99},
        expected_by_tier={"T2": 100, "T4": 400},
        warehouse_path=tmp_path / "warehouse.duckdb",
        warehouse_views=12,
        warehouse_builds=[1060.0, 1660.0, 2560.0, 8000.0],
        checks=[CheckState("a", "SUCCEEDED"), CheckState("b", "FAILED", "ERROR")],
        runs_by_status={"SUCCESS": 10},
        failed_runs=[],
        trades={"truth": 5, "missing": 0, "duplicates": 0, "unexplained": 0},
        load_average=(1.5, 1.2, 1.0),
    )
    results = soak_bench.soak_metrics(report)
    assert results["soak_coverage_min_tier"] == 0.99
    assert results["soak_coverage_min_tier_target_ratio"] == round(0.99 / 0.995, 4)
    assert results["soak_warehouse_age_max_s"] == 8000.0 - 2560.0  # the longest stretch without a rebuild
    assert results["soak_first_snapshot_s"] == 95.0 and results[
        "soak_first_snapshot_s_target_ratio"
    ] == round(95 / 120, 4)
    assert results["soak_false_red_checks"] == 1 and results["soak_load_avg_1m"] == 1.5
    assert all(isinstance(v, (int, float, str, bool)) or v is None for v in results.values())
