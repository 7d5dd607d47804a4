"""Slot runs of `snapshots_t2` (books) and `snapshots_t0` (prices) on a real Dagster instance, against stub CLOB
answers that carry bad records: one bad book per `POST /books` answer; NaN, Infinity, negatives, values above 1,
text and non-objects in `/prices` and `/midpoints`. The run succeeds, every good row is in the lake, every bad
record is in the quarantine, nothing bad is stored, and the run says what it lost and quarantined."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
import pytest

from polymarket_assets.defs.resources import ClockResource, LakeResource, PolymarketApiResource
from polymarket_assets.defs.snapshots.assets import snapshot_assets
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.schemas import MARKET_CURRENT_SCHEMA
from polymarket_assets_tests import fault_scenarios as fs
from polymarket_assets_tests.lib.stub_server import StubServer, json_reply

NOW = fs.utc(fs.NOW_MS)


@pytest.fixture
def stub():
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


def _run(stub, data_dir, tier: str, markets: list[dict], slot):
    """Materialize one slot of `tier` with the simulator-style clock standing one second after `slot`."""
    stub.handle("GET", "/clock", lambda req: json_reply({"now": slot.timestamp() + 1, "speed": 0}))
    rows = [{**{name: None for name in MARKET_CURRENT_SCHEMA.names}, **m} for m in markets]
    Lake(data_dir).replace_partition(
        "markets_current", pa.Table.from_pylist(rows, schema=MARKET_CURRENT_SCHEMA), {}
    )
    asset = next(a for a in snapshot_assets if a.key.path[-1] == f"snapshots_{tier.lower()}")
    resources = {
        "polymarket": PolymarketApiResource(
            gamma_url=stub.url,
            clob_url=stub.url,
            data_api_url=stub.url,
            max_retries=1,
            backoff_base_s=0.01,
            backoff_cap_s=0.05,
            books_batch_size=fs.BOOKS_BATCH,
        ),
        "lake": LakeResource(data_dir=str(data_dir)),
        "clock": ClockResource(source="sim", sim_control_url=stub.url),
    }
    return dg.materialize(
        [asset],
        partition_key=slot.strftime("%Y-%m-%d-%H:00"),
        resources=resources,
        run_config={"ops": {asset.key.path[-1]: {"config": {"slot_start": slot.isoformat()}}}},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _outcome(result, tier: str):
    [materialization] = result.asset_materializations_for_node(f"snapshots_{tier.lower()}")
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return {k: v.value for k, v in materialization.metadata.items()}, checks


def test_books_slot_run_keeps_every_good_book_and_quarantines_each_bad_one(stub, tmp_path):
    markets = fs.open_markets(5 * len(fs.BAD_BOOKS), hours_to_close=6)
    bad = fs.serve_bad_books(stub, markets)
    result = _run(stub, tmp_path, "T2", markets, NOW.replace(second=0))
    assert result.success
    metadata, checks = _outcome(result, "T2")
    stored = Lake(tmp_path).read("snapshots").to_pylist()
    assert {r["condition_id"] for r in stored if fs.good_book_row(r)} == {
        m["condition_id"] for m in markets
    } - bad
    assert not {r["condition_id"] for r in stored} & bad
    quarantined = fs.quarantined(tmp_path, "snapshots_t2")
    assert sum('"/books"' in (q["context"] or "") for q in quarantined) == len(bad)
    assert metadata["rows_lost"] == len(bad) and metadata["quarantined"] == len(quarantined)
    assert not checks["no_rows_lost"].passed and checks["no_rows_lost"].severity == dg.AssetCheckSeverity.WARN
    assert all(
        checks[name].passed
        for name in ("unique_condition_slot", "bid_not_above_ask", "prices_in_unit_interval")
    )
    [sweep] = Lake(tmp_path).read("sweeps").to_pylist()
    assert sweep["status"] == "partial" and "records quarantined" in sweep["error"]


def test_prices_slot_run_stores_no_nan_inf_negative_or_above_one(stub, tmp_path):
    markets = fs.open_markets(16, hours_to_close=72)
    bad, injected = fs.serve_bad_prices(stub, markets)
    slot = NOW.replace(minute=0, second=0)
    result = _run(stub, tmp_path, "T0", markets, slot)
    assert result.success
    metadata, checks = _outcome(result, "T0")
    stored = Lake(tmp_path).read("snapshots").to_pylist()
    assert {r["condition_id"] for r in stored if fs.good_price_row(r)} == {
        m["condition_id"] for m in markets
    } - bad
    assert fs.bad_price_values(stored) == 0 and not {r["condition_id"] for r in stored} & bad
    assert len(fs.quarantined(tmp_path, "snapshots_t0")) == injected == metadata["quarantined"]
    assert metadata["rows_lost"] == len(bad) and not checks["no_rows_lost"].passed
    assert checks["prices_in_unit_interval"].passed
