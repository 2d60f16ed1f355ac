"""Installed versions of synthgen and the libraries that shape its output (recorded for lineage)."""

from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["synthgen_version", "library_versions", "recorded_versions", "LIBRARIES"]

#: The libraries whose versions shape a model's or a scorecard's numbers: recorded in both.
LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "imbalanced-learn", "sdv", "ctgan", "torch", "pyarrow",
             "fairlearn")


def synthgen_version() -> str:
    return library_versions(["synthgen"])["synthgen"]


def library_versions(names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """{name: version} for installed distributions; "unknown" for one that is not installed."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def recorded_versions() -> dict[str, str]:
    """Python, synthgen and ``LIBRARIES``: what model manifests and scorecards record."""
    return {"python": platform.python_version(), **library_versions(("synthgen",) + LIBRARIES)}
