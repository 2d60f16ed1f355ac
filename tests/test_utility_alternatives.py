"""Utility against the cheap alternatives (class weights, tuned threshold, random oversampling) and
calibration, on real tables: every figure in the scorecard, each difference with its interval."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from _scenarios import copula_sample, fraud_setup, split
from synthgen.evaluation import evaluate
from synthgen.evaluation.utility import ALTERNATIVES, MEASURES

TABLES = ["fraud_bundled", "fraud_shared", "adult_shared"]


def _setup(name: str, request):
    if name == "fraud_bundled":
        train, holdout, target, label, _ = fraud_setup(legit=6_000)
        return train, holdout, target, label
    if name == "fraud_shared":
        train, holdout = split(request.getfixturevalue("fraud_shared"), "fraud")
        return train, holdout, "fraud", True
    adult = request.getfixturevalue("adult_shared")
    small, _ = split(adult, "income", frac=1 - 6_000 / len(adult), seed=0)
    train, holdout = split(small, "income")
    return train, holdout, "income", ">50K"


@pytest.fixture(scope="module", params=TABLES)
def scored(request):
    train, holdout, target, label = _setup(request.param, request)
    n = int((train[target] == label).sum())
    syn = copula_sample(train, target, label, n)
    return request.param, (train, holdout, target, label), evaluate(train, holdout, syn, target, random_state=0)


def test_every_alternative_and_the_best_of_them(scored):
    name, _, card = scored
    u = card.details["utility"]
    assert set(u["alternatives"]) == set(ALTERNATIVES) | {"augmented"}
    for option in u["alternatives"].values():
        assert set(option) == set(MEASURES)
        assert all(0.0 <= option[m] <= 1.0 for m in MEASURES)
    # ranking measures are the model's: a tuned threshold changes only the threshold measures
    for m in ("pr_auc", "roc_auc", "recall_at_1pct_fpr"):
        assert u["alternatives"]["tuned_threshold"][m] == u["alternatives"]["baseline"][m]
    assert u["tuned_threshold"]["threshold"] != 0.5 and 0 < u["tuned_threshold"]["threshold"] < 1
    for m in MEASURES:
        v = u["vs_best_alternative"][m]
        best = max(u["alternatives"][a][m] for a in ALTERNATIVES)
        assert v["best_value"] == best and u["alternatives"][v["best"]][m] == best
        assert v["difference"] == pytest.approx(u["alternatives"]["augmented"][m] - best, abs=1e-12)
        lo, hi = v["ci95"]
        assert lo <= hi
        # the verdict follows the interval: no gain or loss is claimed while it holds 0
        assert v["verdict"] == ("no measurable change" if lo <= 0 <= hi else ("gain" if lo > 0 else "loss")), (name, m)
    for m in ("pr_auc", "recall_at_1pct_fpr"):
        entry = card.metrics[f"utility.{m}_vs_best_alternative"]
        assert entry["value"] == pytest.approx(u["vs_best_alternative"][m]["difference"], abs=1e-9)
        assert entry["ci95"] == pytest.approx(u["vs_best_alternative"][m]["ci95"], abs=1e-9)
    assert u["rows"]["oversampled"] == card.inputs["synthetic"]["rare_rows"]


def test_calibration_of_baseline_and_augmented(scored):
    name, (train, holdout, target, label), card = scored
    cal = card.details["utility"]["calibration"]
    for model in ("baseline", "augmented"):
        c = cal[model]
        assert 0 < c["brier"] < 0.25 and c["log_loss"] > 0 and c["slope"] > 0
        curve = c["curve"]  # the reliability diagram: decile bins of the predictions cover the holdout
        assert sum(curve["rows"]) == len(holdout) and len(curve["rows"]) >= 5
        assert np.all(np.diff(curve["mean_predicted"]) > 0)
        assert all(0 <= o <= 1 for o in curve["observed"])
    change = card.metrics["utility.brier_change"]
    assert change["value"] == pytest.approx(cal["augmented"]["brier"] - cal["baseline"]["brier"], abs=1e-12)
    lo, hi = change["ci95"]
    assert lo <= change["value"] <= hi
    assert "Brier score" in card.metrics["utility.brier_change"]["description"]


def test_brier_matches_scikit_learn_and_tuning_never_sees_the_holdout():
    """Brier equals scikit-learn's; the tuned threshold is the same whatever the holdout holds."""
    from synthgen.evaluation._frame import prepare
    from synthgen.evaluation.utility import FAMILIES, _data, _run_fits, calibration

    def _scores(frames, seed):
        d, model_seed = _data(frames, np.random.default_rng(seed))
        run = _run_fits([(FAMILIES["hgb"], model_seed)], d)[0]
        return run["scores"], None, run["tuning"]

    train, holdout, target, label, _ = fraud_setup(legit=4_000)
    syn = copula_sample(train, target, label, 300)
    frames = prepare(train, holdout, syn, target)
    scores, _, tuning = _scores(frames, 5)
    y = frames.y["holdout"].astype(int)
    assert calibration(scores["baseline"][0], y)["brier"] == pytest.approx(brier_score_loss(y, scores["baseline"][0]))
    other = holdout.sample(frac=1.0, random_state=3).reset_index(drop=True)
    other[target] = np.roll(other[target].to_numpy(), 7)
    _, _, tuning_other = _scores(prepare(train, other, syn, target), 5)
    assert tuning_other["threshold"] == tuning["threshold"]


def test_too_many_synthetic_rows_hurt_calibration():
    """Ten times the real frauds shift the model's probabilities: the Brier score gets measurably worse."""
    train, holdout, target, label, _ = fraud_setup(legit=6_000)
    n = int((train[target] == label).sum())
    card = evaluate(train, holdout, copula_sample(train, target, label, 10 * n), target, random_state=0)
    change = card.metrics["utility.brier_change"]
    assert change["value"] > 0 and change["ci95"][0] > 0, change
