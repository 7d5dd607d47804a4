"""The recorder's writer against poisoned rows: real frames through the real processor and writer into real
Parquet files. One bad row (a 20-digit, microsecond or seconds timestamp; a value that overflows its column) is
quarantined alone with its raw frame and reason; every other row of its window lands; no flush fails, nothing
stays pending, and nothing lands in a 1970 file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from polymarket_assets.lib.books import Book
from polymarket_assets.lib.incoming import list_incoming
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets_tests import fault_scenarios
from ws_sidecar.processor import FrameProcessor
from ws_sidecar.writer import Writer


def test_poisoned_rows_are_quarantined_alone_and_the_window_lands(tmp_path):
    outcome = fault_scenarios.websocket_writer(tmp_path)
    assert outcome.failures == 0, outcome  # no failed flush, no row left pending (memory does not grow)
    assert outcome.rows_lost == 0, outcome
    assert outcome.bad_quarantined == outcome.bad_injected and outcome.bad_stored == 0, outcome
    assert fault_scenarios.stored_hours(tmp_path) == ["20261125T06"], (
        "nothing lands in a 1970 (or year-50000) file"
    )


def test_quarantine_rows_carry_the_raw_frame_and_the_unit(tmp_path):
    fault_scenarios.websocket_writer(tmp_path)
    rows = fault_scenarios.quarantined(tmp_path, "ws_market")
    by_reason = {r["reason"]: r for r in rows}
    batched = by_reason["price_change: timestamp is more than 86400 s in the future (20 digits)"]
    frame = json.loads(batched["raw"])
    assert isinstance(frame, list) and len(frame) == 3, "the whole raw frame is kept with the one bad message"
    assert json.loads(batched["context"])["message_index"] == 1
    assert (
        "last_trade_price: timestamp looks like epoch seconds (10 digits), expected epoch milliseconds"
        in by_reason
    )
    seconds_row = by_reason["exchange_ts looks like epoch seconds (10 digits), expected epoch milliseconds"]
    assert json.loads(seconds_row["raw"])["trade_uid"] == "in-seconds"
    assert any(r.startswith("row does not fit the schema") for r in by_reason)


def test_a_buffered_row_that_cannot_be_converted_costs_only_itself(tmp_path):
    # A book that bypassed the parser (a REST reseed built in code) with a timestamp no int64 can hold.
    quarantine = Quarantine(tmp_path, "ws_market")
    p = FrameProcessor("0a1b2c3d", "c00", quarantine=quarantine)
    tok, cid = fault_scenarios.token(1), fault_scenarios.condition(1)
    p.track(tok, cid)
    for n, ts in enumerate([fault_scenarios.NOW_MS, 10**20, fault_scenarios.NOW_MS + 1]):
        p.apply_rest_book(Book(cid, tok, ts, "h", ((0.4, 1.0),), ((0.6, 1.0),)), 10 + n)
    _, books, _ = p.take()
    assert books.column("received_at").cast("int64").to_pylist() == [10, 12]
    assert books.column("seq").to_pylist() == [0, 2], "each row keeps its own sequence number"
    assert quarantine.pending == 1 and quarantine.counts_by_reason().popitem()[0].startswith(
        "row does not fit"
    )


class _Clock:
    def now_us(self) -> int:
        return fault_scenarios.NOW_MS * 1000


good_ts = st.integers(min_value=fault_scenarios.NOW_MS - 3 * 3_600_000, max_value=fault_scenarios.NOW_MS)
bad_ts = st.one_of(
    good_ts.map(lambda ms: ms // 1000),  # seconds
    good_ts.map(lambda ms: ms * 1000),  # microseconds
    st.integers(min_value=2**63, max_value=10**21),  # does not fit int64 at all
    st.integers(min_value=0, max_value=1_500_000_000_000),  # 1970 .. 2017
)


@settings(max_examples=40, deadline=None)
@given(stamps=st.lists(st.tuples(st.booleans(), good_ts, bad_ts), min_size=1, max_size=40))
def test_any_mix_of_good_and_poisoned_rows_lands_exactly_the_good_ones(stamps):
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        quarantine = Quarantine(data_dir, "ws_market")
        writer = Writer(data_dir, "0a1b2c3d", _Clock(), quarantine=quarantine)
        rows = [
            fault_scenarios.trade_row(f"{'g' if good else 'b'}{i}", ok if good else poisoned)
            for i, (good, ok, poisoned) in enumerate(stamps)
        ]
        writer.add_rows("trades", rows)
        writer.flush()
        landed = [
            uid
            for f in list_incoming(data_dir)
            for uid in pq.read_table(f.path).column("trade_uid").to_pylist()
        ]
        assert sorted(landed) == sorted(r[0] for r in rows if r[0].startswith("g"))
        assert (
            quarantine.count == sum(1 for good, *_ in stamps if not good) == writer.rows_quarantined["trades"]
        )
        assert writer.pending_rows() == 0 and writer.errors == 0
        assert all(f.hour >= "20261125T03" for f in list_incoming(data_dir))
