"""Tiered snapshots: one hourly-partitioned asset per tier (`snapshots_t0` … `snapshots_t4`, `snapshots_stale`).

A scheduled run captures one slot of its hour (one minute for T2–T4, five for T1, an hour for T0/stale):
it waits for each scheduled instant on the clock, sweeps the tier's markets, and writes one file per
instant. A run without a slot re-assembles its hour: it merges the instant files into one, deduplicated
on (condition_id, slot_ts). Either way, materializing a partition twice never duplicates a row.
"""


import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.defs.partitions import hourly_partitions, partition_parts
from polymarket_assets.defs.policies import API_POOL, API_RETRY_POLICY, ONE_PARTITION_PER_RUN
from polymarket_assets.defs.resources import ClockResource, LakeResource, PolymarketApiResource
from polymarket_assets.defs.snapshots.schema import ORDERBOOK_SCHEMA, SNAPSHOT_SCHEMA, SWEEP_SCHEMA
from polymarket_assets.lib.errors import ApiError
from polymarket_assets.lib.raw_archive import RawArchive
from polymarket_assets.lib.sweep import select_markets, sweep_books, sweep_prices
from polymarket_assets.lib.tiers import DEFAULT_PLAN, TierSpec, slot_instants

# An hour is re-assembled only once no slot run can still write into it.
COMPACT_AFTER = timedelta(minutes=10)
MARKETS_READ_AHEAD = timedelta(seconds=3)
CHECK_NAMES = ("unique_condition_slot", "bid_not_above_ask", "prices_in_unit_interval", "non_empty")


class SnapshotRunConfig(dg.Config):
    slot_start: str = ""
    """ISO start of the slot to capture. Empty: re-assemble the partition's hour from what was captured."""
    books: bool | None = None
    """Override the tier's default for fetching order books (T2–T4 on, T0/T1/stale off)."""


def asset_name(tier: TierSpec) -> str:
    return f"snapshots_{tier.name.lower()}"


def _parse_slot(value: str) -> datetime:
    slot = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if slot.tzinfo is None:
        raise dg.Failure(f"slot_start must carry a UTC offset: {value!r}")
    return slot


NO_DISCOVERY = "no discovery yet: markets_current is empty, so no market was scheduled"


def snapshot_checks(table: pa.Table, expected: int, discovered: bool = True) -> list[dg.AssetCheckResult]:
    """Cheap invariants of the rows a run wrote (see CHECK_NAMES). Before the first discovery a slot has
    nothing to sweep; `non_empty` then warns instead of passing, so the run does not look healthy."""
    rows = table.num_rows
    keys = set(zip(table.column("condition_id").to_pylist(), table.column("slot_ts").to_pylist()))
    bid, ask = table.column("best_bid"), table.column("best_ask")
    crossed = pc.sum(pc.fill_null(pc.greater(bid, ask), False)).as_py() or 0
    out_of_range = 0
    for name in ("best_bid", "best_ask", "mid", "no_best_bid", "no_best_ask", "no_mid", "last_trade_price"):
        column = table.column(name)
        bad = pc.or_(pc.less(column, 0.0), pc.greater(column, 1.0))
        out_of_range += pc.sum(pc.fill_null(bad, False)).as_py() or 0
    return [
        dg.AssetCheckResult(
            check_name="unique_condition_slot",
            passed=len(keys) == rows,
            metadata={"rows": rows, "distinct_keys": len(keys)},
        ),
        dg.AssetCheckResult(check_name="bid_not_above_ask", passed=crossed == 0, metadata={"crossed_rows": crossed}),
        dg.AssetCheckResult(
            check_name="prices_in_unit_interval", passed=out_of_range == 0, metadata={"out_of_range_values": out_of_range}
        ),
        dg.AssetCheckResult(
            check_name="non_empty",
            passed=(rows > 0 or expected == 0) and discovered,
            severity=dg.AssetCheckSeverity.ERROR if discovered else dg.AssetCheckSeverity.WARN,
            metadata={"rows": rows, "expected": expected, "discovered": discovered},
            description="Rows were written whenever the tier plan scheduled markets."
            if discovered
            else NO_DISCOVERY,
        ),
    ]


def build_snapshot_asset(tier: TierSpec) -> dg.AssetsDefinition:
    name = asset_name(tier)

    @dg.asset(
        name=name,
        partitions_def=hourly_partitions,
        group_name="snapshots",
        kinds={"python", "parquet"},
        pool=API_POOL,
        retry_policy=API_RETRY_POLICY,
        backfill_policy=ONE_PARTITION_PER_RUN,
        deps=["markets"],
        tags={"tier": tier.name},
        check_specs=[dg.AssetCheckSpec(check, asset=name) for check in CHECK_NAMES],
        description=(
            f"Snapshots of tier {tier.name} markets every {tier.interval_s} s "
            f"({'order books via POST /books' if tier.books else 'prices via POST /prices and /midpoints'})."
        ),
    )
    def _snapshots(
        context: dg.AssetExecutionContext,
        config: SnapshotRunConfig,
        polymarket: PolymarketApiResource,
        lake: LakeResource,
        clock: ClockResource,
    ) -> dg.MaterializeResult:
        if config.slot_start:
            return capture_slot(context, tier, _parse_slot(config.slot_start), config, polymarket, lake, clock)
        return reassemble_hour(context, tier, lake, clock)

    return _snapshots


def capture_slot(context, tier: TierSpec, slot: datetime, config: SnapshotRunConfig, polymarket, lake, clock) -> dg.MaterializeResult:
    window = context.partition_time_window
    if not (window.start <= slot < window.end):
        raise dg.Failure(f"slot {slot.isoformat()} is outside partition {context.partition_key}")
    use_books = tier.books if config.books is None else config.books
    store = lake.lake()
    clk = clock.clock()
    quarantine = lake.quarantine(f"snapshots_{tier.name.lower()}")
    instants = slot_instants(tier, slot)
    # The run is launched a minute ahead; read the market list just before the slot, so a discovery that
    # finished meanwhile (the first one after start-up, for instance) is already swept.
    clk.sleep_until(instants[0] - MARKETS_READ_AHEAD)
    current = store.read("markets_current")
    current_rows = current.to_pylist() if current is not None else []
    if current is None:
        context.log.warning(f"{tier.name} slot {slot.isoformat()}: {NO_DISCOVERY}")
    parts = {"tier": tier.name, **partition_parts(context.partition_key)}

    def sweep_at(instant: datetime, started: datetime) -> tuple[dict, pa.Table | None]:
        lag = (started - instant).total_seconds()
        markets = select_markets(current_rows, tier.name, instant, DEFAULT_PLAN)
        sweep = {"tier": tier.name, "slot_ts": instant, "started_at": started, "lag_s": lag, "expected": len(markets),
                 "captured": 0, "duration_s": 0.0, "run_id": context.run.run_id, "error": None, "status": "captured"}
        stem = f"slot-{instant:%Y%m%dT%H%M%S}"
        table = None
        if lag > tier.tolerance_s:
            # Never backdate: a late sweep would claim prices from an instant it did not see.
            sweep["status"] = "missed"
            context.log.warning(f"{tier.name} sweep for {instant.isoformat()} is {lag:.1f} s late; recorded as missed")
        elif markets:
            t0 = time.monotonic()
            try:
                if use_books:
                    result = sweep_books(polymarket.clob, markets, tier, instant, started, quarantine,
                                         batch_size=polymarket.books_batch_size, max_workers=polymarket.max_workers,
                                         known_without_book=no_book_tokens)
                else:
                    result = sweep_prices(polymarket.clob, markets, tier, instant, started, batch_size=polymarket.books_batch_size)
            except ApiError as exc:
                sweep.update(status="failed", error=str(exc)[:500], duration_s=time.monotonic() - t0)
                context.log.error(f"{tier.name} sweep for {instant.isoformat()} failed: {exc}")
            else:
                table = pa.Table.from_pylist(result.rows, schema=SNAPSHOT_SCHEMA)
                store.write("snapshots", table, parts, stem)
                if result.orderbooks:
                    store.write("orderbooks", pa.Table.from_pylist(result.orderbooks, schema=ORDERBOOK_SCHEMA), parts, stem)
                raw = RawArchive(store.data_dir, "clob_books" if use_books else "clob_prices")
                for endpoint, request, body in result.raw:
                    raw.add(started, endpoint, request, body)
                raw.flush(parts, stem)
                sweep.update(
                    status="captured" if not result.failed_condition_ids else "partial",
                    captured=table.num_rows,
                    duration_s=time.monotonic() - t0,
                    error="; ".join(result.errors)[:500] or None,
                )
        # One sweep-log file per attempt: a retry that misses an instant must not hide the earlier capture.
        store.write("sweeps", pa.Table.from_pylist([sweep], schema=SWEEP_SCHEMA), parts, f"{stem}-{context.run.run_id[:8]}")
        return sweep, table

    # Each sweep starts at its own instant on its own thread, so a slow sweep never makes the next one late.
    no_book_tokens: set[str] = set()
    with ThreadPoolExecutor(max_workers=len(instants), thread_name_prefix=f"sweep-{tier.name}") as pool:
        futures = []
        for instant in instants:
            clk.sleep_until(instant)
            futures.append(pool.submit(sweep_at, instant, clk.now()))
        outcomes = [f.result() for f in futures]
    sweeps = [sweep for sweep, _ in outcomes]
    written = [table for _, table in outcomes if table is not None]

    quarantine.flush(clk.now())
    table = pa.concat_tables(written) if written else SNAPSHOT_SCHEMA.empty_table()
    expected = sum(s["expected"] for s in sweeps)
    captured = sum(s["captured"] for s in sweeps)
    api = polymarket.stats()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.num_rows,
            "slot_start": slot.isoformat(),
            "sweeps": len(sweeps),
            "sweeps_missed": sum(1 for s in sweeps if s["status"] == "missed"),
            "sweeps_failed": sum(1 for s in sweeps if s["status"] == "failed"),
            "expected_pairs": expected,
            "captured_pairs": captured,
            "slot_coverage": round(captured / expected, 6) if expected else 1.0,
            "max_lag_s": round(max((s["lag_s"] for s in sweeps), default=0.0), 3),
            "quarantined": quarantine.count,
            "api_requests": int(api.get("requests", 0)),
            "api_retries": int(api.get("retries", 0)),
            "books": use_books,
            "discovery": "done" if current is not None else NO_DISCOVERY,
        },
        check_results=snapshot_checks(table, expected, discovered=current is not None),
    )


def _dedupe_latest(table: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the most recently captured row per key."""
    if table.num_rows == 0:
        return table
    ordered = table.sort_by([(k, "ascending") for k in keys] + [("captured_at", "descending")])
    seen: set[tuple] = set()
    mask = []
    for key in zip(*(ordered.column(k).to_pylist() for k in keys)):
        mask.append(key not in seen)
        seen.add(key)
    return ordered.filter(pa.array(mask))


def reassemble_hour(context, tier: TierSpec, lake, clock) -> dg.MaterializeResult:
    now = clock.clock().now()
    window = context.partition_time_window
    if now < window.end + COMPACT_AFTER:
        raise dg.Failure(
            f"hour {context.partition_key} can still receive slot runs; re-assemble it after {window.end + COMPACT_AFTER}"
        )
    store = lake.lake()
    parts = {"tier": tier.name, **partition_parts(context.partition_key)}
    counts = {}
    snapshots = SNAPSHOT_SCHEMA.empty_table()
    for table_name, schema, keys in (
        ("snapshots", SNAPSHOT_SCHEMA, ["condition_id", "slot_ts"]),
        ("orderbooks", ORDERBOOK_SCHEMA, ["token_id", "slot_ts"]),
        ("sweeps", SWEEP_SCHEMA, ["slot_ts"]),
    ):
        existing = store.read(table_name, parts)
        if existing is None:
            counts[table_name] = 0
            continue
        existing = existing.select(schema.names).cast(schema)
        merged = _dedupe_latest(existing, keys) if table_name != "sweeps" else _dedupe_sweeps(existing)
        store.replace_partition(table_name, merged, parts)
        counts[table_name] = merged.num_rows
        if table_name == "snapshots":
            snapshots = merged
    sweeps = store.read("sweeps", parts)
    expected = sum(sweeps.column("expected").to_pylist()) if sweeps is not None else 0
    captured = snapshots.num_rows
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": captured,
            "mode": "reassembled",
            "orderbook_rows": counts.get("orderbooks", 0),
            "sweeps": counts.get("sweeps", 0),
            "expected_pairs": expected,
            "captured_pairs": captured,
        },
        check_results=snapshot_checks(snapshots, expected),
    )


def _dedupe_sweeps(table: pa.Table) -> pa.Table:
    """Per instant keep the best attempt: a captured sweep beats a failed or missed one."""
    rank = {"captured": 0, "partial": 1, "failed": 2, "missed": 3}
    rows = sorted(table.to_pylist(), key=lambda r: (r["slot_ts"], rank.get(r["status"], 9), -(r["captured"] or 0)))
    best: dict = {}
    for row in rows:
        best.setdefault(row["slot_ts"], row)
    return pa.Table.from_pylist(list(best.values()), schema=table.schema)


snapshot_assets = [build_snapshot_asset(tier) for tier in DEFAULT_PLAN.tiers]
