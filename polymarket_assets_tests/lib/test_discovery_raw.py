"""Discovery's raw archive keeps each Gamma answer as it was received, not a re-encoding of the parsed pages."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from polymarket_assets.lib.discovery import list_open_markets
from polymarket_assets.lib.gamma import GammaClient
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets.lib.raw_archive import RawArchive
from polymarket_assets_tests.lib.conftest import FAST
from polymarket_assets_tests.lib.stub_server import Reply
from polymarket_assets_tests.lib.test_discovery_ids import NOW, market

# Spacing, a unicode escape and number spellings that json.dumps would not reproduce.
_FIRST_MARKETS = [json.dumps(market(1, volumeNum=1e-05)), json.dumps(market(2, question="café?"), indent=1)]
FIRST = ('{"markets": [' + ",\n  ".join(_FIRST_MARKETS) + '], "next_cursor": "c1"}').replace(
    '"volumeNum": 1e-05', '"volumeNum": 0.00001000'
)
SECOND = '{"markets":[' + json.dumps(market(3)) + "]}"


def test_each_answer_is_archived_byte_for_byte_with_its_request(stub, tmp_path):
    def keyset(req):
        body = SECOND if req.param("after_cursor") == "c1" else FIRST
        return Reply(body=body.encode(), headers={"Content-Type": "application/json"})

    stub.handle("GET", "/gamma/markets/keyset", keyset)
    raw = RawArchive(tmp_path, "gamma_markets")
    listing = list_open_markets(
        GammaClient(stub.url + "/gamma", **FAST), NOW, [], Quarantine(tmp_path, "gamma_markets"), raw
    )
    assert sorted(m.gamma_id for m in listing.markets.values()) == ["1001", "1002", "1003"]
    assert listing.markets[market(2)["conditionId"]].question == "café?"

    stored = pq.read_table(raw.flush({"date": "2026-12-01"}, "run")).to_pylist()
    assert [row["body"] for row in stored] == [FIRST, SECOND]
    assert [row["endpoint"] for row in stored] == ["/markets/keyset"] * 2
    requests = [json.loads(row["request"]) for row in stored]
    assert requests[0]["closed"] in (False, "false") and "after_cursor" not in requests[0]
    assert requests[1]["after_cursor"] == "c1"
