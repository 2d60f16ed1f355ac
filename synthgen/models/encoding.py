"""Model space: a table's modelled columns as standardised numbers plus integer category codes.

Every generator works on the same two arrays, so schema handling lives in one place:
``numeric`` (n, p) float64, standardised; ``codes`` (n, q) int32 indices into each
categorical column's category list. Missing numbers are modelled with an extra
``<col> is missing`` categorical column (the value is filled with the median);
a missing category is a category of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..schema import Schema, _py

__all__ = ["ModelData", "TableEncoder", "MISSING"]

MISSING = "__missing__"


@dataclass
class ModelData:
    """Rows in model space."""

    numeric: np.ndarray  # (n, p) float64, standardised
    codes: np.ndarray  # (n, q) int32

    def take(self, index: np.ndarray) -> "ModelData":
        return ModelData(self.numeric[index], self.codes[index])


class TableEncoder:
    """Maps a table's modelled columns to ModelData and back to original column values."""

    def __init__(self, schema: Schema):
        self.schema = schema

    # ----------------------------------------------------------------- fit
    def fit(self, df: pd.DataFrame) -> "TableEncoder":
        """Learn centring/scaling, fill values and category lists from the whole table."""
        self.numeric_columns_: list[str] = []
        self.categorical_columns_: list[str] = []
        self.categories_: list[list] = []
        self.mean_: list[float] = []
        self.scale_: list[float] = []
        self.fill_: list[float] = []
        self.indicator_of_: dict[str, int] = {}  # numeric column -> index of its missing-indicator code column
        for spec in self.schema.modelled():
            if spec.kind.is_numeric:
                values = self.schema.to_numeric(spec, df[spec.name])
                finite = values[~np.isnan(values)]
                mean = float(finite.mean()) if finite.size else 0.0
                std = float(finite.std()) if finite.size else 1.0
                self.numeric_columns_.append(spec.name)
                self.mean_.append(mean)
                self.scale_.append(std if std > 0 else 1.0)
                self.fill_.append(float(np.median(finite)) if finite.size else 0.0)
            else:
                cats = list(spec.categories or [])
                if df[spec.name].isna().any() or spec.missing_rate > 0:
                    cats.append(MISSING)
                self.categorical_columns_.append(spec.name)
                self.categories_.append(cats)
        for name in list(self.numeric_columns_):
            if self.schema[name].missing_rate > 0 or df[name].isna().any():
                self.indicator_of_[name] = len(self.categorical_columns_)
                self.categorical_columns_.append(f"{name} is missing")
                self.categories_.append([False, True])
        return self

    @property
    def n_numeric(self) -> int:
        return len(self.numeric_columns_)

    @property
    def cardinalities(self) -> list[int]:
        return [len(c) for c in self.categories_]

    # ----------------------------------------------------------- transform
    def transform(self, df: pd.DataFrame) -> ModelData:
        n = len(df)
        numeric = np.empty((n, self.n_numeric), dtype=np.float64)
        codes = np.empty((n, len(self.categorical_columns_)), dtype=np.int32)
        for j, name in enumerate(self.numeric_columns_):
            values = self.schema.to_numeric(self.schema[name], df[name])
            missing = np.isnan(values)
            values = np.where(missing, self.fill_[j], values)
            numeric[:, j] = (values - self.mean_[j]) / self.scale_[j]
            if name in self.indicator_of_:
                codes[:, self.indicator_of_[name]] = missing.astype(np.int32)
        for j, name in enumerate(self.categorical_columns_):
            if name.endswith(" is missing") and name[: -len(" is missing")] in self.indicator_of_:
                continue
            lookup = {c: i for i, c in enumerate(self.categories_[j])}
            missing_code = lookup.get(MISSING, 0)  # unseen values (none when fit on the same table) too
            col = df[name]
            mapping = {u: lookup.get(_py(u), missing_code) for u in pd.unique(col.dropna())}
            codes[:, j] = col.map(mapping).fillna(missing_code).to_numpy(dtype=np.int32)
        return ModelData(numeric, codes)

    # ------------------------------------------------------------- inverse
    def inverse(self, data: ModelData) -> dict[str, pd.Series]:
        """Original-form values of every modelled column (dtypes, ranges, missing restored)."""
        out: dict[str, pd.Series] = {}
        missing_of: dict[str, np.ndarray] = {}
        for name, j in self.indicator_of_.items():
            missing_of[name] = data.codes[:, j] == 1
        for j, name in enumerate(self.numeric_columns_):
            values = np.multiply(data.numeric[:, j], self.scale_[j])
            values += self.mean_[j]  # in place: one new array per column, not two
            if name in missing_of:
                values = np.where(missing_of[name], np.nan, values)
            out[name] = self.schema.restore_column(self.schema[name], values)
        for j, name in enumerate(self.categorical_columns_):
            if name not in self.schema:
                continue
            cats = np.array([None if c == MISSING else c for c in self.categories_[j]], dtype=object)
            values = cats[np.clip(data.codes[:, j], 0, len(cats) - 1)]
            out[name] = self.schema.restore_column(self.schema[name], values)
        return out

    # ---------------------------------------------------------- state I/O
    def get_state(self) -> dict:
        return {
            "numeric_columns": self.numeric_columns_,
            "categorical_columns": self.categorical_columns_,
            "categories": self.categories_,
            "mean": self.mean_,
            "scale": self.scale_,
            "fill": self.fill_,
            "indicator_of": self.indicator_of_,
        }

    @classmethod
    def from_state(cls, schema: Schema, state: dict) -> "TableEncoder":
        enc = cls(schema)
        enc.numeric_columns_ = list(state["numeric_columns"])
        enc.categorical_columns_ = list(state["categorical_columns"])
        enc.categories_ = [list(c) for c in state["categories"]]
        enc.mean_ = list(state["mean"])
        enc.scale_ = list(state["scale"])
        enc.fill_ = list(state["fill"])
        enc.indicator_of_ = {k: int(v) for k, v in state["indicator_of"].items()}
        return enc


def one_hot(codes: np.ndarray, cardinalities: list[int], weight: float = 1.0) -> np.ndarray:
    """Dense one-hot blocks for each code column, each block scaled by ``weight``."""
    n = codes.shape[0]
    out = np.zeros((n, int(sum(cardinalities))), dtype=np.float64)
    offset = 0
    rows = np.arange(n)
    for j, card in enumerate(cardinalities):
        out[rows, offset + codes[:, j]] = weight
        offset += card
    return out
