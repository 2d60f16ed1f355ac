"""Lineage (issue 10 part 6): `generate` writes FILE.manifest.json, `evaluate`/`gate` record it, and
`synthgen lineage FILE` walks file -> model -> training data -> parent models. Real rows: a SMOTE model
fitted on the bundled German credit table (1,000 rows, rare class 2: 210 rows in train)."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import shutil
import signal
from pathlib import Path

import pandas as pd
import pytest

from _scenarios import fitted_model
from synthgen import lineage
from synthgen.cli import main
from synthgen.datasets import load_german_credit
from synthgen.evaluation import Scorecard
from synthgen.versions import synthgen_version


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run(capsys, *args) -> tuple[int, str, str]:
    args = [str(a) for a in args] + (["--no-progress"] if args[0] == "generate" else [])
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = fitted_model(tmp_path_factory.mktemp("lineage"), load_german_credit(), "class", "smote", "german.csv")
    assert main(["generate", str(root / "model"), "-n", "300", "--chunk-size", "100", "--out", str(root / "syn.csv"),
                 "--no-progress"]) == 0
    return root


@pytest.fixture(scope="module")
def scored(work) -> Path:
    """The one real evaluation of this file (about 11 s): syn.csv against the model's split, then gated."""
    assert main(["evaluate", str(work / "model"), "--data", str(work / "german.csv"), "--synthetic",
                 str(work / "syn.csv"), "--utility-repeats", "1", "--out", str(work / "card.json")]) == 0
    return work / "card.json"


# ------------------------------------------------------------------ the sidecar
def test_generate_writes_the_manifest_beside_its_output(work):
    record = json.loads((work / "syn.csv.manifest.json").read_text())
    created = dt.datetime.fromisoformat(record.pop("created"))
    assert created.utcoffset() == dt.timedelta(0)
    assert record == {
        "format": "synthgen-lineage",
        "format_version": 1,
        "synthgen_version": synthgen_version(),
        "file": {"name": "syn.csv", "format": "csv", "rows": 300, "bytes": (work / "syn.csv").stat().st_size,
                 "sha256": sha(work / "syn.csv")},
        "model": {"path": str((work / "model").resolve()), "manifest_sha256": sha(work / "model" / "manifest.json"),
                  "generator": "smote"},
        "generation": {"n": 300, "seed": 0, "seed_source": "model", "chunk_size": 100, "label": None,
                       "engine": "local"},
    }
    assert len(pd.read_csv(work / "syn.csv")) == 300


def test_given_seed_and_parquet_are_recorded_and_rows_unchanged(work, capsys):
    # no --seed samples with the model's fit seed (0): the same bytes as --seed 0
    assert run(capsys, "generate", work / "model", "-n", "300", "--seed", "0", "--chunk-size", "100",
               "--out", work / "seed0.csv")[0] == 0
    assert (work / "seed0.csv").read_bytes() == (work / "syn.csv").read_bytes()
    assert run(capsys, "generate", work / "model", "-n", "250", "--seed", "7", "--label", "2",
               "--out", work / "s7.parquet")[0] == 0
    record = lineage.read_record(work / "s7.parquet")
    assert record["generation"] == {"n": 250, "seed": 7, "seed_source": "given", "chunk_size": 100_000, "label": 2,
                                    "engine": "local"}
    assert record["file"]["format"] == "parquet" and record["file"]["sha256"] == sha(work / "s7.parquet")
    assert len(pd.read_parquet(work / "s7.parquet")) == 250


def test_force_overwrites_table_and_manifest_together(work, capsys):
    out, side = work / "f.csv", work / "f.csv.manifest.json"
    assert run(capsys, "generate", work / "model", "-n", "20", "--out", out)[0] == 0
    first = side.read_bytes()
    code, _, err = run(capsys, "generate", work / "model", "-n", "20", "--seed", "3", "--out", out)
    assert code == 1 and "f.csv' exists; pass --force" in one_line(err)
    assert side.read_bytes() == first
    out.unlink()  # a manifest left alone is an output too: refused without --force, nothing written
    code, _, err = run(capsys, "generate", work / "model", "-n", "20", "--seed", "3", "--out", out)
    assert code == 1 and "f.csv.manifest.json' exists; pass --force" in one_line(err)
    assert not out.exists() and side.read_bytes() == first
    assert run(capsys, "generate", work / "model", "-n", "20", "--seed", "3", "--out", out, "--force")[0] == 0
    record = lineage.read_record(out)
    assert record["generation"]["seed"] == 3 and record["file"]["sha256"] == sha(out)
    assert not [p.name for p in work.iterdir() if p.name.endswith(".tmp")]


def _leftovers(folder: Path, stem: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if stem in p.name)


def test_no_table_without_its_manifest(work, capsys, monkeypatch):
    # 1. the manifest cannot be written (a full disk): nothing is written
    real_write = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name.startswith(".nospace.csv.manifest.json."):  # the manifest's temporary file
            real_write(self, "{")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *args, **kwargs)

    with monkeypatch.context() as mp:
        mp.setattr(Path, "write_text", write_text)
        code, _, err = run(capsys, "generate", work / "model", "-n", "50", "--out", work / "nospace.csv")
    assert code == 1
    assert one_line(err) == ("synthgen generate: error: lineage manifest "
                             f"'{work / 'nospace.csv.manifest.json'}': cannot be written (No space left on device); "
                             "nothing was written")
    assert _leftovers(work, "nospace") == []
    # 2. the table's rename fails after the manifest's: the manifest is taken back
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("renamefail.csv"):
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(src, dst)

    with monkeypatch.context() as mp:
        mp.setattr(os, "replace", replace)
        code, _, err = run(capsys, "generate", work / "model", "-n", "50", "--out", work / "renamefail.csv")
    assert code == 1
    assert one_line(err) == (f"synthgen generate: error: output '{work / 'renamefail.csv'}': cannot be written "
                             "(Input/output error); nothing was written")
    assert _leftovers(work, "renamefail") == []
    # 3. SIGTERM between the two renames is held back until both are done, then both are taken back
    def replace_and_signal(src, dst):
        if str(dst).endswith("sigterm.csv"):
            signal.raise_signal(signal.SIGTERM)  # blocked during the renames: it arrives after them
        return real_replace(src, dst)

    with monkeypatch.context() as mp:
        mp.setattr(os, "replace", replace_and_signal)
        code, _, err = run(capsys, "generate", work / "model", "-n", "50", "--out", work / "sigterm.csv")
    assert code == 143
    assert one_line(err) == "synthgen generate: terminated (SIGTERM); nothing was written"
    assert _leftovers(work, "sigterm") == []


def test_output_named_like_a_folder_is_refused(work, capsys):
    (work / "adir.csv.manifest.json").mkdir()
    code, _, err = run(capsys, "generate", work / "model", "-n", "5", "--out", work / "adir.csv", "--force")
    assert code == 2
    assert one_line(err) == (f"synthgen generate: error: output '{work / 'adir.csv.manifest.json'}' is a folder; "
                             "name a file")
    assert not (work / "adir.csv").exists()


# ------------------------------------------------------------------ synthgen lineage
def test_lineage_prints_the_chain(work, capsys):
    code, out, _ = run(capsys, "lineage", work / "syn.csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"synthetic file {work / 'syn.csv'}"
    assert lines[1] == f"    sha256           {sha(work / 'syn.csv')} (verified against syn.csv.manifest.json)"
    assert lines[2] == "    rows             300 (csv), n 300, seed 0 (the model's fit seed), chunk size 100"
    assert lines[4] == f"<- model {(work / 'model').resolve()}"
    assert lines[5] == f"    manifest sha256  {sha(work / 'model' / 'manifest.json')} (verified)"
    assert lines[6] == ('    generator        smote {"k_neighbors": 5, "max_other_rows": 5000, "random_state": 0}, '
                        "fit seed 0")
    assert lines[8] == f"<- training data {(work / 'german.csv').resolve()}"
    assert lines[9] == f"    sha256           {sha(work / 'german.csv')} (file matches)"
    assert lines[10] == ("    rows             1000 in the table; 700 train, 300 holdout (split seed 0, holdout "
                         "fraction 0.3)")
    assert lines[11:] == ["<- parent model   none recorded"]
    # the manifest itself names the same chain
    assert run(capsys, "lineage", work / "syn.csv.manifest.json")[1] == out


def test_lineage_json(work, capsys):
    code, out, _ = run(capsys, "lineage", work / "syn.csv", "--json")
    assert code == 0
    links = json.loads(out)
    assert links["file"]["sha256"] == sha(work / "syn.csv") and links["file"]["verified"] is True
    assert links["file"]["generation"]["n"] == 300
    model = links["model"]
    assert model["manifest_sha256"] == sha(work / "model" / "manifest.json") and model["generator"] == "smote"
    data = model["training_data"]
    assert data["file_sha256"] == sha(work / "german.csv") and data["status"] == "matches"
    assert (data["table_rows"], data["train_rows"]) == (1000, 700)
    assert {k: data["split"][k] for k in ("seed", "holdout_fraction", "train_rows", "holdout_rows")} == {
        "seed": 0, "holdout_fraction": 0.3, "train_rows": 700, "holdout_rows": 300}
    assert links["parents"] == []


def test_lineage_refuses_what_it_cannot_verify(work, capsys):
    code, _, err = run(capsys, "lineage", work / "german.csv")
    assert code == 1
    assert one_line(err) == (f"synthgen lineage: error: file '{work / 'german.csv'}': has no lineage manifest "
                             "('german.csv.manifest.json' is not beside it); only files written by "
                             "`synthgen generate` have one")
    shutil.copy(work / "syn.csv", work / "tampered.csv")
    shutil.copy(work / "syn.csv.manifest.json", work / "tampered.csv.manifest.json")
    with open(work / "tampered.csv", "ab") as handle:
        handle.write(b"\n")
    code, _, err = run(capsys, "lineage", work / "tampered.csv")
    assert code == 1
    recorded, actual = sha(work / "syn.csv"), sha(work / "tampered.csv")
    assert one_line(err) == (f"synthgen lineage: error: file '{work / 'tampered.csv'}' sha256 {actual[:12]}... "
                             f"differs from its manifest's {recorded[:12]}... (changed after `synthgen generate` "
                             "wrote it)")
    # a model folder changed after the file was generated, then gone
    shutil.copytree(work / "model", work / "model_b")
    assert run(capsys, "generate", work / "model_b", "-n", "10", "--out", work / "b.csv")[0] == 0
    before = sha(work / "model_b" / "manifest.json")
    manifest = json.loads((work / "model_b" / "manifest.json").read_text())
    manifest["note"] = "edited"
    (work / "model_b" / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, "lineage", work / "b.csv")
    assert code == 1
    after = sha(work / "model_b" / "manifest.json")
    assert one_line(err) == (f"synthgen lineage: error: model folder '{(work / 'model_b').resolve()}': manifest.json "
                             f"sha256 {after[:12]}... differs from the recorded {before[:12]}... (the folder was "
                             "refitted or changed since)")
    shutil.rmtree(work / "model_b")
    code, _, err = run(capsys, "lineage", work / "b.csv")
    assert code == 1
    assert one_line(err) == (f"synthgen lineage: error: model folder '{(work / 'model_b').resolve()}' that wrote "
                             f"'{work / 'b.csv'}' is not found (moved or deleted); its manifest.json sha256 was "
                             f"{before[:12]}...")


def test_lineage_walks_parent_models(work, capsys):
    shutil.copytree(work / "model", work / "parent")
    parent_sha = sha(work / "parent" / "manifest.json")
    shutil.copytree(work / "model", work / "child")
    manifest = json.loads((work / "child" / "manifest.json").read_text())
    manifest.update(parent=parent_sha, parent_path=str(work / "parent"))
    (work / "child" / "manifest.json").write_text(json.dumps(manifest))
    assert run(capsys, "generate", work / "child", "-n", "10", "--out", work / "c.csv")[0] == 0
    links = json.loads(run(capsys, "lineage", work / "c.csv", "--json")[1])
    assert links["model"]["parent"] == parent_sha
    assert [(p["path"], p["manifest_sha256"], p["found"], p["generator"]) for p in links["parents"]] == [
        (str(work / "parent"), parent_sha, True, "smote")]
    text = run(capsys, "lineage", work / "c.csv")[1].splitlines()
    assert text[-4:-2] == [f"<- parent model {work / 'parent'}", f"    manifest sha256  {parent_sha} (verified)"]
    # a parent folder found but changed since: refused, like the model itself
    parent_manifest = json.loads((work / "parent" / "manifest.json").read_text())
    (work / "parent" / "manifest.json").write_text(json.dumps({**parent_manifest, "note": "edited"}))
    code, _, err = run(capsys, "lineage", work / "c.csv")
    assert code == 1
    assert one_line(err) == (f"synthgen lineage: error: parent model folder '{work / 'parent'}': manifest.json sha256 "
                             f"{sha(work / 'parent' / 'manifest.json')[:12]}... differs from the recorded "
                             f"{parent_sha[:12]}... (the folder was refitted or changed since)")
    # a parent recorded by hash only (its folder elsewhere): the hash is printed, the walk stops
    manifest.update(parent="ab" * 32, parent_path=None)
    (work / "child" / "manifest.json").write_text(json.dumps(manifest))
    assert run(capsys, "generate", work / "child", "-n", "10", "--out", work / "c.csv", "--force")[0] == 0
    code, out, _ = run(capsys, "lineage", work / "c.csv")
    assert code == 0 and out.splitlines()[-1] == f"<- parent model {'ab' * 32} (folder not found)"


def test_training_data_changed_or_gone_is_reported(work, capsys):
    shutil.copy(work / "german.csv", work / "german2.csv")
    assert run(capsys, "fit", work / "german2.csv", "--target", "class", "--generator", "smote",
               "--out", work / "model2")[0] == 0
    assert run(capsys, "generate", work / "model2", "-n", "10", "--out", work / "d.csv")[0] == 0
    with open(work / "german2.csv", "a") as handle:
        handle.write(open(work / "german.csv").read().splitlines()[1] + "\n")
    code, out, _ = run(capsys, "lineage", work / "d.csv")
    assert code == 0 and f"    sha256           {sha(work / 'german.csv')} (file changed since the fit)" in out
    (work / "german2.csv").unlink()
    code, out, _ = run(capsys, "lineage", work / "d.csv")
    assert code == 0 and "(file not found)" in out


# ------------------------------------------------------------------ evaluate and gate
def test_evaluate_and_gate_record_lineage(work, scored, capsys):
    card = json.loads(scored.read_text())
    assert card["lineage"] == {
        "manifest": str(work / "syn.csv.manifest.json"),
        "manifest_sha256": sha(work / "syn.csv.manifest.json"),
        "verified": True, "reason": None,
        "file_sha256": sha(work / "syn.csv"), "recorded_sha256": sha(work / "syn.csv"),
        "model": {"path": str((work / "model").resolve()), "manifest_sha256": sha(work / "model" / "manifest.json"),
                  "generator": "smote"},
        "generation": {"n": 300, "seed": 0, "seed_source": "model", "chunk_size": 100, "label": None,
                       "engine": "local"},
        "created": lineage.read_record(work / "syn.csv")["created"],
        "synthgen_version": synthgen_version(),
    }
    # the lineage key is only added: without it the scorecard is what it was
    plain = Scorecard.load(scored)
    plain.lineage = None
    plain.save(work / "plain.json")
    assert json.loads((work / "plain.json").read_text()) == {k: v for k, v in card.items() if k != "lineage"}
    assert list(card)[-1] == "lineage"
    code, out, _ = run(capsys, "gate", scored, "--out", work / "verdict.json")
    assert code == 1  # smote copies rows: the default policy fails it (not what this test is about)
    assert out.splitlines()[-1] == f"lineage verified (model {(work / 'model').resolve()})"
    verdict = json.loads((work / "verdict.json").read_text())
    assert verdict["lineage"] == {"scorecard": str(scored), "scorecard_sha256": sha(scored), **card["lineage"]}
    # a scorecard without lineage gives a verdict without it
    assert run(capsys, "gate", work / "plain.json", "--out", work / "verdict_plain.json")[0] == 1
    assert "lineage" not in json.loads((work / "verdict_plain.json").read_text())


def test_evaluate_records_a_tampered_file_as_not_verified(work, scored, capsys, monkeypatch):
    """The scoring itself is the real scorecard of syn.csv (reused, so this test does not score again); what
    is under test is the lineage evaluate_files records beside it."""
    import synthgen.evaluation as evaluation

    card = Scorecard.load(scored)
    card.lineage = None
    monkeypatch.setattr(evaluation, "evaluate", lambda *a, **k: card)
    rows = pd.read_csv(work / "syn.csv")
    rows.loc[0, "age"] += 1
    rows.to_csv(work / "edited.csv", index=False)
    shutil.copy(work / "syn.csv.manifest.json", work / "edited.csv.manifest.json")
    code, out, _ = run(capsys, "evaluate", work / "model", "--data", work / "german.csv", "--synthetic",
                       work / "edited.csv", "--out", work / "edited.json")
    assert code == 0
    reason = (f"file '{work / 'edited.csv'}' sha256 {sha(work / 'edited.csv')[:12]}... differs from its manifest's "
              f"{sha(work / 'syn.csv')[:12]}... (changed after `synthgen generate` wrote it)")
    assert out.strip().endswith(f"scorecard written to {work / 'edited.json'}; lineage NOT verified: {reason}")
    entry = json.loads((work / "edited.json").read_text())["lineage"]
    assert (entry["verified"], entry["reason"]) == (False, reason)
    assert entry["file_sha256"] == sha(work / "edited.csv") and entry["recorded_sha256"] == sha(work / "syn.csv")
    # the right bytes, scored with another model than the one that wrote them
    shutil.copytree(work / "model", work / "other_model")
    manifest = json.loads((work / "other_model" / "manifest.json").read_text())
    manifest["created"] = "2000-01-01T00:00:00+00:00"
    (work / "other_model" / "manifest.json").write_text(json.dumps(manifest))
    code, out, _ = run(capsys, "evaluate", work / "other_model", "--data", work / "german.csv", "--synthetic",
                       work / "syn.csv", "--out", work / "other.json")
    assert code == 0
    entry = json.loads((work / "other.json").read_text())["lineage"]
    assert entry["verified"] is False
    assert entry["reason"] == (f"the file was generated by model '{(work / 'model').resolve()}', not by "
                               f"'{work / 'other_model'}' (their manifest.json sha256s differ)")
    # no manifest: no lineage key at all, the scorecard as before
    shutil.copy(work / "syn.csv", work / "bare.csv")
    code, out, _ = run(capsys, "evaluate", "--train", work / "german.csv", "--holdout", work / "german.csv",
                       "--target", "class", "--synthetic", work / "bare.csv", "--out", work / "bare.json")
    assert code == 0 and out.strip().endswith(f"scorecard written to {work / 'bare.json'}")
    assert "lineage" not in json.loads((work / "bare.json").read_text())
