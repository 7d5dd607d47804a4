"""The lake on object storage: PM_DATA_DIR=s3://bucket/prefix against a local S3-compatible server (moto's
server mode on 127.0.0.1), with the same assets and jobs as on disk. Discovery, one slot of every tier and
the warehouse run against the simulator; the test then checks that every file went to the bucket as a whole
object under the lake layout (no temporary keys, nothing on local disk but warehouse.duckdb), reads the views
back through DuckDB, and compares them with the lake read directly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from polymarket_assets.lib import duckdb_s3, parquet_store
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.warehouse import connect_read_only
from polymarket_assets_tests.collection.harness import load_defs, partition_of, run_job, run_slots
from polymarket_assets_tests.deploy.topology import free_port, wait_until
from polymarket_sim import run_sim

HOUR0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
ALL_TIERS = ["T0", "T1", "T2", "T3", "T4", "STALE"]
BUCKET, PREFIX = "pm-lake", "prod/v1"


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """moto_server on a free loopback port; the AWS variables a deployment would set, pointing at it."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [
                os.path.join(os.path.dirname(sys.executable), "moto_server"),
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        # Never ask a cloud metadata service for credentials or a region: only 127.0.0.1 is reachable.
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        fs = pafs.S3FileSystem(
            endpoint_override=env["AWS_ENDPOINT_URL"],
            access_key="testing",
            secret_key="testing",
            region="us-east-1",
            allow_bucket_creation=True,
        )
        wait_until(lambda: fs.create_dir(BUCKET) or True, timeout=30, what="moto_server to create the bucket")
        yield env, fs
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def collected(s3_server, tmp_path_factory):
    env, fs = s3_server
    local = tmp_path_factory.mktemp("s3_local")
    home = local / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    warehouse = local / "warehouse" / "warehouse.duckdb"
    data_dir = f"s3://{BUCKET}/{PREFIX}"
    with run_sim(
        markets=150, seed=23, speed=0.0, faults="none", start=(HOUR0 - timedelta(minutes=2)).isoformat()
    ) as sim:
        patch = pytest.MonkeyPatch()
        settings = {
            **env,
            **sim.env,
            "PM_CLOCK": "sim",
            "PM_DATA_DIR": data_dir,
            "PM_WAREHOUSE_PATH": str(warehouse),
            "DAGSTER_HOME": str(home),
        }
        for key, value in settings.items():
            patch.setenv(key, value)
        parquet_store._s3_filesystem.cache_clear()
        # A bad record in each Gamma page, so the quarantine has something to write to the bucket.
        sim.control.set_faults(bad_record_rate=1.0)
        instance = dg.DagsterInstance.get()
        try:
            defs = load_defs()
            lake = Lake(data_dir)
            discovery = run_job(defs, instance, "markets_job", partition_of(HOUR0 - timedelta(hours=1)))
            sim.control.set_faults(bad_record_rate=0.0)
            results = run_slots(sim, lake, HOUR0, ALL_TIERS)
            [warehouse_asset] = [
                a for a in defs.assets if "warehouse" in {k.to_user_string() for k in a.keys}
            ]
            built = dg.materialize([warehouse_asset], instance=instance, resources=dict(defs.resources))
            yield {
                "fs": fs,
                "lake": lake,
                "local": local,
                "warehouse": warehouse,
                "data_dir": data_dir,
                "discovery": discovery,
                "results": results,
                "built": built,
            }
        finally:
            instance.dispose()
            patch.undo()
            parquet_store._s3_filesystem.cache_clear()


def _keys(fs: pafs.FileSystem, prefix: str) -> list[str]:
    infos = fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
    return [i.path for i in infos if i.type == pafs.FileType.File]


def test_every_run_succeeds_with_the_lake_on_s3(collected):
    assert collected["discovery"].success
    assert [tier for tier, _ in collected["results"]] == ALL_TIERS
    for tier, outcome in collected["results"]:
        assert outcome.success, (tier, outcome.error)
        assert all(outcome.checks.values()), (tier, outcome.checks)
    assert collected["built"].success


def test_files_are_whole_objects_in_the_bucket_and_nothing_lands_on_local_disk(collected):
    keys = _keys(collected["fs"], f"{BUCKET}/{PREFIX}")
    relative = [k[len(f"{BUCKET}/{PREFIX}/") :] for k in keys]
    assert all(not part.startswith(".") for k in relative for part in k.split("/")), "a temporary key is left"
    assert all(k.endswith(".parquet") for k in relative), relative
    tops = {k.split("/")[0] for k in relative}
    assert tops == {"lake", "raw", "quarantine"}, tops
    tables = {k.split("/")[1] for k in relative if k.startswith("lake/")}
    assert {"markets_current", "market_states", "snapshots", "orderbooks", "sweeps"} <= tables
    for tier in ALL_TIERS:
        assert any(k.startswith(f"lake/sweeps/tier={tier}/date=2026-11-24/hour=10/") for k in relative), tier
    assert any(k.startswith("raw/gamma_markets/date=2026-11-24/hour=09/") for k in relative)
    assert any(k.startswith("raw/clob_books/tier=T4/") for k in relative)
    assert any(k.startswith("quarantine/source=gamma_markets/date=2026-11-24/") for k in relative)
    # The only local file is the DuckDB catalogue; no lake/raw/quarantine directory was made on disk.
    local_files = sorted(
        p.relative_to(collected["local"]).as_posix() for p in collected["local"].rglob("*") if p.is_file()
    )
    assert [f for f in local_files if not f.startswith("dagster_home/")] == ["warehouse/warehouse.duckdb"]
    assert not os.path.exists(f"s3:/{BUCKET}") and not os.path.exists("s3:")


def test_duckdb_views_read_the_bucket(collected):
    lake = collected["lake"]
    con = connect_read_only(collected["data_dir"], collected["warehouse"])
    assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0] == 0, "views only"
    # The views read the bucket itself through httpfs (no copy, no registration in Python).
    view_sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'snapshots'").fetchone()[0]
    assert f"read_parquet('s3://{BUCKET}/{PREFIX}/lake/snapshots/**/*.parquet'" in view_sql
    assert con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchone()[0]
    markets = con.execute("SELECT count(*), count(DISTINCT condition_id) FROM markets").fetchone()
    assert markets[0] == markets[1] == lake.read("markets_current").num_rows >= 100
    per_tier = dict(con.execute("SELECT tier, count(*) FROM snapshots GROUP BY tier").fetchall())
    sweeps = lake.read("sweeps").to_pylist()
    for tier in ALL_TIERS:
        captured = sum(s["captured"] for s in sweeps if s["tier"] == tier)
        expected = sum(s["expected"] for s in sweeps if s["tier"] == tier)
        assert per_tier.get(tier, 0) == captured == expected, (tier, per_tier, captured, expected)
    assert {"T2", "T3", "T4"} <= set(per_tier)
    duplicates = con.execute(
        "SELECT count(*) FROM (SELECT condition_id, slot_ts FROM snapshots GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()[0]
    assert duplicates == 0
    # Times come back as TIMESTAMPTZ and prices as doubles, as from a local lake.
    types = {row[0]: row[1] for row in con.execute("DESCRIBE snapshots").fetchall()}
    assert types["slot_ts"] == "TIMESTAMP WITH TIME ZONE" and types["best_bid"] == "DOUBLE"
    # The same rows as the lake read without DuckDB.
    direct = lake.read("snapshots").select(["condition_id", "slot_ts", "best_bid", "best_ask"]).to_pylist()
    via_views = con.execute("SELECT condition_id, slot_ts, best_bid, best_ask FROM snapshots").fetchall()
    key = lambda r: (r[0], r[1])
    assert sorted(via_views, key=key) == sorted(
        [(r["condition_id"], r["slot_ts"], r["best_bid"], r["best_ask"]) for r in direct], key=key
    )
    books = con.execute("SELECT count(*) FROM orderbooks WHERE len(bids) + len(asks) > 0").fetchone()[0]
    assert books > 0
    con.close()


def test_a_plain_duckdb_with_httpfs_and_the_endpoint_secret_reads_the_warehouse(collected, s3_server):
    """What a notebook or the DuckDB CLI does: open the file, load httpfs, create the secret; no project code."""
    env, _ = s3_server
    host = env["AWS_ENDPOINT_URL"].removeprefix("http://")
    con = duckdb.connect(str(collected["warehouse"]), read_only=True)
    con.execute(f"LOAD '{duckdb_s3._bundled_extension()}'")
    con.execute(
        "CREATE SECRET (TYPE s3, KEY_ID 'testing', SECRET 'testing', REGION 'us-east-1', "
        f"ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)"
    )
    assert (
        con.execute("SELECT count(*) FROM markets").fetchone()[0]
        == collected["lake"].read("markets_current").num_rows
    )
    con.close()


def test_a_snapshot_written_after_the_build_is_in_the_views_without_a_rebuild(collected):
    fs = collected["fs"]
    con = connect_read_only(collected["data_dir"], collected["warehouse"])
    before = con.execute("SELECT count(*) FROM sweeps").fetchone()[0]
    directory = f"{BUCKET}/{PREFIX}/lake/sweeps/tier=T0/date=2026-11-24/hour=10"
    existing = _keys(fs, directory)[0]
    key = f"{directory}/extra-after-build.parquet"
    fs.copy_file(existing, key)
    try:
        added = pq.read_metadata(key, filesystem=fs).num_rows
        assert added > 0
        assert con.execute("SELECT count(*) FROM sweeps").fetchone()[0] == before + added
    finally:
        fs.delete_file(key)
        con.close()


def test_racing_replaces_on_s3_never_leave_a_partition_empty_or_doubled(s3_server, monkeypatch):
    import threading

    import pyarrow as pa

    env, _ = s3_server
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    lake = Lake(f"s3://{BUCKET}/race")
    rows = 5_000

    def version(tag: int) -> pa.Table:
        return pa.table({"tag": [tag] * rows, "x": list(range(rows))})

    lake.replace_partition("markets_current", version(0), {})
    stop, errors = threading.Event(), []

    def writer(tag: int) -> None:
        try:
            while not stop.is_set():
                Lake(f"s3://{BUCKET}/race").replace_partition("markets_current", version(tag), {})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(tag,)) for tag in (1, 2)]
    for t in threads:
        t.start()
    try:
        for i in range(60):
            table = lake.read("markets_current")
            assert table is not None and table.num_rows == rows, (
                f"read {i}: {None if table is None else table.num_rows} rows"
            )
            assert len(set(table.column("tag").to_pylist())) == 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
    assert [p.name for p in lake.files("markets_current")] == ["data.parquet"]
