"""synthgen: synthetic rows for the rare class of a table, scored and gated before release.

    >>> from synthgen import make_generator, load_fraud
    >>> gen = make_generator("gaussian-copula", random_state=0).fit(load_fraud(), target="fraud")
    >>> rows = gen.sample(1000)   # exactly 1000 fraud rows in the original schema

The names below load their module on first use (PEP 562), so ``import synthgen.io`` or a Ray worker that
unpickles a generator does not also load the evaluation stack and imbalanced-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the names are, for type checkers and readers
    from .datasets import load_fraud, load_german_credit
    from .exceptions import SynthgenError
    from .models import BaseGenerator, generator_names, make_generator
    from .models.sampler import SynthSampler
    from .pipeline import fit_table, generate_file, split_table
    from .schema import ColumnKind, Schema
    from .store import load, save_generator

#: each public name and the module that holds it
_WHERE = {
    "BaseGenerator": ".models", "generator_names": ".models", "make_generator": ".models",
    "ColumnKind": ".schema", "Schema": ".schema",
    "SynthSampler": ".models.sampler",
    "SynthgenError": ".exceptions",
    "fit_table": ".pipeline", "generate_file": ".pipeline", "split_table": ".pipeline",
    "load": ".store", "save_generator": ".store",
    "load_fraud": ".datasets", "load_german_credit": ".datasets",
}

__all__ = [
    "BaseGenerator",
    "ColumnKind",
    "Schema",
    "SynthSampler",
    "SynthgenError",
    "fit_table",
    "generate_file",
    "generator_names",
    "load",
    "load_fraud",
    "load_german_credit",
    "make_generator",
    "save_generator",
    "split_table",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'synthgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
