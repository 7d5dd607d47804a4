"""Health of the websocket recording, as asset checks the UI shows (every 5 minutes: `incoming_files_sensor`
adds them to its first ingestion run of each 5-minute window, or runs `ws_health_job` when no file came).

- `trades_fresh`: age of the newest recorded trade and of the newest incoming file;
- `ws_gap_minutes`: minutes of connection outage per hour (union over connections; resyncs and the exchange's
  planned restarts excluded, the latter reported beside it);
- `ws_sidecar_health`: the recorder's own status file (heartbeat, live connections, message age, counters);
  quiet or reconnecting sockets during a planned restart of the exchange are expected, not a problem.
"""

import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow.compute as pc

from polymarket_assets.defs.partitions import partition_parts
from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib import incoming
from polymarket_assets.lib.incoming import PLANNED_RESTART, RESYNC
from polymarket_assets.lib.recorder_state import read_json, status_path
from polymarket_assets.lib.trades.gaps import union_minutes


def _hour_key(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d-%H:00")


def newest_trade(lake: LakeResource, now: datetime, hours: int = 3) -> datetime | None:
    """Newest exchange time among the `trades` partitions of the last few hours (a bounded read)."""
    store = lake.lake()
    newest = None
    for h in range(hours + 1):
        table = store.read(
            "trades", partition_parts(_hour_key(now - timedelta(hours=h))), columns=["exchange_ts"]
        )
        if table is not None and table.num_rows:
            value = pc.max(table.column("exchange_ts")).as_py()
            newest = value if newest is None or value > newest else newest
    return newest


def newest_incoming_file_age_s(data_dir: str) -> float | None:
    """Wall seconds since the newest incoming file was named (file keys carry that wall-clock millisecond)."""
    today = datetime.now(UTC)
    keys = [
        f.key
        for f in incoming.list_incoming(data_dir, min_day=(today - timedelta(days=1)).strftime("%Y-%m-%d"))
    ]
    if not keys:
        return None
    return max(0.0, time.time() - incoming.key_ms(max(keys)) / 1000)


class TradesFreshConfig(dg.Config):
    max_trade_age_minutes: float = 15.0
    max_file_age_seconds: float = 120.0


@dg.asset_check(
    asset="trades", name="trades_fresh", description="Newest trade and newest incoming file are recent."
)
def trades_fresh(config: TradesFreshConfig, lake: LakeResource, clock: ClockResource) -> dg.AssetCheckResult:
    now = clock.clock().now()
    newest = newest_trade(lake, now)
    trade_age = (now - newest).total_seconds() / 60 if newest else None
    file_age = newest_incoming_file_age_s(lake.data_dir)
    passed = (
        trade_age is not None
        and trade_age <= config.max_trade_age_minutes
        and file_age is not None
        and file_age <= config.max_file_age_seconds
    )
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "newest_trade": newest.isoformat() if newest else None,
            "newest_trade_age_minutes": round(trade_age, 3) if trade_age is not None else None,
            "newest_file_age_s": round(file_age, 3) if file_age is not None else None,
            "max_trade_age_minutes": config.max_trade_age_minutes,
            "max_file_age_seconds": config.max_file_age_seconds,
        },
    )


class GapMinutesConfig(dg.Config):
    max_gap_minutes_per_hour: float = 5.0
    hours: int = 3


def gap_minutes_by_hour(
    lake: LakeResource,
    now: datetime,
    hours: int,
    reasons_excluded: tuple[str, ...] = (RESYNC, PLANNED_RESTART),
    only_reason: str | None = None,
) -> dict[str, float]:
    """Outage minutes (union over connections and the recorder) for each of the last hours: every reason but
    `reasons_excluded`, or only `only_reason`."""
    store = lake.lake()
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    intervals = []
    for h in range(hours + 1):  # one more hour back: a gap that started before can reach into the window
        table = store.read("ws_gaps", partition_parts(_hour_key(current - timedelta(hours=h))))
        if table is not None:
            for r in table.select(["reason", "start_ts", "end_ts"]).to_pylist():
                if (r["reason"] == only_reason) if only_reason else (r["reason"] not in reasons_excluded):
                    intervals.append((r["start_ts"].timestamp(), r["end_ts"].timestamp()))
    out = {}
    for h in range(hours):
        start = current - timedelta(hours=h)
        end = min(start + timedelta(hours=1), now)
        out[_hour_key(start)] = round(union_minutes(intervals, start.timestamp(), end.timestamp()), 3)
    return out


@dg.asset_check(
    asset="ws_gaps", name="ws_gap_minutes", description="Minutes per hour without a working websocket."
)
def ws_gap_minutes(config: GapMinutesConfig, lake: LakeResource, clock: ClockResource) -> dg.AssetCheckResult:
    now = clock.clock().now()
    by_hour = gap_minutes_by_hour(lake, now, config.hours)
    planned = gap_minutes_by_hour(lake, now, config.hours, only_reason=PLANNED_RESTART)
    worst = max(by_hour.values(), default=0.0)
    return dg.AssetCheckResult(
        passed=worst <= config.max_gap_minutes_per_hour,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "worst_hour_gap_minutes": worst,
            "max_gap_minutes_per_hour": config.max_gap_minutes_per_hour,
            "planned_restart_minutes": round(sum(planned.values()), 3),
            **{f"gap_minutes {hour}": minutes for hour, minutes in by_hour.items()},
        },
    )


class SidecarHealthConfig(dg.Config):
    max_status_age_s: float = 30.0
    max_message_age_s: float = 60.0
    max_flush_age_s: float = 60.0
    """The writer completes a flush every few seconds; longer without one means rows are only in memory."""
    max_pending_rows: int = 1_000_000
    """Rows received but not yet on disk; far above one flush's worth means the writer is failing or behind."""
    reconnect_grace_s: float = 15.0
    """A connection in an outage for less than this (recorder clock) is reconnecting, not down: a socket that goes
    quiet at the start of a planned exchange restart drops a moment before the restart watch sees HTTP 425."""


def sidecar_health(
    status: dict | None, config: SidecarHealthConfig, wall_now: float
) -> tuple[bool, list[str]]:
    """(healthy, problems) from the recorder's status file."""
    if status is None:
        return False, ["no status file: ws_sidecar has never run against this data directory"]
    problems = []
    age = wall_now - float(status.get("updated_at_wall", 0))
    if status.get("state") != "running":
        problems.append(f"recorder state is {status.get('state')!r}")
    if age > config.max_status_age_s:
        problems.append(f"status not updated for {age:.0f} s (recorder dead or hung)")
    if status.get("markets_source") != "lake":
        problems.append("no markets_current table to read markets from")
    # During the exchange's planned restart quiet, reconnecting sockets are expected (and recorded as its gap).
    if not status.get("planned_restart_open"):
        reconnecting = sum(
            1
            for c in status.get("connections") or []
            if c.get("in_outage")
            and c.get("outage_s") is not None
            and c["outage_s"] <= config.reconnect_grace_s
        )
        down = status.get("connections_total", 0) - status.get("connections_live", 0) - reconnecting
        if down > 0:
            problems.append(f"{down} connections not live")
        msg_age = status.get("oldest_connection_message_age_s")
        if status.get("connections_total", 0) and (msg_age is None or msg_age > config.max_message_age_s):
            problems.append(f"a connection has received no message for {msg_age} s")
    if status.get("restart_gap_open"):
        problems.append("still recovering from a restart")
    if (status.get("backfill") or {}).get("last_error"):
        problems.append(f"last backfill error: {status['backfill']['last_error']}")
    problems += _writer_problems(status, config)
    return not problems, problems


def _writer_problems(status: dict, config: SidecarHealthConfig) -> list[str]:
    """The writer is where received rows become files: failing flushes or a growing backlog lose data on a crash."""
    problems = []
    # Recorders that predate `writer_consecutive_errors` only report the total: any error then counts.
    failing = status.get("writer_consecutive_errors", status.get("writer_errors", 0)) or 0
    if failing:
        problems.append(
            f"the writer's last {failing} flushes failed: {status.get('writer_last_error') or 'see its log'}"
        )
    flush_age = status.get("last_flush_age_s")
    if flush_age is not None and flush_age > config.max_flush_age_s:
        problems.append(f"no flush completed for {flush_age:.0f} s")
    pending = status.get("pending_rows") or 0
    if pending > config.max_pending_rows:
        problems.append(f"{pending} rows waiting for the writer")
    return problems


@dg.asset_check(
    asset="trades", name="ws_sidecar_health", description="The websocket recorder is alive and connected."
)
def ws_sidecar_health(config: SidecarHealthConfig, lake: LakeResource) -> dg.AssetCheckResult:
    status = read_json(status_path(lake.lake().data_dir))
    healthy, problems = sidecar_health(status, config, time.time())
    status = status or {}
    backfill = status.get("backfill") or {}
    dead = not status or (time.time() - float(status.get("updated_at_wall", 0))) > config.max_status_age_s
    return dg.AssetCheckResult(
        passed=healthy,
        severity=dg.AssetCheckSeverity.ERROR if dead else dg.AssetCheckSeverity.WARN,
        metadata={
            "problems": "; ".join(problems) or "none",
            "state": status.get("state"),
            "updated_at": status.get("updated_at"),
            "connections_live": status.get("connections_live"),
            "connections_total": status.get("connections_total"),
            "subscribed_assets": status.get("subscribed_assets"),
            "subscribed_markets": status.get("subscribed_markets"),
            "msgs_per_s": status.get("msgs_per_s"),
            "last_message_age_s": status.get("last_message_age_s"),
            "gaps_last_hour": status.get("gaps_last_hour"),
            "gap_seconds_last_hour": status.get("gap_seconds_last_hour"),
            "planned_restart_open": status.get("planned_restart_open"),
            "planned_restarts_seen": status.get("planned_restarts_seen"),
            "files_written": sum((status.get("files_written") or {}).values()),
            "quarantined": status.get("quarantined"),
            "pending_rows": status.get("pending_rows"),
            "writer_errors": status.get("writer_errors"),
            "writer_consecutive_errors": status.get("writer_consecutive_errors"),
            "writer_rows_quarantined": sum((status.get("writer_rows_quarantined") or {}).values()),
            "last_flush_age_s": status.get("last_flush_age_s"),
            "book_resyncs": status.get("book_resyncs"),
            "trades_backfilled": backfill.get("trades_backfilled", 0) + backfill.get("trades_audited_in", 0),
            "audited_through": backfill.get("audited_through"),
        },
    )


def health_check_keys() -> list[dg.AssetCheckKey]:
    return [
        dg.AssetCheckKey(dg.AssetKey("trades"), "trades_fresh"),
        dg.AssetCheckKey(dg.AssetKey("ws_gaps"), "ws_gap_minutes"),
        dg.AssetCheckKey(dg.AssetKey("trades"), "ws_sidecar_health"),
    ]
