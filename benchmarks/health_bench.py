"""How long one `collection_health` measurement takes on a production-sized lake (`make bench`).

run() writes a synthetic lake: one discovery of N_MARKETS open markets spread over the tiers (T4 2 %, T3 3 %,
T2 10 %, T1 20 %, T0 65 %, each far enough from a tier boundary to keep its tier for the 90 minutes measured),
every scheduled (market, instant) pair captured for the last complete hour and the first half of the current
one, and the sweep log. It then times `lib/health.measure_health`, the whole computation of a
`collection_health` run, half an hour into the current hour. Writing the lake is setup and is not timed.

Target: a measurement must take well under the 5-minute schedule; `health_measure_ratio` is the time over
HEALTH_TARGET_S (60 s, a fifth of the cadence), so <= 1 is on target. The 1-minute load average is reported
beside it.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from polymarket_assets.lib.health import measure_health
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_STATE_SCHEMA, SNAPSHOT_SCHEMA, SWEEP_SCHEMA
from polymarket_assets.lib.tiers import DEFAULT_PLAN, instants_in_window

N_MARKETS = 20_000
HEALTH_TARGET_S = 60.0
HOUR = datetime(2026, 11, 24, 10, tzinfo=UTC)
NOW = HOUR + timedelta(minutes=30)
# (tier, share of the markets, hours to close at the discovery)
MIX = (("T4", 0.02, 0.5), ("T3", 0.03, 3.0), ("T2", 0.10, 10.0), ("T1", 0.20, 30.0), ("T0", 0.65, 100.0))


def _parts(hour: datetime) -> dict[str, str]:
    return {"date": hour.strftime("%Y-%m-%d"), "hour": hour.strftime("%H")}


def build_lake(data_dir: str, n_markets: int) -> int:
    """The synthetic lake described in the module docstring; returns the snapshot rows written."""
    lake = Lake(data_dir)
    observed = HOUR - timedelta(hours=1, minutes=10)
    markets: dict[str, list[str]] = {}
    states = []
    for tier, share, hours in MIX:
        ids = [f"{tier}-{i}" for i in range(max(1, int(n_markets * share)))]
        markets[tier] = ids
        end = observed + timedelta(hours=hours)
        states += [
            {
                "observed_at": observed,
                "condition_id": c,
                "yes_token_id": f"y{c}",
                "no_token_id": f"n{c}",
                "end_date": end,
            }
            for c in ids
        ]
    lake.write(
        "market_states", pa.Table.from_pylist(states, schema=MARKET_STATE_SCHEMA), _parts(observed), "d"
    )
    rows = 0
    for hour in (HOUR - timedelta(hours=1), HOUR):
        for tier, ids in markets.items():
            instants = instants_in_window(
                DEFAULT_PLAN.by_name(tier), hour, min(hour + timedelta(hours=1), NOW)
            )
            if not instants:
                continue
            n = len(ids)
            table = pa.table(
                {
                    "condition_id": pa.array([c for _ in instants for c in ids]),
                    "tier": pa.array([tier] * (n * len(instants))),
                    "slot_ts": pa.array([t for t in instants for _ in ids], pa.timestamp("us", tz="UTC")),
                }
            )
            table = table.append_column("captured_at", table.column("slot_ts"))
            full = pa.table(
                {
                    f.name: table.column(f.name)
                    if f.name in table.column_names
                    else pa.nulls(table.num_rows, f.type)
                    for f in SNAPSHOT_SCHEMA
                },
                schema=SNAPSHOT_SCHEMA,
            )
            lake.write("snapshots", full, {"tier": tier, **_parts(hour)}, "s")
            rows += full.num_rows
            sweeps = [
                {
                    "tier": tier,
                    "slot_ts": t,
                    "started_at": t,
                    "lag_s": 0.0,
                    "status": "captured",
                    "expected": n,
                    "captured": n,
                    "duration_s": 1.0,
                    "run_id": "bench",
                }
                for t in instants
            ]
            lake.write(
                "sweeps",
                pa.Table.from_pylist(sweeps, schema=SWEEP_SCHEMA),
                {"tier": tier, **_parts(hour)},
                "w",
            )
    return rows


def run(n_markets: int = N_MARKETS) -> dict:
    with tempfile.TemporaryDirectory(prefix="health_bench_") as data_dir:
        rows = build_lake(data_dir, n_markets)
        load = round(os.getloadavg()[0], 2)
        t0 = time.perf_counter()
        figures = measure_health(Lake(data_dir), NOW, None, {}, os.path.join(data_dir, "warehouse.duckdb"))
        elapsed = time.perf_counter() - t0
    coverage = [
        v
        for v in (*figures.coverage_last_hour.values(), *figures.coverage_current_hour.values())
        if v is not None
    ]
    return {
        "health_markets": n_markets,
        "health_snapshot_rows": rows,
        "health_measure_s": round(elapsed, 3),
        "health_measure_ratio": round(elapsed / HEALTH_TARGET_S, 4),
        "health_coverage_min": min(coverage) if coverage else None,
        "health_loadavg_1m": load,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
