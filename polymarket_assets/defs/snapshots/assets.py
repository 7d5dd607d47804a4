"""Tiered snapshots: one hourly-partitioned asset per tier of the plan (`lib/tiers.py`: `snapshots_t0` …).

A scheduled run captures one slot of its hour (the tier's `slot_s`: one minute for T2–T4, an hour for T0):
it waits for each scheduled instant on the clock, sweeps the tier's markets, and writes one file per
instant. A run without a slot re-assembles its hour: it merges the instant files into one, deduplicated
on (condition_id, slot_ts). Either way, materializing a partition twice never duplicates a row.

A partition is materialized only when its hour holds rows: a run that captured nothing yields no
materialization (the asset is `skippable`), so "materialized" in the UI means "data exists". Each
materialization's `dagster/row_count` is the hour's rows so far, not the run's.

Checks are partitioned by hour. Slot runs (one a minute per fast tier, each up to two minutes long) do not
select them, so overlapping runs never leave a check "In Progress": a slot run records its checks' results as
its own evaluations. The hourly re-assembly run selects and evaluates them over the whole hour.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from polymarket_assets.defs.partitions import hourly_partitions, partition_check_spec, partition_parts
from polymarket_assets.defs.policies import API_POOL, API_RETRY_POLICY, ONE_PARTITION_PER_RUN
from polymarket_assets.defs.resources import ClockResource, LakeResource, PolymarketApiResource
from polymarket_assets.lib import tables
from polymarket_assets.lib.errors import ApiError
from polymarket_assets.lib.health_thresholds import HealthThresholds, setting_name
from polymarket_assets.lib.raw_archive import RawArchive
from polymarket_assets.lib.schemas import ORDERBOOK_SCHEMA, SNAPSHOT_SCHEMA, SWEEP_SCHEMA
from polymarket_assets.lib.sweep import select_markets, sweep_books, sweep_prices
from polymarket_assets.lib.tiers import DEFAULT_PLAN, TierSpec, slot_instants

# An hour is re-assembled only once no slot run can still write into it.
COMPACT_AFTER = timedelta(minutes=10)
CHECK_DESCRIPTIONS = {
    "unique_condition_slot": "No (market, instant) pair appears twice among the rows checked.",
    "bid_not_above_ask": "No row's YES best bid is above its best ask.",
    "prices_in_unit_interval": "Every price column (YES and NO bid, ask, mid, last trade) lies in [0, 1].",
    "non_empty": "Rows were written whenever the tier plan scheduled markets.",
    "no_rows_lost": "Every scheduled (market, instant) has its row; records quarantined along the way are counted.",
    "sweeps_on_time": (
        "Every scheduled sweep ran within its tier's tolerance and did not fail. WARN when some were missed or "
        f"failed; ERROR when more than {setting_name('missed_sweeps_error_share')} (default "
        f"{HealthThresholds.missed_sweeps_error_share}) of the sweeps checked were."
    ),
}
CHECK_NAMES = tuple(CHECK_DESCRIPTIONS)
MARKETS_READ_AHEAD = timedelta(seconds=3)


class SnapshotRunConfig(dg.Config):
    slot_start: str = ""
    """ISO start of the slot to capture. Empty: re-assemble the partition's hour from what was captured."""
    books: bool | None = None
    """Override the tier's default for fetching order books (its `books`: T2–T4 on, T0/T1/stale off)."""


def _parse_slot(value: str) -> datetime:
    slot = datetime.fromisoformat(value)
    if slot.tzinfo is None:
        raise dg.Failure(f"slot_start must carry a UTC offset: {value!r}")
    return slot


NO_DISCOVERY = "no discovery yet: markets_current is empty, so no market was scheduled"


def snapshot_checks(
    table: pa.Table,
    expected: int,
    sweeps: list[dict],
    error_share: float,
    quarantined: int = 0,
    discovered: bool = True,
) -> list[dg.AssetCheckResult]:
    """The checks of CHECK_NAMES over the rows and sweep-log entries a run wrote (or its hour holds). `quarantined`:
    records of the run's answers kept in the quarantine instead of the rows. Before the first discovery a slot has
    nothing to sweep (`discovered` False): `non_empty` then warns instead of passing, so the run does not look healthy."""
    rows = table.num_rows
    keys = set(zip(table.column("condition_id").to_pylist(), table.column("slot_ts").to_pylist()))
    bid, ask = table.column("best_bid"), table.column("best_ask")
    crossed = pc.sum(pc.fill_null(pc.greater(bid, ask), False)).as_py() or 0
    out_of_range = 0
    for name in ("best_bid", "best_ask", "mid", "no_best_bid", "no_best_ask", "no_mid", "last_trade_price"):
        column = table.column(name)
        # NaN compares false both ways, so it is counted explicitly: it is not a price.
        bad = pc.or_(pc.or_(pc.less(column, 0.0), pc.greater(column, 1.0)), pc.is_nan(column))
        out_of_range += pc.sum(pc.fill_null(bad, False)).as_py() or 0
    return [
        dg.AssetCheckResult(
            check_name="unique_condition_slot",
            passed=len(keys) == rows,
            metadata={"rows": rows, "distinct_keys": len(keys)},
        ),
        dg.AssetCheckResult(
            check_name="bid_not_above_ask", passed=crossed == 0, metadata={"crossed_rows": crossed}
        ),
        dg.AssetCheckResult(
            check_name="prices_in_unit_interval",
            passed=out_of_range == 0,
            metadata={"out_of_range_values": out_of_range},
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
        dg.AssetCheckResult(
            check_name="no_rows_lost",
            passed=rows >= expected,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "rows": rows,
                "expected": expected,
                "rows_lost": max(0, expected - rows),
                "records_quarantined": quarantined,
            },
        ),
        sweeps_on_time(sweeps, error_share),
    ]


def sweeps_on_time(sweeps: list[dict], error_share: float) -> dg.AssetCheckResult:
    """Missed (late) and failed sweeps: a run marked SUCCESS can still have lost instants, and this says so."""
    missed = [s for s in sweeps if s["status"] == "missed"]
    failed = [s for s in sweeps if s["status"] == "failed"]
    bad = len(missed) + len(failed)
    share = bad / len(sweeps) if sweeps else 0.0
    return dg.AssetCheckResult(
        check_name="sweeps_on_time",
        passed=bad == 0,
        severity=dg.AssetCheckSeverity.ERROR if share > error_share else dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(missed)} missed and {len(failed)} failed of {len(sweeps)} sweeps"
            if bad
            else f"all {len(sweeps)} sweeps on time"
        ),
        metadata={
            "sweeps": len(sweeps),
            "sweeps_missed": len(missed),
            "sweeps_failed": len(failed),
            "sweeps_partial": sum(1 for s in sweeps if s["status"] == "partial"),
            "missed_share": round(share, 6),
            "error_share": error_share,
            "missed_instants": ", ".join(s["slot_ts"].isoformat() for s in (missed + failed)[:20]) or "none",
        },
    )


def report_checks(
    context: dg.AssetExecutionContext, asset_key: dg.AssetKey, results: list[dg.AssetCheckResult]
):
    """Yield the results of the checks this run selected; record the others as this run's own evaluations
    (a slot run selects none, so it never marks a check as in progress)."""
    selected = context.selected_asset_check_keys
    for result in results:
        if dg.AssetCheckKey(asset_key, result.check_name) in selected:
            yield result
            continue
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=asset_key,
                check_name=result.check_name,
                passed=result.passed,
                metadata=result.metadata,
                severity=result.severity,
                description=result.description,
                partition=context.partition_key,
            )
        )


def build_snapshot_asset(tier: TierSpec) -> dg.AssetsDefinition:
    name = tier.asset_name

    @dg.multi_asset(
        name=name,
        specs=[
            dg.AssetSpec(
                name,
                partitions_def=hourly_partitions,
                group_name="snapshots",
                kinds={"python", "parquet"},
                deps=["markets"],
                tags={"tier": tier.name},
                skippable=True,
                description=(
                    f"Snapshots of tier {tier.name} markets every {tier.interval_s} s "
                    f"({'order books via POST /books' if tier.books else 'prices via POST /prices and /midpoints'}). "
                    "A partition is materialized once its hour holds rows; `dagster/row_count` is the hour's rows."
                ),
            )
        ],
        check_specs=[partition_check_spec(check, name, CHECK_DESCRIPTIONS[check]) for check in CHECK_NAMES],
        can_subset=True,
        pool=API_POOL,
        retry_policy=API_RETRY_POLICY,
        backfill_policy=ONE_PARTITION_PER_RUN,
    )
    def _snapshots(
        context: dg.AssetExecutionContext,
        config: SnapshotRunConfig,
        polymarket: PolymarketApiResource,
        lake: LakeResource,
        clock: ClockResource,
    ):
        if config.slot_start:
            outcome = capture_slot(
                context, tier, _parse_slot(config.slot_start), config, polymarket, lake, clock
            )
        else:
            outcome = reassemble_hour(context, tier, lake, clock)
        materialization, checks = outcome
        key = dg.AssetKey(name)
        if materialization is not None:
            yield dg.MaterializeResult(asset_key=key, metadata=materialization)
        else:
            context.log.info(
                f"{name} {context.partition_key}: the hour holds no rows yet, so it is not materialized"
            )
        yield from report_checks(context, key, checks)

    return _snapshots


# What a run reports: the materialization's metadata (None: nothing to materialize) and its check results.
RunOutcome = tuple[dict | None, list[dg.AssetCheckResult]]


def capture_slot(
    context, tier: TierSpec, slot: datetime, config: SnapshotRunConfig, polymarket, lake, clock
) -> RunOutcome:
    window = context.partition_time_window
    if not (window.start <= slot < window.end):
        raise dg.Failure(f"slot {slot.isoformat()} is outside partition {context.partition_key}")
    use_books = tier.books if config.books is None else config.books
    store = lake.lake()
    clk = clock.clock()
    quarantine = lake.quarantine(tier.asset_name)
    instants = slot_instants(tier, slot)
    # The run is launched a minute ahead; read the market list just before the slot, so a discovery that
    # finished meanwhile (the first one after start-up, for instance) is already swept.
    clk.sleep_until(instants[0] - MARKETS_READ_AHEAD)
    current = store.read(tables.MARKETS_CURRENT.name)
    current_rows = current.to_pylist() if current is not None else []
    if current is None:
        context.log.warning(f"{tier.name} slot {slot.isoformat()}: {NO_DISCOVERY}")
    parts = {"tier": tier.name, **partition_parts(context.partition_key)}

    def sweep_at(instant: datetime, started: datetime) -> tuple[dict, pa.Table | None]:
        lag = (started - instant).total_seconds()
        markets = select_markets(current_rows, tier.name, instant, DEFAULT_PLAN)
        sweep = {
            "tier": tier.name,
            "slot_ts": instant,
            "started_at": started,
            "lag_s": lag,
            "expected": len(markets),
            "captured": 0,
            "duration_s": 0.0,
            "run_id": context.run.run_id,
            "error": None,
            "status": "captured",
        }
        stem = f"slot-{instant:%Y%m%dT%H%M%S}"
        table = None
        if lag > tier.tolerance_s:
            # Never backdate: a late sweep would claim prices from an instant it did not see.
            sweep["status"] = "missed"
            context.log.warning(
                f"{tier.name} sweep for {instant.isoformat()} is {lag:.1f} s late; recorded as missed"
            )
        elif markets:
            t0 = time.monotonic()
            try:
                if use_books:
                    result = sweep_books(
                        polymarket.clob,
                        markets,
                        tier,
                        instant,
                        started,
                        quarantine,
                        batch_size=polymarket.books_batch_size,
                        max_workers=polymarket.max_workers,
                        known_without_book=no_book_tokens,
                    )
                else:
                    result = sweep_prices(
                        polymarket.clob,
                        markets,
                        tier,
                        instant,
                        started,
                        quarantine,
                        batch_size=polymarket.books_batch_size,
                    )
            except ApiError as exc:
                sweep.update(status="failed", error=str(exc)[:500], duration_s=time.monotonic() - t0)
                context.log.error(f"{tier.name} sweep for {instant.isoformat()} failed: {exc}")
            else:
                table = pa.Table.from_pylist(result.rows, schema=SNAPSHOT_SCHEMA)
                store.write("snapshots", table, parts, stem)
                if result.orderbooks:
                    store.write(
                        "orderbooks",
                        pa.Table.from_pylist(result.orderbooks, schema=ORDERBOOK_SCHEMA),
                        parts,
                        stem,
                    )
                raw = RawArchive(store.data_dir, "clob_books" if use_books else "clob_prices")
                for endpoint, request, body in result.raw:
                    raw.add(started, endpoint, request, body)
                raw.flush(parts, stem)
                notes = (
                    [f"{result.quarantined} records quarantined"] if result.quarantined else []
                ) + result.errors
                sweep.update(
                    status="captured" if not result.failed_condition_ids else "partial",
                    captured=table.num_rows,
                    duration_s=time.monotonic() - t0,
                    error="; ".join(notes)[:500] or None,
                )
                if result.quarantined or result.failed_condition_ids:
                    context.log.warning(
                        f"{tier.name} sweep for {instant.isoformat()}: {len(result.failed_condition_ids)} markets not "
                        f"captured, {result.quarantined} records quarantined"
                    )
        # One sweep-log file per attempt: a retry that misses an instant must not hide the earlier capture.
        store.write(
            "sweeps",
            pa.Table.from_pylist([sweep], schema=SWEEP_SCHEMA),
            parts,
            f"{stem}-{context.run.run_id[:8]}",
        )
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
    checks = snapshot_checks(
        table,
        expected,
        sweeps,
        HealthThresholds.from_env().missed_sweeps_error_share,
        quarantine.count,
        discovered=current is not None,
    )
    if table.num_rows == 0:
        return None, checks
    api = polymarket.stats()
    metadata = {
        "dagster/row_count": store.row_count("snapshots", parts),
        "slot_rows": table.num_rows,
        "slot_start": slot.isoformat(),
        "sweeps": len(sweeps),
        "sweeps_missed": sum(1 for s in sweeps if s["status"] == "missed"),
        "sweeps_failed": sum(1 for s in sweeps if s["status"] == "failed"),
        "expected_pairs": expected,
        "captured_pairs": captured,
        "slot_coverage": round(captured / expected, 6) if expected else 1.0,
        "max_lag_s": round(max((s["lag_s"] for s in sweeps), default=0.0), 3),
        "quarantined": quarantine.count,
        "rows_lost": max(0, expected - captured),
        "api_requests": int(api.get("requests", 0)),
        "api_retries": int(api.get("retries", 0)),
        "books": use_books,
        "discovery": "done" if current is not None else NO_DISCOVERY,
    }
    return metadata, checks


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


def reassemble_hour(context, tier: TierSpec, lake, clock) -> RunOutcome:
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
    sweeps_table = store.read("sweeps", parts)
    sweeps = sweeps_table.select(SWEEP_SCHEMA.names).to_pylist() if sweeps_table is not None else []
    expected = sum(s["expected"] for s in sweeps)
    captured = snapshots.num_rows
    checks = snapshot_checks(
        snapshots, expected, sweeps, HealthThresholds.from_env().missed_sweeps_error_share
    )
    if captured == 0:
        return None, checks
    metadata = {
        "dagster/row_count": captured,
        "mode": "reassembled",
        "orderbook_rows": counts.get("orderbooks", 0),
        "sweeps": counts.get("sweeps", 0),
        "expected_pairs": expected,
        "captured_pairs": captured,
    }
    return metadata, checks


def _dedupe_sweeps(table: pa.Table) -> pa.Table:
    """Per instant keep the best attempt: a captured sweep beats a failed or missed one."""
    rank = {"captured": 0, "partial": 1, "failed": 2, "missed": 3}
    rows = sorted(
        table.to_pylist(), key=lambda r: (r["slot_ts"], rank.get(r["status"], 9), -(r["captured"] or 0))
    )
    best: dict = {}
    for row in rows:
        best.setdefault(row["slot_ts"], row)
    return pa.Table.from_pylist(list(best.values()), schema=table.schema)


snapshot_assets = [build_snapshot_asset(tier) for tier in DEFAULT_PLAN.tiers]
