"""Smoke test of `benchmarks/health_bench.py` at a tiny size: the output's shape, not performance."""

from benchmarks import health_bench, run_all


def test_health_bench_runs_small_and_is_registered():
    out = health_bench.run(n_markets=60)
    assert out["health_markets"] == 60 and out["health_snapshot_rows"] > 0
    assert out["health_coverage_min"] == 1.0  # every scheduled pair was written
    assert abs(out["health_measure_ratio"] - out["health_measure_s"] / health_bench.HEALTH_TARGET_S) < 1e-3
    assert "health_bench" in run_all.discover()
