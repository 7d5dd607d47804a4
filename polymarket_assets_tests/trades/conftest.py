"""Helpers to lay down incoming files exactly as ws_sidecar does (its own Writer) and to build trade rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import pytest

from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.defs.trades.sensors import incoming_files_sensor
from ws_sidecar.writer import Writer

HOUR = int(datetime(2026, 11, 24, 10, tzinfo=UTC).timestamp())  # a past hour: its partition exists
CID = "0x" + "c1" * 32
YES, NO = "1" * 77, "2" * 77


class FixedClock:
    def __init__(self, us: int = HOUR * 10**6):
        self.us = us

    def now_us(self) -> int:
        return self.us


def ws_trade(
    uid: str, ts_ms: int, price: float = 0.5, size: float = 10.0, side: str = "BUY", asset: str = YES
) -> tuple:
    return (
        uid,
        "ws",
        asset,
        CID,
        side,
        price,
        size,
        0.0,
        ts_ms,
        ts_ms * 1000 + 150_000,
        None,
        None,
        None,
        "c00",
        "r1",
    )


def api_trade(
    uid: str, ts_s: int, price: float = 0.5, size: float = 10.0, side: str = "SELL", asset: str = NO
) -> tuple:
    return (
        uid,
        "data_api",
        asset,
        CID,
        side,
        price,
        size,
        None,
        ts_s * 1000,
        (ts_s + 40) * 10**6,
        "No",
        1,
        "0xtx",
        None,
        "r1",
    )


def book_update(
    ts_ms: int,
    seq: int = 1,
    *,
    received_us: int | None = None,
    asset: str = YES,
    condition_id: str = CID,
    price: float = 0.5,
    size: float = 1.0,
    book_hash: str | None = "h",
    best_bid: float | None = 0.5,
    best_ask: float | None = None,
    tick_size: float | None = None,
) -> tuple:
    """One incoming `book_updates` row (a price change), in `INCOMING_BOOK_UPDATES_SCHEMA`'s column order."""
    received = ts_ms * 1000 if received_us is None else received_us
    return (
        received,
        ts_ms,
        "r",
        "c00",
        seq,
        asset,
        condition_id,
        "change",
        "ws",
        "BUY",
        price,
        size,
        None,
        None,
        book_hash,
        best_bid,
        best_ask,
        tick_size,
    )


def write(data_dir, kind: str, rows: list[tuple], run_id: str = "0a1b2c3d") -> list:
    writer = Writer(data_dir, run_id, FixedClock())
    writer.add_rows(kind, rows)
    return writer.flush()


NO_HEALTH_MS = 4_102_444_800_000  # 2100: a health window already served, so no health checks are added


def evaluate(data_dir, cursor: str | None = None, instance=None) -> dg.SensorResult:
    """One tick about ingestion only: the recorder's health checks, which ride along once per 5-minute window,
    are kept out by a cursor that says this window's were already requested (test_sensor_hostile covers them)."""
    state = json.loads(cursor) if cursor else {"v": 1, "floor": "", "done": []}
    cursor = json.dumps({**state, "health": NO_HEALTH_MS}, separators=(",", ":"))
    context = dg.build_sensor_context(
        cursor=cursor, resources={"lake": LakeResource(data_dir=str(data_dir))}, instance=instance
    )
    return incoming_files_sensor(context)


def resources(data_dir) -> dict:
    return {"lake": LakeResource(data_dir=str(data_dir)), "clock": ClockResource(source="system")}


@pytest.fixture(autouse=True)
def no_ingest_batching(monkeypatch):
    """These tests hand files over as soon as they exist; batching has its own tests (test_sensor_hostile.py)."""
    monkeypatch.setenv("PM_INGEST_BATCH_S", "0")


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    path.mkdir()
    return path


def cursor_size(result: dg.SensorResult) -> int:
    return len(json.loads(result.cursor)["done"])
