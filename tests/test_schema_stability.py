"""Detected kinds do not change on a random 30% or 70% of a table's rows (../shared/data tables).

A train/test split must not turn a policy number into a number: detection reads only what a
large random subset keeps (dtype, distinct values, repeats or not, spread over the range, the
column name), never exact consecutiveness or a share of distinct values to rows.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from synthgen.datasets import load_fraud
from synthgen.schema import ColumnKind, Schema

from conftest import shared_table

TABLES = {  # name -> target
    "evalml_fraud_transactions": "fraud",
    "german_credit": "class",
    "adult": "income",
    "adult_test": "income",
}
FRACTIONS = (0.3, 0.7)
SEEDS = (0, 1, 2)
# measurement columns that must never read as identifiers or keys
MEASUREMENTS = {
    "evalml_fraud_transactions": ["amount", "lat", "lng"],
    "german_credit": ["duration_months", "credit_amount", "age", "installment_rate_pct"],
    "adult": ["age", "fnlwgt", "capital-gain", "capital-loss", "hours-per-week"],
    "adult_test": ["age", "fnlwgt", "capital-gain", "capital-loss", "hours-per-week"],
}


def kinds(df: pd.DataFrame, target: str | None) -> dict[str, str]:
    return {c.name: c.kind.value for c in Schema.detect(df, target=target).columns}


def subsets(df: pd.DataFrame):
    for fraction in FRACTIONS:
        for seed in SEEDS:
            yield fraction, seed, df.sample(frac=fraction, random_state=seed)


def assert_stable(df: pd.DataFrame, target: str | None) -> dict[str, str]:
    full = kinds(df, target)
    for fraction, seed, part in subsets(df):
        got = kinds(part, target)
        changed = {c: (full[c], got[c]) for c in full if got[c] != full[c]}
        assert not changed, f"{fraction:.0%} subset (seed {seed}): kinds changed (full, subset): {changed}"
    return full


@pytest.mark.parametrize("name", sorted(TABLES))
def test_shared_table_kinds_stable_under_subsets(name):
    df = shared_table(name)
    full = assert_stable(df, TABLES[name])
    for col in MEASUREMENTS[name]:
        assert full[col] in ("integer", "continuous"), (col, full[col])


def test_fraud_table_keys_and_identifier():
    full = kinds(shared_table("evalml_fraud_transactions"), "fraud")
    assert full["id"] == "identifier"
    assert full["card_id"] == "key" and full["store_id"] == "key"


def made_ids(n: int, seed: int) -> pd.DataFrame:
    """Identifier columns of every common shape, one value per row, with names that say nothing."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    halves = rng.integers(0, 2**63, size=(n, 2), dtype=np.uint64)
    return pd.DataFrame({
        "made_consecutive": np.arange(1_000, 1_000 + n),
        "made_shuffled": 5_000 + order,
        "made_gapped": 70_000 + np.cumsum(rng.integers(1, 5, size=n)),  # steps of 1-4: numbers skipped
        "made_padded": [f"{i:06d}" for i in order],
        "made_uuid": [str(uuid.UUID(int=(int(a) << 64) | int(b))) for a, b in halves],
        "made_code": [f"POL-{i:05d}" for i in order],
        "policy_id": 10_000 + 3 * order,  # ID-like name
    })


def made_keys(n: int, seed: int) -> pd.DataFrame:
    """Key columns: entities (a third as many as rows) that several rows share, skewed like customers."""
    rng = np.random.default_rng(seed + 100)
    entities = max(n // 3, 60)
    weights = rng.pareto(2.0, entities) + 1
    pick = rng.choice(entities, size=n, p=weights / weights.sum())
    return pd.DataFrame({
        "customer_id": 40_000 + 7 * pick,
        "terminal_id": [f"T{i:06d}" for i in pick],  # text key with an ID-like name
        "account": [f"ACC-{i:05d}" for i in pick],  # codes, no ID-like name
    })


@pytest.mark.parametrize("name", sorted(TABLES))
def test_made_ids_and_keys_on_shared_tables(name):
    df = shared_table(name)
    df = pd.concat([df, made_ids(len(df), 5), made_keys(len(df), 5)], axis=1)
    full = assert_stable(df, TABLES[name])
    for col in made_ids(30, 0).columns:
        assert full[col] == "identifier", (col, full[col])
    for col in made_keys(30, 0).columns:
        assert full[col] == "key", (col, full[col])


def test_few_uniform_amounts_are_not_identifiers():
    """A few hundred amounts drawn from 1..100,000 can be all distinct and evenly spread by luck:
    with so few expected repeats that says nothing, so they stay whole numbers."""
    fraud = load_fraud()
    for n in (50, 200, 500, 1_000, 3_000):
        for seed in range(3):
            part = fraud.sample(n=n, random_state=seed)
            assert Schema.detect(part[["amount"]])["amount"].kind == ColumnKind.INTEGER, (n, seed)


def test_identifier_reasons_name_the_rule():
    df = made_ids(500, 1)
    schema = Schema.detect(df)
    assert "spread evenly" in schema["made_shuffled"].reason and "KS" in schema["made_shuffled"].reason
    assert schema["policy_id"].reason.startswith("ID-like name")
    # zero-padded numbers kept as text: generated values are text with a prefix no real value has
    assert schema["made_padded"].dtype == "object" and schema["made_padded"].id_prefix == "SYN-"
    assert schema["made_code"].id_prefix == "SYN-"


def test_words_ending_in_id_are_not_id_names():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"amount_paid": rng.integers(0, 300, 2_000), "valid": rng.integers(0, 90, 2_000),
                       "cardId": rng.integers(0, 300, 2_000)})
    got = kinds(df, None)
    assert got == {"amount_paid": "integer", "valid": "integer", "cardId": "key"}
