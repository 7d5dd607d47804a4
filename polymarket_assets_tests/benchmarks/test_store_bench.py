"""Smoke test of the year-of-files benchmark at a tiny size (2 days, 1% of the cadence): the output's shape
and the invariants it measures, not performance."""

from benchmarks import run_all, store_bench


def test_store_bench_compacts_to_one_file_per_table_hour_and_rebuilds_the_warehouse():
    results = store_bench.run(days=2, cadence_scale=0.01)
    assert results["year_files_per_table_hour_max"] == 1
    assert results["compaction_files_before"] > results["compaction_partitions"] > 0
    assert (
        results["year_files_written"]
        == results["compaction_files_before"] + len(store_bench.files_per_hour()) * 24
    )
    assert results["warehouse_rebuild_year_s"] > 0 and results["warehouse_rebuild_day_s"] > 0
    assert results["warehouse_rebuild_year_vs_day"] is not None and "store_bench_loadavg_1m" in results
    assert "store_bench" in run_all.discover()


def test_the_cadence_is_that_of_50k_markets():
    per_hour = store_bench.files_per_hour()
    assert per_hour[("lake/book_updates", None)] == 360 and per_hour[("lake/snapshots", "T4")] == 240
    assert 2_000 < sum(per_hour.values()) < 3_000
