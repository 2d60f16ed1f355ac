"""Drift: a table's reference profile, PSI per column over all rows and over the rare rows, the report.

PSI (population stability index) of one column between a reference and a current group of rows::

    PSI = sum over bins of (a - e) * ln(a / e)

with ``e`` the reference's share of rows in a bin and ``a`` the current share; an empty bin's share
(0) is replaced by ``EPSILON`` (1e-4, as Evidently does) on either side, without renormalising.

Bins (``DEFAULT_BINS`` = 10): numbers (and dates, as seconds) are cut at the reference group's
quantiles i/10 (i = 1..9, repeated cut points merged; at most one bin per 5 reference values), the
outer bins open-ended, so current values beyond the reference's range fall into them; categories
get one bin for each of the reference group's 10 most frequent values that hold 5 rows or more, and
one ``(other)`` bin for every other value, new ones included; a missing value is a bin of its own.
A group with fewer than 10 non-missing reference values is "not measurable" for that column.

Groups: "all" (every row) and "rare" (rows of the rare classes: every class but the reference's
majority), each with its own bins, because a rare class can drift while the whole table does not.

Chance: small groups differ by chance (two samples of 200 rows from one population give a PSI near
0.09 over 10 bins). A PSI at or above a threshold counts only when it is also above what chance gives:
the quantile ``1 - 0.01 / m`` (m: PSIs measured in the report, so chance flags a report at most 1% of
the time) of the PSI between two samples of the same sizes drawn from the reference's shares
(``CHANCE_DRAWS`` seeded draws, same bins and epsilon); below it the status is "within chance".

A profile is plain JSON (``profile``): per column and group the bin edges (quantiles) or the category
labels, and the shares. It holds no row. ``synthgen fit`` stores the profile of the train rows in the
model's manifest, so ``synthgen drift MODEL_DIR CURRENT`` needs no old data.
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .exceptions import DataError, ModelStoreError, ParameterError, SchemaError, UsageError
from .gate import DRIFT_THRESHOLDS, load_policy
from .io import atomic_path, check_output, make_readable, read_table
from .schema import ColumnKind, ColumnSpec, Schema, _py
from .store import read_manifest

__all__ = ["profile", "psi", "drift", "render_html", "summary", "drift_files", "reference_profile",
           "EPSILON", "DEFAULT_BINS", "PROFILE_FORMAT"]

PROFILE_FORMAT = "synthgen-drift-profile"
REPORT_FORMAT = "synthgen-drift-report"
FORMAT_VERSION = 1
EPSILON = 1e-4  # the share an empty bin is given (Evidently's value)
DEFAULT_BINS = 10
MIN_ROWS_PER_BIN = 5  # a group's column gets at most one bin per 5 non-missing reference values
MAX_LABELS = 1000  # category labels kept per column and group (the most frequent)
CHANCE_LEVEL = 0.01  # chance may flag one column of a report, all columns together, this often at most
CHANCE_DRAWS = 10_000  # pairs of samples drawn from the reference's shares for the chance level
OTHER, MISSING = "(other)", "(missing)"
GROUPS = ("all", "rare")
DETECT_ROWS = 100_000  # rows of a reference table its column kinds are detected on (a seeded sample)
_LISTED = 20  # new values listed per column and group


# ------------------------------------------------------------------------------------- labels


def _label(value: Any) -> str:
    """One text label per category value, the same for a CSV, a Parquet file and a manifest
    (True and 'True' alike; a whole float 2.0 as '2', as its integer column reads elsewhere)."""
    value = _py(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _label_counts(series: pd.Series) -> dict[str, int]:
    """Non-missing rows per label, most frequent first (ties: by label)."""
    counts: dict[str, int] = {}
    for value, count in series.value_counts(dropna=True, sort=False).items():
        key = _label(value)
        counts[key] = counts.get(key, 0) + int(count)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _tallies(series: pd.Series, mask: np.ndarray) -> dict[str, tuple[dict[str, int], int, int]]:
    """Per group ("all", "rare": the rows of ``mask``): a category column's rows per label (most frequent
    first, ties by label), its missing rows and all its rows; one pass over the values."""
    codes, uniques = pd.factorize(series)
    labels = [_label(u) for u in uniques]
    out = {}
    for group, c in (("all", codes), ("rare", codes[mask])):
        present = c[c >= 0]
        counts: dict[str, int] = {}
        for label, k in zip(labels, np.bincount(present, minlength=len(labels)).tolist()):
            if k:
                counts[label] = counts.get(label, 0) + k
        out[group] = (dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), len(c) - len(present), len(c))
    return out


def _rare_mask(target: pd.Series, rare: Sequence[str]) -> tuple[np.ndarray, int]:
    """Rows whose label is one of ``rare`` (labels), and how many rows are labelled."""
    wanted = set(rare)
    counts = target.value_counts(dropna=True, sort=False)
    mask = np.zeros(len(target), dtype=bool)
    for value in counts.index:
        if _label(value) in wanted:
            mask |= (target == value).to_numpy()
    return mask, int(counts.sum())


# ------------------------------------------------------------------------------------ profile


def _numeric_shares(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
    """Rows per bin (cut at ``edges``, right-closed, open-ended) and the missing count."""
    nan = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~nan], side="left"), minlength=len(edges) + 1)
    return counts, int(nan.sum())


def _too_few(present: int, rows: int) -> dict | None:
    if present >= 2 * MIN_ROWS_PER_BIN:
        return None
    return {"rows": rows, "not_measurable": f"{present} non-missing value(s); at least {2 * MIN_ROWS_PER_BIN} "
                                            f"are needed for 2 bins of {MIN_ROWS_PER_BIN}"}


def _numeric_group(values: np.ndarray, bins: int) -> dict:
    """Quantile edges of one group's numbers and each bin's share (missing: its own share)."""
    finite = values[np.isfinite(values)]
    few = _too_few(len(finite), len(values))
    if few:
        return few
    k = min(bins, len(finite) // MIN_ROWS_PER_BIN)
    edges = np.unique(np.quantile(finite, np.arange(1, k) / k))
    counts, missing = _numeric_shares(values, edges)
    n = len(values)
    return {"rows": n, "edges": [float(e) for e in edges], "freq": (counts / n).tolist(), "missing": missing / n}


def _category_group(tally: tuple[dict[str, int], int, int]) -> dict:
    """Each label's share of one group (the MAX_LABELS most frequent; the rest summed in 'other'), and
    the share of rows whose label occurs once (Good-Turing: the expected share of labels never seen)."""
    counts, missing, n = tally
    few = _too_few(sum(counts.values()), n)
    if few:
        return few
    labels = list(counts)[:MAX_LABELS]
    rest = sum(counts[k] for k in list(counts)[MAX_LABELS:])
    return {"rows": n, "values": labels, "freq": [counts[k] / n for k in labels], "other": rest / n,
            "missing": missing / n, "labels_truncated": len(counts) > MAX_LABELS,
            "singletons": sum(1 for c in counts.values() if c == 1) / n}


def _check_bins(bins: Any) -> int:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 2 <= bins <= 100:
        raise ParameterError(f"bins: expected a whole number from 2 to 100, got {bins!r}")
    return int(bins)


def profile(df: pd.DataFrame, target: str, schema: Schema, bins: int = DEFAULT_BINS,
            rare: Sequence[Any] | None = None) -> dict:
    """The drift profile of ``df``: per modelled column and group ("all", "rare") its bins and shares.

    ``rare``: the rare classes (default: every class but the majority). Identifiers, keys and personal
    columns are skipped with a note (they drift by construction). Plain JSON; no row is stored.
    """
    bins = _check_bins(bins)
    if target not in df.columns:
        raise SchemaError(f"target column '{target}' not found; columns are: {', '.join(map(str, df.columns))}")
    classes = _label_counts(df[target])
    if len(classes) < 2:
        raise DataError(f"target column '{target}' has {len(classes)} class(es); a profile needs a rare class "
                        "and at least one other")
    majority = max(classes, key=lambda k: (classes[k], k))
    rare_labels = sorted({_label(r) for r in rare} if rare is not None else set(classes) - {majority})
    mask, labelled = _rare_mask(df[target], rare_labels)
    features, skipped = {}, {}
    for spec in schema.features():
        if not spec.kind.is_modelled:
            skipped[spec.name] = f"{spec.kind.value}: not compared (its values drift by construction)"
            continue
        entry: dict[str, Any] = {"kind": spec.kind.value}
        if spec.kind.is_numeric:
            values, _ = _numbers(schema, spec, df[spec.name], unread=False)
            entry["datetime_format"] = spec.datetime_format
            entry.update({g: _numeric_group(v, bins) for g, v in (("all", values), ("rare", values[mask]))})
        else:
            entry.update({g: _category_group(t) for g, t in _tallies(df[spec.name], mask).items()})
        features[spec.name] = entry
    return {"format": PROFILE_FORMAT, "format_version": FORMAT_VERSION, "bins": bins, "epsilon": EPSILON,
            "target": target, "rare_classes": rare_labels,
            "other_classes": sorted(set(classes) - set(rare_labels)), "columns": [str(c) for c in df.columns],
            "rows": {"all": int(len(df)), "labelled": labelled, "rare": int(mask.sum())},
            "rare_rate": float(mask.sum()) / labelled if labelled else None,
            "features": features, "skipped": skipped}


# ---------------------------------------------------------------------------------------- PSI


def psi(reference: Sequence[float], current: Sequence[float], epsilon: float = EPSILON) -> float:
    """PSI of two share vectors over the same bins: sum((a - e) * ln(a / e)), empty shares -> epsilon."""
    e = np.asarray(reference, dtype=np.float64)
    a = np.asarray(current, dtype=np.float64)
    if e.shape != a.shape or e.ndim != 1 or len(e) == 0:
        raise ParameterError(f"psi: expected two share vectors of one length, got {e.shape} and {a.shape}")
    e = np.where(e == 0, epsilon, e)
    a = np.where(a == 0, epsilon, a)
    return float(np.sum((a - e) * np.log(a / e)))


def chance_psi(reference: Sequence[float], n_reference: int, n_current: int, quantile: float = 1 - CHANCE_LEVEL,
               draws: int = CHANCE_DRAWS, seed: int = 0) -> float:
    """The PSI that chance alone exceeds with probability ``1 - quantile``: two samples of ``n_reference``
    and ``n_current`` rows drawn from the reference's shares, the same bins and epsilon, ``draws`` times
    (seeded, so the same inputs give the same number)."""
    p = np.asarray(reference, dtype=np.float64)
    p = p / p.sum()
    rng = np.random.default_rng([seed, len(p), int(n_reference), int(n_current)])
    e = rng.multinomial(int(n_reference), p, size=draws) / n_reference
    a = rng.multinomial(int(n_current), p, size=draws) / n_current
    e, a = np.where(e == 0, EPSILON, e), np.where(a == 0, EPSILON, a)
    return float(np.quantile(np.sum((a - e) * np.log(a / e), axis=1), quantile))


def _status(value: float, chance: float | None, thresholds: Mapping[str, float]) -> str:
    if value < thresholds["moderate"] or chance is None:
        return "stable"
    if value <= chance:
        return "within chance"
    return "significant" if value >= thresholds["significant"] else "moderate"


def _fmt_edge(value: float, kind: str) -> str:
    if kind == "datetime":
        return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%d %H:%M").removesuffix(" 00:00")
    return f"{value:.4g}"


def _numeric_bins(ref: dict, values: np.ndarray, kind: str) -> tuple[list[str], list[float], list[float]]:
    edges = np.asarray(ref["edges"], dtype=np.float64)
    counts, missing = _numeric_shares(values, edges)
    n = max(len(values), 1)
    text = [_fmt_edge(e, kind) for e in edges]
    labels = [f"≤ {text[0]}"] + [f"{a} – {b}" for a, b in zip(text, text[1:])] + [f"> {text[-1]}", MISSING]
    return labels, list(ref["freq"]) + [ref["missing"]], (counts / n).tolist() + [missing / n]


def _category_bins(ref: dict, tally: tuple, bins: int) -> tuple[list[str], list[float], list[float]]:
    """Bins: the ``bins`` most frequent reference values holding MIN_ROWS_PER_BIN rows or more each, one
    '(other)' bin for every other value (new ones included), one for missing values."""
    least = MIN_ROWS_PER_BIN / ref["rows"] - 1e-12
    top = [k for k, f in zip(ref["values"][:bins], ref["freq"][:bins]) if f >= least]
    counts, missing, n = tally
    other_ref = float(sum(ref["freq"][len(top):])) + float(ref.get("other", 0.0))
    other_cur = sum(c for k, c in counts.items() if k not in set(top))
    current = [counts.get(k, 0) / n for k in top] + [other_cur / n, missing / n]
    return top + [OTHER, MISSING], list(ref["freq"][:len(top)]) + [other_ref, ref["missing"]], current


def _new_values(ref: dict, tally: tuple) -> dict | None:
    """Labels of ``series`` the reference group never had: {values: {label: rows}, rows, expected_rows}
    (expected_rows: how many rows with unseen labels the reference's own tail predicts, Good-Turing);
    None when unknowable (a reference group too small, or with more than MAX_LABELS labels)."""
    if "values" not in ref or ref.get("labels_truncated"):
        return None
    known = set(ref["values"])
    new = {k: c for k, c in tally[0].items() if k not in known}
    return {"values": new, "rows": sum(new.values()), "expected_rows": ref["singletons"] * tally[2]}


# -------------------------------------------------------------------------------------- drift


def _check_thresholds(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    out = dict(DRIFT_THRESHOLDS if thresholds is None else thresholds)
    ok = set(out) == {"moderate", "significant"} and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in out.values())
    if not ok or out["significant"] <= out["moderate"]:
        raise ParameterError(f"thresholds: expected moderate and significant PSI values > 0 with significant > "
                             f"moderate, got {thresholds!r}")
    return {k: float(out[k]) for k in ("moderate", "significant")}


def _group_result(ref: dict, kind: str, values: Any, n_current: int, bins: int, empty_reason: str) -> dict:
    """PSI of one column in one group and the bins behind it (its chance level and status: ``_judge``)."""
    if "not_measurable" in ref:
        return {"psi": None, "status": "not measurable", "reason": f"reference: {ref['not_measurable']}"}
    if n_current == 0:
        return {"psi": None, "status": "not measurable", "reason": empty_reason}
    if kind in ("categorical", "boolean"):
        labels, e, a = _category_bins(ref, values, bins)
        if len(labels) == 2:
            return {"psi": None, "status": "not measurable", "reason": f"no value holds {MIN_ROWS_PER_BIN} or more "
                    f"of the reference's {ref['rows']:,} rows in this group (new values are listed)"}
    else:
        labels, e, a = _numeric_bins(ref, values, kind)
    return {"psi": psi(e, a), "chance_psi": None, "status": None,
            "rows": {"reference": ref["rows"], "current": n_current}, "bins": labels,
            "reference": [float(x) for x in e], "current": [float(x) for x in a]}


def _judge(columns: dict[str, dict], thresholds: Mapping[str, float]) -> float:
    """Each measured PSI's chance level and status; the chance quantile is 1 - CHANCE_LEVEL / (PSIs measured),
    so chance flags a report's columns, all together, at most CHANCE_LEVEL of the time (Bonferroni)."""
    groups = [r[g] for r in columns.values() for g in GROUPS if r[g]["psi"] is not None]
    quantile = 1 - CHANCE_LEVEL / max(len(groups), 1)
    for g in groups:
        if g["psi"] >= thresholds["moderate"]:  # below it the status is "stable" whatever chance gives
            g["chance_psi"] = chance_psi(g["reference"], g["rows"]["reference"], g["rows"]["current"], quantile)
        g["status"] = _status(g["psi"], g["chance_psi"], thresholds)
    return quantile


def _check_columns(reference: Mapping, current: pd.DataFrame) -> None:
    ref, cur = list(reference["columns"]), [str(c) for c in current.columns]
    only_ref = [c for c in ref if c not in set(cur)]
    only_cur = [c for c in cur if c not in set(ref)]
    if only_ref or only_cur:
        parts = ([f"missing from CURRENT: {', '.join(map(repr, only_ref))}"] if only_ref else []) + (
            [f"not in the reference: {', '.join(map(repr, only_cur))}"] if only_cur else [])
        raise SchemaError(f"the reference and CURRENT have different columns ({'; '.join(parts)}); drift compares "
                          "tables with the same columns")


def _current_values(name: str, entry: dict, series: pd.Series) -> tuple[Any, int]:
    """The column as the reference profiled it (numbers, dates as seconds, or the raw categories) and how
    many non-missing values could not be read as its kind."""
    kind = ColumnKind(entry["kind"])
    if not kind.is_numeric:
        return series, 0
    spec_schema = Schema.from_dict({"schema_version": 1, "target": None, "columns": [
        {"name": name, "kind": kind.value, "dtype": "float64", "datetime_format": entry.get("datetime_format")}]})
    return _numbers(spec_schema, spec_schema[name], series)


def _numbers(schema: Schema, spec: ColumnSpec, series: pd.Series, unread: bool = True) -> tuple[np.ndarray, int]:
    """``schema.to_numeric`` of a column (dates in seconds), and (``unread``) how many non-missing values it
    could not read as numbers or dates."""
    values = schema.to_numeric(spec, series)
    empty = np.count_nonzero(np.isnan(values))
    if not unread or empty == 0:  # no empty value: nothing unreadable (and no text scan for missing cells)
        return values, 0
    return values, int(empty - series.isna().sum())


def drift(reference_profile: Mapping, current_df: pd.DataFrame, target: str | None = None,
          thresholds: Mapping[str, float] | None = None) -> dict:
    """The drift report of ``current_df`` against a profile: PSI per column over all rows and over the
    rare rows, each with its chance level and status, the change in the rare-class rate and category
    values new among the rare rows. ``report["drift"]``: some column's PSI is significant."""
    ref = _check_profile(reference_profile)
    thresholds = _check_thresholds(thresholds)
    if target is not None and target != ref["target"]:
        raise UsageError(f"--target '{target}' differs from the reference's target '{ref['target']}'")
    target = ref["target"]
    _check_columns(ref, current_df)
    mask, labelled = _rare_mask(current_df[target], ref["rare_classes"])
    n_all, n_rare = len(current_df), int(mask.sum())
    rare_text = ", ".join(repr(c) for c in ref["rare_classes"])
    notes = _notes(ref, current_df[target], labelled, n_rare, rare_text)
    empty = {"all": "CURRENT has no rows", "rare": f"CURRENT has no rows of the rare class(es) {rare_text}"}
    columns: dict[str, dict] = {}
    for name, entry in ref["features"].items():
        values, unread = _current_values(name, entry, current_df[name])
        result: dict[str, Any] = {"kind": entry["kind"]}
        category = entry["kind"] in ("categorical", "boolean")
        parts = _tallies(values, mask) if category else {"all": values, "rare": values[mask]}
        for group, n in (("all", n_all), ("rare", n_rare)):
            result[group] = _group_result(entry[group], entry["kind"], parts[group], n, ref["bins"], empty[group])
        if category:
            result["new_values"] = {g: _new_values(entry[g], parts[g]) for g in GROUPS}
        if unread:
            notes.append(f"column '{name}': {unread:,} value(s) of CURRENT are not {entry['kind']} values; counted "
                         "as missing")
        columns[name] = result
    quantile = _judge(columns, thresholds)
    significant = [f"{name} ({'all rows' if g == 'all' else 'rare rows'})" for name, r in columns.items()
                   for g in GROUPS if r[g]["status"] == "significant"]
    return {"format": REPORT_FORMAT, "format_version": FORMAT_VERSION,
            "psi": {"formula": "sum over bins of (a - e) * ln(a / e); e: reference share, a: current share",
                    "bins": ref["bins"], "epsilon": ref["epsilon"],
                    "chance": {"level": CHANCE_LEVEL, "quantile": quantile, "draws": CHANCE_DRAWS}},
            "thresholds": thresholds, "target": target, "rare_classes": ref["rare_classes"],
            "rows": {"reference": ref["rows"], "current": {"all": n_all, "labelled": labelled, "rare": n_rare}},
            "rare_rate": _rate_change(ref["rare_rate"], n_rare / labelled if labelled else None),
            "columns": columns, "skipped": dict(ref["skipped"]), "notes": notes,
            "significant": significant, "drift": bool(significant)}


def _check_profile(reference_profile: Mapping) -> Mapping:
    if not isinstance(reference_profile, Mapping) or reference_profile.get("format") != PROFILE_FORMAT:
        raise UsageError("reference_profile: expected a drift profile (synthgen.drift.profile)")
    if reference_profile.get("format_version") != FORMAT_VERSION:
        raise ModelStoreError(f"drift profile format version {reference_profile.get('format_version')!r} cannot be "
                              f"read by this synthgen (format {FORMAT_VERSION}); refit the model")
    return reference_profile


def _rate_change(reference: float | None, current: float | None) -> dict:
    change = None if reference is None or current is None else current - reference
    relative = change / reference if change is not None and reference else None
    return {"reference": reference, "current": current, "change": change, "relative_change": relative}


def _notes(ref: Mapping, target: pd.Series, labelled: int, n_rare: int, rare_text: str) -> list[str]:
    notes = []
    if n_rare == 0:
        notes.append(f"CURRENT has no rows of the rare class(es) {rare_text}: rare-row PSI is not measurable; "
                     "the drift over all rows is still reported")
    if labelled < len(target):
        notes.append(f"{len(target) - labelled:,} row(s) of CURRENT have no '{ref['target']}' label; the rare-class "
                     "rate counts labelled rows only")
    known = set(ref["rare_classes"]) | set(ref["other_classes"])
    new = sorted({_label(v) for v in pd.unique(target.dropna())} - known)
    if new:
        notes.append(f"label(s) {', '.join(map(repr, new))} of '{ref['target']}' are new in CURRENT")
    return notes


# ------------------------------------------------------------------------------------- output


def _fpsi(group: Mapping) -> str:
    return "n/a" if group.get("psi") is None else f"{group['psi']:.4f}"


def summary(report: Mapping) -> str:
    """The report as a short text table: one line per column, then the rare rate, new values and notes."""
    t, p = report["thresholds"], report["psi"]
    lines = [(f"PSI over {p['bins']} bins (epsilon {p['epsilon']:g}); moderate >= {t['moderate']:g}, significant >= "
              f"{t['significant']:g}, each also above what chance gives on groups of its sizes"),
             f"{'column':<24} {'kind':<12} {'PSI all':>9}  {'status':<15} {'PSI rare':>9}  status"]
    for name, r in report["columns"].items():
        lines.append(f"{name[:24]:<24} {r['kind']:<12} {_fpsi(r['all']):>9}  {r['all']['status']:<15} "
                     f"{_fpsi(r['rare']):>9}  {r['rare']['status']}")
    for name, why in report["skipped"].items():
        lines.append(f"{name[:24]:<24} skipped: {why}")
    rate = report["rare_rate"]
    if rate["current"] is not None and rate["reference"] is not None:
        lines.append(f"rare-class rate: {rate['reference']:.2%} -> {rate['current']:.2%} "
                     f"({100 * rate['change']:+.2f} points)")
    lines += [f"new among rare rows: {text}" for text in _new_texts(report, "rare")]
    lines += [f"note: {n}" for n in report["notes"]]
    lines.append("significant drift: " + ", ".join(report["significant"]) if report["drift"]
                 else "no significant drift")
    return "\n".join(lines)


def _new_texts(report: Mapping, group: str) -> list[str]:
    """'column: 'a' (12 rows), ...' for each column with values new in ``group``."""
    out = []
    for name, r in report["columns"].items():
        new = (r.get("new_values") or {}).get(group)
        if new and new["values"]:
            values = list(new["values"].items())
            shown = ", ".join(f"{k!r} ({v:,} rows)" for k, v in values[:_LISTED])
            more = f" and {len(values) - _LISTED} more" if len(values) > _LISTED else ""
            out.append(f"{name}: {shown}{more}; {new['rows']:,} rows in all, about {new['expected_rows']:.0f} "
                       "expected from the reference's rare values")
    return out


def _column_figure(name: str, result: Mapping) -> str:
    """One column's reference vs current shares per bin, all rows (left) and rare rows (right)."""
    import matplotlib  # only when an HTML report is asked for

    from .report import plots

    fig = plots._figure(10.4, 2.7)
    with matplotlib.rc_context(plots.RC):
        axes = fig.subplots(1, 2)
        for ax, group in zip(axes, GROUPS):
            g = result[group]
            title = f"{'all rows' if group == 'all' else 'rare rows'}: PSI {_fpsi(g)} ({g['status']})"
            ax.set_title(title, loc="left")
            if g.get("psi") is None:
                ax.text(0.5, 0.5, g.get("reason", "not measurable"), ha="center", va="center", wrap=True,
                        transform=ax.transAxes, fontsize=7.5, color="#555555")
                ax.set_axis_off()
                continue
            xs = np.arange(len(g["bins"]))
            ax.bar(xs - 0.2, g["reference"], width=0.4, color=plots.REAL, label="reference")
            ax.bar(xs + 0.2, g["current"], width=0.4, color=plots.SYN, label="current")
            ax.set_xticks(xs, [plots._short(b, 16) for b in g["bins"]], rotation=35, ha="right")
            ax.set_ylabel("share of rows")
            ax.legend(frameon=False, loc="upper right", fontsize=7)
        fig.suptitle(f"{plots._short(name, 40)} ({result['kind']})", x=0.01, ha="left", fontsize=10)
    return plots.to_data_uri(fig)


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>synthgen drift report</title>
<style>
body { font:14px/1.45 system-ui, sans-serif; color:#1d2330; margin:0 auto; max-width:1180px; padding:20px 28px; }
table { border-collapse:collapse; font-size:13px; } th, td { padding:5px 10px; border-bottom:1px solid #dde2ea;
text-align:left; } td.num { text-align:right; font-variant-numeric:tabular-nums; }
.significant { color:#b3261e; font-weight:700; } .moderate { color:#9a6700; font-weight:600; }
.box { padding:10px 16px; border-radius:8px; background:#e3f4e6; } .box.drift { background:#fbe5e3; }
figure { margin:14px 0; } figure img { max-width:100%; border:1px solid #dde2ea; border-radius:6px; }
.muted { color:#5b6475; font-size:12.5px; }
</style></head><body>
<h1>Drift report</h1>
<p class="muted">reference: {{ r.reference.path }} ({{ r.reference.kind }}, {{ "{:,}".format(r.rows.reference.all) }} rows)
 · current: {{ r.current.path }} ({{ "{:,}".format(r.rows.current.all) }} rows) · target {{ r.target }},
 rare class(es) {{ r.rare_classes | join(", ") }}</p>
<div class="box{{ ' drift' if r.drift }}"><b>{{ "Significant drift: " ~ r.significant | join(", ") if r.drift
 else "No significant drift" }}</b></div>
<p>PSI = {{ r.psi.formula }}, over {{ r.psi.bins }} bins (numbers: the reference's quantiles; categories: the
 {{ r.psi.bins }} most frequent reference values holding {{ min_rows }} rows or more, plus "(other)"; missing values: a bin of their own); an empty bin
 counts as {{ r.psi.epsilon }}. Moderate from {{ r.thresholds.moderate }}, significant from
 {{ r.thresholds.significant }}, each only when also above the PSI that chance gives two samples of its sizes
 drawn from the reference's shares (quantile {{ "%.5g" | format(r.psi.chance.quantile) }} of
 {{ "{:,}".format(r.psi.chance.draws) }} draws: chance flags a report at most {{ "%g" | format(100 * r.psi.chance.level) }}% of the time).</p>
{% if r.rare_rate.current is not none and r.rare_rate.reference is not none %}
<p>Rare-class rate: {{ "%.2f%%" | format(100 * r.rare_rate.reference) }} in the reference,
 {{ "%.2f%%" | format(100 * r.rare_rate.current) }} now ({{ "%+.2f" | format(100 * r.rare_rate.change) }} points).</p>
{% endif %}
<table><tr><th>column</th><th>kind</th><th>PSI all rows</th><th>status</th><th>PSI rare rows</th><th>status</th></tr>
{% for name, c in r.columns.items() %}<tr><td>{{ name }}</td><td>{{ c.kind }}</td>
<td class="num">{{ fpsi(c.all) }}</td><td class="{{ c.all.status }}">{{ c.all.status }}</td>
<td class="num">{{ fpsi(c.rare) }}</td><td class="{{ c.rare.status }}">{{ c.rare.status }}</td></tr>
{% endfor %}</table>
{% for name, why in r.skipped.items() %}<p class="muted">{{ name }} skipped: {{ why }}</p>{% endfor %}
{% for text in new_rare %}<p>New among rare rows: {{ text }}</p>{% endfor %}
{% for note in r.notes %}<p class="muted">Note: {{ note }}</p>{% endfor %}
<h2>Reference vs current, per column</h2>
{% for name, uri in figures %}<figure><img alt="{{ name }}: reference vs current" src="{{ uri }}"></figure>
{% endfor %}
</body></html>
"""


def render_html(report: Mapping) -> str:
    """A self-contained HTML page (inline SVG histograms, no scripts): per column the reference vs current
    shares over the PSI bins, all rows and rare rows, and the figures of the report."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    figures = [(name, _column_figure(name, c)) for name, c in report["columns"].items()]
    view = {"reference": {"path": "", "kind": "profile"}, "current": {"path": ""}, **report}
    return env.from_string(_HTML).render(r=view, fpsi=_fpsi, figures=figures, new_rare=_new_texts(report, "rare"),
                                         min_rows=MIN_ROWS_PER_BIN)


# -------------------------------------------------------------------------------------- files


def reference_profile(reference: str | os.PathLike, target: str | None = None) -> tuple[dict, dict]:
    """The profile of REFERENCE: a model folder's stored one, or one computed from a table file; and a
    description {path, kind, dropped_columns}."""
    path = Path(reference)
    if path.is_dir():
        manifest = read_manifest(path)
        stored = manifest.get("profile")
        if not stored:
            raise ModelStoreError(f"model '{path}' has no stored drift profile (fitted by synthgen "
                                  f"{manifest.get('synthgen_version')}); refit it with this version to compare with it")
        dropped = list((manifest.get("split") or {}).get("dropped_columns") or [])
        return stored, {"path": str(path), "kind": "model", "dropped_columns": dropped}
    if target is None:
        raise UsageError("--target is needed when REFERENCE is a table (a model folder knows its own)")
    df = read_table(path)
    return profile(df, target, detect_kinds(df, target)), {"path": str(path), "kind": "table", "dropped_columns": []}


def detect_kinds(df: pd.DataFrame, target: str) -> Schema:
    """The column kinds of a reference table, detected on a seeded sample of DETECT_ROWS rows when it is
    larger (detection gives any large random subset the table's kinds: synthgen/schema.py)."""
    if len(df) > DETECT_ROWS:
        pick = np.sort(np.random.default_rng(0).choice(len(df), DETECT_ROWS, replace=False))
        df = df.iloc[pick]
    return Schema.detect(df, target=target)


def drift_files(reference: str | os.PathLike, current: str | os.PathLike, *, target: str | None = None,
                policy: str | os.PathLike | None = None, out: str | os.PathLike | None = None,
                html: str | os.PathLike | None = None, force: bool = False) -> dict:
    """`synthgen drift`: CURRENT against REFERENCE (a table, or a model folder's stored profile), with the
    policy's [drift] thresholds; writes the JSON report (``out``) and the HTML (``html``), or nothing."""
    outputs = [Path(p) for p in (out, html) if p is not None]
    if len(outputs) == 2 and outputs[0].resolve() == outputs[1].resolve():
        raise UsageError(f"--out and --html name the same file '{out}'")
    for p in outputs:
        check_output(p, force=force)
    pol = load_policy(policy)
    ref, described = reference_profile(reference, target)
    cur = read_table(current)
    gone = [c for c in described["dropped_columns"] if c in cur.columns]
    report = drift(ref, cur.drop(columns=gone), target, pol.drift)
    if gone:
        report["notes"].append(f"column(s) {', '.join(map(repr, gone))} of CURRENT left out, as the model dropped them")
    report["reference"] = described
    report["current"] = {"path": str(current)}
    report["policy"] = {"path": pol.path, "sha256": pol.sha256, "version": pol.version}
    text = render_html(report) if html is not None else None
    for path, content in ((out, json.dumps(report, indent=2) + "\n"), (html, text)):
        if path is not None:
            with atomic_path(path, force=force) as tmp:
                tmp.write_text(content, encoding="utf-8")
                make_readable(tmp)
    return report
