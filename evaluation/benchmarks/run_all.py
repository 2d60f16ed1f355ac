"""Run every benchmark (bench_*.py) and print one table of ratios against anchors measured in the same run.

Each module exposes ``run()`` returning or yielding dicts (printed as they arrive); a row has: benchmark, measure, ours, anchor,
unit, ratio (ours vs anchor, > 1 means better for us), target (the ratio the issue asks for)
and passed. Results go to evaluation/benchmarks/results/latest.json. Exit 1 if a target is missed.

    python -m evaluation.benchmarks.run_all [NAME ...]
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    names = argv if argv is not None else sys.argv[1:]
    modules = sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))
    if names:
        modules = [m for m in modules if any(n in m for n in names)]
    rows: list[dict] = []
    failed: list[str] = []
    for name in modules:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            module = importlib.import_module(f"evaluation.benchmarks.{name}")
            for row in module.run():
                row.setdefault("benchmark", name)
                rows.append(row)
                print(_fmt(row), flush=True)
        except Exception as exc:  # one broken benchmark must not hide the others' results
            print(f"   FAILED: {type(exc).__name__}: {exc}", flush=True)
            failed.append(name)
        print(f"   ({time.perf_counter() - start:.0f} s)", flush=True)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(rows, indent=2))
    print("\n" + markdown_table(rows))
    return 0 if not failed and all(r.get("passed", True) for r in rows) else 1


def _fmt(row: dict) -> str:
    verdict = "ok" if row.get("passed", True) else "MISSED"
    detail = f" [{row['detail']}]" if row.get("detail") else ""
    return (
        f"   {row['measure']}: ours {row['ours']:.4g} vs anchor {row['anchor']:.4g} {row.get('unit', '')} "
        f"-> ratio {row['ratio']:.2f} (target {row.get('target', '-')}) {verdict}{detail}"
    )


def markdown_table(rows: list[dict]) -> str:
    lines = ["| benchmark | measure | ours | anchor | unit | ratio | target | result |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['benchmark']} | {r['measure']} | {r['ours']:.4g} | {r['anchor']:.4g} | {r.get('unit', '')} | "
            f"{r['ratio']:.2f} | {r.get('target', '-')} | {'pass' if r.get('passed', True) else 'MISSED'} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
