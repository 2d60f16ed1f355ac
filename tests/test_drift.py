"""Drift (synthgen/drift.py, `synthgen drift`): PSI per column over all rows and rare rows, on real tables.

Evidently is not a test dependency: `pip install --dry-run evidently` (0.7.23) would replace plotly 7.1.0
with 5.24.1 and add ~50 packages, so PSI is checked against the textbook formula computed here, from the
raw rows on the report's bins, and against hand-computed numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import one_line_error, run_cli
from sklearn.model_selection import train_test_split

from synthgen.cli import main
from synthgen.datasets import load_german_credit
from synthgen.drift import EPSILON, drift, profile, psi, render_html
from synthgen.exceptions import PolicyError, SchemaError
from synthgen.gate import load_policy
from synthgen.pipeline import split_table
from synthgen.schema import Schema


def halves(df: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two stratified halves of one table (seed 0): the same population, no drift."""
    a, b = train_test_split(df, test_size=0.5, stratify=df[target], random_state=0)
    return a.sort_index(), b.sort_index()


run = run_cli


@pytest.fixture(scope="module")
def fraud(tmp_path_factory, fraud_shared) -> Path:
    """The evalml fraud table (20,000 rows, 400 fraud) in halves, and a half with planted rare-row drift:
    amount x1.5 among the frauds only, and a new provider 'NewPay' for every third fraud (67 rows)."""
    root = tmp_path_factory.mktemp("drift_fraud")
    ref, cur = halves(fraud_shared, "fraud")
    planted = cur.copy()
    frauds = planted["fraud"].to_numpy()
    planted.loc[frauds, "amount"] = (planted.loc[frauds, "amount"] * 1.5).round().astype("int64")
    planted.iloc[np.flatnonzero(frauds)[::3], planted.columns.get_loc("provider")] = "NewPay"
    fewer = cur.drop(index=cur.index[cur["fraud"].to_numpy()][:100])  # half the frauds gone
    for name, frame in (("ref", ref), ("cur", cur), ("planted", planted), ("fewer", fewer),
                        ("no_rare", cur[~cur["fraud"]])):
        frame.to_csv(root / f"{name}.csv", index=False)
    return root


@pytest.fixture(scope="module")
def german(tmp_path_factory) -> Path:
    """Bundled german credit (1,000 rows, 300 bad), its halves, and a smote model fitted by the CLI."""
    root = tmp_path_factory.mktemp("drift_german")
    df = load_german_credit()
    df.to_csv(root / "german.csv", index=False)
    ref, cur = halves(df, "class")
    ref.to_csv(root / "ref.csv", index=False)
    cur.to_csv(root / "cur.csv", index=False)
    assert main(["fit", str(root / "german.csv"), "--target", "class", "--generator", "smote",
                 "--out", str(root / "model")]) == 0
    return root


# ------------------------------------------------------------------------------------------ PSI


def test_psi_hand_computed():
    # (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5) = 0.25 ln 3
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.25 * np.log(3), rel=1e-12)
    # an empty reference bin counts as 1e-4: (0.4 - 0.5) ln 0.8 + (0.1 - 0.0001) ln 1000 = 0.71239911
    assert EPSILON == 1e-4
    assert psi([0.5, 0.5, 0.0], [0.5, 0.4, 0.1]) == pytest.approx(0.1 * np.log(1.25) + 0.0999 * np.log(1000),
                                                                  rel=1e-12)
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def _textbook(ref: pd.DataFrame, cur: pd.DataFrame, entry: dict, group: dict, kind: str) -> float:
    """PSI from the raw rows, computed here: the profile's edges (numbers) or the report's category bins."""
    shares = []
    for frame, side in ((ref, "reference"), (cur, "current")):
        col = frame[entry]
        if kind in ("categorical", "boolean"):
            labels = col.dropna().astype(str)
            top = group["bins"][:-2]
            counts = [int((labels == k).sum()) for k in top] + [int((~labels.isin(top)).sum()), int(col.isna().sum())]
        else:
            edges = [-np.inf] + [float(x.split(" – ")[0]) for x in group["bins"][1:-1]] + [np.inf]
            counts = list(pd.cut(col, edges, right=True).value_counts(sort=False)) + [int(col.isna().sum())]
        shares.append(np.asarray(counts, dtype=float) / len(frame))
    e, a = (np.where(s == 0, 1e-4, s) for s in shares)
    return float(np.sum((a - e) * np.log(a / e)))


def test_psi_equals_the_textbook_formula_on_the_same_bins():
    ref, cur = halves(load_german_credit(), "class")
    prof = profile(ref, "class", Schema.detect(ref, target="class"))
    report = drift(prof, cur, "class")
    checked = 0
    for name, result in report["columns"].items():
        for group, (r, c) in (("all", (ref, cur)), ("rare", (ref[ref["class"] == 2], cur[cur["class"] == 2]))):
            g = result[group]
            if g["psi"] is None:
                continue
            if result["kind"] != "categorical":  # bin labels carry 4 significant digits: use the stored edges
                g = dict(g, bins=["≤"] + [f"{x} – " for x in prof["features"][name][group]["edges"]] + ["missing"])
            assert g["psi"] == pytest.approx(_textbook(r, c, name, g, result["kind"]), abs=1e-12), (name, group)
            checked += 1
    assert checked == 40  # 20 columns x 2 groups, every one measurable on 500 rows / 150 bad rows


# ------------------------------------------------------------------------------- no drift / drift


def test_halves_of_a_table_do_not_drift(fraud, capsys):
    code, out, _ = run(capsys, "drift", fraud / "ref.csv", fraud / "cur.csv", "--target", "fraud",
                       "--out", fraud / "halves.json")
    assert code == 0 and out.strip().endswith("no significant drift")
    report = json.loads((fraud / "halves.json").read_text())
    assert report["rows"]["reference"] == {"all": 10_000, "labelled": 10_000, "rare": 200}
    assert set(report["skipped"]) == {"id", "card_id", "store_id"}  # identifiers and keys drift by construction
    worst_all = max(c["all"]["psi"] for c in report["columns"].values())
    assert worst_all < 0.01  # measured 0.0070 (currency); the largest over 40 random halves was 0.0091
    statuses = {c["rare"]["status"] for c in report["columns"].values()}
    # 200 rare rows a side: country's rare PSI 0.41 and lng's 0.21 are what chance gives groups this small
    assert statuses == {"stable", "within chance", "not measurable"}
    assert report["columns"]["region"]["rare"]["status"] == "not measurable"  # 958 regions, none with 5 frauds
    assert report["rare_rate"] == {"reference": 0.02, "current": 0.02, "change": 0.0, "relative_change": 0.0}


def test_german_halves_do_not_drift(german, capsys):
    code, out, _ = run(capsys, "drift", german / "ref.csv", german / "cur.csv", "--target", "class")
    assert code == 0 and "no significant drift" in out


def test_planted_rare_row_drift_is_found(fraud, capsys, _audit_log):
    code, out, _ = run(capsys, "drift", fraud / "ref.csv", fraud / "planted.csv", "--target", "fraud",
                       "--out", fraud / "planted.json")
    assert code == 1
    assert "significant drift: amount (rare rows), provider (rare rows)" in out
    report = json.loads((fraud / "planted.json").read_text())
    amount, provider = report["columns"]["amount"], report["columns"]["provider"]
    # the point: only 2% of the rows are fraud, so over all rows the same change stays small
    assert amount["rare"]["status"] == "significant" and amount["rare"]["psi"] > 4.0  # measured 4.129
    assert amount["all"]["status"] == "stable" and amount["all"]["psi"] < 0.002  # measured 0.0013
    assert provider["rare"]["status"] == "significant" and provider["all"]["status"] == "stable"
    assert provider["new_values"]["rare"] == {"values": {"NewPay": 67}, "rows": 67, "expected_rows": 0.0}
    assert "provider: 'NewPay' (67 rows)" in out
    assert report["significant"] == ["amount (rare rows)", "provider (rare rows)"] and report["drift"] is True
    entry = json.loads(_audit_log.read_text().splitlines()[-1])
    assert entry["exit_status"] == 1 and entry["verdict"] == "FAIL"


def test_rare_rate_change_is_reported(fraud, capsys):
    code, out, _ = run(capsys, "drift", fraud / "ref.csv", fraud / "fewer.csv", "--target", "fraud",
                       "--out", fraud / "fewer.json")
    rate = json.loads((fraud / "fewer.json").read_text())["rare_rate"]
    assert rate["reference"] == 0.02 and rate["current"] == 100 / 9_900
    assert rate["change"] == pytest.approx(100 / 9_900 - 0.02, abs=1e-15)
    assert rate["relative_change"] == pytest.approx((100 / 9_900 - 0.02) / 0.02, abs=1e-12)
    assert "rare-class rate: 2.00% -> 1.01% (-0.99 points)" in out
    assert code == 0  # 100 random frauds removed: the rest keep their shape


def test_current_without_rare_rows_is_reported_not_refused(fraud, capsys):
    code, out, err = run(capsys, "drift", fraud / "ref.csv", fraud / "no_rare.csv", "--target", "fraud",
                         "--out", fraud / "no_rare.json")
    assert code == 0 and err == ""
    report = json.loads((fraud / "no_rare.json").read_text())
    assert {c["rare"]["status"] for c in report["columns"].values()} == {"not measurable"}
    assert report["columns"]["amount"]["rare"]["reason"] == "CURRENT has no rows of the rare class(es) 'True'"
    assert all(c["all"]["psi"] is not None for c in report["columns"].values())
    assert report["rare_rate"]["current"] == 0.0
    assert "note: CURRENT has no rows of the rare class(es) 'True'" in out


# ------------------------------------------------------------------------------------- the model


def test_model_stores_a_profile_of_its_train_rows(german):
    manifest = json.loads((german / "model" / "manifest.json").read_text())
    stored = manifest["profile"]
    df = load_german_credit()
    train = split_table(df, "class", manifest["split"]["holdout_fraction"], manifest["split"]["seed"])[0]
    again = profile(train, "class", Schema.from_dict(manifest["schema"]), rare=[2])
    assert json.loads(json.dumps(again)) == stored  # the train rows, bit for bit
    assert stored["rows"] == {"all": 700, "labelled": 700, "rare": 210} and stored["rare_classes"] == ["2"]


def test_profile_holds_no_row(german):
    stored = json.loads((german / "model" / "manifest.json").read_text())["profile"]
    df = load_german_credit()
    numeric = [n for n, f in stored["features"].items() if f["kind"] == "integer"]
    assert len(numeric) == 7
    # every number in the profile is a bin edge (a quantile) or a share: at most 9 edges per column and group
    for name in numeric:
        for group in ("all", "rare"):
            assert len(stored["features"][name][group]["edges"]) <= 9
    edges = {n: set(stored["features"][n]["all"]["edges"]) | set(stored["features"][n]["rare"]["edges"])
             for n in numeric}
    whole_rows = np.ones(len(df), dtype=bool)
    for name in numeric:
        whole_rows &= df[name].isin(edges[name]).to_numpy()
    assert whole_rows.sum() == 0  # no real row's numbers all appear among the edges
    assert len(json.dumps(stored)) < 20_000  # 700 rows x 21 columns would be ~60 kB as JSON


def test_drift_from_a_model_folder(german, capsys):
    code, out, _ = run(capsys, "drift", german / "model", german / "cur.csv", "--out", german / "model.json")
    assert code == 0 and "no significant drift" in out
    report = json.loads((german / "model.json").read_text())
    assert report["reference"] == {"path": str(german / "model"), "kind": "model", "dropped_columns": []}
    assert report["rows"]["reference"] == {"all": 700, "labelled": 700, "rare": 210}
    code, _, err = run(capsys, "drift", german / "model", german / "cur.csv", "--target", "age")
    assert code == 2
    one_line_error(err, "--target 'age' differs from the reference's target 'class'")


def test_model_without_profile_is_refused(german, tmp_path, capsys):
    old = tmp_path / "old_model"
    shutil.copytree(german / "model", old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["profile"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(capsys, "drift", old, german / "cur.csv", "--out", tmp_path / "r.json")
    assert code == 1
    one_line_error(err, f"model '{old}' has no stored drift profile", "refit it with this version")
    assert not (tmp_path / "r.json").exists()


# ------------------------------------------------------------------------------------- bad input


def test_different_columns_are_named_and_nothing_written(german, tmp_path, capsys):
    cur = pd.read_csv(german / "cur.csv").drop(columns=["age"]).assign(branch="north")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    code, _, err = run(capsys, "drift", german / "ref.csv", tmp_path / "cur.csv", "--target", "class",
                       "--out", tmp_path / "r.json", "--html", tmp_path / "r.html")
    assert code == 1
    one_line_error(err, "missing from CURRENT: 'age'", "not in the reference: 'branch'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cur.csv"]
    with pytest.raises(SchemaError, match="missing from CURRENT: 'age'"):
        drift(profile(pd.read_csv(german / "ref.csv"), "class", Schema.detect(pd.read_csv(german / "ref.csv"),
                                                                               target="class")), cur, "class")


def test_existing_output_needs_force(german, tmp_path, capsys):
    out = tmp_path / "r.json"
    out.write_text("keep me")
    code, _, err = run(capsys, "drift", german / "ref.csv", german / "cur.csv", "--target", "class", "--out", out)
    assert code == 1
    one_line_error(err, f"output '{out}' exists; pass --force")
    assert out.read_text() == "keep me"
    code, _, _ = run(capsys, "drift", german / "ref.csv", german / "cur.csv", "--target", "class", "--out", out,
                     "--force")
    assert code == 0 and json.loads(out.read_text())["format"] == "synthgen-drift-report"


def test_table_reference_needs_a_target(german, capsys):
    code, _, err = run(capsys, "drift", german / "ref.csv", german / "cur.csv")
    assert code == 2
    one_line_error(err, "--target is needed when REFERENCE is a table")


# ------------------------------------------------------------------------------------------ HTML


def test_html_has_one_histogram_per_modelled_column(german, tmp_path, capsys):
    cols = ["class", "duration_months", "credit_amount", "purpose", "housing", "age"]
    for name in ("ref", "cur"):
        pd.read_csv(german / f"{name}.csv")[cols].to_csv(tmp_path / f"{name}.csv", index=False)
    code, _, _ = run(capsys, "drift", tmp_path / "ref.csv", tmp_path / "cur.csv", "--target", "class",
                     "--html", tmp_path / "d.html")
    assert code == 0
    html = (tmp_path / "d.html").read_text()
    assert html.count("<img ") == 5 and html.count('src="data:image/svg+xml;base64,') == 5
    for name in cols[1:]:
        assert f'alt="{name}: reference vs current"' in html
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")


def test_html_escapes_text():
    df = load_german_credit()[["class", "purpose", "age"]].rename(columns={"purpose": "<i>purpose</i>"})
    ref, cur = halves(df, "class")
    cur = cur.copy()
    cur.loc[cur.index[cur["class"] == 2][:20], "<i>purpose</i>"] = "<b>new</b>"
    html = render_html(drift(profile(ref, "class", Schema.detect(ref, target="class")), cur, "class"))
    assert "<i>purpose</i>" not in html and "<b>new</b>" not in html
    assert "<td>&lt;i&gt;purpose&lt;/i&gt;</td>" in html
    assert "New among rare rows: &lt;i&gt;purpose&lt;/i&gt;: &#39;&lt;b&gt;new&lt;/b&gt;&#39; (20 rows)" in html


# ------------------------------------------------------------------------------------------ policy


def test_policy_drift_thresholds(german, tmp_path, capsys):
    assert load_policy().drift == {"moderate": 0.1, "significant": 0.25}
    text = (Path(__file__).resolve().parents[1] / "synthgen" / "policies" / "default.toml").read_text()
    strict = tmp_path / "strict.toml"
    strict.write_text(text.replace("moderate = 0.1", "moderate = 0.001").replace("significant = 0.25",
                                                                                   "significant = 0.002"))
    assert load_policy(strict).drift == {"moderate": 0.001, "significant": 0.002}
    # on the german halves, PSIs this small are all within chance: the thresholds alone do not flag them
    code, _, _ = run(capsys, "drift", german / "ref.csv", german / "cur.csv", "--target", "class",
                     "--policy", strict, "--out", tmp_path / "strict.json")
    report = json.loads((tmp_path / "strict.json").read_text())
    assert report["thresholds"] == {"moderate": 0.001, "significant": 0.002} and code == 0
    assert "within chance" in {c["all"]["status"] for c in report["columns"].values()}
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("significant = 0.25", "significant = 0.05"))
    with pytest.raises(PolicyError, match=r"line \d+: \[drift\] significant \(0.05\) must be above moderate \(0.1\)"):
        load_policy(bad)
    bad.write_text(text.replace("moderate = 0.1", "moderate = 0.1\nbins = 20"))
    with pytest.raises(PolicyError, match="unknown key 'bins' in \\[drift\\]"):
        load_policy(bad)
    code, _, err = run(capsys, "drift", german / "ref.csv", german / "cur.csv", "--target", "class",
                       "--policy", bad, "--out", tmp_path / "bad.json")
    assert code == 1 and not (tmp_path / "bad.json").exists()
    one_line_error(err, "unknown key 'bins' in [drift]")
