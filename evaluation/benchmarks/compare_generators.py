"""ARF against gaussian-copula, CTGAN and TVAE on every shared table and the bundled fraud table (issue 12 item 3).

Not a ``bench_*`` file (``make bench`` does not run it): it takes hours on the 2-core VM. Three steps,
each writing under ``--out`` (default ``evaluation/benchmarks/results/compare_generators``, git-ignored):

    python evaluation/benchmarks/compare_generators.py run         # `synthgen compare` per table, one at a time
    python evaluation/benchmarks/compare_generators.py throughput  # sample rows/s, 100,000 rows per generator
    python evaluation/benchmarks/compare_generators.py table       # the markdown table of compare_generators.md

``run`` prints and runs, per table, ``synthgen compare DATA --target T [--protected P] --generators
arf,gaussian-copula,tvae --out OUT/<table>`` and then the same with ``--generators ctgan --out
OUT/<table>-ctgan`` under a 25-minute limit (CTGAN's 300 epochs on thousands of rare rows can take
longer on this VM; a run stopped at the limit is reported as such). Both use the default split (seed 0,
30% holdout), so all four generators are fitted on the same train rows and scored on the same holdout.
The evalml table is used as the tests use it (tests/conftest.py: 19,600 legitimate + 400 fraud rows,
seeded), since its README asks for the fraud rows to be thinned to a truly rare class.

``throughput`` fits each generator on the same train split and times ``sample(100_000)``; CTGAN and
TVAE are fitted with 1 epoch there, as their sampling cost does not depend on the epochs (fit seconds
come from the compare runs, at their default 300 epochs).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "evaluation" / "benchmarks" / "results" / "compare_generators"
FAST = "arf,gaussian-copula,tvae"
CTGAN_LIMIT_S = 25 * 60
THROUGHPUT_ROWS = 100_000
ORDER = ["arf", "gaussian-copula", "ctgan", "tvae"]
SWEEP = (1, 20)  # and 5, the default: the arf rows of the seeds step
SWEEP_TABLES = ("german_credit", "fraud (bundled)")

# name -> (data file, target, protected columns); smallest first
TABLES = {
    "german_credit": (SHARED / "german_credit.csv.gz", "class", ["personal_status_sex"]),
    "fraud (bundled)": (ROOT / "synthgen" / "datasets" / "fraud.csv.gz", "fraud", []),
    "evalml_fraud 2%": (None, "fraud", []),  # written by evalml_rare() into OUT
    "adult_test": (SHARED / "adult_test.csv.gz", "income", ["sex"]),
    "adult": (SHARED / "adult.csv.gz", "income", ["sex"]),
}


def slug(name: str) -> str:
    """The folder name of a table's reports."""
    return name.split(" ")[0]


def evalml_rare(out: Path) -> Path:
    """The evalml table thinned as tests/conftest.py thins it (400 fraud rows in 20,000), written once."""
    path = out / "evalml_fraud_transactions_2pct.csv.gz"
    if not path.exists():
        df = pd.read_csv(SHARED / "evalml_fraud_transactions.csv.gz")
        legit = df[~df["fraud"]].sample(n=19_600, random_state=1)
        fraud = df[df["fraud"]].sample(n=400, random_state=1)
        pd.concat([legit, fraud]).sort_index().reset_index(drop=True).to_csv(path, index=False)
    return path


def data_path(name: str, out: Path) -> Path:
    path = TABLES[name][0]
    return evalml_rare(out) if path is None else path


def commands(out: Path, step: str = "run") -> list[tuple[str, list[str], int | None]]:
    """(table, argv, time limit) of every compare run of a step, in order.

    ``run``: the four generators on seed 0 (CTGAN on its own, under the time limit); ``seeds``: ARF and
    the copula, the two that fit in seconds, on seeds 0, 1 and 2 (mean and std of every figure);
    ``sweep``: ARF's ``min_leaf_rows`` at 1 (no cut) and 20 on the two small tables, seeds 0-2 (the default,
    5, is in ``seeds``).
    """
    synthgen = str(Path(sys.executable).with_name("synthgen"))
    plan = {
        "run": ((FAST, "", None, []), ("ctgan", "-ctgan", CTGAN_LIMIT_S, [])),
        "seeds": (("arf,gaussian-copula", "-seeds", None, ["--seeds", "0,1,2"]),),
        "sweep": tuple(("arf", f"-leaf{k}", None, ["--seeds", "0,1,2", "--param", f"arf:min_leaf_rows={k}"])
                       for k in SWEEP),
    }[step]
    runs = []
    for name, (_, target, protected) in TABLES.items():
        if step == "sweep" and name not in SWEEP_TABLES:
            continue
        data = str(data_path(name, out))
        extra = [arg for col in protected for arg in ("--protected", col)]
        for gens, suffix, limit, more in plan:
            runs.append((name, [synthgen, "compare", data, "--target", target, *extra, "--generators", gens, *more,
                                "--out", str(out / f"{slug(name)}{suffix}"), "--force"], limit))
    return runs


def run(out: Path, step: str = "run") -> None:
    """Every compare run of a step, one after another; a log line per run with its wall time or its time-out."""
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    for name, argv, limit in commands(out, step):
        print("$", shlex.join(argv), flush=True)
        start = time.perf_counter()
        try:
            rc = subprocess.run(argv, timeout=limit).returncode
            status = f"exit {rc}"
        except subprocess.TimeoutExpired:
            status = f"stopped at the {limit // 60}-minute limit"
        entry = {"table": name, "command": shlex.join(argv), "status": status,
                 "wall_s": round(time.perf_counter() - start, 1)}
        with log.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
        print(entry, flush=True)


def throughput(out: Path) -> None:
    """Rows/s of sample(100,000) per generator and table, fitted on the compare's train split."""
    from synthgen.models import make_generator
    from synthgen.pipeline import decide_schema, split_table, train_schema

    results = {}
    for name, (_, target, _) in TABLES.items():
        df = pd.read_csv(data_path(name, out))
        train, _, _ = split_table(df, target, 0.3, 0)
        schema = train_schema(train, decide_schema(df, target))
        for gen_name in ORDER:
            params = {"epochs": 1, "verbose": False} if gen_name in ("ctgan", "tvae") else {}
            gen = make_generator(gen_name, random_state=0, **params).fit(train, target=target, schema=schema)
            start = time.perf_counter()
            rows = gen.sample(THROUGHPUT_ROWS)
            seconds = time.perf_counter() - start
            assert len(rows) == THROUGHPUT_ROWS
            results[f"{name}|{gen_name}"] = round(THROUGHPUT_ROWS / seconds)
            print(name, gen_name, results[f"{name}|{gen_name}"], "rows/s", flush=True)
    (out / "throughput.json").write_text(json.dumps(results, indent=1))


def _fmt(v: float | None, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _row(name: str, folder: Path, gen: str, fit_s: float | None, rate: int | None) -> str:
    card = json.loads((folder / "scorecards" / f"{gen}-seed0.json").read_text())
    verdict = json.loads((folder / "verdicts" / f"{gen}-seed0.json").read_text())
    m, sub = card["metrics"], card["subscores"]
    vs = card["details"]["utility"]["vs_best_alternative"]["pr_auc"]
    lo, hi = vs["ci95"]
    privacy_rules = [r for r in verdict["rules"] if r["metric"].startswith(("leakage.", "privacy."))
                     and r["status"] != "not measured"]  # optional rules without a secret column
    failed = [r["metric"].split(".", 1)[1] for r in privacy_rules if r["status"] != "pass"]
    privacy = f"{len(privacy_rules) - len(failed)}/{len(privacy_rules)} pass" + (f" (fails {', '.join(failed)})" if failed else "")
    gate = "PASS" if verdict["passed"] else "FAIL"
    return (f"| {name} | {gen} | {card['quality_score']:.1f} | {_fmt(sub['realism'])} | {_fmt(sub['utility'])} | "
            f"{_fmt(sub['privacy'])} | {_fmt(sub['fairness'])} | {m['realism.column_shapes']['value']:.3f} | "
            f"{m['realism.column_pairs']['value']:.3f} | {m['realism.detection_auc']['value']:.3f} | "
            f"{vs['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] vs {vs['best']} ({vs['verdict']}) | "
            f"{m['leakage.mia_auc']['value']:.3f} | {privacy} | {_fmt(fit_s, 2 if (fit_s or 0) < 10 else 0)} | "
            f"{'–' if rate is None else f'{rate:,}'} | {gate} |")


def table(out: Path) -> None:
    """The markdown table from the compare folders, the run log and throughput.json."""
    rates = json.loads((out / "throughput.json").read_text()) if (out / "throughput.json").exists() else {}
    log = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()] if (out / "runs.jsonl").exists() else []
    print("| table | generator | quality | realism | utility | privacy | fairness | column shapes | column pairs | "
          "detection AUC | PR-AUC vs best alternative [95% CI] | MIA AUC | privacy rules | fit s | sample rows/s | gate |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---|")
    for name in TABLES:
        for gen in ORDER:
            folder = out / (slug(name) + ("-ctgan" if gen == "ctgan" else ""))
            if not (folder / "compare.json").exists():
                status = next((e["status"] for e in log if e["table"] == name and ("ctgan" in e["command"].split("--generators ")[1].split()[0]) == (gen == "ctgan")), "not run")
                print(f"| {name} | {gen} | {status} |" + " |" * 13)
                continue
            timings = json.loads((folder / "compare.json").read_text())["timings"]["runs"].get(f"{gen}-seed0", {})
            print(_row(name, folder, gen, timings.get("fit_s"), rates.get(f"{name}|{gen}")))
    print()
    seeds_table(out)
    print()
    seeds_table(out, sweep=True)


def _pm(stats: dict, digits: int) -> str:
    if stats.get("mean") is None:
        return "–"
    std = stats.get("std")
    return f"{stats['mean']:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


def seeds_table(out: Path, sweep: bool = False) -> None:
    """ARF and the copula (or ARF per ``min_leaf_rows``) over seeds 0-2: mean ± std (ddof 1) from compare.json."""
    print("| table | generator | gate passed | quality | realism | utility | privacy | column pairs | "
          "detection AUC | MIA AUC | PR-AUC vs best alternative |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    suffixes = [(f"-leaf{k}", f" min_leaf_rows={k}") for k in SWEEP] + [("-seeds", " min_leaf_rows=5")] \
        if sweep else [("-seeds", "")]
    for name in [t for t in TABLES if not sweep or t in SWEEP_TABLES]:
        for suffix, label in suffixes:
            path = out / f"{slug(name)}{suffix}" / "compare.json"
            if path.exists():
                _seed_rows(name, json.loads(path.read_text()), label, only="arf" if sweep else None)
            elif not sweep:
                print(f"| {name} | not run |" + " |" * 9)


def _seed_rows(name: str, data: dict, label: str, only: str | None = None) -> None:
    for entry in data["leaderboard"]:
        if only and entry["generator"] != only:
            continue
        sub, m = entry["subscores"], entry["metrics"]
        print(f"| {name} | {entry['generator']}{label} | {entry['gate_passed_seeds']}/{entry['seeds']} | "
              f"{_pm(entry['quality_score'], 1)} | {_pm(sub['realism'], 3)} | {_pm(sub['utility'], 3)} | "
              f"{_pm(sub['privacy'], 3)} | {_pm(m['realism.column_pairs'], 3)} | "
              f"{_pm(m['realism.detection_auc'], 3)} | {_pm(m['leakage.mia_auc'], 3)} | "
              f"{_pm(m['utility.pr_auc_vs_best_alternative'], 3)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["run", "seeds", "sweep", "throughput", "table", "commands"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.step == "commands":
        for step in ("run", "seeds", "sweep"):
            for _, argv, limit in commands(args.out, step):
                print(("timeout 1500 " if limit else "") + shlex.join(argv))
    elif args.step in ("seeds", "sweep"):
        run(args.out, args.step)
    else:
        {"run": run, "throughput": throughput, "table": table}[args.step](args.out)


if __name__ == "__main__":
    main()
