"""Drift (issue 10): `synthgen drift` on two 1,000,000-row tables of 10 columns in under 2x the time pandas
takes to read them, measured in the same run.

Input: two tables of 1,000,000 rows drawn (with replacement, seeds 1 and 2) from the evalml fraud table
of ../shared/data, 10 columns: a datetime, an integer amount, 164 currencies, a boolean, the fraud target,
an MM/YY expiry date, the provider, lat, lng and the country; written once as CSV to a temporary folder.
The current table's fraud rows get their amount scaled 1.5x, so there is drift to find.

Ours: ``synthgen.drift.drift_files(REFERENCE, CURRENT, target="fraud")`` (what the command runs: read
both with synthgen.io.read_table, detect the kinds of the reference, profile it, read CURRENT as the
reference's kinds, PSI per column over all rows and rare rows, chance levels) with no output files.
Anchor: ``pd.read_csv`` of both files, twice (the 2x budget the issue sets). Each side is timed twice,
alternating, and the faster run is kept (this VM's timings jitter by tens of percent).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

from synthgen.drift import drift_files

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "evalml_fraud_transactions.csv.gz"
COLUMNS = ["datetime", "amount", "currency", "customer_present", "fraud", "expiration_date", "provider", "lat", "lng",
           "country"]
ROWS = 1_000_000
REPEATS = 2


def _write_tables(folder: Path) -> tuple[Path, Path]:
    df = pd.read_csv(DATA)[COLUMNS]
    paths = []
    for seed in (1, 2):
        table = df.sample(ROWS, replace=True, random_state=seed).reset_index(drop=True)
        if seed == 2:
            fraud = table["fraud"].to_numpy()
            table.loc[fraud, "amount"] = (table.loc[fraud, "amount"] * 1.5).round().astype("int64")
        path = folder / f"table_{seed}.csv"
        table.to_csv(path, index=False)
        paths.append(path)
    return paths[0], paths[1]


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench_drift_") as tmp:
        ref, cur = _write_tables(Path(tmp))
        read_times, drift_times, report = [], [], None
        for _ in range(REPEATS):
            t = time.perf_counter()
            pd.read_csv(ref)
            pd.read_csv(cur)
            read_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            report = drift_files(ref, cur, target="fraud")
            drift_times.append(time.perf_counter() - t)
    read, ours = min(read_times), min(drift_times)
    budget = 2 * read
    found = ", ".join(report["significant"]) or "none"
    return [{"measure": f"drift of two {ROWS:,}-row x {len(COLUMNS)}-column CSV tables (evalml fraud resampled; "
                        f"significant: {found}) vs 2x pandas.read_csv of both ({read:.2f} s), best of {REPEATS}",
             "ours": ours, "anchor": budget, "unit": "s", "ratio": budget / ours, "target": 1.0,
             "passed": bool(ours <= budget)}]
