"""``evaluate``: run realism, utility, leakage and fairness once and assemble the scorecard."""

from __future__ import annotations

import time
from typing import Any, Sequence

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
from . import utility as _utility
from ._frame import prepare
from .base import METRICS, nan_to_none
from .scorecard import Scorecard, quality_score, subscores

__all__ = ["evaluate"]


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
) -> Scorecard:
    """Score synthetic rare-class rows against real train and an unseen real holdout; never mutates inputs.

    ``utility_models``: model families for utility besides ``hgb`` (which the gate reads), e.g.
    ``["logreg", "rf"]``; ``utility_repeats``: model seeds each utility figure is averaged over;
    ``sensitive``: columns the inference attack treats as secrets, besides the protected ones.
    """
    _utility.resolve_models(utility_models)  # a bad name or count fails before any work
    _utility.check_repeats(utility_repeats)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    frames = prepare(real_train, real_holdout, synthetic, target, protected, label, schema)
    for col in sensitive or ():  # before any long step
        if col not in real_train.columns:
            raise EvaluationError(f"sensitive column '{col}' is not in the table")
    timings["prepare"] = time.perf_counter() - t0
    seeds = np.random.SeedSequence(int(random_state)).spawn(6)
    seed = [int(s.generate_state(1)[0]) for s in seeds]
    values: dict[str, float | None] = {}
    details: dict[str, Any] = {}

    t = time.perf_counter()
    shapes, shape_details = _realism.column_shapes(frames)
    pairs, pair_details = _realism.column_pairs(frames)
    timings["shapes_pairs"] = time.perf_counter() - t
    t = time.perf_counter()
    auc, det_details = _realism.detection(frames, seed[0])
    timings["detection"] = time.perf_counter() - t
    noise = _realism.noise_reference(frames, seed[4])
    unseen, unseen_details = _realism.unseen_categories(frames)
    values.update({"realism.column_shapes": shapes, "realism.column_pairs": pairs,
                   "realism.detection_auc": auc, "realism.unseen_category_rate": unseen})
    details["realism"] = {"column_shapes": shape_details, "column_pairs": pair_details,
                          "detection": det_details, "unseen_categories": unseen_details,
                          "noise_reference": noise}

    t = time.perf_counter()
    u_values, u_details, preds = _utility.utility(frames, seed[1], utility_models, utility_repeats)
    timings["utility"] = time.perf_counter() - t
    values.update(u_values)
    details["utility"] = u_details

    t = time.perf_counter()
    l_values, l_details = _leakage.leakage(frames, seed[2])
    timings["leakage"] = time.perf_counter() - t
    values.update(l_values)
    details["leakage"] = l_details

    t = time.perf_counter()
    p_values, p_details = _privacy.privacy(frames, seed[3], sensitive or ())
    timings["privacy"] = time.perf_counter() - t
    values.update(p_values)
    details["privacy"] = p_details

    if frames.protected:
        t = time.perf_counter()
        f_values, f_details = _fairness.fairness(frames, preds, seed[5])
        timings["fairness"] = time.perf_counter() - t
        values.update(f_values)
        details["fairness"] = f_details

    intervals: dict[str, Any] = {}
    not_measured: dict[str, str] = {}
    for family in details.values():  # a family reports 95% intervals and reasons for NaN values here
        if isinstance(family, dict):
            intervals.update(family.pop("ci95", None) or {})
            not_measured.update(family.pop("not_measured", None) or {})
    for name, v in values.items():
        if nan_to_none(v) is None and name not in not_measured:
            not_measured[name] = "the data gave no defined value"
    details["not_measured"] = {k: not_measured[k] for k in sorted(not_measured) if k in values}
    metrics = {name: METRICS[name].entry(nan_to_none(v), intervals.get(name)) for name, v in values.items()}
    significant = bool(u_details["vs_best_alternative"]["pr_auc"]["significant"])
    sub = subscores(values, significant, noise, intervals)
    quality = quality_score(sub)
    details["columns"] = [{"name": s.name, "kind": s.kind.value} for s in frames.modelled]
    details["excluded_columns"] = [{"name": s.name, "kind": s.kind.value, "reason": _EXCLUDED.get(s.kind.value, "")}
                                   for s in frames.schema.features() if not s.kind.is_modelled]
    inputs = {
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
    timings["total"] = time.perf_counter() - t0
    card = Scorecard(quality_score=quality, subscores=sub, metrics=metrics, details=details, inputs=inputs,
                     random_state=int(random_state), library_versions=recorded_versions())
    card = Scorecard.from_dict(card.to_dict())  # in memory exactly what the JSON holds
    card.timings = timings
    return card


_EXCLUDED = {
    "identifier": "an identifier (one value per row) carries no signal and would let a model or a distance "
                  "match rows by their number",
    "key": "a key points at an entity (customer, card): it is not a measurement, and as a feature it would "
           "let models memorise entities",
    "personal": "personal data or free text is never modelled or copied",
}

