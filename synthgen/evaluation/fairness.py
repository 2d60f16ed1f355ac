"""Fairness impact: does the synthetic data shift group shares, and does augmentation widen gaps downstream?

Representation compares each protected group's share of the rare class in real rare
rows and in synthetic rows (bias amplification). Downstream uses Fairlearn's
MetricFrame on the holdout predictions of the baseline and augmented models.
Numeric protected columns (like age) are cut into quartile bins of real_train.
Downstream differences only count groups with at least MIN_GROUP_ROWS holdout rows and
MIN_GROUP_RARE rare holdout rows: a group of 5 people gives a recall of 0 or 1 by chance,
and a max-min difference would report that noise as a gap. Every group stays in the tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from fairlearn.metrics import (MetricFrame, demographic_parity_difference, equalized_odds_difference,
                               false_positive_rate, selection_rate)
from sklearn.metrics import recall_score

from ._frame import Frames, cat_keys
from .base import metric

__all__ = ["fairness", "groups", "MIN_GROUP_ROWS", "MIN_GROUP_RARE"]

MIN_GROUP_ROWS = 30
MIN_GROUP_RARE = 5

SHIFT = metric("fairness.max_representation_shift", "minimize", 0.0, 1.0,
               "Largest absolute change of a protected group's share between real rare rows and synthetic rows",
               normalize=lambda v: 1.0 - max(0.0, v - 0.05) / 0.25)
EO = metric("fairness.equalized_odds_change", "minimize", -1.0, 1.0,
            "Equalized-odds difference on holdout of the augmented model minus that of the baseline (>0 = wider gap)",
            normalize=lambda v: 1.0 - max(0.0, v - 0.05) / 0.2)
DP = metric("fairness.demographic_parity_change", "minimize", -1.0, 1.0,
            "Demographic-parity difference on holdout of the augmented model minus that of the baseline",
            normalize=lambda v: 1.0 - max(0.0, v - 0.05) / 0.2)


def groups(frames: Frames, column: str, part: str) -> tuple[np.ndarray, str]:
    """Group label of each row of one frame for a protected column, and how groups were formed."""
    spec = frames.schema[column] if column in frames.schema else None
    df = getattr(frames, part)
    if spec is not None and spec.kind.is_numeric:
        ref = frames.schema.to_numeric(spec, frames.train[column])
        edges = np.unique(np.nanquantile(ref, [0.25, 0.5, 0.75]))
        vals = frames.schema.to_numeric(spec, df[column])
        idx = np.searchsorted(edges, vals, side="left")  # bin i: (edges[i-1], edges[i]]
        names = [f"<= {_fmt(edges[0])}"] + [f"({_fmt(a)}, {_fmt(b)}]" for a, b in zip(edges[:-1], edges[1:])] + \
                [f"> {_fmt(edges[-1])}"]
        out = np.array([names[i] for i in idx], dtype=object)
        out[np.isnan(vals)] = "(missing)"
        return out, f"quartile bins of real_train: edges {[_fmt(e) for e in edges]}"
    keys = cat_keys(df[column])
    keys[pd.isna(keys)] = "(missing)"
    return keys.astype(object), "category values"


def _fmt(x: float) -> str:
    return f"{x:g}"


def _clean(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _diff(fn, y: np.ndarray, p: np.ndarray, g: np.ndarray, keep: np.ndarray, counted: list) -> float:
    """A Fairlearn between-group difference over the counted groups (0 when fewer than two)."""
    if len(counted) < 2:
        return 0.0
    return float(fn(y[keep], p[keep], sensitive_features=g[keep]))


def fairness(frames: Frames, preds: dict) -> tuple[dict[str, float], dict]:
    """Representation shift and downstream fairness change for every protected column (worst one reported)."""
    details: dict[str, dict] = {}
    shifts, eo_changes, dp_changes = [], [], []
    for col in frames.protected:
        g_real, how = groups(frames, col, "train")
        g_real = g_real[frames.rare("train")]
        g_syn = groups(frames, col, "synthetic")[0][frames.rare("synthetic")]
        real_share = pd.Series(g_real).value_counts(normalize=True)
        syn_share = pd.Series(g_syn).value_counts(normalize=True)
        names = sorted(set(real_share.index) | set(syn_share.index), key=str)
        rep = [{"group": str(n), "real_share": float(real_share.get(n, 0.0)),
                "synthetic_share": float(syn_share.get(n, 0.0)),
                "shift": float(syn_share.get(n, 0.0) - real_share.get(n, 0.0))} for n in names]
        shift = max(abs(r["shift"]) for r in rep)
        shifts.append(shift)
        g_ho = groups(frames, col, "holdout")[0]
        y = preds["y"]
        sizes = pd.Series(g_ho).value_counts()
        rare_sizes = pd.Series(g_ho[y == 1]).value_counts()
        counted = sorted((g for g in sizes.index if sizes[g] >= MIN_GROUP_ROWS
                          and rare_sizes.get(g, 0) >= MIN_GROUP_RARE), key=str)
        keep = np.isin(g_ho, counted)
        down = {"counted_groups": [str(g) for g in counted]}
        for model in ("baseline", "augmented"):
            p = preds[model]
            mf = MetricFrame(metrics={"recall": lambda a, b: recall_score(a, b, zero_division=0),
                                      "false_positive_rate": false_positive_rate,
                                      "selection_rate": selection_rate},
                             y_true=y, y_pred=p, sensitive_features=pd.Series(g_ho, name=col))
            by = mf.by_group
            down[model] = {
                "by_group": [{"group": str(k), "rows": int((g_ho == k).sum()),
                              **{m: _clean(float(by.loc[k, m])) for m in by.columns}} for k in by.index],
                "demographic_parity_difference": _diff(demographic_parity_difference, y, p, g_ho, keep, counted),
                "equalized_odds_difference": _diff(equalized_odds_difference, y, p, g_ho, keep, counted),
            }
        eo = down["augmented"]["equalized_odds_difference"] - down["baseline"]["equalized_odds_difference"]
        dp = down["augmented"]["demographic_parity_difference"] - down["baseline"]["demographic_parity_difference"]
        eo_changes.append(eo)
        dp_changes.append(dp)
        details[col] = {"groups": how, "representation": rep, "max_shift": shift, "downstream": down,
                        "equalized_odds_change": eo, "demographic_parity_change": dp}
    values = {
        "fairness.max_representation_shift": float(max(shifts)),
        "fairness.equalized_odds_change": float(max(eo_changes)),
        "fairness.demographic_parity_change": float(max(dp_changes)),
    }
    return values, details
