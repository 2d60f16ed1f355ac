"""Model folders: ``manifest.json`` (lineage, schema, hashes) plus payload files.

The store handles folders, manifests and hashes only: what a fitted generator holds, it writes and
reads itself (``_get_state``/``_set_state``). It imports nothing from ``synthgen.models``; generators
are known to it by name through ``register_generator``.

Saving writes a temporary folder and renames it into place, and never replaces an existing
folder unless ``force``. Loading checks the format version and every payload's sha256 before
reading any payload, and refuses a pickle payload unless told to trust it (``trust_pickle``).
"""

from __future__ import annotations

import datetime as _dt
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import (
    IncompatibleModelError,
    IntegrityError,
    ModelStoreError,
    UntrustedPayloadError,
)
from .io import atomic_dir, sha256_file
from .schema import _py
from .versions import recorded_versions, synthgen_version

__all__ = ["save_generator", "write_model", "load", "read_manifest", "verify_payload", "register_generator",
           "compact_split", "MODEL_FORMAT_VERSION"]

MODEL_FORMAT_VERSION = 1


_GENERATOR_TYPES: dict[str, type] = {}  # generator name -> class, filled by register_generator


def register_generator(cls: type) -> type:
    """Make a generator class loadable by its ``name`` (``synthgen.models`` registers every generator).

    The store knows generators only through this table and the methods ``_get_state``/``_set_state``,
    so it imports nothing from ``synthgen.models`` (which imports the store to save).
    """
    _GENERATOR_TYPES[cls.name] = cls
    return cls


def save_generator(generator: Any, path: str | Path, *, force: bool = False, extra: dict | None = None) -> Path:
    """Write a fitted generator to ``path`` atomically; ``extra`` adds lineage (data file, split).

    The generator writes its own state (``generator._get_state(folder)``: payload files plus manifest
    fields); the store adds the header, the payload hashes and the library versions.
    """
    generator._check_fitted()
    path = Path(path)
    with atomic_dir(path, force=force) as tmp:
        write_model(generator, tmp, extra=extra)
    return path


def write_model(generator: Any, folder: str | Path, *, extra: dict | None = None) -> Path:
    """Write a fitted generator's payload and manifest into the empty folder ``folder`` (not atomic by
    itself: ``save_generator`` and ``synthgen refresh`` write into a temporary folder renamed at the end)."""
    generator._check_fitted()
    tmp = Path(folder)
    state = dict(generator._get_state(tmp))
    payload = dict(state.pop("payload"))
    payload["files"] = {name: sha256_file(tmp / name) for name in payload["files"]}
    manifest = {
        "format": "synthgen-model",
        "format_version": MODEL_FORMAT_VERSION,
        "synthgen_version": synthgen_version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "generator": generator.name,
        **state,
        "split": None,
        "payload": payload,
        "library_versions": recorded_versions(),
    }
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(manifest.get(key), dict):
            manifest[key] = {**manifest[key], **value}
        else:
            manifest[key] = value
    manifest["split"] = compact_split(manifest["split"])
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default))
    return tmp


def compact_split(split: dict | None) -> dict | None:
    """A split record as a manifest keeps it: the rule (seed, fraction, stratified column) and the sha256
    of the holdout positions, never the positions themselves (525,000 numbers for a 1.75M-row table);
    ``pipeline.rebuild_split`` re-derives them from the data and checks that sha256."""
    if not isinstance(split, dict):
        return split
    return {k: v for k, v in split.items() if k != "holdout_positions"}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return _py(value)


def read_manifest(path: str | Path) -> dict:
    """The manifest of a model folder, with one-line errors for anything that is not one."""
    path = Path(path)
    if not path.exists():
        raise ModelStoreError(f"model folder '{path}' does not exist")
    if not path.is_dir():
        raise ModelStoreError(f"model '{path}' is not a folder (expected a folder written by `synthgen fit`)")
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise ModelStoreError(f"model folder '{path}' has no manifest.json; is it a synthgen model?")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IntegrityError(f"model folder '{path}': manifest.json is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "synthgen-model":
        raise ModelStoreError(f"model folder '{path}': manifest.json is not a synthgen model manifest")
    if manifest.get("format_version") != MODEL_FORMAT_VERSION:
        raise IncompatibleModelError(
            f"model folder '{path}': format version {manifest.get('format_version')!r} (synthgen "
            f"{manifest.get('synthgen_version')}) cannot be read by this synthgen (format {MODEL_FORMAT_VERSION}); refit it"
        )
    return manifest


def verify_payload(path: str | Path, manifest: dict) -> None:
    """Raise IntegrityError unless every payload file exists and matches its sha256 in the manifest."""
    path = Path(path)
    for name, expected in manifest["payload"]["files"].items():
        file = path / name
        if not file.exists():
            raise IntegrityError(f"model folder '{path}': payload file '{name}' is missing")
        if sha256_file(file) != expected:
            raise IntegrityError(
                f"model folder '{path}': payload file '{name}' was changed (sha256 differs from manifest); refusing to load it"
            )


def load(path: str | Path, *, trust_pickle: bool = False):
    """Load a fitted generator from a model folder, after checking its version and payload hashes.

    The store builds the generator from the manifest's name and parameters and hands it the manifest
    and the folder (``generator._set_state``); the generator reads its own state back. Payloads are
    read without unpickling; a pickle payload (CTGAN/TVAE models written by an older synthgen,
    SDV's Gaussian copula) is refused unless ``trust_pickle=True``: unpickling runs
    code from the folder, so only do that for a folder you trust (its sha256s are checked either way).
    """
    path = Path(path)
    manifest = read_manifest(path)
    verify_payload(path, manifest)
    payload = manifest.get("payload") or {}
    if payload.get("format") == "pickle" or payload.get("executable"):
        if not trust_pickle:
            raise UntrustedPayloadError(
                f"model folder '{path}': its payload is a pickle ({manifest.get('generator')}, synthgen "
                f"{manifest.get('synthgen_version')}) and loading it would run code from the folder, so it is refused; "
                "refit the model, or load it with trust_pickle=True (CLI: --trust-pickle) if you trust whoever "
                "wrote the folder"
            )
        warnings.warn(f"model folder '{path}': unpickling {', '.join(payload.get('files') or {})} (sha256s match the "
                      f"manifest); this runs code from the folder: only do it for folders you trust",
                      UserWarning, stacklevel=2)
    name = manifest.get("generator")
    if not isinstance(name, str) or name not in _GENERATOR_TYPES:
        raise IncompatibleModelError(f"model folder '{path}': generator {name!r} is unknown to this synthgen "
                                     f"(known: {', '.join(sorted(_GENERATOR_TYPES))})")
    try:
        generator = _GENERATOR_TYPES[name](**manifest["params"])
    except (KeyError, TypeError) as exc:
        raise IncompatibleModelError(f"model folder '{path}': manifest parameters are unreadable ({exc})") from None
    generator._set_state(manifest, path, trust_pickle=trust_pickle)
    return generator
