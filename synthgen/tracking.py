"""MLflow tracking: an observer that records each command as one MLflow run (``pipeline.observed`` calls it).

    synthgen generate models/m -n 100000 --out syn.csv --track          # or SYNTHGEN_TRACK=1

How it works, so that tracking can never change a result:

- before the command: ``start`` checks that mlflow is installed (else a ``UsageError`` with the install
  hint) and that the tracking URI (MLflow's own ``MLFLOW_TRACKING_URI``; unset: MLflow's default local
  store, ``./mlflow.db``) is reachable: an http(s) server answers ``/health`` within
  ``HEALTH_TIMEOUT`` seconds, a ``sqlite:`` or ``file:`` location is writable. A failure stops the
  command before any work (one line naming the URI), or with ``optional`` is a warning and the command
  runs untracked. It then starts a worker process that imports mlflow and opens the experiment while
  the command runs (mlflow's import takes seconds of CPU: in the command's process it would cost a
  short command more than the command itself);
- after the command: ``Tracker.finish`` hands the worker what the command was (arguments, inputs,
  outputs, exit status, verdict, seconds); the worker READS the files the command wrote (model
  manifest, lineage manifest, scorecard, verdict, compare folder) and logs them as one run in the
  experiment (``--experiment``, default ``synthgen``): ``describe`` turns those files into params,
  metrics, tags, datasets and artifacts, and ``compare`` gets a parent run with one nested run per
  generator x seed. A failure there (the server went away) is a one-line warning on stderr: the
  command's exit status and outputs stay as they are, with or without ``--track-optional``.

Nothing here knows a command by name: a command only declares its input and output paths
(``cli._AUDIT_PATHS``) and the tracking flags; what is logged follows from the files (a model folder
written by ``refresh`` brings the drift report, scorecard and verdict of the folder its manifest names).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .exceptions import UsageError

__all__ = ["Request", "Tracker", "start", "env_enabled", "describe", "INSTALL_HINT", "DEFAULT_EXPERIMENT"]

ENV = "SYNTHGEN_TRACK"
DEFAULT_EXPERIMENT = "synthgen"
INSTALL_HINT = "pip install 'synthgen[mlflow]'"
HEALTH_TIMEOUT = 3.0  # seconds the preflight waits for a tracking server's /health
WORKER_TIMEOUT = 600.0  # seconds the command waits for the run to be logged
_RESULT = "SYNTHGEN-TRACKING-RESULT "  # the worker's result line (mlflow prints its own lines too)
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}
# the MLflow client's own retries (7, doubling waits) would hold a finished command for minutes
# MLflow's usage telemetry is off unless the user's environment turns it on (a fraud team's pipeline should
# not send events to a third party because synthgen ran)
_CLIENT_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
               "MLFLOW_DISABLE_TELEMETRY": "true"}
_CONTEXTS = {"data": "training", "train": "train", "holdout": "holdout"}  # a dataset's role, by argument
_DTYPES = {"int": "long", "uint": "long", "float": "double", "bool": "boolean", "datetime64": "datetime"}


@dataclass(frozen=True)
class Request:
    """What the CLI asks of tracking for one command: its arguments, the experiment, and whether optional."""

    command: str
    args: dict[str, Any] = field(default_factory=dict)
    experiment: str = DEFAULT_EXPERIMENT
    optional: bool = False


def env_enabled() -> bool:
    """``SYNTHGEN_TRACK``: 1/true/yes/on turns tracking on, 0/false/no/off or unset leaves it off."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"{ENV}={os.environ[ENV]!r}: expected 1 or 0 (true/false, yes/no, on/off)")


def tracking_uri() -> str | None:
    """MLflow's ``MLFLOW_TRACKING_URI``, or None for MLflow's default local store."""
    return os.environ.get("MLFLOW_TRACKING_URI", "").strip() or None


def _warn(command: str, message: str) -> None:
    print(f"synthgen {command}: warning: {message}", file=sys.stderr, flush=True)


def _mlflow_installed() -> bool:
    try:
        return importlib.util.find_spec("mlflow") is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken package
        return False


def _writable(path: Path, what: str, uri: str) -> None:
    """``path`` (a folder or a file) can be created or written; else a UsageError naming ``uri``."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe == path and path.is_file() and what == "folder":
        raise UsageError(f"tracking URI '{uri}': '{path}' is a file, not a folder")
    target = probe if probe.is_dir() else probe.parent
    if not os.access(target, os.W_OK | os.X_OK) or (probe.is_file() and not os.access(probe, os.W_OK)):
        raise UsageError(f"tracking URI '{uri}': '{probe}' is not writable")


def _check_http(uri: str) -> None:
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT) as reply:  # noqa: S310 - the user's own URI
            status = reply.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(f"tracking URI '{uri}' is unreachable ({reason}); start the server, fix "
                         "MLFLOW_TRACKING_URI, or pass --track-optional") from None
    if status != 200:
        raise UsageError(f"tracking URI '{uri}': {url} answered HTTP {status}, not 200; is it an MLflow server?")


def check_uri(uri: str | None) -> None:
    """Fail (one line naming the URI) when the tracking store cannot be reached or written."""
    if uri is None:  # MLflow's default: ./mlflow.db (or ./mlruns when it already holds runs)
        return _writable(Path.cwd(), "folder", "(unset: MLflow's default ./mlflow.db)")
    parsed = urllib.parse.urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        return _check_http(uri)
    if scheme == "sqlite":
        raw = uri.split(":", 1)[1].lstrip("/")
        if raw in ("", ":memory:"):
            return None
        return _writable(Path("/" + raw if uri[len("sqlite:"):].startswith("////") else raw), "file", uri)
    if scheme in ("", "file") or len(scheme) == 1:  # a path (C: on Windows) or a file: URI
        if os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() not in ("1", "true"):
            raise UsageError(f"tracking URI '{uri}': MLflow 3 refuses a file store unless "
                             "MLFLOW_ALLOW_FILE_STORE=true; use e.g. sqlite:///mlflow.db")
        path = urllib.request.url2pathname(parsed.path) if scheme == "file" else uri
        return _writable(Path(path), "folder", uri)
    return None  # databricks, postgresql, ...: MLflow itself will tell


class Tracker:
    """One tracked command: a worker process started before it, told what happened after it."""

    def __init__(self, request: Request, inputs: Sequence[str], outputs: Sequence[str]) -> None:
        self.request, self.inputs, self.outputs = request, [str(p) for p in inputs], [str(p) for p in outputs]
        env = {**_CLIENT_ENV, **os.environ}
        # the worker (this copy of synthgen, wherever it was imported from) pays for mlflow's import only: the
        # package's names and NotFittedError (scikit-learn) load on first use, and the worker uses neither
        code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); "
                "from synthgen.tracking import _worker; _worker()")
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-c", code, request.experiment], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, text=True)
        self.started = time.perf_counter()

    def finish(self, *, exit_status: int | None, verdict: str | None, error: str | None,
               digests: Sequence[dict] = ()) -> str | None:
        """Log the run; return its MLflow run id, or None after a one-line warning (never raises)."""
        seconds = time.perf_counter() - self.started
        job = {"command": self.request.command, "args": self.request.args, "inputs": self.inputs,
               "outputs": self.outputs, "digests": list(digests), "exit_status": exit_status,
               "verdict": verdict, "error": error, "seconds": seconds, "cwd": os.getcwd()}
        try:
            out, err = self.process.communicate(json.dumps(job, default=str), timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.abandon()
            out, err = "", f"no answer from MLflow within {WORKER_TIMEOUT:.0f} s"
        except OSError as exc:  # the worker died before reading its job
            out, err = "", str(exc)
        result = next((json.loads(line[len(_RESULT):]) for line in out.splitlines() if line.startswith(_RESULT)),
                      None)
        if result is None:
            last = [line for line in (err or "").splitlines() if line.strip()]
            result = {"error": last[-1].strip() if last else f"tracking worker exited {self.process.returncode}"}
        if result.get("error"):
            _warn(self.request.command, f"the run was not tracked ({result['error'][:300]}); "
                                        "the command's result and outputs are unaffected")
            return None
        return result["run_id"]

    def abandon(self) -> None:
        """Stop the worker without logging (the command was interrupted)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def start(request: Request | None, inputs: Sequence[str] = (), outputs: Sequence[str] = ()) -> Tracker | None:
    """Before a command: check mlflow and the tracking URI, then start the worker (None: not tracked).

    A missing mlflow or an unreachable URI raises ``UsageError`` (one line naming the URI), or with
    ``request.optional`` warns on stderr and returns None so the command runs untracked."""
    if request is None:
        return None
    try:
        if not _mlflow_installed():
            raise UsageError(f"--track needs mlflow, which is not installed: {INSTALL_HINT}")
        check_uri(tracking_uri())
    except UsageError as exc:
        if not request.optional:
            raise
        _warn(request.command, f"{exc}; going on without tracking (--track-optional)")
        return None
    return Tracker(request, inputs, outputs)


# --- what a command wrote, as params / metrics / tags / datasets / artifacts (no mlflow needed) ---

def _sha256(path: Path) -> str:
    # not io.sha256_file: the worker loads this module alone, and io would bring pandas and pyarrow with it
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _classify(path: Path) -> tuple[str, Any]:
    """What a command's file is: model, compare, scorecard, verdict, synthetic (with lineage), report, table."""
    if path.is_dir():
        manifest = _json(path / "manifest.json")
        if isinstance(manifest, dict) and manifest.get("format") == "synthgen-model":
            return "model", manifest
        data = _json(path / "compare.json")
        return ("compare", data) if isinstance(data, dict) else ("other", None)
    if not path.is_file():
        return "missing", None
    name = path.name.lower()
    if name.endswith(".json"):
        data = _json(path)
        if isinstance(data, dict) and "scorecard_version" in data:
            return "scorecard", data
        if isinstance(data, dict) and {"passed", "rules", "policy"} <= data.keys():
            return "verdict", data
        return "json", data
    if name.endswith((".html", ".md")):
        return "report", None
    lineage = _json(path.with_name(path.name + ".manifest.json"))
    if isinstance(lineage, dict) and lineage.get("format") == "synthgen-lineage":
        return "synthetic", lineage
    return "table", None


def _param_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _schema(manifest: dict) -> list[tuple[str, str]]:
    """(column, MLflow type) from a model manifest's schema; types from the recorded pandas dtypes."""
    out = []
    for col in (manifest.get("schema") or {}).get("columns", []):
        dtype = str(col.get("dtype") or "")
        kind = next((t for prefix, t in _DTYPES.items() if dtype.lower().startswith(prefix)), "string")
        out.append((str(col["name"]), kind))
    return out


def _dataset(path: str | None, sha: str | None, context: str, schema: list | None = None) -> dict | None:
    if not path or not sha:
        return None
    return {"path": str(path), "name": Path(path).name, "sha256": sha, "context": context, "schema": schema}


def _scorecard_metrics(card: dict) -> dict[str, float]:
    metrics = {"quality_score": card.get("quality_score")}
    metrics.update({f"subscores.{k}": v for k, v in (card.get("subscores") or {}).items()})
    metrics.update({k: (v or {}).get("value") for k, v in (card.get("metrics") or {}).items()})
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _model(rec: dict, manifest: dict, path: Path, output: bool) -> None:
    rec["params"]["generator"] = manifest.get("generator")
    for key, value in (manifest.get("params") or {}).items():
        if key != "random_state":
            rec["params"][f"generator.{key}"] = value
    rec["params"]["seed" if output else "model_seed"] = manifest.get("seed")
    rec["params"]["target"] = manifest.get("target")
    data = manifest.get("training_data") or {}
    rec["tags"].setdefault("data_sha256", data.get("file_sha256"))
    rec["tags"].setdefault("synthgen_version", manifest.get("synthgen_version"))
    rec["datasets"].append(_dataset(data.get("file"), data.get("file_sha256"), "training", _schema(manifest)))
    rec["artifacts"].append((str(path / "manifest.json"), "model" if output else "input_model"))
    if output and data.get("rows"):
        rec["metrics"]["train_rows"] = data["rows"]


def _refresh(rec: dict, folder: Path) -> None:
    """A model folder written by `synthgen refresh`: its drift report, scorecard and verdict (refresh/)."""
    report = _json(folder / "drift.json")
    if not isinstance(report, dict):
        return
    rec["tags"]["drift"] = "significant" if report.get("drift") else "none"
    rec["metrics"]["drift_significant"] = len(report.get("significant") or [])
    rec["artifacts"].append((str(folder / "drift.json"), "drift"))
    card, verdict = _json(folder / "scorecard.json"), _json(folder / "verdict.json")
    if isinstance(card, dict):
        _scorecard(rec, card, folder / "scorecard.json", output=False)  # its seed is the scoring's, not the model's
        rec["params"]["evaluation_seed"] = card.get("random_state")
    if isinstance(verdict, dict):
        _verdict(rec, verdict, folder / "verdict.json")


def _synthetic(rec: dict, lineage: dict, path: Path, output: bool) -> None:
    gen, info = lineage.get("generation") or {}, lineage.get("file") or {}
    rec["params"].update(n=gen.get("n"), **({"seed": gen.get("seed")} if output else {"generation_seed": gen.get("seed")}))
    rec["params"].setdefault("generator", (lineage.get("model") or {}).get("generator"))
    rec["tags"].setdefault("synthgen_version", lineage.get("synthgen_version"))
    rec["datasets"].append(_dataset(str(path), info.get("sha256"), "synthetic"))
    rec["artifacts"].append((str(path.with_name(path.name + ".manifest.json")), "lineage"))
    rec["tags"]["synthetic_sha256"] = info.get("sha256")
    if output and info.get("rows") is not None:
        rec["metrics"]["rows"] = info["rows"]


def _scorecard(rec: dict, card: dict, path: Path, output: bool) -> None:
    rec["metrics"].update(_scorecard_metrics(card))
    inputs = card.get("inputs") or {}
    if output:
        rec["params"]["seed"] = card.get("random_state")
        rec["params"]["n"] = (inputs.get("synthetic") or {}).get("rows")
    rec["tags"].setdefault("synthgen_version", (card.get("library_versions") or {}).get("synthgen"))
    rec["tags"].setdefault("train_rows_sha256", (inputs.get("real_train") or {}).get("sha256"))
    rec["tags"].setdefault("synthetic_rows_sha256", (inputs.get("synthetic") or {}).get("sha256"))
    rec["artifacts"].append((str(path), "scorecard"))
    model = ((card.get("lineage") or {}).get("model") or {})
    manifest = _json(Path(model["path"]) / "manifest.json") if not output and model.get("path") else None
    if isinstance(manifest, dict):  # gate: the scorecard's synthetic file came from this model (its lineage)
        rec["params"].setdefault("generator", manifest.get("generator"))
        rec["tags"].setdefault("data_sha256", (manifest.get("training_data") or {}).get("file_sha256"))


def _verdict(rec: dict, verdict: dict, path: Path) -> None:
    policy = verdict.get("policy") or {}
    rec["params"].update(policy=policy.get("name") or policy.get("path"), policy_sha256=policy.get("sha256"),
                         policy_version=policy.get("version"))
    rec["tags"]["verdict"] = "PASS" if verdict.get("passed") else "FAIL"
    rules = verdict.get("rules") or []
    rec["metrics"]["rules_failed"] = sum(1 for r in rules if isinstance(r, dict) and str(r.get("status")).lower() == "fail")
    rec["artifacts"].append((str(path), "verdict"))


def _empty(name: str) -> dict:
    return {"name": name, "params": {}, "metrics": {}, "tags": {}, "datasets": [], "artifacts": [], "children": []}


def _compare(rec: dict, data: dict, path: Path) -> None:
    settings, info = data.get("settings") or {}, data.get("data") or {}
    policy = settings.get("policy") or {}
    rec["params"].update(generators=settings.get("generators"), seeds=settings.get("seeds"), n=settings.get("n"),
                         holdout=settings.get("holdout"), target=info.get("target"),
                         policy=policy.get("name") or policy.get("path"), policy_sha256=policy.get("sha256"),
                         policy_version=policy.get("version"))
    best = data.get("best")
    best = best.get("generator") if isinstance(best, dict) else best
    rec["tags"].update(best=best or "none", verdict="PASS" if best else "FAIL")
    rec["tags"].setdefault("synthgen_version", data.get("synthgen_version"))
    rec["tags"]["table_sha256"] = info.get("sha256")
    for entry in data.get("leaderboard") or []:
        mean = (entry.get("quality_score") or {}).get("mean")
        if isinstance(mean, (int, float)):
            rec["metrics"][f"quality_score.{entry['generator']}"] = mean
    rec["artifacts"] += [(str(path / f), "report") for f in ("compare.json", "compare.md", "index.html")
                         if (path / f).is_file()]
    timings = (data.get("timings") or {}).get("runs") or {}
    for run in data.get("runs") or []:
        rec["children"].append(_compare_run(run, settings, timings.get(run["id"]) or {}, path))


def _compare_run(run: dict, settings: dict, timing: dict, folder: Path) -> dict:
    """One nested run of a compare: a generator x seed, its scorecard, verdict and stage timings."""
    child = _empty(run["id"])
    params = (settings.get("params") or {}).get(run["generator"]) or {}
    child["params"].update(generator=run["generator"], seed=run["seed"], n=settings.get("n"),
                           **{f"generator.{k}": v for k, v in params.items()})
    child["tags"].update(status=run.get("status"), verdict=run.get("gate") or "none")
    if run.get("error"):
        child["tags"]["error"] = str(run["error"])[:5000]
    for stage in ("fit", "sample", "evaluate", "gate"):
        if isinstance(timing.get(f"{stage}_s"), (int, float)):
            child["metrics"][f"{stage}_seconds"] = timing[f"{stage}_s"]
    sample_s = timing.get("sample_s")
    if isinstance(sample_s, (int, float)) and sample_s > 0 and settings.get("n"):
        child["metrics"]["rows_per_second"] = settings["n"] / sample_s
    for key, kind in (("scorecard", "scorecard"), ("verdict", "verdict")):
        if run.get(key):
            child["artifacts"].append((str(folder / run[key]), kind))
            if kind == "scorecard" and isinstance(card := _json(folder / run[key]), dict):
                child["metrics"].update(_scorecard_metrics(card))
    return child


def describe(job: dict) -> dict:
    """The run a finished command becomes: params, metrics, tags, datasets, artifacts, nested runs.

    Read from the files the command named (inputs first, then outputs, so an output's seed or n wins)."""
    rec = _empty(job["command"])
    digests = {str(d.get("path")): d.get("sha256") for d in job.get("digests") or [] if isinstance(d, dict)}
    ok = job.get("error") is None
    for role, paths in (("input", job.get("inputs") or []), ("output", job.get("outputs") or [])):
        if role == "output" and not ok:
            break  # a command that stopped wrote nothing to read
        for name in paths:
            path = Path(job.get("cwd") or ".", name)
            kind, data = _classify(path)
            output = role == "output"
            if kind == "model":
                _model(rec, data, path, output)
                refreshed = data.get("refresh") if output else None
                if isinstance(refreshed, dict):  # written by `synthgen refresh`: its folder of reports
                    _refresh(rec, path / str(refreshed.get("folder", "refresh")))
            elif kind == "synthetic":
                _synthetic(rec, data, path, output)
            elif kind == "scorecard":
                _scorecard(rec, data, path, output)
            elif kind == "verdict":
                _verdict(rec, data, path)
            elif kind == "compare":
                _compare(rec, data, path)
            elif kind == "table" and not output:
                sha = digests.get(name) or _sha256(path)
                rec["tags"]["data_sha256"] = sha  # the table itself wins over what a manifest recorded
                role_name = next((k for k in ("data", "train", "holdout") if (job.get("args") or {}).get(k) == name),
                                 "input")
                rec["datasets"].insert(0, _dataset(str(path.resolve()), sha, _CONTEXTS.get(role_name, role_name)))
            elif kind == "report" and output:
                rec["artifacts"].append((str(path), "report"))
    _finish(rec, job)
    return rec


def _finish(rec: dict, job: dict) -> None:
    """Seconds, rows/s, the command's own tags; None values dropped; datasets unique by digest and context."""
    seconds = float(job.get("seconds") or 0.0)
    rec["metrics"]["seconds"] = seconds
    rows = rec["metrics"].get("rows", rec["metrics"].get("train_rows"))
    if rows and seconds > 0 and not rec["children"]:
        rec["metrics"]["rows_per_second"] = rows / seconds
    args = job.get("args") or {}
    if "policy" not in rec["params"] and args.get("policy") not in (None, "default"):
        policy = Path(job.get("cwd") or ".", args["policy"])
        if policy.is_file():
            rec["params"].update(policy=str(args["policy"]), policy_sha256=_sha256(policy))
    if job.get("verdict") is not None:
        rec["tags"]["verdict"] = job["verdict"]
    rec["tags"].update(command=job["command"], exit_status=str(job.get("exit_status")))
    if job.get("error"):
        rec["tags"]["error"] = str(job["error"])[:5000]
    rec["tags"].setdefault("synthgen_version", _own_version())
    datasets: dict[tuple, dict] = {}
    for d in rec["datasets"]:
        if d is not None:
            kept = datasets.setdefault((d["sha256"], d["context"]), d)
            kept["schema"] = kept["schema"] or d["schema"]
    rec["datasets"] = list(datasets.values())
    for child in rec["children"]:  # each generator x seed ran on the same table
        child["datasets"] = [d for d in rec["datasets"] if d["context"] == "training"]
        for key in ("data_sha256", "table_sha256", "synthgen_version"):
            child["tags"].setdefault(key, rec["tags"].get(key))
    _clean(rec)


def _clean(rec: dict) -> None:
    rec["params"] = {k: _param_value(v) for k, v in rec["params"].items() if v is not None}
    rec["metrics"] = {k: float(v) for k, v in rec["metrics"].items() if v is not None}
    rec["tags"] = {k: str(v) for k, v in rec["tags"].items() if v is not None}
    seen: set[str] = set()
    rec["artifacts"] = [(p, d) for p, d in rec["artifacts"] if Path(p).is_file() and not (p in seen or seen.add(p))]
    for child in rec["children"]:
        _clean(child)


def _own_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("synthgen")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return None


# --- the worker process: mlflow is imported here only ---

def _worker() -> None:
    """Import mlflow and open the experiment while the command runs, then log the one job read from stdin."""
    import warnings

    warnings.simplefilter("ignore")
    result_out, sys.stdout = sys.stdout, sys.stderr  # mlflow's own prints must not mix with our result line
    experiment = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_EXPERIMENT
    try:
        import mlflow

        experiment_id, ready = _experiment_id(mlflow, experiment), None
        import mlflow.data.dataset_source_registry  # noqa: F401 - loaded now, while the command still runs
        import mlflow.data.meta_dataset  # noqa: F401
        from mlflow.tracking.context.registry import resolve_tags

        resolve_tags()  # a run's context tags (git's import among them), resolved once now, while it runs
    except Exception as exc:  # noqa: BLE001 - reported after the command, as a warning
        experiment_id, ready = None, f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    text = sys.stdin.read()
    if not text.strip():
        return
    try:
        if ready is not None:
            raise RuntimeError(ready)
        result = {"run_id": _log(mlflow, experiment_id, describe(json.loads(text)))}
    except Exception as exc:  # noqa: BLE001
        result = {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
    result_out.write(_RESULT + json.dumps(result) + "\n")
    result_out.flush()
    sys.stderr.flush()
    # the run is committed: skip mlflow's exit handlers (engine disposal, telemetry flush), which held
    # the finished command for another second
    os._exit(0)


def _experiment_id(mlflow: Any, name: str) -> str:
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except Exception:  # noqa: BLE001 - another command created it at the same moment
        return client.get_experiment_by_name(name).experiment_id


def _log(mlflow: Any, experiment_id: str, rec: dict, nested: bool = False) -> str:
    """Log one described run (and its nested runs) with the fluent API; the run id."""
    run = mlflow.start_run(experiment_id=experiment_id, run_name=rec["name"], nested=nested, tags=rec["tags"])
    status = "FAILED" if rec["tags"].get("error") is not None else "FINISHED"
    try:
        if rec["params"]:
            mlflow.log_params(rec["params"])
        if rec["metrics"]:
            mlflow.log_metrics(rec["metrics"])
        for d in rec["datasets"]:
            mlflow.log_input(_meta_dataset(d), context=d["context"])
        for path, folder in rec["artifacts"]:
            mlflow.log_artifact(path, artifact_path=folder)
        for child in rec["children"]:
            _log(mlflow, experiment_id, child, nested=True)
    except BaseException:
        status = "FAILED"
        raise
    finally:
        mlflow.end_run(status=status)
    return run.info.run_id


def _meta_dataset(d: dict) -> Any:
    """A dataset by reference: its file as the source, its sha256 as the digest (the first 36 hex digits:
    MLflow's limit; the whole one is in the run's ``data_sha256``/``synthetic_sha256`` tag), and its columns when a manifest records them."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.types import ColSpec, Schema

    schema = Schema([ColSpec(t, n) for n, t in d["schema"]]) if d.get("schema") else None
    return MetaDataset(resolve_dataset_source(d["path"]), name=d["name"], digest=d["sha256"][:36], schema=schema)
