"""Privacy attacks beyond distances: density-based membership inference, Anonymeter's three attacks,
and exposure of the most isolated rare rows.

Every attack runs on the rare-class rows only (what the generator learned from and emits):
members are real_train rare rows, the control is real_holdout rare rows (never shown to the
generator), and each figure is compared with that control or with chance. Seeded: a seed gives
byte-identical values and details (Anonymeter's own randomness included, see
``_seeded_anonymeter``).

- ``leakage.domias_auc`` (DOMIAS, van Breugel et al., AISTATS 2023): a row's score is
  p_synthetic(x) / p_reference(x), the AUC tells members from non-members (0.5 = chance). Both
  densities are kernel density estimates on the DCR encoding of leakage.py (standardised numbers,
  one-hot/sqrt(2) small categories, codes of large ones) with the Gaussian kernel of the DCR
  distance, K(x, y) = exp(-d(x, y)^2 / (2 h^2)), h = BANDWIDTH: a Gaussian on the numbers times
  exp(-1 / (2 h^2)) per differing category (0.004 at h = 0.3). Both densities use the same
  kernel, so its normalising constant cancels in the ratio. The reference is the real holdout
  rare rows, cross-fitted: the holdout is cut into two random halves, the density of one half
  scores the members and the other half (the non-members), and the two AUCs are averaged, so
  every holdout row is a non-member once and no row is scored against a density that holds it.
  Rare rows, because the synthetic rows are rare rows: the ratio asks "likelier under the
  generator than under the rare class". Why this estimator, measured on the planted cases of
  tests/test_privacy_attacks.py on four tables (bundled fraud and german credit, shared adult and
  evalml fraud): copies of train rows gave AUC 0.77-0.93 with this kernel, against 0.63-0.77 for
  scipy's gaussian_kde on a 95%-variance PCA of the same encoding (the KDE of the DOMIAS code)
  and 0.54-0.74 for a BIC-chosen Gaussian mixture on that PCA (two tables; 2-11 s instead of
  0.1-0.5 s); h = 0.2, 0.3 and 0.45 gave the same AUCs within 0.01, Scott's rule (h = 0.64-0.85)
  lost up to 0.07, a bandwidth from the median nearest-neighbour distance lost 0.3. PCA drops the
  large categories that the DCR counts, which is where the Gaussian estimators lost. The
  synthetic density uses at most MAX_SYNTHETIC rows (a seeded sample), members at most DOMIAS_ROWS.
- ``privacy.singling_out_risk``, ``privacy.linkability_risk``, ``privacy.inference_risk``: the
  ``anonymeter`` package's evaluators (Giomi et al., PoPETs 2023): a main attack on the train rare
  rows, a control attack on the holdout rare rows and a baseline (random guessing); the risk is
  (main - control) / (1 - control) with its 95% interval (Wilson rates, propagated error).
  ``anonymeter_attacks`` documents the columns, the linkability split, sizes and the seeding.
- ``leakage.outlier_exposure``: the ISOLATED_SHARE (5%) most isolated real rare train rows
  (distance to their K_ISOLATION-th nearest other real rare row, train and holdout pooled, so both
  sides are ranked against the same rows) and, as the chance rate, the 5% most isolated holdout
  rare rows. A row is exposed when a synthetic rare row lies within EXPOSURE_FACTOR (1/2) of the
  distance to its nearest other real rare row: such a synthetic row is nearer to this real row
  than to any other (triangle inequality), it points at it. Value: train exposure share minus
  holdout exposure share; interval: Newcombe's score interval for a difference of proportions.
  Details name the exposed rows by their position in real_train, never by value. Why 1/2 and not
  "closer than its nearest real neighbour": measured on the four tables, that looser test exposed
  30-100% of the isolated rows of a train-only copula and of uniform noise (isolated rows have far
  neighbours, so any generator that fills the space lands nearer), the chance rate from 3-15
  isolated holdout rows was then too noisy: the copula came out above 0 on two tables and the
  planted 2% copies of isolated rows were missed on two; at 1/2 chance exposure was 0 on every
  null case and the 2% copies cleared 0 on all four tables (1/4 gave the same). Why Newcombe and
  not a bootstrap: with 0 of 15 holdout rows exposed, a bootstrap of that side is [0, 0] (it
  claims the chance rate exactly); Wilson gives [0, 0.20]. k = 5 ranks a pair of close outliers
  as isolated too; k = 1 missed the planted copies on three tables, k = 3-10 caught them on all
  four (k = 5 with the widest margin), k = 20 missed one.

An attack with too few rare rows returns NaN and a reason in ``details["not_measured"]``.
Details are meant to sit under ``details["privacy"]`` of the scorecard (the ``explain``
sentences read them there).
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from ..exceptions import EvaluationError
from ._frame import Frames
from .base import Metric
from .leakage import BLOCK_ELEMENTS, MixedEncoder, nearest

__all__ = ["privacy", "domias", "outlier_exposure", "isolation", "anonymeter_attacks", "log_density", "wilson_interval",
           "newcombe_interval", "NAMES", "BANDWIDTH", "N_ATTACKS", "K_ISOLATION",
           "ISOLATED_SHARE", "EXPOSURE_FACTOR", "MIN_ROWS", "MAX_SYNTHETIC", "DomiasAUC", "SinglingOutRisk",
           "LinkabilityRisk", "InferenceRisk", "OutlierExposure"]

BANDWIDTH = 0.3  # kernel width in standardised units (see the module docstring for the measurement)
DOMIAS_ROWS = 2_000  # members at most, and holdout rows per fold at most
MAX_SYNTHETIC = 10_000  # synthetic rare rows (a seeded sample) for DOMIAS' density and Anonymeter's attacks
BOOTSTRAP = 1_000
MIN_ROWS = 20  # fewest rare rows per side for an attack (members, non-members, controls, synthetic)
N_ATTACKS = 500  # Anonymeter attacks per evaluator (its default; see evaluation/benchmarks/bench_privacy.py)
SO_COLUMNS = 3  # columns per multivariate singling-out query (Anonymeter's default)
SO_MAX_ATTEMPTS = 20 * N_ATTACKS  # query-generation attempts before singling out gives up
LINK_NEIGHBOURS = 1  # a link: the same synthetic row is the nearest for both halves (Anonymeter's default)
N_JOBS = 2  # threads for Anonymeter's neighbour search (numba, nogil); results do not depend on it
ISOLATED_SHARE = 0.05
K_ISOLATION = 5
EXPOSURE_FACTOR = 0.5  # exposed when d_synthetic < EXPOSURE_FACTOR * d_nearest_real (see outlier_exposure)
MIN_ISOLATED = 3  # isolated rows per side at least (5% of 41+ rare rows)
TOP_EXPOSED = 10

_LOCK = threading.Lock()  # numpy's global random state and the patched baseline are process-wide


# --------------------------------------------------------------------------- metrics
def _pv(details: dict) -> dict:
    return details["privacy"]


def _pct_ci(ci: Sequence[float]) -> str:
    return f"95% interval {ci[0]:.1%} to {ci[1]:.1%}"


def _signed_ci(ci: Sequence[float]) -> str:
    return f"95% interval {ci[0]:+.1%} to {ci[1]:+.1%}"


class DomiasAUC(Metric):
    """DOMIAS, measured by the privacy stage (``domias``)."""

    name = "leakage.domias_auc"
    goal, range, stage = "minimize", (0.5, 1.0), "privacy"
    subscore, scoring = "privacy", "evidence"  # scored at the low end of its interval, as the gate judges it
    description = ("AUC of a density attack (DOMIAS: synthetic density over real holdout density, kernel on the DCR "
                   "distance) telling train rare rows (members) from holdout rare rows (0.5 = no signal)")

    def normalize(self, value: float) -> float:
        return 1.0 - max(0.0, value - 0.5) / 0.25

    def explain(self, value: float, details: dict) -> str:
        p = _pv(details)["domias"]
        lo, hi = p["ci95"]
        return (f"a density attack (synthetic over holdout density, DOMIAS) tells training rare rows from unseen "
                f"ones with AUC {value:.2f} (95% interval {lo:.2f} to {hi:.2f}; {p['members']} members vs "
                f"{p['non_members']} holdout rows; chance: 0.50)")


class _AnonymeterRisk(Metric):
    """An Anonymeter risk, measured by the privacy stage (``anonymeter_attacks``)."""

    goal, range, stage = "minimize", (0.0, 1.0), "privacy"
    subscore, scoring = "privacy", "evidence"  # scored at the low end of its interval, as the gate judges it

    def normalize(self, value: float) -> float:
        return 1.0 - value / 0.25


class _AttackRisk(_AnonymeterRisk):
    attack = ""  # the key of its details under details.privacy.anonymeter
    what = ""

    def explain(self, value: float, details: dict) -> str:
        a = _pv(details)["anonymeter"][self.attack]
        extra = ""
        if self.attack == "linkability":
            extra = (f" (an attacker holding {', '.join(a['columns'][0])} from one source and "
                     f"{', '.join(a['columns'][1])} from another)")
        return (f"{self.what} {a['main_rate']:.1%} of training rare rows{extra}, against {a['control_rate']:.1%} of "
                f"unseen holdout rare rows (control) and {a['baseline_rate']:.1%} for a random guess: risk "
                f"{value:.1%} ({_pct_ci(a['ci95'])}, {a['n_attacks']} attacks)")


class SinglingOutRisk(_AttackRisk):
    name = "privacy.singling_out_risk"
    description = ("Anonymeter singling-out risk: share of train rare rows singled out by queries built from the "
                   "synthetic rows beyond the share of holdout rare rows they single out, (main - control) / "
                   "(1 - control)")
    attack, what = "singling_out", "queries built from the synthetic rows single out"


class LinkabilityRisk(_AttackRisk):
    name = "privacy.linkability_risk"
    description = ("Anonymeter linkability risk: train rare rows whose two column halves the synthetic rows link "
                   "(same nearest synthetic row) beyond holdout rare rows, (main - control) / (1 - control)")
    attack, what = "linkability", "the synthetic rows link the two halves of"


class InferenceRisk(_AnonymeterRisk):
    name = "privacy.inference_risk"
    description = ("Anonymeter inference risk of the most exposed protected or sensitive column: correct guesses of "
                   "the secret from the other columns on train rare rows beyond holdout rare rows, (main - control) "
                   "/ (1 - control)")

    def explain(self, value: float, details: dict) -> str:
        inf = _pv(details)["anonymeter"]["inference"]
        a = inf["secrets"][inf["worst"]]
        known = a["aux_columns"]
        shown = ", ".join(known[:4]) + (f" and {len(known) - 4} more" if len(known) > 4 else "")
        points = 100 * (a["main_rate"] - a["control_rate"])
        how = f"{points:.0f} points more often" if points >= 0 else f"{-points:.0f} points less often"
        which = ("the only secret column" if len(inf["secrets"]) == 1 else
                 f"the largest of {len(inf['secrets'])} secret columns")
        return (f"an attacker who knows a rare row's {shown} infers its {inf['worst']} correctly {how} for training "
                f"rare rows ({a['main_rate']:.1%}) than for unseen holdout rare rows ({a['control_rate']:.1%}, the "
                f"control; random guess {a['baseline_rate']:.1%}): risk {value:.1%} ({_pct_ci(a['ci95'])}; {which})")


class OutlierExposure(Metric):
    """Exposure of the most isolated rare rows, measured by the privacy stage (``outlier_exposure``)."""

    name = "leakage.outlier_exposure"
    goal, range, stage = "minimize", (-1.0, 1.0), "privacy"
    subscore, scoring = "privacy", "evidence"  # scored at the low end of its interval, as the gate judges it
    description = ("Share of the 5% most isolated train rare rows with a synthetic row within half the distance "
                   "to their nearest other real rare row, minus the same share for the 5% most isolated holdout "
                   "rare rows (0 by chance)")

    def normalize(self, value: float) -> float:
        return 1.0 - max(0.0, value) / 0.25

    def explain(self, value: float, details: dict) -> str:
        o = _pv(details)["outlier_exposure"]
        tr, ho = o["train"], o["holdout"]
        return (f"of the {tr['isolated']} most isolated training rare rows (top {o['share']:.0%} by distance to "
                f"their {o['k']}th nearest real rare row), {tr['exposed']} ({tr['exposed_share']:.0%}) have a "
                f"synthetic row within half the distance to their nearest other real rare row, against "
                f"{ho['exposed']} of {ho['isolated']} ({ho['exposed_share']:.0%}) isolated unseen holdout rows "
                f"(chance): excess {value:+.1%} ({_signed_ci(o['ci95'])})")


NAMES = (DomiasAUC.name, SinglingOutRisk.name, LinkabilityRisk.name, InferenceRisk.name, OutlierExposure.name)


# --------------------------------------------------------------------------- distances and densities
def _blocks(zq: np.ndarray, cq: np.ndarray, zr: np.ndarray, cr: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """Squared DCR distances from query rows to every reference row, a chunk of query rows at a time.

    Same arithmetic as leakage.nearest: |q|^2 + |r|^2 - 2 q.r over the float block, plus the count
    of differing codes; clipped at 0 (rounding). Memory: BLOCK_ELEMENTS cells per chunk.
    """
    nq, nr = len(zq), len(zr)
    rows = max(1, min(max(nq, 1), BLOCK_ELEMENTS // max(nr, 1)))
    rsq = np.einsum("ij,ij->i", zr, zr)
    qsq = np.einsum("ij,ij->i", zq, zq)
    crt = np.ascontiguousarray(cr.T)
    zrt = np.ascontiguousarray(zr.T)
    for start in range(0, nq, rows):
        stop = min(nq, start + rows)
        b = zq[start:stop] @ zrt
        b *= -2.0
        b += qsq[start:stop, None]
        b += rsq[None, :]
        for c in range(cq.shape[1]):
            b += cq[start:stop, c, None] != crt[c][None, :]
        np.maximum(b, 0.0, out=b)
        yield start, stop, b


def log_density(zq: np.ndarray, cq: np.ndarray, zr: np.ndarray, cr: np.ndarray, h: float = BANDWIDTH) -> np.ndarray:
    """log of mean_j exp(-d(q, r_j)^2 / (2 h^2)) for every query row: an unnormalised kernel density
    (the constant is the same for every reference set, so it cancels in a density ratio).
    Log-sum-exp per query row, shifted by the row's largest term, so far rows never underflow to -inf."""
    out = np.empty(len(zq))
    for start, stop, b in _blocks(zq, cq, zr, cr):
        b *= -1.0 / (2.0 * h * h)
        top = b.max(axis=1)
        b -= top[:, None]
        np.exp(b, out=b)
        out[start:stop] = top + np.log(b.sum(axis=1))
    return out - math.log(len(zr))


def _auc_fast(pos: np.ndarray, neg: np.ndarray) -> float:
    """ROC AUC (positives should score higher), ties counted half; equal to leakage._auc."""
    s = np.sort(neg)
    below = np.searchsorted(s, pos, side="left")
    upto = np.searchsorted(s, pos, side="right")
    return float((below.sum() + 0.5 * (upto - below).sum()) / (len(pos) * len(neg)))


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a proportion k / n."""
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(k1: int, n1: int, k2: int, n2: int) -> list[float]:
    """95% interval of k1/n1 - k2/n2: Newcombe's hybrid score method (1998, method 10), sound for small counts."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1)
    l2, u2 = wilson_interval(k2, n2)
    d = p1 - p2
    return [float(max(-1.0, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2))),
            float(min(1.0, d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)))]


def _percentile_ci(replicates: np.ndarray, lo: float, hi: float) -> list[float]:
    a, b = np.percentile(replicates, [2.5, 97.5])
    return [float(max(lo, a)), float(min(hi, b))]


# --------------------------------------------------------------------------- DOMIAS
def domias(frames: Frames, seed: int, encoder: MixedEncoder | None = None
           ) -> tuple[float, list[float] | None, dict, str | None]:
    """DOMIAS AUC, its 95% interval, details, and a reason when it cannot be measured."""
    enc = encoder or MixedEncoder(frames)
    tr, ho, sy = (np.flatnonzero(frames.rare(p)) for p in ("train", "holdout", "synthetic"))
    if len(tr) < MIN_ROWS or len(ho) < 2 * MIN_ROWS or len(sy) < MIN_ROWS:
        return float("nan"), None, {}, (f"DOMIAS needs at least {MIN_ROWS} train, {2 * MIN_ROWS} holdout and "
                                        f"{MIN_ROWS} synthetic rare rows; found {len(tr)}, {len(ho)} and {len(sy)}")
    rng = np.random.default_rng([seed, 21])
    n_syn = len(sy)
    if n_syn > MAX_SYNTHETIC:
        sy = np.sort(rng.choice(sy, size=MAX_SYNTHETIC, replace=False))
    members = np.sort(rng.choice(tr, size=min(len(tr), DOMIAS_ROWS), replace=False))
    hold = rng.permutation(ho)[: 2 * DOMIAS_ROWS]
    half = len(hold) // 2
    folds = [np.sort(hold[:half]), np.sort(hold[half:])]

    def enc_rows(part: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return enc.transform(frames.num[part][idx], frames.cat[part][idx])

    zs, cs = enc_rows("synthetic", sy)
    zm, cm = enc_rows("train", members)
    zf = [enc_rows("holdout", f) for f in folds]
    syn_m = log_density(zm, cm, zs, cs)
    syn_f = [log_density(z, c, zs, cs) for z, c in zf]
    scores = []  # per fold: (member scores, non-member scores), density of the other fold as reference
    for i in (0, 1):
        ref = zf[1 - i]
        s_mem = syn_m - log_density(zm, cm, *ref)
        s_non = syn_f[i] - log_density(*zf[i], *ref)
        scores.append((s_mem, s_non))
    aucs = [_auc_fast(m, n) for m, n in scores]
    value = float(np.mean(aucs))
    boot = np.empty(BOOTSTRAP)
    brng = np.random.default_rng([seed, 22])
    nm = len(members)
    for b in range(BOOTSTRAP):
        take = brng.integers(0, nm, nm)  # the same members in both folds
        reps = []
        for s_mem, s_non in scores:
            reps.append(_auc_fast(s_mem[take], s_non[brng.integers(0, len(s_non), len(s_non))]))
        boot[b] = np.mean(reps)
    ci = _percentile_ci(boot, 0.0, 1.0)
    details = {
        "estimator": (f"kernel density on the DCR encoding, K(x, y) = exp(-d(x, y)^2 / (2 h^2)), h = {BANDWIDTH} "
                      f"(standardised units; a differing category weighs {math.exp(-1 / (2 * BANDWIDTH ** 2)):.3g})"),
        "score": "log p_synthetic(x) - log p_reference(x); reference = the other half of the holdout rare rows",
        "bandwidth": BANDWIDTH,
        "members": int(nm),
        "non_members": int(sum(len(f) for f in folds)),
        "reference_rows": [int(len(folds[1])), int(len(folds[0]))],
        "synthetic_rows": int(len(sy)),
        "synthetic_rows_total": int(n_syn),
        "fold_auc": [float(a) for a in aucs],
        "member_median_score": float(np.median(np.concatenate([s for s, _ in scores]))),
        "non_member_median_score": float(np.median(np.concatenate([s for _, s in scores]))),
        "ci95": ci,
        "interval": (f"seeded bootstrap, {BOOTSTRAP} replicates, members and non-members resampled; the densities "
                     "(synthetic rows, reference halves) held fixed"),
    }
    return value, ci, details, None


# --------------------------------------------------------------------------- outlier exposure
def _real_neighbours(z: np.ndarray, c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For every row: distance to its nearest other row (recomputed exactly, so duplicates give 0) and to
    its k-th nearest other row (from the chunked product: a ranking, exact to rounding)."""
    n = len(z)
    first = np.empty(n)
    kth = np.empty(n)
    kk = min(k, n - 1)
    for start, stop, b in _blocks(z, c, z, c):
        rows = np.arange(start, stop)
        b[rows - start, rows] = np.inf
        col = np.argmin(b, axis=1)
        diff = z[rows] - z[col]
        first[start:stop] = np.sqrt(np.einsum("ij,ij->i", diff, diff) + (c[rows] != c[col]).sum(axis=1))
        kth[start:stop] = np.sqrt(np.partition(b, kk - 1, axis=1)[:, kk - 1])
    return first, kth


def isolation(z: np.ndarray, c: np.ndarray, k: int = K_ISOLATION) -> np.ndarray:
    """Each row's distance to its k-th nearest other row (DCR encoding ``z``, ``c``): larger = more isolated."""
    return _real_neighbours(z, c, k)[1]


def outlier_exposure(frames: Frames, seed: int, encoder: MixedEncoder | None = None
                     ) -> tuple[float, list[float] | None, dict, str | None]:
    """Exposure of the most isolated train rare rows minus that of the most isolated holdout rare rows.

    ``seed`` is taken for a uniform signature; nothing here is random (the interval is Newcombe's)."""
    enc = encoder or MixedEncoder(frames)
    tr, ho, sy = (np.flatnonzero(frames.rare(p)) for p in ("train", "holdout", "synthetic"))
    n_tr_iso, n_ho_iso = (math.ceil(ISOLATED_SHARE * len(x)) for x in (tr, ho))
    if min(n_tr_iso, n_ho_iso) < MIN_ISOLATED or len(sy) == 0:
        need = math.floor((MIN_ISOLATED - 1) / ISOLATED_SHARE) + 1
        return float("nan"), None, {}, (f"outlier exposure needs at least {need} train and {need} holdout rare rows "
                                        f"({MIN_ISOLATED} isolated rows each); found {len(tr)} and {len(ho)}")
    zt, ct = enc.transform(frames.num["train"][tr], frames.cat["train"][tr])
    zh, ch = enc.transform(frames.num["holdout"][ho], frames.cat["holdout"][ho])
    zs, cs = enc.transform(frames.num["synthetic"][sy], frames.cat["synthetic"][sy])
    z, c = np.vstack([zt, zh]), np.vstack([ct, ch])
    first, kth = _real_neighbours(z, c, K_ISOLATION)
    sides = {}
    for name, lo, hi, n_iso in (("train", 0, len(tr), n_tr_iso), ("holdout", len(tr), len(tr) + len(ho), n_ho_iso)):
        order = lo + np.lexsort((np.arange(hi - lo), -kth[lo:hi]))[:n_iso]  # most isolated first, ties by position
        d_syn, _ = nearest(z[order], c[order], zs, cs)
        sides[name] = (order, d_syn, d_syn < EXPOSURE_FACTOR * first[order])
    e_tr, e_ho = sides["train"][2], sides["holdout"][2]
    value = float(e_tr.mean() - e_ho.mean())
    ci = newcombe_interval(int(e_tr.sum()), len(e_tr), int(e_ho.sum()), len(e_ho))
    order, d_syn, exposed = sides["train"]
    ratio = d_syn / np.maximum(first[order], 1e-300)
    rank = np.lexsort((order, ratio))
    top = [{"train_row": int(tr[order[i]]), "nearest_synthetic": float(d_syn[i]),
            "nearest_real": float(first[order[i]]), "isolation": float(kth[order[i]])}
           for i in rank if exposed[i]][:TOP_EXPOSED]
    details = {
        "share": ISOLATED_SHARE,
        "k": K_ISOLATION,
        "isolation": (f"distance (DCR encoding) to the {K_ISOLATION}th nearest other real rare row, train and holdout "
                      "pooled, so both sides are ranked against the same rows"),
        "exposed_if": (f"distance to the nearest synthetic rare row < {EXPOSURE_FACTOR} x distance to the nearest "
                       "other real rare row"),
        "train": {"isolated": int(len(e_tr)), "exposed": int(e_tr.sum()), "exposed_share": float(e_tr.mean()),
                  "median_isolation": float(np.median(kth[sides["train"][0]]))},
        "holdout": {"isolated": int(len(e_ho)), "exposed": int(e_ho.sum()), "exposed_share": float(e_ho.mean()),
                    "median_isolation": float(np.median(kth[sides["holdout"][0]]))},
        "most_exposed": top,
        "most_exposed_note": "rows named by their position in real_train (0-based), never by value; distances in "
                             "DCR units",
        "ci95": ci,
        "interval": "Newcombe's hybrid score interval for a difference of two proportions (Wilson interval per side)",
    }
    return value, ci, details, None


# --------------------------------------------------------------------------- Anonymeter
@contextmanager
def _seeded_anonymeter(seed: int) -> Iterator[None]:
    """Make Anonymeter's draws follow ``seed`` and give the same bytes every run; put everything back after.

    Read in anonymeter 1.1.0's source: attack targets and the inference baseline come from pandas
    ``sample`` (numpy's global RandomState); the linkability baseline from an unseeded
    ``np.random.default_rng()`` (linkability_evaluator._random_links); the singling-out baseline
    picks values from polars ``unique()`` lists, whose order changes from run to run
    (singling_out_evaluator._random_queries). Here the global state is seeded and restored, and the
    two baselines are swapped for the same draws from a seeded Generator and from first-seen-order
    value lists, under a lock (all of it is process-wide). The main attacks are Anonymeter's own.
    """
    from anonymeter.evaluators import linkability_evaluator as le
    from anonymeter.evaluators import singling_out_evaluator as so

    gen = np.random.default_rng([seed, 41])

    def random_links(n_synthetic: int, n_attacks: int, n_neighbors: int) -> np.ndarray:
        return np.array([gen.choice(n_synthetic, size=n_neighbors, replace=False) for _ in range(n_attacks)])

    def random_queries(df, n_queries: int, n_cols: int, rng: np.random.Generator) -> list:
        unique_values = {col: df[col].unique(maintain_order=True).to_list() for col in df.columns}
        column_types = {col: so._convert_polars_dtype(df[col].dtype) for col in df.columns}
        queries = []
        for _ in range(n_queries):
            selected = rng.choice(df.columns, size=n_cols, replace=False).tolist()
            queries.append(so._random_query(unique_values=unique_values, cols=selected, column_types=column_types,
                                            rng=rng))
        return queries

    with _LOCK:
        state = np.random.get_state()
        originals = le._random_links, so._random_queries
        np.random.seed(int(np.random.default_rng([seed, 42]).integers(2**32)))
        le._random_links, so._random_queries = random_links, random_queries
        try:
            yield
        finally:
            le._random_links, so._random_queries = originals
            np.random.set_state(state)


_JIT_CACHED = False
_BASELINE_NOTE = ("anonymeter 1.1.0 aligns the random guesses of the inference baseline to the targets by index "
                  "(reindex_like), so most of them count as misses and the baseline rate is too low; it is reported "
                  "as Anonymeter gives it and does not enter the risk")


def _cache_jit() -> None:
    """Keep Anonymeter's numba-compiled neighbour search on disk: compiling it costs 13-18 s per process
    on the project VM, loading it ~1 s. Falls back to compiling when no cache folder is writable."""
    global _JIT_CACHED
    if _JIT_CACHED:
        return
    from anonymeter.neighbors import mixed_types_kneighbors as mk

    for fn in (mk.gower_distance, mk._nearest_neighbors):
        try:
            fn.enable_caching()
        except Exception:  # noqa: BLE001 - numba raises RuntimeError without a writable cache location
            pass
    _JIT_CACHED = True


def _attack_frame(frames: Frames, part: str, rows: np.ndarray, names: list[str]) -> pd.DataFrame:
    """Rows in Anonymeter's terms: numbers as floats (datetimes in seconds), categories as strings."""
    cols = {}
    num_j = {s.name: j for j, s in enumerate(frames.numeric)}
    cat_j = {s.name: j for j, s in enumerate(frames.categorical)}
    for i, name in enumerate(names):
        if name in num_j:
            cols[f"c{i}"] = frames.num[part][rows, num_j[name]]
        else:
            j = cat_j[name]
            vocab = np.array(list(frames.vocab[j]) + ["\x00missing"], dtype=object)
            codes = frames.cat[part][rows, j]
            cols[f"c{i}"] = vocab[np.where(codes < 0, len(vocab) - 1, codes)]
    return pd.DataFrame(cols)


def _distinct(df: pd.DataFrame) -> pd.DataFrame:
    """First occurrence of each distinct row, by Anonymeter's own rule (polars ``unique``)."""
    import polars as pl

    first = pl.DataFrame(df).select(pl.struct(pl.all()).is_first_distinct()).to_series().to_numpy()
    return df[first].reset_index(drop=True)


def _attack_result(res, risk, n_attacks: int) -> dict:
    return {
        "n_attacks": int(n_attacks),
        "main_successes": float(res.n_success),
        "control_successes": None if res.n_control is None else float(res.n_control),
        "baseline_successes": float(res.n_baseline),
        "main_rate": float(res.attack_rate.value),
        "control_rate": float(res.control_rate.value),
        "baseline_rate": float(res.baseline_rate.value),
        "risk": float(risk.value),
        "ci95": [float(risk.ci[0]), float(risk.ci[1])],
    }


class _Notes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _collect(notes: list[str]) -> Iterator[None]:
    """Anonymeter's warnings (log records and warnings) into ``notes`` instead of the console."""
    handler = _Notes()
    log = logging.getLogger("anonymeter")
    log.addHandler(handler)
    propagate = log.propagate
    log.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        notes.extend(dict.fromkeys(handler.messages + [str(w.message) for w in caught]))  # each once, in order
    finally:
        log.removeHandler(handler)
        log.propagate = propagate


def anonymeter_attacks(frames: Frames, seed: int, secrets: Sequence[str] = (),
                       link_split: tuple[Sequence[str], Sequence[str]] | None = None
                       ) -> tuple[dict[str, float], dict[str, list[float]], dict, dict[str, str]]:
    """Anonymeter's singling out, linkability and inference on the rare rows: values, intervals, details, reasons.

    - Columns: the modelled columns (no identifiers, keys, personal data; not the target, which is
      constant over rare rows), numbers as floats, categories as strings, renamed c0..cN for
      polars' query builder (details give the real names).
    - Main = real_train rare rows, control = real_holdout rare rows, each deduplicated as
      Anonymeter does, and the larger cut to the smaller one's size by a seeded draw: singling out
      then compares like with like without Anonymeter's size correction (which samples with an
      unseeded polars RNG). Attacks per evaluator: min(N_ATTACKS, control rows). Synthetic: the
      rare rows, at most MAX_SYNTHETIC of them (a seeded sample; Anonymeter's neighbour search is
      brute force, one query at a time).
    - Singling out: multivariate queries on min(SO_COLUMNS, columns) columns (Anonymeter's
      univariate mode shuffles a list whose order polars does not fix, so it is not used).
    - Linkability: the columns in table order, first half (rounded up) vs the rest, unless
      ``link_split`` names the two halves; LINK_NEIGHBOURS nearest synthetic row.
    - Inference: each secret (protected and sensitive columns) guessed from all other columns by
      the nearest synthetic row; numbers count as right within Anonymeter's 5% relative tolerance.
      The value is the largest risk; every column's figures are in the details.
    """
    names_all = {s.name for s in frames.modelled}
    cols = [c for c in frames.train.columns if c in names_all]
    halves = _link_halves(cols, names_all, link_split)
    values = {SinglingOutRisk.name: float("nan"), LinkabilityRisk.name: float("nan"), InferenceRisk.name: float("nan")}
    ci: dict[str, list[float]] = {}
    reasons: dict[str, str] = {}
    try:  # optional dependency, imported only here
        import anonymeter.evaluators  # noqa: F401
    except ImportError:
        why = ("the optional package 'anonymeter' is not installed: pip install numba polars, then "
               "pip install --no-deps anonymeter==1.1.0 (its metadata pins numpy<1.27 and pyarrow<22)")
        return values, ci, {}, {k: why for k in values}
    data = _attack_data(frames, seed, cols, len(secrets))
    if isinstance(data, str):
        return values, ci, {}, {k: data for k in values}
    details: dict = {"columns": cols, "rows": data.rows}
    details["method"] = ("anonymeter 1.1.0 evaluators; main = train rare rows, control = holdout rare rows (both "
                         "deduplicated, the larger cut to the smaller's size), baseline = random guessing; risk = "
                         "(main - control) / (1 - control) with Wilson rates and a propagated 95% error, clipped to "
                         "[0, 1]")
    so = _singling_out(data)
    details["singling_out"] = so
    values[SinglingOutRisk.name], ci[SinglingOutRisk.name] = so["risk"], so["ci95"]
    if not halves[0] or not halves[1]:
        reasons[LinkabilityRisk.name] = (f"linkability needs two non-empty column halves; the table has "
                                         f"{len(cols)} modelled column(s)")
    else:
        lk = _linkability(data, halves)
        details["linkability"] = lk
        values[LinkabilityRisk.name], ci[LinkabilityRisk.name] = lk["risk"], lk["ci95"]
    per, skipped = _inference(data, frames, secrets)
    if per:
        worst = max(per, key=lambda k: (per[k]["risk"], per[k]["ci95"][1]))
        details["inference"] = {"secrets": per, "worst": worst, "skipped": skipped, "baseline_note": _BASELINE_NOTE}
        values[InferenceRisk.name], ci[InferenceRisk.name] = per[worst]["risk"], per[worst]["ci95"]
    else:
        details["inference"] = {"secrets": {}, "worst": None, "skipped": skipped}
        reasons[InferenceRisk.name] = ("no protected or sensitive column to use as the secret" if not secrets else
                                       "no declared secret column can be attacked: " +
                                       "; ".join(f"'{k}': {v}" for k, v in skipped.items()))
    return values, ci, details, reasons


def _link_halves(cols: list[str], names_all: set[str], link_split: tuple[Sequence[str], Sequence[str]] | None
                 ) -> tuple[list[str], list[str]]:
    """The two column halves of the linkability attack: ``link_split``, checked, or the table's halves."""
    if link_split is None:
        cut = math.ceil(len(cols) / 2)
        return cols[:cut], cols[cut:]
    halves = (list(link_split[0]), list(link_split[1]))
    for col in halves[0] + halves[1]:
        if col not in names_all:
            raise EvaluationError(f"link_split: column '{col}' is not a modelled column "
                                  f"(expected some of: {', '.join(cols)})")
    return halves


@dataclass
class _AttackData:
    """What every Anonymeter attack runs on: main (train) and control (holdout) rare rows of one size, the
    synthetic rows, the columns and their c0..cN aliases, attacks per evaluator, and one seed per attack."""

    ori: pd.DataFrame
    control: pd.DataFrame
    syn: pd.DataFrame
    cols: list[str]
    alias: dict[str, str]
    n: int
    seeds: list[int]
    rows: dict[str, int]


def _attack_data(frames: Frames, seed: int, cols: list[str], n_secrets: int) -> _AttackData | str:
    """The attack sets (deduplicated, cut to one size, synthetic rows sampled; seeded), or why there are too
    few rows."""
    tr, ho, sy = (np.flatnonzero(frames.rare(p)) for p in ("train", "holdout", "synthetic"))
    ori = _distinct(_attack_frame(frames, "train", tr, cols))
    control = _distinct(_attack_frame(frames, "holdout", ho, cols))
    distinct = {"train_distinct": int(len(ori)), "holdout_distinct": int(len(control))}
    rng = np.random.default_rng([seed, 40])
    n_syn = len(sy)
    if n_syn > MAX_SYNTHETIC:
        sy = np.sort(rng.choice(sy, size=MAX_SYNTHETIC, replace=False))
    syn = _attack_frame(frames, "synthetic", sy, cols)
    size = min(len(ori), len(control))
    if size < MIN_ROWS or len(syn) < MIN_ROWS:
        return (f"Anonymeter's attacks need at least {MIN_ROWS} distinct train and holdout rare rows and {MIN_ROWS} "
                f"synthetic rare rows; found {len(ori)}, {len(control)} and {len(syn)}")
    ori = ori.iloc[np.sort(rng.choice(len(ori), size, replace=False))].reset_index(drop=True)
    control = control.iloc[np.sort(rng.choice(len(control), size, replace=False))].reset_index(drop=True)
    _cache_jit()
    seeds = [int(s) for s in np.random.default_rng([seed, 43]).integers(0, 2**31, 2 + n_secrets)]
    rows = {"train": int(size), "holdout": int(size), "synthetic": int(len(syn)), "synthetic_total": int(n_syn),
            **distinct}
    return _AttackData(ori, control, syn, cols, {name: f"c{i}" for i, name in enumerate(cols)},
                       min(N_ATTACKS, size), seeds, rows)


def _singling_out(data: _AttackData) -> dict:
    """Anonymeter's singling-out attack (multivariate queries)."""
    from anonymeter.evaluators import SinglingOutEvaluator

    notes: list[str] = []
    mode = "multivariate"  # with one column too (n_cols = 1): the univariate mode orders its queries by polars
    n_cols = min(SO_COLUMNS, len(data.cols))
    with _seeded_anonymeter(data.seeds[0]), _collect(notes):
        ev = SinglingOutEvaluator(data.ori, data.syn, n_attacks=N_ATTACKS, n_cols=n_cols, control=data.control,
                                  max_attempts=SO_MAX_ATTEMPTS, seed=data.seeds[0]).evaluate(mode=mode)
        res, risk = ev.results(), ev.risk()
    return _attack_result(res, risk, N_ATTACKS) | {"mode": mode, "columns_per_query": n_cols, "notes": notes}


def _linkability(data: _AttackData, halves: tuple[list[str], list[str]]) -> dict:
    """Anonymeter's linkability attack between the two column halves."""
    from anonymeter.evaluators import LinkabilityEvaluator

    notes: list[str] = []
    aux = ([data.alias[c] for c in halves[0]], [data.alias[c] for c in halves[1]])
    with _seeded_anonymeter(data.seeds[1]), _collect(notes):
        ev = LinkabilityEvaluator(data.ori, data.syn, aux_cols=aux, n_attacks=data.n, control=data.control,
                                  n_neighbors=LINK_NEIGHBOURS).evaluate(n_jobs=N_JOBS)
        res, risk = ev.results(), ev.risk()
    return _attack_result(res, risk, data.n) | {"columns": [list(halves[0]), list(halves[1])],
                                                 "n_neighbors": LINK_NEIGHBOURS, "notes": notes}


def _inference(data: _AttackData, frames: Frames, secrets: Sequence[str]) -> tuple[dict[str, dict], dict[str, str]]:
    """Anonymeter's inference attack on each secret column: the results, and the secrets it cannot attack."""
    from anonymeter.evaluators import InferenceEvaluator

    kinds = {s.name: s.kind.is_numeric for s in frames.modelled}
    per: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    for i, secret in enumerate(secrets):
        if secret not in data.alias:
            skipped[secret] = "not a modelled column (identifier, key, personal data or the target)"
            continue
        aux = [c for c in data.cols if c != secret]
        if not aux:
            skipped[secret] = "no other column to infer it from"
            continue
        notes: list[str] = []
        with _seeded_anonymeter(data.seeds[2 + i]), _collect(notes):
            ev = InferenceEvaluator(data.ori, data.syn, aux_cols=[data.alias[c] for c in aux],
                                    secret=data.alias[secret], regression=bool(kinds[secret]), n_attacks=data.n,
                                    control=data.control).evaluate(n_jobs=N_JOBS)
            res, risk = ev.results(), ev.risk()
        per[secret] = _attack_result(res, risk, data.n) | {"aux_columns": aux, "regression": bool(kinds[secret]),
                                                            "notes": notes}
    return per, skipped


# --------------------------------------------------------------------------- the family
def privacy(frames: Frames, seed: int, sensitive: Sequence[str] = (), *,
            link_split: tuple[Sequence[str], Sequence[str]] | None = None) -> tuple[dict[str, float], dict]:
    """DOMIAS, Anonymeter's three attacks and outlier exposure: (values, details) like leakage.leakage,
    with ``details["ci95"]`` = {metric: [lo, hi]} and ``details["not_measured"]`` = {metric: reason}."""
    for col in sensitive:
        if col not in frames.train.columns:
            raise EvaluationError(f"sensitive column '{col}' is not in the table")
        if col == frames.target:
            raise EvaluationError(f"sensitive column '{col}' is the target")
    secrets = list(dict.fromkeys([*frames.protected, *sensitive]))
    enc = MixedEncoder(frames)
    values: dict[str, float] = {}
    ci: dict[str, list[float]] = {}
    not_measured: dict[str, str] = {}
    details: dict = {}
    for name, fn, key in ((DomiasAUC.name, domias, "domias"),
                          (OutlierExposure.name, outlier_exposure, "outlier_exposure")):
        v, interval, det, why = fn(frames, seed, enc)
        values[name] = v
        details[key] = det
        if interval is not None:
            ci[name] = interval
        if why:
            not_measured[name] = why
    a_values, a_ci, a_details, a_reasons = anonymeter_attacks(frames, seed, secrets, link_split)
    values.update(a_values)
    ci.update(a_ci)
    not_measured.update(a_reasons)
    details["anonymeter"] = a_details
    details["secrets"] = secrets
    details["ci95"] = ci
    details["not_measured"] = not_measured
    return {name: values[name] for name in NAMES}, details
