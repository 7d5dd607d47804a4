"""The warehouse holds views only, typed even before any data exists, and is swapped in atomically."""

from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.tables import views
from polymarket_assets.lib.warehouse import build_warehouse, connect_read_only

REQUIRED = {
    "markets": {
        "condition_id",
        "question",
        "slug",
        "yes_token_id",
        "no_token_id",
        "end_date",
        "active",
        "closed",
        "neg_risk",
        "volume_24h",
        "liquidity",
        "tier",
    },
    "snapshots": {
        "condition_id",
        "tier",
        "slot_ts",
        "captured_at",
        "best_bid",
        "best_ask",
        "mid",
        "spread",
        "last_trade_price",
        "bid_depth",
        "ask_depth",
        "imbalance",
        "source",
    },
    "orderbooks": {"condition_id", "token_id", "captured_at", "bids", "asks", "hash"},
    "resolutions": {"condition_id", "outcome", "resolved_at", "source"},
    "coverage": {"tier", "hour", "expected", "captured"},
    "tier_transitions": {"condition_id", "old_tier", "new_tier", "transition_at", "hours_to_close"},
}


def _columns(con, view):
    return {row[0]: row[1] for row in con.execute(f'DESCRIBE "{view}"').fetchall()}


def test_empty_lake_gives_every_contract_view_with_its_columns(tmp_path):
    counts = build_warehouse(tmp_path, views())
    assert all(v == 0 for v in counts.values())
    con = connect_read_only(tmp_path)
    for view, required in REQUIRED.items():
        columns = _columns(con, view)
        assert required <= set(columns), (view, required - set(columns))
    assert _columns(con, "snapshots")["slot_ts"] == "TIMESTAMP WITH TIME ZONE"
    tables = con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0]
    assert tables == 0, "the warehouse must hold views only"


def test_views_read_the_lake_and_resolutions_keep_final_labels(tmp_path):
    from polymarket_assets.lib.schemas import RESOLUTION_SCHEMA

    lake = Lake(tmp_path)
    t = lambda h: datetime(2026, 11, 25, h, tzinfo=UTC)
    base = {name: None for name in RESOLUTION_SCHEMA.names}
    rows_07 = [{**base, "condition_id": "0xa", "outcome": "YES", "checked_at": t(7), "resolved_at": t(7)}]
    rows_08 = [
        {**base, "condition_id": "0xa", "outcome": "UNKNOWN", "checked_at": t(8)},
        {**base, "condition_id": "0xb", "outcome": "UNKNOWN", "checked_at": t(8)},
    ]
    lake.write(
        "resolutions",
        pa.Table.from_pylist(rows_07, schema=RESOLUTION_SCHEMA),
        {"date": "2026-11-25", "hour": "07"},
        "a",
    )
    lake.write(
        "resolutions",
        pa.Table.from_pylist(rows_08, schema=RESOLUTION_SCHEMA),
        {"date": "2026-11-25", "hour": "08"},
        "a",
    )
    build_warehouse(tmp_path, views())
    con = connect_read_only(tmp_path)
    got = dict(con.execute("SELECT condition_id, outcome FROM resolutions ORDER BY 1").fetchall())
    assert got == {"0xa": "YES", "0xb": "UNKNOWN"}


def test_rebuild_while_a_reader_is_open(tmp_path):
    build_warehouse(tmp_path, views())
    reader = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    build_warehouse(tmp_path, views())  # must not fail on the reader's open file
    assert reader.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0
    reader.close()
