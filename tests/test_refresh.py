"""`synthgen refresh` (synthgen/refresh.py): drift against a model's profile decides; a refresh refits the same
generator on the new table, generates, evaluates and gates, records its parent, and writes all or nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import one_line_error, run_cli

from synthgen import refresh as refresh_module
from synthgen.cli import main
from synthgen.datasets import load_german_credit

POLICY_HEAD = 'policy_version = "t1"\nname = "{name}"\n\n[rules]\n{rule}\n\n[drift]\nmoderate = 0.1\nsignificant = 0.25\n'


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


run = run_cli


def audit_entries() -> list[dict]:
    import os

    return [json.loads(line) for line in Path(os.environ["SYNTHGEN_AUDIT_LOG"]).read_text().splitlines()]


@pytest.fixture(scope="module")
def german(tmp_path_factory) -> Path:
    """Bundled german credit (1,000 rows, 300 of class 2), a copy with planted drift (credit_amount x1.5 in
    every row, purpose 'crypto' for every third class-2 row: 100 rows), a smote model fitted on the
    original by the CLI, and two policies: one every scorecard passes, one none does."""
    root = tmp_path_factory.mktemp("refresh")
    df = load_german_credit()
    df.to_csv(root / "german.csv", index=False)
    drifted = df.copy()
    drifted["credit_amount"] = (drifted["credit_amount"] * 1.5).round().astype("int64")
    rare = drifted.index[drifted["class"] == 2]
    drifted.loc[rare[::3], "purpose"] = "crypto"
    drifted.to_csv(root / "drifted.csv", index=False)
    (root / "pass.toml").write_text(POLICY_HEAD.format(name="lenient", rule='"realism.column_shapes" = ">= 0"'))
    (root / "fail.toml").write_text(POLICY_HEAD.format(name="strict", rule='"realism.column_shapes" = ">= 0.999"'))
    assert main(["fit", str(root / "german.csv"), "--target", "class", "--generator", "smote",
                 "--param", "k_neighbors=3", "--seed", "4", "--out", str(root / "m1")]) == 0
    return root


@pytest.fixture(scope="module")
def refreshed(german) -> dict:
    """One refresh on the drifted table under the lenient policy (exit 0), and its outputs."""
    before = sha(german / "m1" / "manifest.json")
    code = main(["refresh", str(german / "m1"), "--data", str(german / "drifted.csv"), "--out", str(german / "m2"),
                 "--synthetic-out", str(german / "s2.csv"), "-n", "240", "--policy", str(german / "pass.toml"),
                 "--quiet", "--utility-repeats", "1"])
    return {"code": code, "parent_sha": before, "manifest": json.loads((german / "m2" / "manifest.json").read_text()),
            "lineage": json.loads((german / "s2.csv.manifest.json").read_text())}


def test_no_drift_is_nothing_to_do_and_writes_nothing(german, tmp_path, capsys):
    code, out, _ = run(capsys, "refresh", german / "m1", "--data", german / "german.csv", "--out", tmp_path / "m",
                       "--synthetic-out", tmp_path / "s.csv", "-n", 100)
    assert code == 0
    assert out.startswith("no significant drift: nothing to do")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    entry = audit_entries()[-1]
    assert entry["command"] == "refresh" and entry["exit_status"] == 0 and entry["verdict"] is None


def test_refresh_refits_the_same_generator_and_records_its_parent(german, refreshed):
    assert refreshed["code"] == 0
    m1 = json.loads((german / "m1" / "manifest.json").read_text())
    m2 = refreshed["manifest"]
    assert sha(german / "m1" / "manifest.json") == refreshed["parent_sha"]  # the parent is left as it was
    assert m2["parent"] == refreshed["parent_sha"] and m2["parent_path"] == str((german / "m1").resolve())
    assert (m2["generator"], m2["params"], m2["seed"]) == (m1["generator"], m1["params"], m1["seed"])
    assert m2["params"]["k_neighbors"] == 3 and m2["seed"] == 4
    for key in ("seed", "holdout_fraction", "train_rows", "holdout_rows"):
        assert m2["split"][key] == m1["split"][key], key  # same rule, same table size: same split sizes
    kinds = lambda m: {c["name"]: c["kind"] for c in m["schema"]["columns"]}  # noqa: E731
    assert kinds(m2) == kinds(m1)
    assert m2["training_data"]["file_sha256"] == sha(german / "drifted.csv")
    assert m2["drift"]["drift"] is True and m2["refresh"]["reason"] == "drift"
    assert "credit_amount (all rows)" in m2["drift"]["significant"]
    assert "purpose (rare rows)" in m2["drift"]["significant"]
    # the new profile describes the new table: against it, the drifted table does not drift
    assert main(["drift", str(german / "m2"), str(german / "drifted.csv")]) == 0


def test_refresh_writes_rows_scorecard_verdict_and_lineage(german, refreshed, capsys):
    rows = pd.read_csv(german / "s2.csv")
    assert len(rows) == 240 and set(rows["class"]) == {2}
    assert list(rows.columns) == list(pd.read_csv(german / "german.csv", nrows=1).columns)
    assert (rows["credit_amount"] >= 1.5 * 250 - 1).all()  # learned from the drifted amounts (german min: 250)
    folder = german / "m2" / "refresh"
    assert sorted(p.name for p in folder.iterdir()) == ["drift.json", "scorecard.json", "verdict.json"]
    verdict = json.loads((folder / "verdict.json").read_text())
    assert verdict["passed"] is True and verdict["policy"]["name"] == "lenient"
    card = json.loads((folder / "scorecard.json").read_text())
    assert card["inputs"]["synthetic"]["rows"] == 240
    release = refreshed["lineage"]["release"]
    assert release["verdict"] == "PASS" and release["policy"]["sha256"] == sha(german / "pass.toml")
    assert refreshed["lineage"]["model"]["manifest_sha256"] == sha(german / "m2" / "manifest.json")
    code, out, _ = run(capsys, "lineage", german / "s2.csv")
    assert code == 0
    assert "release          PASS under policy" in out
    assert f"<- parent model {(german / 'm1').resolve()}" in out


def test_refresh_is_reproducible(german, refreshed, tmp_path):
    assert main(["refresh", str(german / "m1"), "--data", str(german / "drifted.csv"), "--out", str(tmp_path / "m"),
                 "--synthetic-out", str(tmp_path / "s.csv"), "-n", "240", "--policy", str(german / "pass.toml"),
                 "--quiet", "--utility-repeats", "1"]) == 0
    assert sha(tmp_path / "s.csv") == sha(german / "s2.csv")
    assert sha(tmp_path / "m" / "payload.npz") == sha(german / "m2" / "payload.npz")
    scores = [json.loads((f / "refresh" / "scorecard.json").read_text())["metrics"] for f in (tmp_path / "m", german / "m2")]
    assert scores[0] == scores[1]


def test_a_failing_refresh_exits_1_and_is_marked_failed(german, tmp_path, capsys):
    code, out, _ = run(capsys, "refresh", german / "m1", "--data", german / "drifted.csv", "--out", tmp_path / "m",
                       "--synthetic-out", tmp_path / "s.parquet", "-n", 50, "--policy", german / "fail.toml", "--quiet", "--utility-repeats", 1)
    assert code == 1
    assert "FAIL: realism.column_shapes" in out and "marked failed" in out
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == 50
    side = json.loads((tmp_path / "s.parquet.manifest.json").read_text())
    assert side["release"]["verdict"] == "FAIL"
    assert json.loads((tmp_path / "m" / "refresh" / "verdict.json").read_text())["passed"] is False
    entry = audit_entries()[-1]
    assert entry["command"] == "refresh" and entry["exit_status"] == 1 and entry["verdict"] == "FAIL"


def test_always_refreshes_without_drift(german, tmp_path, capsys):
    code, out, _ = run(capsys, "refresh", german / "m1", "--data", german / "german.csv", "--out", tmp_path / "m",
                       "--synthetic-out", tmp_path / "s.csv", "-n", 30, "--policy", german / "pass.toml", "--always",
                       "--quiet", "--utility-repeats", 1)
    assert code == 0 and out.startswith("refreshed (--always; no significant drift)")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["drift"]["drift"] is False and manifest["refresh"]["reason"] == "always"


def test_existing_outputs_are_kept_without_force(german, tmp_path, capsys):
    (tmp_path / "s.csv").write_text("keep me\n")
    code, _, err = run(capsys, "refresh", german / "m1", "--data", german / "drifted.csv", "--out", tmp_path / "m",
                       "--synthetic-out", tmp_path / "s.csv", "-n", 30, "--policy", german / "pass.toml")
    assert code == 1
    one_line_error(err, f"output '{tmp_path / 's.csv'}' exists", "--force")
    assert (tmp_path / "s.csv").read_text() == "keep me\n" and not (tmp_path / "m").exists()
    code, _, _ = run(capsys, "refresh", german / "m1", "--data", german / "drifted.csv", "--out", tmp_path / "m",
                     "--synthetic-out", tmp_path / "s.csv", "-n", 30, "--policy", german / "pass.toml", "--force",
                     "--quiet", "--utility-repeats", 1)
    assert code == 0 and len(pd.read_csv(tmp_path / "s.csv")) == 30


def test_the_model_being_refreshed_is_never_the_output(german, tmp_path, capsys):
    before = sha(german / "m1" / "manifest.json")
    code, _, err = run(capsys, "refresh", german / "m1", "--data", german / "drifted.csv", "--out", german / "m1",
                       "--synthetic-out", tmp_path / "s.csv", "-n", 30, "--force")
    assert code == 2
    one_line_error(err, f"--out '{german / 'm1'}' is the model being refreshed")
    assert sha(german / "m1" / "manifest.json") == before and not (tmp_path / "s.csv").exists()


def test_new_data_with_other_columns_is_refused(german, tmp_path, capsys):
    df = pd.read_csv(german / "german.csv").drop(columns=["age"]).rename(columns={"job": "occupation"})
    df.to_csv(tmp_path / "other.csv", index=False)
    code, _, err = run(capsys, "refresh", german / "m1", "--data", tmp_path / "other.csv", "--out", tmp_path / "m",
                       "--synthetic-out", tmp_path / "s.csv", "-n", 30)
    assert code == 1
    one_line_error(err, "'age'", "'occupation'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.csv"]


def test_a_failure_mid_refresh_leaves_nothing(german, tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(refresh_module, "evaluate", broken)
    code, _, err = run(capsys, "refresh", german / "m1", "--data", german / "drifted.csv", "--out", tmp_path / "m",
                       "--synthetic-out", tmp_path / "s.csv", "-n", 30, "--policy", german / "pass.toml", "--quiet", "--utility-repeats", 1)
    assert code == 1
    one_line_error(err, "internal error: RuntimeError: disk on fire")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no model, no rows, no manifest, no temporaries
