"""The same checks over every generator, on the real evalml fraud table (../shared/data).

The table is made harder on purpose: an email column (personal data) and missing values in
two numeric columns, on top of its integer IDs, datetimes, MM/YY dates, booleans, 958-level
categories and the empty ``country`` cells it already has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgen import load, make_generator
from synthgen.models import generator_names
from synthgen.schema import ColumnKind

N = 1_500
# keep the slow learners quick in tests; everything else runs with its defaults
TEST_PARAMS = {
    "ctgan": {"epochs": 2, "batch_size": 100, "verbose": False},
    "tvae": {"epochs": 2, "batch_size": 100, "verbose": False},
    "svm-smote": {"max_other_rows": 1_000},
    "kmeans-smote": {"cluster_balance_threshold": 0.01, "n_clusters": 2},
}


@pytest.fixture(scope="module")
def mixed(fraud_shared: pd.DataFrame) -> pd.DataFrame:
    df = fraud_shared.copy()
    rng = np.random.default_rng(7)
    df.insert(1, "email", [f"user{i}@mail{i % 7}.example.com" for i in range(len(df))])
    amount = df["amount"].astype("float64")
    amount[rng.random(len(df)) < 0.08] = np.nan
    df["amount"] = amount
    lat = df["lat"].copy()
    lat[rng.random(len(df)) < 0.05] = np.nan
    df["lat"] = lat
    return df


_FITTED: dict[str, object] = {}


def _fitted(name: str, mixed: pd.DataFrame):
    if name not in _FITTED:
        _FITTED[name] = make_generator(name, random_state=3, **TEST_PARAMS.get(name, {})).fit(mixed, target="fraud")
    return _FITTED[name]


@pytest.fixture(params=generator_names())
def fitted(request, mixed):
    return _fitted(request.param, mixed)


def test_schema_and_exact_rows(fitted, mixed):
    out = fitted.sample(N)
    assert len(out) == N
    assert list(out.columns) == list(mixed.columns)
    assert out.dtypes.astype(str).tolist() == mixed.dtypes.astype(str).tolist()
    assert (out["fraud"] == True).all()  # noqa: E712 - the rare label, as a real bool
    assert out["fraud"].dtype == bool


def test_values_in_the_real_sets_and_ranges(fitted, mixed):
    out = fitted.sample(N)
    rare = mixed[mixed["fraud"]]
    for col in ("currency", "provider", "region", "customer_present"):
        assert out[col].isin(mixed[col].unique()).all(), col
    assert out["country"].dropna().isin(mixed["country"].dropna().unique()).all()
    amounts = out["amount"].dropna()
    assert (amounts == np.round(amounts)).all()  # integer-ness kept in a float column with NaNs
    assert amounts.between(mixed["amount"].min(), mixed["amount"].max()).all()
    stamps = pd.to_datetime(out["datetime"], format="%Y-%m-%d %H:%M:%S")
    assert stamps.notna().all()
    real_stamps = pd.to_datetime(mixed["datetime"])
    assert stamps.between(real_stamps.min(), real_stamps.max()).all()
    assert pd.to_datetime(out["expiration_date"], format="%m/%y").notna().all()
    assert out["lat"].dropna().between(mixed["lat"].min(), mixed["lat"].max()).all()
    assert out["lat"].notna().sum() > 0.5 * N and rare["lat"].notna().all() == False  # noqa: E712


def test_identifiers_fresh_and_personal_data_never_copied(fitted, mixed):
    out = fitted.sample(N)
    assert fitted.schema_["id"].kind == ColumnKind.IDENTIFIER
    assert out["id"].is_unique
    for col in ("card_id", "store_id"):  # keys: shared by many rows, fresh values that repeat
        assert fitted.schema_[col].kind == ColumnKind.KEY
    for col in ("id", "card_id", "store_id"):
        assert not out[col].isin(mixed[col]).any(), col
    assert fitted.schema_["email"].kind == ColumnKind.PERSONAL
    assert out["email"].isna().all()


# 2 test epochs are too few for CTGAN/TVAE to learn an 8% indicator: test_neural_learns_missing_rate
# (slow, 150 epochs) checks them
@pytest.mark.parametrize("name", [n for n in generator_names() if n not in ("ctgan", "tvae")])
def test_missing_values_are_modelled(name, mixed):
    out = _fitted(name, mixed).sample(N)
    real_rate = mixed.loc[mixed["fraud"], "amount"].isna().mean()
    assert real_rate > 0.04
    assert 0 < out["amount"].isna().mean() < 0.5


def test_reproducible_and_seed_sensitive(fitted, mixed):
    a = fitted.sample(300)
    b = fitted.sample(300)
    pd.testing.assert_frame_equal(a, b)
    c = fitted.sample(300, random_state=99)
    assert not a.drop(columns=["id", "card_id", "store_id"]).equals(c.drop(columns=["id", "card_id", "store_id"]))
    name = fitted.name
    again = make_generator(name, random_state=3, **TEST_PARAMS.get(name, {})).fit(mixed, target="fraud")
    pd.testing.assert_frame_equal(a, again.sample(300))


def test_chunks_do_not_change_rows(fitted):
    whole = fitted.sample(700)
    chunks = list(fitted.iter_sample(700, chunk_size=128))
    assert [len(c) for c in chunks] == [128] * 5 + [60]
    pd.testing.assert_frame_equal(whole, pd.concat(chunks, ignore_index=True))


def test_save_and_load_give_identical_samples(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    loaded = load(path)
    pd.testing.assert_frame_equal(fitted.sample(400), loaded.sample(400))
    manifest = loaded.manifest_
    assert manifest["generator"] == fitted.name
    assert manifest["payload"]["contains_real_rows"] == fitted.contains_real_rows
    assert manifest["payload"]["executable"] == (fitted.payload_format == "pickle")
    assert manifest["training_data"]["rows"] == 20_000


def test_input_not_mutated(mixed):
    before = mixed.copy()
    make_generator("smote-nc", random_state=0).fit(mixed, target="fraud").sample(50)
    pd.testing.assert_frame_equal(before, mixed)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ctgan", pytest.param("tvae", marks=pytest.mark.xfail(
    strict=True, reason="TVAE decodes each category as its most likely value (SDV's argmax, rows equal to SDV's): "
                        "the 8% missing flag of amount comes out 0% (measured), a documented limitation"))])
def test_neural_learns_missing_rate(mixed, name):
    gen = make_generator(name, random_state=0, epochs=150, verbose=False).fit(mixed, target="fraud")
    assert 0.01 < gen.sample(N)["amount"].isna().mean() < 0.3
