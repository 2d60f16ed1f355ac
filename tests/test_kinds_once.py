"""Kinds are decided once per table and carried by every later step; --drop; bad input for both.

The table is the bundled fraud table plus an ordered policy number, one per row: the case where
`inspect` said "identifier" but `fit` (detecting again on the 70% train split, where the numbers
are no longer consecutive) modelled it as an integer and copied real policy numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthgen.cli import main
from synthgen.datasets import load_fraud
from synthgen.pipeline import fit_table
from synthgen.schema import Schema


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    df = load_fraud()
    df = pd.concat([df[df["fraud"]], df[~df["fraud"]].sample(9_000, random_state=0)]).sort_index()
    df = df.drop(columns=["id"]).reset_index(drop=True)
    df.insert(0, "PolicyNumber", np.arange(1, len(df) + 1))
    return df


@pytest.fixture(scope="module")
def work(tmp_path_factory, table) -> Path:
    root = tmp_path_factory.mktemp("kinds")
    table.to_csv(root / "policies.csv", index=False)
    return root


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_fit_uses_the_kinds_of_the_whole_table(table):
    whole = Schema.detect(table, "fraud")
    assert whole["PolicyNumber"].kind.value == "identifier"
    gen, _ = fit_table(table, "fraud", "gaussian-copula", seed=0)
    assert {c.name: c.kind for c in gen.schema_.columns} == {c.name: c.kind for c in whole.columns}
    rows = gen.sample(2_000)
    real = set(table["PolicyNumber"])
    assert not set(rows["PolicyNumber"]) & real  # fresh numbers, never a real (or holdout) policy
    assert rows["PolicyNumber"].is_unique


def test_model_schema_learns_values_from_train_only(table):
    gen, record = fit_table(table, "fraud", "gaussian-copula", seed=0)
    hold = np.asarray(record["holdout_positions"])
    train = table.drop(index=hold)
    assert gen.schema_["amount"].maximum == float(train["amount"].max())
    assert gen.schema_["PolicyNumber"].reason == Schema.detect(table, "fraud")["PolicyNumber"].reason


def test_evaluate_model_dir_scores_with_the_model_kinds(work, capsys):
    model, syn = work / "m-cat", work / "m-cat.csv"
    assert run(capsys, "fit", work / "policies.csv", "--target", "fraud", "--generator", "gaussian-copula",
               "--column-kind", "card_id=categorical", "--out", model)[0] == 0
    assert run(capsys, "generate", model, "-n", "300", "--out", syn, "--no-progress")[0] == 0
    card_path = work / "m-cat-card.json"
    assert run(capsys, "evaluate", model, "--data", work / "policies.csv", "--synthetic", syn, "--out",
               card_path)[0] == 0
    card = json.loads(card_path.read_text())
    kinds = {c["name"]: c["kind"] for c in card["details"]["columns"]}
    assert kinds["card_id"] == "categorical"  # as fitted, not detected again
    excluded = {c["name"]: c for c in card["details"]["excluded_columns"]}
    assert excluded["PolicyNumber"]["kind"] == "identifier" and "identifier" in excluded["PolicyNumber"]["reason"]
    # a --schema / --column-kind that contradicts the model: one line, exit 2, nothing written
    out = work / "contradict.json"
    code, _, err = run(capsys, "evaluate", model, "--data", work / "policies.csv", "--synthetic", syn,
                       "--column-kind", "card_id=integer", "--out", out)
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and "'card_id'" in err and "fitted with it as categorical" in err


def test_drop_on_fit_generate_and_evaluate(work, capsys):
    model, syn = work / "m-drop", work / "m-drop.csv"
    assert run(capsys, "fit", work / "policies.csv", "--target", "fraud", "--generator", "smote-nc",
               "--drop", "card_id", "--drop", "store_id", "--out", model)[0] == 0
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["split"]["dropped_columns"] == ["card_id", "store_id"]
    assert "card_id" not in {c["name"] for c in manifest["schema"]["columns"]}
    assert run(capsys, "generate", model, "-n", "200", "--out", syn, "--no-progress")[0] == 0
    rows = pd.read_csv(syn)
    assert "card_id" not in rows.columns and len(rows) == 200
    card_path = work / "m-drop-card.json"
    assert run(capsys, "evaluate", model, "--data", work / "policies.csv", "--synthetic", syn, "--out",
               card_path)[0] == 0
    names = {c["name"] for c in json.loads(card_path.read_text())["details"]["columns"]}
    assert "card_id" not in names and "amount" in names


@pytest.mark.parametrize("command", ["fit", "evaluate", "compare"])
def test_drop_or_kind_naming_a_missing_column(work, capsys, command):
    data = work / "policies.csv"
    out = work / f"bad-{command}"
    common = {
        "fit": ["fit", data, "--target", "fraud", "--generator", "smote", "--out", out],
        "evaluate": ["evaluate", "--train", data, "--holdout", data, "--synthetic", data, "--target", "fraud",
                     "--out", out],
        "compare": ["compare", data, "--target", "fraud", "--generators", "smote", "--out", out, "--quiet"],
    }[command]
    for extra, word in ((["--drop", "nope"], "'nope'"), (["--column-kind", "nada=categorical"], "'nada'")):
        code, _, err = run(capsys, *common, *extra)
        assert code != 0 and not out.exists(), err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and word in lines[0], err


def test_drop_the_target_is_refused(work, capsys):
    code, _, err = run(capsys, "fit", work / "policies.csv", "--target", "fraud", "--generator", "smote",
                       "--drop", "fraud", "--out", work / "never")
    assert code == 2 and "'fraud' is the target" in err and not (work / "never").exists()


def test_evaluate_files_detects_on_train_and_holdout_together(work, table, capsys):
    # the train file alone has gapped policy numbers; together with the holdout they are one per row
    train, hold = table.iloc[::2], table.iloc[1::2]
    train.to_csv(work / "tr.csv", index=False)
    hold.to_csv(work / "ho.csv", index=False)
    rare = train[train["fraud"]].copy()
    rare["PolicyNumber"] = -np.arange(1, len(rare) + 1)
    rare.to_csv(work / "syn.csv", index=False)
    out = work / "files-card.json"
    assert run(capsys, "evaluate", "--train", work / "tr.csv", "--holdout", work / "ho.csv", "--synthetic",
               work / "syn.csv", "--target", "fraud", "--out", out)[0] == 0
    excluded = {c["name"] for c in json.loads(out.read_text())["details"]["excluded_columns"]}
    assert "PolicyNumber" in excluded


def test_compare_exit_status_follows_the_gate(work, capsys, tmp_path):
    """0 when a generator passes, 1 when none does: a pipeline can stop on it."""
    data = work / "policies.csv"
    code, out, _ = run(capsys, "compare", data, "--target", "fraud", "--generators", "gaussian-copula",
                       "--out", tmp_path / "ok", "--quiet")
    board = json.loads((tmp_path / "ok" / "compare.json").read_text())["leaderboard"]
    assert board[0]["gate"] == "PASS" and code == 0, out
    strict = tmp_path / "strict.toml"
    strict.write_text('policy_version = "1"\n[rules]\n"realism.column_shapes" = ">= 0.999"\n')
    code, out, _ = run(capsys, "compare", data, "--target", "fraud", "--generators", "gaussian-copula",
                       "--policy", strict, "--out", tmp_path / "none", "--quiet")
    assert code == 1 and "no generator passes the gate" in out


def test_evaluate_model_dir_refuses_a_schema_file_that_contradicts_it(work, capsys):
    model, syn = work / "m-schema", work / "m-schema.csv"
    assert run(capsys, "fit", work / "policies.csv", "--target", "fraud", "--generator", "gaussian-copula",
               "--out", model)[0] == 0
    assert run(capsys, "generate", model, "-n", "100", "--out", syn, "--no-progress")[0] == 0
    schema = json.loads((model / "manifest.json").read_text())["schema"]
    same = work / "same.json"
    same.write_text(json.dumps(schema))
    assert run(capsys, "evaluate", model, "--data", work / "policies.csv", "--synthetic", syn, "--schema", same,
               "--out", work / "same-card.json")[0] == 0
    for col in schema["columns"]:
        if col["name"] == "amount":
            col["kind"] = "continuous"
    changed = work / "changed.json"
    changed.write_text(json.dumps(schema))
    out = work / "changed-card.json"
    code, _, err = run(capsys, "evaluate", model, "--data", work / "policies.csv", "--synthetic", syn,
                       "--schema", changed, "--out", out)
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and "'amount' is continuous here" in err
