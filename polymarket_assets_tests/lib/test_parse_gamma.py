"""parse_gamma_market: every real sample, generated round trips, and garbage that must raise only ParseError."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.parse_gamma import (
    GammaMarket,
    gamma_market_to_row,
    parse_gamma_event_markets,
    parse_gamma_market,
)
from polymarket_assets_tests.lib.conftest import SAMPLES_DIR, load_sample


def sample_markets() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(SAMPLES_DIR.glob("gamma_market*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for obj in data if isinstance(data, list) else [data]:
            out.append((f"{path.name}:{obj.get('id')}", obj))
    for event in load_sample("gamma_events_negrisk_dem_nominee_2028.json"):
        for obj in event["markets"]:
            out.append((f"event:{obj.get('id')}", obj))
    return out


SAMPLES = sample_markets()


def test_samples_were_found(samples_dir):
    assert len(SAMPLES) >= 20


@pytest.mark.parametrize("name, obj", SAMPLES, ids=[n for n, _ in SAMPLES])
def test_every_sample_parses(name, obj):
    m = parse_gamma_market(obj)
    assert m.gamma_id == obj["id"]
    assert len(m.outcomes) == len(m.outcome_prices) >= 2
    assert m.token_ids == () or len(m.token_ids) == len(m.outcomes)
    assert all(t.isdigit() for t in m.token_ids)
    row = gamma_market_to_row(m)
    assert row["token_ids"] == list(m.token_ids)


def test_up_down_market_is_named_binary():
    m = parse_gamma_market(load_sample("gamma_market_btc_updown_5m_active_2026-03.json"))
    assert m.gamma_id == "1557558"
    assert m.outcome_kind == "named_binary"
    assert (m.yes_outcome, m.no_outcome) == ("Up", "Down")
    assert m.yes_token_id == "104239898038807136052399800151408521467737075933964991162589336683346093173875"
    assert m.no_token_id == "71183960810705820955071415844881728181970340514894896943812046065452395013351"
    assert m.outcome_prices == (0.505, 0.495)
    assert m.condition_id == "0x78443f961b9a65869dcb39359de9960165c7e5cbad0904eac7f29cd77872a63b"
    assert m.end_date == datetime(2026, 3, 12, 9, 25, tzinfo=UTC)
    assert m.start_date == datetime(2026, 3, 11, 9, 29, 1, 328428, tzinfo=UTC)
    assert (m.best_bid, m.best_ask, m.last_trade_price, m.spread) == (0.5, 0.51, 0.51, 0.009)
    assert (m.volume, m.volume_num, m.volume_24h, m.liquidity) == (9.999997, 9.999997, 9.999997, 20328.3747)
    assert (m.event_id, m.event_slug) == ("260654", "btc-updown-5m-1773307200")
    assert (m.tick_size, m.min_order_size) == (0.01, 5.0)
    assert m.uma_resolution_statuses == () and m.uma_resolution_status is None
    assert m.closed_time is None and m.neg_risk is False and m.accepting_orders is True


def test_resolved_no_market():
    m = parse_gamma_market(load_sample("gamma_market_closed_resolved_no_katana_fdv.json"))
    assert m.outcome_kind == "yes_no"
    assert m.outcome_prices == (0.0, 1.0)
    assert (m.yes_price, m.no_price) == (0.0, 1.0)
    assert m.yes_token_id == "108872296183993054938831082799825620165440189659433018108548854929333464287226"
    assert m.no_token_id == "89711174926330519158043401581181146613785179104141808554061413232025882707365"
    assert m.closed is True and m.accepting_orders is False
    assert m.closed_time == datetime(2026, 3, 19, 23, 20, 15, tzinfo=UTC)
    assert m.uma_resolution_status == "resolved"
    assert m.uma_resolution_statuses == ("proposed",)
    assert m.best_bid is None and m.best_ask == 0.001  # bestBid key absent
    assert m.volume is None and m.liquidity is None


def test_resolved_yes_market_still_accepting_orders():
    m = parse_gamma_market(load_sample("gamma_market_closed_resolved_yes_ukraine_ceasefire.json"))
    assert m.outcome_prices == (1.0, 0.0)
    assert m.yes_token_id == "22978793223071892222859460592277435458011604214087068523744633723809814935807"
    assert m.closed is True and m.accepting_orders is True
    assert m.closed_time == datetime(2026, 5, 9, 2, 7, 1, tzinfo=UTC)
    assert (m.one_day_price_change, m.one_week_price_change) == (0.135, 0.155)


def test_neg_risk_market():
    m = parse_gamma_market(load_sample("gamma_market_negrisk_active_newsom_2028.json"))
    assert m.neg_risk is True
    assert m.neg_risk_market_id == "0x2c3d7e0eee6f058be3006baabf0d54a07da254ba47fe6e3e095e7990c7814700"
    assert m.outcome_prices == (0.2325, 0.7675)
    assert m.group_item_title == "Gavin Newsom"
    assert m.event_title == "Democratic Presidential Nominee 2028"


def test_stale_market_without_condition_id_or_tokens():
    m = next(
        parse_gamma_market(o)
        for o in load_sample("gamma_markets_active_5_2025-07.json")
        if o["id"] == "502517"
    )
    assert m.condition_id is None
    assert m.token_ids == () and m.yes_token_id is None and m.no_token_id is None
    assert m.outcome_prices == (None, None)
    assert m.outcome_kind == "yes_no" and m.yes_outcome == "Yes"


def test_short_token_ids_are_kept_exactly():
    m = next(
        parse_gamma_market(o)
        for o in load_sample("gamma_markets_active_5_2025-07.json")
        if o["id"] == "513317"
    )
    assert m.yes_token_id == "682015221774154132828847491425153593161189919561460311334386393221845282492"
    assert len(m.yes_token_id) == 75


def test_event_markets_inherit_the_event():
    event = load_sample("gamma_events_negrisk_dem_nominee_2028.json")[0]
    markets = parse_gamma_event_markets(event)
    assert [m.group_item_title for m in markets] == ["Stephen A. Smith", "Gretchen Whitmer"]
    assert {(m.event_id, m.event_slug) for m in markets} == {
        ("30829", "democratic-presidential-nominee-2028")
    }


# -- hand-made cases ------------------------------------------------------------------------------------------

BASE = {
    "id": "42",
    "question": "Will it?",
    "conditionId": "0x" + "1f" * 32,
    "outcomes": '["Yes", "No"]',
    "outcomePrices": '["0.25", "0.75"]',
    "clobTokenIds": json.dumps([str(2**255 + 1), str(2**250 + 7)]),
}


def with_(**changes) -> dict:
    obj = dict(BASE)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def test_reversed_yes_no_order_maps_by_name():
    m = parse_gamma_market(with_(outcomes='["No", "Yes"]'))
    assert m.yes_token_id == str(2**250 + 7) and m.no_token_id == str(2**255 + 1)
    assert m.yes_price == 0.75


P_YES, P_NO = str(3**160), str(5**108)  # position ids of a v2 market (decimal strings, 77 and 76 digits)


@pytest.mark.parametrize("position_ids", [[P_YES, P_NO], json.dumps([P_YES, P_NO])])
@pytest.mark.parametrize("clob_token_ids", [..., json.dumps(["11", "12"])])
def test_v2_market_trades_under_its_position_ids_even_when_clob_token_ids_are_present(
    position_ids, clob_token_ids
):
    """§9.6: the id field is chosen by `version`, never by presence; positionIds may arrive as a real array."""
    m = parse_gamma_market(with_(version="v2", positionIds=position_ids, clobTokenIds=clob_token_ids))
    assert (m.version, m.token_ids, m.yes_token_id, m.no_token_id) == ("v2", (P_YES, P_NO), P_YES, P_NO)
    assert json.loads(m.position_ids_raw) == [P_YES, P_NO]
    assert m.clob_token_ids_raw == (None if clob_token_ids is ... else clob_token_ids)


def test_v2_no_yes_market_maps_position_ids_by_outcome_name():
    m = parse_gamma_market(with_(version="v2", outcomes='["No", "Yes"]', positionIds=[P_NO, P_YES]))
    assert (m.yes_token_id, m.no_token_id, m.yes_price, m.no_price) == (P_YES, P_NO, 0.75, 0.25)


def test_v1_market_uses_clob_token_ids_even_when_position_ids_are_present():
    m = parse_gamma_market(with_(version="v1", positionIds=[P_YES, P_NO]))
    assert m.token_ids == (str(2**255 + 1), str(2**250 + 7)) and m.version == "v1"


def test_legacy_market_without_version_is_v1():
    m = parse_gamma_market(BASE)
    assert m.version is None and m.yes_token_id == str(2**255 + 1)


def test_market_row_keeps_version_and_both_id_fields_raw():
    from polymarket_assets.lib.discovery import market_state_row

    m = parse_gamma_market(with_(version="v2", outcomes='["No", "Yes"]', positionIds=[P_NO, P_YES]))
    row = market_state_row(m, datetime(2026, 12, 1, tzinfo=UTC))
    assert (row["version"], row["clob_token_ids"], json.loads(row["position_ids"])) == (
        "v2",
        BASE["clobTokenIds"],
        [P_NO, P_YES],
    )
    assert (row["yes_token_id"], row["yes_price"], row["no_price"], json.loads(row["outcomes"])) == (
        P_YES,
        0.75,
        0.25,
        ["No", "Yes"],
    )


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"version": ..., "positionIds": [P_YES, P_NO]}, "version missing but positionIds present"),
        ({"version": "v3"}, "unknown version 'v3'"),
        ({"version": 2}, "unknown version"),
        ({"version": ""}, "unknown version"),
        ({"version": "V2", "positionIds": [P_YES, P_NO]}, "unknown version 'V2'"),
        ({"version": "v2"}, "version v2 market has no positionIds"),
        ({"version": "v2", "positionIds": []}, "version v2 market has no positionIds"),
        (
            {"version": "v1", "clobTokenIds": ..., "positionIds": [P_YES, P_NO]},
            "version v1 market has no clobTokenIds",
        ),
        ({"version": "v2", "positionIds": [P_YES]}, "positionIds has 1 entries but outcomes has 2"),
        ({"version": "v2", "positionIds": [P_YES, "0x12"]}, "decimal token id"),
        ({"version": "v2", "positionIds": [P_YES, 12]}, "string of digits"),
        ({"version": "v2", "positionIds": [P_YES, "-5"]}, "decimal token id"),
        ({"version": "v2", "positionIds": "[1e76, 2]"}, "string of digits"),
        ({"version": "v2", "positionIds": {"0": P_YES}}, "positionIds has type dict"),
        ({"version": "v2", "positionIds": [P_YES, P_YES]}, "duplicates"),
    ],
)
def test_bad_versions_and_ids_are_refused_with_the_reason(changes, reason):
    with pytest.raises(ParseError, match=reason):
        parse_gamma_market(with_(**changes))


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    version=st.sampled_from([None, "v1", "v2"]),
    flipped=st.booleans(),
    both=st.booleans(),
    as_text=st.booleans(),
    ids=st.lists(
        st.integers(min_value=1, max_value=2**256 - 1).map(str), min_size=4, max_size=4, unique=True
    ),
)
def test_ids_follow_version_and_outcome_names(version, flipped, both, as_text, ids):
    """Whatever the listed order and whichever id fields are present, the yes side gets the id listed beside
    "Yes" in the field its version names."""
    yes_v1, no_v1, yes_v2, no_v2 = ids
    order = (lambda pair: pair[::-1]) if flipped else (lambda pair: pair)
    obj = with_(
        outcomes=json.dumps(order(["Yes", "No"])),
        outcomePrices=json.dumps(order(["0.2", "0.8"])),
        clobTokenIds=json.dumps(order([yes_v1, no_v1])),
    )
    if version is not None:
        obj["version"] = version
    if version == "v2" or (both and version == "v1"):
        pos = order([yes_v2, no_v2])
        obj["positionIds"] = json.dumps(pos) if as_text else pos
    if version == "v2" and not both:
        del obj["clobTokenIds"]
    m = parse_gamma_market(obj)
    expected = (yes_v2, no_v2) if version == "v2" else (yes_v1, no_v1)
    assert (m.yes_token_id, m.no_token_id, m.yes_price) == (*expected, 0.2)


def test_multi_outcome_market():
    m = parse_gamma_market(
        with_(
            outcomes='["A", "B", "C"]',
            outcomePrices='["0.2", "0.3", "0.5"]',
            clobTokenIds=json.dumps(["1", "2", "3"]),
        )
    )
    assert m.outcome_kind == "multi"
    assert m.yes_token_id is m.no_token_id is m.yes_outcome is m.no_outcome is None
    assert m.token_ids == ("1", "2", "3")


def test_real_arrays_are_accepted_too():
    m = parse_gamma_market(with_(outcomes=["Yes", "No"], outcomePrices=[0.1, 0.9]))
    assert m.outcome_prices == (0.1, 0.9)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"outcomePrices": '["1.5", "0"]'}, "outside [0, 1]"),
        ({"outcomePrices": '["-0.1", "1"]'}, "outside [0, 1]"),
        ({"outcomePrices": '["0.5"]'}, "outcomePrices has 1"),
        ({"clobTokenIds": '["1", "2", "3"]'}, "clobTokenIds has 3"),
        ({"clobTokenIds": '["12x", "3"]'}, "decimal token id"),
        ({"clobTokenIds": json.dumps(["1" * 79, "3"])}, "at most 78 digits"),
        ({"clobTokenIds": '[" 12", "3"]'}, "decimal token id"),
        ({"clobTokenIds": "[123, 456]"}, "string of digits"),
        ({"clobTokenIds": '["7", "7"]'}, "duplicates"),
        ({"conditionId": "0x1234"}, "conditionId"),
        ({"conditionId": "1f" * 33}, "conditionId"),
        ({"outcomes": '["Yes"'}, "not valid JSON"),
        ({"outcomes": '["Yes"]'}, "at least 2"),
        ({"outcomes": '["Yes", "yes"]'}, "duplicates"),
        ({"outcomes": ...}, "missing outcomes"),
        ({"id": ...}, "missing id"),
        ({"id": "abc"}, "id"),
        ({"question": ...}, "missing question"),
        ({"bestBid": 1.2}, "bestBid"),
        ({"lastTradePrice": "nan"}, "lastTradePrice"),
        ({"endDate": "tomorrow"}, "endDate"),
        ({"endDate": "2026-02-30T00:00:00Z"}, "endDate"),
        ({"active": "yes"}, "active"),
        ({"volume": True}, "volume"),
        ({"events": {"id": 1}}, "events"),
        ({"orderPriceMinTickSize": 0}, "orderPriceMinTickSize"),
    ],
)
def test_impossible_values_raise_parse_error(changes, reason):
    with pytest.raises(ParseError, match=reason.replace("[", r"\[")):
        parse_gamma_market(with_(**changes))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-03-12T09:25:00Z", datetime(2026, 3, 12, 9, 25, tzinfo=UTC)),
        ("2026-05-09 02:07:01+00", datetime(2026, 5, 9, 2, 7, 1, tzinfo=UTC)),
        ("2024-01-04 17:33:51.448+00", datetime(2024, 1, 4, 17, 33, 51, 448000, tzinfo=UTC)),
        ("2026-03-11T09:29:01.328428Z", datetime(2026, 3, 11, 9, 29, 1, 328428, tzinfo=UTC)),
        ("2026-03-11T10:29:01+01:00", datetime(2026, 3, 11, 9, 29, 1, tzinfo=UTC)),
        ("2025-12-31", datetime(2025, 12, 31, tzinfo=UTC)),
        ("2024-06-17T12:00:00", datetime(2024, 6, 17, 12, tzinfo=UTC)),
    ],
)
def test_date_forms(text, expected):
    m = parse_gamma_market(with_(closedTime=text))
    assert m.closed_time == expected and m.closed_time.tzinfo is not None


# -- property-based ---------------------------------------------------------------------------------------------

token_ids = st.integers(min_value=1, max_value=2**256 - 1).map(str)
prices = st.integers(min_value=0, max_value=10_000).map(lambda n: n / 10_000)
dates = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC))
# Observation times (createdAt...) obey the time contract's window; schedules (endDate) may lie anywhere.
observed = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
)
names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda s: s.strip() and s.strip().lower() not in ("yes", "no"))


def fmt_date(d: datetime, form: int) -> str:
    if form == 0:
        return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if form == 1:
        return d.strftime("%Y-%m-%d %H:%M:%S+00")
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def valid_markets(draw):
    kind = draw(st.sampled_from(["yes_no", "no_yes", "named", "multi"]))
    if kind == "yes_no":
        outcomes = ["Yes", "No"]
    elif kind == "no_yes":
        outcomes = ["No", "Yes"]
    elif kind == "named":
        outcomes = draw(st.lists(names, min_size=2, max_size=2, unique_by=lambda s: s.strip().lower()))
    else:
        outcomes = draw(st.lists(names, min_size=3, max_size=6, unique_by=lambda s: s.strip().lower()))
    n = len(outcomes)
    tokens = draw(st.lists(token_ids, min_size=n, max_size=n, unique=True))
    px = draw(st.lists(prices, min_size=n, max_size=n))
    end, created = draw(dates), draw(observed)
    form = draw(st.integers(0, 2))
    obj = {
        "id": str(draw(st.integers(1, 10**9))),
        "question": draw(st.text(max_size=40)),
        "conditionId": "0x" + draw(st.binary(min_size=32, max_size=32)).hex(),
        "slug": draw(st.text(max_size=20)),
        "outcomes": json.dumps(outcomes),
        "outcomePrices": json.dumps([repr(p) for p in px]),
        "clobTokenIds": json.dumps(tokens),
        "endDate": fmt_date(end, form),
        "createdAt": fmt_date(created, form),
        "active": draw(st.booleans()),
        "closed": draw(st.booleans()),
        "negRisk": draw(st.booleans()),
        "volume": repr(draw(st.floats(0, 1e9))),
        "volume24hr": draw(st.floats(0, 1e7)),
        "bestBid": draw(prices),
        "umaResolutionStatuses": json.dumps(
            draw(st.lists(st.sampled_from(["proposed", "disputed", "resolved"]), max_size=3))
        ),
        "events": [{"id": str(draw(st.integers(1, 10**6))), "slug": "s", "title": "t"}],
        "someFutureField": {"nested": [1, 2, 3]},
    }
    if draw(st.booleans()):
        del obj["bestBid"]
    return obj, {
        "outcomes": outcomes,
        "tokens": tokens,
        "prices": px,
        "end": end,
        "created": created,
        "form": form,
    }


def _expected_date(d: datetime, form: int) -> datetime:
    return d if form == 0 else d.replace(microsecond=0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_markets())
def test_generated_valid_markets_round_trip(case):
    obj, exp = case
    m = parse_gamma_market(obj)
    assert isinstance(m, GammaMarket)
    assert m.outcomes == tuple(exp["outcomes"])
    assert m.token_ids == tuple(exp["tokens"])
    assert m.outcome_prices == tuple(exp["prices"])
    assert m.condition_id == obj["conditionId"]
    assert m.end_date == _expected_date(exp["end"], exp["form"])
    assert m.created_at == _expected_date(exp["created"], exp["form"])
    assert m.best_bid == obj.get("bestBid")
    assert m.volume == float(obj["volume"])
    lowered = [o.lower() for o in exp["outcomes"]]
    if set(lowered) == {"yes", "no"}:
        assert m.outcome_kind == "yes_no"
        assert m.yes_token_id == exp["tokens"][lowered.index("yes")]
        assert m.no_token_id == exp["tokens"][lowered.index("no")]
        assert m.yes_price == exp["prices"][lowered.index("yes")]
    elif len(exp["outcomes"]) == 2:
        assert m.outcome_kind == "named_binary"
        assert (m.yes_token_id, m.no_token_id) == tuple(exp["tokens"])
        assert (m.yes_outcome, m.no_outcome) == tuple(exp["outcomes"])
    else:
        assert m.outcome_kind == "multi" and m.yes_token_id is None and m.no_token_id is None
    row = gamma_market_to_row(m)
    assert row["outcomes"] == exp["outcomes"] and row["token_ids"] == exp["tokens"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
MUTABLE_KEYS = [
    "id",
    "question",
    "conditionId",
    "slug",
    "outcomes",
    "outcomePrices",
    "clobTokenIds",
    "endDate",
    "startDate",
    "createdAt",
    "closedTime",
    "active",
    "closed",
    "acceptingOrders",
    "negRisk",
    "negRiskMarketID",
    "volume",
    "volumeNum",
    "volume24hr",
    "liquidity",
    "bestBid",
    "bestAsk",
    "lastTradePrice",
    "spread",
    "oneDayPriceChange",
    "umaResolutionStatus",
    "umaResolutionStatuses",
    "orderPriceMinTickSize",
    "orderMinSize",
    "events",
    "category",
]
# Values that look almost right: JSON-in-JSON arrays with wrong contents, odd number text, odd dates.
tricky = st.one_of(
    json_values.map(json.dumps),
    st.lists(st.one_of(st.text(max_size=8), st.integers(), st.floats()), max_size=4).map(json.dumps),
    st.sampled_from(
        [
            "",
            "[]",
            '[""]',
            "1e999",
            "-0",
            ".5",
            "0x10",
            "NaN",
            "2026-13-01",
            "2026-01-01T25:00:00Z",
            "9" * 80,
            "[[[[[[[[[[]]]]]]]]]]",
            "[" * 3000,
        ]
    ),
)


DELETE = object()
NASTY_VALUES = [
    DELETE,
    None,
    True,
    False,
    0,
    -1,
    2,
    10**400,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    0.5,
    "",
    "abc",
    "0.5",
    "-0",
    ".5",
    "1e999",
    "NaN",
    "0x10",
    "9" * 80,
    "2026-13-01",
    "2026-01-01T25:00:00Z",
    "2026-01-01T00:00:00+99",
    "[]",
    "[1]",
    '["a", "b"]',
    '["a", "b", "c"]',
    '[null, "1"]',
    '{"a": 1}',
    "[" * 3000,
    "\ud800",
    [],
    [None],
    ["Yes", "No"],
    [[]],
    {},
    {"id": []},
    [{"id": {}}],
]


def _parse_or_parse_error(obj) -> None:
    try:
        parse_gamma_market(obj)
    except ParseError as exc:
        assert exc.reason


@pytest.mark.parametrize("key", MUTABLE_KEYS)
def test_every_field_with_every_nasty_value_raises_only_parse_error(key):
    for _, sample in SAMPLES[:3]:
        for value in NASTY_VALUES:
            obj = dict(sample)
            if value is DELETE:
                obj.pop(key, None)
            else:
                obj[key] = value
            _parse_or_parse_error(obj)


mutation_values = st.one_of(json_values, tricky, st.sampled_from(NASTY_VALUES))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(SAMPLES),
    st.dictionaries(st.sampled_from(MUTABLE_KEYS), mutation_values, min_size=1, max_size=4),
)
def test_mutated_markets_raise_only_parse_error(sample, mutations):
    obj = dict(sample[1])
    for key, value in mutations.items():
        if value is DELETE:
            obj.pop(key, None)
        else:
            obj[key] = value
    _parse_or_parse_error(obj)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_garbage_raises_only_parse_error(value):
    with pytest.raises(ParseError):
        parse_gamma_market(value)
