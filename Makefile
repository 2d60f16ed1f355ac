# Every target sets up .venv when needed: a fresh clone needs only `make demo` or `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo pipeline-demo test test-slow bench install browser clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned, so the local CPU build is used (see constraints.txt)
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	# anonymeter pins numpy<1.27 and pyarrow<22 but runs on ours (see pyproject's privacy extra)
	$(BIN)/pip install -q --no-deps anonymeter==1.1.0
	# smote-variants (the reference for polynom-fit-smote and prowsyn) requires tensorflow, keras and mkl, which the
	# parts we load never import; what they do import comes with the smote-variants extra (see pyproject)
	$(BIN)/pip install -q --no-deps smote-variants==1.0.1
	touch $(STAMP)

install: $(STAMP)

# Headless Chromium for the HTML report tests (Debian's package; needs root, as on CI).
# Without it the browser tests skip with a reason, except under CI=true where they fail.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: browser tests will skip"; }

demo: $(STAMP)
	$(BIN)/synthgen demo --out reports/demo

# The production loop on the bundled data (examples/release.sh): fit, generate, evaluate, gate (tracked in
# MLflow's local store there), a planted drift, refresh, lineage, audit verify; into reports/pipeline-demo.
pipeline-demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" PYTHON="$(CURDIR)/$(BIN)/python" bash examples/release.sh reports/pipeline-demo

# Two test workers on two cores: one OpenMP/BLAS thread each (scikit-learn's histogram boosting, torch), as more
# only oversubscribes the cores (results are the same: a scorecard is byte-identical with 1 and 2 threads).
test: $(STAMP) browser
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(BIN)/python -m pytest -n 2 --dist loadfile -q --durations=25

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python -m evaluation.benchmarks.run_all

clean:
	rm -rf $(VENV) build *.egg-info
