#!/usr/bin/env bash
# A release step, as a CI job or an orchestrator task runs it (docs/OPERATIONS.md "A release step"):
#   1. fit, generate, evaluate and gate the bundled fraud table, each command tracked in MLflow;
#      a FAIL verdict stops the step (exit 1) and nothing is released;
#   2. a month later the data drifts (planted here: every amount x1.5, a new provider among frauds);
#   3. `synthgen drift` sees it and `synthgen refresh` refits on the new table, generates, evaluates
#      and gates again; its FAIL stops the step too.
# Every command appends to the audit log, verified at the end.
#
# Usage: examples/release.sh [WORK_DIR]   (default: release-demo; outputs there are replaced)
# MLflow: MLFLOW_TRACKING_URI when set, else MLflow's default local store in WORK_DIR (mlflow.db).
# SYNTHGEN and PYTHON name the commands to run (default: synthgen and python on PATH); EVALUATE_ARGS
# adds options to evaluate and refresh (e.g. "--utility-repeats 1 --protected region").
set -euo pipefail

SYNTHGEN=${SYNTHGEN:-synthgen}
PYTHON=${PYTHON:-python}
WORK=${1:-release-demo}
SEED=${SEED:-0}
N=${N:-700}  # as many rows as the fraud rows of the train split
read -r -a EVALUATE <<< "${EVALUATE_ARGS:-}"

mkdir -p "$WORK"
cd "$WORK"
export SYNTHGEN_AUDIT_LOG=${SYNTHGEN_AUDIT_LOG:-$PWD/audit.jsonl}
step() { printf '\n== %s\n' "$*"; }

step "data: the bundled fraud table now (fraud.csv) and next month with planted drift (fraud_next.csv)"
"$PYTHON" - <<'PY'
from synthgen.datasets import load_fraud

df = load_fraud()
df.to_csv("fraud.csv", index=False)
drifted = df.copy()
drifted["amount"] = (drifted["amount"] * 1.5).round().astype("int64")
frauds = drifted.index[drifted["fraud"]]
drifted.loc[frauds[::3], "provider"] = "NewPay"  # a provider no fraud had before
drifted.to_csv("fraud_next.csv", index=False)
print(f"fraud.csv: {len(df):,} rows, {int(df['fraud'].sum()):,} frauds; fraud_next.csv: amounts x1.5, "
      f"{len(frauds[::3]):,} frauds with the new provider 'NewPay'")
PY

step "release: fit, generate, evaluate, gate (tracked)"
"$SYNTHGEN" fit fraud.csv --target fraud --generator gaussian-copula --seed "$SEED" --out model --force --track
"$SYNTHGEN" generate model -n "$N" --out synthetic.csv --force --no-progress --track
"$SYNTHGEN" evaluate model --data fraud.csv --synthetic synthetic.csv --out scorecard.json --force --track \
  ${EVALUATE[@]+"${EVALUATE[@]}"}
"$SYNTHGEN" gate scorecard.json --out verdict.json --force --track  # exit 1 on FAIL: set -e stops here

step "monitor: drift of next month's table against the model's stored profile"
status=0
"$SYNTHGEN" drift model fraud_next.csv --out drift.json --html drift.html --force || status=$?
case $status in
  0) echo "no significant drift" ;;
  1) echo "significant drift: re-augment" ;;
  *) exit "$status" ;;
esac

step "refresh: refit on the new table when it drifted, then generate, evaluate, gate (tracked)"
"$SYNTHGEN" refresh model --data fraud_next.csv --out model_next --synthetic-out synthetic_next.csv -n "$N" \
  --force --quiet --track ${EVALUATE[@]+"${EVALUATE[@]}"}

step "lineage of the released rows, and the audit log"
"$SYNTHGEN" lineage synthetic_next.csv
"$SYNTHGEN" audit verify
