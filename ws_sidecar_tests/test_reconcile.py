"""Trade reconciliation between the WS feed (ms, no id) and the Data API (s, transactionHash)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from polymarket_assets.lib.parse_trades import Trade
from ws_sidecar.reconcile import Recorded, TradeIndex, missing_trades, with_uids

CID = "0x" + "cd" * 32
A, B = "1" * 77, "2" * 77


def api(asset, side, size, price, ts_s, tx="0xt1") -> Trade:
    return Trade(asset, CID, side, size, price, size * price, ts_s, None, None, tx, None)


def ws(asset, side, size, price, ts_ms, uid="ws-x") -> Recorded:
    return Recorded(ts_ms, asset, side, size, price, uid, "ws")


def test_a_trade_recorded_on_the_ws_is_not_missing_and_a_lost_one_is():
    trades = [api(A, "BUY", 10.0, 0.5, 1000, "0xa"), api(A, "BUY", 12.0, 0.5, 1001, "0xb")]
    recorded = [ws(A, "BUY", 10.0, 0.5, 1_000_431)]
    missing = missing_trades(recorded, trades, 990_000, 1_010_000)
    assert [t.transaction_hash for t, _ in missing] == ["0xb"]


def test_identical_trades_in_one_second_need_as_many_recorded_ones():
    trades = [
        api(A, "SELL", 5.0, 0.3, 2000, "0xa"),
        api(A, "SELL", 5.0, 0.3, 2000, "0xa"),
    ]  # one tx, two fills
    uids = [u for _, u in with_uids(trades)]
    assert len(set(uids)) == 2, "identical §5 keys get distinct, stable uids by occurrence"
    assert with_uids(list(reversed(trades))) == with_uids(trades)
    assert len(missing_trades([ws(A, "SELL", 5.0, 0.3, 2_000_100)], trades, 0, 3_000_000)) == 1
    assert (
        missing_trades(
            [ws(A, "SELL", 5.0, 0.3, 2_000_100), ws(A, "SELL", 5.0, 0.3, 2_000_900)], trades, 0, 3_000_000
        )
        == []
    )


def test_backfilled_trades_are_recognised_by_uid_so_a_second_pass_adds_nothing():
    trades = [api(A, "BUY", 1.0, 0.2, 3000, "0xa"), api(B, "SELL", 2.0, 0.8, 3001, "0xb")]
    first = missing_trades([], trades, 0, 4_000_000)
    assert len(first) == 2
    recorded = [
        Recorded(t.timestamp * 1000, t.asset_id, t.side, t.size, t.price, uid, "data_api") for t, uid in first
    ]
    assert missing_trades(recorded, trades, 0, 4_000_000) == []


def test_data_api_timestamps_that_lag_the_match_are_matched_within_the_tolerance():
    trades = [api(A, "BUY", 7.0, 0.6, 5003)]  # settled 3 s after the WS match
    assert missing_trades([ws(A, "BUY", 7.0, 0.6, 5_000_200)], trades, 0, 6_000_000, tolerance_ms=5000) == []
    assert (
        len(missing_trades([ws(A, "BUY", 7.0, 0.6, 5_000_200)], trades, 0, 6_000_000, tolerance_ms=1000)) == 1
    )
    # Other asset, side, size or price never match.
    for other in (
        ws(B, "BUY", 7.0, 0.6, 5_003_000),
        ws(A, "SELL", 7.0, 0.6, 5_003_000),
        ws(A, "BUY", 7.5, 0.6, 5_003_000),
        ws(A, "BUY", 7.0, 0.61, 5_003_000),
    ):
        assert len(missing_trades([other], trades, 0, 6_000_000)) == 1


def test_only_trades_inside_the_window_are_emitted_but_edges_still_match():
    trades = [api(A, "BUY", 1.0, 0.5, 100), api(A, "BUY", 1.0, 0.5, 200), api(A, "BUY", 1.0, 0.5, 300)]
    assert [t.timestamp for t, _ in missing_trades([], trades, 150_000, 250_000)] == [200]
    # The exact-second pass runs first: a WS trade just outside the window is taken by its own API row, so the
    # API row inside the window is not wrongly explained by it.
    trades = [api(A, "BUY", 1.0, 0.5, 149), api(A, "BUY", 1.0, 0.5, 151)]
    assert [
        t.timestamp for t, _ in missing_trades([ws(A, "BUY", 1.0, 0.5, 149_500)], trades, 150_000, 250_000)
    ] == [151]


keys = st.tuples(
    st.sampled_from([A, B]),
    st.sampled_from(["BUY", "SELL"]),
    st.sampled_from([1.0, 2.5, 10.0]),
    st.sampled_from([0.25, 0.5]),
)


@settings(max_examples=100, deadline=None)
@given(
    truth=st.lists(
        st.tuples(keys, st.integers(0, 30_000), st.sampled_from(["0xa", "0xb", "0xc"])), max_size=40
    ),
    recorded_mask=st.lists(st.booleans(), min_size=40, max_size=40),
    lag_s=st.integers(0, 2),
)
def test_recorded_plus_missing_equals_what_the_exchange_printed(truth, recorded_mask, lag_s):
    """Whatever the WS lost, recorded + missing is exactly the exchange's multiset, and a rerun adds nothing."""
    prints = [(k, ms, tx) for k, ms, tx in truth]
    recorded = [
        ws(k[0], k[1], k[2], k[3], ms, f"ws-{i}") for i, (k, ms, tx) in enumerate(prints) if recorded_mask[i]
    ]
    api_rows = [api(k[0], k[1], k[2], k[3], ms // 1000 + lag_s, tx) for k, ms, tx in prints]
    found = missing_trades(recorded, api_rows, -10_000, 100_000, tolerance_ms=3000)
    got = Counter((r.asset_id, r.side, r.size, r.price) for r in recorded) + Counter(
        (t.asset_id, t.side, t.size, t.price) for t, _ in found
    )
    assert got == Counter(k for k, _, _ in prints)
    again = recorded + [
        Recorded(t.timestamp * 1000, t.asset_id, t.side, t.size, t.price, u, "data_api") for t, u in found
    ]
    assert missing_trades(again, api_rows, -10_000, 100_000, tolerance_ms=3000) == []


def test_trade_index_window_and_prune():
    index = TradeIndex()
    for ts in (5000, 1000, 3000):
        index.add(CID, ts, A, "BUY", 1.0, 0.5, f"u{ts}")
    index.add("0x" + "ef" * 32, 2000, B, "SELL", 1.0, 0.5, "other")
    got = index.window([CID, "0xnone"], 1000, 3000)
    assert [r.ts_ms for r in got[CID]] == [1000, 3000] and got["0xnone"] == []
    assert index.prune(2500) == 2 and len(index) == 2
    assert [r.uid for r in index.window([CID], 0, 10_000)[CID]] == ["u3000", "u5000"]
