"""`synthgen demo`: the main job on the bundled fraud table, end to end."""

from __future__ import annotations

import time
from pathlib import Path

from .datasets import load_fraud
from .io import write_table
from .pipeline import fit_table

__all__ = ["run_demo", "DEMO_GENERATORS"]

DEMO_GENERATORS = {
    "smote": {},
    "smote-nc": {},
    "gaussian-copula": {},
    "ctgan": {"epochs": 30, "verbose": False},
}


def run_demo(out: Path, *, seed: int = 0, n: int = 1_000) -> Path:
    """Fit each demo generator on the train split of the bundled fraud table and write n rows of each."""
    out.mkdir(parents=True, exist_ok=True)
    df = load_fraud()
    for name, params in DEMO_GENERATORS.items():
        start = time.perf_counter()
        gen, _ = fit_table(df, "fraud", name, params=dict(params), seed=seed)
        rows = gen.sample(n)
        path = write_table(rows, out / f"{name}.csv", force=True)
        print(f"{name:>16}: fitted and sampled {len(rows):,} rows in {time.perf_counter() - start:.1f} s -> {path}")
    return out
