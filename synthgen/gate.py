"""Gate: a versioned TOML policy turns a scorecard into PASS / FAIL with one reason per rule.

Policy format (see synthgen/policies/default.toml)::

    policy_version = "2"
    [rules]
    "realism.column_shapes" = ">= 0.80"                                # the value must hold
    "leakage.train_copy_excess" = { rule = "<= 0.02", use = "interval" }  # fails only when the
                                                                       # whole 95% interval breaks it
    "fairness.min_representation_ratio" = { rule = ">= 0.8", optional = true }

A rule names a scorecard metric (or ``quality_score`` / ``subscores.NAME``), an operator
and a number. The gate fails closed: a metric the scorecard lacks, or holds as null/NaN
("not measurable"), fails its rule unless the rule is ``optional``; then it is shown as
"not measured" with the reason. ``use = "interval"`` needs the metric's 95% interval on the
scorecard and fails when it is missing. Unknown metrics, unknown keys and malformed
thresholds raise PolicyError naming the line.

An optional ``[drift]`` table holds the PSI thresholds of ``synthgen drift`` (``moderate``, default
0.1; ``significant``, default 0.25; significant must be above moderate): ``Policy.drift``.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from .evaluation import registry
from .evaluation.scorecard import Scorecard
from .exceptions import PolicyError
from .io import atomic_path

__all__ = ["Policy", "Rule", "Verdict", "load_policy", "DEFAULT_POLICY", "DRIFT_THRESHOLDS"]

DEFAULT_POLICY = "default.toml"
# PSI thresholds of `synthgen drift` when a policy has no [drift] table (the usual rule of thumb)
DRIFT_THRESHOLDS = {"moderate": 0.1, "significant": 0.25}
_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}
_RULE = re.compile(r"^\s*(<=|>=|==|<|>)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")
_EXTRA = {"quality_score"} | {f"subscores.{s.name}" for s in registry.SUBSCORES}


@dataclass(frozen=True)
class Rule:
    """One threshold on one metric: on its value, or (``use="interval"``) on its whole 95% interval."""

    metric: str
    op: str
    threshold: float
    line: int
    optional: bool = False
    use: str = "value"

    def holds(self, value: float) -> bool:
        return bool(_OPS[self.op](float(value), self.threshold))

    def check(self, value: float | None, ci95: Sequence[float] | None = None) -> bool | None:
        """True/False; None when the metric is not measured (null/NaN, or no interval for an interval rule).

        An interval rule fails only when every value of the interval breaks the threshold: the
        evidence says it is broken, not just the point estimate.
        """
        if _missing(value):
            return None
        if self.use == "interval":
            if ci95 is None or len(ci95) != 2 or any(_missing(b) for b in ci95):
                return None
            return self.holds(ci95[0]) or self.holds(ci95[1])
        return self.holds(value)

    @property
    def text(self) -> str:
        return f"{self.op} {self.threshold:g}" + (" (95% interval)" if self.use == "interval" else "")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass
class Verdict:
    """PASS/FAIL of a scorecard under a policy, rule by rule."""

    passed: bool
    rules: list[dict]
    policy: dict
    lineage: dict | None = None  # the scorecard's lineage entry (synthetic file vs its manifest), when it has one

    @property
    def failed_rules(self) -> list[dict]:
        return [r for r in self.rules if r["passed"] is False]

    def to_dict(self) -> dict:
        lineage = {} if self.lineage is None else {"lineage": self.lineage}
        return {"passed": self.passed, "rules": self.rules, "policy": self.policy, **lineage}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike, *, force: bool = True) -> Path:
        """Write the verdict JSON atomically."""
        with atomic_path(path, force=force) as tmp:
            tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        return Path(path)

    def summary(self) -> str:
        """One line per rule (mark, rule, value, reason), then PASS or FAIL."""
        lines = []
        for r in self.rules:
            mark = {"pass": "PASS", "fail": "FAIL", "not measured": "n/a "}[r["status"]]
            value = "not measured" if r["value"] is None else f"{r['value']:.4g}"
            if r.get("ci95"):
                value += f", 95% CI {r['ci95'][0]:.4g}..{r['ci95'][1]:.4g}"
            lines.append(f"{mark} {r['metric']} {r['rule']} (value {value}): {r['reason']}")
        lines.append("PASS" if self.passed else "FAIL: " + ", ".join(r["metric"] for r in self.failed_rules))
        return "\n".join(lines)


@dataclass
class Policy:
    """Parsed rules plus where they came from (path and sha256 of the file's bytes)."""

    rules: list[Rule]
    version: str
    path: str
    sha256: str
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, float] = field(default_factory=lambda: dict(DRIFT_THRESHOLDS))

    def check(self, scorecard: Scorecard) -> Verdict:
        """Apply every rule; the verdict fails when any rule fails or a required metric is not measured."""
        results = []
        for rule in self.rules:
            value = scorecard.value(rule.metric)
            ci95 = scorecard.interval(rule.metric)
            ok = rule.check(value, ci95)
            if ok is None:
                why = _unmeasured_reason(scorecard, rule, value)
                if rule.optional:
                    passed, status, reason = None, "not measured", f"not measured ({why}); the rule is optional"
                else:
                    passed, status, reason = False, "fail", f"not measured ({why}); the policy requires it"
            else:
                passed, status = ok, "pass" if ok else "fail"
                reason = _sentence(scorecard, rule.metric, value)
                if not ok:
                    reason += f" (policy: {rule.op} {rule.threshold:g}" + (
                        " for some value in the 95% interval)" if rule.use == "interval" else ")")
            results.append({"metric": rule.metric, "op": rule.op, "threshold": rule.threshold, "use": rule.use,
                            "optional": rule.optional, "rule": rule.text, "value": value, "ci95": ci95,
                            "passed": passed, "status": status, "reason": reason})
        passed = all(r["passed"] is not False for r in results)
        return Verdict(passed=passed, rules=results,
                       policy={"path": self.path, "sha256": self.sha256, "version": self.version,
                               "name": self.name})


def _sentence(scorecard: Scorecard, name: str, value: float) -> str:
    """The metric's own sentence with its numbers (sub-scores and the quality score: plain)."""
    metric = registry.get(name)
    if metric is not None:
        return metric.sentence(value, scorecard.details)
    if name == "quality_score":
        return f"quality score {value:.1f} of 100"
    return registry.subscore(name.split(".", 1)[1]).sentence(value, scorecard.value, scorecard.details)


def _unmeasured_reason(scorecard: Scorecard, rule: Rule, value: Any) -> str:
    """Why a rule's metric has no usable number: absent, null with a recorded reason, or no interval."""
    if not _missing(value):
        return f"the scorecard holds no 95% interval for '{rule.metric}'"
    recorded = (scorecard.details.get("not_measured") or {}).get(rule.metric)
    if recorded:
        return str(recorded)
    if rule.metric not in scorecard.metrics and not rule.metric.startswith("subscores.") \
            and rule.metric != "quality_score":
        if rule.metric.startswith("fairness."):
            return "no protected column was given"
        return "the scorecard has no such metric"
    return "its value is null"


def _line_of(lines: list[str], key: str) -> int:
    pattern = re.compile(r'^\s*("' + re.escape(key) + r'"|\'' + re.escape(key) + r'\'|' + re.escape(key) + r')\s*=')
    for i, text in enumerate(lines, start=1):
        if pattern.match(text):
            return i
    return 0


def parse_policy(text: str, source: str) -> Policy:
    """Parse policy TOML text; errors name ``source`` and the line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy '{source}': not valid TOML ({exc})") from None
    lines = text.splitlines()
    if "policy_version" not in data:
        raise PolicyError(f"policy '{source}': missing 'policy_version' (e.g. policy_version = \"1\")")
    rules_table = data.get("rules")
    if not isinstance(rules_table, dict) or not rules_table:
        raise PolicyError(f"policy '{source}': needs a [rules] table with at least one rule")
    known = registry.by_name()  # the registry as it is now
    rules = []
    for key, spec in rules_table.items():
        line = _line_of(lines, key)
        where = f"policy '{source}' line {line}"
        optional, use = False, "value"
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - {"rule", "optional", "use"})
            if unknown:
                raise PolicyError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} for '{key}'; "
                                  "a rule table takes rule, optional, use")
            optional = spec.get("optional", False)
            if not isinstance(optional, bool):
                raise PolicyError(f"{where}: 'optional' for '{key}' must be true or false, got {optional!r}")
            use = spec.get("use", "value")
            if use not in ("value", "interval"):
                raise PolicyError(f"{where}: 'use' for '{key}' must be \"value\" or \"interval\", got {use!r}")
            spec = spec.get("rule")
        if key not in known and key not in _EXTRA:
            what = "marks unknown metric" if optional else "unknown metric"
            raise PolicyError(f"{where}: {what} '{key}'; known: {', '.join(sorted(known) + sorted(_EXTRA))}")
        match = _RULE.match(spec) if isinstance(spec, str) else None
        if match is None:
            raise PolicyError(f"{where}: malformed threshold {spec!r} for '{key}'; expected e.g. \"<= 0.05\" "
                              f"(operators {', '.join(_OPS)})")
        if use == "interval" and key not in known:
            raise PolicyError(f"{where}: '{key}' has no interval; use = \"interval\" needs a scorecard metric")
        rules.append(Rule(metric=key, op=match.group(1), threshold=float(match.group(2)), line=line,
                          optional=optional, use=use))
    return Policy(rules=rules, version=str(data["policy_version"]), path=source,
                  sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), name=str(data.get("name", "")),
                  extra={k: v for k, v in data.items() if k not in ("rules", "policy_version", "name", "drift")},
                  drift=_drift_thresholds(data.get("drift"), lines, source))


def _drift_thresholds(table: Any, lines: list[str], source: str) -> dict[str, float]:
    """The optional [drift] table: PSI thresholds ``moderate`` and ``significant`` (defaults 0.1, 0.25)."""
    if table is None:
        return dict(DRIFT_THRESHOLDS)
    if not isinstance(table, dict):
        raise PolicyError(f"policy '{source}' line {_line_of(lines, 'drift')}: 'drift' must be a table "
                          "([drift] with moderate = 0.1, significant = 0.25)")
    out = dict(DRIFT_THRESHOLDS)
    for key, value in table.items():
        where = f"policy '{source}' line {_line_of(lines, key)}"
        if key not in DRIFT_THRESHOLDS:
            raise PolicyError(f"{where}: unknown key '{key}' in [drift]; it takes moderate, significant")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise PolicyError(f"{where}: [drift] {key} must be a PSI value > 0, got {value!r}")
        out[key] = float(value)
    if out["significant"] <= out["moderate"]:
        raise PolicyError(f"policy '{source}' line {_line_of(lines, 'significant')}: [drift] significant "
                          f"({out['significant']:g}) must be above moderate ({out['moderate']:g})")
    return out


def load_policy(path: str | os.PathLike | None = None) -> Policy:
    """Read a policy file; without a path, the packaged default policy."""
    if path is None:
        ref = resources.files("synthgen.policies").joinpath(DEFAULT_POLICY)
        raw = ref.read_bytes()
        source = f"synthgen/policies/{DEFAULT_POLICY}"
    else:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise PolicyError(f"policy '{p}': cannot be read ({exc.strerror or type(exc).__name__})") from None
        source = str(p)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"policy '{source}': not UTF-8 text") from None
    policy = parse_policy(text, source)
    policy.sha256 = hashlib.sha256(raw).hexdigest()
    return policy
