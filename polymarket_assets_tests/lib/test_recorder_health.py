"""The recording's health rules: status-file verdicts, the reconnect grace, the writer, gap minutes per hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.recorder_health import RecorderLimits, gap_minutes_by_hour, recorder_problems
from polymarket_assets.lib.schemas import WS_GAPS_SCHEMA

HEALTHY = {
    "state": "running",
    "updated_at_wall": 0.0,
    "markets_source": "lake",
    "connections_total": 2,
    "connections_live": 2,
    "oldest_connection_message_age_s": 0.4,
    "restart_gap_open": False,
    "backfill": {"last_error": None},
}


def test_status_file_verdicts():
    cfg = RecorderLimits()
    assert recorder_problems(None, cfg, 100.0) != []
    assert recorder_problems({**HEALTHY, "updated_at_wall": 95.0}, cfg, 100.0) == []
    cases = {
        "status not updated": {"updated_at_wall": 10.0},
        "state is 'stopped'": {"state": "stopped"},
        "connections not live": {"connections_live": 1},
        "no message": {"oldest_connection_message_age_s": 300.0},
        "recovering from a restart": {"restart_gap_open": True},
        "markets_current": {"markets_source": "none"},
        "backfill error": {"backfill": {"last_error": "boom"}},
    }
    for needle, change in cases.items():
        problems = recorder_problems({**HEALTHY, "updated_at_wall": 95.0, **change}, cfg, 100.0)
        assert any(needle in p for p in problems), (needle, problems)


def test_a_connection_reconnecting_within_the_grace_is_not_down():
    cfg = RecorderLimits(reconnect_grace_s=15.0)
    live = {"in_outage": False, "outage_s": None}

    def verdict(outage_s):
        conns = [live, {"in_outage": True, "outage_s": outage_s}]
        return recorder_problems(
            {**HEALTHY, "updated_at_wall": 95.0, "connections_live": 1, "connections": conns}, cfg, 100.0
        )

    assert verdict(2.0) == []
    assert verdict(60.0) == ["1 connections not live"]


def test_gap_minutes_are_a_union_per_hour_without_resyncs(tmp_path):
    now = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    h = datetime(2026, 11, 24, 11, tzinfo=UTC)

    def gap(gid, start, minutes, reason="disconnect", conn="c00"):
        return {
            "gap_id": gid,
            "connection_id": conn,
            "start_ts": start,
            "end_ts": start + timedelta(minutes=minutes),
            "reason": reason,
        }

    rows = [
        gap("a", h + timedelta(minutes=50), 20),  # 10 min in 11:00, 10 in 12:00
        gap("b", h + timedelta(minutes=55), 3, conn="c01"),  # overlaps a: adds nothing
        gap("c", h + timedelta(minutes=5), 30, reason="resync"),
    ]  # not an outage
    lake = Lake(tmp_path)
    lake.replace_partition(
        "ws_gaps", pa.Table.from_pylist(rows, schema=WS_GAPS_SCHEMA), {"date": "2026-11-24", "hour": "11"}
    )
    by_hour = gap_minutes_by_hour(lake, now, 3)
    assert by_hour == {"2026-11-24-12:00": 10.0, "2026-11-24-11:00": 10.0, "2026-11-24-10:00": 0.0}


def test_writer_failures_backlog_and_stalled_flushes_fail_the_health_check():
    cfg = RecorderLimits()
    healthy = {
        **HEALTHY,
        "updated_at_wall": 95.0,
        "writer_errors": 3,
        "writer_consecutive_errors": 0,
        "pending_rows": 1_200,
        "last_flush_age_s": 4.0,
    }
    assert recorder_problems(healthy, cfg, 100.0) == [], (
        "errors that later flushes recovered from are history"
    )
    cases = {
        "last 2 flushes failed: OSError: [Errno 28]": {
            "writer_consecutive_errors": 2,
            "writer_last_error": "OSError: [Errno 28] No space left",
        },
        "5000000 rows waiting for the writer": {"pending_rows": 5_000_000},
        "no flush completed for 300 s": {"last_flush_age_s": 300.0},
    }
    for needle, change in cases.items():
        problems = recorder_problems({**healthy, **change}, cfg, 100.0)
        assert any(needle in p for p in problems), (needle, problems)
    # A recorder that only reports the total still fails while it has errors.
    legacy = {k: v for k, v in healthy.items() if k != "writer_consecutive_errors"}
    assert recorder_problems(legacy, cfg, 100.0) != []
