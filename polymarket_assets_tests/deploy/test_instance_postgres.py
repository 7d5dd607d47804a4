"""The production dagster.yaml, pointed at a fresh Postgres database through DAGSTER_PG_*, gives an
instance whose runs, events, asset keys and pool slots land in Postgres, and that the webserver's
connection mode can read back (the SQLAlchemy 2.1 / psycopg driver trap of STYLE.md §15)."""

import secrets

import dagster as dg
import yaml
from dagster._core.instance.ref import InstanceRef

from polymarket_assets_tests.deploy.topology import REPO_ROOT, PgDatabase, prepare_dagster_home

PASSWORD = secrets.token_urlsafe(12)  # trust auth ignores it; the storage still builds its URL with it


@dg.asset(pool="polymarket_api", group_name="deploy_probe", kinds={"python"})
def deploy_probe() -> dg.MaterializeResult:
    """A one-row asset that only exists to exercise instance storage."""
    return dg.MaterializeResult(metadata={"dagster/row_count": 1})


def _instance(home, pg_database: PgDatabase, monkeypatch) -> dg.DagsterInstance:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in pg_database.dagster_env(PASSWORD).items():
        monkeypatch.setenv(name, value)
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def test_production_instance_records_runs_and_events_in_postgres(tmp_path, pg_database, monkeypatch):
    home = prepare_dagster_home(tmp_path / "dagster_home")
    with _instance(home, pg_database, monkeypatch) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert instance.run_storage._engine.url.drivername == "postgresql+psycopg2"
        result = dg.materialize([deploy_probe], instance=instance, tags={"tier": "T2"})
        assert result.success
        run_id = result.run_id

    with pg_database.connect() as conn:
        status = conn.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchone()
        assert status == ("SUCCESS",)
        tags = dict(conn.execute("SELECT key, value FROM run_tags WHERE run_id = %s", (run_id,)).fetchall())
        assert tags.get("tier") == "T2"
        event_types = {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT dagster_event_type FROM event_logs WHERE run_id = %s", (run_id,)
            ).fetchall()
        }
        expected = {
            dg.DagsterEventType.RUN_START,
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.ASSET_MATERIALIZATION,
            dg.DagsterEventType.RUN_SUCCESS,
        }
        assert {t.value for t in expected} <= event_types  # run events keep their legacy PIPELINE_* names
        asset_keys = {row[0] for row in conn.execute("SELECT asset_key FROM asset_keys").fetchall()}
        assert '["deploy_probe"]' in asset_keys
        # The step claimed a slot of the polymarket_api pool, which got the instance's default limit.
        limit = conn.execute(
            "SELECT \"limit\" FROM concurrency_limits WHERE concurrency_key = 'polymarket_api'"
        ).fetchone()
        default_limit = yaml.safe_load((REPO_ROOT / "deploy" / "dagster.yaml").read_text())["concurrency"][
            "pools"
        ]["default_limit"]
        assert limit == (default_limit,)
        free_slots = conn.execute(
            "SELECT count(*) FROM concurrency_slots WHERE concurrency_key = 'polymarket_api' AND run_id IS NULL"
        ).fetchone()
        assert free_slots == (default_limit,)


def test_webserver_connection_mode_reads_postgres(tmp_path, pg_database, monkeypatch):
    home = prepare_dagster_home(tmp_path / "dagster_home")
    with _instance(home, pg_database, monkeypatch) as instance:
        run_id = dg.materialize([deploy_probe], instance=instance).run_id

    # dagster-webserver switches every storage to a pooled engine with a statement_timeout set on
    # connect; with the psycopg 3 driver that hook closes the connection and every query fails.
    with _instance(home, pg_database, monkeypatch) as instance:
        instance.optimize_for_webserver(statement_timeout=5000, pool_recycle=3600, max_overflow=5)
        for _ in range(2):  # the second query reuses the pooled connection
            run = instance.get_run_by_id(run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
            assert instance.get_latest_materialization_event(dg.AssetKey("deploy_probe")) is not None
            assert instance.get_daemon_heartbeats() == {}
