"""The audit log: one hash-chained line per command, appended under a lock; `synthgen audit verify`
names the first edited, deleted or truncated line; a bad log location stops a command before it starts."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from synthgen import audit
from synthgen.cli import main
from synthgen.exceptions import SynthgenError
from synthgen.io import sha256_file

SCORECARD = {"scorecard_version": 1, "quality_score": 80.0, "subscores": {}, "metrics": {}, "details": {},
             "inputs": {}, "random_state": 0, "library_versions": {}}
POLICY = 'policy_version = "1"\n[rules]\n"quality_score" = ">= {}"\n'


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A scorecard, a policy it passes, one it fails, a tiny CSV."""
    (tmp_path / "card.json").write_text(json.dumps(SCORECARD))
    (tmp_path / "pass.toml").write_text(POLICY.format(50))
    (tmp_path / "fail.toml").write_text(POLICY.format(90))
    (tmp_path / "t.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    return tmp_path


@pytest.fixture
def log(_audit_log: Path) -> Path:  # the per-test SYNTHGEN_AUDIT_LOG set by conftest
    return _audit_log


def lines(path: Path) -> list[dict]:
    return [json.loads(ln) for ln in path.read_bytes().splitlines()]


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, *words: str) -> str:
    got = [ln for ln in err.splitlines() if ln.strip()]
    assert len(got) == 1, err
    for word in words:
        assert word in got[0], (word, got[0])
    return got[0]


def build_log(files: Path, n: int = 6) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(n):
            assert main(["inspect", str(files / "t.csv"), "--target", "y", "--json"]) == 0


# ------------------------------------------------------------------ entries
def test_entry_fields_hashes_and_verdicts(files, log, capsys):
    assert run(capsys, "gate", files / "card.json", "--policy", files / "pass.toml", "--out", files / "v.json")[0] == 0
    assert run(capsys, "gate", files / "card.json", "--policy", files / "fail.toml")[0] == 1
    assert run(capsys, "inspect", files / "t.csv", "--target", "y")[0] == 0
    first, second, third = lines(log)
    assert first["format"] == "synthgen-audit/1" and first["seq"] == 1 and first["prev"] == "0" * 64
    assert first["command"] == "gate" and first["exit_status"] == 0 and first["verdict"] == "PASS"
    assert first["argv"][:2] == ["synthgen", "gate"] and first["error"] is None
    assert first["time"].endswith("Z") and first["user"] and first["host"] and first["version"]
    assert first["cwd"] == os.getcwd()
    assert first["inputs"] == [
        {"path": str(files / "card.json"), "type": "file", "sha256": sha256_file(files / "card.json")},
        {"path": str(files / "pass.toml"), "type": "file", "sha256": sha256_file(files / "pass.toml")},
    ]
    assert first["outputs"] == [{"path": str(files / "v.json"), "type": "file", "sha256": sha256_file(files / "v.json")}]
    assert (second["exit_status"], second["verdict"], second["seq"]) == (1, "FAIL", 2)
    assert third["verdict"] is None and third["command"] == "inspect"
    raw = log.read_bytes().splitlines()
    assert second["prev"] == hashlib.sha256(raw[0]).hexdigest()
    assert third["prev"] == hashlib.sha256(raw[1]).hexdigest()
    # canonical: sorted keys, compact separators
    assert raw[0] == json.dumps(first, sort_keys=True, separators=(",", ":")).encode()


def test_errors_usage_errors_and_interrupts_are_recorded(files, log, capsys, monkeypatch):
    code, _, err = run(capsys, "gate", files / "missing.json", "--out", files / "v.json")
    assert code == 1 and "missing.json" in err
    code, _, _ = run(capsys, "gate")  # usage error: argparse exits 2
    assert code == 2
    from synthgen import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli._COMMANDS, "inspect", interrupted)
    assert run(capsys, "inspect", files / "t.csv", "--target", "y")[0] == 130
    failed, usage, stopped = lines(log)
    assert failed["exit_status"] == 1 and failed["verdict"] is None and "missing.json" in failed["error"]
    assert failed["inputs"][0]["type"] == "missing" and failed["inputs"][0]["sha256"] is None
    assert failed["outputs"] == [{"path": str(files / "v.json"), "type": None, "sha256": None}]
    assert (usage["command"], usage["exit_status"], usage["argv"]) == ("gate", 2, ["synthgen", "gate"])
    assert (stopped["exit_status"], stopped["error"]) == (130, "interrupted")
    assert audit.verify(log).ok


def test_audit_help_and_version_do_not_append(files, log, capsys):
    build_log(files, 2)
    before = log.read_bytes()
    assert run(capsys, "audit", "verify")[0] == 0
    assert run(capsys, "audit", "show")[0] == 0
    assert run(capsys, "audit", "show", "--since", "not-a-time")[0] == 2
    assert run(capsys, "--help")[0] == 0
    assert run(capsys, "gate", "--help")[0] == 0
    assert log.read_bytes() == before


def test_folder_digest_is_stable_and_sees_changes(tmp_path):
    (tmp_path / "m" / "sub").mkdir(parents=True)
    (tmp_path / "m" / "a.json").write_text("{}")
    (tmp_path / "m" / "sub" / "b.bin").write_bytes(b"\x00\x01")
    one = audit.digest(tmp_path / "m")
    assert one["type"] == "folder" and one == audit.digest(tmp_path / "m")
    (tmp_path / "m" / "sub" / "b.bin").write_bytes(b"\x00\x02")
    assert audit.digest(tmp_path / "m")["sha256"] != one["sha256"]
    assert audit.digest(tmp_path / "nope") == {"path": str(tmp_path / "nope"), "type": "missing", "sha256": None}


def test_file_hash_is_remembered_across_a_rename_and_never_stale(tmp_path, monkeypatch):
    """generate hashes its output for the lineage manifest and the audit line hashes it again after the
    rename: the second is served from memory; a same-size rewrite within the mtime tick is hashed anew."""
    import synthgen.io as sio

    fresh = tmp_path / "fresh.bin"
    fresh.write_bytes(b"a" * 1000)
    first = sha256_file(fresh)
    fresh.write_bytes(b"b" * 1000)  # same size, possibly the same mtime tick: must not be served stale
    assert sha256_file(fresh) == hashlib.sha256(b"b" * 1000).hexdigest() != first

    old = tmp_path / "old.bin"
    old.write_bytes(b"c" * 5000)
    os.utime(old, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))  # written long ago
    expected = hashlib.sha256(b"c" * 5000).hexdigest()
    assert sha256_file(old) == expected
    os.rename(old, tmp_path / "renamed.bin")
    monkeypatch.setattr(sio.hashlib, "sha256", lambda: pytest.fail("the renamed file was read again"))
    assert sha256_file(tmp_path / "renamed.bin") == expected
    assert audit.digest(tmp_path / "renamed.bin")["sha256"] == expected


def test_default_location_and_off(files, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNTHGEN_AUDIT_LOG")
    build_log(files, 1)
    assert len(lines(tmp_path / ".synthgen" / "audit.jsonl")) == 1
    monkeypatch.setenv("SYNTHGEN_AUDIT_LOG", "off")
    build_log(files, 1)
    assert len(lines(tmp_path / ".synthgen" / "audit.jsonl")) == 1
    code, _, err = run(capsys, "audit", "verify")
    assert code == 2
    one_line(err, "off")
    code, out, _ = run(capsys, "audit", "verify", tmp_path / ".synthgen" / "audit.jsonl")
    assert code == 0 and "chain valid: 1 entries" in out


# ------------------------------------------------------------------ show
def test_show_table_json_and_since(files, log, capsys):
    build_log(files, 3)
    code, out, _ = run(capsys, "audit", "show")
    assert code == 0
    rows = out.splitlines()
    assert "seq" in rows[0] and "command line" in rows[0] and len(rows) == 4
    assert "synthgen inspect" in rows[1] and rows[1].split()[0] == "1"
    code, out, _ = run(capsys, "audit", "show", log, "--json")
    assert [json.loads(ln)["seq"] for ln in out.splitlines()] == [1, 2, 3]
    assert out.encode().splitlines() == log.read_bytes().splitlines()
    assert run(capsys, "audit", "show", "--json", "--since", "2999-01-01")[1] == ""
    assert len(run(capsys, "audit", "show", "--json", "--since", "2000-01-01T00:00Z")[1].splitlines()) == 3


# ------------------------------------------------------------------ verify and tampering
def rewrite(log: Path, edit) -> None:
    raw = log.read_bytes().split(b"\n")[:-1]
    log.write_bytes(edit(raw))


def test_verify_valid_chain(files, log, capsys):
    build_log(files)
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 0 and out.strip() == f"{log}: chain valid: 6 entries"
    empty = files / "empty.jsonl"
    empty.write_bytes(b"")
    assert run(capsys, "audit", "verify", empty)[1].strip().endswith("chain valid: 0 entries")


def test_edited_line_is_named(files, log, capsys):
    build_log(files)

    def edit(raw):
        entry = json.loads(raw[2])
        entry["exit_status"] = 1  # hash left as it was
        raw[2] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        return b"\n".join(raw) + b"\n"

    rewrite(log, edit)
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 1
    assert one_line(out, "line 3", "edited")


def test_edited_line_with_its_hash_recomputed_is_named_by_the_next(files, log, capsys):
    build_log(files)

    def edit(raw):
        entry = json.loads(raw[2])
        entry["user"] = "someone-else"
        entry["hash"] = audit._entry_hash(entry)
        raw[2] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
        return b"\n".join(raw) + b"\n"

    rewrite(log, edit)
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 1
    one_line(out, "line 3", "edited", "line 4")


def test_edited_last_line_is_named(files, log, capsys):
    build_log(files)
    rewrite(log, lambda raw: b"\n".join(raw[:-1] + [raw[-1].replace(b'"exit_status":0', b'"exit_status":9')]) + b"\n")
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 1
    one_line(out, "line 6", "edited")


def test_broken_json_line_is_named(files, log, capsys):
    build_log(files)
    rewrite(log, lambda raw: b"\n".join(raw[:3] + [raw[3][:-40]] + raw[4:]) + b"\n")
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 1
    one_line(out, "line 4", "not a complete JSON entry")


def test_deleted_line_is_named(files, log, capsys):
    build_log(files)
    rewrite(log, lambda raw: b"\n".join(raw[:2] + raw[3:]) + b"\n")
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 1
    one_line(out, "line 3", "deleted", "entry 4 follows entry 2")


def test_deleted_first_line_is_named(files, log, capsys):
    build_log(files)
    rewrite(log, lambda raw: b"\n".join(raw[1:]) + b"\n")
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 1
    one_line(out, "line 1", "deleted")


def test_truncated_last_line_is_named_and_the_log_goes_on(files, log, capsys):
    build_log(files)
    data = log.read_bytes()
    log.write_bytes(data[:-30])  # a write cut short: no newline
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 1
    one_line(out, "line 6", "truncated")
    build_log(files, 1)  # the next command still appends, after ending the cut line
    assert log.read_bytes().count(b"\n") == 7
    assert json.loads(log.read_bytes().splitlines()[-1])["seq"] == 7
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 1
    one_line(out, "line 6")


# ------------------------------------------------------------------ bad logs and locations
def test_not_a_synthgen_log(files, capsys, monkeypatch):
    other = files / "other.jsonl"
    other.write_text('{"event": "login", "user": "ana"}\n')
    code, out, err = run(capsys, "audit", "verify", other)
    assert code == 1 and out == ""
    one_line(err, "other.jsonl", "not a synthgen audit log")
    code, _, err = run(capsys, "audit", "show", other)
    assert code == 1
    one_line(err, "other.jsonl", "not a synthgen audit log")
    binary = files / "binary.log"
    binary.write_bytes(b"\x00\xff\x10garbage")
    assert run(capsys, "audit", "verify", binary)[0] == 1
    assert run(capsys, "audit", "verify", files / "absent.jsonl")[0] == 1
    # a command pointed at it refuses before doing anything, and leaves the file alone
    monkeypatch.setenv("SYNTHGEN_AUDIT_LOG", str(other))
    before = other.read_bytes()
    code, out, err = run(capsys, "gate", files / "card.json", "--policy", files / "pass.toml", "--out", files / "v.json")
    assert code == 1 and out == ""
    one_line(err, "other.jsonl", "not a synthgen audit log")
    assert not (files / "v.json").exists() and other.read_bytes() == before


def test_read_only_location_stops_the_command_before_it_starts(files, capsys, monkeypatch, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: a log under a regular file cannot be made
        (tmp_path / "a-file").write_text("x")
        bad = tmp_path / "a-file" / "audit.jsonl"
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        bad = locked / "sub" / "audit.jsonl"
    monkeypatch.setenv("SYNTHGEN_AUDIT_LOG", str(bad))
    try:
        code, out, err = run(capsys, "gate", files / "card.json", "--policy", files / "pass.toml",
                             "--out", files / "v.json")
    finally:
        if os.geteuid() != 0:
            (tmp_path / "locked").chmod(0o700)
    assert code == 2 and out == ""
    one_line(err, str(bad), "not run")
    assert not (files / "v.json").exists()


def test_full_location_stops_the_command_before_it_starts(files, log, capsys, monkeypatch):
    monkeypatch.setattr(audit, "_free_bytes", lambda folder: 4096)
    code, out, err = run(capsys, "gate", files / "card.json", "--policy", files / "pass.toml", "--out", files / "v.json")
    assert code == 2 and out == ""
    one_line(err, str(log), "full")
    assert not (files / "v.json").exists()


def test_failed_append_after_the_command_is_an_error(files, log, capsys, monkeypatch):
    def no_space(path, fields):
        raise SynthgenError(f"audit log '{path}': this command's entry could not be appended "
                                  "(No space left on device)")

    monkeypatch.setattr(audit, "append", no_space)
    code, _, err = run(capsys, "gate", files / "card.json", "--policy", files / "pass.toml")
    assert code == 1
    one_line(err, "could not be appended")


# ------------------------------------------------------------------ concurrency
def _commands(log: str, card: str, policy: str, n: int, barrier) -> None:
    os.environ["SYNTHGEN_AUDIT_LOG"] = log
    from synthgen.cli import main as run_main

    barrier.wait(timeout=60)
    for _ in range(n):
        assert run_main(["gate", card, "--policy", policy]) == 0


def test_two_processes_append_without_interleaving(files, log, capsys):
    # fork: the children start with synthgen already imported (spawn spends seconds importing it)
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    barrier = ctx.Barrier(2)
    cards = []
    for name in ("a", "b"):
        (files / f"card_{name}.json").write_text(json.dumps(SCORECARD))
        cards.append(str(files / f"card_{name}.json"))
    procs = [ctx.Process(target=_commands, args=(str(log), card, str(files / "pass.toml"), 50, barrier))
             for card in cards]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    entries = lines(log)
    assert len(entries) == 100 and [e["seq"] for e in entries] == list(range(1, 101))
    by_card = [e["inputs"][0]["path"] for e in entries]
    assert by_card.count(cards[0]) == 50 and by_card.count(cards[1]) == 50
    capsys.readouterr()
    code, out, _ = run(capsys, "audit", "verify", log)
    assert code == 0 and "chain valid: 100 entries" in out
