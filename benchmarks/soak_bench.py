"""The operation soak at length: `make dev-sim` left alone for SOAK_BENCH_SECONDS (two hours by default) at the
simulator's default wall-clock speed, then measured from outside (polymarket_assets_tests/operation/soak.py,
the same inspection as the soak test).

soak_coverage_min_tier     captured / expected (market, instant) pairs of the worst tier, from the sweep log
                           (target >= 0.995 on a quiet machine: the load average is reported beside it);
soak_warehouse_age_max_s   the longest the warehouse went without a rebuild: start-up to the first build,
                           between builds, and the last build to the end (target <= 900 s);
soak_first_snapshot_s      start-up of dev.sh to the first snapshot file in the lake (target <= 120 s);
soak_false_red_checks      asset checks whose latest result is a failure of ERROR severity. The simulated
                           session is healthy by construction (light faults only), so every red is false
                           (target 0).
Each target figure also comes as a ratio (`*_target_ratio`, value / target), and the run carries its load
average. `SOAK_BENCH_SECONDS=300 python -m benchmarks.run_all --only soak` is a short run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from polymarket_assets_tests.operation.soak import SoakReport, run_soak

SECONDS = float(os.environ.get("SOAK_BENCH_SECONDS", "7200"))
MARKETS = int(os.environ.get("SOAK_BENCH_MARKETS", "40"))
TARGETS = {
    "soak_coverage_min_tier": 0.995,
    "soak_warehouse_age_max_s": 900.0,
    "soak_first_snapshot_s": 120.0,
}


def soak_metrics(report: SoakReport) -> dict:
    figures = {
        "soak_coverage_min_tier": round(report.coverage_min_tier, 6)
        if report.coverage_min_tier is not None
        else None,
        "soak_warehouse_age_max_s": round(report.warehouse_age_max_s, 1),
        "soak_first_snapshot_s": round(report.first_snapshot_s, 1)
        if report.first_snapshot_s is not None
        else None,
    }
    out: dict = {"soak_seconds": round(report.seconds, 1), **figures}
    for name, value in figures.items():
        out[f"{name}_target_ratio"] = round(value / TARGETS[name], 4) if value is not None else None
    out.update(
        {
            "soak_false_red_checks": len(report.red_checks),
            "soak_checks_not_green": sum(1 for c in report.checks if c.status == "FAILED"),
            "soak_failed_runs": len(report.failed_runs),
            # Partitions the UI shows as missing, worst snapshot asset (the soak's own hours plus two ahead are honest).
            "soak_missing_partitions_max": max(report.missing_partitions.values(), default=None),
            "soak_runs": sum(report.runs_by_status.values()),
            "soak_trades_truth": report.trades.get("truth"),
            "soak_trades_missing": report.trades.get("missing"),
            "soak_trades_extra": (report.trades.get("duplicates") or 0)
            + (report.trades.get("unexplained") or 0),
            "soak_load_avg_1m": round(report.load_average[0], 2),
            "soak_load_avg_15m": round(report.load_average[2], 2),
            **{
                f"soak_coverage_{tier.lower()}": round(c, 6)
                for tier, c in sorted(report.coverage_by_tier.items())
            },
        }
    )
    return out


def run(seconds: float = SECONDS, markets: int = MARKETS) -> dict:
    with tempfile.TemporaryDirectory(prefix="soak_bench_") as tmp:
        return soak_metrics(run_soak(Path(tmp), seconds, markets=markets))
