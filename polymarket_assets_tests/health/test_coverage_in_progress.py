"""`coverage` counts only instants that are over: an hour under way is labelled so and its check does not fail."""

from datetime import timedelta

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from polymarket_assets.lib.coverage import IN_FLIGHT, measure_hour
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_STATE_SCHEMA
from polymarket_assets_tests.collection.harness import load_defs, partition_of, run_job, run_slots
from polymarket_assets_tests.health.conftest import HOUR

ALL_TIERS = ["T0", "T1", "T2", "T3", "T4", "STALE"]


def test_an_hour_under_way_is_measured_so_far_and_does_not_fail(env):
    defs, lake, sim, instance = load_defs(), Lake(env["data_dir"]), env["sim"], env["instance"]
    assert run_job(defs, instance, "markets_job", partition_of(HOUR - timedelta(hours=1))).success
    outcomes = run_slots(sim, lake, HOUR, ALL_TIERS)
    for minute in (1, 2):
        outcomes += run_slots(sim, lake, HOUR + timedelta(minutes=minute), ["T2", "T3", "T4"])
    assert all(o.success for _, o in outcomes)
    sim.control.set_time((HOUR + timedelta(minutes=5)).timestamp())  # instants up to 03:00 are over

    result = run_job(defs, instance, "coverage_job", partition_of(HOUR))
    assert result.success
    [evaluation] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "coverage_above_threshold"
    ]
    assert evaluation.passed and evaluation.metadata["in_progress"].value is True
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["in_progress"].value is True and metadata["coverage"].value == 1.0
    rows = lake.read("coverage", {"date": HOUR.strftime("%Y-%m-%d"), "hour": HOUR.strftime("%H")}).to_pylist()
    by_tier = {r["tier"]: r for r in rows}
    assert all(r["in_progress"] for r in rows)
    assert by_tier["T4"]["expected"] > 0 and by_tier["T4"]["coverage"] == 1.0
    assert by_tier["T4"]["instants"] == 12  # 00:00 … 02:45 every 15 s; 03:00 onwards is not over yet


def _lake_with_markets(tmp_path, hours_to_close: list[float]) -> Lake:
    lake = Lake(tmp_path)
    observed = HOUR - timedelta(minutes=10)
    rows = [
        {
            "observed_at": observed,
            "condition_id": f"c{i}",
            "yes_token_id": f"y{i}",
            "no_token_id": f"n{i}",
            "end_date": HOUR + timedelta(hours=h),
        }
        for i, h in enumerate(hours_to_close)
    ]
    table = pa.Table.from_pylist(rows, schema=MARKET_STATE_SCHEMA)
    lake.write(
        "market_states", table, {"date": observed.strftime("%Y-%m-%d"), "hour": observed.strftime("%H")}, "d"
    )
    return lake


@settings(max_examples=30, deadline=None)
@given(offset_s=st.integers(min_value=-600, max_value=3 * 3600))
def test_no_instant_in_the_future_is_ever_counted(tmp_path_factory, offset_s):
    lake = _lake_with_markets(tmp_path_factory.mktemp("lake"), [0.5, 3.0, 30.0, 100.0])
    now = HOUR + timedelta(seconds=offset_s)
    rows = {r["tier"]: r for r in measure_hour(lake, HOUR, now)}
    over = min(HOUR + timedelta(hours=1), now - IN_FLIGHT)
    for tier, interval in (("T4", 15), ("T1", 300), ("T0", 3600)):
        row = rows[tier]
        assert row["in_progress"] == (now < HOUR + timedelta(hours=1))
        assert row["measured_until"] <= max(HOUR, now - IN_FLIGHT)
        due = 0 if over <= HOUR else -(-int((over - HOUR).total_seconds()) // interval)
        assert row["expected"] == due and row["captured"] == 0
