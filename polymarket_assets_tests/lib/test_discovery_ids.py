"""Discovery over real sockets: markets with a bad protocol version or bad outcome ids are quarantined alone,
with the reason and the raw record, and everything else on the page lands with its ids chosen by version."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow.parquet as pq

from polymarket_assets.lib.discovery import list_open_markets, market_state_row
from polymarket_assets.lib.gamma import GammaClient
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets.lib.raw_archive import RawArchive
from polymarket_assets_tests.lib.conftest import FAST
from polymarket_assets_tests.lib.stub_server import json_reply

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
YES_1, NO_1 = "1" * 77, "2" * 77
YES_2, NO_2 = "3" * 76, "4" * 78


def market(n: int, **fields) -> dict:
    base = {
        "id": str(1000 + n),
        "question": f"Question {n}?",
        "conditionId": "0x" + f"{n:02x}" * 32,
        "outcomes": '["Yes", "No"]',
        "outcomePrices": '["0.3", "0.7"]',
        "clobTokenIds": json.dumps([YES_1, NO_1]),
        "closed": False,
        "endDate": "2026-12-24T00:00:00Z",
    }
    for key, value in fields.items():
        if value is ...:
            base.pop(key, None)
        else:
            base[key] = value
    return base


GOOD = [
    market(1),  # legacy: no version
    market(2, version="v1"),
    market(
        3, version="v2", outcomes='["No", "Yes"]', outcomePrices='["0.7", "0.3"]', positionIds=[NO_2, YES_2]
    ),
    market(4, version="v2", positionIds=json.dumps([YES_2, NO_2]), clobTokenIds=...),
]
BAD = [
    (market(11, positionIds=[YES_2, NO_2]), "version missing but positionIds present"),
    (market(12, version="v3"), "unknown version 'v3'"),
    (
        market(13, version=None, positionIds=[YES_2, NO_2], clobTokenIds=...),
        "version missing but positionIds present",
    ),
    (market(14, version="v2"), "version v2 market has no positionIds"),
    (market(15, version="v2", positionIds=[YES_2, "0xabc"]), "positionIds[] is not a decimal token id"),
    (market(16, version="v2", positionIds=[YES_2]), "positionIds has 1 entries but outcomes has 2"),
    (market(17, version="v1", clobTokenIds=json.dumps([YES_1, NO_1, "5"])), "clobTokenIds has 3 entries"),
]


def test_bad_versions_and_ids_are_quarantined_with_the_reason_and_the_rest_lands(stub, tmp_path):
    page = GOOD + [obj for obj, _ in BAD]
    stub.handle("GET", "/gamma/markets/keyset", lambda req: json_reply({"markets": page}))
    gamma = GammaClient(stub.url + "/gamma", **FAST)
    quarantine = Quarantine(tmp_path, "gamma_markets")
    listing = list_open_markets(gamma, NOW, [], quarantine, RawArchive(tmp_path, "gamma_markets"))

    rows = {m.gamma_id: market_state_row(m, NOW) for m in listing.markets.values()}
    assert sorted(rows) == ["1001", "1002", "1003", "1004"]
    assert [(rows[g]["version"], rows[g]["yes_token_id"], rows[g]["no_token_id"]) for g in sorted(rows)] == [
        (None, YES_1, NO_1),
        ("v1", YES_1, NO_1),
        ("v2", YES_2, NO_2),
        ("v2", YES_2, NO_2),
    ]
    assert rows["1003"]["yes_price"] == 0.3 and rows["1003"]["clob_token_ids"] == json.dumps([YES_1, NO_1])
    assert (
        json.loads(rows["1004"]["position_ids"]) == [YES_2, NO_2] and rows["1004"]["clob_token_ids"] is None
    )

    # Each bad record alone, with its reason and its raw bytes; it keeps its previous state (not "closed").
    path = quarantine.flush(NOW)
    stored = pq.read_table(path).to_pylist()
    assert len(stored) == len(BAD)
    for (obj, reason), row in zip(BAD, stored, strict=True):
        assert reason in row["reason"], (reason, row["reason"])
        assert json.loads(row["raw"]) == obj
    assert listing.unparsed == {obj["conditionId"] for obj, _ in BAD}
