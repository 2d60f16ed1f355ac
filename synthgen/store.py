"""Model folders: ``manifest.json`` (lineage, schema, hashes) plus payload files.

Saving writes a temporary folder and renames it into place, and never replaces an existing
folder unless ``force``. Loading checks the format version and every payload's sha256 before
reading any payload, so a changed pickle is refused before it could run.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

from .exceptions import IncompatibleModelError, IntegrityError, ModelStoreError
from .io import atomic_dir, sha256_file
from .schema import Schema, _py
from .versions import library_versions as _library_versions
from .versions import synthgen_version

__all__ = ["save_generator", "load", "read_manifest", "library_versions", "MODEL_FORMAT_VERSION"]

MODEL_FORMAT_VERSION = 1
_LIBRARIES = ("numpy", "pandas", "scipy", "scikit-learn", "imbalanced-learn", "sdv", "ctgan", "torch", "pyarrow")


def library_versions() -> dict[str, str]:
    """Python and the libraries that shape a model's output (recorded in manifests)."""
    return {"python": platform.python_version(), **_library_versions(("synthgen",) + _LIBRARIES)}


def save_generator(generator: Any, path: str | Path, *, force: bool = False, extra: dict | None = None) -> Path:
    """Write a fitted generator to ``path`` atomically; ``extra`` adds lineage (data file, split)."""
    generator._check_fitted()
    path = Path(path)
    with atomic_dir(path, force=force) as tmp:
        files = generator._save_payload(tmp)
        manifest = {
            "format": "synthgen-model",
            "format_version": MODEL_FORMAT_VERSION,
            "synthgen_version": synthgen_version(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "generator": generator.name,
            "params": {k: _py(v) for k, v in generator.get_params().items()},
            "seed": generator.seed_,
            "target": generator.target_,
            "classes": generator.classes_,
            "class_counts": generator.class_counts_,
            "training_data": dict(generator.training_),
            "split": None,
            "schema": generator.schema_.to_dict(),
            "encoder": generator.encoder_.get_state(),
            "id_starts": generator.id_starts_,
            # per rare class, per key column: rows-per-key histogram and missing share (JSON, no pickle)
            "key_sizes": getattr(generator, "key_sizes_", []),
            "payload": {
                "format": generator.payload_format,
                "executable": generator.payload_format == "pickle",
                "contains_real_rows": bool(generator.contains_real_rows),
                "files": {name: sha256_file(tmp / name) for name in files},
            },
            "library_versions": library_versions(),
        }
        for key, value in (extra or {}).items():
            if isinstance(value, dict) and isinstance(manifest.get(key), dict):
                manifest[key] = {**manifest[key], **value}
            else:
                manifest[key] = value
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default))
    return path


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


def load(path: str | Path):
    """Load a fitted generator from a model folder, after checking its version and payload hashes."""
    from .models import generator_class
    from .models.encoding import TableEncoder

    path = Path(path)
    manifest = read_manifest(path)
    verify_payload(path, manifest)
    try:
        generator = generator_class(manifest["generator"])(**manifest["params"])
        schema = Schema.from_dict(manifest["schema"])
        generator.seed_ = int(manifest["seed"])
        generator.schema_ = schema
        generator.target_ = manifest["target"]
        generator.classes_ = list(manifest["classes"])
        generator.class_counts_ = dict(manifest["class_counts"])
        generator.training_ = dict(manifest["training_data"])
        generator.encoder_ = TableEncoder.from_state(schema, manifest["encoder"])
        generator.id_starts_ = {k: int(v) for k, v in manifest["id_starts"].items()}
        generator.key_sizes_ = [
            {name: {"sizes": [[int(a), int(b)] for a, b in hist["sizes"]], "missing": float(hist.get("missing", 0.0))}
             for name, hist in per_class.items()}
            for per_class in manifest.get("key_sizes", [])  # absent in models saved before keys existed
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise IncompatibleModelError(f"model folder '{path}': manifest is incomplete or unreadable ({exc})") from None
    generator._load_payload(path)
    generator.manifest_ = manifest
    return generator
