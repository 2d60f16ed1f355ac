"""The generator interface: public ``fit``/``sample`` validate; subclasses write ``_fit``/``_sample``.

Following imbalanced-learn's template methods and scikit-learn's estimator habits:
``__init__`` only stores keyword parameters, ``fit`` validates and resolves the seed once,
learned state ends in ``_``. Subclasses see only model-space arrays (``ModelData``) and
return exactly the number of rows asked for; schema, dtypes, identifiers, personal data
and the target are handled here, once, for all generators.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np
import pandas as pd

from ..exceptions import (
    DataError,
    GeneratorError,
    NotEnoughRowsError,
    ParameterError,
    SchemaError,
    UsageError,
    one_line,
)
from ..io import sha256_frame
from ..schema import ColumnKind, Schema, _cast, _py
from .encoding import ModelData, TableEncoder

__all__ = ["BaseGenerator", "resolve_seed", "child_seed", "target_counts"]

_MAX_BLOCK_ELEMENTS = 32_000_000  # model-space cells generated at once: bounds memory per block


def resolve_seed(random_state: Any) -> int:
    """An int seed from ``random_state`` (None draws a fresh one, recorded so the run can be repeated)."""
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**32))
    if isinstance(random_state, (bool, np.bool_)) or not isinstance(random_state, (int, np.integer)):
        raise ParameterError(f"random_state: expected an integer or None, got {random_state!r}")
    if random_state < 0:
        raise ParameterError(f"random_state: expected a non-negative integer, got {random_state}")
    return int(random_state)


def child_seed(*keys: int) -> int:
    """A 32-bit seed derived from a tuple of ints (for libraries that want an int, e.g. imblearn, torch)."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


class BaseGenerator:
    """Learns the rare class(es) of a table and emits rows of them in the original schema."""

    name: ClassVar[str] = "base"
    #: "npz" (arrays, no code execution on load) or "pickle" (backend objects; hash-checked before loading)
    payload_format: ClassVar[str] = "npz"
    #: whether the fitted payload holds real rows (SMOTE interpolates between stored rare rows)
    contains_real_rows: ClassVar[bool] = False

    def __init__(self, *, random_state: int | None = None):
        self.random_state = random_state

    # ------------------------------------------------------------ parameters
    @classmethod
    def param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind == p.KEYWORD_ONLY]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> "BaseGenerator":
        valid = self.param_names()
        for key, value in params.items():
            if key not in valid:
                raise ParameterError(f"{self.name}: unknown parameter '{key}'; valid: {', '.join(valid)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # ----------------------------------------------------------------- fit
    def min_rows(self) -> int:
        """Fewest rare rows this generator can learn from (with its current parameters)."""
        return 2

    def _validate_params(self) -> None:
        """Check parameter values; raise ParameterError naming the parameter."""

    def fit(
        self,
        df: pd.DataFrame,
        target: str,
        classes: list | None = None,
        *,
        schema: Schema | None = None,
        column_kinds: dict[str, str] | None = None,
    ) -> "BaseGenerator":
        """Learn the schema and fit on the rare-class rows of ``df`` (every class but the majority)."""
        if not isinstance(df, pd.DataFrame):
            raise UsageError(f"fit: expected a pandas DataFrame, got {type(df).__name__}")
        counts = target_counts(df, target)
        self._validate_params()
        majority = counts.idxmax()
        if classes is None:
            chosen = [c for c in counts.index if c != majority]
        else:
            chosen = list(classes)
            unknown = [c for c in chosen if c not in counts.index]
            if unknown:
                raise ParameterError(
                    f"classes: {unknown} not found in target '{target}'; it holds {[_py(c) for c in counts.index]}"
                )
        chosen = sorted(chosen, key=lambda c: (counts[c], str(c)))
        for label in chosen:
            need = self.min_rows()
            if counts[label] < need:
                raise NotEnoughRowsError(
                    f"rare class {_py(label)!r} of target '{target}' has {int(counts[label])} row(s); "
                    f"{self.name} needs at least {need}{self._min_rows_hint()}"
                )
        if schema is None:
            schema = Schema.detect(df, target=target, overrides=column_kinds)
        else:
            schema.validate(df)
        if not schema.modelled():
            raise DataError("no column to learn: every feature is an identifier or personal data")
        self.seed_ = resolve_seed(self.random_state)
        self.schema_ = schema
        self.target_ = target
        self.classes_ = [_py(c) for c in chosen]
        self.class_counts_ = {str(_py(c)): int(counts[c]) for c in counts.index}
        self.training_ = {"rows": int(len(df)), "columns": int(df.shape[1]), "sha256": sha256_frame(df)}
        labels = df[target].to_numpy()
        # fresh identifiers and keys: numbers count up from above the largest real one (text ones get
        # a prefix no real value has, in the schema)
        # (the schema's maximum, when it came from the whole table, keeps them above holdout values too)
        self.id_starts_ = {
            spec.name: int(max(pd.to_numeric(df[spec.name], errors="coerce").max(),
                               spec.maximum if spec.maximum is not None else -np.inf)) + 1
            for spec in schema.features()
            if spec.kind in (ColumnKind.IDENTIFIER, ColumnKind.KEY) and pd.api.types.is_numeric_dtype(df[spec.name])
        }
        # keys: how many rows each key holds among each rare class's rows, as a histogram
        self.key_sizes_ = [
            {spec.name: key_sizes(df[spec.name].to_numpy()[labels == label])
             for spec in schema.features() if spec.kind == ColumnKind.KEY}
            for label in chosen
        ]
        # only the rows a generator learns from are encoded: each rare class, plus (for methods that
        # look at them) a seeded sample of the other rows
        limit = self._other_rows_limit()
        positions: list[tuple[np.ndarray, np.ndarray | None]] = []
        for index, label in enumerate(chosen):
            mask = labels == label
            other = None
            if limit is not None:
                other = np.flatnonzero(~mask)
                if len(other) > limit:
                    pick = np.random.default_rng(child_seed(self.seed_, 2, index)).choice(len(other), limit, replace=False)
                    other = other[np.sort(pick)]
            positions.append((np.flatnonzero(mask), other))
        needed = np.unique(np.concatenate([p for pair in positions for p in pair if p is not None]))
        subset = df.iloc[needed]
        self.encoder_ = TableEncoder(schema).fit(subset)
        data = self.encoder_.transform(subset)
        self.states_: list[dict] = []
        for index, (label, (rare_pos, other_pos)) in enumerate(zip(chosen, positions)):
            rare = data.take(np.searchsorted(needed, rare_pos))
            other = data.take(np.searchsorted(needed, other_pos)) if other_pos is not None else None
            seed = child_seed(self.seed_, 0, index)
            try:
                self.states_.append(self._fit(rare, other, np.random.default_rng(seed), seed))
            except (GeneratorError, ParameterError):
                raise
            except (ValueError, RuntimeError) as exc:
                raise GeneratorError(f"{self.name} could not fit rare class {_py(label)!r}: {one_line(exc, limit=300)}") from exc
        return self

    def _min_rows_hint(self) -> str:
        return ""

    def _other_rows_limit(self) -> int | None:
        """How many other-class rows ``_fit`` receives (a seeded sample); None: it receives none."""
        return None

    def _fit(self, rare: ModelData, other: ModelData | None, rng: np.random.Generator, seed: int) -> dict:
        raise NotImplementedError

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        raise NotImplementedError

    # -------------------------------------------------------------- sample
    def sample(self, n: int, label: Any = None, *, random_state: int | None = None) -> pd.DataFrame:
        """Exactly ``n`` new rows in the original schema (columns, order, dtypes), target set to the label."""
        parts = list(self.iter_sample(n, label=label, random_state=random_state))
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        return frame

    def iter_sample(
        self,
        n: int,
        label: Any = None,
        *,
        chunk_size: int | None = None,
        random_state: int | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Yield ``n`` rows in chunks of at most ``chunk_size``; the rows do not depend on the chunk size."""
        self._check_fitted()
        n = positive_int(n, "n")
        if chunk_size is not None:
            chunk_size = positive_int(chunk_size, "chunk_size")
        seed = self.seed_ if random_state is None else resolve_seed(random_state)
        block = self.block_rows()
        row_offset = 0
        for class_index, count in self._plan(n, label):
            for block_index, start in enumerate(range(0, count, block)):
                m = min(block, count - start)
                bseed = child_seed(seed, 1, class_index, block_index)
                data = self._sample(self.states_[class_index], m, np.random.default_rng(bseed), bseed)
                if data.numeric.shape[0] != m or data.codes.shape[0] != m:
                    raise GeneratorError(f"{self.name} produced {data.numeric.shape[0]} rows where {m} were asked for")
                frame = self._to_frame(data, self.classes_[class_index], row_offset, class_index=class_index, bseed=bseed)
                row_offset += m
                step = chunk_size or m
                for lo in range(0, m, step):
                    yield frame.iloc[lo : lo + step]

    def block_rows(self) -> int:
        """Rows generated per internal block (fixed per fitted model, so output is chunk-size independent)."""
        width = self.encoder_.n_numeric + int(sum(self.encoder_.cardinalities))
        return int(np.clip(_MAX_BLOCK_ELEMENTS // max(width, 1), 1_000, 100_000))

    def _plan(self, n: int, label: Any) -> list[tuple[int, int]]:
        if label is not None:
            label = _py(label)
            matches = [i for i, c in enumerate(self.classes_) if c == label or str(c) == str(label)]
            if not matches:
                raise ParameterError(f"label {label!r} is not a fitted rare class; fitted: {self.classes_}")
            return [(matches[0], n)]
        if len(self.classes_) == 1:
            return [(0, n)]
        # split n over the rare classes in proportion to their real counts (largest remainder)
        weights = np.array([self.class_counts_[str(c)] for c in self.classes_], dtype=float)
        exact = n * weights / weights.sum()
        counts = np.floor(exact).astype(int)
        for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
            counts[i] += 1
        return [(i, int(c)) for i, c in enumerate(counts) if c > 0]

    def _to_frame(
        self, data: ModelData, label: Any, row_offset: int, *, class_index: int = 0, bseed: int = 0
    ) -> pd.DataFrame:
        """Rows in the original schema: modelled columns restored, identifiers and keys fresh, personal data empty.

        ``bseed`` is the block's seed and ``row_offset`` its first row: fresh keys depend on them
        only, so output is the same for a seed whatever the chunk size.
        """
        m = data.numeric.shape[0]
        index = pd.RangeIndex(row_offset, row_offset + m)
        values = self.encoder_.inverse(data)
        schema = self.schema_
        columns: dict[str, pd.Series] = {}
        for spec in schema.columns:
            if spec.name == schema.target:
                column = schema.restore_column(spec, np.full(m, label, dtype=object))
            elif spec.name in values:
                column = values[spec.name]
            elif spec.kind == ColumnKind.IDENTIFIER:
                # numbers count up from the largest real one, text gets a prefix no real value has:
                # unique within an output and never equal to a real identifier
                position = np.arange(row_offset, row_offset + m, dtype=np.int64)
                if spec.name in self.id_starts_:
                    column = pd.Series(position + self.id_starts_[spec.name]).astype(spec.dtype)
                else:
                    column = pd.Series([f"{spec.id_prefix}{i:09d}" for i in position], dtype=object)
            elif spec.kind == ColumnKind.KEY:
                column = self._fresh_keys(spec, m, row_offset, class_index, bseed)
            else:  # personal data / free text: never copied, left empty
                column = pd.Series([None] * m, dtype=object)
            columns[spec.name] = column.set_axis(index)
        return pd.DataFrame(columns, index=index)

    def _fresh_keys(self, spec, m: int, row_offset: int, class_index: int, bseed: int) -> pd.Series:
        """``m`` fresh keys for a block: group sizes drawn from the real rows-per-key histogram of the
        class, key numbers ``start + row_offset + j`` (a block of m rows has at most m keys, so blocks
        never share a key and no key equals a real one), rows shuffled over the keys; seeded by the block."""
        sizes_state = (self.key_sizes_[class_index] if class_index < len(self.key_sizes_) else {}).get(spec.name)
        sizes_state = sizes_state or {"sizes": [[1, 1]], "missing": 0.0}
        rng = np.random.default_rng([int(bseed), 3, self.schema_.names.index(spec.name)])
        hist = np.asarray(sizes_state["sizes"], dtype=np.int64).reshape(-1, 2)
        missing = rng.random(m) < float(sizes_state.get("missing", 0.0)) if hist.size else np.ones(m, dtype=bool)
        present = int(m - missing.sum())
        keys = np.zeros(m, dtype=np.int64)
        if present:
            sizes = rng.choice(hist[:, 0], size=present, p=hist[:, 1] / hist[:, 1].sum())
            k = int(np.searchsorted(np.cumsum(sizes), present)) + 1  # the keys needed to cover the rows
            sizes = sizes[:k].copy()
            sizes[-1] -= int(sizes.sum()) - present  # the last key holds what is left of the block
            local = rng.permutation(np.repeat(np.arange(k, dtype=np.int64), sizes))
            keys[~missing] = row_offset + local
        if spec.name in self.id_starts_:
            numbers = keys + self.id_starts_[spec.name]
            if not missing.any():
                return pd.Series(numbers).astype(spec.dtype)
            return _cast(pd.Series(pd.arrays.IntegerArray(numbers, missing)), spec.dtype, has_missing=True)
        text = np.array([f"{spec.id_prefix}{i:09d}" for i in keys], dtype=object)
        text[missing] = None
        return pd.Series(text, dtype=object)

    def _check_fitted(self) -> None:
        if not hasattr(self, "states_"):
            raise UsageError(f"{self.name} is not fitted yet; call fit(df, target=...) first")

    # ---------------------------------------------------------- persistence
    def save(self, path: str | Path, *, force: bool = False, extra: dict | None = None) -> Path:
        """Write the fitted generator to a model folder (see synthgen.store)."""
        from ..store import save_generator

        return save_generator(self, path, force=force, extra=extra)

    def _save_payload(self, folder: Path) -> list[str]:
        """Write fitted state into ``folder``; return the file names written."""
        arrays: dict[str, np.ndarray] = {}
        plain: list[dict] = []
        for i, state in enumerate(self.states_):
            meta = {}
            for key, value in state.items():
                if isinstance(value, np.ndarray):
                    arrays[f"c{i}.{key}"] = value
                else:
                    meta[key] = value
            plain.append(meta)
        np.savez(folder / "payload.npz", **arrays)
        (folder / "state.json").write_text(json.dumps(plain, indent=1, default=_py))
        return ["payload.npz", "state.json"]

    def _load_payload(self, folder: Path) -> None:
        plain = json.loads((folder / "state.json").read_text())
        with np.load(folder / "payload.npz", allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        states = []
        for i, meta in enumerate(plain):
            state = dict(meta)
            prefix = f"c{i}."
            state.update({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
            states.append(state)
        self.states_ = states


def key_sizes(values: np.ndarray) -> dict:
    """Rows per key as a JSON-safe histogram ``{"sizes": [[rows, keys], ...], "missing": share}``."""
    series = pd.Series(values)
    counts = series.value_counts(dropna=True).to_numpy()
    size, keys = np.unique(counts, return_counts=True)
    return {
        "sizes": [[int(a), int(b)] for a, b in zip(size, keys)],
        "missing": float(series.isna().mean()) if len(series) else 0.0,
    }


def target_counts(df: pd.DataFrame, target: str) -> pd.Series:
    """Rows per class of ``target``, after checking it exists, is fully labelled and has two classes."""
    if not isinstance(target, str) or target not in df.columns:
        raise SchemaError(f"target column {target!r} not found; columns are: {', '.join(map(str, df.columns))}")
    y = df[target]
    if y.isna().any():
        raise DataError(f"target column '{target}': {int(y.isna().sum())} rows have no label; drop or label them")
    counts = y.value_counts(sort=False)
    if len(counts) < 2:
        raise DataError(
            f"target column '{target}' has a single class ({_py(counts.index[0])!r}); "
            "it needs a rare class and at least one other"
        )
    return counts


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name}: expected a whole number > 0, got {value!r}")
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ParameterError(f"{name}: expected a whole number > 0, got {value!r}") from None
    if not isinstance(value, (int, np.integer)) or value <= 0:
        raise ParameterError(f"{name}: expected a whole number > 0, got {value!r}")
    return int(value)
