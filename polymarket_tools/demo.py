"""`make demo`: the main collection job end to end, offline, against the local simulator.

It starts `polymarket_sim` (light faults) with its clock accelerated, points the code location at it through
the configuration contract (`PM_*` variables, `PM_CLOCK=sim`), and then drives the real schedules: at every
simulated minute it evaluates each schedule for that tick and executes the run requests it returns, as
partitioned job runs on a SQLite-backed Dagster instance in a temporary `DAGSTER_HOME`. Nothing inside the
assets knows it is a demo.

Before the live hour, the simulator's paused clock is stepped through `--history-hours` of earlier simulated
time every two hours (`polymarket_tools.ml_demo.run_ml_demo`): the same collection jobs record a
resolved history, and the ML jobs build features, the training set, the model, its evaluation and the
backtest. After the live hour, `predictions` scores the markets still open. The last line printed is one JSON
object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path

from polymarket_tools.local_runner import LocalRunPool, RunOutcome
from polymarket_tools.ml_demo import DEMO_HISTORY, DEMO_STEP, run_ml_demo

REPO = Path(__file__).resolve().parents[1]
DEMO_MARKER = ".demo-data"


def log(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def prepare_data_dir(path: Path) -> None:
    """The demo owns its data dir: it wipes one it created before, and refuses to touch any other."""
    if path.exists() and any(path.iterdir()):
        if not (path / DEMO_MARKER).exists() and any((path / sub).exists() for sub in ("lake", "raw")):
            raise SystemExit(f"{path} holds data the demo did not write; set PM_DATA_DIR to another folder")
        for sub in ("lake", "raw", "quarantine", "incoming", "models"):
            shutil.rmtree(path / sub, ignore_errors=True)
        (path / "warehouse.duckdb").unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    (path / DEMO_MARKER).write_text("written by `make demo`; safe to delete\n")


def prepare_dagster_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="pm-demo-dagster-home-"))
    dev_yaml = REPO / "deploy" / "dagster.dev.yaml"
    if dev_yaml.exists():
        shutil.copy(dev_yaml, home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


class Driver:
    """Evaluates schedules at simulated ticks and executes their run requests in forked workers."""

    def __init__(self, defs, instance, run_config_overrides: dict, workers: int):
        self.defs = defs
        self.instance = instance
        self.overrides = run_config_overrides
        self.pool = LocalRunPool(workers=workers)
        self.futures: list[Future] = []
        self.outcomes: list[RunOutcome] = []
        self.repository = defs.get_repository_def()

    def schedule(self, name: str):
        return self.defs.resolve_schedule_def(name)

    def requests_for_tick(self, schedule_name: str, tick: datetime):
        import dagster as dg

        schedule = self.schedule(schedule_name)
        context = dg.build_schedule_context(
            instance=self.instance, scheduled_execution_time=tick, repository_def=self.repository
        )
        data = schedule.evaluate_tick(context)
        return schedule.job_name, list(data.run_requests or [])

    def submit_tick(self, schedule_name: str, tick: datetime) -> int:
        job_name, requests = self.requests_for_tick(schedule_name, tick)
        for request in requests:
            self.futures.append(self.pool.submit_request(job_name, request, self.overrides))
        return len(requests)

    def run_now(self, schedule_name: str, tick: datetime) -> bool:
        job_name, requests = self.requests_for_tick(schedule_name, tick)
        outcomes = [self.pool.submit_request(job_name, r, self.overrides).result() for r in requests]
        self.outcomes.extend(outcomes)
        for outcome in outcomes:
            if not outcome.success:
                log(f"run {outcome.job_name} {outcome.partition_key} failed: {outcome.error}")
        return all(o.success for o in outcomes)

    def run_sensor(self, sensor_name: str) -> int:
        """Evaluate a sensor until it has nothing new, executing its run requests; returns how many ran."""
        import dagster as dg

        sensor = self.defs.resolve_sensor_def(sensor_name)
        cursor, launched = None, 0
        while True:
            context = dg.build_sensor_context(
                instance=self.instance,
                cursor=cursor,
                repository_def=self.repository,
                resources=dict(self.defs.resources),
            )
            data = sensor.evaluate_tick(context)
            requests = list(data.run_requests or [])
            for request in requests:
                outcome = self.pool.submit_request(
                    request.job_name or sensor.job_name, request, self.overrides
                ).result()
                self.outcomes.append(outcome)
                if not outcome.success:
                    log(f"run {outcome.job_name} {outcome.partition_key} failed: {outcome.error}")
            launched += len(requests)
            if not requests or data.cursor == cursor:
                return launched
            cursor = data.cursor

    def wait(self) -> None:
        for future in self.futures:
            outcome = future.result()
            self.outcomes.append(outcome)
            if not outcome.success:
                log(f"run {outcome.job_name} {outcome.partition_key} failed: {outcome.error}")
        self.futures = []

    def finished(self) -> int:
        return len(self.outcomes) + sum(1 for f in self.futures if f.done())


def summarize(data_dir: Path, driver: Driver) -> dict:
    import duckdb

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    q = lambda sql: con.execute(sql).fetchone()[0]
    by_tier = {
        tier: round(captured / expected, 6)
        for tier, expected, captured in con.execute(
            "SELECT tier, sum(expected), sum(captured) FROM coverage GROUP BY tier HAVING sum(expected) > 0 ORDER BY tier"
        ).fetchall()
    }
    expected = q("SELECT coalesce(sum(expected), 0) FROM coverage")
    captured = q("SELECT coalesce(sum(captured), 0) FROM coverage")
    quarantined = (
        sum(1 for _ in (data_dir / "quarantine").rglob("*.parquet"))
        if (data_dir / "quarantine").exists()
        else 0
    )
    quarantined_rows = 0
    if quarantined:
        quarantined_rows = duckdb.sql(
            f"SELECT count(*) FROM read_parquet('{data_dir}/quarantine/**/*.parquet', hive_partitioning=true)"
        ).fetchall()[0][0]
    runs_ok = sum(1 for o in driver.outcomes if o.success)
    return {
        "markets": q("SELECT count(*) FROM markets"),
        "snapshots": q("SELECT count(*) FROM snapshots"),
        "orderbooks": q("SELECT count(*) FROM orderbooks"),
        "coverage": round(captured / expected, 6) if expected else None,
        "coverage_by_tier": by_tier,
        "resolved": q("SELECT count(*) FROM resolutions WHERE outcome IN ('YES', 'NO', 'INVALID')"),
        "quarantined": quarantined_rows,
        "runs": len(driver.outcomes),
        "runs_succeeded": runs_ok,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--speed", type=float, default=15.0, help="simulated seconds per wall second")
    parser.add_argument("--minutes", type=int, default=60, help="simulated minutes of slot schedules")
    parser.add_argument("--faults", default="light")
    parser.add_argument(
        "--informed-flow",
        type=float,
        default=0.3,
        help="share of whale trades that know the outcome: the only signal the mid lacks",
    )
    parser.add_argument(
        "--market",
        default="realistic",
        choices=["realistic", "strong"],
        help="realistic: the market maker prices whale orders once six hours old, so the mid is "
        "about as hard to beat as Polymarket's; strong: a price deaf to the tape (a pipeline check)",
    )
    # Slot runs live about two simulated minutes (launched one ahead), so ~6 overlap; keep spare workers.
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument(
        "--history-hours",
        type=int,
        default=int(DEMO_HISTORY.total_seconds() // 3600),
        help="simulated hours of resolved history recorded for the model before the live hour (0: none)",
    )
    args = parser.parse_args(argv)

    wall_start = time.monotonic()
    data_dir = Path(os.environ.get("PM_DATA_DIR", REPO / "data")).resolve()
    prepare_data_dir(data_dir)
    home = prepare_dagster_home()
    # Hours entirely in the past, so every hourly partition the demo touches already exists.
    hour0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=8)
    # Start a few minutes early: the first slot runs (before the scored hour) warm up the run workers. The
    # model's history comes before that.
    warm_up_from = hour0 - timedelta(minutes=4)
    sim_start = warm_up_from - timedelta(hours=args.history_hours)

    from polymarket_sim import run_sim

    log(
        f"starting polymarket_sim: {args.markets} markets, seed {args.seed}, faults={args.faults}, "
        f"informed flow {args.informed_flow}, {args.market} market"
        f"{' (a market as hard to beat as a real one)' if args.market == 'realistic' else ' (a pipeline check, not a market)'}"
        f", speed x{args.speed}"
    )
    # The server logs every request a fault cut short into sim.log.
    with (
        open(data_dir / "sim.log", "w") as sim_log,
        run_sim(
            markets=args.markets,
            seed=args.seed,
            speed=0.0,
            faults=args.faults,
            informed_flow=args.informed_flow,
            start=sim_start.isoformat(),
            stderr=sim_log,
            market=args.market,
        ) as sim,
    ):
        # Light faults, plus the occasional record with an impossible value, so quarantine has work to show.
        sim.control.set_faults(profile=args.faults, bad_record_rate=0.01)
        os.environ.update(sim.env)
        # PM_INGEST_BATCH_S=0: the demo ingests everything once the recorder stops, not window by window.
        os.environ.update(
            {
                "PM_CLOCK": "sim",
                "PM_DATA_DIR": str(data_dir),
                "DAGSTER_HOME": str(home),
                "PM_INGEST_BATCH_S": "0",
            }
        )
        # The demo's deployment begins recording when its simulated world does, hours before today's wall clock.
        # The code location reads it when first imported (`defs/partitions.py`), so nothing under
        # `polymarket_assets.defs` may be imported before this line (polymarket_tools_tests/test_demo_imports.py).
        os.environ.setdefault("PM_COLLECTION_START", sim_start.isoformat())
        import dagster as dg

        from polymarket_assets.definitions import defs as lazy_defs
        from polymarket_assets.defs.resources import polymarket_run_config
        from polymarket_assets.defs.snapshots.schedules import tier_schedules

        defs = lazy_defs() if callable(lazy_defs) else lazy_defs
        instance = dg.DagsterInstance.get()
        # Wall-clock timeouts shrink with the simulated clock's speed, so one hung request costs the same
        # simulated time as it would in production.
        scale = max(args.speed, 1.0)
        overrides = {
            **polymarket_run_config(
                connect_timeout_s=max(0.2, 3.05 / scale),
                read_timeout_s=max(0.3, 10.0 / scale),
                backoff_base_s=0.02,
                backoff_cap_s=max(0.1, 10.0 / scale),
            ),
            "loggers": {"console": {"config": {"log_level": "WARNING"}}},
        }
        driver = Driver(defs, instance, overrides, workers=args.workers)

        log(f"starting {driver.pool.warm_up()} run workers")
        model: dict = {}
        if args.history_hours:
            log(f"recording {args.history_hours} simulated hours of history every {DEMO_STEP}, then training")
            model = run_ml_demo(
                driver.pool,
                sim,
                data_dir,
                until=hour0 - timedelta(minutes=10),
                run_config_overrides=overrides,
                log=log,
            )
            log(
                f"model {model['model_version']}: {model['resolved_markets_used']} resolved markets, "
                f"Brier {model['brier_model']:.4f} vs market {model['brier_market']:.4f}, "
                f"ΔBrier 95% CI {model['delta_brier_ci']}; against the best baseline ({model['best_baseline']}) "
                f"{model['delta_brier_vs_best_ci']}: {model['verdict']}; canaries null: {model['canaries_null']}"
            )
            # The history's last step lies up to DEMO_STEP before the live hour: jump to its warm-up.
            sim.control.set_time(max(sim.control.now(), warm_up_from.timestamp()))
        log(
            f"simulated clock at {datetime.fromtimestamp(sim.control.now(), UTC).isoformat()}; discovering markets"
        )
        ok = driver.run_now("markets_schedule", hour0 - timedelta(hours=1))
        log(f"discovery {'succeeded' if ok else 'FAILED'}")

        # The websocket recorder runs beside the slot runs for the whole live hour.
        from polymarket_tools.demo_figures import demo_figures
        from polymarket_tools.sidecar import run_sidecar

        recording = contextlib.ExitStack()
        recorder = recording.enter_context(
            run_sidecar({**sim.env, "PM_CLOCK": "sim"}, data_dir, log_path=data_dir / "ws_sidecar.log")
        )
        log(f"ws_sidecar recording (pid {recorder.pid})")
        recorded_from = sim.control.now()
        # Only now does simulated time start to run: every tick below is reached live.
        sim.control.set_speed(args.speed)

        tick = hour0 - timedelta(minutes=3)
        last_tick = hour0 + timedelta(minutes=args.minutes - 2)
        slot_schedules = [s.name for s in tier_schedules]
        while tick <= last_tick:
            # Launch each tick's runs as the simulated clock reaches it; they wait for their own instants.
            while sim.control.now() < tick.timestamp():
                time.sleep(0.02)
            launched = 0
            for name in slot_schedules:
                schedule = driver.schedule(name)
                if _cron_matches(schedule.cron_schedule, tick):
                    launched += driver.submit_tick(name, tick)
            if tick.minute % 10 == 0:
                log(
                    f"sim {tick:%H:%M} UTC: launched {launched} slot runs ({driver.finished()} finished so far)"
                )
            tick += timedelta(minutes=1)
        driver.wait()
        log(
            f"slot runs finished: {sum(1 for o in driver.outcomes if o.success)}/{len(driver.outcomes)} succeeded"
        )

        # Stop the recorder (it flushes its last files on SIGTERM) before the clock jumps ahead, then let the
        # sensor take its files into the lake, as the daemon would every 20 s.
        sim.control.set_speed(0.0)
        recorded_to = sim.control.now()
        recording.close()
        ingested = driver.run_sensor("incoming_files_sensor")
        log(f"ws_sidecar stopped; the sensor ingested its files in {ingested} runs")
        driver.run_now("whale_events_schedule", hour0 + timedelta(hours=1, minutes=10))

        # After the hour: let the world move on so markets that ended resolve, then label, score and publish.
        later = hour0 + timedelta(hours=4, minutes=30)
        sim.control.set_time(later.timestamp())
        driver.run_now("markets_schedule", later.replace(minute=0))
        driver.run_now("resolutions_schedule", later)
        sim.control.set_time((hour0 + timedelta(hours=5, minutes=20)).timestamp())
        driver.run_now("coverage_schedule", hour0 + timedelta(hours=1, minutes=20))
        driver.run_now("snapshots_reassembly_schedule", hour0 + timedelta(hours=1, minutes=15))
        if model:
            outcome = driver.pool.submit("predictions_job", None, {"loggers": overrides["loggers"]}).result()
            driver.outcomes.append(outcome)
            log(f"predictions {'succeeded' if outcome.success else 'FAILED: ' + str(outcome.error)}")
        dg.materialize(
            [_asset(defs, "warehouse")],
            instance=instance,
            resources=_resources(defs),
            run_config={"loggers": overrides["loggers"]},
        )

        driver.pool.shutdown()
        summary = summarize(data_dir, driver)
        sim_stats = sim.control.stats()
        summary["api_requests"] = sum(
            n for endpoint, n in sim_stats.get("requests", {}).items() if "control" not in endpoint
        )
        summary["faults_injected"] = sum(sim_stats.get("faults", {}).values())
        figures = demo_figures(data_dir, sim.control, start=recorded_from, end=recorded_to)
        figures.pop("capture", None)
        summary.update(figures)
        summary["sim_hour"] = hour0.isoformat()
        for key in (
            "resolved_markets_used",
            "brier_model",
            "brier_market",
            "delta_brier_ci",
            "best_baseline",
            "delta_brier_vs_best_ci",
            "verdict",
            "canaries_null",
            "backtest_sharpe",
            "backtest_sharpe_per_bet",
            "backtest_return_per_bet_ci",
            "backtest_bets",
            "model_version",
        ):
            if key in model:
                summary[key] = model[key]
        summary["wall_s"] = round(time.monotonic() - wall_start, 1)
    log(
        f"coverage {summary['coverage']} over {summary['snapshots']} snapshot rows; warehouse at {data_dir / 'warehouse.duckdb'}"
    )
    print(json.dumps(summary), flush=True)
    return 0


def _asset(defs, key: str):
    for assets_def in defs.assets:
        if key in {k.to_user_string() for k in assets_def.keys}:
            return assets_def
    raise KeyError(key)


def _resources(defs) -> dict:
    return dict(defs.resources or {})


def _cron_matches(cron: str, tick: datetime) -> bool:
    from dagster._utils.schedules import cron_string_iterator

    previous = tick - timedelta(seconds=1)
    upcoming = next(cron_string_iterator(previous.timestamp(), cron, "UTC"))
    return upcoming.timestamp() == tick.timestamp()


if __name__ == "__main__":
    sys.exit(main())
