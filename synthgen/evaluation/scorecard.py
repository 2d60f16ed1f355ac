"""The scorecard: every metric, four 0..1 sub-scores and one 0..100 quality score, with a JSON round trip.

Sub-scores and the quality score (justified in docs/METRICS.md):

- realism  = mean(column_shapes, column_pairs, detection score 1 - 2|auc - 0.5|)
- utility  = 0.5 when the PR-AUC uplift is not significant, else clip(0.5 + uplift / 0.2)
- privacy  = 0 if any holdout row is reproduced, else min(copy, DCR, MIA scores)
- fairness = min(representation score, equalized-odds score); null without protected columns
- quality  = 100 * min(weighted mean, privacy, fairness), weights realism .35, utility .25,
  privacy .25, fairness .15 (renormalised over available sub-scores): a privacy or fairness
  failure caps the score instead of being averaged away.
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


def subscores(values: dict[str, float | None], utility_significant: bool) -> dict[str, float | None]:
    """The four 0..1 sub-scores from raw metric values (see module docstring)."""
    parts = [_s(values, n) for n in ("realism.column_shapes", "realism.column_pairs", "realism.detection_auc")]
    parts = [p for p in parts if p is not None]
    realism = float(sum(parts) / len(parts)) if parts else None
    uplift = values.get("utility.pr_auc_uplift")
    if uplift is None or math.isnan(uplift):
        utility = None
    else:
        utility = clip01(0.5 + uplift / 0.2) if utility_significant else 0.5
    if values.get("leakage.holdout_copy_rate", 0.0):
        privacy = 0.0
    else:
        parts = [_s(values, n) for n in ("leakage.exact_copy_rate", "leakage.dcr_below_holdout_p5", "leakage.mia_auc")]
        parts = [p for p in parts if p is not None]
        privacy = float(min(parts)) if parts else None
    fair_parts = [_s(values, n) for n in ("fairness.max_representation_shift", "fairness.equalized_odds_change")]
    fair_parts = [p for p in fair_parts if p is not None]
    fairness = float(min(fair_parts)) if fair_parts else None
    return {"realism": realism, "utility": utility, "privacy": privacy, "fairness": fairness}


def quality_score(sub: dict[str, float | None]) -> float:
    """100 * min(weighted mean of available sub-scores, privacy, fairness)."""
    avail = {k: v for k, v in sub.items() if v is not None}
    if not avail:
        return 0.0
    total = sum(WEIGHTS[k] for k in avail)
    mean = sum(WEIGHTS[k] * v for k, v in avail.items()) / total
    caps = [v for k, v in avail.items() if k in ("privacy", "fairness")]
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

    def value(self, name: str) -> float | None:
        """A metric's raw value, a sub-score (``subscores.privacy``) or ``quality_score``."""
        if name == "quality_score":
            return self.quality_score
        if name.startswith("subscores."):
            return self.subscores.get(name.split(".", 1)[1])
        entry = self.metrics.get(name)
        return None if entry is None else entry.get("value")

    def to_dict(self) -> dict:
        return _clean({
            "scorecard_version": self.scorecard_version,
            "quality_score": self.quality_score,
            "subscores": self.subscores,
            "metrics": self.metrics,
            "details": self.details,
            "inputs": self.inputs,
            "random_state": self.random_state,
            "library_versions": self.library_versions,
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
                   library_versions=data["library_versions"], scorecard_version=version)

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
