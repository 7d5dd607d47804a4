"""DataApiClient trade paging against the stub: since_ts, offset caps, the server's offset error."""

from __future__ import annotations

import pytest

from polymarket_assets.lib.data_api import DataApiClient
from polymarket_assets.lib.errors import ClientResponseError
from polymarket_assets_tests.lib.conftest import FAST
from polymarket_assets_tests.lib.stub_server import json_reply

CID = "0x" + "ab" * 32
T0 = 1_790_000_000  # epoch seconds (2026-09): trade times obey the time contract


def client_for(stub, **kw) -> DataApiClient:
    return DataApiClient(stub.url, **{**FAST, **kw})


def serve_trades(stub, newest: int, count: int, server_cap: int | None = None):
    """`count` trades, one per second, newest first, paged by offset/limit like /trades."""

    def handler(req):
        offset, limit = int(req.param("offset")), int(req.param("limit"))
        if server_cap is not None and offset > server_cap:
            return json_reply({"error": f"max historical trades offset of {server_cap} exceeded"}, status=400)
        rows = [
            {"timestamp": T0 + newest - i, "transactionHash": f"0x{i:064x}"}
            for i in range(offset, min(count, offset + limit))
        ]
        return json_reply(rows)

    stub.handle("GET", "/trades", handler)


def test_get_trades_sends_the_market_list(stub):
    serve_trades(stub, 1000, 3)
    rows = client_for(stub).get_trades([CID, CID, "0x" + "cd" * 32], limit=2, offset=1)
    assert [r["timestamp"] - T0 for r in rows] == [999, 998]
    call = stub.calls()[0]
    assert call.param("market") == f"{CID},0x{'cd' * 32}"
    assert (call.param("limit"), call.param("offset")) == ("2", "1")
    assert "takerOnly" not in call.query


def test_iter_trades_stops_at_since_ts(stub):
    serve_trades(stub, 10_000, 5_000)
    pages = client_for(stub).iter_trades([CID], since_ts=T0 + 10_000 - 250, page_size=100)
    rows = [r for page in pages for r in page]
    assert [r["timestamp"] - T0 for r in rows] == list(range(10_000, 10_000 - 251, -1))
    assert pages.reached_since and not pages.truncated
    assert len(stub.calls()) == 3


def test_iter_trades_reads_to_the_end_without_since(stub):
    serve_trades(stub, 10_000, 250)
    pages = client_for(stub).iter_trades([CID], page_size=100)
    assert sum(len(p) for p in pages) == 250
    assert not pages.truncated and pages.rows == 250
    assert len(stub.calls()) == 3  # the short third page ends it


def test_iter_trades_stops_at_the_offset_cap_and_says_so(stub):
    serve_trades(stub, 10_000, 5_000)
    pages = client_for(stub).iter_trades([CID], since_ts=0, page_size=100, max_offset=300)
    assert sum(len(p) for p in pages) == 400
    assert pages.truncated and not pages.reached_since
    assert max(int(c.param("offset")) for c in stub.calls()) == 300


def test_iter_trades_treats_the_servers_offset_error_as_the_cap(stub):
    serve_trades(stub, 10_000, 5_000, server_cap=200)
    pages = client_for(stub).iter_trades([CID], page_size=100)
    assert sum(len(p) for p in pages) == 300
    assert pages.truncated


def test_iter_trades_raises_other_client_errors(stub):
    stub.script("GET", "/trades", json_reply({"error": "bad market"}, status=400))
    with pytest.raises(ClientResponseError):
        list(client_for(stub).iter_trades([CID]))


def test_condition_ids_are_required():
    client = DataApiClient("http://127.0.0.1:1")
    with pytest.raises(ValueError):
        client.iter_trades([])
    assert client._buckets["/trades"].burst == 20 and client._general_bucket.burst == 100
