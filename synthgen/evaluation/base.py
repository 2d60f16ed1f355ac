"""Declarative metric definitions (SDMetrics style): name, goal, range, description, normalised score.

Every number on the scorecard is one ``Metric``: the gate checks policies against
this registry (an unknown name is a policy error) and reports read the descriptions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Metric", "METRICS", "metric", "clip01", "nan_to_none", "Explain"]

#: ``explain(value, details)`` -> one sentence with the metric's numbers, for a gate reason;
#: ``details`` is the scorecard's whole ``details`` dict.
Explain = Callable[[float, dict], str]


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


@dataclass(frozen=True)
class Metric:
    """One scorecard number: what it measures, which way is better, and its 0..1 score."""

    name: str
    goal: str  # "maximize" or "minimize"
    range: tuple[float, float]
    description: str
    normalize: Callable[[float], float]
    explain: Explain | None = None

    def score(self, value: float | None) -> float | None:
        """Normalised 0..1 higher-is-better score of a raw value (None when not computed)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return clip01(self.normalize(value))

    def entry(self, value: float | None, ci95: Any = None) -> dict:
        """The scorecard JSON entry for a value of this metric (``ci95``: its 95% interval, when measured)."""
        return {
            "value": value,
            "ci95": None if ci95 is None else [float(ci95[0]), float(ci95[1])],
            "score": self.score(value),
            "goal": self.goal,
            "range": list(self.range),
            "description": self.description,
        }

    def sentence(self, value: float | None, details: dict) -> str:
        """One sentence with this metric's numbers (its ``explain``, else the description and value)."""
        if value is None:
            return f"{self.description}: not measured"
        if self.explain is not None:
            try:
                return self.explain(value, details)
            except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError):
                pass  # details of an older scorecard: fall back to the plain sentence
        return f"{self.description}: {value:.4g}"


METRICS: dict[str, Metric] = {}


def metric(name: str, goal: str, lo: float, hi: float, description: str,
           normalize: Callable[[float], float] | None = None, explain: Explain | None = None) -> Metric:
    """Define and register a metric; default normalisation maps the range linearly to 0..1."""
    if normalize is None:
        if goal == "maximize":
            normalize = lambda v, lo=lo, hi=hi: (v - lo) / (hi - lo)  # noqa: E731
        else:
            normalize = lambda v, lo=lo, hi=hi: (hi - v) / (hi - lo)  # noqa: E731
    m = Metric(name, goal, (lo, hi), description, normalize, explain)
    METRICS[name] = m
    return m
