"""Relations between columns (synthgen/relations.py): found on a planted card-transaction table and on every
shared table, declared with --relation's text, and kept in 100% of repaired rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import shared_table
from synthgen.datasets import load_fraud, load_german_credit
from synthgen.exceptions import UsageError
from synthgen.relations import Relation, detect, enforce, kept_share, parse_relation
from synthgen.schema import Schema


@pytest.fixture(scope="module")
def cards() -> tuple[pd.DataFrame, Schema]:
    """5,000 card transactions: TX_TIME_DAYS = TX_TIME_SECONDS // 86400, amount <= limit, and a terminal type
    that fixes the channel; everything else independent."""
    rng = np.random.default_rng(0)
    n = 5_000
    secs = rng.integers(0, 86_400 * 180, n)
    amount = rng.gamma(2.0, 50.0, n).round(2)
    terminal = rng.choice(["pos", "atm", "web", "app"], n)
    df = pd.DataFrame({"TX_TIME_SECONDS": secs, "TX_TIME_DAYS": secs // 86_400, "amount": amount,
                       "limit": (amount + rng.gamma(2.0, 100.0, n)).round(2), "terminal": terminal,
                       "channel": np.where(np.isin(terminal, ["pos", "atm"]), "present", "remote"),
                       "age": rng.integers(18, 90, n), "fraud": rng.random(n) < 0.05})
    return df, Schema.detect(df, target="fraud")


def test_planted_relations_are_found_and_nothing_else(cards):
    df, schema = cards
    assert sorted(r.text() for r in detect(df, schema)) == [
        "TX_TIME_DAYS = TX_TIME_SECONDS // 86400", "amount <= limit", "terminal -> channel"]


@pytest.mark.shared_data
@pytest.mark.parametrize("name, target, expected", [
    ("german_credit", "class", []),  # installment rate 1-4 <= duration 4-72 holds by scale alone: not kept
    ("adult", "income", ["education -> education-num", "education-num -> education"]),
    ("adult_test", "income", ["education -> education-num", "education-num -> education"]),
    ("evalml_fraud_transactions", "fraud", []),
])
def test_relations_of_every_shared_table(name, target, expected):
    df = shared_table(name)
    assert sorted(r.text() for r in detect(df, Schema.detect(df, target=target))) == expected


def test_bundled_tables_hold_no_relation():
    for df, target in ((load_fraud(), "fraud"), (load_german_credit(), "class")):
        assert detect(df, Schema.detect(df, target=target)) == []


def test_shuffled_rows_break_them_and_enforce_repairs_every_row(cards):
    df, schema = cards
    relations = detect(df, schema)
    rng = np.random.default_rng(1)
    broken = df.apply(lambda col: rng.permutation(col.to_numpy())).astype(df.dtypes.to_dict())
    before = kept_share(broken, schema, relations)
    # what independent columns give (a seeded shuffle of each column, exact)
    assert before == {"TX_TIME_DAYS = TX_TIME_SECONDS // 86400": 0.0034, "amount <= limit": 0.9084,
                      "terminal -> channel": 0.5024}
    fixed = enforce(broken, schema, relations)
    assert kept_share(fixed, schema, relations) == {r.text(): 1.0 for r in relations}
    assert fixed.dtypes.equals(df.dtypes) and len(fixed) == len(df)
    assert fixed["TX_TIME_SECONDS"].equals(broken["TX_TIME_SECONDS"])  # sources are never changed
    assert sorted(fixed["amount"].tolist() + fixed["limit"].tolist()) == sorted(
        broken["amount"].tolist() + broken["limit"].tolist())  # order: swapped, values kept


def test_declared_relations_parse_and_are_checked_on_the_real_rows(cards):
    df, schema = cards
    rel = parse_relation("TX_TIME_DAYS = TX_TIME_SECONDS // 86400", df, schema)
    assert rel == Relation("floordiv", ("TX_TIME_SECONDS", "TX_TIME_DAYS"), 86400.0, source="declared")
    assert parse_relation("limit >= amount", df, schema).text() == "amount <= limit"
    assert parse_relation("terminal -> channel", df, schema).mapping == (
        ("app", "remote"), ("atm", "present"), ("pos", "present"), ("web", "remote"))
    assert Relation.from_dict(rel.to_dict()) == rel
    with pytest.raises(UsageError, match=r"--relation 'age <= amount': 28\.28% of the real rows break it"):
        parse_relation("age <= amount", df, schema)
    with pytest.raises(UsageError, match=r"column 'days' is not in the table"):
        parse_relation("days = TX_TIME_SECONDS // 86400", df, schema)
    with pytest.raises(UsageError, match=r"expected 'B = A // N', 'A <= B', 'A -> B' or 'A \+ B = N'"):
        parse_relation("amount ~ limit", df, schema)


def test_inspect_lists_the_relations(cards, tmp_path, capsys):
    from synthgen.cli import main

    df, _ = cards
    df.to_csv(tmp_path / "cards.csv", index=False)
    assert main(["inspect", str(tmp_path / "cards.csv"), "--target", "fraud"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("relations that hold in every row:\n  TX_TIME_DAYS = TX_TIME_SECONDS // 86400\n"
                        "  amount <= limit\n  terminal -> channel\n")
