"""Where we compute an imbalanced-learn rule ourselves (its data-only half once at fit, the random half
per block), the rows must be imbalanced-learn's own: same stored rows and seed in, identical rows out,
bit for bit. On the shared fraud table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgen.models import make_generator
from synthgen.models.encoding import ModelData
from synthgen.models.smote import vdm_pairwise

SEEDS = (0, 7)


def argmax_blocks(matrix: np.ndarray, cardinalities: list[int]) -> np.ndarray:
    """imblearn's rows back to codes: the largest entry of each one-hot block."""
    codes = np.empty((matrix.shape[0], len(cardinalities)), dtype=np.int32)
    offset = 0
    for j, card in enumerate(cardinalities):
        codes[:, j] = matrix[:, offset : offset + card].argmax(axis=1)
        offset += card
    return codes


def _stored(gen):
    """A fitted state and the rows it hands imblearn, as imblearn's own sampler takes them."""
    st = gen.states_[0]
    return (st, *gen._imblearn_input(st))


@pytest.fixture(scope="module")
def smote_n(fraud_shared):
    return make_generator("smote-n", random_state=0).fit(fraud_shared, target="fraud")


def _imblearn(name: str, strategy: dict, seed: int, gen):
    from imblearn.over_sampling import ADASYN, SMOTE, SVMSMOTE, BorderlineSMOTE, KMeansSMOTE
    from sklearn.cluster import MiniBatchKMeans

    return {
        "smote": lambda: SMOTE(sampling_strategy=strategy, random_state=seed),
        "borderline-smote": lambda: BorderlineSMOTE(sampling_strategy=strategy, random_state=seed),
        "borderline-smote-2": lambda: BorderlineSMOTE(sampling_strategy=strategy, kind="borderline-2", random_state=seed),
        # imblearn fits the SVM on the dense matrix, ours on the sparse one: equal rows also show
        # the support vectors are the same
        "svm-smote": lambda: SVMSMOTE(sampling_strategy=strategy, random_state=seed),
        "adasyn": lambda: ADASYN(sampling_strategy=strategy, random_state=seed),
        # our clustering is done once at fit, seeded from the fit seed: give imblearn that clustering
        "kmeans-smote": lambda: KMeansSMOTE(
            sampling_strategy=strategy, k_neighbors=2, cluster_balance_threshold=0.05, random_state=seed,
            kmeans_estimator=MiniBatchKMeans(n_clusters=4, n_init=3, random_state=gen.states_[0]["kmeans_seed"])),
    }[name]()


PARAMS = {"kmeans-smote": {"n_clusters": 4, "cluster_balance_threshold": 0.05}}


@pytest.mark.parametrize("name", ["smote", "borderline-smote", "borderline-smote-2", "svm-smote", "adasyn",
                                  "kmeans-smote"])
def test_rows_equal_imblearn_for_the_same_seed(fraud_shared, name):
    gen = make_generator(name, random_state=0, **PARAMS.get(name, {})).fit(fraud_shared, target="fraud")
    st, X, y = _stored(gen)
    n, seed = 3_000, 7
    X_res, _ = _imblearn(name, {1: int(y.sum()) + n}, seed, gen).fit_resample(X, y)
    new, p = X_res[len(X):], gen.encoder_.n_numeric  # decoded as we decode: largest entry of each one-hot block
    theirs = ModelData(new[:, :p], argmax_blocks(new[:, p:], gen.encoder_.cardinalities))
    ours = gen._rows(st, n, seed)
    assert len(ours.numeric) == len(theirs.numeric) > 0
    np.testing.assert_array_equal(ours.numeric, theirs.numeric)
    np.testing.assert_array_equal(ours.codes, theirs.codes)
    if name == "svm-smote":  # both halves of its rule are exercised
        assert len(st["svm_danger_base"]) and len(st["svm_safe_base"])
    if name == "borderline-smote-2":  # some steps go towards other-class rows
        assert (st["neighbours"] >= len(st["rare_numeric"])).any()
    if name == "kmeans-smote":  # rows from more than one cluster
        assert len(st["kmeans_sizes"]) > 1


def test_vdm_pairwise_is_imblearns_bit_for_bit(smote_n):
    from imblearn.metrics.pairwise import ValueDifferenceMetric

    gen = smote_n
    st, X, y = _stored(gen)
    vdm = ValueDifferenceMetric(n_categories=X.max(axis=0) + 1).fit(X, y)
    sub = X[:300]
    np.testing.assert_array_equal(vdm_pairwise(vdm, sub), vdm.pairwise(sub))


@pytest.mark.parametrize("seed", SEEDS)
def test_smote_n_rows_equal_imblearn(smote_n, seed):
    from imblearn.over_sampling import SMOTEN

    gen = smote_n
    st, X, y = _stored(gen)
    n = 3_000
    X_res, _ = SMOTEN(sampling_strategy={1: int(y.sum()) + n}, random_state=seed).fit_resample(X, y)
    # SMOTEN picks its base rows with RandomState(seed).choice; the rows it makes are our stored modes
    base = np.random.RandomState(seed).choice(np.arange(int(y.sum())), size=n, replace=True)
    np.testing.assert_array_equal(st["modes"][base], X_res[len(X):].astype(np.int32))


@pytest.mark.parametrize("name", ["smote", "borderline-smote", "borderline-smote-2", "svm-smote", "adasyn",
                                  "kmeans-smote", "smote-n"])
def test_a_model_saved_with_only_the_rows_gets_the_same_fit_half_on_load(fraud_shared, tmp_path, name):
    import synthgen

    gen = make_generator(name, random_state=0, **PARAMS.get(name, {})).fit(fraud_shared, target="fraud")
    loaded = synthgen.load(gen.save(tmp_path / "m"))
    assert set(gen.fit_keys) <= set(loaded.states_[0])
    fitted = {key: loaded.states_[0].pop(key) for key in gen.fit_keys}  # as saved by an older synthgen
    loaded._complete_fit_half()
    for key, value in fitted.items():
        np.testing.assert_array_equal(loaded.states_[0][key], value, err_msg=key)
    pd.testing.assert_frame_equal(loaded.sample(300), gen.sample(300))


@pytest.mark.parametrize("name, words", [
    ("borderline-smote", "found no borderline ('danger') rare rows"),
    ("borderline-smote-2", "found no borderline ('danger') rare rows"),
    ("adasyn", "found no other-class rows among the rare rows' neighbours"),
])
def test_a_rule_with_nothing_to_work_on_fails_at_fit_in_one_line(german_shared, name, words):
    from synthgen.exceptions import GeneratorError

    # german credit's numbers, with the bad-credit rows moved far from the rest: no rare row has an
    # other-class neighbour, so there are no danger rows and no ADASYN weights
    df = german_shared.select_dtypes("number").copy()
    rare = df["class"] == 2
    df.loc[rare, df.columns != "class"] += 10_000
    with pytest.raises(GeneratorError) as info:
        make_generator(name, random_state=0).fit(df, target="class")
    assert words in str(info.value) and "\n" not in str(info.value)
    assert make_generator("smote", random_state=0).fit(df, target="class").sample(5).shape[0] == 5


def test_kmeans_smote_finding_no_dense_cluster_fails_at_fit_in_one_line(fraud_shared):
    from synthgen.exceptions import GeneratorError

    # 2% fraud: with the default threshold a cluster needs half its rows fraudulent
    with pytest.raises(GeneratorError) as info:
        make_generator("kmeans-smote", random_state=0).fit(fraud_shared, target="fraud")
    message = str(info.value)
    assert "found no cluster with enough rare rows" in message and "cluster_balance_threshold=0.01" in message
    assert "\n" not in message
