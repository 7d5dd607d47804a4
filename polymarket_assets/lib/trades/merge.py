"""The idempotent, de-duplicating merges of ingested incoming rows into the lake's tables (same file twice →
same rows): ``merge_trades`` (which also widens the incoming trades to the lake's layout: outcome, notional and
fee), ``merge_gaps`` and ``merge_market_events``.
"""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa

from polymarket_assets.lib.fees import FEE_FIELDS, schedule_from_columns, taker_fee
from polymarket_assets.lib.schemas import MARKET_EVENTS_SCHEMA, TRADES_SCHEMA, WS_GAPS_SCHEMA

_MARKET_COLUMNS = ["condition_id", "yes_token_id", "no_token_id", "yes_outcome", "no_outcome"]
_MARKETS_SCHEMA = pa.schema(
    [(c, pa.string()) for c in _MARKET_COLUMNS] + [("yes_index", pa.int64()), ("no_index", pa.int64())]
)


def _listed_index(outcomes_json: str | None, name: str | None) -> int | None:
    """Where outcome ``name`` sits in the market's listed ``outcomes`` (a market may list ["No", "Yes"]);
    None when the listing is not known (tables written before ``outcomes`` was stored)."""
    if not outcomes_json or name is None:
        return None
    try:
        listed = json.loads(outcomes_json)
    except ValueError:
        return None
    return listed.index(name) if isinstance(listed, list) and name in listed else None


def _markets_table(markets: pa.Table | None) -> pa.Table:
    """Token → outcome name and listed index, per market, for trades that carry neither (websocket rows)."""
    if markets is None:
        return _MARKETS_SCHEMA.empty_table()
    rows = markets.select(_MARKET_COLUMNS).to_pylist()
    outcomes = (
        markets.column("outcomes").to_pylist() if "outcomes" in markets.column_names else [None] * len(rows)
    )
    for row, listed in zip(rows, outcomes, strict=True):
        row["yes_index"] = _listed_index(listed, row["yes_outcome"])
        row["no_index"] = _listed_index(listed, row["no_outcome"])
    return pa.Table.from_pylist(rows, schema=_MARKETS_SCHEMA)


def _fee_usd(table: pa.Table, markets: pa.Table | None) -> pa.Array:
    """Each row's kept ``fee_usd``, else the taker fee under its market's current schedule (NULL if unknown)."""
    fee_names = [f.name for f in FEE_FIELDS]
    schedules: dict[str, dict] = {}
    if markets is not None and set(fee_names) <= set(markets.column_names):
        for row in markets.select(["condition_id", *fee_names]).to_pylist():
            if row["fees_enabled"] is not None:
                schedules[row["condition_id"]] = row
    kept = table.column("fee_usd").to_pylist()
    out = []
    for fee, cid, size, price in zip(
        kept,
        table.column("condition_id").to_pylist(),
        table.column("size").to_pylist(),
        table.column("price").to_pylist(),
    ):
        market = schedules.get(cid)
        if fee is None and market is not None:
            fee = taker_fee(size, price, schedule_from_columns(market), market["fees_enabled"])
        out.append(fee)
    return pa.array(out, pa.float64())


def merge_trades(
    existing: pa.Table | None, incoming: pa.Table, markets: pa.Table | None, ingested_at_us: int
) -> tuple[pa.Table, dict]:
    """Existing partition rows ∪ incoming rows, one row per ``trade_uid`` (the earliest received), enriched.

    ``outcome`` comes from the row (Data API) or from ``markets_current`` by token (WS rows carry none);
    ``notional_usd = size × price``; ``fee_usd`` is the taker fee under the market's schedule in
    ``markets_current`` when the row was first ingested, and is kept as it was on later merges. Returns the
    table in ``TRADES_SCHEMA`` and counts for metadata.
    """
    con = duckdb.connect()
    try:
        con.register("incoming_raw", incoming)
        con.register("markets", _markets_table(markets))
        old = existing if existing is not None else TRADES_SCHEMA.empty_table()
        if "fee_usd" not in old.column_names:  # a partition written before trades had fees
            old = old.append_column("fee_usd", pa.nulls(old.num_rows, pa.float64()))
        con.register("old_rows", old.select(TRADES_SCHEMA.names))
        table = con.sql(
            f"""
            WITH new_rows AS (
                SELECT trade_uid, source, asset_id, condition_id, outcome, outcome_index, side, price, size,
                       size * price AS notional_usd, fee_rate_bps, exchange_ts, received_at, transaction_hash,
                       connection_id, run_id, incoming_file, make_timestamp({int(ingested_at_us)}) AS ingested_at,
                       CAST(NULL AS DOUBLE) AS fee_usd
                FROM incoming_raw
            ),
            all_rows AS (
                SELECT *, 0 AS pref FROM old_rows UNION ALL BY NAME SELECT *, 1 AS pref FROM new_rows
            ),
            unique_rows AS (
                SELECT * FROM all_rows
                QUALIFY row_number() OVER (PARTITION BY trade_uid ORDER BY pref, received_at, incoming_file) = 1
            )
            SELECT u.trade_uid, u.source, u.asset_id, u.condition_id,
                   COALESCE(u.outcome, CASE WHEN u.asset_id = m.yes_token_id THEN m.yes_outcome
                                            WHEN u.asset_id = m.no_token_id THEN m.no_outcome END) AS outcome,
                   COALESCE(u.outcome_index, CASE WHEN u.asset_id = m.yes_token_id THEN m.yes_index
                                                  WHEN u.asset_id = m.no_token_id THEN m.no_index END) AS outcome_index,
                   u.side, u.price, u.size, u.size * u.price AS notional_usd, u.fee_rate_bps, u.exchange_ts,
                   u.received_at, u.transaction_hash, u.connection_id, u.run_id, u.incoming_file, u.ingested_at,
                   u.fee_usd
            FROM unique_rows u LEFT JOIN (SELECT DISTINCT * FROM markets) m ON m.condition_id = u.condition_id
            ORDER BY u.exchange_ts, u.trade_uid
            """
        ).to_arrow_table()
    finally:
        con.close()
    table = table.set_column(table.schema.get_field_index("fee_usd"), "fee_usd", _fee_usd(table, markets))
    table = table.cast(TRADES_SCHEMA)
    before = 0 if existing is None else existing.num_rows
    counts = {
        "rows": table.num_rows,
        "incoming_rows": incoming.num_rows,
        "new_rows": table.num_rows - before,
        "duplicates_dropped": before + incoming.num_rows - table.num_rows,
    }
    return table, counts


def _merge_unique(
    existing: pa.Table | None, incoming: pa.Table, schema: pa.Schema, key: str, time_column: str
) -> pa.Table:
    """Existing ∪ incoming rows, the first row of each ``key`` kept, ordered by ``time_column`` then ``key``."""
    tables = [t.select(schema.names).cast(schema) for t in (existing, incoming) if t is not None]
    merged = pa.concat_tables(tables) if tables else schema.empty_table()
    seen, keep = set(), []
    for i, value in enumerate(merged.column(key).to_pylist()):
        if value not in seen:
            seen.add(value)
            keep.append(i)
    return merged.take(pa.array(keep, pa.int64())).sort_by([(time_column, "ascending"), (key, "ascending")])


def merge_gaps(existing: pa.Table | None, incoming: pa.Table) -> pa.Table:
    return _merge_unique(existing, incoming, WS_GAPS_SCHEMA, "gap_id", "start_ts")


def merge_market_events(existing: pa.Table | None, incoming: pa.Table) -> pa.Table:
    """One row per event (``event_key``): every socket with custom events enabled, and every restart, repeats it."""
    return _merge_unique(existing, incoming, MARKET_EVENTS_SCHEMA, "event_key", "exchange_ts")
