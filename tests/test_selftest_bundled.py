"""`synthgen selftest` on the bundled tables: the default policy fails every planted set and passes
the reference copula; the command prints the rule x set table and exits 1 when the policy is wrong."""

from __future__ import annotations

import json

import pytest

from _selftest_checks import check
from synthgen.cli import main
from synthgen.datasets import load_fraud, load_german_credit
from synthgen.selftest import run_selftest


def test_bundled_fraud():
    check(run_selftest(load_fraud(), "fraud", seed=0), protected=False)


def test_bundled_german_with_protected_groups():
    check(run_selftest(load_german_credit(), "class", protected=["personal_status_sex"], seed=0), protected=True)


def test_cli_table_json_and_exit_status(tmp_path, capsys):
    load_german_credit().to_csv(tmp_path / "german.csv", index=False)
    out = tmp_path / "selftest.json"
    code = main(["selftest", str(tmp_path / "german.csv"), "--target", "class", "--protected", "age",
                 "--out", str(out), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "train-copies" in printed and "leakage.dcr_excess" in printed and "selftest OK" in printed
    data = json.loads(out.read_text())
    assert data["ok"] is True and [c["name"] for c in data["cases"]][0] == "reference"
    # a policy that cannot see copies passes a planted set: exit 1, and the line says which
    lax = tmp_path / "lax.toml"
    lax.write_text('policy_version = "1"\n[rules]\n"realism.column_shapes" = ">= 0.8"\n')
    code = main(["selftest", str(tmp_path / "german.csv"), "--target", "class", "--policy", str(lax), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "train-copies: the policy passes rare train rows copied" in printed and "selftest FAILED" in printed


@pytest.mark.parametrize("args, word", [
    (["--protected", "nope"], "'nope'"),
    (["--drop", "class"], "is the target"),
])
def test_cli_bad_input(tmp_path, capsys, args, word):
    load_german_credit().to_csv(tmp_path / "german.csv", index=False)
    code = main(["selftest", str(tmp_path / "german.csv"), "--target", "class", "--quiet",
                 "--out", str(tmp_path / "x.json"), *args])
    err = capsys.readouterr().err
    assert code == 2 and word in err and err.count("\n") == 1 and not (tmp_path / "x.json").exists()
