"""End-to-end CLI tests on the bundled fraud table: every command, and every bad input gets one
line, a non-zero exit, and nothing written or overwritten."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _scenarios import fitted_model
from synthgen.cli import main
from synthgen.datasets import load_fraud
from synthgen.pipeline import split_table


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return fitted_model(tmp_path_factory.mktemp("cli"), load_fraud(), "fraud", "gaussian-copula", "fraud.csv")


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, *words: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip() and "it/s" not in ln and "rows/s" not in ln]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])


# ------------------------------------------------------------------ commands
def test_inspect_table_and_json(work, capsys):
    code, out, _ = run(capsys, "inspect", work / "fraud.csv", "--target", "fraud")
    assert code == 0
    assert "1,000 rows (2.00%)" in out and "expiration_date" in out and "%m/%y" in out
    code, out, _ = run(capsys, "inspect", work / "fraud.csv", "--target", "fraud", "--json")
    kinds = {c["name"]: c["kind"] for c in json.loads(out)["columns"]}
    assert kinds["id"] == "identifier" and kinds["datetime"] == "datetime" and kinds["currency"] == "categorical"


def test_fit_records_split_and_lineage(work):
    manifest = json.loads((work / "model" / "manifest.json").read_text())
    split = manifest["split"]
    assert split["train_rows"] == 35_000 and split["holdout_rows"] == 15_000
    # the split is kept as its rule and a sha256 of the holdout positions, never the positions themselves
    assert "holdout_positions" not in split and len(split["holdout_positions_sha256"]) == 64
    assert (split["seed"], split["holdout_fraction"], split["stratified_by"]) == (0, 0.3, "fraud")
    assert manifest["training_data"]["rows"] == 35_000
    assert len(manifest["training_data"]["file_sha256"]) == 64
    assert manifest["class_counts"] == {"False": 34_300, "True": 700}
    assert manifest["payload"]["format"] == "npz" and manifest["payload"]["contains_real_rows"] is False


def test_fit_holdout_zero_and_column_kind_override(work, capsys):
    code, out, _ = run(capsys, "fit", work / "fraud.csv", "--target", "fraud", "--generator", "smote-nc",
                       "--holdout", "0", "--column-kind", "store_id=categorical", "--out", work / "m0")
    assert code == 0, out
    manifest = json.loads((work / "m0" / "manifest.json").read_text())
    assert manifest["split"]["holdout_rows"] == 0
    assert {c["name"]: c["kind"] for c in manifest["schema"]["columns"]}["store_id"] == "categorical"
    assert manifest["payload"]["contains_real_rows"] is True


def test_fit_with_an_edited_schema_file(work, capsys):
    code, out, _ = run(capsys, "inspect", work / "fraud.csv", "--target", "fraud", "--json")
    schema = json.loads(out)
    for column in schema["columns"]:
        if column["name"] in ("amount", "store_id"):
            column["kind"] = "continuous" if column["name"] == "amount" else "categorical"
    (work / "schema.json").write_text(json.dumps(schema))
    code, _, err = run(capsys, "fit", work / "fraud.csv", "--target", "fraud", "--generator", "gaussian-copula",
                       "--schema", work / "schema.json", "--column-kind", "amount=integer", "--out", work / "m_schema")
    assert code == 0, err
    kinds = {c["name"]: c["kind"] for c in json.loads((work / "m_schema" / "manifest.json").read_text())["schema"]["columns"]}
    assert kinds["store_id"] == "categorical" and kinds["amount"] == "integer"  # --column-kind wins
    (work / "bad_schema.json").write_text("{not json")
    code, _, err = run(capsys, "fit", work / "fraud.csv", "--target", "fraud", "--generator", "smote",
                       "--schema", work / "bad_schema.json", "--out", work / "m_bad")
    assert code == 1
    one_line_error(err, "schema JSON", "line 1")
    assert not (work / "m_bad").exists()


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".csv.gz"])
def test_generate_exact_rows_any_format(work, capsys, suffix):
    out_file = work / f"rows{suffix}"
    code, out, _ = run(capsys, "generate", work / "model", "-n", "2345", "--out", out_file, "--chunk-size", "1000",
                       "--no-progress")
    assert code == 0 and "2,345 rows" in out and "rows/s" in out
    rows = pd.read_parquet(out_file) if suffix == ".parquet" else pd.read_csv(out_file)
    assert len(rows) == 2345 and list(rows.columns) == list(load_fraud().columns)
    assert rows["fraud"].all()


def test_generate_same_seed_same_bytes(work, capsys):
    for name in ("a.csv", "b.csv"):
        assert run(capsys, "generate", work / "model", "-n", "500", "--seed", "5", "--out", work / name)[0] == 0
    assert (work / "a.csv").read_bytes() == (work / "b.csv").read_bytes()


def test_console_script_runs():
    exe = Path(sys.executable).with_name("synthgen")
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "generate" in result.stdout


# ----------------------------------------------------------------- bad input
def _fit(work, data, *extra):
    return ["fit", data, "--target", "fraud", "--generator", "smote", "--out", work / "bad_model", *extra]


def _write(work, name: str, df: pd.DataFrame) -> Path:
    path = work / name
    df.to_csv(path, index=False)
    return path


def test_missing_file(work, capsys):
    code, _, err = run(capsys, *_fit(work, work / "nope.csv"))
    assert code == 1
    one_line_error(err, "nope.csv", "does not exist")
    assert not (work / "bad_model").exists()


def test_empty_file(work, capsys):
    (work / "empty.csv").write_text("")
    code, _, err = run(capsys, *_fit(work, work / "empty.csv"))
    assert code == 1
    one_line_error(err, "empty.csv", "empty")


def test_binary_garbage(work, capsys):
    (work / "garbage.csv").write_bytes(np.random.default_rng(0).bytes(4096))
    code, _, err = run(capsys, *_fit(work, work / "garbage.csv"))
    assert code == 1
    one_line_error(err, "garbage.csv")
    (work / "garbage.parquet").write_bytes(np.random.default_rng(1).bytes(4096))
    code, _, err = run(capsys, *_fit(work, work / "garbage.parquet"))
    assert code == 1
    one_line_error(err, "garbage.parquet", "Parquet")


def test_unknown_suffix(work, capsys):
    (work / "data.xlsx").write_text("a,b\n1,2\n")
    code, _, err = run(capsys, *_fit(work, work / "data.xlsx"))
    assert code == 2
    one_line_error(err, "data.xlsx", ".csv")


def test_target_missing(work, capsys):
    code, _, err = run(capsys, "fit", work / "fraud.csv", "--target", "label", "--generator", "smote",
                       "--out", work / "bad_model")
    assert code == 1
    one_line_error(err, "'label'", "not found")


def test_single_class_target(work, capsys):
    df = load_fraud().head(300)
    df = df[~df["fraud"]]
    code, _, err = run(capsys, *_fit(work, _write(work, "one_class.csv", df)))
    assert code == 1
    one_line_error(err, "single class")


def test_rare_class_with_one_row(work, capsys):
    df = load_fraud()
    df = pd.concat([df[~df["fraud"]].head(500), df[df["fraud"]].head(1)])
    code, _, err = run(capsys, *_fit(work, _write(work, "one_rare.csv", df)))
    assert code == 1
    one_line_error(err, "True", "1 row")


def test_rare_class_too_small_for_smote(work, capsys):
    df = load_fraud()
    df = pd.concat([df[~df["fraud"]].head(500), df[df["fraud"]].head(6)])
    code, _, err = run(capsys, *_fit(work, _write(work, "few_rare.csv", df)))
    assert code == 1
    one_line_error(err, "k_neighbors")
    assert not (work / "bad_model").exists()


def test_numeric_column_with_text(work, capsys):
    df = load_fraud().head(2000).astype({"amount": object})
    df.loc[[17, 30, 41], "amount"] = "abc"
    code, _, err = run(capsys, *_fit(work, _write(work, "text_in_numbers.csv", df)))
    assert code == 1
    one_line_error(err, "'amount'", "3 rows", "row 17", "--column-kind amount=categorical")


def test_all_empty_and_constant_columns_reported_together(work, capsys):
    df = load_fraud().head(2000).assign(empty=np.nan, constant="EUR")
    code, _, err = run(capsys, *_fit(work, _write(work, "empty_col.csv", df)))
    assert code == 1
    one_line_error(err, "'empty'", "empty", "'constant'", "constant")


def test_duplicate_column_names(work, capsys):
    text = "a,b,a,fraud\n" + "\n".join(f"{i},{i * 2},{i},{i % 10 == 0}" for i in range(100))
    (work / "dupes.csv").write_text(text)
    code, _, err = run(capsys, *_fit(work, work / "dupes.csv"))
    assert code == 1
    one_line_error(err, "duplicate column", "'a'")


@pytest.mark.parametrize("n", ["0", "-5", "abc", "1.5"])
def test_bad_n(work, capsys, n):
    code, _, err = run(capsys, "generate", work / "model", "-n", n, "--out", work / "never.csv")
    assert code == 2
    one_line_error(err, "n")
    assert not (work / "never.csv").exists()


def test_output_folder_missing_or_not_writable(work, capsys, monkeypatch):
    code, _, err = run(capsys, "generate", work / "model", "-n", "10", "--out", work / "no_such_dir" / "x.csv")
    assert code == 2
    one_line_error(err, "no_such_dir", "does not exist")
    (work / "locked").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("locked") else real_access(p, mode))
    code, _, err = run(capsys, "generate", work / "model", "-n", "10", "--out", work / "locked" / "x.csv")
    assert code == 2
    one_line_error(err, "locked", "not writable")
    assert list((work / "locked").iterdir()) == []


def test_output_exists_without_force(work, capsys):
    target = work / "exists.csv"
    target.write_text("keep me\n")
    code, _, err = run(capsys, "generate", work / "model", "-n", "10", "--out", target)
    assert code == 1
    one_line_error(err, "exists", "--force")
    assert target.read_text() == "keep me\n"
    before = (work / "model" / "manifest.json").read_bytes()
    code, _, err = run(capsys, "fit", work / "fraud.csv", "--target", "fraud", "--generator", "smote",
                       "--out", work / "model")
    assert code == 1
    one_line_error(err, "exists", "--force")
    assert (work / "model" / "manifest.json").read_bytes() == before
    assert run(capsys, "generate", work / "model", "-n", "10", "--out", target, "--force")[0] == 0
    assert len(pd.read_csv(target)) == 10


def test_tampered_and_incompatible_models(work, capsys):
    tampered = work / "tampered"
    shutil.copytree(work / "model", tampered)
    with open(tampered / "payload.npz", "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    code, _, err = run(capsys, "generate", tampered, "-n", "10", "--out", work / "t.csv")
    assert code == 1
    one_line_error(err, "payload.npz", "sha256")
    assert not (work / "t.csv").exists()
    old = work / "old"
    shutil.copytree(work / "model", old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["format_version"] = 99
    (old / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, "generate", old, "-n", "10", "--out", work / "t.csv")
    assert code == 1
    one_line_error(err, "format version 99", "refit")
    code, _, err = run(capsys, "generate", work / "fraud.csv", "-n", "10", "--out", work / "t.csv")
    assert code == 1
    one_line_error(err, "not a folder")


def test_unknown_generator_and_parameter(work, capsys):
    code, _, err = run(capsys, "fit", work / "fraud.csv", "--target", "fraud", "--generator", "gan",
                       "--out", work / "bad_model")
    assert code == 2
    one_line_error(err, "'gan'", "smote-nc", "gaussian-copula", "ctgan")
    code, _, err = run(capsys, *_fit(work, work / "fraud.csv", "--param", "neighbours=3"))
    assert code == 2
    one_line_error(err, "'neighbours'", "k_neighbors")
    code, _, err = run(capsys, *_fit(work, work / "fraud.csv", "--param", "k_neighbors=-1"))
    assert code == 2
    one_line_error(err, "k_neighbors")
    assert not (work / "bad_model").exists()


def test_input_file_unchanged(work, capsys):
    before = (work / "fraud.csv").read_bytes()
    run(capsys, "fit", work / "fraud.csv", "--target", "fraud", "--generator", "smote", "--out", work / "m_unchanged")
    assert (work / "fraud.csv").read_bytes() == before


# ------------------------------------------------------------- evaluate/gate
@pytest.fixture(scope="module")
def scored(work) -> Path:
    assert main(["generate", str(work / "model"), "-n", "700", "--out", str(work / "syn.csv"), "--no-progress"]) == 0
    assert main(["evaluate", str(work / "model"), "--data", str(work / "fraud.csv"), "--synthetic",
                 str(work / "syn.csv"), "--out", str(work / "card.json")]) == 0
    return work / "card.json"


def test_evaluate_from_model_split_is_deterministic(work, scored, capsys):
    card = json.loads(scored.read_text())
    assert card["inputs"]["real_train"]["rows"] == 35_000 and card["inputs"]["real_holdout"]["rows"] == 15_000
    assert 0 <= card["quality_score"] <= 100
    # the same split from separate files gives the same scorecard, byte for byte
    df = pd.read_csv(work / "fraud.csv")
    _, hold, _ = split_table(df, "fraud", 0.3, 0)  # the manifest's rule (seed 0, fraction 0.3)
    mask = np.zeros(len(df), bool)
    mask[df.index.get_indexer(hold.index)] = True
    df[~mask].to_csv(work / "train.csv", index=False)
    df[mask].to_csv(work / "holdout.csv", index=False)
    code, out, err = run(capsys, "evaluate", "--train", work / "train.csv", "--holdout", work / "holdout.csv",
                         "--synthetic", work / "syn.csv", "--target", "fraud", "--out", work / "card2.json")
    assert code == 0, err
    assert "quality score" in out
    assert (work / "card2.json").read_bytes() == scored.read_bytes()


def test_evaluate_refuses_other_data(work, scored, capsys):
    df = pd.read_csv(work / "fraud.csv")
    df.loc[0, "amount"] += 1
    df.to_csv(work / "changed.csv", index=False)
    code, _, err = run(capsys, "evaluate", work / "model", "--data", work / "changed.csv", "--synthetic",
                       work / "syn.csv", "--out", work / "never.json")
    assert code == 1
    one_line_error(err, "changed.csv", "sha256")
    assert not (work / "never.json").exists()
    code, _, err = run(capsys, "evaluate", "--train", work / "fraud.csv", "--synthetic", work / "syn.csv",
                       "--out", work / "never.json")
    assert code == 2
    one_line_error(err, "--holdout", "--target")


def test_gate_exit_codes_and_verdict(work, scored, capsys):
    strict = work / "strict.toml"
    strict.write_text('policy_version = "test-1"\n\n[rules]\n"realism.column_shapes" = ">= 0.999"\n')
    code, out, _ = run(capsys, "gate", scored, "--policy", strict, "--out", work / "verdict.json")
    assert code == 1
    assert "FAIL realism.column_shapes" in out
    verdict = json.loads((work / "verdict.json").read_text())
    assert verdict["passed"] is False and verdict["policy"]["path"] == str(strict)
    assert len(verdict["policy"]["sha256"]) == 64
    lenient = work / "lenient.toml"
    lenient.write_text('policy_version = "test-1"\n\n[rules]\n"realism.column_shapes" = ">= 0.1"\n')
    code, out, _ = run(capsys, "gate", scored, "--policy", lenient)
    assert code == 0 and "PASS" in out


def test_gate_bad_inputs(work, scored, capsys):
    (work / "corrupt.json").write_text('{"quality_score": ')
    code, _, err = run(capsys, "gate", work / "corrupt.json")
    assert code == 1
    one_line_error(err, "corrupt.json")
    bad = work / "bad_policy.toml"
    bad.write_text('policy_version = "x"\n\n[rules]\n"realism.made_up" = ">= 0.5"\n')
    code, _, err = run(capsys, "gate", scored, "--policy", bad)
    assert code == 1
    one_line_error(err, "realism.made_up", "line 4")


# ------------------------------------------------------------ compare/report
def test_compare_cli_writes_every_output(work, capsys):
    df = load_fraud()
    small = pd.concat([df[~df["fraud"]].head(4_000), df[df["fraud"]].head(200)])
    data = _write(work, "small.csv", small)
    code, out, err = run(capsys, "compare", data, "--target", "fraud", "--generators", "gaussian-copula,kmeans-smote",
                         "-n", "150", "--out", work / "cmp")
    assert code == 0, err
    assert "best: gaussian-copula" in out and "index.html" in out
    assert "kmeans-smote (seed 0): FAILED at fit" in err
    names = {p.name for p in (work / "cmp").iterdir()}
    assert {"index.html", "compare.json", "compare.md", "scorecards", "verdicts"} <= names
    code, _, err = run(capsys, "compare", data, "--target", "fraud", "--generators", "gaussian-copula",
                       "--out", work / "cmp")
    assert code == 1
    one_line_error(err, "exists", "--force")
    code, _, err = run(capsys, "compare", data, "--target", "fraud", "--generators", "copula", "--out", work / "cmp2")
    assert code == 2
    one_line_error(err, "'copula'", "gaussian-copula")
    assert not (work / "cmp2").exists()


def test_report_cli_renders_scorecards(work, scored, capsys):
    code, out, err = run(capsys, "report", scored, "--out", work / "one.html", "--markdown", work / "one.md")
    assert code == 0, err
    html = (work / "one.html").read_text()
    card = json.loads(scored.read_text())
    assert f"{card['quality_score']:.1f}" in html and f"{card['quality_score']:.1f}" in (work / "one.md").read_text()
    code, _, err = run(capsys, "report", work / "missing.json", "--out", work / "two.html")
    assert code == 1
    one_line_error(err, "missing.json")
    assert not (work / "two.html").exists()
