"""`synthgen` command line: argument parsing only; every command calls the library.

Exit status: 0 success, 1 data/model/evaluation errors and a FAIL verdict, 2 usage errors.
Errors print one line (a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

from .exceptions import SynthgenError, Terminated, UsageError, one_line

__all__ = ["main", "build_parser"]


def _param(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _fraction(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _names(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _seeds(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None


def _counts(text: str) -> list[int]:
    """-n for compare: one row count, or several (A,B,C) to try."""
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or comma-separated whole numbers, got {text!r}") from None
    if not counts or any(c < 1 for c in counts):
        raise argparse.ArgumentTypeError(f"expected whole numbers >= 1, got {text!r}")
    return counts


def _amounts(text: str) -> list[float]:
    """--amounts: comma-separated multiples of the rare rows in train, each a number > 0."""
    import math

    out = []
    for t in [t.strip() for t in text.split(",")]:
        try:
            v = float(t)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers > 0, got {t!r} in {text!r}") from None
        if not math.isfinite(v) or v <= 0:
            raise argparse.ArgumentTypeError(f"each amount must be a finite number > 0 (a multiple of the rare "
                                             f"rows in train), got {t!r} in {text!r}")
        out.append(v)
    return out


def _gen_param(text: str) -> tuple[str, str, Any]:
    gen, sep, rest = text.partition(":")
    if not sep or not gen:
        raise argparse.ArgumentTypeError(f"expected GEN:KEY=VALUE, got {text!r}")
    key, value = _param(rest)
    return gen, key, value


def _utility_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sensitive", action="append", default=[], metavar="COL",
                   help="a secret column for the inference attack, besides the --protected ones (repeatable)")
    p.add_argument("--utility-models", type=_names, default=None, metavar="hgb,logreg,rf",
                   help="model families for utility: hgb (default; the gate reads it), logreg, rf, and lightgbm, "
                        "xgboost when installed (synthgen[boosting]); hgb always runs")
    p.add_argument("--utility-repeats", type=_int, default=3, metavar="N",
                   help="model seeds each utility figure is averaged over (default 3; deterministic families "
                        "are fitted once)")


def _track_args(p: argparse.ArgumentParser) -> None:
    """--track, --track-optional, --experiment: the MLflow observer (synthgen/tracking.py) for one command."""
    g = p.add_argument_group("tracking (MLflow; needs synthgen[mlflow])")
    g.add_argument("--track", action="store_true",
                   help="record this command as one MLflow run (also SYNTHGEN_TRACK=1), at MLFLOW_TRACKING_URI or, "
                        "unset, MLflow's default local store (./mlflow.db); an unreachable URI stops the command "
                        "before any work")
    g.add_argument("--track-optional", action="store_true",
                   help="track, but when mlflow is missing or the tracking URI is unreachable, warn and run untracked")
    g.add_argument("--experiment", default="synthgen", metavar="NAME", help="MLflow experiment (default synthgen)")


def _engine_args(p: argparse.ArgumentParser) -> None:
    """--engine, --workers, --ray-address: where the work runs (synthgen/engine.py)."""
    g = p.add_argument_group("engine (Ray needs synthgen[ray])")
    g.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default): this process; ray: Ray tasks, with the same results")
    g.add_argument("--workers", type=_int, default=None, metavar="N",
                   help="CPUs of the local Ray started for this command (default: all); ignored when joining one")
    g.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help="join this Ray cluster instead of starting one (default: $RAY_ADDRESS when set)")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one sub-parser per command (each built by its ``_add_COMMAND``)."""
    parser = _Parser(
        prog="synthgen",
        description="Synthetic rows for the rare class of a table, scored and gated before release.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _PARSERS:
        add(sub)
    return parser


def _add_inspect(sub: Any) -> None:
    """The `inspect` command's arguments."""
    p = sub.add_parser("inspect", help="show the detected column kinds and the class balance")
    p.add_argument("data", help="CSV or Parquet file (by suffix)")
    p.add_argument("--target", required=True, help="the label column")
    p.add_argument("--column-kind", action="append", default=[], metavar="COL=KIND", help="override a detected kind")
    p.add_argument("--schema", metavar="FILE", help="schema JSON (e.g. an edited `inspect --json`) whose kinds override detection")
    p.add_argument("--json", action="store_true", help="print the schema as JSON (editable, usable with fit --schema)")


def _add_fit(sub: Any) -> None:
    """The `fit` command's arguments."""
    from .models import generator_names

    p = sub.add_parser("fit", help="fit a generator on the rare-class rows of the train split and save it")
    p.add_argument("data", help="CSV or Parquet file (by suffix)")
    p.add_argument("--target", required=True, help="the label column")
    p.add_argument("--generator", required=True, metavar="NAME", help=f"one of: {', '.join(generator_names())}")
    p.add_argument("--param", action="append", default=[], type=_param, metavar="KEY=VALUE",
                   help="generator parameter (JSON value or text), e.g. k_neighbors=3, epochs=50")
    p.add_argument("--holdout", type=_fraction, default=0.3, help="fraction kept back for evaluation (default 0.3; 0 allowed)")
    p.add_argument("--seed", type=_int, default=0, help="seed for the split and the generator (default 0)")
    p.add_argument("--column-kind", action="append", default=[], metavar="COL=KIND", help="override a detected kind")
    p.add_argument("--schema", metavar="FILE", help="schema JSON (e.g. an edited `inspect --json`) whose kinds override detection")
    p.add_argument("--drop", action="append", default=[], metavar="COL",
                   help="remove a column before anything else, e.g. a label-leaking code (repeatable)")
    p.add_argument("--relation", action="append", default=[], metavar="TEXT",
                   help="a relation every generated row keeps, checked on every train row: 'B = A // N', 'A <= B', "
                        "'A -> B' (each A has one B) or 'A + B = N', e.g. \"TX_TIME_DAYS = TX_TIME_SECONDS // 86400\" "
                        "(repeatable; relations that hold in every train row are also detected and kept)")
    p.add_argument("--no-relations", action="store_true",
                   help="do not detect relations between columns (declared --relation ones still apply)")
    p.add_argument("--out", required=True, help="model folder to write")
    p.add_argument("--force", action="store_true", help="replace an existing model folder")
    _track_args(p)


def _add_generate(sub: Any) -> None:
    """The `generate` command's arguments."""
    p = sub.add_parser("generate", help="stream N synthetic rows from a saved model to CSV or Parquet",
                       description="Writes OUT and, beside it, OUT.manifest.json (its lineage: OUT's sha256, the "
                                   "model's manifest sha256, seed, n, chunk size; see `synthgen lineage`); both "
                                   "or neither.")
    p.add_argument("model", help="model folder written by `synthgen fit`")
    p.add_argument("-n", required=True, type=_int, help="number of rows")
    p.add_argument("--out", required=True,
                   help="output file (.csv, .csv.gz or .parquet), or a folder (a name without suffix): a Parquet "
                        "dataset, one part-NNNNN.parquet per block")
    p.add_argument("--seed", type=_int, default=None, help="sampling seed (default: the model's seed)")
    p.add_argument("--label", default=None, help="which rare class, when several were fitted")
    p.add_argument("--chunk-size", type=_int, default=100_000, help="rows per written chunk (default 100000)")
    p.add_argument("--where", action="append", default=[], metavar="COND",
                   help="a condition every generated row meets (repeatable, all must hold): COL=VALUE, COL=A|B, "
                        "COL>=X, COL>X, COL<X, COL<=X; e.g. --where 'Make=Honda' --where 'Age>=30' --where 'Age<50'")
    p.add_argument("--allow-unseen", action="store_true",
                   help="sample a condition no real rare row meets (model-based generators; the SMOTE family "
                        "interpolates real rows and cannot)")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file and its manifest")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _engine_args(p)
    p.add_argument("--trust-pickle", action="store_true",
                   help="load a model whose payload is a pickle (older CTGAN/TVAE folders, SDV's copula): "
                        "unpickling runs code from the folder, so only for a folder you trust; hashes are still checked")
    _track_args(p)


def _add_evaluate(sub: Any) -> None:
    """The `evaluate` command's arguments."""
    p = sub.add_parser("evaluate", help="score synthetic rows: realism, utility, leakage risk, fairness",
                       description="Either MODEL_DIR --data DATA (rebuilds the model's recorded train/holdout split; "
                                   "DATA must be the fitted table) or --train FILE --holdout FILE --target COL.")
    p.add_argument("model", nargs="?", default=None, help="model folder written by `synthgen fit` (optional)")
    p.add_argument("--data", help="the table the model was fitted on (with MODEL_DIR)")
    p.add_argument("--train", help="real train rows (CSV/Parquet)")
    p.add_argument("--holdout", help="real holdout rows, never shown to the generator")
    p.add_argument("--synthetic", required=True,
                   help="synthetic rows to score (its FILE.manifest.json, when there, is checked and recorded in "
                        "the scorecard's lineage)")
    p.add_argument("--target", help="the label column (default with MODEL_DIR: the model's)")
    p.add_argument("--protected", action="append", default=[], metavar="COL", help="protected attribute (repeatable)")
    p.add_argument("--seed", type=_int, default=0, help="seed for every random step of the scoring (default 0)")
    p.add_argument("--column-kind", action="append", default=[], metavar="COL=KIND", help="override a detected kind")
    p.add_argument("--schema", metavar="FILE", help="schema JSON (e.g. an edited `inspect --json`) whose kinds override detection (with MODEL_DIR: must match the model)")
    p.add_argument("--drop", action="append", default=[], metavar="COL",
                   help="remove a column before anything else, e.g. a label-leaking code (repeatable)")
    _utility_args(p)
    p.add_argument("--where", action="append", default=[], metavar="COND",
                   help="score against the real rare rows (train and holdout) that meet this condition, as "
                        "`generate --where` takes it (repeatable, all must hold)")
    p.add_argument("--out", required=True, help="scorecard JSON to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing scorecard")
    p.add_argument("--quiet", action="store_true", help="no progress lines (a line per stage on stderr otherwise)")
    _engine_args(p)
    _track_args(p)


def _add_gate(sub: Any) -> None:
    """The `gate` command's arguments."""
    p = sub.add_parser("gate", help="PASS/FAIL a scorecard by a versioned policy (exit 0 pass, 1 fail)")
    p.add_argument("scorecard", help="scorecard JSON written by `synthgen evaluate`")
    p.add_argument("--policy", help="policy TOML (default: the packaged policy, synthgen/policies/default.toml; evaluation/policies/default.toml links to it)")
    p.add_argument("--out", help="verdict JSON to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing verdict")
    _track_args(p)


def _add_compare(sub: Any) -> None:
    """The `compare` command's arguments."""
    from .models import generator_names

    p = sub.add_parser("compare", help="fit, score and gate several generators on one split; HTML/JSON/Markdown report",
                       description="Exit status: 0 when at least one generator passes the gate, 1 when none does "
                                   "(or on data errors), 2 on usage errors.")
    p.add_argument("data", help="CSV or Parquet file (by suffix)")
    p.add_argument("--target", required=True, help="the label column")
    p.add_argument("--generators", required=True, type=_names, metavar="A,B,C",
                   help=f"comma-separated, from: {', '.join(generator_names())}")
    p.add_argument("-n", type=_counts, default=None, metavar="N[,N2,...]",
                   help="synthetic rows per generator (default: as many as the rare rows in train); several "
                        "(A,B,C): try each, the first is the main one")
    p.add_argument("--amounts", type=_amounts, default=None, metavar="0.25,0.5,1,2,4",
                   help="try several amounts, as multiples of the rare rows in train: each generator is fitted "
                        "once and every amount is scored; the first is the main one (leaderboard, gate); "
                        "the report recommends the smallest amount that beats the free alternatives")
    p.add_argument("--protected", action="append", default=[], metavar="COL", help="protected column (repeatable)")
    p.add_argument("--seeds", type=_seeds, default=[0], metavar="0,1,2",
                   help="seeds; the first also seeds the split; several give mean ± std (default 0)")
    p.add_argument("--policy", default=None, metavar="FILE", help="gate policy TOML (default: the packaged policy)")
    p.add_argument("--holdout", type=_fraction, default=0.3, help="fraction kept back for evaluation (default 0.3)")
    p.add_argument("--param", action="append", default=[], type=_gen_param, metavar="GEN:KEY=VALUE",
                   help="a generator's parameter, e.g. ctgan:epochs=50 (repeatable)")
    p.add_argument("--column-kind", action="append", default=[], metavar="COL=KIND", help="override a detected kind")
    p.add_argument("--schema", metavar="FILE", help="schema JSON (e.g. an edited `inspect --json`) whose kinds override detection")
    p.add_argument("--drop", action="append", default=[], metavar="COL",
                   help="remove a column before anything else, e.g. a label-leaking code (repeatable)")
    p.add_argument("--relation", action="append", default=[], metavar="TEXT",
                   help="a relation every generator's rows keep, as in `synthgen fit --relation` (repeatable)")
    p.add_argument("--no-relations", action="store_true",
                   help="do not detect relations between columns (declared --relation ones still apply)")
    p.add_argument("--where", action="append", default=[], metavar="COND",
                   help="every generator samples rows meeting this condition, scored against the real rare rows "
                        "that meet it, as `generate --where` (repeatable, all must hold)")
    _utility_args(p)
    p.add_argument("--out", required=True, metavar="REPORT_DIR", help="report folder to write")
    p.add_argument("--force", action="store_true", help="replace an existing report folder")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _engine_args(p)
    _track_args(p)


def _add_selftest(sub: Any) -> None:
    """The `selftest` command's arguments."""
    p = sub.add_parser("selftest", help="does my policy catch what it should, on my table? (planted sets)",
                       description="Builds planted sets from DATA (train copies, near-copies, holdout rows mixed in, "
                                   "a protected minority removed, uniform noise, label-shuffled rows) and a reference "
                                   "generator (the Gaussian copula), scores and gates each, and prints rule x set. "
                                   "Exit 1 when the policy passes a planted set or fails the reference.")
    p.add_argument("data", help="CSV or Parquet file (by suffix)")
    p.add_argument("--target", required=True, help="the label column")
    p.add_argument("--protected", action="append", default=[], metavar="COL",
                   help="protected column (repeatable; the first one gets the minority-removed set)")
    p.add_argument("--policy", default=None, metavar="FILE", help="gate policy TOML (default: the packaged policy)")
    p.add_argument("--seed", type=_int, default=0, help="seed for the split, the reference and every planted set")
    p.add_argument("--holdout", type=_fraction, default=0.3, help="fraction kept back for evaluation (default 0.3)")
    p.add_argument("-n", type=_int, default=None, help="rows per planted set (default: the rare rows in train)")
    p.add_argument("--column-kind", action="append", default=[], metavar="COL=KIND", help="override a detected kind")
    p.add_argument("--schema", metavar="FILE", help="schema JSON whose kinds override detection")
    p.add_argument("--drop", action="append", default=[], metavar="COL", help="remove a column first (repeatable)")
    p.add_argument("--out", default=None, metavar="FILE.json", help="also write the results as JSON")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def _add_report(sub: Any) -> None:
    """The `report` command's arguments."""
    p = sub.add_parser("report", help="render scorecards (JSON) side by side as one HTML report")
    p.add_argument("scorecards", nargs="+", metavar="SCORECARD.json")
    p.add_argument("--out", required=True, metavar="FILE.html")
    p.add_argument("--policy", default="default", metavar="FILE",
                   help="gate policy for the verdict column (default: the packaged policy)")
    p.add_argument("--no-gate", action="store_true", help="no gate column")
    p.add_argument("--markdown", default=None, metavar="FILE.md", help="also write the Markdown report")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")


def _add_demo(sub: Any) -> None:
    """The `demo` command's arguments."""
    p = sub.add_parser("demo", help="compare the default generators on the bundled fraud table")
    p.add_argument("--out", default="reports/demo", help="report folder (default reports/demo; replaced)")
    p.add_argument("--seed", type=_int, default=0)


def _add_drift(sub: Any) -> None:
    """The `drift` command's arguments."""
    p = sub.add_parser("drift", help="PSI drift of CURRENT against a table or a model's stored profile "
                                     "(exit 0 none significant, 1 significant)",
                       description="PSI per column over all rows and over the rare rows, the change in the rare-class "
                                   "rate and category values new among the rare rows. Exit status: 0 without "
                                   "significant drift, 1 with it (or on data errors), 2 on usage errors.")
    p.add_argument("reference", help="a table (CSV/Parquet) or a model folder written by `synthgen fit` (its stored "
                                     "profile of the train rows)")
    p.add_argument("current", help="the current rows (CSV/Parquet), same columns")
    p.add_argument("--target", default=None, help="the label column (needed with a table; a model knows its own)")
    p.add_argument("--policy", default=None, metavar="FILE",
                   help="policy TOML whose [drift] table sets the thresholds (default: the packaged policy: "
                        "moderate 0.1, significant 0.25)")
    p.add_argument("--out", default=None, metavar="FILE.json", help="write the drift report as JSON")
    p.add_argument("--html", default=None, metavar="FILE.html",
                   help="write an HTML page with each column's reference vs current histogram")
    p.add_argument("--force", action="store_true", help="overwrite existing --out/--html files")


def _add_lineage(sub: Any) -> None:
    """The `lineage` command's arguments."""
    p = sub.add_parser("lineage", help="where a synthetic file came from: file -> model -> training data -> parents",
                       description="Follows FILE.manifest.json (written beside FILE by `synthgen generate`) back to "
                                   "the model folder, the model's training data and any parent models, checking the "
                                   "recorded sha256s. Exit status: 0 when the chain verifies; 1 when FILE has no "
                                   "manifest, when FILE or a model's manifest.json (the model's, or a parent's that "
                                   "is found) differs from its recorded sha256, or when the model folder is not "
                                   "found. The training data file is reported as matching, "
                                   "changed or not found without failing.")
    p.add_argument("file", help="a synthetic file written by `synthgen generate` (or its .manifest.json)")
    p.add_argument("--json", action="store_true", help="print the chain as JSON")


def _add_audit(sub: Any) -> None:
    """The `audit` command's arguments."""
    p = sub.add_parser("audit", help="check or list the audit log every command appends to",
                       description="Every synthgen command (but this one, --help and --version) appends one "
                                   "hash-chained JSON line to $SYNTHGEN_AUDIT_LOG (default "
                                   ".synthgen/audit.jsonl in the working directory; 'off' turns it off).")
    actions = p.add_subparsers(dest="audit_action", metavar="ACTION")
    actions.required = True
    a = actions.add_parser("verify", help="check the hash chain; exit 1 naming the first broken line")
    a.add_argument("log", nargs="?", default=None, metavar="LOG", help="audit log (default: $SYNTHGEN_AUDIT_LOG)")
    a = actions.add_parser("show", help="list the entries (a table, or JSON lines with --json)")
    a.add_argument("log", nargs="?", default=None, metavar="LOG", help="audit log (default: $SYNTHGEN_AUDIT_LOG)")
    a.add_argument("--since", type=_since, default=None, metavar="ISO-TIME",
                   help="only commands started at or after this time (e.g. 2025-05-01 or 2025-05-01T09:30Z; UTC "
                        "when no zone is given)")
    a.add_argument("--json", action="store_true", help="one JSON entry per line, as stored")


def _add_refresh(sub: Any) -> None:
    """The `refresh` command's arguments."""
    p = sub.add_parser("refresh", help="on significant drift of NEW data, refit the model on it, generate, evaluate "
                                       "and gate (exit 0 nothing to do or PASS, 1 FAIL)",
                       description="Drift of --data against MODEL_DIR's stored profile (the policy's [drift] "
                                   "thresholds). On significant drift, or with --always, the same generator with the "
                                   "same parameters, column kinds, dropped columns and split rule is refitted on "
                                   "--data and saved to --out (its manifest records `parent`, the old manifest's "
                                   "sha256, and the drift summary; --out/refresh/ holds drift.json, scorecard.json "
                                   "and verdict.json); -n rows go to --synthetic-out with their lineage manifest; "
                                   "everything is written together or nothing is. Exit status: 0 for no drift "
                                   "(nothing written) or a refresh that PASSes; 1 for a refresh that FAILs (written, "
                                   "marked failed: release.verdict FAIL in the lineage manifest) or on data errors; "
                                   "2 on usage errors.")
    p.add_argument("model", help="model folder written by `synthgen fit` (or by an earlier refresh)")
    p.add_argument("--data", required=True, help="the new table (CSV/Parquet), same columns as the model's")
    p.add_argument("--out", required=True, help="new model folder to write (never the model being refreshed)")
    p.add_argument("--synthetic-out", required=True, metavar="FILE",
                   help="synthetic rows of the refreshed model (.csv, .csv.gz or .parquet), with FILE.manifest.json")
    p.add_argument("-n", required=True, type=_int, help="number of synthetic rows")
    p.add_argument("--policy", default=None, metavar="FILE",
                   help="policy TOML: its [drift] thresholds and its gate rules (default: the packaged policy)")
    p.add_argument("--always", action="store_true", help="refresh even without significant drift")
    p.add_argument("--protected", action="append", default=[], metavar="COL", help="protected column (repeatable)")
    p.add_argument("--seed", type=_int, default=0, help="seed for every random step of the scoring (default 0)")
    _utility_args(p)
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    _track_args(p)


_PARSERS = (_add_inspect, _add_fit, _add_generate, _add_evaluate, _add_gate, _add_compare, _add_selftest, _add_report, _add_demo, _add_drift,
            _add_refresh, _add_lineage, _add_audit)


def _since(text: str):
    from .audit import parse_time

    try:
        return parse_time(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``synthgen`` command and return its exit status.

    Every command appends one entry to the audit log (``synthgen/audit.py``, through
    ``pipeline.observed``): usage errors (2), FAIL verdicts, interrupts (130) and SIGTERM (143) included; not
    ``synthgen audit`` itself, ``--help`` or ``--version`` (argparse exits 0 for those). The log's
    location is checked before the command runs: a read-only or full location (exit 2) or a file that
    is not a synthgen audit log (exit 1) is a one-line error, and the command does not run. Inputs are
    hashed before the command, outputs after it (``_AUDIT_PATHS``). ``SYNTHGEN_AUDIT_LOG=off``: no log.
    SIGTERM during the command is handled like Ctrl-C (temporaries removed, one line), exit 143; the
    previous SIGTERM handler is restored afterwards.
    """
    from .pipeline import observed

    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    line = ["synthgen", *argv]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2) and --help (0) return a status like every command
        code = int(exc.code or 0)
        command = _command_word(argv)
        if code != 0 and command != "audit":
            try:
                with observed(command, line) as run:
                    run.exit_status, run.error = code, "usage error"
            except SynthgenError as err:
                print(f"synthgen: error: {err}", file=sys.stderr)
        return code
    _SIGTERM.reset()
    if args.command == "audit":
        with _SIGTERM.installed():
            return _dispatch(args)[0]
    inputs, outputs = _audit_paths(args)
    run = None
    try:
        with _SIGTERM.installed(), observed(args.command, line, inputs, outputs, track=_track_request(args)) as run:
            run.exit_status, run.error = _dispatch(args)
            run.verdict = _verdict(args, run.exit_status, run.error)
    except SynthgenError as exc:  # the audit log: checked before the command, appended after it
        if args.debug:
            raise
        print(f"synthgen {args.command}: error: {exc}", file=sys.stderr)
        return (run.exit_status or exc.exit_code) if run is not None else exc.exit_code
    return int(run.exit_status)


class _SigtermHandler:
    """The CLI's SIGTERM handler: raises ``Terminated`` in the main thread while a command body runs.

    ``installed`` sets it for one command and restores the previous handler afterwards (only the CLI
    installs it; library calls keep theirs). A SIGTERM before the body starts is remembered and the body
    does not start; one after it returned lets the command finish (its output is complete); a second
    SIGTERM while cleanup runs is ignored, so the cleanup is not cut short.
    """

    def __init__(self) -> None:
        self.armed = False
        self.received = False

    def reset(self) -> None:
        self.armed, self.received = False, False

    def __call__(self, signum: int, frame: Any) -> None:
        first, self.received = not self.received, True
        if self.armed and first:
            raise Terminated("SIGTERM")

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """This handler for SIGTERM during the block (the main thread only), the previous one after it."""
        try:
            previous = signal.signal(signal.SIGTERM, self)
        except ValueError:  # not the main thread: signals are not ours to handle
            previous = None
        try:
            yield
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    @contextlib.contextmanager
    def armed_for(self) -> Iterator[None]:
        """Raise ``Terminated`` on SIGTERM during the block (at once, if one already came)."""
        if self.received:
            raise Terminated("SIGTERM")
        self.armed = True
        try:
            yield
        finally:
            self.armed = False


_SIGTERM = _SigtermHandler()


def _dispatch(args: argparse.Namespace) -> tuple[int, str | None]:
    """Run the command: its exit status, and its one-line error (None when it returned normally)."""
    try:
        with _SIGTERM.armed_for():
            return int(_COMMANDS[args.command](args) or 0), None
    except SynthgenError as exc:
        if args.debug:
            raise
        print(f"synthgen {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code, one_line(exc, 500)
    except Terminated:
        print(f"synthgen {args.command}: terminated (SIGTERM); nothing was written", file=sys.stderr)
        return 143, "terminated (SIGTERM)"
    except KeyboardInterrupt:
        print(f"synthgen {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130, "interrupted"
    except BrokenPipeError:  # the reader of stdout went away (`synthgen lineage FILE | head`): not an error of ours
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit
        return 141, "stdout closed by its reader"
    except Exception as exc:  # a bug: still one line, the traceback with --debug
        if args.debug:
            raise
        print(f"synthgen {args.command}: internal error: {type(exc).__name__}: {exc} (rerun with --debug)", file=sys.stderr)
        return 1, f"internal error: {type(exc).__name__}: {one_line(exc, 500)}"


# Per command, for the audit log: the arguments that name input paths (hashed before the command) and
# output paths (hashed after it). A command missing here is recorded without paths.
_AUDIT_PATHS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "inspect": (("data", "schema"), ()),
    "fit": (("data", "schema"), ("out",)),
    "generate": (("model",), ("out",)),
    "evaluate": (("model", "data", "train", "holdout", "synthetic", "schema", "policy"), ("out",)),
    "gate": (("scorecard", "policy"), ("out",)),
    "compare": (("data", "schema", "policy"), ("out",)),
    "selftest": (("data", "schema", "policy"), ("out",)),
    "report": (("scorecards", "policy"), ("out", "markdown")),
    "demo": ((), ("out",)),
    "lineage": (("file",), ()),
    "drift": (("reference", "current", "policy"), ("out", "html")),
    "refresh": (("model", "data", "policy"), ("out", "synthetic_out")),
}
# Commands whose exit status 0/1 is a PASS/FAIL verdict (evaluate: when given a policy).
_VERDICT_COMMANDS = {"gate", "compare", "selftest", "drift"}  # drift: PASS = no significant drift


def _audit_paths(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    def paths(names: tuple[str, ...]) -> list[str]:
        out = []
        for name in names:
            value = getattr(args, name, None)
            for v in value if isinstance(value, list) else [value]:
                if v is None or (name == "policy" and v == "default"):  # "default": the packaged policy
                    continue
                out.append(str(v))
        return out

    inputs, outputs = _AUDIT_PATHS.get(args.command, ((), ()))
    return paths(inputs), paths(outputs)


def _track_request(args: argparse.Namespace):
    """What tracking is asked for: --track, --track-optional or SYNTHGEN_TRACK=1 on a command that has them."""
    from .tracking import Request, env_enabled

    if not hasattr(args, "track"):
        return None
    if not (args.track or args.track_optional or env_enabled()):
        return None
    values = {k: v for k, v in vars(args).items() if k not in ("track", "track_optional", "experiment")}
    return Request(args.command, values, args.experiment, optional=args.track_optional)


def _verdict(args: argparse.Namespace, code: int, error: str | None) -> str | None:
    if args.command == "refresh":  # no drift (nothing to do) has no verdict; a refresh its gate's
        return getattr(args, "verdict_", None) if error is None else None
    gated = args.command in _VERDICT_COMMANDS or (args.command == "evaluate" and getattr(args, "policy", None))
    if not gated or error is not None or code not in (0, 1):
        return None
    return "PASS" if code == 0 else "FAIL"


def _command_word(argv: list[str]) -> str | None:
    """The command a command line that failed to parse was for (the first word not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def _kinds(args: argparse.Namespace) -> dict[str, str]:
    """Kind overrides: those of --schema FILE, then each --column-kind on top."""
    from .schema import kinds_from_schema_file, parse_column_kinds

    kinds = kinds_from_schema_file(args.schema) if getattr(args, "schema", None) else {}
    kinds.update(parse_column_kinds(getattr(args, "column_kind", [])))
    return kinds


def cmd_inspect(args: argparse.Namespace) -> int:
    from .io import read_table
    from .models.base import target_counts
    from .relations import detect as detect_relations
    from .schema import Schema

    df = read_table(args.data)
    counts = target_counts(df, args.target)
    schema = Schema.detect(df, target=args.target, overrides=_kinds(args))
    if args.json:
        print(schema.to_json())
        return 0
    print(f"{args.data}: {len(df):,} rows x {df.shape[1]} columns; target '{args.target}':")
    for label, count in counts.sort_values().items():
        print(f"  {label!s:>12}: {count:>9,} rows ({count / len(df):.2%})")
    print(f"{'column':<24} {'kind':<12} {'dtype':<8} {'missing':>8}  details")
    for spec in schema.columns:
        detail = spec.reason
        if spec.categories is not None:
            detail += f"; {len(spec.categories)} categories"
        print(f"{spec.name:<24} {spec.kind.value:<12} {spec.dtype:<8} {spec.missing_rate:>8.2%}  {detail}")
    found = detect_relations(df, schema)
    print("relations that hold in every row:" if found else "relations that hold in every row: none found")
    for rel in found:
        print(f"  {rel.text()}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from .pipeline import fit_file

    params = dict(args.param)
    gen, path = fit_file(args.data, args.target, args.generator, args.out, params=params, holdout=args.holdout,
                         seed=args.seed, column_kinds=_kinds(args), drop=args.drop, force=args.force,
                         relations=args.relation, detect_relations=not args.no_relations)
    rare = ", ".join(f"{c!r} ({gen.class_counts_[str(c)]} rows)" for c in gen.classes_)
    print(f"fitted {gen.name} on rare class {rare} of {gen.training_['rows']:,} train rows; saved to {path}")
    kept = [f"{r['text']} ({r['source']})" for r in (gen.schema_.relations or {}).get("items", [])]
    if kept:
        print(f"relations kept in every generated row: {'; '.join(kept)}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from .pipeline import generate_file

    label = args.label
    if label is not None:
        try:
            label = json.loads(label)
        except json.JSONDecodeError:
            pass
    result = generate_file(args.model, args.n, args.out, seed=args.seed, chunk_size=args.chunk_size, label=label,
                           force=args.force, progress=not args.no_progress, trust_pickle=args.trust_pickle,
                           engine=args.engine, workers=args.workers, ray_address=args.ray_address,
                           where=args.where or None, allow_unseen=args.allow_unseen)
    print(f"wrote {result.rows:,} rows to {result.path} in {result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .pipeline import evaluate_files

    card = evaluate_files(args.out, synthetic=args.synthetic, model=args.model, data=args.data, train=args.train,
                          holdout=args.holdout, target=args.target, protected=args.protected, seed=args.seed,
                          column_kinds=_kinds(args), drop=args.drop, force=args.force,
                          utility_models=args.utility_models, utility_repeats=args.utility_repeats,
                          sensitive=args.sensitive, where=args.where or None, engine=args.engine,
                          workers=args.workers, ray_address=args.ray_address,
                          progress=None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True)))
    subs = ", ".join(f"{k} {v:.2f}" if v is not None else f"{k} n/a" for k, v in card.subscores.items())
    note = "" if card.lineage is None else f"; {_lineage_note(card.lineage)}"
    print(f"quality score {card.quality_score:.1f}/100 ({subs}); scorecard written to {args.out}{note}")
    return 0


def cmd_gate(args: argparse.Namespace) -> int:
    from .pipeline import gate_file

    verdict = gate_file(args.scorecard, policy=args.policy, out=args.out, force=args.force)
    print(verdict.summary())
    if verdict.lineage is not None:
        print(_lineage_note(verdict.lineage))
    return 0 if verdict.passed else 1


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import run_compare
    from .io import check_output, read_table

    if args.amounts is not None and args.n is not None:
        raise UsageError("--amounts and -n both set how many rows to add; give one of them")
    check_output(args.out, force=args.force)  # before reading a large table
    params: dict[str, dict] = {}
    for gen, key, value in args.param:
        params.setdefault(gen, {})[key] = value
    df = read_table(args.data)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    n = args.n if args.n is None or len(args.n) > 1 else args.n[0]
    result = run_compare(df, args.target, args.generators, n=n, amounts=args.amounts, protected=args.protected or None,
                         seeds=args.seeds, policy=args.policy, holdout=args.holdout, params=params,
                         out=Path(args.out), progress=progress, force=args.force, column_kinds=_kinds(args),
                         drop=args.drop, utility_models=args.utility_models, utility_repeats=args.utility_repeats,
                         sensitive=args.sensitive, engine=args.engine, workers=args.workers,
                         ray_address=args.ray_address, relations=args.relation,
                         detect_relations=not args.no_relations, where=args.where or None)
    best = result.best
    print(f"best: {best}: {result.best_reason}" if best else result.best_reason)
    amounts = result.data.get("amounts")
    if amounts:
        for gen, d in amounts["generators"].items():
            print(f"how many rows, {gen}: {d['recommendation']['reason']}")
        for w in amounts["warnings"]:
            print(f"warning: {w}")
    print(f"report: {result.index_html}")
    return 0 if best else 1


def cmd_selftest(args: argparse.Namespace) -> int:
    from .io import atomic_path, check_output, read_table
    from .selftest import run_selftest

    if args.out:
        check_output(args.out, force=args.force)
    df = read_table(args.data)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run_selftest(df, args.target, protected=args.protected or None, policy=args.policy, seed=args.seed,
                          holdout=args.holdout, n=args.n, column_kinds=_kinds(args), drop=args.drop,
                          progress=progress)
    print(result.table())
    if args.out:
        with atomic_path(args.out, force=args.force) as tmp:
            tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return 0 if result.ok else 1


def cmd_report(args: argparse.Namespace) -> int:
    from .compare import render_scorecards
    from .io import check_output

    check_output(args.out, force=args.force)
    if args.markdown:
        check_output(args.markdown, force=args.force)
    path = render_scorecards(args.scorecards, args.out, policy=None if args.no_gate else args.policy,
                             markdown=args.markdown)
    print(f"report: {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    result = run_demo(Path(args.out), seed=args.seed,
                      progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"best: {result.best}: {result.best_reason}" if result.best else result.best_reason)
    print(f"report: {result.index_html}")
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from .drift import drift_files, summary

    report = drift_files(args.reference, args.current, target=args.target, policy=args.policy, out=args.out,
                         html=args.html, force=args.force)
    print(summary(report))
    return 1 if report["drift"] else 0


def cmd_refresh(args: argparse.Namespace) -> int:
    from .refresh import refresh_model

    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = refresh_model(args.model, args.data, args.out, args.synthetic_out, args.n, policy=args.policy,
                           always=args.always, force=args.force, protected=args.protected or None, seed=args.seed,
                           utility_models=args.utility_models, utility_repeats=args.utility_repeats,
                           sensitive=args.sensitive, progress=progress)
    args.verdict_ = None if result.verdict is None else result.status
    print(result.summary())
    return result.exit_status


def cmd_lineage(args: argparse.Namespace) -> int:
    from .lineage import chain, format_chain

    links = chain(args.file)
    print(json.dumps(links, indent=2) if args.json else format_chain(links))
    return 0


def _lineage_note(entry: dict) -> str:
    """How a scorecard's or verdict's synthetic file stands against its lineage manifest, in words."""
    if entry.get("verified"):
        return f"lineage verified (model {(entry.get('model') or {}).get('path')})"
    return f"lineage NOT verified: {entry.get('reason')}"


def cmd_audit(args: argparse.Namespace) -> int:
    from .audit import entries, log_path, table, verify

    path = Path(args.log) if args.log else log_path()
    if path is None:
        raise UsageError("the audit log is off (SYNTHGEN_AUDIT_LOG=off); name the LOG file to read")
    if args.audit_action == "verify":
        result = verify(path)
        print(result.summary())
        return 0 if result.ok else 1
    skipped: list[int] = []
    rows = list(entries(path, since=args.since, skipped=skipped))
    if args.json:
        for entry in rows:
            print(json.dumps(entry, sort_keys=True, separators=(",", ":")))
    else:
        print(table(rows))
    if skipped:
        print(f"synthgen audit show: warning: {len(skipped)} line(s) of '{path}' are not valid entries (first: "
              f"line {skipped[0]}); run synthgen audit verify", file=sys.stderr)
    return 0


_COMMANDS = {
    "inspect": cmd_inspect,
    "fit": cmd_fit,
    "generate": cmd_generate,
    "evaluate": cmd_evaluate,
    "gate": cmd_gate,
    "compare": cmd_compare,
    "selftest": cmd_selftest,
    "report": cmd_report,
    "demo": cmd_demo,
    "drift": cmd_drift,
    "refresh": cmd_refresh,
    "lineage": cmd_lineage,
    "audit": cmd_audit,
}
if __name__ == "__main__":
    raise SystemExit(main())
