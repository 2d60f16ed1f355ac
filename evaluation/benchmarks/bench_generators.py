"""Generator speed against the libraries we wrap or replace, measured side by side in one run.

- SMOTE family: rows/s of our fit + sample(n) vs imbalanced-learn's fit_resample making the same
  rows from the same (already encoded) rows our generator hands it. Target ratio >= 0.8. Twice: 50,000
  rows from the bundled fraud table, and 1,000,000 rows from Adult's six numeric columns (issue 11 item 4;
  median of 5 runs).
- smote-nc: ours vs imbalanced-learn's SMOTENC on the same mixed table. Target >= 3x; the category
  distributions of both outputs are compared to show the same rule.
- gaussian-copula: sample rows/s vs SDV's GaussianCopulaSynthesizer (defaults, and 'norm'), same
  rare rows, with SDMetrics QualityReport scores for both. Targets >= 10x and >= 3x; quality within 0.02.
- ctgan: sampling rows/s vs SDV's CTGANSynthesizer trained on the same rare rows (target >= 1x), fit s/epoch.
- generate: `synthgen generate` of 1,000,000 rows of a 30-column mixed table to Parquet: peak memory
  (target < 2 GB).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from synthgen.datasets import load_fraud, load_german_credit
from synthgen.models import make_generator
from synthgen.models.sdv_backend import _quiet, seeded
from synthgen.schema import sdv_columns

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
N = 50_000
NAMES = [n for n in os.environ.get("SYNTHGEN_BENCH_SMOTE", "").split(",") if n]  # limit the SMOTE variants


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _row(measure, ours, anchor, unit, target, higher_is_better=True, **extra):
    ratio = ours / anchor if higher_is_better else anchor / ours
    return {"measure": measure, "ours": ours, "anchor": anchor, "unit": unit, "ratio": ratio,
            "target": f">= {target}", "passed": bool(ratio >= target), **extra}


def _smote_cases() -> dict:
    from imblearn.over_sampling import ADASYN, SMOTE, SMOTEN, SVMSMOTE, BorderlineSMOTE, KMeansSMOTE
    from sklearn.cluster import MiniBatchKMeans

    return {
        "smote": ({}, lambda s: SMOTE(sampling_strategy=s, random_state=0)),
        "borderline-smote": ({}, lambda s: BorderlineSMOTE(sampling_strategy=s, random_state=0)),
        "borderline-smote-2": ({}, lambda s: BorderlineSMOTE(sampling_strategy=s, kind="borderline-2", random_state=0)),
        "svm-smote": ({}, lambda s: SVMSMOTE(sampling_strategy=s, random_state=0)),
        "adasyn": ({}, lambda s: ADASYN(sampling_strategy=s, random_state=0)),
        "kmeans-smote": ({"cluster_balance_threshold": 0.01, "n_clusters": 2},
                         lambda s: KMeansSMOTE(sampling_strategy=s, k_neighbors=2, cluster_balance_threshold=0.01,
                                               kmeans_estimator=MiniBatchKMeans(2, n_init=3, random_state=0),
                                               random_state=0)),
        "smote-n": ({}, lambda s: SMOTEN(sampling_strategy=s, random_state=0)),
    }


def _family_rows(df: pd.DataFrame, target: str, n: int, names: list[str], repeats: int, label: str):
    """Per variant: our fit + sample(n) against imblearn's fit_resample making n rows from the same encoded
    rows, ``repeats`` alternating runs, the median of the per-run ratios (rows/s ours / rows/s imblearn)."""
    cases = _smote_cases()
    make_generator("smote", random_state=0).fit(df.head(2_000), target=target).sample(10)  # warm imports
    for name in names:
        params, anchor_factory = cases[name]
        ratios, runs = [], []
        for _ in range(repeats):
            gen, fit_s = _timed(lambda: make_generator(name, random_state=0, **params).fit(df, target=target))
            out, sample_s = _timed(lambda: gen.sample(n))
            assert len(out) == n
            X, y = gen._imblearn_input(gen.states_[0])
            n_rare = int((y == 1).sum())
            # ADASYN/SVM-SMOTE round their counts: time the call, then scale to rows actually made
            (X_res, _), anchor_s = _timed(lambda: anchor_factory({1: n_rare + n}).fit_resample(X, y))
            made = X_res.shape[0] - X.shape[0]
            ratios.append((n / (fit_s + sample_s)) / (made / anchor_s))
            runs.append(f"fit {fit_s:.2f} + sample {sample_s:.2f} s vs {anchor_s:.2f} s")
        ratio = statistics.median(ratios)
        yield {"measure": f"{name} rows/s, fit+sample {n:,} ({label})", "ours": n / (fit_s + sample_s),
               "anchor": made / anchor_s, "unit": "rows/s", "ratio": ratio, "target": ">= 0.8",
               "passed": bool(ratio >= 0.8),
               "detail": f"median of {repeats} runs' ratios {', '.join(f'{r:.2f}' for r in ratios)}; "
                         f"ours vs imblearn ({made:,} rows): {'; '.join(runs)}"}


def smote_family() -> list[dict]:
    """The family on the bundled fraud table (numbers and categories one-hot), 50,000 rows made."""
    names = [n for n in _smote_cases() if not NAMES or n in NAMES]
    yield from _family_rows(load_fraud(), "fraud", N, names, 1, "bundled fraud table")


MILLION = 1_000_000
ADULT_NUMBERS = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]


def smote_million() -> list[dict]:
    """Issue 11 item 4: the family making 1,000,000 rows from a numeric table (Adult's six numeric columns,
    32,561 rows, 7,841 rare), 5 runs each; the restore to the original schema is inside ours."""
    path = SHARED / "adult.csv.gz"
    if not path.exists():
        return
    df = pd.read_csv(path, usecols=ADULT_NUMBERS + ["income"])
    names = [n for n in _smote_cases() if n != "smote-n" and (not NAMES or n in NAMES)]
    yield from _family_rows(df, "income", MILLION, names, 5, "Adult's 6 numeric columns")


def smote_nc() -> list[dict]:
    from imblearn.over_sampling import SMOTENC

    df = load_fraud()
    n = 50_000
    gen, fit_s = _timed(lambda: make_generator("smote-nc", random_state=0).fit(df, target="fraud"))
    out, sample_s = _timed(lambda: gen.sample(n))
    enc = gen.encoder_
    data = enc.transform(df)
    y = (df["fraud"]).to_numpy().astype(int)
    X = np.hstack([data.numeric, data.codes])
    cat_idx = list(range(data.numeric.shape[1], X.shape[1]))
    (X_res, _), anchor_s = _timed(
        lambda: SMOTENC(categorical_features=cat_idx, sampling_strategy={1: int(y.sum()) + n}, random_state=0).fit_resample(X, y))
    new_codes = X_res[X.shape[0]:, data.numeric.shape[1]:].astype(int)
    ours_codes = enc.transform(out).codes
    tvd = [0.5 * np.abs(np.bincount(ours_codes[:, j], minlength=c) / n - np.bincount(new_codes[:, j], minlength=c) / n).sum()
           for j, c in enumerate(enc.cardinalities)]
    return [_row(f"smote-nc rows/s, fit+sample {n:,}", n / (fit_s + sample_s), n / anchor_s, "rows/s", 3.0,
                 detail=f"mean TVD of categories ours vs imblearn {np.mean(tvd):.3f} (same rule -> sampling noise only)")]


def _quality(real: pd.DataFrame, synthetic: pd.DataFrame, schema) -> float:
    from sdmetrics.reports.single_table import QualityReport

    cols = {name: {"sdtype": "numerical" if meta["sdtype"] in ("numerical", "datetime") else "categorical"}
            for name, meta in sdv_columns(schema.modelled()).items()}
    names = list(cols)
    conv = lambda d: pd.DataFrame({c: (schema.to_numeric(schema[c], d[c]) if cols[c]["sdtype"] == "numerical" else d[c].astype(str)) for c in names})
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(conv(real), conv(synthetic), {"columns": cols}, verbose=False)
    return float(report.get_score())


def copula() -> list[dict]:
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    rows = []
    n = 50_000
    for label, df, target, rare_label in (("fraud", load_fraud(), "fraud", True),
                                          ("german_credit", load_german_credit(), "class", 2)):
        gen = make_generator("gaussian-copula", random_state=0).fit(df, target=target)
        rare = df[df[target] == rare_label].reset_index(drop=True)
        ours, ours_s = _timed(lambda: gen.sample(n))
        meta = Metadata.detect_from_dataframes({"t": rare})
        for spec in gen.schema_.columns:
            if spec.kind.value == "identifier":
                meta.update_column(spec.name, sdtype="id", table_name="t")
        q_ours = _quality(rare, ours, gen.schema_)
        for dist in ("beta", "norm"):
            sdv = GaussianCopulaSynthesizer(meta, default_distribution=None if dist == "beta" else "norm")
            with _quiet(), seeded(0):
                sdv.fit({"t": rare})
                res, sdv_s = _timed(lambda: sdv.sample(n))
            theirs = res["t"] if isinstance(res, dict) else res
            q_sdv = _quality(rare, theirs, gen.schema_)
            target = 10.0 if dist == "beta" else 3.0
            row = _row(f"gaussian-copula sample rows/s vs SDV ({dist}), {label}", n / ours_s, n / sdv_s, "rows/s", target,
                       detail=f"QualityReport ours {q_ours:.3f} vs SDV {q_sdv:.3f}")
            row["passed"] = row["passed"] and q_ours >= q_sdv - 0.02
            rows.append(row)
    return rows


def ctgan() -> list[dict]:
    from sdv.metadata import Metadata
    from sdv.single_table import CTGANSynthesizer

    df = load_german_credit()
    epochs, n = 20, 20_000
    make_generator("ctgan", random_state=0, epochs=1, verbose=False).fit(df, target="class").sample(10)  # warm up
    gen, ours_fit = _timed(lambda: make_generator("ctgan", random_state=0, epochs=epochs, verbose=False).fit(df, target="class"))
    rare = df[df["class"] == 2].drop(columns=["class"]).reset_index(drop=True)
    # the same column kinds as ours, so both train the same network shape
    meta = Metadata.load_from_dict({"tables": {"t": {"columns": sdv_columns(gen.schema_.modelled())}}})
    sdv = CTGANSynthesizer(meta, epochs=epochs, enable_gpu=False)
    with _quiet(), seeded(0):
        _, sdv_fit = _timed(lambda: sdv.fit({"t": rare}))
    # this VM's timings swing +-40% call to call: alternate the two sides and compare medians
    ours_t, sdv_t = [], []
    for _ in range(7):
        ours_t.append(_timed(lambda: gen.sample(n))[1])
        with _quiet(), seeded(0):
            sdv_t.append(_timed(lambda: sdv.sample(n))[1])
    ours_s, sdv_s = float(np.median(ours_t)), float(np.median(sdv_t))
    return [_row(f"ctgan sample rows/s, {n:,} rows (german credit), median of 7 alternating runs", n / ours_s, n / sdv_s, "rows/s", 1.0,
                 detail=f"fit s/epoch ours {ours_fit / epochs:.3f} vs SDV {sdv_fit / epochs:.3f}")]


def _thirty_columns() -> pd.DataFrame:
    adult = pd.read_csv(SHARED / "adult.csv.gz")
    fraud = pd.read_csv(SHARED / "evalml_fraud_transactions.csv.gz").drop(columns=["fraud"]).head(len(adult))
    fraud = fraud.reset_index(drop=True).add_prefix("txn_")
    table = pd.concat([adult, fraud], axis=1)
    table["txn_hour"] = pd.to_datetime(table["txn_datetime"]).dt.hour
    table["txn_amount_usd"] = table["txn_amount"] / 100.0
    assert table.shape[1] == 30
    return table


def generate_memory() -> list[dict]:
    if not SHARED.exists():
        return []
    exe = str(Path(sys.executable).with_name("synthgen"))
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "wide.csv"
        _thirty_columns().to_csv(data, index=False)
        subprocess.run([exe, "fit", str(data), "--target", "income", "--generator", "gaussian-copula",
                        "--out", f"{tmp}/m"], check=True, capture_output=True)
        # /usr/bin/time reports the peak RSS of exactly this command (RUSAGE_CHILDREN would take the
        # maximum over every child this process ever had)
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", exe, "generate", f"{tmp}/m", "-n", "1000000",
                               "--out", f"{tmp}/out.parquet", "--no-progress"], check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        peak_mb = int(done.stderr.strip().splitlines()[-1]) / 1024
        rows = pd.read_parquet(f"{tmp}/out.parquet", columns=["age"]).shape[0]
    assert rows == 1_000_000
    return [_row("generate 1,000,000 rows x 30 cols to Parquet: peak RSS", peak_mb, 2048.0, "MB", 1.0,
                 higher_is_better=False, detail=f"{seconds:.1f} s, {1e6 / seconds:,.0f} rows/s, gaussian-copula")]


PARTS = [p for p in os.environ.get("SYNTHGEN_BENCH_PARTS", "").split(",") if p]  # e.g. ctgan,smote_family


def run():
    """Yield result rows as each measurement finishes."""
    for part in (smote_nc, copula, ctgan, generate_memory, smote_family, smote_million):
        if not PARTS or part.__name__ in PARTS:
            yield from part()


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
