"""The public API is curated: __all__ is exact and every name in it imports."""

import synthgen
import synthgen.exceptions


def test_all_is_exact():
    assert sorted(synthgen.__all__) == sorted([
        "BaseGenerator", "ColumnKind", "Schema", "SynthSampler", "SynthgenError", "fit_table", "generate_file",
        "generator_names", "load", "load_fraud", "load_german_credit", "make_generator", "save_generator",
        "split_table",
    ])
    for name in synthgen.__all__:
        assert getattr(synthgen, name) is not None


def test_generator_names():
    assert synthgen.generator_names() == [
        "smote", "borderline-smote", "borderline-smote-2", "svm-smote", "adasyn", "kmeans-smote", "smote-nc",
        "smote-n", "polynom-fit-smote", "prowsyn", "gaussian-copula", "ctgan", "tvae", "arf",
    ]


def test_exceptions_tree():
    exc = synthgen.exceptions
    assert sorted(exc.__all__) == sorted(n for n in dir(exc) if n.endswith("Error"))
    for name in exc.__all__:
        assert issubclass(getattr(exc, name), exc.SynthgenError)
    assert exc.ParameterError.exit_code == 2 and exc.SchemaError.exit_code == 1
