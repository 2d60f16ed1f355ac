"""The one flow every command runs: read -> schema -> split -> fit -> save; load -> generate -> write.

The CLI only parses arguments and calls these functions; the Python API can call them too.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import pandas as pd

from . import audit, lineage, tracking
from .conditions import conditions_from, matching_real_rows
from .exceptions import (DataError, IntegrityError, NotEnoughRowsError, ParameterError, SynthgenError, UsageError,
                         one_line)
from .engine import make_engine
from .io import (TableWriter, atomic_paths, check_output, is_dataset_folder, read_table, sha256_file,
                 sha256_path)
from .models import make_generator
from .models.base import BaseGenerator, positive_int, resolve_seed, target_counts
from .schema import Schema, _py
from .store import load, read_manifest
from .versions import library_versions

__all__ = [
    "split_table", "fit_table", "FitResult", "fit_file", "generate_file", "rebuild_split", "evaluate_files", "gate_file",
    "GenerateResult", "decide_schema", "train_schema", "drop_columns",
    "observed",
]


def drop_columns(df: pd.DataFrame, drop: list[str] | None, target: str | None, *, source: str = "the table"
                 ) -> pd.DataFrame:
    """``df`` without the ``--drop`` columns (a new frame; the caller's is untouched); names are checked."""
    drop = list(drop or [])
    if not drop:
        return df
    for name in drop:
        if name not in df.columns:
            raise UsageError(f"--drop: column '{name}' is not in {source}; columns are: {', '.join(map(str, df.columns))}")
        if name == target:
            raise UsageError(f"--drop: '{name}' is the target")
    dup = sorted({d for d in drop if drop.count(d) > 1})
    if dup:
        raise UsageError(f"--drop: {', '.join(dup)} given more than once")
    if len(drop) >= df.shape[1] - (1 if target in df.columns else 0):
        raise UsageError("--drop: would remove every feature column")
    return df.drop(columns=drop)


def decide_schema(df: pd.DataFrame, target: str, column_kinds: dict[str, str] | None = None) -> Schema:
    """Column kinds decided ONCE, on the whole table before any split (what `inspect` shows)."""
    return Schema.detect(df, target=target, overrides=column_kinds)


def train_schema(train: pd.DataFrame, decided: Schema) -> Schema:
    """The decided kinds with values learned from ``train`` only (``Schema.for_rows``)."""
    return decided.for_rows(train)


def split_table(
    df: pd.DataFrame, target: str, holdout: float = 0.3, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Stratified, seeded train/holdout split; the record (the rule and the sha256 of the holdout
    positions) lets evaluation re-derive the same holdout from the same table (``rebuild_split``)."""
    if isinstance(holdout, bool) or not isinstance(holdout, (int, float)) or not 0 <= holdout < 1:
        raise ParameterError(f"--holdout: expected a fraction in [0, 1), got {holdout!r}")
    hold = _holdout_positions(df, target, holdout, seed)
    mask = np.zeros(len(df), dtype=bool)
    mask[hold] = True
    record = {
        "seed": int(seed),
        "holdout_fraction": float(holdout),
        "stratified_by": target,
        "train_rows": int((~mask).sum()),
        "holdout_rows": int(mask.sum()),
        # in memory only: a manifest keeps the rule (seed, fraction, stratified_by) and this sha256, never
        # the positions (store.compact_split); rebuild_split re-derives them and checks the sha256
        "holdout_positions": hold.astype(np.int64),
        "holdout_positions_sha256": _positions_sha256(hold),
    }
    return df.iloc[np.flatnonzero(~mask)], df.iloc[hold], record


def _holdout_positions(df: pd.DataFrame, target: str, holdout: float, seed: int) -> np.ndarray:
    """The split rule: sorted holdout row positions of scikit-learn's stratified ``train_test_split``."""
    from sklearn.model_selection import train_test_split

    if holdout == 0:
        return np.array([], dtype=np.int64)
    counts = df[target].value_counts()
    if counts.min() < 2:
        label = counts.idxmin()
        raise NotEnoughRowsError(
            f"rare class {_py(label)!r} of target '{target}' has {int(counts.min())} row(s); "
            "it needs at least 2 to appear in both train and holdout (or pass --holdout 0)"
        )
    try:
        _, hold = train_test_split(np.arange(len(df)), test_size=holdout, stratify=df[target].to_numpy(),
                                   random_state=seed)
    except ValueError as exc:
        raise DataError(f"cannot split '{target}' with --holdout {holdout}: {exc}") from None
    return np.sort(hold).astype(np.int64)


def _positions_sha256(hold: np.ndarray) -> str:
    """sha256 of sorted holdout row positions as little-endian int64 bytes (the split's fingerprint)."""
    return hashlib.sha256(np.asarray(hold, dtype="<i8").tobytes()).hexdigest()


@dataclass
class FitResult:
    """What ``fit_table`` made: the fitted generator, the split record and the train and holdout rows (after
    ``drop``). Unpacks as ``gen, record = fit_table(...)``, the two items it returned before."""

    generator: BaseGenerator
    record: dict
    train: pd.DataFrame
    holdout: pd.DataFrame

    def __iter__(self) -> Iterator[Any]:
        return iter((self.generator, self.record))


def fit_table(
    df: pd.DataFrame,
    target: str,
    generator: str | BaseGenerator,
    *,
    params: dict[str, Any] | None = None,
    holdout: float = 0.3,
    seed: int | None = 0,
    column_kinds: dict[str, str] | None = None,
    classes: list | None = None,
    drop: list[str] | None = None,
    relations: list | None = None,
    detect_relations: bool = True,
) -> FitResult:
    """Split ``df`` and fit a generator on the train part only; return it, the split record and the rows.

    Column kinds are decided once on the whole table (``decide_schema``), before the split, so a
    column's kind never depends on which rows landed in train; ``drop`` columns are removed first.
    Relations between columns are detected on train (unless ``detect_relations`` is False) and
    ``relations`` (``--relation`` texts) checked on it; the model keeps both (``BaseGenerator.fit``).
    """
    target_counts(df, target)  # target present, labelled, two classes or more: checked before splitting
    df = drop_columns(df, drop, target)
    decided = decide_schema(df, target, column_kinds)  # every column problem, with the table's row labels
    seed = resolve_seed(seed)
    gen = make_generator(generator, **(params or {})) if isinstance(generator, str) else generator
    if gen.random_state is None:
        gen.set_params(random_state=seed)
    train, hold, record = split_table(df, target, holdout, seed)
    gen.fit(train, target=target, classes=classes, schema=train_schema(train, decided), relations=relations,
            detect_relations=detect_relations)
    record["dropped_columns"] = list(drop or [])
    return FitResult(gen, record, train, hold)


def fit_file(
    data: str | Path,
    target: str,
    generator: str,
    out: str | Path,
    *,
    params: dict[str, Any] | None = None,
    holdout: float = 0.3,
    seed: int | None = 0,
    column_kinds: dict[str, str] | None = None,
    drop: list[str] | None = None,
    force: bool = False,
    relations: list[str] | None = None,
    detect_relations: bool = True,
) -> tuple[BaseGenerator, Path]:
    """`synthgen fit`: read DATA, split, fit on train, save the model folder with its lineage and the
    drift profile of the train rows (bins and shares, no rows: `synthgen drift MODEL_DIR CURRENT`);
    ``relations`` (``--relation``) and ``detect_relations`` (off: ``--no-relations``) as in ``fit_table``."""
    from .drift import profile  # here and below: generate (and each Ray worker) loads no evaluation stack

    check_output(out, force=force)  # fail before the (possibly long) fit
    df = read_table(data)
    fitted = fit_table(df, target, generator, params=params, holdout=holdout, seed=seed, column_kinds=column_kinds,
                       drop=drop, relations=relations, detect_relations=detect_relations)
    gen, record, train = fitted.generator, fitted.record, fitted.train  # train: the rows the model learned from
    extra = {
        "training_data": {"file": str(Path(data).resolve()), "file_sha256": sha256_file(data), "table_rows": len(df)},
        "split": record,
        "profile": profile(train, target, gen.schema_, rare=gen.classes_),
    }
    return gen, gen.save(out, force=force, extra=extra)


@dataclass
class GenerateResult:
    path: Path
    rows: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def generate_file(
    model: str | Path,
    n: int,
    out: str | Path,
    *,
    seed: int | None = None,
    chunk_size: int = 100_000,
    label: Any = None,
    force: bool = False,
    progress: bool = True,
    trust_pickle: bool = False,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    where: Any = None,
    allow_unseen: bool = False,
) -> GenerateResult:
    """`synthgen generate`: stream n rows from a saved model to CSV/Parquet in bounded memory, atomically.

    ``out`` is a file (.csv, .csv.gz, .parquet), or a Parquet dataset folder (named without a suffix:
    one ``part-NNNNN.parquet`` per block). Beside it goes ``out.manifest.json`` (``synthgen/lineage.py``:
    out's sha256, the model's manifest sha256, the seed used, n, chunk size); both are renamed into
    place together or neither. ``engine`` 'ray' samples the blocks as Ray tasks (``synthgen/engine.py``);
    each block is seeded by its index, so the rows, and the bytes written, equal the local engine's.
    ``trust_pickle``: load a model folder whose payload is a pickle (written by an older synthgen, or
    SDV's copula); unpickling runs code from the folder, so only for a folder you trust.
    ``where`` (``--where`` texts or the Python form) and ``allow_unseen``: conditions every row meets
    (``BaseGenerator.sample``), recorded in the lineage manifest's ``generation.where``."""
    n = positive_int(n, "n")
    chunk_size = positive_int(chunk_size, "chunk_size")
    out, side = Path(out), lineage.manifest_path(out)
    folder = is_dataset_folder(out)
    for path in (out, side):
        check_output(path, force=force)
    if folder and out.exists() and any(not p.name.startswith("part-") for p in out.iterdir()):
        raise UsageError(f"output '{out}' is a folder that synthgen did not write; name a new folder or a file")
    if side.is_dir():
        raise UsageError(f"output '{side}' is a folder; name a file")
    gen = load(model, trust_pickle=trust_pickle)
    model_sha = lineage.model_manifest_sha256(model)
    used_seed = gen.seed_ if seed is None else resolve_seed(seed)  # the rows iter_sample(seed) gives
    blocks = gen.sample_blocks(n, label, where=where, allow_unseen=allow_unseen, random_state=used_seed)
    conditions = blocks[0].where if blocks else None
    start = time.perf_counter()
    # the lineage manifest and the table are renamed into place together, the table last: never one alone
    with make_engine(engine, workers=workers, address=ray_address) as runner, \
            atomic_paths(side, out, force=force, folders=(out,) if folder else ()) as (side_tmp, out_tmp):
        if folder:
            rows, fmt = _write_parts(runner, gen, blocks, out_tmp, n, progress), "parquet-dataset"
        else:
            rows, fmt = _write_file(runner, gen, blocks, out, out_tmp, chunk_size, n, progress)
        record = lineage.generate_record(
            file=out, file_sha256=sha256_path(out_tmp), file_bytes=_bytes(out_tmp), rows=rows,
            model=model, model_manifest_sha256=model_sha, generator=gen.name, n=n, seed=used_seed,
            seed_source="model" if seed is None else "given", chunk_size=chunk_size, label=label, fmt=fmt,
            engine=engine)
        if conditions:
            record["generation"].update(where=conditions.texts(), allow_unseen=bool(allow_unseen))
        lineage.write_record(side_tmp, record, target=side)
    return GenerateResult(out, rows, time.perf_counter() - start)


def _bar(n: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=int(n), unit="rows", unit_scale=True, disable=not progress, file=sys.stderr, desc="generate")


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def sample_block(gen: BaseGenerator, spec: Any) -> pd.DataFrame:
    """One block's rows (an engine task: module level, so Ray ships it by reference)."""
    return gen.sample_block(spec)


def write_part(gen: BaseGenerator, item: tuple[Any, str]) -> int:
    """Write one block as ``part-NNNNN.parquet`` in the (temporary) dataset folder; its rows (an engine task)."""
    spec, folder = item
    frame = gen.sample_block(spec)
    frame.to_parquet(Path(folder) / f"part-{spec.index:05d}.parquet", index=False)
    return len(frame)


def _write_file(runner: Any, gen: BaseGenerator, blocks: list, out: Path, out_tmp: Path, chunk_size: int, n: int,
                progress: bool) -> tuple[int, str]:
    """Blocks in order into one CSV/Parquet file, each cut into chunks of ``chunk_size`` rows (as iter_sample)."""
    with TableWriter(out, into=out_tmp) as writer, _bar(n, progress) as bar:
        for frame in runner.map(sample_block, blocks, shared=gen):
            for lo in range(0, len(frame), chunk_size):
                writer.write(frame.iloc[lo: lo + chunk_size])
            bar.update(len(frame))
    return writer.rows, writer.format


def _write_parts(runner: Any, gen: BaseGenerator, blocks: list, folder: Path, n: int, progress: bool) -> int:
    """Blocks as the part files of a Parquet dataset folder, written where each task runs."""
    rows = 0
    with _bar(n, progress) as bar:
        for count in runner.map(write_part, [(spec, str(folder)) for spec in blocks], shared=gen):
            rows += count
            bar.update(count)
    return rows


def rebuild_split(model: str | Path, data: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The train and holdout rows a model was fitted with, from DATA; refuses a DATA that differs.

    The manifest records the split rule (seed, holdout fraction, stratified column) and the sha256 of
    the holdout positions; the positions are re-derived from DATA by that rule and must match it.
    Manifests written before that (``holdout_positions`` as a JSON list) are read as they are.
    """
    manifest = read_manifest(model)
    recorded = manifest.get("training_data", {}).get("file_sha256")
    actual = sha256_file(data)
    if recorded is None or manifest.get("split") is None:
        raise IntegrityError(f"model '{model}' records no data file or split; evaluate with --train/--holdout instead")
    if actual != recorded:
        raise IntegrityError(
            f"data '{data}' is not the table model '{model}' was fitted on (sha256 {actual[:12]}... "
            f"differs from the manifest's {recorded[:12]}...)"
        )
    df = read_table(data)
    split = manifest["split"]
    df = drop_columns(df, split.get("dropped_columns"), manifest.get("target"), source=f"data '{data}'")
    hold = _recorded_holdout(df, split, manifest, model)
    mask = np.zeros(len(df), dtype=bool)
    mask[hold] = True
    return df.iloc[np.flatnonzero(~mask)], df.iloc[hold], manifest


def _recorded_holdout(df: pd.DataFrame, split: dict, manifest: dict, model: str | Path) -> np.ndarray:
    """The holdout positions a manifest's split stands for: re-derived by its rule, or its JSON list
    (older manifests); either way checked against the recorded sha256."""
    expected = split.get("holdout_positions_sha256")
    if "holdout_positions" in split:  # written before the split was stored as a rule
        hold = np.asarray(split["holdout_positions"], dtype=np.int64)
        if hold.size and (hold.min() < 0 or hold.max() >= len(df)):
            raise IntegrityError(f"model '{model}': the recorded holdout positions do not fit the data's {len(df):,} rows")
        if expected is not None and _positions_sha256(hold) != expected:
            raise IntegrityError(f"model '{model}': manifest.json's holdout_positions differ from their recorded "
                                 "sha256 (the manifest was changed)")
        return hold
    missing = [k for k in ("seed", "holdout_fraction", "holdout_positions_sha256") if k not in split]
    if missing:
        raise IntegrityError(f"model '{model}': its split record lacks {', '.join(missing)}; "
                             "evaluate with --train/--holdout instead")
    target = split.get("stratified_by") or manifest.get("target")
    hold = _holdout_positions(df, target, split["holdout_fraction"], split["seed"])
    if _positions_sha256(hold) != expected:
        then = (manifest.get("library_versions") or {}).get("scikit-learn", "unknown")
        now = library_versions(["scikit-learn"])["scikit-learn"]
        raise IntegrityError(
            f"model '{model}': the holdout re-derived from the data (seed {split['seed']}, fraction "
            f"{split['holdout_fraction']}, stratified by '{target}') differs from the recorded one (sha256 "
            f"{_positions_sha256(hold)[:12]}... vs {expected[:12]}...; scikit-learn {then} at fit, {now} now); "
            "evaluate with --train/--holdout instead"
        )
    return hold


def evaluate_files(
    out: str | Path,
    *,
    synthetic: str | Path,
    model: str | Path | None = None,
    data: str | Path | None = None,
    train: str | Path | None = None,
    holdout: str | Path | None = None,
    target: str | None = None,
    protected: list[str] | None = None,
    seed: int = 0,
    column_kinds: dict[str, str] | None = None,
    drop: list[str] | None = None,
    force: bool = False,
    utility_models: list[str] | None = None,
    utility_repeats: int = 3,
    sensitive: list[str] | None = None,
    where: Any = None,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: Callable[[str], None] | None = None,
):
    """`synthgen evaluate`: score a synthetic file against real train/holdout files, or against the
    split a model recorded (rebuilt from DATA, which must hash to the manifest's data sha256).

    ``engine`` 'ray' runs the DCR searches over the synthetic rows in chunks and the utility fits as Ray
    tasks (``evaluation.evaluate``); the scorecard is the local engine's, byte for byte. ``progress`` gets a
    line as each step starts and ends.

    ``where`` (``--where`` texts or the Python form): the real rare rows of train and holdout that do not
    meet the conditions are left out (``synthgen.conditions.matching_real_rows``), so conditioned
    synthetic rows are scored against the real rows of the same pattern.

    With a model, the model's schema is used as it is (``column_kinds`` may only repeat it); with
    files, kinds are decided once on train and holdout together. ``drop`` columns leave every frame.
    """
    from .evaluation.utility import check_repeats, resolve_models

    check_output(out, force=force)
    resolve_models(utility_models)  # a bad name or count fails before any file is read
    check_repeats(utility_repeats)
    if model is not None and data is None:
        raise UsageError("evaluate MODEL_DIR needs --data DATA (the table the model was fitted on)")
    with make_engine(engine, workers=workers, address=ray_address) as runner:  # an unreachable Ray: before any work
        card = _evaluate_files(out, synthetic, model, data, train, holdout, target, protected, seed, column_kinds, drop,
                               utility_models, utility_repeats, sensitive, where, runner, progress)
    card.save(out, force=force)
    return card


def _evaluate_files(out, synthetic, model, data, train, holdout, target, protected, seed, column_kinds, drop,
                    utility_models, utility_repeats, sensitive, where, runner, progress):
    """The body of ``evaluate_files``, on an open engine: read, split, filter, score."""
    from .evaluation import evaluate

    if model is not None:
        real_train, real_holdout, manifest = rebuild_split(model, data)
        if target is not None and target != manifest["target"]:
            raise UsageError(f"--target '{target}' differs from the model's target '{manifest['target']}'")
        target = manifest["target"]
        if len(real_holdout) == 0:
            raise UsageError(f"model '{model}' was fitted with --holdout 0: there is no holdout to evaluate on")
        schema = _model_schema(model, manifest, column_kinds)
    else:
        missing = [flag for flag, value in (("--train", train), ("--holdout", holdout), ("--target", target)) if value is None]
        if missing:
            raise UsageError(f"evaluate needs MODEL_DIR --data DATA, or {' '.join(missing)}")
        real_train, real_holdout = read_table(train), read_table(holdout)
        schema = None
    real_train = drop_columns(real_train, drop, target, source="the real rows")
    real_holdout = drop_columns(real_holdout, drop, target, source="the holdout rows")
    provenance = lineage.scorecard_record(synthetic, model)  # the bytes about to be read, vs their manifest
    rows = read_table(synthetic)
    rows = rows.drop(columns=[c for c in drop or [] if c in rows.columns])
    if schema is None:
        both = pd.concat([real_train, real_holdout], ignore_index=True)
        schema = train_schema(real_train, decide_schema(both, target, column_kinds))
    else:
        dropped = set(drop or [])
        schema = Schema(columns=[c for c in schema.columns if c.name not in dropped], target=schema.target,
                        notes=schema.notes, relations=_relations_without(schema.relations, dropped))
    conditions = conditions_from(where, schema)
    real_train = matching_real_rows(real_train, target, conditions, what="train rows")
    real_holdout = matching_real_rows(real_holdout, target, conditions, what="holdout rows")
    card = evaluate(real_train, real_holdout, rows, target=target, protected=protected or None,
                    random_state=seed, schema=schema, utility_models=utility_models, utility_repeats=utility_repeats,
                    sensitive=sensitive, progress=progress, engine=runner)
    card.lineage = provenance  # None without a lineage manifest: the scorecard is then as before
    return card


def _relations_without(relations: dict | None, dropped: set[str]) -> dict | None:
    """A model's stored relations less those that tie a dropped column."""
    if not relations or not dropped:
        return relations
    items = [r for r in relations.get("items") or [] if not dropped & set(r.get("columns") or [])]
    return {**relations, "items": items}


def _model_schema(model: str | Path, manifest: dict, column_kinds: dict[str, str] | None) -> Schema:
    """The schema a model was fitted with; ``--column-kind``/``--schema`` may repeat it, never change it."""
    schema = Schema.from_dict(manifest["schema"])
    for name, kind in (column_kinds or {}).items():
        if name not in schema:
            raise UsageError(f"--column-kind/--schema: column '{name}' is not in model '{model}'")
        if schema[name].kind.value != kind:
            raise UsageError(f"--column-kind/--schema: column '{name}' is {kind} here but model '{model}' "
                             f"was fitted with it as {schema[name].kind.value}; refit the model to change a kind")
    return schema


def gate_file(scorecard: str | Path, *, policy: str | Path | None = None, out: str | Path | None = None,
              force: bool = False):
    """`synthgen gate`: the verdict of a saved scorecard under a policy (default: the packaged one)."""
    from .evaluation import Scorecard
    from .gate import load_policy

    if out is not None:
        check_output(out, force=force)
    card = Scorecard.load(scorecard)
    verdict = load_policy(policy).check(card)
    if card.lineage is not None:  # the synthetic file's lineage, as evaluate recorded it, and this scorecard's hash
        verdict.lineage = {"scorecard": str(scorecard), "scorecard_sha256": sha256_file(scorecard), **card.lineage}
    if out is not None:
        verdict.save(out, force=force)
    return verdict


@contextlib.contextmanager
def observed(command: str | None, argv: Sequence[str], inputs: Sequence[str | Path] = (),
             outputs: Sequence[str | Path] = (), track: tracking.Request | None = None) -> Iterator[audit.CommandRun]:
    """Observe one command: the audit log (``synthgen/audit.py``) records it, chained and locked; with
    ``track``, MLflow records it too (``synthgen/tracking.py``: mlflow and the tracking URI are checked
    before the body, a refusal is logged and raised; the run is logged from the outputs after it).

    Before the body runs, the log's location is checked (``audit.preflight``: a read-only, full or
    foreign log raises here, so the command never starts) and ``inputs`` are hashed. The body sets
    ``run.exit_status``, ``run.verdict`` and ``run.error`` on the yielded ``CommandRun``; afterwards
    ``outputs`` are hashed (unless ``run.error`` says the command stopped) and the entry appended. An
    exception leaving the body is recorded (exit 1, 130 for an interrupt) and re-raised.
    ``SYNTHGEN_AUDIT_LOG=off``: no log, only the ``CommandRun``.
    """
    log = audit.log_path()
    if log is not None:
        audit.preflight(log)
    run = audit.CommandRun(command, list(argv), inputs=[audit.digest(p) for p in inputs] if log is not None else [],
                           outputs=[str(p) for p in outputs])
    try:
        tracker = tracking.start(track, [str(p) for p in inputs], [str(p) for p in outputs])
    except SynthgenError as exc:  # before any work: the audit log records the refusal
        run.exit_status, run.error = exc.exit_code, one_line(exc, 500)
        if log is not None:
            audit.append(log, run.entry())
        raise
    try:
        yield run
    except BaseException as exc:
        if tracker is not None:
            tracker.abandon()
        if run.exit_status is None:
            run.exit_status = 130 if isinstance(exc, KeyboardInterrupt) else 1
        if run.error is None:
            run.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
        if log is not None:
            with contextlib.suppress(Exception):  # the body's exception is the one to see
                audit.append(log, run.entry())
        raise
    if tracker is not None:  # reads what the command wrote; a failure is a warning, never a new status
        tracker.finish(exit_status=run.exit_status, verdict=run.verdict, error=run.error, digests=run.inputs)
    if log is not None:
        audit.append(log, run.entry())
