"""`markets_discovery_sensor` through `build_sensor_context` on a real lake and instance: it asks for a
`markets` run at start-up (empty `markets_current`) and when the list is stale, once per retry interval,
never while a discovery is queued or running, and never while the list is fresh."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pyarrow as pa
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.utils import make_new_run_id
from hypothesis import given
from hypothesis import strategies as st

from polymarket_assets.defs.markets.sensors import (
    RETRY_AFTER,
    STALE_AFTER,
    discovery_due,
    markets_discovery_sensor,
)
from polymarket_assets.defs.partitions import hourly_partitions
from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_CURRENT_SCHEMA


def _evaluate(instance, data_dir, cursor=None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"lake": LakeResource(data_dir=str(data_dir)), "clock": ClockResource(source="system")},
    )
    return markets_discovery_sensor(context)


def _discovered_at(data_dir, observed_at: datetime) -> None:
    table = pa.Table.from_pylist(
        [{"observed_at": observed_at, "condition_id": "0x1"}], schema=MARKET_CURRENT_SCHEMA
    )
    Lake(str(data_dir)).replace_partition("markets_current", table, {})


def test_requests_discovery_at_start_up_then_waits_for_it(tmp_path):
    with dg.instance_for_test() as instance:
        first = _evaluate(instance, tmp_path)
        (request,) = first.run_requests
        now = datetime.now(UTC)
        assert request.partition_key == hourly_partitions.get_partition_key_for_timestamp(now.timestamp())
        assert "no discovery yet" in request.tags["discovery/reason"]

        # The run it asked for has not written anything yet: no second request within the retry interval.
        again = _evaluate(instance, tmp_path, first.cursor)
        assert not again.run_requests and "recently" in again.skip_reason.skip_message

        _discovered_at(tmp_path, now - timedelta(minutes=5))
        fresh = _evaluate(instance, tmp_path, first.cursor)
        assert not fresh.run_requests and "fresh" in fresh.skip_reason.skip_message


def test_requests_discovery_when_the_list_is_stale_unless_one_is_in_flight(tmp_path):
    _discovered_at(tmp_path, datetime.now(UTC) - STALE_AFTER - timedelta(minutes=1))
    with dg.instance_for_test() as instance:
        run = DagsterRun(job_name="markets_job", run_id=make_new_run_id(), status=dg.DagsterRunStatus.STARTED)
        instance.add_run(run)
        queued = _evaluate(instance, tmp_path)
        assert not queued.run_requests and "already queued or running" in queued.skip_reason.skip_message

        instance.report_run_failed(run)
        (request,) = _evaluate(instance, tmp_path).run_requests
        assert "stale" in request.tags["discovery/reason"]


NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=600).map(lambda m: timedelta(minutes=m))


@given(age=st.none() | minutes, since_request=st.none() | minutes)
def test_discovery_is_due_exactly_when_the_list_is_missing_or_stale_and_no_recent_request_is_pending(
    age, since_request
):
    last = None if age is None else NOW - age
    last_request = None if since_request is None else NOW - since_request
    due = discovery_due(last, NOW, last_request) is not None
    stale = last is None or NOW - last > STALE_AFTER
    pending = (
        last_request is not None
        and NOW - last_request < RETRY_AFTER
        and (last is None or last < last_request)
    )
    assert due == (stale and not pending)


def test_a_slot_swept_before_any_discovery_warns_instead_of_passing():
    from polymarket_assets.defs.snapshots.assets import NO_DISCOVERY, snapshot_checks
    from polymarket_assets.lib.schemas import SNAPSHOT_SCHEMA

    empty = SNAPSHOT_SCHEMA.empty_table()
    (before,) = [
        c for c in snapshot_checks(empty, 0, [], 0.5, discovered=False) if c.check_name == "non_empty"
    ]
    assert (
        not before.passed
        and before.severity == dg.AssetCheckSeverity.WARN
        and before.description == NO_DISCOVERY
    )
    (after,) = [c for c in snapshot_checks(empty, 0, [], 0.5) if c.check_name == "non_empty"]
    assert after.passed, "a discovered hour with nothing scheduled is healthy"
