"""polynom-fit-SMOTE (star) and ProWSyn against the ``smote_variants`` package (1.0.1, a test dependency).

Where the package's rule is deterministic given its draws, our rows must be its rows, bit for bit, for
the same input: synthgen's encoding of the stored rows (numbers standardised, categories one-hot, as
``_imblearn_input`` hands imbalanced-learn) and, for ProWSyn, the same ``RandomState(seed)``. The
package's categorical one-hot columns are decoded as the SMOTE family decodes them (largest entry of
each block). Tables: the numeric columns of German credit (300 bad / 700 good; a numeric table), German
credit whole (13 categorical columns) and the shared fraud table (400 fraud of 20,000; 958 categories).
"""

from __future__ import annotations

import importlib
import logging

import numpy as np
import pandas as pd
import pytest
from conftest import IN_CI, one_line_error, run_cli

from synthgen import load, make_generator
from synthgen.exceptions import GeneratorError, NotEnoughRowsError, ParameterError
from synthgen.models import smote_variants_family as family
from synthgen.models.encoding import ModelData


@pytest.fixture(scope="module")
def sv():
    """The smote_variants package; skip (fail under CI=true) without it."""
    try:
        module = importlib.import_module("smote_variants")
    except ImportError:
        why = "smote_variants is not installed: pip install metric-learn minisom seaborn && " \
              "pip install --no-deps smote-variants==1.0.1"
        if IN_CI:
            pytest.fail(why + " (it must be installed under CI=true)")
        pytest.skip(why)
    logging.getLogger("smote_variants").setLevel(logging.WARNING)  # it logs every call at INFO
    return module


@pytest.fixture(scope="module")
def german_numeric(german_shared) -> pd.DataFrame:
    return german_shared.select_dtypes("number")


def argmax_blocks(matrix: np.ndarray, cardinalities: list[int]) -> np.ndarray:
    """One-hot blocks back to codes: the largest entry of each block (the first on ties)."""
    codes = np.empty((matrix.shape[0], len(cardinalities)), dtype=np.int32)
    offset = 0
    for j, card in enumerate(cardinalities):
        codes[:, j] = matrix[:, offset : offset + card].argmax(axis=1)
        offset += card
    return codes


def _decoded(gen, rows: np.ndarray) -> ModelData:
    """The package's new rows as ModelData: numbers as they are, one-hot blocks by their largest entry."""
    p = gen.encoder_.n_numeric
    return ModelData(rows[:, :p], argmax_blocks(rows[:, p:], gen.encoder_.cardinalities))


def _assert_same(ours: ModelData, theirs: ModelData) -> None:
    assert len(ours.numeric) == len(theirs.numeric) > 0
    np.testing.assert_array_equal(ours.numeric, theirs.numeric)
    np.testing.assert_array_equal(ours.codes, theirs.codes)


def _prowsyn_package(sv, gen, n: int, seed: int) -> ModelData:
    """``smote_variants.ProWSyn`` on the generator's stored rows, asked for exactly n new rows."""
    X, y = gen._imblearn_input(gen.states_[0])
    n_rare, n_other = int((y == 1).sum()), int((y == 0).sum())
    proportion = n / (n_other - n_rare)
    assert int((n_other - n_rare) * proportion) == n  # the package's det_n_to_sample gives n back
    prowsyn = sv.ProWSyn(proportion=proportion, n_neighbors=gen.k_neighbors, L=gen.n_levels, theta=gen.theta,
                         random_state=np.random.RandomState(seed))
    X_res, _ = prowsyn.sample(X, y)
    return _decoded(gen, X_res[len(X):])


# --------------------------------------------------------------------------------------------- ProWSyn

@pytest.mark.parametrize("k, levels, seed", [(5, [297, 3], 0), (1, [221, 69, 10], 7)])
def test_prowsyn_rows_equal_smote_variants_on_a_numeric_table(sv, german_numeric, k, levels, seed):
    """Numbers only: the proximity levels (found at fit) and the rows (per block) are the package's.
    With k=1 three levels are found, so the level draw and the per-level pair draws are both exercised."""
    gen = make_generator("prowsyn", k_neighbors=k, random_state=0).fit(german_numeric, target="class")
    st = gen.states_[0]
    assert gen.encoder_.cardinalities == [] and st["prowsyn_sizes"].tolist() == levels
    ours = gen._rows(st, 1_000, seed)
    _assert_same(ours, _prowsyn_package(sv, gen, 1_000, seed))
    # sample() draws each block's seed from the fit seed; its rows are the package's for that seed
    block_seed = int(np.random.default_rng(gen.sample_blocks(1_000)[0].seed).integers(2**31 - 1))
    values = gen.encoder_.inverse(gen._rows(st, 1_000, block_seed))
    out = gen.sample(1_000)
    for column, series in values.items():
        np.testing.assert_array_equal(out[column].to_numpy(), series.to_numpy())


def test_prowsyn_rows_equal_smote_variants_with_categories(sv, german_shared):
    """German credit whole: 13 categorical columns, one-hot for the package, decoded by argmax."""
    gen = make_generator("prowsyn", random_state=0).fit(german_shared, target="class")
    assert len(gen.encoder_.cardinalities) == 13 and gen.states_[0]["prowsyn_sizes"].tolist() == [291, 9]
    _assert_same(gen._rows(gen.states_[0], 2_000, 3), _prowsyn_package(sv, gen, 2_000, 3))


def test_prowsyn_rows_lie_on_segments_between_rows_of_one_level(german_numeric):
    """Every new row is a u a + (1 - u) b of two rare rows a, b of the same proximity level."""
    gen = make_generator("prowsyn", k_neighbors=1, random_state=0).fit(german_numeric, target="class")
    st = gen.states_[0]
    rare = st["rare_numeric"]
    groups = np.split(st["prowsyn_members"], np.cumsum(st["prowsyn_sizes"])[:-1])
    new = gen._sample(st, 300, np.random.default_rng(5), 5).numeric
    best = np.full(len(new), np.inf)
    for members in groups:
        a, b = np.triu_indices(len(members), 1)
        start, span = rare[members[a]], rare[members[b]] - rare[members[a]]
        for lo in range(0, len(new), 25):
            rows = new[lo : lo + 25, None, :]
            t = np.clip(((rows - start) * span).sum(-1) / np.maximum((span**2).sum(-1), 1e-300), 0, 1)
            gap = np.sqrt((((start + t[..., None] * span) - rows) ** 2).sum(-1)).min(axis=1)
            best[lo : lo + 25] = np.minimum(best[lo : lo + 25], gap)
    assert best.max() < 1e-12  # measured: 1.3e-15, float rounding of a u' + b v'


def test_prowsyn_never_copies_a_single_row_level(sv, german_numeric):
    """With k=7, one rare row is left alone after level 1 (levels [299, 1]). The package then draws the
    level-2 "segment" from that one row, i.e. copies it, in e^-1 / (1 + e^-1) = 27% of its rows on average; we give
    a single-row level weight 0, so no new row is that real row (the package: 257 of 1,000, seed 0)."""
    gen = make_generator("prowsyn", k_neighbors=7, random_state=0).fit(german_numeric, target="class")
    st = gen.states_[0]
    assert st["prowsyn_sizes"].tolist() == [299, 1] and st["prowsyn_levels"].tolist() == [1, 2]
    assert gen._level_weights(st).tolist() == [1.0, 0.0]
    alone = st["rare_numeric"][st["prowsyn_members"][-1]]
    theirs = _prowsyn_package(sv, gen, 1_000, 0)
    assert int((theirs.numeric == alone).all(axis=1).sum()) == 257  # measured, seed 0
    ours = gen._rows(st, 1_000, 0)
    assert len(ours.numeric) == 1_000 and not (ours.numeric == alone).all(axis=1).any()


def test_prowsyn_large_levels_draw_the_same_pairs_without_the_table(monkeypatch, german_numeric):
    """Above 2**22 pairs a level draws its pair as floor(u N) from the same uniform draw instead of a
    search in the package's cumulative table; forced on a 297-row level (87,912 pairs) the rows are
    the same (a pair differs only where u is within float rounding of a boundary)."""
    gen = make_generator("prowsyn", random_state=0).fit(german_numeric, target="class")
    st = gen.states_[0]
    exact = gen._rows(st, 5_000, 11)
    monkeypatch.setattr(family, "_EXACT_CHOICE_MAX", 0)
    _assert_same(gen._rows(st, 5_000, 11), exact)


# ----------------------------------------------------------------------------------- polynom-fit-SMOTE

def _star_package(sv, gen, n: int) -> ModelData:
    """``smote_variants.polynom_fit_SMOTE_star`` on the stored rare rows, asked for n new rows (other
    rows only set the count: proportion 1 makes n_other - n_rare rows)."""
    X_rare = gen._smote_variants_input(gen.states_[0])
    X = np.vstack([X_rare, np.zeros((len(X_rare) + n, X_rare.shape[1]))])
    y = np.r_[np.ones(len(X_rare)), np.zeros(len(X_rare) + n)]
    X_res, _ = sv.polynom_fit_SMOTE_star(proportion=1.0).sample(X, y)
    return _decoded(gen, X_res[len(X):])


def test_polynom_fit_rows_equal_smote_variants_on_a_numeric_table(sv, german_numeric):
    """The star grid for n = 3 x 300 rare rows is the package's, bit for bit, and sample(900) is it,
    whatever the seed (the method is deterministic)."""
    gen = make_generator("polynom-fit-smote", random_state=0).fit(german_numeric, target="class")
    theirs = _star_package(sv, gen, 900)
    _assert_same(gen._rows(gen.states_[0], 900, 0), theirs)
    values = gen.encoder_.inverse(theirs)
    for seed in (0, 5):
        out = gen.sample(900, random_state=seed)
        for column, series in values.items():
            np.testing.assert_array_equal(out[column].to_numpy(), series.to_numpy())


def test_polynom_fit_rows_equal_smote_variants_with_categories(sv, german_shared, fraud_shared):
    """Categories (German credit's 13; the fraud table's 958-level ones): our argmax rule on the
    interpolation towards the category shares gives the package's decoded rows."""
    for df, target, n_rare, changed in ((german_shared, "class", 300, 198), (fraud_shared, "fraud", 400, 0)):
        gen = make_generator("polynom-fit-smote", random_state=0).fit(df, target=target)
        assert len(gen.states_[0]["rare_codes"]) == n_rare
        theirs = _star_package(sv, gen, 2 * n_rare)
        ours = gen._rows(gen.states_[0], 2 * n_rare, 0)
        _assert_same(ours, theirs)
        # at split s a row takes another category c only when s f_c > (f_own - 1) s + 1 (f: shares),
        # i.e. f_c - f_own > 1/s - 1 = 1/2 at s = 2/3: German credit has such dominant categories
        # (198 of its 7,800 row-columns change), the fraud table none
        base = np.repeat(gen.states_[0]["rare_codes"], 2, axis=0)
        assert int((ours.codes != base).sum()) == changed


def test_polynom_fit_rows_lie_on_the_segment_to_the_mean(german_numeric):
    """A row not on the grid's multiple (n = 1,000 of 300 rare rows: 4 points each, 1,000 of the 1,200
    kept, seeded) still lies on a segment from a rare row to the rare mean, at j/5 of the way."""
    gen = make_generator("polynom-fit-smote", random_state=0).fit(german_numeric, target="class")
    st = gen.states_[0]
    X, mean = st["rare_numeric"], st["mean_numeric"]
    new = gen._rows(st, 1_000, 4).numeric
    # each new row x + s (mean - x) sits at s = j/5 for some rare row x: recover x and check s
    fits = [(new - (1 - j / 5) * X[:, None, :] - (j / 5) * mean) for j in range(1, 5)]
    gap = np.min([np.abs(f).max(axis=-1).min(axis=0) for f in fits], axis=0)
    assert len(new) == 1_000 and gap.max() < 1e-12  # measured: 4.8e-16
    assert len(np.unique(new, axis=0)) == 1_000


def test_polynom_fit_later_blocks_shift_the_grid(monkeypatch, fraud_shared):
    """Blocks after the first shift the grid by a seeded fraction, so a large n repeats no row."""
    gen = make_generator("polynom-fit-smote", random_state=0).fit(fraud_shared, target="fraud")
    monkeypatch.setattr(type(gen), "block_rows", lambda self: 800)  # 2 points for each of 400 rare rows
    out = gen.sample(1_600)
    first, second = out.iloc[:800], out.iloc[800:]
    values = gen.encoder_.inverse(gen._rows(gen.states_[0], 800, 0))
    np.testing.assert_array_equal(first["lng"].to_numpy(), values["lng"].to_numpy())  # the package's grid
    pairs = set(zip(first["lat"], first["lng"]))
    assert not any(pair in pairs for pair in zip(second["lat"], second["lng"]))
    pd.testing.assert_frame_equal(out, pd.concat(list(gen.iter_sample(1_600, chunk_size=300)), ignore_index=True))


# ------------------------------------------------------------------------------------ both: the rules

@pytest.mark.parametrize("name", ["polynom-fit-smote", "prowsyn"])
def test_payload_is_npz_and_reloads_to_the_same_rows(german_shared, tmp_path, name):
    gen = make_generator(name, random_state=2).fit(german_shared, target="class")
    folder = gen.save(tmp_path / "m")
    loaded = load(folder)
    assert loaded.manifest_["payload"]["format"] == "npz" and not loaded.manifest_["payload"]["executable"]
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "payload.npz", "state.json"]
    with np.load(folder / "payload.npz", allow_pickle=False) as npz:
        assert all(npz[key].dtype != object for key in npz.files)
    pd.testing.assert_frame_equal(loaded.sample(777), gen.sample(777))
    assert loaded.get_params() == gen.get_params()


@pytest.mark.parametrize("params, message", [
    ({"k_neighbors": 0}, "k_neighbors: expected a whole number >= 1, got 0"),
    ({"n_levels": 2.5}, "n_levels: expected a whole number >= 1, got 2.5"),
    ({"theta": -1}, "theta: expected a number >= 0, got -1"),
    ({"theta": "high"}, "theta: expected a number >= 0, got 'high'"),
    ({"max_other_rows": 0}, "max_other_rows: expected a whole number >= 1, or None"),
])
def test_prowsyn_bad_parameters_are_one_line(german_shared, params, message):
    with pytest.raises(ParameterError) as info:
        make_generator("prowsyn", **params).fit(german_shared, target="class")
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_unknown_parameter_and_too_few_rows(german_shared):
    with pytest.raises(ParameterError, match="polynom-fit-smote: unknown parameter 'topology'; valid: random_state"):
        make_generator("polynom-fit-smote", topology="bus")
    tiny = pd.concat([german_shared[german_shared["class"] == 1], german_shared[german_shared["class"] == 2].head(1)])
    for name in ("polynom-fit-smote", "prowsyn"):
        with pytest.raises(NotEnoughRowsError, match=f"rare class 2 of target 'class' has 1 row\\(s\\); {name} needs"):
            make_generator(name).fit(tiny, target="class")


def test_cli_fit_with_a_bad_parameter_writes_nothing(capsys, german_shared, tmp_path):
    data = tmp_path / "german.csv"
    german_shared.to_csv(data, index=False)
    code, _, err = run_cli(capsys, "fit", data, "--target", "class", "--generator", "prowsyn",
                           "--param", "theta=-0.5", "--out", tmp_path / "model")
    assert code == 2
    one_line_error(err, "theta", "-0.5")
    assert not (tmp_path / "model").exists()
    code, _, err = run_cli(capsys, "fit", data, "--target", "class", "--generator", "polynom-fit-smote",
                           "--out", tmp_path / "model")
    assert code == 0 and (tmp_path / "model" / "payload.npz").exists()


@pytest.mark.parametrize("name", ["polynom-fit-smote", "prowsyn"])
def test_conditions_are_met_by_construction(german_shared, name):
    """Under ``where`` each works among the real rare rows that meet it (polynom-fit: their star;
    ProWSyn: its levels cut down to them), so rare conditions need no rejection: 3 of the 300 bad-credit
    rows have purpose A410 and age in [30, 50), and all 2,000 rows asked for meet both conditions."""
    rare = german_shared[german_shared["class"] == 2]
    matching = rare[(rare["purpose"] == "A410") & rare["age"].between(30, 49)]
    assert len(matching) == 3
    gen = make_generator(name, random_state=0).fit(german_shared, target="class")
    out = gen.sample(2_000, where={"purpose": "A410", "age": (30, 50)})
    assert len(out) == 2_000 and (out["purpose"] == "A410").all() and out["age"].between(30, 49).all()
    # numbers stay between the matching rows' own
    assert out["credit_amount"].between(matching["credit_amount"].min(), matching["credit_amount"].max()).all()
    with pytest.raises(GeneratorError, match=f"{name}: 1 real rare row\\(s\\) meet purpose=A48"):
        gen.sample(10, where={"purpose": "A48"})
