"""Ingestion of what ws_sidecar records: `trades`, `book_updates`, `ws_raw_frames`, `ws_gaps`, `market_events`,
and `whale_events`.

The first five are launched by `incoming_files_sensor` with the files to take in (run config); run by hand
with no files, each adds every incoming file of that hour still in `incoming/` to what its partition holds
(never fewer rows: ingested files are deleted from `incoming/` by default). All are idempotent: the same file
twice gives the same rows. Each file is read and validated on its own before anything of it reaches the lake;
a corrupt, empty or wrong-schema file is quarantined alone (`quarantine/source=ws_ingest/` with the reason and
its raw bytes, the file itself under `quarantine/incoming_files/`) and the rest of the run lands.
"""

import time
from datetime import timedelta

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field

from polymarket_assets.defs.partitions import hourly_partitions, partition_check_spec, partition_parts
from polymarket_assets.defs.policies import ONE_PARTITION_PER_RUN
from polymarket_assets.defs.resources import ClockResource, LakeResource
from polymarket_assets.lib import tables
from polymarket_assets.lib.compaction import compacted_members
from polymarket_assets.lib.incoming import INCOMING_SCHEMAS, RESYNC
from polymarket_assets.lib.parquet_store import write_parquet_atomic
from polymarket_assets.lib.schemas import TRADES_SCHEMA
from polymarket_assets.lib.temporaries import remove_stale
from polymarket_assets.lib.trades.ingest import (
    QUARANTINE_SOURCE,
    LoadedFiles,
    files_for_partition,
    link_into,
    load_incoming,
    partition_lock,
    remove_ingested,
    retention_mode,
)
from polymarket_assets.lib.trades.merge import merge_gaps, merge_market_events, merge_trades
from polymarket_assets.lib.trades.whales import DEFAULT_THRESHOLDS, whale_events_for_window

# Ingestion fails only for reasons outside the files (a full disk, a lock, a killed worker); bad files are
# quarantined instead. Retry the step in the same run before the run fails visibly.
INGEST_RETRY_POLICY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)
# What every asset that takes in the recorder's files shares: hourly partitions, one partition per run, retries.
INGEST_ASSET = {
    "partitions_def": hourly_partitions,
    "group_name": "trades",
    "kinds": {"python", "parquet"},
    "backfill_policy": ONE_PARTITION_PER_RUN,
    "retry_policy": INGEST_RETRY_POLICY,
}


class IncomingFilesConfig(dg.Config):
    files: list[str] = Field(default_factory=list)
    """Incoming file identities (`<kind>/day=.../<name>`) to take in; empty = every file of the partition's hour."""


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _rejected(context: dg.AssetExecutionContext, rejected: list[str]) -> None:
    if rejected:
        context.log.warning(
            f"ignored {len(rejected)} file identities that are not this asset's incoming files: {rejected[:5]}"
        )


def _load(
    context: dg.AssetExecutionContext, lake: LakeResource, kind: str, config: "IncomingFilesConfig"
) -> tuple[LoadedFiles, int]:
    """The run's files, read and validated one by one (bad ones quarantined), and the count of refused identities."""
    chosen, rejected = files_for_partition(lake.data_dir, kind, context.partition_key, config.files)
    _rejected(context, rejected)
    loaded = load_incoming(lake.data_dir, kind, chosen, lake.quarantine(QUARANTINE_SOURCE))
    for f, reason in loaded.quarantined:
        context.log.error(f"quarantined incoming file {f.relpath}: {reason}")
    return loaded, len(rejected)


def _file_metadata(loaded: LoadedFiles, rejected: int, removed: int) -> dict:
    return {
        "files": len(loaded.good),
        "files_rejected": rejected,
        "files_quarantined": len(loaded.quarantined),
        "quarantined": dg.MetadataValue.json(
            [{"file": f.relpath, "reason": r} for f, r in loaded.quarantined[:50]]
        ),
        "incoming_files_removed": removed,
    }


def _partition_dir(root, partition_key: str):
    directory = root
    for key, value in partition_parts(partition_key).items():
        directory = directory / f"{key}={value}"
    return directory


@dg.asset(
    partitions_def=hourly_partitions,
    group_name="trades",
    kinds={"python", "parquet", "duckdb"},
    backfill_policy=ONE_PARTITION_PER_RUN,
    retry_policy=INGEST_RETRY_POLICY,
    check_specs=[
        partition_check_spec(
            "trades_unique_and_priced", "trades", "One row per trade_uid, and no negative notional."
        )
    ],
)
def trades(
    context: dg.AssetExecutionContext, config: IncomingFilesConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Every trade Polymarket printed in the hour: the WS `last_trade_price` feed plus the Data API fills of
    its outages, one row per trade (`trade_uid`), with `notional_usd = size × price` and the outcome name."""
    store = lake.lake()
    parts = partition_parts(context.partition_key)
    loaded, rejected = _load(context, lake, "trades", config)
    incoming = loaded.table
    with partition_lock(lake.data_dir, "trades", context.partition_key):
        remove_stale(_partition_dir(store.table_dir("trades"), context.partition_key))
        # The files are merged into what the partition holds (ingested files leave incoming/, so a rebuild
        # from incoming/ alone could drop rows); outcomes still unknown are filled from markets_current.
        existing = store.read("trades", parts)
        if existing is not None:
            existing = existing.select(TRADES_SCHEMA.names)
        table, counts = merge_trades(
            existing, incoming, store.read(tables.MARKETS_CURRENT.name), time.time_ns() // 1000
        )
        store.replace_partition("trades", table, parts)
    removed = remove_ingested(loaded.good, retention_mode())
    uids = table.column("trade_uid")
    unique = pc.count_distinct(uids).as_py() == table.num_rows
    priced = table.num_rows == 0 or pc.min(table.column("notional_usd")).as_py() >= 0
    ws_rows = [
        r
        for r in incoming.select(["source", "exchange_ts", "received_at"]).to_pylist()
        if r["source"] == "ws"
    ]
    lags = [(r["received_at"] - r["exchange_ts"]).total_seconds() for r in ws_rows]
    sources = pc.value_counts(table.column("source")).to_pylist() if table.num_rows else []
    newest = pc.max(table.column("exchange_ts")).as_py() if table.num_rows else None
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            **_file_metadata(loaded, rejected, removed),
            **{k: v for k, v in counts.items() if k != "rows"},
            **{f"rows_{s['values']}": s["counts"] for s in sources},
            "notional_usd": round(pc.sum(table.column("notional_usd")).as_py() or 0.0, 2),
            "receive_lag_p50_s": _percentile(lags, 0.5),
            "receive_lag_p95_s": _percentile(lags, 0.95),
            "newest_trade": newest.isoformat() if newest else None,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="trades_unique_and_priced",
                passed=bool(unique and priced),
                metadata={
                    "rows": table.num_rows,
                    "unique_uids": unique,
                    "notional_non_negative": bool(priced),
                },
            )
        ],
    )


@dg.asset(**INGEST_ASSET)
def book_updates(
    context: dg.AssetExecutionContext, config: IncomingFilesConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Every book snapshot (WS and REST reseeds) and level change the recorder applied, by exchange hour.

    Incoming files already have the lake layout and never change, so each validated file is hard-linked into
    the partition (no copy, and linking the same file again is a no-op)."""
    directory = _partition_dir(lake.lake().table_dir("book_updates"), context.partition_key)
    return _take_in_files(context, lake, "book_updates", config, directory)


# The lock of each kind's lake table: the one lake_compaction_job takes before swapping a partition.
LOCK_NAMES = {"book_updates": "book_updates", "raw_frames": "ws_raw_frames"}


def _take_in_files(
    context, lake: LakeResource, kind: str, config: "IncomingFilesConfig", directory
) -> dg.MaterializeResult:
    """Validate the run's files, then link each good one into ``directory`` (or write its cast rows, when its
    layout differs from the contract's but converts cleanly); bad ones are quarantined, never linked. Files go in
    under the partition's lock, so never during a compaction swap, and a file already merged into the partition's
    compacted file is not added again."""
    loaded, rejected = _load(context, lake, kind, config)
    remove_stale(directory)
    added = 0
    with partition_lock(lake.data_dir, LOCK_NAMES[kind], context.partition_key):
        merged = compacted_members(directory)
        for f in loaded.good:
            if pq.read_schema(f.path).equals(INCOMING_SCHEMAS[kind]):
                added += link_into(f, directory)
            elif f.name not in merged and not (directory / f.name).exists():
                write_parquet_atomic(loaded.tables[f.relpath], directory / f.name)
                added += 1
    removed = remove_ingested(loaded.good, retention_mode())
    rows = sum(pq.read_metadata(p).num_rows for p in directory.glob("*.parquet"))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "files_added": added,
            **_file_metadata(loaded, rejected, removed),
            "path": dg.MetadataValue.path(str(directory)),
        }
    )


@dg.asset(**INGEST_ASSET)
def ws_raw_frames(
    context: dg.AssetExecutionContext, config: IncomingFilesConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """The raw archive of every websocket frame received (zstd Parquet), by receive hour, under
    `raw/ws_market/`: what every derived WS row can be recomputed from. Hard links, like `book_updates`."""
    directory = _partition_dir(lake.lake().data_dir / "raw" / "ws_market", context.partition_key)
    return _take_in_files(context, lake, "raw_frames", config, directory)


@dg.asset(**INGEST_ASSET)
def ws_gaps(
    context: dg.AssetExecutionContext, config: IncomingFilesConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Every interruption of the recording, by start hour: connection, start, end and reason (`disconnect`,
    `freeze`, `resync` of some books, or the recorder's own `restart`)."""
    store = lake.lake()
    parts = partition_parts(context.partition_key)
    loaded, rejected = _load(context, lake, "ws_gaps", config)
    with partition_lock(lake.data_dir, "ws_gaps", context.partition_key):
        remove_stale(_partition_dir(store.table_dir("ws_gaps"), context.partition_key))
        existing = store.read("ws_gaps", parts)
        table = merge_gaps(existing, loaded.table)
        store.replace_partition("ws_gaps", table, parts)
    removed = remove_ingested(loaded.good, retention_mode())
    rows = table.to_pylist()
    outages = [r for r in rows if r["reason"] != RESYNC]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            **_file_metadata(loaded, rejected, removed),
            "outages": len(outages),
            "resyncs": len(rows) - len(outages),
            "outage_seconds": round(sum((r["end_ts"] - r["start_ts"]).total_seconds() for r in outages), 3),
            **{
                f"gaps_{reason}": sum(1 for r in rows if r["reason"] == reason)
                for reason in sorted({r["reason"] for r in rows})
            },
        }
    )


@dg.asset(**INGEST_ASSET)
def market_events(
    context: dg.AssetExecutionContext, config: IncomingFilesConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """The websocket's custom events by exchange hour, one row per event: `new_market` (a market's first
    sighting, before discovery lists it) and `market_resolved` (the provisional resolution, `source =
    ws_market_resolved`, which `resolutions` confirms or contradicts)."""
    store = lake.lake()
    parts = partition_parts(context.partition_key)
    loaded, rejected = _load(context, lake, "market_events", config)
    with partition_lock(lake.data_dir, "market_events", context.partition_key):
        remove_stale(_partition_dir(store.table_dir("market_events"), context.partition_key))
        table = merge_market_events(store.read("market_events", parts), loaded.table)
        store.replace_partition("market_events", table, parts)
    removed = remove_ingested(loaded.good, retention_mode())
    types = table.column("event_type").to_pylist()
    lags = [
        (r - e).total_seconds()
        for r, e in zip(table.column("received_at").to_pylist(), table.column("exchange_ts").to_pylist())
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            **_file_metadata(loaded, rejected, removed),
            "new_markets": types.count("new_market"),
            "markets_resolved": types.count("market_resolved"),
            "receive_lag_p95_s": _percentile(lags, 0.95),
        }
    )


class WhaleConfig(dg.Config):
    thresholds_usd: list[float] = Field(default_factory=lambda: list(DEFAULT_THRESHOLDS))
    """USD notional (size × price) tiers; a trade at or above the lowest one is a whale event."""
    market_percentile: float = 0.99
    """`market_outlier` is set when a trade's notional ranks at or above this among its market's trailing trades."""
    lookback_hours: int = 24
    """Trailing window for that per-market rank."""


@dg.asset(
    partitions_def=hourly_partitions,
    group_name="trades",
    kinds={"python", "parquet", "duckdb"},
    backfill_policy=ONE_PARTITION_PER_RUN,
    deps=["trades", "book_updates"],
)
def whale_events(
    context: dg.AssetExecutionContext, config: WhaleConfig, lake: LakeResource, clock: ClockResource
) -> dg.MaterializeResult:
    """Trades of the hour whose USD notional (size × price, never the share count) reaches a whale tier, with a
    per-market percentile flag and the price impact 1 and 5 minutes later from the recorded books and trades."""
    window = context.partition_time_window
    now = clock.clock().now()
    table, stats = whale_events_for_window(
        lake.data_dir,
        window.start,
        window.end,
        thresholds=sorted(config.thresholds_usd),
        market_percentile=config.market_percentile,
        lookback=timedelta(hours=config.lookback_hours),
        computed_at=now,
    )
    lake.lake().replace_partition("whale_events", table, partition_parts(context.partition_key))
    incomplete = stats.get("impact_5m_missing", 0)
    if window.end + timedelta(minutes=5) > now:
        context.log.info(
            "the hour ended less than 5 minutes ago: 5-minute impacts of its last trades are not known yet"
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            **stats,
            "impact_5m_missing": incomplete,
            "computed_at": now.isoformat(),
        }
    )
