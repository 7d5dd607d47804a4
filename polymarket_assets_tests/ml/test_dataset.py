"""Training-set assembly: horizon rows chosen with the end date known at the time, strict labels (on the real
resolved samples), event clusters, and the purged time split."""

import json
from datetime import timedelta

import pytest

from polymarket_assets.defs.resolutions.assets import obj_outcome_prices
from polymarket_assets.lib.labels import combine, label_from_gamma
from polymarket_assets.lib.ml.dataset import build_training_set
from polymarket_assets.lib.ml.sources import FEATURES, MARKET_STATES, RESOLUTIONS, connect, relation_sql
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
ALL_TRAIN = (1.0, 0.0, 0.0)  # row-choice tests: no split, so no purge


def _build(lake: Lake, days: int, **kwargs):
    for d in range(days):
        write_features_partition(lake.data_dir, (T0 + timedelta(days=d)).date())
    con = connect()
    return build_training_set(
        con,
        relation_sql(lake.root, FEATURES),
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
    ts = _build(lake, 3, horizons={24.0: 1.0, 4.0: 1.0, 1.0: 1.0}, fractions=ALL_TRAIN)
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
    tight = _build(lake, 3, horizons={1.0: 0.5, 4.0: 0.5}, fractions=ALL_TRAIN)
    assert {(r["condition_id"], r["horizon_h"]) for r in tight.table.to_pylist()} == set()


def test_a_horizon_is_reached_with_the_end_date_known_at_the_time(tmp_path):
    """An end date pushed out after the 24 h instant: the 24 h row stays the one taken 24 h before the close
    known then; the later horizons follow the revised end date."""
    lake = Lake(tmp_path)
    first_close, moved_close = T0 + timedelta(days=1), T0 + timedelta(days=2)
    write_states(lake, [market_state("a", T0, first_close), market_state("a", T0 + 5 * H, moved_close)])
    write_snapshots(lake, [snapshot("a", T0 + h * H, 0.5) for h in range(49)])
    write_resolutions(lake, [resolution("a", "YES", moved_close + 3 * H, moved_close + 2 * H)])
    ts = _build(lake, 3, fractions=ALL_TRAIN)
    rows = {r["horizon_h"]: r for r in ts.table.to_pylist()}
    assert rows[24.0]["ts"] == T0 and rows[24.0]["close_ts"] == first_close
    assert rows[4.0]["ts"] == moved_close - 4 * H and rows[4.0]["close_ts"] == moved_close
    assert rows[1.0]["ts"] == moved_close - H
    for row in rows.values():
        assert row["hours_to_close"] == pytest.approx(row["horizon_h"])


def _pulled_in_world(tmp_path, pulled_in: bool):
    """A market due at day 2 00:40; in the pulled-in world discovery sees at 26:00 that it already ended at
    25:00 (a "by date X" market that resolved YES early) and it resolves at 26:30."""
    lake = Lake(tmp_path)
    due = T0 + timedelta(days=2, minutes=40)
    states = [market_state("a", T0, due)]
    if pulled_in:
        states.append(market_state("a", T0 + 26 * H, T0 + 25 * H))
        resolved = T0 + timedelta(hours=26, minutes=30)
    else:
        resolved = due + 2 * H
    write_states(lake, states)
    write_snapshots(lake, [snapshot("a", T0 + h * H, 0.5) for h in range(49)])
    write_resolutions(lake, [resolution("a", "YES", resolved + H, resolved)])
    return _build(lake, 3, horizons={24.0: 1.0, 4.0: 1.0, 1.0: 1.0}, fractions=ALL_TRAIN)


def test_an_end_date_pulled_in_does_not_change_the_rows_chosen_before_it(tmp_path):
    """With the final end date, the pulled-in market's "24 h" row would be taken at 01:00 with 47.7 hours to
    close: a row chosen because the market resolved early. Chosen with the end date known at each instant,
    the 24 h row is the one the unrevised market gets, and the later horizons (never reached before the
    resolution) have no row at all."""
    plain = {r["horizon_h"]: r["ts"] for r in _pulled_in_world(tmp_path / "plain", False).table.to_pylist()}
    revised = _pulled_in_world(tmp_path / "revised", True).table.to_pylist()
    assert plain[24.0] == T0 + 24 * H
    assert {r["horizon_h"]: r["ts"] for r in revised} == {24.0: plain[24.0]}
    for row in revised:
        assert abs(row["hours_to_close"] - row["horizon_h"]) <= 1.0 and row["ts"] < row["resolved_at"]


def test_no_row_at_or_after_the_resolution_or_the_closed_time(tmp_path):
    lake = Lake(tmp_path)
    due = T0 + timedelta(days=2)
    # b stopped trading (closedTime) 3 hours before its end date; a resolved 2 hours before it
    write_states(
        lake,
        [market_state("a", T0, due), market_state("b", T0, due, closed_time=due - 3 * H)],
    )
    write_snapshots(lake, [snapshot(c, T0 + h * H, 0.5) for c in "ab" for h in range(49)])
    write_resolutions(
        lake,
        [resolution("a", "YES", due - H, due - 2 * H), resolution("b", "NO", due + H, due + H)],
    )
    rows = {
        (r["condition_id"], r["horizon_h"]) for r in _build(lake, 3, fractions=ALL_TRAIN).table.to_pylist()
    }
    assert rows == {("a", 24.0), ("a", 4.0), ("b", 24.0), ("b", 4.0)}


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
        outcome = combine(
            label_from_gamma(parsed.closed, obj_outcome_prices(obj), parsed.outcomes), None
        ).outcome
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

    ts = _build(lake, 3, fractions=ALL_TRAIN)
    got = {r["condition_id"]: r["label"] for r in ts.table.to_pylist()}
    assert got == {c: v for c, v in expected.items() if v is not None}
    assert ts.excluded == {"INVALID": 1, "UNKNOWN": 2, "UNRESOLVED": 1}
    assert set(ts.table.column("outcome").to_pylist()) == {"YES", "NO"}


def _split_world(tmp_path, n: int = 30, **kwargs):
    """n markets closing two hours apart, resolved an hour after close; the first 12 form four negRisk
    events of three (closing together), markets 12-20 three non-negRisk events (a game's moneyline, spread and
    total share an event id), the rest single markets."""
    lake = Lake(tmp_path)
    checks, states, snaps = [], [], []
    for i in range(n):
        close = T0 + timedelta(days=1, hours=2 * i)
        extra: dict = {}
        if i < 12:
            extra = {"neg_risk": True, "neg_risk_market_id": f"E{i // 3}", "event_id": f"ev-neg-{i // 3}"}
            close = T0 + timedelta(days=1, hours=6 * (i // 3))
        elif i < 21:
            extra = {"event_id": f"game{(i - 12) // 3}"}
        cid = f"m{i:02d}"
        state_row, rows = _market_rows(cid, close, **extra)
        states.append(state_row)
        snaps.extend(rows)
        checks.append(resolution(cid, "YES" if i % 2 else "NO", close + 2 * H, close + H))
    write_states(lake, states)
    write_snapshots(lake, snaps)
    write_resolutions(lake, checks)
    return _build(lake, 4, **kwargs)


def test_split_is_by_time_and_keeps_markets_and_events_whole(tmp_path):
    ts = _split_world(tmp_path, fractions=(0.6, 0.2, 0.2))
    rows = [r for r in ts.table.to_pylist() if r["split"] != "purged"]
    split_of_market, split_of_cluster = {}, {}
    for r in rows:
        assert split_of_market.setdefault(r["condition_id"], r["split"]) == r["split"]
        assert split_of_cluster.setdefault(r["cluster"], r["split"]) == r["split"]
    assert {r["cluster"] for r in rows if r["condition_id"] in ("m00", "m01", "m02")} == {"E0"}
    labels = {s: [r["label_ts"] for r in rows if r["split"] == s] for s in ("train", "validation", "test")}
    assert max(labels["train"]) < min(labels["validation"]) and max(labels["validation"]) < min(
        labels["test"]
    )
    assert ts.boundaries["train_last_label"] < ts.boundaries["test_first_row"]
    json.dumps(ts.boundaries)


def test_markets_of_one_non_negrisk_event_are_one_cluster(tmp_path):
    rows = _split_world(tmp_path, fractions=ALL_TRAIN).table.to_pylist()
    cluster_of = {r["condition_id"]: r["cluster"] for r in rows}
    assert cluster_of["m12"] == cluster_of["m13"] == cluster_of["m14"] == "game0"
    assert cluster_of["m18"] == cluster_of["m20"] == "game2" and cluster_of["m21"] != cluster_of["m22"]
    assert len(set(cluster_of.values())) == 4 + 3 + 9


def test_the_purge_keeps_every_fitted_label_before_the_first_test_instant(tmp_path):
    """Without a purge, 24 h test rows are taken while training markets are still open: a label resolved
    after a test row is information from that row's future."""
    ts = _split_world(tmp_path, fractions=(0.6, 0.2, 0.2), embargo_h=3.0)
    rows = [r for r in ts.table.to_pylist() if r["split"] != "purged"]
    first = {s: min(r["ts"] for r in rows if r["split"] == s) for s in ("validation", "test")}
    for r in rows:
        if r["split"] == "train":
            assert r["label_ts"] < first["validation"] - 3 * H
        if r["split"] in ("train", "validation"):
            assert r["label_ts"] < first["test"] - 3 * H, r
    assert ts.purged["rows"] == sum(s == "purged" for s in ts.table["split"].to_pylist()) > 0
    assert ts.purged["clusters"] > 0
    assert {r["split"] for r in rows} == {"train", "validation", "test"}
    # a test market closing soon after the test start keeps only its short horizons
    assert all(r["ts"] >= first["test"] for r in rows if r["split"] == "test")


def test_the_gate_fails_a_training_set_whose_fitted_labels_resolve_after_the_first_test_row(tmp_path):
    import pyarrow as pa

    from polymarket_assets.defs.ml.checks import label_leaks

    table = _split_world(tmp_path, fractions=(0.6, 0.2, 0.2)).table
    assert label_leaks(table) == []
    # the old split: clusters cut by close with no purge, so a training label resolves after test begins
    first_test = min(r["ts"] for r in table.to_pylist() if r["split"] == "test")
    late = [
        first_test + H if s == "train" else t
        for s, t in zip(table["split"].to_pylist(), table["label_ts"].to_pylist())
    ]
    tampered = table.set_column(
        table.schema.get_field_index("label_ts"),
        "label_ts",
        pa.array(late, table.schema.field("label_ts").type),
    )
    problems = label_leaks(tampered)
    assert len(problems) == 2 and all(p.startswith("train label resolved at") for p in problems)
