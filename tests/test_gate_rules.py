"""The gate fails closed: unmeasured metrics fail unless optional; interval rules; policy errors."""

from __future__ import annotations

import pytest

from synthgen.evaluation import METRICS, Scorecard
from synthgen.exceptions import PolicyError
from synthgen.gate import load_policy, parse_policy


def card(values: dict, intervals: dict | None = None, not_measured: dict | None = None) -> Scorecard:
    intervals = intervals or {}
    metrics = {name: METRICS[name].entry(v, intervals.get(name)) for name, v in values.items()}
    return Scorecard(quality_score=50.0, subscores={"realism": 0.5, "utility": 0.5, "privacy": 1.0,
                                                    "fairness": None},
                     metrics=metrics, details={"not_measured": not_measured or {}}, inputs={}, random_state=0,
                     library_versions={})


def policy(body: str):
    return parse_policy('policy_version = "2"\n[rules]\n' + body, "test.toml")


def test_null_metric_fails_unless_optional():
    c = card({"realism.column_shapes": None}, not_measured={"realism.column_shapes": "no modelled column"})
    v = policy('"realism.column_shapes" = ">= 0.8"\n').check(c)
    assert not v.passed
    rule = v.rules[0]
    assert rule["status"] == "fail" and rule["passed"] is False
    assert "not measured (no modelled column)" in rule["reason"] and "requires" in rule["reason"]
    v = policy('"realism.column_shapes" = { rule = ">= 0.8", optional = true }\n').check(c)
    assert v.passed and v.rules[0]["status"] == "not measured" and "optional" in v.rules[0]["reason"]


def test_missing_metric_fails_and_says_why():
    v = policy('"fairness.equalized_odds_change" = "<= 0.2"\n').check(card({}))
    assert not v.passed and "no protected column was given" in v.rules[0]["reason"]


def test_nan_in_json_is_null_and_fails():
    c = Scorecard.from_dict(card({"leakage.mia_auc": float("nan")}).to_dict())
    assert c.value("leakage.mia_auc") is None
    assert not policy('"leakage.mia_auc" = "<= 0.65"\n').check(c).passed


@pytest.mark.parametrize("ci, passed", [([-0.08, 0.01], True), ([-0.08, -0.03], False), ([0.0, 0.05], True)])
def test_interval_rule_fails_only_when_the_whole_interval_breaks_it(ci, passed):
    c = card({"utility.pr_auc_uplift": -0.035}, {"utility.pr_auc_uplift": ci})
    p = policy('"utility.pr_auc_uplift" = { rule = ">= -0.02", use = "interval" }\n')
    v = p.check(c)
    assert v.passed is passed
    assert v.rules[0]["ci95"] == ci and v.rules[0]["rule"] == ">= -0.02 (95% interval)"
    # the same threshold on the value fails on -0.035 whatever the interval
    assert not policy('"utility.pr_auc_uplift" = ">= -0.02"\n').check(c).passed


def test_interval_rule_without_an_interval_fails_closed():
    v = policy('"utility.pr_auc_uplift" = { rule = ">= -0.02", use = "interval" }\n').check(
        card({"utility.pr_auc_uplift": 0.1}))
    assert not v.passed and "no 95% interval" in v.rules[0]["reason"]


def test_failing_rule_reason_carries_numbers():
    v = policy('"realism.column_shapes" = ">= 0.8"\n').check(card({"realism.column_shapes": 0.61}))
    assert not v.passed
    assert "0.61" in v.rules[0]["reason"] and "(policy: >= 0.8)" in v.rules[0]["reason"]
    assert "FAIL realism.column_shapes >= 0.8 (value 0.61)" in v.summary()


@pytest.mark.parametrize("body, message", [
    ('"realism.colum_shapes" = { rule = ">= 0.8", optional = true }\n',
     "line 3: marks unknown metric 'realism.colum_shapes'"),
    ('"realism.column_shapes" = { rule = ">= 0.8", optinal = true }\n', "unknown key(s) 'optinal'"),
    ('"realism.column_shapes" = { rule = ">= 0.8", optional = "yes" }\n', "'optional' for 'realism.column_shapes'"),
    ('"realism.column_shapes" = { rule = ">= 0.8", use = "ci" }\n', "'use' for 'realism.column_shapes'"),
    ('"quality_score" = { rule = ">= 50", use = "interval" }\n', "'quality_score' has no interval"),
])
def test_bad_rule_tables_name_the_line(body, message):
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        policy(body)


def test_default_policy_marks_only_fairness_and_anonymeter_optional():
    """Fairness needs --protected columns and Anonymeter is an optional package: only those rules may
    pass unmeasured; every other rule fails closed."""
    p = load_policy()
    assert p.version == "3"
    assert {r.metric for r in p.rules if r.optional} == {r.metric for r in p.rules
                                                       if r.metric.startswith(("fairness.", "privacy."))}
    assert {"leakage.outlier_exposure", "leakage.domias_auc"} <= {r.metric for r in p.rules if not r.optional}
    assert {"leakage.train_copy_excess", "leakage.holdout_copy_excess", "leakage.dcr_excess",
            "fairness.min_representation_ratio", "fairness.max_representation_ratio"} <= {r.metric for r in p.rules}
