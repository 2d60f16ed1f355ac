"""An imbalanced-learn over-sampler, so augmentation runs inside a Pipeline's training folds only."""

from __future__ import annotations

import math
import numbers
import re
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_sampling_strategy, check_target_type
from sklearn.base import clone
from sklearn.utils import check_array
from sklearn.utils._param_validation import HasMethods, Interval, InvalidParameterError
from sklearn.utils.validation import validate_data

from ..exceptions import ParameterError
from ..schema import Schema
from . import make_generator
from .base import BaseGenerator, resolve_seed

__all__ = ["SynthSampler"]

_TARGET = "__synthgen_target__"


class SynthSampler(BaseOverSampler):
    """``fit_resample(X, y)`` = real rows + synthetic rare rows from any synthgen generator.

    An imbalanced-learn ``BaseOverSampler``: ``sampling_strategy`` is resolved by imbalanced-learn's
    ``check_sampling_strategy``, so ``'auto'``, ``'minority'``, ``'not minority'``, ``'not majority'``,
    ``'all'``, a float (rare/majority ratio after resampling, binary only), a dict {label: rows wanted
    after resampling} and a callable ``y -> dict`` all mean what they mean in imbalanced-learn.
    X may be a DataFrame of mixed kinds (numbers, categories, text, dates, missing values), an array
    or a list; the output has X's type, columns and dtypes.

    generator: a name (``"gaussian-copula"``) or an unfitted generator instance (cloned per call).
    amount: instead of ``sampling_strategy``, how many rows to add as a multiple of each rare class's
    real rows in the fold (``amount=2.0`` adds 2x: 100 real rare rows become 300), as
    ``synthgen compare --amounts`` tries them; a number > 0. Rows per class: amount x real rows,
    rounded half up; a warning (``UserWarning``) when that makes a rare class outnumber the majority.
    generator_params: parameters for the generator (``set_params`` on an instance's clone).
    random_state: None (default) leaves the generator's own ``random_state`` (None there: fresh
    randomness each call, as in imbalanced-learn); an int, a numpy ``RandomState`` or ``Generator`` is
    resolved once per ``fit_resample`` into the seed the generator is fitted with (an int is that seed).
    column_kinds: the kinds decided on the whole table (a ``Schema`` or {column: kind}); every fold
    then models each column the same way. Without it, kinds are detected on each fold's rows.
    where: conditions every synthetic row meets, as ``BaseGenerator.sample(where=...)`` takes them
    (``{"Make": "Honda", "Age": (30, 50)}`` or ``["Make=Honda", "Age>=30"]``; an array X's columns are
    named "0", "1", ...); the real rows are kept whole. allow_unseen: sample a condition no real rare row of
    the fold meets (model-based generators only).

    Fitted attributes (also when there is nothing to add): ``sampling_strategy_`` (label -> rows
    added), ``generator_`` (the fitted generator, None when no row was added), ``n_features_in_``,
    ``feature_names_in_`` (DataFrame input).
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseOverSampler._parameter_constraints,
        "generator": [str, HasMethods(["fit", "sample"])],
        "amount": [Interval(numbers.Real, 0, None, closed="neither"), None],  # and finite, not a bool: _check_amount
        "generator_params": [dict, None],
        "random_state": ["random_state", np.random.Generator],
        "column_kinds": [Schema, dict, None],
        "where": [dict, list, tuple, None],
        "allow_unseen": ["boolean"],
    }

    def __init__(
        self,
        generator: str | BaseGenerator = "gaussian-copula",
        *,
        sampling_strategy: Any = "auto",
        amount: float | None = None,
        generator_params: dict | None = None,
        random_state: Any = None,
        column_kinds: Schema | dict | None = None,
        where: dict | list | None = None,
        allow_unseen: bool = False,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.generator = generator
        self.amount = amount
        self.generator_params = generator_params
        self.random_state = random_state
        self.column_kinds = column_kinds
        self.where = where
        self.allow_unseen = allow_unseen

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False  # generators model a table; scipy sparse input is refused
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags

    # ------------------------------------------------------------------ checks
    def _validate_params(self) -> None:
        """scikit-learn's constraints, then what they cannot say about ``amount``; a ParameterError naming
        the parameter (for a constraint, also scikit-learn's InvalidParameterError)."""
        try:
            super()._validate_params()
        except InvalidParameterError as exc:
            found = re.search(r"The '(\w+)' parameter", str(exc))
            raise _ConstraintError(f"{found.group(1) if found else 'parameter'}: {exc}") from None
        if self.amount is not None:
            _check_amount(self.amount)
            if not (isinstance(self.sampling_strategy, str) and self.sampling_strategy == "auto"):
                raise ParameterError(f"amount: give amount or sampling_strategy, not both "
                                     f"(sampling_strategy={self.sampling_strategy!r})")

    def fit(self, X: Any, y: Any, **params: Any) -> "SynthSampler":
        """Fit the generator as ``fit_resample`` does (and keep it in ``generator_``); return self."""
        self.fit_resample(X, y, **params)
        return self

    def _check_X_y(self, X: Any, y: Any):
        """X kept as given when a DataFrame (mixed kinds), else a dense array of any dtype; y a label
        vector (a one-vs-all encoded y is decoded, and encoded back on the way out, by the base class).
        ``sampling_strategy`` (or ``amount``) is resolved here against y, with ParameterError messages."""
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if isinstance(X, pd.DataFrame):
            if any(isinstance(dtype, pd.SparseDtype) for dtype in X.dtypes):
                X = X.sparse.to_dense()
        else:
            X = check_array(X, dtype=None, accept_sparse=False, ensure_all_finite=False)
        validate_data(self, X=X, y=y, reset=True, skip_check_array=True)
        self._to_add = self._rows_to_add(y)
        return X, y, binarize_y

    def _rows_to_add(self, y: np.ndarray) -> dict:
        """label -> rows to add: imbalanced-learn's resolution of sampling_strategy, or ``amount``."""
        labels, counts = np.unique(y, return_counts=True)
        if self.amount is not None:
            if len(labels) < 2:
                raise ParameterError("amount: y holds a single class, so there is no rare class to add rows to")
            return _amount_rows(self.amount, dict(zip(labels, counts.tolist())))
        try:
            return dict(check_sampling_strategy(self.sampling_strategy, y, self._sampling_type))
        except ValueError as exc:
            raise ParameterError(f"sampling_strategy: {exc}") from None

    # -------------------------------------------------------------- resample
    def _fit_resample(self, X: Any, y: np.ndarray):
        self.sampling_strategy_ = self._to_add
        wanted = {label: int(n) for label, n in self._to_add.items() if n > 0}
        self.generator_ = None
        if not wanted:
            return X, y
        frame = X.reset_index(drop=True) if isinstance(X, pd.DataFrame) else pd.DataFrame(X).rename(columns=str)
        table = frame.assign(**{_TARGET: y})
        gen = self._make_generator()
        if isinstance(self.column_kinds, Schema):  # kinds and identifier ranges of the whole table
            gen.fit(table, target=_TARGET, classes=list(wanted), schema=self._fold_schema(table))
        else:
            gen.fit(table, target=_TARGET, classes=list(wanted), column_kinds=self._kinds(frame))
        where = list(self.where) if isinstance(self.where, tuple) else self.where
        synthetic = pd.concat([gen.sample(n, label=label, where=where, allow_unseen=self.allow_unseen)
                               for label, n in wanted.items()], ignore_index=True)
        self.generator_ = gen
        new_y = synthetic.pop(_TARGET).to_numpy().astype(y.dtype)
        y_out = np.concatenate([y, new_y])
        if isinstance(X, pd.DataFrame):
            synthetic.columns = X.columns
            X_out = pd.concat([X.reset_index(drop=True), synthetic.astype(X.dtypes.to_dict(), errors="ignore")],
                              ignore_index=True)
        else:
            X_out = np.vstack([X, synthetic.to_numpy(dtype=X.dtype)])
        return X_out, y_out

    def _make_generator(self) -> BaseGenerator:
        if isinstance(self.generator, str):
            gen = make_generator(self.generator, **(self.generator_params or {}))
        else:
            gen = clone(self.generator)
            if self.generator_params:
                gen.set_params(**self.generator_params)
        if self.random_state is not None:  # None: the generator's own random_state decides
            gen.set_params(random_state=resolve_seed(self.random_state))
        return gen

    def _fold_schema(self, table: pd.DataFrame) -> Schema:
        whole = self.column_kinds
        missing = [c for c in table.columns if c != _TARGET and c not in whole]
        if missing:
            raise ParameterError(f"column_kinds: the schema has no column {missing[0]!r} of X")
        specs = [whole[c] for c in table.columns if c != _TARGET]
        target = Schema.detect(table[[_TARGET]], target=_TARGET).columns
        return Schema(columns=specs + target, target=_TARGET, notes=whole.notes).for_rows(table)

    def _kinds(self, frame: pd.DataFrame) -> dict[str, str] | None:
        kinds = self.column_kinds
        if kinds is None:
            return None
        return {str(k): v for k, v in kinds.items() if str(k) in frame.columns}


class _ConstraintError(ParameterError, InvalidParameterError):
    """A parameter outside its scikit-learn constraint: synthgen's ParameterError and scikit-learn's
    InvalidParameterError (which scikit-learn's check_param_validation expects)."""


def _check_amount(amount: Any) -> None:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or not math.isfinite(float(amount)) \
            or amount <= 0:
        raise ParameterError(f"amount: expected a number > 0 (a multiple of the real rare rows), got {amount!r}")


def _amount_rows(amount: float, counts: dict) -> dict:
    """label -> rows to add for ``amount`` x each rare class's real rows (rounded half up); a warning
    when a class would outnumber the majority."""
    majority = max(counts, key=counts.get)
    big = majority.item() if hasattr(majority, "item") else majority
    out = {}
    for label, c in counts.items():
        if label == majority:
            continue
        add = int(math.floor(float(amount) * int(c) + 0.5))
        if add < 1:
            raise ParameterError(f"amount: {float(amount):g}x of the {int(c)} rows of class {label!r} rounds to 0 rows")
        out[label] = add
        shown = label.item() if hasattr(label, "item") else label
        if int(c) + add > int(counts[majority]):
            warnings.warn(f"SynthSampler amount={float(amount):g}: class {shown!r} grows to {int(c) + add:,} rows, "
                          f"more than the {int(counts[majority]):,} of the majority class {big!r}: the model "
                          f"learns a base rate it will not meet", UserWarning, stacklevel=5)
    return out
