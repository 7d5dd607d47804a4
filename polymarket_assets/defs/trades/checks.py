"""Health of the websocket recording, as asset checks the UI shows (every 5 minutes: `incoming_files_sensor`
adds them to its first ingestion run of each 5-minute window, or runs `ws_health_job` when no file came).

- `trades_fresh`: age of the newest recorded trade and of the newest incoming file;
- `ws_gap_minutes`: minutes of connection outage per hour (union over connections; resyncs and the exchange's
  planned restarts excluded, the latter reported beside it);
- `ws_sidecar_health`: the recorder's own status file (heartbeat, live connections, message age, counters);
  quiet or reconnecting sockets during a planned restart of the exchange are expected, not a problem.
"""

import time
from dataclasses import asdict

import dagster as dg

from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib.incoming import PLANNED_RESTART
from polymarket_assets.lib.recorder_health import (
    RecorderLimits,
    gap_minutes_by_hour,
    newest_incoming_file_age_s,
    newest_trade,
    recorder_problems,
    status_age_s,
)
from polymarket_assets.lib.recorder_state import read_json, status_path

_LIMITS = RecorderLimits()


class TradesFreshConfig(dg.Config):
    max_trade_age_minutes: float = 15.0
    max_file_age_seconds: float = 120.0


@dg.asset_check(
    asset="trades", name="trades_fresh", description="Newest trade and newest incoming file are recent."
)
def trades_fresh(config: TradesFreshConfig, lake: LakeResource, clock: ClockResource) -> dg.AssetCheckResult:
    now = clock.clock().now()
    newest = newest_trade(lake.lake(), now)
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


@dg.asset_check(
    asset="ws_gaps", name="ws_gap_minutes", description="Minutes per hour without a working websocket."
)
def ws_gap_minutes(config: GapMinutesConfig, lake: LakeResource, clock: ClockResource) -> dg.AssetCheckResult:
    now = clock.clock().now()
    by_hour = gap_minutes_by_hour(lake.lake(), now, config.hours)
    planned = gap_minutes_by_hour(lake.lake(), now, config.hours, only_reason=PLANNED_RESTART)
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
    """The limits of `lib/recorder_health.RecorderLimits` (what each one means is documented there)."""

    max_status_age_s: float = _LIMITS.max_status_age_s
    max_message_age_s: float = _LIMITS.max_message_age_s
    max_flush_age_s: float = _LIMITS.max_flush_age_s
    max_pending_rows: int = _LIMITS.max_pending_rows
    reconnect_grace_s: float = _LIMITS.reconnect_grace_s

    def limits(self) -> RecorderLimits:
        return RecorderLimits(**{name: getattr(self, name) for name in asdict(_LIMITS)})


@dg.asset_check(
    asset="trades", name="ws_sidecar_health", description="The websocket recorder is alive and connected."
)
def ws_sidecar_health(config: SidecarHealthConfig, lake: LakeResource) -> dg.AssetCheckResult:
    status, wall_now = read_json(status_path(lake.lake().data_dir)), time.time()
    problems = recorder_problems(status, config.limits(), wall_now)
    age = status_age_s(status, wall_now)
    dead = age is None or age > config.max_status_age_s
    status = status or {}
    backfill = status.get("backfill") or {}
    return dg.AssetCheckResult(
        passed=not problems,
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
