"""The Backfiller against a scripted Data API: writes what is missing once, retries windows with bad rows."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from polymarket_assets.lib.incoming import list_incoming
from ws_sidecar.backfill import Backfiller, IncompleteFetch, trim_repeats
from ws_sidecar.config import SidecarConfig
from ws_sidecar.reconcile import TradeIndex
from ws_sidecar.writer import Writer

CID = "0x" + "ab" * 32
TOKEN = "3" * 77
T0 = 1_795_586_400


class Clock:
    def __init__(self, now: float):
        self.t = now

    def now(self) -> float:
        return self.t

    def now_us(self) -> int:
        return int(self.t * 1e6)


class Pages:
    truncated = False

    def __init__(self, pages):
        self.pages = pages

    def __iter__(self):
        return iter(self.pages)


class DataApi:
    def __init__(self, rows):
        self.rows = rows
        self.calls = []

    def iter_trades(self, condition_ids, since_ts=None, page_size=500):
        self.calls.append((tuple(condition_ids), since_ts))
        return Pages([[r for r in self.rows if since_ts is None or r["timestamp"] >= since_ts]])


def row(ts: int, price: float = 0.5, tx: str = "0xa") -> dict:
    return {
        "asset": TOKEN,
        "conditionId": CID,
        "side": "BUY",
        "size": 10,
        "price": price,
        "timestamp": ts,
        "transactionHash": tx,
        "outcome": "Yes",
        "outcomeIndex": 0,
    }


def backfiller(tmp_path, api, index=None):
    clock = Clock(T0 + 100)
    writer = Writer(tmp_path, "0a1b2c3d", clock)
    cfg = SidecarConfig(data_dir=tmp_path)
    return Backfiller(
        cfg,
        clock,
        index or TradeIndex(),
        writer,
        api,
        "0a1b2c3d",
        audited_through=T0,
        tracked=lambda start: [CID],
        horizon_limit=lambda: None,
        on_audited=lambda t: None,
    )


def written(tmp_path) -> list[dict]:
    return [r for f in list_incoming(tmp_path, ["trades"]) for r in pq.read_table(f.path).to_pylist()]


def test_missing_trades_are_written_once_and_recorded_ones_never(tmp_path):
    index = TradeIndex()
    index.add(CID, (T0 + 10) * 1000 + 250, TOKEN, "BUY", 10.0, 0.5, "ws-1")  # the WS got this one
    api = DataApi([row(T0 + 10, tx="0xa"), row(T0 + 20, tx="0xb"), row(T0 + 90, tx="0xc")])
    b = backfiller(tmp_path, api, index)
    assert b.reconcile([CID], T0, T0 + 50) == 1  # 0xc is after the window: the WS may still deliver it
    [new] = written(tmp_path)
    assert (new["source"], new["transaction_hash"], new["outcome"]) == ("data_api", "0xb", "Yes")
    assert new["exchange_ts"].timestamp() == T0 + 20 and new["trade_uid"].startswith("api-")
    assert b.reconcile([CID], T0, T0 + 50) == 0, "a second pass recognises what the first wrote"
    assert api.calls[0] == ((CID,), T0 - 6)  # fetched from before the window, by the match tolerance


def test_a_window_with_an_unreadable_row_is_fetched_again_until_clean(tmp_path):
    api = DataApi([row(T0 + 10, tx="0xa"), row(T0 + 11, price=1.7, tx="0xbad")])
    b = backfiller(tmp_path, api)
    with pytest.raises(IncompleteFetch):
        b.reconcile([CID], T0, T0 + 50)
    assert len(written(tmp_path)) == 1  # the readable trade is kept
    b.step()  # the audit hits the same bad row: audited_through does not move
    assert b.audited_through == T0 and b.stats["errors"] == 1
    api.rows[1] = row(T0 + 11, price=0.7, tx="0xbad")  # the next answer is clean
    b.step()
    assert b.audited_through == b.clock.now() - b.cfg.settle_s and b.last_error is None
    assert sorted(r["transaction_hash"] for r in written(tmp_path)) == ["0xa", "0xbad"]


def test_rows_repeated_by_paging_while_trades_arrive_are_dropped_but_identical_fills_are_not():
    a, b, c, d = ({"t": i} for i in range(4))
    assert trim_repeats([a, b, c], [b, c, d]) == [d]  # two new trades shifted the offset by two
    assert trim_repeats([a, b, c], [d]) == [d]
    assert trim_repeats([], [a, a]) == [a, a]  # one transaction, two identical fills, one page
    assert trim_repeats([a, b], [b, b, c]) == [b, c]


def test_a_page_overlap_does_not_become_a_second_trade(tmp_path):
    class Shifting(DataApi):
        def iter_trades(self, condition_ids, since_ts=None, page_size=500):
            newest_first = sorted(self.rows, key=lambda r: -r["timestamp"])
            # a new trade arrived between the two requests: the second page repeats the first page's last row
            return Pages([newest_first[:2], newest_first[1:]])

    api = Shifting([row(T0 + 10, tx="0xa"), row(T0 + 20, tx="0xb"), row(T0 + 30, tx="0xc")])
    b = backfiller(tmp_path, api)
    assert b.reconcile([CID], T0, T0 + 50) == 3
    assert sorted(r["transaction_hash"] for r in written(tmp_path)) == ["0xa", "0xb", "0xc"]
