"""Evaluation on real tables: scorecard shape, agreement with SDMetrics/scikit-learn, leakage, fairness, errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import average_precision_score, precision_score, recall_score, roc_auc_score, roc_curve

from _scenarios import copula_sample, fraud_setup, german_setup, random_sample, split
from synthgen.evaluation import METRICS, Scorecard, evaluate
from synthgen.evaluation import leakage as L
from synthgen.evaluation import realism as R
from synthgen.evaluation._frame import prepare
from synthgen.evaluation.utility import holdout_metrics
from synthgen.exceptions import EvaluationError, ScorecardError
from synthgen.io import sha256_frame
from synthgen.schema import sdv_columns

TOP_KEYS = ["scorecard_version", "quality_score", "subscores", "metrics", "details", "inputs", "random_state",
            "library_versions"]


@pytest.fixture(scope="module")
def german():
    train, holdout, target, label, protected = german_setup()
    syn = copula_sample(train, target, label, 210)
    return train, holdout, syn, target, label, protected


_STAGE_LINES: list[str] = []


@pytest.fixture(scope="module")
def german_card(german):
    train, holdout, syn, target, label, protected = german
    return evaluate(train, holdout, syn, target, protected=protected, random_state=0, progress=_STAGE_LINES.append)


def test_progress_has_a_line_as_each_stage_starts_and_ends(german_card):
    names = ["realism", "utility", "leakage", "privacy", "fairness"]
    starts = [f"evaluate: {n} ({i}/5)..." for i, n in enumerate(names, start=1)]
    assert _STAGE_LINES[0::2] == starts
    assert [line.rsplit(" in ", 1)[0] for line in _STAGE_LINES[1::2]] == [f"evaluate: {n} done" for n in names]
    assert all(line.endswith(" s") for line in _STAGE_LINES[1::2])


@pytest.fixture(scope="module")
def fraud():
    train, holdout, target, label, _ = fraud_setup(legit=4_000)
    return train, holdout, target, label


# ------------------------------------------------------------------ scorecard
def test_scorecard_shape(german_card):
    d = german_card.to_dict()
    assert list(d) == TOP_KEYS
    assert d["scorecard_version"] == 1
    assert 0 <= d["quality_score"] <= 100
    assert set(d["subscores"]) == {"realism", "utility", "privacy", "fairness"}
    assert all(0 <= v <= 1 for v in d["subscores"].values())
    assert set(d["metrics"]) == set(METRICS)  # every registered metric is on the card (protected given)
    for entry in d["metrics"].values():
        assert {"value", "goal", "description", "range", "score"} <= set(entry)
        assert entry["goal"] in ("maximize", "minimize")
    assert d["inputs"]["label"] == 2 and d["inputs"]["target"] == "class"
    assert d["inputs"]["real_train"]["rows"] == 700 and d["inputs"]["real_holdout"]["rows"] == 300
    assert d["inputs"]["real_train"]["rare_rows"] == 210 and d["inputs"]["real_holdout"]["rare_rows"] == 90
    # everything a report draws is in details
    assert len(d["details"]["realism"]["column_shapes"]) == 20
    hist = d["details"]["leakage"]["histogram"]
    assert sum(hist["synthetic_to_train"]) == 210 and sum(hist["holdout_to_train"]) == 90
    assert len(hist["bin_edges"]) == len(hist["synthetic_to_train"]) + 1
    up = d["details"]["utility"]["uplift"]["pr_auc"]
    assert up["ci95"][0] <= up["uplift"] <= up["ci95"][1]
    assert d["details"]["fairness"]["personal_status_sex"]["representation"]
    json.dumps(d, allow_nan=False)


def test_copula_scores_are_sane(german_card):
    m = {k: v["value"] for k, v in german_card.metrics.items()}
    assert m["realism.column_shapes"] > 0.9
    assert m["leakage.exact_copy_rate"] == 0.0 and m["leakage.holdout_copy_rate"] == 0.0
    assert abs(m["leakage.mia_auc"] - 0.5) < 0.1
    assert m["fairness.max_representation_shift"] < 0.1
    assert german_card.details["leakage"]["closer_to_train_expected"] == pytest.approx(210 / 300)


def test_deterministic_and_inputs_untouched(german, german_card):
    train, holdout, syn, target, label, protected = german
    before = [sha256_frame(x) for x in (train, holdout, syn)]
    again = evaluate(train, holdout, syn, target, protected=protected, random_state=0)
    assert again.to_json() == german_card.to_json()
    assert [sha256_frame(x) for x in (train, holdout, syn)] == before
    assert "timings" not in again.to_json() and again.timings["total"] > 0


def test_round_trip(german_card, tmp_path):
    path = german_card.save(tmp_path / "card.json")
    loaded = Scorecard.load(path)
    assert loaded.to_json() == german_card.to_json()
    assert loaded.value("leakage.mia_auc") == german_card.value("leakage.mia_auc")
    assert loaded.value("subscores.privacy") == german_card.subscores["privacy"]


def test_corrupt_or_foreign_scorecard(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"scorecard_version": 1, "quality_')
    with pytest.raises(ScorecardError, match="bad.json.*not valid JSON"):
        Scorecard.load(bad)
    other = tmp_path / "v9.json"
    other.write_text('{"scorecard_version": 9}')
    with pytest.raises(ScorecardError, match="v9.json.*version 9"):
        Scorecard.load(other)


# ------------------------------------------------------------- SDMetrics parity
# Measured gaps to SDMetrics' QualityReport: 0 to 2.2e-16 (german copula / random rows, fraud copula):
# the same numbers up to float summation order. 1e-9 leaves room for that across library versions while
# one column scored differently (>= ~1e-4 on the mean of 20 columns) fails.
SDM_TOL = 1e-9


def _sdmetrics_scores(train, syn, target, label):
    from sdmetrics.reports.single_table import QualityReport

    frames = prepare(train, train, syn, target, label=label)
    cols = sdv_columns(frames.modelled)
    names = [c for c in train.columns if c in cols]
    real = train[train[target] == label][names].reset_index(drop=True)
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(real, syn[names], {"columns": cols}, verbose=False)
    props = report.get_properties().set_index("Property")["Score"]
    ours_shapes, _ = R.column_shapes(frames)
    ours_pairs, _ = R.column_pairs(frames)
    return (ours_shapes, props["Column Shapes"]), (ours_pairs, props["Column Pair Trends"])


@pytest.mark.parametrize("maker", [copula_sample, random_sample])
def test_shapes_and_pairs_match_sdmetrics_german(german, maker):
    train, _, _, target, label, _ = german
    syn = maker(train, target, label, 300, seed=3)
    (s_ours, s_sdm), (p_ours, p_sdm) = _sdmetrics_scores(train, syn, target, label)
    assert abs(s_ours - s_sdm) < SDM_TOL
    assert abs(p_ours - p_sdm) < SDM_TOL


def test_shapes_and_pairs_match_sdmetrics_fraud(fraud):
    """Mixed table: text datetimes, MM/YY dates, booleans, 164 currencies, missing countries."""
    train, _, target, label = fraud
    syn = copula_sample(train, target, label, 400, seed=5)
    (s_ours, s_sdm), (p_ours, p_sdm) = _sdmetrics_scores(train, syn, target, label)
    assert abs(s_ours - s_sdm) < SDM_TOL
    assert abs(p_ours - p_sdm) < SDM_TOL


def test_ks_matches_scipy(fraud):
    train = fraud[0]
    a = train["amount"].to_numpy(dtype=float)[:3000]
    b = train["amount"].to_numpy(dtype=float)[3000:]
    assert R.ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)


def test_holdout_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.uniform(size=2000) < 0.05).astype(int)
    s = np.round(np.clip(rng.normal(0.2 + 0.5 * y, 0.2), 0, 1), 2)  # rounded: many ties
    m = holdout_metrics(s, y)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert m["recall"] == pytest.approx(recall_score(y, s > 0.5))
    assert m["precision"] == pytest.approx(precision_score(y, s > 0.5))
    # recall / precision at 1% FPR: the loosest threshold whose false-positive rate is still <= 1%,
    # checked against scikit-learn's ROC curve (every distinct threshold kept, ties as sklearn)
    for scores in (s, np.random.default_rng(1).uniform(size=len(y)) + 0.3 * y):  # tied and untied scores
        fpr, tpr, _ = roc_curve(y, scores, drop_intermediate=False)
        j = np.flatnonzero(fpr <= 0.01)[-1]
        tp, fp = tpr[j] * y.sum(), fpr[j] * (len(y) - y.sum())
        got = holdout_metrics(scores, y)
        assert got["recall_at_1pct_fpr"] == pytest.approx(tpr[j], abs=1e-12)
        assert got["precision_at_1pct_fpr"] == pytest.approx(tp / (tp + fp) if tp + fp > 0 else 0.0, abs=1e-12)
    assert 0 < holdout_metrics(s, y)["recall_at_1pct_fpr"] < 1  # the check above is not a trivial 0 or 1
    # bootstrap weights give the same numbers as repeating rows
    w = rng.integers(0, 3, size=len(y))
    rep = np.repeat(np.arange(len(y)), w)
    mw = holdout_metrics(s, y, weights=w.astype(float))
    assert mw["pr_auc"] == pytest.approx(average_precision_score(y[rep], s[rep]), abs=1e-12)
    assert mw["roc_auc"] == pytest.approx(roc_auc_score(y[rep], s[rep]), abs=1e-12)


# -------------------------------------------------------------------- leakage
def test_nearest_is_exact_against_brute_force(fraud):
    train, holdout, target, label = fraud
    train = train.copy()
    train.loc[train.index[:50], "amount"] = np.nan  # missing numbers take part too
    frames = prepare(train, holdout, holdout, target, label=label)
    enc = L.MixedEncoder(frames)
    zq, cq = enc.transform(frames.num["holdout"][:300], frames.cat["holdout"][:300])
    zr, cr = enc.transform(frames.num["train"], frames.cat["train"])
    d, idx = L.nearest(zq, cq, zr, cr)
    # brute force straight from the documented formula
    nq = (frames.num["holdout"][:300] - enc.center) / enc.scale
    nr = (frames.num["train"] - enc.center) / enc.scale
    mq, mr = np.isnan(nq), np.isnan(nr)
    num2 = (np.nan_to_num(nq)[:, None, :] - np.nan_to_num(nr)[None, :, :]) ** 2
    cat = (frames.cat["holdout"][:300, None, :] != frames.cat["train"][None, :, :]).sum(axis=2)
    miss = (mq[:, None, :] != mr[None, :, :]).sum(axis=2)
    brute = np.sqrt(num2.sum(axis=2) + cat + miss)
    assert np.allclose(d, brute.min(axis=1), atol=1e-9)
    assert np.allclose(brute[np.arange(300), idx], brute.min(axis=1), atol=1e-9)


def test_copies_are_caught(german):
    train, holdout, _, target, label, protected = german
    copies = train[train[target] == label].sample(150, random_state=1).reset_index(drop=True)
    card = evaluate(train, holdout, copies, target, random_state=0)
    assert card.value("leakage.exact_copy_rate") == 1.0
    assert card.value("leakage.dcr_below_holdout_p5") == 1.0
    assert card.value("leakage.closer_to_train_share") == 1.0
    assert card.value("leakage.mia_auc") > 0.75
    assert card.subscores["privacy"] == 0.0 and card.quality_score == 0.0


def test_holdout_rows_are_caught(german):
    train, holdout, syn, target, label, _ = german
    leaked = holdout[holdout[target] == label].head(21)
    mixed = pd.concat([syn.head(189), leaked]).reset_index(drop=True)
    card = evaluate(train, holdout, mixed, target, random_state=0)
    assert card.value("leakage.holdout_copy_rate") == pytest.approx(21 / 210)
    assert card.details["leakage"]["holdout_copies"] == 21
    assert card.subscores["privacy"] == 0.0


def test_unseen_categories_are_a_finding(fraud):
    train, holdout, target, label = fraud
    syn = copula_sample(train, target, label, 200, seed=2)
    syn.loc[:9, "currency"] = "XXX"
    card = evaluate(train, holdout, syn, target, random_state=0)
    assert card.value("realism.unseen_category_rate") == pytest.approx(10 / 200)
    assert card.details["realism"]["unseen_categories"]["currency"] == {"rows": 10, "values": ["XXX"]}


def test_fraud_datetimes_and_excluded_columns(fraud):
    train, holdout, target, label = fraud
    syn = copula_sample(train, target, label, 300, seed=1)
    card = evaluate(train, holdout, syn, target, random_state=0)
    kinds = {c["name"]: c["kind"] for c in card.details["columns"]}
    assert kinds["datetime"] == "datetime" and kinds["expiration_date"] == "datetime"
    assert {c["name"] for c in card.details["excluded_columns"]} == {"id", "card_id", "store_id"}
    assert card.subscores["fairness"] is None and "fairness.max_representation_shift" not in card.metrics
    assert card.inputs["label"] is True


# ------------------------------------------------------------------- fairness
def test_one_group_shift_is_exact(german):
    train, holdout, syn, target, label, protected = german
    one = syn.copy()
    one["personal_status_sex"] = "A92"
    card = evaluate(train, holdout, one, target, protected=protected, random_state=0)
    rare = train[train[target] == label]["personal_status_sex"].value_counts(normalize=True)
    expected = max(1 - rare["A92"], *(rare.drop("A92")))
    assert card.value("fairness.max_representation_shift") == pytest.approx(expected)
    assert card.subscores["fairness"] == 0.0


def test_numeric_protected_is_binned(german):
    train, holdout, syn, target, label, _ = german
    card = evaluate(train, holdout, syn, target, protected=["age"], random_state=0)
    fair = card.details["fairness"]["age"]
    assert fair["groups"].startswith("quartile bins")
    assert len(fair["representation"]) == 4
    assert sum(r["real_share"] for r in fair["representation"]) == pytest.approx(1.0)


def test_adult_shared_with_protected(adult_shared):
    df = adult_shared.sample(3000, random_state=0).reset_index(drop=True)
    target = "income" if "income" in df.columns else df.columns[-1]
    train, holdout = split(df, target)
    label = train[target].value_counts().idxmin()
    syn = copula_sample(train, target, label, 300)
    prot = [c for c in ("sex", "race") if c in df.columns]
    card = evaluate(train, holdout, syn, target, protected=prot, random_state=0)
    assert card.subscores["fairness"] is not None
    assert card.value("leakage.exact_copy_rate") == 0.0
    assert card.value("realism.column_shapes") > 0.85


# ---------------------------------------------------------------- bad inputs
def test_mismatched_columns(german):
    train, holdout, syn, target, _, _ = german
    with pytest.raises(EvaluationError, match=r"synthetic columns do not match real_train: missing 'age'"):
        evaluate(train, holdout, syn.drop(columns=["age"]), target)
    with pytest.raises(EvaluationError, match=r"not in real_train: 'extra'"):
        evaluate(train, holdout, syn.assign(extra=1), target)
    with pytest.raises(EvaluationError, match=r"real_holdout columns do not match"):
        evaluate(train, holdout.drop(columns=["job"]), syn, target)


def test_missing_protected(german):
    train, holdout, syn, target, _, _ = german
    with pytest.raises(EvaluationError, match="protected column 'gender' is not in the table"):
        evaluate(train, holdout, syn, target, protected=["gender"])


def test_bad_holdout(german):
    train, holdout, syn, target, label, _ = german
    with pytest.raises(EvaluationError, match="real_holdout is empty"):
        evaluate(train, holdout.iloc[:0], syn, target)
    with pytest.raises(EvaluationError, match="real_holdout has no rows with the rare label 2"):
        evaluate(train, holdout[holdout[target] != label], syn, target)
