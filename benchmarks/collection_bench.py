"""Collection benchmarks: discovery and one book sweep at 50,000 markets, and coverage over a simulated day.

Every figure drives the library code the Dagster assets call, with the clients configured exactly as the
`polymarket` resource configures them (`PolymarketApiResource` defaults: 100 tokens per batch, 4 workers,
6 retries, 0.2 s backoff base), against `polymarket_sim` in a subprocess with its rate limits on (the
documented limits, enforced by delay) and its clock paused.

discovery (`discovery_50k_*`)
    One simulator with 50,000 market slots. The previous hour's discovery runs first, untimed, with the
    delays and rate limits off: with no discovery before it, it is one sequential keyset listing, which
    makes it the reference for `discovery_50k_matches_sequential` (and leaves the simulator warm: it
    renders a market's static fields once, as the real Gamma serves from its caches). Then every request
    gets a fixed 50 ms delay (the simulator's throttling-delay fault at rate 1.0 with min = max = 50 ms)
    and the timed discovery runs the `markets` asset's loop: `GammaClient.iter_open_markets_partitioned`
    with the previous discovery's end dates (4 concurrent keyset streams over 16 endDate ranges), each page
    archived with `RawArchive.add`, each market parsed with `parse_gamma_market`, then one
    `market_state_row` per market. Parquet writes after the listing are not timed.
    Floor = max(pages / (300 requests per 10 s, the documented /markets limit),
                pages x 50 ms / 4 concurrent streams), with pages = ceil(open markets / 100), the fewest
    pages any listing needs; the ratio is elapsed / floor. `bench_discovery(time_first_run=True)` also times
    the first-ever discovery (sequential, so its floor uses 1 stream); it is not part of `run()`.

sweep (`sweep_50k_*`)
    The same simulator one simulated minute later, with no injected delay. A child process reads
    `markets_current` from a lake (as `capture_slot` does), sweeps every open market (both tokens) with
    `sweep_books` through batched `POST /books` with the book metrics, then builds and writes the
    snapshots, orderbooks and raw-archive files as `capture_slot` does (`sweep_50k_write_s`, not in the
    headline). Peak RSS is the child's VmHWM (/proc/self/status), so it includes the current table the
    sweep reads and the writes. Floor = POST /books batches / (500 requests per 10 s, the documented
    limit). `_client_cpu_s` and `_sim_cpu_s` say how much CPU each side needed: on a busy machine the
    simulator's share of a core, not the client, can set the pace.
    The simulator is one single-threaded process, so the CPU seconds it spends serving a pass are a floor
    too: no client is answered faster. `discovery_50k_server_floor_ratio` and `sweep_50k_server_floor_ratio`
    divide by the larger of that and the floor above (context, not a target: they tell a slow client from a
    slow day of the test server). `bench_sweep(latencies_s=...)` repeats
    the sweep with a fixed delay per request (not part of `run()`).

coverage (`coverage_24h_heavy*`)
    24 simulated hours of every tier with the `heavy` fault profile and 300 market slots. Running the 4,000+
    Dagster runs of a day would take hours here, so this drives the same library functions the assets call
    while stepping paused simulators through every scheduled instant:
      * every hour H: the `markets` asset's discovery (partitioned listing, `parse_gamma_market`,
        `market_state_row`, `merge_current`; a failed discovery is retried twice after 5 s and 10 s, as the
        asset's RetryPolicy does) with the clock at H;
      * every 15 s instant t in the hour, with the clock set to t: each tier due at t (T4 every 15 s, T3 30 s,
        T2 1 min, T1 5 min, T0 and STALE hourly) gets `select_markets` on the current table (round-tripped
        through its Arrow schema) and `sweep_books` (T2-T4) or `sweep_prices` (T0, T1, STALE), with fresh
        clients for every slot run (a minute for T2-T4, five for T1, an hour for T0/STALE) and the run's
        shared `known_without_book` set, as `capture_slot` does; tiers due at the same instant run
        concurrently, as their runs would. A sweep raising `ApiError` captures nothing. Rows are converted
        with the snapshots schema and their (condition_id, slot_ts) pairs are the captured pairs;
      * per hour, exactly the `coverage` asset's computation: `expected_pairs` over the market states of the
        hour and the three before it, then `coverage_rows`.
    The day is cut into `COVERAGE_SEGMENTS` consecutive blocks of hours, each on its own simulator (same
    seed and start, so the same world) run in parallel; a block that does not start the day first runs an
    unrecorded discovery an hour before its first hour, so its first listing has a previous discovery as
    in a continuous run. Because the clock is paused, a sweep is never late: this measures whether the
    retries and fallbacks recover every request under heavy faults, not timing. Resolution labels are not
    collected, so `merge_current` gets no final labels (it only prunes rows of resolved markets). The
    simulator counts a request whose client gave up during a hang fault as an internal error
    (`_sim_internal_errors`), so that figure is not zero under `heavy`.

Context numbers (pages, batches, markets, requests, retries, faults injected, CPU seconds, load average)
come with each figure. `run()` takes 6-10 minutes on 2 shared cores: about 1.5 for the 50k figures, the rest
for the simulated day, whose length is set by the heavy profile's waits (a hang costs the client's 10 s read
timeout, a 429 its 1 s Retry-After) and by how busy the machine is.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from polymarket_assets.defs.resources import PolymarketApiResource
from polymarket_assets.lib import tables
from polymarket_assets.lib.clob import CLOB_LIMITS
from polymarket_assets.lib.coverage import coverage_rows, expected_pairs
from polymarket_assets.lib.discovery import OPEN, list_open_markets, market_state_row, merge_current
from polymarket_assets.lib.errors import ApiError
from polymarket_assets.lib.gamma import GAMMA_LIMITS, MAX_MARKETS_PAGE
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.quarantine import Quarantine
from polymarket_assets.lib.raw_archive import RawArchive
from polymarket_assets.lib.schemas import (
    MARKET_CURRENT_SCHEMA,
    MARKET_STATE_SCHEMA,
    ORDERBOOK_SCHEMA,
    SNAPSHOT_SCHEMA,
)
from polymarket_assets.lib.sweep import select_markets, sweep_books, sweep_prices
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from polymarket_sim import run_sim

REPO = Path(__file__).resolve().parent.parent

N_MARKETS = 50_000
LATENCY_S = 0.05
SEED = 7
MARKETS_LIMIT = GAMMA_LIMITS["/markets"]  # (300, 10.0)
BOOKS_LIMIT = CLOB_LIMITS["/books"]  # (500, 10.0)

COVERAGE_MARKETS = 300
COVERAGE_HOURS = 24
COVERAGE_SEGMENTS = 24
COVERAGE_SEED = 11
COVERAGE_START = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
# The asset RetryPolicy (defs/policies.py): 2 retries, 5 s base delay, exponential.
DISCOVERY_RETRY_DELAYS_S = (5.0, 10.0)
STEP_S = 15  # the shortest tier interval: every scheduled instant is a multiple of it


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _resource(urls: dict) -> PolymarketApiResource:
    """The `polymarket` resource as the definitions build it, pointed at a simulator."""
    return PolymarketApiResource(
        gamma_url=urls["PM_GAMMA_URL"], clob_url=urls["PM_CLOB_URL"], data_api_url=urls["PM_DATA_API_URL"]
    )


def _fixed_latency(sim, seconds: float) -> None:
    """Every request waits exactly `seconds` before it is served (the simulator's delay fault)."""
    sim.control.set_faults(
        profile="none", delay_rate=1.0 if seconds > 0 else 0.0, delay_min_s=seconds, delay_max_s=seconds
    )


def _now(sim) -> datetime:
    return datetime.fromtimestamp(sim.control.now(), tz=UTC)


# -- discovery ------------------------------------------------------------------------------------------------


def discover(polymarket: PolymarketApiResource, now: datetime, previous: list[dict], data_dir: Path) -> dict:
    """The `markets` asset's listing (`list_open_markets`) without its Parquet writes."""
    quarantine = Quarantine(data_dir, "gamma_markets")
    listing = list_open_markets(
        polymarket.gamma, now, previous, quarantine, RawArchive(data_dir, "gamma_markets")
    )
    rows = [market_state_row(market, now) for market in listing.markets.values()]
    return {
        "rows": rows,
        "unparsed": listing.unparsed,
        "pages_yielded": listing.pages,
        "listing": listing.report,
        "quarantined": quarantine.count,
    }


def _timed_discovery(sim, now: datetime, previous: list[dict], data_dir: Path, latency_s: float) -> dict:
    polymarket = _resource(sim.urls)
    started, cpu = time.perf_counter(), time.process_time()
    found = discover(polymarket, now, previous, data_dir)
    found["elapsed_s"] = time.perf_counter() - started
    found["client_cpu_s"] = time.process_time() - cpu
    found["stats"] = polymarket.gamma.stats.as_dict()
    markets = len(found["rows"])
    pages_min = max(1, math.ceil(markets / MAX_MARKETS_PAGE))
    limit_n, limit_w = MARKETS_LIMIT
    streams = found["listing"].get("streams", 1)
    found["floor_s"] = max(pages_min / (limit_n / limit_w), pages_min * latency_s / max(1, streams))
    found["pages_min"] = pages_min
    return found


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (0.0 where unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def bench_discovery(
    sim, data_dir: Path, label: str = "50k", latency_s: float = LATENCY_S, time_first_run: bool = False
) -> tuple[dict, list[dict]]:
    """Hourly discovery against `sim`; returns the metrics and the current table it leaves.

    The previous hour's discovery comes first, untimed, with the delay and rate limits off. With no
    discovery before it, it is a plain sequential keyset listing (`iter_open_markets`), so it is also the
    reference the timed, partitioned listing must match; and it leaves the simulator warm (it renders a
    market's static fields once, as the real Gamma serves from its caches). `time_first_run` instead
    times it with the delay and rate limits on (`_first_run_*`).
    """
    now = _now(sim)
    if not time_first_run:
        sim.control.set_faults(profile="none", rate_limit_mode="off")
    else:
        _fixed_latency(sim, latency_s)
    first = _timed_discovery(sim, now, [], data_dir, latency_s)
    sim.control.set_faults(profile="none", rate_limit_mode="throttle")
    previous, _, _ = merge_current([], first["rows"], now)
    _fixed_latency(sim, latency_s)
    load = _load()
    sim_cpu = _cpu_s(sim.process.pid)
    steady = _timed_discovery(sim, now, previous, data_dir, latency_s)
    sim_cpu = _cpu_s(sim.process.pid) - sim_cpu
    current, _, _ = merge_current(previous, steady["rows"], now, set(), steady["unparsed"])
    _fixed_latency(sim, 0.0)
    p = f"discovery_{label}"
    out = {
        f"{p}_s": round(steady["elapsed_s"], 2),
        f"{p}_floor_s": round(steady["floor_s"], 2),
        f"{p}_floor_ratio": round(steady["elapsed_s"] / steady["floor_s"], 3),
        f"{p}_server_floor_ratio": round(steady["elapsed_s"] / max(steady["floor_s"], sim_cpu), 3),
        f"{p}_markets": len(steady["rows"]),
        f"{p}_pages_min": steady["pages_min"],
        f"{p}_requests": int(steady["stats"]["requests"]),
        f"{p}_retries": int(steady["stats"]["retries"]),
        f"{p}_throttle_wait_s": round(float(steady["stats"]["throttle_wait_s"]), 2),
        f"{p}_ranges": steady["listing"].get("ranges"),
        f"{p}_streams": steady["listing"].get("streams"),
        f"{p}_fallback": steady["listing"].get("fallback") or "",
        f"{p}_latency_ms": round(latency_s * 1000),
        f"{p}_client_cpu_s": round(steady["client_cpu_s"], 2),
        f"{p}_sim_cpu_s": round(sim_cpu, 2),
        f"{p}_loadavg_1m": load,
        f"{p}_matches_sequential": {r["gamma_id"] for r in steady["rows"]}
        == {r["gamma_id"] for r in first["rows"]},
    }
    if time_first_run:
        out.update(
            {
                f"{p}_first_run_s": round(first["elapsed_s"], 2),
                f"{p}_first_run_floor_ratio": round(first["elapsed_s"] / first["floor_s"], 3),
                f"{p}_first_run_requests": int(first["stats"]["requests"]),
            }
        )
    return out, current


# -- sweep ----------------------------------------------------------------------------------------------------


def _vm_hwm_mb() -> float:
    """Peak resident set size of this process (Linux VmHWM; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _sweep_child(spec: dict) -> dict:
    """Runs in a fresh process: read markets_current, sweep every open market's books, write like capture_slot."""
    store = Lake(spec["data_dir"])
    current = store.read(tables.MARKETS_CURRENT.name).to_pylist()
    markets = [r for r in current if r["discovery_status"] == OPEN and r["yes_token_id"] and r["no_token_id"]]
    hwm_before = _vm_hwm_mb()
    polymarket = _resource(spec["urls"])
    tier = DEFAULT_PLAN.by_name("T2")
    slot = datetime.fromisoformat(spec["slot"])
    quarantine = Quarantine(spec["data_dir"], "snapshots_t2")
    started = time.perf_counter()
    cpu = time.process_time()
    result = sweep_books(
        polymarket.clob,
        markets,
        tier,
        slot,
        slot,
        quarantine,
        batch_size=polymarket.books_batch_size,
        max_workers=polymarket.max_workers,
        known_without_book=set(),
    )
    sweep_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu
    hwm_sweep = _vm_hwm_mb()
    started = time.perf_counter()
    parts = {"tier": tier.name, "date": slot.strftime("%Y-%m-%d"), "hour": slot.strftime("%H")}
    stem = f"slot-{slot:%Y%m%dT%H%M%S}"
    table = pa.Table.from_pylist(result.rows, schema=SNAPSHOT_SCHEMA)
    store.write("snapshots", table, parts, stem)
    if result.orderbooks:
        store.write(
            "orderbooks", pa.Table.from_pylist(result.orderbooks, schema=ORDERBOOK_SCHEMA), parts, stem
        )
    raw = RawArchive(store.data_dir, "clob_books")
    for endpoint, request, body in result.raw:
        raw.add(slot, endpoint, request, body)
    raw.flush(parts, stem)
    write_s = time.perf_counter() - started
    stats = polymarket.clob.stats.as_dict()
    return {
        "sweep_s": sweep_s,
        "cpu_s": cpu_s,
        "write_s": write_s,
        "markets": len(markets),
        "rows": table.num_rows,
        "orderbooks": len(result.orderbooks),
        "failed": len(result.failed_condition_ids),
        "no_orderbook": sum(1 for r in result.rows if r.get("book_status") == "no_orderbook"),
        "batches": math.ceil(2 * len(markets) / polymarket.books_batch_size),
        "requests": int(stats["requests"]),
        "retries": int(stats["retries"]),
        "throttle_wait_s": float(stats["throttle_wait_s"]),
        "workers": polymarket.max_workers,
        "hwm_before_mb": hwm_before,
        "hwm_sweep_mb": hwm_sweep,
        "hwm_mb": _vm_hwm_mb(),
    }


def _run_sweep_child(sim, data_dir: Path, slot: datetime) -> dict:
    spec = {"urls": sim.urls, "data_dir": str(data_dir), "slot": slot.isoformat()}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.collection_bench", "--sweep-child", json.dumps(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"sweep child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_sweep(
    sim, current: list[dict], data_dir: Path, label: str = "50k", latencies_s: tuple[float, ...] = (0.0,)
) -> dict:
    """One book sweep of every open market in `current`, in a child process, per injected latency."""
    lake = Lake(data_dir)
    lake.replace_partition(
        tables.MARKETS_CURRENT.name, pa.Table.from_pylist(current, schema=MARKET_CURRENT_SCHEMA), {}
    )
    out: dict = {}
    limit_n, limit_w = BOOKS_LIMIT
    for latency in latencies_s:
        sim.control.advance(60)
        slot = _now(sim)
        _fixed_latency(sim, latency)
        load = _load()
        sim_cpu = _cpu_s(sim.process.pid)
        child = _run_sweep_child(sim, data_dir, slot)
        sim_cpu = _cpu_s(sim.process.pid) - sim_cpu
        _fixed_latency(sim, 0.0)
        p = f"sweep_{label}" if latency == 0 else f"sweep_{label}_latency{round(latency * 1000)}"
        floor = child["batches"] / (limit_n / limit_w)
        out.update(
            {
                f"{p}_s": round(child["sweep_s"], 2),
                f"{p}_floor_s": round(floor, 2),
                f"{p}_floor_ratio": round(child["sweep_s"] / floor, 3),
                f"{p}_server_floor_ratio": round(child["sweep_s"] / max(floor, sim_cpu), 3),
                f"{p}_peak_rss_mb": round(child["hwm_mb"], 1),
                f"{p}_write_s": round(child["write_s"], 2),
                f"{p}_batches": child["batches"],
                f"{p}_requests": child["requests"],
                f"{p}_retries": child["retries"],
                f"{p}_throttle_wait_s": round(child["throttle_wait_s"], 2),
                f"{p}_markets": child["markets"],
                f"{p}_rows": child["rows"],
                f"{p}_orderbooks": child["orderbooks"],
                f"{p}_failed_markets": child["failed"],
                f"{p}_no_orderbook": child["no_orderbook"],
                f"{p}_workers": child["workers"],
                f"{p}_rss_before_sweep_mb": round(child["hwm_before_mb"], 1),
                f"{p}_peak_rss_sweep_only_mb": round(child["hwm_sweep_mb"], 1),
                f"{p}_client_cpu_s": round(child["cpu_s"], 2),
                f"{p}_sim_cpu_s": round(sim_cpu, 2),
                f"{p}_loadavg_1m": load,
            }
        )
    return out


def bench_discovery_and_sweep(
    markets: int = N_MARKETS,
    label: str = "50k",
    latency_s: float = LATENCY_S,
    sweep_latencies_s: tuple[float, ...] = (0.0,),
    time_first_run: bool = False,
) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="collection_bench_") as tmp,
        run_sim(markets=markets, seed=SEED, speed=0, faults="none", startup_timeout=300) as sim,
    ):
        out, current = bench_discovery(sim, Path(tmp) / "discovery", label, latency_s, time_first_run)
        out.update(bench_sweep(sim, current, Path(tmp) / "sweep", label, sweep_latencies_s))
        out[f"collection_sim_internal_errors_{label}"] = int(sim.control.stats().get("internal_errors", 0))
    return out


# -- coverage over a simulated day ------------------------------------------------------------------------------


class _Tally:
    """Thread-safe counters shared by the coverage segments."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.client: Counter[str] = Counter()
        self.errors: list[str] = []

    def add(self, **counts: int) -> None:
        with self.lock:
            self.counts.update(counts)

    def add_client(self, polymarket: PolymarketApiResource) -> None:
        stats = polymarket.stats()
        with self.lock:
            for key in ("requests", "retries", "failures", "circuit_rejections"):
                self.client[key] += int(stats.get(key, 0))
            for key, value in stats.items():
                if key.startswith(("retry_", "status_")):
                    self.client[key] += int(value)

    def error(self, text: str) -> None:
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(text[:300])


def _roundtrip(rows: list[dict], schema: pa.Schema) -> list[dict]:
    """Rows as a reader of the lake gets them back (types coerced by the table's schema)."""
    return pa.Table.from_pylist(rows, schema=schema).to_pylist()


def _coverage_discovery(
    sim, hour: datetime, previous: list[dict], data_dir: Path, tally: _Tally, record: list[dict] | None
) -> list[dict]:
    """One `markets` run at `hour` (with the asset's run retries); returns the new current table."""
    sim.control.set_time(hour.timestamp())
    for attempt, delay in enumerate((0.0, *DISCOVERY_RETRY_DELAYS_S)):
        time.sleep(delay)
        polymarket = _resource(sim.urls)
        try:
            found = discover(polymarket, hour, previous, data_dir)
        except ApiError as exc:
            tally.add(discovery_failures=1)
            tally.error(f"discovery {hour.isoformat()} attempt {attempt}: {exc}")
            continue
        finally:
            tally.add_client(polymarket)
        tally.add(discoveries=1, discovery_quarantined=found["quarantined"])
        if record is not None:
            with tally.lock:
                record.extend(found["rows"])
        current, _, _ = merge_current(previous, found["rows"], hour, set(), found["unparsed"])
        return _roundtrip(current, MARKET_CURRENT_SCHEMA)
    tally.add(discoveries_lost=1)
    return previous


def _coverage_segment(
    sim,
    hours: list[datetime],
    minutes: int,
    warm_up: bool,
    data_dir: Path,
    tally: _Tally,
    states: list[dict],
    captured: dict,
    faults: Counter,
) -> None:
    """Discovery every hour and every tier's sweeps at every instant of `hours`, on one paused simulator."""
    plan = DEFAULT_PLAN
    quarantine = Quarantine(data_dir, "snapshots_bench")
    runs: dict[
        tuple[str, datetime], tuple[PolymarketApiResource, set[str]]
    ] = {}  # the live slot run per tier
    current: list[dict] = []
    if warm_up:
        # The deployment was already running: its previous discovery is part of the record coverage is scored
        # from, so the segment's first instants are not a new market's first (unsweepable) slot.
        current = _coverage_discovery(sim, hours[0] - timedelta(hours=1), [], data_dir, tally, states)

    def sweep(tier, instant: datetime, slot: datetime) -> None:
        polymarket, known = runs[(tier.name, slot)]
        chosen = select_markets(current, tier.name, instant, plan)
        if not chosen:
            return
        try:
            if tier.books:
                result = sweep_books(
                    polymarket.clob,
                    chosen,
                    tier,
                    instant,
                    instant,
                    quarantine,
                    batch_size=polymarket.books_batch_size,
                    max_workers=polymarket.max_workers,
                    known_without_book=known,
                )
            else:
                result = sweep_prices(
                    polymarket.clob,
                    chosen,
                    tier,
                    instant,
                    instant,
                    quarantine,
                    batch_size=polymarket.books_batch_size,
                )
        except ApiError as exc:
            tally.add(sweeps=1, sweeps_failed=1)
            tally.error(f"{tier.name} {instant.isoformat()}: {exc}")
            return
        tally.add(
            sweeps=1,
            sweeps_partial=1 if result.failed_condition_ids else 0,
            markets_failed=len(result.failed_condition_ids),
        )
        pairs = [
            {"condition_id": r["condition_id"], "slot_ts": r["slot_ts"]}
            for r in _roundtrip(result.rows, SNAPSHOT_SCHEMA)
        ]
        with tally.lock:
            captured.setdefault((tier.name, instant.replace(minute=0, second=0)), []).extend(pairs)

    with ThreadPoolExecutor(max_workers=len(plan.tiers), thread_name_prefix="tier") as pool:
        for hour in hours:
            current = _coverage_discovery(sim, hour, current, data_dir, tally, states)
            for step in range(minutes * 60 // STEP_S):
                instant = hour + timedelta(seconds=step * STEP_S)
                epoch = int(instant.timestamp())
                sim.control.set_time(epoch)
                due = []
                for tier in plan.tiers:
                    if epoch % tier.interval_s:
                        continue
                    slot = datetime.fromtimestamp(epoch - epoch % tier.slot_s, tz=UTC)
                    if (tier.name, slot) not in runs:
                        # A new slot run with its own clients; the tier's previous run is over.
                        for key in [k for k in runs if k[0] == tier.name]:
                            tally.add_client(runs.pop(key)[0])
                        runs[(tier.name, slot)] = (_resource(sim.urls), set())
                    due.append((tier, slot))
                for future in [pool.submit(sweep, tier, instant, slot) for tier, slot in due]:
                    future.result()
    for polymarket, _ in runs.values():
        tally.add_client(polymarket)
    stats = sim.control.stats()
    with tally.lock:
        faults.update(stats.get("faults", {}))
        tally.counts["sim_internal_errors"] += int(stats.get("internal_errors", 0))


def _start_sims(stack: ExitStack, log_path: Path, count: int, **options) -> list:
    """Start `count` simulators at once, their stderr (aiohttp logs each request a client abandoned after a
    hang fault) going to `log_path` rather than the console; `stack` stops them."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    managers = [run_sim(**options) for _ in range(count)]
    with open(log_path, "ab") as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)  # inherited by the simulators started now
        try:
            with ThreadPoolExecutor(max_workers=count) as pool:
                entered = [pool.submit(manager.__enter__) for manager in managers]
                handles, failures = [], []
                for manager, future in zip(managers, entered):
                    try:
                        handles.append(future.result())
                    except Exception as exc:  # noqa: BLE001 - raised below once the started ones are registered
                        failures.append(exc)
                    else:
                        stack.push(manager.__exit__)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    if failures:
        raise RuntimeError(f"{len(failures)} of {count} simulators did not start: {failures[0]}")
    return handles


def bench_coverage(
    markets: int = COVERAGE_MARKETS,
    hours: int = COVERAGE_HOURS,
    profile: str = "heavy",
    segments: int = COVERAGE_SEGMENTS,
    label: str = "24h_heavy",
    minutes: int = 60,
) -> dict:
    """Coverage over `hours` simulated hours (see the module docstring). `minutes` < 60 steps through only the
    first minutes of each hour and scores that part of it (for the smoke test)."""
    all_hours = [COVERAGE_START + timedelta(hours=h) for h in range(hours)]
    segments = max(1, min(segments, hours))
    blocks = [all_hours[i * hours // segments : (i + 1) * hours // segments] for i in range(segments)]
    tally = _Tally()
    states: list[dict] = []
    captured: dict[tuple[str, datetime], list[dict]] = {}
    faults: Counter[str] = Counter()
    started, cpu = time.perf_counter(), time.process_time()
    load = _load()
    sims_cpu = 0.0
    with tempfile.TemporaryDirectory(prefix="coverage_bench_") as tmp, ExitStack() as stack:
        sims = _start_sims(
            stack,
            Path(tmp) / "simulators.log",
            segments,
            markets=markets,
            seed=COVERAGE_SEED,
            speed=0,
            faults=profile,
            start=(COVERAGE_START - timedelta(hours=1)).isoformat(),
        )
        with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="segment") as pool:
            futures = [
                pool.submit(
                    _coverage_segment,
                    sim,
                    block,
                    minutes,
                    True,
                    Path(tmp) / f"s{i}",
                    tally,
                    states,
                    captured,
                    faults,
                )
                for i, (sim, block) in enumerate(zip(sims, blocks))
            ]
            for future in futures:
                future.result()
        sims_cpu = sum(_cpu_s(sim.process.pid) for sim in sims)
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - cpu

    # The coverage asset, hour by hour.
    columns = [
        "observed_at",
        "condition_id",
        "end_date",
        "yes_token_id",
        "no_token_id",
    ]  # what the asset reads
    states = pa.Table.from_pylist(states, schema=MARKET_STATE_SCHEMA).select(columns).to_pylist()
    totals: Counter[str] = Counter()
    per_tier: dict[str, Counter[str]] = {t.name: Counter() for t in DEFAULT_PLAN.tiers}
    worst_hour = (None, 2.0)
    for hour in all_hours:
        end = hour + timedelta(minutes=minutes)
        window_states = [s for s in states if hour - timedelta(hours=3) <= s["observed_at"] < end]
        expected = expected_pairs(window_states, hour, end)
        got = {t: {(r["condition_id"], r["slot_ts"]) for r in captured.get((t, hour), [])} for t in expected}
        hour_expected = hour_captured = 0
        for row in coverage_rows(expected, got, hour, end):
            per_tier[row["tier"]].update(expected=row["expected"], captured=row["captured"])
            hour_expected += row["expected"]
            hour_captured += row["captured"]
        totals.update(expected=hour_expected, captured=hour_captured)
        if hour_expected and hour_captured / hour_expected < worst_hour[1]:
            worst_hour = (hour, hour_captured / hour_expected)
    p = f"coverage_{label}"
    out = {
        p: round(totals["captured"] / totals["expected"], 6) if totals["expected"] else None,
        f"{p}_expected_pairs": totals["expected"],
        f"{p}_captured_pairs": totals["captured"],
        f"{p}_worst_hour": round(worst_hour[1], 6) if worst_hour[0] else None,
    }
    for name, counts in per_tier.items():
        out[f"{p}_{name}"] = round(counts["captured"] / counts["expected"], 6) if counts["expected"] else None
        out[f"{p}_{name}_expected"] = counts["expected"]
    out.update(
        {
            f"{p}_markets": markets,
            f"{p}_hours": hours,
            f"{p}_minutes_per_hour": minutes,
            f"{p}_segments": segments,
            f"{p}_wall_s": round(wall, 1),
            f"{p}_client_cpu_s": round(client_cpu, 1),
            f"{p}_sims_cpu_s": round(sims_cpu, 1),
            f"{p}_sweeps": tally.counts["sweeps"],
            f"{p}_sweeps_failed": tally.counts["sweeps_failed"],
            f"{p}_sweeps_partial": tally.counts["sweeps_partial"],
            f"{p}_markets_failed": tally.counts["markets_failed"],
            f"{p}_discoveries": tally.counts["discoveries"],
            f"{p}_discovery_failures": tally.counts["discovery_failures"],
            f"{p}_discoveries_lost": tally.counts["discoveries_lost"],
            f"{p}_quarantined_markets": tally.counts["discovery_quarantined"],
            f"{p}_requests": tally.client["requests"],
            f"{p}_retries": tally.client["retries"],
            # Calls that raised, nearly all `GET /book` answering 404 for a market resolved since the hour's
            # discovery (expected: each slot run confirms such a book once, then writes `no_orderbook`).
            f"{p}_client_failures": tally.client["failures"],
            f"{p}_book_404s": tally.client["status_404"],
            f"{p}_circuit_rejections": tally.client["circuit_rejections"],
            f"{p}_faults_injected": sum(v for k, v in faults.items() if not k.startswith("rate_limit")),
            f"{p}_sim_internal_errors": tally.counts["sim_internal_errors"],
            f"{p}_loadavg_1m": load,
        }
    )
    for kind, count in sorted(faults.items()):
        out[f"{p}_fault_{kind}"] = count
    for key, count in sorted(tally.client.items()):
        if key.startswith("retry_"):
            out[f"{p}_{key}"] = count
    if tally.errors:
        out[f"{p}_first_errors"] = " || ".join(tally.errors[:5])
    return out


def run() -> dict:
    out = bench_discovery_and_sweep()
    out.update(bench_coverage())
    return out


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--sweep-child":
        print(json.dumps(_sweep_child(json.loads(sys.argv[2]))), flush=True)
    else:
        print(json.dumps(run(), indent=1))
