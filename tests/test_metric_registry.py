"""The metric registry is one explicit list, and adding a metric means one class and one line in it.

A metric defined only here (``SyntheticPerRealRare``) is appended to ``registry.METRICS`` for one real
evaluation of the bundled german credit table: it reaches the scorecard JSON, its sub-score, the HTML
and Markdown reports and the gate, with nothing else changed.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from _scenarios import copula_sample, german_setup
from synthgen.compare import compare_from_scorecards
from synthgen.evaluation import METRICS, Metric, Scorecard, evaluate, registry
from synthgen.evaluation.base import SCORING, EvaluationRun, SubScore
from synthgen.evaluation.evaluator import STAGES
from synthgen.evaluation.scorecard import quality_score, subscores
from synthgen.exceptions import PolicyError
from synthgen.gate import parse_policy
from synthgen.report import html_string, markdown_string

PACKAGE = Path(registry.__file__).resolve().parents[1]
TOY = "toy.synthetic_per_real_rare"


class SyntheticPerRealRare(Metric):
    """A metric no stage measures: synthetic rare rows per real rare train row, computed here."""

    name = TOY
    goal, range = "maximize", (0.0, 2.0)
    description = "Synthetic rare rows per real rare train row (a metric defined only in the test)"
    subscore = "privacy"  # a part of the privacy sub-score, so it takes the minimum

    def compute(self, run: EvaluationRun) -> float:
        return float(run.frames.rare("synthetic").sum() / run.frames.rare("train").sum())

    def explain(self, value: float, details: dict) -> str:
        return f"{value:.2f} synthetic rare rows per real rare train row"


@pytest.fixture(scope="module")
def toy_card() -> Scorecard:
    """A real evaluation (210 copula rows on german credit) with the toy metric appended to the registry."""
    train, holdout, target, label, _ = german_setup()
    syn = copula_sample(train, target, label, 210)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "METRICS", [*registry.METRICS, SyntheticPerRealRare()])
        card = evaluate(train, holdout, syn, target, random_state=0, utility_repeats=1)
    return card  # the registry is back to its own list here


@pytest.fixture
def with_toy(monkeypatch):
    monkeypatch.setattr(registry, "METRICS", [*registry.METRICS, SyntheticPerRealRare()])


# ----------------------------------------------------------------------- the registry itself
def test_registry_is_one_explicit_list():
    assert isinstance(registry.METRICS, list) and all(isinstance(m, Metric) for m in registry.METRICS)
    assert len(registry.METRICS) == 35 and len(registry.by_name()) == 35  # names are unique
    assert set(METRICS) == set(registry.by_name()) and METRICS["leakage.mia_auc"] is registry.get("leakage.mia_auc")
    stages = {name for name, _ in STAGES}
    subs = {s.name for s in registry.SUBSCORES}
    for m in registry.METRICS:
        assert m.goal in ("maximize", "minimize") and m.range[0] < m.range[1] and m.description, m
        assert m.stage in stages and m.scoring in SCORING and (m.subscore is None or m.subscore in subs), m
    # nothing registers itself on import: the modules that define metrics never touch a registry
    import synthgen.evaluation.base as base

    assert not hasattr(base, "METRICS") and not hasattr(base, "metric")
    for family in ("base", "realism", "utility", "leakage", "privacy", "fairness"):
        tree = ast.parse((PACKAGE / "evaluation" / f"{family}.py").read_text(encoding="utf-8"))
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
               {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not {"METRICS", "registry"} & used, family


def test_subscore_parts_come_from_the_registry():
    parts = {s.name: [(m.name, m.scoring) for m in registry.METRICS if m.subscore == s.name]
             for s in registry.SUBSCORES}
    assert parts == {
        "realism": [("realism.column_shapes", "above_noise"), ("realism.column_pairs", "above_noise"),
                    ("realism.detection_auc", "score")],
        "utility": [("utility.pr_auc_vs_best_alternative", "significant")],
        "privacy": [("leakage.mia_auc", "score"), ("leakage.train_copy_excess", "evidence"),
                    ("leakage.holdout_copy_excess", "evidence"), ("leakage.dcr_excess", "evidence"),
                    ("leakage.domias_auc", "evidence"), ("privacy.singling_out_risk", "evidence"),
                    ("privacy.linkability_risk", "evidence"), ("privacy.inference_risk", "evidence"),
                    ("leakage.outlier_exposure", "evidence")],
        "fairness": [("fairness.min_representation_ratio", "evidence"),
                     ("fairness.max_representation_ratio", "evidence"), ("fairness.equalized_odds_change", "score")],
    }
    assert [(s.name, s.aggregation, s.weight, s.caps) for s in registry.SUBSCORES] == [
        ("realism", "mean", 0.35, True), ("utility", "mean", 0.25, False), ("privacy", "min", 0.25, True),
        ("fairness", "min", 0.15, True)]


def test_scoring_rules_on_known_values():
    values = {"realism.column_shapes": 0.9, "realism.column_pairs": 0.7, "realism.detection_auc": 0.75,
              "utility.pr_auc_vs_best_alternative": 0.03, "leakage.mia_auc": 0.55,
              "leakage.train_copy_excess": 0.02, "leakage.holdout_copy_excess": 0.0, "leakage.dcr_excess": 0.0}
    noise = {"column_shapes": 0.5, "column_pairs": 0.3}
    # the interval of train_copy_excess reaches 0: scored at its favourable end, 1.0, not at 0.02 (0.6)
    intervals = {"leakage.train_copy_excess": [0.0, 0.04], "utility.pr_auc_vs_best_alternative": [0.01, 0.05]}
    sub = subscores(values, intervals, noise)
    assert sub["realism"] == pytest.approx(((0.9 - 0.5) / 0.5 + (0.7 - 0.3) / 0.7 + 0.5) / 3, abs=1e-15)
    assert sub["utility"] == pytest.approx(0.5 + 0.03 / 0.2, abs=1e-15)  # significant: the interval excludes 0
    assert sub["privacy"] == pytest.approx(0.8, abs=1e-15)  # mia 0.55 -> 1 - 0.05 / 0.25, the minimum
    assert sub["fairness"] is None
    assert subscores(values, {}, noise)["utility"] == 0.5  # no interval: no measurable change
    assert subscores(values, {}, noise)["privacy"] == pytest.approx(0.6, abs=1e-15)  # 1 - 0.02 / 0.05
    # quality: 100 * min(weighted mean over realism, utility, privacy; realism; privacy)
    mean = (0.35 * sub["realism"] + 0.25 * sub["utility"] + 0.25 * sub["privacy"]) / 0.85
    assert quality_score(sub) == pytest.approx(100 * min(mean, sub["realism"], sub["privacy"]), abs=1e-12)


def test_a_name_listed_twice_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "METRICS", [*registry.METRICS, registry.get("leakage.mia_auc")])
    with pytest.raises(ValueError, match="'leakage.mia_auc' is listed twice"):
        registry.by_name()
    with pytest.raises(ValueError, match="unknown aggregation 'median'"):
        SubScore("x", "median", 1.0, False, "").combine([(1.0, 0.5)])


def test_no_metric_name_is_repeated_where_scores_are_derived():
    """The scorecard, the evaluator and the report loop over the registry: none of them names a metric."""
    names = set(registry.by_name())
    for rel in ("evaluation/scorecard.py", "evaluation/evaluator.py", "report/_view.py"):
        tree = ast.parse((PACKAGE / rel).read_text(encoding="utf-8"))
        found = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in names}
        assert not found, (rel, found)


# ----------------------------------------------------------------------- a new metric, end to end
def test_new_metric_is_on_the_scorecard(toy_card, tmp_path):
    # german credit: 210 bad-credit rows in train, 210 copula rows: exactly 1 per real rare row
    assert toy_card.metrics[TOY] == {
        "value": 1.0, "ci95": None, "score": 0.5, "goal": "maximize", "range": [0.0, 2.0],
        "description": "Synthetic rare rows per real rare train row (a metric defined only in the test)"}
    # in registry order, the new one last; the fairness stage does not run without protected columns
    assert list(toy_card.metrics) == [m.name for m in registry.METRICS if m.stage != "fairness"] + [TOY]
    path = toy_card.save(tmp_path / "card.json")
    assert json.loads(path.read_text())["metrics"][TOY]["value"] == 1.0
    assert Scorecard.load(path).value(TOY) == 1.0


def test_new_metric_counts_in_its_subscore(toy_card):
    values = {n: e["value"] for n, e in toy_card.metrics.items()}
    intervals = {n: e["ci95"] for n, e in toy_card.metrics.items() if e["ci95"]}
    noise = toy_card.details["realism"]["noise_reference"]
    without = subscores(values, intervals, noise)  # the registry without the toy metric
    assert without["privacy"] > 0.9  # measured 0.993 on this split
    assert toy_card.subscores["privacy"] == 0.5  # the toy's score, 1.0 / 2.0, is now the minimum
    # the card's numbers are rounded to 12 significant digits (its JSON): recomputed from them, realism moves
    # by 1.3e-12 and the quality score by less than 1e-10
    assert toy_card.subscores["realism"] == pytest.approx(without["realism"], abs=1e-11)
    assert toy_card.subscores["utility"] == without["utility"] == 0.5
    assert toy_card.quality_score == pytest.approx(quality_score({**without, "privacy": 0.5}), abs=1e-9)


def test_new_metric_reaches_the_gate(toy_card, with_toy):
    assert METRICS[TOY].description.startswith("Synthetic rare rows")  # the by-name view reads the list live
    for rule, passed in ((">= 0.9", True), (">= 1.5", False)):
        policy = parse_policy(f'policy_version = "1"\n[rules]\n"{TOY}" = "{rule}"\n', "toy.toml")
        verdict = policy.check(toy_card)
        assert verdict.passed is passed
        r = verdict.rules[0]
        assert (r["metric"], r["value"], r["status"]) == (TOY, 1.0, "pass" if passed else "fail")
        expected = "1.00 synthetic rare rows per real rare train row"
        assert r["reason"] == (expected if passed else f"{expected} (policy: >= 1.5)")
    # it measures no interval: an interval rule on it fails closed
    policy = parse_policy(f'policy_version = "1"\n[rules]\n"{TOY}" = {{ rule = ">= 0.9", use = "interval" }}\n', "t")
    assert policy.check(toy_card).rules[0]["reason"] == (
        f"not measured (the scorecard holds no 95% interval for '{TOY}'); the policy requires it")


def test_gate_reads_the_registry_as_it_is_now():
    with pytest.raises(PolicyError, match=f"unknown metric '{TOY}'"):
        parse_policy(f'policy_version = "1"\n[rules]\n"{TOY}" = ">= 0.9"\n', "toy.toml")


def test_new_metric_is_in_the_reports(toy_card, with_toy, tmp_path):
    policy = tmp_path / "toy.toml"
    policy.write_text(f'policy_version = "1"\n[rules]\n"{TOY}" = ">= 0.9"\n', encoding="utf-8")
    data = compare_from_scorecards([toy_card], policy=policy, labels=["copula"])
    assert data["leaderboard"][0]["gate"] == "PASS"
    assert data["leaderboard"][0]["metrics"][TOY] == {"mean": 1.0, "std": None, "n": 1, "values": [1.0]}
    html, md = html_string(data), markdown_string(data)
    description = "Synthetic rare rows per real rare train row (a metric defined only in the test)"
    # the metrics table, the glossary and the gate's rule with the metric's own sentence
    assert f"| `{TOY}` | 1.000 | ↑ higher is better | {description} |" in md
    assert f"| `{TOY}` | 1.000 | >= 0.9 | PASS | 1.00 synthetic rare rows per real rare train row |" in md
    assert f"<tr><td><code>{TOY}</code></td><td class=\"num\">1.000</td>" in html
    assert f"<dt>{TOY}</dt><dd>{description} <span class=\"muted\">(↑ higher is better)</span></dd>" in html
    assert "1.00 synthetic rare rows per real rare train row" in html
