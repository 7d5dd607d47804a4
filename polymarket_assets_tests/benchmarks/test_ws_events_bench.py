"""Smoke test of `benchmarks/ws_events_bench.py` on a tiny world: the output's shape and that every announced
event was measured, not performance."""

from benchmarks import run_all, ws_events_bench


def test_custom_events_benchmark_on_a_small_world():
    results = ws_events_bench.bench_custom_events(markets=30, sim_hours=1.0)
    assert "ws_events_bench" in run_all.discover()
    assert results["new_markets_announced"] > 0 and results["markets_resolved_announced"] > 0
    assert results["new_markets_subscribed"] == results["new_markets_announced"]
    assert results["markets_resolved_provisional_rows"] == results["markets_resolved_announced"]
    for key in (
        "new_market_to_subscribed_p95_s",
        "resolution_to_label_p95_s",
        "new_market_to_subscribed_p95_ratio_to_target",
        "resolution_to_label_p95_ratio_to_target",
        "ws_events_load_avg_1m",
    ):
        assert isinstance(results[key], float) and results[key] >= 0, key
