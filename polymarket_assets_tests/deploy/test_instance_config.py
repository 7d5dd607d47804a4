"""deploy/dagster.yaml (production) and deploy/dagster.dev.yaml validate against the installed Dagster's own schema, the dev
instance behaves like production (same queue, pools, monitoring and retries) but on SQLite under its
DAGSTER_HOME, and the tier tag limit really holds a second run of a busy tier in the queue."""

import dagster as dg
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef
from dagster._utils.tags import TagConcurrencyLimitsCounter

from polymarket_assets_tests.deploy.topology import REPO_ROOT, prepare_dagster_home

PRODUCTION = REPO_ROOT / "deploy" / "dagster.yaml"
DEV = REPO_ROOT / "deploy" / "dagster.dev.yaml"
# Sections that decide how runs are queued, limited, watched and retried: identical in dev and production.
SHARED_SECTIONS = (
    "run_launcher",
    "run_coordinator",
    "concurrency",
    "run_monitoring",
    "run_retries",
    "schedules",
    "sensors",
    "telemetry",
)


@pytest.mark.parametrize("config", [PRODUCTION, DEV], ids=["production", "dev"])
def test_instance_config_validates_against_installed_dagster(config, tmp_path):
    home = prepare_dagster_home(tmp_path, config)
    # Raises DagsterInvalidConfigError on an unknown key, a wrong type or a 1.13 incompatibility
    # (e.g. run_queue limits next to `concurrency.runs`); this does not connect to anything.
    settings, custom_class = dagster_instance_config(str(home))
    assert custom_class is None
    assert settings["telemetry"] == {"enabled": False}


def test_dev_instance_shares_production_queue_pool_and_retry_settings():
    production = yaml.safe_load(PRODUCTION.read_text())
    dev = yaml.safe_load(DEV.read_text())
    for section in SHARED_SECTIONS:
        assert dev.get(section) == production.get(section), f"{section} differs between dev and production"
    assert "storage" in production and "storage" not in dev


def test_dev_instance_runs_on_sqlite_under_its_home(tmp_path, monkeypatch):
    home = prepare_dagster_home(tmp_path / "home", DEV)
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    @dg.asset(pool="polymarket_api", group_name="deploy_probe")
    def dev_probe() -> dg.MaterializeResult:
        """A one-row asset that only exists to exercise the dev instance."""
        return dg.MaterializeResult(metadata={"dagster/row_count": 1})

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert instance.run_retries_enabled and instance.run_monitoring_enabled
        result = dg.materialize([dev_probe], instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        assert instance.event_log_storage.get_concurrency_info("polymarket_api").slot_count == 12
    assert (home / "history" / "runs.db").is_file()


def _run(tags: dict[str, str]) -> dg.DagsterRun:
    return dg.DagsterRun(job_name="collect_job", tags=tags)


def test_tier_limit_holds_a_third_run_of_the_same_tier_only(tmp_path):
    home = prepare_dagster_home(tmp_path, PRODUCTION)
    settings, _ = dagster_instance_config(str(home))
    limits = settings["concurrency"]["runs"]["tag_concurrency_limits"]
    # The counter the queued-run daemon uses to decide what to dequeue. Two runs per tier: the next slot's
    # run starts while the previous one finishes its last sweep; a third waits.
    counter = TagConcurrencyLimitsCounter(limits, [_run({"tier": "T2"})])
    assert not counter.is_blocked(_run({"tier": "T2"}))
    counter.update_counters_with_launched_item(_run({"tier": "T2"}))
    assert counter.is_blocked(_run({"tier": "T2"}))
    assert not counter.is_blocked(_run({"tier": "T4"}))
    assert not counter.is_blocked(_run({}))
    counter.update_counters_with_launched_item(_run({"tier": "T4"}))
    counter.update_counters_with_launched_item(_run({"tier": "T4"}))
    assert counter.is_blocked(_run({"tier": "T4"}))
    # Backfills are capped as a whole, so they cannot take every slot from live collection.
    backfills = TagConcurrencyLimitsCounter(
        limits, [_run({"dagster/backfill": "a"}), _run({"dagster/backfill": "b"})]
    )
    assert backfills.is_blocked(_run({"dagster/backfill": "c"}))
