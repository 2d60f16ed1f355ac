"""examples/release.sh (`make pipeline-demo`): the production loop on the bundled fraud table runs end to end:
fit, generate, evaluate, gate (each tracked in MLflow's default local store), planted drift, refresh."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason="the release step tracks in MLflow: pip install 'synthgen[mlflow]'")

ROOT = Path(__file__).resolve().parents[1]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    work = tmp_path_factory.mktemp("release") / "work"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "SYNTHGEN_"))}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", PYTHON=sys.executable,
               EVALUATE_ARGS="--utility-repeats 1")  # one utility seed: the loop, not the figures, is tested here
    proc = subprocess.run(["bash", str(ROOT / "examples" / "release.sh"), str(work)], env=env, capture_output=True,
                          text=True, timeout=1800)
    return proc, work


def test_release_script_runs_the_whole_loop(release):
    proc, work = release
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads((work / "verdict.json").read_text())["passed"] is True
    report = json.loads((work / "drift.json").read_text())
    assert report["drift"] is True
    assert "amount (all rows)" in report["significant"] and "provider (rare rows)" in report["significant"]
    assert report["columns"]["provider"]["new_values"]["rare"]["values"] == {"NewPay": 334}  # every third of 1,000 frauds
    child = json.loads((work / "model_next" / "manifest.json").read_text())
    assert child["parent"] == sha(work / "model" / "manifest.json")
    assert child["training_data"]["file_sha256"] == sha(work / "fraud_next.csv")
    release_record = json.loads((work / "synthetic_next.csv.manifest.json").read_text())["release"]
    assert release_record["verdict"] == "PASS"
    assert "<- parent model" in proc.stdout and "chain valid: 7 entries" in proc.stdout


def test_release_script_tracks_each_step_and_audits_every_command(release):
    proc, work = release
    assert proc.returncode == 0
    with sqlite3.connect(work / "mlflow.db") as db:  # MLflow's default local store, in the working folder
        runs = db.execute("SELECT name, status FROM runs ORDER BY start_time").fetchall()
        verdicts = dict(db.execute("SELECT r.name, t.value FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
                                   "WHERE t.key = 'verdict'").fetchall())
    assert runs == [(name, "FINISHED") for name in ("fit", "generate", "evaluate", "gate", "refresh")]
    assert verdicts == {"gate": "PASS", "refresh": "PASS"}
    entries = [json.loads(line) for line in (work / "audit.jsonl").read_text().splitlines()]
    assert [e["command"] for e in entries] == ["fit", "generate", "evaluate", "gate", "drift", "refresh", "lineage"]
    assert [e["exit_status"] for e in entries] == [0, 0, 0, 0, 1, 0, 0]
