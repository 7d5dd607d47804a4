"""A year of lake writes on one machine: file counts after compaction and the warehouse rebuild over them.

What is generated is the *number* of files a year at 50k markets writes, not their volume (every file holds
one row of its table's real schema):

- one fresh day at the full cadence: per hour, one file per scheduled sweep instant for `snapshots`,
  `orderbooks` (book tiers), `sweeps` and the raw `clob_books`/`clob_prices` archives (tiers.DEFAULT_PLAN),
  a recorder file every 10 s for `book_updates` and the raw `ws_market` frames, and one file for each
  once-an-hour table (`trades`, `ws_gaps`, `whale_events`, `market_states`, ...), about 2,450 files an hour;
- the 364 days before it as `lake_compaction_job` leaves them: one file per table-hour (hard links to one
  template per table, so generating them is cheap; every path is still a file a reader must list and open).

The fresh day is then compacted by the real job logic (`compact_closed_hours`'s `compact_partition`), and:

- `year_files_per_table_hour_max`: the most visible files any table-hour directory holds afterwards (target 1);
- `warehouse_rebuild_year_s`: `build_warehouse` over the year (target 5 s), `warehouse_rebuild_day_s` over a
  lake holding the one day, and `warehouse_rebuild_year_vs_day` their ratio (target ≤ 1.5);
- `compaction_day_s`, `compaction_files_before`: compacting the fresh day.

`run(days=..., cadence_scale=...)` shrinks it for the smoke test. The load average is reported beside the
timings, since the machine is shared.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from polymarket_assets.lib.compaction import closed_partitions, compact_partition, visible_files
from polymarket_assets.lib.parquet_store import DataLocation, partition_path
from polymarket_assets.lib.raw_archive import RAW_SCHEMA
from polymarket_assets.lib.tiers import DEFAULT_PLAN
from polymarket_assets.lib.warehouse import build_warehouse

DAYS = 365
RECORDER_FLUSH_S = 10
WAREHOUSE_TARGET_S = 5.0
YEAR_VS_DAY_TARGET = 1.5
YEAR_START = datetime(2025, 12, 1, tzinfo=UTC)
HOURLY_TABLES = (
    "trades",
    "ws_gaps",
    "whale_events",
    "market_states",
    "tier_transitions",
    "coverage",
    "resolutions",
)
HOURLY_RAW = ("gamma_markets", "resolutions")


def _schemas() -> dict[str, pa.Schema]:
    """Each lake table's file schema, plus the raw archives'."""
    from polymarket_assets.lib import tables
    from polymarket_assets.lib.schemas import RAW_FRAMES_SCHEMA

    out = {f"lake/{t.name}": t.schema for t in tables.TABLES}
    for kind in ("clob_books", "clob_prices", *HOURLY_RAW):
        out[f"raw/{kind}"] = RAW_SCHEMA
    out["raw/ws_market"] = RAW_FRAMES_SCHEMA
    return out


def files_per_hour(cadence_scale: float = 1.0) -> dict[tuple[str, str | None], int]:
    """(table, tier or None) -> files written in one hour at 50k markets' cadence (times `cadence_scale`)."""
    counts: dict[tuple[str, str | None], int] = {}
    for tier in DEFAULT_PLAN.tiers:
        instants = 3600 // tier.interval_s
        for table in ("lake/snapshots", "lake/sweeps", "raw/clob_books" if tier.books else "raw/clob_prices"):
            counts[(table, tier.name)] = instants
        if tier.books:
            counts[("lake/orderbooks", tier.name)] = instants
    for table in ("lake/book_updates", "raw/ws_market"):
        counts[(table, None)] = 3600 // RECORDER_FLUSH_S
    for table in HOURLY_TABLES:
        counts[(f"lake/{table}", None)] = 1
    for kind in HOURLY_RAW:
        counts[(f"raw/{kind}", None)] = 1
    return {k: max(1, round(v * cadence_scale)) for k, v in counts.items()}


def _templates(root: Path, schemas: dict[str, pa.Schema]) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for table, schema in schemas.items():
        path = root / (table.replace("/", "_") + ".parquet")
        pq.write_table(pa.Table.from_arrays([pa.nulls(1, f.type) for f in schema], schema=schema), path)
        out[table] = path
    return out


def _hour_dir(data_dir: Path, table: str, tier: str | None, hour: datetime) -> Path:
    tier_part = {"tier": tier} if tier is not None else {}
    return partition_path(data_dir, table, {**tier_part, "date": f"{hour:%Y-%m-%d}", "hour": f"{hour:%H}"})


def generate(
    data_dir: Path, templates: dict[str, Path], start: datetime, hours: int, per_hour: dict, *, fresh: bool
) -> int:
    """Lay down `hours` hours of files: `per_hour` files per table-hour when `fresh`, else one (compacted)."""
    written = 0
    for h in range(hours):
        hour = start + timedelta(hours=h)
        for (table, tier), n in per_hour.items():
            directory = _hour_dir(data_dir, table, tier, hour)
            directory.mkdir(parents=True, exist_ok=True)
            if not fresh:
                _link(templates, table, directory / "compacted-000000000000.parquet")
                written += 1
                continue
            for i in range(n):
                _link(templates, table, directory / f"part-{i:05d}.parquet")
            written += n
    return written


def _link(templates: dict[str, Path], table: str, target: Path) -> None:
    """A hard link to the table's template; past the file system's link limit (65,000 on ext4), to a fresh copy."""
    try:
        os.link(templates[table], target)
    except OSError as exc:
        if exc.errno != errno.EMLINK:
            raise
        copy = templates[table].with_name(
            f"{templates[table].stem}-{target.parent.name}-{target.stem}.parquet"
        )
        shutil.copyfile(templates[table], copy)
        templates[table] = copy
        os.link(copy, target)


def max_files_per_table_hour(
    location: DataLocation, tables: list[str], start: datetime, end: datetime
) -> int:
    return max(
        (
            len(visible_files(location, p.path))
            for t in tables
            for p in closed_partitions(location, t, start, end)
        ),
        default=0,
    )


def _timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def run(days: int = DAYS, cadence_scale: float = 1.0) -> dict:
    from polymarket_assets.lib.tables import views

    work = Path(tempfile.mkdtemp(prefix="store_bench_"))
    try:
        schemas = _schemas()
        templates = _templates(work / "templates", schemas)
        per_hour = files_per_hour(cadence_scale)
        tables = sorted({t for t, _ in per_hour})
        fresh_day = YEAR_START + timedelta(days=days - 1)
        year_dir, day_dir = work / "year", work / "day"
        history = generate(year_dir, templates, YEAR_START, 24 * (days - 1), per_hour, fresh=False)
        fresh = generate(year_dir, templates, fresh_day, 24, per_hour, fresh=True)
        generate(day_dir, templates, fresh_day, 24, per_hour, fresh=True)

        location = DataLocation(year_dir)
        end = fresh_day + timedelta(days=1)

        def compact_day(loc: DataLocation) -> int:
            return sum(
                compact_partition(loc, p.path) is not None
                for t in tables
                for p in closed_partitions(loc, t, fresh_day, end)
            )

        compaction_s, compacted = _timed(lambda: compact_day(location))
        compact_day(DataLocation(day_dir))
        files_max = max_files_per_table_hour(location, tables, YEAR_START, end)
        load = os.getloadavg()[0]
        day_s, _ = _timed(lambda: build_warehouse(day_dir, views(), count_rows=False))
        year_s, _ = _timed(lambda: build_warehouse(year_dir, views(), count_rows=False))
        return {
            "year_files_per_table_hour_max": files_max,
            "year_files_written": history + fresh,
            "year_table_hours": len(per_hour) * 24 * days,
            "compaction_files_before": fresh,
            "compaction_partitions": compacted,
            "compaction_day_s": round(compaction_s, 2),
            "warehouse_rebuild_year_s": round(year_s, 3),
            "warehouse_rebuild_day_s": round(day_s, 3),
            "warehouse_rebuild_year_vs_target": round(year_s / WAREHOUSE_TARGET_S, 3),
            "warehouse_rebuild_year_vs_day": round(year_s / day_s, 3) if day_s else None,
            "store_bench_days": days,
            "store_bench_cadence_scale": cadence_scale,
            "store_bench_loadavg_1m": round(load, 2),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
