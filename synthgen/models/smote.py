"""The SMOTE family through imbalanced-learn, plus our own SMOTE-NC (same rule, measurably faster).

imbalanced-learn has no separate fit/sample: each block of rows is one ``fit_resample``
call on the stored rare rows (and a seeded sample of the other rows, which borderline,
ADASYN and KMeans variants need), keeping only the new rows. Categories are one-hot
encoded for the numeric variants and decoded by the largest entry of each block, so every
categorical value comes from the real category set.

SVM-SMOTE and SMOTE-N spend most of a ``fit_resample`` on work that depends only on the data
(an SVM, neighbour searches, a pairwise distance matrix). For them we compute imblearn's rule in
two halves: that work once at fit, the random part per block; tests/test_smote_rules.py checks the
rows equal imblearn's for the same seed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..exceptions import GeneratorError, ParameterError, one_line
from .base import BaseGenerator
from .encoding import ModelData, argmax_blocks, one_hot

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


class _ImblearnGenerator(BaseGenerator):
    """Shared machinery: store rare (and other) rows at fit, run the imblearn sampler per block."""

    contains_real_rows: ClassVar[bool] = True
    #: whether the method's result depends on the other classes' rows (plain SMOTE: no, so one row is kept)
    method_uses_other_rows: ClassVar[bool] = True
    #: whether the method can fail on valid data (no danger rows, no cluster...): then fit runs one small
    #: trial so the failure surfaces at fit rather than at generate
    can_fail_on_data: ClassVar[bool] = True

    def __init__(self, *, k_neighbors: int = 5, max_other_rows: int = 5_000, random_state: int | None = None):
        self.k_neighbors = k_neighbors
        self.max_other_rows = max_other_rows
        self.random_state = random_state

    def _validate_params(self) -> None:
        _check_int(self.k_neighbors, "k_neighbors", 1)
        _check_int(self.max_other_rows, "max_other_rows", 1)

    def min_rows(self) -> int:
        return self.k_neighbors + 1

    def _min_rows_hint(self) -> str:
        return " (k_neighbors + 1): lower k_neighbors, e.g. --param k_neighbors=1, or use gaussian-copula"

    def _other_rows_limit(self) -> int:
        return self.max_other_rows if self.method_uses_other_rows else 1

    def _make_sampler(self, strategy: dict, seed: int, state: dict):
        raise NotImplementedError

    # model data <-> the numeric matrix imblearn sees
    def _matrix(self, numeric: np.ndarray, codes: np.ndarray) -> np.ndarray:
        return np.hstack([numeric, one_hot(codes, self.encoder_.cardinalities)])

    def _decode(self, matrix: np.ndarray) -> ModelData:
        p = self.encoder_.n_numeric
        return ModelData(np.ascontiguousarray(matrix[:, :p]), argmax_blocks(matrix[:, p:], self.encoder_.cardinalities))

    def _fit(self, rare: ModelData, other: ModelData | None, rng: np.random.Generator, seed: int) -> dict:
        assert other is not None
        state = {
            "rare_numeric": rare.numeric,
            "rare_codes": rare.codes,
            "other_numeric": other.numeric,
            "other_codes": other.codes,
            **self._extra_state(rare, other),
        }
        if self.can_fail_on_data:
            self._sample(state, min(10, rare.numeric.shape[0]), rng, seed)  # fail at fit, not at generate
        return state

    def _extra_state(self, rare: ModelData, other: ModelData) -> dict:
        """Fitted state beyond the stored rows (bin edges, an SVM's support vectors)."""
        return {}

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        X = np.vstack([
            self._matrix(state["rare_numeric"], state["rare_codes"]),
            self._matrix(state["other_numeric"], state["other_codes"]),
        ])
        n_rare = state["rare_numeric"].shape[0]
        y = np.r_[np.full(n_rare, _RARE), np.full(X.shape[0] - n_rare, _OTHER)]
        made: list[np.ndarray] = []
        total = 0
        for _ in range(8):  # ADASYN and SVM-SMOTE round their counts; top up the difference
            need = self._request(n - total, n_rare)
            sampler = self._make_sampler({_RARE: n_rare + need}, int(rng.integers(2**31 - 1)), state)
            try:
                X_res, _ = sampler.fit_resample(X, y)
            except (ValueError, RuntimeError) as exc:
                raise GeneratorError(self._explain(exc)) from exc
            new = X_res[X.shape[0] :]
            if new.shape[0] == 0:
                break
            made.append(new)
            total += new.shape[0]
            if total >= n:
                break
        if total < n:
            raise GeneratorError(self._explain(None))
        new = np.vstack(made)
        if new.shape[0] > n:
            new = new[np.sort(rng.choice(new.shape[0], n, replace=False))]
        return self._decode(new)

    def _request(self, need: int, n_rare: int) -> int:
        """How many rows to ask imblearn for when ``need`` more are wanted."""
        return need

    def _explain(self, exc: BaseException | None) -> str:
        detail = f": {one_line(exc, limit=300)}" if exc is not None else ""
        return f"{self.name} could not make the rows asked for{detail}; try smote or gaussian-copula"


class SMOTEGenerator(_ImblearnGenerator):
    """SMOTE: interpolate between a rare row and one of its k nearest rare neighbours."""

    name = "smote"
    method_uses_other_rows = False
    can_fail_on_data = False

    def _make_sampler(self, strategy: dict, seed: int, state: dict):
        from imblearn.over_sampling import SMOTE

        return SMOTE(sampling_strategy=strategy, k_neighbors=self.k_neighbors, random_state=seed)


class BorderlineSMOTEGenerator(_ImblearnGenerator):
    """Borderline-SMOTE 1: SMOTE from the rare rows whose neighbourhood is mostly other classes."""

    name = "borderline-smote"
    kind = "borderline-1"

    def __init__(
        self, *, k_neighbors: int = 5, m_neighbors: int = 10, max_other_rows: int = 5_000, random_state: int | None = None
    ):
        super().__init__(k_neighbors=k_neighbors, max_other_rows=max_other_rows, random_state=random_state)
        self.m_neighbors = m_neighbors

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_int(self.m_neighbors, "m_neighbors", 1)

    def _make_sampler(self, strategy: dict, seed: int, state: dict):
        from imblearn.over_sampling import BorderlineSMOTE

        return BorderlineSMOTE(
            sampling_strategy=strategy, k_neighbors=self.k_neighbors, m_neighbors=self.m_neighbors,
            kind=self.kind, random_state=seed,
        )

    def _explain(self, exc: BaseException | None) -> str:
        if exc is None:
            return (
                f"{self.name} found no borderline ('danger') rare rows: the rare class barely overlaps the others; "
                "raise m_neighbors (--param m_neighbors=20) or use smote"
            )
        return super()._explain(exc)


class BorderlineSMOTE2Generator(BorderlineSMOTEGenerator):
    """Borderline-SMOTE 2: as kind 1, but may also step towards other-class neighbours."""

    name = "borderline-smote-2"
    kind = "borderline-2"


class SVMSMOTEGenerator(BorderlineSMOTEGenerator):
    """SVM-SMOTE: new rows near the rare class's support vectors of an SVM separating the classes.

    imbalanced-learn's SVMSMOTE rule, split into what depends on the data (computed once at fit) and
    what is random (per block), so that blocks do not repeat the SVM and the neighbour searches:

    - fit: ``SVC(gamma="scale")`` (imblearn's default) fitted on the sparse one-hot matrix (about 8x
      faster than dense, the same support vectors); rare support vectors with all ``m_neighbors``
      nearest rows from other classes dropped as noise; the rest split into "danger" (at least half
      of those neighbours from other classes) and "safe"; the ``k_neighbors`` nearest rare rows of each;
    - sample: a Beta(10, 10) share of the rows interpolated from danger vectors towards a neighbour
      (step in [0, 1)), the rest extrapolated away from one (step in (-0.5, 0]), each category the one
      imblearn's argmax of the interpolated one-hot block picks.

    ``tests/test_smote_rules.py`` checks the output equals imblearn's SVMSMOTE for the same seed.
    """

    name = "svm-smote"
    can_fail_on_data = False  # fit finds every failure: no support vector left after removing noise
    out_step = 0.5  # imblearn's default step away from a safe vector

    def _extra_state(self, rare: ModelData, other: ModelData) -> dict:
        from scipy import sparse
        from sklearn.neighbors import NearestNeighbors
        from sklearn.svm import SVC

        n_rare = rare.numeric.shape[0]
        X = np.vstack([self._matrix(rare.numeric, rare.codes), self._matrix(other.numeric, other.codes)])
        y = np.r_[np.full(n_rare, _RARE), np.full(other.numeric.shape[0], _OTHER)]
        svm = SVC(gamma="scale").fit(sparse.csr_matrix(X), y)
        support = svm.support_[y[svm.support_] == _RARE]
        m = self.m_neighbors
        near = NearestNeighbors(n_neighbors=m + 1).fit(X).kneighbors(X[support], return_distance=False)[:, 1:]
        n_other = (y[near] != _RARE).sum(axis=1)
        support, n_other = support[n_other != m], n_other[n_other != m]  # noise: all m neighbours other classes
        if not len(support):
            raise GeneratorError(
                "svm-smote: every support vector of the rare class is noise (all its m_neighbors nearest rows "
                "belong to other classes); raise m_neighbors (--param m_neighbors=20) or use smote"
            )
        danger = (n_other >= m / 2) & (n_other < m)
        nn_k = NearestNeighbors(n_neighbors=self.k_neighbors + 1).fit(X[:n_rare])
        state = {}
        for key, mask in (("danger", danger), ("safe", ~danger)):
            base = support[mask]
            nns = nn_k.kneighbors(X[base], return_distance=False)[:, 1:] if len(base) else np.empty((0, self.k_neighbors))
            state[f"svm_{key}_base"] = base.astype(np.int64)
            state[f"svm_{key}_neighbours"] = nns.astype(np.int64)
        return state

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        return self._rows(state, n, int(rng.integers(2**31 - 1)))

    def _rows(self, state: dict, n: int, block_seed: int) -> ModelData:
        """``n`` rows as imblearn's SVMSMOTE(random_state=block_seed) makes them."""
        n_danger = int(np.random.RandomState(block_seed).beta(10, 10) * (n + 1))
        if not len(state["svm_danger_base"]):
            n_danger = 0
        elif not len(state["svm_safe_base"]):
            n_danger = n
        parts = [
            _interpolate(state["rare_numeric"], state["rare_codes"], state[f"svm_{key}_base"],
                         state[f"svm_{key}_neighbours"], size, step, np.random.RandomState(block_seed))
            for key, size, step in (("danger", n_danger, 1.0), ("safe", n - n_danger, -self.out_step))
            if size
        ]
        return ModelData(np.vstack([p.numeric for p in parts]), np.vstack([p.codes for p in parts]))

    def _explain(self, exc: BaseException | None) -> str:
        return _ImblearnGenerator._explain(self, exc)


def _interpolate(numeric: np.ndarray, codes: np.ndarray, base: np.ndarray, neighbours: np.ndarray, n: int,
                 step: float, random_state: np.random.RandomState) -> ModelData:
    """imblearn's ``_make_samples`` in model space: ``n`` rows ``x_base + step * u * (x_neighbour - x_base)``.

    Draws in imblearn's order from ``random_state``. A category is what argmax picks from the
    interpolated one-hot block: the base's weight is 1 - s, the neighbour's s, so the neighbour's
    category wins when s > 0.5, or at s == 0.5 when its code comes first.
    """
    picks = random_state.randint(low=0, high=neighbours.size, size=n)
    steps = step * random_state.uniform(size=n)[:, np.newaxis]
    rows, cols = np.divmod(picks, neighbours.shape[1])
    a, b = base[rows], neighbours[rows, cols]
    new_numeric = numeric[a] + steps * (numeric[b] - numeric[a])
    code_a, code_b = codes[a], codes[b]
    take_b = (steps > 0.5) | ((steps == 0.5) & (code_b < code_a))
    return ModelData(new_numeric, np.where(take_b, code_b, code_a).astype(np.int32))


class ADASYNGenerator(_ImblearnGenerator):
    """ADASYN: more rows where the rare class is hardest to learn (many other-class neighbours)."""

    name = "adasyn"

    def _make_sampler(self, strategy: dict, seed: int, state: dict):
        from imblearn.over_sampling import ADASYN

        return ADASYN(sampling_strategy=strategy, n_neighbors=self.k_neighbors, random_state=seed)

    def _request(self, need: int, n_rare: int) -> int:
        # ADASYN rounds a per-row share of the request; small requests round to nothing, so ask for
        # at least two rows per rare row and keep a seeded random subset of exactly the rows needed
        return max(need, 2 * n_rare)

    def _explain(self, exc: BaseException | None) -> str:
        if exc is not None and ("neigbours" in str(exc) or "neighbours" in str(exc)):
            return (
                "adasyn found no other-class rows among the rare rows' neighbours (the classes do not overlap), "
                "so it has nowhere to add rows; use smote or borderline-smote"
            )
        return super()._explain(exc)


class KMeansSMOTEGenerator(_ImblearnGenerator):
    """KMeans-SMOTE: cluster all rows, then SMOTE inside clusters where the rare class is dense."""

    name = "kmeans-smote"

    def __init__(
        self,
        *,
        k_neighbors: int = 2,
        n_clusters: int = 8,
        cluster_balance_threshold: float | str = "auto",
        max_other_rows: int = 5_000,
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

    def _make_sampler(self, strategy: dict, seed: int, state: dict):
        from imblearn.over_sampling import KMeansSMOTE
        from sklearn.cluster import MiniBatchKMeans

        return KMeansSMOTE(
            sampling_strategy=strategy,
            k_neighbors=self.k_neighbors,
            kmeans_estimator=MiniBatchKMeans(n_clusters=self.n_clusters, n_init=3, random_state=seed),
            cluster_balance_threshold=self.cluster_balance_threshold,
            random_state=seed,
        )

    def _explain(self, exc: BaseException | None) -> str:
        if exc is not None and "No clusters found" in str(exc):
            return (
                "kmeans-smote found no cluster with enough rare rows; lower cluster_balance_threshold "
                "(--param cluster_balance_threshold=0.01) or n_clusters (--param n_clusters=2), or use smote"
            )
        return super()._explain(exc)


class SMOTENCGenerator(BaseGenerator):
    """SMOTE-NC: numbers interpolated as in SMOTE; each category the most frequent among the base row's
    k nearest rare neighbours (ties broken at random), exactly imbalanced-learn's rule.

    Our own implementation: the neighbour modes depend only on the base row, so they are computed once
    at fit for each rare row instead of once per generated row as imbalanced-learn does; sampling is
    then a few vectorised gathers. Distances follow imbalanced-learn: numbers plus one-hot categories
    scaled by the median standard deviation of the numbers divided by sqrt(2).
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
        from sklearn.neighbors import NearestNeighbors

        numeric, codes = rare.numeric, rare.codes
        stds = numeric.std(axis=0) if numeric.shape[1] else np.array([1.0])
        median_std = float(np.median(stds))
        weight = median_std / np.sqrt(2) if median_std > 0 else 1.0
        X = np.hstack([numeric, one_hot(codes, self.encoder_.cardinalities, weight)])
        k = self.k_neighbors
        neighbours = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
        # for each rare row and categorical column: the categories tied for most frequent among its neighbours
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
        return {"numeric": numeric, "neighbours": neighbours.astype(np.int32), "ties": ties, "n_ties": n_ties}

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        numeric, neighbours = state["numeric"], state["neighbours"]
        base = rng.integers(0, neighbours.shape[0], size=n)
        nb = neighbours[base, rng.integers(0, neighbours.shape[1], size=n)]
        gap = rng.random((n, 1))
        new_numeric = numeric[base] + gap * (numeric[nb] - numeric[base])
        n_ties = state["n_ties"][base]  # (n, q)
        pick = (rng.random(n_ties.shape) * n_ties).astype(np.int32)
        q = n_ties.shape[1]
        codes = state["ties"][base[:, None], np.arange(q)[None, :], pick]
        return ModelData(new_numeric, codes.astype(np.int32))

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
    can_fail_on_data = False

    def __init__(
        self, *, k_neighbors: int = 5, n_bins: int = 10, max_other_rows: int = 5_000, random_state: int | None = None
    ):
        super().__init__(k_neighbors=k_neighbors, max_other_rows=max_other_rows, random_state=random_state)
        self.n_bins = n_bins

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_int(self.n_bins, "n_bins", 2)

    def _extra_state(self, rare: ModelData, other: ModelData) -> dict:
        p = rare.numeric.shape[1]
        edges = np.full((p, self.n_bins + 1), np.nan)
        for j in range(p):
            e = np.unique(np.quantile(rare.numeric[:, j], np.linspace(0, 1, self.n_bins + 1)))
            edges[j, : len(e)] = e
        X_rare = np.hstack([self._binned(rare.numeric, edges), rare.codes])
        X_other = np.hstack([self._binned(other.numeric, edges), other.codes])
        return {"edges": edges, "modes": self._neighbour_modes(X_rare, X_other)}

    def _neighbour_modes(self, X_rare: np.ndarray, X_other: np.ndarray) -> np.ndarray:
        """SMOTEN's row for each rare row: per column, the most frequent value (smallest on ties)
        among the row and its k nearest rare neighbours under the VDM fitted on all stored rows."""
        from imblearn.metrics.pairwise import ValueDifferenceMetric
        from scipy.stats import mode
        from sklearn.neighbors import NearestNeighbors

        X = np.vstack([X_rare, X_other]).astype(np.int32)
        y = np.r_[np.full(len(X_rare), _RARE), np.full(len(X_other), _OTHER)]
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
        modes = state.get("modes")
        if modes is None:  # a model saved before the modes were stored: same rows, computed here
            modes = self._neighbour_modes(
                np.hstack([self._binned(state["rare_numeric"], state["edges"]), state["rare_codes"]]),
                np.hstack([self._binned(state["other_numeric"], state["edges"]), state["other_codes"]]))
        new = modes[rng.integers(0, len(modes), size=n)]
        return self._unbinned(new, state["edges"], rng)

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
