"""Metrics as small classes that own their math (SDMetrics style), and what the scorecard is built from.

A metric class holds its name, goal, range, normalisation to a 0..1 score, its docs line
(``description``), the sub-score it counts in with its weight and scoring rule, whether the report
shows it among the key metrics, and ``compute``: where its number comes from. Most metrics are measured
together with their family in one pass, a *stage* (realism, utility, leakage, privacy, fairness: run
once per evaluation by ``evaluator.py``, e.g. every DCR metric comes from one nearest-neighbour
search); their ``stage`` names it and the default ``compute`` reads the value that stage measured. A
metric measured on its own overrides ``compute``.

The registry is one explicit list, ``registry.METRICS``; nothing registers itself on import. The
scorecard, the sub-scores, the quality score, the gate and the report all read that list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from ._frame import Frames

__all__ = ["Metric", "SubScore", "EvaluationRun", "SCORING", "clip01", "nan_to_none"]


def nan_to_none(value: Any) -> float | None:
    """A number for JSON: a float, or None for a missing or NaN value (numpy scalars included)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def clip01(value: float) -> float:
    """Clip to [0, 1]; NaN stays NaN."""
    if value is None or math.isnan(value):
        return float("nan")
    return float(min(1.0, max(0.0, value)))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass
class EvaluationRun:
    """One evaluation as the metrics see it: the prepared frames, a seed per random step, the options,
    and what each stage measured (``values[stage]``: {metric name: raw value}; ``details[stage]``: the
    scorecard's ``details[stage]``, with ``ci95`` and ``not_measured`` until the evaluator moves them)."""

    frames: Frames
    seeds: dict[str, int]
    options: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # what one stage hands a later one (holdout predictions)

    def value(self, stage: str, name: str) -> float | None:
        """The value ``stage`` measured for metric ``name``; None when the stage did not run (fairness
        without protected columns). A stage that ran without measuring ``name`` is a bug: KeyError."""
        if stage not in self.values:
            return None
        try:
            return self.values[stage][name]
        except KeyError:
            raise KeyError(f"stage '{stage}' measured no value for metric '{name}'") from None


# ------------------------------------------------------------------------------ scoring rules
# How a metric's value enters its sub-score (a metric's ``scoring``): each rule maps
# (metric, value, 95% interval or None, noise reference) to a 0..1 part, or None when not measured.

def _plain(metric: "Metric", value: Any, ci95: Any, noise: dict) -> float | None:
    """The metric's score of its value."""
    return metric.score(value)


def _above_noise(metric: "Metric", value: Any, ci95: Any, noise: dict) -> float | None:
    """How far the value sits from what uniform noise scores on the same table, towards 1, in 0..1:
    clip((value - noise) / (1 - noise)); noise is ``noise[<name after the family prefix>]`` (0 when absent)."""
    floor = noise.get(metric.name.split(".", 1)[-1], 0.0)
    if value is None or floor is None or math.isnan(value) or math.isnan(floor):
        return None
    return clip01((value - floor) / (1.0 - floor)) if floor < 1.0 else (1.0 if value >= 1.0 else 0.0)


def _evidence(metric: "Metric", value: Any, ci95: Any, noise: dict) -> float | None:
    """The score at the most favourable end of the 95% interval (at the value without one): metrics measured
    against chance are judged on what the evidence shows, as the gate's interval rules do, so a chance
    match on a small table does not cost what a proven leak costs."""
    if _missing(value):
        return None
    if not ci95:
        return metric.score(value)
    return metric.score(min(ci95) if metric.goal == "minimize" else max(ci95))


def _significant(metric: "Metric", value: Any, ci95: Any, noise: dict) -> float | None:
    """The score when the 95% interval excludes 0 (a measurable change), else 0.5: "no measurable change"
    is neutral, never a gain or a loss."""
    if _missing(value):
        return None
    return metric.score(value) if ci95 and (ci95[0] > 0 or ci95[1] < 0) else 0.5


SCORING: dict[str, Callable[["Metric", Any, Any, dict], float | None]] = {
    "score": _plain, "above_noise": _above_noise, "evidence": _evidence, "significant": _significant,
}


# ------------------------------------------------------------------------------ metric
class Metric:
    """One scorecard number: what it measures, which way is better, its 0..1 score, where it counts, and how
    it is computed. Subclasses set the class attributes and override ``normalize``, ``explain`` and, for a
    metric that no stage measures, ``compute``."""

    name: str = ""
    goal: str = "maximize"  # "maximize" or "minimize"
    range: tuple[float, float] = (0.0, 1.0)
    description: str = ""  # the docs line: scorecard entry, report glossary, gate fallback sentence
    stage: str | None = None  # the stage computation that measures it (evaluator.STAGES)
    subscore: str | None = None  # the sub-score it counts in (registry.SUBSCORES), or None
    weight: float = 1.0  # its weight within a "mean" sub-score (a "min" sub-score takes every part in full)
    scoring: str = "score"  # how it enters its sub-score: a key of SCORING
    key: bool = False  # shown among the report's key metrics

    def normalize(self, value: float) -> float:
        """The value mapped towards 0..1, higher is better (``score`` clips it): linear over ``range``."""
        lo, hi = self.range
        if self.goal == "maximize":
            return (value - lo) / (hi - lo)
        return (hi - value) / (hi - lo)

    def explain(self, value: float, details: dict) -> str | None:
        """One sentence with the metric's numbers for a gate reason (``details``: the scorecard's whole
        ``details``); None: no sentence of its own."""
        return None

    def compute(self, run: EvaluationRun) -> float | None:
        """The raw value (NaN: not measurable, the reason in ``details.not_measured``; None: the metric does
        not apply to this evaluation and stays off the scorecard). By default the value its stage measured."""
        if self.stage is None:
            raise NotImplementedError(f"metric '{self.name}' names no stage and does not override compute")
        return run.value(self.stage, self.name)

    def score(self, value: float | None) -> float | None:
        """Normalised 0..1 higher-is-better score of a raw value (None when not computed)."""
        if _missing(value):
            return None
        return clip01(self.normalize(value))

    def part(self, value: float | None, ci95: Any = None, noise: dict | None = None) -> float | None:
        """This metric's part of its sub-score, by its scoring rule (None when not measured)."""
        return SCORING[self.scoring](self, value, ci95, noise or {})

    def entry(self, value: float | None, ci95: Any = None) -> dict:
        """The scorecard JSON entry for a value of this metric (``ci95``: its 95% interval, when measured)."""
        return {
            "value": value,
            "ci95": None if ci95 is None else [float(ci95[0]), float(ci95[1])],
            "score": self.score(value),
            "goal": self.goal,
            "range": [float(self.range[0]), float(self.range[1])],
            "description": self.description,
        }

    def sentence(self, value: float | None, details: dict) -> str:
        """One sentence with this metric's numbers (its ``explain``, else the description and value)."""
        if value is None:
            return f"{self.description}: not measured"
        try:
            text = self.explain(value, details)
        except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
            text = None  # details of an older scorecard: fall back to the plain sentence
        return text if text is not None else f"{self.description}: {value:.4g}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


# ------------------------------------------------------------------------------ sub-score
@dataclass(frozen=True)
class SubScore:
    """One 0..1 sub-score: its parts are the registry's metrics that name it; ``aggregation`` combines them
    ("mean": weighted by each metric's ``weight``; "min": the worst part); ``weight`` is its weight in the
    quality score's mean, and ``caps`` says whether the quality score is also at most this sub-score."""

    name: str
    aggregation: str
    weight: float
    caps: bool
    description: str  # the report's help line
    #: ``explain(value, values, details)`` -> the gate's sentence for a rule on this sub-score (None: plain)
    explain: Callable[[float, Callable[[str], Any], dict], str | None] | None = None

    def sentence(self, value: float, values: Callable[[str], Any], details: dict) -> str:
        """The gate's sentence for this sub-score's value: its family's own words, or a plain one."""
        text = self.explain(value, values, details) if self.explain is not None else None
        return text or f"{self.name} sub-score {value:.2f} of 1"

    def combine(self, parts: list[tuple[float, float]]) -> float | None:
        """The sub-score from (weight, part) pairs of the measured parts; None when none was measured."""
        if not parts:
            return None
        if self.aggregation == "min":
            return float(min(p for _, p in parts))
        if self.aggregation == "mean":
            return float(sum(w * p for w, p in parts) / sum(w for w, _ in parts))
        raise ValueError(f"sub-score '{self.name}': unknown aggregation {self.aggregation!r} (mean or min)")
