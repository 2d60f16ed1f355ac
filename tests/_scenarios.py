"""Seeded scenario tables for the evaluation and gate tests: a copula-like generator, random rows, splits.

The copula-like sampler stands in for a reasonable generator (per-column empirical marginals
interpolated between real values, correlations through normal scores), so the gate tests do
not depend on synthgen.models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from synthgen.schema import Schema


def split(df: pd.DataFrame, target: str, frac: float = 0.3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified, seeded train/holdout split."""
    rng = np.random.default_rng(seed)
    hold = np.zeros(len(df), dtype=bool)
    for _, idx in df.groupby(target).indices.items():
        idx = np.asarray(idx)
        hold[rng.choice(idx, size=int(round(frac * len(idx))), replace=False)] = True
    return df[~hold].reset_index(drop=True), df[hold].reset_index(drop=True)


def _category_uniforms(key: pd.Series, rng: np.random.Generator) -> np.ndarray:
    freq = key.value_counts(normalize=True).sort_index()
    start = freq.cumsum() - freq
    return start[key].to_numpy() + freq[key].to_numpy() * rng.uniform(size=len(key))


def copula_sample(train: pd.DataFrame, target: str, label, n: int, seed: int = 0) -> pd.DataFrame:
    """n synthetic rare rows: normal-score correlations of the real rare rows, empirical marginals."""
    rng = np.random.default_rng(seed)
    schema = Schema.detect(train, target)
    rare = train[train[target] == label].reset_index(drop=True)
    specs = [s for s in schema.features() if s.kind.is_modelled]
    uniforms = []
    for spec in specs:
        if spec.kind.is_numeric:
            x = schema.to_numeric(spec, rare[spec.name])
            u = pd.Series(x).rank(method="average").to_numpy() / (np.sum(~np.isnan(x)) + 1)
            uniforms.append(np.where(np.isnan(u), 0.5, u))
        else:
            uniforms.append(_category_uniforms(rare[spec.name].astype(str), rng))
    z = norm.ppf(np.clip(np.column_stack(uniforms), 1e-6, 1 - 1e-6))
    corr = np.corrcoef(z, rowvar=False) + 1e-6 * np.eye(z.shape[1])
    u = norm.cdf(rng.multivariate_normal(np.zeros(len(specs)), corr, size=n, method="cholesky"))
    out: dict[str, np.ndarray] = {}
    for j, spec in enumerate(specs):
        column = rare[spec.name]
        if spec.kind.is_numeric:
            x = schema.to_numeric(spec, column)
            miss = float(np.isnan(x).mean())
            x = np.sort(x[~np.isnan(x)])
            values = np.interp(u[:, j] * (len(x) - 1), np.arange(len(x)), x)
            if miss > 0:
                values[rng.uniform(size=n) < miss] = np.nan
            out[spec.name] = schema.restore_column(spec, values).to_numpy()
        else:
            key = column.astype(str)
            freq = key.value_counts(normalize=True).sort_index()
            original = dict(zip(key, column))
            idx = np.minimum(np.searchsorted(freq.cumsum().to_numpy(), u[:, j]), len(freq) - 1)
            out[spec.name] = np.array([original[freq.index[i]] for i in idx], dtype=object)
            if train[spec.name].dtype != object:
                out[spec.name] = out[spec.name].astype(train[spec.name].dtype)
    result = pd.DataFrame(index=range(n))
    for spec in schema.columns:
        if spec.name == target:
            result[target] = pd.Series([label] * n, dtype=train[target].dtype)
        elif spec.name in out:
            result[spec.name] = out[spec.name]
        elif pd.api.types.is_numeric_dtype(train[spec.name]):  # identifiers: fresh values
            result[spec.name] = -1 - np.arange(n)
        else:
            result[spec.name] = [f"SYN-{i}" for i in range(n)]
    return result[list(train.columns)]


def random_sample(train: pd.DataFrame, target: str, label, n: int, seed: int = 0) -> pd.DataFrame:
    """n rows in the right schema with uniform random numbers within range and uniform random categories."""
    rng = np.random.default_rng(seed)
    schema = Schema.detect(train, target)
    result = pd.DataFrame(index=range(n))
    for spec in schema.columns:
        column = train[spec.name]
        if spec.name == target:
            result[spec.name] = pd.Series([label] * n, dtype=column.dtype)
        elif spec.kind.is_numeric:
            values = rng.uniform(spec.minimum, spec.maximum, size=n)
            result[spec.name] = schema.restore_column(spec, values).to_numpy()
        elif spec.kind.is_categorical:
            cats = pd.unique(column.dropna())
            result[spec.name] = cats[rng.integers(0, len(cats), n)]
        else:
            result[spec.name] = column.sample(n, replace=True, random_state=seed).to_numpy()
    return result[list(train.columns)]


def german_setup():
    """German credit split 70/30 (stratified, seeded): (train, holdout, target, label, protected)."""
    from synthgen.datasets import load_german_credit

    train, holdout = split(load_german_credit(), "class")
    return train, holdout, "class", 2, ["personal_status_sex"]


def fraud_setup(legit: int = 9_000):
    """Bundled fraud table: all 1,000 fraud rows + a seeded sample of legit rows, split 70/30."""
    from synthgen.datasets import load_fraud

    df = load_fraud()
    df = pd.concat([df[df["fraud"]], df[~df["fraud"]].sample(legit, random_state=0)]).sort_index()
    train, holdout = split(df.reset_index(drop=True), "fraud")
    return train, holdout, "fraud", True, []


def fitted_model(root, table: pd.DataFrame, target: str, generator: str, name: str):
    """Write ``table`` to ROOT/NAME and `synthgen fit` it into ROOT/model (a quick generator); return ROOT."""
    from synthgen.cli import main

    table.to_csv(root / name, index=False)
    assert main(["fit", str(root / name), "--target", target, "--generator", generator,
                 "--out", str(root / "model")]) == 0
    return root
