"""How many rows: `compare --amounts` / `-n A,B,C`, the words against the free alternatives, SynthSampler(amount=)."""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthgen import SynthSampler
from synthgen.cli import main
from synthgen.compare import NO_AMOUNT_HELPS, _recommend, compare_from_scorecards, run_compare, utility_summary
from synthgen.datasets import load_fraud, load_german_credit
from synthgen.evaluation import Scorecard
from synthgen.exceptions import ParameterError, UsageError
from synthgen.models.base import BaseGenerator

MEASURES = ("pr_auc_vs_best_alternative", "recall_at_1pct_fpr_vs_best_alternative")


def small_fraud() -> pd.DataFrame:
    """The bundled fraud table thinned to 6,000 rows (120 fraud), seeded, in its original order."""
    df = load_fraud()
    legit = df[~df["fraud"]].sample(n=5_880, random_state=0)
    fraud = df[df["fraud"]].sample(n=120, random_state=0)
    return pd.concat([legit, fraud]).sort_index().reset_index(drop=True)


def _holds_zero(ci) -> bool:
    return ci is not None and ci[0] <= 0 <= ci[1]


def check_table(result, amounts: list[float]) -> None:
    """Every amount once, sorted by rows, rows exact; verdicts follow the intervals."""
    data = result.data
    rare = data["data"]["rare_rows_train"]
    section = data["amounts"]
    wanted = sorted(int(math.floor(a * rare + 0.5)) for a in amounts)
    assert [p["rows"] for p in section["plan"]] == wanted
    assert section["main"] == f"{amounts[0]:g}x"
    assert data["settings"]["n"] == int(math.floor(amounts[0] * rare + 0.5))  # the leaderboard's amount
    for gen, d in section["generators"].items():
        table = d["table"]
        assert [r["rows"] for r in table] == wanted, gen
        assert [r["main"] for r in table].count(True) == 1
        for r in table:
            assert r["rare_share"] == pytest.approx((rare + r["rows"]) / (data["split"]["train_rows"] + r["rows"]))
            for path in r["scorecards"]:  # each scorecard scored exactly that many synthetic rows
                card = json.loads((result.out / path).read_text())
                assert card["inputs"]["synthetic"]["rows"] == r["rows"], (gen, path)
            assert len(r["scorecards"]) == r["seeds_ok"] == len(data["settings"]["seeds"])
            for m in MEASURES:
                v = r[m]
                assert v is not None, (gen, r["label"], m)  # the scorecards compare with the alternatives
                for s in v["seeds"]:
                    assert s["verdict"] in ("gain", "no measurable change", "loss")
                    if _holds_zero(s["ci95"]):
                        assert s["verdict"] == "no measurable change", (gen, r["label"], m, s)
                    else:
                        assert s["verdict"] == ("gain" if s["ci95"][0] > 0 else "loss")
                if _holds_zero(v["ci95"]):
                    assert v["verdict"] == "no measurable change"
                assert v["ci95"][0] <= v["value"] <= v["ci95"][1] or v["verdict"] == "no measurable change"
        rec = d["recommendation"]
        gains = [r for r in table if r["pr_auc_vs_best_alternative"]["verdict"] == "gain"]
        if gains:
            assert rec["rows"] == gains[0]["rows"] and rec["reason"].startswith(f"add {gains[0]['rows']:,} ")
        else:
            assert rec["amount"] is None and rec["reason"] == NO_AMOUNT_HELPS


# ------------------------------------------------------------------ bundled fraud table, end to end


@pytest.fixture(scope="module")
def fitted_once(tmp_path_factory):
    """gaussian-copula, seeds 0 and 1, amounts 1 (main), 0.5, 2; every fit counted (smote: the shared table)."""
    fits: list[tuple[str, int]] = []
    original = BaseGenerator.fit

    def counting_fit(self, *args, **kwargs):
        fits.append((self.name, self.random_state))
        return original(self, *args, **kwargs)

    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BaseGenerator, "fit", counting_fit)
        result = run_compare(small_fraud(), "fraud", ["gaussian-copula"], amounts=[1, 0.5, 2],
                             seeds=[0, 1], out=tmp_path_factory.mktemp("amounts") / "report", progress=lines.append)
    return result, fits, lines


def test_each_generator_is_fitted_once_per_seed(fitted_once):
    result, fits, lines = fitted_once
    assert sorted(fits) == [("gaussian-copula", 0), ("gaussian-copula", 1)]
    assert sum(": fit on " in line for line in lines) == 2
    assert sum(": amount " in line and "sample" in line for line in lines) == 4  # 2 other amounts x 2 seeds


def test_amount_table_holds_every_amount_with_exact_rows(fitted_once):
    result, _, _ = fitted_once
    check_table(result, [1, 0.5, 2])
    data = result.data
    assert data["settings"]["amounts"] == [1.0, 0.5, 2.0] and data["settings"]["amounts_unit"] == "multiple"
    assert data["amounts"]["warnings"] == []  # 2x of 84 rare rows in 4,200 train rows stays rare
    out = result.out
    rare = data["data"]["rare_rows_train"]
    for gen in ("gaussian-copula",):
        for seed in (0, 1):
            assert (out / "scorecards" / f"{gen}-seed{seed}.json").is_file()  # the main amount: today's names
            for m in (0.5, 2):
                rows = int(math.floor(m * rare + 0.5))
                assert (out / "scorecards" / f"{gen}-seed{seed}-n{rows}.json").is_file()
                assert (out / "verdicts" / f"{gen}-seed{seed}-n{rows}.json").is_file()
    # the leaderboard uses the main amount: its metrics are those of the main scorecards
    for e in data["leaderboard"]:
        main = next(r for r in data["amounts"]["generators"][e["generator"]]["table"] if r["main"])
        assert e["metrics"]["utility.pr_auc_vs_best_alternative"]["mean"] == pytest.approx(
            main["pr_auc_vs_best_alternative"]["value"])


def test_report_shows_the_curve_the_table_and_the_words(fitted_once):
    result, _, _ = fitted_once
    html = (result.out / "index.html").read_text()
    md = (result.out / "compare.md").read_text()
    assert 'id="amounts"' in html and 'alt="uplift over the best alternative against amount"' in html
    assert "## How many rows" in md
    for gen, d in result.data["amounts"]["generators"].items():
        assert f'data-generator-amounts="{gen}"' in html
        assert d["recommendation"]["reason"] in md
        for r in d["table"]:
            v = r["pr_auc_vs_best_alternative"]
            cell = f"| {v['value']:+.3f} | [{v['ci95'][0]:+.3f}, {v['ci95'][1]:+.3f}] | {v['verdict']} |"
            assert cell in md, (gen, r["label"], cell)
    for e in result.leaderboard:
        text = e["utility_summary"]
        assert text and f"adding {e['generator']} rows:" in text and "PR-AUC" in text and "recall at 1% FPR" in text
        assert text in md and text in html


def test_words_follow_the_first_seed_and_old_scorecards_have_none(fitted_once, tmp_path):
    result, _, _ = fitted_once
    card = Scorecard.load(result.out / "scorecards" / "gaussian-copula-seed0.json")
    e = next(x for x in result.leaderboard if x["generator"] == "gaussian-copula")
    assert e["utility_summary"] == utility_summary("gaussian-copula", card)
    v = card.details["utility"]["vs_best_alternative"]["pr_auc"]
    words = {"baseline": "real rows only reach", "class_weights": "class weights alone reach",
             "tuned_threshold": "a tuned threshold alone reaches", "oversampling": "random oversampling alone reaches"}
    assert e["utility_summary"].lower().startswith(f"{words[v['best']]} pr-auc {v['best_value']:.3f}; ")
    assert f"rows: {v['verdict']} ({v['difference']:+.3f}, 95% CI {v['ci95'][0]:+.3f} to {v['ci95'][1]:+.3f})" \
        in e["utility_summary"]
    old = card.to_dict()
    del old["details"]["utility"]["vs_best_alternative"]  # a scorecard from before the alternatives
    data = compare_from_scorecards([Scorecard.from_dict(old)], labels=["old"])
    assert data["leaderboard"][0]["utility_summary"] is None
    from synthgen.report import render_html

    assert "Against the free alternatives" not in render_html(data, tmp_path / "old.html").read_text()


# ------------------------------------------------------------------ a small table: warnings, counts, determinism


def test_majority_warning_and_same_json(tmp_path):
    german = load_german_credit()  # 30% bad: 2x the rare rows makes them the majority of train

    def run(out: Path, lines: list[str]):
        return run_compare(german, "class", ["gaussian-copula"], amounts=[2], out=out, progress=lines.append)

    la: list[str] = []
    a = run(tmp_path / "a", la)
    run(tmp_path / "b", [])  # compared through the files it writes
    section = a.data["amounts"]
    (two,) = section["plan"]
    assert two["rare_majority"] is True and two["rare_share"] > 0.5
    assert len(section["warnings"]) == 1 and section["warnings"][0].startswith("amount 2x (420 synthetic rows)")
    assert "majority of the augmented train (56% rare)" in section["warnings"][0]
    assert sum(line.startswith("warning: amount 2x") for line in la) == 1
    assert la.index(next(x for x in la if x.startswith("warning:"))) < la.index(next(x for x in la if ": fit on" in x))
    html, md = (tmp_path / "a" / "index.html").read_text(), (tmp_path / "a" / "compare.md").read_text()
    assert "majority of the augmented train" in html and "**Warning**: amount 2x" in md
    check_table(a, [2])
    ja, jb = (json.loads((tmp_path / x / "compare.json").read_text()) for x in ("a", "b"))
    assert ja["timings"]["runs"]["gaussian-copula-seed0"]["evaluate_s"] > 0
    ja.pop("timings"), jb.pop("timings")
    assert ja == jb
    strip = re.compile(r'<(td|b) class="[^"]*timing[^"]*">[^<]*</(td|b)>')
    assert strip.sub("", html) == strip.sub("", (tmp_path / "b" / "index.html").read_text())


def test_absolute_counts_with_n_list(tmp_path):
    result = run_compare(load_german_credit(), "class", ["gaussian-copula"], n=[100, 30], out=tmp_path / "n",
                         progress=None)
    section = result.data["amounts"]
    assert section["unit"] == "rows" and section["main"] == "100 rows"
    assert [r["rows"] for r in section["generators"]["gaussian-copula"]["table"]] == [30, 100]
    assert result.data["settings"]["n"] == 100 and result.data["settings"]["amounts_unit"] == "rows"
    card = json.loads((tmp_path / "n" / "scorecards" / "gaussian-copula-seed0-n30.json").read_text())
    assert card["inputs"]["synthetic"]["rows"] == 30
    assert "amounts" in result.data["timings"] and result.data["timings"]["amounts"]["gaussian-copula-seed0"]["30"]


def test_recommendation_rule():
    def row(rows, verdict, value=0.01, ci=(-0.01, 0.03), majority=False):
        v = {"value": value, "ci95": list(ci), "verdict": verdict, "best": "tuned_threshold", "best_value": 0.5}
        return {"amount": rows / 100, "label": f"{rows / 100:g}x", "rows": rows, "rare_majority": majority,
                "pr_auc_vs_best_alternative": v}

    table = [row(25, "no measurable change"), row(50, "loss", -0.02, (-0.03, -0.01)),
             row(100, "gain", 0.02, (0.01, 0.03)), row(200, "gain", 0.04, (0.02, 0.06), True)]
    rec = _recommend("copula", table)
    assert rec["rows"] == 100 and rec["label"] == "1x"
    assert rec["reason"].startswith("add 100 copula rows (1x): the smallest amount whose PR-AUC beats the best "
                                    "alternative (a tuned threshold, 0.500) measurably (+0.020, 95% CI +0.010 to +0.030)")
    assert _recommend("copula", table[:2]) == {"amount": None, "rows": None, "label": None, "reason": NO_AMOUNT_HELPS}
    assert "majority" in _recommend("copula", table[3:])["reason"]
    unmeasured = [{**r, "pr_auc_vs_best_alternative": None} for r in table]
    assert _recommend("copula", unmeasured)["reason"].startswith("not measured")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kwargs, error, match", [
    ({"amounts": [0]}, ParameterError, "number > 0"),
    ({"amounts": [1, -0.5]}, ParameterError, "number > 0"),
    ({"amounts": ["two"]}, ParameterError, "number > 0"),
    ({"amounts": [float("nan")]}, ParameterError, "number > 0"),
    ({"amounts": [True]}, ParameterError, "number > 0"),
    ({"amounts": []}, ParameterError, "one or more"),
    ({"amounts": 2}, ParameterError, "a list"),
    ({"amounts": [1, 1.0]}, ParameterError, "more than once"),
    ({"amounts": [1, 1.001]}, ParameterError, "both give"),
    ({"amounts": [0.0001]}, ParameterError, "rounds to 0"),
    ({"amounts": [1, 2], "n": [10, 20]}, UsageError, "give one of them"),
    ({"amounts": [1, 2], "n": 10}, UsageError, "give one of them"),
    ({"n": [10, 0]}, ParameterError, ">= 1"),
    ({"n": [10, 10]}, ParameterError, "more than once"),
])
def test_bad_amounts_fail_before_anything_is_written(tmp_path, kwargs, error, match):
    german = load_german_credit()
    with pytest.raises(error, match=match):
        run_compare(german, "class", ["gaussian-copula"], out=tmp_path / "x", progress=None, **kwargs)
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [
    ["--amounts", "0,1"], ["--amounts=-1"], ["--amounts", "1,x"], ["--amounts", "nan"], ["--amounts", "1,2", "-n", "5"],
    ["--amounts", "1", "-n", "5,6"], ["-n", "5,0"], ["-n", "5,a"],
])
def test_cli_bad_amounts_one_line_exit_2(tmp_path, capsys, args):
    data = tmp_path / "german.csv"
    load_german_credit().to_csv(data, index=False)
    out = tmp_path / "report"
    code = main(["compare", str(data), "--target", "class", "--generators", "gaussian-copula", "--out", str(out),
                 "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


# ------------------------------------------------------------------ SynthSampler(amount=)


def _xy():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400),
                      "c": rng.choice(["p", "q", "r"], size=400)})
    y = np.r_[np.zeros(360, dtype=int), np.ones(40, dtype=int)]
    return X, y


def test_sampler_amount_adds_a_multiple_of_the_rare_rows():
    X, y = _xy()
    for amount, added in ((2.0, 80), (0.25, 10), (1, 40), (0.5125, 21)):
        Xo, yo = SynthSampler("gaussian-copula", amount=amount, random_state=0).fit_resample(X, y)
        assert len(Xo) == 400 + added and np.bincount(yo).tolist() == [360, 40 + added]
        assert list(Xo.columns) == list(X.columns)
    same = SynthSampler("gaussian-copula", amount=2.0, random_state=0).fit_resample(X, y)[0]
    assert same.equals(SynthSampler("gaussian-copula", amount=2.0, random_state=0).fit_resample(X, y)[0])
    # sampling_strategy still works when amount is not given
    Xo, yo = SynthSampler("gaussian-copula", sampling_strategy={1: 100}, random_state=0).fit_resample(X, y)
    assert np.bincount(yo).tolist() == [360, 100]
    Xo, yo = SynthSampler("gaussian-copula", random_state=0).fit_resample(X, y)
    assert np.bincount(yo).tolist() == [360, 360]


def test_sampler_amount_validation_and_majority_warning():
    X, y = _xy()
    for bad in (0, -1.0, "2", True, float("nan"), float("inf"), [2]):
        with pytest.raises(ParameterError, match=r"^amount: "):
            SynthSampler("gaussian-copula", amount=bad).fit_resample(X, y)
    with pytest.raises(ParameterError, match=r"^amount: give amount or sampling_strategy, not both"):
        SynthSampler("gaussian-copula", amount=1.0, sampling_strategy=0.5).fit_resample(X, y)
    with pytest.raises(ParameterError, match=r"^amount: .*rounds to 0"):
        SynthSampler("gaussian-copula", amount=0.001).fit_resample(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SynthSampler("gaussian-copula", amount=4.0, random_state=0).fit_resample(X, y)  # 40 -> 200 < 360
        assert not caught
        SynthSampler("gaussian-copula", amount=9.0, random_state=0).fit_resample(X, y)  # 40 -> 400 > 360
    assert len(caught) == 1 and "more than the 360 of the majority class 0" in str(caught[0].message)


# ------------------------------------------------------------------ a shared table


def test_amounts_on_a_shared_table(german_shared, tmp_path):
    result = run_compare(german_shared, "class", ["gaussian-copula", "smote"], amounts=[1, 0.5],
                         out=tmp_path / "shared", progress=None)
    check_table(result, [1, 0.5])
    assert result.data["amounts"]["warnings"] == []  # 210 rare rows of 700 + at most 1x stays below half
