"""Every error synthgen raises on purpose, in one tree.

Each message is one line that names the column, parameter or file, what was
expected and what was found. The CLI maps the tree to exit codes: usage
errors (``UsageError``) exit 2, everything else under ``SynthgenError`` exits 1.

    SynthgenError
    ├── UsageError                 bad command-line usage or API arguments (exit 2)
    │   ├── ParameterError         unknown generator, unknown/invalid parameter
    │   └── NotFittedError         sample/save before fit (also sklearn's NotFittedError)
    ├── DataError                  the input table cannot be used
    │   ├── FileFormatError        missing, empty, unreadable or wrong-format file
    │   └── SchemaError            column problems, collected and raised together
    ├── GeneratorError             a generator cannot fit or sample this data
    │   └── NotEnoughRowsError     a rare class has too few rows for the method
    ├── ModelStoreError            saving or loading a model folder failed
    │   ├── IntegrityError         a payload's sha256 differs from the manifest
    │   ├── IncompatibleModelError manifest from an unknown format version
    │   └── UntrustedPayloadError  a pickle payload, refused unless loading is told to trust it
    ├── OutputExistsError          output exists and --force was not given
    ├── EvaluationError            inputs to evaluation do not fit together
    ├── ScorecardError             a scorecard file is corrupt or of another version
    └── PolicyError                a gate policy is malformed (names the line)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SynthgenError",
    "UsageError",
    "ParameterError",
    "NotFittedError",
    "DataError",
    "FileFormatError",
    "SchemaError",
    "GeneratorError",
    "NotEnoughRowsError",
    "ModelStoreError",
    "IntegrityError",
    "IncompatibleModelError",
    "UntrustedPayloadError",
    "OutputExistsError",
    "EvaluationError",
    "ScorecardError",
    "PolicyError",
]


class SynthgenError(Exception):
    """Base of every error synthgen raises on purpose."""

    exit_code = 1


class UsageError(SynthgenError, ValueError):
    """The call itself is wrong: a bad argument or option."""

    exit_code = 2


class ParameterError(UsageError):
    """Unknown generator name, unknown parameter, or a parameter value out of range."""


class DataError(SynthgenError, ValueError):
    """The input table cannot be used as given."""


class FileFormatError(DataError):
    """A file is missing, empty, unreadable, or not CSV/Parquet."""


class SchemaError(DataError):
    """One or more column problems; ``problems`` lists each, the message joins them."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class GeneratorError(SynthgenError, RuntimeError):
    """A generator cannot fit or sample this data; the message says what to change."""


class NotEnoughRowsError(GeneratorError):
    """A rare class has fewer rows than the method needs."""


class ModelStoreError(SynthgenError):
    """Saving or loading a model folder failed."""


class IntegrityError(ModelStoreError):
    """A payload file's sha256 differs from the manifest: the folder was changed."""


class IncompatibleModelError(ModelStoreError):
    """The manifest comes from a format version this synthgen cannot read."""


class UntrustedPayloadError(ModelStoreError):
    """A model folder holds a pickle payload (written by an older synthgen) and loading was not told to
    trust it: unpickling runs code, so it needs an explicit ``trust_pickle=True``."""


class OutputExistsError(SynthgenError):
    """The output path exists and overwriting was not asked for (--force)."""


class EvaluationError(SynthgenError, ValueError):
    """Real and synthetic inputs to evaluation do not fit together."""


class ScorecardError(SynthgenError, ValueError):
    """A scorecard JSON file is corrupt or of an unknown version."""


class PolicyError(SynthgenError, ValueError):
    """A gate policy file is malformed; the message names the line."""


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's message on one line (white space folded), optionally cut to ``limit`` characters."""
    text = " ".join(str(exc).split())
    return text[:limit] if limit else text


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while a command ran (how Kubernetes, Argo and CI runners stop a job).

    A KeyboardInterrupt, so every cleanup Ctrl-C runs (``atomic_path``/``atomic_dir``/``TableWriter``
    temporaries removed, a compare's partial folder) runs for it too; ``_dispatch`` turns it into 143.
    """


def _not_fitted_error() -> type:
    """``NotFittedError``, made on first use: it subclasses scikit-learn's, and importing scikit-learn takes
    seconds that `synthgen --help`, `audit` and `lineage` do not need."""
    from sklearn.exceptions import NotFittedError as _SklearnNotFitted

    class NotFittedError(UsageError, _SklearnNotFitted):
        """A generator or sampler was used before ``fit``; also scikit-learn's ``NotFittedError``, so
        ``except sklearn.exceptions.NotFittedError`` and ``check_is_fitted`` callers see it too."""

    NotFittedError.__module__, NotFittedError.__qualname__ = __name__, "NotFittedError"  # pickles by name
    return NotFittedError


def __getattr__(name: str) -> Any:
    if name == "NotFittedError":
        cls = globals()["NotFittedError"] = _not_fitted_error()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
