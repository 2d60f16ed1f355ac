"""Leakage risk: copies of real rows, distance to closest record (DCR) and membership inference.

Distance between two rows (mixed types), documented in docs/METRICS.md:

    d(x, y)^2 = sum over numeric columns ((x_j - y_j) / s_j)^2  +  sum over category columns [x_c != y_c]

with s_j the real_train standard deviation (1 where it is zero or undefined), datetimes as
seconds, and missing values: a missing number is placed at the train mean and adds a
"missing" indicator that counts like a category; a missing category is its own value.
This equals the Euclidean distance over standardised numbers and one-hot categories scaled
by 1/sqrt(2). Nearest neighbours are exact (no subsampling of the reference), computed in
row chunks with bounded memory.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._frame import Frames
from .base import metric

__all__ = ["MixedEncoder", "nearest", "dcr", "leakage", "row_hashes", "COPY_TOLERANCE"]

COPY_TOLERANCE = 1e-9
LOW_CARDINALITY = 16  # categories with at most this many values go one-hot into the matrix product
BLOCK_ELEMENTS = 12_000_000  # distance-matrix cells per chunk (~100 MB of float64)
HIST_BINS = 30
MIA_ROWS = 2_000  # members and non-members per side (queries only; the synthetic reference is never cut)

EXACT_COPY = metric("leakage.exact_copy_rate", "minimize", 0.0, 1.0,
                    "Share of synthetic rows equal to some real_train row on every modelled column",
                    normalize=lambda v: 1.0 - 20.0 * v)
HOLDOUT_COPY = metric("leakage.holdout_copy_rate", "minimize", 0.0, 1.0,
                      "Share of synthetic rows equal to (or within 1e-9 of) a real_holdout row; above 0 means "
                      "the generator saw the holdout", normalize=lambda v: 0.0 if v > 0 else 1.0)
DCR_P5 = metric("leakage.dcr_below_holdout_p5", "minimize", 0.0, 1.0,
                "Share of synthetic rows closer to real_train than the 5th percentile of holdout-to-train "
                "distances (about 0.05 by chance)", normalize=lambda v: 1.0 - max(0.0, v - 0.05) / 0.45)
CLOSER = metric("leakage.closer_to_train_share", "minimize", 0.0, 1.0,
                "Share of synthetic rows whose nearest real rare row is in train rather than holdout "
                "(compare with details.leakage.closer_to_train_expected)")
MIA = metric("leakage.mia_auc", "minimize", 0.5, 1.0,
             "AUC of a distance attack telling train rare rows (members) from holdout rare rows by their "
             "distance to the synthetic rows (0.5 = no signal)", normalize=lambda v: 1.0 - max(0.0, v - 0.5) / 0.25)


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


def nearest(zq: np.ndarray, cq: np.ndarray, zr: np.ndarray, cr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest reference row for every query row: (distance, index); chunked, bounded memory.

    Per chunk one matrix product gives |r|^2 - 2 q.r for all pairs (the |q|^2 term does not
    change the argmin), category mismatches are counted with vectorised compares, and the
    distance of each chosen pair is then recomputed directly, so copies come out as exactly 0.
    """
    nq, nr = len(zq), len(zr)
    dist = np.full(nq, np.inf)
    index = np.full(nq, -1, dtype=np.int64)
    if nq == 0 or nr == 0:
        return dist, index
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
    for start in range(0, nq, rows):
        stop = min(nq, start + rows)
        m = stop - start
        b = block[:m]
        np.matmul(qa[start:stop], ra, out=b)
        if cq.shape[1]:
            mm = mism[:m]
            np.not_equal(cqs[start:stop, 0, None], crs[0][None, :], out=mm, casting="unsafe")
            for c in range(1, cq.shape[1]):
                np.not_equal(cqs[start:stop, c, None], crs[c][None, :], out=neq[:m])
                mm += neq[:m]
            b += mm
        index[start:stop] = np.argmin(b, axis=1)
    diff = zq - zr[index]
    d2 = np.einsum("ij,ij->i", diff, diff) + (cq != cr[index]).sum(axis=1)
    return np.sqrt(d2), index


def row_hashes(frames: Frames, part: str) -> np.ndarray:
    """64-bit hash of each row's modelled values (numbers rounded to 9 decimals), for exact matching."""
    num = np.round(frames.num[part], 9)
    df = pd.DataFrame(np.hstack([num, frames.cat[part].astype(np.float64)]))
    return pd.util.hash_pandas_object(df, index=False).to_numpy(dtype=np.uint64)


def dcr(frames: Frames, query: str, reference: str, qmask: np.ndarray | None = None,
        rmask: np.ndarray | None = None, encoder: MixedEncoder | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each (masked) query row to its closest (masked) reference row, and that row's index."""
    enc = encoder or MixedEncoder(frames)
    qn, qc = frames.num[query], frames.cat[query]
    rn, rc = frames.num[reference], frames.cat[reference]
    if qmask is not None:
        qn, qc = qn[qmask], qc[qmask]
    if rmask is not None:
        rn, rc = rn[rmask], rc[rmask]
    zq, cq = enc.transform(qn, qc)
    zr, cr = enc.transform(rn, rc)
    return nearest(zq, cq, zr, cr)


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC of scores (positives should score higher), ties counted half."""
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    from scipy.stats import rankdata

    ranks = rankdata(np.r_[pos, neg])
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _hist(values: np.ndarray, edges: np.ndarray) -> list[int]:
    return np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)[0].tolist()


def leakage(frames: Frames, seed: int) -> tuple[dict[str, float], dict]:
    """All leakage metrics and their details (DCR histograms, expected shares, attack sizes)."""
    rng = np.random.default_rng(seed)
    enc = MixedEncoder(frames)
    syn_rare = frames.rare("synthetic")
    tr_rare, ho_rare = frames.rare("train"), frames.rare("holdout")
    # exact copies: hashes over all rows of each real frame
    h_syn = row_hashes(frames, "synthetic")
    copies = np.isin(h_syn, row_hashes(frames, "train"))
    ho_copies = np.isin(h_syn, row_hashes(frames, "holdout"))
    # DCR within the rare class: what the generator learned from vs what it never saw
    d_syn, i_syn = dcr(frames, "synthetic", "train", None, tr_rare, enc)
    d_ho, _ = dcr(frames, "holdout", "train", ho_rare, tr_rare, enc)
    d_syn_ho, _ = dcr(frames, "synthetic", "holdout", None, ho_rare, enc)
    ho_copies |= d_syn_ho <= COPY_TOLERANCE
    p5 = float(np.percentile(d_ho, 5))
    below = float(np.mean(d_syn < p5)) if p5 > 0 else float(np.mean(d_syn <= 0))
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
    }
    return values, details


def _summary(d: np.ndarray) -> dict:
    return {q: float(np.percentile(d, p)) for q, p in (("p5", 5), ("p25", 25), ("median", 50), ("p75", 75), ("p95", 95))} | {
        "min": float(d.min()), "mean": float(d.mean())}
