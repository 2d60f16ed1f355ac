"""An imbalanced-learn compatible sampler, so augmentation runs inside a Pipeline's training folds only."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from ..exceptions import ParameterError
from ..schema import Schema
from .base import BaseGenerator, target_counts

__all__ = ["SynthSampler"]

_TARGET = "__synthgen_target__"


class SynthSampler(BaseEstimator):
    """``fit_resample(X, y)`` = real rows + synthetic rare rows from any synthgen generator.

    generator: a name (``"gaussian-copula"``) or an unfitted generator instance (cloned per call).
    sampling_strategy: ``"auto"`` (each rare class up to the majority count), a float (rare/majority
    ratio after resampling, binary only) or a dict {label: rows wanted after resampling}.
    amount: instead of ``sampling_strategy``, how many rows to add as a multiple of each rare class's
    real rows in the fold (``amount=2.0`` adds 2x: 100 real rare rows become 300), as
    ``synthgen compare --amounts`` tries them; a number > 0. Rows per class: amount x real rows,
    rounded half up; a warning (``UserWarning``) when that makes a rare class outnumber the majority.
    column_kinds: the kinds decided on the whole table (a ``Schema`` or {column: kind}); every fold
    then models each column the same way. Without it, kinds are detected on each fold's rows.
    """

    def __init__(
        self,
        generator: str | BaseGenerator = "gaussian-copula",
        *,
        sampling_strategy: str | float | dict = "auto",
        amount: float | None = None,
        generator_params: dict | None = None,
        random_state: int | None = None,
        column_kinds: Schema | dict | None = None,
    ):
        self.generator = generator
        self.sampling_strategy = sampling_strategy
        self.amount = amount
        self.generator_params = generator_params
        self.random_state = random_state
        self.column_kinds = column_kinds

    def fit(self, X: Any, y: Any) -> "SynthSampler":
        self.fit_resample(X, y)
        return self

    def fit_resample(self, X: Any, y: Any) -> tuple[Any, Any]:
        from sklearn.base import clone

        from . import make_generator

        frame = X.reset_index(drop=True) if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X)).rename(columns=str)
        labels = pd.Series(np.asarray(y), name=_TARGET)
        table = frame.assign(**{_TARGET: labels.to_numpy()})
        counts = target_counts(table, _TARGET)
        wanted = self._new_rows(counts)
        if not wanted:
            return X, y
        if isinstance(self.generator, str):
            gen = make_generator(self.generator, **(self.generator_params or {}))
        else:
            gen = clone(self.generator)
        gen.set_params(random_state=self.random_state if self.random_state is not None else 0)
        if isinstance(self.column_kinds, Schema):  # kinds and identifier ranges of the whole table
            gen.fit(table, target=_TARGET, classes=list(wanted), schema=self._fold_schema(table))
        else:
            gen.fit(table, target=_TARGET, classes=list(wanted), column_kinds=self._kinds(frame))
        synthetic = pd.concat([gen.sample(n, label=label) for label, n in wanted.items()], ignore_index=True)
        self.generator_ = gen
        self.sampling_strategy_ = wanted
        new_y = synthetic.pop(_TARGET).to_numpy().astype(labels.dtype)
        if isinstance(X, pd.DataFrame):
            synthetic.columns = X.columns
            X_out = pd.concat([X.reset_index(drop=True), synthetic.astype(X.dtypes.to_dict(), errors="ignore")], ignore_index=True)
        else:
            X_out = np.vstack([np.asarray(X), synthetic.to_numpy(dtype=np.asarray(X).dtype)])
        y_out = pd.concat([pd.Series(np.asarray(y)), pd.Series(new_y)], ignore_index=True)
        return X_out, (y_out if isinstance(y, pd.Series) else y_out.to_numpy())

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
        if not isinstance(kinds, dict):
            raise ParameterError(f"column_kinds: expected a Schema or a dict of column -> kind, got {type(kinds).__name__}")
        return {str(k): v for k, v in kinds.items() if str(k) in frame.columns}

    def _new_rows(self, counts: pd.Series) -> dict:
        """Resolve amount or sampling_strategy against the class counts: rare label -> rows to add."""
        majority = counts.idxmax()
        if self.amount is not None:
            return self._amount_rows(counts, majority)
        strategy = self.sampling_strategy
        if strategy == "auto":
            return {label: int(counts[majority] - c) for label, c in counts.items() if label != majority and c < counts[majority]}
        if isinstance(strategy, float) and not isinstance(strategy, bool):
            if len(counts) != 2 or not 0 < strategy <= 1:
                raise ParameterError("sampling_strategy: a float needs a binary target and a value in (0, 1]")
            label = counts.idxmin()
            add = int(round(strategy * counts[majority])) - int(counts[label])
            return {label: add} if add > 0 else {}
        if isinstance(strategy, dict):
            out = {}
            for label, target in strategy.items():
                if label not in counts.index:
                    raise ParameterError(f"sampling_strategy: label {label!r} is not in y")
                if target < counts[label]:
                    raise ParameterError(f"sampling_strategy: {label!r} wants {target} rows but has {counts[label]}")
                if target > counts[label]:
                    out[label] = int(target - counts[label])
            return out
        raise ParameterError(f"sampling_strategy: expected 'auto', a float or a dict, got {strategy!r}")

    def _amount_rows(self, counts: pd.Series, majority: Any) -> dict:
        amount = self.amount
        if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or not math.isfinite(float(amount)) \
                or amount <= 0:
            raise ParameterError(f"amount: expected a number > 0 (a multiple of the real rare rows), got {amount!r}")
        if not (isinstance(self.sampling_strategy, str) and self.sampling_strategy == "auto"):
            raise ParameterError(f"amount: give amount or sampling_strategy, not both "
                                 f"(sampling_strategy={self.sampling_strategy!r})")
        if len(counts) < 2:
            raise ParameterError("amount: y holds a single class, so there is no rare class to add rows to")
        out = {}
        big = majority.item() if hasattr(majority, "item") else majority
        for label, c in counts.items():
            if label == majority:
                continue
            add = int(math.floor(float(amount) * int(c) + 0.5))
            if add < 1:
                raise ParameterError(f"amount: {float(amount):g}x of the {int(c)} rows of class {label!r} rounds to "
                                     f"0 rows")
            out[label] = add
            label = label.item() if hasattr(label, "item") else label
            if int(c) + add > int(counts[majority]):
                warnings.warn(f"SynthSampler amount={float(amount):g}: class {label!r} grows to {int(c) + add:,} rows, "
                              f"more than the {int(counts[majority]):,} of the majority class {big!r}: the model "
                              f"learns a base rate it will not meet", UserWarning, stacklevel=4)
        return out
