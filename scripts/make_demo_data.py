"""Rebuild the bundled demo tables in synthgen/datasets from ../shared/data (run once, output committed).

fraud.csv.gz: the evalml demo transactions with the fraud rows thinned to 2% so the class
is truly rare: 49,000 legitimate + 1,000 fraud rows drawn with seed 0, original row order kept.
german_credit.csv.gz: UCI Statlog German credit, unchanged.
"""

import shutil
import sys
from pathlib import Path

import pandas as pd

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
DST = Path(__file__).resolve().parents[1] / "synthgen" / "datasets"

df = pd.read_csv(SRC / "evalml_fraud_transactions.csv.gz")
legit = df[~df["fraud"]].sample(n=49_000, random_state=0)
fraud = df[df["fraud"]].sample(n=1_000, random_state=0)
demo = pd.concat([legit, fraud]).sort_index()
demo.to_csv(DST / "fraud.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
shutil.copyfile(SRC / "german_credit.csv.gz", DST / "german_credit.csv.gz")
print(len(demo), demo["fraud"].mean(), demo["country"].isna().sum())
