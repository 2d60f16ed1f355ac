"""Schema detection, validation, JSON round trip and restore, on the real tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgen.exceptions import IncompatibleModelError, SchemaError
from synthgen.schema import ColumnKind, Schema
from synthgen.datasets import load_fraud, load_german_credit


def kinds(schema: Schema) -> dict[str, str]:
    return {c.name: c.kind.value for c in schema.columns}


def test_detects_fraud_table_kinds():
    schema = Schema.detect(load_fraud(), target="fraud")
    assert kinds(schema) == {
        "id": "identifier", "card_id": "key", "store_id": "key", "datetime": "datetime",
        "amount": "integer", "currency": "categorical", "customer_present": "boolean", "fraud": "categorical",
        "expiration_date": "datetime", "provider": "categorical", "lat": "continuous", "lng": "continuous",
        "region": "categorical", "country": "categorical",
    }
    assert schema["expiration_date"].datetime_format == "%m/%y"
    assert schema["datetime"].datetime_format == "%Y-%m-%d %H:%M:%S"
    assert schema["country"].missing_rate == pytest.approx(36 / 50_000)
    assert len(schema["currency"].categories) == 164


def test_detects_personal_data_and_codes():
    n = 200
    df = pd.DataFrame({
        "email": [f"person{i}@bank{i % 3}.example.org" for i in range(n)],
        "phone": [f"+44 20 7946 {i:04d}" for i in range(n)],
        "customer_name": [f"Name{i} Surname{i % 50}" for i in range(n)],
        "note": [f"customer called about the card ending {i} and asked for a refund" for i in range(n)],
        "txn_ref": [f"TX{i:08d}" for i in range(n)],
        "label": [i % 10 == 0 for i in range(n)],
    })
    got = kinds(Schema.detect(df, target="label"))
    assert got == {"email": "personal", "phone": "personal", "customer_name": "personal", "note": "personal",
                   "txn_ref": "identifier", "label": "categorical"}


def test_overrides_and_their_errors():
    df = load_german_credit()
    schema = Schema.detect(df, target="class", overrides={"age": "continuous", "job": "categorical"})
    assert schema["age"].kind == ColumnKind.CONTINUOUS
    with pytest.raises(SchemaError, match="'nope'.*not in the table.*unknown kind"):
        Schema.detect(df, target="class", overrides={"nope": "integer", "age": "weird"})


def test_all_problems_collected_in_one_error():
    df = load_german_credit().assign(blank=np.nan, same=1, amount_text="5")
    df.loc[3, "amount_text"] = "five"
    with pytest.raises(SchemaError) as info:
        Schema.detect(df, target="class")
    assert len(info.value.problems) == 3
    message = str(info.value)
    assert "'blank'" in message and "'same'" in message and "'amount_text'" in message and "row 3" in message


def test_json_round_trip_and_version():
    schema = Schema.detect(load_fraud(), target="fraud")
    again = Schema.from_json(schema.to_json())
    assert again.to_dict() == schema.to_dict()
    data = schema.to_dict()
    data["schema_version"] = 7
    with pytest.raises(IncompatibleModelError, match="version 7"):
        Schema.from_dict(data)


def test_validate_names_missing_and_unparseable():
    df = load_fraud().head(500)
    schema = Schema.detect(df, target="fraud")
    bad = df.drop(columns=["lat"]).astype({"amount": object})
    bad.loc[bad.index[4], "amount"] = "n/a"
    with pytest.raises(SchemaError, match="columns missing from the table: lat.*'amount'"):
        schema.validate(bad)


def test_restore_types():
    df = load_fraud().head(1000)
    schema = Schema.detect(df, target="fraud")
    low, high = df["amount"].min(), df["amount"].max()
    amount = schema.restore_column(schema["amount"], np.array([low + 0.4, low + 1.6, np.nan, 1e12, -5.0]))
    assert amount.dtype == "Int64"  # int64 with missing values becomes its nullable twin
    assert amount.tolist()[:2] == [low, low + 2] and amount.isna().tolist()[2]
    assert amount.iloc[3] == high and amount.iloc[4] == low  # clipped to the real range
    expiry = schema["expiration_date"]
    secs = schema.to_numeric(expiry, df["expiration_date"])
    assert schema.restore_column(expiry, secs).tolist() == df["expiration_date"].tolist()
