"""The recorder's start-up reads only what it needs: temporaries of the recent days, and the trades of the audit
window from incoming/ and (once ingestion removed them from incoming/) from the lake."""

from __future__ import annotations

import time

import pyarrow as pa

from polymarket_assets.lib.incoming import INCOMING_TRADES_SCHEMA, hour_of_epoch_s, incoming_root
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import TRADES_SCHEMA
from ws_sidecar import files
from ws_sidecar.config import SidecarConfig
from ws_sidecar.recorder import Recorder
from ws_sidecar.writer import Writer

CID = "0x" + "f1" * 32


class FixedClock:
    def __init__(self, us: int):
        self.us = us

    def now_us(self) -> int:
        return self.us


def row(uid: str, ts_ms: int) -> tuple:
    return (
        uid,
        "ws",
        "1" * 77,
        CID,
        "BUY",
        0.5,
        10.0,
        0.0,
        ts_ms,
        ts_ms * 1000,
        None,
        None,
        None,
        "c00",
        "r1",
    )


def test_temporaries_are_removed_from_the_recent_days_only(tmp_path):
    day = incoming_root(tmp_path) / "trades"
    recent, old = day / "day=2026-12-05", day / "day=2025-01-01"
    for d in (recent, old):
        d.mkdir(parents=True)
        (d / ".tmp-abc-x.parquet").write_bytes(b"partial")
    assert files.remove_temporaries(tmp_path, min_day="2026-12-04") == 1
    assert not (recent / ".tmp-abc-x.parquet").exists() and (old / ".tmp-abc-x.parquet").exists()
    assert files.remove_temporaries(tmp_path) == 1  # no bound (no previous state): every day


def test_the_trade_index_reads_incoming_and_the_lake_once_per_trade(tmp_path):
    now_ms = time.time_ns() // 1_000_000
    writer = Writer(tmp_path, "0a1b2c3d", FixedClock(now_ms * 1000))
    writer.add_rows("trades", [row("in-incoming", now_ms - 1000), row("both", now_ms - 900)])
    writer.flush()
    lake_rows = [
        dict(zip(INCOMING_TRADES_SCHEMA.names, r))
        for r in (row("in-lake", now_ms - 800), row("both", now_ms - 900))
    ]
    table = pa.Table.from_pylist(
        [{**r, "notional_usd": 5.0, "incoming_file": "x", "ingested_at": now_ms * 1000} for r in lake_rows],
        schema=TRADES_SCHEMA,
    )
    hour = hour_of_epoch_s((now_ms - 800) / 1000)
    Lake(tmp_path).write(
        "trades", table, {"date": f"{hour[:4]}-{hour[4:6]}-{hour[6:8]}", "hour": hour[9:]}, "part-a"
    )
    old = pa.Table.from_pylist(
        [
            {
                **lake_rows[0],
                "trade_uid": "too-old",
                "notional_usd": 5.0,
                "incoming_file": "x",
                "ingested_at": 0,
            }
        ],
        schema=TRADES_SCHEMA,
    )
    Lake(tmp_path).write("trades", old, {"date": "2026-11-01", "hour": "00"}, "part-a")
    recorder = Recorder(SidecarConfig(data_dir=tmp_path))
    recorder._load_index(now_ms / 1000 - 600)
    recorded = recorder.index.window([CID], now_ms - 3_600_000, now_ms)[CID]
    assert sorted(r.uid for r in recorded) == ["both", "in-incoming", "in-lake"]
