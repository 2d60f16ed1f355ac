"""The scorecard: every metric, four 0..1 sub-scores and one 0..100 quality score, with a JSON round trip.

Sub-scores and the quality score come from the metric registry (``registry.METRICS`` and
``registry.SUBSCORES``; the formulas and their reasons are in docs/METRICS.md): a sub-score combines
the parts of the metrics that name it, each part by the metric's scoring rule (``base.SCORING``: its
plain score, its distance above the noise floor, its score at the favourable end of its 95% interval, or
its score only when its interval excludes 0), with the sub-score's aggregation (a weighted mean or the
minimum). The quality score is 100 * min(weighted mean of the available sub-scores, every sub-score that
caps it): a failure there caps the score instead of being averaged away.
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
from . import registry

__all__ = ["Scorecard", "SCORECARD_VERSION", "WEIGHTS", "subscores", "quality_score"]

SCORECARD_VERSION = 1
WEIGHTS = {s.name: s.weight for s in registry.SUBSCORES}  # each sub-score's weight in the quality score


def subscores(values: dict[str, float | None], intervals: dict[str, list] | None = None,
              noise: dict | None = None) -> dict[str, float | None]:
    """Every sub-score (0..1, None when none of its parts was measured) from raw metric values, their 95%
    intervals and the noise reference (``details.realism.noise_reference``), as the registry defines them."""
    intervals = intervals or {}
    noise = noise or {}
    out: dict[str, float | None] = {}
    for sub in registry.SUBSCORES:
        parts = []
        for metric in registry.METRICS:
            if metric.subscore == sub.name:
                part = metric.part(values.get(metric.name), intervals.get(metric.name), noise)
                if part is not None:
                    parts.append((metric.weight, part))
        out[sub.name] = sub.combine(parts)
    return out


def quality_score(sub: dict[str, float | None]) -> float:
    """100 * min(weighted mean of the available sub-scores, each available sub-score that caps it)."""
    avail = {k: v for k, v in sub.items() if v is not None}
    if not avail:
        return 0.0
    weights = {s.name: s.weight for s in registry.SUBSCORES}
    total = sum(weights[k] for k in avail)
    mean = sum(weights[k] * v for k, v in avail.items()) / total
    caps = [v for k, v in avail.items() if registry.subscore(k).caps]
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
