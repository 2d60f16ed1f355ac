"""Generators are scikit-learn estimators; SynthSampler is an imbalanced-learn over-sampler; the store
handles folders, manifests and hashes only (generators write and read their own state)."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.exceptions
from imblearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)
from sklearn.base import BaseEstimator, clone
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_estimators_overwrite_params,
    check_estimators_pickle,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_param_validation,
    check_parameters_default_constructible,
    check_set_params,
)
from sklearn.utils.validation import check_is_fitted

import synthgen
from synthgen import SynthSampler, load, load_fraud, load_german_credit, make_generator
from synthgen.exceptions import NotFittedError, ParameterError, SynthgenError
from synthgen.models import _ALL, GENERATORS
from synthgen.models.base import resolve_seed
from synthgen.models.copula import GaussianCopulaGenerator

PACKAGE = Path(synthgen.__file__).parent

# --------------------------------------------------------------------------------------------- generators

# checks of scikit-learn's API that do not call fit(X, y): generators fit a DataFrame plus a target name
API_CHECKS = [
    check_estimator_cloneable,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_get_params_invariance,
    check_set_params,
    check_estimator_tags_renamed,
    check_do_not_raise_errors_in_init_or_set_params,
]


@pytest.mark.parametrize("check", API_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("cls", list(_ALL.values()), ids=list(_ALL))
def test_generators_pass_sklearn_api_checks(cls, check):
    gen = cls(random_state=0)
    assert isinstance(gen, BaseEstimator)
    check(cls.__name__, gen)


@pytest.mark.parametrize("name", list(_ALL))
def test_clone_every_generator(name):
    cls = _ALL[name]
    gen = cls(random_state=np.random.RandomState(1))
    copy = clone(gen)
    assert type(copy) is cls and copy is not gen
    params, copied = gen.get_params(deep=False), copy.get_params(deep=False)
    assert params.keys() == copied.keys() == set(cls.param_names())
    for key, value in params.items():
        if key == "random_state":  # clone deep-copies it: the same state, another object
            assert copied[key] is not value and copied[key].get_state()[1].tolist() == value.get_state()[1].tolist()
        else:
            assert copied[key] == value
    assert repr(cls(random_state=3)) == f"{cls.__name__}(random_state=3)"  # sklearn's repr: changed params only


def test_clone_of_a_fitted_generator_is_unfitted_and_refits_to_the_same_rows():
    df = load_german_credit()
    gen = make_generator("smote-nc", k_neighbors=3, random_state=4).fit(df, target="class")
    copy = clone(gen)
    assert copy.get_params() == gen.get_params()
    with pytest.raises(NotFittedError):
        copy.sample(5)
    pd.testing.assert_frame_equal(copy.fit(df, target="class").sample(200), gen.sample(200))


def test_get_and_set_params():
    gen = make_generator("borderline-smote", k_neighbors=3)
    assert gen.get_params(deep=True) == gen.get_params(deep=False)
    assert gen.get_params()["k_neighbors"] == 3 and gen.get_params()["m_neighbors"] == 10
    assert gen.set_params(m_neighbors=4, random_state=2) is gen
    assert (gen.m_neighbors, gen.random_state) == (4, 2)
    with pytest.raises(ParameterError, match="borderline-smote: unknown parameter 'bogus'; valid: k_neighbors"):
        gen.set_params(bogus=1)
    with pytest.raises(ParameterError, match="unknown parameter 'bogus'"):
        gen.set_params(bogus__depth=1)
    # deep: a sampler holding a generator exposes and sets the generator's parameters
    sampler = SynthSampler(make_generator("smote", k_neighbors=2))
    deep = sampler.get_params(deep=True)
    assert deep["generator__k_neighbors"] == 2 and "generator__k_neighbors" not in sampler.get_params(deep=False)
    sampler.set_params(generator__k_neighbors=4)
    assert sampler.generator.k_neighbors == 4


def test_tags():
    tags = get_tags(make_generator("gaussian-copula"))
    assert tags.requires_fit and tags.target_tags.required
    assert tags.input_tags.allow_nan and tags.input_tags.categorical and tags.input_tags.string
    sampler_tags = get_tags(SynthSampler())
    assert sampler_tags.estimator_type == "sampler" and not sampler_tags.input_tags.sparse
    assert sampler_tags.input_tags.dataframe and sampler_tags.input_tags.string and sampler_tags.input_tags.allow_nan


def test_not_fitted_error_is_sklearns_and_ours(tmp_path):
    gen = make_generator("gaussian-copula", random_state=0)
    for call in (lambda: gen.sample(5), lambda: gen.save(tmp_path / "m")):
        with pytest.raises(sklearn.exceptions.NotFittedError) as caught:
            call()
        assert isinstance(caught.value, NotFittedError) and isinstance(caught.value, SynthgenError)
        assert caught.value.exit_code == 2 and "gaussian-copula is not fitted yet" in str(caught.value)
    with pytest.raises(sklearn.exceptions.NotFittedError):  # sklearn's own check sees our fitted state
        check_is_fitted(gen)
    assert "NotFittedError" in synthgen.exceptions.__all__
    gen.fit(load_german_credit(), target="class")
    check_is_fitted(gen)


# ------------------------------------------------------------------------------------------- random_state

def _h(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16]


# sha256 (first 16 hex) of gen.fit(load_fraud(), "fraud").sample(500) to CSV, recorded before generators
# became scikit-learn estimators: int seeds keep giving the same rows
GOLDEN = {
    ("smote", 0): "b77f2ecbf7eaa273",
    ("smote", 7): "499b054612f21ab6",
    ("smote-nc", 0): "bf487a17058b761c",
    ("gaussian-copula", 0): "0ea023ad270c44db",
    ("gaussian-copula", 7): "4ab6eaff62ff8ba7",
}


@pytest.fixture(scope="module")
def fraud() -> pd.DataFrame:
    return load_fraud()


@pytest.mark.parametrize("name, seed", list(GOLDEN))
def test_int_seeds_give_the_rows_they_always_gave(fraud, name, seed):
    gen = make_generator(name, random_state=seed).fit(fraud, target="fraud")
    assert gen.seed_ == seed
    assert _h(gen.sample(500)) == GOLDEN[name, seed]


@pytest.mark.parametrize("make", [np.random.RandomState, np.random.default_rng], ids=["RandomState", "Generator"])
def test_random_state_objects_are_resolved_once_per_fit(make):
    df = load_german_credit()
    rs = make(11)
    first = make_generator("gaussian-copula", random_state=rs).fit(df, target="class")
    # exactly one draw per fit: the object moved as one 32-bit draw moves it, and the seed is that draw
    probe = make(11)
    drawn = resolve_seed(probe)
    assert first.seed_ == drawn
    assert _state(rs) == _state(probe)
    a = first.sample(300)
    # the same object again: the next draw, other rows; a fresh object with the same seed: the same rows
    second = clone(first).set_params(random_state=rs).fit(df, target="class")
    assert second.seed_ != first.seed_ and not a.equals(second.sample(300))
    again = make_generator("gaussian-copula", random_state=make(11)).fit(df, target="class")
    pd.testing.assert_frame_equal(a, again.sample(300))
    # and an int seed equal to the drawn one gives the same rows too (the seed is what is recorded)
    pd.testing.assert_frame_equal(a, make_generator("gaussian-copula", random_state=drawn).fit(df, "class").sample(300))
    # sample(random_state=...) takes the same kinds
    pd.testing.assert_frame_equal(first.sample(50, random_state=make(5)), first.sample(50, random_state=make(5)))


def _state(rs):
    return rs.get_state()[1].tolist() if isinstance(rs, np.random.RandomState) else rs.bit_generator.state


def test_random_state_none_and_bad_values():
    df = load_german_credit()
    a = make_generator("gaussian-copula").fit(df, target="class")
    b = make_generator("gaussian-copula").fit(df, target="class")
    assert a.seed_ != b.seed_  # fresh, recorded
    for bad in (-1, "3", 1.5, True, [1]):
        with pytest.raises(ParameterError, match="random_state"):
            make_generator("gaussian-copula", random_state=bad).fit(df, target="class")


def test_saved_params_record_the_drawn_seed(tmp_path):
    df = load_german_credit()
    gen = make_generator("gaussian-copula", random_state=np.random.RandomState(2)).fit(df, target="class")
    loaded = load(gen.save(tmp_path / "m"))
    assert loaded.random_state == gen.seed_ == loaded.seed_
    pd.testing.assert_frame_equal(loaded.sample(100), gen.sample(100))


# ------------------------------------------------------------------------------------------- SynthSampler

@parametrize_with_checks([SynthSampler(random_state=0), SynthSampler("smote-nc", random_state=0)])
def test_synth_sampler_passes_imblearn_checks(estimator, check):
    # every sampler check imbalanced-learn yields for these tags runs; check_samplers_sparse is not yielded
    # because the tags say sparse=False (generators model a table: scipy sparse input is refused), and
    # check_samplers_pandas_sparse runs on the densified frame
    check(estimator)


# scikit-learn's checks that fit a sampler too; left out: check_dont_overwrite_parameters (its y gives a
# class a single row, which no generator can learn from: NotEnoughRowsError)
SAMPLER_FIT_CHECKS = [check_param_validation, check_estimators_pickle, check_estimators_overwrite_params,
                      check_dataframe_column_names_consistency]


@pytest.mark.parametrize("check", API_CHECKS + SAMPLER_FIT_CHECKS, ids=lambda c: c.__name__)
def test_synth_sampler_passes_sklearn_api_checks(check):
    check("SynthSampler", SynthSampler(random_state=0))


def test_sampler_refuses_scipy_sparse_input():
    """imbalanced-learn's check_samplers_sparse is not run: the tags say sparse=False, because a
    generator models a table; a sparse matrix gets scikit-learn's error, a sparse DataFrame is densified."""
    from scipy import sparse

    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.r_[np.zeros(30, dtype=int), np.ones(10, dtype=int)]
    with pytest.raises(TypeError, match="Sparse data was passed"):
        SynthSampler(random_state=0).fit_resample(sparse.csr_matrix(X), y)


def test_sampler_random_state_none_is_fresh_and_keeps_the_generators_seed():
    df = load_german_credit()
    X, y = df.drop(columns=["class"]), df["class"]
    a, _ = SynthSampler("gaussian-copula").fit_resample(X, y)
    b, _ = SynthSampler("gaussian-copula").fit_resample(X, y)
    assert not a.iloc[1000:].equals(b.iloc[1000:])  # fresh randomness, as in imbalanced-learn
    sampler = SynthSampler(GaussianCopulaGenerator(random_state=5))
    c, _ = sampler.fit_resample(X, y)
    assert sampler.generator_.seed_ == 5  # the generator's own seed is kept
    d, _ = SynthSampler("gaussian-copula", generator_params={"random_state": 5}).fit_resample(X, y)
    pd.testing.assert_frame_equal(c, d)
    e, _ = SynthSampler(GaussianCopulaGenerator(random_state=5), random_state=6).fit_resample(X, y)
    assert not c.equals(e)  # the sampler's random_state, when given, is the fit's seed
    f, _ = SynthSampler(random_state=np.random.RandomState(6)).fit_resample(X, y)
    g, _ = SynthSampler(random_state=np.random.default_rng(6)).fit_resample(X, y)
    assert len(f) == len(g) == 1400


def test_sampler_fitted_attributes_exist_when_nothing_is_added():
    X = pd.DataFrame({"a": np.arange(20.0), "b": list("pq") * 10})
    y = np.r_[np.zeros(10, dtype=int), np.ones(10, dtype=int)]
    sampler = SynthSampler(random_state=0)
    X_out, y_out = sampler.fit_resample(X, y)
    assert X_out.equals(X) and np.array_equal(y_out, y)
    assert sampler.generator_ is None and sampler.sampling_strategy_ == {1: 0}
    assert sampler.n_features_in_ == 2 and list(sampler.feature_names_in_) == ["a", "b"]
    assert sampler.fit(X, y) is sampler


def test_sampler_keeps_mixed_dataframes():
    df = load_german_credit()
    X, y = df.drop(columns=["class"]), pd.Series(df["class"].to_numpy(), name="label", index=df.index + 100)
    X_out, y_out = SynthSampler("smote-nc", random_state=0, sampling_strategy="minority").fit_resample(X, y)
    assert list(X_out.columns) == list(X.columns) and (X_out.dtypes == X.dtypes).all()
    assert isinstance(y_out, pd.Series) and y_out.name == "label" and y_out.index.equals(X_out.index)
    assert (y_out == 2).sum() == 700
    new = X_out.iloc[len(X):]
    for col in X.columns[X.dtypes == object]:
        assert new[col].isin(X[col].unique()).all(), col


# -------------------------------------------------------------------------------------------------- store

def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (imports inside functions count), made absolute."""
    found = set()
    package = "synthgen" if path.parent == PACKAGE else f"synthgen.{path.parent.name}"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_store_imports_nothing_from_models():
    imports = _imports(PACKAGE / "store.py")
    assert not [m for m in imports if m.startswith("synthgen.models")], imports
    # the models do use the store (to save): one way only
    assert "synthgen.store" in _imports(PACKAGE / "models" / "base.py")


def test_store_sets_no_generator_attribute():
    """store.load hands the manifest to the generator (_set_state); it assigns no attribute itself."""
    tree = ast.parse((PACKAGE / "store.py").read_text())
    assigned = [node for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(target, ast.Attribute)]
    assert not assigned, [ast.unparse(node) for node in assigned]


@pytest.mark.parametrize("name", ["smote", "gaussian-copula", "smote-nc", "smote-n"])
def test_generators_write_and_read_their_own_state(name, tmp_path):
    df = load_german_credit()
    gen = make_generator(name, random_state=1).fit(df, target="class")
    tmp_path.mkdir(exist_ok=True)
    state = gen._get_state(tmp_path)
    assert set(state["payload"]["files"]) == {p.name for p in tmp_path.iterdir()}
    fresh = type(gen)(**state["params"])
    fresh._set_state(state, tmp_path)
    pd.testing.assert_frame_equal(fresh.sample(300), gen.sample(300))
    assert fresh.seed_ == gen.seed_ and fresh.classes_ == gen.classes_


def test_unknown_generator_in_a_manifest(tmp_path):
    import json

    from synthgen.exceptions import IncompatibleModelError

    path = make_generator("smote", random_state=0).fit(load_german_credit(), target="class").save(tmp_path / "m")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["generator"] = "nonexistent"
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleModelError, match="generator 'nonexistent' is unknown"):
        load(path)
    assert GENERATORS  # the registry the store was given


# ------------------------------------------------------------------------- CTGAN/TVAE payloads: no pickle

NEURAL = {"epochs": 2, "batch_size": 100, "verbose": False}


@pytest.fixture(scope="module")
def neural() -> dict:
    df = load_german_credit()
    return {name: make_generator(name, random_state=2, **NEURAL).fit(df, target="class") for name in ("ctgan", "tvae")}


def _rehash(path: Path) -> None:
    import json

    from synthgen.io import sha256_file

    manifest = json.loads((path / "manifest.json").read_text())
    manifest["payload"]["files"] = {name: sha256_file(path / name) for name in manifest["payload"]["files"]}
    (path / "manifest.json").write_text(json.dumps(manifest))


class _Planted:
    """A pickle that runs code when loaded: it makes the folder ``marker``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("name", ["ctgan", "tvae"])
def test_neural_models_are_saved_and_loaded_without_unpickling(neural, name, tmp_path, monkeypatch):
    import json
    import pickle

    import torch

    gen = neural[name]
    path = gen.save(tmp_path / "m")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["payload"]["format"] == "torch" and manifest["payload"]["executable"] is False
    assert sorted(manifest["payload"]["files"]) == sorted([f"{'generator' if name == 'ctgan' else 'decoder'}_0.pt",
                                                           "network.json", "network.npz"])
    calls = []
    real_load = torch.load

    def checked_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading a model")

    monkeypatch.setattr(torch, "load", checked_load)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    loaded = load(path)
    assert calls == [True]
    pd.testing.assert_frame_equal(loaded.sample(700), gen.sample(700))
    pd.testing.assert_frame_equal(loaded.sample(300, random_state=9), gen.sample(300, random_state=9))


def test_tvae_rows_equal_sdvs(neural):
    """TVAE is sampled from its decoder directly (tvae_sampling); the rows are SDV's, bit for bit."""
    from synthgen.models.sdv_backend import _SDVGenerator

    gen = neural["tvae"]
    state = gen.states_[0]
    for n, seed in ((7, 1), (100, 2), (333, 3)):
        ours = gen._sample(state, n, None, seed)
        sdv = _SDVGenerator._sample(gen, state, n, None, seed)  # SDV's TVAESynthesizer.sample, seeded
        np.testing.assert_array_equal(ours.numeric, sdv.numeric)
        np.testing.assert_array_equal(ours.codes, sdv.codes)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's, about the planted file
def test_a_planted_pickle_is_refused_by_default(neural, tmp_path):
    """A pickle payload whose sha256 matches the manifest (so hash checks pass) is still not unpickled."""
    import json
    import pickle

    from synthgen.exceptions import IntegrityError, UntrustedPayloadError

    marker = tmp_path / "ran"
    path = neural["ctgan"].save(tmp_path / "m")
    manifest = json.loads((path / "manifest.json").read_text())
    for name in manifest["payload"]["files"]:
        (path / name).unlink()
    (path / "synthesizer_0.pkl").write_bytes(pickle.dumps(_Planted(str(marker))))
    manifest["payload"].update(format="pickle", executable=True, files={"synthesizer_0.pkl": ""})
    (path / "manifest.json").write_text(json.dumps(manifest))
    _rehash(path)
    with pytest.raises(UntrustedPayloadError, match="payload is a pickle .*trust_pickle=True"):
        load(path)
    assert not marker.exists()
    # the same bytes under the torch format: torch.load(weights_only=True) refuses them
    other = neural["ctgan"].save(tmp_path / "m2")
    (other / "generator_0.pt").write_bytes(pickle.dumps(_Planted(str(marker))))
    _rehash(other)
    with pytest.raises(IntegrityError, match="'generator_0.pt' is not a torch state_dict"):
        load(other)
    assert not marker.exists()


def _old_pickle_folder(gen, where):
    """A CTGAN model folder as synthgen wrote it before state_dicts: one pickle per class, rehashed."""
    import json
    import pickle

    path = gen.save(where)
    manifest = json.loads((path / "manifest.json").read_text())
    for name in manifest["payload"]["files"]:
        (path / name).unlink()
    state = {key: gen.states_[0][key] for key in ("synthesizer", "n_numeric", "n_codes")}
    (path / "synthesizer_0.pkl").write_bytes(pickle.dumps(state))
    manifest["payload"].update(format="pickle", executable=True, files={"synthesizer_0.pkl": ""})
    (path / "manifest.json").write_text(json.dumps(manifest))
    _rehash(path)
    return path


def test_older_pickle_models_load_only_when_trusted(neural, tmp_path):
    """A CTGAN model folder as synthgen wrote it before state_dicts (a pickle per class) loads with
    trust_pickle=True and a warning, and samples the same rows; a changed byte still fails the hash."""

    from synthgen.exceptions import IntegrityError, UntrustedPayloadError

    gen = neural["ctgan"]
    path = _old_pickle_folder(gen, tmp_path / "m")
    with pytest.raises(UntrustedPayloadError):
        load(path)
    with pytest.warns(UserWarning, match="unpickling synthesizer_0.pkl"):
        old = load(path, trust_pickle=True)
    pd.testing.assert_frame_equal(old.sample(500), gen.sample(500))
    with open(path / "synthesizer_0.pkl", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(IntegrityError, match="was changed"):
        load(path, trust_pickle=True)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_cli_generate_refuses_a_pickle_model_unless_trusted(neural, tmp_path, capsys):
    """`synthgen generate` on a pickle-payload folder: a one-line error naming --trust-pickle and no
    output; with --trust-pickle it writes the rows."""

    from synthgen.cli import main

    gen = neural["ctgan"]
    path = _old_pickle_folder(gen, tmp_path / "m")
    out = tmp_path / "rows.csv"
    assert main(["generate", str(path), "-n", "50", "--out", str(out), "--no-progress"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trust-pickle" in err[0] and not out.exists()
    with pytest.warns(UserWarning, match="unpickling"):
        assert main(["generate", str(path), "-n", "50", "--out", str(out), "--no-progress", "--trust-pickle"]) == 0
    assert len(pd.read_csv(out)) == 50
