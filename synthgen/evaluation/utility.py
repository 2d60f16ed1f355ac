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
ALTERNATIVES = ("baseline", "class_weights", "tuned_threshold", "oversampling")
ALTERNATIVE_WORDS = {"baseline": "real rows only", "class_weights": "class weights",
                     "tuned_threshold": "a tuned threshold", "oversampling": "random oversampling"}
TUNE_FOLDS = 3


def _explain_vs_best(measure: str, words: str):
    def explain(value: float, details: dict) -> str:
        v = details["utility"]["vs_best_alternative"][measure]
        lo, hi = v["ci95"]
        return (f"{ALTERNATIVE_WORDS[v['best']]} reaches {words} {v['best_value']:.3f} on the real holdout; "
                f"with the synthetic rows {v['augmented']:.3f} ({value:+.3f}, 95% CI {lo:+.3f} to {hi:+.3f}: "
                f"{v['verdict']})")
    return explain


for _m, _d in (("pr_auc", "PR-AUC"), ("recall_at_1pct_fpr", "recall at 1% false-positive rate")):
    metric(f"utility.{_m}_vs_best_alternative", "maximize", -1.0, 1.0,
           f"Augmented {_d} minus the best of baseline, class weights, tuned threshold and random oversampling "
           "on real holdout (CI and verdict in details)", normalize=lambda v: 0.5 + v / 0.2,
           explain=_explain_vs_best(_m, _d))


def _explain_brier(value: float, details: dict) -> str:
    c = details["utility"]["calibration"]
    lo, hi = c["brier_change_ci95"]
    return (f"adding the synthetic rows moves the Brier score on the real holdout from {c['baseline']['brier']:.4f} "
            f"to {c['augmented']['brier']:.4f} ({value:+.4f}, 95% CI {lo:+.4f} to {hi:+.4f}); calibration slope "
            f"{c['baseline']['slope']:.2f} -> {c['augmented']['slope']:.2f} (1 = calibrated)")


BRIER = metric("utility.brier_change", "minimize", -1.0, 1.0,
               "Brier score on real holdout of the augmented model minus that of the baseline (> 0: worse "
               "calibrated probabilities)", normalize=lambda v: 1.0 - max(0.0, v) / 0.05, explain=_explain_brier)
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
                    curve: tuple | None = None, threshold: float = 0.5) -> dict[str, float]:
    """All holdout measures for one model, optionally with bootstrap multiplicity weights (ties as sklearn);
    recall, precision and F1 at the decision ``threshold`` (positive when score > threshold)."""
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
    # at the threshold: positive when score > threshold (as predict() does at 0.5)
    k = np.searchsorted(-s[ends], -threshold, side="left")  # distinct thresholds with score > threshold
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


def _fit_predict(X: np.ndarray, y: np.ndarray, is_cat: np.ndarray, Xh: np.ndarray, seed: int,
                 sample_weight: np.ndarray | None = None) -> np.ndarray:
    clf = HistGradientBoostingClassifier(categorical_features=is_cat, random_state=seed, **MODEL_PARAMS)
    with omp_threads(len(X)):
        clf.fit(X, y, sample_weight=sample_weight)
        return clf.predict_proba(Xh)[:, 1]


def tuned_threshold(X: np.ndarray, y: np.ndarray, is_cat: np.ndarray, seed: int) -> tuple[float, dict]:
    """The F1-maximising decision threshold on out-of-fold predictions of real train (never the holdout).

    The rule of scikit-learn's TunedThresholdClassifierCV(scoring="f1", cv=3, refit=True): thresholds
    are scored on the folds' held-out predictions and applied to the model fitted on all of train.
    """
    from sklearn.metrics import precision_recall_curve
    from sklearn.model_selection import StratifiedKFold

    oof = np.empty(len(y))
    folds = StratifiedKFold(n_splits=TUNE_FOLDS, shuffle=True, random_state=seed)
    for tr, te in folds.split(X, y):
        oof[te] = _fit_predict(X[tr], y[tr], is_cat, X[te], seed)
    prec, rec, thr = precision_recall_curve(y, oof)
    f1 = np.where(prec[:-1] + rec[:-1] > 0, 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-300), 0)
    best = int(np.argmax(f1))
    # precision_recall_curve counts score >= thr as positive; holdout_metrics counts score > threshold
    threshold = float(np.nextafter(thr[best], -np.inf))
    return threshold, {"threshold": float(thr[best]), "out_of_fold_f1": float(f1[best]), "folds": TUNE_FOLDS,
                       "rule": "TunedThresholdClassifierCV(scoring='f1', cv=3, refit=True)"}


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


def _scores(frames: Frames, seed: int) -> tuple[dict, dict, dict]:
    """Holdout scores and decision thresholds of the alternatives and the augmented model, plus the
    baseline's scores for the synthetic rows (label fidelity) and the tuning record."""
    rng = np.random.default_rng(seed)
    model_seed = int(rng.integers(2**31 - 1))
    X_tr, is_cat = model_matrix(frames, ["train"])
    X_syn, _ = model_matrix(frames, ["synthetic"])
    X_ho, _ = model_matrix(frames, ["holdout"])
    y_tr = frames.y["train"].astype(int)
    y_syn = frames.y["synthetic"].astype(int)
    p_base_all = _fit_predict(X_tr, y_tr, is_cat, np.vstack([X_ho, X_syn]), model_seed)
    p_base, p_base_syn = p_base_all[: len(X_ho)], p_base_all[len(X_ho):]
    weights = np.where(y_tr == 1, len(y_tr) / (2.0 * y_tr.sum()), len(y_tr) / (2.0 * (len(y_tr) - y_tr.sum())))
    p_cw = _fit_predict(X_tr, y_tr, is_cat, X_ho, model_seed, sample_weight=weights)
    X_os, y_os = _oversample(X_tr, y_tr, int(y_syn.sum()), int(rng.integers(2**31 - 1)))
    p_os = _fit_predict(X_os, y_os, is_cat, X_ho, model_seed)
    p_aug = _fit_predict(np.vstack([X_tr, X_syn]), np.r_[y_tr, y_syn], is_cat, X_ho, model_seed)
    threshold, tuning = tuned_threshold(X_tr, y_tr, is_cat, model_seed)
    scores = {"baseline": (p_base, 0.5), "class_weights": (p_cw, 0.5), "tuned_threshold": (p_base, threshold),
              "oversampling": (p_os, 0.5), "augmented": (p_aug, 0.5)}
    return scores, {"synthetic": p_base_syn, "rng": rng}, tuning


def _oversample(X: np.ndarray, y: np.ndarray, extra: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Real train plus ``extra`` real rare rows drawn with replacement (imbalanced-learn's RandomOverSampler)."""
    from imblearn.over_sampling import RandomOverSampler

    if extra <= 0:
        return X, y
    ros = RandomOverSampler(sampling_strategy={1: int(y.sum()) + extra}, random_state=seed)
    X_os, y_os = ros.fit_resample(np.nan_to_num(X, nan=np.inf), y)  # imblearn refuses NaN; inf round-trips
    return np.where(np.isinf(X_os), np.nan, X_os), y_os


def utility(frames: Frames, seed: int) -> tuple[dict[str, float], dict, dict]:
    """The alternatives and the augmented model on holdout: metric values, details, holdout predictions."""
    scores, extra, tuning = _scores(frames, seed)
    rng = extra["rng"]
    y_ho = frames.y["holdout"].astype(int)
    y_syn = frames.y["synthetic"].astype(int)
    curves = {name: _curve(p, y_ho) for name, (p, _) in scores.items()}
    point = {name: holdout_metrics(p, y_ho, curve=curves[name], threshold=t) for name, (p, t) in scores.items()}
    base, aug = point["baseline"], point["augmented"]
    # paired bootstrap over holdout rows, stratified so every resample has both classes
    pos, neg = np.flatnonzero(y_ho == 1), np.flatnonzero(y_ho == 0)
    uplift_d = {m: np.empty(BOOTSTRAP) for m in MEASURES}
    best_d = {m: np.empty(BOOTSTRAP) for m in MEASURES}
    brier_d = np.empty(BOOTSTRAP)
    p_base, p_aug = scores["baseline"][0], scores["augmented"][0]
    for b in range(BOOTSTRAP):
        w = np.bincount(rng.choice(pos, size=len(pos)), minlength=len(y_ho)) + \
            np.bincount(rng.choice(neg, size=len(neg)), minlength=len(y_ho))
        ms = {name: holdout_metrics(p, y_ho, w, curves[name], t) for name, (p, t) in scores.items()}
        for m in MEASURES:
            uplift_d[m][b] = ms["augmented"][m] - ms["baseline"][m]
            best_d[m][b] = ms["augmented"][m] - max(ms[a][m] for a in ALTERNATIVES)
        brier_d[b] = float(w @ ((p_aug - y_ho) ** 2 - (p_base - y_ho) ** 2)) / w.sum()
    uplift, versus = {}, {}
    for m in MEASURES:
        value = aug[m] - base[m]
        ci, significant, verdict = _interval(uplift_d[m], value)
        uplift[m] = {"baseline": base[m], "augmented": aug[m], "uplift": value, "ci95": ci,
                     "significant": significant, "verdict": verdict}
        best = max(ALTERNATIVES, key=lambda a: (point[a][m], -ALTERNATIVES.index(a)))
        value = aug[m] - point[best][m]
        ci, significant, verdict = _interval(best_d[m], value)
        versus[m] = {"best": best, "best_value": point[best][m], "augmented": aug[m], "difference": value,
                     "ci95": ci, "significant": significant, "verdict": verdict}
    cal = {"baseline": calibration(p_base, y_ho), "augmented": calibration(p_aug, y_ho)}
    cal["brier_change_ci95"] = _interval(brier_d, 0.0)[0]
    values = {f"utility.{m}_uplift": uplift[m]["uplift"] for m in
              ("pr_auc", "recall", "roc_auc", "f1", "recall_at_1pct_fpr", "precision")}
    for m in ("pr_auc", "recall_at_1pct_fpr"):
        values[f"utility.{m}_vs_best_alternative"] = versus[m]["difference"]
    values["utility.brier_change"] = cal["augmented"]["brier"] - cal["baseline"]["brier"]
    fidelity, fidelity_details = label_fidelity(p_base[y_ho == 1], extra["synthetic"][y_syn == 1],
                                                p_base[y_ho == 0], rng)
    values["utility.label_fidelity"] = fidelity
    values["utility.pr_auc_augmented"] = aug["pr_auc"]
    values["utility.pr_auc_baseline"] = base["pr_auc"]
    ci95 = {f"utility.{m}_uplift": uplift[m]["ci95"] for m in
            ("pr_auc", "recall", "roc_auc", "f1", "recall_at_1pct_fpr", "precision")}
    ci95.update({f"utility.{m}_vs_best_alternative": versus[m]["ci95"] for m in ("pr_auc", "recall_at_1pct_fpr")})
    ci95["utility.brier_change"] = cal["brier_change_ci95"]
    if not math.isnan(fidelity):
        ci95["utility.label_fidelity"] = fidelity_details["ci95"]
    details = {
        "model": "HistGradientBoostingClassifier(" + ", ".join(f"{k}={v}" for k, v in MODEL_PARAMS.items())
                 + ", native categories)",
        "bootstrap_resamples": BOOTSTRAP,
        "rows": {"train": int(frames.y["train"].size), "synthetic": int(len(y_syn)), "holdout": int(len(y_ho)),
                 "holdout_rare": int(y_ho.sum()), "oversampled": int(y_syn.sum())},
        "baseline": base, "augmented": aug, "uplift": uplift,
        "alternatives": point, "vs_best_alternative": versus, "tuned_threshold": tuning,
        "calibration": cal, "label_fidelity": fidelity_details,
        "ci95": {k: v for k, v in ci95.items() if not any(math.isnan(b) for b in v)},
    }
    if math.isnan(fidelity):
        details["not_measured"] = {"utility.label_fidelity": fidelity_details["reason"]}
    preds = {"y": y_ho, "baseline": (p_base > 0.5).astype(int), "augmented": (p_aug > 0.5).astype(int)}
    return values, details, preds
