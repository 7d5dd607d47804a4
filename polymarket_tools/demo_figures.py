"""The demo's figures, from the lake (and the simulator's ground truth for the capture ratio): ``trades``,
``whale_events``, ``ws_gap_minutes`` and ``trade_capture_ratio``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from polymarket_assets.lib.incoming import RESYNC
from polymarket_assets.lib.recorder_state import read_json, state_path
from polymarket_assets.lib.trades.gaps import union_minutes
from polymarket_tools.sim_truth import compare_with_truth


def _lake_rows(data_dir: Path, table: str, sql: str) -> list[tuple]:
    import duckdb

    directory = data_dir / "lake" / table
    if not directory.exists() or not any(directory.rglob("*.parquet")):
        return []
    glob = str(directory / "**" / "*.parquet").replace("'", "''")
    con = duckdb.connect()
    try:
        return con.execute(
            sql.replace("SRC", f"read_parquet('{glob}', hive_partitioning=true, union_by_name=true)")
        ).fetchall()
    finally:
        con.close()


def demo_figures(
    data_dir: str | os.PathLike,
    control=None,
    start: float | None = None,
    end: float | None = None,
    condition_ids: Iterable[str] | None = None,
) -> dict:
    """The demo's numbers, from the lake: trades, whale events, minutes of connection gaps, and (given the
    simulator's ``control``) the share of the exchange's trades that were recorded.

    The capture ratio covers ``condition_ids`` (default: the markets the recorder tracks, from its state file)
    over [start, end] (default: from the first recorded trade to the recorder's ``audited_through``, the point
    up to which it has reconciled every market with the Data API).
    """
    data_dir = Path(data_dir)
    trades = _lake_rows(
        data_dir, "trades", "SELECT asset_id, side, size, price, epoch_ms(exchange_ts), condition_id FROM SRC"
    )
    whales = _lake_rows(data_dir, "whale_events", "SELECT count(*) FROM SRC")
    gaps = _lake_rows(
        data_dir,
        "ws_gaps",
        f"SELECT DISTINCT gap_id, epoch_ms(start_ts), epoch_ms(end_ts) FROM SRC WHERE reason <> '{RESYNC}'",
    )
    figures = {
        "trades": len(trades),
        "whale_events": int(whales[0][0]) if whales else 0,
        "ws_gap_minutes": round(
            union_minutes(((s / 1000, e / 1000) for _, s, e in gaps), -math.inf, math.inf), 3
        ),
        "trade_capture_ratio": None,
    }
    if control is None or not trades:
        return figures
    state = read_json(state_path(data_dir)) or {}
    cids = set(condition_ids) if condition_ids is not None else set(state.get("tracked") or [])
    if start is None:
        start = min(t[4] for t in trades) / 1000
    if end is None:
        end = state.get("audited_through") or control.now()
    stats = compare_with_truth(trades, control, cids, start, end)
    figures["trade_capture_ratio"] = (
        round(stats["capture_ratio"], 6) if stats["capture_ratio"] is not None else None
    )
    figures["capture"] = stats
    return figures
