"""The time contract in every parser: epoch milliseconds inside [PM_TS_MIN, now + PM_TS_MAX_AHEAD_S], anything else
rejected with its likely unit named; the Data API's seconds converted explicitly and held to the same window."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polymarket_assets.lib.books import parse_book
from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.parse_common import (
    TimeWindow,
    epoch_s_to_ms,
    set_time_window,
    time_window,
    to_epoch_ms,
)
from polymarket_assets.lib.parse_gamma import parse_gamma_market
from polymarket_assets.lib.parse_trades import parse_data_api_trade
from polymarket_assets.lib.ws_messages import parse_ws_frame, parse_ws_frame_each

MARKET = "0x" + "ab" * 32
TOKEN = "7" * 77
WINDOW_START_MS = 1_577_836_800_000  # 2020-01-01


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# Instants inside the default window (2020-01-01 .. now), as epoch milliseconds.
good_ms = st.integers(min_value=WINDOW_START_MS, max_value=1_790_000_000_000)


def _ws_trade(ts) -> str:
    return json.dumps(
        {
            "event_type": "last_trade_price",
            "market": MARKET,
            "asset_id": TOKEN,
            "price": "0.5",
            "size": "1",
            "side": "BUY",
            "timestamp": ts,
        }
    )


def _ws_change(ts) -> str:
    return json.dumps(
        {
            "event_type": "price_change",
            "market": MARKET,
            "timestamp": ts,
            "price_changes": [{"asset_id": TOKEN, "price": "0.4", "size": "1", "side": "BUY"}],
        }
    )


def _book(ts) -> dict:
    return {"market": MARKET, "asset_id": TOKEN, "timestamp": ts, "bids": [], "asks": []}


def _data_api(ts) -> dict:
    return {"asset": TOKEN, "conditionId": MARKET, "side": "BUY", "size": 1, "price": 0.5, "timestamp": ts}


# Every parser that reads an epoch-millisecond exchange timestamp, as (name, call with the timestamp).
MS_PARSERS = {
    "ws last_trade_price": lambda ts: parse_ws_frame(_ws_trade(ts))[0].timestamp_ms,
    "ws price_change": lambda ts: parse_ws_frame(_ws_change(ts))[0].timestamp_ms,
    "ws book": lambda ts: parse_ws_frame(json.dumps({"event_type": "book", **_book(ts)}))[0].timestamp_ms,
    "rest book": lambda ts: parse_book(_book(ts)).timestamp_ms,
}


@pytest.mark.parametrize("parser", MS_PARSERS.values(), ids=MS_PARSERS.keys())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ms=good_ms, as_text=st.booleans())
def test_milliseconds_in_the_window_are_kept_exactly(parser, ms, as_text):
    assert parser(str(ms) if as_text else ms) == ms


WRONG_UNITS = [
    # (how the ms instant was mangled, the words the reason must contain)
    (lambda ms: ms // 1000, "looks like epoch seconds"),
    (lambda ms: ms * 1000, "looks like epoch microseconds"),
    (lambda ms: ms * 1_000_000, "looks like epoch nanoseconds"),
    (lambda ms: ms * 10**7, "(20 digits)"),
    (lambda ms: ms % 1000, "before 2020-01-01"),
]


@pytest.mark.parametrize("parser", MS_PARSERS.values(), ids=MS_PARSERS.keys())
@pytest.mark.parametrize("mangle, reason", WRONG_UNITS, ids=["seconds", "micro", "nano", "20 digits", "1970"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ms=st.integers(min_value=1_600_000_000_000, max_value=1_790_000_000_000))
def test_other_units_are_rejected_with_the_unit_guessed(parser, mangle, reason, ms):
    value = mangle(ms)
    with pytest.raises(ParseError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parser(str(value))


@pytest.mark.parametrize("parser", MS_PARSERS.values(), ids=MS_PARSERS.keys())
def test_the_future_beyond_the_allowed_skew_is_rejected(parser):
    with pytest.raises(ParseError, match="in the future"):
        parser(str(now_ms() + 2 * 86_400_000))
    assert parser(str(now_ms() + 3_600_000)) > 0  # an hour of clock skew is fine


@settings(max_examples=100, deadline=None)
@given(seconds=st.integers(min_value=WINDOW_START_MS // 1000, max_value=1_790_000_000))
def test_data_api_seconds_are_converted_explicitly_and_range_checked(seconds):
    assert parse_data_api_trade(_data_api(seconds)).timestamp == seconds
    assert epoch_s_to_ms(seconds) == seconds * 1000
    with pytest.raises(ParseError, match="looks like epoch milliseconds"):
        parse_data_api_trade(_data_api(seconds * 1000))
    with pytest.raises(ParseError, match="looks like epoch microseconds"):
        parse_data_api_trade(_data_api(seconds * 1_000_000))
    with pytest.raises(ParseError, match="before 2020-01-01"):
        parse_data_api_trade(_data_api(seconds % 1000))


@pytest.mark.parametrize("field", ["createdAt", "updatedAt", "closedTime"])
def test_gamma_observation_times_obey_the_window_and_schedules_do_not(field):
    base = {"id": "1", "question": "Q?", "conditionId": MARKET, "outcomes": '["Yes", "No"]'}
    assert parse_gamma_market({**base, field: "2024-06-01T00:00:00Z"}) is not None
    with pytest.raises(ParseError, match=f"{field} is before 2020-01-01"):
        parse_gamma_market({**base, field: "1970-01-02T00:00:00Z"})
    with pytest.raises(ParseError, match=f"{field} is more than 86400 s in the future"):
        parse_gamma_market({**base, field: "2199-01-01T00:00:00Z"})
    # endDate is a schedule: real markets carry 2500-12-31.
    assert parse_gamma_market({**base, "endDate": "2500-12-31T00:00:00Z"}).end_date.year == 2500


def test_the_window_is_configurable_from_the_environment(monkeypatch):
    monkeypatch.setenv("PM_TS_MIN", "2024-01-01")
    monkeypatch.setenv("PM_TS_MAX_AHEAD_S", "60")
    set_time_window(None)
    try:
        window = time_window()
        assert (
            window.min_ms == int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1000)
            and window.max_ahead_ms == 60_000
        )
        with pytest.raises(ParseError, match="before 2024-01-01"):
            to_epoch_ms(1_680_000_000_000)
        with pytest.raises(ParseError, match="more than 60 s in the future"):
            to_epoch_ms(now_ms() + 120_000)
        monkeypatch.setenv("PM_TS_MAX_AHEAD_S", "-1")
        with pytest.raises(ValueError, match="PM_TS_MAX_AHEAD_S"):
            TimeWindow.from_env()
    finally:
        set_time_window(None)


def test_a_bad_message_costs_only_itself_in_an_array_frame():
    frame = (
        "["
        + ",".join([_ws_trade(str(1_790_000_000_000)), _ws_trade("1790000000"), _ws_change("1790000000001")])
        + "]"
    )
    events, rejected = parse_ws_frame_each(frame)
    assert [e.timestamp_ms for e in events] == [1_790_000_000_000, 1_790_000_000_001]
    assert [(r.index, r.reason) for r in rejected] == [
        (1, "last_trade_price: timestamp looks like epoch seconds (10 digits), expected epoch milliseconds")
    ]
    with pytest.raises(ParseError):
        parse_ws_frame(frame)  # the strict form still refuses the frame


# -- no exception but ParseError, whatever arrives -------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
timestamps = st.one_of(
    st.integers(min_value=-(10**25), max_value=10**25),
    st.integers(min_value=0, max_value=10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=25),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(
    ts=timestamps,
    extra=st.dictionaries(st.sampled_from(["bids", "asks", "hash", "tick_size", "market"]), json_values),
)
def test_parsers_raise_nothing_but_parse_error_and_keep_only_in_window_times(ts, extra):
    window = time_window()
    for parse, payload, read in (
        (parse_book, {**_book(ts), **extra}, lambda r: r.timestamp_ms),
        (
            lambda p: parse_ws_frame(json.dumps(p)),
            {"event_type": "book", **_book(ts), **extra},
            lambda r: r[0].timestamp_ms,
        ),
        (parse_data_api_trade, _data_api(ts), lambda r: r.timestamp * 1000),
    ):
        try:
            result = parse(payload)
        except ParseError:
            continue
        assert window.contains_ms(read(result)), (payload, read(result))
