"""Align real and synthetic tables and encode them once: numbers, category codes, model matrices.

Every metric module works on the ``Frames`` built here, so column checks, label
matching and category vocabularies are decided in one place and never differ
between realism, utility, leakage and fairness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..exceptions import EvaluationError
from ..schema import ColumnSpec, Schema

__all__ = ["Frames", "prepare", "label_mask", "cat_keys", "model_matrix", "omp_threads", "MAX_CATEGORIES"]

MAX_CATEGORIES = 254  # HistGradientBoosting native categories: the rest share one "other" code


def omp_threads(rows: int):
    """Run HistGradientBoosting's OpenMP on one thread.

    Measured on a 2-core VM: a 170k-row fit took 5.6 s on one thread and 37-113 s on two
    (OpenMP spin-waits when the cores are shared), and small fits varied 0.9-12 s.
    One thread is fast and steady; ``rows`` is kept for a future size-based choice. The cores are used
    instead by running independent fits side by side, one OpenMP thread each (``utility.fit_threads``).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def cat_keys(series: pd.Series) -> np.ndarray:
    """Category values as comparable strings (1 and 1.0 and '1' agree); None for missing."""
    s = series
    miss = s.isna().to_numpy()
    if pd.api.types.is_bool_dtype(s.dtype):
        vals = s.fillna(False).to_numpy(dtype=bool)
        out = np.where(vals, "True", "False").astype(object)
    elif pd.api.types.is_numeric_dtype(s.dtype):
        vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
        integral = ~miss & (np.mod(np.nan_to_num(vals), 1) == 0) & (np.abs(np.nan_to_num(vals)) < 2**53)
        out = np.empty(len(vals), dtype=object)
        out[integral] = vals[integral].astype(np.int64).astype(str)
        rest = ~miss & ~integral
        out[rest] = [repr(float(v)) for v in vals[rest]]
    else:
        out = s.to_numpy(dtype=object, copy=True)
        if pd.api.types.infer_dtype(out, skipna=True) != "string":  # mixed values: make each a string
            out = np.array([str(v) for v in out], dtype=object)
    out[miss] = None
    return out


def label_mask(series: pd.Series, label: Any) -> np.ndarray:
    """Rows whose target equals the label, comparing as category keys (True == 'True', 2 == 2.0)."""
    keys = cat_keys(series)
    want = cat_keys(pd.Series([label]))[0]
    return np.asarray(keys == want, dtype=bool)


@dataclass
class Frames:
    """The three inputs, aligned: modelled specs, rare-row masks, numbers and category codes."""

    schema: Schema
    target: str
    label: Any
    protected: list[str]
    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    numeric: list[ColumnSpec] = field(default_factory=list)
    categorical: list[ColumnSpec] = field(default_factory=list)
    # per frame ("train", "holdout", "synthetic"): float matrix of numeric columns, int codes (-1 missing)
    num: dict[str, np.ndarray] = field(default_factory=dict)
    cat: dict[str, np.ndarray] = field(default_factory=dict)
    vocab: list[list[str]] = field(default_factory=list)
    y: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def modelled(self) -> list[ColumnSpec]:
        return self.numeric + self.categorical

    def rare(self, part: str) -> np.ndarray:
        """Boolean mask of rows of the rare label in one frame."""
        return self.y[part]


_PARTS = ("train", "holdout", "synthetic")


def _check_columns(real_train: pd.DataFrame, real_holdout: pd.DataFrame, synthetic: pd.DataFrame) -> None:
    want = list(real_train.columns)
    for name, df in (("real_holdout", real_holdout), ("synthetic", synthetic)):
        missing = [str(c) for c in want if c not in df.columns]
        extra = [str(c) for c in df.columns if c not in real_train.columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(repr(c) for c in missing)}")
            if extra:
                parts.append(f"not in real_train: {', '.join(repr(c) for c in extra)}")
            raise EvaluationError(f"{name} columns do not match real_train: {'; '.join(parts)}")


def prepare(
    real_train: pd.DataFrame,
    real_holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    target: str,
    protected: Sequence[str] | None = None,
    label: Any = None,
    schema: Schema | None = None,
) -> Frames:
    """Check the inputs fit together and encode them; raise EvaluationError naming the problem."""
    for name, df in (("real_train", real_train), ("real_holdout", real_holdout), ("synthetic", synthetic)):
        if not isinstance(df, pd.DataFrame):
            raise EvaluationError(f"{name}: expected a pandas DataFrame, got {type(df).__name__}")
    if target not in real_train.columns:
        raise EvaluationError(f"target column '{target}' is not in real_train")
    _check_columns(real_train, real_holdout, synthetic)
    if len(real_train) == 0:
        raise EvaluationError("real_train is empty")
    if len(real_holdout) == 0:
        raise EvaluationError("real_holdout is empty: utility and leakage need held-out real rows")
    if len(synthetic) == 0:
        raise EvaluationError("synthetic is empty")
    protected = list(protected or [])
    for col in protected:
        if col not in real_train.columns:
            raise EvaluationError(f"protected column '{col}' is not in the table")
        if col == target:
            raise EvaluationError(f"protected column '{col}' is the target")
    if schema is None:
        schema = Schema.detect(real_train, target)
    if label is None:
        counts = pd.Series(cat_keys(real_train[target])).value_counts(dropna=True)
        if len(counts) < 2:
            raise EvaluationError(f"target '{target}' has a single value in real_train; nothing to evaluate")
        rare_key = sorted(counts.index[counts == counts.min()])[0]
        label = next(v for v, k in zip(real_train[target], cat_keys(real_train[target])) if k == rare_key)
        label = label.item() if hasattr(label, "item") else label
    frames = Frames(schema=schema, target=target, label=label, protected=protected,
                    train=real_train, holdout=real_holdout, synthetic=synthetic)
    dfs = {"train": real_train, "holdout": real_holdout, "synthetic": synthetic}
    for part, df in dfs.items():
        frames.y[part] = label_mask(df[target], label)
    if not frames.y["train"].any():
        raise EvaluationError(f"real_train has no rows with label {label!r} in '{target}'")
    if not frames.y["holdout"].any():
        raise EvaluationError(f"real_holdout has no rows with the rare label {label!r} in '{target}'")
    if frames.y["holdout"].all():
        raise EvaluationError(f"real_holdout has only rows with label {label!r}; utility needs both classes")
    if not frames.y["synthetic"].any():
        raise EvaluationError(f"synthetic has no rows with the rare label {label!r} in '{target}'")
    specs = [s for s in schema.modelled() if s.name in real_train.columns]
    if not specs:
        raise EvaluationError("no modelled columns to evaluate (every feature is an identifier or personal data)")
    frames.numeric = [s for s in specs if s.kind.is_numeric]
    frames.categorical = [s for s in specs if s.kind.is_categorical]
    for part, df in dfs.items():
        cols = [schema.to_numeric(s, df[s.name]) for s in frames.numeric]
        frames.num[part] = np.column_stack(cols) if cols else np.zeros((len(df), 0))
    keys = {part: [cat_keys(df[s.name]) for s in frames.categorical] for part, df in dfs.items()}
    frames.vocab = []
    codes: dict[str, list[np.ndarray]] = {p: [] for p in _PARTS}
    for j in range(len(frames.categorical)):
        allk = np.concatenate([keys[p][j] for p in _PARTS])
        present = pd.unique(allk[pd.notna(allk)])
        vocab = sorted(str(v) for v in present)
        frames.vocab.append(vocab)
        index = pd.Index(vocab)
        for p in _PARTS:
            k = keys[p][j]
            c = index.get_indexer(pd.Series(k, dtype=object).fillna("\x00missing"))
            codes[p].append(c.astype(np.int32))
    for p in _PARTS:
        frames.cat[p] = np.column_stack(codes[p]) if codes[p] else np.zeros((len(dfs[p]), 0), dtype=np.int32)
    return frames


def model_matrix(frames: Frames, parts: Sequence[str], masks: Sequence[np.ndarray | None] | None = None,
                 ref_part: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix for HistGradientBoosting: numbers as floats (NaN kept), categories as codes.

    Categories beyond the MAX_CATEGORIES most frequent in ``ref_part`` share one "other" code,
    because native categorical support allows at most 255 bins; missing codes become NaN.
    Returns (X, categorical_mask).
    """
    masks = list(masks) if masks is not None else [None] * len(parts)
    remaps = []
    for j, vocab in enumerate(frames.vocab):
        ref = frames.cat[ref_part][:, j]
        counts = np.bincount(ref[ref >= 0], minlength=len(vocab))
        order = np.lexsort((np.arange(len(vocab)), -counts))  # most frequent first, ties by code
        remap = np.full(len(vocab), MAX_CATEGORIES, dtype=np.float64)
        keep = order[:MAX_CATEGORIES] if len(vocab) > MAX_CATEGORIES + 1 else order
        remap[keep] = np.arange(len(keep))
        remaps.append(remap)
    blocks = []
    for part, mask in zip(parts, masks):
        num = frames.num[part]
        cat = frames.cat[part]
        if mask is not None:
            num, cat = num[mask], cat[mask]
        cats = np.empty(cat.shape, dtype=np.float64)
        for j, remap in enumerate(remaps):
            c = cat[:, j]
            cats[:, j] = np.where(c >= 0, remap[np.maximum(c, 0)], np.nan)
        blocks.append(np.hstack([num, cats]))
    X = np.vstack(blocks)
    is_cat = np.array([False] * len(frames.numeric) + [True] * len(frames.categorical))
    return X, is_cat
