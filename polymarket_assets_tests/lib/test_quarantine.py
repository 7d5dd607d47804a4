"""Quarantine: Parquet layout and schema, atomic files, counts, and parse_or_quarantine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from polymarket_assets.lib.books import parse_book
from polymarket_assets.lib.errors import ParseError
from polymarket_assets.lib.quarantine import Quarantine, parse_or_quarantine

NOW = datetime(2026, 3, 22, 23, 59, 59, 123456, tzinfo=UTC)


def test_flush_writes_one_parquet_file_with_the_contract_schema(tmp_path):
    q = Quarantine(tmp_path, "gamma_markets")
    q.add("bad price", {"id": "1", "outcomePrices": '["2"]'}, {"page": 3})
    q.add("not JSON", b"\xff{trunc", None)
    q.add("bad price", '{"raw": "text \ud800"}', "ctx")
    assert q.count == 3 and q.counts_by_reason() == {"bad price": 2, "not JSON": 1}

    path = q.flush(NOW)
    assert path.parent == tmp_path / "quarantine" / "source=gamma_markets" / "date=2026-03-22"
    assert path.name.startswith("part-") and path.suffix == ".parquet"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind

    table = pq.read_table(path)
    assert table.schema.field("quarantined_at").type == pa.timestamp("us", tz="UTC")
    assert table.column_names == ["quarantined_at", "source", "reason", "raw", "context"]
    rows = table.to_pylist()
    assert rows[0]["quarantined_at"] == NOW and rows[0]["source"] == "gamma_markets"
    assert json.loads(rows[0]["raw"]) == {"id": "1", "outcomePrices": '["2"]'}
    assert json.loads(rows[0]["context"]) == {"page": 3}
    assert rows[1]["raw"] == "\\xff{trunc" and rows[1]["context"] is None
    assert rows[2]["raw"] == '{"raw": "text \\ud800"}'


def test_flush_empties_the_buffer_and_each_flush_gets_its_own_file(tmp_path):
    q = Quarantine(tmp_path, "ws")
    assert q.flush(NOW) is None
    q.add("r", "x")
    first = q.flush(NOW)
    assert q.pending == 0 and q.flush(NOW) is None
    q.add("r", "y")
    second = q.flush(NOW + timedelta(seconds=1))
    assert first.parent.name == "date=2026-03-22"
    assert second.parent.name == "date=2026-03-23"  # the flush instant picks the date partition
    assert q.count == 2  # the run total survives flushes


def test_failed_write_keeps_the_entries(tmp_path):
    blocker = tmp_path / "quarantine"
    blocker.write_text("a file where the directory should be")
    q = Quarantine(tmp_path, "ws")
    q.add("r", "x")
    with pytest.raises(OSError):
        q.flush(NOW)
    assert q.pending == 1


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        Quarantine(tmp_path, "../escape")
    q = Quarantine(tmp_path, "ok")
    q.add("r", "x")
    with pytest.raises(ValueError):
        q.flush(datetime(2026, 1, 1))  # naive


def test_parse_or_quarantine(tmp_path):
    q = Quarantine(tmp_path, "books")
    good = {
        "market": "0x" + "ab" * 32,
        "asset_id": "1" * 77,
        "timestamp": "1790000000000",
        "bids": [],
        "asks": [],
    }
    assert parse_or_quarantine(parse_book, good, q).timestamp_ms == 1_790_000_000_000
    assert parse_or_quarantine(parse_book, {**good, "timestamp": "x"}, q, {"slot": "s"}) is None
    assert q.counts_by_reason() == {"timestamp is not an integer: 'x'": 1}

    def buggy(raw):
        raise KeyError("a bug, not bad input")

    with pytest.raises(KeyError):
        parse_or_quarantine(buggy, good, q)
    rows = pq.read_table(q.flush(NOW)).to_pylist()
    assert json.loads(rows[0]["context"]) == {"slot": "s"}


def test_parse_error_carries_its_reason():
    err = ParseError("why")
    assert err.reason == "why" and str(err) == "why"
