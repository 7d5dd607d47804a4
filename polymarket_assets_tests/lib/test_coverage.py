"""Coverage counts scheduled pairs from discovery's record, so a run that never happened is a miss."""

from datetime import UTC, datetime, timedelta

from polymarket_assets.lib.coverage import coverage_rows, expected_pairs

H = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def _state(cid, observed_at, end_in_h):
    return {"condition_id": cid, "observed_at": observed_at, "end_date": observed_at + timedelta(hours=end_in_h),
            "yes_token_id": "1" + cid, "no_token_id": "2" + cid}


def test_expected_uses_latest_discovery_before_each_instant():
    states = [_state("a", H - timedelta(minutes=5), 0.5), _state("b", H + timedelta(minutes=30), 2.5)]
    expected = expected_pairs(states, H, H + timedelta(hours=1))
    # a is T4 all hour from the first discovery: 240 instants; b only exists from 07:30 (T3, 30 s cadence).
    assert len({p for p in expected["T4"] if p[0] == "a"}) == 120  # the 07:30 discovery no longer lists a
    assert {p[0] for p in expected["T3"]} == {"b"}
    assert len(expected["T3"]) == 60


def test_coverage_rows_count_only_scheduled_pairs():
    expected = {"T2": {("a", H), ("a", H + timedelta(minutes=1))}, "T0": set()}
    captured = {"T2": {("a", H), ("zzz", H)}}
    rows = {r["tier"]: r for r in coverage_rows(expected, captured, H, H)}
    assert rows["T2"]["expected"] == 2 and rows["T2"]["captured"] == 1 and rows["T2"]["coverage"] == 0.5
    assert rows["T2"]["instants_with_misses"] == 1
    assert rows["T0"]["coverage"] is None


def test_misses_inside_a_planned_restart_are_counted_apart_and_not_against_coverage():
    instants = [H + timedelta(seconds=15 * i) for i in range(20)]
    expected = {"T4": {("a", t) for t in instants}}
    # The exchange restarted from 07:01:00 to 07:04:30 (90 s halt + 2 min post-only): the sweeps then missed.
    window = (H + timedelta(minutes=1), H + timedelta(minutes=4, seconds=30))
    captured = {"T4": {("a", t) for t in instants if not window[0] <= t <= window[1]}}
    plain = {r["tier"]: r for r in coverage_rows(expected, captured, H, H)}["T4"]
    assert plain["coverage"] == 0.25 and plain["missed_planned_restart"] == 0
    row = {r["tier"]: r for r in coverage_rows(expected, captured, H, H, [window])}["T4"]
    assert row["expected"] == 20 and row["captured"] == 5 and row["missed_planned_restart"] == 15
    assert row["coverage"] == 1.0 and row["instants_with_misses"] == 0
    # A miss outside the window still counts.
    captured["T4"].discard(("a", H))
    row = {r["tier"]: r for r in coverage_rows(expected, captured, H, H, [window])}["T4"]
    assert row["coverage"] == 0.8 and row["instants_with_misses"] == 1
