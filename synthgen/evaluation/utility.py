"""Utility: do synthetic rows beat the cheap alternatives at finding the rare class on the real holdout?

One documented model (HistGradientBoostingClassifier, native categories, fixed hyperparameters,
seeded) is trained five ways, all scored on the untouched real holdout:

- baseline: real train;
- class weights: real train with balanced sample weights;
- tuned threshold: the baseline model with the decision threshold that maximises F1 on
  out-of-fold predictions of real train (3-fold, the rule of scikit-learn's
  TunedThresholdClassifierCV(scoring="f1")); the holdout never sets it;
- random oversampling: real train plus real rare rows drawn with replacement (imbalanced-learn's
  RandomOverSampler), as many as the synthetic rows;
- augmented: real train plus the synthetic rows.

Augmented is compared with the baseline (``*_uplift``) and with the best alternative per measure
(``*_vs_best_alternative``); every difference gets a paired bootstrap 95% interval over holdout
rows, and an interval that contains 0 is "no measurable change", never a gain. Calibration
(Brier score, log loss, calibration intercept and slope) is reported for baseline and augmented.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..engine import LocalEngine, local_cores
from ..exceptions import EvaluationError, UsageError
from ._frame import Frames, model_matrix
from .base import Metric
from .utility_models import FAMILIES, MODEL_PARAMS, UtilityModel, resolve_models

__all__ = ["utility", "MODEL_PARAMS", "BOOTSTRAP", "DEFAULT_REPEATS", "holdout_metrics", "resolve_models",
           "check_repeats", "PrAucUplift", "RecallUplift", "RocAucUplift", "F1Uplift", "RecallAt1pctFprUplift",
           "PrecisionUplift", "PrAucVsBestAlternative", "RecallAt1pctFprVsBestAlternative", "BrierChange",
           "LabelFidelity", "PrAucAugmented", "PrAucBaseline"]

BOOTSTRAP = 200
DEFAULT_REPEATS = 3
FPR_TARGET = 0.01
MEASURES = ("pr_auc", "roc_auc", "recall", "precision", "f1", "recall_at_1pct_fpr", "precision_at_1pct_fpr")

MIN_BASELINE_AUC = 0.55  # below it the baseline cannot tell the classes apart: fidelity is not measurable
ALTERNATIVES = ("baseline", "class_weights", "tuned_threshold", "oversampling")
ALTERNATIVE_WORDS = {"baseline": "real rows only", "class_weights": "class weights",
                     "tuned_threshold": "a tuned threshold", "oversampling": "random oversampling"}
TUNE_FOLDS = 3


class _Utility(Metric):
    """A metric of the utility stage (``utility``: every option of every model family trained once, scored on
    the real holdout, with one paired bootstrap); the gate's family (hgb) gives the scorecard's values."""

    goal, range, stage = "maximize", (-1.0, 1.0), "utility"


class _Difference(_Utility):
    """Augmented minus another option on one holdout measure; 0.5 + difference / 0.2 maps +-0.1 to 1 and 0."""

    measure, words = "", ""  # the measure (MEASURES) and how a sentence names it

    def normalize(self, value: float) -> float:
        return 0.5 + value / 0.2


class _Uplift(_Difference):
    """Augmented minus baseline (``details.utility.uplift.<measure>``)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = f"utility.{cls.measure}_uplift"
        cls.description = f"Augmented minus baseline {cls.words} on real holdout (CI and significance in details)"

    def explain(self, value: float, details: dict) -> str:
        u = details["utility"]["uplift"][self.measure]
        lo, hi = u["ci95"]
        return (f"adding the synthetic rows moves {self.words} on the real holdout from {u['baseline']:.3f} to "
                f"{u['augmented']:.3f} ({value:+.3f}, 95% CI {lo:+.3f} to {hi:+.3f}: {u['verdict']})")


class PrAucUplift(_Uplift):
    measure, words, key = "pr_auc", "PR-AUC (average precision)", True


class RecallUplift(_Uplift):
    measure, words, key = "recall", "rare-class recall at 0.5", True


class RocAucUplift(_Uplift):
    measure, words = "roc_auc", "ROC AUC"


class F1Uplift(_Uplift):
    measure, words = "f1", "rare-class F1 at 0.5"


class RecallAt1pctFprUplift(_Uplift):
    measure, words = "recall_at_1pct_fpr", "rare-class recall at the 1% false-positive-rate threshold"


class PrecisionUplift(_Uplift):
    measure, words = "precision", "rare-class precision at 0.5"


class _VsBest(_Difference):
    """Augmented minus the best alternative (``details.utility.vs_best_alternative.<measure>``)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = f"utility.{cls.measure}_vs_best_alternative"
        cls.description = (f"Augmented {cls.words} minus the best of baseline, class weights, tuned threshold and "
                           "random oversampling on real holdout (CI and verdict in details)")

    def explain(self, value: float, details: dict) -> str:
        v = details["utility"]["vs_best_alternative"][self.measure]
        lo, hi = v["ci95"]
        return (f"{ALTERNATIVE_WORDS[v['best']]} reaches {self.words} {v['best_value']:.3f} on the real holdout; "
                f"with the synthetic rows {v['augmented']:.3f} ({value:+.3f}, 95% CI {lo:+.3f} to {hi:+.3f}: "
                f"{v['verdict']})")


class PrAucVsBestAlternative(_VsBest):
    """The utility sub-score's one part: its score when the interval excludes 0, else 0.5 (neutral)."""

    measure, words, key = "pr_auc", "PR-AUC", True
    subscore, scoring = "utility", "significant"


class RecallAt1pctFprVsBestAlternative(_VsBest):
    measure, words, key = "recall_at_1pct_fpr", "recall at 1% false-positive rate", True


class BrierChange(_Utility):
    name = "utility.brier_change"
    goal, key = "minimize", True
    description = ("Brier score on real holdout of the augmented model minus that of the baseline (> 0: worse "
                   "calibrated probabilities)")

    def normalize(self, value: float) -> float:
        return 1.0 - max(0.0, value) / 0.05

    def explain(self, value: float, details: dict) -> str:
        c = details["utility"]["calibration"]
        lo, hi = c["brier_change_ci95"]
        return (f"adding the synthetic rows moves the Brier score on the real holdout from "
                f"{c['baseline']['brier']:.4f} to {c['augmented']['brier']:.4f} ({value:+.4f}, 95% CI {lo:+.4f} to "
                f"{hi:+.4f}); calibration slope {c['baseline']['slope']:.2f} -> {c['augmented']['slope']:.2f} "
                "(1 = calibrated)")


class LabelFidelity(_Utility):
    name = "utility.label_fidelity"
    range, key = (0.0, 1.0), True
    description = ("How rare-like the synthetic rows look to a model trained on real train only: (AUC of synthetic "
                   "rows vs holdout other-class rows - 0.5) / (AUC of holdout rare rows vs the same - 0.5)")

    def normalize(self, value: float) -> float:
        return value

    def explain(self, value: float, details: dict) -> str:
        f = details["utility"]["label_fidelity"]
        lo, hi = f["ci95"]
        return (f"the real-data model ranks the synthetic rows above real other-class rows with AUC "
                f"{f['synthetic_auc']:.3f}, against {f['real_auc']:.3f} for real unseen rare rows: fidelity "
                f"{value:.2f} (95% CI {lo:.2f} to {hi:.2f}; 1 = as rare-like as real rare rows, 0 = like the other "
                "class)")


class PrAucAugmented(_Utility):
    name = "utility.pr_auc_augmented"
    range = (0.0, 1.0)
    description = "PR-AUC on real holdout of the model trained on real train + synthetic"


class PrAucBaseline(_Utility):
    name = "utility.pr_auc_baseline"
    range = (0.0, 1.0)
    description = "PR-AUC on real holdout of the model trained on real train only"


def _curve(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order rows by descending score; return (order, last index of each distinct score, sorted scores)."""
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    return order, ends, s


def holdout_metrics(scores: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
                    curve: tuple | None = None, threshold: float = 0.5) -> dict[str, float]:
    """All holdout measures for one model, optionally with bootstrap multiplicity weights (ties as sklearn);
    recall, precision and F1 at the decision ``threshold`` (positive when score > threshold)."""
    order, ends, s = curve if curve is not None else _curve(scores, y)
    w = np.ones(len(y)) if weights is None else weights
    yw = (y[order] * w[order]).astype(np.float64)
    nw = ((1 - y[order]) * w[order]).astype(np.float64)
    return _measures(np.cumsum(yw)[ends], np.cumsum(nw)[ends], s[ends], threshold)


def _group_ids(curve: tuple, n: int) -> np.ndarray:
    """Each row's distinct-score group in a ``_curve`` (0 = the highest score)."""
    order, _, s = curve
    g = np.empty(n, dtype=np.intp)
    g[order] = np.r_[0, np.cumsum(np.diff(s) != 0)]
    return g


def _measures(tp: np.ndarray, fp: np.ndarray, s: np.ndarray, threshold: float) -> dict[str, float]:
    """The holdout measures from the (weighted) true and false positives above each distinct score ``s``
    (descending): what ``holdout_metrics`` computes once it has counted them."""
    P, N = tp[-1], fp[-1]
    out = dict.fromkeys(MEASURES, float("nan"))
    if P == 0 or N == 0:
        return out
    prec = tp / np.maximum(tp + fp, 1e-300)
    rec = tp / P
    out["pr_auc"] = float(np.sum(np.diff(np.r_[0.0, rec]) * prec))
    fpr = np.r_[0.0, fp / N]
    tpr = np.r_[0.0, rec]
    out["roc_auc"] = float(np.trapezoid(tpr, fpr))
    # at the threshold: positive when score > threshold (as predict() does at 0.5)
    k = np.searchsorted(-s, -threshold, side="left")  # distinct thresholds with score > threshold
    tp5 = tp[k - 1] if k > 0 else 0.0
    fp5 = fp[k - 1] if k > 0 else 0.0
    out["recall"] = float(tp5 / P)
    out["precision"] = float(tp5 / (tp5 + fp5)) if tp5 + fp5 > 0 else 0.0
    out["f1"] = float(2 * tp5 / (2 * tp5 + fp5 + (P - tp5))) if tp5 > 0 else 0.0
    ok = np.flatnonzero(fp / N <= FPR_TARGET)
    if len(ok):
        j = ok[-1]
        out["recall_at_1pct_fpr"] = float(tp[j] / P)
        out["precision_at_1pct_fpr"] = float(tp[j] / (tp[j] + fp[j])) if tp[j] + fp[j] > 0 else 0.0
    else:
        out["recall_at_1pct_fpr"] = 0.0
        out["precision_at_1pct_fpr"] = 0.0
    return out


def label_fidelity(p_real_rare: np.ndarray, p_syn: np.ndarray, p_other: np.ndarray,
                   rng: np.random.Generator) -> tuple[float, dict]:
    """Does the real-data model see the synthetic rows as the rare class? (see FIDELITY).

    Each positive row's share of other-class rows it outranks (ties half) is its AUC contribution;
    the interval resamples the synthetic rows and the real rare rows (BOOTSTRAP times), holding the
    other-class rows fixed (they are many, and the same for both sides of the ratio).
    """
    neg = np.sort(p_other)

    def wins(p: np.ndarray) -> np.ndarray:
        below = np.searchsorted(neg, p, side="left")
        equal = np.searchsorted(neg, p, side="right") - below
        return (below + 0.5 * equal) / len(neg)

    u_real, u_syn = wins(p_real_rare), wins(p_syn)
    real_auc, syn_auc = float(u_real.mean()), float(u_syn.mean())
    details = {"real_auc": real_auc, "synthetic_auc": syn_auc, "ci95": [math.nan, math.nan],
               "rows": {"synthetic": int(len(p_syn)), "real_rare": int(len(p_real_rare)), "other": int(len(neg))}}
    if real_auc - 0.5 < MIN_BASELINE_AUC - 0.5:
        details["reason"] = (f"the real-data model ranks real rare rows above other rows with AUC {real_auc:.3f} "
                             f"only (< {MIN_BASELINE_AUC}): it cannot tell whether rows look rare")
        return math.nan, details
    value = (syn_auc - 0.5) / (real_auc - 0.5)
    boots = np.empty(BOOTSTRAP)
    for b in range(BOOTSTRAP):
        s_mean = u_syn[rng.integers(0, len(u_syn), len(u_syn))].mean()
        r_mean = u_real[rng.integers(0, len(u_real), len(u_real))].mean()
        boots[b] = (s_mean - 0.5) / max(r_mean - 0.5, 1e-9)
    details["ci95"] = [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]
    return float(value), details


def tuned_threshold(X: np.ndarray, y: np.ndarray, is_cat: np.ndarray, seed: int,
                    model: UtilityModel | None = None, out_of_bag: np.ndarray | None = None) -> tuple[float, dict]:
    """The F1-maximising decision threshold on out-of-fold predictions of real train (never the holdout).

    The rule of scikit-learn's TunedThresholdClassifierCV(scoring="f1", cv=3, refit=True): thresholds
    are scored on the folds' held-out predictions and applied to the model fitted on all of train.
    A bagged family (rf) passes its ``out_of_bag`` train scores instead: each row scored by the trees
    that never saw it, an out-of-sample prediction that costs no extra fit. With fewer rare train rows
    than folds there is nothing to tune: the threshold stays 0.5, and the record says so (``fallback``).
    (``utility`` runs the same folds as separate fits, ``_Fit``, so that they can run at once.)
    """
    model = model or FAMILIES["hgb"]
    out_of_fold = None
    if out_of_bag is None and _tunable(y):
        out_of_fold = np.empty(len(y))
        for tr, te in _tuning_folds(y, seed):
            out_of_fold[te] = model.fit_predict(X[tr], y[tr], is_cat, X[te], seed)
    return _tuning(y, out_of_bag, out_of_fold)


def _tuning(y: np.ndarray, out_of_bag: np.ndarray | None, out_of_fold: np.ndarray | None) -> tuple[float, dict]:
    """The threshold and its record from the out-of-bag train scores (rf) or the out-of-fold ones; the
    default 0.5 when real train has too few rows of a class for the folds (``_tunable``)."""
    bagged = out_of_bag is not None
    rule = ("F1-maximising threshold on the forest's out-of-bag train predictions" if bagged
            else "TunedThresholdClassifierCV(scoring='f1', cv=3, refit=True)")
    if not _tunable(y):
        return 0.5, {"threshold": 0.5, "out_of_fold_f1": math.nan, "folds": TUNE_FOLDS, "rule": rule,
                     "fallback": f"real train has {int(y.sum())} rare rows; {TUNE_FOLDS}-fold tuning needs at least "
                                 f"{TUNE_FOLDS}: the tuned threshold is the default 0.5 (the same as the baseline)"}
    threshold, f1 = _best_f1_threshold(y, out_of_bag if bagged else out_of_fold)
    return threshold, {"threshold": float(np.nextafter(threshold, np.inf)), "out_of_fold_f1": f1,
                       "folds": "out-of-bag" if bagged else TUNE_FOLDS, "rule": rule}


def _tunable(y: np.ndarray) -> bool:
    """Real train has at least TUNE_FOLDS rows of each class: the tuning folds can be made."""
    rare = int(y.sum())
    return min(rare, len(y) - rare) >= TUNE_FOLDS


def _tuning_folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (train, held-out) row positions of the tuning folds: stratified, shuffled by ``seed``."""
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=TUNE_FOLDS, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros((len(y), 1)), y))


def _best_f1_threshold(y: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of ``score > threshold`` over the held-out ``scores``."""
    from sklearn.metrics import precision_recall_curve

    prec, rec, thr = precision_recall_curve(y, scores)
    f1 = np.where(prec[:-1] + rec[:-1] > 0, 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-300), 0)
    best = int(np.argmax(f1))
    # precision_recall_curve counts score >= thr as positive; holdout_metrics counts score > threshold
    return float(np.nextafter(thr[best], -np.inf)), float(f1[best])


def calibration(p: np.ndarray, y: np.ndarray) -> dict:
    """Brier score, log loss, and calibration intercept and slope (logistic fit of y on logit p)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    q = np.clip(p, 1e-6, 1 - 1e-6)
    logit = np.log(q / (1 - q))[:, None]
    fit = LogisticRegression(C=np.inf, max_iter=1_000).fit(logit, y)  # unpenalised
    return {"brier": float(np.mean((p - y) ** 2)), "log_loss": float(log_loss(y, q, labels=[0, 1])),
            "intercept": float(fit.intercept_[0]), "slope": float(fit.coef_[0, 0]), "curve": _reliability(p, y)}


def _reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> dict:
    """Reliability diagram data: rows cut at the deciles of the predicted probability (equal-count bins
    suit a rare class, where most scores sit near 0), each bin's mean prediction and observed rate."""
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    rows = np.bincount(index, minlength=max(len(edges) - 1, 1))
    keep = rows > 0
    mean_p = np.bincount(index, weights=p, minlength=len(rows))[keep] / rows[keep]
    observed = np.bincount(index, weights=y, minlength=len(rows))[keep] / rows[keep]
    return {"mean_predicted": mean_p.tolist(), "observed": observed.tolist(), "rows": rows[keep].tolist(),
            "bins": "deciles of the predicted probability"}


def _interval(d: np.ndarray, value: float) -> tuple[list[float], bool, str]:
    d = d[~np.isnan(d)]
    lo, hi = (float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))) if len(d) else (math.nan, math.nan)
    significant = bool(len(d) and (lo > 0 or hi < 0))
    verdict = "no measurable change" if not significant else ("gain" if value > 0 else "loss")
    return [lo, hi], significant, verdict


OPTIONS = ALTERNATIVES + ("augmented",)
MIN_HOLDOUT_RARE = 5  # fewer rare holdout rows leave PR-AUC and recall at 1% FPR undefined or one-row noise


@dataclass
class _Data:
    """The model matrices every family trains on, built once per evaluation."""

    X_tr: np.ndarray
    y_tr: np.ndarray
    is_cat: np.ndarray
    X_ho: np.ndarray
    X_syn: np.ndarray
    y_syn: np.ndarray
    X_os: np.ndarray
    y_os: np.ndarray
    weights: np.ndarray


def _data(frames: Frames, rng: np.random.Generator) -> tuple[_Data, int]:
    """Matrices, balanced class weights and the oversampled train set; the base model seed."""
    model_seed = int(rng.integers(2**31 - 1))
    X_tr, is_cat = model_matrix(frames, ["train"])
    X_syn, _ = model_matrix(frames, ["synthetic"])
    X_ho, _ = model_matrix(frames, ["holdout"])
    y_tr = frames.y["train"].astype(int)
    y_syn = frames.y["synthetic"].astype(int)
    weights = np.where(y_tr == 1, len(y_tr) / (2.0 * y_tr.sum()), len(y_tr) / (2.0 * (len(y_tr) - y_tr.sum())))
    X_os, y_os = _oversample(X_tr, y_tr, int(y_syn.sum()), int(rng.integers(2**31 - 1)))
    return _Data(X_tr, y_tr, is_cat, X_ho, X_syn, y_syn, X_os, y_os, weights), model_seed


@dataclass(frozen=True)
class _Free:
    """The options that use no synthetic row (baseline, class weights, tuned threshold) for one family and
    seed: the baseline's predict function, holdout scores, the tuned threshold and its record."""

    predict: Callable[[np.ndarray], np.ndarray]
    p_base: np.ndarray
    p_cw: np.ndarray
    threshold: float
    tuning: dict


_FREE_CACHE: OrderedDict[tuple, _Free] = OrderedDict()
FREE_CACHE_SIZE = 16  # entries (one per family x seed x split): a fitted model and two holdout score vectors each
MAX_FIT_THREADS = 4  # fits the local engine runs at once: each holds a copy of the rows it trains on


def fit_threads() -> int:
    """How many fits the local engine runs at once: one per core this process may use, at most
    MAX_FIT_THREADS. Each fit runs on one OpenMP thread (``omp_threads``) and draws nothing shared, so the
    scores do not depend on it; on 2 cores two fits at once take 0.6x the time of one after the other."""
    return min(local_cores(), MAX_FIT_THREADS)


@dataclass(frozen=True)
class _Fit:
    """One model fit of the utility stage, one engine task: a family, a seed and what it trains on
    (``option``: augmented, baseline, class_weights, oversampling, or ``fold`` number ``fold`` of the tuning)."""

    family: str
    seed: int
    option: str
    fold: int = 0


def _fit_task(d: _Data, fit: _Fit) -> Any:
    """Fit one option and score the real holdout. A tuning fold returns (its held-out train positions, their
    scores); the baseline (predict function, holdout scores, out-of-bag train scores or None, and for the
    gate's family, hgb, the synthetic rows' scores for label fidelity, else None)."""
    model = FAMILIES[fit.family]
    if fit.option == "baseline":
        if model.out_of_bag is not None:
            predict, oob = model.out_of_bag(d.X_tr, d.y_tr, d.is_cat, fit.seed)
        else:
            predict, oob = model.fit(d.X_tr, d.y_tr, d.is_cat, fit.seed, None), None
        return predict, predict(d.X_ho), oob, predict(d.X_syn) if fit.family == "hgb" else None
    if fit.option == "class_weights":
        return model.fit_predict(d.X_tr, d.y_tr, d.is_cat, d.X_ho, fit.seed, d.weights)
    if fit.option == "fold":
        tr, te = _tuning_folds(d.y_tr, fit.seed)[fit.fold]
        return te, model.fit_predict(d.X_tr[tr], d.y_tr[tr], d.is_cat, d.X_tr[te], fit.seed)
    if fit.option == "oversampling":
        return model.fit_predict(d.X_os, d.y_os, d.is_cat, d.X_ho, fit.seed)
    return model.fit_predict(np.vstack([d.X_tr, d.X_syn]), np.r_[d.y_tr, d.y_syn], d.is_cat, d.X_ho, fit.seed)


def _planned_fits(model: UtilityModel, seed: int, cached: bool, y_tr: np.ndarray) -> list[_Fit]:
    """The fits of one family and seed, the longest first and the two on the biggest tables (augmented,
    oversampling) apart, so that fits run at once finish together and hold one big table at a time. The
    free options are left out when they are cached; the tuning folds when there is nothing to tune."""
    fits = [_Fit(model.name, seed, "augmented")]
    if not cached:
        fits += [_Fit(model.name, seed, "baseline"), _Fit(model.name, seed, "class_weights")]
    fits.append(_Fit(model.name, seed, "oversampling"))
    if not cached and model.out_of_bag is None and _tunable(y_tr):
        fits += [_Fit(model.name, seed, "fold", fold=k) for k in range(TUNE_FOLDS)]
    return fits


def _run_fits(plan: list[tuple[UtilityModel, int]], d: _Data, engine: Any = None) -> list[dict]:
    """Every fit of every (family, seed) in ``plan`` as one engine task each (the local engine runs
    ``fit_threads()`` at once); per (family, seed), holdout scores and decision thresholds of every option,
    the tuning record and (the gate's family only) the baseline's scores for the synthetic rows.

    The free options are fitted once per (family, seed, train, holdout): every generator, amount and planted
    set scored on the same split reuses them (compare, selftest), with results identical to a refit, since
    the key is the bytes of every input they depend on."""
    split = _digest(d.X_tr, d.y_tr, d.is_cat, d.X_ho, d.weights)
    cached = {(m.name, s): _FREE_CACHE.get((m.name, s, split)) for m, s in plan}
    fits = [f for m, s in plan for f in _planned_fits(m, s, cached[m.name, s] is not None, d.y_tr)]
    engine = engine or LocalEngine()
    done: dict[_Fit, Any] = {}
    # a bar over the fits on stderr, shown only on a terminal (tqdm's disable=None; TQDM_DISABLE=1 turns it off)
    with tqdm(total=len(fits), desc="utility fits", unit="fit", file=sys.stderr, disable=None, leave=False) as bar:
        for fit, result in zip(fits, engine.map(_fit_task, fits, shared=d, threads=fit_threads())):
            done[fit] = result
            bar.update(1)
    runs = []
    for model, seed in plan:
        free = cached[model.name, seed] or _free_from(model, seed, d, done)
        _FREE_CACHE[model.name, seed, split] = free
        _FREE_CACHE.move_to_end((model.name, seed, split))
        while len(_FREE_CACHE) > FREE_CACHE_SIZE:
            _FREE_CACHE.popitem(last=False)
        synthetic = None
        if model.name == "hgb":  # the gate's family: label fidelity needs its baseline's synthetic scores
            baseline = done.get(_Fit(model.name, seed, "baseline"))
            synthetic = baseline[3] if baseline is not None else free.predict(d.X_syn)
        p_os, p_aug = done[_Fit(model.name, seed, "oversampling")], done[_Fit(model.name, seed, "augmented")]
        scores = {"baseline": (free.p_base, 0.5), "class_weights": (free.p_cw, 0.5),
                  "tuned_threshold": (free.p_base, free.threshold), "oversampling": (p_os, 0.5),
                  "augmented": (p_aug, 0.5)}
        runs.append({"scores": scores, "tuning": free.tuning, "synthetic": synthetic})
    return runs


def _free_from(model: UtilityModel, seed: int, d: _Data, done: dict) -> _Free:
    """The free options of one family and seed from its fits: baseline, class weights, tuning folds."""
    predict, p_base, oob, _ = done[_Fit(model.name, seed, "baseline")]
    out_of_fold = None
    if oob is None and _tunable(d.y_tr):
        out_of_fold = np.empty(len(d.y_tr))
        for k in range(TUNE_FOLDS):
            te, scores = done[_Fit(model.name, seed, "fold", fold=k)]
            out_of_fold[te] = scores
    threshold, tuning = _tuning(d.y_tr, oob, out_of_fold)
    return _Free(predict, p_base, done[_Fit(model.name, seed, "class_weights")], threshold, tuning)


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=20)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.data)
    return h.hexdigest()


def _repeat_seeds(model_seed: int, repeats: int) -> list[int]:
    """The first repeat uses the base model seed; further repeats get seeds spawned from it."""
    spawned = np.random.SeedSequence(model_seed).spawn(repeats - 1)
    return [model_seed] + [int(s.generate_state(1)[0] % (2**31 - 1)) for s in spawned]


def _bootstrap(runs: dict[str, list[dict]], y: np.ndarray, rng: np.random.Generator,
               rep_rng: np.random.Generator) -> tuple[dict, dict]:
    """Paired bootstrap over holdout rows (stratified, so every resample has both classes), shared by all
    families; a family with several repeats also resamples its repeats (with replacement) in each replicate,
    so the interval covers the seed spread as well as the holdout's. Returns, per family, each option's
    replicate x measure array (mean over the drawn repeats) and the Brier change per replicate."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    # per option, each positive's and each negative's distinct-score group: a replicate's true and false
    # positives above each score are then sums of its draw counts per group (bincount), the same integers
    # holdout_metrics sums in score order, without re-sorting every holdout row per option and replicate
    groups = {name: [{o: _option_groups(_curve(p, y), pos, neg) for o, (p, _) in r["scores"].items()} for r in reps]
              for name, reps in runs.items()}
    draws = {name: {o: np.empty((BOOTSTRAP, len(MEASURES))) for o in OPTIONS} for name in runs}
    brier = {name: np.empty(BOOTSTRAP) for name in runs}
    for b in range(BOOTSTRAP):
        c_pos = np.bincount(rng.choice(pos, size=len(pos)), minlength=len(y))
        c_neg = np.bincount(rng.choice(neg, size=len(neg)), minlength=len(y))
        w = c_pos + c_neg
        w_pos, w_neg = c_pos[pos].astype(np.float64), c_neg[neg].astype(np.float64)
        for name, reps in runs.items():
            drawn = rep_rng.integers(0, len(reps), len(reps)) if len(reps) > 1 else np.zeros(1, dtype=int)
            counts = np.bincount(drawn, minlength=len(reps))
            acc = {o: np.zeros(len(MEASURES)) for o in OPTIONS}
            change = 0.0
            for i in np.flatnonzero(counts):
                sc = reps[i]["scores"]
                for o, (p, t) in sc.items():
                    g_pos, g_neg, s_ends = groups[name][i][o]
                    tp = np.cumsum(np.bincount(g_pos, weights=w_pos, minlength=len(s_ends)))
                    fp = np.cumsum(np.bincount(g_neg, weights=w_neg, minlength=len(s_ends)))
                    ms = _measures(tp, fp, s_ends, t)
                    acc[o] += counts[i] * np.array([ms[m] for m in MEASURES])
                p_base, p_aug = sc["baseline"][0], sc["augmented"][0]
                change += counts[i] * float(w @ ((p_aug - y) ** 2 - (p_base - y) ** 2)) / w.sum()
            for o in OPTIONS:
                draws[name][o][b] = acc[o] / len(reps)
            brier[name][b] = change / len(reps)
    return draws, brier


def _option_groups(curve: tuple, pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positives' groups, negatives' groups, the distinct scores, descending) of one option's curve."""
    g = _group_ids(curve, len(curve[0]))
    return g[pos], g[neg], curve[2][curve[1]]


def _summary(reps: list[dict], draws: dict, brier_draws: np.ndarray, y: np.ndarray) -> dict:
    """One family's point values (mean over its repeats), uplift over the baseline and difference from the
    best alternative per measure, each with its interval and verdict."""
    point = {}
    for o in OPTIONS:
        per = [holdout_metrics(r["scores"][o][0], y, threshold=r["scores"][o][1]) for r in reps]
        point[o] = {m: float(np.mean([p[m] for p in per])) if len(per) > 1 else per[0][m] for m in MEASURES}
    base, aug = point["baseline"], point["augmented"]
    uplift, versus = {}, {}
    for k, m in enumerate(MEASURES):
        value = aug[m] - base[m]
        ci, significant, verdict = _interval(draws["augmented"][:, k] - draws["baseline"][:, k], value)
        uplift[m] = {"baseline": base[m], "augmented": aug[m], "uplift": value, "ci95": ci,
                     "significant": significant, "verdict": verdict}
        best = max(ALTERNATIVES, key=lambda a: (point[a][m], -ALTERNATIVES.index(a)))
        value = aug[m] - point[best][m]
        best_d = draws["augmented"][:, k] - np.max([draws[a][:, k] for a in ALTERNATIVES], axis=0)
        ci, significant, verdict = _interval(best_d, value)
        versus[m] = {"best": best, "best_value": point[best][m], "augmented": aug[m], "difference": value,
                     "ci95": ci, "significant": significant, "verdict": verdict}
    change = [float(np.mean((r["scores"]["augmented"][0] - y) ** 2) - np.mean((r["scores"]["baseline"][0] - y) ** 2))
              for r in reps]
    return {"alternatives": point, "uplift": uplift, "vs_best_alternative": versus,
            "brier_change": float(np.mean(change)), "brier_change_ci95": _interval(brier_draws, 0.0)[0]}


def _oversample(X: np.ndarray, y: np.ndarray, extra: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Real train plus ``extra`` real rare rows drawn with replacement (imbalanced-learn's RandomOverSampler)."""
    from imblearn.over_sampling import RandomOverSampler

    if extra <= 0:
        return X, y
    ros = RandomOverSampler(sampling_strategy={1: int(y.sum()) + extra}, random_state=seed)
    X_os, y_os = ros.fit_resample(np.nan_to_num(X, nan=np.inf), y)  # imblearn refuses NaN; inf round-trips
    return np.where(np.isinf(X_os), np.nan, X_os), y_os


def _agreement(summaries: dict[str, dict]) -> dict:
    """Where the families' verdicts on augmented vs the best alternative differ, per headline measure."""
    out = {}
    for m in ("pr_auc", "recall_at_1pct_fpr"):
        verdicts = {name: s["vs_best_alternative"][m]["verdict"] for name, s in summaries.items()}
        out[m] = {"verdicts": verdicts, "agree": len(set(verdicts.values())) == 1}
    return out


def check_repeats(repeats: int) -> int:
    """``--utility-repeats``: a whole number >= 1."""
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise UsageError(f"--utility-repeats must be a whole number >= 1, got {repeats!r}")
    return int(repeats)


def utility(frames: Frames, seed: int, models: Sequence[str] | str | None = None,
            repeats: int = DEFAULT_REPEATS, engine: Any = None) -> tuple[dict[str, float], dict, dict]:
    """The alternatives and the augmented model on holdout, for each model family (``hgb`` first: the
    scorecard's metrics and the gate read it): metric values, details, the hgb holdout predictions.
    ``engine`` (``synthgen.engine``; default local) runs the model fits, one task per family and seed."""
    families = resolve_models(models)
    repeats = check_repeats(repeats)
    y_ho = frames.y["holdout"].astype(int)
    if y_ho.sum() < MIN_HOLDOUT_RARE:
        raise EvaluationError(f"real_holdout has {int(y_ho.sum())} rare rows; utility needs at least "
                              f"{MIN_HOLDOUT_RARE} to compare the alternatives (use a larger holdout)")
    rng = np.random.default_rng(seed)
    d, model_seed = _data(frames, rng)
    plan = [(m, s) for m in families for s in _repeat_seeds(model_seed, repeats if m.seeded else 1)]
    runs: dict[str, list] = {m.name: [] for m in families}
    for (model, _), run in zip(plan, _run_fits(plan, d, engine)):
        runs[model.name].append(run)
    draws, brier = _bootstrap(runs, y_ho, rng, np.random.default_rng([seed, 1]))
    summaries = {name: _summary(reps, draws[name], brier[name], y_ho) for name, reps in runs.items()}
    values, details = _primary(runs["hgb"][0], summaries["hgb"], frames, y_ho, rng)
    details["models"] = {m.name: {"description": m.description, "seeded": m.seeded, "fits": len(runs[m.name]),
                                  "tuned_threshold": [r["tuning"] for r in runs[m.name]], **summaries[m.name]}
                         for m in families}
    details["agreement"] = _agreement(summaries)
    details["repeats"] = {"requested": repeats, "rule": REPEAT_RULE}
    p_base, p_aug = runs["hgb"][0]["scores"]["baseline"][0], runs["hgb"][0]["scores"]["augmented"][0]
    preds = {"y": y_ho, "baseline": (p_base > 0.5).astype(int), "augmented": (p_aug > 0.5).astype(int)}
    return values, details, preds


REPEAT_RULE = ("each figure is the mean over the model seeds; a family whose fit uses no randomness (hgb, "
               "logreg, lightgbm, xgboost as configured) gives one model for every seed and is fitted once; the "
               "interval resamples holdout rows and, per replicate, the repeats with replacement")


def _primary(run: dict, summary: dict, frames: Frames, y_ho: np.ndarray,
             rng: np.random.Generator) -> tuple[dict[str, float], dict]:
    """The scorecard's utility metrics and details, read from the gate's family (hgb)."""
    p_base, p_aug = run["scores"]["baseline"][0], run["scores"]["augmented"][0]
    uplift, versus, point = summary["uplift"], summary["vs_best_alternative"], summary["alternatives"]
    cal = {"baseline": calibration(p_base, y_ho), "augmented": calibration(p_aug, y_ho),
           "brier_change_ci95": summary["brier_change_ci95"]}
    headline = ("pr_auc", "recall", "roc_auc", "f1", "recall_at_1pct_fpr", "precision")
    values = {f"utility.{m}_uplift": uplift[m]["uplift"] for m in headline}
    for m in ("pr_auc", "recall_at_1pct_fpr"):
        values[f"utility.{m}_vs_best_alternative"] = versus[m]["difference"]
    values["utility.brier_change"] = cal["augmented"]["brier"] - cal["baseline"]["brier"]
    y_syn = frames.y["synthetic"].astype(int)
    fidelity, fidelity_details = label_fidelity(p_base[y_ho == 1], run["synthetic"][y_syn == 1],
                                                p_base[y_ho == 0], rng)
    values["utility.label_fidelity"] = fidelity
    values["utility.pr_auc_augmented"] = point["augmented"]["pr_auc"]
    values["utility.pr_auc_baseline"] = point["baseline"]["pr_auc"]
    ci95 = {f"utility.{m}_uplift": uplift[m]["ci95"] for m in headline}
    ci95.update({f"utility.{m}_vs_best_alternative": versus[m]["ci95"] for m in ("pr_auc", "recall_at_1pct_fpr")})
    ci95["utility.brier_change"] = cal["brier_change_ci95"]
    if not math.isnan(fidelity):
        ci95["utility.label_fidelity"] = fidelity_details["ci95"]
    details = {
        "model": FAMILIES["hgb"].description,
        "bootstrap_resamples": BOOTSTRAP,
        "rows": {"train": int(frames.y["train"].size), "synthetic": int(len(y_syn)), "holdout": int(len(y_ho)),
                 "holdout_rare": int(y_ho.sum()), "oversampled": int(y_syn.sum())},
        "baseline": point["baseline"], "augmented": point["augmented"], "uplift": uplift,
        "alternatives": point, "vs_best_alternative": versus,
        "tuned_threshold": run["tuning"], "calibration": cal, "label_fidelity": fidelity_details,
        "ci95": {k: v for k, v in ci95.items() if not any(math.isnan(b) for b in v)},
    }
    if math.isnan(fidelity):
        details["not_measured"] = {"utility.label_fidelity": fidelity_details["reason"]}
    return values, details
