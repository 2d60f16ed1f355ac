"""Representation ratio (four-fifths rule and its mirror) and unmeasurable downstream fairness, on real tables.

Planted cases on german credit (bundled and ../shared/data) and adult: a reasonable (copula) generator, a
protected group removed from the synthetic rows, cut to a tenth of its share (the SMOTE-NC case: women
at 0.9-1.4% of synthetic frauds against 11.8% of real ones) and doubled. Each replaced group's rows are
topped up with other copula rows, so the number of synthetic rows stays that of the real rare rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _scenarios import copula_sample, german_setup, split
from synthgen.evaluation import METRICS, evaluate
from synthgen.evaluation.fairness import MIN_RATIO_RARE

MIN, MAX = "fairness.min_representation_ratio", "fairness.max_representation_ratio"
EO, DP = "fairness.equalized_odds_change", "fairness.demographic_parity_change"


def plant(train, target, label, col, group, factor, n, seed=0):
    """n copula rows in which ``group`` of ``col`` holds ``factor`` times its real rare share."""
    big = copula_sample(train, target, label, 4 * n, seed=seed)
    in_g = big[col].astype(str) == group
    real_share = (train[train[target] == label][col].astype(str) == group).mean()
    k = int(round(factor * real_share * n))
    rows = pd.concat([big[in_g].head(k), big[~in_g].head(n - k)])
    return rows.sample(frac=1, random_state=seed).reset_index(drop=True)


def _german_bundled():
    train, holdout, target, label, _ = german_setup()
    return train, holdout, target, label, ["personal_status_sex", "age"], "personal_status_sex", "A92"


def _german_shared(german_shared):
    train, holdout = split(german_shared, "class", seed=1)  # another split than the bundled table's
    return train, holdout, "class", 2, ["personal_status_sex", "age"], "personal_status_sex", "A92"


def _adult(adult_shared):
    df, _ = split(adult_shared, "income", frac=1 - 4000 / len(adult_shared), seed=0)  # 4,000 rows, stratified
    train, holdout = split(df, "income", seed=0)
    return train, holdout, "income", ">50K", ["sex", "race"], "sex", "Female"


_CARDS: dict = {}


@pytest.fixture(params=["german", "german_shared", "adult"])
def table(request):
    if request.param == "german":
        return request.param, _german_bundled()
    if request.param == "german_shared":
        return request.param, _german_shared(request.getfixturevalue("german_shared"))
    return request.param, _adult(request.getfixturevalue("adult_shared"))


def card_for(table, case):
    """Scorecard of one planted case on one table (cached: every case is evaluated once)."""
    name, (train, holdout, target, label, protected, col, group) = table
    if (name, case) not in _CARDS:
        n = int((train[target] == label).sum())
        syn = (copula_sample(train, target, label, n, seed=0) if case == "copula" else
               plant(train, target, label, col, group, {"removed": 0.0, "tenth": 0.1, "doubled": 2.0}[case], n))
        _CARDS[name, case] = evaluate(train, holdout, syn, target, protected=protected, random_state=0)
    return _CARDS[name, case], col, group


def _group(card, col, group):
    return next(g for g in card.details["fairness"][col]["representation_ratio"]["groups"] if g["group"] == group)


def _all_groups(card):
    return [g for d in card.details["fairness"].values() if isinstance(d, dict)
            for g in d["representation_ratio"]["groups"]]


# ------------------------------------------------------------- planted cases
def test_copula_is_not_flagged(table):
    """A reasonable generator: every interval holds 1 and the large groups are within 0.8-1.25.

    The point minimum is not within 0.8-1.25 here, and the test says so: measured with seed 0 it is
    0.44 on german (group A94: 18 real rare rows, 8 synthetic), 0.56 on the shared split (A94: 18 vs
    10) and 0.65 on adult (Asian-Pac-Islander: 23 vs 15). The copula keeps those shares in
    expectation (ratio 0.98-1.01 on 21,000 rows); at ~200 synthetic rows a group of 18 swings 8-23
    rows by chance (40 seeds on german: point minimum < 0.8 in 55% of them, interval never below 0.8).
    A policy should put its 0.8 / 1.25 limits on the interval (use = "interval").
    """
    card, col, group = card_for(table, "copula")
    lo, hi = card.metrics[MIN]["ci95"]
    assert lo <= 1.0 <= hi and hi >= 0.8
    lo, hi = card.metrics[MAX]["ci95"]
    assert lo <= 1.0 <= hi and lo <= 1.25
    assert 0.3 < card.value(MIN) <= 1.0 <= card.value(MAX) < 1.5
    for g in _all_groups(card):
        # simultaneous intervals (all groups at once) hold 1; a single group's 95% interval may not:
        # german A94 (8 of an expected 18 rows) has 0.15-0.93 on its own, 0.10-1.38 simultaneously
        assert g["ci95_simultaneous"][0] <= 1.0 <= g["ci95_simultaneous"][1], g
        if g["real_rare_rows"] >= 50:
            assert 0.8 <= g["ratio"] <= 1.25, g
    planted = _group(card, col, group)
    assert 0.9 <= planted["ratio"] <= 1.1


def test_removed_group_gives_zero(table):
    card, col, group = card_for(table, "removed")
    assert card.value(MIN) == 0.0
    assert card.metrics[MIN]["ci95"] == [0.0, 0.0]
    ratio = card.details["fairness"][col]["representation_ratio"]
    assert ratio["min_group"] == group and _group(card, col, group)["synthetic_rare_rows"] == 0


def test_tenth_of_a_group_fails_four_fifths(table):
    """The SMOTE-NC case: a group kept at a tenth of its share has a ratio ~0.1, interval well below 0.8."""
    card, col, group = card_for(table, "tenth")
    planted = _group(card, col, group)
    assert planted["ratio"] == pytest.approx(0.1, abs=0.01)
    assert planted["ci95"][1] < 0.25
    assert card.value(MIN) == pytest.approx(planted["ratio"])
    assert card.metrics[MIN]["ci95"][1] < 0.3  # simultaneous over all groups: still far below 0.8
    assert card.details["fairness"][col]["representation_ratio"]["min_group"] == group


def test_doubled_group_is_over_represented(table):
    card, col, group = card_for(table, "doubled")
    assert card.value(MAX) == pytest.approx(2.0, abs=0.02)
    assert card.metrics[MAX]["ci95"][0] > 1.4
    assert card.details["fairness"][col]["representation_ratio"]["max_group"] == group


def test_explain_sentences(table):
    card, col, group = card_for(table, "tenth")
    g = _group(card, col, group)
    text = METRICS[MIN].sentence(card.value(MIN), card.details)
    assert text.startswith(f"group '{group}' of {col} is {100 * g['synthetic_share']:.1f}% of synthetic rare rows "
                           f"against {100 * g['real_share']:.1f}% of real ones (ratio {g['ratio']:.2f}, 95% CI ")
    for name in (MAX, EO, DP, "fairness.max_representation_shift"):
        text = METRICS[name].sentence(card.value(name), card.details)
        assert any(ch.isdigit() for ch in text) and not text.startswith(METRICS[name].description), (name, text)


# ------------------------------------------------------------ not measurable
def test_tiny_holdout_makes_downstream_unmeasurable():
    """36 holdout rows: no personal_status_sex group has 30 rows and 5 rare rows -> null, with the reason."""
    train, holdout, target, label, _ = german_setup()
    tiny = pd.concat([holdout[holdout[target] == label].head(12), holdout[holdout[target] != label].head(24)])
    syn = copula_sample(train, target, label, 210)
    card = evaluate(train, tiny.reset_index(drop=True), syn, target, protected=["personal_status_sex"],
                    random_state=0)
    assert card.value(EO) is None and card.value(DP) is None
    assert card.metrics[EO]["score"] is None
    why = card.details["not_measured"][EO]
    assert "fewer than two groups with >= 30 holdout rows and >= 5 rare holdout rows" in why
    down = card.details["fairness"]["personal_status_sex"]["downstream"]
    assert down["counted_groups"] == [] and "reason" in down
    assert down["baseline"]["equalized_odds_difference"] is None  # NaN in memory, null on the card
    assert card.value(MIN) is not None  # the representation ratio only needs real rare train rows


def test_no_group_large_enough_gives_null_ratio():
    """A protected column of 80 random branches (~2.6 real rare rows each): no ratio can be formed -> null."""
    train, holdout, target, label, _ = german_setup()
    syn = copula_sample(train, target, label, 210)
    rng = np.random.default_rng(0)
    frames = [f.assign(branch=[f"B{i:02d}" for i in rng.integers(0, 80, len(f))]) for f in (train, holdout, syn)]
    card = evaluate(*frames, target, protected=["personal_status_sex", "branch"], random_state=0)
    assert card.value(MIN) is None and card.value(MAX) is None  # unknown in one column: worst unknown
    assert card.metrics[MIN]["ci95"] is None
    assert "no group of branch has >= 10 real rare train rows" in card.details["not_measured"][MIN]
    ratio = card.details["fairness"]["branch"]["representation_ratio"]
    assert ratio["groups"] == [] and len(ratio["not_counted"]) >= 60
    for g in ratio["not_counted"]:
        assert g["real_rare_rows"] < MIN_RATIO_RARE
        assert ("fewer than 10" in g["reason"]) if g["real_rare_rows"] else ("only in synthetic" in g["reason"])
    # the other column is still measured and shown
    assert card.details["fairness"]["personal_status_sex"]["representation_ratio"]["groups"]


# ---------------------------------------------------------------- determinism
def test_deterministic_for_a_seed():
    train, holdout, target, label, protected, col, group = _german_bundled()
    syn = plant(train, target, label, col, group, 0.1, 210)
    a = evaluate(train, holdout, syn, target, protected=protected, random_state=3)
    b = evaluate(train, holdout, syn, target, protected=protected, random_state=3)
    assert a.to_json() == b.to_json()
    assert a.metrics[MIN]["ci95"] == b.metrics[MIN]["ci95"]
