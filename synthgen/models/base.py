"""The generator interface: public ``fit``/``sample`` validate; subclasses write ``_fit``/``_sample``.

Following imbalanced-learn's template methods and scikit-learn's estimator habits: every
generator is a ``sklearn.base.BaseEstimator`` (its ``get_params``/``set_params``, ``clone``,
``__repr__`` and tags), ``__init__`` only stores keyword parameters, ``fit`` validates and resolves
``random_state`` once, learned state ends in ``_``. Subclasses see only model-space arrays
(``ModelData``) and return exactly the number of rows asked for; schema, dtypes, identifiers,
personal data and the target are handled here, once, for all generators. Each generator writes and
reads its own fitted state (``_get_state``/``_set_state``); ``synthgen.store`` only handles the
folder, the manifest and the hashes.
"""

from __future__ import annotations

import contextlib
import json
import numbers
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from tqdm.auto import tqdm

from .. import relations as relations_
from .. import store
from ..conditions import Conditions, conditions_from
from ..exceptions import (
    DataError,
    GeneratorError,
    IncompatibleModelError,
    NotEnoughRowsError,
    NotFittedError,
    ParameterError,
    SchemaError,
    UsageError,
    one_line,
)
from ..io import sha256_frame
from ..schema import ColumnKind, Schema, _cast, _py
from .encoding import ModelData, TableEncoder

__all__ = ["BaseGenerator", "resolve_seed", "child_seed", "target_counts", "fit_step"]

_MAX_BLOCK_ELEMENTS = 32_000_000  # model-space cells generated at once: bounds memory per block


def resolve_seed(random_state: Any) -> int:
    """The one int seed a fit (or a sample call) derives everything from, recorded so the run can be repeated.

    ``random_state`` takes what ``sklearn.utils.check_random_state`` takes, and a numpy ``Generator``:
    None draws a fresh seed; an int is the seed itself (so int seeds give the rows they always gave);
    a ``RandomState`` (or the ``numpy.random`` module) or a ``Generator`` gives one 32-bit draw, so
    passing the same object to several fits gives each its own rows, as in scikit-learn.
    """
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**32))
    if isinstance(random_state, (bool, np.bool_)):
        raise ParameterError(f"random_state: expected None, a whole number >= 0, a numpy RandomState or "
                             f"Generator, got {random_state!r}")
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ParameterError(f"random_state: expected a whole number >= 0, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**32))
    try:
        rs = check_random_state(random_state)
    except (TypeError, ValueError):
        raise ParameterError(f"random_state: expected None, a whole number >= 0, a numpy RandomState or "
                             f"Generator, got {random_state!r}") from None
    return int(rs.randint(2**32, dtype=np.int64))


@contextlib.contextmanager
def fit_step(desc: str) -> Iterator[None]:
    """A progress bar on stderr while one long step of a fit runs (an SVM, a clustering): its name and
    the time it has taken, refreshed twice a second, full when the step ends. As every synthgen bar
    (tqdm's ``disable=None``): shown only when stderr is a terminal; ``TQDM_DISABLE=1`` turns it off."""
    with tqdm(total=1, desc=desc, file=sys.stderr, disable=None, bar_format="{desc}: {bar:10}| {elapsed}") as bar:
        if bar.disable:
            yield
            return
        stop = threading.Event()
        ticker = threading.Thread(target=lambda: _tick(bar, stop), daemon=True)
        ticker.start()
        try:
            yield
            bar.update(1)
        finally:
            stop.set()
            ticker.join()


def _tick(bar: Any, stop: threading.Event) -> None:
    while not stop.wait(0.5):
        bar.refresh()


def child_seed(*keys: int) -> int:
    """A 32-bit child seed keyed by ``(root seed, purpose, index...)``: ``SeedSequence(keys)``.

    Every random stream of a fit or a sample call is such a child of the one resolved root seed
    (a fit's per-class states ``(seed, 0, c)``, its other-row samples ``(seed, 2, c)``, block *b* of
    class *c* ``(seed, 1, c, b)``), so streams never overlap and none depends on another's use.
    The keys are the entropy rather than a ``spawn_key``, which keeps every int seed's rows as they were.
    """
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])


@dataclass(frozen=True)
class SampleBlock:
    """One block of a sample: its position, rare class, block index within the class, rows, first row, seed."""

    index: int
    class_index: int
    block_index: int
    rows: int
    row_offset: int
    seed: int
    where: Conditions | None = None


class BaseGenerator(BaseEstimator):
    """Learns the rare class(es) of a table and emits rows of them in the original schema.

    A scikit-learn estimator: ``get_params``/``set_params`` (``deep`` honoured), ``clone``,
    ``__repr__`` and ``__sklearn_tags__`` come from ``BaseEstimator``. ``random_state`` takes None,
    an int, a numpy ``RandomState`` or ``Generator``; ``fit`` resolves it once into the recorded
    ``seed_`` and derives every random stream from it (``child_seed``).
    """

    name: ClassVar[str] = "base"
    #: "npz" (arrays and JSON), "torch" (a state_dict read with weights_only=True, plus arrays and JSON) or
    #: "pickle" (SDV's copula: loaded only with trust_pickle=True); the store checks every sha256 first
    payload_format: ClassVar[str] = "npz"
    #: whether the fitted payload holds real rows (SMOTE interpolates between stored rare rows)
    contains_real_rows: ClassVar[bool] = False

    def __init__(self, *, random_state: Any = None):
        self.random_state = random_state

    # ------------------------------------------------------------ parameters
    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's parameter names (scikit-learn's ``_get_param_names``)."""
        return list(cls._get_param_names())

    def set_params(self, **params: Any) -> "BaseGenerator":
        """scikit-learn's ``set_params`` (nested ``a__b`` keys included); an unknown name is a ParameterError."""
        valid = self._get_param_names()
        for key in params:
            name = key.partition("__")[0]
            if name not in valid:
                raise ParameterError(f"{self.name}: unknown parameter '{name}'; valid: {', '.join(valid)}")
        return super().set_params(**params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # fit(df, target): a DataFrame of mixed kinds (categories, text, missing values) plus the name of
        # its label column, which it needs
        tags.target_tags.required = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "states_")

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
        relations: list | None = None,
        detect_relations: bool = True,
    ) -> "BaseGenerator":
        """Learn the schema and fit on the rare-class rows of ``df`` (every class but the majority).

        Relations between columns (``synthgen.relations``) that hold in every row of ``df`` are detected
        (unless ``detect_relations`` is False), ``relations`` (Relation objects or ``--relation`` texts) are
        checked on ``df`` and added; the schema keeps them and every generated row keeps them.
        """
        if not isinstance(df, pd.DataFrame):
            raise UsageError(f"fit: expected a pandas DataFrame, got {type(df).__name__}")
        counts = target_counts(df, target)
        self._validate_params()
        chosen = self._choose_classes(counts, target, classes)
        if schema is None:
            schema = Schema.detect(df, target=target, overrides=column_kinds)
        else:
            schema.validate(df)
        if not schema.modelled():
            raise DataError("no column to learn: every feature is an identifier or personal data")
        kept = relations_.for_fit(df, schema, relations or (), detect_relations=detect_relations)
        schema = relations_.attach(schema, kept, detected=detect_relations)  # a copy: the caller's is unchanged
        self.seed_ = resolve_seed(self.random_state)
        self.schema_ = schema
        self.target_ = target
        self.classes_ = [_py(c) for c in chosen]
        self.class_counts_ = {str(_py(c)): int(counts[c]) for c in counts.index}
        self.training_ = {"rows": int(len(df)), "columns": int(df.shape[1]), "sha256": sha256_frame(df)}
        labels = df[target].to_numpy()
        self._learn_fresh_values(df, schema, labels, chosen)
        # only the rows a generator learns from are encoded: each rare class, plus (for methods that
        # look at them) a seeded sample of the other rows
        positions = self._learning_rows(labels, chosen)
        needed = np.unique(np.concatenate([p for pair in positions for p in pair if p is not None]))
        subset = df.iloc[needed]
        self.encoder_ = TableEncoder(schema).fit(subset)
        data = self.encoder_.transform(subset)
        self.states_: list[dict] = []
        for index, (label, (rare_pos, other_pos)) in enumerate(zip(chosen, positions)):
            rare = data.take(np.searchsorted(needed, rare_pos))
            other = data.take(np.searchsorted(needed, other_pos)) if other_pos is not None else None
            self.states_.append(self._fit_class(index, label, rare, other))
        return self

    def _choose_classes(self, counts: pd.Series, target: str, classes: list | None) -> list:
        """The rare classes to fit (every class but the majority, or ``classes``), fewest rows first; each
        must have the rows this generator needs."""
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
        need = self.min_rows()
        for label in chosen:
            if counts[label] < need:
                raise NotEnoughRowsError(
                    f"rare class {_py(label)!r} of target '{target}' has {int(counts[label])} row(s); "
                    f"{self.name} needs at least {need}{self._min_rows_hint()}"
                )
        return chosen

    def _learn_fresh_values(self, df: pd.DataFrame, schema: Schema, labels: np.ndarray, chosen: list) -> None:
        """What generated identifiers and keys need: where fresh numbers start, and rows per key."""
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

    def _learning_rows(self, labels: np.ndarray, chosen: list) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Per rare class: its row positions, and (for generators that look at them) a seeded sample of the
        other rows' positions (``_other_rows_limit``)."""
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
        return positions

    def _fit_class(self, index: int, label: Any, rare: ModelData, other: ModelData | None) -> dict:
        """One rare class's fitted state, seeded by its index; a library's error becomes one line naming the class."""
        seed = child_seed(self.seed_, 0, index)
        self._learn_support(index, rare)
        try:
            return self._fit(rare, other, np.random.default_rng(seed), seed)
        except (GeneratorError, ParameterError):
            raise
        except (ValueError, RuntimeError) as exc:
            raise GeneratorError(f"{self.name} could not fit rare class {_py(label)!r}: {one_line(exc, limit=300)}") from exc

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
    def sample(
        self, n: int, label: Any = None, *, where: Any = None, allow_unseen: bool = False, random_state: Any = None
    ) -> pd.DataFrame:
        """Exactly ``n`` new rows in the original schema (columns, order, dtypes), target set to the label.

        ``where``: conditions every row meets (``{"Make": "Honda", "Age": (30, 50)}`` or texts like
        ``["Make=Honda", "Age>=30"]``: ``synthgen.conditions``); a condition no real rare row meets is an
        error unless ``allow_unseen`` (model-based generators only).
        """
        parts = list(self.iter_sample(n, label=label, where=where, allow_unseen=allow_unseen, random_state=random_state))
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
        return frame

    def iter_sample(
        self,
        n: int,
        label: Any = None,
        *,
        chunk_size: int | None = None,
        where: Any = None,
        allow_unseen: bool = False,
        random_state: Any = None,
    ) -> Iterator[pd.DataFrame]:
        """Yield ``n`` rows in chunks of at most ``chunk_size``; the rows do not depend on the chunk size.

        ``random_state`` None uses the fit's seed (the same model gives the same rows); anything else
        is resolved once per call, as ``fit`` resolves it.
        """
        self._check_fitted()
        n = positive_int(n, "n")
        if chunk_size is not None:
            chunk_size = positive_int(chunk_size, "chunk_size")
        for spec in self.sample_blocks(n, label, where=where, allow_unseen=allow_unseen, random_state=random_state):
            frame = self.sample_block(spec)
            step = chunk_size or spec.rows
            for lo in range(0, spec.rows, step):
                yield frame.iloc[lo : lo + step]

    def sample_blocks(
        self, n: int, label: Any = None, *, where: Any = None, allow_unseen: bool = False, random_state: Any = None
    ) -> list[SampleBlock]:
        """The blocks ``iter_sample`` draws, in order. Each is seeded by its class and index alone, so any
        engine (local, Ray) that samples them, in any order, gives the same rows (``sample_block``); each
        carries the checked conditions (``where``)."""
        self._check_fitted()
        n = positive_int(n, "n")
        seed = self.seed_ if random_state is None else resolve_seed(random_state)
        conditions = conditions_from(where, self.schema_)
        block = self.block_rows()
        blocks, row_offset = [], 0
        plan = self._plan(n, label)
        if conditions is not None:
            for class_index, _ in plan:
                self._check_support(class_index, conditions, allow_unseen)
        for class_index, count in plan:
            for block_index, start in enumerate(range(0, count, block)):
                m = min(block, count - start)
                blocks.append(SampleBlock(len(blocks), class_index, block_index, m, row_offset,
                                          child_seed(seed, 1, class_index, block_index), conditions))
                row_offset += m
        return blocks

    def sample_block(self, spec: SampleBlock) -> pd.DataFrame:
        """The rows of one block of ``sample_blocks``, in the original schema."""
        self._check_fitted()
        m, bseed = spec.rows, spec.seed
        state, rng = self.states_[spec.class_index], np.random.default_rng(bseed)
        if spec.where:
            data = self._sample_matching(state, m, rng, bseed, spec.where)
        else:
            data = self._sample(state, m, rng, bseed)
        if data.numeric.shape[0] != m or data.codes.shape[0] != m:
            raise GeneratorError(f"{self.name} produced {data.numeric.shape[0]} rows where {m} were asked for")
        frame = self._to_frame(data, self.classes_[spec.class_index], spec.row_offset, class_index=spec.class_index,
                               bseed=bseed)
        relations = relations_.stored(self.schema_)
        frame = relations_.enforce(frame, self.schema_, relations)  # 100% of rows keep them
        if spec.where and relations:
            broken = ~spec.where.mask(frame)
            if broken.any():  # a relation recomputed a conditioned column: never hand out such rows
                raise GeneratorError(
                    f"{int(broken.sum()):,} of {m:,} rows break --where {' and '.join(spec.where.texts())} once the "
                    f"model's relations ({'; '.join(r.text() for r in relations)}) are restored: condition on the "
                    "column the relation is computed from instead")
        return frame

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

    # ---------------------------------------------------------- conditions
    #: rows drawn by the default bounded rejection, at most this many times the rows asked for
    max_rejection_factor: ClassVar[int] = 50

    def _learn_support(self, index: int, rare: ModelData) -> None:
        """Record what the rare rows of class ``index`` hold (category codes seen, numeric min/max in model
        space; JSON, no rows), so a condition no real rare row meets can be refused without the rows."""
        if index == 0:
            self.support_: list[dict] = []
        self.support_.append({
            "codes": [sorted(int(c) for c in np.unique(rare.codes[:, j])) for j in range(rare.codes.shape[1])],
            "low": [float(v) for v in rare.numeric.min(axis=0)] if len(rare.numeric) else [],
            "high": [float(v) for v in rare.numeric.max(axis=0)] if len(rare.numeric) else [],
        })

    def _check_support(self, class_index: int, where: Conditions, allow_unseen: bool) -> None:
        """Refuse a condition that no real rare row of the class meets (one line naming it), unless
        ``allow_unseen``. Models saved before the support was recorded are not checked."""
        support = getattr(self, "support_", None)
        if allow_unseen or not support or class_index >= len(support):
            return
        seen = support[class_index]
        for cond in where.items:
            boxes, codes = Conditions((cond,)).model_bounds(self.encoder_)
            met = all(np.isin(allowed, seen["codes"][j]).any() for j, allowed in codes.items()
                      if self.encoder_.categorical_columns_[j] == cond.column)
            for j, (lo, hi) in boxes.items():  # 1e-9: a real value on the bound, through float round trips
                met = met and lo <= seen["high"][j] + 1e-9 and hi >= seen["low"][j] - 1e-9
            if not met:
                hint = "" if self.contains_real_rows else "; allow_unseen=True (--allow-unseen) samples it anyway"
                raise GeneratorError(
                    f"no real row of rare class {_py(self.classes_[class_index])!r} meets "
                    f"{', '.join(cond.texts())}{hint}")

    def _sample_matching(
        self, state: dict, n: int, rng: np.random.Generator, seed: int, where: Conditions
    ) -> ModelData:
        """``n`` rows that meet ``where``: the default, bounded rejection. Batches from ``_sample`` (the first
        seeded by ``seed``, the next by child seeds of it), rows kept where ``where.mask`` holds, until n;
        when the acceptance rate means more than ``max_rejection_factor`` x n draws, a one-line
        GeneratorError with the rate. Deterministic for a seed."""
        bound = self.max_rejection_factor * n
        kept: list[ModelData] = []
        have = drawn = accepted = 0
        batch, batch_seed, index = max(n, 1_000), seed, 0
        while have < n:
            data = self._sample(state, batch, rng, batch_seed)
            ok = where.model_mask(self.encoder_, data)
            drawn, accepted = drawn + batch, accepted + int(ok.sum())
            if ok.any():
                kept.append(data.take(np.flatnonzero(ok)[: n - have]))
                have += len(kept[-1].numeric)
            rate = accepted / drawn
            if have < n and (rate == 0 or drawn + (n - have) / rate > bound):
                found = (f"none of {drawn:,} sampled rows meet {where.describe()} (acceptance rate 0%)" if rate == 0
                         else f"only {rate:.4%} of sampled rows meet {where.describe()} ({accepted:,} of {drawn:,} "
                              f"drawn); {n:,} rows would need about {n / rate:,.0f} draws")
                raise GeneratorError(f"{self.name}: {found}, over the bound of {bound:,} draws "
                                     f"({self.max_rejection_factor}x n): loosen the conditions")
            index += 1
            batch_seed = child_seed(seed, 7, index)
            rng = np.random.default_rng(batch_seed)
            batch = int(min(max(1_000, np.ceil(1.2 * (n - have) / max(rate, 1e-12))), max(self.block_rows(), n)))
        return ModelData(np.concatenate([k.numeric for k in kept]), np.concatenate([k.codes for k in kept]))

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
            if spec.name == schema.target:  # the label restored once, then repeated (an object array of m
                one = schema.restore_column(spec, np.array([label], dtype=object))  # labels cost ~8 ms/100k rows)
                column = pd.Series(_values(one).take(np.zeros(m, dtype=np.intp)))
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
            columns[spec.name] = _values(column)  # without their index: no per-column copy or alignment
        return pd.DataFrame(columns, index=index, copy=False)  # a block is copied once, when blocks are joined

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
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"{self.name} is not fitted yet; call fit(df, target=...) first")

    # ---------------------------------------------------------- persistence
    def save(self, path: str | Path, *, force: bool = False, extra: dict | None = None) -> Path:
        """Write the fitted generator to a model folder (``synthgen.store.save_generator``)."""
        return store.save_generator(self, path, force=force, extra=extra)

    def _get_state(self, folder: Path) -> dict:
        """Write the fitted state: payload files into ``folder``, the rest returned as manifest fields.

        Returns JSON-ready fields (``params``, ``seed``, ``schema``, ``encoder`` ...) and ``payload``
        with ``format``, ``executable``, ``contains_real_rows`` and ``files`` (the names written); the
        store adds each file's sha256. ``_set_state`` reads it back.
        """
        self._check_fitted()
        params = self.get_params(deep=False)
        if params.get("random_state") is not None and not isinstance(params["random_state"], numbers.Integral):
            params["random_state"] = self.seed_  # a RandomState or Generator: the seed this fit drew from it
        files = self._save_payload(folder)
        return {
            "params": {k: _py(v) for k, v in params.items()},
            "seed": self.seed_,
            "target": self.target_,
            "classes": self.classes_,
            "class_counts": self.class_counts_,
            "training_data": dict(self.training_),
            "schema": self.schema_.to_dict(),
            "encoder": self.encoder_.get_state(),
            "id_starts": self.id_starts_,
            # per rare class, per key column: rows-per-key histogram and missing share (JSON, no pickle)
            "key_sizes": self.key_sizes_,
            # per rare class: category codes seen and numeric min/max in model space (conditions' support)
            **({"support": self.support_} if getattr(self, "support_", None) is not None else {}),
            "payload": {
                "format": self.payload_format,
                "executable": self.payload_format == "pickle",
                "contains_real_rows": bool(self.contains_real_rows),
                "files": list(files),
            },
        }

    def _set_state(self, manifest: dict, folder: Path, *, trust_pickle: bool = False) -> None:
        """Read back what ``_get_state`` wrote; ``synthgen.store.load`` has checked every payload hash.

        ``trust_pickle``: whether a pickle payload (models written by older synthgen) may be unpickled.
        """
        try:
            schema = Schema.from_dict(manifest["schema"])
            seed = int(manifest["seed"])
            target = manifest["target"]
            classes = list(manifest["classes"])
            class_counts = dict(manifest["class_counts"])
            training = dict(manifest["training_data"])
            encoder = TableEncoder.from_state(schema, manifest["encoder"])
            id_starts = {k: int(v) for k, v in manifest["id_starts"].items()}
            sizes = [
                {name: {"sizes": [[int(a), int(b)] for a, b in hist["sizes"]], "missing": float(hist.get("missing", 0.0))}
                 for name, hist in per_class.items()}
                for per_class in manifest.get("key_sizes", [])  # absent in models saved before keys existed
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise IncompatibleModelError(f"model folder '{folder}': manifest is incomplete or unreadable ({exc})") from None
        self.seed_, self.schema_, self.target_, self.classes_ = seed, schema, target, classes
        self.class_counts_, self.training_, self.encoder_ = class_counts, training, encoder
        self.id_starts_, self.key_sizes_ = id_starts, sizes
        self.support_ = manifest.get("support")  # absent in models saved before conditions: not checked
        self._load_payload(Path(folder), dict(manifest.get("payload") or {}), trust_pickle=trust_pickle)
        self.manifest_ = manifest

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

    def _load_payload(self, folder: Path, payload: dict, *, trust_pickle: bool = False) -> None:
        """Read what ``_save_payload`` wrote (arrays with allow_pickle=False, JSON): nothing to trust."""
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


def _values(column: pd.Series) -> Any:
    """A column's values as a numpy array, or its extension array (nullable, categorical, datetime-tz)."""
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.array
    return column.to_numpy(copy=False)
