"""Settings of the recorder, read once from the environment at start-up (DESIGN.md configuration contract).

Required: ``PM_WS_URL``, ``PM_CLOB_URL``, ``PM_DATA_API_URL`` (defaults: the real Polymarket endpoints) and
``PM_DATA_DIR`` (default ``./data``). ``PM_CLOCK=sim`` with ``PM_SIM_CONTROL_URL`` makes every time the
recorder stamps (receive times, gap bounds, tiers) come from the simulator's clock. Every ``WS_*`` variable is
optional; the table in ws_sidecar/README.md lists them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from polymarket_assets.lib import recorder_state
from polymarket_assets.lib.tiers import DEFAULT_PLAN

DEFAULT_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
DEFAULT_CLOB_URL = "https://clob.polymarket.com"
DEFAULT_DATA_API_URL = "https://data-api.polymarket.com"


@dataclass(frozen=True)
class SidecarConfig:
    ws_url: str = DEFAULT_WS_URL
    clob_url: str = DEFAULT_CLOB_URL
    data_api_url: str = DEFAULT_DATA_API_URL
    data_dir: Path = Path("data")
    clock: str = "system"  # "system" or "sim"
    sim_control_url: str = ""

    # Which markets.
    always_tiers: tuple[str, ...] = DEFAULT_PLAN.ws_always_tiers  # the plan's `ws_always` tiers
    max_connections: int = 10  # budget for markets outside always_tiers (always_tiers may exceed it)
    assets_per_connection: int = 200
    fill_budget: bool = True  # subscribe other tiers up to the connection budget
    refresh_s: float = 60.0  # re-read markets_current this often (wall seconds)

    # Connections.
    ping_interval_s: float = 10.0
    data_timeout_s: float = 10.0  # watchdog: no data frame for this long -> reconnect (PONGs do not count)
    connect_timeout_s: float = 10.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    hash_check_interval_s: float = 60.0  # compare a sample of local books with REST this often (wall)
    hash_check_sample: int = 20
    exchange_probe_interval_s: float = (
        15.0  # GET /book on one tracked token this often: an HTTP 425 = planned restart
    )
    resync_batch_s: float = 0.5  # resync requests are batched this long

    # Files.
    flush_interval_s: float = 10.0
    flush_max_rows: int = 200_000
    # While writes fail (a full disk), rows wait in memory up to this many; beyond it the buffered data rows
    # are dropped and recorded as a `write_failed` gap (whose trades the Data API backfill refetches).
    max_buffered_rows: int = 1_000_000
    status_interval_s: float = 2.0

    # Zero loss (times on the recorder's clock).
    # A trade older than this (wall seconds; scaled by an accelerated clock) that the WS did not deliver is
    # treated as lost and fetched from the Data API.
    settle_s: float = 30.0
    audit_interval_s: float = 300.0  # reconcile every tracked market with the Data API this often
    audit_overlap_s: float = 600.0  # each audit re-checks this much of the previous window
    match_tolerance_s: float = 5.0  # WS (ms) and Data API (s) timestamps of one trade may differ this much
    backfill_chunk: int = 20  # condition ids per Data API request

    # Test hooks (0 = off).
    debug_write_delay_s: float = 0.0

    @property
    def sidecar_dir(self) -> Path:
        return recorder_state.sidecar_dir(self.data_dir)

    @property
    def status_path(self) -> Path:
        return recorder_state.status_path(self.data_dir)

    @property
    def state_path(self) -> Path:
        return recorder_state.state_path(self.data_dir)


_ENV = {
    "ws_url": "PM_WS_URL",
    "clob_url": "PM_CLOB_URL",
    "data_api_url": "PM_DATA_API_URL",
    "data_dir": "PM_DATA_DIR",
    "clock": "PM_CLOCK",
    "sim_control_url": "PM_SIM_CONTROL_URL",
}


def _convert(value: str, default):
    if isinstance(default, bool):
        if value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if value.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean, got {value!r}")
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, Path):
        return Path(value)
    if isinstance(default, tuple):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def env_name(field_name: str) -> str:
    return _ENV.get(field_name, "WS_" + field_name.upper())


def load_config(environ: dict[str, str] | None = None) -> SidecarConfig:
    env = os.environ if environ is None else environ
    values = {}
    defaults = SidecarConfig()
    for f in fields(SidecarConfig):
        raw = env.get(env_name(f.name))
        if raw is None or raw == "":
            continue
        try:
            values[f.name] = _convert(raw, getattr(defaults, f.name))
        except ValueError as exc:
            raise ValueError(f"{env_name(f.name)}: {exc}") from None
    config = SidecarConfig(**values)
    if config.clock not in ("system", "sim"):
        raise ValueError(f"PM_CLOCK must be 'system' or 'sim', not {config.clock!r}")
    if config.clock == "sim" and not config.sim_control_url:
        raise ValueError("PM_CLOCK=sim needs PM_SIM_CONTROL_URL")
    if not 2 <= config.assets_per_connection <= 500:
        raise ValueError("WS_ASSETS_PER_CONNECTION must be between 2 and 500 (real sockets stop past ~500)")
    if config.data_timeout_s <= 0 or config.flush_interval_s <= 0:
        raise ValueError("WS_DATA_TIMEOUT_S and WS_FLUSH_INTERVAL_S must be > 0")
    return config


def describe() -> list[tuple[str, str]]:
    """(variable, default) for every setting: the README table is checked against this."""
    defaults = SidecarConfig()
    out = []
    for f in fields(SidecarConfig):
        value = getattr(defaults, f.name)
        if isinstance(value, tuple):
            value = ",".join(value)
        out.append((env_name(f.name), str(value)))
    return out


__all__ = ["SidecarConfig", "describe", "env_name", "load_config"]
