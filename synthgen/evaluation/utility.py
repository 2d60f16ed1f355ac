"""Utility: does adding the synthetic rows to real train help a fixed model find the rare class on real holdout?

One documented model (HistGradientBoostingClassifier, native categories, fixed
hyperparameters, seeded) is trained twice: on real train (baseline) and on real
train + synthetic (augmented). Both are scored on the untouched real holdout, and
every uplift gets a paired bootstrap 95% interval over holdout rows; an interval that
contains 0 is "no measurable change", never a gain.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from ._frame import Frames, model_matrix, omp_threads
from .base import metric

__all__ = ["utility", "MODEL_PARAMS", "BOOTSTRAP", "holdout_metrics"]

MODEL_PARAMS = dict(max_iter=150, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
                    l2_regularization=0.0, early_stopping=False)
BOOTSTRAP = 200
FPR_TARGET = 0.01
MEASURES = ("pr_auc", "roc_auc", "recall", "precision", "f1", "recall_at_1pct_fpr", "precision_at_1pct_fpr")

def _explain_uplift(measure: str, words: str):
    def explain(value: float, details: dict) -> str:
        u = details["utility"]["uplift"][measure]
        lo, hi = u["ci95"]
        return (f"adding the synthetic rows moves {words} on the real holdout from {u['baseline']:.3f} to "
                f"{u['augmented']:.3f} ({value:+.3f}, 95% CI {lo:+.3f} to {hi:+.3f}: {u['verdict']})")
    return explain


for _m, _d in (("pr_auc", "PR-AUC (average precision)"), ("recall", "rare-class recall at 0.5"),
               ("roc_auc", "ROC AUC"), ("f1", "rare-class F1 at 0.5"),
               ("recall_at_1pct_fpr", "rare-class recall at the 1% false-positive-rate threshold"),
               ("precision", "rare-class precision at 0.5")):
    metric(f"utility.{_m}_uplift", "maximize", -1.0, 1.0,
           f"Augmented minus baseline {_d} on real holdout (CI and significance in details)",
           normalize=lambda v: 0.5 + v / 0.2, explain=_explain_uplift(_m, _d))
MIN_BASELINE_AUC = 0.55  # below it the baseline cannot tell the classes apart: fidelity is not measurable


def _explain_fidelity(value: float, details: dict) -> str:
    f = details["utility"]["label_fidelity"]
    lo, hi = f["ci95"]
    return (f"the real-data model ranks the synthetic rows above real other-class rows with AUC {f['synthetic_auc']:.3f}, "
            f"against {f['real_auc']:.3f} for real unseen rare rows: fidelity {value:.2f} (95% CI {lo:.2f} to {hi:.2f}; "
            "1 = as rare-like as real rare rows, 0 = like the other class)")


FIDELITY = metric("utility.label_fidelity", "maximize", 0.0, 1.0,
                  "How rare-like the synthetic rows look to a model trained on real train only: (AUC of synthetic "
                  "rows vs holdout other-class rows - 0.5) / (AUC of holdout rare rows vs the same - 0.5)",
                  normalize=lambda v: v, explain=_explain_fidelity)
PR_AUG = metric("utility.pr_auc_augmented", "maximize", 0.0, 1.0,
                "PR-AUC on real holdout of the model trained on real train + synthetic")
PR_BASE = metric("utility.pr_auc_baseline", "maximize", 0.0, 1.0,
                 "PR-AUC on real holdout of the model trained on real train only")


def _curve(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order rows by descending score; return (order, last index of each distinct score, sorted scores)."""
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    return order, ends, s


def holdout_metrics(scores: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
                    curve: tuple | None = None) -> dict[str, float]:
    """All holdout measures for one model, optionally with bootstrap multiplicity weights (ties as sklearn)."""
    order, ends, s = curve if curve is not None else _curve(scores, y)
    w = np.ones(len(y)) if weights is None else weights
    yw = (y[order] * w[order]).astype(np.float64)
    nw = ((1 - y[order]) * w[order]).astype(np.float64)
    tp = np.cumsum(yw)[ends]
    fp = np.cumsum(nw)[ends]
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
    # at 0.5: positive when score > 0.5 (as predict() does)
    k = np.searchsorted(-s[ends], -0.5, side="left")  # distinct thresholds with score > 0.5
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


def _fit_predict(X: np.ndarray, y: np.ndarray, is_cat: np.ndarray, Xh: np.ndarray, seed: int) -> np.ndarray:
    clf = HistGradientBoostingClassifier(categorical_features=is_cat, random_state=seed, **MODEL_PARAMS)
    with omp_threads(len(X)):
        clf.fit(X, y)
        return clf.predict_proba(Xh)[:, 1]


def utility(frames: Frames, seed: int) -> tuple[dict[str, float], dict, dict]:
    """Baseline vs augmented model on holdout: metric values, details, and holdout predictions for fairness."""
    rng = np.random.default_rng(seed)
    model_seed = int(rng.integers(2**31 - 1))
    X_tr, is_cat = model_matrix(frames, ["train"])
    X_syn, _ = model_matrix(frames, ["synthetic"])
    X_ho, _ = model_matrix(frames, ["holdout"])
    y_tr = frames.y["train"].astype(int)
    y_syn = frames.y["synthetic"].astype(int)
    y_ho = frames.y["holdout"].astype(int)
    p_base_all = _fit_predict(X_tr, y_tr, is_cat, np.vstack([X_ho, X_syn]), model_seed)
    p_base, p_base_syn = p_base_all[: len(X_ho)], p_base_all[len(X_ho):]
    p_aug = _fit_predict(np.vstack([X_tr, X_syn]), np.r_[y_tr, y_syn], is_cat, X_ho, model_seed)
    cb, ca = _curve(p_base, y_ho), _curve(p_aug, y_ho)
    base, aug = holdout_metrics(p_base, y_ho, curve=cb), holdout_metrics(p_aug, y_ho, curve=ca)
    # paired bootstrap over holdout rows, stratified so every resample has both classes
    pos, neg = np.flatnonzero(y_ho == 1), np.flatnonzero(y_ho == 0)
    diffs = {m: [] for m in MEASURES}
    for _ in range(BOOTSTRAP):
        w = np.bincount(rng.choice(pos, size=len(pos)), minlength=len(y_ho)) + \
            np.bincount(rng.choice(neg, size=len(neg)), minlength=len(y_ho))
        mb = holdout_metrics(p_base, y_ho, w, cb)
        ma = holdout_metrics(p_aug, y_ho, w, ca)
        for m in MEASURES:
            diffs[m].append(ma[m] - mb[m])
    uplift = {}
    for m in MEASURES:
        d = np.array(diffs[m], dtype=np.float64)
        d = d[~np.isnan(d)]
        lo, hi = (float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))) if len(d) else (math.nan, math.nan)
        value = aug[m] - base[m]
        significant = bool(len(d) and (lo > 0 or hi < 0))
        verdict = "no measurable change" if not significant else ("gain" if value > 0 else "loss")
        uplift[m] = {"baseline": base[m], "augmented": aug[m], "uplift": value, "ci95": [lo, hi],
                     "significant": significant, "verdict": verdict}
    values = {f"utility.{m}_uplift": uplift[m]["uplift"] for m in
              ("pr_auc", "recall", "roc_auc", "f1", "recall_at_1pct_fpr", "precision")}
    fidelity, fidelity_details = label_fidelity(p_base[y_ho == 1], p_base_syn[y_syn == 1], p_base[y_ho == 0], rng)
    values["utility.label_fidelity"] = fidelity
    values["utility.pr_auc_augmented"] = aug["pr_auc"]
    values["utility.pr_auc_baseline"] = base["pr_auc"]
    details = {
        "model": "HistGradientBoostingClassifier(" + ", ".join(f"{k}={v}" for k, v in MODEL_PARAMS.items())
                 + ", native categories)",
        "bootstrap_resamples": BOOTSTRAP,
        "rows": {"train": int(len(y_tr)), "synthetic": int(len(y_syn)), "holdout": int(len(y_ho)),
                 "holdout_rare": int(y_ho.sum())},
        "baseline": base, "augmented": aug, "uplift": uplift, "label_fidelity": fidelity_details,
        "ci95": {f"utility.{m}_uplift": uplift[m]["ci95"] for m in
                 ("pr_auc", "recall", "roc_auc", "f1", "recall_at_1pct_fpr", "precision")
                 if not any(math.isnan(b) for b in uplift[m]["ci95"])},
    }
    if not math.isnan(fidelity):
        details["ci95"]["utility.label_fidelity"] = fidelity_details["ci95"]
    else:
        details["not_measured"] = {"utility.label_fidelity": fidelity_details["reason"]}
    preds = {"y": y_ho, "baseline": (p_base > 0.5).astype(int), "augmented": (p_aug > 0.5).astype(int)}
    return values, details, preds
