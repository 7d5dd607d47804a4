"""Run the production topology on 127.0.0.1 for tests: fresh Postgres databases, the user-code gRPC
server, `dagster-daemon run` and `dagster-webserver`, each a separate process group started from the
committed `deploy/dagster.yaml` and `workspace.yaml`, plus GraphQL and socket helpers.

Later tests (schedule tick -> run against the simulator, sensor runs, daemon kill -9 and run
monitoring) reuse `running_topology(..., extra_env=sim_urls)`, `Topology.graphql`, `launch_run`,
`wait_for_run`, and `topology.processes[name].kill9()` / `.restart()`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests
import yaml
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent
LOCATION_NAME = "polymarket_assets"
CODE_MODULE = "polymarket_assets.definitions"

# The Postgres server the suite uses (trust auth on CI); tests create and drop their own databases in it.
PG_HOST = os.environ.get("PM_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PM_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("PM_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("PM_TEST_PG_ADMIN_DB", "test")

# Variables a developer's shell may carry that would point the processes somewhere else.
_INHERITED_PREFIXES = ("DAGSTER_", "PM_")

# Headless Chromium as the UI tests capture the Dagster UI with it.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
    # Pages are laid out by JavaScript after the GraphQL answers arrive; give them time to settle.
    "--virtual-time-budget=20000",
]


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StopWaiting(RuntimeError):
    """An error that waiting longer cannot fix."""


class ProcessDied(StopWaiting):
    """A process we are waiting on has exited."""


class GraphQLError(StopWaiting):
    """The webserver answered a GraphQL request with errors."""


def wait_until(predicate: Callable[[], Any], *, timeout: float, interval: float = 0.25, what: str) -> Any:
    """Poll `predicate` until it returns a truthy value; raise with `what` (and the last error) on timeout.

    Any exception from `predicate` counts as "not yet", except `StopWaiting`, which ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except StopWaiting:
            raise
        except Exception as exc:  # noqa: BLE001 - the thing we wait for may fail in any way until it is up
            last_error = exc
        else:
            if value:
                return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; last error: {last_error!r}")


@dataclass(frozen=True)
class PgDatabase:
    host: str
    port: int
    user: str
    name: str

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname=self.name, autocommit=True
        )

    def dagster_env(self, password: str) -> dict[str, str]:
        """The DAGSTER_PG_* variables dagster.yaml reads. Trust auth ignores the password, but processes
        still receive it, so tests can check that it never reaches a log."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": password,
            "DAGSTER_PG_DB": self.name,
        }


def _admin_connection() -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_ADMIN_DB, autocommit=True)


@contextlib.contextmanager
def fresh_postgres_database(prefix: str = "pm_deploy") -> Iterator[PgDatabase]:
    """Create an empty database with a random name and drop it afterwards, even if connections remain."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with _admin_connection() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield PgDatabase(PG_HOST, PG_PORT, PG_USER, name)
    finally:
        with _admin_connection() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def prepare_dagster_home(home: Path, instance_yaml: Path = REPO_ROOT / "deploy" / "dagster.yaml") -> Path:
    """A DAGSTER_HOME holding an unmodified copy of the given instance config."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(instance_yaml, home / "dagster.yaml")
    return home


def instance_yaml_with(path: Path, overrides: Mapping[str, Mapping[str, Any]]) -> Path:
    """A copy of the production dagster.yaml at `path` with some values of existing sections changed.

    Only values the production file already has may change (a test must not pass thanks to a key
    production lacks), so monitoring can be made faster without drifting from the real config.
    """
    config = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.yaml").read_text())
    for section, values in overrides.items():
        missing = set(values) - set(config.get(section) or {})
        if missing:
            raise KeyError(
                f"dagster.yaml has no {section}.{sorted(missing)}; tests only shorten existing keys"
            )
        config[section] = {**config[section], **values}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def base_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """The parent environment without inherited DAGSTER_*/PM_* settings, with the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class ManagedProcess:
    """One child in its own process group (its own session), output captured to a log file."""

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], log_dir: Path, cwd: Path = REPO_ROOT
    ):
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None
        self._starts = 0

    def start(self) -> ManagedProcess:
        self._starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start #{self._starts}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def group_pids(self) -> list[int]:
        """Every live process in this child's process group (the child and what it spawned)."""
        if self.popen is None:
            return []
        pids = []
        for entry in Path("/proc").iterdir():
            fields = _proc_stat_fields(entry.name) if entry.name.isdigit() else None
            if fields and fields[0] != "Z" and int(fields[2]) == self.pid:
                pids.append(int(entry.name))
        return pids

    def kill9(self) -> None:
        """SIGKILL the process itself (not its group), as a crash would."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def kill9_group(self) -> None:
        """SIGKILL the process and everything in its group at once, as the death of its container would
        (for the user-code server: the server and every run worker it started)."""
        if self.popen is None:
            return
        self._signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)
        wait_until(
            lambda: not self.group_pids(), timeout=10, interval=0.1, what=f"{self.name}'s group to die"
        )

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the whole group, then SIGKILL whatever is left; reap the child."""
        if self.popen is None:
            return
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.group_pids():
            self.popen.poll()
            time.sleep(0.1)
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def restart(self) -> ManagedProcess:
        self.stop()
        return self.start()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


def _proc_stat_fields(pid: str) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name: state ppid pgrp ...
    return stat.rsplit(")", 1)[1].split()


def descendants(root_pid: int) -> set[int]:
    """Every live (non-zombie) process below `root_pid`, whatever process group or session it moved to."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_stat_fields(entry.name)) and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    frontier = [root_pid]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def process_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def process_cmdline(pid: int) -> list[str]:
    return [
        part
        for part in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        if part
    ]


def listening_tcp_sockets(pids: list[int]) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket owned by the given processes, read from /proc."""
    inodes: set[str] = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            fds = list(fd_dir.iterdir())
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        with contextlib.suppress(FileNotFoundError), open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if state != "0A" or inode not in inodes:  # 0A = LISTEN
                    continue
                hex_addr, hex_port = local.split(":")
                raw = bytes.fromhex(hex_addr)
                # /proc prints the address as host-order 32-bit words.
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.append((socket.inet_ntop(family, raw), int(hex_port, 16)))
    return found


def is_loopback(address: str) -> bool:
    return address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1")


LOCATION_QUERY = """
query Locations {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message stack }
          ... on RepositoryLocation { name repositories { name } }
        }
      }
    }
    ... on PythonError { message stack }
  }
}
"""

ASSET_NODES_QUERY = """
query AssetNodes {
  assetNodes {
    assetKey { path }
    groupName
    dependencyKeys { path }
    repository { name location { name } }
  }
}
"""

INSTANCE_QUERY = """
query Instance {
  instance {
    runLauncher { name }
    runQueuingSupported
    runQueueConfig { maxConcurrentRuns tagConcurrencyLimitsYaml }
    supportsConcurrencyLimits
    poolConfig { poolGranularity defaultPoolLimit }
    daemonHealth { allDaemonStatuses { daemonType required healthy } }
  }
}
"""


LAUNCH_RUN_MUTATION = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId jobName status startTime endTime runConfigYaml tags { key value } }
    ... on PythonError { message }
  }
}
"""

TERMINAL_RUN_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCELED"})

_REPOSITORY_SELECTOR = {"repositoryLocationName": LOCATION_NAME, "repositoryName": "__repository__"}

INSTIGATORS_QUERY = """
query Instigators($repositorySelector: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repositorySelector) {
    __typename
    ... on Schedules { results { name scheduleState { id status } } }
    ... on PythonError { message }
  }
  sensorsOrError(repositorySelector: $repositorySelector) {
    __typename
    ... on Sensors { results { name sensorState { id status } } }
    ... on PythonError { message }
  }
}
"""

START_SCHEDULE_MUTATION = """
mutation StartSchedule($scheduleSelector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $scheduleSelector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""

START_SENSOR_MUTATION = """
mutation StartSensor($sensorSelector: SensorSelector!) {
  startSensor(sensorSelector: $sensorSelector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on PythonError { message }
  }
}
"""

STOP_SCHEDULE_MUTATION = """
mutation StopSchedule($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
  }
}
"""

STOP_SENSOR_MUTATION = """
mutation StopSensor($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on PythonError { message }
  }
}
"""

SCHEDULE_TICKS_QUERY = """
query ScheduleTicks($scheduleSelector: ScheduleSelector!, $limit: Int) {
  scheduleOrError(scheduleSelector: $scheduleSelector) {
    __typename
    ... on Schedule {
      scheduleState { status ticks(limit: $limit) { tickId status timestamp runIds runKeys error { message } } }
    }
    ... on PythonError { message }
  }
}
"""

SENSOR_TICKS_QUERY = """
query SensorTicks($sensorSelector: SensorSelector!) {
  sensorOrError(sensorSelector: $sensorSelector) {
    __typename
    ... on Sensor {
      sensorState { status ticks(limit: 20) { tickId status timestamp runIds runKeys error { message } } }
    }
    ... on PythonError { message }
  }
}
"""

ASSET_CHECKS_QUERY = """
query AssetChecks($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode {
      assetChecksOrError {
        __typename
        ... on AssetChecks {
          checks {
            name
            executionForLatestMaterialization { runId status evaluation { success } }
          }
        }
      }
    }
  }
}
"""

RUNS_QUERY = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status startTime endTime tags { key value } } }
    ... on PythonError { message }
  }
}
"""


@dataclass
class Topology:
    """The three Dagster processes of the production deployment, talking to one Postgres database."""

    home: Path
    database: PgDatabase
    pg_password: str
    env: dict[str, str]
    grpc_port: int
    webserver_port: int
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    @property
    def webserver_url(self) -> str:
        return f"http://127.0.0.1:{self.webserver_port}"

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 30) -> dict:
        response = requests.post(
            f"{self.webserver_url}/graphql",
            json={"query": query, "variables": dict(variables or {})},
            timeout=timeout,
        )
        try:
            payload = response.json()
        except ValueError:
            response.raise_for_status()
            raise
        if payload.get("errors"):
            messages = "; ".join(e.get("message", str(e)) for e in payload["errors"])
            raise GraphQLError(f"GraphQL errors (HTTP {response.status_code}): {messages}")
        response.raise_for_status()
        return payload["data"]

    def location_entry(self) -> dict:
        workspace = self.graphql(LOCATION_QUERY)["workspaceOrError"]
        assert workspace["__typename"] == "Workspace", workspace
        entries = {e["name"]: e for e in workspace["locationEntries"]}
        return entries[LOCATION_NAME]

    def daemon_statuses(self) -> dict[str, dict]:
        statuses = self.graphql(INSTANCE_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
        return {s["daemonType"]: s for s in statuses}

    def launch_run(
        self,
        job_name: str,
        *,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping[str, Any] | None = None,
        location_name: str = LOCATION_NAME,
    ) -> str:
        """Submit a run through the webserver, as the UI's Launch button does; it enters the run queue."""
        params = {
            "selector": {
                "repositoryLocationName": location_name,
                "repositoryName": "__repository__",
                "jobName": job_name,
            },
            "runConfigData": dict(run_config or {}),
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
        result = self.graphql(LAUNCH_RUN_MUTATION, {"executionParams": params})["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return result["run"]["runId"]

    def run(self, run_id: str) -> dict:
        found = self.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        assert found["__typename"] == "Run", found
        return found

    def wait_for_run(self, run_id: str, timeout: float = 120) -> dict:
        """Poll until the run reaches SUCCESS, FAILURE or CANCELED; return its GraphQL record."""

        def finished() -> dict | None:
            _require_alive(self, *self.processes)
            run = self.run(run_id)
            return run if run["status"] in TERMINAL_RUN_STATUSES else None

        try:
            return wait_until(finished, timeout=timeout, interval=0.5, what=f"run {run_id} to finish")
        except TimeoutError as exc:
            raise TimeoutError(
                f"{exc}; the run is {self.run(run_id)['status']}\n{self.logs_tail()}"
            ) from None

    def instigators(self) -> dict[str, dict[str, dict]]:
        """{"schedules": {name: state}, "sensors": {name: state}} with each state's `id` and `status`."""
        data = self.graphql(INSTIGATORS_QUERY, {"repositorySelector": _REPOSITORY_SELECTOR})
        schedules, sensors = data["schedulesOrError"], data["sensorsOrError"]
        assert schedules["__typename"] == "Schedules", schedules
        assert sensors["__typename"] == "Sensors", sensors
        return {
            "schedules": {s["name"]: s["scheduleState"] for s in schedules["results"]},
            "sensors": {s["name"]: s["sensorState"] for s in sensors["results"]},
        }

    def stop_instigators_except(self, keep: set[str] = frozenset()) -> list[str]:
        """Stop every running schedule and sensor not named in `keep`, as the UI's toggles do; return
        the names stopped. Collection schedules are RUNNING by default, so a test that wants to know
        which ticks happen stops the others before the daemon starts."""
        stopped = []
        found = self.instigators()
        for kind, mutation, result_field in (
            ("schedules", STOP_SCHEDULE_MUTATION, "stopRunningSchedule"),
            ("sensors", STOP_SENSOR_MUTATION, "stopSensor"),
        ):
            for name, state in found[kind].items():
                if name in keep or state["status"] != "RUNNING":
                    continue
                result = self.graphql(mutation, {"id": state["id"]})[result_field]
                assert result["__typename"] in ("ScheduleStateResult", "StopSensorMutationResult"), result
                stopped.append(name)
        return stopped

    def start_schedule(self, name: str) -> None:
        selector = {**_REPOSITORY_SELECTOR, "scheduleName": name}
        result = self.graphql(START_SCHEDULE_MUTATION, {"scheduleSelector": selector})["startSchedule"]
        assert result["__typename"] == "ScheduleStateResult", result
        assert result["scheduleState"]["status"] == "RUNNING", result

    def start_sensor(self, name: str) -> None:
        selector = {**_REPOSITORY_SELECTOR, "sensorName": name}
        result = self.graphql(START_SENSOR_MUTATION, {"sensorSelector": selector})["startSensor"]
        assert result["__typename"] == "Sensor", result
        assert result["sensorState"]["status"] == "RUNNING", result

    def stop_sensor(self, name: str) -> None:
        state = self.instigators()["sensors"][name]
        if state["status"] == "RUNNING":
            result = self.graphql(STOP_SENSOR_MUTATION, {"id": state["id"]})["stopSensor"]
            assert result["__typename"] == "StopSensorMutationResult", result

    def stop_schedule(self, name: str) -> None:
        state = self.instigators()["schedules"][name]
        if state["status"] == "RUNNING":
            result = self.graphql(STOP_SCHEDULE_MUTATION, {"id": state["id"]})["stopRunningSchedule"]
            assert result["__typename"] == "ScheduleStateResult", result

    def schedule_ticks(self, name: str, limit: int = 20) -> list[dict]:
        """The schedule's newest ``limit`` ticks, newest first."""
        selector = {**_REPOSITORY_SELECTOR, "scheduleName": name}
        found = self.graphql(SCHEDULE_TICKS_QUERY, {"scheduleSelector": selector, "limit": limit})[
            "scheduleOrError"
        ]
        assert found["__typename"] == "Schedule", found
        return found["scheduleState"]["ticks"]

    def sensor_ticks(self, name: str) -> list[dict]:
        selector = {**_REPOSITORY_SELECTOR, "sensorName": name}
        found = self.graphql(SENSOR_TICKS_QUERY, {"sensorSelector": selector})["sensorOrError"]
        assert found["__typename"] == "Sensor", found
        return found["sensorState"]["ticks"]

    def asset_checks(self, asset: str) -> dict[str, dict | None]:
        """{check name: execution for the asset's latest materialization (runId, status, evaluation)}."""
        node = self.graphql(ASSET_CHECKS_QUERY, {"assetKey": {"path": [asset]}})["assetNodeOrError"]
        assert node["__typename"] == "AssetNode", node
        checks = node["assetChecksOrError"]
        assert checks["__typename"] == "AssetChecks", checks
        return {c["name"]: c["executionForLatestMaterialization"] for c in checks["checks"]}

    def runs(self, **run_filter: Any) -> list[dict]:
        """Runs matching a GraphQL RunsFilter (e.g. `tags=[{"key": ..., "value": ...}]`), newest first."""
        found = self.graphql(RUNS_QUERY, {"filter": run_filter})["runsOrError"]
        assert found["__typename"] == "Runs", found
        return found["results"]

    def all_pids(self) -> list[int]:
        return [pid for p in self.processes.values() for pid in p.group_pids()]

    def listening_sockets(self) -> dict[str, list[tuple[str, int]]]:
        return {name: listening_tcp_sockets(p.group_pids()) for name, p in self.processes.items()}

    def captured_text(self) -> dict[str, str]:
        """Everything the processes wrote: their logs and any text file under DAGSTER_HOME."""
        texts = {name: p.log_text() for name, p in self.processes.items()}
        for path in self.home.rglob("*"):
            if path.is_file() and path.stat().st_size < 5_000_000:
                texts[str(path)] = path.read_text(errors="replace")
        return texts

    def logs_tail(self, chars: int = 4000) -> str:
        return "\n".join(f"===== {name} =====\n{p.log_text()[-chars:]}" for name, p in self.processes.items())

    def stop(self) -> None:
        # Reverse start order: the webserver and daemon go before the code server they talk to.
        for process in reversed(list(self.processes.values())):
            process.stop()


def start_topology(
    tmp_path: Path,
    database: PgDatabase,
    *,
    extra_env: Mapping[str, str] | None = None,
    instance_yaml: Path = REPO_ROOT / "deploy" / "dagster.yaml",
    workspace_yaml: Path = REPO_ROOT / "workspace.yaml",
    code_module: str = CODE_MODULE,
    startup_timeout: float = 90,
    before_daemon: Callable[[Topology], None] | None = None,
) -> Topology:
    """Start gRPC server, then daemon and webserver (as compose orders them), and wait until all are healthy.

    `code_module` is what the gRPC server serves under the production location name; tests that need a
    job they control pass `polymarket_assets_tests.deploy.probe_location`.

    `before_daemon(topology)` runs once the webserver has loaded the code location and before the daemon
    starts (e.g. to stop default-running schedules through GraphQL before any of them can tick); the
    daemon then starts after the webserver instead of beside it.

    On failure everything already started is stopped before the error propagates.
    """
    home = prepare_dagster_home(tmp_path / "dagster_home", instance_yaml)
    log_dir = tmp_path / "logs"
    log_dir.mkdir(exist_ok=True)
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    password = secrets.token_urlsafe(18)
    grpc_port, webserver_port = free_port(), free_port()
    env = base_env(
        {
            "DAGSTER_HOME": str(home),
            "DAGSTER_GRPC_HOST": "127.0.0.1",
            "DAGSTER_GRPC_PORT": str(grpc_port),
            "PM_DATA_DIR": str(data_dir),
            **database.dagster_env(password),
            **(extra_env or {}),
        }
    )
    topology = Topology(home, database, password, env, grpc_port, webserver_port)
    processes = {
        "user_code": [
            sys.executable,
            "-m",
            "dagster",
            "api",
            "grpc",
            "-m",
            code_module,
            "-h",
            "127.0.0.1",
            "-p",
            str(grpc_port),
            "--location-name",
            LOCATION_NAME,
        ],
        "daemon": [str(BIN_DIR / "dagster-daemon"), "run", "-w", str(workspace_yaml)],
        "webserver": [
            str(BIN_DIR / "dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(webserver_port),
            "-w",
            str(workspace_yaml),
        ],
    }
    for name, argv in processes.items():
        topology.processes[name] = ManagedProcess(name, argv, env, log_dir)
    try:
        topology.processes["user_code"].start()
        wait_for_grpc(topology, timeout=startup_timeout)
        if before_daemon is None:
            topology.processes["daemon"].start()
        topology.processes["webserver"].start()
        wait_for_webserver(topology, timeout=startup_timeout)
        if before_daemon is not None:
            before_daemon(topology)
            topology.processes["daemon"].start()
        wait_for_daemons(topology, timeout=startup_timeout)
    except Exception as exc:
        logs = topology.logs_tail()
        topology.stop()
        raise RuntimeError(f"topology did not come up: {exc}\n{logs}") from exc
    except BaseException:
        topology.stop()
        raise
    return topology


def _require_alive(topology: Topology, *names: str) -> None:
    for name in names:
        process = topology.processes[name]
        if process.popen is not None and not process.alive():
            raise ProcessDied(f"{name} exited with code {process.popen.returncode}")


def wait_for_grpc(topology: Topology, timeout: float) -> None:
    from dagster._grpc.client import DagsterGrpcClient

    client = DagsterGrpcClient(port=topology.grpc_port, host="127.0.0.1")

    def answering() -> bool:
        _require_alive(topology, "user_code")
        return client.ping("up")["echo"] == "up"

    wait_until(answering, timeout=timeout, what="the user-code gRPC server to answer")
    # What `dagster api grpc-health-check` (compose's healthcheck) asks.
    status = client.health_check_query()
    if status != "SERVING":
        raise RuntimeError(f"the user-code gRPC server answers but reports {status}")


def wait_for_webserver(topology: Topology, timeout: float) -> None:
    def location_loaded() -> bool:
        _require_alive(topology, "webserver", "daemon")
        return topology.location_entry()["loadStatus"] == "LOADED"

    wait_until(location_loaded, timeout=timeout, what="the webserver to load the code location")


def wait_for_daemons(topology: Topology, timeout: float) -> None:
    def required_healthy() -> bool:
        _require_alive(topology, "webserver", "daemon")
        statuses = topology.daemon_statuses().values()
        return all(s["healthy"] for s in statuses if s["required"])

    wait_until(
        required_healthy, timeout=timeout, interval=0.5, what="every required daemon to report healthy"
    )


@contextlib.contextmanager
def running_topology(tmp_path: Path, database: PgDatabase, **kwargs: Any) -> Iterator[Topology]:
    """`start_topology` as a context manager that always tears every process group down."""
    topology = start_topology(tmp_path, database, **kwargs)
    try:
        yield topology
    finally:
        topology.stop()
