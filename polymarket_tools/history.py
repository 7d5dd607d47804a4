"""Resolved history for the model, produced by the real collection assets on a simulator stepped through time.

A model needs hundreds of resolved markets; live collection sees a few per hour. Against `polymarket_sim`
with its clock paused, this steps simulated time forward at a coarse cadence (hourly by default) and at each
step runs what production runs, through real Dagster runs on the instance in `DAGSTER_HOME`:

1. discovery (`markets_job`) at the step's instant;
2. the recorder's Data API backfill (`ws_sidecar.backfill.Backfiller.reconcile`, the path the sidecar uses to
   fill its gaps) for every tracked market since the previous step, written as incoming files, then taken
   into the lake by `ws_ingest_job` one hour behind;
3. one slot run per tier (`snapshots_<tier>_job`) at the step's instant, with the clock stepped through the
   slot's sweep instants exactly as the collection tests do;
4. `resolutions_job` every few steps and at the end.

Only the cadence is coarse: every row is written by the same code as in production, so the features, labels
and splits built on it are the ones production would build. By default T4 (under an hour to close) and the
stale tier are left out: no training horizon (24 h, 4 h, 1 h before close) ever selects their rows, and their
sub-minute instants are the most expensive to step through.

`run_ml_demo` (the `make demo` hand-over) runs this history and then the ML assets end to end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from polymarket_assets.lib.ml.dataset import HORIZONS_H
from polymarket_assets.lib.tiers import DEFAULT_PLAN

HISTORY_TIERS = DEFAULT_PLAN.names_beyond(min(HORIZONS_H))
STEP = timedelta(hours=1)


def _execute_with_env(env: dict, job_name: str, partition_key, run_config, tags):
    import os

    from polymarket_tools.local_runner import execute_run

    os.environ.update(env)
    return execute_run(job_name, partition_key, run_config, tags)


class CleanRunPool:
    """`LocalRunPool`'s interface, with workers forked from a fresh forkserver instead of from the caller.

    Forking a process that already ran XGBoost (OpenMP) or DuckDB leaves their thread pools' locks held in
    the child, whose first training then hangs for ever. Tests and benchmarks that train in process and also
    launch runs use this pool (`make demo` never trains in its driver, so its fork pool is safe). The
    forkserver outlives the pool, so each run is given the environment the pool was created with.
    """

    def __init__(self, workers: int = 4):
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["polymarket_tools.local_runner", "polymarket_assets.definitions"])
        self.workers = workers
        self.env = {k: v for k, v in os.environ.items() if k.startswith(("PM_", "DAGSTER_", "AWS_"))}
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)

    def submit(self, job_name: str, partition_key=None, run_config=None, tags=None):
        return self._pool.submit(_execute_with_env, self.env, job_name, partition_key, run_config, tags)

    def submit_request(self, job_name: str, request, overrides: dict | None = None):
        from polymarket_tools.local_runner import merge_config

        config = merge_config(dict(request.run_config or {}), overrides or {})
        return self.submit(job_name, request.partition_key, config, dict(request.tags or {}))

    def shutdown(self, kill: bool = False) -> None:
        from polymarket_tools.local_runner import close_pool

        close_pool(self._pool, kill=kill)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.shutdown(kill=exc_type is not None)


def _partition(ts: datetime) -> str:
    from polymarket_assets.defs.partitions import hourly_partitions

    return hourly_partitions.get_partition_key_for_timestamp(ts.timestamp())


def _data_api_client(url: str, min_trade_usd: float | None):
    """The project's Data API client; with `min_trade_usd`, one that lists only trades of at least that many
    dollars (the API's own `filterType=CASH` filter)."""
    from polymarket_assets.lib.data_api import DataApiClient

    class _CashFilteredClient(DataApiClient):
        def get_json(self, path, params=None, *, endpoint=None):
            if path == "/trades":
                params = {**(params or {}), "filterType": "CASH", "filterAmount": min_trade_usd}
            return super().get_json(path, params, endpoint=endpoint)

    return _CashFilteredClient(url, max_retries=6) if min_trade_usd else DataApiClient(url, max_retries=6)


class _SteppedClock:
    """The recorder's clock interface (`now_us`) reading the paused simulator's time, or a frozen instant:
    a backfill that fetches trades up to a step's instant observed them at that instant, even if the sweeps
    running beside it have moved the simulated clock a few seconds on."""

    def __init__(self, sim):
        self.sim = sim
        self.frozen_s: float | None = None

    def now(self) -> float:
        return self.frozen_s if self.frozen_s is not None else self.sim.control.now()

    def now_us(self) -> int:
        return int(self.now() * 1_000_000)


@dataclass
class HistoryStats:
    steps: int = 0
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    trades_backfilled: int = 0
    incomplete_fetches: int = 0
    wall_s: float = 0.0
    phase_s: dict[str, float] = field(default_factory=dict)

    def timed(self, phase: str, began: float) -> None:
        self.phase_s[phase] = self.phase_s.get(phase, 0.0) + time.monotonic() - began

    def as_dict(self) -> dict:
        return {
            "steps": self.steps,
            "runs": self.runs,
            "failed_runs": len(self.failed_runs),
            "trades_backfilled": self.trades_backfilled,
            "incomplete_fetches": self.incomplete_fetches,
            "wall_s": round(self.wall_s, 1),
            "phase_s": {k: round(v, 1) for k, v in self.phase_s.items()},
        }


class HistoryCollector:
    """Steps a paused simulator through [start, until) and records it with the collection assets."""

    def __init__(
        self,
        pool,
        sim,
        data_dir,
        *,
        tiers=HISTORY_TIERS,
        resolutions_every: int = 6,
        run_config_overrides: dict | None = None,
        log: Callable[[str], None] | None = None,
        sweep_timeout_s: float = 120.0,
        min_trade_usd: float | None = None,
        discover_every: int = 1,
        trade_tiers: tuple[str, ...] | None = None,
    ):
        from polymarket_assets.lib.parquet_store import Lake
        from ws_sidecar.backfill import Backfiller
        from ws_sidecar.config import SidecarConfig
        from ws_sidecar.reconcile import TradeIndex
        from ws_sidecar.writer import Writer

        self.pool = pool
        self.sim = sim
        self.data_dir = Path(data_dir)
        self.lake = Lake(self.data_dir)
        self.tiers = tuple(tiers)
        self.resolutions_every = resolutions_every
        self.overrides = run_config_overrides or {}
        self.log = log or (lambda message: None)
        self.sweep_timeout_s = sweep_timeout_s
        self.discover_every = max(1, discover_every)
        self.trade_tiers = set(trade_tiers) if trade_tiers else None
        self.stats = HistoryStats()
        clock = self.clock = _SteppedClock(sim)
        cfg = SidecarConfig(data_dir=self.data_dir, backfill_chunk=50)
        run_id = uuid.uuid4().hex[:8]  # the incoming-file contract: 8 hex digits
        self.writer = Writer(self.data_dir, run_id, clock)
        self.backfiller = Backfiller(
            cfg,
            clock,
            TradeIndex(),
            self.writer,
            _data_api_client(sim.env["PM_DATA_API_URL"], min_trade_usd),
            run_id,
            audited_through=0.0,
            tracked=lambda now: [],
            horizon_limit=lambda: None,
            on_audited=lambda t: None,
        )
        self._last_trades_s: float | None = None
        self._step = STEP
        self._ingest: list = []
        self._ingested_hours: set[str] = set()

    # -- runs ---------------------------------------------------------------------------------------------

    def _run(self, job_name: str, partition_key: str | None = None, run_config: dict | None = None):
        from polymarket_tools.local_runner import merge_config

        future = self.pool.submit(job_name, partition_key, merge_config(run_config or {}, self.overrides))
        return future

    def _check(self, outcome) -> bool:
        self.stats.runs += 1
        if not outcome.success:
            self.stats.failed_runs.append(f"{outcome.job_name} {outcome.partition_key}: {outcome.error}")
            self.log(f"run {outcome.job_name} {outcome.partition_key} failed: {(outcome.error or '')[:300]}")
        return outcome.success

    # -- one step -----------------------------------------------------------------------------------------

    def step(self, instant: datetime, resolve: bool, discover: bool = True) -> None:
        self.sim.control.set_time(instant.timestamp())
        began = time.monotonic()
        if discover:
            self._check(self._run("markets_job", _partition(instant)).result())
        self.stats.timed("discovery", began)
        # The backfill (HTTP against the simulator) runs beside the slot runs.
        began = time.monotonic()
        self.clock.frozen_s = instant.timestamp()
        errors: list[BaseException] = []

        def backfill() -> None:
            try:
                self._backfill_trades(instant)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the stepping thread below
                errors.append(exc)

        thread = threading.Thread(target=backfill, name="history-backfill")
        thread.start()
        self._slots(instant)
        self.stats.timed("slots", began)
        thread.join()
        self.clock.frozen_s = None
        self.stats.timed("slots_and_trades", began)
        if errors:
            raise errors[0]
        began = time.monotonic()
        if resolve:
            self._check(self._run("resolutions_job", _partition(instant)).result())
        self._ingest_finished_hours(instant)
        self.stats.timed("resolutions_ingest", began)
        self.stats.steps += 1

    def _tracked(self, instant: datetime) -> list[str]:
        """Open markets (of `trade_tiers` only, when given: a recorder with a budget keeps the near tiers),
        with tiers computed at the instant from the end date, as the sweeps do."""
        from polymarket_assets.lib.tiers import assign_tier

        current = self.lake.read("markets_current", columns=["condition_id", "discovery_status", "end_date"])
        if current is None:
            return []
        return [
            r["condition_id"]
            for r in current.to_pylist()
            if r["discovery_status"] == "open"
            and (self.trade_tiers is None or assign_tier(r["end_date"], instant) in self.trade_tiers)
        ]

    def _backfill_trades(self, instant: datetime) -> None:
        from ws_sidecar.backfill import IncompleteFetch

        now_s = instant.timestamp()
        start_s = (
            self._last_trades_s if self._last_trades_s is not None else now_s - self._step.total_seconds()
        )
        ids = self._tracked(instant)
        if ids and now_s > start_s:
            before = len(self.backfiller.index)
            # As the recorder does: a window with unreadable (quarantined) rows is fetched again; what was
            # already written is recognised by its uid and not written twice.
            for attempt in range(4):
                try:
                    self.backfiller.reconcile(ids, start_s, now_s)
                    break
                except IncompleteFetch as exc:
                    self.stats.incomplete_fetches += 1
                    if attempt == 3:
                        self.log(f"trades {instant.isoformat()}: {exc} after 4 attempts; moving on")
            self.stats.trades_backfilled += len(self.backfiller.index) - before
            # windows never overlap here, so only a tolerance's worth of the index is ever consulted again
            self.backfiller.index.prune(int((start_s - 3600) * 1000))
        self._last_trades_s = now_s

    def _slots(self, slot: datetime) -> None:
        from polymarket_assets.defs.snapshots.schedules import snapshot_run_request
        from polymarket_assets.lib.tiers import DEFAULT_PLAN, slot_instants

        plan = {t: slot_instants(DEFAULT_PLAN.by_name(t), slot) for t in self.tiers}
        futures = {}
        for tier in self.tiers:
            request = snapshot_run_request(DEFAULT_PLAN.by_name(tier), slot - timedelta(minutes=1))
            futures[tier] = self.pool.submit_request(f"snapshots_{tier.lower()}_job", request, self.overrides)
        for instant in sorted({i for values in plan.values() for i in values}):
            self.sim.control.set_time(instant.timestamp())
            due = [t for t, values in plan.items() if instant in values]
            deadline = time.monotonic() + self.sweep_timeout_s
            while not all(self._sweep_logged(t, instant) or futures[t].done() for t in due):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"sweeps {due} at {instant.isoformat()} did not finish")
                time.sleep(0.01)
        for future in futures.values():
            self._check(future.result())

    def _sweep_logged(self, tier: str, instant: datetime) -> bool:
        parts = {"tier": tier, "date": f"{instant:%Y-%m-%d}", "hour": f"{instant:%H}"}
        stem = f"slot-{instant:%Y%m%dT%H%M%S}-"
        return any(p.name.startswith(stem) for p in self.lake.files("sweeps", parts))

    def _ingest_finished_hours(self, instant: datetime) -> None:
        """Write the backfilled trades as incoming files and take every finished hour into the lake."""
        self.writer.flush(kinds=("trades",))
        finished = (instant - STEP).replace(minute=0, second=0, microsecond=0)
        self._ingest_hours([h for h in self._incoming_hours() if h <= finished])

    def _incoming_hours(self) -> list[datetime]:
        from polymarket_assets.lib.incoming import list_incoming

        hours = {f.hour_start for f in list_incoming(self.data_dir, kinds=("trades",))}
        return sorted(hours)

    def _ingest_hours(self, hours: list[datetime]) -> None:
        for hour in hours:
            key = _partition(hour)
            if key in self._ingested_hours:
                continue
            self._ingested_hours.add(key)
            self._ingest.append(self._run("ws_ingest_job", key))

    def finish(self, instant: datetime) -> None:
        """Label what has resolved by `instant`, ingest every remaining hour of trades, wait for all runs."""
        self.sim.control.set_time(instant.timestamp())
        self._check(self._run("resolutions_job", _partition(instant)).result())
        self.writer.flush(kinds=("trades",))
        self._ingest_hours(self._incoming_hours())
        for future in self._ingest:
            self._check(future.result())
        self._ingest = []

    def collect(self, start: datetime, until: datetime, step: timedelta = STEP) -> HistoryStats:
        """Steps at start, start + step, ... while before `until`; ends with `finish` at the last step."""
        began = time.monotonic()
        self._step = step
        instant = start
        last = start
        i = 0
        while instant < until:
            self.step(
                instant,
                resolve=(i % self.resolutions_every == self.resolutions_every - 1),
                discover=(i % self.discover_every == 0),
            )
            if i % 6 == 0:
                self.log(
                    f"history: simulated {instant:%Y-%m-%d %H:%M} UTC ({self.stats.runs} runs, "
                    f"{self.stats.trades_backfilled} trades)"
                )
            last = instant
            instant += step
            i += 1
        self.finish(last + timedelta(minutes=2))
        self.stats.wall_s = time.monotonic() - began
        return self.stats


def hour_ceil(ts: datetime) -> datetime:
    floor = ts.replace(minute=0, second=0, microsecond=0)
    return floor if floor == ts else floor + timedelta(hours=1)


def sim_now(sim) -> datetime:
    return datetime.fromtimestamp(sim.control.now(), tz=UTC)
