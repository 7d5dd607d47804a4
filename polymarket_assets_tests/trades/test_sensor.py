"""`incoming_files_sensor` through `build_sensor_context`: new files → one run per hour, never twice."""

from __future__ import annotations

import os

import dagster as dg

from polymarket_assets.lib.incoming import TMP_PREFIX, IncomingFile, file_name, incoming_root
from polymarket_assets.lib.trades.plan import CURSOR_WINDOW_MS, SensorCursor, plan_runs

from .conftest import HOUR, api_trade, book_update, cursor_size, evaluate, write, ws_trade


def test_nothing_to_do_on_an_empty_directory(data_dir):
    result = evaluate(data_dir)
    assert not result.run_requests
    again = evaluate(data_dir, result.cursor)
    assert again.skip_reason and not again.run_requests


def test_one_run_per_hour_naming_its_files_then_nothing_twice(data_dir):
    written = write(data_dir, "trades", [ws_trade("a", HOUR * 1000 + 5), ws_trade("b", HOUR * 1000 - 5)])
    written += write(
        data_dir,
        "book_updates",
        [book_update(HOUR * 1000 + 1, received_us=HOUR * 10**6, asset="1", condition_id="0x")],
    )
    written += write(
        data_dir, "ws_gaps", [("g", "r", "c00", HOUR * 1000, HOUR * 1000 + 5, "disconnect", "x", 2, None, 0)]
    )
    first = evaluate(data_dir)
    by_partition = {r.partition_key: r for r in first.run_requests}
    assert sorted(by_partition) == ["2026-11-24-09:00", "2026-11-24-10:00"]
    late = by_partition["2026-11-24-10:00"]
    assert sorted(k.to_user_string() for k in late.asset_selection) == ["book_updates", "trades", "ws_gaps"]
    assert [k.name for k in late.asset_check_keys] == ["trades_unique_and_priced"], (
        "health checks run on their own"
    )
    ops = late.run_config["ops"]
    assert len(ops["trades"]["config"]["files"]) == 1 and ops["trades"]["config"]["files"][0].startswith(
        "trades/day="
    )
    assert sorted(
        f for r in first.run_requests for v in r.run_config["ops"].values() for f in v["config"]["files"]
    ) == sorted(f"{p.parent.parent.name}/{p.parent.name}/{p.name}" for p in written)
    # Same files, same cursor → the same deterministic run keys (the daemon would drop the duplicates).
    assert [r.run_key for r in evaluate(data_dir).run_requests] == [r.run_key for r in first.run_requests]
    # With the cursor: nothing new, nothing requested.
    second = evaluate(data_dir, first.cursor)
    assert not second.run_requests
    # One more file → exactly one run, for exactly that file.
    [extra] = write(data_dir, "trades", [api_trade("c", HOUR + 30)])
    third = evaluate(data_dir, second.cursor or first.cursor)
    [run] = third.run_requests
    assert run.run_config["ops"] == {
        "trades": {"config": {"files": [f"trades/{extra.parent.name}/{extra.name}"]}}
    }
    assert run.partition_key == "2026-11-24-10:00"


def test_temporaries_foreign_names_symlinks_and_unknown_hours_are_never_requested(data_dir, tmp_path):
    [good] = write(data_dir, "trades", [ws_trade("a", HOUR * 1000)])
    day = good.parent
    (day / (TMP_PREFIX + "abc-" + good.name.replace("00000001", "00000002"))).write_bytes(b"half a file")
    (day / "trades-20261124T10-9999999999999-00000001-0a1b2c3d.parquet.partial").write_bytes(b"x")
    outside = tmp_path / "secret.parquet"
    outside.write_bytes(b"x")
    os.symlink(outside, day / good.name.replace("00000001", "00000003"))
    (incoming_root(data_dir) / "trades" / "elsewhere").mkdir()
    (
        incoming_root(data_dir) / "trades" / "elsewhere" / good.name.replace("00000001", "00000004")
    ).write_bytes(b"x")
    write(data_dir, "trades", [ws_trade("old", 946_684_800_000)])  # year 2000: no such partition
    result = evaluate(data_dir)
    [run] = result.run_requests
    assert run.run_config["ops"]["trades"]["config"]["files"] == [f"trades/{day.name}/{good.name}"]
    # The skipped file is consumed (not retried forever) and the cursor moved past it.
    assert not evaluate(data_dir, result.cursor).run_requests


def test_the_sensor_only_lists_and_stats(data_dir):
    [good] = write(data_dir, "trades", [ws_trade("a", HOUR * 1000)])
    good.write_bytes(b"not parquet at all")  # (a test-only corruption; the sidecar never rewrites a file)
    [run] = evaluate(data_dir).run_requests
    assert run.tags["ws/files"] == "1"


def test_cursor_keeps_only_recent_keys_above_a_floor():
    def fake(ms: int, seq: int) -> IncomingFile:
        name = file_name("trades", "20261124T10", ms, seq, "0a1b2c3d")
        return IncomingFile(
            "trades",
            "20261124T10",
            name[len("trades-20261124T10-") : -8],
            incoming_root("/x") / "trades" / "day=2026-11-24" / name,
            1,
        )

    start = HOUR * 1000
    listed = [fake(start + i * 10_000, i) for i in range(200)]  # 200 files, one every 10 s
    plan = plan_runs(listed, SensorCursor(), lambda pk: True)
    runs, cursor = plan.runs, plan.cursor
    assert sum(len(r.files) for r in runs) == 200 and not plan.rejected and not plan.waiting
    assert (
        len(cursor.done) == CURSOR_WINDOW_MS // 10_000 + 1
    )  # 5 minutes of keys (both ends), the rest under the floor
    assert all(not cursor.is_new(f.key) for f in listed)
    # A file named earlier but renamed later, still inside the window, is picked up; one below the floor is not.
    late_inside = fake(start + 199 * 10_000 - 60_000, 1000)
    plan2 = plan_runs(listed + [late_inside], cursor, lambda pk: True)
    runs, cursor2 = plan2.runs, plan2.cursor
    assert [f.key for r in runs for f in r.files] == [late_inside.key]
    assert len(SensorCursor.parse(cursor2.dumps()).done) == len(cursor2.done)
    # Runs are capped, so run config stays bounded.
    many = plan_runs(listed, SensorCursor(), lambda pk: True, max_files=64).runs
    assert [len(r.files) for r in many] == [64, 64, 64, 8] and len({r.run_key for r in many}) == 4


def test_cursor_json_stays_small_in_steady_state(data_dir):
    result = None
    for i in range(6):
        write(data_dir, "trades", [ws_trade(f"u{i}", HOUR * 1000 + i)])
        result = evaluate(data_dir, result.cursor if result else None)
        assert len(result.run_requests) == 1
    assert cursor_size(result) == 6 and len(result.cursor) < 400
    assert isinstance(result, dg.SensorResult)
