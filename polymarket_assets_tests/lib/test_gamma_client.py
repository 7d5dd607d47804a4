"""GammaClient paging against the stub: keyset cursors, offset cap, fallback, condition-id chunks."""

from __future__ import annotations

import pytest

from polymarket_assets.lib.errors import ApiError, ClientResponseError, PaginationLimitError
from polymarket_assets.lib.gamma import GammaClient
from polymarket_assets_tests.lib.conftest import FAST
from polymarket_assets_tests.lib.stub_server import Reply, json_reply

PREFIX = "/gamma"


def markets(ids) -> list[dict]:
    return [{"id": str(i), "question": f"q{i}"} for i in ids]


def client_for(stub, **kw) -> GammaClient:
    return GammaClient(stub.url + PREFIX, **{**FAST, **kw})


def keyset_pages(stub, pages: dict[str | None, tuple[list[dict], str | None]]):
    """Serve keyset pages keyed by the after_cursor the client sends."""

    def handler(req):
        cursor = req.param("after_cursor")
        if cursor not in pages:
            return json_reply({"error": f"bad cursor {cursor}"}, status=400)
        items, nxt = pages[cursor]
        body = {"markets": items}
        if nxt is not None:
            body["next_cursor"] = nxt
        return json_reply(body)

    stub.handle("GET", f"{PREFIX}/markets/keyset", handler)


def offset_pages(stub, total: int, cap: int | None = None, page_max: int = 100):
    def handler(req):
        offset, limit = int(req.param("offset")), int(req.param("limit"))
        if cap is not None and offset > cap:
            return json_reply(
                {
                    "type": "validation error",
                    "error": "offset too large, use /markets/keyset for deeper pagination",
                },
                status=422,
            )
        return json_reply(markets(range(offset, min(total, offset + min(limit, page_max)))))

    stub.handle("GET", f"{PREFIX}/markets", handler)


def test_keyset_follows_after_cursor_until_next_cursor_is_absent(stub):
    keyset_pages(
        stub, {None: (markets([1, 2]), "c1"), "c1": (markets([3, 4]), "c2"), "c2": (markets([5]), None)}
    )
    client = client_for(stub)
    pages = list(client.iter_markets_keyset({"closed": False, "offset": 40}, page_size=500))
    assert [[m["id"] for m in p] for p in pages] == [["1", "2"], ["3", "4"], ["5"]]
    calls = stub.calls()
    assert [c.param("after_cursor") for c in calls] == [None, "c1", "c2"]
    assert all(c.param("limit") == "100" and c.param("closed") == "false" for c in calls)
    assert all("offset" not in c.query for c in calls)  # keyset answers 422 to offset


def test_keyset_stops_on_empty_next_cursor(stub):
    keyset_pages(stub, {None: (markets([1]), "")})
    assert len(list(client_for(stub).iter_markets_keyset())) == 1


def test_keyset_detects_a_cursor_that_does_not_advance(stub):
    keyset_pages(stub, {None: (markets([1]), "same"), "same": (markets([1]), "same")})
    with pytest.raises(ApiError, match="not advancing"):
        list(client_for(stub).iter_markets_keyset())


def test_keyset_rejects_an_unexpected_shape(stub):
    stub.script("GET", f"{PREFIX}/markets/keyset", json_reply(markets([1])))  # bare array, not keyset
    with pytest.raises(ApiError, match="unexpected keyset response"):
        list(client_for(stub).iter_markets_keyset())


def test_offset_paging_reads_everything_below_the_cap(stub):
    offset_pages(stub, total=250)
    pages = list(client_for(stub).iter_markets_offset({"closed": False}))
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [c.param("offset") for c in stub.calls()] == ["0", "100", "200"]


@pytest.mark.parametrize("page_max", [30, 99])
def test_offset_paging_reads_the_page_length_from_the_answers(stub, page_max):
    """A server that serves fewer markets per page than asked (§9.9: design for 100, read len(markets)) does
    not end the listing after its first page."""
    offset_pages(stub, total=250, page_max=page_max)
    pages = list(client_for(stub).iter_markets_offset({"closed": False}))
    ids = [m["id"] for p in pages for m in p]
    assert ids == [str(i) for i in range(250)]


def test_offset_paging_stops_at_the_cap_with_a_clear_error(stub):
    offset_pages(stub, total=10_000)
    got = []
    with pytest.raises(PaginationLimitError, match="offset cap 2000"):
        for page in client_for(stub).iter_markets_offset():
            got.extend(page)
    assert len(got) == 2100  # offsets 0..2000 were all read first
    assert max(int(c.param("offset")) for c in stub.calls()) == 2000


def test_offset_paging_422_ends_with_a_clear_error(stub):
    offset_pages(stub, total=10_000, cap=300)
    got = []
    with pytest.raises(PaginationLimitError, match="refused offset 400") as info:
        for page in client_for(stub).iter_markets_offset():
            got.extend(page)
    assert len(got) == 400
    assert info.value.status == 422
    assert len(stub.calls()) == 5  # the 422 was not retried


@pytest.mark.parametrize("status", [404, 405, 410])
def test_open_markets_fall_back_to_offset_when_keyset_is_missing(stub, status):
    stub.script("GET", f"{PREFIX}/markets/keyset", json_reply({"error": "not found"}, status=status))
    offset_pages(stub, total=130)
    pages = list(client_for(stub).iter_open_markets())
    assert sum(len(p) for p in pages) == 130
    offset_calls = stub.calls("GET", f"{PREFIX}/markets")
    assert all(c.param("closed") == "false" for c in offset_calls)


def test_open_markets_fall_back_midway_without_duplicates(stub):
    stub.script(
        "GET",
        f"{PREFIX}/markets/keyset",
        json_reply({"markets": markets([0, 1, 2]), "next_cursor": "c1"}),
        *[Reply(status=503)] * 3,
    )
    offset_pages(stub, total=5)
    client = client_for(stub, max_retries=2)
    ids = [m["id"] for page in client.iter_open_markets() for m in page]
    assert ids == ["0", "1", "2", "3", "4"]


def test_open_markets_do_not_hide_other_client_errors_when_both_fail(stub):
    stub.script("GET", f"{PREFIX}/markets/keyset", json_reply({"error": "bad"}, status=400))
    stub.script("GET", f"{PREFIX}/markets", json_reply({"error": "bad"}, status=400))
    with pytest.raises(ClientResponseError):
        list(client_for(stub).iter_open_markets())


def test_get_market_by_gamma_id(stub):
    stub.script("GET", f"{PREFIX}/markets/253591", json_reply({"id": "253591"}))
    assert client_for(stub).get_market("253591") == {"id": "253591"}


def test_markets_by_condition_ids_chunk_by_100_and_ask_both_states(stub):
    def handler(req):
        ids = req.query["condition_ids"]
        closed = req.param("closed") == "true"
        # Pretend every 10th id is closed; each id maps to one market.
        found = [cid for cid in ids if (int(cid, 16) % 10 == 0) == closed]
        return json_reply({"markets": [{"id": str(int(c, 16)), "conditionId": c} for c in found]})

    stub.handle("GET", f"{PREFIX}/markets/keyset", handler)
    ids = [f"0x{i:064x}" for i in range(150)]
    result = client_for(stub).get_markets_by_condition_ids(ids + ids[:5])
    assert sorted(m["conditionId"] for m in result) == sorted(ids)
    calls = stub.calls()
    assert len(calls) == 4  # 2 chunks x (closed=false, closed=true)
    assert sorted(len(c.query["condition_ids"]) for c in calls) == [50, 50, 100, 100]
    assert {c.param("closed") for c in calls} == {"true", "false"}


def test_markets_by_condition_ids_with_an_explicit_state(stub):
    stub.handle("GET", f"{PREFIX}/markets/keyset", lambda req: json_reply({"markets": []}))
    client_for(stub).get_markets_by_condition_ids(["0x" + "a" * 64], closed=True)
    assert [c.param("closed") for c in stub.calls()] == ["true"]


def test_events_keyset(stub):
    def handler(req):
        if req.param("after_cursor") is None:
            return json_reply({"events": [{"id": "1", "markets": []}], "next_cursor": "e2"})
        return json_reply({"events": [{"id": "2", "markets": []}]})

    stub.handle("GET", f"{PREFIX}/events/keyset", handler)
    pages = list(client_for(stub).iter_events_keyset({"closed": False}, page_size=1000))
    assert [p[0]["id"] for p in pages] == ["1", "2"]
    assert stub.calls()[0].param("limit") == "500"


def test_default_limits_follow_the_published_table():
    client = GammaClient("http://127.0.0.1:1/gamma")
    assert client._buckets["/markets"].burst == 30
    assert client._buckets["/events"].burst == 50
    assert client._general_bucket.burst == 400
