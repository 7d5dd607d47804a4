"""A books sweep's raw archive entry holds the books as the CLOB sent them, not a re-encoding of the parsed
answer."""

from __future__ import annotations

import json

from polymarket_assets.lib.clob import ClobClient
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets.lib.sweep import sweep_books
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from polymarket_assets_tests import fault_scenarios as fs
from polymarket_assets_tests.lib.stub_server import Reply


def _spelled(book: dict) -> str:
    """One book as a server might spell it: spaces after separators and a price with a trailing zero."""
    return json.dumps(book, indent=None).replace('"0.30"', '"0.300"')


def test_the_books_are_archived_as_received(stub, tmp_path):
    markets = fs.open_markets(6, hours_to_close=6)
    owner = {m[k]: m["condition_id"] for m in markets for k in ("yes_token_id", "no_token_id")}
    served: dict[str, str] = {}

    def books(req):
        items = []
        for item in req.body:
            served[item["token_id"]] = _spelled(fs._book(item["token_id"], owner[item["token_id"]]))
            items.append(served[item["token_id"]])
        return Reply(
            body=("[\n  " + ",\n  ".join(items) + "\n]\n").encode(),
            headers={"Content-Type": "application/json"},
        )

    stub.handle("POST", "/books", books)
    slot = fs.utc(fs.NOW_MS)
    result = sweep_books(
        ClobClient(stub.url, limits={}, default_limit=None, **fs.CLIENT),
        markets,
        DEFAULT_PLAN.by_name("T2"),
        slot,
        slot,
        Quarantine(tmp_path, "snapshots_t2"),
        batch_size=4,
        max_workers=2,
    )
    assert len(result.rows) == len(markets) and not result.failed_condition_ids
    [body] = [text for endpoint, _, text in result.raw if endpoint == "/books"]
    archived = json.loads(body)
    assert sorted(b["asset_id"] for b in archived) == sorted(served)
    # Each book's own text is in the archive byte for byte: its spacing and its "0.300".
    for text in served.values():
        assert text in body
