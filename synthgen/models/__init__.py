"""The generators, by name: ``make_generator(name, **params)`` is how the CLI and the API build them."""

from __future__ import annotations

from typing import Any

from ..exceptions import ParameterError
from ..store import register_generator
from .base import BaseGenerator
from .arf import ARFGenerator
from .copula import GaussianCopulaGenerator
from .sdv_backend import CTGANGenerator, SDVGaussianCopulaGenerator, TVAEGenerator
from .smote import (
    ADASYNGenerator,
    BorderlineSMOTE2Generator,
    BorderlineSMOTEGenerator,
    KMeansSMOTEGenerator,
    SMOTEGenerator,
    SMOTENCGenerator,
    SMOTENGenerator,
    SVMSMOTEGenerator,
)
from .smote_variants_family import PolynomFitSMOTEGenerator, ProWSynGenerator

__all__ = ["BaseGenerator", "GENERATORS", "make_generator", "generator_names"]

GENERATORS: dict[str, type[BaseGenerator]] = {
    cls.name: cls
    for cls in (
        SMOTEGenerator,
        BorderlineSMOTEGenerator,
        BorderlineSMOTE2Generator,
        SVMSMOTEGenerator,
        ADASYNGenerator,
        KMeansSMOTEGenerator,
        SMOTENCGenerator,
        SMOTENGenerator,
        PolynomFitSMOTEGenerator,
        ProWSynGenerator,
        GaussianCopulaGenerator,
        CTGANGenerator,
        TVAEGenerator,
        ARFGenerator,
    )
}
# kept out of the public list: SDV's copula, reached with make_generator("gaussian-copula", backend="sdv")
_ALL = {**GENERATORS, SDVGaussianCopulaGenerator.name: SDVGaussianCopulaGenerator}


def generator_names() -> list[str]:
    return list(GENERATORS)


def generator_class(name: str) -> type[BaseGenerator]:
    try:
        return _ALL[name]
    except KeyError:
        raise ParameterError(f"unknown generator {name!r}; choose one of: {', '.join(GENERATORS)}") from None


def make_generator(name: str, **params: Any) -> BaseGenerator:
    """Build a generator by its CLI name; unknown names and parameters list the valid ones."""
    if name == "gaussian-copula" and params.get("backend") == "sdv":
        params.pop("backend")
        name = SDVGaussianCopulaGenerator.name
    elif name == "gaussian-copula":
        if params.pop("backend", "synthgen") != "synthgen":
            raise ParameterError("backend: expected 'synthgen' or 'sdv'")
    cls = generator_class(name)
    valid = cls.param_names()
    unknown = [key for key in params if key not in valid]
    if unknown:
        raise ParameterError(f"{name}: unknown parameter {unknown[0]!r}; valid: {', '.join(valid)}")
    return cls(**params)

for _cls in _ALL.values():
    register_generator(_cls)
