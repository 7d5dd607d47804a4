"""Coverage counts scheduled pairs from discovery's record, so a run that never happened is a miss."""

from datetime import datetime, timedelta, timezone

from polymarket_assets.lib.coverage import coverage_rows, expected_pairs

H = datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc)


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
