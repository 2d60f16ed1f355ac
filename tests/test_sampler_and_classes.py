"""SynthSampler in an imblearn Pipeline under cross_validate; several rare classes; very large n."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.pipeline import Pipeline
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.preprocessing import OrdinalEncoder

from synthgen import SynthSampler, make_generator
from synthgen.datasets import load_fraud, load_german_credit
from synthgen.exceptions import ParameterError


class CountingClassifier(HistGradientBoostingClassifier):
    """Records how many rows each fit saw, to prove augmentation happens inside training folds only."""

    seen: list = []

    def fit(self, X, y, **kw):
        CountingClassifier.seen.append((len(y), int((np.asarray(y) == 2).sum())))
        return super().fit(X, y, **kw)


def test_sampler_inside_cross_validate_on_german_credit():
    df = load_german_credit()
    X, y = df.drop(columns=["class"]), df["class"]
    cats = [c for c in X.columns if X[c].dtype == object]
    encode = ColumnTransformer([("cat", OrdinalEncoder(), cats)], remainder="passthrough")
    CountingClassifier.seen = []
    pipe = Pipeline([
        ("augment", SynthSampler("gaussian-copula", random_state=0)),
        ("encode", encode),
        ("model", CountingClassifier(random_state=0, max_iter=50)),
    ])
    scores = cross_validate(pipe, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0), scoring="recall_macro")
    assert len(scores["test_score"]) == 5 and np.all(scores["test_score"] > 0.5)
    # each training fold: 800 real rows (560 good, 240 bad) + 320 synthetic bad rows to balance 560/560
    assert CountingClassifier.seen == [(1120, 560)] * 5
    # predictions on the test folds used only real rows: 5 x 200
    again = cross_validate(pipe, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0), scoring="recall_macro")
    np.testing.assert_array_equal(scores["test_score"], again["test_score"])


def test_sampler_strategies():
    df = load_german_credit()
    X, y = df.drop(columns=["class"]), df["class"]
    X2, y2 = SynthSampler("smote-nc", sampling_strategy=0.6, random_state=1).fit_resample(X, y)
    assert (y2 == 2).sum() == 420 and len(X2) == 1120 and list(X2.columns) == list(X.columns)
    X3, y3 = SynthSampler("smote-nc", sampling_strategy={2: 350}, random_state=1).fit_resample(X, y)
    assert (y3 == 2).sum() == 350
    with pytest.raises(ParameterError, match="sampling_strategy: With over-sampling methods"):
        SynthSampler("smote-nc", sampling_strategy={2: 100}).fit_resample(X, y)
    with pytest.raises(ParameterError, match="sampling_strategy: The 'sampling_strategy' parameter"):
        SynthSampler("smote-nc", sampling_strategy="bogus").fit_resample(X, y)


@pytest.mark.parametrize("strategy", ["auto", "minority", "not minority", "not majority", "all", {"A13": 200},
                                      lambda y: {"A13": 100, "A12": 300}])
def test_sampler_resolves_sampling_strategy_as_imbalanced_learn(strategy):
    """Every form of imbalanced-learn's sampling_strategy gives RandomOverSampler's class counts (4 classes)."""
    from collections import Counter

    from imblearn.over_sampling import RandomOverSampler

    df = load_german_credit()
    X, y = df.drop(columns=["checking_status"]), df["checking_status"]
    expected = Counter(RandomOverSampler(sampling_strategy=strategy, random_state=0).fit_resample(X, y)[1])
    sampler = SynthSampler("gaussian-copula", sampling_strategy=strategy, random_state=0)
    X_out, y_out = sampler.fit_resample(X, y)
    assert Counter(y_out) == expected and len(X_out) == len(y_out)
    assert list(y_out[: len(y)]) == list(y) and X_out.iloc[: len(X)].equals(X.reset_index(drop=True))
    added = {label: n for label, n in sampler.sampling_strategy_.items() if n}
    assert sorted(sampler.generator_.classes_) == sorted(added)


def test_several_rare_classes():
    df = load_fraud()
    kind = np.where(~df["fraud"], "ok", np.where(df["provider"].str.startswith("VISA"), "fraud-visa", "fraud-other"))
    df = df.drop(columns=["fraud"]).assign(kind=kind)
    counts = df["kind"].value_counts()
    gen = make_generator("gaussian-copula", random_state=0).fit(df, target="kind")
    assert sorted(gen.classes_) == ["fraud-other", "fraud-visa"]
    mixed = gen.sample(1000)
    share = counts["fraud-visa"] / (counts["fraud-visa"] + counts["fraud-other"])
    assert (mixed["kind"] == "fraud-visa").sum() == round(1000 * share)
    only = gen.sample(300, label="fraud-visa")
    assert (only["kind"] == "fraud-visa").all() and len(only) == 300
    # each class learns its own rows: VISA fraud rows come out VISA far more often
    assert only["provider"].str.startswith("VISA").mean() > 0.9
    with pytest.raises(ParameterError, match="label 'ok' is not a fitted rare class"):
        gen.sample(5, label="ok")


@pytest.mark.parametrize("name", ["smote", "smote-nc", "gaussian-copula"])
def test_a_million_rows_from_three_hundred(name):
    df = load_german_credit()
    gen = make_generator(name, random_state=0).fit(df, target="class")
    total = 0
    for chunk in gen.iter_sample(1_000_000, chunk_size=250_000):
        assert len(chunk) <= 250_000 and (chunk["class"] == 2).all()
        total += len(chunk)
    assert total == 1_000_000


def test_sampler_uses_the_kinds_decided_on_the_whole_table():
    """A fold sees gapped policy numbers; with the table's kinds they stay an identifier (fresh values)."""
    from synthgen.schema import Schema

    df = load_german_credit()
    df.insert(0, "policy", np.arange(100_000, 100_000 + len(df)))
    schema = Schema.detect(df, "class")
    assert schema["policy"].kind.value == "identifier"
    X, y = df.drop(columns=["class"]), df["class"]
    fold = np.arange(len(df)) % 3 != 0  # a training fold
    sampler = SynthSampler("gaussian-copula", random_state=0, column_kinds=schema)
    X_out, y_out = sampler.fit_resample(X[fold], y[fold])
    assert sampler.generator_.schema_["policy"].kind.value == "identifier"
    new = X_out.iloc[int(fold.sum()):]
    assert len(new) == len(y_out) - int(fold.sum()) > 0
    assert not set(new["policy"]) & set(df["policy"])
    with pytest.raises(ParameterError, match="column_kinds"):
        SynthSampler("gaussian-copula", column_kinds=["policy"]).fit_resample(X[fold], y[fold])
