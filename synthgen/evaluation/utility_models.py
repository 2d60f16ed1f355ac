"""The model families utility trains: one documented, fixed configuration each, seeded.

``hgb`` is the default and the one the gate reads; the others (``--utility-models``) show whether a
verdict holds for a different kind of model. LightGBM and XGBoost join when installed
(``pip install 'synthgen[boosting]'``). Every family takes the matrix of ``_frame.model_matrix``:
numbers as floats with NaN for missing, categories as codes (NaN missing).

A family is ``seeded`` when its fit uses the random seed. Only seeded families are refitted for
``--utility-repeats``: a deterministic fit (no row or feature subsampling) gives the same model for
every seed, so its repeats are identical and are not recomputed.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..exceptions import UsageError
from ._frame import omp_threads

__all__ = ["UtilityModel", "MODEL_PARAMS", "available_models", "resolve_models", "DEFAULT_MODELS"]

MODEL_PARAMS = dict(max_iter=150, learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
                    l2_regularization=0.0, early_stopping=False)
RF_PARAMS = dict(n_estimators=50, min_samples_leaf=10, max_features="sqrt")
RF_MAX_ROWS = 10_000  # rows drawn per tree (bootstrap): caps the forest's cost on big tables
LGBM_PARAMS = dict(n_estimators=150, learning_rate=0.1, num_leaves=31, min_child_samples=20)
XGB_PARAMS = dict(n_estimators=150, learning_rate=0.1, max_depth=6, tree_method="hist")
DEFAULT_MODELS = ("hgb",)

Predict = Callable[[np.ndarray], np.ndarray]  # rows -> rare-class probabilities
Fit = Callable[[np.ndarray, np.ndarray, np.ndarray, int, "np.ndarray | None"], Predict]
OutOfBag = Callable[[np.ndarray, np.ndarray, np.ndarray, int], tuple[Predict, np.ndarray]]


@dataclass(frozen=True)
class UtilityModel:
    """One model family: its name, a one-line description, whether its fit uses the seed, and its fit
    (``fit(X, y, is_cat, seed, sample_weight)`` returns the fitted model's predict function)."""

    name: str
    description: str
    seeded: bool
    fit: Fit
    package: str | None = None  # the optional package it needs
    out_of_bag: OutOfBag | None = None  # one fit giving the predict function and out-of-bag train scores

    @property
    def installed(self) -> bool:
        return self.package is None or importlib.util.find_spec(self.package) is not None

    def fit_predict(self, X, y, is_cat, X_pred, seed, sample_weight=None) -> np.ndarray:
        """Fit on (X, y) and return the rare-class probabilities of ``X_pred``."""
        return self.fit(X, y, is_cat, seed, sample_weight)(X_pred)


def _hgb(X, y, is_cat, seed, sample_weight=None) -> Predict:
    from sklearn.ensemble import HistGradientBoostingClassifier

    clf = HistGradientBoostingClassifier(categorical_features=is_cat, random_state=seed, **MODEL_PARAMS)
    with omp_threads(len(X)):
        clf.fit(X, y, sample_weight=sample_weight)

    def predict(X_pred):
        with omp_threads(len(X_pred)):
            return clf.predict_proba(X_pred)[:, 1]
    return predict


def _logreg(X, y, is_cat, seed, sample_weight=None) -> Predict:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num, cat = np.flatnonzero(~is_cat), np.flatnonzero(is_cat)
    features = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), num),
        ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), cat),  # NaN is its own category
    ])
    model = make_pipeline(features, LogisticRegression(C=1.0, max_iter=1_000))
    model.fit(X, y, logisticregression__sample_weight=sample_weight)
    return lambda X_pred: model.predict_proba(X_pred)[:, 1]


def _forest(X, y, seed, sample_weight=None, oob_score=False):
    """The rf family's forest, fitted. Trees are grown on up to 2 threads (each tree has its own seed, so
    the trees do not depend on the thread count); predictions then run on one thread, because threaded
    prediction adds the trees' votes in arrival order and the float sums would vary from run to run."""
    import os

    from sklearn.ensemble import RandomForestClassifier

    rows = min(1.0, RF_MAX_ROWS / max(len(X), 1))
    clf = RandomForestClassifier(random_state=seed, max_samples=rows, n_jobs=min(2, os.cpu_count() or 1),
                                 oob_score=oob_score, **RF_PARAMS)
    clf.fit(X, y, sample_weight=sample_weight)  # categories as ordinal codes; NaN handled natively
    return clf.set_params(n_jobs=1)


def _rf(X, y, is_cat, seed, sample_weight=None) -> Predict:
    clf = _forest(X, y, seed, sample_weight)
    return lambda X_pred: clf.predict_proba(X_pred)[:, 1]


def _rf_out_of_bag(X, y, is_cat, seed) -> tuple[Predict, np.ndarray]:
    """The baseline forest of ``_rf`` (same trees: out-of-bag scoring draws no randomness) plus each train
    row's score from the trees that did not see it: the forest's own out-of-sample predictions."""
    clf = _forest(X, y, seed, oob_score=True)
    oob = np.nan_to_num(clf.oob_decision_function_[:, 1], nan=float(y.mean()))  # NaN: in every tree's bag
    return (lambda X_pred: clf.predict_proba(X_pred)[:, 1]), oob


def _lightgbm(X, y, is_cat, seed, sample_weight=None) -> Predict:
    from lightgbm import LGBMClassifier

    clf = LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1, deterministic=True, **LGBM_PARAMS)
    clf.fit(X, y, sample_weight=sample_weight, categorical_feature=[int(j) for j in np.flatnonzero(is_cat)])
    return lambda X_pred: clf.predict_proba(X_pred)[:, 1]


def _xgboost(X, y, is_cat, seed, sample_weight=None) -> Predict:
    from xgboost import XGBClassifier

    clf = XGBClassifier(random_state=seed, n_jobs=1, **XGB_PARAMS)
    clf.fit(X, y, sample_weight=sample_weight)  # categories as ordinal codes; NaN is missing
    return lambda X_pred: clf.predict_proba(X_pred)[:, 1]


def _describe(name: str, params: dict, extra: str) -> str:
    return f"{name}(" + ", ".join(f"{k}={v}" for k, v in params.items()) + f"{extra})"


FAMILIES: dict[str, UtilityModel] = {m.name: m for m in (
    UtilityModel("hgb", _describe("HistGradientBoostingClassifier", MODEL_PARAMS, ", native categories"),
                 seeded=False, fit=_hgb),
    UtilityModel("logreg", "LogisticRegression(C=1.0) on one-hot categories (min_frequency=5) and median-imputed, "
                 "scaled numbers", seeded=False, fit=_logreg),
    UtilityModel("rf", _describe("RandomForestClassifier", RF_PARAMS, f", at most {RF_MAX_ROWS} rows per tree, "
                 "categories as codes"), seeded=True, fit=_rf, out_of_bag=_rf_out_of_bag),
    UtilityModel("lightgbm", _describe("LGBMClassifier", LGBM_PARAMS, ", native categories"), seeded=False,
                 fit=_lightgbm, package="lightgbm"),
    UtilityModel("xgboost", _describe("XGBClassifier", XGB_PARAMS, ", categories as codes"), seeded=False,
                 fit=_xgboost, package="xgboost"),
)}


def available_models() -> list[str]:
    """Names that ``--utility-models`` accepts on this installation."""
    return [name for name, m in FAMILIES.items() if m.installed]


def resolve_models(names: str | list[str] | tuple[str, ...] | None) -> list[UtilityModel]:
    """The families to train, ``hgb`` first (the gate reads it), each once; a one-line error for a bad name."""
    if names is None:
        names = list(DEFAULT_MODELS)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    names = [str(n).strip().lower() for n in names if str(n).strip()]
    out = [FAMILIES["hgb"]]
    for name in names:
        if name not in FAMILIES:
            raise UsageError(f"unknown utility model {name!r} in --utility-models; valid: {', '.join(FAMILIES)}")
        if not FAMILIES[name].installed:
            raise UsageError(f"utility model {name!r} needs the package {FAMILIES[name].package!r}: "
                             "pip install 'synthgen[boosting]'")
        if FAMILIES[name] not in out:
            out.append(FAMILIES[name])
    return out
