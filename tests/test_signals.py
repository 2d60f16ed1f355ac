"""Cancellation (issue 10 part 7): SIGTERM, the way Kubernetes, Argo and CI runners stop a job, is handled
like Ctrl-C: temporaries removed, exit 143, one line, the audit entry says 143. Real processes (the
`synthgen` console script) are signalled mid-generate, mid-fit and mid-compare on the bundled German
credit table; stale temporaries left by killed processes are cleared from output folders."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from _scenarios import fitted_model
from synthgen import audit, cli
from synthgen.cli import main
from synthgen.datasets import load_german_credit
from synthgen.io import remove_stale_temporaries

EXE = Path(sys.executable).with_name("synthgen")
DAY = 24 * 3600


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return fitted_model(tmp_path_factory.mktemp("signals"), load_german_credit(), "class", "smote", "german.csv")


def _start(folder: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    err = folder / "stderr.txt"
    with open(err, "wb") as handle:
        proc = subprocess.Popen([str(EXE), *map(str, args)], cwd=folder, stdout=subprocess.DEVNULL, stderr=handle)
    return proc, err


def _poll(proc: subprocess.Popen, ready: Callable[[], bool], what: str, limit_s: float = 300) -> None:
    """Wait until ``ready()`` while the process runs (polled every 20 ms); fail if it ends first."""
    deadline = time.monotonic() + limit_s
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the command ended (exit {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no sign of {what} after {limit_s:.0f} s")
        time.sleep(0.02)


def _terminate(proc: subprocess.Popen) -> int:
    try:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _lines(path: Path) -> list[str]:
    return [ln for ln in re.split(r"[\r\n]", path.read_text(encoding="utf-8", errors="replace")) if ln.strip()]


def _last_audit_entry() -> dict:
    return list(audit.entries(os.environ["SYNTHGEN_AUDIT_LOG"]))[-1]


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old")))


def test_sigterm_mid_generate(work, tmp_path):
    out = tmp_path / "big.csv"
    proc, err = _start(tmp_path, "generate", work / "model", "-n", "5000000", "--out", out, "--no-progress")
    table_tmp = lambda: [p for p in tmp_path.glob(".big.csv.*.tmp") if p.stat().st_size > 0]  # noqa: E731
    _poll(proc, lambda: bool(table_tmp()), "rows being written to the temporary file")
    assert _terminate(proc) == 143
    assert _lines(err) == ["synthgen generate: terminated (SIGTERM); nothing was written"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stderr.txt"]  # no table, manifest or temporary
    entry = _last_audit_entry()
    assert (entry["command"], entry["exit_status"], entry["error"]) == ("generate", 143, "terminated (SIGTERM)")
    assert entry["outputs"] == [{"path": str(out), "type": None, "sha256": None}]


def test_sigterm_mid_fit(work, tmp_path):
    proc, err = _start(tmp_path, "fit", work / "german.csv", "--target", "class", "--generator", "ctgan",
                       "--param", "epochs=100000", "--out", tmp_path / "model")
    _poll(proc, lambda: "Gen." in err.read_text(errors="replace"), "CTGAN training (its progress bar)")
    assert _terminate(proc) == 143
    lines = _lines(err)
    assert lines[-1] == "synthgen fit: terminated (SIGTERM); nothing was written"
    assert all("%|" in ln for ln in lines[:-1]), lines  # the rest is CTGAN's progress bar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stderr.txt"]
    entry = _last_audit_entry()
    assert (entry["command"], entry["exit_status"], entry["error"]) == ("fit", 143, "terminated (SIGTERM)")


def test_sigterm_mid_compare_keeps_the_old_report(work, tmp_path):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "keep.txt").write_text("the previous report\n")
    proc, err = _start(tmp_path, "compare", work / "german.csv", "--target", "class", "--generators", "smote",
                       "--out", out, "--force")
    _poll(proc, lambda: "evaluate against the real holdout" in err.read_text(), "the evaluation")
    assert [p.name for p in tmp_path.glob(".cmp.*.tmp")]  # the partial report folder is there now
    assert _terminate(proc) == 143
    lines = _lines(err)
    assert lines[-1] == "synthgen compare: terminated (SIGTERM); nothing was written"
    assert all(ln.startswith("[1/1] smote (seed 0): ") for ln in lines[:-1]), lines
    assert _temporaries(tmp_path) == []  # the partial folder is removed
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]  # --force replaces only on success
    entry = _last_audit_entry()
    assert (entry["command"], entry["exit_status"], entry["error"]) == ("compare", 143, "terminated (SIGTERM)")


def test_cli_handler_only_while_a_command_runs(monkeypatch, capsys, _audit_log):
    """In-process: SIGTERM during a command gives 143 and one line; the caller's handler is restored."""
    seen = []

    def command(args):
        seen.append(signal.getsignal(signal.SIGTERM))
        signal.raise_signal(signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the command")

    def callers_handler(signum, frame):
        raise AssertionError("the CLI's handler should have run")

    monkeypatch.setitem(cli._COMMANDS, "lineage", command)
    previous = signal.signal(signal.SIGTERM, callers_handler)
    try:
        code = main(["lineage", "x.csv"])
        assert signal.getsignal(signal.SIGTERM) is callers_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 143 and seen == [cli._SIGTERM]
    assert capsys.readouterr().err == "synthgen lineage: terminated (SIGTERM); nothing was written\n"
    entry = list(audit.entries(_audit_log))[-1]
    assert (entry["exit_status"], entry["error"]) == (143, "terminated (SIGTERM)")


# ------------------------------------------------------------------ stale temporaries
def _aged(path: Path, seconds: float) -> Path:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp), follow_symlinks=False)
    return path


def _file(path: Path, age_s: float) -> Path:
    path.write_text("x")
    return _aged(path, age_s)


def test_stale_temporaries_only_ours_and_only_old(tmp_path):
    _file(tmp_path / ".out.csv.ab12cd34.tmp", 2 * DAY)
    old_dir = tmp_path / ".cmp.zz_99xy1.tmp"
    (old_dir / "scorecards").mkdir(parents=True)
    for p in (_file(old_dir / "scorecards" / "a.json", 2 * DAY), old_dir / "scorecards", old_dir):
        _aged(p, 2 * DAY)
    busy_dir = tmp_path / ".cmp.k3k3k3k3.tmp"  # old folder, but written to a minute ago: still in use
    (busy_dir / "verdicts").mkdir(parents=True)
    (busy_dir / "verdicts" / "b.json").write_text("{}")
    _aged(busy_dir, 2 * DAY)
    keep = {
        ".out.csv.fresh123.tmp": 60,            # ours, but fresh
        ".fresh.csv.almost24.tmp": DAY - 600,   # ours, not yet a day old
        ".other.tmp": 2 * DAY,                  # not our pattern
        ".notes.abcdefgh.tmp.bak": 2 * DAY,
        ".ab.ABCDEFGH.tmp": 2 * DAY,            # tempfile never makes capitals
        "data.abcdefgh.tmp": 2 * DAY,           # not hidden
    }
    for name, age in keep.items():
        _file(tmp_path / name, age)
    target = _file(tmp_path / "target.txt", 2 * DAY)  # a link named like ours is never followed or removed
    (tmp_path / ".link.abcdefgh.tmp").symlink_to(target)
    _aged(tmp_path / ".link.abcdefgh.tmp", 2 * DAY)
    removed = remove_stale_temporaries(tmp_path)
    assert [p.name for p in removed] == [".cmp.zz_99xy1.tmp", ".out.csv.ab12cd34.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*keep, ".cmp.k3k3k3k3.tmp", ".link.abcdefgh.tmp", "target.txt"])
    assert (busy_dir / "verdicts" / "b.json").read_text() == "{}" and target.read_text() == "x"


def test_a_command_says_what_it_cleared(work, tmp_path, capsys):
    for name in (".a.csv.aaaaaaaa.tmp", ".b.csv.bbbbbbbb.tmp", ".c.csv.cccccccc.tmp", ".d.csv.dddddddd.tmp"):
        _file(tmp_path / name, 2 * DAY)
    assert main(["generate", str(work / "model"), "-n", "5", "--out", str(tmp_path / "rows.csv"), "--no-progress"]) == 0
    assert capsys.readouterr().err == (f"synthgen: removed 4 stale temporary files older than a day in {tmp_path} "
                                       "(.a.csv.aaaaaaaa.tmp, .b.csv.bbbbbbbb.tmp, .c.csv.cccccccc.tmp, ...)\n")
    _file(tmp_path / ".rows.csv.eeeeeeee.tmp", 2 * DAY)
    assert main(["generate", str(work / "model"), "-n", "5", "--out", str(tmp_path / "rows.csv"), "--force",
                 "--no-progress"]) == 0
    assert capsys.readouterr().err == (f"synthgen: removed 1 stale temporary file older than a day in {tmp_path} "
                                       "(.rows.csv.eeeeeeee.tmp)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv", "rows.csv.manifest.json"]
