"""The adversarial random forest generator (synthgen/models/arf.py) on the bundled German credit table.

The generic checks every generator gets (evalml table with missing values, identifiers, keys, chunks)
are in tests/test_generators.py; here: ARF's own behaviour, its parameters, and its quality against the
Gaussian copula on a real rare class.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from synthgen import load, load_german_credit, make_generator
from synthgen.cli import main
from synthgen.evaluation._frame import prepare
from synthgen.evaluation.realism import column_pairs, column_shapes, detection
from synthgen.exceptions import NotFittedError, ParameterError
from synthgen.models.arf import ARFGenerator

DEFAULTS = {"num_trees": 30, "min_node_size": 5, "min_leaf_rows": 5, "delta": 0.0, "max_iters": 10,
            "early_stop": True, "n_jobs": None, "random_state": None}


@pytest.fixture(scope="module")
def german() -> pd.DataFrame:
    return load_german_credit()


@pytest.fixture(scope="module")
def rare(german) -> pd.DataFrame:
    return german[german["class"] == 2]


@pytest.fixture(scope="module")
def fitted(german) -> ARFGenerator:
    return make_generator("arf", random_state=0).fit(german, target="class")


def test_exact_rows_in_the_original_schema(fitted, german):
    out = fitted.sample(517)
    assert len(out) == 517
    assert list(out.columns) == list(german.columns)
    assert out.dtypes.astype(str).tolist() == german.dtypes.astype(str).tolist()
    assert (out["class"] == 2).all()
    assert len(fitted.sample(1)) == 1


def test_values_are_real_values_within_the_real_range(fitted, german, rare):
    out = fitted.sample(3_000)
    for spec in fitted.schema_.features():
        col = spec.name
        if spec.kind.is_numeric:
            assert out[col].between(rare[col].min(), rare[col].max()).all(), col
            assert pd.api.types.is_integer_dtype(out[col]), col  # every number here is an integer column
        else:
            assert set(out[col]) <= set(rare[col]), col
    # numbers with at most 10 values are drawn from the leaves' frequencies: only real values, each seen
    for col in ("installment_rate_pct", "residence_since", "existing_credits", "num_dependents"):
        assert set(out[col]) == set(rare[col]), col
    # no synthetic row repeats a real rare row (3,000 rows: measured 0)
    key = [s.name for s in fitted.schema_.features()]
    assert not out[key].merge(rare[key].drop_duplicates(), how="inner").shape[0]


def test_adversarial_loop_and_leaf_sizes(fitted, german, rare):
    state = fitted.states_[0]
    accuracy = state["accuracy"]  # measured [0.613, 0.45]: the first forest tells marginals apart, the next cannot
    assert accuracy[0] > 0.6 and accuracy[-1] <= 0.5 and len(accuracy) == 2
    # every leaf's distribution comes from at least min_leaf_rows (5) real rows: coverage x rows x trees
    counts = np.diff(np.r_[0.0, state["leaf_cum"]]) * len(rare) * 30
    assert np.allclose(counts, np.round(counts)) and round(counts.min()) == 5 and round(counts.sum()) == 300 * 30
    strict = make_generator("arf", min_leaf_rows=40, random_state=0).fit(german, target="class")
    assert round((np.diff(np.r_[0.0, strict.states_[0]["leaf_cum"]]) * 300 * 30).min()) >= 40
    assert fitted.contains_real_rows is False


def test_reproducible_and_chunk_independent(fitted, german):
    a = fitted.sample(700)
    pd.testing.assert_frame_equal(a, fitted.sample(700))
    pd.testing.assert_frame_equal(a, pd.concat(list(fitted.iter_sample(700, chunk_size=128)), ignore_index=True))
    pd.testing.assert_frame_equal(a, make_generator("arf", random_state=0).fit(german, target="class").sample(700))
    assert not a.equals(fitted.sample(700, random_state=1))
    assert not a.equals(make_generator("arf", random_state=1).fit(german, target="class").sample(700))


def test_save_and_load_give_identical_rows_without_pickle(fitted, tmp_path):
    path = fitted.save(tmp_path / "model")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["generator"] == "arf"
    assert manifest["payload"]["format"] == "npz" and manifest["payload"]["executable"] is False
    assert manifest["payload"]["contains_real_rows"] is False
    assert sorted(manifest["payload"]["files"]) == ["payload.npz", "state.json"]
    assert manifest["params"] == {**DEFAULTS, "random_state": 0}
    with np.load(path / "payload.npz", allow_pickle=False) as npz:  # plain arrays only
        assert {"c0.leaf_cum", "c0.mu", "c0.cat_key", "c0.quantiles"} <= set(npz.files)
    loaded = load(path)
    pd.testing.assert_frame_equal(fitted.sample(400), loaded.sample(400))
    pd.testing.assert_frame_equal(fitted.sample(50, random_state=5), loaded.sample(50, random_state=5))


def test_clone_and_params(fitted, german):
    assert ARFGenerator().get_params() == DEFAULTS
    assert fitted.get_params() == {**DEFAULTS, "random_state": 0}
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        copy.sample(5)
    pd.testing.assert_frame_equal(copy.fit(german, target="class").sample(200), fitted.sample(200))
    assert repr(make_generator("arf", num_trees=10)) == "ARFGenerator(num_trees=10)"


@pytest.mark.parametrize("param, value, message", [
    ("num_trees", 0, "num_trees: expected a whole number >= 1, got 0"),
    ("num_trees", 2.5, "num_trees: expected a whole number >= 1, got 2.5"),
    ("min_node_size", True, "min_node_size: expected a whole number >= 1, got True"),
    ("min_leaf_rows", 0, "min_leaf_rows: expected a whole number >= 1, got 0"),
    ("delta", 0.5, "delta: expected a number in [0, 0.5), got 0.5"),
    ("max_iters", -1, "max_iters: expected a whole number >= 0, got -1"),
    ("early_stop", "yes", "early_stop: expected True or False, got 'yes'"),
    ("n_jobs", 0, "n_jobs: expected None or a whole number other than 0, got 0"),
])
def test_bad_parameter_is_one_line_naming_it(german, param, value, message):
    with pytest.raises(ParameterError) as caught:
        make_generator("arf", **{param: value}).fit(german, target="class")
    assert str(caught.value) == message


def test_unknown_parameter_and_cli(german, tmp_path, capsys):
    with pytest.raises(ParameterError, match=r"^arf: unknown parameter 'trees'; valid: delta, early_stop, max_iters, min_leaf_rows, min_node_size, n_jobs, "
                       r"num_trees, random_state$"):
        make_generator("arf", trees=3)
    data = tmp_path / "german.csv"
    german.to_csv(data, index=False)
    code = main(["fit", str(data), "--target", "class", "--generator", "arf", "--param", "delta=0.7",
                 "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == "synthgen fit: error: delta: expected a number in [0, 0.5), got 0.7", err
    assert not (tmp_path / "bad").exists()
    assert main(["fit", str(data), "--target", "class", "--generator", "arf", "--param", "num_trees=10",
                 "--out", str(tmp_path / "model")]) == 0
    assert main(["generate", str(tmp_path / "model"), "-n", "250", "--out", str(tmp_path / "rows.csv")]) == 0
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert len(rows) == 250 and list(rows.columns) == list(german.columns) and (rows["class"] == 2).all()


def test_small_and_one_kind_tables(german):
    # 3 rare rows (fewer than min_leaf_rows): every leaf merges into the root, the columns' marginals
    tiny = pd.concat([german[german["class"] == 1], german[german["class"] == 2].head(3)])
    out = make_generator("arf", random_state=0).fit(tiny, target="class").sample(40)
    assert len(out) == 40 and set(out["purpose"]) <= set(tiny.loc[tiny["class"] == 2, "purpose"])
    numbers = german[["duration_months", "credit_amount", "age", "class"]]
    categories = german[["checking_status", "purpose", "housing", "class"]]
    for table in (numbers, categories):
        out = make_generator("arf", random_state=0).fit(table, target="class").sample(64)
        assert len(out) == 64 and out.dtypes.astype(str).tolist() == table.dtypes.astype(str).tolist()


def test_quality_against_the_gaussian_copula(german, fitted):
    """German credit's 300 bad-credit rows, 3,000 synthetic rows, seeds 0-2, scored against the real rows.

    Measured means, ARF vs gaussian-copula: column shapes 0.9900 vs 0.9888, column pairs 0.8883 vs
    0.8730, detection AUC 0.508 vs 0.657 (0.5 = indistinguishable)."""
    scores = {}
    for name in ("arf", "gaussian-copula"):
        per_seed = []
        for seed in range(3):
            gen = fitted if (name, seed) == ("arf", 0) else make_generator(name, random_state=seed).fit(german, target="class")
            frames = prepare(german, german, gen.sample(3_000), "class", schema=gen.schema_)
            per_seed.append((column_shapes(frames)[0], column_pairs(frames)[0], detection(frames, 0)[0]))
        scores[name] = np.mean(per_seed, axis=0)
    arf, copula = scores["arf"], scores["gaussian-copula"]
    assert arf[0] >= copula[0]  # column shapes: measured gap +0.0012
    assert arf[1] >= copula[1] + 0.01  # column pairs: measured gap +0.0153
    assert arf[2] <= copula[2] - 0.1  # detection AUC: measured gap -0.149
    assert abs(arf[2] - 0.5) < 0.03  # measured 0.508
