"""The audit log: one hash-chained JSON line per synthgen command, appended under a file lock.

An observer, like tracking: ``synthgen.pipeline.observed`` calls it around every command the CLI
runs; no stage knows it exists. A leaf: it imports only the standard library, ``exceptions``,
``io`` (sha256 of a file) and ``versions``.

Where: ``$SYNTHGEN_AUDIT_LOG``, or ``.synthgen/audit.jsonl`` in the working directory when the
variable is unset or empty (the folder is created when needed). ``SYNTHGEN_AUDIT_LOG=off`` turns
the log off.

A line is one entry in canonical JSON (sorted keys, compact separators, ASCII, ending in ``\\n``)::

    {"argv": ["synthgen", "gate", "card.json"], "command": "gate", "cwd": "/work", "error": null,
     "exit_status": 0, "format": "synthgen-audit/1", "hash": "<sha256>", "host": "box",
     "inputs": [{"path": "card.json", "sha256": "<sha256>", "type": "file"}], "outputs": [],
     "prev": "<sha256>", "seconds": 0.412, "seq": 7, "time": "2025-05-01T09:30:12.345678Z",
     "user": "ana", "verdict": "PASS", "version": "0.1.0"}

- ``time`` is when the command started (UTC), ``seconds`` how long it ran; ``argv`` the command line;
  ``exit_status`` what ``synthgen`` returned; ``verdict`` "PASS"/"FAIL" for commands that reach one
  (gate, compare, selftest, evaluate with a policy), else null; ``error`` the one-line error, if any.
- ``inputs`` are hashed before the command, ``outputs`` after it: a file's sha256 is of its bytes, a
  folder's is the sha256 of its files' sorted relative paths and sha256s (``digest``). ``sha256`` is
  null for a path that does not exist or cannot be read (``type`` "missing", "unreadable"), and for
  outputs of a command that stopped on an error (``type`` null: nothing was written).
- The chain: ``prev`` is the sha256 of the previous line's bytes (without its newline), 64 zeros on
  the first line; ``hash`` is the sha256 of the entry's own canonical JSON without ``hash``; ``seq``
  counts entries from 1. Editing a line breaks its own ``hash`` (or, when that was recomputed too, the
  next line's ``prev``); deleting a line leaves a gap in ``seq`` and a ``prev`` that matches nothing;
  a write cut short leaves a last line without its newline. ``verify`` names the first such line.
  Deleting the *last* lines of a log cannot be seen from the log alone (keep a copy of the last
  line's sha256 elsewhere to anchor the chain).
- The lock: ``fcntl.flock`` (exclusive) on the log file while the last line is read and the new one
  written (one ``write`` on an ``O_APPEND`` descriptor, then ``fsync``), so concurrent commands never
  interleave or fork the chain. The command itself runs without the lock.
- Preflight (``preflight``), before the command does any work: the folder is created if needed, the
  log opened for appending and locked, its first line checked to be a synthgen entry, and the disk
  checked for at least ``MIN_FREE_BYTES`` free. A location that cannot be written or is full is a
  ``UsageError`` (exit 2), a file that is not a synthgen audit log a ``FileFormatError`` (exit 1).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import getpass
import hashlib
import json
import os
import shlex
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter
from typing import Any

from .exceptions import FileFormatError, SynthgenError, UsageError
from .io import sha256_file, sha256_path
from .versions import synthgen_version

__all__ = [
    "DEFAULT_LOG",
    "ENV_VAR",
    "FORMAT",
    "GENESIS",
    "MIN_FREE_BYTES",
    "CommandRun",
    "Verification",
    "append",
    "digest",
    "entries",
    "log_path",
    "parse_time",
    "preflight",
    "table",
    "verify",
]

FORMAT = "synthgen-audit/1"
GENESIS = "0" * 64
ENV_VAR = "SYNTHGEN_AUDIT_LOG"
DEFAULT_LOG = Path(".synthgen") / "audit.jsonl"
MIN_FREE_BYTES = 1 << 20  # a location with less free space than this counts as full
_FIRST_KEY = b'{"argv":'  # every canonical entry starts so (sorted keys)


# ------------------------------------------------------------------ where
def log_path(environ: dict[str, str] | None = None) -> Path | None:
    """The log's path from ``$SYNTHGEN_AUDIT_LOG`` (unset or empty: ``.synthgen/audit.jsonl``); None when "off"."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    if value.lower() == "off":
        return None
    return Path(value) if value else DEFAULT_LOG


def _not_writable(path: Path, why: str) -> UsageError:
    return UsageError(f"audit log '{path}': {why}; set {ENV_VAR} to a writable file (or to off); "
                      "the command was not run")


def _free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def preflight(path: str | os.PathLike) -> None:
    """Check, before a command runs, that its entry can be appended to ``path`` (see the module doc)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise _not_writable(path, f"'{parent}' is a file, not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _not_writable(path, f"folder '{parent}' cannot be created ({exc.strerror or type(exc).__name__})") from None
    if path.is_dir():
        raise _not_writable(path, "is a folder, expected a file")
    try:
        with _locked(path):
            pass
    except OSError as exc:
        raise _not_writable(path, f"cannot be opened for appending ({exc.strerror or type(exc).__name__})") from None
    _check_format(path)
    try:
        free = _free_bytes(parent)
    except OSError as exc:
        raise _not_writable(path, f"cannot check its disk's free space ({exc.strerror or type(exc).__name__})") from None
    if free < MIN_FREE_BYTES:
        raise _not_writable(path, f"its disk is full ({free:,} bytes free, at least {MIN_FREE_BYTES:,} needed)")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int]:
    """The log opened for reading and appending (created if absent), under an exclusive flock."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _first_line(path: Path) -> tuple[bytes, bool]:
    """The file's first line (without its newline) and whether it ends in a newline."""
    parts = []
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            head, newline, _ = block.partition(b"\n")
            parts.append(head)
            if newline:
                return b"".join(parts), True
    return b"".join(parts), False


def _check_format(path: Path) -> None:
    """Refuse a non-empty file whose first line is not a synthgen entry."""
    try:
        line, terminated = _first_line(path)
    except OSError as exc:
        raise _not_writable(path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if not line and not terminated:
        return  # empty: a new log
    if not _recognised(line, _parse(line)):
        raise _foreign(path)


def _recognised(line: bytes, entry: dict | None) -> bool:
    """Is a first line a synthgen entry? One that is no longer JSON (edited, cut short) still counts when it
    starts as every canonical entry does; ``verify`` then names it."""
    if entry is not None:
        return entry.get("format") == FORMAT
    return line.startswith(_FIRST_KEY)


def _foreign(path: Path) -> FileFormatError:
    return FileFormatError(f"audit log '{path}': not a synthgen audit log (its first line is not a {FORMAT} "
                           f"entry); point {ENV_VAR} at another file")


# ------------------------------------------------------------------ entries
def _canonical(entry: dict) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def _entry_hash(entry: dict) -> str:
    return hashlib.sha256(_canonical({k: v for k, v in entry.items() if k != "hash"})).hexdigest()


def _parse(line: bytes) -> dict | None:
    try:
        entry = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return entry if isinstance(entry, dict) else None


def digest(path: str | os.PathLike) -> dict[str, Any]:
    """``{"path", "type", "sha256"}`` of a file (its bytes) or a folder (sorted relative paths + sha256s)."""
    p = Path(path)
    try:
        if p.is_file():
            return {"path": str(path), "type": "file", "sha256": sha256_file(p)}
        if p.is_dir():
            return {"path": str(path), "type": "folder", "sha256": sha256_path(p)}
    except OSError:  # the command itself will say what is wrong with it
        return {"path": str(path), "type": "unreadable", "sha256": None}
    return {"path": str(path), "type": "missing", "sha256": None}


@functools.lru_cache(maxsize=1)
def _who() -> dict[str, str]:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry in some containers
        user = str(os.getuid())
    return {"user": user, "host": socket.gethostname(), "version": synthgen_version()}


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class CommandRun:
    """One command being observed: ``main`` fills ``exit_status``, ``verdict`` and ``error``."""

    command: str | None
    argv: list[str]
    inputs: list[dict[str, Any]] = field(default_factory=list)   # digests, taken before the command
    outputs: list[str] = field(default_factory=list)             # paths, hashed after it
    exit_status: int | None = None
    verdict: str | None = None
    error: str | None = None
    time: str = field(default_factory=_utc_now)
    _start: float = field(default_factory=perf_counter, repr=False)

    def entry(self) -> dict[str, Any]:
        """The entry's fields (without format, seq, prev, hash: ``append`` adds those)."""
        if self.error is None:
            outputs = [digest(p) for p in self.outputs]
        else:
            outputs = [{"path": str(p), "type": None, "sha256": None} for p in self.outputs]
        return {
            "time": self.time, "seconds": round(perf_counter() - self._start, 3), **_who(),
            "cwd": os.getcwd(), "command": self.command, "argv": list(self.argv),
            "inputs": self.inputs, "outputs": outputs,
            "exit_status": self.exit_status, "verdict": self.verdict, "error": self.error,
        }


def _tail(fd: int, size: int) -> tuple[bytes, bool]:
    """The last line of the file (without its newline) and whether it ends in one; reads backwards."""
    if size == 0:
        return b"", True
    terminated = os.pread(fd, 1, size - 1) == b"\n"
    end = size - 1 if terminated else size
    parts: list[bytes] = []
    pos = end
    while pos > 0:
        start = max(0, pos - (1 << 16))
        block = os.pread(fd, pos - start, start)
        cut = block.rfind(b"\n")
        if cut >= 0:
            parts.append(block[cut + 1:])
            break
        parts.append(block)
        pos = start
    return b"".join(reversed(parts)), terminated


def _count_lines(fd: int, size: int) -> int:
    count, pos = 0, 0
    while pos < size:
        block = os.pread(fd, min(1 << 20, size - pos), pos)
        count += block.count(b"\n")
        pos += len(block)
    return count


def append(path: str | os.PathLike, fields: dict[str, Any]) -> dict[str, Any]:
    """Append one entry under the lock, chained to the last line; returns the entry written.

    A last line cut short by an earlier crash is ended with a newline first and chained to as it
    is, so ``verify`` still names it.
    """
    path = Path(path)
    try:
        with _locked(path) as fd:
            size = os.fstat(fd).st_size
            last, terminated = _tail(fd, size)
            entry = dict(fields, format=FORMAT)
            if size == 0:
                entry["prev"], entry["seq"] = GENESIS, 1
            else:
                before = _parse(last)
                seq = before.get("seq") if before is not None else None
                if not isinstance(seq, int) or isinstance(seq, bool):
                    seq = _count_lines(fd, size) + (0 if terminated else 1)
                entry["prev"], entry["seq"] = hashlib.sha256(last).hexdigest(), seq + 1
            entry["hash"] = _entry_hash(entry)
            data = (b"" if terminated else b"\n") + _canonical(entry) + b"\n"
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
    except OSError as exc:
        raise SynthgenError(f"audit log '{path}': this command's entry could not be appended "
                            f"({exc.strerror or type(exc).__name__})") from None
    return entry


# ------------------------------------------------------------------ reading
@dataclass(frozen=True)
class Verification:
    """``ok`` and the number of valid ``entries``; when broken, the first broken ``line`` (1-based) and why."""

    path: Path
    entries: int
    line: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.line is None

    def summary(self) -> str:
        if self.ok:
            return f"{self.path}: chain valid: {self.entries} entries"
        return f"{self.path}: chain broken at line {self.line}: {self.reason}"


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    if not path.exists():
        raise FileFormatError(f"audit log '{path}': does not exist")
    if path.is_dir():
        raise FileFormatError(f"audit log '{path}': is a folder, expected a file")
    try:
        with open(path, "rb") as handle:
            for lineno, raw in enumerate(handle, 1):
                terminated = raw.endswith(b"\n")
                yield lineno, raw[:-1] if terminated else raw, terminated
    except OSError as exc:
        raise FileFormatError(f"audit log '{path}': cannot be read ({exc.strerror or type(exc).__name__})") from None


def verify(path: str | os.PathLike) -> Verification:
    """Walk the chain; the first line that was edited, follows a deleted line, or was cut short.

    Raises ``FileFormatError`` for a file that is not a synthgen audit log (or cannot be read).
    """
    path = Path(path)
    prev_hash, prev_seq, count = GENESIS, 0, 0
    for lineno, line, terminated in _lines(path):
        entry = _parse(line)
        if entry is None or entry.get("format") != FORMAT:
            if lineno == 1 and not _recognised(line, entry):
                raise _foreign(path)
            if entry is not None:
                return Verification(path, count, lineno, f"not a {FORMAT} entry")
            if not terminated:
                return Verification(path, count, lineno, f"truncated: the last line is cut short ({len(line)} bytes, "
                                                         "no newline)")
            return Verification(path, count, lineno, "not a complete JSON entry (edited or cut short)")
        if entry.get("hash") != _entry_hash(entry):
            return Verification(path, count, lineno, "edited: its content no longer matches its own hash")
        seq = entry.get("seq")
        if entry.get("prev") != prev_hash:
            if lineno == 1:
                return Verification(path, count, lineno, f"its prev is not the genesis hash: the log's first "
                                                         f"line(s) were deleted (it is entry {seq})")
            if isinstance(seq, int) and seq > prev_seq + 1:
                gap = seq - prev_seq - 1
                return Verification(path, count, lineno, f"deleted line(s) before it: entry {seq} follows entry "
                                                         f"{prev_seq} ({gap} missing)")
            if isinstance(seq, int) and seq != prev_seq + 1:
                return Verification(path, count, lineno, f"out of order: entry {seq} follows entry {prev_seq}")
            return Verification(path, count - 1, lineno - 1, f"edited: its sha256 differs from the prev that line "
                                                             f"{lineno} recorded")
        if not terminated:
            return Verification(path, count, lineno, "truncated: the last line has no newline")
        prev_hash, prev_seq, count = hashlib.sha256(line).hexdigest(), seq, count + 1
    return Verification(path, count)


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time (``2025-05-01``, ``2025-05-01T09:30``, ``...Z``); naive means UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"expected an ISO 8601 date or time such as 2025-05-01T09:30Z, got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def entries(path: str | os.PathLike, since: datetime | None = None,
            skipped: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """The log's entries in file order (started at or after ``since``); unreadable lines' numbers go to ``skipped``."""
    path = Path(path)
    for lineno, line, _ in _lines(path):
        entry = _parse(line)
        if entry is None or entry.get("format") != FORMAT:
            if lineno == 1 and not _recognised(line, entry):
                raise _foreign(path)
            if skipped is not None:
                skipped.append(lineno)
            continue
        if since is not None:
            try:
                started = parse_time(str(entry.get("time")))
            except UsageError:
                started = None
            if started is None or started < since:
                continue
        yield entry


def table(rows: Sequence[dict[str, Any]]) -> str:
    """Entries as a fixed-width text table: seq, time, user@host, exit, verdict, command line."""
    head = f"{'seq':>5}  {'time (UTC)':<19}  {'user@host':<24}  {'exit':>4}  {'verdict':<7}  command line"
    lines = [head]
    for e in rows:
        when = str(e.get("time", ""))[:19].replace("T", " ")
        who = f"{e.get('user', '?')}@{e.get('host', '?')}"
        argv = e.get("argv") or []
        line = shlex.join(str(a) for a in argv) if isinstance(argv, list) else str(argv)
        status = e.get("exit_status")
        lines.append(f"{e.get('seq', '?')!s:>5}  {when:<19}  {who:<24}  {status!s:>4}  {e.get('verdict') or '-':<7}  {line}")
    return "\n".join(lines)
