"""The production topology under its own daemon: how fast a schedule tick becomes a finished slot run, and
whether the daemon's memory grows while ticks keep coming.

run() starts the simulator at wall-clock speed, a fresh Postgres database and the three Dagster processes
with the committed deploy/dagster.yaml and workspace.yaml (the topology of polymarket_assets_tests/deploy, runs on
the system clock, PM_CLOCK=system), discovers the markets, switches on the T2, T3 and T4 schedules through
GraphQL (every other schedule and sensor is stopped before the daemon starts) and lets each tick TICKS times.

tick_to_success_p95_s: a slot run is launched one minute before its slot and then *waits* on purpose for its
instants (T2: :00; T3: :00 and :30; T4: every 15 s), so "tick to success" wall time is mostly that wait. What
the platform controls is the time around it, so per run we add the two parts:
  launch   = run start (the run worker reports STARTED) - the tick's scheduled time (slot - 60 s):
             scheduler evaluation, the queue, the launcher starting the run worker and loading the code;
  complete = run success - the slot's last instant: the last sweep, the writes, checks and run teardown.
tick_to_success_s = launch + complete, i.e. the latency the run would have if its slot started at the tick.
The p95 is over every T2/T3/T4 run of the benchmark (3 tiers x TICKS). A run whose launch took longer than
its first instant's tolerance would have been recorded as missed; `deploy_sweeps_missed` counts them.

Launch is mostly the run worker's start: the gRPC server spawns a fresh Python process per run, which
imports Dagster and loads the code location (collection jobs then run every step in that process). The
result also splits launch at the run's own events (`tick_evaluate_p95_s`: tick to the run's creation;
`tick_queue_and_launch_p95_s`: creation to the worker process starting; `tick_worker_start_p95_s`: the
worker process starting to RUN_START). The figures are CPU-bound (three
tiers spawn their workers in the same second), so the result carries the load average before and after.

daemon_rss_growth_mb_per_h: the resident memory of the daemon's process group, sampled every RSS_EVERY_S
seconds while the ticks run, fitted by least squares after the first minute (start-up allocations), in MB
per hour. `make bench` ticks each schedule TICKS (3) times, a few minutes that give a rough slope, not a leak
test over days. For a longer soak set DEPLOY_BENCH_TICKS (20 is about 21 minutes of ticks) and run
`python -m benchmarks.run_all --only deploy`. The report carries the window, the first and last samples, the
slope of each half of the window (a leak keeps its slope, warm-up flattens out) and one sample a minute.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dagster import DagsterEventType

from polymarket_assets.defs.partitions import hourly_partitions
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.tiers import DEFAULT_PLAN, slot_instants
from polymarket_assets_tests.deploy.topology import fresh_postgres_database, running_topology, wait_until
from polymarket_sim import run_sim

TIERS = ("T2", "T3", "T4")
TICKS = int(os.environ.get("DEPLOY_BENCH_TICKS", "3"))
MARKETS = 300
RSS_EVERY_S = 2.0
WARMUP_S = 60.0


def _rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def _slope_per_hour(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 3:
        return float("nan")
    xs, ys = [s[0] for s in samples], [s[1] for s in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx * 3600 if sxx else float("nan")


def _first_per_minute(samples: list[tuple[float, float]], started: float) -> list[float]:
    by_minute: dict[int, float] = {}
    for t, mb in samples:
        by_minute.setdefault(int((t - started) // 60), round(mb, 1))
    return [by_minute[m] for m in sorted(by_minute)]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2)


# Launch latency, split at the run's own events: the schedule's evaluation (tick time to the run's
# creation, added per run below), the queue and the launcher (creation to the run worker's process starting:
# the dequeue interval and the gRPC call), and the run worker's start-up (process start to RUN_START:
# imports, code load, instance connection).
PHASES = (
    ("queue_and_launch", "CREATED", "RUN_STARTING"),
    ("worker_start", "RUN_STARTING", "RUN_START"),
)


def _run_phases(database, run_ids: list[str]) -> dict[str, dict[str, float]]:
    """{run id: {event type or CREATED: epoch seconds}} from the run storage in Postgres."""
    marks: dict[str, dict[str, float]] = {run_id: {} for run_id in run_ids}
    with database.connect() as conn:
        for run_id, created in conn.execute(
            "SELECT run_id, create_timestamp FROM runs WHERE run_id = ANY(%s)", (run_ids,)
        ).fetchall():
            marks[run_id]["CREATED"] = created.replace(tzinfo=UTC).timestamp()
        # stored under their old names (PIPELINE_STARTING, PIPELINE_START)
        stored = {e.value: e.name for e in (DagsterEventType.RUN_STARTING, DagsterEventType.RUN_START)}
        for run_id, event, at in conn.execute(
            "SELECT run_id, dagster_event_type, timestamp FROM event_logs WHERE run_id = ANY(%s) "
            "AND dagster_event_type = ANY(%s)",
            (run_ids, list(stored)),
        ).fetchall():
            marks[run_id].setdefault(stored[event], at.replace(tzinfo=UTC).timestamp())
    return marks


def run() -> dict:
    schedules = [f"{DEFAULT_PLAN.by_name(t).asset_name}_schedule" for t in TIERS]
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="deploy_bench_") as tmp,
        run_sim(
            markets=MARKETS, seed=7, speed=1.0, faults="none", start=datetime.now(UTC).isoformat()
        ) as sim,
        fresh_postgres_database("pm_bench") as database,
        running_topology(
            Path(tmp),
            database,
            extra_env={**sim.env, "PM_CLOCK": "system"},
            before_daemon=lambda topology: topology.stop_instigators_except(set()),
        ) as topology,
    ):
        now = datetime.now(UTC)
        discovery = topology.launch_run(
            "markets_job",
            tags={"dagster/partition": hourly_partitions.get_partition_key_for_timestamp(now.timestamp())},
        )
        assert topology.wait_for_run(discovery, timeout=120)["status"] == "SUCCESS", topology.logs_tail()

        samples: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            daemon = topology.processes["daemon"]
            while not stop.is_set():
                samples.append((time.monotonic(), _rss_mb(daemon.group_pids())))
                stop.wait(RSS_EVERY_S)

        sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
        sampler.start()
        started = time.monotonic()
        for name in schedules:
            topology.start_schedule(name)

        def ticked_enough() -> bool:
            return all(
                len([t for t in topology.schedule_ticks(n, limit=TICKS + 10) if t["runIds"]]) >= TICKS
                for n in schedules
            )

        wait_until(
            ticked_enough, timeout=60 * (TICKS + 1) + 30, interval=2, what=f"{TICKS} ticks per schedule"
        )
        for name in schedules:
            topology.stop_schedule(name)
        run_ids = [
            r for n in schedules for t in topology.schedule_ticks(n, limit=TICKS + 10) for r in t["runIds"]
        ]
        runs = [topology.wait_for_run(run_id, timeout=180) for run_id in run_ids]
        stop.set()
        sampler.join()
        window_s = time.monotonic() - started

        phases = _run_phases(database, [r["runId"] for r in runs])
        lake = Lake(Path(tmp) / "data")
        sweeps = lake.read("sweeps")
        sweeps = sweeps.to_pylist() if sweeps is not None else []
        per_run = []
        for run in runs:
            tags = {t["key"]: t["value"] for t in run["tags"]}
            tier = DEFAULT_PLAN.by_name(tags["tier"])
            slot = datetime.fromisoformat(tags["slot"])
            tick = slot - timedelta(minutes=1)
            last_instant = slot_instants(tier, slot)[-1]
            launch = run["startTime"] - tick.timestamp()
            complete = run["endTime"] - last_instant.timestamp()
            marks = phases.get(run["runId"], {})
            per_run.append(
                {
                    "tier": tier.name,
                    "status": run["status"],
                    "launch_s": launch,
                    "complete_s": complete,
                    "tick_to_success_s": launch + complete,
                    **{
                        f"{phase}_s": marks[to] - marks[since]
                        for phase, since, to in PHASES
                        if since in marks and to in marks
                    },
                    **({"evaluate_s": marks["CREATED"] - tick.timestamp()} if "CREATED" in marks else {}),
                }
            )
    succeeded = [r for r in per_run if r["status"] == "SUCCESS"]
    steady = [(t, mb) for t, mb in samples if t - started >= WARMUP_S]
    return {
        "tick_to_success_p95_s": _p95([r["tick_to_success_s"] for r in succeeded]) if succeeded else None,
        "daemon_rss_growth_mb_per_h": round(_slope_per_hour(steady), 1),
        # A leak keeps its slope; start-up caches flatten out. The two halves of the steady window tell which.
        "daemon_rss_growth_mb_per_h_halves": [
            round(_slope_per_hour(half), 1)
            for half in (steady[: len(steady) // 2], steady[len(steady) // 2 :])
        ],
        "daemon_rss_mb_by_minute": _first_per_minute(samples, started),
        "tick_launch_p95_s": _p95([r["launch_s"] for r in succeeded]) if succeeded else None,
        "tick_complete_p95_s": _p95([r["complete_s"] for r in succeeded]) if succeeded else None,
        "tick_to_success_max_s": round(max(r["tick_to_success_s"] for r in succeeded), 2)
        if succeeded
        else None,
        "deploy_slot_runs": len(per_run),
        "deploy_slot_runs_succeeded": len(succeeded),
        "deploy_sweeps_missed": sum(1 for s in sweeps if s["status"] == "missed"),
        "deploy_sweep_lag_max_s": round(max((s["lag_s"] for s in sweeps), default=0.0), 3),
        "daemon_rss_mb_first": round(samples[0][1], 1) if samples else None,
        "daemon_rss_mb_last": round(samples[-1][1], 1) if samples else None,
        "daemon_rss_window_s": round(window_s, 1),
        "deploy_markets": MARKETS,
        "deploy_ticks_per_schedule": TICKS,
        # Launch latency is CPU-bound (a run worker imports Dagster and the code): read it with the load.
        "deploy_load_avg_1m_before": round(load_before, 2),
        "deploy_load_avg_1m_after": round(os.getloadavg()[0], 2),
        **{
            f"tick_{phase}_p95_s": _p95([r[f"{phase}_s"] for r in succeeded if f"{phase}_s" in r])
            for phase in ("evaluate", *(name for name, _, _ in PHASES))
            if any(f"{phase}_s" in r for r in succeeded)
        },
        **{
            f"tick_to_success_p95_s_{tier.lower()}": _p95(
                [r["tick_to_success_s"] for r in succeeded if r["tier"] == tier]
            )
            for tier in TIERS
            if any(r["tier"] == tier for r in succeeded)
        },
    }


if __name__ == "__main__":
    print(json.dumps(run()))
