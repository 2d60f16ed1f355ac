"""MLflow tracking (`--track`, synthgen/tracking.py): a local sqlite store and a real `mlflow server`.

Every test points MLFLOW_TRACKING_URI at a temporary store and runs from a temporary folder, so
MLflow's default ./mlflow.db and ./mlruns never land in the checkout.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from synthgen.cli import main
from synthgen.datasets import load_german_credit

mlflow = pytest.importorskip("mlflow", reason="tracking tests need synthgen[mlflow]")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 (free port, tmp sqlite store and artifacts), started at once so it
    boots while the local-store tests run; ``wait()`` polls its /health; always stopped in teardown."""
    folder = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--artifacts-destination",
         str(folder / "artifacts"), "--workers", "1"],
        cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"

    def wait() -> str:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, (folder / "server.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2) as reply:
                    if reply.status == 200:
                        return uri
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"mlflow server did not answer {uri}/health in 180 s")

    try:
        yield wait
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the workers it started (its own session)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def work(tmp_path_factory, server):
    """A temporary working folder with the bundled german credit table, MLFLOW_TRACKING_URI at a tmp sqlite."""
    folder = tmp_path_factory.mktemp("tracking")
    load_german_credit().to_csv(folder / "german.csv", index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        mp.delenv("SYNTHGEN_TRACK", raising=False)
        yield folder


def _runs(command: str | None = None, experiment: str = "synthgen", uri: str | None = None) -> list:
    client = mlflow.MlflowClient(tracking_uri=uri or os.environ["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name(experiment)
    query = f"tags.command = '{command}'" if command else ""
    return client.search_runs([exp.experiment_id], filter_string=query, order_by=["attributes.start_time ASC"])


def _artifacts(run, uri: str | None = None) -> set[str]:
    client = mlflow.MlflowClient(tracking_uri=uri or os.environ["MLFLOW_TRACKING_URI"])
    out = set()
    for top in client.list_artifacts(run.info.run_id):
        out.update(f.path for f in client.list_artifacts(run.info.run_id, top.path)) if top.is_dir else out.add(top.path)
    return out


def _datasets(run) -> dict[str, tuple[str, str]]:
    """{context: (name, digest)} of a run's dataset inputs."""
    return {i.tags[0].value: (i.dataset.name, i.dataset.digest) for i in run.inputs.dataset_inputs}


@pytest.fixture(scope="module")
def flow(work):
    """fit -> generate -> evaluate -> gate, each tracked (gate through SYNTHGEN_TRACK=1), on the local store."""
    assert main(["fit", "german.csv", "--target", "class", "--generator", "smote", "--out", "model", "--track"]) == 0
    assert main(["generate", "model", "-n", "300", "--out", "syn.csv", "--no-progress", "--track"]) == 0
    assert main(["evaluate", "model", "--data", "german.csv", "--synthetic", "syn.csv", "--utility-repeats", "1",
                 "--out", "card.json", "--track", "--experiment", "synthgen"]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SYNTHGEN_TRACK", "1")
        gate = main(["gate", "card.json", "--out", "verdict.json"])
    return {"gate": gate}


def test_fit_run(flow, work):
    (run,) = _runs("fit")
    manifest = json.loads((work / "model" / "manifest.json").read_text())
    data_sha = _sha256(work / "german.csv")
    assert run.info.status == "FINISHED" and run.info.run_name == "fit"
    assert run.data.params == {"generator": "smote", "generator.k_neighbors": "5", "generator.max_other_rows": "5000",
                               "seed": "0", "target": "class"}
    assert run.data.tags["data_sha256"] == data_sha == manifest["training_data"]["file_sha256"]
    assert run.data.tags["synthgen_version"] == manifest["synthgen_version"] == "0.1.0"
    assert run.data.tags["exit_status"] == "0"
    assert run.data.metrics["train_rows"] == 700
    assert run.data.metrics["rows_per_second"] == pytest.approx(700 / run.data.metrics["seconds"], rel=1e-12)
    assert _datasets(run) == {"training": ("german.csv", data_sha[:36])}
    schema = json.loads(run.inputs.dataset_inputs[0].dataset.schema)["mlflow_colspec"]
    assert [c["name"] for c in schema][:2] == ["checking_status", "duration_months"]
    assert [c["type"] for c in schema][:2] == ["string", "long"]
    assert _artifacts(run) == {"model/manifest.json"}


def test_generate_run(flow, work):
    (run,) = _runs("generate")
    lineage = json.loads((work / "syn.csv.manifest.json").read_text())
    assert run.data.params["n"] == "300" and run.data.params["seed"] == "0" and run.data.params["generator"] == "smote"
    assert run.data.metrics["rows"] == 300
    assert run.data.tags["synthetic_sha256"] == lineage["file"]["sha256"] == _sha256(work / "syn.csv")
    assert run.data.tags["data_sha256"] == _sha256(work / "german.csv")
    assert _datasets(run) == {"training": ("german.csv", _sha256(work / "german.csv")[:36]),
                              "synthetic": ("syn.csv", _sha256(work / "syn.csv")[:36])}
    assert _artifacts(run) == {"input_model/manifest.json", "lineage/syn.csv.manifest.json"}


def test_evaluate_run_metrics_equal_the_scorecard(flow, work):
    (run,) = _runs("evaluate")
    card = json.loads((work / "card.json").read_text())
    expected = {"quality_score": card["quality_score"],
                **{f"subscores.{k}": v for k, v in card["subscores"].items() if v is not None},
                **{k: m["value"] for k, m in card["metrics"].items() if m["value"] is not None}}
    assert {k: v for k, v in run.data.metrics.items() if k != "seconds"} == expected
    assert len(expected) == 32  # fairness sub-score and 2 of 29 metrics are not measured without --protected
    assert run.data.params["seed"] == "0" and run.data.params["n"] == "300"
    assert run.data.tags["data_sha256"] == _sha256(work / "german.csv")
    assert _artifacts(run) == {"input_model/manifest.json", "lineage/syn.csv.manifest.json", "scorecard/card.json"}


def test_gate_run_from_the_environment(flow, work):
    (run,) = _runs("gate")
    verdict = json.loads((work / "verdict.json").read_text())
    assert flow["gate"] == 1 and not verdict["passed"]  # smote copies too closely on this table (5 leakage rules fail)
    assert run.data.tags["verdict"] == "FAIL" and run.data.tags["exit_status"] == "1"
    assert run.data.params == {"generator": "smote", "policy": "default", "policy_sha256": verdict["policy"]["sha256"],
                               "policy_version": verdict["policy"]["version"]}
    assert run.data.metrics["rules_failed"] == sum(r["status"] == "fail" for r in verdict["rules"]) == 5
    assert run.data.tags["data_sha256"] == _sha256(work / "german.csv")
    assert _artifacts(run) == {"scorecard/card.json", "verdict/verdict.json"}


def test_scorecard_bytes_identical_with_and_without_tracking(flow, work):
    assert main(["evaluate", "model", "--data", "german.csv", "--synthetic", "syn.csv", "--utility-repeats", "1",
                 "--out", "card_untracked.json"]) == 0
    assert (work / "card_untracked.json").read_bytes() == (work / "card.json").read_bytes()
    assert len(_runs("evaluate")) == 1  # the untracked one left no run


def test_compare_parent_with_a_nested_run_per_generator_and_seed(work):
    code = main(["compare", "german.csv", "--target", "class", "--generators", "smote,gaussian-copula", "--seeds", "0",
                 "-n", "100", "--utility-repeats", "1", "--out", "cmp", "--quiet", "--track", "--experiment", "cmp"])
    data = json.loads((work / "cmp" / "compare.json").read_text())
    runs = _runs(experiment="cmp")
    (parent,) = [r for r in runs if r.data.tags.get("command") == "compare"]
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert len(runs) == 3 and set(children) == {"smote-seed0", "gaussian-copula-seed0"}
    assert code == (0 if data["best"] else 1)
    assert parent.data.tags["verdict"] == ("PASS" if data["best"] else "FAIL")
    assert parent.data.params["generators"] == '["smote", "gaussian-copula"]' and parent.data.params["n"] == "100"
    assert parent.data.params["policy_sha256"] == data["settings"]["policy"]["sha256"]
    assert _artifacts(parent) == {"report/compare.json", "report/compare.md", "report/index.html"}
    for run in data["runs"]:
        child = children[run["id"]]
        card = json.loads((work / "cmp" / run["scorecard"]).read_text())
        assert child.data.metrics["quality_score"] == card["quality_score"]
        assert child.data.tags["verdict"] == run["gate"]
        assert child.data.params["generator"] == run["generator"] and child.data.params["seed"] == "0"
        assert child.data.metrics["sample_seconds"] == data["timings"]["runs"][run["id"]]["sample_s"]
        assert _artifacts(child) == {f"scorecard/{run['id']}.json", f"verdict/{run['id']}.json"}
        assert _datasets(child) == {"training": ("german.csv", _sha256(work / "german.csv")[:36])}


def test_real_mlflow_server(flow, work, server, monkeypatch):
    uri = server()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert main(["generate", "model", "-n", "200", "--out", "served.csv", "--no-progress", "--track"]) == 0
    (run,) = _runs("generate", uri=uri)
    assert run.data.params["n"] == "200" and run.data.metrics["rows"] == 200
    assert _datasets(run)["synthetic"] == ("served.csv", _sha256(work / "served.csv")[:36])
    assert _artifacts(run, uri) == {"input_model/manifest.json", "lineage/served.csv.manifest.json"}


def test_unreachable_uri_fails_before_the_work_or_warns_when_optional(flow, work, monkeypatch, capsys):
    uri = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    capsys.readouterr()
    assert main(["generate", "model", "-n", "50", "--out", "u.csv", "--no-progress", "--track"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"tracking URI '{uri}' is unreachable" in err and "--track-optional" in err
    assert not (work / "u.csv").exists() and not (work / "u.csv.manifest.json").exists()
    assert main(["generate", "model", "-n", "50", "--out", "u.csv", "--no-progress", "--track-optional"]) == 0
    err = capsys.readouterr().err
    assert f"synthgen generate: warning: tracking URI '{uri}' is unreachable" in err and "going on without" in err
    assert len((work / "u.csv").read_text().splitlines()) == 51


class _HealthOnly(http.server.BaseHTTPRequestHandler):
    """Answers /health like an MLflow server, then 404 for everything: a server that goes away mid-command."""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    do_POST = do_GET

    def log_message(self, *args):
        pass


def test_a_tracking_failure_after_the_command_is_a_warning(flow, work, monkeypatch, capsys):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HealthOnly)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{httpd.server_address[1]}")
        capsys.readouterr()
        assert main(["generate", "model", "-n", "50", "--out", "gone.csv", "--no-progress", "--track"]) == 0
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capsys.readouterr().err
    assert "synthgen generate: warning: the run was not tracked" in err and "outputs are unaffected" in err
    monkeypatch.delenv("SYNTHGEN_TRACK", raising=False)
    assert main(["generate", "model", "-n", "50", "--out", "untracked.csv", "--no-progress"]) == 0
    assert (work / "gone.csv").read_bytes() == (work / "untracked.csv").read_bytes()  # same model, seed and n


def test_without_mlflow_an_install_hint(flow, work, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    capsys.readouterr()
    assert main(["gate", "card.json", "--out", "v_hint.json", "--track"]) == 2
    err = capsys.readouterr().err
    assert err == "synthgen gate: error: --track needs mlflow, which is not installed: pip install 'synthgen[mlflow]'\n"
    assert not (work / "v_hint.json").exists()


def test_bad_synthgen_track_value_is_named(work, monkeypatch, capsys):
    monkeypatch.setenv("SYNTHGEN_TRACK", "maybe")
    assert main(["gate", "card.json"]) == 2
    assert capsys.readouterr().err == ("synthgen gate: error: SYNTHGEN_TRACK='maybe': expected 1 or 0 "
                                       "(true/false, yes/no, on/off)\n")
