"""Multi-million-row tables on one machine (issue 11): the split kept as a rule in the manifest, kinds
decided on a seeded sample of a big table with every row checked, and progress bars for fit's long steps.

Big tables are stood in for by the shared tables with ``schema.DETECT_SAMPLE_ROWS`` lowered, so the
sampled path runs on real data in seconds (bench_big_table.py runs the 1,754,155-row table).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthgen.schema as schema_module
from synthgen.exceptions import IntegrityError, SchemaError
from synthgen.models import make_generator
from synthgen.pipeline import evaluate_files, fit_file, generate_file, rebuild_split, split_table
from synthgen.schema import Schema

from conftest import shared_table

TABLES = {"evalml_fraud_transactions": "fraud", "german_credit": "class", "adult": "income", "adult_test": "income"}


# ------------------------------------------------------------------------------ the split record
@pytest.fixture(scope="module")
def german(tmp_path_factory) -> Path:
    """german_credit as CSV and a gaussian-copula model fitted on it (seed 0, holdout 0.3)."""
    root = tmp_path_factory.mktemp("big_tables")
    shared_table("german_credit").to_csv(root / "german.csv", index=False)
    fit_file(root / "german.csv", "class", "gaussian-copula", root / "model")
    return root


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_manifest_keeps_the_split_as_its_rule_and_a_sha256(german):
    split = _manifest(german / "model")["split"]
    assert "holdout_positions" not in split  # never a JSON list of positions
    df = pd.read_csv(german / "german.csv")
    _, hold, record = split_table(df, "class", 0.3, 0)
    assert split == {"seed": 0, "holdout_fraction": 0.3, "stratified_by": "class", "train_rows": 700,
                     "holdout_rows": 300, "holdout_positions_sha256": record["holdout_positions_sha256"],
                     "dropped_columns": []}
    train, holdout, _ = rebuild_split(german / "model", german / "german.csv")
    assert holdout.index.tolist() == hold.index.tolist() == record["holdout_positions"].tolist()
    assert len(train) == 700 and not set(train.index) & set(holdout.index)


def test_model_saved_with_a_position_list_still_rebuilds_and_evaluates(german):
    old = german / "old_model"
    shutil.copytree(german / "model", old)
    manifest = _manifest(old)
    df = pd.read_csv(german / "german.csv")
    positions = split_table(df, "class", 0.3, 0)[2]["holdout_positions"]
    manifest["split"]["holdout_positions"] = positions.astype(int).tolist()  # as synthgen wrote it before
    (old / "manifest.json").write_text(json.dumps(manifest, indent=2))
    new_train, new_hold, _ = rebuild_split(german / "model", german / "german.csv")
    old_train, old_hold, _ = rebuild_split(old, german / "german.csv")
    pd.testing.assert_frame_equal(old_train, new_train)
    pd.testing.assert_frame_equal(old_hold, new_hold)
    generate_file(old, 200, german / "old.csv", progress=False)
    card = evaluate_files(german / "old_card.json", synthetic=german / "old.csv", model=old,
                          data=german / "german.csv", utility_repeats=1)
    assert card.inputs["real_train"]["rows"] == 700 and card.inputs["real_holdout"]["rows"] == 300
    assert card.inputs["synthetic"]["rows"] == 200
    # an edited position list no longer matches its recorded sha256
    manifest["split"]["holdout_positions"][0] += 1
    (old / "manifest.json").write_text(json.dumps(manifest, indent=2))
    with pytest.raises(IntegrityError, match="holdout_positions differ from their recorded sha256"):
        rebuild_split(old, german / "german.csv")


def test_a_split_that_does_not_re_derive_is_refused(german):
    moved = german / "moved_model"
    shutil.copytree(german / "model", moved)
    manifest = _manifest(moved)
    manifest["split"]["seed"] = 1  # the rule now gives another holdout than the recorded sha256
    (moved / "manifest.json").write_text(json.dumps(manifest, indent=2))
    with pytest.raises(IntegrityError, match=r"the holdout re-derived from the data \(seed 1, fraction 0.3, "
                                             r"stratified by 'class'\) differs from the recorded one"):
        rebuild_split(moved, german / "german.csv")


def test_another_data_file_is_refused(german):
    df = pd.read_csv(german / "german.csv")
    df.loc[5, "age"] += 1
    df.to_csv(german / "edited.csv", index=False)
    with pytest.raises(IntegrityError, match="is not the table model"):
        rebuild_split(german / "model", german / "edited.csv")


# ------------------------------------------------------------------- kinds decided on a sample
def _kinds(schema: Schema) -> dict[str, str]:
    return {c.name: c.kind.value for c in schema.columns}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_kinds_on_a_sample_equal_the_whole_table(name, monkeypatch):
    df = shared_table(name)
    full = Schema.detect(df, TABLES[name])
    monkeypatch.setattr(schema_module, "DETECT_SAMPLE_ROWS", len(df) // 2)
    sampled = Schema.detect(df, TABLES[name])
    assert sampled.notes == [(f"kinds decided on a seeded sample of {len(df) // 2:,} of {len(df):,} rows; "
                              "every row checked against them")]
    assert _kinds(sampled) == _kinds(full)
    # ranges, category sets, formats and missing rates come from every row, as on the whole table
    for a, b in zip(full.columns, sampled.columns):
        assert {**a.to_dict(), "reason": ""} == {**b.to_dict(), "reason": ""}, a.name


@pytest.fixture(scope="module")
def evalml() -> pd.DataFrame:
    return shared_table("evalml_fraud_transactions")


def _outside_sample(monkeypatch, rows: int, count: int = 1) -> np.ndarray:
    """The last ``count`` rows the detection sample (half the rows) leaves out."""
    monkeypatch.setattr(schema_module, "DETECT_SAMPLE_ROWS", rows // 2)
    sample = schema_module._detection_sample(rows)
    assert len(sample) == rows // 2 and (np.diff(sample) > 0).all()
    assert (schema_module._detection_sample(rows) == sample).all()  # seeded: the same rows every time
    return np.setdiff1d(np.arange(rows), sample)[-count:]


def test_a_fraction_outside_the_sample_breaks_an_integer_column(evalml, monkeypatch):
    row = int(_outside_sample(monkeypatch, len(evalml))[0])
    df = evalml.copy()
    df["amount"] = df["amount"].astype(float)
    df.loc[row, "amount"] = 12.5
    with pytest.raises(SchemaError) as caught:
        Schema.detect(df, "fraud")
    assert str(caught.value) == (
        f"column 'amount': decided integer (whole numbers) on a seeded sample of 49,996 rows, but 1 rows are not "
        f"whole numbers (first: row {row}, '12.5'); pass --column-kind amount=continuous")


def test_a_repeat_outside_the_sample_breaks_an_identifier(evalml, monkeypatch):
    rows = _outside_sample(monkeypatch, len(evalml), count=100)
    df = evalml.copy()
    # an ID-like name allows repeats in 0.1% of the rows (99 of 99,992): 99 repeats still read as identifier
    df.loc[rows[1:], "id"] = df.loc[rows[0], "id"]
    assert Schema.detect(df, "fraud")["id"].kind.value == "identifier"
    df.loc[rows[0] - 1, "id"] = df.loc[rows[0], "id"]  # a 100th, in a row the sample leaves out too
    assert rows[0] - 1 not in set(schema_module._detection_sample(len(df)))
    with pytest.raises(SchemaError) as caught:
        Schema.detect(df, "fraud")
    assert str(caught.value) == (
        f"column 'id': decided identifier (ID-like name, a distinct value per row) on a seeded sample of 49,996 "
        f"rows, but 100 rows are a repeat of an earlier row's value (first: row {rows[0]}, "
        f"'{df.loc[rows[0], 'id']}'); pass --column-kind id=key (or integer/categorical)")


def test_a_date_outside_the_sample_that_does_not_parse_is_named(evalml, monkeypatch):
    row = int(_outside_sample(monkeypatch, len(evalml))[0])
    df = evalml.copy()
    df.loc[row, "datetime"] = "not a date"
    with pytest.raises(SchemaError) as caught:
        Schema.detect(df, "fraud")
    assert str(caught.value) == (f"column 'datetime': 1 values do not parse as dates (%Y-%m-%d %H:%M:%S) "
                                 f"(first: row {row}, 'not a date')")


# ------------------------------------------------------------------------------- progress bars
class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def fraud_rows() -> pd.DataFrame:
    """The evalml table, fraud thinned to 300 of 3,300 rows (seeded)."""
    df = shared_table("evalml_fraud_transactions")
    rows = pd.concat([df[~df["fraud"]].sample(3_000, random_state=0), df[df["fraud"]].sample(300, random_state=0)])
    return rows.sort_index().reset_index(drop=True)


def test_fit_shows_bars_for_the_svm_clustering_and_detection_on_a_terminal(fraud_rows, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(schema_module, "DETECT_SAMPLE_ROWS", 2_000)
    make_generator("svm-smote", random_state=0).fit(fraud_rows, "fraud")
    make_generator("kmeans-smote", random_state=0, n_clusters=2, cluster_balance_threshold=0.01).fit(fraud_rows,
                                                                                                     "fraud")
    shown = terminal.getvalue()
    assert "detect kinds: 100%" in shown and "14/14" in shown
    # a full bar (ASCII: the stream has no encoding) for each one-call step; 300 rare + 3,000 other rows
    assert "svm-smote: SVM on 3,300 rows: ##########|" in shown
    assert "kmeans-smote: clustering 3,300 rows: ##########|" in shown
    assert "kmeans-smote: clusters: 100%" in shown and "2/2" in shown


def test_no_bar_when_stderr_is_not_a_terminal(fraud_rows, monkeypatch, capsys):
    monkeypatch.setattr(schema_module, "DETECT_SAMPLE_ROWS", 2_000)
    make_generator("svm-smote", random_state=0).fit(fraud_rows, "fraud")
    assert capsys.readouterr().err == ""
