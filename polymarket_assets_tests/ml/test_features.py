"""Point-in-time feature SQL on hand-built lakes: as-of metadata, momentum, trade and whale flow, negRisk sums."""

from datetime import timedelta

import pytest

from polymarket_assets.lib.ml.features import WHALE_CAP_H, build_features
from polymarket_assets.lib.ml.sources import connect
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import FEATURE_COLUMNS
from polymarket_assets_tests.ml.lakefixtures import (
    T0,
    market_state,
    snapshot,
    trade,
    write_snapshots,
    write_states,
    write_trades,
)

H = timedelta(hours=1)


def _rows(lake: Lake, start=T0, end=T0 + timedelta(days=3)) -> dict:
    table = build_features(connect(), lake.root, start, end)
    return {(r["condition_id"], r["ts"]): r for r in table.to_pylist()}


@pytest.fixture()
def lake(tmp_path):
    return Lake(tmp_path)


def test_market_metadata_is_taken_as_of_the_instant_not_from_the_latest_state(lake):
    end1, end2 = T0 + timedelta(days=2), T0 + timedelta(days=4)
    write_states(
        lake,
        [
            market_state("a", T0, end1, category="Sports"),
            market_state("a", T0 + 10 * H, end2, category="Crypto", neg_risk=True, neg_risk_market_id="E"),
        ],
    )
    write_snapshots(lake, [snapshot("a", T0 + 5 * H, 0.4), snapshot("a", T0 + 11 * H, 0.45)])
    rows = _rows(lake)
    early, late = rows[("a", T0 + 5 * H)], rows[("a", T0 + 11 * H)]
    assert early["end_date"] == end1 and early["category"] == "Sports" and early["neg_risk"] == 0.0
    assert early["hours_to_close"] == pytest.approx(43.0)
    assert late["end_date"] == end2 and late["category"] == "Crypto" and late["event_key"] == "E"
    assert late["hours_to_close"] == pytest.approx(85.0)


def test_a_snapshot_before_the_first_discovery_has_no_metadata(lake):
    write_states(lake, [market_state("a", T0 + 2 * H, T0 + timedelta(days=2))])
    write_snapshots(lake, [snapshot("a", T0 + H, 0.4)])
    row = _rows(lake)[("a", T0 + H)]
    assert row["end_date"] is None and row["hours_to_close"] is None


def test_momentum_uses_the_last_price_at_or_before_each_lag_and_drops_stale_lags(lake):
    write_states(lake, [market_state("a", T0, T0 + timedelta(days=3))])
    mids = {0: 0.30, 1: 0.32, 2: 0.35, 5: 0.40, 6: 0.41, 24: 0.60, 30: 0.62}
    write_snapshots(lake, [snapshot("a", T0 + h * H, m) for h, m in mids.items()])
    rows = _rows(lake)
    assert rows[("a", T0 + 2 * H)]["momentum_1h"] == pytest.approx(0.35 - 0.32)
    # at 5 h the last price at or before 4 h is the one at 2 h: 3 h old, staler than 2 h -> unknown
    assert rows[("a", T0 + 5 * H)]["momentum_1h"] is None
    assert rows[("a", T0 + 6 * H)]["momentum_6h"] == pytest.approx(0.41 - 0.30)
    assert rows[("a", T0 + 24 * H)]["momentum_24h"] == pytest.approx(0.60 - 0.30)
    # at 30 h the price at or before 6 h is 0.41 (24 h earlier than 30 h)
    assert rows[("a", T0 + 30 * H)]["momentum_24h"] == pytest.approx(0.62 - 0.41)
    assert rows[("a", T0)]["momentum_1h"] is None


def test_trade_flow_counts_trades_from_the_moment_they_were_observed(lake):
    write_states(lake, [market_state("a", T0, T0 + timedelta(days=3))])
    t = T0 + 10 * H
    write_snapshots(lake, [snapshot("a", t, 0.5), snapshot("a", t + H, 0.5)])
    write_trades(
        lake,
        [
            trade("a", t - timedelta(minutes=30), "yes", "BUY", 0.5, 100.0),
            trade("a", t - timedelta(minutes=20), "no", "BUY", 0.4, 60.0),  # buying NO is selling YES
            trade("a", t - timedelta(minutes=10), "no", "SELL", 0.4, 40.0),  # selling NO is buying YES
            trade("a", t - 2 * H, "yes", "BUY", 0.5, 70.0),  # older than the hour
            # traded before t but recorded after it (a Data API backfill): not known at t
            trade(
                "a", t - timedelta(minutes=5), "yes", "SELL", 0.5, 30.0, received_at=t + timedelta(minutes=2)
            ),
        ],
    )
    row = _rows(lake)[("a", t)]
    assert row["trade_count_1h"] == 3
    assert row["buy_usd_1h"] == pytest.approx(140.0)
    assert row["sell_usd_1h"] == pytest.approx(60.0)
    assert row["net_flow_usd_1h"] == pytest.approx(80.0)
    # VWAP in YES terms: NO trades at 0.4 are YES at 0.6
    sizes = [200.0, 150.0, 100.0]
    yes_prices = [0.5, 0.6, 0.6]
    assert row["vwap_1h"] == pytest.approx(sum(s * p for s, p in zip(sizes, yes_prices)) / sum(sizes))
    later = _rows(lake)[("a", t + H)]
    assert later["trade_count_1h"] == 1 and later["sell_usd_1h"] == pytest.approx(30.0)


def test_without_trades_flow_is_zero_and_vwap_falls_back_to_the_price(lake):
    write_states(lake, [market_state("a", T0, T0 + timedelta(days=3))])
    write_snapshots(lake, [snapshot("a", T0 + H, 0.42)])
    row = _rows(lake)[("a", T0 + H)]
    assert row["trade_count_1h"] == 0 and row["buy_usd_1h"] == 0 and row["whale_count_7d"] == 0
    assert row["vwap_1h"] == pytest.approx(0.42)
    assert row["hours_since_whale"] == WHALE_CAP_H
    assert set(FEATURE_COLUMNS) <= set(row)


def test_whales_are_classified_on_usd_notional_and_signed_towards_yes(lake):
    write_states(lake, [market_state("a", T0, T0 + timedelta(days=9))])
    t = T0 + timedelta(days=2)
    write_snapshots(lake, [snapshot("a", t, 0.5)])
    write_trades(
        lake,
        [
            trade("a", t - 2 * H, "yes", "BUY", 0.5, 1500.0),
            trade("a", t - 3 * H, "no", "SELL", 0.3, 5000.0),  # selling NO: towards YES
            trade("a", t - 8 * H, "yes", "SELL", 0.5, 1200.0),  # towards NO, outside 6 h, inside 24 h
            trade("a", t - 30 * H, "no", "BUY", 0.3, 2000.0),  # towards NO, outside 24 h, inside 7 days
            trade("a", t - 4 * H, "yes", "BUY", 0.02, 40.0),  # 2,000 shares but $40: not a whale
            trade("a", t - 5 * H, "yes", "SELL", 0.5, 999.0),  # just under the threshold
        ],
    )
    row = _rows(lake)[("a", t)]
    assert row["whale_count_6h"] == 2 and row["whale_net_usd_6h"] == pytest.approx(6500.0)
    assert row["whale_net_count_6h"] == 2
    assert row["whale_count_24h"] == 3 and row["whale_net_usd_24h"] == pytest.approx(5300.0)
    assert row["whale_net_count_24h"] == 1
    assert row["whale_count_7d"] == 4 and row["whale_net_usd_7d"] == pytest.approx(3300.0)
    assert row["whale_net_count_7d"] == 0
    assert row["hours_since_whale"] == pytest.approx(2.0)


def test_neg_risk_sum_uses_recent_prices_of_markets_in_the_event_as_of_each_snapshot(lake):
    end = T0 + timedelta(days=5)
    ev = {"neg_risk": True, "neg_risk_market_id": "E"}
    write_states(
        lake,
        [
            market_state("a", T0, end, **ev),
            market_state("b", T0, end, **ev),
            market_state("c", T0, end, **ev),
            # d joins the event only at 12 h; before that it is a plain market
            market_state("d", T0, end),
            market_state("d", T0 + 12 * H, end, **ev),
            market_state("x", T0, end),
        ],
    )
    t = T0 + 10 * H
    write_snapshots(
        lake,
        [
            snapshot("a", t, 0.5),
            snapshot("b", t, 0.3),
            snapshot("c", t - 7 * H, 0.15),  # c is 7 h stale at t
            snapshot("d", t, 0.1),
            snapshot("x", t, 0.7),
            snapshot("a", T0 + 13 * H, 0.5),
            snapshot("d", T0 + 13 * H, 0.2),
            snapshot("c", T0 + 13 * H, 0.1),
        ],
    )
    rows = _rows(lake)
    at_t = rows[("a", t)]
    assert at_t["event_yes_sum"] == pytest.approx(0.8) and at_t["event_n_markets"] == 2
    later = rows[("a", T0 + 13 * H)]
    assert later["event_yes_sum"] == pytest.approx(0.5 + 0.2 + 0.1 + 0.3) and later["event_n_markets"] == 4
    plain = rows[("x", t)]
    assert plain["event_yes_sum"] == pytest.approx(0.7) and plain["event_n_markets"] == 1
    assert rows[("d", t)]["event_n_markets"] == 1  # not yet in the event


def test_a_row_does_not_depend_on_the_window_it_was_built_in(lake):
    end = T0 + timedelta(days=6)
    write_states(
        lake,
        [
            market_state(c, T0 + h * H, end, neg_risk=True, neg_risk_market_id="E")
            for c in ("a", "b")
            for h in range(0, 96, 6)
        ],
    )
    write_snapshots(
        lake,
        [
            snapshot(c, T0 + h * H, 0.3 + 0.002 * h + (0.1 if c == "b" else 0))
            for c in ("a", "b")
            for h in range(96)
        ],
    )
    write_trades(
        lake,
        [
            trade(
                "a",
                T0 + h * H + timedelta(minutes=7),
                "yes" if h % 3 else "no",
                "BUY" if h % 2 else "SELL",
                0.4,
                300.0 * (h % 7 + 1),
            )
            for h in range(96)
        ],
    )
    day3 = T0 + timedelta(days=3)
    narrow = _rows(lake, day3, day3 + timedelta(days=1))
    wide = _rows(lake, T0, day3 + timedelta(days=1))
    assert narrow
    for key, row in narrow.items():
        other = wide[key]
        for name in FEATURE_COLUMNS:
            if row[name] is None:
                assert other[name] is None, name
            else:
                assert other[name] == pytest.approx(row[name], rel=1e-9, abs=1e-9), (key, name)


def test_duplicate_slot_rows_count_once(lake):
    write_states(lake, [market_state("a", T0, T0 + timedelta(days=3))])
    write_snapshots(lake, [snapshot("a", T0 + H, 0.4)], stem="one")
    write_snapshots(lake, [snapshot("a", T0 + H, 0.4, captured_at=T0 + H + timedelta(seconds=3))], stem="two")
    table = build_features(connect(), lake.root, T0, T0 + timedelta(days=1))
    assert table.num_rows == 1 and table.column("ts").to_pylist()[0] == T0 + H


def _many_files_lake(lake):
    end = T0 + timedelta(days=4)
    write_states(lake, [market_state(c, T0, end, neg_risk=c != "z", neg_risk_market_id="E") for c in "abz"])
    write_snapshots(
        lake,
        [
            snapshot(c, T0 + timedelta(minutes=20 * i), 0.2 + 0.001 * i + 0.1 * j)
            for j, c in enumerate("abz")
            for i in range(150)
        ],
    )
    write_trades(
        lake, [trade("a", T0 + timedelta(minutes=33 * i), "yes", "BUY", 0.4, 900.0 + i) for i in range(80)]
    )


def test_rows_do_not_depend_on_how_the_snapshot_files_are_chunked(lake, monkeypatch):
    import polymarket_assets.lib.ml.features as features_module

    _many_files_lake(lake)
    whole = build_features(connect(), lake.root, T0 + timedelta(days=1), T0 + timedelta(days=2))
    monkeypatch.setattr(features_module, "CHUNK_BYTES", 1)  # one pass per file
    chunked = build_features(connect(), lake.root, T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert whole.num_rows == 72 * 3 and chunked.equals(whole)


def test_a_lake_changed_between_the_two_scans_fails_the_build_instead_of_misaligning(lake):
    import duckdb
    import pyarrow.parquet as pq

    from polymarket_assets.lib.ml.features import WHALE_USD, _insertion_order, _plan, _run_passes

    _many_files_lake(lake)
    con = connect()
    start, end = T0 + timedelta(days=1), T0 + timedelta(days=2)
    with _insertion_order(con):
        asof, passes = _plan(con, lake.root, start, end, WHALE_USD)
        # after the as-of pass, a file of the day loses a row (say a re-assembly rewrote it)
        path = sorted((lake.root / "snapshots").rglob("*.parquet"))[30]
        table = pq.read_table(path)
        pq.write_table(table.slice(1), path)
        with pytest.raises(duckdb.Error, match="misaligned"):
            _run_passes(
                con,
                asof,
                passes,
                lambda cursor, sql, _: cursor.execute(sql, {"start": start, "end": end}).fetchall(),
            )


def test_snapshot_files_are_pruned_by_their_date_partition(lake):
    from polymarket_assets.lib.ml.sources import table_files

    _many_files_lake(lake)
    every = table_files(lake.root, "snapshots")
    some = table_files(
        lake.root, "snapshots", dates=(T0 + timedelta(days=1), T0 + timedelta(days=1, hours=5))
    )
    assert set(some) < set(every) and some
    assert all("date=2026-11-21" in f for f in some)
    (lake.root / "snapshots" / "tier=T1" / "date=2026-11-21" / "hour=00" / ".tmp-x.parquet").write_bytes(b"")
    assert table_files(lake.root, "snapshots") == every


def test_every_feature_has_exactly_one_source_and_every_lookup_is_a_feature():
    """The output query is derived from `FEATURE_SCHEMA`: a feature is computed, looked up, or the snapshot's
    column, and a lookup that is not a feature would be computed and then silently dropped."""
    from polymarket_assets.lib.ml import features
    from polymarket_assets.lib.schemas import SNAPSHOT_SCHEMA, WHALE_FLOW_COLUMNS

    assert set(features.LOOKUP_COLUMNS) <= set(FEATURE_COLUMNS)
    assert set(WHALE_FLOW_COLUMNS) <= set(features.LOOKUP_COLUMNS)
    assert not set(features._COMPUTED) & set(features.LOOKUP_COLUMNS)
    assert set(features.SNAPSHOT_FEATURES) <= set(SNAPSHOT_SCHEMA.names)
    assert "hours_to_close" not in features.SNAPSHOT_FEATURES, (
        "computed from the state as of ts, not the row's"
    )
