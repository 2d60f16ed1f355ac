"""Gate: a versioned TOML policy turns a scorecard into PASS / FAIL with one line per rule.

Policy format (see synthgen/policies/default.toml)::

    policy_version = "1"
    [rules]
    "leakage.holdout_copy_rate" = "<= 0"
    "realism.column_shapes" = ">= 0.80"

A rule names a scorecard metric (or ``quality_score`` / ``subscores.NAME``), an operator
and a number. Unknown metrics and malformed thresholds raise PolicyError naming the line.
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
from typing import Any

from .evaluation.base import METRICS
from .evaluation.scorecard import Scorecard
from .exceptions import PolicyError
from .io import atomic_path

__all__ = ["Policy", "Rule", "Verdict", "load_policy", "DEFAULT_POLICY"]

DEFAULT_POLICY = "default.toml"
_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq}
_RULE = re.compile(r"^\s*(<=|>=|==|<|>)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")
_EXTRA = {"quality_score"} | {f"subscores.{s}" for s in ("realism", "utility", "privacy", "fairness")}


@dataclass(frozen=True)
class Rule:
    """One threshold on one metric."""

    metric: str
    op: str
    threshold: float
    line: int

    def check(self, value: float | None) -> bool | None:
        """True/False, or None when the scorecard has no value for the metric."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return bool(_OPS[self.op](float(value), self.threshold))


@dataclass
class Verdict:
    """PASS/FAIL of a scorecard under a policy, rule by rule."""

    passed: bool
    rules: list[dict]
    policy: dict

    @property
    def failed_rules(self) -> list[dict]:
        return [r for r in self.rules if r["passed"] is False]

    def to_dict(self) -> dict:
        return {"passed": self.passed, "rules": self.rules, "policy": self.policy}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike, *, force: bool = True) -> Path:
        """Write the verdict JSON atomically."""
        with atomic_path(path, force=force) as tmp:
            tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        return Path(path)

    def summary(self) -> str:
        """One line per rule, then PASS or FAIL."""
        lines = []
        for r in self.rules:
            mark = {True: "PASS", False: "FAIL", None: "n/a "}[r["passed"]]
            value = "missing" if r["value"] is None else f"{r['value']:.4g}"
            lines.append(f"{mark} {r['metric']} {r['op']} {r['threshold']:g} (value {value})")
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

    def check(self, scorecard: Scorecard) -> Verdict:
        """Apply every rule; the verdict fails when any applicable rule fails."""
        results = []
        for rule in self.rules:
            value = scorecard.value(rule.metric)
            ok = rule.check(value)
            results.append({"metric": rule.metric, "op": rule.op, "threshold": rule.threshold,
                            "value": value, "passed": ok,
                            "status": "pass" if ok else ("not applicable" if ok is None else "fail")})
        passed = all(r["passed"] is not False for r in results)
        return Verdict(passed=passed, rules=results,
                       policy={"path": self.path, "sha256": self.sha256, "version": self.version,
                               "name": self.name})


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
    rules = []
    for key, spec in rules_table.items():
        line = _line_of(lines, key)
        where = f"policy '{source}' line {line}"
        if key not in METRICS and key not in _EXTRA:
            raise PolicyError(f"{where}: unknown metric '{key}'; known: {', '.join(sorted(METRICS) + sorted(_EXTRA))}")
        match = _RULE.match(spec) if isinstance(spec, str) else None
        if match is None:
            raise PolicyError(f"{where}: malformed threshold {spec!r} for '{key}'; expected e.g. \"<= 0.05\" "
                              f"(operators {', '.join(_OPS)})")
        rules.append(Rule(metric=key, op=match.group(1), threshold=float(match.group(2)), line=line))
    return Policy(rules=rules, version=str(data["policy_version"]), path=source,
                  sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), name=str(data.get("name", "")),
                  extra={k: v for k, v in data.items() if k not in ("rules", "policy_version", "name")})


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
