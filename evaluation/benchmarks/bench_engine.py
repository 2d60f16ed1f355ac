"""The engines past one machine (issue 11): `generate` throughput and peak memory at 10,000,000 rows with the
local engine and with Ray on 1 and 2 workers, and `evaluate` local vs Ray on 2 workers.

Input: the bundled fraud table (50,000 rows, 14 columns), fitted once per generator (gaussian-copula,
smote). Each command runs as its own process (`synthgen generate MODEL -n 10000000 --out DIR`: a Parquet
dataset folder, one file per block, the same for every engine), while a sampler reads /proc every 0.2 s:
the command's own peak RSS (the driver) and the peaks of the sums over it and every process below it (with
Ray: the local Ray it starts, its raylet, GCS, agents and workers), of RSS and of PSS (shared pages split
among the processes that map them: the memory the tree uses together). Targets:
- memory (issue 11 item 5): the command under 1 GB with either engine (``generate -n 10000000 runs in under
  1 GB peak``); the whole Ray process tree is reported beside it (Ray's own services take several hundred MB
  before any work, on any machine);
- throughput: rows/s reported for each engine, the Ray ones as a ratio to the local engine (no target: on
  this 2-core VM Ray's workers share the cores with the driver that writes the files);
- evaluate: 200,000 synthetic rows against the model's split, local vs `--engine ray --workers 2`, reported
  (the scorecards are byte-identical: tests/test_engine_ray.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from synthgen.datasets import load_fraud

ROWS = 10_000_000
EVALUATE_ROWS = 200_000
GENERATORS = ("gaussian-copula", "smote")
ENGINES = (("local", []), ("ray, 1 worker", ["--engine", "ray", "--workers", "1"]),
           ("ray, 2 workers", ["--engine", "ray", "--workers", "2"]))
BUDGET_MB = 1024.0
EXE = str(Path(sys.executable).with_name("synthgen"))


def _proc_mb(pid: int, file: str, key: str) -> float:
    """A ``key: N kB`` line of /proc/PID/FILE in MB (0 when the process is gone)."""
    try:
        with open(f"/proc/{pid}/{file}", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _rss_mb(pid: int) -> float:
    return _proc_mb(pid, "status", "VmRSS:")


def _pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (libraries, Ray's object store) split among the processes that
    map them, so a sum over processes is the memory they use together (a sum of RSS counts them again)."""
    return _proc_mb(pid, "smaps_rollup", "Pss:")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _tree(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def _measured(args: list[str]) -> tuple[float, float, float, float]:
    """(wall seconds, the command's peak RSS MB, the peak of the RSS sum over it and every process below
    it, the peak of their PSS sum), in MB."""
    env = {**os.environ, "SYNTHGEN_AUDIT_LOG": "off", "TQDM_DISABLE": "1"}
    env.pop("RAY_ADDRESS", None)  # a local Ray of --workers CPUs, started and stopped by the command
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    peaks = [0.0, 0.0, 0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peaks[0] = max(peaks[0], _rss_mb(proc.pid))
            tree = _tree(proc.pid)
            peaks[1] = max(peaks[1], sum(_rss_mb(p) for p in tree))
            peaks[2] = max(peaks[2], sum(_pss_mb(p) for p in tree))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[1:4])}... exited {proc.returncode}: {err.strip()[-500:]}")
    return seconds, peaks[0], peaks[1], peaks[2]


def run():
    """Yield rows as each measurement finishes."""
    with tempfile.TemporaryDirectory(prefix="bench_engine_") as tmp_name:
        tmp = Path(tmp_name)
        load_fraud().to_csv(tmp / "fraud.csv", index=False)
        for gen in GENERATORS:
            model = tmp / f"model-{gen}"
            subprocess.run([EXE, "fit", str(tmp / "fraud.csv"), "--target", "fraud", "--generator", gen, "--out",
                            str(model)], check=True, capture_output=True, env={**os.environ, "SYNTHGEN_AUDIT_LOG": "off"})
            local = None
            for label, extra in ENGINES:
                out = tmp / f"rows-{gen}-{label.replace(' ', '').replace(',', '-')}"
                seconds, peak, tree, tree_pss = _measured(
                    [EXE, "generate", str(model), "-n", str(ROWS), "--out", str(out), "--no-progress", *extra])
                rate = ROWS / seconds
                local = local or rate
                detail = (f"{seconds:.1f} s; the whole process tree at its peak: RSS sum {tree:,.0f} MB, PSS sum "
                          f"{tree_pss:,.0f} MB")
                yield {"measure": f"generate {ROWS:,} rows ({gen}, Parquet dataset folder), {label}: peak RSS of "
                                  f"the command", "ours": peak, "anchor": BUDGET_MB, "unit": "MB",
                       "ratio": BUDGET_MB / peak, "target": ">= 1 (1 GB)", "passed": peak <= BUDGET_MB, "detail": detail}
                if label != "local":
                    yield {"measure": f"generate {ROWS:,} rows ({gen}), {label}: PSS of the whole tree (the command, "
                                      "the local Ray it starts, its services and workers)", "ours": tree_pss,
                           "anchor": BUDGET_MB, "unit": "MB", "ratio": BUDGET_MB / tree_pss, "target": ">= 1 (1 GB)",
                           "passed": tree_pss <= BUDGET_MB, "detail": f"RSS sum {tree:,.0f} MB"}
                    yield {"measure": f"generate {ROWS:,} rows ({gen}), {label} vs the local engine: rows/s",
                           "ours": rate, "anchor": local, "unit": "rows/s", "ratio": rate / local,
                           "target": "(reported)"}
                else:
                    yield {"measure": f"generate {ROWS:,} rows ({gen}), local engine: rows/s", "ours": rate,
                           "anchor": rate, "unit": "rows/s", "ratio": 1.0, "target": "(reported)"}
        model = tmp / "model-gaussian-copula"
        syn = tmp / "syn.csv"
        subprocess.run([EXE, "generate", str(model), "-n", str(EVALUATE_ROWS), "--out", str(syn), "--no-progress"],
                       check=True, capture_output=True, env={**os.environ, "SYNTHGEN_AUDIT_LOG": "off"})
        times = {}
        for label, extra in (ENGINES[0], ENGINES[2]):
            card = tmp / f"card-{label[:3]}.json"
            times[label] = _measured([EXE, "evaluate", str(model), "--data", str(tmp / "fraud.csv"), "--synthetic",
                                      str(syn), "--out", str(card), "--quiet", *extra])[0]
        same = (tmp / "card-loc.json").read_bytes() == (tmp / "card-ray.json").read_bytes()
        yield {"measure": f"evaluate {EVALUATE_ROWS:,} synthetic rows (gaussian-copula, bundled fraud): Ray on 2 "
                          "workers vs local, seconds (scorecards byte-identical: " + ("yes" if same else "NO") + ")",
               "ours": times["ray, 2 workers"], "anchor": times["local"], "unit": "s",
               "ratio": times["local"] / times["ray, 2 workers"], "target": "(reported)", "passed": same}


if __name__ == "__main__":
    for row in run():
        print(row)
