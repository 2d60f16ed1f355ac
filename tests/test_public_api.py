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


def _modules_after(code: str) -> set[str]:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", f"import sys; {code}; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_the_package_and_its_errors_load_no_scientific_stack():
    """`synthgen --help`, `audit` and `lineage` start without scikit-learn (seconds of import)."""
    loaded = _modules_after("import synthgen, synthgen.exceptions, synthgen.cli")
    assert not {m.split(".")[0] for m in loaded} & {"sklearn", "scipy", "pandas", "imblearn", "torch"}
    loaded = _modules_after("import synthgen.audit, synthgen.lineage")
    assert "sklearn" not in {m.split(".")[0] for m in loaded}
    import synthgen  # the names still resolve, each from its module, once
    assert synthgen.SynthSampler.__module__ == "synthgen.models.sampler"
    import sklearn.exceptions
    assert issubclass(synthgen.exceptions.NotFittedError, sklearn.exceptions.NotFittedError)


def test_generate_and_its_ray_workers_load_no_evaluation_stack():
    """What `generate` and each Ray worker import (the pipeline, the generators, the store): no evaluation,
    imbalanced-learn, Fairlearn or torch (measured: `import synthgen.pipeline` 181 MB RSS, was 213 MB)."""
    loaded = _modules_after("import synthgen.pipeline, synthgen.models, synthgen.store")
    assert not {m for m in loaded if m.startswith("synthgen.evaluation")}
    assert not {m.split(".")[0] for m in loaded} & {"imblearn", "fairlearn", "torch", "sdv"}
