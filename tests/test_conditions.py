"""Conditional sampling (`sample(where=...)`, `generate --where`, issue 12 item 1) on the bundled fraud table:
exactly n rows, every row meets the conditions, byte-identical for a seed, for smote, smote-nc and the copula
(exact conditional Gaussian) and the default bounded rejection; each bad input's one-line error; unseen
conditions; `evaluate --where` scoring against the matching real rows; SynthSampler(where=...)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import one_line_error, run_cli

from synthgen.conditions import (
    Condition,
    Conditions,
    conditions_from,
    matching_real_rows,
    parse_where,
)
from synthgen.datasets import load_fraud
from synthgen.exceptions import GeneratorError, ParameterError
from synthgen.io import sha256_frame
from synthgen.models import make_generator
from synthgen.models.base import BaseGenerator
from synthgen.models.encoding import ModelData
from synthgen.models.sampler import SynthSampler
from synthgen.pipeline import generate_file
from synthgen.store import load

WHERE = ["provider=Maestro", "amount>=50000", "amount<95000"]  # 45 of the 1,000 real fraud rows meet all three
WHERE_PY = {"provider": "Maestro", "amount": (50000, 95000)}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """Every fraud row of the bundled table (1,000) and 4,000 others, seeded: 5,000 rows."""
    df = load_fraud()
    other = df[~df["fraud"]].sample(4_000, random_state=0)
    return pd.concat([df[df["fraud"]], other]).sort_index().reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(table) -> dict[str, BaseGenerator]:
    return {name: make_generator(name, random_state=0).fit(table, "fraud")
            for name in ("smote", "smote-nc", "gaussian-copula", "borderline-smote", "smote-n")}


@pytest.fixture(scope="module")
def models(table, tmp_path_factory) -> dict[str, Path]:
    """Model folders written by `synthgen fit` (70/30 split: 700 fraud rows in train)."""
    root = tmp_path_factory.mktemp("conditions")
    table.to_csv(root / "fraud.csv", index=False)
    out = {"data": root / "fraud.csv"}
    for name in ("gaussian-copula", "smote"):
        from synthgen.cli import main

        assert main(["fit", str(root / "fraud.csv"), "--target", "fraud", "--generator", name, "--seed", "1",
                     "--out", str(root / name)]) == 0
        out[name] = root / name
    return out


# ------------------------------------------------------------------ parsing
def test_texts_and_python_form_give_the_same_conditions(fitted):
    schema = fitted["smote"].schema_
    from_texts = conditions_from(WHERE, schema)
    assert from_texts == conditions_from(WHERE_PY, schema)
    assert from_texts.texts() == WHERE
    assert from_texts.categorical() == {"provider": ("Maestro",)}
    assert from_texts.ranges() == {"amount": (50000.0, 95000.0, True, False)}
    assert Conditions.from_dict(json.loads(json.dumps(from_texts.to_dict()))) == from_texts
    assert parse_where(["Age>=30", "Age<50", "Make==Honda"]) == {"Age": [(">=", "30"), ("<", "50")],
                                                                "Make": [("=", "Honda")]}
    # one text on its own is one condition (not a sequence of characters)
    assert conditions_from("provider=Maestro", schema) == conditions_from(["provider=Maestro"], schema)
    several = conditions_from({"provider": ["Maestro", "Discover"], "customer_present": False}, schema)
    assert several.texts() == ["provider=Maestro|Discover", "customer_present=False"]
    assert conditions_from(several.texts(), schema) == several
    stamp = conditions_from(["datetime>=2019-06-01"], schema).items[0]
    assert stamp.low == pd.Timestamp("2019-06-01") and stamp.datetime_format == "%Y-%m-%d %H:%M:%S"
    assert conditions_from(["amount=100"], schema).items[0] == Condition(
        "amount", "range", low=100.0, high=100.0, low_closed=True, high_closed=True)


@pytest.mark.parametrize("where, message", [
    (["amout>=3"], "where 'amout>=3': no column 'amout'; close: amount, lat, country"),
    (["provider=Maestr"], "where 'provider=Maestr': column 'provider' has no category 'Maestr'; close: Maestro, "
                          "Mastercard"),
    (["amount>=500", "amount<30"], "where 'amount>=500, amount<30': empty range: no value of 'amount' meets all "
                                   "of these"),
    (["amount>5", "amount<6"], "where 'amount>5, amount<6': empty range: no value of 'amount' meets all of these"),
    (["amount>=1e9"], "where 'amount>=1e9': no value of 'amount' can meet this: its values run 15 to 99975"),
    (["card_id=3"], "where 'card_id=3': column 'card_id' is a key: generated rows get fresh keys, never real ones, "
                    "so it cannot be conditioned"),
    (["id>=3"], "where 'id>=3': column 'id' is an identifier: generated rows get fresh values, never real ones, "
                "so it cannot be conditioned"),
    (["fraud=True"], "where 'fraud=True': 'fraud' is the target: every generated row is of the rare class (pick "
                     "one with --label), so it cannot be conditioned"),
    (["provider>3"], "where 'provider>3': column 'provider' is categorical (not numbers): use provider=VALUE, "
                     "not a range"),
    (["lat=3"], "where 'lat=3': column 'lat' is continuous: give a range (lat>=3, lat<...), not one value"),
    (["amount>=lots"], "where 'amount>=lots': column 'amount' holds numbers: expected a number, got 'lots'"),
    (["amount"], "--where 'amount': expected COLUMN=VALUE, COLUMN>=NUMBER, COLUMN>NUMBER, COLUMN<NUMBER or "
                 "COLUMN<=NUMBER"),
    (["provider!=Maestro"], "--where 'provider!=Maestro': '!=' is not supported; list the allowed values: "
                            "COLUMN=A|B"),
])
def test_bad_conditions_are_one_line_parameter_errors(fitted, where, message):
    with pytest.raises(ParameterError) as info:
        fitted["gaussian-copula"].sample(10, where=where)
    assert str(info.value) == message


# ------------------------------------------------------------- generators
@pytest.mark.parametrize("name", ["smote", "smote-nc", "gaussian-copula", "borderline-smote", "smote-n"])
def test_exact_n_every_row_meets_and_seeded(fitted, name):
    gen = fitted[name]
    rows = gen.sample(1_500, where=WHERE_PY, random_state=4)
    assert len(rows) == 1_500 and list(rows.columns) == list(gen.schema_.names)
    assert (rows["provider"] == "Maestro").all()
    assert rows["amount"].between(50_000, 94_999).all()
    assert conditions_from(WHERE, gen.schema_).mask(rows).all()
    again = gen.sample(1_500, where=WHERE, random_state=4)
    assert sha256_frame(again) == sha256_frame(rows)  # same seed: byte-identical
    assert sha256_frame(gen.sample(1_500, where=WHERE, random_state=5)) != sha256_frame(rows)
    # chunked output is the same rows
    chunks = pd.concat(gen.iter_sample(1_500, where=WHERE, random_state=4, chunk_size=400), ignore_index=True)
    assert sha256_frame(chunks) == sha256_frame(rows)


def test_smote_rows_lie_between_matching_real_rows(fitted, table):
    rows = fitted["smote"].sample(2_000, where=WHERE, random_state=0)
    real = table[table["fraud"] & conditions_from(WHERE, fitted["smote"].schema_).mask(table)]
    assert len(real) == 45
    assert rows["amount"].min() >= real["amount"].min() and rows["amount"].max() <= real["amount"].max()
    # categories are copied from matching rows only
    assert set(rows["country"].dropna()) <= set(real["country"].dropna())


def test_copula_conditional_matches_the_unconditional_model_filtered(fitted):
    """The exact conditional (one and several conditioned dimensions) against rejection from 400,000 rows."""
    gen = fitted["gaussian-copula"]
    big = gen.sample(400_000, random_state=9)
    where = ["provider=Maestro|Discover", "customer_present=true", "lat>=0"]
    cond = conditions_from(where, gen.schema_)
    ref = big[cond.mask(big)]
    rows = gen.sample(60_000, where=where, random_state=1)
    assert cond.mask(rows).all() and len(ref) == 30_946
    # measured: Maestro share 0.51423 vs 0.51415; means of amount, lat, lng 0.0026, 0.0097, -0.0061 stds apart.
    # The bound is 3 standard errors of the difference of two independent means:
    # 3 * sqrt(1/30,946 + 1/60,000) = 0.021 std (share: 3 * 0.5 * the same root = 0.011)
    assert abs(rows["provider"].eq("Maestro").mean() - ref["provider"].eq("Maestro").mean()) < 0.011
    for column in ("amount", "lat", "lng"):
        assert abs(rows[column].mean() - ref[column].mean()) < 0.021 * ref[column].std()


def test_default_rejection_path(table):
    """A generator without its own conditioned sampling (a bootstrap of the rare rows) gets the bounded
    rejection: exact n, every row meets, seeded; a condition too rare stops with its acceptance rate."""
    gen = _Bootstrap(random_state=0).fit(table, "fraud")
    rows = gen.sample(300, where=["provider=Maestro", "customer_present=true"])
    assert len(rows) == 300 and (rows["provider"] == "Maestro").all() and rows["customer_present"].all()
    assert sha256_frame(rows) == sha256_frame(gen.sample(300, where=["provider=Maestro", "customer_present=true"]))
    with pytest.raises(GeneratorError) as info:  # 2 of the 1,000 real fraud rows pay in GTQ
        gen.sample(100, where=["currency=GTQ"])
    assert str(info.value) == ("bootstrap: only 0.3000% of sampled rows meet currency=GTQ (3 of 1,000 drawn); 100 "
                               "rows would need about 33,333 draws, over the bound of 5,000 draws (50x n): loosen the "
                               "conditions")


# ---------------------------------------------------------------- unseen
def test_unseen_conditions(fitted):
    copula, smote = fitted["gaussian-copula"], fitted["smote"]
    with pytest.raises(GeneratorError) as info:
        copula.sample(10, where=["country=BD"])
    assert str(info.value) == ("no real row of rare class True meets country=BD; allow_unseen=True "
                               "(--allow-unseen) samples it anyway")
    rows = copula.sample(200, where=["country=BD", "amount<50"], allow_unseen=True, random_state=0)
    assert (rows["country"] == "BD").all() and rows["amount"].between(5, 49).all() and len(rows) == 200
    with pytest.raises(GeneratorError) as info:
        smote.sample(10, where=["amount<50"])
    assert str(info.value) == "no real row of rare class True meets amount<50"
    with pytest.raises(GeneratorError) as info:  # the SMOTE family needs real matching rows, whatever it is told
        smote.sample(10, where=["currency=COP"], allow_unseen=True)
    assert str(info.value) == ("smote: 1 real rare row(s) meet currency=COP; it interpolates between real rows and "
                               "needs at least 2: loosen the conditions, or use a model-based generator "
                               "(gaussian-copula, with --allow-unseen)")


def test_a_model_saved_before_support_was_recorded_still_samples(models, tmp_path):
    import shutil

    folder = tmp_path / "old"
    shutil.copytree(models["gaussian-copula"], folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest.pop("support")) == 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    gen = load(folder)
    rows = gen.sample(50, where=["country=BD"])  # unknown support: not checked
    assert (rows["country"] == "BD").all()


# -------------------------------------------------------------------- CLI
def test_generate_where_writes_rows_and_lineage(models, tmp_path, capsys):
    out = tmp_path / "rows.csv"
    code, _, err = run_cli(capsys, "generate", models["gaussian-copula"], "-n", "2000", "--out", out,
                           "--no-progress", *[f"--where={w}" for w in WHERE])
    assert code == 0, err
    rows = pd.read_csv(out)
    assert len(rows) == 2_000 and (rows["provider"] == "Maestro").all()
    assert rows["amount"].between(50_000, 94_999).all()
    record = json.loads((tmp_path / "rows.csv.manifest.json").read_text())
    assert record["generation"]["where"] == WHERE and record["generation"]["allow_unseen"] is False
    # the Python API gives the same bytes
    generate_file(models["gaussian-copula"], 2_000, tmp_path / "api.csv", where=WHERE_PY, progress=False)
    assert (tmp_path / "api.csv").read_bytes() == out.read_bytes()


@pytest.mark.parametrize("where, code, message", [
    (["amout>=3"], 2, "where 'amout>=3': no column 'amout'; close: amount, lat, country"),
    (["provider=Maestr"], 2, "column 'provider' has no category 'Maestr'; close: Maestro, Mastercard"),
    (["amount>=50", "amount<30"], 2, "where 'amount>=50, amount<30': empty range"),
    (["country=BD"], 1, "no real row of rare class True meets country=BD"),
    (["currency=COP"], 1, "smote: 1 real rare row(s) meet currency=COP"),
])
def test_generate_bad_where_writes_nothing(models, tmp_path, capsys, where, code, message):
    name = "smote" if "COP" in where[0] else "gaussian-copula"
    if name == "smote" and len(pd.read_csv(models["data"]).query("fraud and currency == 'COP'")) != 1:
        pytest.skip("the COP row")
    out = tmp_path / "rows.csv"
    got, _, err = run_cli(capsys, "generate", models[name], "-n", "10", "--out", out, "--no-progress",
                          *[f"--where={w}" for w in where])
    assert got == code
    one_line_error(err, message)
    assert list(tmp_path.iterdir()) == []


def test_generate_allow_unseen(models, tmp_path, capsys):
    out = tmp_path / "rows.parquet"
    code, _, err = run_cli(capsys, "generate", models["gaussian-copula"], "-n", "100", "--out", out,
                           "--no-progress", "--where", "country=BD", "--allow-unseen")
    assert code == 0, err
    assert (pd.read_parquet(out)["country"] == "BD").all()


def test_evaluate_where_scores_against_matching_real_rows(fitted, table, tmp_path, capsys):
    fraud, other = table[table["fraud"]], table[~table["fraud"]]
    pd.concat([fraud.iloc[:700], other.iloc[:1_000]]).to_csv(tmp_path / "train.csv", index=False)
    pd.concat([fraud.iloc[700:], other.iloc[1_000:1_500]]).to_csv(tmp_path / "holdout.csv", index=False)
    fitted["gaussian-copula"].sample(200, where=["provider=Maestro"]).to_csv(tmp_path / "rows.csv", index=False)
    files = ["--train", tmp_path / "train.csv", "--holdout", tmp_path / "holdout.csv", "--target", "fraud",
             "--synthetic", tmp_path / "rows.csv", "--utility-models", "logreg", "--utility-repeats", "1"]
    code, _, err = run_cli(capsys, "evaluate", *files, "--where", "currency=COP", "--out", tmp_path / "bad.json")
    assert code == 2
    one_line_error(err, "where 'currency=COP': 0 rare row(s) of the real train rows meet it; scoring needs at least 2")
    assert not (tmp_path / "bad.json").exists()
    code, _, err = run_cli(capsys, "evaluate", *files, "--where", "provider=Maestro", "--out", tmp_path / "card.json")
    assert code == 0, err
    card = json.loads((tmp_path / "card.json").read_text())
    # the 1,000 + 500 other rows kept whole; of the 700 + 300 frauds, the 65 + 25 paid with Maestro
    assert card["details"]["utility"]["rows"] == {"train": 1_065, "synthetic": 200, "holdout": 525,
                                                  "holdout_rare": 25, "oversampled": 200}
    assert card["details"]["realism"]["column_shapes"]["provider"]["score"] == 1.0  # Maestro against Maestro
    kept = matching_real_rows(table, "fraud", conditions_from(["provider=Maestro"], fitted["smote"].schema_))
    assert len(kept) == 4_090 and int(kept["fraud"].sum()) == 90


def test_synth_sampler_where(table):
    X, y = table.drop(columns=["fraud"]), table["fraud"]
    sampler = SynthSampler("smote-nc", where=WHERE_PY, amount=0.5, random_state=0)
    X_out, y_out = sampler.fit_resample(X, y)
    new = X_out.iloc[len(X):]
    assert len(new) == 500 and y_out[len(X):].all()
    assert (new["provider"] == "Maestro").all() and new["amount"].between(50_000, 94_999).all()
    assert X_out.iloc[: len(X)].equals(X)  # the real rows kept whole


class _Bootstrap(BaseGenerator):
    """Draws stored rare rows with replacement: a generator with no conditioned sampling of its own."""

    name = "bootstrap"

    def _fit(self, rare: ModelData, other, rng, seed) -> dict:
        return {"numeric": rare.numeric, "codes": rare.codes}

    def _sample(self, state: dict, n: int, rng, seed) -> ModelData:
        pick = rng.integers(0, len(state["numeric"]), size=n)
        return ModelData(state["numeric"][pick], state["codes"][pick])



@pytest.mark.slow
def test_ray_engine_gives_the_local_rows(models, tmp_path):
    """Each SampleBlock carries the conditions, so Ray tasks sample what the local engine does (slow: a local
    Ray is started for it)."""
    ray = pytest.importorskip("ray", reason="the Ray engine needs ray: pip install 'synthgen[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        for name in ("gaussian-copula", "smote"):
            generate_file(models[name], 150_000, tmp_path / f"{name}-local.csv", where=WHERE, progress=False)
            generate_file(models[name], 150_000, tmp_path / f"{name}-ray.csv", where=WHERE, progress=False,
                          engine="ray")
            assert (tmp_path / f"{name}-ray.csv").read_bytes() == (tmp_path / f"{name}-local.csv").read_bytes()
    finally:
        ray.shutdown()


def test_model_mask_equals_mask_of_restored_rows(fitted):
    """``model_mask`` restores only the conditioned columns: the same answer as ``mask`` on every column."""
    from synthgen.conditions import _MISSING
    from synthgen.models.encoding import MISSING

    assert _MISSING == MISSING
    gen = fitted["gaussian-copula"]
    data = gen._sample(gen.states_[0], 5_000, np.random.default_rng(0), 0)
    for where in (WHERE, ["country=US|DE", "lat>=0"], ["datetime>=2019-06-01", "customer_present=false"]):
        cond = conditions_from(where, gen.schema_)
        assert np.array_equal(cond.model_mask(gen.encoder_, data), cond.mask(gen.encoder_.inverse(data)))


def test_compare_where_is_checked_before_any_fit(models, tmp_path, capsys):
    code, _, err = run_cli(capsys, "compare", models["data"], "--target", "fraud", "--generators", "smote",
                           "--where", "provider=Maestr", "--out", tmp_path / "report", "--quiet")
    assert code == 2
    one_line_error(err, "where 'provider=Maestr': column 'provider' has no category 'Maestr'; close: Maestro, "
                        "Mastercard")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["gaussian-copula", "smote", "smote-n"])
def test_dates_written_in_a_coarse_format_still_meet_the_range(fitted, name):
    """expiration_date is text MM/YY: a value is floored to its month when written, so a range starting
    mid-month starts at the next whole month in model space (01/25 would read back as 2025-01-01)."""
    where = ["expiration_date>=2025-01-15", "expiration_date<2027-06-10"]
    rows = fitted[name].sample(3_000, where=where, random_state=2)
    stamps = pd.to_datetime(rows["expiration_date"], format="%m/%y")
    assert stamps.min() >= pd.Timestamp("2025-02-01") and stamps.max() <= pd.Timestamp("2027-06-01")
    assert conditions_from(where, fitted[name].schema_).mask(rows).all()
