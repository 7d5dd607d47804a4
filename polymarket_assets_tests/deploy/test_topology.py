"""The production topology, as docker-compose.yml runs it but as plain processes on 127.0.0.1: the
user-code gRPC server, `dagster-daemon run` and `dagster-webserver`, against a fresh Postgres database,
with the committed dagster.yaml and workspace.yaml. Proves over the webserver's GraphQL API that the
code location loads and serves the same asset graph as the code, that the running instance is the
production one (queued runs, tier limits, pools, DefaultRunLauncher), that the daemons heartbeat into
Postgres, that compose's healthcheck commands pass against it, that nothing listens beyond loopback,
and that the database password never reaches a log."""

import subprocess

import yaml

from polymarket_assets_tests.deploy import deploy_files as df
from polymarket_assets_tests.deploy.topology import (
    ASSET_NODES_QUERY,
    INSTANCE_QUERY,
    LOCATION_NAME,
    REPO_ROOT,
    is_loopback,
    running_topology,
)

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


def test_production_topology_serves_the_code_location(tmp_path, pg_database):
    expected_graph = _code_asset_graph()
    production = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())

    with running_topology(tmp_path, pg_database) as topology:
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
            heartbeats = {
                row[0] for row in conn.execute("SELECT daemon_type FROM daemon_heartbeats").fetchall()
            }
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

    # Teardown leaves no process behind, and the password never reached a log.
    assert all(not process.group_pids() for process in topology.processes.values())
    for source, text in topology.captured_text().items():
        assert topology.pg_password not in text, f"the Postgres password appears in {source}"
