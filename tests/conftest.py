"""Shared fixtures: real tables from ../shared/data (skipped with a reason when absent, never under CI)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def shared_table(name: str) -> pd.DataFrame:
    """Read ../shared/data/NAME.csv.gz; skip when it is absent (fail under CI=true, where it must exist)."""
    path = SHARED / f"{name}.csv.gz"
    if not path.exists():
        if IN_CI:
            pytest.fail(f"{path} is missing under CI=true; shared data tests must run in CI")
        pytest.skip(f"{path} not found: shared data tests need ../shared/data beside the checkout")
    return _cached(str(path)).copy()


_CACHE: dict[str, pd.DataFrame] = {}


def _cached(path: str) -> pd.DataFrame:
    if path not in _CACHE:
        _CACHE[path] = pd.read_csv(path)
    return _CACHE[path]


@pytest.fixture(scope="session")
def fraud_shared() -> pd.DataFrame:
    """The evalml fraud table with fraud thinned to 2% of 20,000 rows (400 fraud), seeded."""
    df = shared_table("evalml_fraud_transactions")
    legit = df[~df["fraud"]].sample(n=19_600, random_state=1)
    fraud = df[df["fraud"]].sample(n=400, random_state=1)
    return pd.concat([legit, fraud]).sort_index().reset_index(drop=True)


@pytest.fixture(scope="session")
def german_shared() -> pd.DataFrame:
    return shared_table("german_credit")


@pytest.fixture(scope="session")
def adult_shared() -> pd.DataFrame:
    return shared_table("adult")
