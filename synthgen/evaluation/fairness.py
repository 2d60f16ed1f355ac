"""Fairness impact: does the synthetic data shift group shares, and does augmentation widen gaps downstream?

Representation compares each protected group's share of the rare class in real rare (train)
rows and in synthetic rare rows (bias amplification), as an absolute difference
(``max_representation_shift``) and as a ratio (``min_representation_ratio`` /
``max_representation_ratio``, the four-fifths rule and its mirror). A ratio is only formed for
groups with at least MIN_RATIO_RARE real rare train rows: below that the real share itself is
too uncertain for a ratio to mean anything. Ratios come with 95% percentile-bootstrap
intervals (real rare rows and synthetic rare rows resampled independently, seeded).

Downstream uses Fairlearn's MetricFrame on the holdout predictions of the baseline and
augmented models. Downstream differences only count groups with at least MIN_GROUP_ROWS
holdout rows and MIN_GROUP_RARE rare holdout rows: a group of 5 people gives a recall of 0 or
1 by chance, and a max-min difference would report that noise as a gap. Every group stays in
the tables.

A worst-over-columns value is unknown when one protected column cannot be measured (fewer
than two countable groups downstream, or no group with enough real rare rows for a ratio):
the value is then NaN and ``details["not_measured"][metric]`` says why, so a gate never
passes what was not measured. Numeric protected columns (like age) are cut into quartile
bins of real_train.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from fairlearn.metrics import (MetricFrame, demographic_parity_difference, equalized_odds_difference,
                               false_positive_rate, selection_rate)
from sklearn.metrics import recall_score

from ._frame import Frames, cat_keys
from .base import Metric, nan_to_none

__all__ = ["fairness", "groups", "MIN_GROUP_ROWS", "MIN_GROUP_RARE", "MIN_RATIO_RARE", "RATIO_BOOTSTRAP",
           "MaxRepresentationShift", "MinRepresentationRatio", "MaxRepresentationRatio", "EqualizedOddsChange",
           "DemographicParityChange"]

MIN_GROUP_ROWS = 30
MIN_GROUP_RARE = 5
MIN_RATIO_RARE = 10  # real rare train rows a group needs for its representation ratio to be counted
RATIO_BOOTSTRAP = 4000
_SEED_KEY = 0x5F41_12  # fixed SeedSequence key when the evaluator passes no seed (still deterministic)

_NAME_SHIFT = "fairness.max_representation_shift"
_NAME_MIN = "fairness.min_representation_ratio"
_NAME_MAX = "fairness.max_representation_ratio"
_NAME_EO = "fairness.equalized_odds_change"
_NAME_DP = "fairness.demographic_parity_change"


# ------------------------------------------------------------------ explain sentences
def _columns(details: dict) -> dict:
    return {c: d for c, d in details["fairness"].items() if isinstance(d, dict) and "representation" in d}


def _closest(cols: dict, get, value: float) -> str:
    """The protected column whose value is the reported worst one (robust to rounding in the JSON)."""
    have = {c: get(d) for c, d in cols.items()}
    return min((c for c, v in have.items() if v is not None), key=lambda c: abs(have[c] - value))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


class _Fairness(Metric):
    """A metric of the fairness stage (``fairness``: representation per protected column and the downstream
    comparison); the stage runs only with protected columns, so without them these are off the scorecard."""

    goal, range, stage = "minimize", (-1.0, 1.0), "fairness"


class MaxRepresentationShift(_Fairness):
    name = _NAME_SHIFT
    range = (0.0, 1.0)
    description = "Largest absolute change of a protected group's share between real rare rows and synthetic rows"

    def normalize(self, value: float) -> float:
        return 1.0 - max(0.0, value - 0.05) / 0.25

    def explain(self, value: float, details: dict) -> str:
        best = None
        for col, d in _columns(details).items():
            for r in d["representation"]:
                if best is None or abs(r["shift"]) > abs(best[1]["shift"]):
                    best = (col, r)
        col, r = best
        return (f"group '{r['group']}' of {col} is {_pct(r['synthetic_share'])} of synthetic rare rows against "
                f"{_pct(r['real_share'])} of real ones (shift {100 * r['shift']:+.1f} points; largest shift "
                f"{value:.3f})")


class _Ratio(_Fairness):
    """A worst representation ratio with a simultaneous 95% interval: counted in the fairness sub-score at
    the favourable end of that interval."""

    subscore, scoring, key = "fairness", "evidence", True
    which = ""  # "min" or "max": which end of details.fairness.<column>.representation_ratio

    def explain(self, value: float, details: dict) -> str:
        cols = _columns(details)
        col = _closest(cols, lambda d: d["representation_ratio"][self.which], value)
        d = cols[col]["representation_ratio"]
        r = next(g for g in d["groups"] if g["group"] == d[f"{self.which}_group"])
        lo, hi = r["ci95"]
        skipped = sum(len(c["representation_ratio"]["not_counted"]) for c in cols.values())
        tail = f"; {skipped} smaller group(s) not counted" if skipped else ""
        return (f"group '{r['group']}' of {col} is {_pct(r['synthetic_share'])} of synthetic rare rows against "
                f"{_pct(r['real_share'])} of real ones (ratio {r['ratio']:.2f}, 95% CI {lo:.2f}-{hi:.2f}){tail}")


class MinRepresentationRatio(_Ratio):
    name = _NAME_MIN
    goal, range, which = "maximize", (0.0, 1.0), "min"
    description = ("Smallest ratio of a protected group's share among synthetic rare rows to its share among real "
                   f"rare rows (groups with >= {MIN_RATIO_RARE} real rare rows; four-fifths rule: >= 0.8)")

    def normalize(self, value: float) -> float:
        return value


class MaxRepresentationRatio(_Ratio):
    name = _NAME_MAX
    range, which = (1.0, 10.0), "max"
    description = ("Largest ratio of a protected group's share among synthetic rare rows to its share among real "
                   f"rare rows (groups with >= {MIN_RATIO_RARE} real rare rows; over-representation: <= 1.25)")

    def normalize(self, value: float) -> float:
        return 1.0 / value if value > 0 else 1.0


class _Downstream(_Fairness):
    """A change of a Fairlearn between-group difference on holdout, augmented model minus baseline."""

    measure, what = "", ""  # the key in details.fairness.<column> (``<measure>_change``) and its words

    def normalize(self, value: float) -> float:
        return 1.0 - max(0.0, value - 0.05) / 0.2

    def explain(self, value: float, details: dict) -> str:
        cols = _columns(details)
        col = _closest(cols, lambda d: d[f"{self.measure}_change"], value)
        down = cols[col]["downstream"]
        b = down["baseline"][f"{self.measure}_difference"]
        a = down["augmented"][f"{self.measure}_difference"]
        return (f"{self.what} difference on holdout over {col} groups {down['counted_groups']}: "
                f"{a:.3f} with augmentation against {b:.3f} without (change {value:+.3f})")


class EqualizedOddsChange(_Downstream):
    name = _NAME_EO
    description = ("Equalized-odds difference on holdout of the augmented model minus that of the baseline "
                   "(>0 = wider gap)")
    measure, what = "equalized_odds", "Equalized-odds"
    subscore, key = "fairness", True


class DemographicParityChange(_Downstream):
    name = _NAME_DP
    description = "Demographic-parity difference on holdout of the augmented model minus that of the baseline"
    measure, what = "demographic_parity", "Demographic-parity"


# ------------------------------------------------------------------------- groups
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


def _diff(fn, y: np.ndarray, p: np.ndarray, g: np.ndarray, keep: np.ndarray, counted: list) -> float:
    """A Fairlearn between-group difference over the counted groups (NaN when fewer than two: not measurable)."""
    if len(counted) < 2:
        return float("nan")
    return float(fn(y[keep], p[keep], sensitive_features=g[keep]))


def _worst(per_column: dict[str, float], pick) -> float:
    """Worst value over protected columns; NaN when any column is NaN (its worst case is unknown)."""
    vals = list(per_column.values())
    if not vals or any(math.isnan(v) for v in vals):
        return float("nan")
    return float(pick(vals))


# ------------------------------------------------------------ representation ratio
def _ratios(real: dict[str, np.ndarray], syn: dict[str, np.ndarray], rng: np.random.Generator) -> dict:
    """Per-column share ratios synthetic / real over groups with >= MIN_RATIO_RARE real rare rows, with intervals.

    ``real`` / ``syn``: group labels of the real rare train rows and synthetic rare rows per protected
    column. The percentile bootstrap resamples real rare rows and synthetic rare rows independently,
    whole rows at a time (all protected columns together); drawing the row count of each distinct
    label combination from a multinomial is the same as resampling rows with replacement, and cheap
    for any number of rows. Each counted group gets a 95% interval and a simultaneous one
    (Bonferroni over all counted groups) from which the worst-ratio intervals are built.
    """
    cols = list(real)
    n_real = len(next(iter(real.values())))
    n_syn = len(next(iter(syn.values())))
    out: dict[str, dict] = {}
    boot_real, boot_syn = {}, {}
    for labels, n, store in ((real, n_real, boot_real), (syn, n_syn, boot_syn)):
        combo = pd.MultiIndex.from_arrays([pd.Index(labels[c].astype(str)) for c in cols]) if len(cols) > 1 \
            else pd.Index(labels[cols[0]].astype(str))
        codes, uniques = pd.factorize(combo)
        counts = np.bincount(codes, minlength=len(uniques))
        draws = rng.multinomial(n, counts / n, size=RATIO_BOOTSTRAP)  # B x distinct combinations
        for j, c in enumerate(cols):
            lab = np.asarray(uniques.get_level_values(j) if len(cols) > 1 else uniques, dtype=object)
            store[c] = (lab, draws)
    boots: list[tuple[dict, np.ndarray]] = []  # (group row, bootstrap ratios) of every counted group
    for c in cols:
        rc = pd.Series(real[c].astype(str)).value_counts()
        sc = pd.Series(syn[c].astype(str)).value_counts()
        names = sorted(set(rc.index) | set(sc.index), key=str)
        counted, skipped = [], []
        for g in names:
            r, s = int(rc.get(g, 0)), int(sc.get(g, 0))
            row = {"group": g, "real_rare_rows": r, "synthetic_rare_rows": s,
                   "real_share": r / n_real, "synthetic_share": s / n_syn}
            if r >= MIN_RATIO_RARE:
                lab_r, d_r = boot_real[c]
                lab_s, d_s = boot_syn[c]
                br = d_r[:, lab_r == g].sum(axis=1) / n_real
                bs = d_s[:, lab_s == g].sum(axis=1) / n_syn
                b = np.full(RATIO_BOOTSTRAP, np.nan)
                np.divide(bs, br, out=b, where=br > 0)  # a resample without the group has no ratio
                row["ratio"] = row["synthetic_share"] / row["real_share"]
                row["ci95"] = [float(x) for x in np.nanpercentile(b, [2.5, 97.5])]
                boots.append((row, b))
                counted.append(row)
            else:
                why = ("no real rare train rows: the group appears only in synthetic rows" if r == 0 else
                       f"only {r} real rare train row(s), fewer than {MIN_RATIO_RARE}: its share is too "
                       "uncertain for a ratio")
                skipped.append({**row, "reason": why})
        d = {"min_real_rare_rows": MIN_RATIO_RARE, "real_rare_rows": n_real, "synthetic_rare_rows": n_syn,
             "groups": counted, "not_counted": skipped}
        if counted:
            lo = min(counted, key=lambda x: x["ratio"])
            hi = max(counted, key=lambda x: x["ratio"])
            d.update({"min": lo["ratio"], "min_group": lo["group"], "max": hi["ratio"], "max_group": hi["group"]})
        else:
            d.update({"min": float("nan"), "min_group": None, "max": float("nan"), "max_group": None,
                      "reason": f"no group of {c} has >= {MIN_RATIO_RARE} real rare train rows "
                                f"({n_real} real rare rows in all)"})
        out[c] = d
    # Simultaneous intervals (Bonferroni over the k counted groups): when every group's interval holds,
    # the true worst ratio lies in [worst lower bound, worst upper bound]. A percentile interval of the
    # bootstrap minimum would not do: with every group counted the minimum of the shares' ratios is
    # never above 1, so its interval would exclude 1 even for a perfect generator.
    ci = {"min": None, "max": None}
    if boots:
        tail = 100 * 0.05 / len(boots) / 2
        for row, b in boots:
            row["ci95_simultaneous"] = [float(x) for x in np.nanpercentile(b, [tail, 100 - tail])]
        los = [row["ci95_simultaneous"][0] for row, _ in boots]
        his = [row["ci95_simultaneous"][1] for row, _ in boots]
        ci = {"min": [min(los), min(his)], "max": [max(los), max(his)]}
    return {"columns": out, "ci95": ci}


# ------------------------------------------------------------------------ fairness
def fairness(frames: Frames, preds: dict, seed: int | None = None) -> tuple[dict[str, float], dict]:
    """Representation shift/ratio and downstream fairness change per protected column (worst one reported).

    ``seed`` drives the ratio bootstrap; without one a fixed key is used (deterministic either way).
    """
    rng = np.random.default_rng(np.random.SeedSequence(_SEED_KEY if seed is None else int(seed)))
    details: dict[str, dict] = {}
    not_measured: dict[str, str] = {}
    shifts, eo_changes, dp_changes = {}, {}, {}
    real_labels, syn_labels = {}, {}
    for col in frames.protected:
        g_real, how = groups(frames, col, "train")
        g_real = g_real[frames.rare("train")]
        g_syn = groups(frames, col, "synthetic")[0][frames.rare("synthetic")]
        real_labels[col], syn_labels[col] = g_real, g_syn
        real_share = pd.Series(g_real).value_counts(normalize=True)
        syn_share = pd.Series(g_syn).value_counts(normalize=True)
        names = sorted(set(real_share.index) | set(syn_share.index), key=str)
        rep = [{"group": str(n), "real_share": float(real_share.get(n, 0.0)),
                "synthetic_share": float(syn_share.get(n, 0.0)),
                "shift": float(syn_share.get(n, 0.0) - real_share.get(n, 0.0))} for n in names]
        shift = max(abs(r["shift"]) for r in rep)
        shifts[col] = shift
        g_ho = groups(frames, col, "holdout")[0]
        y = preds["y"]
        sizes = pd.Series(g_ho).value_counts()
        rare_sizes = pd.Series(g_ho[y == 1]).value_counts()
        counted = sorted((g for g in sizes.index if sizes[g] >= MIN_GROUP_ROWS
                          and rare_sizes.get(g, 0) >= MIN_GROUP_RARE), key=str)
        keep = np.isin(g_ho, counted)
        down: dict = {"counted_groups": [str(g) for g in counted]}
        if len(counted) < 2:
            down["reason"] = (f"fewer than two groups with >= {MIN_GROUP_ROWS} holdout rows and >= "
                              f"{MIN_GROUP_RARE} rare holdout rows (counted: {down['counted_groups']})")
        for model in ("baseline", "augmented"):
            p = preds[model]
            mf = MetricFrame(metrics={"recall": lambda a, b: recall_score(a, b, zero_division=0),
                                      "false_positive_rate": false_positive_rate,
                                      "selection_rate": selection_rate},
                             y_true=y, y_pred=p, sensitive_features=pd.Series(g_ho, name=col))
            by = mf.by_group
            down[model] = {
                "by_group": [{"group": str(k), "rows": int((g_ho == k).sum()),
                              **{m: nan_to_none(float(by.loc[k, m])) for m in by.columns}} for k in by.index],
                "demographic_parity_difference": _diff(demographic_parity_difference, y, p, g_ho, keep, counted),
                "equalized_odds_difference": _diff(equalized_odds_difference, y, p, g_ho, keep, counted),
            }
        eo = down["augmented"]["equalized_odds_difference"] - down["baseline"]["equalized_odds_difference"]
        dp = down["augmented"]["demographic_parity_difference"] - down["baseline"]["demographic_parity_difference"]
        eo_changes[col] = eo
        dp_changes[col] = dp
        details[col] = {"groups": how, "representation": rep, "max_shift": shift, "downstream": down,
                        "equalized_odds_change": eo, "demographic_parity_change": dp}
    ratio = _ratios(real_labels, syn_labels, rng)
    for col in frames.protected:
        details[col]["representation_ratio"] = ratio["columns"][col]
    mins = {c: d["min"] for c, d in ratio["columns"].items()}
    maxs = {c: d["max"] for c, d in ratio["columns"].items()}
    values = {
        _NAME_SHIFT: float(max(shifts.values())),
        _NAME_MIN: _worst(mins, min),
        _NAME_MAX: _worst(maxs, max),
        _NAME_EO: _worst(eo_changes, max),
        _NAME_DP: _worst(dp_changes, max),
    }
    ratio_reasons = [d["reason"] for d in ratio["columns"].values() if "reason" in d]
    if ratio_reasons:
        why = "; ".join(ratio_reasons)
        not_measured[_NAME_MIN] = not_measured[_NAME_MAX] = why
    down_reasons = [f"{c}: {details[c]['downstream']['reason']}" for c in frames.protected
                    if "reason" in details[c]["downstream"]]
    if down_reasons:
        not_measured[_NAME_EO] = not_measured[_NAME_DP] = "; ".join(down_reasons)
    ci95 = {}
    if not math.isnan(values[_NAME_MIN]):
        ci95[_NAME_MIN] = ratio["ci95"]["min"]
        ci95[_NAME_MAX] = ratio["ci95"]["max"]
    details["ci95"] = ci95  # moved by the evaluator into each metric's scorecard entry
    details["not_measured"] = not_measured
    return values, details
