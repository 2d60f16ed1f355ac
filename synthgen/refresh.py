"""`synthgen refresh`: re-augment when the data drifts (the production loop's last step).

Drift of NEW against the model's stored profile (``synthgen/drift.py``, the policy's thresholds) decides;
on significant drift, or with ``always``, the same generator with the same parameters, column kinds,
dropped columns and split rule is refitted on NEW, then N rows are generated, evaluated on NEW's
holdout and gated. The new model folder records its ``parent`` (the old manifest.json's sha256) and
the drift summary; its ``refresh/`` subfolder holds the drift report, the scorecard and the verdict.
The model folder, the synthetic file and its lineage manifest are written to temporaries and renamed
into place together, or none is. A FAIL is still written, marked failed (``release.verdict`` in the
lineage manifest, ``refresh/verdict.json``), and is exit 1, so a pipeline stops on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from . import lineage
from .drift import drift, profile
from .evaluation import Scorecard, evaluate
from .evaluation.utility import check_repeats, resolve_models
from .exceptions import ModelStoreError, UsageError
from .gate import Verdict, load_policy
from .io import TableWriter, atomic_paths, check_output, read_table, sha256_file, table_format
from .models.base import positive_int
from .pipeline import fit_table
from .store import load, read_manifest, verify_payload, write_model

__all__ = ["refresh_model", "RefreshResult", "REFRESH_FOLDER"]

#: the subfolder of a refreshed model folder with the drift report, the scorecard and the verdict
REFRESH_FOLDER = "refresh"


@dataclass
class RefreshResult:
    """What a refresh did: ``status`` is "no drift", "PASS" or "FAIL"; paths are None when nothing was written."""

    status: str
    reason: str
    drift: dict
    model: Path | None = None
    synthetic: Path | None = None
    verdict: Verdict | None = None
    scorecard: Scorecard | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        return 1 if self.status == "FAIL" else 0

    def summary(self) -> str:
        drifted = _drifted_columns(self.drift)
        what = (f"significant drift in {', '.join(drifted)}" if drifted else "no significant drift")
        if self.status == "no drift":
            return f"{what}: nothing to do (no output written; --always refreshes anyway)"
        head = f"refreshed ({'--always; ' if self.reason == 'always' else ''}{what})"
        lines = [f"{head}: model {self.model}, {self.synthetic}"]
        if self.verdict is not None:
            lines.append(self.verdict.summary())
        if self.status == "FAIL":
            lines.append(f"the refreshed output is marked failed: release.verdict FAIL in "
                         f"{lineage.manifest_path(self.synthetic)} and {self.model}/{REFRESH_FOLDER}/verdict.json")
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def _drifted_columns(report: dict) -> list[str]:
    """The significant drifts, as "column (all rows)" / "column (rare rows)"."""
    return list(report.get("significant") or [])


def _drift_summary(report: dict) -> dict:
    """What the new manifest keeps of the drift report: the decision, what drifted, the thresholds."""
    keep = ("drift", "significant", "thresholds", "rare_rate", "notes", "rows")
    return {k: report[k] for k in keep if k in report}


def _parent(model: Path) -> dict:
    """The model to refresh: its manifest (payload verified) and the settings a refit repeats."""
    manifest = read_manifest(model)
    verify_payload(model, manifest)
    if not manifest.get("profile"):
        raise ModelStoreError(f"model '{model}' has no stored drift profile (fitted by synthgen "
                              f"{manifest.get('synthgen_version')}); refit it with this version to refresh it")
    split = manifest.get("split") or {}
    if "holdout_fraction" not in split or "seed" not in split:
        raise ModelStoreError(f"model '{model}' records no split rule (fitted on a frame, not a file); "
                              "refit it with `synthgen fit` to refresh it")
    target = manifest["target"]
    kinds = {c["name"]: c["kind"] for c in manifest["schema"]["columns"] if c["name"] != target}
    kept = manifest["schema"].get("relations") or {}  # absent in models fitted before relations were kept
    declared = [r["text"] for r in kept.get("items") or [] if r.get("source") == "declared"]
    return {"manifest": manifest, "target": target, "kinds": kinds, "fraction": split["holdout_fraction"],
            "seed": split["seed"], "dropped": list(split.get("dropped_columns") or []), "relations": declared,
            "detect_relations": bool(kept.get("detected", True))}


def _check_outputs(model: Path, data: Path, out: Path, synthetic: Path, force: bool) -> Path:
    """Refuse outputs that would replace the model being refreshed, NEW, or each other; return the side manifest."""
    side = lineage.manifest_path(synthetic)
    if out.resolve() == model.resolve():
        raise UsageError(f"--out '{out}' is the model being refreshed; name a new folder (its parent stays as it is)")
    if synthetic.resolve() == data.resolve():
        raise UsageError(f"--synthetic-out '{synthetic}' is the --data file; name a new file")
    table_format(synthetic)
    for path in (out, synthetic, side):
        check_output(path, force=force)
    if synthetic.is_dir():
        raise UsageError(f"--synthetic-out '{synthetic}' is a folder; name a file")
    return side


def refresh_model(model: str | Path, data: str | Path, out: str | Path, synthetic_out: str | Path, n: int, *,
                  policy: str | Path | None = None, always: bool = False, force: bool = False,
                  protected: list[str] | None = None, seed: int = 0, chunk_size: int = 100_000,
                  utility_models: list[str] | None = None, utility_repeats: int = 3,
                  sensitive: list[str] | None = None,
                  progress: Callable[[str], None] | None = None) -> RefreshResult:
    """`synthgen refresh`: drift of ``data`` against ``model``'s profile; on significant drift (or
    ``always``) refit on ``data``, generate ``n`` rows to ``synthetic_out``, evaluate (``seed``, the
    utility and privacy options of `synthgen evaluate`) and gate."""
    n = positive_int(n, "n")
    chunk_size = positive_int(chunk_size, "chunk_size")
    resolve_models(utility_models)  # a bad name or count fails before any file is read
    check_repeats(utility_repeats)
    model, data, out, synthetic = Path(model), Path(data), Path(out), Path(synthetic_out)
    side = _check_outputs(model, data, out, synthetic, force)
    say = progress or (lambda line: None)
    pol = load_policy(policy)
    parent = _parent(model)
    target = parent["target"]
    df = read_table(data)
    present = [c for c in parent["dropped"] if c in df.columns]
    report = drift(parent["manifest"]["profile"], df.drop(columns=present), target, pol.drift)
    if not report["drift"] and not always:
        return RefreshResult("no drift", "no drift", report)
    say(f"refresh: {'significant drift' if report['drift'] else 'no significant drift; --always'}: refitting "
        f"{parent['manifest']['generator']} on {data}")
    gen, train, holdout, record = _refit(df, parent)
    extra = {
        "training_data": {"file": str(data.resolve()), "file_sha256": sha256_file(data), "table_rows": len(df)},
        "split": record,
        "profile": profile(train, target, gen.schema_, rare=gen.classes_),
        "parent": sha256_file(model / "manifest.json"),
        "parent_path": str(model.resolve()),
        "drift": _drift_summary(report),
        "refresh": {"reason": "drift" if report["drift"] else "always", "data": str(data.resolve()),
                    "folder": REFRESH_FOLDER},
    }
    result = RefreshResult("", "drift" if report["drift"] else "always", report, model=out, synthetic=synthetic)
    with atomic_paths(out, side, synthetic, force=force, folders=(out,)) as (model_tmp, side_tmp, synthetic_tmp):
        write_model(gen, model_tmp, extra=extra)
        say(f"refresh: generating {n:,} rows")
        record_ = _generate(model_tmp, out, synthetic, synthetic_tmp, n, chunk_size)
        say("refresh: evaluating and gating")
        rows = read_table(synthetic_tmp, fmt=table_format(synthetic))
        card = evaluate(train, holdout, rows, target=target, protected=protected or None, random_state=seed,
                        schema=gen.schema_, utility_models=utility_models, utility_repeats=utility_repeats,
                        sensitive=sensitive)
        verdict = pol.check(card)
        _write_refresh_folder(model_tmp / REFRESH_FOLDER, report, card, verdict)
        record_["release"] = {"verdict": "PASS" if verdict.passed else "FAIL",
                              "policy": {"path": pol.path, "sha256": pol.sha256, "version": pol.version},
                              "scorecard": f"{out}/{REFRESH_FOLDER}/scorecard.json",
                              "quality_score": card.quality_score}
        lineage.write_record(side_tmp, record_, target=side)
    result.status, result.verdict, result.scorecard = ("PASS" if verdict.passed else "FAIL"), verdict, card
    return result


def _refit(df: pd.DataFrame, parent: dict) -> tuple[Any, pd.DataFrame, pd.DataFrame, dict]:
    """The parent's generator and parameters, fitted on ``df``'s train rows under the parent's split rule
    (``pipeline.fit_table``), keeping the parent's relations: its declared ones checked again on the new train
    rows, its detected ones detected again (unless the parent was fitted with detection off)."""
    manifest = parent["manifest"]
    fitted = fit_table(df, parent["target"], manifest["generator"], params=manifest["params"],
                       holdout=parent["fraction"], seed=parent["seed"], column_kinds=parent["kinds"],
                       drop=parent["dropped"], relations=parent["relations"],
                       detect_relations=parent["detect_relations"])
    return fitted.generator, fitted.train, fitted.holdout, fitted.record


def _generate(model_tmp: Path, model_final: Path, synthetic: Path, synthetic_tmp: Path, n: int,
              chunk_size: int) -> dict:
    """Write n rows of the saved model (loaded back, as `synthgen generate` would) and their lineage record."""
    gen = load(model_tmp)
    with TableWriter(synthetic, into=synthetic_tmp) as writer:
        for chunk in gen.iter_sample(n, chunk_size=chunk_size, random_state=gen.seed_):
            writer.write(chunk)
    return lineage.generate_record(
        file=synthetic, file_sha256=sha256_file(synthetic_tmp), file_bytes=synthetic_tmp.stat().st_size,
        rows=writer.rows, model=model_final, model_manifest_sha256=sha256_file(model_tmp / "manifest.json"),
        generator=gen.name, n=n, seed=gen.seed_, seed_source="model", chunk_size=chunk_size, label=None,
        fmt=writer.format)


def _write_refresh_folder(folder: Path, report: dict, card: Scorecard, verdict: Verdict) -> None:
    """drift.json, scorecard.json and verdict.json of the refresh, inside the (temporary) new model folder."""
    folder.mkdir()
    (folder / "drift.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    card.save(folder / "scorecard.json", force=True)
    verdict.save(folder / "verdict.json", force=True)
