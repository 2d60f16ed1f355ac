"""Adversarial random forests (ARF), our own on scikit-learn: Watson et al. 2023, "Adversarial random
forests for density estimation and generative modelling" (AISTATS); reference implementation arfpy (MIT).

Fit (per rare class, in model space): a random forest learns to tell the real rare rows from
synthetic rows that start as the product of the columns' marginals (each column shuffled on its
own). While its out-of-bag accuracy is above ``0.5 + delta``, new synthetic rows are drawn from the
forest's leaves (a random real row's leaf in a random tree, then each column independently from
the real rows in that leaf) and a new forest is grown; when the next forest can no longer tell
them apart (or accuracy stops falling, or ``max_iters`` is reached) the forest that drew them is
kept. Its leaves split the space into boxes in which the columns are close to independent.

Numbers are modelled as normal scores of their ranks (trees split on order only, so the forest is
the same) and mapped back through each column's quantile grid, so a leaf's normal fits skewed or
heavy-tailed columns and the output keeps each column's real values and range. A number with at
most 10 distinct values among the rare rows is drawn like a category.

Density (FORDE): each tree is cut back until every leaf holds at least ``min_leaf_rows`` real rows;
per leaf, its coverage (the share of real rows in it, over the trees) and per column a univariate
distribution: a normal truncated to the leaf's box for numbers (the box from the tree's splits,
closed by the real range), the leaf's frequencies for categories. Sampling (FORGE): a leaf by
coverage, then every column independently inside it. No rejection step, so exactly n rows.

Conditions (``sample(where=...)``), FORDE's conditional density: each leaf is weighted by its coverage
times the mass its distributions put inside the conditions (a category's share in the leaf; a number's
truncated-normal mass over the normal scores that restore inside the range, found on the restoring map
itself, rounding and clipping included), a leaf is drawn by those weights, and the conditioned columns
from their distributions restricted to the conditions. Every row meets them by construction; a condition
on which no leaf puts mass is a one-line error.

Privacy: ``min_leaf_rows`` (default 5) keeps any leaf from describing one real row; with
``min_leaf_rows=1`` a single-row leaf draws its numbers with the column's kernel bandwidth
(Silverman's rule) as the spread instead of repeating the row's values. The payload is leaf
parameters, quantile grids and category frequencies (npz + JSON): no trees, no pickle, no real row.
Measured against the copula, CTGAN and TVAE in evaluation/benchmarks/compare_generators.md.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtr, ndtri
from scipy.stats import rankdata

from ..conditions import Conditions
from ..exceptions import GeneratorError, ParameterError
from ..schema import _py
from .base import BaseGenerator
from .encoding import ModelData

if TYPE_CHECKING:
    from sklearn.ensemble import RandomForestClassifier

__all__ = ["ARFGenerator"]

_QUANTILES = 1001  # points of each number's quantile grid (as the Gaussian copula keeps)
_DISCRETE_LEVELS = 10  # a number with at most this many distinct values is drawn from each leaf's frequencies


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class ARFGenerator(BaseGenerator):
    """Adversarial random forest: leaves of a forest that cannot tell real from synthetic, a truncated
    normal per number and category frequencies per leaf."""

    name = "arf"

    def __init__(
        self,
        *,
        num_trees: int = 30,
        min_node_size: int = 5,
        min_leaf_rows: int = 5,
        delta: float = 0.0,
        max_iters: int = 10,
        early_stop: bool = True,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ):
        self.num_trees = num_trees
        self.min_node_size = min_node_size
        self.min_leaf_rows = min_leaf_rows
        self.delta = delta
        self.max_iters = max_iters
        self.early_stop = early_stop
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _validate_params(self) -> None:
        if not _is_int(self.num_trees) or self.num_trees < 1:
            raise ParameterError(f"num_trees: expected a whole number >= 1, got {self.num_trees!r}")
        if not _is_int(self.min_node_size) or self.min_node_size < 1:
            raise ParameterError(f"min_node_size: expected a whole number >= 1, got {self.min_node_size!r}")
        if not _is_int(self.min_leaf_rows) or self.min_leaf_rows < 1:
            raise ParameterError(f"min_leaf_rows: expected a whole number >= 1, got {self.min_leaf_rows!r}")
        if isinstance(self.delta, (bool, np.bool_)) or not isinstance(self.delta, (int, float)) \
                or not 0 <= self.delta < 0.5:
            raise ParameterError(f"delta: expected a number in [0, 0.5), got {self.delta!r}")
        if not _is_int(self.max_iters) or self.max_iters < 0:
            raise ParameterError(f"max_iters: expected a whole number >= 0, got {self.max_iters!r}")
        if not isinstance(self.early_stop, (bool, np.bool_)):
            raise ParameterError(f"early_stop: expected True or False, got {self.early_stop!r}")
        if self.n_jobs is not None and (not _is_int(self.n_jobs) or self.n_jobs == 0):
            raise ParameterError(f"n_jobs: expected None or a whole number other than 0, got {self.n_jobs!r}")

    # ----------------------------------------------------------------- fit
    def _forest(self, real: np.ndarray, synthetic: np.ndarray, rng: np.random.Generator) -> tuple:
        """A forest telling real (0) from synthetic (1) rows, and its out-of-bag accuracy."""
        from sklearn.ensemble import RandomForestClassifier  # here: loading synthgen.models stays light

        clf = RandomForestClassifier(
            n_estimators=self.num_trees, min_samples_leaf=self.min_node_size, oob_score=True,
            random_state=int(rng.integers(2**31 - 1)), n_jobs=self.n_jobs,
        )
        y = np.r_[np.zeros(len(real)), np.ones(len(synthetic))]
        with warnings.catch_warnings():  # tiny classes: some rows are in every bootstrap sample
            warnings.simplefilter("ignore", UserWarning)
            clf.fit(np.vstack([real, synthetic]), y)
        return clf, float(clf.oob_score_)

    def _fit(self, rare: ModelData, other: ModelData | None, rng: np.random.Generator, seed: int) -> dict:
        scores, quantiles = _normal_scores(rare.numeric)
        real = np.hstack([scores, rare.codes.astype(np.float64)])
        n = real.shape[0]
        synthetic = rng.permuted(real, axis=0)  # product of the marginals: each column shuffled on its own
        clf, acc = self._forest(real, synthetic, rng)
        history = [acc]
        while acc > 0.5 + self.delta and len(history) <= self.max_iters:
            synthetic = _draw_from_leaves(clf.apply(real), real, n, rng)
            new_clf, new_acc = self._forest(real, synthetic, rng)
            history.append(new_acc)
            if new_acc <= 0.5 + self.delta or len(history) > self.max_iters or (self.early_stop and new_acc > acc):
                break  # the forest that drew rows the new one cannot tell apart (or the last to improve) is kept
            clf, acc = new_clf, new_acc
        discrete, levels, level_codes = _discrete_columns(rare.numeric)
        cards = list(self.encoder_.cardinalities) + [int(np.isfinite(row).sum()) for row in levels]
        state = _forde(clf, real, scores, np.hstack([rare.codes, level_codes]), cards, self.min_leaf_rows)
        state.update(quantiles=quantiles, discrete=discrete, levels=levels)
        state["accuracy"] = [round(a, 6) for a in history]
        return state

    # -------------------------------------------------------------- sample
    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        return _draw(state, n, rng)

    def _sample_matching(self, state: dict, n: int, rng: np.random.Generator, seed: int,
                         where: Conditions) -> ModelData:
        """``n`` rows that meet ``where`` by construction (FORDE's conditional density, no rejection): leaves
        weighted by coverage x the mass their distributions put inside the conditions, then conditioned
        columns drawn from those distributions restricted to the conditions (``_conditioned``)."""
        return _draw(state, n, rng, self._conditioned(state, where))

    def _conditioned(self, state: dict, where: Conditions) -> "_Plan":
        """The plan for ``where`` on one class's state, built once per (state, conditions) and kept."""
        cache = self.__dict__.setdefault("_plans", {})
        key = (id(state), where)
        if key not in cache or cache[key][0] is not state:
            if len(cache) >= 32:
                cache.clear()
            index = next((i for i, s in enumerate(self.states_) if s is state), 0)
            cache[key] = (state, _plan(self.encoder_, state, where, self.classes_[index]))
        return cache[key][1]


@dataclass(frozen=True)
class _Plan:
    """Conditional sampling of one class: leaf choice, per-column boxes on normal scores, restricted tables."""

    leaf_cum: np.ndarray  # cumulative leaf weights: coverage x mass inside the conditions, normalised
    boxes: dict  # numeric column -> (low, high) normal scores whose values meet its conditions
    tables: dict  # code column -> (keys, codes, last entry per leaf) of its restricted category table


def _draw(state: dict, n: int, rng: np.random.Generator, plan: _Plan | None = None) -> ModelData:
    """FORGE: a leaf by weight, then every column independently inside it (restricted by ``plan``, if any)."""
    leaf_cum = state["leaf_cum"] if plan is None else plan.leaf_cum
    leaf = np.searchsorted(leaf_cum, rng.random(n), side="right")
    leaf = np.minimum(leaf, len(leaf_cum) - 1)
    lo, hi = state["lo"][leaf], state["hi"][leaf]
    for j, (low, high) in (plan.boxes.items() if plan is not None else ()):
        lo[:, j], hi[:, j] = np.maximum(lo[:, j], low), np.minimum(hi[:, j], high)
    z = _truncnorm(state["mu"][leaf], state["sigma"][leaf], lo, hi, rng.random((n, state["mu"].shape[1])))
    probs = np.linspace(0.0, 1.0, state["quantiles"].shape[1])
    numeric = np.empty_like(z)
    for j in range(z.shape[1]):  # normal scores back to the column's values through its quantile grid
        numeric[:, j] = np.interp(ndtr(z[:, j]), probs, state["quantiles"][j])
    codes = np.empty((n, len(state["cards"])), dtype=np.int32)
    n_leaves = len(state["leaf_cum"])
    for j in range(codes.shape[1]):
        u = rng.random(n)
        if plan is not None and j in plan.tables:
            keys, table_codes, last = plan.tables[j]
            codes[:, j] = table_codes[np.minimum(np.searchsorted(keys, leaf + u, side="right"), last[leaf])]
        else:
            keys = j * n_leaves + leaf + u
            codes[:, j] = state["cat_code"][np.searchsorted(state["cat_key"], keys, side="right")]
    q = codes.shape[1] - len(state["discrete"])
    for k, j in enumerate(state["discrete"]):  # few-valued numbers: drawn like categories, by leaf frequency
        numeric[:, j] = state["levels"][k, codes[:, q + k]]
    return ModelData(numeric, codes[:, :q])


def _plan(encoder: Any, state: dict, where: Conditions, label: Any) -> _Plan:
    """Leaf weights and restricted distributions for ``where``; a GeneratorError when no leaf has mass."""
    _, allowed = where.model_bounds(encoder)  # category codes (and "is missing" codes a range forbids)
    allowed = dict(allowed)
    q = len(encoder.categorical_columns_)
    discrete = [int(j) for j in state["discrete"]]
    coverage = np.diff(np.r_[0.0, state["leaf_cum"]])
    factors: list[tuple[str, np.ndarray]] = []
    boxes: dict[int, tuple[float, float]] = {}
    for j, name in enumerate(encoder.numeric_columns_):
        conds = [c for c in where.items if c.column == name]
        if not conds:
            continue
        if j in discrete:  # its values are levels drawn like categories: allow the levels that meet it
            k = discrete.index(j)
            levels = state["levels"][k][np.isfinite(state["levels"][k])]
            ok = _meets(encoder, state, conds, j, levels, on_scores=False)
            allowed[q + k] = np.flatnonzero(ok)
            continue
        low, high = _score_box(encoder, state, conds, j)
        boxes[j] = (low, high)
        factors.append((name, _box_mass(state, j, low, high)))
    tables = {}
    for j, codes in allowed.items():
        mass, tables[j] = _restricted_table(state, j, np.asarray(codes, dtype=np.int64))
        name = encoder.categorical_columns_[j] if j < q else encoder.numeric_columns_[discrete[j - q]]
        factors.append((name, mass))
    weight = coverage.copy()
    for _, mass in factors:
        weight = weight * mass
    if not weight.sum() > 0:
        alone = [name for name, mass in factors if not (coverage * mass).sum() > 0]
        what = f"the condition on '{alone[0]}'" if alone else "these conditions together"
        raise GeneratorError(f"arf: no leaf of the fitted forest for rare class {_py(label)!r} puts any probability "
                             f"on {where.describe()} ({what}); loosen the conditions")
    cum = np.cumsum(weight)
    return _Plan(cum / cum[-1], boxes, tables)


def _meets(encoder: Any, state: dict, conds: list, j: int, values: np.ndarray, *, on_scores: bool) -> np.ndarray:
    """Whether numeric column ``j`` restores inside ``conds`` at each value: normal scores (``on_scores``),
    mapped as sampling maps them, or model-space values; restored by the encoder itself."""
    numeric = np.zeros((len(values), encoder.n_numeric))
    if on_scores:
        probs = np.linspace(0.0, 1.0, state["quantiles"].shape[1])
        values = np.interp(ndtr(values), probs, state["quantiles"][j])
    numeric[:, j] = values
    codes = np.zeros((len(values), len(encoder.categorical_columns_)), dtype=np.int32)  # "is missing" = 0: present
    name = encoder.numeric_columns_[j]
    restored = encoder.inverse(ModelData(numeric, codes))[name]
    return Conditions(tuple(conds)).mask({name: restored})


def _score_box(encoder: Any, state: dict, conds: list, j: int) -> tuple[float, float]:
    """The normal scores of column ``j`` whose values meet ``conds``: an interval, since the map from scores to
    restored values never decreases. Its ends are found on that map itself (rounding and clipping included),
    so every score inside restores inside the range; +-inf where a side is not bounded."""
    a, b = float(state["lo"][:, j].min()), float(state["hi"][:, j].max())
    lower = [replace(c, high=None) for c in conds if c.low is not None]
    upper = [replace(c, low=None) for c in conds if c.high is not None]
    low, high = -np.inf, np.inf
    if lower and not _meets(encoder, state, lower, j, np.array([a]), on_scores=True)[0]:
        if not _meets(encoder, state, lower, j, np.array([b]), on_scores=True)[0]:
            return np.inf, -np.inf  # no score reaches the low end
        low = _edge(lambda x: _meets(encoder, state, lower, j, x, on_scores=True), a, b, rising=True)
    if upper and not _meets(encoder, state, upper, j, np.array([b]), on_scores=True)[0]:
        if not _meets(encoder, state, upper, j, np.array([a]), on_scores=True)[0]:
            return np.inf, -np.inf
        high = _edge(lambda x: _meets(encoder, state, upper, j, x, on_scores=True), a, b, rising=False)
    return low, high


def _edge(test, a: float, b: float, *, rising: bool) -> float:
    """Where a monotone test flips on [a, b]: the first point that passes (``rising``: fails at a, passes
    at b) or the last (passes at a, fails at b). Grids of 1,025 points narrow it to adjacent floats."""
    for _ in range(12):
        grid = np.linspace(a, b, 1025)
        ok = test(grid)
        i = int(np.argmax(ok)) if rising else int(np.argmax(~ok))  # first pass / first fail
        i = min(max(i, 1), len(grid) - 1)
        a, b = float(grid[i - 1]), float(grid[i])
        if np.nextafter(a, np.inf) >= b:
            break
    return b if rising else a


def _normal_mass(mu: np.ndarray, sigma: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """P(a <= X <= b) for X ~ N(mu, sigma), taken in the lower tail for precision."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = (a - mu) / sigma, (b - mu) / sigma
        return np.where(x > 0, ndtr(-x) - ndtr(-y), ndtr(y) - ndtr(x))


def _box_mass(state: dict, j: int, low: float, high: float) -> np.ndarray:
    """Per leaf: the share of column ``j``'s truncated normal inside [low, high] (as ``_truncnorm`` draws it:
    a spread-less leaf is its mean, a box deep in a tail uniform)."""
    mu, sigma, lo, hi = state["mu"][:, j], state["sigma"][:, j], state["lo"][:, j], state["hi"][:, j]
    a, b = np.maximum(lo, low), np.minimum(hi, high)
    inside = _normal_mass(mu, sigma, a, b)
    whole = _normal_mass(mu, sigma, lo, hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(whole > 1e-300, inside / whole, np.where(hi > lo, (b - a) / (hi - lo), 1.0))
    share = np.where(sigma > 0, share, ((mu >= a) & (mu <= b)).astype(np.float64))
    return np.where(a <= b, np.clip(np.nan_to_num(share), 0.0, 1.0), 0.0)


def _restricted_table(state: dict, j: int, allowed: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Code column ``j``'s per-leaf frequencies kept to ``allowed`` codes: each leaf's mass on them, and the
    table renormalised per leaf (keys ``leaf + cumulative share``, codes, each leaf's last entry)."""
    n_leaves = len(state["leaf_cum"])
    start, end = np.searchsorted(state["cat_key"], [j * n_leaves, (j + 1) * n_leaves], side="right")
    key, code = state["cat_key"][start:end] - j * n_leaves, state["cat_code"][start:end]
    leaf = np.ceil(key).astype(np.int64) - 1  # key = leaf + share, share in (0, 1]
    share = key - leaf
    first = np.r_[True, leaf[1:] != leaf[:-1]]
    prob = share - np.where(first, 0.0, np.r_[0.0, share[:-1]])
    keep = np.isin(code, allowed)
    leaf, code, prob = leaf[keep], code[keep], prob[keep]
    mass = np.bincount(leaf, weights=prob, minlength=n_leaves)
    last = np.zeros(n_leaves, dtype=np.int64)
    if not len(leaf):
        return mass, (np.zeros(0), code, last)
    first = np.r_[True, leaf[1:] != leaf[:-1]]
    starts = np.flatnonzero(first)
    running = np.cumsum(prob)
    before = np.r_[0.0, running][starts][np.cumsum(first) - 1]
    ends = np.r_[starts[1:] - 1, len(leaf) - 1]
    new_share = (running - before) / mass[leaf]
    new_share[ends] = 1.0  # a leaf's last allowed category closes it
    last[leaf[ends]] = ends
    return mass, (leaf + new_share, code, last)


def _normal_scores(numeric: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each column as normal scores of its mid-ranks (ties stay tied), and its quantile grid to map back.

    Trees split on order only, so the forest's partition does not change; inside a leaf a normal fits
    the scores better than the raw (often skewed, discrete) values, and ``interp(ndtr(z), probs, grid)``
    gives back values on the column's real distribution (Hazen's plotting positions, as the scores use).
    """
    n, p = numeric.shape
    probs = np.linspace(0.0, 1.0, _QUANTILES)
    if p == 0:
        return np.empty((n, 0)), np.empty((0, _QUANTILES))
    ranks = rankdata(numeric, axis=0)  # average ranks: tied values share one score
    scores = ndtri((ranks - 0.5) / n)
    return scores, np.quantile(numeric, probs, axis=0, method="hazen").T


def _discrete_columns(numeric: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numbers with at most ``_DISCRETE_LEVELS`` distinct values: their indices, values (NaN-padded) and codes.

    A normal inside a leaf spreads such a column over its neighbouring values (a 2-valued count drawn
    from a normal misses its real shares); drawn from each leaf's frequencies, it keeps them.
    """
    found = [(j, np.unique(numeric[:, j])) for j in range(numeric.shape[1])]
    found = [(j, values) for j, values in found if len(values) <= _DISCRETE_LEVELS]
    levels = np.full((len(found), _DISCRETE_LEVELS), np.nan)
    codes = np.empty((numeric.shape[0], len(found)), dtype=np.int32)
    for k, (j, values) in enumerate(found):
        levels[k, : len(values)] = values
        codes[:, k] = np.searchsorted(values, numeric[:, j])
    return np.array([j for j, _ in found], dtype=np.int64), levels, codes


def _leaf_groups(leaves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For one tree's leaf ids of the real rows: rows sorted by leaf, each row's group, group starts and sizes."""
    _, group, counts = np.unique(leaves, return_inverse=True, return_counts=True)
    order = np.argsort(group, kind="stable")
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    return order, group, starts, counts


def _draw_from_leaves(leaves: np.ndarray, real: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` rows: a random real row's leaf in a random tree, then each column from a random real row of that leaf."""
    n, trees = leaves.shape
    rows = rng.integers(n, size=m)
    tree_of = rng.integers(trees, size=m)
    u = rng.random((m, real.shape[1]))
    out = np.empty((m, real.shape[1]))
    for t in range(trees):
        pick = np.flatnonzero(tree_of == t)
        if not pick.size:
            continue
        order, group, starts, counts = _leaf_groups(leaves[:, t])
        g = group[rows[pick]]
        donors = order[starts[g][:, None] + (u[pick] * counts[g][:, None]).astype(np.int64)]
        out[pick] = real[donors, np.arange(real.shape[1])]
    return out


def _node_bounds(tree, p: int, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each node's box on the first ``p`` features (a split sends x <= threshold left), closed by the real range."""
    nodes = tree.node_count
    lo = np.tile(low, (nodes, 1))
    hi = np.tile(high, (nodes, 1))
    left, right, feature, threshold = tree.children_left, tree.children_right, tree.feature, tree.threshold
    for node in range(nodes):  # scikit-learn numbers a parent before its children
        if left[node] < 0:
            continue
        lo[left[node]], hi[left[node]] = lo[node], hi[node]
        lo[right[node]], hi[right[node]] = lo[node], hi[node]
        f = feature[node]
        if f < p:
            hi[left[node], f] = min(hi[node, f], threshold[node])
            lo[right[node], f] = max(lo[node, f], threshold[node])
    return lo, hi


def _merged_leaves(estimator, real: np.ndarray, k: int) -> np.ndarray:
    """Each real row's leaf in the tree cut back until every leaf holds at least ``k`` real rows.

    A split is kept only when both its sides hold ``k`` real rows or more; a row's node is the first
    node on its path whose split is not kept (or a leaf), so the nodes partition the rows.
    """
    path = estimator.decision_path(real.astype(np.float32)).tocsr()
    counts = np.asarray(path.sum(axis=0)).ravel()
    tree = estimator.tree_
    left, right = tree.children_left, tree.children_right
    inner = left >= 0
    kept = np.zeros(tree.node_count, dtype=bool)
    need = min(k, real.shape[0])
    kept[inner] = (counts[left[inner]] >= need) & (counts[right[inner]] >= need)
    nodes = np.where(kept[path.indices], tree.node_count, path.indices)
    return np.minimum.reduceat(nodes, path.indptr[:-1])  # along a path node ids grow with depth


def _forde(clf: RandomForestClassifier, real: np.ndarray, scores: np.ndarray, codes: np.ndarray, cards: list[int],
           min_rows: int) -> dict:
    """Leaf coverage, truncated-normal parameters per number and category frequencies per leaf, over every tree.

    Each tree is cut back until every leaf holds at least ``min_rows`` real rows (``_merged_leaves``).
    """
    n, p = scores.shape
    low, high = scores.min(axis=0), scores.max(axis=0)
    bandwidth = 1.06 * scores.std(axis=0) * n ** (-0.2)  # Silverman's rule, for single-row leaves
    parts: dict[str, list] = {k: [] for k in ("weight", "mu", "sigma", "lo", "hi", "codes", "group")}
    offset = 0
    for t, estimator in enumerate(clf.estimators_):
        ids, group, counts = np.unique(_merged_leaves(estimator, real, min_rows), return_inverse=True,
                                       return_counts=True)
        lo, hi = _node_bounds(estimator.tree_, p, low, high)
        sums = np.zeros((len(ids), p))
        np.add.at(sums, group, scores)
        mu = sums / counts[:, None]
        sq = np.zeros((len(ids), p))
        np.add.at(sq, group, (scores - mu[group]) ** 2)
        sigma = np.sqrt(sq / np.maximum(counts - 1, 1)[:, None])
        single = counts == 1
        sigma[single] = np.broadcast_to(bandwidth, (int(single.sum()), p))
        parts["weight"].append(counts / (n * len(clf.estimators_)))
        parts["mu"].append(mu)
        parts["sigma"].append(sigma)
        parts["lo"].append(np.minimum(lo[ids], mu))
        parts["hi"].append(np.maximum(hi[ids], mu))
        parts["codes"].append(codes.astype(np.int64))
        parts["group"].append(group + offset)
        offset += len(ids)
    weight = np.concatenate(parts["weight"])
    cat_code, cat_key = _category_table(np.concatenate(parts["codes"]), np.concatenate(parts["group"]), offset, cards)
    cum = np.cumsum(weight)
    return {
        "leaf_cum": cum / cum[-1],
        "mu": np.concatenate(parts["mu"]), "sigma": np.concatenate(parts["sigma"]),
        "lo": np.concatenate(parts["lo"]), "hi": np.concatenate(parts["hi"]),
        "cat_code": cat_code, "cat_key": cat_key, "cards": np.asarray(cards, dtype=np.int64),
    }


def _category_table(codes: np.ndarray, group: np.ndarray, n_leaves: int, cards: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Category frequencies per (column, leaf), flattened for one sorted search per column.

    Entry k is one category seen in one leaf; ``key = column * n_leaves + leaf + cumulative share``,
    so ``searchsorted(key, column * n_leaves + leaf + u, "right")`` draws a category by frequency.
    """
    all_codes, all_keys = [], []
    for j, card in enumerate(cards):
        uniq, counts = np.unique(group * card + codes[:, j], return_counts=True)  # sorted by (leaf, category)
        leaf, code = uniq // card, uniq % card
        first = np.r_[True, leaf[1:] != leaf[:-1]]  # each leaf's first entry
        running = np.cumsum(counts)
        before = np.r_[0, running][np.flatnonzero(first)][np.cumsum(first) - 1]  # rows of earlier leaves
        total = np.bincount(leaf, weights=counts, minlength=n_leaves)
        share = (running - before) / total[leaf]
        share[np.r_[np.flatnonzero(first)[1:] - 1, len(counts) - 1]] = 1.0  # a leaf's last category closes it
        all_codes.append(code.astype(np.int32))
        all_keys.append(j * n_leaves + leaf + share)
    if not all_codes:
        return np.zeros(0, dtype=np.int32), np.zeros(0)
    return np.concatenate(all_codes), np.concatenate(all_keys)


def _truncnorm(mu: np.ndarray, sigma: np.ndarray, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws from N(mu, sigma) truncated to [lo, hi]; a zero spread gives mu."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = (lo - mu) / sigma, (hi - mu) / sigma
        flip = a > 0  # the upper tail: draw in the mirrored lower tail, where the CDF keeps its precision
        a, b = np.where(flip, -b, a), np.where(flip, -a, b)
        pa, pb = ndtr(a), ndtr(b)
        z = ndtri(pa + u * (pb - pa))
        z = np.where(flip, -z, z)
        x = mu + sigma * z
    ok = (sigma > 0) & np.isfinite(x) & (pb - pa > 1e-300)
    fallback = np.where(sigma > 0, lo + u * (hi - lo), mu)  # a box far in one tail: uniform in it
    return np.clip(np.where(ok, x, fallback), lo, hi)
