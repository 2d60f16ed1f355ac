"""Lineage: where a synthetic file came from, recorded beside it and followed back to the data.

``synthgen generate`` writes ``FILE.manifest.json`` beside FILE (``generate_record``): the file's sha256,
the model folder and the sha256 of its ``manifest.json``, the seed, n, the chunk size, the synthgen
version and the time. ``evaluate`` puts ``scorecard_record`` into the scorecard (the file checked
against its manifest; a mismatch is recorded, not fatal) and ``gate`` copies it into the verdict.
``synthgen lineage FILE`` walks ``chain``: synthetic file -> model folder -> training data -> parent
models (manifest key ``parent``: the sha256 of an earlier model's manifest.json, followed through
``parent_path`` when that folder is found), and ``format_chain`` prints it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from .exceptions import DataError, FileFormatError, IntegrityError, ModelStoreError, SynthgenError
from .io import sha256_file, sha256_path
from .schema import _py
from .store import read_manifest
from .versions import synthgen_version

__all__ = [
    "LINEAGE_FORMAT", "LINEAGE_FORMAT_VERSION", "SUFFIX", "manifest_path", "model_manifest_sha256",
    "generate_record", "write_record", "read_record", "scorecard_record", "chain", "format_chain",
]

LINEAGE_FORMAT = "synthgen-lineage"
LINEAGE_FORMAT_VERSION = 1
SUFFIX = ".manifest.json"


def manifest_path(file: str | os.PathLike) -> Path:
    """The lineage manifest beside a synthetic file: ``FILE.manifest.json``."""
    file = Path(file)
    return file.with_name(file.name + SUFFIX)


def model_manifest_sha256(model: str | os.PathLike) -> str:
    """sha256 of a model folder's ``manifest.json`` bytes (the folder is checked to be a synthgen model)."""
    read_manifest(model)
    return sha256_file(Path(model) / "manifest.json")


def generate_record(*, file: str | os.PathLike, file_sha256: str, file_bytes: int, rows: int, model: str | os.PathLike,
                    model_manifest_sha256: str, generator: str, n: int, seed: int, seed_source: str, chunk_size: int,
                    label: Any, fmt: str, engine: str = "local") -> dict[str, Any]:
    """The lineage manifest ``synthgen generate`` writes beside its output."""
    model = Path(model)
    return {
        "format": LINEAGE_FORMAT,
        "format_version": LINEAGE_FORMAT_VERSION,
        "synthgen_version": synthgen_version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "file": {"name": Path(file).name, "format": fmt, "rows": int(rows), "bytes": int(file_bytes),
                 "sha256": file_sha256},
        "model": {"path": str(model.resolve()), "manifest_sha256": model_manifest_sha256,
                  "generator": generator},
        "generation": {"n": int(n), "seed": seed, "seed_source": seed_source, "chunk_size": int(chunk_size),
                       "label": _py(label), "engine": engine},
    }


def write_record(path: str | os.PathLike, record: dict[str, Any], *, target: str | os.PathLike | None = None) -> None:
    """Write a lineage manifest to ``path`` (a temporary path the caller renames to ``target``)."""
    try:
        Path(path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise SynthgenError(f"lineage manifest '{target or path}': cannot be written "
                            f"({exc.strerror or type(exc).__name__}); nothing was written") from None


def read_record(file: str | os.PathLike) -> dict[str, Any] | None:
    """The lineage manifest of a synthetic file, or None when it has none; a corrupt one raises DataError."""
    path = manifest_path(file)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"lineage manifest '{path}': not readable JSON ({type(exc).__name__})") from None
    if not isinstance(record, dict) or record.get("format") != LINEAGE_FORMAT:
        raise DataError(f"lineage manifest '{path}': not a synthgen lineage manifest (format "
                        f"{record.get('format') if isinstance(record, dict) else None!r})")
    if record.get("format_version") != LINEAGE_FORMAT_VERSION:
        raise DataError(f"lineage manifest '{path}': format version {record.get('format_version')!r} cannot be read "
                        f"by this synthgen (it reads {LINEAGE_FORMAT_VERSION})")
    return record


def _file_check(file: Path, record: dict) -> tuple[str, str | None]:
    """The file's sha256 and, when it differs from the manifest's, the reason in words."""
    actual = sha256_path(file)
    recorded = (record.get("file") or {}).get("sha256")
    if actual != recorded:
        return actual, (f"file '{file}' sha256 {actual[:12]}... differs from its manifest's {str(recorded)[:12]}... "
                        "(changed after `synthgen generate` wrote it)")
    return actual, None


def scorecard_record(synthetic: str | os.PathLike, model: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """The ``lineage`` entry of a scorecard: the synthetic file checked against its manifest (None without one).

    A mismatch (the file changed, the manifest is unreadable, or MODEL_DIR is not the model that wrote
    the file) gives ``verified: false`` and the ``reason``; it never stops the evaluation.
    """
    synthetic = Path(synthetic)
    side = manifest_path(synthetic)
    if not side.is_file():
        return None
    entry: dict[str, Any] = {"manifest": str(side), "manifest_sha256": sha256_file(side), "verified": False,
                             "reason": None, "file_sha256": sha256_path(synthetic)}
    try:
        record = read_record(synthetic)
    except DataError as exc:
        entry["reason"] = str(exc)
        return entry
    assert record is not None
    entry.update(recorded_sha256=(record.get("file") or {}).get("sha256"), model=record.get("model"),
                 generation=record.get("generation"), created=record.get("created"),
                 synthgen_version=record.get("synthgen_version"))
    if entry["file_sha256"] != entry["recorded_sha256"]:
        entry["reason"] = _file_check(synthetic, record)[1]
    elif model is not None and _manifest_sha(Path(model)) != (record.get("model") or {}).get("manifest_sha256"):
        entry["reason"] = (f"the file was generated by model '{(record.get('model') or {}).get('path')}', not by "
                           f"'{model}' (their manifest.json sha256s differ)")
    else:
        entry["verified"] = True
    return entry


def _manifest_sha(folder: Path) -> str | None:
    manifest = folder / "manifest.json"
    return sha256_file(manifest) if manifest.is_file() else None


def _model_link(folder: Path, recorded_sha: str | None, what: str) -> dict[str, Any]:
    """One model of the chain: its recorded hash checked against the folder's manifest.json."""
    link: dict[str, Any] = {"path": str(folder), "manifest_sha256": recorded_sha, "found": folder.is_dir()}
    if not link["found"]:
        return link
    try:
        manifest = read_manifest(folder)
    except ModelStoreError as exc:
        raise IntegrityError(f"{what} '{folder}': {exc}") from None
    actual = sha256_file(folder / "manifest.json")
    if recorded_sha is not None and actual != recorded_sha:
        raise IntegrityError(f"{what} '{folder}': manifest.json sha256 {actual[:12]}... differs from the recorded "
                             f"{recorded_sha[:12]}... (the folder was refitted or changed since)")
    link.update(manifest_sha256=actual, generator=manifest.get("generator"), params=manifest.get("params"),
                seed=manifest.get("seed"), created=manifest.get("created"),
                synthgen_version=manifest.get("synthgen_version"), target=manifest.get("target"),
                training_data=_training_data(manifest), parent=manifest.get("parent"),
                parent_path=manifest.get("parent_path"))
    return link


def _training_data(manifest: dict) -> dict[str, Any]:
    """The training data a model records, with whether its file is still there and unchanged."""
    data = dict(manifest.get("training_data") or {})
    split = manifest.get("split") or {}
    out = {"file": data.get("file"), "file_sha256": data.get("file_sha256"), "table_rows": data.get("table_rows"),
           "train_rows": data.get("rows"), "train_sha256": data.get("sha256"),
           "split": {k: split.get(k) for k in ("seed", "holdout_fraction", "train_rows", "holdout_rows",
                                               "holdout_positions_sha256", "dropped_columns") if k in split},
           "status": "not recorded"}
    if data.get("file"):
        path = Path(data["file"])
        if not path.is_file():
            out["status"] = "not found"
        else:
            out["status"] = "matches" if sha256_file(path) == data.get("file_sha256") else "changed since the fit"
    return out


def chain(file: str | os.PathLike) -> dict[str, Any]:
    """The verified chain of a synthetic file: file -> model -> training data -> parent models.

    Raises (one line, exit 1) when FILE has no lineage manifest, when its sha256 or the model's
    manifest.json sha256 differs from the recorded one, or when the model folder is not found.
    """
    file = Path(file)
    if file.name.endswith(SUFFIX) and not manifest_path(file).exists():
        file = file.with_name(file.name[: -len(SUFFIX)])  # the manifest itself was named
    if not file.exists():
        raise FileFormatError(f"file '{file}': does not exist")
    record = read_record(file)
    if record is None:
        raise DataError(f"file '{file}': has no lineage manifest ('{manifest_path(file).name}' is not beside it); "
                        "only files written by `synthgen generate` have one")
    actual, problem = _file_check(file, record)
    if problem:
        raise IntegrityError(problem)
    recorded = record.get("model") or {}
    folder = Path(str(recorded.get("path")))
    model = _model_link(folder, recorded.get("manifest_sha256"), "model folder")
    if not model["found"]:
        raise IntegrityError(f"model folder '{folder}' that wrote '{file}' is not found (moved or deleted); its "
                             f"manifest.json sha256 was {str(recorded.get('manifest_sha256'))[:12]}...")
    return {"file": {"path": str(file), "sha256": actual, "verified": True, "manifest": str(manifest_path(file)),
                     **{k: v for k, v in (record.get("file") or {}).items() if k != "sha256"},
                     "created": record.get("created"), "synthgen_version": record.get("synthgen_version"),
                     "generation": record.get("generation"), "release": record.get("release")},
            "model": model, "parents": _parents(model)}


def _parents(model: dict[str, Any]) -> list[dict[str, Any]]:
    """Earlier models, newest first: followed through ``parent_path`` while the folder is found and matches."""
    parents: list[dict[str, Any]] = []
    seen = {model.get("manifest_sha256")}
    current = model
    while current.get("parent"):
        sha, where = current["parent"], current.get("parent_path")
        if sha in seen:
            parents.append({"manifest_sha256": sha, "path": where, "found": False, "note": "a cycle; stopped"})
            break
        seen.add(sha)
        if not where or not Path(where).is_dir():
            parents.append({"manifest_sha256": sha, "path": where, "found": False})
            break
        current = _model_link(Path(where), sha, "parent model folder")
        parents.append(current)
    return parents


def _model_lines(model: dict[str, Any], arrow: str) -> list[str]:
    if not model.get("found"):
        where = f" at '{model['path']}'" if model.get("path") else ""
        note = model.get("note") or "folder not found"
        return [f"{arrow} {model['manifest_sha256']} ({note}{where})"]
    params = json.dumps(model.get("params") or {}, sort_keys=True)
    return [f"{arrow} {model['path']}",
            f"    manifest sha256  {model['manifest_sha256']} (verified)",
            f"    generator        {model.get('generator')} {params}, fit seed {model.get('seed')}",
            f"    created          {model.get('created')} by synthgen {model.get('synthgen_version')}"]


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def format_chain(links: dict[str, Any]) -> str:
    """The chain as text: one block per link, each hash with whether it was verified."""
    f, model = links["file"], links["model"]
    gen = f.get("generation") or {}
    source = "the model's fit seed" if gen.get("seed_source") == "model" else "given"
    label = "" if gen.get("label") is None else f", label {gen['label']!r}"
    lines = [f"synthetic file {f['path']}",
             f"    sha256           {f['sha256']} (verified against {Path(f['manifest']).name})",
             f"    rows             {_count(f.get('rows'))} ({f.get('format')}), n {_count(gen.get('n'))}, seed "
             f"{gen.get('seed')} ({source}), chunk size {_count(gen.get('chunk_size'))}{label}",
             f"    created          {f.get('created')} by synthgen {f.get('synthgen_version')}"]
    release = f.get("release")
    if release:  # written by `synthgen refresh`: the gate's verdict on these rows
        policy = release.get("policy") or {}
        lines.append(f"    release          {release.get('verdict')} under policy {policy.get('path')} version "
                     f"{policy.get('version')} (scorecard {release.get('scorecard')})")
    lines += _model_lines(model, "<- model")
    data = model.get("training_data") or {}
    split = data.get("split") or {}
    lines += [f"<- training data {data.get('file')}",
              f"    sha256           {data.get('file_sha256')} (file {data.get('status')})",
              f"    rows             {data.get('table_rows')} in the table; {split.get('train_rows')} train, "
              f"{split.get('holdout_rows')} holdout (split seed {split.get('seed')}, holdout fraction "
              f"{split.get('holdout_fraction')})"]
    if split.get("dropped_columns"):
        lines.append(f"    dropped columns  {', '.join(split['dropped_columns'])}")
    if not links["parents"]:
        lines.append("<- parent model   none recorded")
    for parent in links["parents"]:
        lines += _model_lines(parent, "<- parent model")
    return "\n".join(lines)
