"""How healthy the websocket recording is: the rules behind the `trades_fresh`, `ws_gap_minutes` and
`ws_sidecar_health` checks (`defs/trades/checks.py`) and the recorder's figures in `collection_health`.

- `newest_trade`, `newest_incoming_file_age_s`: how recent the newest recorded trade and incoming file are;
- `gap_minutes_by_hour`: minutes of connection outage per hour, the union over connections;
- `recorder_problems`: what is wrong according to the recorder's own status file (`recorder_state.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow.compute as pc

from polymarket_assets.lib import incoming, tables
from polymarket_assets.lib.incoming import PLANNED_RESTART, RESYNC
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.trades.gaps import union_minutes


def hour_key(ts: datetime) -> str:
    """The hourly partition key (`YYYY-MM-DD-HH:00`) of the hour holding `ts`."""
    return ts.astimezone(UTC).strftime("%Y-%m-%d-%H:00")


def newest_trade(store: Lake, now: datetime, hours: int = 3) -> datetime | None:
    """Newest exchange time among the `trades` partitions of the last few hours (a bounded read)."""
    newest = None
    for h in range(hours + 1):
        parts = tables.TRADES.parts(now.astimezone(UTC) - timedelta(hours=h))
        table = store.read(tables.TRADES.name, parts, columns=["exchange_ts"])
        if table is not None and table.num_rows:
            value = pc.max(table.column("exchange_ts")).as_py()
            newest = value if newest is None or value > newest else newest
    return newest


def newest_incoming_file_age_s(data_dir: str, wall_now: float | None = None) -> float | None:
    """Wall seconds since the newest incoming file was named (file keys carry that wall-clock millisecond)."""
    wall_now = time.time() if wall_now is None else wall_now
    yesterday = datetime.fromtimestamp(wall_now, UTC) - timedelta(days=1)
    keys = [f.key for f in incoming.list_incoming(data_dir, min_day=yesterday.strftime("%Y-%m-%d"))]
    if not keys:
        return None
    return max(0.0, wall_now - incoming.key_ms(max(keys)) / 1000)


def gap_minutes_by_hour(
    store: Lake,
    now: datetime,
    hours: int,
    reasons_excluded: tuple[str, ...] = (RESYNC, PLANNED_RESTART),
    only_reason: str | None = None,
) -> dict[str, float]:
    """Outage minutes (union over connections and the recorder) for each of the last `hours` hours, by hourly
    partition key: every reason but `reasons_excluded`, or only `only_reason`."""
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    intervals = []
    for h in range(hours + 1):  # one more hour back: a gap that started before can reach into the window
        table = store.read(tables.WS_GAPS.name, tables.WS_GAPS.parts(current - timedelta(hours=h)))
        if table is not None:
            for r in table.select(["reason", "start_ts", "end_ts"]).to_pylist():
                if (r["reason"] == only_reason) if only_reason else (r["reason"] not in reasons_excluded):
                    intervals.append((r["start_ts"].timestamp(), r["end_ts"].timestamp()))
    out = {}
    for h in range(hours):
        start = current - timedelta(hours=h)
        end = min(start + timedelta(hours=1), now)
        out[hour_key(start)] = round(union_minutes(intervals, start.timestamp(), end.timestamp()), 3)
    return out


@dataclass(frozen=True)
class RecorderLimits:
    """What the recorder's status file may show before the recording counts as unhealthy."""

    max_status_age_s: float = 30.0
    """Wall seconds since the status file was rewritten (every couple of seconds): longer means dead or hung."""
    max_message_age_s: float = 60.0
    """Seconds a connection may go without a message."""
    max_flush_age_s: float = 60.0
    """The writer completes a flush every few seconds; longer without one means rows are only in memory."""
    max_pending_rows: int = 1_000_000
    """Rows received but not yet on disk; far above one flush's worth means the writer is failing or behind."""
    reconnect_grace_s: float = 15.0
    """A connection in an outage for less than this (recorder clock) is reconnecting, not down: a socket that goes
    quiet at the start of a planned exchange restart drops a moment before the restart watch sees HTTP 425."""


def status_age_s(status: dict | None, wall_now: float) -> float | None:
    """Wall seconds since the recorder last rewrote its status file; None when it never wrote one."""
    return None if status is None else wall_now - float(status.get("updated_at_wall", 0))


def recorder_problems(status: dict | None, limits: RecorderLimits, wall_now: float) -> list[str]:
    """What is wrong with the recording according to the recorder's status file; empty when it is healthy."""
    if status is None:
        return ["no status file: ws_sidecar has never run against this data directory"]
    problems = []
    age = status_age_s(status, wall_now)
    if status.get("state") != "running":
        problems.append(f"recorder state is {status.get('state')!r}")
    if age > limits.max_status_age_s:
        problems.append(f"status not updated for {age:.0f} s (recorder dead or hung)")
    if status.get("markets_source") != "lake":
        problems.append("no markets_current table to read markets from")
    # During the exchange's planned restart quiet, reconnecting sockets are expected (and recorded as its gap).
    if not status.get("planned_restart_open"):
        problems += _connection_problems(status, limits)
    if status.get("restart_gap_open"):
        problems.append("still recovering from a restart")
    if (status.get("backfill") or {}).get("last_error"):
        problems.append(f"last backfill error: {status['backfill']['last_error']}")
    return problems + _writer_problems(status, limits)


def _connection_problems(status: dict, limits: RecorderLimits) -> list[str]:
    problems = []
    reconnecting = sum(
        1
        for c in status.get("connections") or []
        if c.get("in_outage") and c.get("outage_s") is not None and c["outage_s"] <= limits.reconnect_grace_s
    )
    down = status.get("connections_total", 0) - status.get("connections_live", 0) - reconnecting
    if down > 0:
        problems.append(f"{down} connections not live")
    msg_age = status.get("oldest_connection_message_age_s")
    if status.get("connections_total", 0) and (msg_age is None or msg_age > limits.max_message_age_s):
        problems.append(f"a connection has received no message for {msg_age} s")
    return problems


def _writer_problems(status: dict, limits: RecorderLimits) -> list[str]:
    """The writer is where received rows become files: failing flushes or a growing backlog lose data on a crash."""
    problems = []
    # Recorders that predate `writer_consecutive_errors` only report the total: any error then counts.
    failing = status.get("writer_consecutive_errors", status.get("writer_errors", 0)) or 0
    if failing:
        problems.append(
            f"the writer's last {failing} flushes failed: {status.get('writer_last_error') or 'see its log'}"
        )
    flush_age = status.get("last_flush_age_s")
    if flush_age is not None and flush_age > limits.max_flush_age_s:
        problems.append(f"no flush completed for {flush_age:.0f} s")
    pending = status.get("pending_rows") or 0
    if pending > limits.max_pending_rows:
        problems.append(f"{pending} rows waiting for the writer")
    return problems
