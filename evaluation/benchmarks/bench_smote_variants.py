"""polynom-fit-smote and prowsyn against the ``smote_variants`` package they follow (issue 12, item 4).

Input: a numeric table of 20,000 rows: the six numeric columns of the shared Adult table (19,000 rows
with income <=50K and 1,000 with >50K, seeded), or, without ../shared/data, the bundled fraud table's
numbers (amount, lat, lng; 19,000 + 1,000 rows). Ours: ``make_generator(name).fit(df)`` then
``sample(N)`` (rows in the original schema, dtypes restored); the package: ``sample(X, y)`` on the same
rows encoded as our generator encodes them (ProWSyn: the rows it stores, ``_imblearn_input``: rare rows plus
its seeded sample of 5,000 other rows; polynom-fit: the whole table, of which it reads the rare rows), asked
for the same N new rows. rows/s = N / seconds, best of 3 alternating runs; ratio
ours / package. Each row's detail also says whether our rows equal the package's for the same draws
(ProWSyn: ``RandomState(0)``; polynom-fit star: deterministic, N a multiple of the rare rows).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from synthgen.datasets import load_fraud
from synthgen.models import make_generator

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
N = 50_000  # a multiple of the 1,000 rare rows: polynom-fit's star grid is then the package's own
REPEATS = 3
TARGET = 0.8  # as for the imbalanced-learn SMOTE family: no slower than the reference, give or take jitter


def numeric_table() -> tuple[pd.DataFrame, str, str]:
    """20,000 rows of numbers and a label (1,000 rare), seeded; the table's name."""
    path = SHARED / "adult.csv.gz"
    if path.exists():
        df = pd.read_csv(path)
        df = df[["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week", "income"]]
        target, rare, name = "income", df["income"] == ">50K", "adult (6 numeric columns)"
    else:
        df = load_fraud()[["amount", "lat", "lng", "fraud"]]
        target, rare, name = "fraud", df["fraud"], "bundled fraud (amount, lat, lng)"
    parts = [df[~rare].sample(n=19_000, random_state=0), df[rare].sample(n=1_000, random_state=0)]
    return pd.concat(parts).sort_index().reset_index(drop=True), target, name


def _package_input(gen, df: pd.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows the package gets: ProWSyn the stored rows (rare + the seeded sample of other rows),
    polynom-fit the whole encoded table (it reads only the rare rows; the others set the count)."""
    if hasattr(gen, "_imblearn_input"):
        return gen._imblearn_input(gen.states_[0])
    rare = gen.classes_[0]
    return gen.encoder_.transform(df).numeric, (df[target] == rare).to_numpy().astype(int)


def _package(name: str, gen, X: np.ndarray, y: np.ndarray, n: int, seed: int):
    """The package's sampler for ``name``, asked for n new rows of the stored rows X, y."""
    import smote_variants as sv

    proportion = n / int((y == 0).sum() - (y == 1).sum())
    if name == "prowsyn":
        return lambda: sv.ProWSyn(proportion=proportion, n_neighbors=gen.k_neighbors, L=gen.n_levels,
                                  theta=gen.theta, random_state=np.random.RandomState(seed)).sample(X, y)
    return lambda: sv.polynom_fit_SMOTE_star(proportion=proportion).sample(X, y)


def _same_rows(name: str, gen, new: np.ndarray, seed: int) -> bool:
    """Whether our rows for the package's draws equal the package's (numeric table: no categories)."""
    state = gen.states_[0]
    ours = gen._rows(state, len(new), seed)
    return bool(np.array_equal(ours.numeric, new[:, : gen.encoder_.n_numeric]))


def run():
    """Yield one row per generator: rows/s of fit + sample(N) against the package's sample for N rows."""
    warnings.filterwarnings("ignore", module="smote_variants")
    import smote_variants  # noqa: F401  (imported before timing: ~4 s of its own imports)

    logging.getLogger("smote_variants").setLevel(logging.WARNING)  # it logs each call at INFO (set on import)

    df, target, table = numeric_table()
    for name in ("polynom-fit-smote", "prowsyn"):
        make_generator(name, random_state=0).fit(df, target=target).sample(10)  # warm
        timings = {"fit": np.inf, "sample": np.inf, "package": np.inf}
        for _ in range(REPEATS):  # alternate ours and theirs, keep each one's best
            start = time.perf_counter()
            gen = make_generator(name, random_state=0).fit(df, target=target)
            fitted = time.perf_counter()
            out = gen.sample(N)
            timings["fit"] = min(timings["fit"], fitted - start)
            timings["sample"] = min(timings["sample"], time.perf_counter() - fitted)
            X, y = _package_input(gen, df, target)
            package = _package(name, gen, X, y, N, 0)
            start = time.perf_counter()
            X_res, _ = package()
            timings["package"] = min(timings["package"], time.perf_counter() - start)
        assert len(out) == N
        new = X_res[len(X):]
        made = len(new)
        levels = (f"; levels of {gen.states_[0]['prowsyn_sizes'].tolist()} rare rows" if name == "prowsyn" else "")
        ours_rate = N / (timings["fit"] + timings["sample"])
        anchor_rate = made / timings["package"]
        yield {"measure": f"{name} rows/s, fit+sample {N:,}, {table}", "ours": ours_rate, "anchor": anchor_rate,
               "unit": "rows/s", "ratio": ours_rate / anchor_rate, "target": f">= {TARGET}",
               "passed": bool(ours_rate / anchor_rate >= TARGET),
               "detail": (f"ours fit {timings['fit']:.2f}s + sample {timings['sample']:.2f}s "
                          f"(sample alone {N / timings['sample']:,.0f} rows/s); "
                          f"smote_variants {timings['package']:.2f}s for {made:,} rows; "
                          f"same rows for the same draws: {_same_rows(name, gen, new, 0)}{levels}")}


if __name__ == "__main__":
    print(json.dumps(list(run()), indent=2))
