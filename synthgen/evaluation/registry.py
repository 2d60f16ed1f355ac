"""The metric registry: the one list of scorecard metrics, and the sub-scores they make up.

``METRICS`` is the registry. Its order is the order of the scorecard's ``metrics``; the evaluator
computes every metric in it, ``scorecard.subscores`` and ``quality_score`` are derived from it and
``SUBSCORES``, the gate accepts rules on its names and the report reads its descriptions. Adding a
metric means writing its class (``base.Metric``) and adding one line here; nothing else names it.

Everything that reads the registry reads ``METRICS`` when it runs (``by_name``, ``get``), so a list
patched in a test is seen everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .base import Metric, SubScore
from .fairness import (DemographicParityChange, EqualizedOddsChange, MaxRepresentationRatio, MaxRepresentationShift,
                       MinRepresentationRatio)
from .leakage import (CloserToTrainShare, DcrBelowHoldoutP5, DcrExcess, ExactCopyRate, HoldoutCopyExcess,
                      HoldoutCopyRate, MiaAUC, TrainCopyExcess)
from .privacy import DomiasAUC, InferenceRisk, LinkabilityRisk, OutlierExposure, SinglingOutRisk
from .realism import ColumnPairs, ColumnShapes, DetectionAUC, RelationsKept, UnseenCategoryRate
from .realism import subscore_sentence as realism_sentence
from .utility import (BrierChange, F1Uplift, LabelFidelity, PrAucAugmented, PrAucBaseline, PrAucUplift,
                      PrAucVsBestAlternative, PrecisionUplift, RecallAt1pctFprUplift, RecallAt1pctFprVsBestAlternative,
                      RecallUplift, RocAucUplift)

__all__ = ["METRICS", "SUBSCORES", "BY_NAME", "by_name", "get", "subscore"]

METRICS: list[Metric] = [
    # realism (stage "realism")
    ColumnShapes(),
    ColumnPairs(),
    DetectionAUC(),
    UnseenCategoryRate(),
    RelationsKept(),
    # utility (stage "utility")
    PrAucUplift(),
    RecallUplift(),
    RocAucUplift(),
    F1Uplift(),
    RecallAt1pctFprUplift(),
    PrecisionUplift(),
    PrAucVsBestAlternative(),
    RecallAt1pctFprVsBestAlternative(),
    BrierChange(),
    LabelFidelity(),
    PrAucAugmented(),
    PrAucBaseline(),
    # leakage (stage "leakage")
    ExactCopyRate(),
    HoldoutCopyRate(),
    DcrBelowHoldoutP5(),
    CloserToTrainShare(),
    MiaAUC(),
    TrainCopyExcess(),
    HoldoutCopyExcess(),
    DcrExcess(),
    # privacy attacks (stage "privacy")
    DomiasAUC(),
    SinglingOutRisk(),
    LinkabilityRisk(),
    InferenceRisk(),
    OutlierExposure(),
    # fairness (stage "fairness": with protected columns only)
    MaxRepresentationShift(),
    MinRepresentationRatio(),
    MaxRepresentationRatio(),
    EqualizedOddsChange(),
    DemographicParityChange(),
]

#: The sub-scores, in the scorecard's order. Their parts are the metrics that name them (``Metric.subscore``).
SUBSCORES: tuple[SubScore, ...] = (
    SubScore("realism", "mean", 0.35, caps=True,
             description="do synthetic rows look like real rare rows? column shapes and pair trends measured from "
                         "what uniform noise scores on the same table (noise = 0), with the detection score "
                         "(higher is better)", explain=realism_sentence),
    SubScore("utility", "mean", 0.25, caps=False,
             description="does adding them help a fraud model on the real holdout? 0.5 = no measurable change, "
                         "above 0.5 = significant PR-AUC gain (higher is better)"),
    SubScore("privacy", "min", 0.25, caps=True,
             description="do they avoid copying or hugging training rows more than chance, and resist attacks? the "
                         "worst of the train-copy, holdout-copy and DCR excess over chance, the outlier exposure, "
                         "the DOMIAS AUC and the Anonymeter risks (each at the favourable end of its 95% interval) "
                         "and the distance membership attack (higher is better)"),
    SubScore("fairness", "min", 0.15, caps=True,
             description="do protected groups keep their share and the model's error balance? the worst of the "
                         "representation ratios (on their 95% intervals) and the equalized-odds score; n/a without "
                         "protected columns (higher is better)"),
)


def by_name() -> dict[str, Metric]:
    """The registry by metric name, in registry order; a name listed twice is an error."""
    out: dict[str, Metric] = {}
    for m in METRICS:
        if m.name in out:
            raise ValueError(f"metric registry: '{m.name}' is listed twice")
        out[m.name] = m
    return out


def get(name: str) -> Metric | None:
    """The registered metric called ``name``, or None."""
    return next((m for m in METRICS if m.name == name), None)


def subscore(name: str) -> SubScore:
    """The sub-score called ``name`` (KeyError naming the known ones otherwise)."""
    for s in SUBSCORES:
        if s.name == name:
            return s
    raise KeyError(f"no sub-score '{name}'; known: {', '.join(s.name for s in SUBSCORES)}")


class _ByName(Mapping):
    """A read-only view of the registry by name, read live from ``METRICS``."""

    def __getitem__(self, name: str) -> Metric:
        return by_name()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(by_name())

    def __len__(self) -> int:
        return len(by_name())

    def __repr__(self) -> str:
        return f"<metric registry: {', '.join(self)}>"


#: ``synthgen.evaluation.METRICS``: {name: metric}, always what ``METRICS`` holds now.
BY_NAME: Mapping[str, Metric] = _ByName()
