"""Evaluation speed on the evalml fraud table (../shared/data), each against an anchor measured in this run.

1. Whole scorecard, 100,000 synthetic rows vs 100,000 real rows (70,000 train + 30,000 holdout)
   of a 15-column mixed table: seconds against the 120 s budget.
2. Column shapes + column pairs (including encoding; the schema, like SDMetrics' metadata, is given) vs SDMetrics QualityReport on the
   15,179 fraud rows x 10 modelled columns: ratio = SDMetrics seconds / ours (target >= 1).
3. DCR of 1,000 synthetic rows to ~7,600 train and ~7,600 holdout rows, no subsampling,
   vs SDMetrics DCROverfittingProtection on the same rows: ratio = SDMetrics / ours (target >= 50).
4. Utility with three model families (hgb, logreg, rf), all alternatives and the default repeats vs
   hgb alone, on 100,000 real x 10,000 synthetic rows: under 3x (median of alternating runs).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from synthgen.evaluation import evaluate
from synthgen.evaluation import leakage, realism
from synthgen.evaluation._frame import prepare
from synthgen.schema import Schema, sdv_columns

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "evalml_fraud_transactions.csv.gz"
MODELLED = ["datetime", "amount", "currency", "customer_present", "expiration_date", "provider", "lat", "lng",
            "region", "country"]


def _table() -> pd.DataFrame:
    """The evalml table plus a 15th column (hour of the transaction, integer)."""
    df = pd.read_csv(DATA)
    df["hour"] = pd.to_datetime(df["datetime"], format="%Y-%m-%d %H:%M:%S").dt.hour.astype("int64")
    return df


def _perturb(rows: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """n rows drawn from ``rows`` with noise on every number and date: a stand-in for a generator's output."""
    rng = np.random.default_rng(seed)
    out = rows.sample(n, replace=n > len(rows), random_state=seed).reset_index(drop=True)
    out["amount"] = np.maximum(0, (out["amount"] * rng.lognormal(0, 0.1, n)).round()).astype("int64")
    out["lat"] = out["lat"] + rng.normal(0, 0.01, n)
    out["lng"] = out["lng"] + rng.normal(0, 0.01, n)
    stamps = pd.to_datetime(out["datetime"], format="%Y-%m-%d %H:%M:%S")
    stamps = stamps + pd.to_timedelta(rng.integers(-3600, 3600, n), unit="s")
    out["datetime"] = stamps.dt.strftime("%Y-%m-%d %H:%M:%S")
    if "hour" in out.columns:
        out["hour"] = stamps.dt.hour.astype("int64")
    for col in ("id", "card_id", "store_id"):
        out[col] = -1 - np.arange(n)
    return out


REPEATS = 3  # best of three for the sub-second comparison: this VM's timings jitter by tens of percent


def _best_of(fn, repeats: int):
    """(fastest wall time, result) over ``repeats`` calls."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result




def bench_scorecard(df: pd.DataFrame) -> dict:
    rng = np.random.default_rng(0)
    hold = np.zeros(len(df), dtype=bool)
    hold[rng.choice(len(df), size=30_000, replace=False)] = True
    train, holdout = df[~hold].head(70_000).reset_index(drop=True), df[hold].reset_index(drop=True)
    syn = _perturb(train[train["fraud"]], 100_000, seed=1)
    start = time.perf_counter()
    card = evaluate(train, holdout, syn, "fraud", random_state=0)
    seconds = time.perf_counter() - start
    parts = ", ".join(f"{k} {v:.1f}s" for k, v in card.timings.items() if k != "total")
    return {"measure": f"scorecard 100k synthetic vs 100k real, 15 columns ({parts})", "ours": seconds,
            "anchor": 120.0, "unit": "s", "ratio": 120.0 / seconds, "target": 1.0, "passed": bool(seconds <= 120.0)}


def bench_shapes_pairs(df: pd.DataFrame) -> dict:
    from sdmetrics.reports.single_table import QualityReport

    fraud = df[df["fraud"]].drop(columns=["hour"]).reset_index(drop=True)
    legit = df[~df["fraud"]].drop(columns=["hour"]).head(100)
    syn = _perturb(fraud, len(fraud), seed=2)
    schema = Schema.detect(fraud, "fraud")  # the counterpart of the metadata SDMetrics is handed
    cols: dict = {}

    def ours_once() -> tuple[float, float]:
        frames = prepare(fraud, pd.concat([fraud.head(100), legit]), syn, "fraud", label=True, schema=schema)
        cols.update(sdv_columns(frames.modelled))
        return realism.column_shapes(frames)[0], realism.column_pairs(frames)[0]

    def theirs_once() -> QualityReport:
        report = QualityReport()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.generate(fraud[list(cols)], syn[list(cols)], {"columns": cols}, verbose=False)
        return report

    ours, (shapes, pairs) = _best_of(ours_once, REPEATS)
    anchor, report = _best_of(theirs_once, REPEATS)
    props = report.get_properties().set_index("Property")["Score"]
    gap = max(abs(shapes - props["Column Shapes"]), abs(pairs - props["Column Pair Trends"]))
    return {"measure": f"column shapes + pairs vs SDMetrics QualityReport, {len(fraud)} rows x {len(cols)} cols "
                       f"(max score gap {gap:.4f})",
            "ours": ours, "anchor": anchor, "unit": "s (best of 3)", "ratio": anchor / ours, "target": 1.0,
            "passed": bool(anchor / ours >= 1.0 and gap < 0.01)}


def bench_dcr(df: pd.DataFrame) -> dict:
    from sdmetrics.single_table import DCROverfittingProtection

    fraud = df[df["fraud"]].drop(columns=["hour"]).sample(frac=1.0, random_state=3).reset_index(drop=True)
    half = len(fraud) // 2
    train, valid = fraud.iloc[:half].reset_index(drop=True), fraud.iloc[half:].reset_index(drop=True)
    syn = _perturb(train, 1_000, seed=4)
    legit = df[~df["fraud"]].drop(columns=["hour"]).head(50)
    schema = Schema.detect(pd.concat([train, legit]), "fraud")  # the counterpart of SDMetrics' metadata

    def ours_once() -> tuple[object, float]:
        frames = prepare(pd.concat([train, legit]), pd.concat([valid, legit]), syn, "fraud", label=True,
                         schema=schema)
        enc = leakage.MixedEncoder(frames)
        d_train, _ = leakage.dcr(frames, "synthetic", "train", None, frames.rare("train"), enc)
        d_valid, _ = leakage.dcr(frames, "synthetic", "holdout", None, frames.rare("holdout"), enc)
        return frames, float(np.mean(d_train < d_valid))

    ours, (frames, ours_share) = _best_of(ours_once, REPEATS)
    cols = sdv_columns(frames.modelled)
    names = list(cols)
    metadata = {"tables": {"fraud": {"columns": cols}}}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = DCROverfittingProtection.compute_breakdown(train[names], syn[names], valid[names], metadata, "fraud")
    anchor = time.perf_counter() - start
    theirs = result["synthetic_data_percentages"]["closer_to_training"]
    return {"measure": f"DCR 1,000 synthetic vs {len(train)} train + {len(valid)} holdout rows, no subsampling, vs "
                       f"SDMetrics DCROverfittingProtection (closer-to-train: ours {ours_share:.3f}, "
                       f"SDMetrics {theirs:.3f}; ours best of 3, SDMetrics one run)",
            "ours": ours, "anchor": anchor, "unit": "s", "ratio": anchor / ours, "target": 50.0,
            "passed": bool(anchor / ours >= 50.0)}


def run() -> list[dict]:
    df = _table()
    return [bench_shapes_pairs(df), bench_dcr(df), bench_scorecard(df), bench_utility_families(df)]


def bench_utility_families(df: pd.DataFrame) -> dict:
    """Utility with hgb, logreg and rf (all alternatives, default repeats) vs today's single-model utility
    (hgb alone), on 100,000 real rows (70,000 train + 30,000 holdout) x 10,000 synthetic, 15 columns."""
    from synthgen.evaluation import utility

    rng = np.random.default_rng(0)
    hold = np.zeros(len(df), dtype=bool)
    hold[rng.choice(len(df), size=30_000, replace=False)] = True
    train, holdout = df[~hold].head(70_000).reset_index(drop=True), df[hold].reset_index(drop=True)
    syn = _perturb(train[train["fraud"]], 10_000, seed=5)
    frames = prepare(train, holdout, syn, "fraud")
    times: dict[str, list[float]] = {"single": [], "three": []}
    for _ in range(2):  # alternating runs; the median of each side
        for key, models in (("single", ["hgb"]), ("three", ["hgb", "logreg", "rf"])):
            start = time.perf_counter()
            utility.utility(frames, 0, models=models)
            times[key].append(time.perf_counter() - start)
    ours, anchor = float(np.median(times["three"])), float(np.median(times["single"]))
    return {"measure": "utility, hgb + logreg + rf with all alternatives and default repeats, vs hgb alone "
                       "(100k real x 10k synthetic, 15 columns; median of 2 alternating runs)",
            "ours": ours, "anchor": anchor, "unit": "s", "ratio": 3.0 * anchor / ours, "target": 1.0,
            "passed": bool(ours <= 3.0 * anchor), "detail": f"{ours / anchor:.2f}x the single-model time (limit 3x)"}
