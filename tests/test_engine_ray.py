"""`generate --engine ray` (synthgen/engine.py): blocks of rows as Ray tasks on a local 2-CPU Ray started here,
byte-identical to the local engine for the same seed and chunk size, as one file or a Parquet dataset folder."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from synthgen.cli import main
from synthgen.datasets import load_german_credit
from synthgen.engine import RayEngine, make_engine
from synthgen.exceptions import UsageError
from synthgen.pipeline import generate_file

ray = pytest.importorskip("ray", reason="the Ray engine needs ray: pip install 'synthgen[ray]'")

ROWS = 220_000  # smote on german credit draws blocks of 100,000 rows: 3 blocks, the last one short


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs for this module, stopped at its end (the engine joins it and leaves it running)."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("engine")
    load_german_credit().to_csv(root / "german.csv", index=False)
    assert main(["fit", str(root / "german.csv"), "--target", "class", "--generator", "smote", "--seed", "3",
                 "--out", str(root / "model")]) == 0
    return root / "model"


def test_blocks_are_seeded_by_index(model):
    from synthgen.store import load

    gen = load(model)
    blocks = gen.sample_blocks(ROWS)
    assert [(b.index, b.rows, b.row_offset) for b in blocks] == [(0, 100_000, 0), (1, 100_000, 100_000),
                                                                 (2, 20_000, 200_000)]
    backwards = pd.concat([gen.sample_block(b) for b in reversed(blocks)][::-1], ignore_index=True)
    assert backwards.equals(gen.sample(ROWS))  # any order of blocks gives the same rows


def test_an_address_nobody_answers_is_refused_at_once(model, tmp_path, capsys):
    assert not ray.is_initialized()  # before the module's Ray starts: the engine would otherwise join it
    code = main(["generate", str(model), "-n", "10", "--out", str(tmp_path / "x.csv"), "--engine", "ray",
                 "--ray-address", "127.0.0.1:9"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err  # Ray's own client would retry that address for minutes
    assert "--ray-address '127.0.0.1:9': no Ray cluster answers there" in err
    assert not (tmp_path / "x.csv").exists() and not ray.is_initialized()
    code = main(["evaluate", str(model), "--data", str(model.parent / "german.csv"), "--synthetic", str(tmp_path / "x.csv"),
                 "--out", str(tmp_path / "card.json"), "--engine", "ray", "--ray-address", "127.0.0.1:9"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.endswith("--ray-address '127.0.0.1:9': no Ray cluster answers there (Connection refused); "
                                      "start one with `ray start --head` or leave the address out for a local Ray")
    assert "\n" not in err and not (tmp_path / "card.json").exists() and not ray.is_initialized()


@pytest.mark.parametrize("name", ["rows.csv", "rows.parquet"])
def test_ray_file_equals_local_file(model, local_ray, tmp_path, name):
    generate_file(model, ROWS, tmp_path / f"local-{name}", chunk_size=7_000, progress=False)
    result = generate_file(model, ROWS, tmp_path / f"ray-{name}", chunk_size=7_000, progress=False, engine="ray")
    assert result.rows == ROWS
    assert sha(tmp_path / f"ray-{name}") == sha(tmp_path / f"local-{name}")
    assert ray.is_initialized()  # the engine joined the running Ray and left it running


def test_ray_dataset_folder_equals_local_and_reads_back(model, local_ray, tmp_path):
    generate_file(model, ROWS, tmp_path / "local", progress=False)
    generate_file(model, ROWS, tmp_path / "ray", progress=False, engine="ray")
    parts = sorted(p.name for p in (tmp_path / "ray").iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    for part in parts:
        assert sha(tmp_path / "ray" / part) == sha(tmp_path / "local" / part)
    from synthgen.io import read_table

    rows = read_table(tmp_path / "ray")
    assert len(rows) == ROWS
    generate_file(model, ROWS, tmp_path / "one.parquet", progress=False)
    assert rows.equals(pd.read_parquet(tmp_path / "one.parquet"))  # the folder holds the one file's rows


def test_one_task_at_a_time_gives_the_same_rows(model, local_ray, tmp_path):
    from synthgen.pipeline import sample_block
    from synthgen.store import load

    gen = load(model)
    blocks = gen.sample_blocks(ROWS)
    with RayEngine(in_flight=1) as one, RayEngine() as many:
        a = pd.concat(list(one.map(sample_block, blocks, shared=gen)), ignore_index=True)
        b = pd.concat(list(many.map(sample_block, blocks, shared=gen)), ignore_index=True)
    assert a.equals(b) and a.equals(gen.sample(ROWS))


def test_cli_joins_an_existing_cluster_by_address(model, local_ray, tmp_path):
    env = {**os.environ, "SYNTHGEN_AUDIT_LOG": "off"}
    proc = subprocess.run([sys.executable, "-m", "synthgen.cli", "generate", str(model), "-n", "60000", "--out",
                           str(tmp_path / "joined.csv"), "--engine", "ray", "--ray-address", local_ray,
                           "--no-progress"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    generate_file(model, 60_000, tmp_path / "local.csv", progress=False)
    assert sha(tmp_path / "joined.csv") == sha(tmp_path / "local.csv")
    assert ray.is_initialized()  # the cluster the command joined is still running


def test_bad_engine_settings_are_one_line_errors(model, tmp_path):
    with pytest.raises(UsageError, match="--ray-address needs --engine ray"):
        make_engine("local", address="127.0.0.1:6379")
    with pytest.raises(UsageError, match=r"--engine: expected one of local, ray, got 'spark'"):
        make_engine("spark")
    with pytest.raises(UsageError, match=r"--workers: expected a whole number >= 1, got 0"):
        RayEngine(workers=0)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(UsageError, match="is a folder that synthgen did not write"):
        generate_file(model, 10, tmp_path / "mine", force=True, progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_ray_compare_equals_local(local_ray, tmp_path):
    """compare --engine ray: each generator x seed a Ray task; runs, scorecards and verdicts equal the local
    engine's (only timings differ)."""
    from synthgen.compare import run_compare

    df = load_german_credit()
    # two runs, one amount each: the merge in local order is what is tested (CI measured 284 s with 2 amounts)
    common = dict(generators=["smote", "gaussian-copula"], seeds=[0], utility_repeats=1, progress=None)
    local = run_compare(df, "class", out=tmp_path / "local", **common)
    remote = run_compare(df, "class", out=tmp_path / "ray", engine="ray", **common)
    assert local.deterministic_dict() == remote.deterministic_dict()
    names = sorted(p.name for p in (tmp_path / "local" / "scorecards").iterdir())
    assert len(names) == 2 and names == sorted(p.name for p in (tmp_path / "ray" / "scorecards").iterdir())
    for folder in ("scorecards", "verdicts"):
        for name in names:
            a = json.loads((tmp_path / "local" / folder / name).read_text())
            b = json.loads((tmp_path / "ray" / folder / name).read_text())
            a.pop("timings", None), b.pop("timings", None)
            assert a == b, (folder, name)


def test_ray_evaluate_gives_the_local_scorecard(local_ray, monkeypatch):
    """DCR over the synthetic rows in chunks and the utility fits as Ray tasks: the same scorecard as the local
    engine and as no engine at all (chunks of 64 rows here, so the 420 synthetic rows make 7 DCR tasks)."""
    from _scenarios import copula_sample, german_setup
    from synthgen.evaluation import evaluate
    from synthgen.evaluation import leakage as L

    train, holdout, target, label, protected = german_setup()
    syn = copula_sample(train, target, label, 420)
    monkeypatch.setattr(L, "DCR_TASK_ROWS", 64)
    monkeypatch.setattr(L, "BLOCK_ELEMENTS", 8 * 210)  # 8-row blocks against the 210 train rare rows

    def card(engine):
        return evaluate(train, holdout, syn, target, protected=protected, random_state=1, utility_models=["logreg"],
                        utility_repeats=2, engine=engine).to_json()

    with make_engine("ray", address=local_ray) as engine:
        on_ray = card(engine)
    with make_engine("local") as engine:
        assert card(engine) == on_ray
    assert card(None) == on_ray


def test_cli_evaluate_on_ray_writes_the_local_scorecard(model, local_ray, tmp_path, capsys):
    data = model.parent / "german.csv"
    syn = tmp_path / "syn.csv"
    assert main(["generate", str(model), "-n", "300", "--out", str(syn), "--no-progress"]) == 0
    common = ["evaluate", str(model), "--data", str(data), "--synthetic", str(syn), "--utility-repeats", "1"]
    assert main([*common, "--out", str(tmp_path / "local.json")]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("evaluate:")]
    assert lines[0] == "evaluate: realism (1/5)..." and lines[-1].startswith("evaluate: fairness skipped")
    assert len(lines) == 10
    assert main([*common, "--out", str(tmp_path / "ray.json"), "--engine", "ray", "--ray-address", local_ray,
                 "--quiet"]) == 0
    assert "evaluate:" not in capsys.readouterr().err
    assert sha(tmp_path / "ray.json") == sha(tmp_path / "local.json")
