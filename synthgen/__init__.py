"""synthgen: synthetic rows for the rare class of a table, scored and gated before release.

    >>> from synthgen import make_generator, load_fraud
    >>> gen = make_generator("gaussian-copula", random_state=0).fit(load_fraud(), target="fraud")
    >>> rows = gen.sample(1000)   # exactly 1000 fraud rows in the original schema
"""

from __future__ import annotations

from .datasets import load_fraud, load_german_credit
from .exceptions import SynthgenError
from .models import BaseGenerator, generator_names, make_generator
from .models.sampler import SynthSampler
from .pipeline import fit_table, generate_file, split_table
from .schema import ColumnKind, Schema
from .store import load, save_generator

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
