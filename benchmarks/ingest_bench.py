"""Ingestion at a year's scale: how many Dagster runs a day the definitions launch at 50k markets, and how long
the recorder takes to start over a year of `incoming/` history.

1. `runs_per_day_50k` (target <= 5,500): derived from the loaded `Definitions`, not from constants:
   - every schedule: its cron ticks over a week / 7, times the run requests one evaluated tick returns;
   - declarative automation: `on_cron` assets by their cron; `eager` assets once per run of a scheduled job
     that updates one of their (not ignored) parents without them;
   - `incoming_files_sensor`: the real `plan_runs` replayed over one day of the recorder's files at its default
     cadence (one file per kind and hour every `flush_interval_s`, plus the previous hour's late rows after each
     hour boundary), ticking every `SENSOR_INTERVAL_S` with the default batching window, plus a health-only run
     for every 5-minute window without an ingestion run (none in steady state);
   - the automation sensor: its runs are the automation parts; the first-model and discovery sensors: none in
     steady state (STEADY_STATE_IDLE_SENSORS);
   - any other sensor: one run per `minimum_interval_seconds` (an upper bound; `ml_retrain_sensor`).
   The recorder's file cadence does not depend on the market count (every flush writes one file per kind and
   hour), so the figure is the one at 50k markets.
2. `sidecar_startup_year_s` (target <= 2 s): `Recorder._start()` (lock, state, temporaries, trade index, writer
   and backfill threads) over a generated year of `incoming/` (file counts, not volume): the last two days at the
   full daily count of (1), the 363 days before at 1/`OLD_DAY_SCALE` of it (the start-up never lists them; the
   full listing of the tree, `sidecar_startup_full_listing_s`, is what a start-up that walks history pays).
"""

from __future__ import annotations

import bisect
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

TARGET_RUNS_PER_DAY = 5_500
TARGET_STARTUP_S = 2.0
OLD_DAY_SCALE = 100
DAY_S = 86_400


def _load() -> float:
    return round(os.getloadavg()[0], 2)


# -- 1. runs per day --------------------------------------------------------------------------------------------


def _cron_runs_per_day(cron: str, timezone: str = "UTC") -> float:
    from dagster._utils.schedules import cron_string_iterator

    start = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday: a weekly cron ticks once in the week after it
    end = (start + timedelta(days=7)).timestamp()
    ticks = 0
    for tick in cron_string_iterator(start.timestamp(), cron, timezone):
        if tick.timestamp() >= end:
            break
        ticks += 1
    return ticks / 7


def _requests_per_tick(repo, schedule) -> int:
    """Run requests of one evaluated tick (the first of the week)."""
    import dagster as dg
    from dagster._utils.schedules import cron_string_iterator

    first = next(
        cron_string_iterator(datetime(2026, 11, 23, tzinfo=UTC).timestamp(), schedule.cron_schedule, "UTC")
    )
    resources = {key: repo.get_top_level_resources()[key] for key in schedule.required_resource_keys}
    with dg.build_schedule_context(
        scheduled_execution_time=first, repository_def=repo, resources=resources
    ) as context:
        data = schedule.evaluate_tick(context)
    return len(data.run_requests or [])


def _walk(condition):
    yield condition
    for child in getattr(condition, "children", None) or []:
        yield from _walk(child)
    operand = getattr(condition, "operand", None)
    if operand is not None:
        yield from _walk(operand)


def _job_assets(repo, job_name: str) -> set:
    return set(repo.get_job(job_name).asset_layer.selected_asset_keys)


def _job_checks(repo, job_name: str) -> set:
    return set(repo.get_job(job_name).asset_layer.asset_graph.asset_check_keys)


def ingest_runs_per_day(day_start_s: int = 1_795_910_400) -> dict:
    """`plan_runs` replayed over a day of files at the recorder's default cadence (see the module docstring)."""
    from polymarket_assets.defs.trades.sensors import SENSOR_INTERVAL_S
    from polymarket_assets.lib.incoming import IncomingFile, file_name, hour_of_epoch_s
    from polymarket_assets.lib.trades.plan import (
        HEALTH_WINDOW_S,
        MAX_FILES_PER_RUN,
        SensorCursor,
        batch_window_s,
        plan_runs,
    )
    from ws_sidecar.config import SidecarConfig

    interval = SidecarConfig().flush_interval_s
    batch_ms = batch_window_s({}) * 1000  # the default, whatever this process's environment says
    listed: list = []
    seq = 0
    for k in range(int(DAY_S / interval)):
        t = day_start_s + k * interval
        hours = [hour_of_epoch_s(t)]
        if t % 3600 < interval:  # the first flush after an hour boundary also holds the last hour's late rows
            hours.append(hour_of_epoch_s(t - 3600))
        for kind in ("trades", "book_updates", "raw_frames"):
            for hour in hours:
                seq += 1
                name = file_name(kind, hour, int(t * 1000) + seq % 1000, seq, "0a1b2c3d")
                key = name[len(kind) + len(hour) + 2 : -len(".parquet")]
                listed.append(IncomingFile(kind, hour, key, Path(name), 1))
    keys = [f.key for f in listed]
    cursor = SensorCursor(health_ms=day_start_s * 1000)
    runs, windows_with_runs = 0, set()
    health_window_ms = HEALTH_WINDOW_S * 1000
    for tick in range(1, int(DAY_S / SENSOR_INTERVAL_S) + 1):
        now_ms = (day_start_s + tick * SENSOR_INTERVAL_S) * 1000
        written = bisect.bisect_right(keys, f"{now_ms:013d}")
        lo = bisect.bisect_right(keys, cursor.floor) if cursor.floor else 0
        plan = plan_runs(
            listed[lo:written], cursor, lambda pk: True, MAX_FILES_PER_RUN, now_ms=now_ms, batch_ms=batch_ms
        )
        cursor = plan.cursor
        runs += len(plan.runs)
        if plan.runs:
            windows_with_runs.add(now_ms // health_window_ms)
    health_only = DAY_S * 1000 // health_window_ms - len(windows_with_runs)
    return {
        "runs": runs + health_only,
        "ingest_runs": runs,
        "health_only_runs": health_only,
        "files": len(listed),
        "batch_window_s": batch_ms // 1000,
    }


# Sensors that launch nothing in steady state at 50k markets, whatever their tick interval: the first-model
# sensor stops for good once a model exists; the discovery sensor requests a run only when the hourly
# markets_schedule has left discovery stale (its tests show both).
STEADY_STATE_IDLE_SENSORS = {"ml_first_model_sensor", "markets_discovery_sensor"}
# Schedules that skip on an empty deployment (no model yet) but request a run every tick in steady state.
STEADY_STATE_ACTIVE_SCHEDULES = {"predictions_schedule"}


def runs_per_day() -> dict:
    from polymarket_assets.definitions import defs

    repo = defs().get_repository_def()
    parts: Counter[str] = Counter()
    scheduled: list[tuple[str, float]] = []  # (job, runs a day) for eager parents and freshness coverage
    for schedule in repo.schedule_defs:
        requests = _requests_per_tick(repo, schedule)
        if schedule.name in STEADY_STATE_ACTIVE_SCHEDULES:
            requests = max(requests, 1)
        per_day = _cron_runs_per_day(schedule.cron_schedule, schedule.execution_timezone or "UTC") * requests
        parts[f"schedule:{schedule.name}"] = per_day
        scheduled.append((schedule.job_name, per_day))

    graph = repo.asset_graph
    for key in graph.get_all_asset_keys():
        condition = graph.get(key).automation_condition
        if condition is None:
            continue
        nodes = list(_walk(condition))
        crons = [n.cron_schedule for n in nodes if type(n).__name__ == "CronTickPassedCondition"]
        if crons:
            parts[f"automation:{key.to_user_string()}"] = _cron_runs_per_day(crons[0])
            continue
        if not any(type(n).__name__ in ("NewlyUpdatedCondition", "AnyDepsCondition") for n in nodes):
            # Only start-up conditions (never built, first evaluation): nothing in steady state.
            parts[f"automation:{key.to_user_string()}"] = 0
            continue
        ignored = set()
        for n in nodes:
            selection = getattr(n, "ignore_selection", None)
            if selection is not None:
                ignored |= set(selection.resolve(graph))
        parents = set(graph.get(key).parent_keys) - ignored
        parts[f"automation:{key.to_user_string()}"] = sum(
            per_day
            for job, per_day in scheduled
            if _job_assets(repo, job) & parents and key not in _job_assets(repo, job)
        )

    ingest = ingest_runs_per_day()
    for sensor in repo.sensor_defs:
        if sensor.name == "incoming_files_sensor":
            parts[f"sensor:{sensor.name}"] = ingest["runs"]
        elif isinstance(sensor, dg.AutomationConditionSensorDefinition):
            continue  # its runs are the automation parts above
        elif sensor.name in STEADY_STATE_IDLE_SENSORS:
            parts[f"sensor:{sensor.name}"] = 0
        else:
            parts[f"sensor:{sensor.name}"] = DAY_S / (sensor.minimum_interval_seconds or 30)
    total = sum(parts.values())
    return {
        "runs_per_day_50k": round(total),
        "runs_per_day_50k_vs_target": round(total / TARGET_RUNS_PER_DAY, 3),
        "runs_per_day_ingest": ingest["runs"],
        "runs_per_day_ingest_health_only": ingest["health_only_runs"],
        "runs_per_day_snapshot_slots": round(
            sum(v for k, v in parts.items() if k.startswith("schedule:snapshots_") and "reassembly" not in k)
        ),
        "runs_per_day_other_schedules": round(
            sum(
                v
                for k, v in parts.items()
                if k.startswith("schedule:")
                and not (k.startswith("schedule:snapshots_") and "reassembly" not in k)
            )
        ),
        "runs_per_day_automation": round(sum(v for k, v in parts.items() if k.startswith("automation:"))),
        "runs_per_day_other_sensors": round(
            sum(v for k, v in parts.items() if k.startswith("sensor:") and "incoming" not in k)
        ),
        "ingest_batch_window_s": ingest["batch_window_s"],
        "ingest_files_per_day": ingest["files"],
        "runs_per_day_loadavg_1m": _load(),
    }


# -- 2. recorder start-up ---------------------------------------------------------------------------------------


def _trades_table(n: int, ts_ms: int):
    from ws_sidecar import files

    rows = [
        (
            f"u{ts_ms}-{i}",
            "ws",
            "1" * 77,
            "0x" + "e" * 64,
            "BUY",
            0.5,
            10.0,
            0.0,
            ts_ms + i,
            (ts_ms + i) * 1000,
            None,
            None,
            None,
            "c00",
            "r1",
        )
        for i in range(n)
    ]
    return files.table_from_rows("trades", rows)


def generate_history(
    data_dir: Path, files_per_day: int, days: int, now_s: float, old_day_scale: int = OLD_DAY_SCALE
) -> int:
    """A year of incoming/ by file count: the last two days full, older days at 1/old_day_scale, trades files of
    the last two hours real (the trade index reads them), every other file empty."""
    import pyarrow.parquet as pq

    from polymarket_assets.lib.incoming import day_of_ms, file_name, hour_of_epoch_s, incoming_root

    created = 0
    per_kind = max(1, files_per_day // 3)
    real_since = now_s - 2 * 3600
    for d in range(days):
        day_start = (int(now_s) // DAY_S - d) * DAY_S
        count = per_kind if d < 2 else max(1, per_kind // old_day_scale)
        step = DAY_S / count
        for kind in ("trades", "book_updates", "raw_frames"):
            directory = incoming_root(data_dir) / kind / f"day={day_of_ms(day_start * 1000)}"
            directory.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                t = day_start + i * step
                if t > now_s:
                    break
                path = directory / file_name(kind, hour_of_epoch_s(t), int(t * 1000), i, "0a1b2c3d")
                if kind == "trades" and t >= real_since:
                    pq.write_table(_trades_table(5, int(t * 1000)), path)
                else:
                    path.touch()
                created += 1
    return created


def startup_seconds(data_dir: Path, now_s: float) -> float:
    from ws_sidecar.config import SidecarConfig
    from ws_sidecar.recorder import Recorder
    from ws_sidecar.state import write_json_atomic

    cfg = SidecarConfig(data_dir=data_dir, data_api_url="http://127.0.0.1:9", clob_url="http://127.0.0.1:9")
    write_json_atomic(
        cfg.state_path,
        {
            "run_id": "0a1b2c3d",
            "started_at": now_s - DAY_S,
            "durable_through": now_s - 5,
            "audited_through": now_s - 120,
            "last_file_ms": int(now_s * 1000),
            "tracked": [],
            "clean_shutdown": True,
            "stopped_at": now_s - 1,
            "recording_since": now_s - 365 * DAY_S,
        },
    )
    recorder = Recorder(cfg)
    started = time.perf_counter()
    recorder._start()
    elapsed = time.perf_counter() - started
    recorder.writer.stop()
    recorder.backfiller.stop()
    recorder.writer.join(timeout=10)
    recorder.backfiller.join(timeout=10)
    recorder.clock.close()
    os.close(recorder._lock_fd)
    return elapsed


def sidecar_startup(files_per_day: int, days: int = 365, old_day_scale: int = OLD_DAY_SCALE) -> dict:
    from polymarket_assets.lib.incoming import list_incoming

    now_s = time.time()
    with tempfile.TemporaryDirectory(prefix="ingest_bench_") as tmp:
        data_dir = Path(tmp) / "data"
        created = generate_history(data_dir, files_per_day, days, now_s, old_day_scale)
        started = time.perf_counter()
        listed = sum(1 for _ in list_incoming(data_dir))
        full_listing = time.perf_counter() - started
        elapsed = startup_seconds(data_dir, now_s)
    return {
        "sidecar_startup_year_s": round(elapsed, 3),
        "sidecar_startup_year_vs_target": round(elapsed / TARGET_STARTUP_S, 3),
        "sidecar_startup_full_listing_s": round(full_listing, 3),
        "sidecar_startup_history_files": created,
        "sidecar_startup_history_days": days,
        "sidecar_startup_listed_files": listed,
        "sidecar_startup_loadavg_1m": _load(),
    }


def run() -> dict:
    runs = runs_per_day()
    return {**runs, **sidecar_startup(runs["ingest_files_per_day"])}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
