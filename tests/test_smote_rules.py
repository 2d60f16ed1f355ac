"""Where we compute an imbalanced-learn rule ourselves (its data-only half once at fit, the random half
per block), the rows must be imbalanced-learn's own: same stored rows and seed in, identical rows out,
bit for bit. On the shared fraud table (20,000 rows: 400 fraud, 19,600 others).

"Same rows in" means synthgen's encoding (TableEncoder: numbers standardised, categories one-hot) of
the rows a variant keeps: every rare row plus, for the variants that look at other classes, a seeded
sample of ``max_other_rows`` other rows (5,000 by default), or every other row with None."""

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


def _table_matrix(gen, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The whole table, in its own order, as imblearn sees it under the fitted generator's encoding."""
    data = gen.encoder_.transform(df)
    return gen._matrix(data.numeric, data.codes), df["fraud"].to_numpy().astype(int)


_UNCAPPED: dict = {}


def _uncapped(fraud_shared, name):
    """``name`` fitted with max_other_rows=None on the shared fraud table (cached: svm-smote takes ~10 s)."""
    if name not in _UNCAPPED:
        _UNCAPPED[name] = make_generator(name, random_state=0, max_other_rows=None).fit(fraud_shared, target="fraud")
    return _UNCAPPED[name]


@pytest.mark.parametrize("name", ["borderline-smote", "borderline-smote-2", "svm-smote", "adasyn"])
def test_with_no_cap_the_rows_equal_imblearn_on_the_whole_encoded_table(fraud_shared, name):
    """max_other_rows=None keeps every other-class row: imblearn given the whole table (its own row
    order, not ours) makes the same rows, bit for bit."""
    from scipy import sparse

    gen = _uncapped(fraud_shared, name)
    st = gen.states_[0]
    n_other = int((~fraud_shared["fraud"]).sum())
    assert n_other == 19_600 and len(st["other_numeric"]) == n_other  # every other row, none sampled away
    X, y = _table_matrix(gen, fraud_shared)
    n, seed = 3_000, 7
    if name == "svm-smote":
        # imblearn's SVC on the dense 20,000 x 1,273 matrix takes ~90 s; handed the same matrix as
        # sparse it fits the SVM on it as we do (the capped test above shows dense = sparse rows)
        X_res = _imblearn(name, {1: int(y.sum()) + n}, seed, gen).fit_resample(sparse.csr_matrix(X), y)[0].toarray()
    else:
        X_res, _ = _imblearn(name, {1: int(y.sum()) + n}, seed, gen).fit_resample(X, y)
    new, p = X_res[len(X):], gen.encoder_.n_numeric
    theirs = ModelData(new[:, :p], argmax_blocks(new[:, p:], gen.encoder_.cardinalities))
    ours = gen._rows(st, n, seed)
    assert len(ours.numeric) == len(theirs.numeric) > 0
    np.testing.assert_array_equal(ours.numeric, theirs.numeric)
    np.testing.assert_array_equal(ours.codes, theirs.codes)
    if name == "svm-smote" and not (len(st["svm_danger_base"]) and len(st["svm_safe_base"])):
        # measured: on all 19,600 other rows no rare support vector is "safe" (166 danger, 0 safe;
        # capped: 296 and 3). imblearn then makes only the danger share of the request (its Beta(10, 10)
        # draw: 1,974 of 3,000 rows), and so does _rows; sample() still returns the rows asked for
        assert len(ours.numeric) < n
        assert len(gen.sample(1_000)) == 1_000


def test_the_default_cap_differs_from_no_cap_on_a_large_other_class(fraud_shared):
    """The other class holds 19,600 rows, more than the default cap: with it the variants keep a
    seeded sample of 5,000, so their rows are imblearn's on that sample, not on the whole table.
    Here the cap changes which rare rows Borderline-SMOTE finds in danger (measured: 296 capped, 166
    uncapped, 164 in both) and the rows the variants make."""
    capped = make_generator("borderline-smote", random_state=0).fit(fraud_shared, target="fraud")
    uncapped = _uncapped(fraud_shared, "borderline-smote")
    assert len(capped.states_[0]["other_numeric"]) == 5_000
    assert len(uncapped.states_[0]["other_numeric"]) == 19_600
    assert not np.array_equal(capped.states_[0]["danger"], uncapped.states_[0]["danger"])
    assert not capped.sample(500).equals(uncapped.sample(500))
    adasyn = make_generator("adasyn", random_state=0).fit(fraud_shared, target="fraud")
    assert not adasyn.sample(500).equals(_uncapped(fraud_shared, "adasyn").sample(500))


def test_max_other_rows_takes_a_positive_whole_number_or_none(german_shared, tmp_path):
    import synthgen
    from synthgen.exceptions import ParameterError
    from synthgen.models import GENERATORS

    takers = [name for name, cls in GENERATORS.items() if "max_other_rows" in cls.param_names()]
    assert set(takers) == {"smote", "borderline-smote", "borderline-smote-2", "svm-smote", "adasyn",
                           "kmeans-smote", "smote-n", "prowsyn"}
    for name in takers:
        for good in (None, 1, 5_000, np.int64(20)):
            make_generator(name, max_other_rows=good)._validate_params()
        for bad in (0, -3, 2.5, "5000", "None", True, [100]):
            with pytest.raises(ParameterError) as info:
                make_generator(name, max_other_rows=bad).fit(german_shared, target="class")
            message = str(info.value)
            assert message.startswith("max_other_rows: ") and repr(bad) in message and "\n" not in message
    # None survives saving and loading
    gen = make_generator("adasyn", random_state=0, max_other_rows=None).fit(german_shared, target="class")
    loaded = synthgen.load(gen.save(tmp_path / "m"))
    assert loaded.max_other_rows is None and len(loaded.states_[0]["other_numeric"]) == 700
    pd.testing.assert_frame_equal(loaded.sample(200), gen.sample(200))


@pytest.fixture(scope="module")
def smote_nc(fraud_shared):
    return make_generator("smote-nc", random_state=0).fit(fraud_shared, target="fraud")


@pytest.mark.parametrize("seed", SEEDS)
def test_smote_nc_rows_equal_imblearn_smotenc(smote_nc, fraud_shared, seed):
    """smote-nc is our own code for imblearn's SMOTENC, and its rows are SMOTENC's, bit for bit: the
    whole table encoded (numbers standardised, category codes as categorical columns), same seed.

    imblearn scales the one-hot categories by the rare rows' median number std / sqrt(2) and finds
    each rare row's k nearest rare rows (we: the same scale and search, once at fit); it draws
    (row, neighbour) pairs with ``randint`` and steps with ``uniform`` from RandomState(seed) (we: the
    same draws); it votes each category among the neighbours, breaking ties by one
    ``RandomState(seed).permutation`` of the tied (row, category) pairs per column (we: the ties
    found at fit, the same permutation). Other-class rows only add one-hot columns, which change no
    distance. Measured here: the neighbour tables are identical, and 48% of the (row, column) votes
    are ties, so the tie-breaking is exercised (with independent tie draws, as smote-nc made before,
    only the numbers and the untied categories would match).
    """
    from imblearn.over_sampling import SMOTENC

    gen, st = smote_nc, smote_nc.states_[0]
    data = gen.encoder_.transform(fraud_shared)
    p = data.numeric.shape[1]
    X, y = np.hstack([data.numeric, data.codes]), fraud_shared["fraud"].to_numpy().astype(int)
    n = 3_000
    smotenc = SMOTENC(categorical_features=list(range(p, X.shape[1])), sampling_strategy={1: int(y.sum()) + n},
                      random_state=seed)
    new = smotenc.fit_resample(X, y)[0][len(X):]
    ours = gen._rows(st, n, seed)
    np.testing.assert_array_equal(ours.numeric, new[:, :p])
    np.testing.assert_array_equal(ours.codes, new[:, p:].astype(np.int32))
    # the data-only half: imblearn's scale, and its neighbour search on its sparse matrix
    from scipy import sparse
    from sklearn.neighbors import NearestNeighbors
    from synthgen.models.encoding import one_hot

    rare = data.take(np.flatnonzero(y == 1))
    assert smotenc.median_std_[1] == np.median(rare.numeric.std(axis=0))
    scaled = sparse.csr_matrix(np.hstack([rare.numeric, one_hot(rare.codes, gen.encoder_.cardinalities,
                                                                  smotenc.median_std_[1] / np.sqrt(2))]))
    theirs = NearestNeighbors(n_neighbors=gen.k_neighbors + 1).fit(scaled).kneighbors(scaled, return_distance=False)
    np.testing.assert_array_equal(st["neighbours"], theirs[:, 1:])
    # the votes are often ties, so the tie-breaking is exercised (measured: 48% of cells, seeds 0 and 7)
    base = np.random.RandomState(seed).randint(0, st["neighbours"].size, n) // gen.k_neighbors
    assert (st["n_ties"][base] > 1).mean() > 0.4


def test_smote_nc_samples_through_the_imblearn_rule(smote_nc):
    """sample() makes each block with _rows (imblearn's rows) from a seed drawn from the block's rng."""
    from synthgen.models.base import child_seed

    gen = smote_nc
    n = 2_000
    block_seed = int(np.random.default_rng(child_seed(gen.seed_, 1, 0, 0)).integers(2**31 - 1))
    expected = gen.encoder_.inverse(gen._rows(gen.states_[0], n, block_seed))  # the modelled columns
    rows = gen.sample(n)
    assert len(expected) >= 5
    for name, column in expected.items():
        pd.testing.assert_series_equal(rows[name], column, check_names=False)


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


@pytest.mark.parametrize("name", ["smote", "borderline-smote-2"])
def test_rows_equal_imblearn_across_interpolation_slices(fraud_shared, name, monkeypatch):
    """_blend interpolates in slices of _BLEND_ROWS rows; with slices much smaller than n (and borderline-2's
    scaled steps) the rows still equal imblearn's bit for bit."""
    import synthgen.models.smote as smote_module

    monkeypatch.setattr(smote_module, "_BLEND_ROWS", 700)
    gen = make_generator(name, random_state=0).fit(fraud_shared, target="fraud")
    st, X, y = _stored(gen)
    n, seed = 3_000, 11
    X_res, _ = _imblearn(name, {1: int(y.sum()) + n}, seed, gen).fit_resample(X, y)
    new, p = X_res[len(X):], gen.encoder_.n_numeric
    ours = gen._rows(st, n, seed)
    np.testing.assert_array_equal(ours.numeric, new[:, :p])
    np.testing.assert_array_equal(ours.codes, argmax_blocks(new[:, p:], gen.encoder_.cardinalities))
