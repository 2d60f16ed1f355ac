"""The report's view model: one plain dict built from compare data + scorecards + verdicts.

Both the HTML and the Markdown templates render this same dict with the same number formatting, so
they carry the same numbers. Nothing here computes a metric; missing sections are skipped with a note.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from ..evaluation import registry
from ..evaluation.utility import ALTERNATIVE_WORDS
from . import plots


def subscore_help() -> dict[str, str]:
    """What each sub-score asks, in the registry's order (``registry.SUBSCORES``)."""
    return {s.name: s.description for s in registry.SUBSCORES}


def quality_help() -> str:
    """How the quality score is made, from the sub-scores' weights and caps in the registry."""
    weights = ", ".join(f"{s.name} {s.weight:.2f}".replace(" 0.", " .") for s in registry.SUBSCORES)
    caps = [s.name for s in registry.SUBSCORES if s.caps]
    either = caps[0] if len(caps) == 1 else f"{', '.join(caps[:-1])} or {caps[-1]}"
    return (f"quality score = 100 × min(weighted mean of the sub-scores [{weights}, renormalised over those "
            f"available], {', '.join(caps)}): a {either} failure caps the score instead of being averaged away "
            "(0..100, higher is better)")


def is_key_metric(name: str) -> bool:
    """Shown among a section's key metrics (the metric's ``key`` in the registry)."""
    metric = registry.get(name)
    return metric is not None and metric.key


# ------------------------------------------------------------------------------- formatting


def fnum(v: Any, digits: int = 3) -> str:
    """A metric value: fixed decimals for ordinary numbers, 3 significant digits for tiny ones."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if not isinstance(v, (int, float)):
        return str(v)
    if v != 0 and abs(v) < 10 ** -digits:
        return f"{v:.2e}"
    return f"{v:.{digits}f}"


def fq(v: Any) -> str:
    """A quality score (0..100): one decimal."""
    return "n/a" if v is None else f"{v:.1f}"


def fstat(stat: Mapping | None, kind: str = "metric") -> str:
    """mean ± std (std shown only when there are several seeds)."""
    if not stat or stat.get("mean") is None:
        return "n/a"
    f = fq if kind == "quality" else fnum
    mean = f(stat["mean"])
    return mean if stat.get("std") is None else f"{mean} ± {f(stat['std'])}"


def fsec(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"


def fsigned(v: Any) -> str:
    return "n/a" if v is None else f"{v:+.3f}"


def fci(ci: Any) -> str:
    if not ci or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return "n/a"
    return f"[{fsigned(ci[0])}, {fsigned(ci[1])}]"


ALTERNATIVES = ALTERNATIVE_WORDS  # one table of names, utility's


def amounts_view(amounts: Mapping | None, order: list[str], with_plots: bool = True) -> dict | None:
    """The "how many rows" section: one table per generator (leaderboard order), the plot, the warnings."""
    if not amounts:
        return None
    gens = amounts.get("generators") or {}
    out = []
    for g in [x for x in order if x in gens] + [x for x in gens if x not in order]:
        d = gens[g] or {}
        rows = []
        for r in d.get("table") or []:
            cells = {}
            for key in ("pr_auc_vs_best_alternative", "recall_at_1pct_fpr_vs_best_alternative"):
                v = r.get(key) or {}
                cells[key] = {"value": fsigned(v.get("value")), "ci": fci(v.get("ci95")),
                              "verdict": v.get("verdict") or "not measured",
                              "best": ALTERNATIVES.get(v.get("best"), v.get("best") or "n/a"),
                              "best_value": fnum(v.get("best_value"))}
            rows.append({**r, "rows_txt": f"{r['rows']:,}", "share_txt": f"{(r.get('rare_share') or 0):.1%}",
                         "cells": cells, "gate_txt": r.get("gate") or "ERROR",
                         "quality_txt": fq(r.get("quality_score")),
                         "error_txt": "; ".join(f"seed {e['seed']}: {e['error']}" for e in r.get("errors") or [])})
        rec = d.get("recommendation") or {}
        out.append({"generator": g, "anchor": anchor(g), "rows": rows, "recommendation": rec})
    return {"main": amounts.get("main"), "unit": amounts.get("unit"), "rule": amounts.get("rule"),
            "warnings": amounts.get("warnings") or [], "generators": out,
            "plot": plots.amount_curve(dict(amounts)) if with_plots else None}


_FAMILY_MEASURES = (("pr_auc", "PR-AUC"), ("recall_at_1pct_fpr", "recall at 1% FPR"))


def families_view(util: Mapping) -> tuple[list[dict], str | None]:
    """Per model family (details.utility.models): augmented vs the best alternative, and a sentence on
    where the families' verdicts differ; nothing when only one family was trained."""
    models = util.get("models") or {}
    if len(models) < 2:
        return [], None
    rows = []
    for name, m in models.items():
        row = {"family": name, "description": m.get("description", ""), "fits": m.get("fits")}
        for key, _ in _FAMILY_MEASURES:
            v = (m.get("vs_best_alternative") or {}).get(key) or {}
            row[key] = {"best": ALTERNATIVES.get(v.get("best"), v.get("best", "n/a")),
                        "best_value": fnum(v.get("best_value")), "augmented": fnum(v.get("augmented")),
                        "difference": fsigned(v.get("difference")), "ci": fci(v.get("ci95")),
                        "verdict": v.get("verdict", "n/a")}
        rows.append(row)
    split = []
    for key, words in _FAMILY_MEASURES:
        a = (util.get("agreement") or {}).get(key) or {}
        if a and not a.get("agree"):
            split.append(f"{words}: " + ", ".join(f"{f} {v}" for f, v in (a.get("verdicts") or {}).items()))
    note = (f"The {len(models)} model families agree on both verdicts." if not split else
            "The model families disagree, so the verdict depends on the model: " + "; ".join(split) + ".")
    return rows, note


def privacy_view(card: Mapping) -> list[dict]:
    """One sentence per privacy attack (each metric of the privacy stage, in registry order: its own
    ``explain``), or why it was not measured."""
    metrics, details = card.get("metrics") or {}, card.get("details") or {}
    why = details.get("not_measured") or {}
    out = []
    for metric in registry.METRICS:
        entry = metrics.get(metric.name)
        if metric.stage != "privacy" or entry is None:
            continue
        value = entry.get("value")
        sentence = (metric.sentence(value, details) if value is not None
                    else f"not measured: {why.get(metric.name, 'no value')}")
        out.append({"metric": metric.name, "value": fnum(value), "ci": fci(entry.get("ci95")), "sentence": sentence})
    return out


def anchor(name: str) -> str:
    return "gen-" + re.sub(r"[^a-zA-Z0-9_-]+", "-", str(name)).strip("-")


def arrow(goal: str | None) -> str:
    return {"maximize": "↑ higher is better", "minimize": "↓ lower is better"}.get(goal or "", "")


# ------------------------------------------------------------------------------- loading


def _load_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def normalise_source(source: Any) -> tuple[dict, dict[str, dict], dict[str, dict]]:
    """(compare data, {run id: scorecard dict}, {run id: verdict dict}) from a CompareResult, a compare
    dict (scorecards read beside nothing), a compare.json path or a report folder."""
    if all(hasattr(source, a) for a in ("data", "scorecards", "verdicts")):  # a compare.CompareResult
        cards = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in source.scorecards.items()}
        verdicts = {k: (v.to_dict() if hasattr(v, "to_dict") else v) for k, v in source.verdicts.items()}
        return source.data, cards, verdicts
    base: Path | None = None
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.is_dir():
            path = path / "compare.json"
        from ..exceptions import ScorecardError

        data = _load_json(path)
        if data is None:
            raise ScorecardError(f"compare data '{path}': cannot be read as JSON")
        base = path.parent
    elif isinstance(source, Mapping):
        data = dict(source)
    else:
        raise TypeError(f"expected CompareResult, compare dict or path, found {type(source).__name__}")
    cards: dict[str, dict] = dict(data.get("_scorecards") or {})
    verdicts: dict[str, dict] = dict(data.get("_verdicts") or {})
    if base is not None:
        for run in data.get("runs") or []:
            if run.get("scorecard") and run["id"] not in cards:
                d = _load_json(base / run["scorecard"])
                if d is not None:
                    cards[run["id"]] = d
            if run.get("verdict") and run["id"] not in verdicts:
                d = _load_json(base / run["verdict"])
                if d is not None:
                    verdicts[run["id"]] = d
    data = {k: v for k, v in data.items() if not k.startswith("_")}
    return data, cards, verdicts


# ------------------------------------------------------------------------------- view


def _leaderboard_rows(data: Mapping, seeds: list, gen_t: Mapping) -> list[dict]:
    """The leaderboard with its text cells (quality, sub-scores, seconds, gate)."""
    names = list(subscore_help())
    rows = []
    for e in data.get("leaderboard") or []:
        g = e.get("generator")
        t = gen_t.get(g) or {}
        rows.append({
            **e,
            "anchor": anchor(g),
            "quality_txt": fstat(e.get("quality_score"), "quality"),
            "sub_txt": {s: fstat((e.get("subscores") or {}).get(s)) for s in names},
            "sub_mean": {s: ((e.get("subscores") or {}).get(s) or {}).get("mean") for s in names},
            "fit_s": t.get("fit_s"), "sample_s": t.get("sample_s"),
            "fit_txt": fsec(t.get("fit_s")), "sample_txt": fsec(t.get("sample_s")),
            "gate_txt": e.get("gate") or ("ERROR" if e.get("status") == "failed" else "not checked"),
            "gate_seeds_txt": (f"{e.get('gate_passed_seeds', 0)}/{e.get('seeds_ok', 0)} seeds"
                               if len(seeds) > 1 and e.get("seeds_ok") else ""),
        })
    return rows


def _metric_rows(card: Mapping, row: Mapping, verdict: Mapping | None) -> list[dict]:
    """Every metric of the scorecard: value, mean ± std over seeds, goal, description, its gate rule."""
    rule_by_metric = {r["metric"]: r for r in (verdict or {}).get("rules") or []}
    return [{
        "name": name, "value": fnum(m.get("value")), "stat": fstat((row.get("metrics") or {}).get(name)),
        "goal": arrow(m.get("goal")), "description": m.get("description", ""),
        "rule": rule_by_metric.get(name), "key": is_key_metric(name),
    } for name, m in (card.get("metrics") or {}).items()]


def _rule_rows(verdict: Mapping | None, metrics: Mapping) -> list[dict]:
    """The gate's rules with their text cells."""
    return [{
        **r, "value_txt": fnum(r.get("value")) + (f" [{fnum(r['ci95'][0])}, {fnum(r['ci95'][1])}]"
                                                  if r.get("ci95") else ""),
        "threshold_txt": r.get("rule") or f"{r.get('op')} {fnum(r.get('threshold'))}",
        "status_txt": {True: "PASS", False: "FAIL"}.get(r.get("passed"), "N/A"),
        "description": r.get("reason") or (metrics.get(r["metric"]) or {}).get("description", ""),
    } for r in (verdict or {}).get("rules") or []]


def _utility_rows(util: Mapping) -> list[dict]:
    """The uplift table: baseline, augmented, uplift, interval and verdict per measure."""
    return [{
        "metric": k, "baseline": fnum(v.get("baseline")), "augmented": fnum(v.get("augmented")),
        "uplift": fnum(v.get("uplift")), "ci": ("n/a" if not v.get("ci95") else
                                                 f"[{fnum(v['ci95'][0])}, {fnum(v['ci95'][1])}]"),
        "verdict": v.get("verdict", ""), "significant": v.get("significant"),
    } for k, v in (util.get("uplift") or {}).items() if isinstance(v, dict)]


def _leakage_tables(sec: dict, det: Mapping) -> None:
    """The exposed rows, the DCR quantiles and the copy counts of one section."""
    leak = det.get("leakage") or {}
    sec["exposed_rows"] = [{"row": r.get("train_row"), "synthetic": fnum(r.get("nearest_synthetic")),
                            "real": fnum(r.get("nearest_real"))}
                           for r in ((det.get("privacy") or {}).get("outlier_exposure") or {}).get("most_exposed")
                           or []]
    dcr_s, dcr_h = leak.get("dcr_synthetic_to_train") or {}, leak.get("dcr_holdout_to_train") or {}
    sec["dcr"] = [{"stat": k, "synthetic": fnum(dcr_s.get(k)), "holdout": fnum(dcr_h.get(k))}
                  for k in ("min", "p5", "p25", "median", "p75", "p95", "mean") if k in dcr_s or k in dcr_h]
    sec["leak_counts"] = {k: leak.get(k) for k in ("exact_copies", "holdout_copies") if k in leak}


def _fairness_view(col: str, fd: Mapping, with_plots: bool) -> dict:
    """One protected column: shifts, downstream differences and the per-group table (and its plot)."""
    down = fd.get("downstream") or {}
    b = {str(r.get("group")): r for r in (down.get("baseline") or {}).get("by_group") or []}
    a = {str(r.get("group")): r for r in (down.get("augmented") or {}).get("by_group") or []}
    rep = {str(r.get("group")): r for r in fd.get("representation") or []}
    groups = list(dict.fromkeys(list(rep) + list(b) + list(a)))
    return {
        "column": col,
        "max_shift": fnum(fd.get("max_shift")),
        "eo_change": fnum(fd.get("equalized_odds_change")),
        "dp_change": fnum(fd.get("demographic_parity_change")),
        "eo": (fnum((down.get("baseline") or {}).get("equalized_odds_difference")),
               fnum((down.get("augmented") or {}).get("equalized_odds_difference"))),
        "dp": (fnum((down.get("baseline") or {}).get("demographic_parity_difference")),
               fnum((down.get("augmented") or {}).get("demographic_parity_difference"))),
        "groups": [{
            "group": grp,
            "real_share": fnum((rep.get(grp) or {}).get("real_share")),
            "synthetic_share": fnum((rep.get(grp) or {}).get("synthetic_share")),
            "shift": fnum((rep.get(grp) or {}).get("shift")),
            "rows": (b.get(grp) or a.get(grp) or {}).get("rows", "n/a"),
            "recall_b": fnum((b.get(grp) or {}).get("recall")),
            "recall_a": fnum((a.get(grp) or {}).get("recall")),
            "fpr_b": fnum((b.get(grp) or {}).get("false_positive_rate")),
            "fpr_a": fnum((a.get(grp) or {}).get("false_positive_rate")),
        } for grp in groups],
        "plot": plots.fairness_groups(col, fd) if with_plots else None,
    }


def _section_plots(sec: dict, det: Mapping, columns: list) -> None:
    """The section's SVG plots, and a note for each one the scorecard lacks the data for."""
    realism, util, leak = det.get("realism") or {}, det.get("utility") or {}, det.get("leakage") or {}
    shapes = realism.get("column_shapes") or {}
    sec["plots"]["columns"] = plots.column_distributions(shapes, columns or None)
    sec["plots"]["pairs"] = plots.pair_difference_heatmap((realism.get("column_pairs") or {}).get("pairs"),
                                                          columns or None)
    sec["plots"]["dcr"] = plots.dcr_histogram(leak)
    sec["plots"]["utility"] = plots.utility_bars(util)
    sec["plots"]["calibration"] = plots.reliability_diagram(util)
    sec["plots"]["outliers"] = plots.outlier_exposure(det.get("privacy") or {})
    for key, what in (("columns", "per-column histograms (details.realism.column_shapes)"),
                      ("pairs", "pair scores (details.realism.column_pairs.pairs)"),
                      ("dcr", "DCR histograms (details.leakage.histogram)"),
                      ("utility", "utility numbers (details.utility.uplift)")):
        if sec["plots"][key] is None:
            sec["notes"].append(f"no plot: the scorecard lacks {what}")


def _section(row: dict, runs: list, cards: Mapping, verdicts: Mapping, glossary: dict, with_plots: bool) -> dict:
    """One generator's section: its first scored run's metrics, rules, tables and plots (a note when none)."""
    g = row["generator"]
    mine = [r for r in runs if r.get("generator") == g]
    shown = next((r for r in mine if r.get("status") == "ok" and r.get("id") in cards), None)
    sec: dict[str, Any] = {"generator": g, "anchor": row["anchor"], "row": row, "errors": row.get("errors") or [],
                           "notes": [], "plots": {}, "fairness": [], "run": shown}
    if shown is None:
        if row.get("status") != "failed":
            sec["notes"].append("scorecard file not found; nothing to show")
        return sec
    card = cards[shown["id"]]
    verdict = verdicts.get(shown["id"])
    sec["seed"] = shown.get("seed")
    sec["card"] = card
    metrics = card.get("metrics") or {}
    for name, m in metrics.items():
        glossary.setdefault(name, {"description": m.get("description", ""), "goal": m.get("goal")})
    sec["metrics"] = _metric_rows(card, row, verdict)
    sec["rules"] = _rule_rows(verdict, metrics)
    sec["gate"] = None if verdict is None else ("PASS" if verdict.get("passed") else "FAIL")
    if verdict is None:
        sec["notes"].append("no gate verdict for this scorecard")
    det = card.get("details") or {}
    util = det.get("utility") or {}
    columns = [c.get("name") for c in det.get("columns") or [] if isinstance(c, dict)]
    sec["columns"] = det.get("columns") or []
    sec["excluded"] = det.get("excluded_columns") or []
    sec["utility"] = _utility_rows(util)  # tables (also used by Markdown)
    if not util.get("uplift"):
        sec["notes"].append("the scorecard has no utility details")
    sec["families"], sec["families_note"] = families_view(util)
    sec["privacy"] = privacy_view(card)
    _leakage_tables(sec, det)
    sec["fairness"] = [_fairness_view(col, fd, with_plots) for col, fd in (det.get("fairness") or {}).items()
                       if isinstance(fd, dict)]
    if with_plots:
        _section_plots(sec, det, columns)
    return sec


def build_view(source: Any, *, with_plots: bool = True) -> dict:
    """The view model both templates render, from a compare result, compare dict, compare.json or folder."""
    data, cards, verdicts = normalise_source(source)
    timings = data.get("timings") or {}
    gen_t = timings.get("generators") or {}
    settings = data.get("settings") or {}
    seeds = settings.get("seeds") or []
    notes: list[str] = []
    rows = _leaderboard_rows(data, seeds, gen_t)
    glossary: dict[str, dict] = {}
    sections = [_section(row, data.get("runs") or [], cards, verdicts, glossary, with_plots) for row in rows]
    if not cards:
        notes.append("no scorecard could be read; only the leaderboard is shown")
    first_card = next(iter(cards.values()), {}) if cards else {}
    amounts = amounts_view(data.get("amounts"), [r["generator"] for r in rows], with_plots)
    best_g = (data.get("best") or {}).get("generator")
    best_amount = None
    if amounts and best_g:
        best_amount = next((x["recommendation"] for x in amounts["generators"] if x["generator"] == best_g), None)
    return {
        "amounts": amounts,
        "best_amount": best_amount,
        "utility_words": [{"generator": r["generator"], "anchor": r["anchor"], "text": r.get("utility_summary")}
                          for r in rows if r.get("utility_summary")],
        "title": data.get("title") or "synthgen report",
        "mode": data.get("mode", "compare"),
        "best": data.get("best") or {"generator": None, "reason": ""},
        "rows": rows,
        "sections": sections,
        "data": data.get("data") or {},
        "settings": settings,
        "split": data.get("split") or {},
        "policy": settings.get("policy") or {},
        "seeds": seeds,
        "multi_seed": len(seeds) > 1,
        "glossary": [{"name": k, "description": v["description"], "goal": arrow(v["goal"])}
                     for k, v in sorted(glossary.items())],
        "subscore_help": subscore_help(),
        "quality_help": quality_help(),
        "notes": notes,
        "has_timings": bool(gen_t),
        "total_s": fsec(timings.get("total_s")) if timings.get("total_s") is not None else None,
        "versions": first_card.get("library_versions") or {},
        "synthgen_version": data.get("synthgen_version", ""),
        "quality_plot": plots.quality_chart(data.get("leaderboard") or []) if with_plots else None,
    }
