"""``evaluate``: run each stage (realism, utility, leakage, privacy, fairness) once, compute every registered
metric from them, and assemble the scorecard.

A stage is one pass that measures a family of metrics together (one nearest-neighbour search serves every
DCR metric); each metric's ``compute`` reads its stage's value (``base.Metric``), or computes its own.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from ..exceptions import EvaluationError
from ..io import sha256_frame
from ..schema import Schema
from ..versions import recorded_versions
from . import fairness as _fairness
from . import leakage as _leakage
from . import privacy as _privacy
from . import realism as _realism
from . import registry
from . import utility as _utility
from ._frame import Frames, prepare
from .base import EvaluationRun, nan_to_none
from .scorecard import Scorecard, quality_score, subscores

__all__ = ["evaluate", "STAGES"]

# which of the evaluation's six seeds each random step uses (the order of SeedSequence(random_state).spawn(6))
_SEED_ORDER = ("detection", "utility", "leakage", "privacy", "noise", "fairness")


@contextmanager
def _clock(run: EvaluationRun, key: str) -> Iterator[None]:
    t = time.perf_counter()
    yield
    run.timings[key] = time.perf_counter() - t


# ----------------------------------------------------------------------------------- stages
def _stage_realism(run: EvaluationRun) -> tuple[dict, dict] | None:
    """Column shapes, pair trends, detection, unseen categories and the uniform-noise reference."""
    return _realism.realism(run.frames, run.seeds["detection"], run.seeds["noise"], run.timings)


def _stage_utility(run: EvaluationRun) -> tuple[dict, dict] | None:
    """Every option of every model family on the real holdout; hands the hgb predictions to fairness."""
    with _clock(run, "utility"):
        values, details, preds = _utility.utility(run.frames, run.seeds["utility"], run.options["utility_models"],
                                                  run.options["utility_repeats"], run.options.get("engine"))
    run.shared["predictions"] = preds
    return values, details


def _stage_leakage(run: EvaluationRun) -> tuple[dict, dict] | None:
    """Copies, DCR, the distance attack and the excess over chance (one pass of neighbour searches)."""
    with _clock(run, "leakage"):
        return _leakage.leakage(run.frames, run.seeds["leakage"], run.options.get("engine"))


def _stage_privacy(run: EvaluationRun) -> tuple[dict, dict] | None:
    """DOMIAS, Anonymeter's three attacks and outlier exposure."""
    with _clock(run, "privacy"):
        return _privacy.privacy(run.frames, run.seeds["privacy"], run.options["sensitive"])


def _stage_fairness(run: EvaluationRun) -> tuple[dict, dict] | None:
    """Representation and downstream fairness per protected column; does not run without protected columns."""
    if not run.frames.protected:
        return None
    with _clock(run, "fairness"):
        return _fairness.fairness(run.frames, run.shared["predictions"], run.seeds["fairness"])


#: The stage computations, in the order they run; a metric's ``stage`` names one of them.
STAGES: tuple[tuple[str, Callable[[EvaluationRun], tuple[dict, dict] | None]], ...] = (
    ("realism", _stage_realism),
    ("utility", _stage_utility),
    ("leakage", _stage_leakage),
    ("privacy", _stage_privacy),
    ("fairness", _stage_fairness),
)


def _run_stages(run: EvaluationRun, progress: Callable[[str], None] | None = None) -> None:
    """Run every stage once; each one's values and details land under its name. ``progress`` gets a line
    as each stage starts and ends (the long ones also show bars on a terminal: DCR, utility fits)."""
    for i, (name, stage) in enumerate(STAGES, start=1):
        if progress is not None:
            progress(f"evaluate: {name} ({i}/{len(STAGES)})...")
        t = time.perf_counter()
        result = stage(run)
        if result is not None:
            run.values[name], run.details[name] = result
        if progress is not None:
            progress(f"evaluate: {name} {'done' if result is not None else 'skipped (no protected column)'} "
                     f"in {time.perf_counter() - t:.1f} s")


# ----------------------------------------------------------------------------------- metrics
def _measure(run: EvaluationRun) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Every registered metric's value (those that apply), their 95% intervals and the reasons for values the
    data left undefined; moves each stage's ``ci95`` and ``not_measured`` out of its details."""
    values: dict[str, Any] = {}
    for metric in registry.METRICS:
        value = metric.compute(run)
        if value is not None:
            values[metric.name] = value
    intervals: dict[str, Any] = {}
    not_measured: dict[str, str] = {}
    for family in run.details.values():  # a stage reports 95% intervals and reasons for NaN values here
        if isinstance(family, dict):
            intervals.update(family.pop("ci95", None) or {})
            not_measured.update(family.pop("not_measured", None) or {})
    for name, v in values.items():
        if nan_to_none(v) is None and name not in not_measured:
            not_measured[name] = "the data gave no defined value"
    return values, intervals, {k: not_measured[k] for k in sorted(not_measured) if k in values}


def _inputs(frames: Frames, real_train: pd.DataFrame, real_holdout: pd.DataFrame, synthetic: pd.DataFrame,
            target: str) -> dict[str, Any]:
    """What was scored: each frame's sha256, rows and rare rows, the target, label and protected columns."""
    return {
        "real_train": {"sha256": sha256_frame(real_train), "rows": int(len(real_train)),
                       "rare_rows": int(frames.y["train"].sum())},
        "real_holdout": {"sha256": sha256_frame(real_holdout), "rows": int(len(real_holdout)),
                         "rare_rows": int(frames.y["holdout"].sum())},
        "synthetic": {"sha256": sha256_frame(synthetic), "rows": int(len(synthetic)),
                      "rare_rows": int(frames.y["synthetic"].sum())},
        "target": target,
        "label": frames.label,
        "protected": list(frames.protected),
    }


def _columns(frames: Frames) -> tuple[list[dict], list[dict]]:
    """The modelled columns and the excluded ones with the reason."""
    modelled = [{"name": s.name, "kind": s.kind.value} for s in frames.modelled]
    excluded = [{"name": s.name, "kind": s.kind.value, "reason": _EXCLUDED.get(s.kind.value, "")}
                for s in frames.schema.features() if not s.kind.is_modelled]
    return modelled, excluded


def evaluate(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str,
    protected: Sequence[str] | None = None,
    label: Any = None,
    random_state: int = 0,
    schema: Schema | None = None,
    utility_models: Sequence[str] | str | None = None,
    utility_repeats: int = _utility.DEFAULT_REPEATS,
    sensitive: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    engine: Any = None,
) -> Scorecard:
    """Score synthetic rare-class rows against real train and an unseen real holdout; never mutates inputs.

    ``utility_models``: model families for utility besides ``hgb`` (which the gate reads), e.g.
    ``["logreg", "rf"]``; ``utility_repeats``: model seeds each utility figure is averaged over;
    ``sensitive``: columns the inference attack treats as secrets, besides the protected ones;
    ``progress``: called with a line as each stage starts and ends (the CLI prints them on stderr);
    ``engine`` (``synthgen.engine.make_engine``; default: this process): runs the DCR searches over the
    synthetic rows in chunks and the utility model fits as tasks; the scorecard is the same on any engine.
    """
    _utility.resolve_models(utility_models)  # a bad name or count fails before any work
    _utility.check_repeats(utility_repeats)
    t0 = time.perf_counter()
    frames = prepare(real_train, real_holdout, synthetic, target, protected, label, schema)
    for col in sensitive or ():  # before any long step
        if col not in real_train.columns:
            raise EvaluationError(f"sensitive column '{col}' is not in the table")
    seeds = np.random.SeedSequence(int(random_state)).spawn(len(_SEED_ORDER))
    run = EvaluationRun(frames=frames, seeds={k: int(s.generate_state(1)[0]) for k, s in zip(_SEED_ORDER, seeds)},
                        options={"utility_models": utility_models, "utility_repeats": utility_repeats,
                                 "sensitive": sensitive or (), "engine": engine},
                        timings={"prepare": time.perf_counter() - t0})
    _run_stages(run, progress)
    values, intervals, not_measured = _measure(run)
    details = run.details
    details["not_measured"] = not_measured
    by_name = registry.by_name()
    metrics = {name: by_name[name].entry(nan_to_none(v), intervals.get(name)) for name, v in values.items()}
    sub = subscores(values, intervals, (details.get("realism") or {}).get("noise_reference"))
    details["columns"], details["excluded_columns"] = _columns(frames)
    run.timings["total"] = time.perf_counter() - t0
    card = Scorecard(quality_score=quality_score(sub), subscores=sub, metrics=metrics, details=details,
                     inputs=_inputs(frames, real_train, real_holdout, synthetic, target),
                     random_state=int(random_state), library_versions=recorded_versions())
    card = Scorecard.from_dict(card.to_dict())  # in memory exactly what the JSON holds
    card.timings = run.timings
    return card


_EXCLUDED = {
    "identifier": "an identifier (one value per row) carries no signal and would let a model or a distance "
                  "match rows by their number",
    "key": "a key points at an entity (customer, card): it is not a measurement, and as a feature it would "
           "let models memorise entities",
    "personal": "personal data or free text is never modelled or copied",
}
