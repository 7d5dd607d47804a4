"""The production topology, as docker-compose.yml runs it but as plain processes on 127.0.0.1: the user-code
gRPC server, `dagster-daemon run` and `dagster-webserver` against a fresh Postgres database and the committed
dagster.yaml (monitoring polled more often in a copy, keys unchanged) and workspace.yaml, collecting from a
simulator that runs at wall-clock speed, plus a real `python -m ws_sidecar`. Everything is observed through
the webserver's GraphQL API, the lake and Postgres. One topology serves every test of this module:

- the code location loads from the gRPC server and serves the code's asset graph; the running instance is
  the production one (queued runs, tier limits, pools, DefaultRunLauncher); the daemons heartbeat into
  Postgres; compose's healthcheck commands pass against it; nothing listens beyond loopback;
- a tier schedule switched on through GraphQL ticks under the daemon and its slot run succeeds, with the
  sweep made at its instant (and only the schedule we switched on ticks);
- the slot run's asset checks appear with their results;
- the closed files of the sidecar (recording the simulator's websocket) are picked up by
  `incoming_files_sensor`, switched on through GraphQL, whose runs ingest each file once;
- the daemon and the user-code server (with the run worker inside it) are killed with SIGKILL in the
  middle of a snapshot run; after a restart, run monitoring fails the orphaned run, run retries launch a
  retry, the retry succeeds, and the lake holds each (market, instant) once;
- a headless Chromium screenshot of the asset graph page (PM_UPDATE_SCREENSHOT=1 refreshes
  docs/asset_graph.png);
- teardown leaves no process, and the Postgres password reached no log.

The daemon's schedules run on system time while the runs take "now" from the simulator (PM_CLOCK=sim).
The simulator's clock runs SIM_LEAD_S ahead of the system clock, so a slot launched one minute ahead by
its tick comes due 30 s after the tick instead of 60 s: the test takes the real launch path without
waiting out the whole lead, and a run whose step takes up to 30 s + the tier's tolerance to start (a run
worker and a step process, on a busy 2-core machine) still sweeps on time.
The test copy of dagster.yaml only polls run monitoring more often (2 s instead of 30 s).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pytest
import yaml

from polymarket_assets.defs.partitions import hourly_partitions, partition_parts
from polymarket_assets.defs.snapshots.assets import CHECK_NAMES
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.tiers import DEFAULT_PLAN, slot_instants
from polymarket_assets_tests.deploy import deploy_files as df
from polymarket_assets_tests.deploy.topology import (
    ASSET_NODES_QUERY,
    CHROMIUM_FLAGS,
    INSTANCE_QUERY,
    LOCATION_NAME,
    REPO_ROOT,
    ManagedProcess,
    Topology,
    fresh_postgres_database,
    instance_yaml_with,
    is_loopback,
    running_topology,
    wait_for_grpc,
    wait_until,
)
from polymarket_sim import run_sim

SIM_LEAD_S = 30
TIER_SCHEDULE = "snapshots_t2_schedule"
# The incoming sensor launches ingestion runs, and the recorder's health checks alone when no file came.
INCOMING_SENSOR_JOBS = {"ws_ingest_job", "ws_health_job"}
SENSOR = "incoming_files_sensor"
# The crashed run's own limit, through the `dagster/max_runtime` tag that production's long jobs use too,
# so run monitoring resolves it within the test while every other run keeps production's 1800 s.
MAX_RUNTIME_S = 40
SCREENSHOT = REPO_ROOT / "docs" / "asset_graph.png"


REQUIRED_DAEMONS = {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING", "BACKFILL", "ASSET"}


def _code_asset_graph() -> dict[tuple[str, ...], dict]:
    from polymarket_assets.definitions import defs

    graph = (defs() if callable(defs) else defs).resolve_asset_graph()
    return {
        tuple(key.path): {
            "group": graph.get(key).group_name,
            "deps": sorted(tuple(p.path) for p in graph.get(key).parent_keys),
        }
        for key in graph.get_all_asset_keys()
    }


def _healthcheck(service: str, port_in_compose: str | None = None, port: int | None = None) -> list[str]:
    """The service's compose healthcheck, with its in-container port swapped for the test's port."""
    argv = df.healthcheck_argv(df.load_compose()["services"][service])
    if port_in_compose is None:
        return argv
    swapped = [part.replace(port_in_compose, str(port)) for part in argv]
    assert swapped != argv, f"{service}'s healthcheck does not use port {port_in_compose}"
    return swapped


@dataclass
class Stack:
    topology: Topology
    sim: object
    lake: Lake
    tmp: Path
    stopped_at_start: list[str]
    sidecar: ManagedProcess | None = None
    discovery_run: str = ""
    facts: dict = field(default_factory=dict)

    def sim_now(self) -> datetime:
        return datetime.fromtimestamp(self.sim.control.now(), tz=UTC)


def _hour_key(ts: datetime) -> str:
    return hourly_partitions.get_partition_key_for_timestamp(ts.timestamp())


@pytest.fixture(scope="module")
def stack(tmp_path_factory, chromium_install):
    tmp = tmp_path_factory.mktemp("topology_runs")
    start = datetime.now(UTC) + timedelta(seconds=SIM_LEAD_S)
    instance_yaml = instance_yaml_with(
        tmp / "dagster.yaml",
        {"run_monitoring": {"poll_interval_seconds": 2}},
    )
    stopped: list[str] = []
    with (
        run_sim(markets=150, seed=5, speed=1.0, faults="none", start=start.isoformat()) as sim,
        fresh_postgres_database() as database,
        running_topology(
            tmp,
            database,
            # Ingest each closed file at once (no 5-minute batch window) and keep it in incoming/, so the test can
            # follow every file the sensor names from the sidecar to the lake.
            extra_env={
                **sim.env,
                "PM_CLOCK": "sim",
                "PM_INGEST_BATCH_S": "0",
                "PM_INCOMING_AFTER_INGEST": "keep",
            },
            instance_yaml=instance_yaml,
            # Collection schedules and sensors are RUNNING by default: stop them all before the daemon's first
            # iteration, so every tick in this test is one we asked for.
            before_daemon=lambda topology: stopped.extend(topology.stop_instigators_except(set())),
        ) as topology,
    ):
        stack = Stack(topology, sim, Lake(tmp / "data"), tmp, stopped)
        # Discovery first, launched as the UI's "Materialize" does: snapshot runs sweep what it found.
        run_id = topology.launch_run("markets_job", tags={"dagster/partition": _hour_key(stack.sim_now())})
        run = topology.wait_for_run(run_id, timeout=90)
        assert run["status"] == "SUCCESS", topology.logs_tail()
        stack.discovery_run = run_id
        # The websocket recorder runs beside the daemon as in docker-compose.yml (no database settings), on the
        # markets discovery just wrote; the sensor that takes its files in is switched on through GraphQL.
        sidecar_env = {k: v for k, v in topology.env.items() if not k.startswith("DAGSTER_")}
        sidecar_env["WS_FLUSH_INTERVAL_S"] = "5"
        stack.sidecar = ManagedProcess(
            "ws_sidecar", [sys.executable, "-m", "ws_sidecar"], sidecar_env, tmp / "logs"
        ).start()
        topology.start_sensor(SENSOR)
        try:
            yield stack
        finally:
            stack.sidecar.stop()


def test_only_the_schedule_switched_on_ticks_and_its_slot_run_succeeds(stack):
    topology = stack.topology
    assert TIER_SCHEDULE in stack.stopped_at_start and "markets_schedule" in stack.stopped_at_start
    topology.start_schedule(TIER_SCHEDULE)

    def first_tick():
        ticks = [t for t in topology.schedule_ticks(TIER_SCHEDULE) if t["runIds"]]
        return ticks[-1] if ticks else None

    # The daemon evaluates schedules at each minute boundary of the system clock.
    tick = wait_until(first_tick, timeout=80, interval=0.5, what=f"a tick of {TIER_SCHEDULE} with a run")
    # One tick is enough; stop before the next one so no later run meets the paused clock below.
    topology.stop_schedule(TIER_SCHEDULE)
    assert tick["status"] == "SUCCESS", tick
    run_id = tick["runIds"][0]
    run = topology.wait_for_run(run_id, timeout=120)
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert run["status"] == "SUCCESS", topology.logs_tail()
    assert tags["dagster/schedule_name"] == TIER_SCHEDULE and tags["tier"] == "T2"

    # The tick launched the slot one minute after it, and the run swept that instant on time.
    tick_time = datetime.fromtimestamp(tick["timestamp"], tz=UTC).replace(second=0, microsecond=0)
    slot = datetime.fromisoformat(tags["slot"])
    assert slot == tick_time + timedelta(minutes=1)
    assert tick["runKeys"] == [f"snapshots_t2:{slot:%Y-%m-%dT%H:%M}"]
    parts = {"tier": "T2", **partition_parts(_hour_key(slot))}
    sweeps = stack.lake.read("sweeps", parts).to_pylist()
    [sweep] = [s for s in sweeps if s["run_id"] == run_id]
    tier = DEFAULT_PLAN.by_name("T2")
    assert sweep["status"] == "captured" and 0 <= sweep["lag_s"] <= tier.tolerance_s, sweep
    assert sweep["expected"] > 0 and sweep["captured"] == sweep["expected"], sweep
    snapshots = stack.lake.read("snapshots", parts)
    assert snapshots.filter(pc.equal(snapshots.column("slot_ts"), slot)).num_rows == sweep["captured"]

    # Nothing else ticked: every other schedule stayed stopped, and apart from the sensor's ingestion runs
    # the only runs are ours.
    for name, state in topology.instigators()["schedules"].items():
        if name != TIER_SCHEDULE:
            assert state["status"] == "STOPPED" and not topology.schedule_ticks(name), name
    started = {r["runId"] for r in topology.runs() if r["jobName"] not in INCOMING_SENSOR_JOBS}
    assert started == {stack.discovery_run, run_id}, started
    stack.facts["t2_run"] = run_id
    stack.facts["tick_to_start_s"] = run["startTime"] - tick["timestamp"]
    stack.facts["tick_to_success_s"] = run["endTime"] - tick["timestamp"]


def test_the_slot_runs_asset_checks_appear_with_their_results(stack):
    run_id = stack.facts.get("t2_run")
    assert run_id, "needs the scheduled run of the previous test"
    checks = stack.topology.asset_checks("snapshots_t2")
    assert set(CHECK_NAMES) <= set(checks), checks
    for name in CHECK_NAMES:
        execution = checks[name]
        assert execution is not None, f"{name} has no execution for the latest materialization"
        assert execution["runId"] == run_id
        assert execution["status"] == "SUCCEEDED" and execution["evaluation"]["success"] is True, (
            name,
            execution,
        )


def test_the_topology_serves_the_code_location_as_production_configures_it(stack):
    expected_graph = _code_asset_graph()
    production = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    topology, pg_database = stack.topology, stack.topology.database

    # The code location loaded from the gRPC server, without error.
    entry = topology.location_entry()
    location = entry["locationOrLoadError"]
    assert entry["loadStatus"] == "LOADED"
    assert location["__typename"] == "RepositoryLocation", location.get("message", location)
    assert location["name"] == LOCATION_NAME and location["repositories"]

    # Every asset the code defines is served, in its domain group, with the code's dependencies.
    nodes = topology.graphql(ASSET_NODES_QUERY)["assetNodes"]
    served = {tuple(n["assetKey"]["path"]): n for n in nodes}
    assert set(served) == set(expected_graph)
    for key, node in served.items():
        assert node["repository"]["location"]["name"] == LOCATION_NAME
        assert node["groupName"] == expected_graph[key]["group"]
        assert node["groupName"] != "default", f"{'/'.join(key)} has no group (STYLE §4: group = domain)"
        deps = sorted(tuple(d["path"]) for d in node["dependencyKeys"])
        assert deps == expected_graph[key]["deps"], key
        assert set(deps) <= set(served), f"{'/'.join(key)} depends on assets the location does not serve"

    # The running instance is the production one.
    instance = topology.graphql(INSTANCE_QUERY)["instance"]
    assert instance["runLauncher"]["name"] == "DefaultRunLauncher"
    assert instance["runQueuingSupported"]
    runs = production["concurrency"]["runs"]
    assert instance["runQueueConfig"]["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert (
        yaml.safe_load(instance["runQueueConfig"]["tagConcurrencyLimitsYaml"])
        == runs["tag_concurrency_limits"]
    )
    assert instance["supportsConcurrencyLimits"]
    assert instance["poolConfig"] == {
        "poolGranularity": production["concurrency"]["pools"]["granularity"],
        "defaultPoolLimit": production["concurrency"]["pools"]["default_limit"],
    }
    statuses = {s["daemonType"]: s for s in instance["daemonHealth"]["allDaemonStatuses"]}
    assert REQUIRED_DAEMONS <= {name for name, s in statuses.items() if s["required"] and s["healthy"]}

    # The daemon heartbeats into the fresh database named by DAGSTER_PG_DB, nowhere else.
    with pg_database.connect() as conn:
        heartbeats = {row[0] for row in conn.execute("SELECT daemon_type FROM daemon_heartbeats").fetchall()}
    assert REQUIRED_DAEMONS <= heartbeats

    # docker-compose.yml's healthchecks pass against the real processes.
    checks = {
        "user_code": _healthcheck("user_code", "4000", topology.grpc_port),
        "webserver": _healthcheck("webserver", "3000", topology.webserver_port),
        "daemon": _healthcheck("daemon"),
    }
    pending = {
        name: subprocess.Popen(
            argv, env=topology.env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for name, argv in checks.items()
    }
    for name, process in pending.items():
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, (
            f"{name} healthcheck {checks[name]} failed:\n{output.decode()[-2000:]}"
        )

    # Nothing listens beyond loopback; the gRPC server and webserver listen where we expect.
    sockets = topology.listening_sockets()
    everything = [s for found in sockets.values() for s in found]
    assert all(is_loopback(address) for address, _ in everything), sockets
    assert topology.grpc_port in {port for _, port in sockets["user_code"]}
    assert topology.webserver_port in {port for _, port in sockets["webserver"]}


def test_sensor_picks_up_the_sidecars_files_and_its_runs_ingest_each_once(stack):
    topology = stack.topology
    data = stack.tmp / "data"
    assert stack.sidecar.alive(), stack.sidecar.log_text()[-3000:]
    # The sidecar never receives the database settings.
    assert not any(k.startswith("DAGSTER_PG") for k in stack.sidecar.env)

    def ingest_runs():
        ticks = [t for t in topology.sensor_ticks(SENSOR) if t["runIds"]]
        runs = [topology.wait_for_run(run_id, timeout=90) for t in ticks for run_id in t["runIds"]]
        return [r for r in runs if r["jobName"] == "ws_ingest_job"] or None

    runs = wait_until(
        ingest_runs, timeout=120, interval=1, what=f"a tick of {SENSOR} that launched an ingestion run"
    )
    assert all(r["status"] == "SUCCESS" for r in runs), topology.logs_tail()

    named: list[str] = []
    for run in runs:
        ops = yaml.safe_load(run["runConfigYaml"])["ops"]
        for asset, op in ops.items():
            for relpath in op["config"]["files"]:
                named.append(relpath)
                path = data / "incoming" / relpath
                # Each named file is one the sidecar closed under incoming/ and never changes afterwards.
                assert path.is_file() and path.resolve().is_relative_to((data / "incoming").resolve()), (
                    relpath
                )
                assert path.name.startswith(f"{relpath.split('/')[0]}-") and not path.name.startswith(".")
                if asset == "book_updates":
                    # Ingestion links the immutable file into the lake: same inode, no copy.
                    linked = [p for p in (data / "lake" / "book_updates").rglob(path.name)]
                    assert linked and os.stat(linked[0]).st_ino == os.stat(path).st_ino, relpath
    assert any(r.split("/")[0] == "book_updates" for r in named), named

    # Ticks never request a file twice: every run key and every named file of every tick so far is unique
    # (the sensor has usually ticked more than once by now; its unit tests cover the cursor in detail).
    topology.stop_sensor(SENSOR)
    stack.sidecar.stop()
    all_ticks = [t for t in topology.sensor_ticks(SENSOR) if t["runIds"]]
    run_keys = [k for t in all_ticks for k in t["runKeys"]]
    assert len(run_keys) == len(set(run_keys)), run_keys
    every_file = []
    for t in all_ticks:
        for run_id in t["runIds"]:
            run = topology.wait_for_run(run_id, timeout=90)
            assert run["status"] == "SUCCESS", topology.logs_tail()
            if run["jobName"] != "ws_ingest_job":
                continue  # a health-only run names no file
            for op in yaml.safe_load(run["runConfigYaml"])["ops"].values():
                every_file.extend(op["config"]["files"])
    assert len(every_file) == len(set(every_file)), "a file was ingested by two runs"


def _sweep_logged(lake: Lake, parts: dict, instant: datetime, run_id: str) -> bool:
    stem = f"slot-{instant:%Y%m%dT%H%M%S}-{run_id[:8]}"
    return any(p.name == f"{stem}.parquet" for p in lake.files("sweeps", parts))


def _events(stack: Stack, run_id: str) -> list[tuple[str, str]]:
    with stack.topology.database.connect() as conn:
        rows = conn.execute(
            "SELECT dagster_event_type, event FROM event_logs WHERE run_id = %s ORDER BY id", (run_id,)
        ).fetchall()
    return [(kind or "", event) for kind, event in rows]


def test_crash_mid_run_is_resolved_by_monitoring_and_the_retry_succeeds_without_duplicates(stack):
    topology, sim, lake = stack.topology, stack.sim, stack.lake
    tier = DEFAULT_PLAN.by_name("T4")
    # The simulator's clock stops, so the run's instants come only when the test says.
    sim.control.set_speed(0)
    now = stack.sim_now()
    slot = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    instants = slot_instants(tier, slot)
    assert len(instants) == 4
    sim.control.set_time((slot - timedelta(seconds=1)).timestamp())
    key = _hour_key(slot)
    parts = {"tier": "T4", **partition_parts(key)}
    original = topology.launch_run(
        "snapshots_t4_job",
        tags={"dagster/partition": key, "dagster/max_runtime": str(MAX_RUNTIME_S)},
        run_config={"ops": {"snapshots_t4": {"config": {"slot_start": slot.isoformat()}}}},
    )
    wait_until(lambda: topology.run(original)["status"] == "STARTED", timeout=60, what="the T4 run to start")
    sim.control.set_time(slot.timestamp())
    wait_until(lambda: _sweep_logged(lake, parts, instants[0], original), timeout=30, what="the first sweep")
    first_attempt = lake.read("snapshots", parts)
    first_rows = first_attempt.filter(pc.equal(first_attempt.column("slot_ts"), instants[0])).num_rows
    assert first_rows > 0

    # The run now waits for its second instant. Crash: the daemon, and the user-code server with the run
    # worker inside it (what the loss of both containers would do). Nobody is left to report the run.
    topology.processes["daemon"].kill9()
    topology.processes["user_code"].kill9_group()
    assert topology.run(original)["status"] == "STARTED"
    crashed_at = time.monotonic()

    topology.processes["user_code"].start()
    wait_for_grpc(topology, timeout=90)
    topology.processes["daemon"].start()

    # Run monitoring (max runtime) fails the orphaned run; run retries launch a retry of it.
    def retry_run():
        children = topology.runs(tags=[{"key": "dagster/parent_run_id", "value": original}])
        return children[0] if children else None

    retry = wait_until(retry_run, timeout=MAX_RUNTIME_S + 60, interval=1, what="the automatic retry")
    assert topology.run(original)["status"] == "FAILURE"
    stack.facts["crash_to_retry_s"] = time.monotonic() - crashed_at
    retry_id = retry["runId"]
    retry_tags = {t["key"]: t["value"] for t in retry["tags"]}
    assert retry_tags["dagster/retry_number"] == "1" and retry_tags["dagster/root_run_id"] == original
    messages = " ".join(event for _, event in _events(stack, original))
    assert "maximum runtime" in messages, "the run was not resolved by run monitoring"

    # The clock still stands at the slot's first instant: the retry sweeps it again, then the rest.
    for i, instant in enumerate(instants):
        if i:
            sim.control.set_time(instant.timestamp())
        wait_until(
            lambda instant=instant: _sweep_logged(lake, parts, instant, retry_id),
            timeout=60,
            what=f"the retry's sweep at {instant:%H:%M:%S}",
        )
    retried = topology.wait_for_run(retry_id, timeout=60)
    assert retried["status"] == "SUCCESS", topology.logs_tail()
    sim.control.set_speed(1)

    snapshots = lake.read("snapshots", parts)
    in_slot = snapshots.filter(pc.field("slot_ts").isin(instants)).select(["condition_id", "slot_ts"])
    keys = list(zip(in_slot.column("condition_id").to_pylist(), in_slot.column("slot_ts").to_pylist()))
    assert len(keys) == len(set(keys)), "a (market, instant) pair is in the lake twice"
    assert {ts for _, ts in keys} == set(instants)
    sweeps = [s for s in lake.read("sweeps", parts).to_pylist() if s["slot_ts"] in instants]
    by_run = {
        run_id: {s["slot_ts"]: s for s in sweeps if s["run_id"] == run_id} for run_id in (original, retry_id)
    }
    assert set(by_run[original]) == {instants[0]} and set(by_run[retry_id]) == set(instants)
    for sweep in by_run[retry_id].values():
        assert sweep["status"] == "captured" and sweep["captured"] == sweep["expected"] > 0, sweep
        rows = in_slot.filter(pc.equal(in_slot.column("slot_ts"), sweep["slot_ts"])).num_rows
        assert rows == sweep["captured"], sweep
    orderbooks = lake.read("orderbooks", parts).filter(pc.field("slot_ts").isin(instants))
    book_keys = list(zip(orderbooks.column("token_id").to_pylist(), orderbooks.column("slot_ts").to_pylist()))
    assert book_keys and len(book_keys) == len(set(book_keys))
    # The re-swept instant was replaced as one file, not added beside the first attempt's.
    first_files = [
        p for p in lake.files("snapshots", parts) if p.name == f"slot-{instants[0]:%Y%m%dT%H%M%S}.parquet"
    ]
    assert len(first_files) == 1


def test_asset_graph_page_renders_in_headless_chromium(stack, chromium_install):
    chromium = chromium_install.result(timeout=600)
    topology = stack.topology
    # After the crash the webserver reconnects to the new user-code server on its own; wait until it has.
    wait_until(lambda: topology.location_entry()["loadStatus"] == "LOADED", timeout=60, what="the location")
    out = stack.tmp / "asset_graph.png"
    result = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={stack.tmp / 'chromium'}",
            f"--screenshot={out}",
            f"{topology.webserver_url}/asset-groups",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and out.is_file(), result.stderr[-2000:]
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1600, 1000)
    # A rendered graph page is far from blank: a white or error page compresses to a few kB.
    assert len(png) > 40_000, len(png)
    if (
        os.environ.get("PM_UPDATE_SCREENSHOT") == "1"
    ):  # refresh the README's picture: PM_UPDATE_SCREENSHOT=1 pytest …
        SCREENSHOT.parent.mkdir(exist_ok=True)
        SCREENSHOT.write_bytes(png)


def test_teardown_leaves_no_process_and_no_password_in_any_log(stack):
    topology = stack.topology
    topology.stop()
    assert all(not process.group_pids() for process in topology.processes.values())
    for source, text in topology.captured_text().items():
        assert topology.pg_password not in text, f"the Postgres password appears in {source}"
