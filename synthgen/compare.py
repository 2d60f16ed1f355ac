"""Compare generators side by side on one split: fit, sample, evaluate, gate; then a leaderboard and reports.

    result = run_compare(load_fraud(), "fraud", ["smote", "gaussian-copula"], out=Path("reports/cmp"))
    result.best, result.leaderboard[0]["quality_score"]["mean"]

How a comparison is run (and written to ``compare.json``):

- one stratified split of ``df`` with ``seeds[0]`` (``split_table``); every generator is fitted on the
  same train rows and asked for the same ``n`` rows (default: as many rows as the rare classes have
  in train, i.e. the synthetic set doubles the rare class);
- for each seed ``k``: the generator is built with ``random_state=k``, fitted, sampled, scored with
  ``evaluate(..., random_state=k)`` on the real holdout, and checked by the gate policy;
- several seeds give the mean and the sample standard deviation (ddof 1; ``null`` with one seed) of the
  quality score, the sub-scores and every metric;
- a generator that fails (``SynthgenError``, e.g. KMeans-SMOTE's "found no cluster") is recorded as failed
  with its one-line error at the stage it failed; the others go on;
- ranking: generators that pass the gate on every seed first, then those that fail it, then those that
  errored; within each group by mean quality score (higher first), then by name. The first generator is
  recommended only when it passes the gate.

Everything in ``compare.json`` is deterministic for the same data, settings and seeds, except the
``"timings"`` key (wall-clock seconds), which is kept apart for that reason. The report folder is built
in a temporary folder beside ``out`` and renamed into place at the end, so a crash never leaves a
half-written report.
"""

from __future__ import annotations

import json
import math
import numbers
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from .exceptions import ParameterError, SynthgenError, UsageError, one_line
from .io import atomic_dir, sha256_frame
from .versions import synthgen_version

__all__ = ["run_compare", "compare_from_scorecards", "CompareResult", "COMPARE_VERSION", "rank_generators"]

COMPARE_VERSION = 1
STAGES = ("fit", "sample", "evaluate", "gate")


@dataclass
class CompareResult:
    """What ``run_compare`` produced: the compare document, the scorecards and where the report lies."""

    data: dict  # compare.json, timings included (under "timings")
    out: Path
    scorecards: dict[str, Any] = field(default_factory=dict, repr=False)  # "<gen>-seed<k>" -> Scorecard
    verdicts: dict[str, Any] = field(default_factory=dict, repr=False)  # "<gen>-seed<k>" -> Verdict

    @property
    def leaderboard(self) -> list[dict]:
        return self.data["leaderboard"]

    @property
    def best(self) -> str | None:
        return self.data["best"]["generator"]

    @property
    def best_reason(self) -> str:
        return self.data["best"]["reason"]

    @property
    def runs(self) -> list[dict]:
        return self.data["runs"]

    @property
    def timings(self) -> dict:
        return self.data["timings"]

    @property
    def index_html(self) -> Path:
        return self.out / "index.html"

    def deterministic_dict(self) -> dict:
        """compare.json without the wall-clock timings."""
        return {k: v for k, v in self.data.items() if k != "timings"}


# ----------------------------------------------------------------------------------------- helpers


def _num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def _round(v: float | None) -> float | None:
    return None if v is None else float(f"{v:.12g}")


def _stats(values: Sequence[float | None]) -> dict:
    """mean and sample std (ddof 1) of the values present; std is null with fewer than two."""
    vals = [v for v in (_num(x) for x in values) if v is not None]
    mean = statistics.fmean(vals) if vals else None
    std = statistics.stdev(vals) if len(vals) >= 2 else None
    return {"mean": _round(mean), "std": _round(std), "n": len(vals), "values": [_round(_num(x)) for x in values]}


def _one_line(exc: BaseException) -> str:
    """The error as shown in the report; anything not raised on purpose is marked an internal error."""
    text = one_line(exc) or type(exc).__name__
    if not isinstance(exc, SynthgenError):
        text = f"internal error: {type(exc).__name__}: {text}"
    return text


def _fmt_sub(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def _reason(entry: dict) -> str:
    sub = {k: (v or {}).get("mean") for k, v in entry["subscores"].items()}
    parts = ", ".join(f"{k} {_fmt_sub(sub.get(k))}" for k in ("privacy", "realism", "utility", "fairness")
                      if sub.get(k) is not None)
    q = entry["quality_score"]["mean"]
    return f"highest quality score ({q:.1f}) among generators that pass the gate; {parts}"


def rank_generators(entries: list[dict]) -> list[dict]:
    """Sort leaderboard entries: gate passed, gate failed, errored; then mean quality (desc), then name."""
    def key(e: dict):
        group = 0 if e["gate"] == "PASS" else (1 if e["gate"] == "FAIL" or e["seeds_ok"] else 2)
        q = e["quality_score"]["mean"]
        return (group, -(q if q is not None else -1.0), e["generator"])

    ranked = sorted(entries, key=key)
    for i, e in enumerate(ranked, start=1):
        e["rank"] = i
    return ranked


def _check_inputs(df: pd.DataFrame, target: str, generators: Sequence[str], n: int | None,
                  protected: Sequence[str] | None, seeds: Sequence[int], params: dict | None) -> None:
    from .models import make_generator

    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"data: expected a pandas DataFrame, found {type(df).__name__}")
    if target not in df.columns:
        raise UsageError(f"--target: column '{target}' not found; columns: {', '.join(map(str, df.columns))}")
    if isinstance(generators, str) or not generators:
        raise UsageError("--generators: expected a list of one or more generator names")
    dup = sorted({g for g in generators if list(generators).count(g) > 1})
    if dup:
        raise UsageError(f"--generators: {', '.join(dup)} given more than once")
    for col in protected or []:
        if col not in df.columns:
            raise UsageError(f"--protected: column '{col}' not found")
        if col == target:
            raise UsageError(f"--protected: '{col}' is the target")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ParameterError(f"-n: expected a whole number >= 1, got {n!r}")
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ParameterError(f"--seeds: expected one or more whole numbers >= 0, got {list(seeds)!r}")
    if len(set(seeds)) != len(seeds):
        raise ParameterError(f"--seeds: {list(seeds)!r} repeats a seed")
    params = params or {}
    extra = [g for g in params if g not in generators]
    if extra:
        raise ParameterError(f"params given for {', '.join(extra)}, which is not among the generators")
    for g in generators:
        p = dict(params.get(g) or {})
        if "random_state" in p:
            raise ParameterError(f"{g}: random_state is set from --seeds; do not pass it as a parameter")
        make_generator(g, **p)  # unknown names/parameters fail now, before any fit


# ----------------------------------------------------------------------------------------- main


def run_compare(
    df: pd.DataFrame,
    target: str,
    generators: list[str],
    *,
    n: int | None = None,
    protected: list[str] | None = None,
    seeds: list[int] = [0],  # noqa: B006 - never mutated
    policy: str | Path | None = None,
    holdout: float = 0.3,
    params: dict[str, dict] | None = None,
    out: Path,
    progress: Callable[[str], None] | None = print,
    force: bool = False,
    title: str | None = None,
    column_kinds: dict[str, str] | None = None,
    drop: list[str] | None = None,
) -> CompareResult:
    """Fit, sample, evaluate and gate every generator on one split; write index.html, compare.json,
    compare.md, scorecards/<gen>-seed<k>.json and verdicts/<gen>-seed<k>.json into ``out``.

    Column kinds are decided once on the whole table (``column_kinds`` override detection; ``drop`` columns
    are removed first) and every generator and evaluation uses them.
    ``out`` is replaced as a whole (``force=True``) or must not exist. ``progress`` receives one line per
    generator and stage (``None`` for silence). ``title`` names the report (default: "synthgen compare:
    <target>").
    """
    from .evaluation import evaluate
    from .gate import load_policy
    from .models import make_generator
    from .pipeline import decide_schema, drop_columns, split_table, train_schema

    def _int(v: Any) -> Any:  # numpy integers are fine; bools and floats are refused by _check_inputs
        return int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v

    seeds = [_int(s) for s in seeds]
    n = None if n is None else _int(n)
    _check_inputs(df, target, generators, n, protected, seeds, params)
    df = drop_columns(df, drop, target)
    for col in protected or []:
        if col not in df.columns:
            raise UsageError(f"--protected: column '{col}' is dropped")
    params = {g: dict((params or {}).get(g) or {}) for g in generators}
    protected = list(protected or [])
    say = progress or (lambda _line: None)
    out = Path(out)
    if out.exists() and not force:
        from .exceptions import OutputExistsError

        raise OutputExistsError(f"output '{out}' exists; pass --force to overwrite it")
    gate_policy = load_policy(policy)  # a malformed policy fails before the (long) fits
    decided = decide_schema(df, target, column_kinds)  # kinds once, on the whole table; column errors now
    out.parent.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    split_seed = seeds[0]
    train, hold, record = split_table(df, target, holdout, split_seed)
    schema = train_schema(train, decided)
    counts = train[target].value_counts(dropna=True)
    majority = counts.idxmax()
    rare_train = int(counts.sum() - counts.max())
    n_rows = int(n) if n is not None else rare_train
    if n_rows < 1:
        raise UsageError(f"target '{target}': train holds no rare-class rows to learn from")

    runs: list[dict] = []
    timings: dict[str, Any] = {"unit": "seconds", "runs": {}}
    scorecards: dict[str, Any] = {}
    verdicts: dict[str, Any] = {}
    total = len(generators) * len(seeds)
    i = 0
    with atomic_dir(out, force=force) as tmp:
        (tmp / "scorecards").mkdir()
        (tmp / "verdicts").mkdir()
        for gen_name in generators:
            for seed in seeds:
                i += 1
                run_id = f"{gen_name}-seed{seed}"
                tag = f"[{i}/{total}] {gen_name} (seed {seed})"
                run: dict[str, Any] = {"id": run_id, "generator": gen_name, "seed": seed, "status": "ok",
                                       "failed_stage": None, "error": None, "scorecard": None, "verdict": None,
                                       "quality_score": None, "gate": None}
                t: dict[str, float | None] = {s: None for s in STAGES}

                def step(name: str, message: str, work: Callable[[], Any]) -> Any:
                    say(f"{tag}: {message}")
                    t0 = time.perf_counter()
                    out = work()
                    t[name] = time.perf_counter() - t0
                    return out

                try:
                    gen = step("fit", f"fit on {rare_train:,} rare rows of {len(train):,} train rows",
                               lambda: make_generator(gen_name, **params[gen_name], random_state=seed)
                               .fit(train, target=target, schema=schema))
                    synthetic = step("sample", f"sample {n_rows:,} rows", lambda: gen.sample(n_rows))
                    card = step("evaluate", "evaluate against the real holdout",
                                lambda: evaluate(train, hold, synthetic, target=target, protected=protected or None,
                                                 random_state=seed, schema=schema))
                    verdict = step("gate", f"gate with policy '{gate_policy.name or gate_policy.path}'",
                                   lambda: gate_policy.check(card))
                except Exception as exc:  # noqa: BLE001 - a failing generator must not stop the others
                    stage = next(s for s in STAGES if t[s] is None)  # the first stage that did not finish
                    run.update(status="failed", failed_stage=stage, error=_one_line(exc))
                    say(f"{tag}: FAILED at {stage}: {run['error']}")
                else:
                    card.save(tmp / "scorecards" / f"{run_id}.json")
                    verdict.save(tmp / "verdicts" / f"{run_id}.json")
                    scorecards[run_id] = card
                    verdicts[run_id] = verdict
                    run.update(scorecard=f"scorecards/{run_id}.json", verdict=f"verdicts/{run_id}.json",
                               quality_score=_round(_num(card.quality_score)),
                               gate="PASS" if verdict.passed else "FAIL")
                    say(f"{tag}: quality {card.quality_score:.1f}, gate {run['gate']} "
                        f"(fit {t['fit']:.1f} s, sample {t['sample']:.1f} s, evaluate {t['evaluate']:.1f} s)")
                runs.append(run)
                timings["runs"][run_id] = {f"{k}_s": (None if v is None else round(v, 4)) for k, v in t.items()}

        leaderboard = _leaderboard(generators, seeds, runs, scorecards, verdicts, timings)
        best = _best(leaderboard)
        timings["total_s"] = round(time.perf_counter() - started, 4)
        data = {
            "compare_version": COMPARE_VERSION,
            "title": title or f"synthgen compare: {target}",
            "synthgen_version": synthgen_version(),
            "data": {
                "rows": int(len(df)),
                "columns": [str(c) for c in df.columns],
                "sha256": sha256_frame(df),
                "target": target,
                "majority_class": _py(majority),
                "class_counts_train": {str(_py(k)): int(v) for k, v in counts.sort_index().items()},
                "rare_rows_train": rare_train,
            },
            "settings": {
                "generators": list(generators),
                "params": params,
                "n": n_rows,
                "n_default": n is None,
                "seeds": seeds,
                "holdout": float(holdout),
                "protected": protected,
                "dropped_columns": list(drop or []),
                "column_kinds": {c.name: c.kind.value for c in decided.columns if c.name != target},
                "policy": {"path": gate_policy.path, "sha256": gate_policy.sha256,
                           "name": gate_policy.name, "version": gate_policy.version},
            },
            "split": {k: v for k, v in record.items() if k != "holdout_positions"},
            "best": best,
            "leaderboard": leaderboard,
            "runs": runs,
            "timings": timings,
        }
        result = CompareResult(data=data, out=out, scorecards=scorecards, verdicts=verdicts)
        say("writing compare.json, compare.md and index.html")
        _write_reports(result, tmp)
    result.out = out
    return result


def _write_reports(result: CompareResult, folder: Path) -> None:
    from .report import render_html, render_markdown

    (folder / "compare.json").write_text(json.dumps(result.data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    render_markdown(result, folder / "compare.md")
    render_html(result, folder / "index.html")
    from .report import _readable

    for path in [folder, *folder.rglob("*")]:
        _readable(path)


def _py(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _leaderboard(generators: Sequence[str], seeds: Sequence[int], runs: list[dict], scorecards: dict,
                 verdicts: dict, timings: dict, gated: bool = True) -> list[dict]:
    entries = []
    for g in generators:
        mine = [r for r in runs if r["generator"] == g]
        ok = [r for r in mine if r["status"] == "ok"]
        cards = [scorecards[r["id"]] for r in ok]
        verd = [verdicts[r["id"]] for r in ok if r["id"] in verdicts]
        sub_names = ("realism", "utility", "privacy", "fairness")
        metric_names: list[str] = []
        for c in cards:
            metric_names += [m for m in c.metrics if m not in metric_names]
        failed_rules: list[str] = []
        failed_reasons: list[dict] = []  # the first seed's sentence for each failing rule
        for v in verd:
            for r in v.rules:
                if r["passed"] is False and r["metric"] not in failed_rules:
                    failed_rules.append(r["metric"])
                    failed_reasons.append({"metric": r["metric"], "reason": r.get("reason", "")})
        # "partial": some seeds failed, so the generator is not reliable on this data and cannot PASS
        status = "ok" if ok and len(ok) == len(mine) else ("failed" if not ok else "partial")
        passes = sum(1 for v in verd if v.passed)
        gate = None if not ok or not gated else ("PASS" if status == "ok" and passes == len(verd) else "FAIL")
        errors = [{"seed": r["seed"], "stage": r["failed_stage"], "error": r["error"]}
                  for r in mine if r["status"] != "ok"]
        entries.append({
            "generator": g,
            "status": status,
            "gate": gate,
            "gate_passed_seeds": passes,
            "seeds_ok": len(ok),
            "seeds": len(mine),
            "quality_score": _stats([c.quality_score for c in cards]),
            "subscores": {s: _stats([c.subscores.get(s) for c in cards]) for s in sub_names},
            "metrics": {m: _stats([c.value(m) for c in cards]) for m in metric_names},
            "failed_rules": failed_rules,
            "failed_reasons": failed_reasons,
            "errors": errors,
            "error": errors[0]["error"] if errors else None,
            "runs": [r["id"] for r in mine],
            "best": False,
        })
        # fit/sample seconds are wall-clock: in timings only
        fit = [timings["runs"][r["id"]]["fit_s"] for r in mine]
        sample = [timings["runs"][r["id"]]["sample_s"] for r in mine]
        timings.setdefault("generators", {})[g] = {
            "fit_s": _stats(fit)["mean"], "sample_s": _stats(sample)["mean"],
            "evaluate_s": _stats([timings["runs"][r["id"]]["evaluate_s"] for r in mine])["mean"],
        }
    return rank_generators(entries)


def _best(leaderboard: list[dict], gated: bool = True) -> dict:
    top = leaderboard[0] if leaderboard else None
    if not gated:
        if top is not None and top["quality_score"]["mean"] is not None:
            top["best"] = True
            sub = ", ".join(f"{k} {_fmt_sub(v['mean'])}" for k, v in top["subscores"].items() if v["mean"] is not None)
            return {"generator": top["generator"],
                    "reason": f"highest quality score ({top['quality_score']['mean']:.1f}); not gated; {sub}"}
        return {"generator": None, "reason": "no scorecard has a quality score"}
    if top is not None and top["status"] == "ok" and top["gate"] == "PASS":
        top["best"] = True
        return {"generator": top["generator"], "reason": _reason(top)}
    scored = [e for e in leaderboard if e["quality_score"]["mean"] is not None]
    if scored:
        e = scored[0]
        return {"generator": None,
                "reason": (f"no generator passes the gate, so none is recommended; the highest quality score is "
                           f"{e['generator']} ({e['quality_score']['mean']:.1f}), which fails "
                           f"{', '.join(e['failed_rules']) or 'on some seeds'}")}
    return {"generator": None, "reason": "every generator failed; see the errors"}


def compare_from_scorecards(scorecards: Sequence[Any], *, policy: str | Path | None = "default",
                            labels: Sequence[str] | None = None) -> dict:
    """A compare document (the shape of compare.json, no timings) for scorecards scored elsewhere.

    ``scorecards``: JSON paths or ``Scorecard`` objects, labelled by file name without ``.json`` (or by
    ``labels``); each is checked with ``policy`` ("default": the packaged policy, ``None``: no gate). The
    scorecards and verdicts travel in the private keys ``_scorecards`` / ``_verdicts`` for the renderer.
    """
    from .evaluation import Scorecard
    from .gate import load_policy

    items = list(scorecards)
    if not items:
        raise UsageError("report: give at least one scorecard")
    if labels is not None and len(labels) != len(items):
        raise UsageError(f"report: {len(labels)} labels for {len(items)} scorecards")
    cards: dict[str, Any] = {}
    for i, item in enumerate(items):
        if isinstance(item, Scorecard):
            card, label = item, f"scorecard-{i + 1}"
        else:
            card, label = Scorecard.load(item), Path(item).name.removesuffix(".json")
        if labels is not None:
            label = str(labels[i])
        base, k = label, 2
        while label in cards:
            label, k = f"{base}-{k}", k + 1
        cards[label] = card
    gate_policy = None if policy is None else load_policy(None if policy == "default" else policy)
    verdicts = {k: gate_policy.check(c) for k, c in cards.items()} if gate_policy else {}
    runs = [{"id": k, "generator": k, "seed": c.random_state, "status": "ok", "failed_stage": None, "error": None,
             "scorecard": None, "verdict": None, "quality_score": _round(_num(c.quality_score)),
             "gate": None if not verdicts else ("PASS" if verdicts[k].passed else "FAIL")} for k, c in cards.items()]
    timings = {"runs": {k: {f"{s}_s": None for s in STAGES} for k in cards}}
    leaderboard = _leaderboard(list(cards), [0], runs, cards, verdicts, timings, gated=gate_policy is not None)
    first = next(iter(cards.values()))
    inputs = first.inputs or {}
    same = len({json.dumps(c.inputs.get("real_train"), sort_keys=True) for c in cards.values()}) == 1
    return {
        "compare_version": COMPARE_VERSION,
        "mode": "scorecards",
        "title": f"synthgen report: {len(cards)} scorecard{'s' if len(cards) > 1 else ''}",
        "synthgen_version": synthgen_version(),
        "data": {"target": inputs.get("target"), "rows": None,
                 "rare_rows_train": (inputs.get("real_train") or {}).get("rare_rows"),
                 "same_train_data": same},
        "settings": {"generators": list(cards), "seeds": [], "protected": inputs.get("protected") or [],
                     "policy": ({"path": gate_policy.path, "sha256": gate_policy.sha256, "name": gate_policy.name,
                                 "version": gate_policy.version} if gate_policy else None)},
        "split": {},
        "best": _best(leaderboard, gated=gate_policy is not None),
        "leaderboard": leaderboard,
        "runs": runs,
        "_scorecards": {k: c.to_dict() for k, c in cards.items()},
        "_verdicts": {k: v.to_dict() for k, v in verdicts.items()},
    }
