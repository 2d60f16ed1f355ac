"""Realism: do synthetic rows look like the real rare rows, column by column, pair by pair, as a whole?

Column shapes and pair trends follow SDMetrics' QualityReport formulas (KSComplement,
TVComplement, CorrelationSimilarity, ContingencySimilarity, with its relevance thresholds)
but run vectorised on pre-encoded arrays. Detection trains a classifier to tell real
rare rows from synthetic rows: an AUC near 0.5 means it cannot.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from typing import Any, Callable

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from ..relations import detect as detect_relations
from ..relations import kept_share, stored
from ._frame import Frames, model_matrix, omp_threads
from .base import Metric, nan_to_none

__all__ = ["realism", "column_shapes", "column_pairs", "detection", "unseen_categories", "ks_statistic", "noise_reference",
           "REAL_CORRELATION_THRESHOLD", "REAL_ASSOCIATION_THRESHOLD", "ColumnShapes", "ColumnPairs", "DetectionAUC",
           "UnseenCategoryRate", "RelationsKept", "relations_kept"]

# SDMetrics QualityReport defaults: a pair counts only when the real data shows a trend to keep
REAL_CORRELATION_THRESHOLD = 0.5
REAL_ASSOCIATION_THRESHOLD = 0.3
DETECTION_FOLDS = 5

def _worst_columns(details: dict, k: int = 2) -> str:
    per = details["realism"]["column_shapes"]
    worst = sorted(((d["score"], name) for name, d in per.items() if d.get("score") is not None))[:k]
    return ", ".join(f"'{name}' {score:.2f}" for score, name in worst)


def subscore_sentence(value: float, values: Callable[[str], Any], details: dict) -> str | None:
    """The realism sub-score in words: its parts against what uniform noise scores on the same table."""
    noise = (details.get("realism") or {}).get("noise_reference")
    shapes, pairs = values(ColumnShapes.name), values(ColumnPairs.name)
    if not noise or shapes is None or pairs is None:
        return None
    return (f"realism sub-score {value:.2f} of 1: column shapes {shapes:.2f} and pair trends {pairs:.2f} "
            f"against {noise['column_shapes']:.2f} and {noise['column_pairs']:.2f} for uniform noise "
            f"on this table, detection AUC {values(DetectionAUC.name) or float('nan'):.2f}")


class ColumnShapes(Metric):
    """Column shapes (SDMetrics KSComplement / TVComplement), measured by the realism stage (``column_shapes``)."""

    name = "realism.column_shapes"
    goal, range, stage = "maximize", (0.0, 1.0), "realism"
    description = ("Mean over modelled columns of 1 - KS statistic (numbers, dates) or 1 - total variation "
                   "distance (categories), real rare rows vs synthetic rows")
    subscore, scoring, key = "realism", "above_noise", True

    def explain(self, value: float, details: dict) -> str:
        noise = details["realism"]["noise_reference"]["column_shapes"]
        return (f"column distributions match the real rare rows at {value:.2f} on average (uniform noise scores "
                f"{noise:.2f} here; weakest: {_worst_columns(details)})")


class ColumnPairs(Metric):
    """Pair trends (SDMetrics CorrelationSimilarity / ContingencySimilarity), measured by the realism stage."""

    name = "realism.column_pairs"
    goal, range, stage = "maximize", (0.0, 1.0), "realism"
    description = ("Mean pair-trend similarity (1 - |r_real - r_syn|/2 for number pairs, 1 - TVD of the "
                   "joint table for category and mixed pairs) over pairs with a real trend")
    subscore, scoring, key = "realism", "above_noise", True

    def explain(self, value: float, details: dict) -> str:
        noise = details["realism"]["noise_reference"]["column_pairs"]
        pairs = details["realism"]["column_pairs"]
        return (f"pair trends match at {value:.2f} over {pairs['relevant_pairs']} pairs with a real trend "
                f"(uniform noise scores {noise:.2f} here)")


class DetectionAUC(Metric):
    """The detection classifier's AUC, measured by the realism stage (``detection``)."""

    name = "realism.detection_auc"
    goal, range, stage = "minimize", (0.5, 1.0), "realism"
    description = ("Cross-validated ROC AUC of a classifier separating real rare rows from synthetic rows "
                   "(0.5 = indistinguishable)")
    subscore, key = "realism", True

    def normalize(self, value: float) -> float:
        return 1.0 - 2.0 * abs(value - 0.5)

    def explain(self, value: float, details: dict) -> str:
        rows = details["realism"]["detection"]["rows_per_class"]
        return (f"a classifier tells synthetic from real rare rows with AUC {value:.3f} over {rows} rows each "
                "(0.5: indistinguishable, 1.0: always)")


class UnseenCategoryRate(Metric):
    """Rows with a category real_train never holds, measured by the realism stage (``unseen_categories``)."""

    name = "realism.unseen_category_rate"
    goal, range, stage = "minimize", (0.0, 1.0), "realism"
    description = "Share of synthetic rows holding a category value that no real_train row has"


class RelationsKept(Metric):
    """The least-kept relation between columns, measured by the realism stage (``relations_kept``); reported
    only: in no sub-score and no default rule."""

    name = "realism.relations_kept"
    goal, range, stage = "maximize", (0.0, 1.0), "realism"
    description = ("Smallest share of synthetic rows that keep a relation between columns that every real row "
                   "keeps (B = A // c, A -> B, A <= B, A + B = c: the model's, else those detected on real_train); "
                   "each relation's share in details")

    def explain(self, value: float, details: dict) -> str:
        shares = details["realism"]["relations"]["kept"]
        worst = min(shares, key=lambda text: shares[text])
        return (f"{value:.1%} of synthetic rows keep '{worst}', the least-kept of {len(shares)} relation(s) "
                "every real row keeps")


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic (max distance between empirical CDFs); NaN dropped."""
    a = np.sort(a[~np.isnan(a)])
    b = np.sort(b[~np.isnan(b)])
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / len(a)
    fb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def _freq(codes: np.ndarray, k: int) -> np.ndarray | None:
    c = codes[codes >= 0]
    if len(c) == 0:
        return None
    return np.bincount(c, minlength=k) / len(c)


def column_shapes(frames: Frames) -> tuple[float, dict]:
    """Per-column shape similarity of real rare rows vs synthetic rows; returns (mean, details)."""
    real, syn = frames.rare("train"), frames.rare("synthetic")
    per: dict[str, dict] = {}
    for j, spec in enumerate(frames.numeric):
        a, b = frames.num["train"][real, j], frames.num["synthetic"][syn, j]
        stat = ks_statistic(a, b)
        edges = np.histogram_bin_edges(a[~np.isnan(a)], bins=20) if np.isfinite(a).any() else np.array([0.0, 1.0])
        per[spec.name] = {
            "kind": spec.kind.value, "metric": "KSComplement", "score": 1.0 - stat if not math.isnan(stat) else None,
            "bin_edges": edges.tolist(),
            "real_counts": np.histogram(a[~np.isnan(a)], bins=edges)[0].tolist(),
            "synthetic_counts": np.histogram(np.clip(b[~np.isnan(b)], edges[0], edges[-1]), bins=edges)[0].tolist(),
            "real_missing": float(np.isnan(a).mean()), "synthetic_missing": float(np.isnan(b).mean()),
        }
    for j, spec in enumerate(frames.categorical):
        k = len(frames.vocab[j])
        a, b = frames.cat["train"][real, j], frames.cat["synthetic"][syn, j]
        pa, pb = _freq(a, k), _freq(b, k)
        score = None if pa is None or pb is None else 1.0 - 0.5 * float(np.abs(pa - pb).sum())
        top = np.argsort(-(pa if pa is not None else np.zeros(k)), kind="stable")[:30]
        per[spec.name] = {
            "kind": spec.kind.value, "metric": "TVComplement", "score": score,
            "categories": [frames.vocab[j][i] for i in top],
            "real_share": [float(pa[i]) if pa is not None else 0.0 for i in top],
            "synthetic_share": [float(pb[i]) if pb is not None else 0.0 for i in top],
            "real_missing": float((a < 0).mean()), "synthetic_missing": float((b < 0).mean()),
        }
    scores = [d["score"] for d in per.values() if d["score"] is not None]
    return (float(np.mean(scores)) if scores else float("nan")), per


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 2:
        return float("nan")
    x = x - x.mean()
    y = y - y.mean()
    den = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / den if den > 0 else float("nan")


def _discretize(values: np.ndarray) -> np.ndarray:
    """SDMetrics ColumnPairTrends binning: 10 histogram bins of this data's own range, NaN -> bin 11."""
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        return np.full(len(values), 11, dtype=np.int64)
    edges = np.histogram_bin_edges(finite)
    return np.digitize(values, bins=edges).astype(np.int64)


def _joint(a: np.ndarray, b: np.ndarray, kb: int, size: int) -> np.ndarray:
    return np.bincount(a * kb + b, minlength=size) / len(a)


def _cramers_v(table: np.ndarray) -> float:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.sum() == 0 or min(table.shape) < 2:
        return float("nan")
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return math.sqrt(chi2 / (n * (min(table.shape) - 1)))


def column_pairs(frames: Frames) -> tuple[float, dict]:
    """Pair-trend similarity of real rare rows vs synthetic rows; returns (mean of relevant pairs, details)."""
    real, syn = frames.rare("train"), frames.rare("synthetic")
    cols: list[tuple[str, str, np.ndarray, np.ndarray]] = []  # name, shape, real, syn
    for j, spec in enumerate(frames.numeric):
        cols.append((spec.name, "num", frames.num["train"][real, j], frames.num["synthetic"][syn, j]))
    for j, spec in enumerate(frames.categorical):
        k = len(frames.vocab[j])
        # missing is its own category, as pandas groupby(dropna=False) makes it in SDMetrics
        ra, sa = frames.cat["train"][real, j].astype(np.int64), frames.cat["synthetic"][syn, j].astype(np.int64)
        cols.append((spec.name, "cat", np.where(ra < 0, k, ra), np.where(sa < 0, k, sa)))
    order = {s.name: i for i, s in enumerate(frames.schema.columns)}
    cols.sort(key=lambda c: order.get(c[0], 0))
    disc = {name: (_discretize(r), _discretize(s)) for name, shape, r, s in cols if shape == "num"}
    pairs = []
    for (n1, t1, r1, s1), (n2, t2, r2, s2) in itertools.combinations(cols, 2):
        if t1 == "num" and t2 == "num":
            rr, rs = _pearson(r1, r2), _pearson(s1, s2)
            score = 1.0 - abs(rr - rs) / 2.0 if not (math.isnan(rr) or math.isnan(rs)) else float("nan")
            relevant = not math.isnan(rr) and abs(rr) > REAL_CORRELATION_THRESHOLD and not math.isnan(score)
            pairs.append({"columns": [n1, n2], "metric": "CorrelationSimilarity", "score": nan_to_none(score),
                          "real": nan_to_none(rr), "synthetic": nan_to_none(rs), "relevant": bool(relevant)})
            continue
        a_r, a_s = disc[n1] if t1 == "num" else (r1, s1)
        b_r, b_s = disc[n2] if t2 == "num" else (r2, s2)
        ka = int(max(a_r.max(initial=0), a_s.max(initial=0))) + 1
        kb = int(max(b_r.max(initial=0), b_s.max(initial=0))) + 1
        jr, js = _joint(a_r, b_r, kb, ka * kb), _joint(a_s, b_s, kb, ka * kb)
        score = 1.0 - 0.5 * float(np.abs(jr - js).sum())
        assoc = _cramers_v((jr * len(a_r)).reshape(ka, kb).round())
        relevant = not math.isnan(assoc) and assoc > REAL_ASSOCIATION_THRESHOLD
        pairs.append({"columns": [n1, n2], "metric": "ContingencySimilarity", "score": score,
                      "real_association": nan_to_none(assoc), "relevant": bool(relevant)})
    relevant = [p["score"] for p in pairs if p["relevant"]]
    every = [p["score"] for p in pairs if p["score"] is not None]
    mean_all = float(np.mean(every)) if every else float("nan")
    value = float(np.mean(relevant)) if relevant else mean_all
    return value, {"pairs": pairs, "relevant_pairs": len(relevant), "mean_all_pairs": nan_to_none(mean_all),
                   "fallback_all_pairs": not relevant}


def detection(frames: Frames, seed: int) -> tuple[float, dict]:
    """Stratified 5-fold AUC of HistGradientBoosting separating real rare rows from synthetic rows."""
    rng = np.random.default_rng(seed)
    real_idx = np.flatnonzero(frames.rare("train"))
    syn_idx = np.flatnonzero(frames.rare("synthetic"))
    n = min(len(real_idx), len(syn_idx))
    real_idx = np.sort(rng.choice(real_idx, size=n, replace=False))
    syn_idx = np.sort(rng.choice(syn_idx, size=n, replace=False))
    rm = np.zeros(len(frames.train), dtype=bool)
    rm[real_idx] = True
    sm = np.zeros(len(frames.synthetic), dtype=bool)
    sm[syn_idx] = True
    X, is_cat = model_matrix(frames, ["train", "synthetic"], [rm, sm])
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    folds = min(DETECTION_FOLDS, n)
    if folds < 2:
        return float("nan"), {"rows_per_class": int(n), "fold_auc": []}
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    model_seed = int(rng.integers(2**31 - 1))
    aucs = []
    for tr, te in cv.split(X, y):
        clf = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, max_leaf_nodes=15,
                                             categorical_features=is_cat, early_stopping=False,
                                             random_state=model_seed)
        with omp_threads(len(tr)):
            clf.fit(X[tr], y[tr])
            aucs.append(float(roc_auc_score(y[te], clf.predict_proba(X[te])[:, 1])))
    return float(np.mean(aucs)), {"rows_per_class": int(n), "folds": folds, "fold_auc": aucs,
                                  "model": "HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, "
                                           "max_leaf_nodes=15, native categories)"}


def noise_reference(frames: Frames, seed: int) -> dict:
    """Column shapes and pair trends of uniform noise in the table's schema: what "no realism" scores here.

    Noise rows hold, per numeric column, values uniform over real_train's range and, per category
    column, categories uniform over those real_train holds, as many rows as the synthetic set.
    The realism sub-score measures the synthetic rows' distance from this floor, so a table whose
    columns any noise matches half-way (KS 0.6 on skewed amounts) cannot lift noise to a fair score.
    """
    rng = np.random.default_rng(seed)
    n = int(frames.rare("synthetic").sum())
    num_tr = frames.num["train"]
    num = np.empty((n, num_tr.shape[1]))
    for j in range(num_tr.shape[1]):
        col = num_tr[:, j][~np.isnan(num_tr[:, j])]
        lo, hi = (float(col.min()), float(col.max())) if len(col) else (0.0, 1.0)
        num[:, j] = rng.uniform(lo, hi, size=n)
    cat = np.empty((n, frames.cat["train"].shape[1]), dtype=np.int32)
    for j in range(cat.shape[1]):
        seen = np.unique(frames.cat["train"][:, j])
        seen = seen[seen >= 0]
        cat[:, j] = rng.choice(seen, size=n) if len(seen) else -1
    noise = dataclasses.replace(frames, num={**frames.num, "synthetic": num}, cat={**frames.cat, "synthetic": cat},
                                y={**frames.y, "synthetic": np.ones(n, dtype=bool)})
    return {"column_shapes": column_shapes(noise)[0], "column_pairs": column_pairs(noise)[0], "rows": n}


def unseen_categories(frames: Frames) -> tuple[float, dict]:
    """Share of synthetic rows with a category value absent from real_train, and which values."""
    syn = frames.cat["synthetic"]
    bad_rows = np.zeros(len(syn), dtype=bool)
    per: dict[str, dict] = {}
    for j, spec in enumerate(frames.categorical):
        seen = np.zeros(len(frames.vocab[j]), dtype=bool)
        tr = frames.cat["train"][:, j]
        seen[tr[tr >= 0]] = True
        c = syn[:, j]
        bad = (c >= 0) & ~seen[np.maximum(c, 0)]
        if bad.any():
            values = sorted({frames.vocab[j][i] for i in np.unique(c[bad])})
            per[spec.name] = {"rows": int(bad.sum()), "values": values[:20]}
        bad_rows |= bad
    return float(bad_rows.mean()), per


def relations_kept(frames: Frames) -> tuple[float, dict]:
    """(smallest share of synthetic rows keeping a relation, details): the relations the schema keeps (a
    model's), else those detected on real_train; NaN when there is none (the reason in details). The two
    sources agree for a model fitted on the same train rows with detection on, and the details do not name
    which one was read, so a scorecard from MODEL_DIR --data equals one from the same --train/--holdout files."""
    schema = frames.schema
    relations = stored(schema) if schema.relations is not None else detect_relations(frames.train, schema)
    relations = [r for r in relations if all(c in frames.synthetic.columns for c in r.columns)]
    if not relations:
        return float("nan"), {"kept": {}, "not_measured": "no relation between columns holds in every real row"}
    shares = kept_share(frames.synthetic, schema, relations)
    return min(shares.values()), {"kept": shares}


def realism(frames: Frames, seed: int, noise_seed: int, timings: dict[str, float] | None = None
            ) -> tuple[dict[str, float], dict]:
    """The realism family in one pass: column shapes, pair trends, detection (``seed``), unseen categories, kept
    relations and the uniform-noise reference (``noise_seed``): (values, details); seconds of the slow steps in
    ``timings``."""
    timings = {} if timings is None else timings
    t = time.perf_counter()
    shapes, shape_details = column_shapes(frames)
    pairs, pair_details = column_pairs(frames)
    timings["shapes_pairs"] = time.perf_counter() - t
    t = time.perf_counter()
    auc, det_details = detection(frames, seed)
    timings["detection"] = time.perf_counter() - t
    noise = noise_reference(frames, noise_seed)
    unseen, unseen_details = unseen_categories(frames)
    kept, kept_details = relations_kept(frames)
    values = {ColumnShapes.name: shapes, ColumnPairs.name: pairs, DetectionAUC.name: auc,
              UnseenCategoryRate.name: unseen, RelationsKept.name: kept}
    details = {"column_shapes": shape_details, "column_pairs": pair_details, "detection": det_details,
               "unseen_categories": unseen_details, "noise_reference": noise, "relations": kept_details}
    why = kept_details.pop("not_measured", None)
    if why is not None:
        details["not_measured"] = {RelationsKept.name: why}
    return values, details
