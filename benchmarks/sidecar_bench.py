"""ws_sidecar: throughput, trade-to-view latency, and zero loss under faults and kills, against polymarket_sim.

Three parts, each with its own simulator and a real `python -m ws_sidecar` process:

1. **throughput** (`sidecar_msgs_per_s`): one socket carrying 100 markets (200 assets) of a paused simulator
   receives a `ws_burst` of 150,000 `price_change` messages; every one is parsed, applied to the local books,
   written as book-update rows and archived as a raw frame. The figure is messages per CPU-second of the
   recorder process (its user + system time from /proc, covering every thread until the burst is in closed
   files): what one core sustains, independent of what else the shared machine runs. The wall-clock rate is
   reported beside it.
2. **latency** (`trade_to_view_p95_s`): a simulator on a 1x clock (so exchange time is wall time), the recorder
   with default settings (10 s files), `incoming_files_sensor` evaluated every `SENSOR_INTERVAL_S` (its default
   interval) and its run requests executed in this process; a trade is visible once the run that wrote its
   `trades` partition has finished (the `trades` view reads the partition files directly). p95 over the WS
   trades of ~90 s.
3. **capture** (`trade_capture_ratio`, `trade_duplicates`, `gaps_recorded_ratio`): one simulated hour at 36x
   with the `heavy` fault profile (HTTP faults, socket drops about once a minute per socket, 15 s silent
   freezes, cut frames) and 10 SIGKILLs of the recorder at random moments (each once the previous restart has
   recovered), each restarted after 0.5-3 s. Then faults stop, the recorder audits past the hour (settle 10
   wall seconds instead of 30, to save time), and the incoming files are ingested through the sensor.
   Capture = trades in the `trades` lake table matching the simulator's ground truth (multiset on asset, side,
   size, price, second) / ground-truth trades, for the markets tracked from the start, over the hour after a
   one-minute warm-up. Duplicates = recorded rows beyond the true count of their key, plus rows matching no
   true trade. Gaps ratio = outages caused (kills, and socket drops and freezes the simulator reports
   injecting, timestamped by polling its counters) that lie inside a recorded `ws_gaps` interval of reason
   disconnect/freeze/restart / outages caused. A drop during a kill's downtime is inside that restart's gap.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

from polymarket_assets.lib.incoming import list_incoming
from polymarket_sim import run_sim
from polymarket_tools.sidecar import run_sidecar
from polymarket_tools.sim_truth import compare_with_truth, match_key, seed_markets_from_sim

BURST = 150_000
LATENCY_RECORD_S = 60
CAPTURE_SPEED = 36
CAPTURE_KILLS = 10
CAPTURE_SETTLE_S = 10  # wall seconds (default 30) so the audit passes the hour sooner; 360 simulated s at 36x
SEED = 20261125


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


# -- 1. throughput --------------------------------------------------------------------------------------------


def throughput(workdir: Path) -> dict:
    data_dir = workdir / "throughput"
    with run_sim(markets=100, seed=7, speed=0, faults="none", rate_limit="off") as sim:
        seed_markets_from_sim(data_dir, sim.control)
        # Wall clock for receive stamps (the paused simulator clock would stamp every frame alike).
        env = {k: v for k, v in sim.env.items() if k != "PM_SIM_CONTROL_URL"}
        with run_sidecar(
            env,
            data_dir,
            status_interval_s=0.1,
            data_timeout_s=600,
            hash_check_interval_s=3600,
            flush_interval_s=1,
        ) as sc:
            status = sc.wait_for(lambda s: s["connections_live"] == 1 and s["messages_total"] > 0, 60, "live")
            time.sleep(1.5)
            m0 = sc.status()["messages_total"]
            cpu0, t0 = _cpu_seconds(sc.pid), time.perf_counter()
            sim.control.ws_burst(BURST)
            sc.wait_for(lambda s: s["messages_total"] >= m0 + BURST, 300, "burst processed", poll_s=0.02)
            t1 = time.perf_counter()
            sc.wait_for(
                lambda s: s["pending_rows"] == 0 and s["last_flush_age_s"] < 0.5,
                60,
                "burst written",
                poll_s=0.02,
            )
            cpu1 = _cpu_seconds(sc.pid)
            final = sc.status()
        book_rows = sum(pq_rows(f.path) for f in list_incoming(data_dir, ["book_updates"]))
        raw_rows = sum(pq_rows(f.path) for f in list_incoming(data_dir, ["raw_frames"]))
    return {
        "sidecar_msgs_per_s": round(BURST / (cpu1 - cpu0)),
        "sidecar_msgs_per_s_wall": round(BURST / (t1 - t0)),
        "sidecar_burst_cpu_s": round(cpu1 - cpu0, 2),
        "sidecar_burst_assets": status["subscribed_assets"],
        "sidecar_burst_book_rows": book_rows,
        "sidecar_burst_raw_frames": raw_rows,
        "sidecar_burst_mismatches": final["book_mismatches"],
    }


def pq_rows(path) -> int:
    import pyarrow.parquet as pq

    return pq.read_metadata(path).num_rows


# -- Dagster helpers ------------------------------------------------------------------------------------------


class Dagster:
    """The real definitions, an instance in a temporary DAGSTER_HOME, and the sensor evaluated by hand."""

    def __init__(self, workdir: Path, data_dir: Path, env: dict):
        import dagster as dg

        self.dg = dg
        home = workdir / "dagster_home"
        home.mkdir(parents=True, exist_ok=True)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        self._saved = {
            k: os.environ.get(k)
            for k in (*env, "PM_DATA_DIR", "DAGSTER_HOME", "PM_CLOCK", "PM_INGEST_BATCH_S")
        }
        # Unbatched ingestion: the latency part measures recording + sensor + run; the batching window (a
        # deliberate wait, `ingest_batch_window_s`) adds at most its own length on top.
        os.environ.update(
            {
                **env,
                "PM_CLOCK": "sim",
                "PM_DATA_DIR": str(data_dir),
                "DAGSTER_HOME": str(home),
                "PM_INGEST_BATCH_S": "0",
            }
        )
        from polymarket_assets.definitions import defs
        from polymarket_assets.defs.resources import LakeResource
        from polymarket_assets.defs.trades.sensors import incoming_files_sensor

        self.defs = defs()
        self.instance = dg.DagsterInstance.get()
        self.sensor = incoming_files_sensor
        self.lake = LakeResource(data_dir=str(data_dir))
        self.cursor = None
        self.job = self.defs.resolve_job_def("ws_ingest_job")

    def tick(self, only: set[str] | None = None) -> int:
        context = self.dg.build_sensor_context(
            cursor=self.cursor, instance=self.instance, resources={"lake": self.lake}
        )
        result = self.sensor(context)
        runs = 0
        for request in result.run_requests or []:
            selection = [
                k for k in request.asset_selection or [] if only is None or k.to_user_string() in only
            ]
            if not selection:
                continue
            config = {
                "ops": {k.to_user_string(): request.run_config["ops"][k.to_user_string()] for k in selection}
            }
            checks = {c for c in request.asset_check_keys if c.asset_key in selection}
            subset = self.job.get_subset(asset_selection=set(selection), asset_check_selection=checks)
            outcome = subset.execute_in_process(
                run_config=config,
                partition_key=request.partition_key,
                instance=self.instance,
                tags=request.tags,
            )
            if not outcome.success:
                raise RuntimeError(f"ingestion run failed for {request.partition_key}")
            runs += 1
        if result.cursor:
            self.cursor = result.cursor
        return runs

    def close(self) -> None:
        self.instance.dispose()
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def lake_trades(data_dir: Path) -> list[tuple]:
    directory = data_dir / "lake" / "trades"
    if not directory.exists() or not any(directory.rglob("*.parquet")):
        return []
    glob = str(directory / "**" / "*.parquet")
    con = duckdb.connect()
    try:
        return con.execute(
            f"SELECT asset_id, side, size, price, epoch_ms(exchange_ts), condition_id, trade_uid, source "
            f"FROM read_parquet('{glob}', hive_partitioning=true)"
        ).fetchall()
    finally:
        con.close()


# -- 2. latency -----------------------------------------------------------------------------------------------


def latency(workdir: Path) -> dict:
    from polymarket_assets.defs.trades.sensors import SENSOR_INTERVAL_S
    from polymarket_assets.lib.trades.plan import DEFAULT_BATCH_S

    data_dir = workdir / "latency"
    with run_sim(markets=200, seed=11, speed=1, faults="none") as sim:
        seed_markets_from_sim(data_dir, sim.control)
        dagster = Dagster(workdir / "latency_home", data_dir, sim.env)
        try:
            with run_sidecar(sim.env, data_dir, status_interval_s=1) as sc:
                sc.wait_for(lambda s: s["connections_live"] >= 1 and not s["restart_gap_open"], 60, "live")
                offset = sim.control.now() - time.time()  # simulated minus wall time (a 1x clock)
                started = time.time()
                seen: dict[str, float] = {}
                exchange: dict[str, float] = {}
                next_tick = time.monotonic() + SENSOR_INTERVAL_S
                while True:
                    time.sleep(max(0.0, next_tick - time.monotonic()))
                    next_tick += SENSOR_INTERVAL_S
                    dagster.tick()
                    visible = time.time()
                    for a, s, z, p, ms, cid, uid, source in lake_trades(data_dir):
                        if uid not in seen and source == "ws":
                            seen[uid] = visible
                            exchange[uid] = ms / 1000 - offset
                    if visible - started > LATENCY_RECORD_S + 2 * SENSOR_INTERVAL_S:
                        break
        finally:
            dagster.close()
    # Only trades made after the recorder was running and with time left to reach the view.
    lags = [seen[u] - exchange[u] for u in seen if started <= exchange[u] <= started + LATENCY_RECORD_S]
    return {
        "trade_to_view_p95_s": _p(lags, 0.95),
        "trade_to_view_p50_s": _p(lags, 0.5),
        "trade_to_view_max_s": _p(lags, 1.0),
        "trade_to_view_trades": len(lags),
        "sensor_interval_s": SENSOR_INTERVAL_S,
        "ingest_batch_window_s": DEFAULT_BATCH_S,
    }


# -- 3. capture under faults and kills ------------------------------------------------------------------------


class FaultLog(threading.Thread):
    """Polls the simulator's fault counters to timestamp every socket drop and freeze it injects."""

    def __init__(self, control):
        super().__init__(daemon=True)
        self.control = control
        self.events: list[tuple[float, str]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        last = self.control.stats()["faults"]
        while not self.halt.wait(0.25):
            now = self.control.stats()["faults"]
            for kind in ("ws_disconnect", "ws_freeze"):
                self.events += [(time.monotonic(), kind)] * (now.get(kind, 0) - last.get(kind, 0))
            last = now


def capture(workdir: Path) -> dict:
    data_dir = workdir / "capture"
    rng = random.Random(SEED)
    hour_wall = 3600 / CAPTURE_SPEED
    kill_at = sorted(rng.uniform(0.03, 0.85) * hour_wall for _ in range(CAPTURE_KILLS))
    with run_sim(markets=200, seed=5, speed=CAPTURE_SPEED, faults="none") as sim:
        rows = seed_markets_from_sim(data_dir, sim.control)
        tracked = [r["condition_id"] for r in rows if r["discovery_status"] == "open"]
        with run_sidecar(sim.env, data_dir, status_interval_s=0.2, settle_s=CAPTURE_SETTLE_S) as sc:
            sc.wait_for(lambda s: s["connections_live"] >= 1 and not s["restart_gap_open"], 60, "live")
            sim.control.set_faults("heavy")
            faults = FaultLog(sim.control)
            faults.start()
            t_start = sim.control.now()
            wall_start = time.monotonic()
            kills: list[tuple[float, float]] = []  # (killed, recovered) in monotonic wall time
            for at in kill_at:
                # One kill per outage: the previous restart must have recovered (else two kills are one outage).
                time.sleep(max(0.0, wall_start + at - time.monotonic()))
                killed = time.monotonic()
                sc.kill()
                time.sleep(rng.uniform(0.5, 3.0))
                sc.restart()
                sc.wait_for(lambda s: not s["restart_gap_open"], 60, "restart recovered", poll_s=0.05)
                kills.append((killed, time.monotonic()))
            while sim.control.now() < t_start + 3600:
                time.sleep(0.5)
            sim.control.set_faults("none")
            faults.halt.set()
            faults.join()
            t_end = t_start + 3600
            sc.wait_for(
                lambda s: s["backfill"]["audited_through_epoch"] >= t_end and not s["restart_gap_open"],
                180,
                "audit past the hour",
                poll_s=0.5,
            )
            status = sc.status()
        dagster = Dagster(workdir / "capture_home", data_dir, sim.env)
        try:
            dagster.tick(only={"trades", "ws_gaps"})
        finally:
            dagster.close()
        trades = lake_trades(data_dir)
        stats = compare_with_truth([t[:6] for t in trades], sim.control, tracked, t_start + 60, t_end)

    # Every outage caused (each kill, each socket drop or freeze the simulator injected) must lie inside a
    # recorded gap (disconnect, freeze or restart; resyncs do not count). A drop that happens while the
    # recorder is dead or restarting is inside that restart's gap, so merged outages count as recorded.
    # Fault times are polled every 0.25 s, hence the half-second slack (in wall time, scaled to the clock).
    def sim_time(mono: float) -> float:
        return t_start + (mono - wall_start) * CAPTURE_SPEED

    slack = 0.5 * CAPTURE_SPEED
    intervals = _lake_gap_intervals(data_dir)
    events = [sim_time(k) for k, _ in kills] + [sim_time(f) for f, _ in faults.events]
    covered = sum(1 for t in events if any(s - slack <= t <= e + slack for s, e in intervals))
    gaps = _lake_gaps(data_dir, t_start, t_end + 60)
    return {
        "trade_capture_ratio": round(stats["capture_ratio"], 6)
        if stats["capture_ratio"] is not None
        else None,
        "trade_duplicates": stats["duplicates"] + stats["unexplained"],
        "gaps_recorded_ratio": round(covered / len(events), 4) if events else None,
        "capture_truth_trades": stats["truth"],
        "capture_missing_trades": stats["missing"],
        "capture_kills": len(kills),
        "capture_socket_faults_injected": {
            k: sum(1 for f in faults.events if f[1] == k) for k in ("ws_disconnect", "ws_freeze")
        },
        "capture_outages_caused": len(events),
        "capture_outages_in_gaps": covered,
        "capture_gaps_recorded": gaps,
        "capture_trades_from_data_api": sum(1 for t in trades if t[7] == "data_api"),
        "capture_trades_from_ws": sum(1 for t in trades if t[7] == "ws"),
        "capture_book_resyncs": status["book_resyncs"],
        "capture_repeated_keys_by_source": _repeated_keys(trades, set(tracked), t_start + 60, t_end),
        "capture_sim_speed": CAPTURE_SPEED,
    }


def _repeated_keys(trades: list[tuple], cids: set[str], start: float, end: float) -> dict[str, int]:
    """Diagnostics: match keys recorded more than once in the window, by the sources of their rows."""
    by_key: dict[tuple, list[str]] = {}
    for a, s, z, p, ms, cid, _uid, source in trades:
        if cid in cids and start <= ms / 1000 < end:
            by_key.setdefault(match_key(a, s, z, p, ms // 1000), []).append(source)
    out: dict[str, int] = {}
    for sources in by_key.values():
        if len(sources) > 1:
            label = "+".join(sorted(sources))
            out[label] = out.get(label, 0) + 1
    return out


def _lake_gap_intervals(data_dir: Path) -> list[tuple[float, float]]:
    directory = data_dir / "lake" / "ws_gaps"
    if not directory.exists():
        return []
    con = duckdb.connect()
    try:
        return con.execute(
            f"SELECT epoch(start_ts), epoch(end_ts) FROM read_parquet('{directory}/**/*.parquet', hive_partitioning=true) "
            "WHERE reason <> 'resync'"
        ).fetchall()
    finally:
        con.close()


def _lake_gaps(data_dir: Path, start: float, end: float) -> dict[str, int]:
    directory = data_dir / "lake" / "ws_gaps"
    if not directory.exists():
        return {}
    glob = str(directory / "**" / "*.parquet")
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT reason, count(DISTINCT gap_id) FROM read_parquet('{glob}', hive_partitioning=true) "
            f"WHERE epoch(end_ts) >= ? AND epoch(start_ts) <= ? GROUP BY reason",
            [start, end],
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


PARTS = {"throughput": throughput, "latency": latency, "capture": capture}


def run(parts: tuple[str, ...] = tuple(PARTS)) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="sidecar_bench_"))
    started = time.perf_counter()
    try:
        out = {}
        for part in parts:
            out.update(PARTS[part](workdir))
        out["sidecar_bench_wall_s"] = round(time.perf_counter() - started, 1)
        return out
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    # python -m benchmarks.sidecar_bench [throughput|latency|capture ...]  (default: all three)
    print(json.dumps(run(tuple(sys.argv[1:]) or tuple(PARTS))))
