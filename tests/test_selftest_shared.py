"""`synthgen selftest` on every table in ../shared/data: the default policy is right on each (the evalml
fraud table, the longest, is in test_selftest_evalml.py so that the two test workers share the load)."""

from __future__ import annotations

import pytest

from _selftest_checks import check
from conftest import shared_table
from synthgen.selftest import run_selftest


@pytest.mark.shared_data
@pytest.mark.parametrize("name, target, protected", [
    ("german_credit", "class", ["age"]),
    ("adult", "income", ["sex", "race"]),
    ("adult_test", "income", ["race"]),
])
def test_default_policy_is_right_on_every_shared_table(name, target, protected):
    check(run_selftest(shared_table(name), target, protected=protected or None, seed=1), protected=bool(protected))
