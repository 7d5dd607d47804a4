"""Coverage counts scheduled pairs from discovery's record, so a run that never happened is a miss."""

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

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


def _expected_by_brute_force(states, start, end):
    """The definition, instant by instant: each instant's latest discovery, each market's tier at that instant."""
    from bisect import bisect_right

    from polymarket_assets.lib.tiers import DEFAULT_PLAN, assign_tier, instants_in_window

    batches = {}
    for row in states:
        batches.setdefault(row["observed_at"], []).append(row)
    times = sorted(batches)
    out = {tier.name: set() for tier in DEFAULT_PLAN.tiers}
    for tier in DEFAULT_PLAN.tiers:
        for instant in instants_in_window(tier, start, end):
            index = bisect_right(times, instant) - 1
            if index >= 0:
                for row in batches[times[index]]:
                    if assign_tier(row.get("end_date"), instant) == tier.name:
                        out[tier.name].add((row["condition_id"], instant))
    return out


@settings(max_examples=150, deadline=None)
@given(
    markets=st.lists(
        st.tuples(st.integers(0, 5), st.integers(-7200, 3 * 3600), st.one_of(st.none(), st.integers(-26 * 3600, 60 * 3600))),
        max_size=8,
    ),
    start_s=st.integers(-1800, 1800),
    length_s=st.integers(0, 2 * 3600),
)
def test_expected_pairs_equal_the_instant_by_instant_definition(markets, start_s, length_s):
    states = [
        {"condition_id": f"m{i}", "observed_at": H + timedelta(seconds=observed),
         "end_date": None if close is None else H + timedelta(seconds=close),
         "yes_token_id": "y", "no_token_id": "n"}
        for i, (_, observed, close) in enumerate(markets)
    ]
    # Several markets share discovery batches (the same observed_at), as one discovery run writes them.
    for i, (batch, _, _) in enumerate(markets):
        states[i]["observed_at"] = H + timedelta(seconds=markets[batch % len(markets)][1])
    start = H + timedelta(seconds=start_s)
    end = start + timedelta(seconds=length_s)
    assert expected_pairs(states, start, end) == _expected_by_brute_force(states, start, end)
