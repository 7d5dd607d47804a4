"""Strict resolution labels, on the real resolved samples and on the traps of polymarket_api.md §1.4."""

import json

import pytest

from polymarket_assets.lib.labels import INVALID, NO, UNKNOWN, YES, combine, label_from_clob, label_from_gamma
from polymarket_assets_tests.lib.conftest import load_sample


def _gamma_label(obj):
    return label_from_gamma(obj["closed"], json.loads(obj["outcomePrices"]), json.loads(obj["outcomes"]))


def test_real_resolved_no_sample_is_no():
    obj = load_sample("gamma_market_closed_resolved_no_katana_fdv.json")
    assert _gamma_label(obj).outcome == NO


def test_real_resolved_yes_sample_is_yes_even_while_accepting_orders():
    obj = load_sample("gamma_market_closed_resolved_yes_ukraine_ceasefire.json")
    assert obj["acceptingOrders"] is True
    assert _gamma_label(obj).outcome == YES


def test_real_open_market_is_unknown():
    assert _gamma_label(load_sample("gamma_market_negrisk_active_newsom_2028.json")).outcome == UNKNOWN


def test_real_clob_winner_sample_agrees_with_gamma():
    clob = load_sample("clob_market_closed_winner_no_katana_fdv.json")
    gamma = load_sample("gamma_market_closed_resolved_no_katana_fdv.json")
    yes_token, no_token = json.loads(gamma["clobTokenIds"])
    label = label_from_clob(clob["closed"], clob["tokens"], yes_token, no_token)
    assert label.outcome == NO
    assert combine(_gamma_label(gamma), label).outcome == NO


@pytest.mark.parametrize(
    ("closed", "prices", "expected"),
    [
        (True, ["1", "0"], YES),
        (True, ["0", "1"], NO),
        (True, ["1.0", "0.00"], YES),
        (True, ["0", "0"], INVALID),
        (False, ["1", "0"], UNKNOWN),  # one-hot but still open
        (True, ["0.9995", "0.0005"], UNKNOWN),  # near one is not one
        (True, ["0.5", "0.5"], UNKNOWN),  # closed alone is not enough
        (True, ["1", "1"], UNKNOWN),
        (True, ["1", "0", "0"], UNKNOWN),
        (True, ["x", "0"], UNKNOWN),
        (None, None, UNKNOWN),
    ],
)
def test_only_strict_one_hot_is_final(closed, prices, expected):
    assert label_from_gamma(closed, prices, ["Yes", "No"]).outcome == expected


@pytest.mark.parametrize(
    ("outcomes", "prices", "expected"),
    [
        (["No", "Yes"], ["1", "0"], NO),  # index 0 won, and index 0 is "No"
        (["No", "Yes"], ["0", "1"], YES),
        (["no", " YES "], ["0", "1"], YES),
        (["Yes", "No"], ["1", "0"], YES),
        (
            ["Up", "Down"],
            ["1", "0"],
            YES,
        ),  # named binaries: the first outcome is the yes side, as in parse_gamma
        (["Up", "Down"], ["0", "1"], NO),
        (["No", "Yes"], ["0", "0"], INVALID),
        (["No", "Yes", "Maybe"], ["0", "1"], UNKNOWN),
        (None, ["0", "1"], UNKNOWN),
    ],
)
def test_labels_follow_the_outcome_name_not_its_position(outcomes, prices, expected):
    assert label_from_gamma(True, prices, outcomes).outcome == expected


def test_a_no_yes_market_agrees_across_gamma_and_clob():
    """A ["No", "Yes"] market resolved YES: outcomePrices ["0","1"], the CLOB winner is the Yes token."""
    yes_token, no_token = "22", "11"
    gamma = label_from_gamma(True, ["0", "1"], ["No", "Yes"])
    clob = label_from_clob(
        True,
        [{"token_id": no_token, "winner": False}, {"token_id": yes_token, "winner": True}],
        yes_token,
        no_token,
    )
    assert (gamma.outcome, clob.outcome, combine(gamma, clob).outcome) == (YES, YES, YES)


def test_clob_needs_exactly_one_winner():
    tokens = [{"token_id": "1", "winner": True}, {"token_id": "2", "winner": True}]
    assert label_from_clob(True, tokens, "1", "2").outcome == UNKNOWN
    assert (
        label_from_clob(
            True, [{"token_id": "1", "winner": False}, {"token_id": "2", "winner": False}], "1", "2"
        ).outcome
        == UNKNOWN
    )
    assert label_from_clob(False, [{"token_id": "1", "winner": True}], "1", "2").outcome == UNKNOWN


def test_contradicting_sources_stay_unknown():
    assert (
        combine(
            label_from_gamma(True, ["1", "0"], ["Yes", "No"]),
            label_from_clob(True, [{"token_id": "2", "winner": True}], "1", "2"),
        ).outcome
        == UNKNOWN
    )


def test_ws_market_resolved_claim_is_read_by_outcome_name():
    from polymarket_assets.lib.labels import label_from_ws_resolved

    ids = ["111", "222"]
    assert label_from_ws_resolved(["Yes", "No"], ids, "Yes", "111").outcome == "YES"
    # order of the outcomes does not matter: names do
    assert label_from_ws_resolved(["No", "Yes"], ids, "Yes", "222").outcome == "YES"
    assert label_from_ws_resolved(["No", "Yes"], ids, "No", None).outcome == "NO"
    assert label_from_ws_resolved(["No", "Yes"], ids, None, "111").outcome == "NO"
    # named binary: index 0 is the yes column, as in discovery
    assert label_from_ws_resolved(["Up", "Down"], ids, "Down", "222").outcome == "NO"
    for outcomes, name, winner, reason in [
        (["Yes", "No"], "", "", "no winner named"),
        (["Yes", "No"], "Maybe", None, "matches no outcome"),
        (["Yes", "No"], "Yes", "222", "disagree"),
        (["A", "B", "C"], "A", "111", "3 outcomes"),
    ]:
        label = label_from_ws_resolved(outcomes, ids, name, winner)
        assert label.outcome == "UNKNOWN" and reason in label.detail, (outcomes, name, label)


def test_the_strict_label_confirms_or_contradicts_a_ws_claim():
    from polymarket_assets.lib.labels import check_ws_claim

    yes = label_from_clob(True, [{"token_id": "1", "winner": True}], "1", "2")
    confirmed = check_ws_claim(yes, "YES")
    assert confirmed.outcome == "YES" and confirmed.source == "clob_winner"
    assert "confirms ws_market_resolved" in confirmed.detail
    contradiction = check_ws_claim(yes, "NO")
    assert contradiction.outcome == "UNKNOWN" and contradiction.source == "conflict"
    assert contradiction.detail == "ws_market_resolved says NO, clob_winner says YES"
    pending = check_ws_claim(label_from_clob(False, [], "1", "2"), "NO")
    assert (
        pending.outcome == "UNKNOWN" and "ws_market_resolved says NO, awaiting Gamma/CLOB" in pending.detail
    )
    assert check_ws_claim(yes, None) == yes and check_ws_claim(yes, "UNKNOWN") == yes
