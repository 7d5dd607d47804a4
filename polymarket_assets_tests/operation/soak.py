"""The operation soak: the stack started exactly as `make dev-sim` starts it (scripts/dev.sh: simulator with
light faults at wall-clock speed, dagster-daemon, webserver, ws_sidecar), left alone, then inspected from
outside — the lake, the Dagster instance, the warehouse file, the simulator's ground truth and the UI as
headless Chromium renders it. Used by `test_soak.py` (minutes) and `benchmarks/soak_bench.py` (hours).

The simulator runs at wall-clock speed on purpose: the daemon ticks schedules on the wall clock, so an
accelerated simulator would put every scheduled instant in the simulated past.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from polymarket_assets.definitions import defs as load_defs
from polymarket_assets.defs.trades.sensors import SENSOR_INTERVAL_S
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.recorder_state import read_json
from polymarket_assets.lib.trades.plan import DEFAULT_BATCH_S
from polymarket_assets_tests.deploy.dev_stack import DevStack, running_dev_stack
from polymarket_assets_tests.deploy.topology import CHROMIUM_FLAGS
from polymarket_sim.runner import SimControl
from polymarket_tools.sim_truth import compare_with_truth
from ws_sidecar.config import load_config

# The UI keeps live queries open: capture after 90 s (ms) even if the page never goes idle.
SOAK_CHROMIUM_FLAGS = [*CHROMIUM_FLAGS, "--timeout=90000"]
# The UI's pages captured at the end: the global asset graph and the partitions of the fastest tier.
PAGES = {"asset_graph": "/asset-groups", "snapshots_partitions": "/assets/snapshots_t4?view=partitions"}
# What the partitions page counts, per snapshot asset: "missing" is partitions - the other three.
PARTITION_STATS_QUERY = """
query PartitionStats($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode { partitionStats { numPartitions numMaterialized numMaterializing numFailed } }
  }
}
"""
# Trades arrive in the lake through 10 s recorder files that wait for their 5-minute batching window to close,
# then the sensor's next tick and an ingestion run: the last file of the soak may wait a whole window.
INGEST_SETTLE_S = DEFAULT_BATCH_S + SENSOR_INTERVAL_S + 120
TERMINAL_RUN_STATUSES = {
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
}


@dataclass
class CheckState:
    key: str
    status: str  # SUCCEEDED, FAILED, PLANNED (never finished) or NOT_RUN
    severity: str | None = None
    description: str | None = None

    @property
    def red(self) -> bool:
        return self.status == "FAILED" and self.severity == "ERROR"

    @property
    def green(self) -> bool:
        return self.status == "SUCCEEDED"


@dataclass
class SoakReport:
    launched: float
    ended: float
    first_snapshot_s: float | None
    discovery_runs: list[dict]
    markets_discovered: int
    coverage_by_tier: dict[str, float]
    expected_by_tier: dict[str, int]
    warehouse_path: Path
    warehouse_views: int
    warehouse_builds: list[float]
    checks: list[CheckState]
    runs_by_status: dict[str, int]
    failed_runs: list[str]
    trades: dict
    missing_partitions: dict[str, int] = field(default_factory=dict)
    screenshots: dict[str, Path] = field(default_factory=dict)
    screenshot_errors: dict[str, str] = field(default_factory=dict)
    red_pixels: dict[str, int] = field(default_factory=dict)
    load_average: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def seconds(self) -> float:
        return self.ended - self.launched

    @property
    def warehouse_age_at_end_s(self) -> float | None:
        return self.ended - self.warehouse_builds[-1] if self.warehouse_builds else None

    @property
    def warehouse_age_max_s(self) -> float:
        """The longest the warehouse was missing or not rebuilt: start-up to the first build, between
        builds, and the last build to the end."""
        stamps = [self.launched, *self.warehouse_builds, self.ended]
        return max(b - a for a, b in itertools.pairwise(stamps))

    @property
    def coverage_min_tier(self) -> float | None:
        return min(self.coverage_by_tier.values()) if self.coverage_by_tier else None

    @property
    def red_checks(self) -> list[CheckState]:
        return [c for c in self.checks if c.red]


def first_snapshot_file_time(data: Path) -> float | None:
    """Modification time of the oldest snapshot file in the lake, or None before the first one."""
    files = (
        list((data / "lake" / "snapshots").rglob("*.parquet"))
        if (data / "lake" / "snapshots").exists()
        else []
    )
    return min((f.stat().st_mtime for f in files), default=None)


def tier_coverage(data: Path, start: datetime, end: datetime) -> tuple[dict[str, float], dict[str, int]]:
    """Captured / expected (market, instant) pairs per tier from the `sweeps` log, for instants in
    [start, end), one row per instant (the best attempt, as re-assembly keeps it)."""
    table = Lake(str(data)).read("sweeps")
    if table is None:
        return {}, {}
    rank = {"captured": 0, "partial": 1, "failed": 2, "missed": 3}
    best: dict[tuple[str, datetime], dict] = {}
    for row in table.select(["tier", "slot_ts", "status", "expected", "captured"]).to_pylist():
        if not (start <= row["slot_ts"] < end):
            continue
        key = (row["tier"], row["slot_ts"])
        if key not in best or rank.get(row["status"], 9) < rank.get(best[key]["status"], 9):
            best[key] = row
    expected: dict[str, int] = {}
    captured: dict[str, int] = {}
    for (tier, _), row in best.items():
        expected[tier] = expected.get(tier, 0) + (row["expected"] or 0)
        captured[tier] = captured.get(tier, 0) + (row["captured"] or 0)
    return {t: captured[t] / expected[t] for t in expected if expected[t]}, expected


def check_states(instance: dg.DagsterInstance) -> list[CheckState]:
    """The latest execution of every asset check in the code location, as the UI shows it."""
    keys = sorted(
        load_defs().get_repository_def().asset_graph.asset_check_keys, key=lambda k: k.to_user_string()
    )
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    states = []
    for key in keys:
        record = latest.get(key)
        if record is None:
            states.append(CheckState(key.to_user_string(), "NOT_RUN"))
            continue
        evaluation = None
        if record.event is not None and record.event.dagster_event is not None:
            evaluation = record.event.dagster_event.event_specific_data
        status = record.status.value
        if record.status == AssetCheckExecutionRecordStatus.PLANNED:
            run = instance.get_run_by_id(record.run_id)
            # Planned in a run that ended without evaluating it: the UI shows it as failed to execute.
            if run is not None and run.status in TERMINAL_RUN_STATUSES:
                status = "FAILED"
        states.append(
            CheckState(
                key.to_user_string(),
                status,
                severity=getattr(getattr(evaluation, "severity", None), "value", None)
                or ("ERROR" if status == "FAILED" else None),
                description=getattr(evaluation, "description", None),
            )
        )
    return states


def warehouse_builds(instance: dg.DagsterInstance) -> list[float]:
    """When the warehouse was materialized (epoch s), oldest first."""
    records = instance.fetch_materializations(dg.AssetKey("warehouse"), limit=10_000).records
    return sorted(r.timestamp for r in records)


def lake_trades(data: Path) -> list[tuple]:
    table = Lake(str(data)).read(
        "trades", columns=["asset_id", "side", "size", "price", "exchange_ts", "condition_id"]
    )
    if table is None:
        return []
    ms = table.column("exchange_ts").cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64()).to_pylist()
    return list(
        zip(
            table.column("asset_id").to_pylist(),
            table.column("side").to_pylist(),
            table.column("size").to_pylist(),
            table.column("price").to_pylist(),
            ms,
            table.column("condition_id").to_pylist(),
        )
    )


def recorder_markets(data: Path) -> tuple[set[str], float | None]:
    """Markets the recorder subscribed to, and since when (epoch s): from markets_current once it has read it."""
    status = read_json(load_config({"PM_DATA_DIR": str(data)}).status_path) or {}
    if status.get("markets_source") in (None, "none"):
        return set(), None
    table = Lake(str(data)).read("markets_current", columns=["condition_id", "first_seen_at"])
    if table is None:
        return set(), None
    first = pc.min(table.column("first_seen_at")).as_py()
    return set(table.column("condition_id").to_pylist()), first.timestamp() if first else None


def screenshot(chromium: str, url: str, out: Path, profile: Path) -> int:
    """Capture `url` to `out`; return how many strongly red pixels it holds (Dagster's failure colour)."""
    from PIL import Image  # matplotlib's own dependency

    result = subprocess.run(
        [chromium, *SOAK_CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={out}", url],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0 or not out.is_file():
        raise RuntimeError(f"chromium failed on {url}: {result.stderr[-2000:]}")
    with Image.open(out) as image:
        rgb = image.convert("RGB")
        return sum(1 for r, g, b in rgb.get_flattened_data() if r > 190 and g < 110 and b < 110)


def run_soak(
    tmp: Path,
    seconds: float,
    *,
    markets: int = 40,
    chromium: str | None = None,
    screenshot_dir: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> SoakReport:
    """Start the dev stack, touch nothing for `seconds`, then measure. Nothing is asserted here."""
    overrides = {
        "PM_SIM_ARGS": f"--markets {markets} --seed 7 --faults light --speed 1",
        "PM_WS_SIDECAR": "1",
    }
    launched = time.time()
    with running_dev_stack(tmp, overrides) as stack:
        stack.wait_loaded()
        progress(f"code loaded after {time.time() - launched:.0f} s; soaking {seconds:.0f} s")
        first_snapshot = None
        while time.time() < launched + seconds:
            if stack.script.poll() is not None:
                raise RuntimeError(f"dev.sh exited with {stack.script.returncode} during the soak")
            if first_snapshot is None and (mtime := first_snapshot_file_time(stack.data)) is not None:
                first_snapshot = mtime - launched
                progress(f"first snapshot after {first_snapshot:.0f} s")
            time.sleep(2)
        end = datetime.now(UTC)
        report = inspect(stack, launched, end, first_snapshot, progress)
        report.missing_partitions = missing_partitions(stack)
        if chromium is not None:
            out_dir = screenshot_dir or tmp
            for name, path in PAGES.items():
                out = out_dir / f"soak_{name}.png"
                try:
                    report.red_pixels[name] = screenshot(chromium, stack.url + path, out, tmp / "chromium")
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    report.screenshot_errors[name] = str(exc)[-500:]
                    continue
                report.screenshots[name] = out
        stack.stop(signal.SIGINT)
    report.load_average = os.getloadavg()
    return report


def inspect(
    stack: DevStack, launched: float, end: datetime, first_snapshot: float | None, progress
) -> SoakReport:
    data = stack.data
    sim_url = _sim_control_url(stack)
    control = SimControl(sim_url)
    # Trades: the recorded hour must equal the simulator's, once ingestion has caught up with `end`.
    tracked, since = recorder_markets(data)
    window_start = max(launched, since or launched) + 90  # the recorder re-reads markets_current every 60 s
    window_end = end.timestamp() - 30
    deadline = time.time() + INGEST_SETTLE_S
    while True:
        trades = compare_with_truth(lake_trades(data), control, tracked, window_start, window_end)
        if (trades["missing"] == 0 and trades["truth"] > 0) or time.time() > deadline:
            break
        time.sleep(5)
    progress(f"trades {trades}")
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(stack.home))) as instance:
        runs = instance.get_runs()
        by_status: dict[str, int] = {}
        for run in runs:
            by_status[run.status.value] = by_status.get(run.status.value, 0) + 1
        failed = [
            f"{r.job_name} {r.run_id[:8]} {r.tags.get('dagster/partition', '')}"
            for r in runs
            if r.status == dg.DagsterRunStatus.FAILURE
        ]
        discovery = [
            {
                "status": r.status.value,
                "reason": r.tags.get("discovery/reason"),
                "sensor": r.tags.get("dagster/sensor_name"),
            }
            for r in runs
            if r.job_name == "markets_job"
        ]
        builds = warehouse_builds(instance)
        checks = check_states(instance)
    start = datetime.fromtimestamp(launched, UTC)
    coverage, expected = tier_coverage(data, start, end)
    current = Lake(str(data)).read("markets_current", columns=["condition_id"])
    warehouse = data / "warehouse.duckdb"
    views = 0
    if warehouse.exists():
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            views = con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchone()[0]
        finally:
            con.close()
    return SoakReport(
        launched=launched,
        ended=end.timestamp(),
        first_snapshot_s=first_snapshot,
        discovery_runs=discovery,
        markets_discovered=current.num_rows if current is not None else 0,
        coverage_by_tier=coverage,
        expected_by_tier=expected,
        warehouse_path=warehouse,
        warehouse_views=views,
        warehouse_builds=builds,
        checks=checks,
        runs_by_status=by_status,
        failed_runs=failed,
        trades=trades,
    )


def missing_partitions(stack: DevStack) -> dict[str, int]:
    """Partitions the UI shows as "missing" for each snapshot asset."""
    out = {}
    for tier in ("t0", "t1", "t2", "t3", "t4", "stale"):
        node = stack.graphql(PARTITION_STATS_QUERY, {"key": {"path": [f"snapshots_{tier}"]}})[
            "assetNodeOrError"
        ]
        stats = node["partitionStats"]
        out[f"snapshots_{tier}"] = (
            stats["numPartitions"] - stats["numMaterialized"] - stats["numMaterializing"] - stats["numFailed"]
        )
    return out


def _sim_control_url(stack: DevStack) -> str:
    for line in stack.log().splitlines():
        if line.startswith("[dev] clock ") and "(" in line:
            return line.rsplit("(", 1)[1].rstrip(")")
    raise RuntimeError("dev.sh printed no simulator control URL")
