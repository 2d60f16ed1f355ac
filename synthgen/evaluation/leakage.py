"""Leakage risk: copies of real rows, distance to closest record (DCR) and membership inference.

Distance between two rows (mixed types), documented in docs/METRICS.md:

    d(x, y)^2 = sum over numeric columns ((x_j - y_j) / s_j)^2  +  sum over category columns [x_c != y_c]

with s_j the real_train standard deviation (1 where it is zero or undefined), datetimes as
seconds, and missing values: a missing number is placed at the train mean and adds a
"missing" indicator that counts like a category; a missing category is its own value.
This equals the Euclidean distance over standardised numbers and one-hot categories scaled
by 1/sqrt(2). Nearest neighbours are exact (no subsampling of the reference), computed in
row chunks with bounded memory.

Measured against chance (docs/METRICS.md, "Leakage risk"): ``train_copy_excess``,
``holdout_copy_excess`` and ``dcr_excess`` compare exact copies and close records with what a
generator that saw neither real set would produce, with seeded bootstrap 95% intervals.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from ..engine import local_cores
from ._frame import Frames
from .base import Metric

__all__ = ["MixedEncoder", "nearest", "nearest_chunks", "dcr", "leakage", "row_hashes", "subset_match_probability", "COPY_TOLERANCE",
           "ExactCopyRate", "HoldoutCopyRate", "DcrBelowHoldoutP5", "CloserToTrainShare", "MiaAUC", "TrainCopyExcess",
           "HoldoutCopyExcess", "DcrExcess"]

COPY_TOLERANCE = 1e-9
LOW_CARDINALITY = 16  # categories with at most this many values go one-hot into the matrix product
BLOCK_ELEMENTS = 12_000_000  # distance-matrix cells per chunk (~100 MB of float64)
KD_TREE_DIMS = 8  # Z columns up to which an exact k-d tree search replaces the blocked matrix product...
KD_TREE_PAIRS = 50_000_000  # ...when there are at least this many query x reference pairs (and a bar shows)
KD_TREE_CHUNK = 100_000  # query rows per k-d tree call (the bar moves between calls)
DCR_TASK_ROWS = 200_000  # query rows per engine task (rounded up to whole blocks of the blocked search)
HIST_BINS = 30
MIA_ROWS = 2_000  # members and non-members per side (queries only; the synthetic reference is never cut)

BOOTSTRAP = 1_000  # replicates for the 95% intervals of the excess metrics
P5 = 0.05  # the holdout quantile that sets the DCR threshold


def _lk(details: dict) -> dict:
    return details["leakage"]


def _ci_text(details: dict, name: str) -> str:
    ci = _lk(details)["excess"][name]["ci95"]
    return f"95% interval {ci[0]:+.1%} to {ci[1]:+.1%}"


class _Leakage(Metric):
    """A metric of the leakage stage: one pass of exact matching and nearest-neighbour searches
    (``leakage``: DCR of synthetic and holdout rows to train, the membership attack, the chance rates)."""

    goal, range, stage = "minimize", (0.0, 1.0), "leakage"


class ExactCopyRate(_Leakage):
    name = "leakage.exact_copy_rate"
    description = "Share of synthetic rows equal to some real_train row on every modelled column"

    def normalize(self, value: float) -> float:
        return 1.0 - 20.0 * value

    def explain(self, value: float, details: dict) -> str:
        lk = _lk(details)
        chance = lk["chance"]["holdout_rows_equal_train"]
        return (f"{value:.1%} of synthetic rows ({lk['exact_copies']}) equal a real training row on every modelled "
                f"column, against {chance:.1%} of unseen holdout rows that equal one too (chance)")


class HoldoutCopyRate(_Leakage):
    name = "leakage.holdout_copy_rate"
    description = ("Share of synthetic rows equal to (or within 1e-9 of) a real_holdout row; above 0 means "
                   "the generator saw the holdout")

    def normalize(self, value: float) -> float:
        return 0.0 if value > 0 else 1.0

    def explain(self, value: float, details: dict) -> str:
        lk = _lk(details)
        c = lk["chance"]["holdout_copy"]
        return (f"{value:.1%} of synthetic rows ({lk['holdout_copies']}) equal a real holdout row; by chance "
                f"{c['real_chance']:.1%} of unseen rare rows equal one of {lk['chance']['subset_size']} other real "
                f"rare rows (see leakage.holdout_copy_excess)")


class DcrBelowHoldoutP5(_Leakage):
    name = "leakage.dcr_below_holdout_p5"
    description = ("Share of synthetic rows closer to real_train than the 5th percentile of holdout-to-train "
                   "distances (0.05 by chance; ties at the threshold count fractionally)")

    def normalize(self, value: float) -> float:
        return 1.0 - max(0.0, value - 0.05) / 0.45

    def explain(self, value: float, details: dict) -> str:
        lk = _lk(details)
        ties = lk["chance"]["dcr"]["holdout_share_at_threshold"]
        tie = f"; {ties:.0%} of unseen rare rows sit exactly at it, so ties count fractionally" if ties > 1.5 / max(
            1, lk["rare_rows"]["holdout"]) else ""
        return (f"{value:.0%} of synthetic rows sit closer to a training rare row than 95% of unseen rare rows do "
                f"(distance {lk['holdout_p5_distance']:.3g}{tie}; chance: 5%)")


class CloserToTrainShare(_Leakage):
    name = "leakage.closer_to_train_share"
    description = ("Share of synthetic rows whose nearest real rare row is in train rather than holdout "
                   "(compare with details.leakage.closer_to_train_expected)")

    def explain(self, value: float, details: dict) -> str:
        return (f"{value:.0%} of synthetic rows have their nearest real rare row in train rather than in the holdout "
                f"(chance: {_lk(details)['closer_to_train_expected']:.0%}, train's share of the real rare rows)")


class MiaAUC(_Leakage):
    name = "leakage.mia_auc"
    range = (0.5, 1.0)
    description = ("AUC of a distance attack telling train rare rows (members) from holdout rare rows by their "
                   "distance to the synthetic rows (0.5 = no signal)")
    subscore, key = "privacy", True

    def normalize(self, value: float) -> float:
        return 1.0 - max(0.0, value - 0.5) / 0.25

    def explain(self, value: float, details: dict) -> str:
        n = _lk(details)["mia"]["members"]
        return (f"a distance attack tells training rare rows from unseen ones with AUC {value:.2f} "
                f"({n} rows each side; chance: 0.50)")


class _Excess(_Leakage):
    """An excess over chance (``_chance``), with a bootstrap 95% interval: counted in the privacy sub-score at
    the favourable end of that interval."""

    range = (-1.0, 1.0)
    subscore, scoring, key = "privacy", "evidence", True
    scale = 0.05  # the excess that scores 0

    def normalize(self, value: float) -> float:
        return 1.0 - max(0.0, value) / self.scale


class TrainCopyExcess(_Excess):
    name = "leakage.train_copy_excess"
    description = ("Share of synthetic rare rows equal to a train rare row (size-normalised to the holdout's "
                   "rare-row count) minus the share equal to a holdout rare row; 0 for a generator that saw "
                   "neither")

    def explain(self, value: float, details: dict) -> str:
        lk = _lk(details)
        c = lk["chance"]["train_copy"]
        return (f"{c['synthetic_equal_train']:.1%} of synthetic rare rows equal a training rare row; normalised to a "
                f"set of the holdout's {lk['chance']['subset_size']} rows that is "
                f"{c['synthetic_equal_train_normalised']:.1%}, against {c['synthetic_equal_holdout']:.1%} that equal "
                f"an unseen holdout rare row (chance): excess {value:+.1%} ({_ci_text(details, self.name)})")


class HoldoutCopyExcess(_Excess):
    name = "leakage.holdout_copy_excess"
    description = ("Share of synthetic rare rows equal to a holdout rare row minus the chance rate (how often "
                   "an unseen real rare row equals one of a same-size set of train rare rows)")

    def explain(self, value: float, details: dict) -> str:
        lk = _lk(details)
        c = lk["chance"]["holdout_copy"]
        return (f"{c['synthetic_equal_holdout']:.1%} of synthetic rare rows equal a holdout rare row, against "
                f"{c['real_chance']:.1%} of unseen real rare rows that equal one of {lk['chance']['subset_size']} "
                f"training rare rows (chance): excess {value:+.1%} ({_ci_text(details, self.name)})")


class DcrExcess(_Excess):
    name = "leakage.dcr_excess"
    description = ("Share of synthetic rare rows with DCR to train at or below the holdout's 5th-percentile DCR "
                   "minus the holdout's own share there (ties at 0 included); 0 by chance")
    scale = 0.45

    def explain(self, value: float, details: dict) -> str:
        c = _lk(details)["chance"]["dcr"]
        return (f"{c['synthetic_share']:.1%} of synthetic rare rows sit within distance {c['threshold']:.3g} of a "
                f"training rare row (the holdout's 5th percentile), against {c['holdout_share']:.1%} of unseen "
                f"holdout rare rows (chance): excess {value:+.1%} ({_ci_text(details, self.name)})")


class MixedEncoder:
    """Encode rows for the mixed-type distance: a float matrix for products, int codes for compares."""

    def __init__(self, frames: Frames):
        num = frames.num["train"]
        with np.errstate(all="ignore"):
            self.center = np.where(np.isnan(num).all(axis=0), 0.0, np.nanmean(num, axis=0)) if num.size else np.zeros(0)
            std = np.nanstd(num, axis=0) if num.size else np.zeros(0)
        self.scale = np.where(np.isfinite(std) & (std > 0), std, 1.0)
        parts = ("train", "holdout", "synthetic")
        self.missing_cols = [j for j in range(num.shape[1]) if any(np.isnan(frames.num[p][:, j]).any() for p in parts)]
        self.sizes = [len(v) + 1 for v in frames.vocab]  # +1: missing is its own value
        self.low = [j for j, k in enumerate(self.sizes) if k <= LOW_CARDINALITY]
        self.high = [j for j, k in enumerate(self.sizes) if k > LOW_CARDINALITY]

    def transform(self, num: np.ndarray, cat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Z, C): Z = standardised numbers + one-hot/sqrt(2) of small category columns; C = codes of the rest."""
        z = (num - self.center) / self.scale
        miss = np.isnan(z)
        z = np.where(miss, 0.0, z)
        blocks = [z]
        codes = np.where(cat < 0, np.array(self.sizes) - 1, cat) if cat.size else cat
        for j in self.low:
            onehot = np.zeros((len(cat), self.sizes[j]))
            onehot[np.arange(len(cat)), codes[:, j]] = 1.0 / math.sqrt(2.0)
            blocks.append(onehot)
        high = [codes[:, j] for j in self.high] + [miss[:, j].astype(np.int32) for j in self.missing_cols]
        C = np.column_stack(high).astype(np.int32) if high else np.zeros((len(num), 0), dtype=np.int32)
        return np.ascontiguousarray(np.hstack(blocks)), np.ascontiguousarray(C)


def nearest(zq: np.ndarray, cq: np.ndarray, zr: np.ndarray, cr: np.ndarray,
            workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest reference row for every query row: (distance, index); chunked, bounded memory.
    ``workers``: threads of the k-d tree search (default: every core this process may use).

    Per chunk one matrix product gives |r|^2 - 2 q.r for all pairs (the |q|^2 term does not
    change the argmin), category mismatches are counted with vectorised compares, and the
    distance of each chosen pair is then recomputed directly, so copies come out as exactly 0.
    """
    nq, nr = len(zq), len(zr)
    dist = np.full(nq, np.inf)
    index = np.full(nq, -1, dtype=np.int64)
    if nq == 0 or nr == 0:
        return dist, index
    if cq.shape[1] == 0 and zq.shape[1] <= KD_TREE_DIMS and nq * nr >= KD_TREE_PAIRS:
        # narrow tables with no high-cardinality codes: the distance is Euclidean on Z, and a k-d tree finds
        # the same exact nearest row in O(n log m) instead of O(n m) (a tie may pick another row at the
        # same distance); the distance of the chosen row is recomputed directly, as on the blocked path
        tree = cKDTree(zr)
        cores = workers or local_cores()  # each row's search is its own: the same row for any number of threads
        with _dcr_bar(nq) as bar:
            for start in range(0, nq, KD_TREE_CHUNK):
                stop = min(nq, start + KD_TREE_CHUNK)
                index[start:stop] = tree.query(zq[start:stop], k=1, workers=cores)[1]
                bar.update(stop - start)
        diff = zq - zr[index]
        return np.sqrt(np.einsum("ij,ij->i", diff, diff)), index
    rows = max(1, min(nq, BLOCK_ELEMENTS // nr))
    # [-2q, 1] @ [r, |r|^2]^T = |r|^2 - 2 q.r in one product
    qa = np.hstack([-2.0 * zq, np.ones((nq, 1))])
    ra = np.ascontiguousarray(np.hstack([zr, np.einsum("ij,ij->i", zr, zr)[:, None]]).T)
    small = cq.size == 0 or max(int(cq.max(initial=0)), int(cr.max(initial=0))) < 32_000
    ctype = np.int16 if small else np.int32
    cqs = cq.astype(ctype)
    crs = np.ascontiguousarray(cr.astype(ctype).T)
    block = np.empty((rows, nr))
    neq = np.empty((rows, nr), dtype=bool)
    mism = np.empty((rows, nr), dtype=np.uint8)
    with _dcr_bar(nq if nq * nr >= KD_TREE_PAIRS else 0) as bar:
        _blocked_argmin(qa, ra, cqs, crs, cq.shape[1], rows, block, neq, mism, index, bar)
    diff = zq - zr[index]
    d2 = np.einsum("ij,ij->i", diff, diff) + (cq != cr[index]).sum(axis=1)
    return np.sqrt(d2), index


def _dcr_bar(rows: int) -> Any:
    """A bar over the query rows of a long nearest-row search, on stderr and only on a terminal (tqdm's
    ``disable=None``; ``TQDM_DISABLE=1`` turns it off); none for short searches (``rows`` 0)."""
    return tqdm(total=rows, desc="DCR", unit="rows", unit_scale=True, file=sys.stderr, leave=False,
                disable=None if rows else True)


def _blocked_argmin(qa: np.ndarray, ra: np.ndarray, cqs: np.ndarray, crs: np.ndarray, n_codes: int, rows: int,
                    block: np.ndarray, neq: np.ndarray, mism: np.ndarray, index: np.ndarray, bar: Any) -> None:
    """The nearest reference row of each query row, a chunk of ``rows`` query rows per matrix product."""
    nq = len(qa)
    for start in range(0, nq, rows):
        stop = min(nq, start + rows)
        m = stop - start
        b = block[:m]
        np.matmul(qa[start:stop], ra, out=b)
        if n_codes:
            mm = mism[:m]
            np.not_equal(cqs[start:stop, 0, None], crs[0][None, :], out=mm, casting="unsafe")
            for c in range(1, n_codes):
                np.not_equal(cqs[start:stop, c, None], crs[c][None, :], out=neq[:m])
                mm += neq[:m]
            b += mm
        index[start:stop] = np.argmin(b, axis=1)
        bar.update(m)


def row_hashes(frames: Frames, part: str) -> np.ndarray:
    """64-bit hash of each row's modelled values (numbers rounded to 9 decimals), for exact matching."""
    num = np.round(frames.num[part], 9)
    df = pd.DataFrame(np.hstack([num, frames.cat[part].astype(np.float64)]))
    return pd.util.hash_pandas_object(df, index=False).to_numpy(dtype=np.uint64)


def _nearest_task(reference: tuple[np.ndarray, np.ndarray, int], query: tuple[np.ndarray, np.ndarray]) -> tuple:
    """One engine task: the nearest reference row of each row of one chunk of query rows."""
    return nearest(query[0], query[1], reference[0], reference[1], reference[2])


def nearest_chunks(zq: np.ndarray, cq: np.ndarray, zr: np.ndarray, cr: np.ndarray,
                   engine: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``nearest`` over chunks of query rows run by ``engine`` (``synthgen.engine``; None: in this process,
    unchunked). Each row's result does not depend on its chunk: a chunk is a whole number of the blocked
    search's own blocks, so every engine and worker count gives the same distances and indices."""
    if engine is None or len(zq) == 0 or len(zr) == 0:
        return nearest(zq, cq, zr, cr)
    block = max(1, BLOCK_ELEMENTS // len(zr))
    step = block * max(1, math.ceil(DCR_TASK_ROWS / block))
    chunks = ((zq[i:i + step], cq[i:i + step]) for i in range(0, len(zq), step))
    parts = list(engine.map(_nearest_task, chunks, shared=(zr, cr, engine.cores_per_task)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def dcr(frames: Frames, query: str, reference: str, qmask: np.ndarray | None = None,
        rmask: np.ndarray | None = None, encoder: MixedEncoder | None = None,
        engine: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each (masked) query row to its closest (masked) reference row, and that row's index
    (``engine``: run the search in chunks of query rows there, ``nearest_chunks``)."""
    enc = encoder or MixedEncoder(frames)
    qn, qc = frames.num[query], frames.cat[query]
    rn, rc = frames.num[reference], frames.cat[reference]
    if qmask is not None:
        qn, qc = qn[qmask], qc[qmask]
    if rmask is not None:
        rn, rc = rn[rmask], rc[rmask]
    zq, cq = enc.transform(qn, qc)
    zr, cr = enc.transform(rn, rc)
    return nearest_chunks(zq, cq, zr, cr, engine)


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of scores (positives should score higher), ties counted half."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(np.r_[pos, neg])
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _hist(values: np.ndarray, edges: np.ndarray) -> list[int]:
    return np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)[0].tolist()


def subset_match_probability(n: int, m: int) -> np.ndarray:
    """P[k] = chance that a uniformly random m-row subset of n rows holds at least one of k given rows.

    P[k] = 1 - C(n-k, m) / C(n, m) = 1 - prod_{i<k} (n-m-i) / (n-i), for k = 0..n, computed as a
    cumulative sum of log1p(-m / (n-i)) so it stays exact to rounding for any n; P[k] = 1 once n - k < m.
    """
    i = np.arange(n, dtype=np.float64)
    with np.errstate(divide="ignore"):  # log1p(-1) = -inf: from the step where n - i = m on, the ratio is 0
        steps = np.log1p(np.maximum(-1.0, -m / (n - i)))
    log_ratio = np.r_[0.0, np.cumsum(steps)]
    return 0.0 - np.expm1(log_ratio)  # 0.0 - x: no negative zero


def _below_p5(d: np.ndarray, d_ho: np.ndarray, t: float) -> float:
    """Share of d below the holdout's 5th percentile t, ties at t counted with the weight that makes the
    holdout's own share exactly 5%: P(d < t) + P(d = t) * (0.05 - P_ho(d < t)) / P_ho(d = t)."""
    below_ho, at_ho = float(np.mean(d_ho < t)), float(np.mean(d_ho == t))
    weight = (P5 - below_ho) / at_ho if at_ho > 0 else 0.0
    return float(np.mean(d < t) + weight * np.mean(d == t))


def _p5(d_ho: np.ndarray) -> float:
    """The holdout's 5th-percentile DCR: the smallest distance with at least 5% of holdout rows at or below it."""
    return float(np.quantile(d_ho, P5, method="inverted_cdf"))


def _interval(point: float, replicates: np.ndarray) -> list[float]:
    """95% interval: bootstrap percentiles re-centred on the point value (the resampled counts of a
    with-replacement bootstrap are biased for match rates; the shift removes that bias), clipped to [-1, 1]."""
    lo, hi = np.percentile(replicates, [2.5, 97.5])
    shift = point - float(np.mean(replicates))
    return [float(max(-1.0, lo + shift)), float(min(1.0, hi + shift))]


def _chance(frames: Frames, syn_rare: np.ndarray, tr_rare: np.ndarray, ho_rare: np.ndarray,
            d_syn: np.ndarray, d_ho: np.ndarray, t: float, seed: int) -> tuple[dict, dict, dict]:
    """The three excess metrics over the rare rows: values, details (chance rates, counts), 95% intervals."""
    rng = np.random.default_rng([seed, 7])  # own stream: the attack's sample above stays as it was
    keys = [row_hashes(frames, p)[m] for p, m in (("synthetic", syn_rare), ("train", tr_rare), ("holdout", ho_rare))]
    _, group = np.unique(np.concatenate(keys), return_inverse=True)
    n_s, n_tr, n_ho = (len(k) for k in keys)
    g_s, g_tr, g_ho = np.split(group, [n_s, n_s + n_tr])
    size = int(group.max()) + 1
    m = min(n_tr, n_ho)  # both real sets are compared at the smaller one's size
    p_tr, p_ho = subset_match_probability(n_tr, m), subset_match_probability(n_ho, m)

    def stats(c_s: np.ndarray, c_tr: np.ndarray, c_ho: np.ndarray) -> np.ndarray:
        syn_tr = float(c_s @ p_tr[np.minimum(c_tr, n_tr)]) / n_s
        syn_ho = float(c_s @ p_ho[np.minimum(c_ho, n_ho)]) / n_s
        real = float(c_ho @ p_tr[np.minimum(c_tr, n_tr)]) / n_ho
        return np.array([syn_tr - syn_ho, syn_ho - real, syn_tr, syn_ho, real])

    counts = [np.bincount(g, minlength=size) for g in (g_s, g_tr, g_ho)]
    point = stats(*counts)
    d_s = d_syn[syn_rare]
    dcr_point = float(np.mean(d_s <= t) - np.mean(d_ho <= t))
    boot = np.empty((BOOTSTRAP, 3))
    # Resampling only what the statistics can see, with the same distributions as resampling every row:
    # - copies: only distinct rows held by train or holdout carry a chance (p[0] = 0), so the synthetic
    #   multinomial runs over those plus one bucket for all other synthetic rows (a multinomial's merged
    #   cells are a multinomial); train's and holdout's counts are zero elsewhere anyway;
    # - DCR: the number of n_s synthetic DCRs drawn with replacement at or below t_b is
    #   Binomial(n_s, share of DCRs <= t_b), read from the sorted DCRs.
    # At 1,000,000 synthetic rows this is ~1% of the cost of redrawing every row (evaluation/benchmarks/README.md).
    live = np.flatnonzero((counts[1] > 0) | (counts[2] > 0))
    c_s, c_tr, c_ho = (c[live] for c in counts)
    f_s = np.append(c_s, n_s - c_s.sum()) / n_s
    f_tr, f_ho = c_tr / n_tr, c_ho / n_ho
    d_sorted = np.sort(d_s)
    for b in range(BOOTSTRAP):
        boot[b, :2] = stats(rng.multinomial(n_s, f_s)[:-1], rng.multinomial(n_tr, f_tr),
                            rng.multinomial(n_ho, f_ho))[:2]
        dh = rng.choice(d_ho, n_ho)
        tb = _p5(dh)
        below = rng.binomial(n_s, np.searchsorted(d_sorted, tb, side="right") / n_s)
        boot[b, 2] = below / n_s - np.mean(dh <= tb)
    values = {TrainCopyExcess.name: float(point[0]), HoldoutCopyExcess.name: float(point[1]), DcrExcess.name: dcr_point}
    ci = {name: _interval(v, boot[:, j]) for j, (name, v) in enumerate(values.items())}
    details = {
        "subset_size": int(m),
        "rare_rows": {"synthetic": int(n_s), "train": int(n_tr), "holdout": int(n_ho)},
        "train_copy": {
            "synthetic_equal_train": float(np.mean(counts[1][g_s] > 0)),
            "synthetic_equal_train_normalised": float(point[2]),
            "synthetic_equal_holdout": float(point[3]),
            "rows_equal_train": int(np.sum(counts[1][g_s] > 0)),
            "rows_equal_holdout": int(np.sum(counts[2][g_s] > 0)),
        },
        "holdout_copy": {
            "synthetic_equal_holdout": float(point[3]),
            "real_chance": float(point[4]),
            "holdout_rows_equal_train": int(np.sum(counts[1][g_ho] > 0)),
        },
        "dcr": {
            "threshold": float(t),
            "synthetic_share": float(np.mean(d_s <= t)),
            "holdout_share": float(np.mean(d_ho <= t)),
            "holdout_share_at_threshold": float(np.mean(d_ho == t)),
            "holdout_share_at_zero": float(np.mean(d_ho == 0)),
        },
        "formulas": {
            TrainCopyExcess.name: "mean_s P_tr(s) - mean_s P_ho(s); P_X(s) = 1 - C(n_X - k_X(s), m) / C(n_X, m), "
                               "k_X(s) = rows of X equal to s, m = min(n_tr, n_ho)",
            HoldoutCopyExcess.name: "mean_s P_ho(s) - mean_h P_tr(h) over holdout rare rows h",
            DcrExcess.name: "share(DCR_syn <= t) - share(DCR_ho <= t), t = holdout 5th percentile (inverted CDF)",
        },
    }
    interval = {
        "method": f"seeded bootstrap, {BOOTSTRAP} replicates; percentile interval re-centred on the point value",
        "copies": "synthetic, train and holdout rare rows resampled independently (multinomial counts per distinct "
                  "row): all three are samples (of the generator, of the population it learned from, of the "
                  "unseen population), and the chance matches come from train and holdout",
        "dcr": "synthetic and holdout rare rows' DCRs resampled independently and t recomputed each time; train "
               "is the fixed reference set under attack (resampling it would mean a new nearest-neighbour search)",
        "replicates": BOOTSTRAP,
    }
    return values, ci, {"chance": details, "interval": interval}


def leakage(frames: Frames, seed: int, engine: Any = None) -> tuple[dict[str, float], dict]:
    """All leakage metrics and their details (DCR histograms, expected shares, attack sizes); ``engine``
    (``synthgen.engine``) runs the two searches over every synthetic row in chunks, the same result anywhere."""
    rng = np.random.default_rng(seed)
    enc = MixedEncoder(frames)
    syn_rare = frames.rare("synthetic")
    tr_rare, ho_rare = frames.rare("train"), frames.rare("holdout")
    # exact copies: hashes over all rows of each real frame
    h_syn = row_hashes(frames, "synthetic")
    copies = np.isin(h_syn, row_hashes(frames, "train"))
    ho_copies = np.isin(h_syn, row_hashes(frames, "holdout"))
    # DCR within the rare class: what the generator learned from vs what it never saw
    d_syn, i_syn = dcr(frames, "synthetic", "train", None, tr_rare, enc, engine)
    d_ho, _ = dcr(frames, "holdout", "train", ho_rare, tr_rare, enc)
    d_syn_ho, _ = dcr(frames, "synthetic", "holdout", None, ho_rare, enc, engine)
    ho_copies |= d_syn_ho <= COPY_TOLERANCE
    p5 = _p5(d_ho)
    below = _below_p5(d_syn, d_ho, p5)
    closer = float(np.mean((d_syn < d_syn_ho) + 0.5 * (d_syn == d_syn_ho)))
    n_tr, n_ho = int(tr_rare.sum()), int(ho_rare.sum())
    expected = n_tr / (n_tr + n_ho)
    # membership inference: rare train rows (members) vs rare holdout rows, score = -DCR to synthetic
    n = min(n_tr, n_ho, MIA_ROWS)
    mem = np.sort(rng.choice(np.flatnonzero(tr_rare), size=n, replace=False))
    non = np.sort(rng.choice(np.flatnonzero(ho_rare), size=n, replace=False))
    mm = np.zeros(len(frames.train), dtype=bool)
    mm[mem] = True
    nm = np.zeros(len(frames.holdout), dtype=bool)
    nm[non] = True
    d_mem, _ = dcr(frames, "train", "synthetic", mm, syn_rare, enc)
    d_non, _ = dcr(frames, "holdout", "synthetic", nm, syn_rare, enc)
    mia = _auc(-d_mem, -d_non)
    top = float(max(np.percentile(d_syn, 99), np.percentile(d_ho, 99), 1e-9))
    edges = np.linspace(0.0, top, HIST_BINS + 1)
    values = {
        "leakage.exact_copy_rate": float(copies.mean()),
        "leakage.holdout_copy_rate": float(ho_copies.mean()),
        "leakage.dcr_below_holdout_p5": below,
        "leakage.closer_to_train_share": closer,
        "leakage.mia_auc": mia,
    }
    excess, ci, extra = _chance(frames, syn_rare, tr_rare, ho_rare, d_syn, d_ho, p5, seed)
    values.update(excess)
    extra["chance"]["holdout_rows_equal_train"] = float(np.isin(row_hashes(frames, "holdout"),
                                                                row_hashes(frames, "train")).mean())
    details = {
        "distance": "sqrt(sum(((x-y)/std_train)^2) over numbers + count of differing categories)",
        "reference": "rare-class rows of real_train (exact: never subsampled)",
        "exact_copies": int(copies.sum()),
        "holdout_copies": int(ho_copies.sum()),
        "holdout_p5_distance": p5,
        "closer_to_train_expected": expected,
        "rare_rows": {"train": n_tr, "holdout": n_ho, "synthetic": int(syn_rare.sum())},
        "dcr_synthetic_to_train": _summary(d_syn),
        "dcr_holdout_to_train": _summary(d_ho),
        "histogram": {"bin_edges": edges.tolist(), "synthetic_to_train": _hist(d_syn, edges),
                      "holdout_to_train": _hist(d_ho, edges)},
        "mia": {"members": int(n), "non_members": int(n),
                "member_median_dcr": float(np.median(d_mem)), "non_member_median_dcr": float(np.median(d_non))},
        **extra,
        "excess": {name: {"value": v, "ci95": ci[name]} for name, v in excess.items()},
        "ci95": ci,
    }
    return values, details


def _summary(d: np.ndarray) -> dict:
    return {q: float(np.percentile(d, p)) for q, p in (("p5", 5), ("p25", 25), ("median", 50), ("p75", 75), ("p95", 95))} | {
        "min": float(d.min()), "mean": float(d.mean())}
