"""The SMOTE family: imbalanced-learn's rules, fitted once; plus our own SMOTE-NC (same rule and rows, faster).

imbalanced-learn has no separate fit/sample: a ``fit_resample`` call searches neighbours (and, for
SVM-SMOTE, fits an SVM; for KMeans-SMOTE, clusters; for SMOTE-N, builds a distance matrix) and then
draws the new rows. Most of that work depends only on the data, so every variant here does it once
at fit and keeps the result (neighbour tables, danger rows, support vectors, shares, clusters); each
block then runs only the random half, drawing from ``RandomState(seed)`` in imblearn's order and
interpolating in model space with imblearn's float operations. tests/test_smote_rules.py checks the
rows equal imbalanced-learn's, bit for bit, for the same stored rows and seed (KMeans-SMOTE given
the clustering made at fit). The stored rows are synthgen's encoding of every rare row and, for the
variants that look at other classes, a seeded sample of ``max_other_rows`` other rows (None: all).
Failures that depend only on the data are raised at fit.

Categories: imblearn sees them one-hot encoded and we decode its rows by the largest entry of each
block; the model-space interpolation picks the category that argmax would. Every categorical value
comes from the real category set.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from tqdm.auto import tqdm

from ..conditions import Conditions
from ..exceptions import GeneratorError, ParameterError
from .base import BaseGenerator, child_seed, fit_step
from .encoding import ModelData, one_hot

__all__ = [
    "SMOTEGenerator",
    "BorderlineSMOTEGenerator",
    "BorderlineSMOTE2Generator",
    "SVMSMOTEGenerator",
    "ADASYNGenerator",
    "KMeansSMOTEGenerator",
    "SMOTENCGenerator",
    "SMOTENGenerator",
    "vdm_pairwise",
]

_RARE, _OTHER = 1, 0


def _check_int(value: Any, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name}: expected a whole number >= {low}, got {value!r}")


def _check_other_rows(value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise ParameterError(
            f"max_other_rows: expected a whole number >= 1, or None for every other-class row "
            f"(null on the command line), got {value!r}"
        )


class _ImblearnGenerator(BaseGenerator):
    """Shared machinery: store rare (and other) rows and the data-only half of the rule at fit
    (``_extra_state``); per block, ``_rows(state, n, seed)`` makes the rows imblearn's
    ``fit_resample(random_state=seed)`` would add for ``n`` requested rows."""

    contains_real_rows: ClassVar[bool] = True
    #: whether the method's result depends on the other classes' rows (plain SMOTE: no, so one row is kept)
    method_uses_other_rows: ClassVar[bool] = True
    #: the state keys ``_extra_state`` adds (a model saved before they were stored gets them on load)
    fit_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, k_neighbors: int = 5, max_other_rows: int | None = 5_000, random_state: int | None = None):
        self.k_neighbors = k_neighbors
        self.max_other_rows = max_other_rows
        self.random_state = random_state

    def _validate_params(self) -> None:
        _check_int(self.k_neighbors, "k_neighbors", 1)
        _check_other_rows(self.max_other_rows)

    def min_rows(self) -> int:
        return self.k_neighbors + 1

    def _min_rows_hint(self) -> str:
        return " (k_neighbors + 1): lower k_neighbors, e.g. --param k_neighbors=1, or use gaussian-copula"

    def _other_rows_limit(self) -> int:
        """How many other-class rows fit keeps: a seeded sample of ``max_other_rows`` (None: all of them);
        one for a method that never looks at them."""
        if not self.method_uses_other_rows:
            return 1
        return sys.maxsize if self.max_other_rows is None else int(self.max_other_rows)

    # model data <-> the numeric matrix imblearn sees
    def _matrix(self, numeric: np.ndarray, codes: np.ndarray) -> np.ndarray:
        return np.hstack([numeric, one_hot(codes, self.encoder_.cardinalities)])

    def _stored_matrix(self, rare: ModelData, other: ModelData) -> tuple[np.ndarray, np.ndarray]:
        """The rows imblearn sees (rare first, then other) and their labels."""
        X = np.vstack([self._matrix(rare.numeric, rare.codes), self._matrix(other.numeric, other.codes)])
        return X, _labels(len(rare.numeric), len(other.numeric))

    def _imblearn_input(self, state: dict) -> tuple[np.ndarray, np.ndarray]:
        """A fitted state's stored rows as imbalanced-learn's own sampler takes them (tests, benchmarks)."""
        return self._stored_matrix(_rare(state), _other(state))

    def _fit(self, rare: ModelData, other: ModelData | None, rng: np.random.Generator, seed: int) -> dict:
        assert other is not None
        return {
            "rare_numeric": rare.numeric,
            "rare_codes": rare.codes,
            "other_numeric": other.numeric,
            "other_codes": other.codes,
            **self._extra_state(rare, other, seed),
        }

    def _extra_state(self, rare: ModelData, other: ModelData, seed: int) -> dict:
        """Fitted state beyond the stored rows (neighbour tables, bin edges)."""
        return {}

    def _load_payload(self, folder: Path, payload: dict, *, trust_pickle: bool = False) -> None:
        super()._load_payload(folder, payload, trust_pickle=trust_pickle)
        self._complete_fit_half()

    def _complete_fit_half(self) -> None:
        """Models saved by synthgen before a variant stored its data-only half hold only the rows:
        compute the half from them, with the seed fit used, so they sample as a fresh fit would."""
        for index, state in enumerate(self.states_):
            if not all(key in state for key in self.fit_keys):
                state.update(self._extra_state(_rare(state), _other(state), child_seed(self.seed_, 0, index)))

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        parts: list[ModelData] = []
        total = 0
        for _ in range(8):  # ADASYN rounds its counts; top up the difference
            block_seed = int(rng.integers(2**31 - 1))
            part = self._rows(state, self._request(n - total, state, block_seed), block_seed)
            if not len(part.numeric):
                break
            parts.append(part)
            total += len(part.numeric)
            if total >= n:
                break
        if total < n:
            raise GeneratorError(f"{self.name} could not make the {n} rows asked for; try smote or gaussian-copula")
        new = _stack(parts)
        if total > n:
            new = new.take(np.sort(rng.choice(total, n, replace=False)))
        return new

    def _rows(self, state: dict, n: int, seed: int) -> ModelData:
        """The rows imblearn's ``fit_resample(random_state=seed)`` adds when asked for ``n``."""
        raise NotImplementedError

    def _request(self, need: int, state: dict, seed: int) -> int:
        """How many rows to ask ``_rows(state, ., seed)`` for when ``need`` more are wanted."""
        return need

    def _sample_matching(self, state: dict, n: int, rng: np.random.Generator, seed: int,
                         where: Conditions) -> ModelData:
        """``n`` rows meeting ``where``: SMOTE's interpolation among the real rare rows that meet every
        condition (base rows and neighbour pool both restricted to them, neighbours recomputed there, k
        capped at matches - 1). Categories come from matching rows and numeric ranges are intervals, so
        every row meets the conditions by construction (numbers clipped to the box against float round-off).
        The variants' own choice of base rows (danger rows, support vectors, clusters, ADASYN's shares) is
        not applied under conditions: it was made on all rows and may hold no matching one."""
        def pool() -> tuple[ModelData, np.ndarray]:
            sub = _rare(state).take(_matching_rows(self, _rare(state), where))
            X = self._matrix(sub.numeric, sub.codes)
            return sub, _nearest_among(X, min(self.k_neighbors, len(sub.numeric) - 1))

        sub, neighbours = _cached(self, state, where, pool)
        new = _make_samples(sub, np.arange(len(sub.numeric)), sub, neighbours, n, 1.0, int(rng.integers(2**31 - 1)))
        return _clip_to_box(self, new, where)


def _nearest(X: np.ndarray, k: int, query: np.ndarray) -> np.ndarray:
    """Indices into ``X`` of the k nearest rows to each query row, the nearest (the row itself) dropped,
    as imblearn's ``NearestNeighbors(k + 1).fit(X).kneighbors(query)[:, 1:]``."""
    from sklearn.neighbors import NearestNeighbors

    if not len(query):
        return np.empty((0, k), dtype=np.int64)
    return NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(query, return_distance=False)[:, 1:].astype(np.int64)


def _other_share(X: np.ndarray, y: np.ndarray, m: int, query: np.ndarray) -> np.ndarray:
    """For each query row: how many of its m nearest rows of X belong to other classes (imblearn's
    ``_in_danger_noise`` count)."""
    return (y[_nearest(X, m, query)] != _RARE).sum(axis=1)


_BLEND_ROWS = 16_384  # rows interpolated at a time (a few hundred KB per temporary)


def _blend(base: ModelData, a: np.ndarray, pool: ModelData, b: np.ndarray, steps: np.ndarray,
           scale: np.ndarray | None = None) -> ModelData:
    """imblearn's ``X[a] + steps * (nn_data[b] - X[a])`` in model space, with its float operations.

    ``scale`` multiplies the differences first (Borderline-SMOTE-2's pairs with other classes).
    Categories: in imblearn's interpolated one-hot block the base category weighs 1 - t and the
    neighbour's t (t = steps * scale), and argmax takes the neighbour's when t > 1 - t, or on a tie
    when its code comes first; for t in (-1, 1) that is t > 0.5, or t == 0.5 and the smaller code.
    """
    numeric = np.empty((len(a), base.numeric.shape[1]), dtype=np.result_type(base.numeric, pool.numeric))
    for lo in range(0, len(a), _BLEND_ROWS):  # in slices that stay in the CPU's cache: 3x faster at 100,000 rows
        hi = lo + _BLEND_ROWS
        start = np.take(base.numeric, a[lo:hi], axis=0)
        part = numeric[lo:hi]  # becomes start + steps * (pool - start), in place: the same floats
        np.take(pool.numeric, b[lo:hi], axis=0, out=part)
        part -= start
        if scale is not None:
            part *= scale[lo:hi]
        part *= steps[lo:hi]
        part += start
    t = steps if scale is None else steps * scale
    code_a, code_b = base.codes[a], pool.codes[b]
    take_b = (t > 0.5) | ((t == 0.5) & (code_b < code_a))
    return ModelData(numeric, np.where(take_b, code_b, code_a).astype(np.int32))


def _make_samples(base: ModelData, rows_of: np.ndarray, pool: ModelData, neighbours: np.ndarray, n: int,
                  step: float, seed: int) -> ModelData:
    """imblearn's ``BaseSMOTE._make_samples`` (base rows ``rows_of``, their neighbours in ``pool``),
    drawing from a fresh ``RandomState(seed)`` in the same order."""
    random_state = np.random.RandomState(seed)
    picks = random_state.randint(low=0, high=neighbours.size, size=n)
    steps = step * random_state.uniform(size=n)[:, np.newaxis]
    rows, cols = np.divmod(picks, neighbours.shape[1])
    return _blend(base, rows_of[rows], pool, neighbours[rows, cols], steps)


def _cached(gen: BaseGenerator, state: dict, where: Conditions, make: Any) -> Any:
    """``make()`` (what conditioned sampling needs from a fitted state: the matching rows and their
    neighbours), computed once per state and conditions rather than once per block; a pure function of
    both, so it changes no row."""
    cache = gen.__dict__.setdefault("_conditioned_cache", {})
    key = (id(state), where)
    hit = cache.get(key)
    if hit is None or hit[0] is not state:
        if len(cache) >= 8:
            cache.clear()
        hit = cache[key] = (state, make())
    return hit[1]


def _nearest_among(X: np.ndarray, k: int) -> np.ndarray:
    """The k nearest other rows of each row of X (Euclidean; ties by position): by one distance matrix when
    X is small, else as ``_nearest``."""
    m = X.shape[0]
    if m > 2_000:
        return _nearest(X, k, X)
    sq = (X * X).sum(axis=1)
    dist = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    np.fill_diagonal(dist, np.inf)
    order = np.argsort(dist, axis=1, kind="stable")
    return order[:, :k].astype(np.int64)


def _matching_rows(gen: BaseGenerator, rare: ModelData, where: Conditions) -> np.ndarray:
    """Positions of the stored rare rows that meet every condition; fewer than 2 is a one-line error."""
    found = np.flatnonzero(where.model_mask(gen.encoder_, rare))
    if len(found) < 2:
        raise GeneratorError(
            f"{gen.name}: {len(found)} real rare row(s) meet {where.describe()}; it interpolates between real "
            f"rows and needs at least 2: loosen the conditions, or use a model-based generator "
            f"(gaussian-copula, with --allow-unseen)")
    return found


def _clip_to_box(gen: BaseGenerator, data: ModelData, where: Conditions) -> ModelData:
    """Numbers clipped to the conditions' model-space box (rows between matching rows are inside it up to
    float round-off), so every restored value meets the ranges."""
    boxes, _ = where.model_bounds(gen.encoder_)
    for j, (lo, hi) in boxes.items():
        np.clip(data.numeric[:, j], lo, hi, out=data.numeric[:, j])
    return data


def _stack(parts: list[ModelData]) -> ModelData:
    return ModelData(np.vstack([p.numeric for p in parts]), np.vstack([p.codes for p in parts]))


def _labels(n_rare: int, n_other: int) -> np.ndarray:
    return np.r_[np.full(n_rare, _RARE), np.full(n_other, _OTHER)]


def _rare(state: dict) -> ModelData:
    return ModelData(state["rare_numeric"], state["rare_codes"])


def _other(state: dict) -> ModelData:
    return ModelData(state["other_numeric"], state["other_codes"])


class SMOTEGenerator(_ImblearnGenerator):
    """SMOTE: interpolate between a rare row and one of its k nearest rare neighbours.

    imbalanced-learn's SMOTE with the neighbour search done once at fit (rows equal to SMOTE's for
    the same seed)."""

    name = "smote"
    method_uses_other_rows = False
    fit_keys = ("neighbours",)

    def _extra_state(self, rare: ModelData, other: ModelData, seed: int) -> dict:
        X = self._matrix(rare.numeric, rare.codes)
        return {"neighbours": _nearest(X, self.k_neighbors, X)}

    def _rows(self, state: dict, n: int, seed: int) -> ModelData:
        rare = _rare(state)
        return _make_samples(rare, np.arange(len(rare.numeric)), rare, state["neighbours"], n, 1.0, seed)


class BorderlineSMOTEGenerator(_ImblearnGenerator):
    """Borderline-SMOTE 1: SMOTE from the rare rows whose neighbourhood is mostly other classes.

    imbalanced-learn's BorderlineSMOTE with the "danger" rows (at least half, not all, of the
    ``m_neighbors`` nearest rows from other classes) and their neighbours found once at fit."""

    name = "borderline-smote"
    kind = "borderline-1"
    fit_keys = ("danger", "neighbours")

    def __init__(
        self,
        *,
        k_neighbors: int = 5,
        m_neighbors: int = 10,
        max_other_rows: int | None = 5_000,
        random_state: int | None = None,
    ):
        super().__init__(k_neighbors=k_neighbors, max_other_rows=max_other_rows, random_state=random_state)
        self.m_neighbors = m_neighbors

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_int(self.m_neighbors, "m_neighbors", 1)

    def _extra_state(self, rare: ModelData, other: ModelData, seed: int) -> dict:
        X, y = self._stored_matrix(rare, other)
        n_rare, m = len(rare.numeric), self.m_neighbors
        n_other = _other_share(X, y, m, X[:n_rare])
        danger = np.flatnonzero((n_other >= m / 2) & (n_other < m))
        if not len(danger):
            raise GeneratorError(
                f"{self.name} found no borderline ('danger') rare rows: the rare class barely overlaps the others; "
                "raise m_neighbors (--param m_neighbors=20) or use smote"
            )
        pool = X if self.kind == "borderline-2" else X[:n_rare]  # kind 2 may step towards other classes
        return {"danger": danger.astype(np.int64), "neighbours": _nearest(pool, self.k_neighbors, X[danger])}

    def _rows(self, state: dict, n: int, seed: int) -> ModelData:
        rare = _rare(state)
        return _make_samples(rare, state["danger"], rare, state["neighbours"], n, 1.0, seed)


class BorderlineSMOTE2Generator(BorderlineSMOTEGenerator):
    """Borderline-SMOTE 2: as kind 1, but may also step towards other-class neighbours (at most half
    way, a uniform share of the difference drawn as imblearn draws it)."""

    name = "borderline-smote-2"
    kind = "borderline-2"

    def _rows(self, state: dict, n: int, seed: int) -> ModelData:
        rare = _rare(state)
        pool = _stack([rare, _other(state)])  # the rows its neighbours index: rare first, then other
        neighbours = state["neighbours"]
        random_state = np.random.RandomState(seed)
        picks = random_state.randint(low=0, high=neighbours.size, size=n)
        steps = random_state.uniform(size=n)[:, np.newaxis]
        rows, cols = np.divmod(picks, neighbours.shape[1])
        b = neighbours[rows, cols]
        to_other = b >= len(rare.numeric)
        scale = np.ones((n, 1))
        scale[to_other] = np.random.RandomState(seed).uniform(low=0.0, high=0.5, size=(int(to_other.sum()), 1))
        return _blend(rare, state["danger"][rows], pool, b, steps, scale)


class SVMSMOTEGenerator(BorderlineSMOTEGenerator):
    """SVM-SMOTE: new rows near the rare class's support vectors of an SVM separating the classes.

    imbalanced-learn's SVMSMOTE with the data-only half done once at fit: ``SVC(gamma="scale")``
    (imblearn's default) fitted on the sparse one-hot matrix (about 8x faster than dense, the same
    support vectors); rare support vectors whose ``m_neighbors`` nearest rows all belong to other
    classes dropped as noise; the rest split into "danger" (at least half of those from other
    classes) and "safe", with their ``k_neighbors`` nearest rare rows. Per block, a Beta(10, 10) share
    of the rows steps from a danger vector towards a neighbour (step in [0, 1)), the rest away from a
    safe one (step in (-0.5, 0]). With only one kind of vector imblearn makes only that kind's share
    (fewer rows than asked for); so do we, asking for enough rows and keeping a seeded subset.
    """

    name = "svm-smote"
    fit_keys = ("svm_danger_base", "svm_danger_neighbours", "svm_safe_base", "svm_safe_neighbours")
    out_step = 0.5  # imblearn's default step away from a safe vector

    def _extra_state(self, rare: ModelData, other: ModelData, seed: int) -> dict:
        from scipy import sparse
        from sklearn.svm import SVC

        X, y = self._stored_matrix(rare, other)
        n_rare, m = len(rare.numeric), self.m_neighbors
        with fit_step(f"svm-smote: SVM on {len(y):,} rows"):
            svm = SVC(gamma="scale").fit(sparse.csr_matrix(X), y)
        support = svm.support_[y[svm.support_] == _RARE]
        n_other = _other_share(X, y, m, X[support])
        support, n_other = support[n_other != m], n_other[n_other != m]  # noise: all m neighbours other classes
        if not len(support):
            raise GeneratorError(
                "svm-smote: every support vector of the rare class is noise (all its m_neighbors nearest rows "
                "belong to other classes); raise m_neighbors (--param m_neighbors=20) or use smote"
            )
        danger = (n_other >= m / 2) & (n_other < m)
        state = {}
        for key, base in (("danger", support[danger]), ("safe", support[~danger])):
            state[f"svm_{key}_base"] = base.astype(np.int64)
            state[f"svm_{key}_neighbours"] = _nearest(X[:n_rare], self.k_neighbors, X[base])
        return state

    def _rows(self, state: dict, n: int, seed: int) -> ModelData:
        # as imblearn: with no danger (or no safe) vectors only the safe (danger) share is made, fewer
        # rows than asked for; _request asks for enough
        n_danger = int(np.random.RandomState(seed).beta(10, 10) * (n + 1))
        rare = _rare(state)
        parts = [
            _make_samples(rare, state[f"svm_{key}_base"], rare, state[f"svm_{key}_neighbours"], size, step, seed)
            for key, size, step in (("danger", n_danger, 1.0), ("safe", n - n_danger, -self.out_step))
            if size and len(state[f"svm_{key}_base"])
        ]
        return _stack(parts) if parts else rare.take(np.empty(0, dtype=np.int64))

    def _request(self, need: int, state: dict, seed: int) -> int:
        if len(state["svm_danger_base"]) and len(state["svm_safe_base"]):
            return need
        # one kind of vector only: _rows makes the Beta(10, 10) share f of the request that falls to it,
        # int(f * (r + 1)) rows from danger vectors or r - int(f * (r + 1)) from safe ones
        share = np.random.RandomState(seed).beta(10, 10)
        if not len(state["svm_safe_base"]):
            made, request = (lambda r: int(share * (r + 1))), math.ceil(need / share)
        else:
            made, request = (lambda r: r - int(share * (r + 1))), math.ceil((need + share) / (1 - share))
        while made(request) < need:
            request += 1
        return request


class ADASYNGenerator(_ImblearnGenerator):
    """ADASYN: more rows where the rare class is hardest to learn (many other-class neighbours).

    imbalanced-learn's ADASYN with each rare row's share (other-class neighbours / k, normalised) and
    its rare neighbours found once at fit."""

    name = "adasyn"
    fit_keys = ("share", "neighbours")

    def _extra_state(self, rare: ModelData, other: ModelData, seed: int) -> dict:
        X, y = self._stored_matrix(rare, other)
        n_rare, k = len(rare.numeric), self.k_neighbors
        share = _other_share(X, y, k, X[:n_rare]) / k
        if not np.sum(share):
            raise GeneratorError(
                "adasyn found no other-class rows among the rare rows' neighbours (the classes do not overlap), "
                "so it has nowhere to add rows; use smote or borderline-smote"
            )
        share /= np.sum(share)
        return {"share": share, "neighbours": _nearest(X[:n_rare], k, X[:n_rare])}

    def _rows(self, state: dict, n: int, seed: int) -> ModelData:
        random_state = np.random.RandomState(seed)
        rows = np.repeat(np.arange(len(state["share"])), np.rint(state["share"] * n).astype(int))
        cols = random_state.choice(self.k_neighbors, size=len(rows))
        steps = random_state.uniform(size=(len(rows), 1))
        rare = _rare(state)
        return _blend(rare, rows, rare, state["neighbours"][rows, cols], steps)

    def _request(self, need: int, state: dict, seed: int) -> int:
        # ADASYN rounds a per-row share of the request, losing at most half a row per rare row: ask for
        # that many more (and at least two rows per rare row, as small requests round to nothing) and keep
        # a seeded random subset of exactly the rows needed, so one call per block is enough
        n_rare = len(state["share"])
        return max(need + (n_rare + 1) // 2, 2 * n_rare)


class KMeansSMOTEGenerator(_ImblearnGenerator):
    """KMeans-SMOTE: cluster all rows, then SMOTE inside clusters where the rare class is dense.

    imbalanced-learn's KMeansSMOTE with the clustering (MiniBatchKMeans, 3 inits, seeded from the fit
    seed), the choice of clusters, their sparsity weights and the neighbours inside each done once at
    fit. Per block, each chosen cluster makes ceil(n * weight) rows, as imblearn's does.
    """

    name = "kmeans-smote"
    fit_keys = ("kmeans_seed", "kmeans_base", "kmeans_neighbours", "kmeans_sizes", "kmeans_weights")

    def __init__(
        self,
        *,
        k_neighbors: int = 2,
        n_clusters: int = 8,
        cluster_balance_threshold: float | str = "auto",
        max_other_rows: int | None = 5_000,
        random_state: int | None = None,
    ):
        super().__init__(k_neighbors=k_neighbors, max_other_rows=max_other_rows, random_state=random_state)
        self.n_clusters = n_clusters
        self.cluster_balance_threshold = cluster_balance_threshold

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_int(self.n_clusters, "n_clusters", 1)
        cbt = self.cluster_balance_threshold
        if cbt != "auto" and (isinstance(cbt, bool) or not isinstance(cbt, (int, float)) or not 0 < cbt <= 1):
            raise ParameterError(f"cluster_balance_threshold: expected 'auto' or a number in (0, 1], got {cbt!r}")

    def _extra_state(self, rare: ModelData, other: ModelData, seed: int) -> dict:
        from imblearn.over_sampling import KMeansSMOTE
        from sklearn.cluster import MiniBatchKMeans

        X, y = self._stored_matrix(rare, other)
        k = self.k_neighbors
        kmeans_seed = child_seed(seed, 3)
        with fit_step(f"kmeans-smote: clustering {len(y):,} rows"):
            clusters = MiniBatchKMeans(n_clusters=self.n_clusters, n_init=3, random_state=kmeans_seed).fit_predict(X)
        # imblearn's threshold: "auto" is n_samples / total / 2, which is 1/2 for one class; none for one cluster
        threshold = -np.inf if self.n_clusters == 1 else (0.5 if self.cluster_balance_threshold == "auto"
                                                           else self.cluster_balance_threshold)
        sparsity = KMeansSMOTE()._find_cluster_sparsity  # density_exponent="auto", imblearn's default
        bases, neighbours, sizes, weights = [], [], [], []
        for c in tqdm(range(self.n_clusters), desc="kmeans-smote: clusters", unit="cluster", file=sys.stderr,
                      disable=None):
            members = np.flatnonzero(clusters == c)
            if not members.size:
                continue
            share = (y[members] == _RARE).mean()
            if share < threshold or share * members.size < k + 1:
                continue
            in_cluster = members[y[members] == _RARE]  # rare rows come first in X: these index rare rows
            bases.append(in_cluster)
            neighbours.append(in_cluster[_nearest(X[in_cluster], k, X[in_cluster])])
            sizes.append(len(in_cluster))
            weights.append(sparsity(X[in_cluster]))
        if not bases:
            raise GeneratorError(
                "kmeans-smote found no cluster with enough rare rows; lower cluster_balance_threshold "
                "(--param cluster_balance_threshold=0.01) or n_clusters (--param n_clusters=2), or use smote"
            )
        weights = np.array(weights)
        return {"kmeans_seed": kmeans_seed, "kmeans_base": np.concatenate(bases).astype(np.int64),
                "kmeans_neighbours": np.vstack(neighbours).astype(np.int64),
                "kmeans_sizes": np.array(sizes, dtype=np.int64), "kmeans_weights": weights / weights.sum()}

    def _rows(self, state: dict, n: int, seed: int) -> ModelData:
        rare = _rare(state)
        cuts = np.cumsum(state["kmeans_sizes"])[:-1]
        return _stack([
            _make_samples(rare, base, rare, neighbours, int(math.ceil(n * weight)), 1.0, seed)
            for base, neighbours, weight in zip(np.split(state["kmeans_base"], cuts),
                                                np.split(state["kmeans_neighbours"], cuts), state["kmeans_weights"])
        ])


class SMOTENCGenerator(BaseGenerator):
    """SMOTE-NC: numbers interpolated as in SMOTE; each category the most frequent among the base row's
    k nearest rare neighbours, ties broken at random: imbalanced-learn's SMOTENC, row for row.

    Our own implementation of imblearn's rule (tests/test_smote_rules.py checks the rows equal
    ``SMOTENC(random_state=seed).fit_resample`` on the same encoded rows, bit for bit):

    - distances as imblearn's: numbers plus one-hot categories weighing the median standard deviation
      of the rare rows' numbers divided by sqrt(2) (0 when that median is 0: categories then play no
      part in the distance, as in imblearn); the same k nearest rare neighbours, the row itself dropped;
    - the tied most frequent categories among those neighbours depend only on the base row, so fit
      finds them once per rare row (imblearn counts them again for every new row);
    - per block, imblearn's draws from ``RandomState(seed)``: ``randint`` over (row, neighbour) pairs,
      ``uniform`` steps, then, from a fresh ``RandomState(seed)`` and per categorical column, one
      ``permutation`` of every (new row, tied category) pair, each new row taking its first one.

    Differences left: imblearn finds ties with ``np.isclose`` on sums of the scaled one-hot entries
    (absolute tolerance 1e-8), we on whole counts; sums of different counts differ by at least the
    scale, so the two agree whenever the scale is above about 1e-8 (numbers standardised on the rare
    rows, without missing values, give 0, 1/(2 sqrt 2) or 1/sqrt(2); at 0 imblearn counts plain 1s).
    Neighbours at exactly equal distances may come in another order than imblearn's sparse search
    gives. imblearn refuses a table without numbers or without categories; we use a scale of
    1/sqrt(2) without numbers and plain SMOTE's rule without categories.
    """

    name = "smote-nc"
    contains_real_rows = True

    def __init__(self, *, k_neighbors: int = 5, random_state: int | None = None):
        self.k_neighbors = k_neighbors
        self.random_state = random_state

    def _validate_params(self) -> None:
        _check_int(self.k_neighbors, "k_neighbors", 1)

    def min_rows(self) -> int:
        return self.k_neighbors + 1

    def _min_rows_hint(self) -> str:
        return " (k_neighbors + 1): lower k_neighbors, e.g. --param k_neighbors=1, or use gaussian-copula"

    def _fit(self, rare: ModelData, other: ModelData | None, rng: np.random.Generator, seed: int) -> dict:
        return self._nc_state(rare, self.k_neighbors)

    def _sample_matching(self, state: dict, n: int, rng: np.random.Generator, seed: int,
                         where: Conditions) -> ModelData:
        """``n`` rows meeting ``where``: SMOTE-NC's rule fitted again on the real rare rows that meet every
        condition (neighbours and category votes among them only, k capped at matches - 1), so every row
        meets the conditions by construction. Models saved before the codes were stored: the bounded rejection."""
        if "codes" not in state:
            return super()._sample_matching(state, n, rng, seed, where)
        def pool() -> dict:
            rare = ModelData(state["numeric"], state["codes"])
            sub = rare.take(_matching_rows(self, rare, where))
            return self._nc_state(sub, min(self.k_neighbors, len(sub.numeric) - 1))

        new = self._rows(_cached(self, state, where, pool), n, int(rng.integers(2**31 - 1)))
        return _clip_to_box(self, new, where)

    def _nc_state(self, rare: ModelData, k: int) -> dict:
        """The data-only half of SMOTE-NC on these rare rows: neighbours and tied category modes."""
        from sklearn.neighbors import NearestNeighbors

        numeric, codes = rare.numeric, rare.codes
        stds = numeric.std(axis=0) if numeric.shape[1] else np.array([1.0])
        weight = float(np.median(stds)) / np.sqrt(2)  # imblearn's median_std_ / sqrt(2), 0 included
        X = np.hstack([numeric, one_hot(codes, self.encoder_.cardinalities, weight)])
        neighbours = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
        # for each rare row and categorical column: the categories tied for most frequent among its
        # neighbours, in ascending order (imblearn's argwhere order), padded with -1
        n, q = codes.shape
        ties = np.full((n, q, k), -1, dtype=np.int32)
        n_ties = np.zeros((n, q), dtype=np.int32)
        neighbour_codes = codes[neighbours]  # (n, k, q)
        for j, card in enumerate(self.encoder_.cardinalities):
            counts = np.zeros((n, card), dtype=np.int32)
            np.add.at(counts, (np.repeat(np.arange(n), k), neighbour_codes[:, :, j].ravel()), 1)
            is_max = counts == counts.max(axis=1, keepdims=True)
            n_ties[:, j] = is_max.sum(axis=1)
            rows, cats = np.nonzero(is_max)
            slot = np.arange(len(rows)) - np.searchsorted(rows, rows)
            ties[rows, j, slot] = cats
        return {"numeric": numeric, "codes": codes, "neighbours": neighbours.astype(np.int32), "ties": ties,
                "n_ties": n_ties}

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        return self._rows(state, n, int(rng.integers(2**31 - 1)))

    def _rows(self, state: dict, n: int, seed: int) -> ModelData:
        """The rows imblearn's ``SMOTENC(random_state=seed).fit_resample`` adds when asked for ``n``."""
        numeric, neighbours, ties, n_ties = state["numeric"], state["neighbours"], state["ties"], state["n_ties"]
        random_state = np.random.RandomState(seed)
        picks = random_state.randint(low=0, high=neighbours.size, size=n)
        steps = random_state.uniform(size=n)[:, np.newaxis]
        base, cols = np.divmod(picks, neighbours.shape[1])
        start = numeric[base]
        new_numeric = start + steps * (numeric[neighbours[base, cols]] - start)
        # the vote: imblearn permutes the (new row, tied category) pairs of each column, in argwhere
        # order, with one RandomState(seed) for all columns, and each row keeps its first pair
        random_state = np.random.RandomState(seed)
        q = n_ties.shape[1]
        codes = np.empty((n, q), dtype=np.int32)
        for j in range(q if n else 0):
            counts = n_ties[base, j].astype(np.int64)  # >= 1: some category is always the most frequent
            starts = np.cumsum(counts) - counts  # row i's pairs are starts[i] ... starts[i] + counts[i] - 1
            order = random_state.permutation(int(counts.sum()))
            place = np.empty_like(order)
            place[order] = np.arange(len(order))  # where each pair lands in the permuted order
            kept = order[np.minimum.reduceat(place, starts)]  # each row's pair that comes first
            codes[:, j] = ties[base, j, kept - starts]
        return ModelData(new_numeric, codes)

    def block_rows(self) -> int:
        return 100_000


class SMOTENGenerator(_ImblearnGenerator):
    """SMOTE-N (imbalanced-learn's SMOTEN) for categorical data. Numbers are cut into quantile bins,
    treated as categories, and drawn uniformly inside the chosen bin when decoded.

    SMOTEN makes each new row the per-column most frequent value among a random rare row and its
    k nearest rare neighbours under the value difference metric (VDM), so every row it can make is
    known at fit: one per rare row. Fit computes them (imblearn's ValueDifferenceMetric for the
    per-class frequencies, the pairwise distances by table lookup, which is ~10x faster than its
    ``pairwise``); sampling draws rare rows at random. ``tests/test_smote_rules.py`` checks the
    output equals imblearn's SMOTEN for the same seed.
    """

    name = "smote-n"
    fit_keys = ("edges", "modes")

    def __init__(
        self,
        *,
        k_neighbors: int = 5,
        n_bins: int = 10,
        max_other_rows: int | None = 5_000,
        random_state: int | None = None,
    ):
        super().__init__(k_neighbors=k_neighbors, max_other_rows=max_other_rows, random_state=random_state)
        self.n_bins = n_bins

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_int(self.n_bins, "n_bins", 2)

    def _extra_state(self, rare: ModelData, other: ModelData, seed: int) -> dict:
        p = rare.numeric.shape[1]
        edges = np.full((p, self.n_bins + 1), np.nan)
        for j in range(p):
            e = np.unique(np.quantile(rare.numeric[:, j], np.linspace(0, 1, self.n_bins + 1)))
            edges[j, : len(e)] = e
        return {"edges": edges, "modes": self._neighbour_modes(*self._coded_rows(rare, other, edges))}

    def _coded_rows(self, rare: ModelData, other: ModelData, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows SMOTEN sees (numbers binned, then category codes; rare first) and their labels."""
        X = np.vstack([np.hstack([self._binned(d.numeric, edges), d.codes]) for d in (rare, other)])
        return X.astype(np.int32), _labels(len(rare.numeric), len(other.numeric))

    def _imblearn_input(self, state: dict) -> tuple[np.ndarray, np.ndarray]:
        return self._coded_rows(_rare(state), _other(state), state["edges"])

    def _neighbour_modes(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """SMOTEN's row for each rare row: per column, the most frequent value (smallest on ties)
        among the row and its k nearest rare neighbours under the VDM fitted on all stored rows."""
        from imblearn.metrics.pairwise import ValueDifferenceMetric
        from scipy.stats import mode
        from sklearn.neighbors import NearestNeighbors

        X_rare = X[y == _RARE]
        vdm = ValueDifferenceMetric(n_categories=X.max(axis=0) + 1).fit(X, y)
        distance = vdm_pairwise(vdm, X_rare)
        nn = NearestNeighbors(n_neighbors=self.k_neighbors + 1, metric="precomputed").fit(distance)
        neighbours = nn.kneighbors(distance, return_distance=False)  # includes the row itself, as in SMOTEN
        return np.squeeze(mode(X_rare[neighbours], axis=1, keepdims=True).mode, axis=1).astype(np.int32)

    def _binned(self, numeric: np.ndarray, edges: np.ndarray) -> np.ndarray:
        out = np.empty(numeric.shape, dtype=np.int32)
        for j in range(numeric.shape[1]):
            e = edges[j][~np.isnan(edges[j])]
            out[:, j] = np.clip(np.searchsorted(e, numeric[:, j], side="right") - 1, 0, max(len(e) - 2, 0))
        return out

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        modes = state["modes"]
        new = modes[rng.integers(0, len(modes), size=n)]
        return self._unbinned(new, state["edges"], rng)

    def _sample_matching(self, state: dict, n: int, rng: np.random.Generator, seed: int,
                         where: Conditions) -> ModelData:
        """``n`` rows meeting ``where``: SMOTE-N's possible rows (one per rare row) whose categories meet the
        conditions and whose number bins overlap the ranges, the numbers drawn inside bin and range. Needs at
        least 2 real rare rows meeting the conditions, as the rest of the family."""
        _matching_rows(self, _rare(state), where)
        boxes, codes = where.model_bounds(self.encoder_)
        modes, edges, p = state["modes"], state["edges"], state["edges"].shape[0]
        ok = np.ones(len(modes), dtype=bool)
        for j, allowed in codes.items():
            ok &= np.isin(modes[:, p + j], allowed)
        for j, (lo, hi) in boxes.items():
            e = edges[j][~np.isnan(edges[j])]
            b = np.minimum(modes[:, j], max(len(e) - 2, 0))
            ok &= (e[b] <= hi) & (e[np.minimum(b + 1, len(e) - 1)] >= lo)
        if not ok.any():
            raise GeneratorError(f"{self.name}: none of its possible rows (per-row modes of the rare rows' "
                                 f"neighbourhoods) meets {where.describe()}; use smote or smote-nc")
        chosen = modes[ok][rng.integers(0, int(ok.sum()), size=n)]
        data = self._unbinned(chosen, edges, rng)
        for j, (lo, hi) in boxes.items():  # drawn again inside bin and range together
            e = edges[j][~np.isnan(edges[j])]
            if len(e) >= 2:
                b = chosen[:, j]
                low, high = np.maximum(e[b], lo), np.minimum(e[b + 1], hi)
                data.numeric[:, j] = low + rng.random(n) * (high - low)
        return _clip_to_box(self, data, where)

    def _unbinned(self, new: np.ndarray, edges: np.ndarray, rng: np.random.Generator) -> ModelData:
        """Binned numbers back to numbers (uniform inside the bin); the remaining columns are codes."""
        n, p = new.shape[0], edges.shape[0]
        numeric = np.empty((n, p))
        for j in range(p):
            e = edges[j][~np.isnan(edges[j])]
            if len(e) < 2:
                numeric[:, j] = e[0]
                continue
            lo, hi = e[new[:, j]], e[new[:, j] + 1]
            numeric[:, j] = lo + rng.random(n) * (hi - lo)
        return ModelData(numeric, np.ascontiguousarray(new[:, p:], dtype=np.int32))

    def block_rows(self) -> int:
        return 200_000  # a row is a gather from the stored modes


def vdm_pairwise(vdm: Any, X: np.ndarray) -> np.ndarray:
    """``ValueDifferenceMetric.pairwise(X)``, bit for bit, by table lookup.

    imblearn computes, per column, a Minkowski distance between the class-frequency vectors of every
    pair of rows; those depend only on the two categories, so we compute them once per category pair
    (the same arithmetic) and gather.
    """
    if vdm.k != 1:
        raise ParameterError(f"vdm_pairwise: only k=1 (imblearn's default) is supported, got k={vdm.k}")
    distance = np.zeros((X.shape[0], X.shape[0]))
    for j, proba in enumerate(vdm.proba_per_class_):
        table = np.abs(proba[None, :, :] - proba[:, None, :]).sum(axis=-1) ** vdm.r
        column = X[:, j]
        distance += np.take(table[column], column, axis=1)
    return distance
