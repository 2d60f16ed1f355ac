"""Evaluation: realism, utility, leakage risk and fairness impact of synthetic rows, as one scorecard.

    card = evaluate(real_train, real_holdout, synthetic, target="fraud")
    card.quality_score, card.subscores, card.metrics["leakage.mia_auc"]["value"]
"""

from __future__ import annotations

from .base import METRICS, Metric
from .evaluator import evaluate
from .scorecard import SCORECARD_VERSION, Scorecard

__all__ = ["evaluate", "Scorecard", "Metric", "METRICS", "SCORECARD_VERSION"]
