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
  recommended only when it passes the gate;
- each leaderboard entry carries ``utility_summary``: in words, from its first scored seed, which free
  alternative (real rows only, class weights, a tuned threshold, random oversampling) does best on PR-AUC
  and on recall at 1% FPR, and what adding the generator's rows changes (``None`` for scorecards
  without ``details.utility.vs_best_alternative``);
- how many rows (``amounts``: multiples of the rare rows in train, or ``n`` as a list of row counts):
  every generator x seed is fitted ONCE, then sampled, scored and gated for each amount. Each amount is
  its own ``gen.sample(rows)`` with the run's seed: exactly the rows ``synthgen generate -n ROWS`` gives
  from that model, so a recommended amount can be reproduced as is (a prefix of the largest sample
  would not be, and would split several rare classes unevenly). The FIRST amount listed is the main
  one: the leaderboard, the gate and ``best`` use it (its files keep the names ``<gen>-seed<k>.json``;
  the others are ``<gen>-seed<k>-n<rows>.json``). ``compare.json["amounts"]`` holds a table per
  generator (rows, the rare share of the augmented train, PR-AUC and recall at 1% FPR vs the best
  alternative with 95% intervals and verdicts) and a recommended amount: the smallest with a "gain"
  verdict on PR-AUC vs the best alternative, else none. With several seeds an amount's value is the
  mean, its interval the envelope of the seeds' intervals, and its verdict "gain" or "loss" only when
  every seed says so (otherwise "no measurable change").

Everything in ``compare.json`` is deterministic for the same data, settings and seeds, except the
``"timings"`` key (wall-clock seconds), which is kept apart for that reason. The report folder is built
in a temporary folder beside ``out`` and renamed into place at the end, so a crash never leaves a
half-written report.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from .conditions import conditions_from, matching_real_rows
from .engine import make_engine
from .evaluation import Scorecard, evaluate, registry
from .evaluation.utility import ALTERNATIVE_WORDS, check_repeats, resolve_models
from .exceptions import OutputExistsError, ParameterError, SynthgenError, UsageError, one_line
from .gate import load_policy
from .io import atomic_dir, make_readable, sha256_frame
from .models import make_generator
from .pipeline import decide_schema, drop_columns, split_table, train_schema
from .relations import attach, for_fit
from .report import render_html, render_markdown
from .schema import _py
from .versions import synthgen_version

__all__ = ["run_compare", "compare_from_scorecards", "render_scorecards", "CompareResult", "COMPARE_VERSION", "rank_generators",
           "utility_summary"]

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


# ----------------------------------------------------------------------------------------- utility in words

VS_BEST = (("pr_auc", "PR-AUC"), ("recall_at_1pct_fpr", "recall at 1% FPR"))
NO_AMOUNT_HELPS = "no amount helps: use class weights or a tuned threshold"


def _details_of(card: Any) -> dict:
    if card is None:
        return {}
    return (card.get("details") if isinstance(card, dict) else getattr(card, "details", None)) or {}


def vs_best(card: Any) -> dict:
    """``details.utility.vs_best_alternative`` of a scorecard (object or dict); {} when it has none."""
    v = (_details_of(card).get("utility") or {}).get("vs_best_alternative")
    return v if isinstance(v, dict) else {}


def _signed(v: float) -> str:
    return f"{v:+.3f}"


def vs_best_sentence(generator: str, measure: str, entry: dict) -> str | None:
    """'a tuned threshold alone reaches PR-AUC 0.612; adding copula rows: no measurable change (+0.004,
    95% CI -0.020 to +0.030)' for one entry of ``vs_best_alternative``; None when it lacks a number."""
    words = dict(VS_BEST).get(measure, measure)
    best, best_value, diff = entry.get("best"), _num(entry.get("best_value")), _num(entry.get("difference"))
    ci = entry.get("ci95") or [None, None]
    lo, hi = (_num(ci[0]), _num(ci[1])) if len(ci) == 2 else (None, None)
    if best is None or best_value is None or diff is None:
        return None
    who = ALTERNATIVE_WORDS.get(best, str(best))
    verb = "reach" if best in ("baseline", "class_weights") else "reaches"  # plural subjects
    reach = f"{who}{'' if best == 'baseline' else ' alone'} {verb} {words} {best_value:.3f}"
    ci_txt = f", 95% CI {_signed(lo)} to {_signed(hi)}" if lo is not None and hi is not None else ""
    return f"{reach}; adding {generator} rows: {entry.get('verdict') or 'not measured'} ({_signed(diff)}{ci_txt})"


def utility_summary(generator: str, card: Any) -> str | None:
    """The leaderboard's words on utility (PR-AUC, then recall at 1% FPR), from one scorecard; None for
    scorecards without the comparison with the alternatives (older ones)."""
    v = vs_best(card)
    parts = [vs_best_sentence(generator, m, v[m]) for m, _ in VS_BEST if isinstance(v.get(m), dict)]
    parts = [p for p in parts if p]
    if not parts:
        return None
    return ". ".join(p[0].upper() + p[1:] for p in parts) + "."


# ----------------------------------------------------------------------------------------- amounts


def _check_amounts(amounts: Sequence[float] | None, counts: list | None, n: Any) -> list[float] | None:
    """Validate ``amounts`` (multiples) and a list of counts; return the multiples as floats (or None)."""
    if amounts is not None and (counts is not None or n is not None):
        raise UsageError("--amounts and -n both set how many rows to add; give one of them")
    if counts is not None:
        bad = [c for c in counts if isinstance(c, bool) or not isinstance(c, int) or c < 1]
        if bad:
            raise ParameterError(f"-n: expected whole numbers >= 1, got {bad[0]!r}")
        dup = sorted({c for c in counts if counts.count(c) > 1})
        if dup:
            raise ParameterError(f"-n: {dup[0]} given more than once")
    if amounts is None:
        return None
    if isinstance(amounts, (str, bytes, numbers.Number)) or not isinstance(amounts, Sequence) or not amounts:
        raise ParameterError(f"--amounts: expected a list of one or more numbers > 0, got {amounts!r}")
    out = []
    for a in amounts:
        f = _num(a) if isinstance(a, numbers.Real) else None
        if f is None or f <= 0:
            raise ParameterError(f"--amounts: each amount must be a number > 0 (a multiple of the rare rows in "
                                 f"train), got {a!r}")
        out.append(f)
    dup = sorted({a for a in out if out.count(a) > 1})
    if dup:
        raise ParameterError(f"--amounts: {_fmt_multiple(dup[0])} given more than once")
    return out


def _fmt_multiple(m: float) -> str:
    return f"{m:g}x"


def _amount_plan(multiples: list[float] | None, counts: list[int] | None, rare_train: int,
                 train_rows: int) -> list[dict]:
    """The amounts to try, in the order given (the first is the main one): rows, rare share, labels."""
    if multiples is None and counts is None:
        return []
    plan = []
    if multiples is not None:
        for m in multiples:
            rows = int(math.floor(m * rare_train + 0.5))
            if rows < 1:
                raise ParameterError(f"--amounts: {_fmt_multiple(m)} of {rare_train:,} rare rows in train is "
                                     f"{m * rare_train:.2f} rows, which rounds to 0")
            plan.append({"amount": m, "unit": "multiple", "label": _fmt_multiple(m), "rows": rows})
    else:
        for c in counts:
            plan.append({"amount": c, "unit": "rows", "label": f"{c:,} rows", "rows": c})
    seen: dict[int, str] = {}
    for a in plan:
        if a["rows"] in seen:
            raise ParameterError(f"--amounts: {seen[a['rows']]} and {a['label']} both give {a['rows']:,} rows")
        seen[a["rows"]] = a["label"]
        a["multiple"] = _round(a["rows"] / rare_train)
        share = (rare_train + a["rows"]) / (train_rows + a["rows"])
        a["rare_share"] = _round(share)
        a["rare_majority"] = share > 0.5
        a["main"] = a is plan[0]
    return plan


def _majority_warning(a: dict) -> str:
    return (f"amount {a['label']} ({a['rows']:,} synthetic rows) makes the rare class the majority of the "
            f"augmented train ({a['rare_share']:.0%} rare): the model learns a different base rate from the one it "
            f"will meet")


def _score_amount(gen: Any, a: dict, seed: int, tag: str, run_id: str, tmp: Path, say: Callable[[str], None],
                  timings: dict, evaluate: Callable[[pd.DataFrame], Any], gate_policy: Any,
                  sample_opts: dict | None = None) -> dict:
    """Sample, evaluate and gate one more amount with an already fitted generator (never refitted)."""
    rows = a["rows"]
    name = f"{run_id}-n{rows}"
    t: dict[str, float | None] = {"sample": None, "evaluate": None, "gate": None}
    say(f"{tag}: amount {a['label']}: sample {rows:,} rows, evaluate, gate")
    outcome: dict[str, Any]
    try:
        t0 = time.perf_counter()
        synthetic = gen.sample(rows, **(sample_opts or {}))
        t["sample"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        card = evaluate(synthetic)
        t["evaluate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        verdict = gate_policy.check(card)
        t["gate"] = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - one amount failing must not stop the others
        stage = next(s for s in ("sample", "evaluate", "gate") if t[s] is None)
        outcome = {"status": "failed", "error": _one_line(exc), "stage": stage}
        say(f"{tag}: amount {a['label']}: FAILED at {stage}: {outcome['error']}")
    else:
        card.save(tmp / "scorecards" / f"{name}.json")
        verdict.save(tmp / "verdicts" / f"{name}.json")
        outcome = {"status": "ok", "card": card, "verdict": verdict, "scorecard": f"scorecards/{name}.json"}
        v = vs_best(card).get("pr_auc") or {}
        words = ("" if _num(v.get("difference")) is None else
                 f"PR-AUC vs best alternative {_signed(v['difference'])} ({v.get('verdict')}), ")
        say(f"{tag}: amount {a['label']}: {words}quality {card.quality_score:.1f}, "
            f"gate {'PASS' if verdict.passed else 'FAIL'}")
    timings.setdefault("amounts", {}).setdefault(run_id, {})[str(rows)] = {
        f"{k}_s": (None if v is None else round(v, 4)) for k, v in t.items()}
    return outcome


def _combine(per_seed: list[dict]) -> dict | None:
    """One amount's figure over seeds: mean value, envelope of the intervals, verdict only when all agree."""
    got = [p for p in per_seed if p.get("value") is not None]
    if not got:
        return None
    cis = [p["ci95"] for p in got if p.get("ci95") and None not in p["ci95"]]
    verdicts = {p.get("verdict") for p in got}
    verdict = got[0]["verdict"] if len(verdicts) == 1 else "no measurable change"
    if len(got) == 1:
        ci = got[0].get("ci95")
    else:
        ci = [min(c[0] for c in cis), max(c[1] for c in cis)] if len(cis) == len(got) else None
    return {"value": _round(statistics.fmean(p["value"] for p in got)), "ci95": ci, "verdict": verdict,
            "best": got[0].get("best"), "best_value": got[0].get("best_value"),
            "seeds": [{k: p.get(k) for k in ("seed", "value", "ci95", "verdict", "best", "best_value",
                                              "augmented")} for p in per_seed]}


def _amounts_section(generators: Sequence[str], seeds: Sequence[int], plan: list[dict],
                     scored: dict[tuple, dict], multiples: bool) -> dict:
    ordered = sorted(plan, key=lambda a: a["rows"])
    out: dict[str, Any] = {
        "unit": "multiple" if multiples else "rows",
        "main": plan[0]["label"],
        "rule": "the smallest amount whose PR-AUC vs the best alternative is a 'gain' (95% interval above 0 "
                "on every seed); else none",
        "plan": [{k: a[k] for k in ("amount", "label", "rows", "multiple", "rare_share", "rare_majority", "main")}
                 for a in ordered],
        "warnings": [_majority_warning(a) for a in ordered if a["rare_majority"]],
        "generators": {},
    }
    for g in generators:
        table = []
        for a in ordered:
            outcomes = [(s, scored.get((g, s, a["rows"])) or {"status": "failed", "error": "not run"})
                        for s in seeds]
            ok = [(s, o) for s, o in outcomes if o["status"] == "ok"]
            row: dict[str, Any] = {k: a[k] for k in ("amount", "label", "rows", "multiple", "rare_share",
                                                     "rare_majority", "main")}
            for m, _words in VS_BEST:
                per_seed = []
                for s, o in ok:
                    e = vs_best(o["card"]).get(m) or {}
                    value = _num(o["card"].value(f"utility.{m}_vs_best_alternative"))
                    if value is None:
                        value = _num(e.get("difference"))
                    ci = e.get("ci95")
                    per_seed.append({"seed": s, "value": _round(value),
                                     "ci95": [_round(_num(c)) for c in ci] if ci else None,
                                     "verdict": e.get("verdict"), "best": e.get("best"),
                                     "best_value": _round(_num(e.get("best_value"))),
                                     "augmented": _round(_num(e.get("augmented")))})
                row[f"{m}_vs_best_alternative"] = _combine(per_seed)
            verd = [o["verdict"] for _, o in ok]
            row["quality_score"] = _stats([o["card"].quality_score for _, o in ok])["mean"]
            row["gate"] = None if not ok else ("PASS" if len(ok) == len(outcomes) and all(v.passed for v in verd)
                                               else "FAIL")
            row["seeds_ok"] = len(ok)
            row["scorecards"] = [o["scorecard"] for _, o in ok]
            row["errors"] = [{"seed": s, "stage": o.get("stage"), "error": o.get("error")}
                             for s, o in outcomes if o["status"] != "ok"]
            table.append(row)
        out["generators"][g] = {"table": table, "recommendation": _recommend(g, table)}
    return out


def _recommend(generator: str, table: list[dict]) -> dict:
    measured = [r for r in table if r.get("pr_auc_vs_best_alternative")]
    if not measured:
        return {"amount": None, "rows": None, "label": None,
                "reason": "not measured: no scorecard of this generator compares it with the alternatives "
                          "(utility.pr_auc_vs_best_alternative)"}
    for r in measured:  # the table is sorted by rows
        v = r["pr_auc_vs_best_alternative"]
        if v["verdict"] == "gain":
            lo, hi = v["ci95"] or [None, None]
            ci = "" if lo is None else f", 95% CI {_signed(lo)} to {_signed(hi)}"
            warn = "; note: it makes the rare class the majority of train" if r["rare_majority"] else ""
            return {"amount": r["amount"], "rows": r["rows"], "label": r["label"],
                    "reason": (f"add {r['rows']:,} {generator} rows ({r['label']}): the smallest amount whose PR-AUC "
                               f"beats the best alternative ({ALTERNATIVE_WORDS.get(v['best'], v['best'])}, "
                               f"{v['best_value']:.3f}) measurably ({_signed(v['value'])}{ci}){warn}")}
    return {"amount": None, "rows": None, "label": None, "reason": NO_AMOUNT_HELPS}


# ----------------------------------------------------------------------------------------- main


def run_compare(
    df: pd.DataFrame,
    target: str,
    generators: list[str],
    *,
    n: int | Sequence[int] | None = None,
    amounts: Sequence[float] | None = None,
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
    utility_models: list[str] | None = None,
    utility_repeats: int = 3,
    sensitive: list[str] | None = None,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    relations: list[str] | None = None,
    detect_relations: bool = True,
    where: Any = None,
) -> CompareResult:
    """Fit, sample, evaluate and gate every generator on one split; write index.html, compare.json,
    compare.md, scorecards/<gen>-seed<k>.json and verdicts/<gen>-seed<k>.json into ``out``.

    Column kinds are decided once on the whole table (``column_kinds`` override detection; ``drop`` columns
    are removed first) and every generator and evaluation uses them.
    ``n``: synthetic rows per generator (default: the rare rows in train), or a list of row counts to try;
    ``amounts``: multiples of the rare rows in train to try (not with ``n``). With several, each generator
    is fitted once per seed and every amount is scored; the first listed is the main one (see the module
    docstring).
    ``out`` is replaced as a whole (``force=True``) or must not exist. ``progress`` receives one line per
    generator and stage (``None`` for silence). ``title`` names the report (default: "synthgen compare:
    <target>"). ``engine`` 'ray' runs each generator x seed as a Ray task (``synthgen/engine.py``; one
    progress line per finished run): the results equal the local engine's, apart from timings.
    ``relations`` (``--relation`` texts) and ``detect_relations`` (off: ``--no-relations``): the relations
    between columns every generator keeps and the scorecards measure, as `synthgen fit` takes them.
    ``where`` (``--where`` texts or the Python form): every generator samples rows meeting the conditions,
    scored against the real rare rows of train and holdout that meet them (as ``evaluate --where``).
    """

    seeds, n, counts_asked = _asked_counts(seeds, n)
    multiples = _check_amounts(amounts, counts_asked, n)
    _check_inputs(df, target, generators, n, protected, seeds, params)
    utility_opts = {"utility_models": [m.name for m in resolve_models(utility_models)],
                    "utility_repeats": check_repeats(utility_repeats), "sensitive": list(sensitive or [])}
    df = drop_columns(df, drop, target)
    for col in protected or []:
        if col not in df.columns:
            raise UsageError(f"--protected: column '{col}' is dropped")
    for col in sensitive or []:
        if col not in df.columns:
            raise UsageError(f"--sensitive: column '{col}' is not in the table")
    out = Path(out)
    if out.exists() and not force:
        raise OutputExistsError(f"output '{out}' exists; pass --force to overwrite it")
    gate_policy = load_policy(policy)  # a malformed policy fails before the (long) fits
    decided = decide_schema(df, target, column_kinds)  # kinds once, on the whole table; column errors now
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    job = _set_up(df, target, holdout, seeds, decided, n, multiples, counts_asked, progress)
    conditions = conditions_from(where, job.schema)  # checked before any fit
    if conditions:
        job.sample_opts = {"where": conditions}
        job.scored_rows = (matching_real_rows(job.train, target, conditions, what="train rows"),
                           matching_real_rows(job.hold, target, conditions, what="holdout rows"))
    # relations checked once, before any fit (a fit's failure is recorded, not raised); each fit keeps them
    job.fit_opts = {"relations": list(relations or []), "detect_relations": bool(detect_relations)}
    job.schema = attach(job.schema, for_fit(job.train, job.schema, relations or (), detect_relations=detect_relations),
                        detected=detect_relations)
    job.params = {g: dict((params or {}).get(g) or {}) for g in generators}
    job.protected, job.utility_opts, job.gate_policy = list(protected or []), utility_opts, gate_policy
    total = len(generators) * len(seeds)
    pairs = [(g, s) for g in generators for s in seeds]
    with make_engine(engine, workers=workers, address=ray_address) as runner, atomic_dir(out, force=force) as tmp:
        (tmp / "scorecards").mkdir()
        (tmp / "verdicts").mkdir()
        if runner.name == "local":
            for i, (gen_name, seed) in enumerate(pairs, start=1):
                _run_one(job, gen_name, seed, f"[{i}/{total}] {gen_name} (seed {seed})", tmp)
        else:
            _run_on(runner, job, pairs, tmp)
        settings = _settings_section(job, generators, seeds, n, multiples, holdout, drop, decided)
        if conditions:
            settings["where"] = conditions.texts()
        data = _document(job, df, title, generators, seeds, multiples is not None, settings, started)
        result = CompareResult(data=data, out=out, scorecards=job.scorecards, verdicts=job.verdicts)
        job.say("writing compare.json, compare.md and index.html")
        _write_reports(result, tmp)
    result.out = out
    return result


def _document(job: _Job, df: pd.DataFrame, title: str | None, generators: Sequence[str], seeds: list[int],
              multiples: bool, settings: dict, started: float) -> dict:
    """compare.json (timings included): the leaderboard, the best generator, the amounts and every run."""
    leaderboard = _leaderboard(generators, seeds, job.runs, job.scorecards, job.verdicts, job.timings)
    best = _best(leaderboard)
    amount_data = _amounts_section(generators, seeds, job.plan, job.scored, multiples) if job.plan else None
    job.timings["total_s"] = round(time.perf_counter() - started, 4)
    return {
        "compare_version": COMPARE_VERSION,
        "title": title or f"synthgen compare: {job.target}",
        "synthgen_version": synthgen_version(),
        "data": _data_section(df, job),
        "settings": settings,
        "split": {k: v for k, v in job.record.items() if k != "holdout_positions"},
        "best": best,
        "leaderboard": leaderboard,
        **({"amounts": amount_data} if amount_data is not None else {}),
        "runs": job.runs,
        "timings": job.timings,
    }


def _asked_counts(seeds: Sequence[Any], n: Any) -> tuple[list, Any, list | None]:
    """Seeds and ``n`` with numpy integers made ints (bools and floats are refused by _check_inputs later); a
    list ``n`` of several counts becomes ``counts_asked`` (and ``n`` None), a list of one becomes ``n``."""

    def _int(v: Any) -> Any:
        return int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v

    seeds = [_int(s) for s in seeds]
    counts_asked = None
    if n is not None and not isinstance(n, (str, bytes)) and isinstance(n, Sequence):
        counts_asked = [_int(v) for v in n]
        if not counts_asked:
            raise ParameterError("-n: expected one or more whole numbers >= 1, got an empty list")
        n = counts_asked[0] if len(counts_asked) == 1 else None
        counts_asked = None if len(counts_asked) == 1 else counts_asked
    else:
        n = None if n is None else _int(n)
    return seeds, n, counts_asked


@dataclass
class _Job:
    """One comparison, set up: the split and what every generator x seed run needs, and what the runs collect."""

    target: str
    train: pd.DataFrame
    hold: pd.DataFrame
    record: dict
    schema: Any
    counts: pd.Series  # train rows per class
    rare_train: int
    n_rows: int  # synthetic rows of the main amount
    plan: list[dict]
    say: Callable[[str], None]
    params: dict[str, dict] = field(default_factory=dict)
    fit_opts: dict = field(default_factory=dict)  # relations, detect_relations: BaseGenerator.fit's options
    sample_opts: dict = field(default_factory=dict)  # where: BaseGenerator.sample's conditions
    scored_rows: tuple | None = None  # (train, holdout) the scores use: with --where, the matching rare rows
    protected: list[str] = field(default_factory=list)
    utility_opts: dict = field(default_factory=dict)
    gate_policy: Any = None
    runs: list[dict] = field(default_factory=list)
    timings: dict[str, Any] = field(default_factory=lambda: {"unit": "seconds", "runs": {}})
    scorecards: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, Any] = field(default_factory=dict)
    scored: dict[tuple, dict] = field(default_factory=dict)  # (generator, seed, rows) -> outcome (with amounts)

    def evaluate(self, synthetic: pd.DataFrame, seed: int) -> Any:
        """Score synthetic rows against the real holdout, as every run of this comparison does."""
        train, hold = self.scored_rows or (self.train, self.hold)
        return evaluate(train, hold, synthetic, target=self.target, protected=self.protected or None,
                        random_state=seed, schema=self.schema, **self.utility_opts)


def _set_up(df: pd.DataFrame, target: str, holdout: float, seeds: list[int], decided: Any, n: int | None,
            multiples: list[float] | None, counts_asked: list[int] | None,
            progress: Callable[[str], None] | None) -> _Job:
    """The one split (seeded with the first seed), the train schema and the amounts to try."""
    say = progress or (lambda _line: None)
    train, hold, record = split_table(df, target, holdout, seeds[0])
    schema = train_schema(train, decided)
    counts = train[target].value_counts(dropna=True)
    rare_train = int(counts.sum() - counts.max())
    n_rows = int(n) if n is not None else rare_train
    if rare_train < 1 or n_rows < 1:
        raise UsageError(f"target '{target}': train holds no rare-class rows to learn from")
    plan = _amount_plan(multiples, counts_asked, rare_train, len(train))
    if plan:
        n_rows = plan[0]["rows"]
        for a in plan:
            if a["rare_majority"]:
                say(f"warning: {_majority_warning(a)}")
    return _Job(target, train, hold, record, schema, counts, rare_train, n_rows, plan, say)


def _run_one(job: _Job, gen_name: str, seed: int, tag: str, tmp: Path) -> None:
    """One generator x seed: fit, sample, evaluate and gate the main amount (then each other amount with the
    same fitted generator); a failure is recorded with its stage and does not stop the others."""
    run_id = f"{gen_name}-seed{seed}"
    run: dict[str, Any] = {"id": run_id, "generator": gen_name, "seed": seed, "status": "ok",
                           "failed_stage": None, "error": None, "scorecard": None, "verdict": None,
                           "quality_score": None, "gate": None}
    t: dict[str, float | None] = {s: None for s in STAGES}

    def step(name: str, message: str, work: Callable[[], Any]) -> Any:
        job.say(f"{tag}: {message}")
        t0 = time.perf_counter()
        out = work()
        t[name] = time.perf_counter() - t0
        return out

    gen = None
    main_txt = f" (amount {job.plan[0]['label']}, the main one)" if job.plan else ""
    policy = job.gate_policy
    try:
        gen = step("fit", f"fit on {job.rare_train:,} rare rows of {len(job.train):,} train rows",
                   lambda: make_generator(gen_name, **job.params[gen_name], random_state=seed)
                   .fit(job.train, target=job.target, schema=job.schema, **job.fit_opts))
        synthetic = step("sample", f"sample {job.n_rows:,} rows{main_txt}", lambda: gen.sample(job.n_rows, **job.sample_opts))
        card = step("evaluate", "evaluate against the real holdout", lambda: job.evaluate(synthetic, seed))
        verdict = step("gate", f"gate with policy '{policy.name or policy.path}'", lambda: policy.check(card))
    except Exception as exc:  # noqa: BLE001 - a failing generator must not stop the others
        stage = next(s for s in STAGES if t[s] is None)  # the first stage that did not finish
        run.update(status="failed", failed_stage=stage, error=_one_line(exc))
        job.say(f"{tag}: FAILED at {stage}: {run['error']}")
    else:
        card.save(tmp / "scorecards" / f"{run_id}.json")
        verdict.save(tmp / "verdicts" / f"{run_id}.json")
        job.scorecards[run_id] = card
        job.verdicts[run_id] = verdict
        run.update(scorecard=f"scorecards/{run_id}.json", verdict=f"verdicts/{run_id}.json",
                   quality_score=_round(_num(card.quality_score)), gate="PASS" if verdict.passed else "FAIL")
        job.say(f"{tag}: quality {card.quality_score:.1f}, gate {run['gate']} "
                f"(fit {t['fit']:.1f} s, sample {t['sample']:.1f} s, evaluate {t['evaluate']:.1f} s)")
    job.runs.append(run)
    job.timings["runs"][run_id] = {f"{k}_s": (None if v is None else round(v, 4)) for k, v in t.items()}
    if job.plan:
        job.scored[(gen_name, seed, job.plan[0]["rows"])] = (
            {"status": "ok", "card": job.scorecards[run_id], "verdict": job.verdicts[run_id],
             "scorecard": run["scorecard"]} if run["status"] == "ok" else
            {"status": "failed", "error": run["error"], "stage": run["failed_stage"]})
        for a in job.plan[1:]:
            job.scored[(gen_name, seed, a["rows"])] = _score_amount(
                gen, a, seed, tag, run_id, tmp, job.say, job.timings,
                lambda synthetic: job.evaluate(synthetic, seed), policy, job.sample_opts)


def _run_task(job: _Job, item: tuple[str, int, str, str]) -> dict:
    """One generator x seed on an engine worker: ``_run_one`` on the worker's copy of the job (its files go
    into the shared temporary folder); what it collected goes back to the driver (``_run_on``)."""
    gen_name, seed, tag, tmp = item
    _run_one(job, gen_name, seed, tag, Path(tmp))
    return {"runs": job.runs, "timings": job.timings, "scorecards": job.scorecards, "verdicts": job.verdicts,
            "scored": job.scored}


def _run_on(runner: Any, job: _Job, pairs: list[tuple[str, int]], tmp: Path) -> None:
    """Every generator x seed as an engine task, merged in the local engine's order: the same runs, scorecards
    and verdicts as ``_run_one`` one after another (only the timings differ)."""
    total = len(pairs)
    blank = dataclasses.replace(job, say=lambda _line: None, runs=[], scorecards={}, verdicts={}, scored={},
                                timings={"unit": "seconds", "runs": {}})
    items = [(g, s, f"[{i}/{total}] {g} (seed {s})", str(tmp)) for i, (g, s) in enumerate(pairs, start=1)]
    job.say(f"running {total} generator x seed runs on {runner.name}")
    for (gen_name, seed, tag, _), got in zip(items, runner.map(_run_task, items, shared=blank)):
        job.runs.extend(got["runs"])
        job.scorecards.update(got["scorecards"])
        job.verdicts.update(got["verdicts"])
        job.scored.update(got["scored"])
        job.timings["runs"].update(got["timings"]["runs"])
        for run_id, amounts in (got["timings"].get("amounts") or {}).items():
            job.timings.setdefault("amounts", {})[run_id] = amounts
        run = got["runs"][-1]
        job.say(f"{tag}: " + (f"quality {run['quality_score']:.1f}, gate {run['gate']}" if run["status"] == "ok"
                              else f"FAILED at {run['failed_stage']}: {run['error']}"))


def _data_section(df: pd.DataFrame, job: _Job) -> dict:
    """compare.json's "data": the table's size, columns and sha256, the target and the train class counts."""
    return {
        "rows": int(len(df)),
        "columns": [str(c) for c in df.columns],
        "sha256": sha256_frame(df),
        "target": job.target,
        "majority_class": _py(job.counts.idxmax()),
        "class_counts_train": {str(_py(k)): int(v) for k, v in job.counts.sort_index().items()},
        "rare_rows_train": job.rare_train,
    }


def _settings_section(job: _Job, generators: Sequence[str], seeds: list[int], n: int | None,
                      multiples: list[float] | None, holdout: float, drop: list[str] | None, decided: Any) -> dict:
    """compare.json's "settings": everything that, with the data, fixes the comparison's result."""
    plan, policy = job.plan, job.gate_policy
    return {
        "generators": list(generators),
        "params": job.params,
        "n": job.n_rows,
        "n_default": n is None and not plan,
        "amounts": None if not plan else [a["amount"] for a in plan],
        "amounts_unit": None if not plan else ("multiple" if multiples is not None else "rows"),
        "seeds": seeds,
        "holdout": float(holdout),
        "protected": job.protected,
        "dropped_columns": list(drop or []),
        "column_kinds": {c.name: c.kind.value for c in decided.columns if c.name != job.target},
        "policy": {"path": policy.path, "sha256": policy.sha256, "name": policy.name, "version": policy.version},
    }


def _write_reports(result: CompareResult, folder: Path) -> None:
    (folder / "compare.json").write_text(json.dumps(result.data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    render_markdown(result, folder / "compare.md")
    render_html(result, folder / "index.html")
    for path in [folder, *folder.rglob("*")]:
        make_readable(path)


def _leaderboard(generators: Sequence[str], seeds: Sequence[int], runs: list[dict], scorecards: dict,
                 verdicts: dict, timings: dict, gated: bool = True) -> list[dict]:
    entries = []
    for g in generators:
        mine = [r for r in runs if r["generator"] == g]
        ok = [r for r in mine if r["status"] == "ok"]
        cards = [scorecards[r["id"]] for r in ok]
        verd = [verdicts[r["id"]] for r in ok if r["id"] in verdicts]
        sub_names = [s.name for s in registry.SUBSCORES]
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
            "utility_summary": utility_summary(g, cards[0] if cards else None),
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


def render_scorecards(
    scorecards: Sequence[Any],
    out_file: str | Path,
    *,
    policy: str | Path | None = "default",
    labels: Sequence[str] | None = None,
    markdown: str | Path | None = None,
) -> Path:
    """`synthgen report SCORECARD.json [...] --out FILE.html`: scorecards side by side, one row each.

    ``scorecards``: JSON paths or ``Scorecard`` objects; each is labelled by its file name without
    ``.json`` (or by ``labels``). Each is checked with ``policy`` ("default": the packaged policy; a path;
    ``None``: no gate column). ``markdown``: also write the Markdown report there.
    """
    data = compare_from_scorecards(scorecards, policy=policy, labels=labels)
    if markdown is not None:
        render_markdown(data, markdown)
    return render_html(data, out_file)
