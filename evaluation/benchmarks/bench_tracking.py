"""Tracking (issue 10): `synthgen generate -n 1000000 --track` takes under 1.05x the same command untracked,
measured in the same run.

Input: a SMOTE model fitted on the bundled german credit table (1,000 rows, 21 columns), written to a
temporary folder; MLflow's local sqlite store in that folder (MLFLOW_TRACKING_URI), created by one small
tracked generate first, so the runs measure a store in use, not its one-time creation.

Ours: ``synthgen.cli.main(["generate", MODEL, "-n", "1000000", "--out", FILE.csv, "--track"])``: the whole
command (preflight, the tracking worker, the run logged after the rows are written). Anchor: the same
command without ``--track``. Runs alternate (untracked, tracked) ``REPEATS`` times; the median of each
side is kept (this VM's timings jitter by tens of percent). Audit log off for both.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from synthgen.cli import main
from synthgen.datasets import load_german_credit

ROWS = 1_000_000
REPEATS = 3


def _generate(folder: Path, name: str, rows: int, track: bool) -> float:
    out = folder / f"{name}.csv"
    start = time.perf_counter()
    code = main(["generate", str(folder / "model"), "-n", str(rows), "--out", str(out), "--no-progress", "--force",
                 *(["--track"] if track else [])])
    seconds = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"generate exited {code}")
    return seconds


def run() -> list[dict]:
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "SYNTHGEN_AUDIT_LOG", "SYNTHGEN_TRACK")}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="bench_tracking_") as tmp:
        folder = Path(tmp)
        try:
            os.chdir(folder)  # MLflow's artifacts (./mlruns) stay in the temporary folder
            os.environ.update(MLFLOW_TRACKING_URI=f"sqlite:///{folder / 'mlflow.db'}", SYNTHGEN_AUDIT_LOG="off",
                              SYNTHGEN_TRACK="0")
            load_german_credit().to_csv(folder / "german.csv", index=False)
            if main(["fit", str(folder / "german.csv"), "--target", "class", "--generator", "smote",
                     "--out", str(folder / "model")]) != 0:
                raise RuntimeError("fit failed")
            _generate(folder, "warmup", 1_000, track=True)  # creates the store and the experiment
            plain, tracked = [], []
            for _ in range(REPEATS):
                plain.append(_generate(folder, "plain", ROWS, track=False))
                tracked.append(_generate(folder, "tracked", ROWS, track=True))
        finally:
            os.chdir(cwd)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    ours, anchor = statistics.median(tracked), statistics.median(plain)
    budget = 1.05 * anchor
    return [{"measure": f"generate {ROWS:,} rows (smote, german credit) with --track (local sqlite store) vs "
                        f"without ({anchor:.2f} s), median of {REPEATS} alternating runs",
             "ours": ours, "anchor": anchor, "unit": "s", "ratio": anchor / ours, "target": round(1 / 1.05, 3),
             "passed": bool(ours <= budget),
             "detail": f"untracked {', '.join(f'{t:.2f}' for t in plain)} s; tracked "
                       f"{', '.join(f'{t:.2f}' for t in tracked)} s"}]
