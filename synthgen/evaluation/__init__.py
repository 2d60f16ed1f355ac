"""Evaluation: realism, utility, leakage risk and fairness impact of synthetic rows, as one scorecard.

    card = evaluate(real_train, real_holdout, synthetic, target="fraud")
    card.quality_score, card.subscores, card.metrics["leakage.mia_auc"]["value"]

Every scorecard number is a ``Metric`` class listed in ``registry.METRICS``, the one registry;
``METRICS`` here is that registry by name (a live read-only view).
"""

from __future__ import annotations

from . import registry
from .base import Metric
from .evaluator import evaluate
from .scorecard import SCORECARD_VERSION, Scorecard

METRICS = registry.BY_NAME

__all__ = ["evaluate", "Scorecard", "Metric", "METRICS", "SCORECARD_VERSION", "registry"]
