"""Installed versions of synthgen and the libraries that shape its output (recorded for lineage)."""

from __future__ import annotations

from importlib import metadata

__all__ = ["synthgen_version", "library_versions"]


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
