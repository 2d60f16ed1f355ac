"""The two best oversamplers of the smote-variants study (Kovács 2019: 85 variants on 104 tables):
polynom-fit-SMOTE (star topology; rank 2.5) and ProWSyn (rank 4.5, the best AUC).

Both follow the ``smote_variants`` package (1.0.1) rule for rule on the numeric matrix our SMOTE family
hands imbalanced-learn (numbers standardised, categories one-hot; ``_imblearn_input``), and, like the
rest of the family, do the data-only half once at fit and the random half per block:

- polynom-fit-SMOTE, star topology (``smote_variants.polynom_fit_SMOTE_star``, the default topology of
  ``polynom_fit_SMOTE``): ``kdx`` evenly spaced points on the segment from each rare row to the mean of
  the rare rows. Fit stores the rare rows and their mean; it draws nothing.
- ProWSyn (``smote_variants.ProWSyn``, defaults): rare rows grouped into proximity levels by the
  other-class rows' nearest rare neighbours (fit), then new rows on segments between two rows of one
  level, levels weighted ``exp(-theta (level - 1))`` (per block).

tests/test_smote_variants.py checks the rows equal the package's, bit for bit, for the same stored rows
(and, for ProWSyn, the same ``RandomState`` seed). Categories are decoded as the family decodes them:
the category the argmax over the interpolated one-hot block picks, so every value comes from the real
category set.
"""

from __future__ import annotations

import contextvars
import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import GeneratorError, ParameterError
from . import smote as _smote
from .base import BaseGenerator, SampleBlock
from .encoding import ModelData, one_hot
from .smote import _check_int, _ImblearnGenerator, _rare

__all__ = ["PolynomFitSMOTEGenerator", "ProWSynGenerator"]

#: the index of the block being sampled (``sample_block`` sets it): polynom-fit's first block is the
#: package's own grid, later blocks shift it so that blocks never repeat each other's rows
_BLOCK_INDEX: contextvars.ContextVar[int] = contextvars.ContextVar("synthgen_polynom_block", default=0)

#: ProWSyn draws a segment with ``RandomState.choice(N, p=uniform)`` as smote_variants does while the
#: cumulative table of N = m (m - 1) segments stays small; above this, ``floor(u N)`` from the same draw
_EXACT_CHOICE_MAX = 1 << 22


class PolynomFitSMOTEGenerator(BaseGenerator):
    """polynom-fit-SMOTE, star topology: new rows evenly spaced on the segments from each rare row to
    the rare rows' mean (Gazzah & Essoukri Ben Amara 2008; ``smote_variants.polynom_fit_SMOTE_star``).

    For ``n`` rows a block uses ``kdx = ceil(n / n_rare)`` points per rare row, at ``j / (kdx + 1)``,
    j = 1..kdx, of the way to the mean, with the package's float operations. When ``n`` is a multiple
    of the rare row count these are exactly the package's rows, in its order, and no random draw is
    made (the method is deterministic: every seed gives them). Differences, by design:

    - exact ``n``: the package makes ``n_rare * max(1, rint(n_to_sample / n_rare))`` rows for the
      ``proportion`` it is given; we take ``kdx`` rounded up and keep a seeded sample of ``n`` of the
      ``n_rare * kdx`` grid rows (in grid order) when ``n`` is not a multiple of ``n_rare``;
    - blocks: rows are made in fixed blocks (``BaseGenerator.block_rows``); the first block is the
      package's grid, each later block the grid shifted by a seeded ``(u - 1/2) / (kdx + 1)``, u uniform,
      so that a large ``n`` does not repeat the first block's rows;
    - categories: the package interpolates one-hot columns towards the category shares; we decode each
      block by its argmax (the base row's category unless ``s * share`` of the most frequent other
      category exceeds ``(share - 1) s + 1``), as the SMOTE family does;
    - only the star topology, the package default and the one ranked in the study; bus and poly_N
      follow the order of the rows in the table, which carries no meaning here;
    - two rare rows are enough (the package returns its input unchanged for two or fewer).
    """

    name = "polynom-fit-smote"
    contains_real_rows = True

    def __init__(self, *, random_state: Any = None):
        self.random_state = random_state

    def _fit(self, rare: ModelData, other: ModelData | None, rng: np.random.Generator, seed: int) -> dict:
        n = len(rare.numeric)
        counts = one_hot(rare.codes, self.encoder_.cardinalities).sum(axis=0)
        # the package's np.mean over the rare rows; a one-hot column's mean is its whole count / n, exactly
        return {"rare_numeric": rare.numeric, "rare_codes": rare.codes,
                "mean_numeric": np.mean(rare.numeric, axis=0), "shares": counts / n}

    def sample_block(self, spec: SampleBlock, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """``BaseGenerator.sample_block``, with the block's index known to ``_sample`` (grid shift)."""
        token = _BLOCK_INDEX.set(int(spec.block_index))
        try:
            return super().sample_block(spec, *args, **kwargs)
        finally:
            _BLOCK_INDEX.reset(token)

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        return self._rows(state, n, seed, shift=_BLOCK_INDEX.get() > 0)

    def _sample_matching(self, state: dict, n: int, rng: np.random.Generator, seed: int, where: Any) -> ModelData:
        """``n`` rows meeting ``where``: the star among the real rare rows that meet every condition (their
        mean, their category shares). A segment between two rows of a numeric box stays in it, and a new
        row's category is its base row's or one a matching row holds, so every row meets the conditions
        by construction (numbers clipped to the box against float round-off)."""
        rare = ModelData(state["rare_numeric"], state["rare_codes"])
        sub = rare.take(_smote._matching_rows(self, rare, where))
        new = self._rows(self._fit(sub, None, rng, seed), n, seed, shift=_BLOCK_INDEX.get() > 0)
        return _smote._clip_to_box(self, new, where)

    def _rows(self, state: dict, n: int, seed: int, *, shift: bool = False) -> ModelData:
        """``n`` rows of the star grid (the package's own for ``n`` a multiple of the rare rows, unshifted)."""
        X = state["rare_numeric"]
        n_rare = len(state["rare_codes"])
        kdx = max(1, math.ceil(n / n_rare))
        random_state = np.random.RandomState(seed)
        offset = random_state.uniform() - 0.5 if shift else 0.0
        splits = (np.arange(1, kdx + 1).astype(float) + offset) / (kdx + 1)
        total = n_rare * kdx
        grid = np.arange(total) if total == n else np.sort(random_state.choice(total, n, replace=False))
        base, step = np.divmod(grid, kdx)
        s = splits[step]
        diffs = state["mean_numeric"] - X  # the package's X_mean - X_min, then diffs * split + X_min
        numeric = diffs[base] * s[:, None] + X[base]
        return ModelData(numeric, self._star_codes(state, base, s))

    def _star_codes(self, state: dict, base: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Each one-hot block of ``x + s (mean - x)`` decoded by its argmax (first index on ties)."""
        codes = state["rare_codes"][base].copy()
        offset = 0
        for j, card in enumerate(self.encoder_.cardinalities):
            shares = state["shares"][offset : offset + card]
            offset += card
            if card < 2:
                continue
            order = np.lexsort((np.arange(card), -shares))  # most frequent first, smallest code on ties
            first, second = order[0], order[1]
            own = codes[:, j]
            rival = np.where(own == first, second, first)  # the largest entry among the other categories
            own_value = (shares[own] - 1.0) * s + 1.0
            rival_value = shares[rival] * s + 0.0
            take = (rival_value > own_value) | ((rival_value == own_value) & (rival < own))
            codes[:, j] = np.where(take, rival, own)
        return codes

    def _smote_variants_input(self, state: dict) -> np.ndarray:
        """The rare rows as smote_variants sees them (numbers, then one-hot blocks): tests, benchmarks."""
        return np.hstack([state["rare_numeric"], one_hot(state["rare_codes"], self.encoder_.cardinalities)])


class ProWSynGenerator(_ImblearnGenerator):
    """ProWSyn, proximity weighted synthetic oversampling (Barua, Islam & Murase 2013;
    ``smote_variants.ProWSyn`` with its defaults: ``k_neighbors`` = its n_neighbors = 5, ``n_levels`` = its
    L = 5, ``theta`` = 1, and its default sampling: one segment, a random point on it).

    Fit: level 1 holds the rare rows that are among the ``k_neighbors`` nearest rare rows of some
    other-class row; they are set aside and the search repeats on the rest, ``n_levels`` times; what
    is left joins the last level searched (the package's numbering). Per block, as
    the package draws from ``RandomState(seed)``: a level for each new row with probability
    proportional to ``exp(-theta (level - 1))``, then per level (in order) one of its m (m - 1) ordered
    pairs (a, b) of its rows, uniformly, and u, v uniform on [0, 1): the new row is
    ``a u / (u + v) + b v / (u + v)``. Categories: those of the pair's row with the larger weight (the
    argmax of the interpolated one-hot block).

    Differences, by design:

    - exact ``n`` rows, asked for directly, instead of ``proportion`` of the class gap;
    - a level that holds a single rare row gets weight 0: the package's rows from it are copies of that
      real row (its only "segment" is the row itself); a fit where every level is a single row fails;
    - the other-class rows are a seeded sample of ``max_other_rows`` (5,000; None: all), as for the
      family; they play the package's majority class even when there are fewer of them than rare rows;
    - a level with more than 2,048 rows draws its pair as ``floor(u N)`` from the same uniform draw
      instead of a search in a cumulative table of N = m (m - 1) entries (the same pair except where u
      lies within float rounding of a boundary; the package builds that table, and N pair rows);
    - two rare rows are enough (the package returns its input unchanged for two or fewer).
    """

    name = "prowsyn"
    fit_keys = ("prowsyn_members", "prowsyn_sizes", "prowsyn_levels")

    def __init__(
        self,
        *,
        k_neighbors: int = 5,
        n_levels: int = 5,
        theta: float = 1.0,
        max_other_rows: int | None = 5_000,
        random_state: Any = None,
    ):
        super().__init__(k_neighbors=k_neighbors, max_other_rows=max_other_rows, random_state=random_state)
        self.n_levels = n_levels
        self.theta = theta

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_int(self.n_levels, "n_levels", 1)
        theta = self.theta
        if (isinstance(theta, (bool, np.bool_)) or not isinstance(theta, numbers.Real) or not np.isfinite(theta)
                or theta < 0):
            raise ParameterError(f"theta: expected a number >= 0, got {theta!r}")

    def min_rows(self) -> int:
        return 2

    def _min_rows_hint(self) -> str:
        return " (a level needs two rows to draw between): use gaussian-copula"

    def _extra_state(self, rare: ModelData, other: ModelData, seed: int) -> dict:
        from sklearn.neighbors import NearestNeighbors

        X, _ = self._stored_matrix(rare, other)
        n_rare = len(rare.numeric)
        others = X[n_rare:]
        left = np.arange(n_rare)
        members: list[np.ndarray] = []
        levels: list[int] = []
        level = 0
        for level in range(1, self.n_levels + 1):  # the package's step 3
            if not len(left):
                break
            nn = NearestNeighbors(n_neighbors=min(len(left), self.k_neighbors), n_jobs=1).fit(X[left])
            found = np.unique(nn.kneighbors(others, return_distance=False))
            members.append(left[found])
            levels.append(level)
            left = np.delete(left, found)
        if len(left):  # steps 4 and 5: the rest joins the last level's number
            members.append(left)
            levels.append(level)
        sizes = np.array([len(m) for m in members], dtype=np.int64)
        if not (sizes > 1).any():
            raise GeneratorError(
                "prowsyn found no proximity level with two or more rare rows; raise k_neighbors "
                "(--param k_neighbors=10) or lower n_levels, or use smote"
            )
        return {"prowsyn_members": np.concatenate(members).astype(np.int64), "prowsyn_sizes": sizes,
                "prowsyn_levels": np.array(levels, dtype=np.int64)}

    def _sample_matching(self, state: dict, n: int, rng: np.random.Generator, seed: int, where: Any) -> ModelData:
        """``n`` rows meeting ``where``: ProWSyn's levels cut down to the real rare rows that meet every
        condition (a level left with fewer than two gets weight 0; when none keeps two, the matching rows
        form one level). Rows lie between two matching rows, so they meet the conditions by construction
        (numbers clipped to the box against float round-off)."""
        rare = _rare(state)
        matching = np.zeros(len(rare.numeric), dtype=bool)
        matching[_smote._matching_rows(self, rare, where)] = True
        groups = np.split(state["prowsyn_members"], np.cumsum(state["prowsyn_sizes"])[:-1])
        kept = [g[matching[g]] for g in groups]
        levels = state["prowsyn_levels"]
        if not any(len(g) > 1 for g in kept):
            kept, levels = [np.flatnonzero(matching)], np.array([1], dtype=np.int64)
        sub = dict(state, prowsyn_members=np.concatenate(kept).astype(np.int64),
                   prowsyn_sizes=np.array([len(g) for g in kept], dtype=np.int64), prowsyn_levels=levels)
        new = self._rows(sub, n, int(rng.integers(2**31 - 1)))
        return _smote._clip_to_box(self, new, where)

    def _level_weights(self, state: dict) -> np.ndarray:
        """Each level's probability: the package's ``exp(-theta (level - 1))``, single-row levels 0, normalised."""
        weights = np.exp(-float(self.theta) * (state["prowsyn_levels"] - 1))
        weights[state["prowsyn_sizes"] < 2] = 0.0
        return weights / np.sum(weights)

    def _rows(self, state: dict, n: int, seed: int) -> ModelData:
        """The rows ``smote_variants.ProWSyn(random_state=RandomState(seed))`` makes for ``n`` (its
        ``generate_samples_in_clusters``, levels and weights as stored)."""
        rare = _rare(state)
        random_state = np.random.RandomState(seed)
        picked = random_state.choice(len(state["prowsyn_sizes"]), n, p=self._level_weights(state))
        cuts = np.cumsum(state["prowsyn_sizes"])[:-1]
        groups = np.split(state["prowsyn_members"], cuts)
        parts = []
        for level, count in zip(*np.unique(picked, return_counts=True)):
            parts.append(_segment_rows(rare, groups[level], int(count), random_state))
        if not parts:
            return rare.take(np.empty(0, dtype=np.int64))
        return ModelData(np.vstack([p.numeric for p in parts]), np.vstack([p.codes for p in parts]))


def _segment_rows(rare: ModelData, members: np.ndarray, count: int, random_state: np.random.RandomState) -> ModelData:
    """smote_variants' ``sample_simplex`` on one level (``indices = circulant(arange(m))``, segments,
    random weights): a uniform ordered pair (i, i - c mod m), c = 1..m-1, then weights (u, v) / (u + v)."""
    m = len(members)
    pairs = m * (m - 1)
    if pairs <= _EXACT_CHOICE_MAX:
        p = np.repeat(1.0 / pairs, pairs)
        simplex = random_state.choice(np.arange(pairs), count, p=p / np.sum(p))
    else:
        simplex = np.minimum((random_state.random_sample(count) * pairs).astype(np.int64), pairs - 1)
    first, shift = np.divmod(simplex, m - 1)
    second = (first - (shift + 1)) % m
    weights = random_state.random_sample((count, 2))
    weights = weights / np.sum(weights, axis=1)[:, None]
    a, b = members[first], members[second]
    numeric = rare.numeric[a] * weights[:, :1] + rare.numeric[b] * weights[:, 1:]
    code_a, code_b = rare.codes[a], rare.codes[b]
    w_a, w_b = weights[:, :1], weights[:, 1:]
    take_b = (w_b > w_a) | ((w_b == w_a) & (code_b < code_a))
    return ModelData(numeric, np.where(take_b, code_b, code_a).astype(np.int32))
