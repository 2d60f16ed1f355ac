"""Tracking and audit (issue 10): `synthgen generate -n 1000000 --track` with the audit log on takes under 1.05x
the same command untracked with the audit log off, measured in the same run.

Input: a SMOTE model fitted on the bundled german credit table (1,000 rows, 21 columns), written to a
temporary folder; MLflow's local sqlite store in that folder (MLFLOW_TRACKING_URI), created by one small
tracked generate first, so the runs measure a store in use, not its one-time creation.

Ours: ``synthgen.cli.main(["generate", MODEL, "-n", "1000000", "--out", FILE.csv, "--track"])``: the whole
command (preflight, the tracking worker, the run logged after the rows are written) and its audit line
(``SYNTHGEN_AUDIT_LOG`` in the folder: the output's sha256, the chained append under the file lock).
Anchor: the same command without ``--track`` and with ``SYNTHGEN_AUDIT_LOG=off``. ``REPEATS`` pairs run in ABBA order;
the ratio is the median of the pairs' anchor/ours (this VM's timings jitter by tens of percent from one
minute to the next, which a pair mostly shares).
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
REPEATS = 9


def _generate(folder: Path, name: str, rows: int, track: bool) -> float:
    out = folder / f"{name}.csv"
    os.environ["SYNTHGEN_AUDIT_LOG"] = str(folder / "audit.jsonl") if track else "off"
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
            for i in range(REPEATS):  # ABBA order: neither side always runs first (warm caches, drift)
                for track in ((False, True) if i % 2 == 0 else (True, False)):
                    (tracked if track else plain).append(_generate(folder, "tracked" if track else "plain", ROWS,
                                                                   track=track))
        finally:
            os.chdir(cwd)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    ours, anchor = statistics.median(tracked), statistics.median(plain)
    ratio = statistics.median(p / t for p, t in zip(plain, tracked))  # per pair: the pair shares the VM's mood
    return [{"measure": f"generate {ROWS:,} rows (smote, german credit) with --track (local sqlite store) and the "
                        f"audit log vs neither ({anchor:.2f} s median): median of {REPEATS} paired ratios (ABBA)",
             "ours": ours, "anchor": anchor, "unit": "s", "ratio": ratio, "target": round(1 / 1.05, 3),
             "passed": bool(ratio >= round(1 / 1.05, 3)),
             "detail": f"untracked, no audit {', '.join(f'{t:.2f}' for t in plain)} s; tracked and audited "
                       f"{', '.join(f'{t:.2f}' for t in tracked)} s"}]
