"""Small real public tables bundled with synthgen: the embedded default for the demo and tests.

- ``load_fraud()``: 50,000 card transactions (evalml demo data, BSD-3-Clause) with the fraud
  rows thinned to 2% (1,000 rows); target ``fraud``. Mixed types: integer IDs, a datetime,
  an amount in cents, 164 currencies, a boolean, an ``MM/YY`` expiry date, lat/lng, and
  empty ``country`` cells.
- ``load_german_credit()``: UCI Statlog German credit (CC BY 4.0), 1,000 rows; target
  ``class`` (2 = bad, 300 rows); protected attributes ``personal_status_sex`` and ``age``.

Rebuilt by scripts/make_demo_data.py.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_fraud", "load_german_credit", "DATASETS"]


def _read(name: str) -> pd.DataFrame:
    with resources.files(__name__).joinpath(name).open("rb") as handle:
        return pd.read_csv(handle, compression="gzip")


def load_fraud() -> pd.DataFrame:
    """50,000 card transactions, 2% fraud (target ``fraud``, rare label ``True``)."""
    return _read("fraud.csv.gz")


def load_german_credit() -> pd.DataFrame:
    """1,000 credit applicants, 30% bad (target ``class``, rare label ``2``)."""
    return _read("german_credit.csv.gz")


# name -> (loader, target column, protected columns), used by the demo and the CLI
DATASETS = {
    "fraud": (load_fraud, "fraud", []),
    "german_credit": (load_german_credit, "class", ["personal_status_sex"]),
}
