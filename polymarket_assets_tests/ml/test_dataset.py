"""Training-set assembly: horizon rows, strict labels (on the real resolved samples), and the time split."""

import json
from datetime import timedelta

import pytest

from polymarket_assets.defs.resolutions.assets import obj_outcome_prices
from polymarket_assets.lib.labels import combine, label_from_gamma
from polymarket_assets.lib.ml.dataset import build_training_set
from polymarket_assets.lib.ml.sources import (
    MARKET_STATES,
    RESOLUTIONS,
    connect,
    features_source,
    relation_sql,
)
from polymarket_assets.lib.ml.store import write_features_partition
from polymarket_assets.lib.parquet_store import Lake
from polymarket_assets.lib.parse_gamma import parse_gamma_market
from polymarket_assets_tests.lib.conftest import load_sample
from polymarket_assets_tests.ml.lakefixtures import (
    T0,
    market_state,
    resolution,
    snapshot,
    write_resolutions,
    write_snapshots,
    write_states,
)

H = timedelta(hours=1)


def _build(lake: Lake, days: int, **kwargs):
    for d in range(days):
        write_features_partition(lake.data_dir, (T0 + timedelta(days=d)).date())
    con = connect()
    return build_training_set(
        con,
        relation_sql(lake.root, features_source()),
        relation_sql(lake.root, MARKET_STATES),
        relation_sql(lake.root, RESOLUTIONS),
        **kwargs,
    )


def _market_rows(cid: str, close, first=T0, every=H, **state) -> tuple[dict, list[dict]]:
    """A market discovered at `first`, snapshotted every `every` until its close."""
    rows, ts = [], first
    while ts <= close:
        rows.append(snapshot(cid, ts, 0.5))
        ts += every
    return market_state(cid, first, close, **state), rows


def _market(lake: Lake, cid: str, close, first=T0, every=H, **state):
    state_row, rows = _market_rows(cid, close, first, every, **state)
    write_states(lake, [state_row], stem=f"s-{cid}")
    write_snapshots(lake, rows, stem=f"snap-{cid}")


def test_horizon_rows_are_the_latest_at_or_before_close_minus_h_within_tolerance(tmp_path):
    lake = Lake(tmp_path)
    close = T0 + timedelta(days=2, minutes=40)
    _market(lake, "a", close)
    # b is recorded only every 3 hours: its 1 h row would be too old for the 15-minute tolerance
    _market(lake, "b", close, every=3 * H)
    write_resolutions(lake, [resolution("a", "YES", close + 3 * H), resolution("b", "NO", close + 3 * H)])
    ts = _build(lake, 3, horizons={24.0: 1.0, 4.0: 1.0, 1.0: 1.0})
    rows = {(r["condition_id"], r["horizon_h"]): r for r in ts.table.to_pylist()}
    assert rows[("a", 24.0)]["ts"] == T0 + timedelta(days=1)  # close - 24 h = day 1 00:40 -> the 00:00 row
    assert rows[("a", 4.0)]["ts"] == T0 + timedelta(days=1, hours=20)
    assert rows[("a", 1.0)]["ts"] == T0 + timedelta(days=1, hours=23)
    assert rows[("a", 1.0)]["target_ts"] == close - H
    # b's last rows before 23:40 and 20:40 are at 21:00 and 18:00, older than the tolerance; 00:00 is fine
    assert (
        ("b", 1.0) not in rows
        and ("b", 4.0) not in rows
        and rows[("b", 24.0)]["ts"] == T0 + timedelta(days=1)
    )
    assert all(r["ts"] <= r["target_ts"] for r in rows.values())
    tight = _build(lake, 3, horizons={1.0: 0.5, 4.0: 0.5})
    assert {(r["condition_id"], r["horizon_h"]) for r in tight.table.to_pylist()} == set()


def test_close_is_the_last_recorded_end_date(tmp_path):
    lake = Lake(tmp_path)
    first_close, moved_close = T0 + timedelta(days=1), T0 + timedelta(days=2)
    write_states(lake, [market_state("a", T0, first_close), market_state("a", T0 + 5 * H, moved_close)])
    write_snapshots(lake, [snapshot("a", T0 + h * H, 0.5) for h in range(49)])
    write_resolutions(lake, [resolution("a", "YES", moved_close + 3 * H)])
    ts = _build(lake, 3)
    rows = {r["horizon_h"]: r for r in ts.table.to_pylist()}
    assert rows[24.0]["close_ts"] == moved_close and rows[24.0]["ts"] == moved_close - 24 * H


def test_labels_are_the_strict_labels_of_the_real_resolved_samples(tmp_path):
    lake = Lake(tmp_path)
    samples = {
        "gamma_market_closed_resolved_yes_ukraine_ceasefire.json": 1,
        "gamma_market_closed_resolved_no_katana_fdv.json": 0,
        "gamma_market_negrisk_active_newsom_2028.json": None,  # open: UNKNOWN, excluded
    }
    close = T0 + timedelta(days=2)
    checks, expected = [], {}
    for name, label in samples.items():
        obj = load_sample(name)
        parsed = parse_gamma_market(obj)
        outcome = combine(label_from_gamma(parsed.closed, obj_outcome_prices(obj), parsed.outcomes), None).outcome
        cid = parsed.condition_id
        _market(lake, cid, close)
        checks.append(resolution(cid, outcome, close + 3 * H))
        expected[cid] = label
    # closed at ["0", "0"]: INVALID; closed at ["0.9995", "0.0005"]: still UNKNOWN; never checked: unresolved
    for cid, prices in (("0xinvalid", ["0", "0"]), ("0xnearly", ["0.9995", "0.0005"])):
        _market(lake, cid, close)
        checks.append(resolution(cid, label_from_gamma(True, prices, ["Yes", "No"]).outcome, close + 3 * H))
    _market(lake, "0xpending", close)
    # a final label is never replaced by a later UNKNOWN check (the resolutions view's rule)
    yes_cid = next(c for c, v in expected.items() if v == 1)
    checks.append(resolution(yes_cid, "UNKNOWN", close + 5 * H))
    write_resolutions(lake, checks)

    ts = _build(lake, 3)
    got = {r["condition_id"]: r["label"] for r in ts.table.to_pylist()}
    assert got == {c: v for c, v in expected.items() if v is not None}
    assert ts.excluded == {"INVALID": 1, "UNKNOWN": 2, "UNRESOLVED": 1}
    assert set(ts.table.column("outcome").to_pylist()) == {"YES", "NO"}


def test_split_is_by_time_and_keeps_markets_and_events_whole(tmp_path):
    lake = Lake(tmp_path)
    checks, states, snaps = [], [], []
    for i in range(30):
        close = T0 + timedelta(days=1, hours=2 * i)
        neg = {"neg_risk": True, "neg_risk_market_id": f"E{i // 3}"} if i < 12 else {}
        # negRisk siblings share their event's close
        if neg:
            close = T0 + timedelta(days=1, hours=6 * (i // 3))
        cid = f"m{i:02d}"
        state_row, rows = _market_rows(cid, close, **neg)
        states.append(state_row)
        snaps.extend(rows)
        checks.append(resolution(cid, "YES" if i % 2 else "NO", close + 3 * H))
    write_states(lake, states)
    write_snapshots(lake, snaps)
    write_resolutions(lake, checks)
    ts = _build(lake, 4, fractions=(0.6, 0.2, 0.2))
    rows = ts.table.to_pylist()
    split_of_market, split_of_cluster = {}, {}
    for r in rows:
        assert split_of_market.setdefault(r["condition_id"], r["split"]) == r["split"]
        assert split_of_cluster.setdefault(r["cluster"], r["split"]) == r["split"]
    assert {r["cluster"] for r in rows if r["condition_id"] in ("m00", "m01", "m02")} == {"E0"}
    closes = {s: [r["close_ts"] for r in rows if r["split"] == s] for s in ("train", "validation", "test")}
    assert max(closes["train"]) <= min(closes["validation"]) and max(closes["validation"]) <= min(
        closes["test"]
    )
    clusters = {s: {r["cluster"] for r in rows if r["split"] == s} for s in closes}
    assert len(clusters["train"]) == pytest.approx(0.6 * 22, abs=1)  # 4 events + 18 single markets
    assert ts.boundaries["train_last_close"] <= ts.boundaries["test_first_close"]
    json.dumps(ts.boundaries)
