"""The scorecard: every metric, four 0..1 sub-scores and one 0..100 quality score, with a JSON round trip.

Sub-scores and the quality score (justified in docs/METRICS.md):

- realism  = mean(shapes above noise, pairs above noise, detection score 1 - 2|auc - 0.5|), where
  "above noise" is (value - noise) / (1 - noise) clipped to 0..1, noise being what uniform random
  values in the schema score on the same table (``details.realism.noise_reference``)
- utility  = 0.5 when augmented PR-AUC minus the best alternative's (class weights, tuned threshold,
  random oversampling, real rows only) is not significant, else clip(0.5 + difference / 0.2)
- privacy  = min of the scores of train_copy_excess, holdout_copy_excess, dcr_excess (each against
  its chance rate, scored at the favourable end of its 95% interval) and mia_auc
- fairness = min of the scores of min/max_representation_ratio (at the favourable end of their
  intervals) and equalized_odds_change; null without protected columns
- quality  = 100 * min(weighted mean, realism, privacy, fairness), weights realism .35, utility .25,
  privacy .25, fairness .15 (renormalised over available sub-scores): a realism, privacy or
  fairness failure caps the score instead of being averaged away.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ScorecardError
from ..io import atomic_path
from .base import METRICS, clip01

__all__ = ["Scorecard", "SCORECARD_VERSION", "WEIGHTS", "subscores", "quality_score"]

SCORECARD_VERSION = 1
WEIGHTS = {"realism": 0.35, "utility": 0.25, "privacy": 0.25, "fairness": 0.15}


def _s(metrics: dict[str, float | None], name: str) -> float | None:
    return METRICS[name].score(metrics.get(name))


def _above(value: float | None, floor: float | None) -> float | None:
    """How far a value sits from the noise floor towards 1, in 0..1."""
    if value is None or floor is None or math.isnan(value) or math.isnan(floor):
        return None
    return clip01((value - floor) / (1.0 - floor)) if floor < 1.0 else (1.0 if value >= 1.0 else 0.0)


def _evidence(values: dict[str, float | None], intervals: dict[str, list], name: str) -> float | None:
    """A metric's score at the most favourable end of its 95% interval (at its value without one).

    Metrics measured against chance are judged on what the evidence shows, as the gate's interval
    rules do: a chance match on a small table must not cost what a proven leak costs.
    """
    metric = METRICS[name]
    ci = intervals.get(name)
    if values.get(name) is None or (isinstance(values.get(name), float) and math.isnan(values[name])):
        return None
    if not ci:
        return metric.score(values[name])
    return metric.score(min(ci) if metric.goal == "minimize" else max(ci))


PRIVACY = ("leakage.train_copy_excess", "leakage.holdout_copy_excess", "leakage.dcr_excess")
FAIRNESS = ("fairness.min_representation_ratio", "fairness.max_representation_ratio")


def subscores(values: dict[str, float | None], utility_significant: bool,
              noise: dict | None = None, intervals: dict[str, list] | None = None) -> dict[str, float | None]:
    """The four 0..1 sub-scores from raw metric values and their intervals (see module docstring)."""
    noise = noise or {}
    intervals = intervals or {}
    parts = [_above(values.get("realism.column_shapes"), noise.get("column_shapes", 0.0)),
             _above(values.get("realism.column_pairs"), noise.get("column_pairs", 0.0)),
             _s(values, "realism.detection_auc")]
    parts = [p for p in parts if p is not None]
    realism = float(sum(parts) / len(parts)) if parts else None
    versus = values.get("utility.pr_auc_vs_best_alternative")
    if versus is None or math.isnan(versus):
        utility = None
    else:
        utility = clip01(0.5 + versus / 0.2) if utility_significant else 0.5
    parts = [_evidence(values, intervals, n) for n in PRIVACY] + [_s(values, "leakage.mia_auc")]
    parts = [p for p in parts if p is not None]
    privacy = float(min(parts)) if parts else None
    parts = [_evidence(values, intervals, n) for n in FAIRNESS] + [_s(values, "fairness.equalized_odds_change")]
    parts = [p for p in parts if p is not None]
    fairness = float(min(parts)) if parts else None
    return {"realism": realism, "utility": utility, "privacy": privacy, "fairness": fairness}


def quality_score(sub: dict[str, float | None]) -> float:
    """100 * min(weighted mean of available sub-scores, realism, privacy, fairness)."""
    avail = {k: v for k, v in sub.items() if v is not None}
    if not avail:
        return 0.0
    total = sum(WEIGHTS[k] for k in avail)
    mean = sum(WEIGHTS[k] * v for k, v in avail.items()) / total
    caps = [v for k, v in avail.items() if k in ("realism", "privacy", "fairness")]
    return 100.0 * min([mean] + caps)


def _clean(obj: Any) -> Any:
    """JSON-safe, deterministic values: NaN -> None, floats rounded to 12 significant digits."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isnan(obj) or math.isinf(obj):
            return None
        return float(f"{obj:.12g}")
    return obj


@dataclass
class Scorecard:
    """Everything the evaluation measured, in one JSON-serialisable object."""

    quality_score: float
    subscores: dict[str, float | None]
    metrics: dict[str, dict]
    details: dict[str, Any]
    inputs: dict[str, Any]
    random_state: int
    library_versions: dict[str, str]
    scorecard_version: int = SCORECARD_VERSION
    timings: dict[str, float] = field(default_factory=dict, compare=False, repr=False)  # not serialised
    lineage: dict[str, Any] | None = None  # the synthetic file vs its lineage manifest (synthgen/lineage.py)

    def value(self, name: str) -> float | None:
        """A metric's raw value, a sub-score (``subscores.privacy``) or ``quality_score``."""
        if name == "quality_score":
            return self.quality_score
        if name.startswith("subscores."):
            return self.subscores.get(name.split(".", 1)[1])
        entry = self.metrics.get(name)
        return None if entry is None else entry.get("value")

    def interval(self, name: str) -> list[float] | None:
        """A metric's 95% interval [lo, hi], when the evaluation measured one."""
        entry = self.metrics.get(name)
        return None if entry is None else entry.get("ci95")

    def to_dict(self) -> dict:
        """The scorecard as JSON-safe data; ``lineage`` only when the synthetic file had a manifest."""
        lineage = {} if self.lineage is None else {"lineage": self.lineage}
        return _clean({
            "scorecard_version": self.scorecard_version,
            "quality_score": self.quality_score,
            "subscores": self.subscores,
            "metrics": self.metrics,
            "details": self.details,
            "inputs": self.inputs,
            "random_state": self.random_state,
            "library_versions": self.library_versions,
            **lineage,
        })

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, allow_nan=False)

    def save(self, path: str | os.PathLike, *, force: bool = True) -> Path:
        """Write the JSON atomically (temporary file, then rename)."""
        with atomic_path(path, force=force) as tmp:
            tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        return Path(path)

    @classmethod
    def from_dict(cls, data: dict, source: str = "scorecard") -> "Scorecard":
        if not isinstance(data, dict):
            raise ScorecardError(f"{source}: expected a JSON object, found {type(data).__name__}")
        version = data.get("scorecard_version")
        if version != SCORECARD_VERSION:
            raise ScorecardError(f"{source}: scorecard version {version!r} is not supported "
                                 f"(this synthgen reads version {SCORECARD_VERSION})")
        missing = [k for k in ("quality_score", "subscores", "metrics", "details", "inputs", "random_state",
                               "library_versions") if k not in data]
        if missing:
            raise ScorecardError(f"{source}: missing keys {', '.join(missing)}")
        return cls(quality_score=data["quality_score"], subscores=data["subscores"], metrics=data["metrics"],
                   details=data["details"], inputs=data["inputs"], random_state=data["random_state"],
                   library_versions=data["library_versions"], scorecard_version=version,
                   lineage=data.get("lineage"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Scorecard":
        """Read a scorecard JSON file; corrupt JSON or another version raises ScorecardError naming the file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScorecardError(f"scorecard '{path}': cannot be read ({type(exc).__name__})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScorecardError(f"scorecard '{path}': not valid JSON (line {exc.lineno}: {exc.msg})") from None
        return cls.from_dict(data, source=f"scorecard '{path}'")
