"""Coverage counts scheduled pairs from discovery's record, so a run that never happened is a miss."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from polymarket_assets.lib.coverage import DISCOVERY_PUBLISH_S, coverage_rows, expected_pairs

H = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)


def _state(cid, observed_at, end_in_h):
    return {
        "condition_id": cid,
        "observed_at": observed_at,
        "end_date": observed_at + timedelta(hours=end_in_h),
        "yes_token_id": "1" + cid,
        "no_token_id": "2" + cid,
    }


def test_expected_uses_latest_discovery_before_each_instant():
    states = [_state("a", H - timedelta(minutes=5), 0.5), _state("b", H + timedelta(minutes=30), 2.5)]
    expected = expected_pairs(states, H, H + timedelta(hours=1))
    # a is T4 all hour from the first discovery: 240 instants; b only exists from 07:30 (T3, 30 s cadence), and a
    # first sighting is expected from the first slot a run could know it in (07:31).
    assert len({p for p in expected["T4"] if p[0] == "a"}) == 120  # the 07:30 discovery no longer lists a
    assert {p[0] for p in expected["T3"]} == {"b"}
    assert len(expected["T3"]) == 58


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


def test_measure_hour_reads_the_planned_restarts_the_recorder_filed_in_ws_gaps(tmp_path):
    import pyarrow as pa

    from polymarket_assets.lib.coverage import measure_hour
    from polymarket_assets.lib.parquet_store import Lake
    from polymarket_assets.lib.schemas import MARKET_STATE_SCHEMA, WS_GAPS_SCHEMA

    lake = Lake(tmp_path)
    state = _state("a", H - timedelta(minutes=5), 0.5)  # T4 all hour: 240 instants
    lake.write(
        "market_states",
        pa.Table.from_pylist([state], schema=MARKET_STATE_SCHEMA),
        {"date": "2026-11-25", "hour": "06"},
        "d",
    )

    def gap(gap_id, start, end, reason):
        return {"gap_id": gap_id, "start_ts": start, "end_ts": end, "reason": reason, "detected_at": end}

    # A restart filed under 06:00 (its start hour) runs into 07:00; a socket outage of ours is no excuse.
    restart = gap("g1", H - timedelta(minutes=2), H + timedelta(minutes=3), "planned_restart")
    outage = gap("g2", H + timedelta(minutes=30), H + timedelta(minutes=31), "disconnect")
    lake.write(
        "ws_gaps",
        pa.Table.from_pylist([restart], schema=WS_GAPS_SCHEMA),
        {"date": "2026-11-25", "hour": "06"},
        "a",
    )
    lake.write(
        "ws_gaps",
        pa.Table.from_pylist([outage], schema=WS_GAPS_SCHEMA),
        {"date": "2026-11-25", "hour": "07"},
        "b",
    )
    excused = {H + timedelta(seconds=15 * i) for i in range(13)}  # 07:00:00 … 07:03:00
    instants = [H + timedelta(seconds=15 * i) for i in range(240)]
    snapshots = [{"condition_id": "a", "slot_ts": t} for t in instants if t not in excused]
    lake.write(
        "snapshots", pa.Table.from_pylist(snapshots), {"tier": "T4", "date": "2026-11-25", "hour": "07"}, "s"
    )

    row = {r["tier"]: r for r in measure_hour(lake, H, H + timedelta(hours=2))}["T4"]
    assert row["expected"] == 240 and row["captured"] == 227 and row["missed_planned_restart"] == 13
    assert row["coverage"] == 1.0 and row["instants_with_misses"] == 0 and row["in_progress"] is False


def _expected_by_brute_force(states, start, end):
    """The definition, instant by instant: each instant's latest discovery, each market's tier at that instant."""
    from bisect import bisect_right

    from polymarket_assets.lib.tiers import DEFAULT_PLAN, assign_tier, instants_in_window

    batches = {}
    for row in states:
        batches.setdefault(row["observed_at"], []).append(row)
    times = sorted(batches)
    first_seen = {}
    for observed in times:
        for row in batches[observed]:
            first_seen.setdefault(row["condition_id"], observed)
    out = {tier.name: set() for tier in DEFAULT_PLAN.tiers}
    for tier in DEFAULT_PLAN.tiers:
        for instant in instants_in_window(tier, start, end):
            index = bisect_right(times, instant) - 1
            if index >= 0:
                for row in batches[times[index]]:
                    new = first_seen[row["condition_id"]] == times[index]
                    published = (times[index] + timedelta(seconds=DISCOVERY_PUBLISH_S)).timestamp()
                    if new and instant.timestamp() < -(-published // tier.slot_s) * tier.slot_s:
                        continue  # no slot run before that could know the market
                    if assign_tier(row.get("end_date"), instant) == tier.name:
                        out[tier.name].add((row["condition_id"], instant))
    return out


@settings(max_examples=150, deadline=None)
@given(
    markets=st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(-7200, 3 * 3600),
            st.one_of(st.none(), st.integers(-26 * 3600, 60 * 3600)),
        ),
        max_size=8,
    ),
    start_s=st.integers(-1800, 1800),
    length_s=st.integers(0, 2 * 3600),
)
def test_expected_pairs_equal_the_instant_by_instant_definition(markets, start_s, length_s):
    states = [
        {
            "condition_id": f"m{i}",
            "observed_at": H + timedelta(seconds=observed),
            "end_date": None if close is None else H + timedelta(seconds=close),
            "yes_token_id": "y",
            "no_token_id": "n",
        }
        for i, (_, observed, close) in enumerate(markets)
    ]
    # Several markets share discovery batches (the same observed_at), as one discovery run writes them.
    for i, (batch, _, _) in enumerate(markets):
        states[i]["observed_at"] = H + timedelta(seconds=markets[batch % len(markets)][1])
    start = H + timedelta(seconds=start_s)
    end = start + timedelta(seconds=length_s)
    assert expected_pairs(states, start, end) == _expected_by_brute_force(states, start, end)
