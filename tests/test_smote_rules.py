"""Where we compute an imbalanced-learn rule ourselves (to fit once and sample fast), the rows must be
imbalanced-learn's own: same stored rows and seed in, identical rows out. On the shared fraud table."""

from __future__ import annotations

import numpy as np
import pytest

from synthgen.models import make_generator
from synthgen.models.smote import vdm_pairwise

SEEDS = (0, 7)


def _stored(gen):
    """The encoded rows the generator handed imblearn, as imblearn's anchor would see them."""
    st = gen.states_[0]
    n_rare, n_other = len(st["rare_numeric"]), len(st["other_numeric"])
    return st, np.r_[np.ones(n_rare, int), np.zeros(n_other, int)]


@pytest.fixture(scope="module")
def svm_smote(fraud_shared):
    return make_generator("svm-smote", random_state=0).fit(fraud_shared, target="fraud")


@pytest.fixture(scope="module")
def smote_n(fraud_shared):
    return make_generator("smote-n", random_state=0).fit(fraud_shared, target="fraud")


def test_svm_smote_rows_equal_imblearn(svm_smote, seed=7):
    # imblearn fits its SVM on the dense matrix, ours on the sparse one: equal rows also show the
    # support vectors are the same
    from imblearn.over_sampling import SVMSMOTE

    gen = svm_smote
    st, y = _stored(gen)
    X = np.vstack([gen._matrix(st["rare_numeric"], st["rare_codes"]), gen._matrix(st["other_numeric"], st["other_codes"])])
    assert len(st["svm_danger_base"]) and len(st["svm_safe_base"])  # both halves of the rule are exercised
    n = 3_000
    X_res, _ = SVMSMOTE(sampling_strategy={1: int(y.sum()) + n}, random_state=seed).fit_resample(X, y)
    theirs = gen._decode(X_res[len(X):])
    ours = gen._rows(st, n, seed)
    np.testing.assert_array_equal(ours.numeric, theirs.numeric)
    np.testing.assert_array_equal(ours.codes, theirs.codes)


def test_vdm_pairwise_is_imblearns_bit_for_bit(smote_n):
    from imblearn.metrics.pairwise import ValueDifferenceMetric

    gen = smote_n
    st, y = _stored(gen)
    X = np.vstack([np.hstack([gen._binned(st["rare_numeric"], st["edges"]), st["rare_codes"]]),
                   np.hstack([gen._binned(st["other_numeric"], st["edges"]), st["other_codes"]])]).astype(np.int32)
    vdm = ValueDifferenceMetric(n_categories=X.max(axis=0) + 1).fit(X, y)
    sub = X[:300]
    np.testing.assert_array_equal(vdm_pairwise(vdm, sub), vdm.pairwise(sub))


@pytest.mark.parametrize("seed", SEEDS)
def test_smote_n_rows_equal_imblearn(smote_n, seed):
    from imblearn.over_sampling import SMOTEN

    gen = smote_n
    st, y = _stored(gen)
    X = np.vstack([np.hstack([gen._binned(st["rare_numeric"], st["edges"]), st["rare_codes"]]),
                   np.hstack([gen._binned(st["other_numeric"], st["edges"]), st["other_codes"]])])
    n = 3_000
    X_res, _ = SMOTEN(sampling_strategy={1: int(y.sum()) + n}, random_state=seed).fit_resample(X, y)
    # SMOTEN picks its base rows with RandomState(seed).choice; the rows it makes are our stored modes
    base = np.random.RandomState(seed).choice(np.arange(int(y.sum())), size=n, replace=True)
    np.testing.assert_array_equal(st["modes"][base], X_res[len(X):].astype(np.int32))
