"""Report plots: matplotlib figures drawn from scorecard details, returned as deterministic SVG data URIs.

Nothing here computes a metric: every plot draws numbers the scorecard already holds (histograms,
shares, pair scores, utility numbers with their CIs, per-group rates). The only arithmetic is for
display (counts -> shares, pair score -> 1 - score).

Determinism: figures are built with ``matplotlib.figure.Figure`` (no pyplot state, no GUI backend),
fixed sizes, the bundled DejaVu Sans font drawn as paths (no font files needed by the viewer),
``svg.hashsalt`` fixed and the SVG ``Date`` metadata removed, so the same scorecard gives the same bytes.
"""

from __future__ import annotations

import base64
import io
import math
from datetime import datetime, timezone
from typing import Any, Sequence

import matplotlib
from matplotlib.figure import Figure

__all__ = [
    "RC",
    "to_data_uri",
    "column_distributions",
    "pair_difference_heatmap",
    "dcr_histogram",
    "utility_bars",
    "fairness_groups",
    "quality_chart",
    "amount_curve",
    "outlier_exposure",
]

REAL = "#4C72B0"
SYN = "#DD8452"
BASE = "#8C8C8C"
AUG = "#55A868"
PASS = "#2E7D32"
FAIL = "#C62828"
ERROR = "#9E9E9E"

RC = {
    "svg.hashsalt": "synthgen-report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E6E6E6",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "path.simplify": True,
    "image.interpolation": "nearest",
}


def to_data_uri(fig: Figure) -> str:
    """SVG bytes of a figure as a base64 data URI (deterministic: fixed hash salt, no date)."""
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "synthgen"}, bbox_inches=None)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(w: float, h: float) -> Figure:
    with matplotlib.rc_context(RC):
        return Figure(figsize=(w, h), layout="constrained")


def _short(text: Any, width: int = 14) -> str:
    text = "(missing)" if text is None else str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _share(counts: Sequence[float]) -> list[float]:
    total = float(sum(c or 0 for c in counts))
    return [(c or 0) / total if total else 0.0 for c in counts]


def _date_label(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d")


# ------------------------------------------------------------------------------------ per column


def _numeric_axis(ax, spec: dict) -> None:
    edges = [float(e) for e in spec["bin_edges"]]
    real = _share(spec.get("real_counts") or [])
    syn = _share(spec.get("synthetic_counts") or [])
    ax.stairs(real, edges, fill=True, color=REAL, alpha=0.35, label="real")
    ax.stairs(real, edges, color=REAL, linewidth=1.0)
    ax.stairs(syn, edges, color=SYN, linewidth=1.6, label="synthetic")
    ax.set_ylabel("share of rows")
    if spec.get("kind") == "datetime":
        ticks = [edges[0], edges[len(edges) // 2], edges[-1]]
        ax.set_xticks(ticks, [_date_label(t) for t in ticks])
    else:
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-4, 6), useOffset=False)


def _category_axis(ax, spec: dict, top: int = 10) -> None:
    cats = list(spec.get("categories") or [])
    real = list(spec.get("real_share") or [])
    syn = list(spec.get("synthetic_share") or [])
    order = sorted(range(len(cats)), key=lambda i: (-(real[i] or 0), -(syn[i] or 0), str(cats[i])))[:top]
    xs = list(range(len(order)))
    ax.bar([x - 0.2 for x in xs], [real[i] or 0 for i in order], width=0.4, color=REAL, label="real")
    ax.bar([x + 0.2 for x in xs], [syn[i] or 0 for i in order], width=0.4, color=SYN, label="synthetic")
    ax.set_xticks(xs, [_short(cats[i], 12) for i in order], rotation=35, ha="right")
    ax.set_ylabel("share of rows")
    if len(cats) > top:
        ax.text(0.99, 0.97, f"top {top} of {len(cats)}", transform=ax.transAxes, ha="right", va="top",
                fontsize=7, color="#555555")


def column_distributions(shapes: dict, columns: Sequence[str] | None = None, ncols: int = 3) -> str | None:
    """Small multiples, one per modelled column: real vs synthetic histogram (numbers, dates) or
    category shares (top 10), titled with the column's similarity score (1 = identical)."""
    names = [c for c in (columns or list(shapes)) if isinstance(shapes.get(c), dict)]
    names = [c for c in names if shapes[c].get("bin_edges") or shapes[c].get("categories")]
    if not names:
        return None
    rows = math.ceil(len(names) / ncols)
    fig = _figure(3.55 * ncols, 2.45 * rows + 0.35)
    with matplotlib.rc_context(RC):
        axes = fig.subplots(rows, ncols, squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= len(names):
                ax.set_visible(False)
                continue
            col = names[k]
            spec = shapes[col]
            if spec.get("bin_edges"):
                _numeric_axis(ax, spec)
            else:
                _category_axis(ax, spec)
            score = spec.get("score")
            metric = {"KSComplement": "1 − KS", "TVComplement": "1 − TVD"}.get(spec.get("metric"), "score")
            score_txt = "n/a" if score is None else f"{score:.2f}"
            ax.set_title(f"{_short(col, 22)} ({spec.get('kind', '?')}) · {metric} = {score_txt}", loc="left")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles[:2], labels[:2], loc="outside upper right", ncols=2, frameon=False)
        fig.suptitle("Per-column distributions, real rare rows (train) vs synthetic rows", x=0.01,
                     ha="left", fontsize=10)
    return to_data_uri(fig)


# ------------------------------------------------------------------------------------ pairs


def pair_difference_heatmap(pairs: Sequence[dict], columns: Sequence[str] | None = None) -> str | None:
    """Matrix of 1 - pair score per column pair: 0 = the synthetic rows keep the real correlation /
    association of the pair; 1 = completely different (lower is better)."""
    pairs = [p for p in pairs or [] if isinstance(p, dict) and len(p.get("columns") or []) == 2]
    if not pairs:
        return None
    names = list(columns or [])
    for p in pairs:
        for c in p["columns"]:
            if c not in names:
                names.append(c)
    idx = {c: i for i, c in enumerate(names)}
    k = len(names)
    mat = [[math.nan] * k for _ in range(k)]
    for p in pairs:
        a, b = (idx[c] for c in p["columns"])
        if p.get("score") is not None:
            mat[a][b] = mat[b][a] = 1.0 - float(p["score"])
    size = max(3.6, min(0.48 * k + 2.2, 8.0))
    fig = _figure(size + 1.0, size)
    with matplotlib.rc_context(RC):
        ax = fig.subplots()
        ax.grid(False)
        cmap = matplotlib.colormaps["Reds"].with_extremes(bad="#F4F4F4")
        im = ax.imshow(mat, cmap=cmap, vmin=0.0, vmax=1.0)
        ax.set_xticks(range(k), [_short(c, 14) for c in names], rotation=45, ha="right")
        ax.set_yticks(range(k), [_short(c, 14) for c in names])
        if k <= 14:
            for a in range(k):
                for b in range(k):
                    v = mat[a][b]
                    if not math.isnan(v):
                        ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=6.5,
                                color="white" if v > 0.55 else "#222222")
        cb = fig.colorbar(im, ax=ax, shrink=0.8)
        cb.set_label("1 − pair-trend score (lower is better)")
        ax.set_title("Correlation / association difference, real vs synthetic", loc="left")
    return to_data_uri(fig)


# ------------------------------------------------------------------------------------ leakage


def dcr_histogram(leakage: dict) -> str | None:
    """Distance to the closest real training record: synthetic rows vs real holdout rows (the yardstick).
    Synthetic mass left of the holdout's 5th percentile means rows hug training records."""
    hist = (leakage or {}).get("histogram") or {}
    edges = hist.get("bin_edges")
    syn, hold = hist.get("synthetic_to_train"), hist.get("holdout_to_train")
    if not edges or syn is None or hold is None:
        return None
    edges = [float(e) for e in edges]
    fig = _figure(6.6, 2.9)
    with matplotlib.rc_context(RC):
        ax = fig.subplots()
        ax.stairs(_share(hold), edges, fill=True, color=REAL, alpha=0.35, label="real holdout → train")
        ax.stairs(_share(hold), edges, color=REAL, linewidth=1.0)
        ax.stairs(_share(syn), edges, color=SYN, linewidth=1.8, label="synthetic → train")
        p5 = leakage.get("holdout_p5_distance")
        if p5 is not None:
            ax.axvline(float(p5), color="#333333", linestyle="--", linewidth=1.0)
            ax.text(float(p5), 0.97, "holdout 5th pct ", transform=ax.get_xaxis_transform(), fontsize=7,
                    va="top", ha="right", color="#333333")
        ax.set_xlabel("distance to closest training record (standardised units)")
        ax.set_ylabel("share of rows")
        ax.set_title("Distance to closest record (DCR): synthetic should not sit closer than holdout", loc="left")
        ax.legend(frameon=False, loc="upper left")
    return to_data_uri(fig)


# ------------------------------------------------------------------------------------ utility

_UTIL = (("pr_auc", "PR-AUC"), ("recall", "recall"), ("precision", "precision"), ("f1", "F1"))


def utility_bars(utility: dict) -> str | None:
    """Left: the fixed downstream model's holdout scores trained on real only vs real + synthetic.
    Right: the uplift (augmented - baseline) with its bootstrap 95% CI; right of 0 is better."""
    uplift = (utility or {}).get("uplift") or {}
    keys = [(k, label) for k, label in _UTIL if isinstance(uplift.get(k), dict)]
    if not keys:
        return None
    fig = _figure(8.6, 2.9)
    with matplotlib.rc_context(RC):
        left, right = fig.subplots(1, 2, width_ratios=[1.1, 1.0])
        xs = list(range(len(keys)))
        base = [uplift[k].get("baseline") or 0 for k, _ in keys]
        aug = [uplift[k].get("augmented") or 0 for k, _ in keys]
        left.bar([x - 0.2 for x in xs], base, width=0.4, color=BASE, label="real train only")
        left.bar([x + 0.2 for x in xs], aug, width=0.4, color=AUG, label="real train + synthetic")
        for x, b, a in zip(xs, base, aug):
            left.text(x - 0.2, b + 0.01, f"{b:.2f}", ha="center", va="bottom", fontsize=6.5)
            left.text(x + 0.2, a + 0.01, f"{a:.2f}", ha="center", va="bottom", fontsize=6.5)
        left.set_xticks(xs, [label for _, label in keys])
        left.set_ylim(0, 1.12)
        left.set_ylabel("score on real holdout (0..1)")
        left.set_title("Downstream model on the real holdout", loc="left")
        left.legend(frameon=False, loc="upper right", fontsize=7)
        ys = list(range(len(keys)))[::-1]
        for y, (k, label) in zip(ys, keys):
            u = uplift[k]
            val = u.get("uplift")
            ci = u.get("ci95") or [None, None]
            if val is None:
                continue
            color = AUG if u.get("significant") and val > 0 else (FAIL if u.get("significant") else BASE)
            if ci[0] is not None and ci[1] is not None:
                right.plot([ci[0], ci[1]], [y, y], color=color, linewidth=2.2, solid_capstyle="butt")
            right.plot([val], [y], "o", color=color, markersize=6)
            right.text(val, y + 0.22, f"{val:+.3f}", ha="center", va="bottom", fontsize=6.5)
        right.axvline(0, color="#333333", linewidth=0.9)
        right.set_yticks(ys, [label for _, label in keys])
        right.set_ylim(-0.6, len(keys) - 0.2)
        right.set_xlabel("augmented − baseline (95% bootstrap CI)")
        right.set_title("Uplift: right of 0 helps, left hurts", loc="left")
    return to_data_uri(fig)


def reliability_diagram(utility: dict) -> str | None:
    """Observed rare-class rate against the mean predicted probability per decile bin, baseline vs
    augmented; on the diagonal is calibrated, below it the model over-states the rare class."""
    cal = (utility or {}).get("calibration") or {}
    curves = [(name, (cal.get(name) or {}).get("curve"), color) for name, color in (("baseline", BASE),
                                                                                    ("augmented", AUG))]
    curves = [(n, c, col) for n, c, col in curves if c and c.get("mean_predicted")]
    if not curves:
        return None
    fig = _figure(4.4, 3.4)
    with matplotlib.rc_context(RC):
        ax = fig.subplots()
        top = max(max(c["mean_predicted"] + c["observed"]) for _, c, _ in curves)
        top = min(1.0, max(0.05, top * 1.08))
        ax.plot([0, top], [0, top], color="#999999", linewidth=0.9, linestyle="--", label="calibrated")
        for name, c, color in curves:
            brier = (cal.get(name) or {}).get("brier")
            label = f"{'real train only' if name == 'baseline' else 'real train + synthetic'}" + (
                f" (Brier {brier:.4f})" if brier is not None else "")
            ax.plot(c["mean_predicted"], c["observed"], "o-", color=color, markersize=3.5, linewidth=1.4,
                    label=label)
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("mean predicted probability (decile bins)")
        ax.set_ylabel("observed rare-class rate")
        ax.set_title("Calibration on the real holdout", loc="left")
        ax.legend(frameon=False, loc="upper left", fontsize=7)
    return to_data_uri(fig)


def outlier_exposure(privacy: dict) -> str | None:
    """Share of the most isolated rare rows that a synthetic row points at (within half their distance
    to the nearest other real row): train rows, which the generator saw, against holdout rows (chance)."""
    det = ((privacy or {}).get("outlier_exposure") or {})
    sides = [(name, det.get(name) or {}) for name in ("train", "holdout")]
    if not all(d.get("isolated") for _, d in sides):
        return None
    fig = _figure(4.4, 2.2)
    with matplotlib.rc_context(RC):
        ax = fig.subplots()
        labels = ["isolated train rare rows\n(seen by the generator)", "isolated holdout rare rows\n(chance)"]
        shares = [d["exposed"] / d["isolated"] for _, d in sides]
        ax.barh([1, 0], shares, color=[SYN, REAL], height=0.55)
        for y, (_, d), share in zip([1, 0], sides, shares):
            ax.text(share + 0.01, y, f"{d['exposed']} of {d['isolated']}", va="center", fontsize=7.5)
        ax.set_yticks([1, 0], labels)
        ax.set_xlim(0, 1.15)
        ax.set_xlabel("share with a synthetic row nearer to it than to any other real row")
        ax.set_title("Exposure of the most isolated rare rows", loc="left")
    return to_data_uri(fig)


# ------------------------------------------------------------------------------------ fairness


def fairness_groups(column: str, detail: dict) -> str | None:
    """Left: each protected group's share of the rare class, real vs synthetic (bias amplification).
    Right: the downstream model's recall per group, before vs after augmentation."""
    rep = [r for r in (detail or {}).get("representation") or [] if isinstance(r, dict)]
    down = (detail or {}).get("downstream") or {}
    b_rows = {str(r.get("group")): r for r in (down.get("baseline") or {}).get("by_group") or []}
    a_rows = {str(r.get("group")): r for r in (down.get("augmented") or {}).get("by_group") or []}
    if not rep and not b_rows:
        return None
    fig = _figure(8.6, 2.9)
    with matplotlib.rc_context(RC):
        left, right = fig.subplots(1, 2)
        groups = [str(r.get("group")) for r in rep]
        xs = list(range(len(groups)))
        left.bar([x - 0.2 for x in xs], [r.get("real_share") or 0 for r in rep], width=0.4, color=REAL, label="real")
        left.bar([x + 0.2 for x in xs], [r.get("synthetic_share") or 0 for r in rep], width=0.4, color=SYN,
                 label="synthetic")
        left.set_xticks(xs, [_short(g, 12) for g in groups], rotation=30, ha="right")
        left.set_ylabel("share of rare-class rows")
        left.set_title(f"{_short(column, 24)}: group shares of the rare class", loc="left")
        left.legend(frameon=False, fontsize=7)
        groups2 = [g for g in b_rows] + [g for g in a_rows if g not in b_rows]
        xs = list(range(len(groups2)))
        right.bar([x - 0.2 for x in xs], [(b_rows.get(g) or {}).get("recall") or 0 for g in groups2], width=0.4,
                  color=BASE, label="real train only")
        right.bar([x + 0.2 for x in xs], [(a_rows.get(g) or {}).get("recall") or 0 for g in groups2], width=0.4,
                  color=AUG, label="real + synthetic")
        right.set_xticks(xs, [_short(g, 12) for g in groups2], rotation=30, ha="right")
        right.set_ylim(0, 1.05)
        right.set_ylabel("recall of the rare class")
        right.set_title("Downstream recall per group on the real holdout", loc="left")
        right.legend(frameon=False, fontsize=7)
    return to_data_uri(fig)


# ------------------------------------------------------------------------------------ leaderboard


def quality_chart(rows: Sequence[dict]) -> str | None:
    """Horizontal bars of the mean quality score (0..100, higher is better) with ±1 std over seeds,
    coloured by gate verdict. ``rows``: leaderboard entries in rank order."""
    rows = list(rows)
    if not rows:
        return None
    fig = _figure(7.4, 0.42 * len(rows) + 0.9)
    with matplotlib.rc_context(RC):
        ax = fig.subplots()
        ys = list(range(len(rows)))[::-1]
        for y, r in zip(ys, rows):
            q = (r.get("quality_score") or {}).get("mean")
            std = (r.get("quality_score") or {}).get("std")
            gate = r.get("gate")
            color = PASS if gate == "PASS" else (FAIL if gate == "FAIL" else ERROR)
            if q is None:
                ax.text(1, y, "failed: no score", va="center", fontsize=7.5, color="#555555")
                continue
            ax.barh(y, q, height=0.6, color=color, alpha=0.85)
            if std:
                ax.errorbar([q], [y], xerr=[[std], [std]], color="#222222", capsize=3, linewidth=1)
            ax.text(q + (std or 0) + 1, y, f"{q:.1f}", va="center", fontsize=7.5)
        ax.set_yticks(ys, [_short(r.get("generator"), 22) for r in rows])
        ax.set_xlim(0, 105)
        ax.set_xlabel("quality score (0..100, higher is better); green = passes the gate, red = fails")
        ax.grid(axis="y", visible=False)
    return to_data_uri(fig)


# ------------------------------------------------------------------------------------ amounts

SERIES = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974",
          "#64B5CD")
_VS_BEST = (("pr_auc_vs_best_alternative", "PR-AUC"), ("recall_at_1pct_fpr_vs_best_alternative", "recall at 1% FPR"))


def amount_curve(amounts: dict) -> str | None:
    """Uplift over the best alternative (augmented minus the best of real rows only, class weights, a tuned
    threshold and random oversampling) against the number of synthetic rows, one line per generator, with
    the 95% interval as whiskers; left: PR-AUC, right: recall at 1% FPR. Filled markers: a measurable
    difference; hollow: the interval holds 0. ``amounts``: compare.json's ``amounts``."""
    gens = {g: d for g, d in ((amounts or {}).get("generators") or {}).items() if isinstance(d, dict)}
    plan = (amounts or {}).get("plan") or []
    if not gens or not plan or not any(r.get(k) for d in gens.values() for r in d.get("table") or []
                                       for k, _ in _VS_BEST):
        return None
    rows = [a["rows"] for a in plan]
    fig = _figure(9.4, 3.3)
    with matplotlib.rc_context(RC):
        axes = fig.subplots(1, 2)
        k = len(gens)
        for ax, (key, words) in zip(axes, _VS_BEST):
            ax.axhline(0, color="#333333", linewidth=0.9)
            majority = [a["rows"] for a in plan if a.get("rare_majority")]
            if majority:
                ax.axvspan(min(majority) / 1.15, max(rows) * 1.15, color="#F3D9D7", alpha=0.6, linewidth=0,
                           label="rare class is the majority of train")
            for j, (g, d) in enumerate(gens.items()):
                color = SERIES[j % len(SERIES)]
                shift = 2 ** (0.06 * (j - (k - 1) / 2))  # side by side on the log axis
                xs, ys = [], []
                for r in d.get("table") or []:
                    v = r.get(key)
                    if not v or v.get("value") is None:
                        continue
                    x = r["rows"] * shift
                    xs.append(x)
                    ys.append(v["value"])
                    ci = v.get("ci95")
                    if ci and ci[0] is not None and ci[1] is not None:
                        ax.plot([x, x], [ci[0], ci[1]], color=color, linewidth=1.6, solid_capstyle="butt")
                    measurable = v.get("verdict") in ("gain", "loss")
                    ax.plot([x], [v["value"]], "o", color=color, markersize=5.5,
                            markerfacecolor=color if measurable else "white", markeredgewidth=1.3)
                if xs:
                    ax.plot(xs, ys, color=color, linewidth=1.0, alpha=0.8, label=_short(g, 22))
            ax.set_xscale("log")
            ax.set_xticks(rows, [_short(a["label"], 10) for a in plan], rotation=0)
            ax.minorticks_off()
            ax.set_xlabel("synthetic rows added (amount)")
            ax.set_ylabel("augmented − best alternative")
            ax.set_title(f"{words} over the best alternative (95% CI)", loc="left")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5), frameon=False)
    return to_data_uri(fig)
