"""More than one utility model (hgb, logreg, rf; LightGBM/XGBoost when installed) and repeated model
seeds: per-family results, where the families disagree, intervals that cover the seed spread, and
the errors a bad model name, repeat count or holdout gets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _scenarios import copula_sample, fraud_setup, split
from synthgen.cli import main
from synthgen.evaluation import evaluate
from synthgen.evaluation import utility as U
from synthgen.evaluation._frame import prepare
from synthgen.evaluation.utility_models import FAMILIES, available_models, resolve_models
from synthgen.exceptions import EvaluationError, UsageError
from synthgen.report._view import families_view


@pytest.fixture(scope="module")
def fraud_frames():
    train, holdout, target, label, _ = fraud_setup(legit=3_000)
    syn = copula_sample(train, target, label, int((train[target] == label).sum()))
    return prepare(train, holdout, syn, target)


@pytest.fixture(scope="module")
def three(fraud_frames):
    return U.utility(fraud_frames, 11, models=["hgb", "logreg", "rf"], repeats=2)


def test_each_family_gets_its_own_alternatives_and_verdicts(three):
    values, details, _ = three
    models = details["models"]
    assert list(models) == ["hgb", "logreg", "rf"]
    assert {k: m["fits"] for k, m in models.items()} == {"hgb": 1, "logreg": 1, "rf": 2}  # only rf uses the seed
    for name, m in models.items():
        assert set(m["alternatives"]) == set(U.OPTIONS)
        for measure, v in m["vs_best_alternative"].items():
            best = max(m["alternatives"][a][measure] for a in U.ALTERNATIVES)
            assert v["best_value"] == best
            assert v["difference"] == pytest.approx(m["alternatives"]["augmented"][measure] - best, abs=1e-12)
            lo, hi = v["ci95"]
            assert v["verdict"] == ("no measurable change" if lo <= 0 <= hi else ("gain" if lo > 0 else "loss"))
    # the families really differ: logistic regression ranks frauds worse than the trees on this table
    pr = {k: m["alternatives"]["baseline"]["pr_auc"] for k, m in models.items()}
    assert pr["logreg"] < pr["hgb"] - 0.1 and pr["logreg"] < pr["rf"] - 0.1, pr
    for measure, a in details["agreement"].items():
        verdicts = {k: m["vs_best_alternative"][measure]["verdict"] for k, m in models.items()}
        assert a["verdicts"] == verdicts and a["agree"] == (len(set(verdicts.values())) == 1)


def test_the_gate_reads_hgb_whatever_else_is_trained(fraud_frames, three):
    """Adding families never changes the scorecard's metrics: they are hgb's, bit for bit."""
    alone, details_alone, _ = U.utility(fraud_frames, 11)
    values, details, _ = three
    assert values == alone
    assert details["models"]["hgb"]["vs_best_alternative"] == details_alone["vs_best_alternative"]
    assert details["vs_best_alternative"] == details_alone["vs_best_alternative"]


def test_repeat_intervals_cover_the_seed_spread():
    """Two repeats whose augmented models disagree by ±0.3 in recall: resampling the repeats in each
    replicate widens the interval to the spread; the holdout bootstrap alone would sit near 0."""
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(200), np.zeros(2_000)].astype(int)
    base = np.where(y == 1, rng.uniform(0.3, 0.7, len(y)), rng.uniform(0.0, 0.45, len(y)))

    def run(aug):
        return {"scores": {o: (base, 0.5) for o in U.ALTERNATIVES} | {"augmented": (aug, 0.5)}}

    lifted = np.where(y == 1, np.maximum(base, 0.5 + 1e-9 + (base - 0.3) * 0.1), base)  # more frauds above 0.5
    dropped = np.where(y == 1, np.minimum(base, 0.5 - 1e-9), base)
    runs = {"rf": [run(lifted), run(dropped)]}
    draws, _ = U._bootstrap(runs, y, np.random.default_rng(1), np.random.default_rng(2))
    k = U.MEASURES.index("recall")
    d = draws["rf"]["augmented"][:, k] - draws["rf"]["baseline"][:, k]
    point = [U.holdout_metrics(s, y)["recall"] - U.holdout_metrics(base, y)["recall"] for s in (lifted, dropped)]
    lo, hi = np.percentile(d, [2.5, 97.5])
    assert lo <= min(point) + 0.05 and hi >= max(point) - 0.05, (lo, hi, point)
    one, _ = U._bootstrap({"rf": [run(lifted)]}, y, np.random.default_rng(1), np.random.default_rng(2))
    d1 = one["rf"]["augmented"][:, k] - one["rf"]["baseline"][:, k]
    assert np.ptp(np.percentile(d1, [2.5, 97.5])) < (hi - lo) / 3


def test_seeded_family_point_value_is_the_mean_over_repeats(fraud_frames, three):
    _, details, _ = three
    d, model_seed = U._data(fraud_frames, np.random.default_rng(11))
    y = fraud_frames.y["holdout"].astype(int)
    per_seed = [U._run_fits([(FAMILIES["rf"], s)], d)[0] for s in U._repeat_seeds(model_seed, 2)]
    values = [U.holdout_metrics(r["scores"]["augmented"][0], y)["pr_auc"] for r in per_seed]
    assert values[0] != values[1]  # the forest does use its seed
    assert details["models"]["rf"]["alternatives"]["augmented"]["pr_auc"] == pytest.approx(np.mean(values))


def test_boosting_families_when_installed(fraud_frames):
    names = [n for n in ("lightgbm", "xgboost") if n in available_models()]
    if not names:
        pytest.skip("neither lightgbm nor xgboost is installed (pip install 'synthgen[boosting]')")
    _, details, _ = U.utility(fraud_frames, 3, models=names, repeats=1)
    for n in names:
        m = details["models"][n]
        assert m["fits"] == 1 and 0.3 < m["alternatives"]["baseline"]["pr_auc"] <= 1.0


def test_bad_model_names_and_counts_are_one_line_errors(monkeypatch):
    with pytest.raises(UsageError, match=r"unknown utility model 'svm'.*valid: hgb, logreg, rf, lightgbm, xgboost"):
        resolve_models("hgb,svm")
    with pytest.raises(UsageError, match="--utility-repeats must be a whole number >= 1, got 0"):
        U.check_repeats(0)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(UsageError, match=r"needs the package 'lightgbm': pip install 'synthgen\[boosting\]'"):
        resolve_models(["lightgbm"])
    assert [m.name for m in resolve_models(["rf", "hgb", "rf"])] == ["hgb", "rf"]


def test_cli_refuses_a_bad_model_before_reading_anything(tmp_path, capsys):
    out = tmp_path / "card.json"
    code = main(["evaluate", "--train", str(tmp_path / "missing.csv"), "--holdout", "x.csv", "--target", "t",
                 "--synthetic", "s.csv", "--utility-models", "hgb,gbm", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert len(err) == 1 and "unknown utility model 'gbm'" in err[0] and "valid:" in err[0]
    code = main(["evaluate", "--train", "a.csv", "--holdout", "b.csv", "--target", "t", "--synthetic", "s.csv",
                 "--utility-repeats", "0", "--out", str(out)])
    assert code == 2 and not out.exists() and "--utility-repeats" in capsys.readouterr().err


def test_too_few_rare_holdout_rows_is_an_error_and_too_few_train_rows_fall_back():
    train, holdout, target, label, _ = fraud_setup(legit=2_000)
    syn = copula_sample(train, target, label, 100)
    few = holdout[holdout[target] != label].head(500)
    few = few._append(holdout[holdout[target] == label].head(4))
    with pytest.raises(EvaluationError, match="real_holdout has 4 rare rows; utility needs at least 5"):
        evaluate(train, few, syn, target, random_state=0)
    thin = train[train[target] != label]._append(train[train[target] == label].head(2))
    card = evaluate(thin, holdout, syn, target, random_state=0)
    tuning = card.details["utility"]["tuned_threshold"]
    assert tuning["threshold"] == 0.5 and "real train has 2 rare rows" in tuning["fallback"]
    assert card.details["utility"]["alternatives"]["tuned_threshold"] == card.details["utility"]["baseline"]


@pytest.mark.shared_data
def test_families_on_german_credit_and_the_report_table(german_shared, tmp_path):
    """A shared table: three families, a report that shows them side by side and says where they differ."""
    train, holdout = split(german_shared, "class")
    syn = copula_sample(train, "class", 2, int((train["class"] == 2).sum()))  # 2 = bad credit
    card = evaluate(train, holdout, syn, "class", random_state=0, utility_models=["logreg", "rf"],
                    utility_repeats=2)
    util = card.details["utility"]
    assert list(util["models"]) == ["hgb", "logreg", "rf"] and util["repeats"]["requested"] == 2
    rows, note = families_view(util)
    assert [r["family"] for r in rows] == ["hgb", "logreg", "rf"]
    agree = all(a["agree"] for a in util["agreement"].values())
    assert note.startswith("The 3 model families agree") if agree else "disagree" in note
    path = tmp_path / "card.json"
    card.save(path)
    assert main(["report", str(path), "--out", str(tmp_path / "r.html"), "--markdown", str(tmp_path / "r.md")]) == 0
    md = (tmp_path / "r.md").read_text()
    assert "By model family" in md and "By model family" in (tmp_path / "r.html").read_text()
    assert "By model family" in md and "`logreg`" in md and "`rf`" in md
    assert json.loads(path.read_text())["details"]["utility"]["models"]["rf"]["fits"] == 2


def test_rf_tunes_its_threshold_on_out_of_bag_scores(fraud_frames, three):
    """rf's threshold comes from its out-of-bag train scores (no extra fits): the same forest as the
    baseline's, and an out-of-sample estimate as honest as 3-fold cross-validation, not in-sample."""
    from synthgen.evaluation.utility_models import _rf, _rf_out_of_bag

    tunings = three[1]["models"]["rf"]["tuned_threshold"]
    assert len(tunings) == 2 and all(t["folds"] == "out-of-bag" for t in tunings)
    assert three[1]["models"]["hgb"]["tuned_threshold"][0]["folds"] == U.TUNE_FOLDS
    d, _ = U._data(fraud_frames, np.random.default_rng(0))
    predict, oob = _rf_out_of_bag(d.X_tr, d.y_tr, d.is_cat, 5)
    assert np.array_equal(predict(d.X_ho), _rf(d.X_tr, d.y_tr, d.is_cat, 5)(d.X_ho))  # the very same trees
    _, by_oob = U.tuned_threshold(d.X_tr, d.y_tr, d.is_cat, 5, FAMILIES["rf"], out_of_bag=oob)
    _, by_cv = U.tuned_threshold(d.X_tr, d.y_tr, d.is_cat, 5, FAMILIES["rf"])
    in_sample = U._best_f1_threshold(d.y_tr, _rf(d.X_tr, d.y_tr, d.is_cat, 5)(d.X_tr))[1]
    assert abs(by_oob["out_of_fold_f1"] - by_cv["out_of_fold_f1"]) < 0.03, (by_oob, by_cv)  # measured 0.001
    assert in_sample > by_oob["out_of_fold_f1"] + 0.1, (in_sample, by_oob)  # measured 0.926 vs 0.771


def test_free_options_are_fitted_once_per_split_and_equal_a_refit(fraud_frames, monkeypatch):
    """Baseline, class weights and the tuned threshold use no synthetic row: a second synthetic set on the
    same split reuses them (2 fits instead of 4 plus 3 tuning folds), with bit-identical results."""
    train, holdout, target, label, _ = fraud_setup(legit=3_000)
    other = prepare(train, holdout, copula_sample(train, target, label, 150, seed=9), target)
    U._FREE_CACHE.clear()
    fits = []
    hgb = FAMILIES["hgb"]
    counting = type(hgb)(hgb.name, hgb.description, hgb.seeded, lambda *a: fits.append(1) or hgb.fit(*a))
    monkeypatch.setitem(FAMILIES, "hgb", counting)
    first = U.utility(fraud_frames, 3)
    assert len(fits) == 4 + U.TUNE_FOLDS
    cached = U.utility(other, 3)
    assert len(fits) == 4 + U.TUNE_FOLDS + 2  # oversampling and augmented only
    U._FREE_CACHE.clear()
    refit = U.utility(other, 3)
    assert len(fits) == 2 * (4 + U.TUNE_FOLDS) + 2
    assert cached[0] == refit[0] and json.dumps(cached[1], sort_keys=True) == json.dumps(refit[1], sort_keys=True)
    assert first[0] != cached[0]  # a different synthetic set really was scored


def test_fits_at_once_give_the_scores_of_fits_in_turn(fraud_frames, three, monkeypatch):
    """The local engine runs utility's fits on fit_threads() threads (2 on this machine): every figure equals
    the one from fitting in turn, for a deterministic (hgb, logreg) and a seeded family (rf, 2 repeats)."""
    import threading

    U._FREE_CACHE.clear()
    names, hgb = set(), FAMILIES["hgb"]

    def fit(*a):
        names.add(threading.current_thread().name)
        return hgb.fit(*a)

    monkeypatch.setitem(FAMILIES, "hgb", type(hgb)(hgb.name, hgb.description, hgb.seeded, fit))
    monkeypatch.setattr(U, "fit_threads", lambda: 1)
    in_turn = U.utility(fraud_frames, 11, models=["hgb", "logreg", "rf"], repeats=2)
    assert names == {threading.current_thread().name}
    U._FREE_CACHE.clear()
    names.clear()
    monkeypatch.setattr(U, "fit_threads", lambda: 3)
    at_once = U.utility(fraud_frames, 11, models=["hgb", "logreg", "rf"], repeats=2)
    assert len(names) > 1 and threading.current_thread().name not in names
    assert at_once[0] == in_turn[0] == three[0]
    assert json.dumps(at_once[1], sort_keys=True) == json.dumps(in_turn[1], sort_keys=True)
    assert all(np.array_equal(at_once[2][k], in_turn[2][k]) for k in in_turn[2])
