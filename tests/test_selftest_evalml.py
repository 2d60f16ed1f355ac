"""`synthgen selftest` on the evalml fraud table of ../shared/data (its own file: the longest selftest,
so `pytest -n 2 --dist loadfile` runs it beside the other shared tables)."""

from __future__ import annotations

import pytest

from _selftest_checks import check
from conftest import shared_table
from synthgen.selftest import run_selftest


@pytest.mark.shared_data
def test_default_policy_is_right_on_the_evalml_fraud_table():
    check(run_selftest(shared_table("evalml_fraud_transactions"), "fraud", seed=1), protected=False)
