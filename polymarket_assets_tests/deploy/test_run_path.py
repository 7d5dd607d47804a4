"""The production run path, end to end on 127.0.0.1: a run submitted to the webserver is queued, the
daemon dequeues it under the tier limit, DefaultRunLauncher starts it inside the user-code gRPC server,
and its status, events and compute logs land where the other services can read them. The code server
serves `probe_location` (a job whose timing the test controls) under the production location name."""

import json

from polymarket_assets_tests.deploy.probe_location import PROBE_SECONDS
from polymarket_assets_tests.deploy.topology import running_topology

PROBE_MODULE = "polymarket_assets_tests.deploy.probe_location"


def test_queued_runs_execute_in_the_user_code_server_two_per_tier(tmp_path, pg_database):
    with running_topology(tmp_path, pg_database, code_module=PROBE_MODULE) as topology:
        run_ids = [topology.launch_run("probe_job", tags={"tier": "T2"}) for _ in range(3)]
        runs = [topology.wait_for_run(run_id) for run_id in run_ids]
        assert [r["status"] for r in runs] == ["SUCCESS"] * 3, topology.logs_tail()
        user_code_pid = topology.processes["user_code"].pid

        records = [
            json.loads((tmp_path / "data" / "probe" / f"{run_id}.json").read_text()) for run_id in run_ids
        ]
        for record in records:
            # DefaultRunLauncher: the run worker is a child of the user-code server, with its environment.
            assert user_code_pid in record["ancestors"], record
            assert record["pm_data_dir"] == str(tmp_path / "data") and record["tier"] == "T2"
        # Each probe holds its run open for PROBE_SECONDS. The tier limit is two: whenever one run starts,
        # at most one other T2 run is still in progress (without the limit all three would overlap).
        for record in records:
            assert record["end"] - record["start"] >= PROBE_SECONDS
            others = [r for r in records if r is not record and r["start"] <= record["start"] < r["end"]]
            assert len(others) <= 1, f"three T2 runs ran at once: {records}"

        with pg_database.connect() as conn:
            rows = dict(conn.execute("SELECT run_id, status FROM runs").fetchall())
            assert {rows[run_id] for run_id in run_ids} == {"SUCCESS"}
            # Enqueued by the webserver's QueuedRunCoordinator, then launched by the daemon.
            lifecycle = conn.execute(
                "SELECT run_id, dagster_event_type FROM event_logs WHERE run_id = ANY(%s)"
                " AND dagster_event_type IN ('PIPELINE_ENQUEUED', 'PIPELINE_STARTING') ORDER BY id",
                (run_ids,),
            ).fetchall()
            for run_id in run_ids:
                assert [t for r, t in lifecycle if r == run_id] == ["PIPELINE_ENQUEUED", "PIPELINE_STARTING"]

    # Compute logs (stdout/stderr of the steps) are written under DAGSTER_HOME/storage, the volume the
    # webserver shares with user_code in docker-compose.yml.
    captured = list((topology.home / "storage").rglob("*.err"))
    assert any("probe ran in pid" in path.read_text() for path in captured), captured
    for source, text in topology.captured_text().items():
        assert topology.pg_password not in text, f"the Postgres password appears in {source}"
