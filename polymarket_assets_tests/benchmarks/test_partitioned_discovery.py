"""GammaClient.iter_open_markets_partitioned (the faster discovery the collection benchmark led to):
every open market exactly once, whatever the server does at range edges, with markets that have no endDate,
and with a fallback to the sequential listing when a stream fails or the server ignores `order`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from polymarket_assets.lib.gamma import MAX_RANGES_PER_STREAM, GammaClient, end_date_cuts
from polymarket_assets.lib.parse_common import to_datetime
from polymarket_assets_tests.lib.stub_server import StubServer, json_reply

PREFIX = "/gamma"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FAST = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05, "read_timeout": 2.0, "connect_timeout": 1.0}


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_markets() -> list[dict]:
    """Open markets spread over two years around NOW, in groups of three: one on a whole second, one 0.4 s
    after it and one a second before it (range edges fall on whole seconds of known end dates, so markets
    sit exactly on and a fraction of a second off every edge), and some without an endDate."""
    out: list[dict] = []
    for i in range(100):
        edge = NOW + timedelta(hours=(i * 7919 % 17_000) - 8_000)
        out.append({"id": str(1000 + 3 * i), "endDate": _iso(edge)})
        out.append(
            {
                "id": str(1001 + 3 * i),
                "endDate": (edge + timedelta(milliseconds=400)).isoformat().replace("+00:00", "Z"),
            }
        )
        out.append({"id": str(1002 + 3 * i), "endDate": _iso(edge - timedelta(seconds=1))})
    for k in range(7):
        out.append({"id": str(3000 + k), "endDate": None} if k % 2 else {"id": str(3000 + k)})
    return out


def known(markets) -> list:
    """The end dates the previous discovery saw (the same markets)."""
    return [to_datetime(m.get("endDate"), "endDate") for m in markets]


class FakeGamma:
    """`/markets/keyset` with closed, end_date_min/max, order=endDate and ascending, cursor = position."""

    def __init__(
        self, markets, *, nulls_first=False, honour_order=True, exclusive_edges=False, fail_min=None
    ):
        self.markets = markets
        self.nulls_first = nulls_first
        self.honour_order = honour_order
        self.exclusive_edges = exclusive_edges
        self.fail_min = fail_min  # answer 500 to every request with this end_date_min

    def __call__(self, req):
        if self.fail_min is not None and req.param("end_date_min") == self.fail_min:
            return json_reply({"error": "internal"}, status=500)
        lo, hi = req.param("end_date_min"), req.param("end_date_max")
        lo_t, hi_t = to_datetime(lo, "lo") if lo else None, to_datetime(hi, "hi") if hi else None
        rows = []
        for m in self.markets:
            end = to_datetime(m.get("endDate"), "endDate")
            if (lo_t or hi_t) and end is None:
                continue  # SQL: NULL compares false
            if lo_t and (end <= lo_t if self.exclusive_edges else end < lo_t):
                continue
            if hi_t and (end >= hi_t if self.exclusive_edges else end > hi_t):
                continue
            rows.append((end, m))
        if req.param("order") == "endDate" and self.honour_order:
            descending = req.param("ascending") == "false"
            dated = sorted(
                (r for r in rows if r[0] is not None),
                key=lambda r: (r[0], int(r[1]["id"])),
                reverse=descending,
            )
            undated = [r for r in rows if r[0] is None]
            # Postgres: NULLS LAST when ascending, NULLS FIRST when descending (nulls_first flips both).
            nulls_at_start = descending != self.nulls_first
            rows = undated + dated if nulls_at_start else dated + undated
        else:
            rows.sort(key=lambda r: int(r[1]["id"]))
        start = int(req.param("after_cursor") or 0)
        limit = int(req.param("limit"))
        body = {"markets": [m for _, m in rows[start : start + limit]]}
        if start + limit < len(rows):
            body["next_cursor"] = str(start + limit)
        return json_reply(body)


@pytest.fixture
def stub():
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


def listing(stub, fake, **kw):
    stub.handle("GET", f"{PREFIX}/markets/keyset", fake)
    client = GammaClient(stub.url + PREFIX, limits={}, default_limit=None, **{**FAST, **kw.pop("client", {})})
    report: dict = {}
    kw.setdefault("known_end_dates", known(fake.markets))
    pages = list(client.iter_open_markets_partitioned(page_size=5, report=report, **kw))
    return [m["id"] for page in pages for m in page], report


@pytest.mark.parametrize("nulls_first", [False, True])
@pytest.mark.parametrize("exclusive_edges", [False, True])
def test_every_market_exactly_once(stub, nulls_first, exclusive_edges):
    markets = make_markets()
    ids, report = listing(stub, FakeGamma(markets, nulls_first=nulls_first, exclusive_edges=exclusive_edges))
    assert sorted(ids) == sorted(m["id"] for m in markets)
    assert len(ids) == len(set(ids))
    # 307 known end dates in pages of 5: 62 pages, so 62 // 8 = 7 ranges.
    assert report["ranges"] == 7 and report["streams"] == 4 and report["fallback"] is None
    # Several listings really ran: one per range plus the two endDate-ordered probes.
    assert {r.param("order") for r in stub.calls("GET", f"{PREFIX}/markets/keyset")} == {None, "endDate"}


def test_at_most_four_ranges_per_stream(stub):
    markets = make_markets()
    ids, report = listing(stub, FakeGamma(markets), known_end_dates=known(markets) * 20)
    assert sorted(ids) == sorted(m["id"] for m in markets)
    assert report["ranges"] == 4 * MAX_RANGES_PER_STREAM


def test_first_discovery_and_small_listings_are_one_sequential_listing(stub):
    markets = make_markets()
    for hints in ([], known(markets)[:30]):
        stub.requests.clear()
        ids, report = listing(stub, FakeGamma(markets), known_end_dates=hints)
        assert sorted(ids) == sorted(m["id"] for m in markets)
        assert report == {"ranges": 1, "streams": 1, "fallback": None}
        calls = stub.calls("GET", f"{PREFIX}/markets/keyset")
        assert all(set(c.query) <= {"closed", "limit", "after_cursor"} for c in calls)


def test_a_server_ignoring_order_falls_back_to_the_sequential_listing(stub):
    markets = make_markets()
    ids, report = listing(stub, FakeGamma(markets, honour_order=False))
    assert sorted(ids) == sorted(m["id"] for m in markets) and len(ids) == len(set(ids))
    assert "order=endDate" in report["fallback"]


def test_a_failing_stream_falls_back_to_the_sequential_listing(stub):
    markets = make_markets()
    failing = _iso(end_date_cuts(known(markets), page_size=5)[2] - timedelta(seconds=1))  # the fourth range
    ids, report = listing(stub, FakeGamma(markets, fail_min=failing), client={"max_retries": 1})
    assert sorted(ids) == sorted(m["id"] for m in markets) and len(ids) == len(set(ids))
    assert report["fallback"]


def test_range_edges():
    assert end_date_cuts([]) == [] and end_date_cuts([NOW] * 1500) == []  # unknown, or 15 pages: sequential
    assert len(end_date_cuts([NOW + timedelta(minutes=i) for i in range(1600)])) == 1  # 16 pages: 2 ranges
    cuts = end_date_cuts([NOW + timedelta(minutes=i, microseconds=7) for i in range(50_000)] + [None] * 9)
    assert len(cuts) == 15 and cuts == sorted(set(cuts)) and all(c.microsecond == 0 for c in cuts)
    # Quantiles: about the same number of known end dates between consecutive edges.
    assert cuts[0] == NOW + timedelta(minutes=3125) and cuts[-1] == NOW + timedelta(minutes=46_875)


def test_against_the_simulator():
    from polymarket_sim import run_sim

    with run_sim(markets=300, seed=3, speed=0, faults="none", rate_limit="off") as sim:
        client = GammaClient(sim.urls["PM_GAMMA_URL"], limits={}, default_limit=None, **FAST)
        sequential = [m for page in client.iter_open_markets() for m in page]
        report: dict = {}
        pages = client.iter_open_markets_partitioned(
            known_end_dates=known(sequential), page_size=10, report=report
        )
        ids = [m["id"] for page in pages for m in page]
    assert report["ranges"] == 3 and report["fallback"] is None
    assert sorted(ids) == sorted(m["id"] for m in sequential) and len(ids) == len(set(ids))
