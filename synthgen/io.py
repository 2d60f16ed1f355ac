"""Reading and writing tables (CSV or Parquet by suffix), atomically, with hashes."""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from .exceptions import FileFormatError, OutputExistsError, SynthgenError, UsageError

__all__ = [
    "read_table",
    "write_table",
    "table_format",
    "sha256_file",
    "sha256_path",
    "is_dataset_folder",
    "dataset_parts",
    "sha256_frame",
    "atomic_path",
    "atomic_dir",
    "atomic_paths",
    "check_output",
    "remove_stale_temporaries",
    "TableWriter",
]

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt", ".csv.bz2", ".csv.zip", ".csv.xz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def table_format(path: str | os.PathLike) -> str:
    """Return 'csv' or 'parquet' from the file suffix; anything else is a usage error."""
    name = str(path).lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise UsageError(
        f"file '{path}': unknown table format; use a .csv, .csv.gz or .parquet suffix"
    )


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if str(path).lower().endswith(".gz") else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as handle:  # type: ignore[operator]
            return next(csv.reader(handle), [])
    except (UnicodeDecodeError, OSError, csv.Error) as exc:
        raise FileFormatError(f"file '{path}': not a readable CSV file ({exc})") from None


def is_dataset_folder(path: str | os.PathLike) -> bool:
    """A Parquet dataset folder (``part-NNNNN.parquet`` files) rather than one file: an existing folder, or
    an output named without any suffix (``--out DIR``)."""
    path = Path(path)
    return path.is_dir() or (not path.suffix and not path.exists())


def dataset_parts(folder: str | os.PathLike) -> list[Path]:
    """The part files of a Parquet dataset folder, in order (their names sort as the rows do)."""
    return sorted(Path(folder).glob("part-*.parquet"))


def _read_dataset(path: Path) -> pd.DataFrame:
    parts = dataset_parts(path)
    if not parts:
        raise FileFormatError(f"folder '{path}': no part-*.parquet files (expected a Parquet dataset folder "
                              "written by `synthgen generate --out DIR`, or a .csv/.parquet file)")
    try:
        frames = [pd.read_parquet(p) for p in parts]
    except Exception as exc:  # pyarrow raises many types for garbage
        raise FileFormatError(f"folder '{path}': a part is not a readable Parquet file ({type(exc).__name__})") from None
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def read_table(path: str | os.PathLike, *, fmt: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file, or a Parquet dataset folder, with checks that name the file and the
    problem (``fmt``: 'csv' or 'parquet' for a file whose name does not say, e.g. a temporary)."""
    path = Path(path)
    if fmt is None and path.is_dir() and not path.suffix:
        return _read_dataset(path)
    fmt = fmt or table_format(path)
    if not path.exists():
        raise FileFormatError(f"file '{path}': does not exist")
    if path.is_dir():
        raise FileFormatError(f"file '{path}': is a folder, expected a {fmt.upper()} file")
    if path.stat().st_size == 0:
        raise FileFormatError(f"file '{path}': is empty")
    if fmt == "parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for garbage
            raise FileFormatError(f"file '{path}': not a readable Parquet file ({type(exc).__name__})") from None
    else:
        header = _csv_header(path)
        dupes = sorted(name for name, count in Counter(header).items() if count > 1)
        if dupes:
            raise FileFormatError(
                f"file '{path}': duplicate column names {', '.join(repr(d) for d in dupes)}"
            )
        try:
            df = pd.read_csv(path, low_memory=False)
        except pd.errors.EmptyDataError:
            raise FileFormatError(f"file '{path}': is empty (no header row)") from None
        except (UnicodeDecodeError, pd.errors.ParserError, OSError, EOFError) as exc:
            raise FileFormatError(f"file '{path}': not a readable CSV file ({type(exc).__name__})") from None
        if _looks_binary(df):
            raise FileFormatError(f"file '{path}': does not look like a CSV table (binary content)")
    if df.columns.duplicated().any():
        dupes = sorted(set(df.columns[df.columns.duplicated()]))
        raise FileFormatError(f"file '{path}': duplicate column names {dupes}")
    if len(df) == 0:
        raise FileFormatError(f"file '{path}': has a header but no rows")
    return df


def _looks_binary(df: pd.DataFrame) -> bool:
    names = "".join(map(str, df.columns))
    return "\x00" in names or any(ord(ch) < 9 for ch in names)


def write_table(df: pd.DataFrame, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write a whole table atomically (temporary file, then rename)."""
    with TableWriter(path, force=force) as writer:
        writer.write(df)
    return Path(path)


def check_output(path: str | os.PathLike, *, force: bool) -> Path:
    """Refuse an existing output without force, and an output folder that cannot be written.

    A writable output folder is also cleared of synthgen's own stale temporaries (``.NAME.XXXXXXXX.tmp``
    older than a day, left by a process that was killed: ``remove_stale_temporaries``), one line on
    stderr saying so.
    """
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"output '{path}' exists; pass --force to overwrite it")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise UsageError(f"output '{path}': folder '{parent}' does not exist")
    if not os.access(parent, os.W_OK):
        raise UsageError(f"output '{path}': folder '{parent}' is not writable")
    removed = remove_stale_temporaries(parent)
    if removed:
        names = ", ".join(p.name for p in removed[:3]) + (", ..." if len(removed) > 3 else "")
        noun = "file" if len(removed) == 1 else "files"
        print(f"synthgen: removed {len(removed)} stale temporary {noun} older than a day in {parent} ({names})",
              file=sys.stderr)
    return path


# The names tempfile.mkstemp/mkdtemp give synthgen's temporaries: "." + output name + "." + 8 characters
# from tempfile's alphabet + ".tmp" (atomic_path, atomic_dir, atomic_paths, TableWriter).
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
STALE_AFTER_S = 24 * 3600


def remove_stale_temporaries(folder: str | os.PathLike, *, max_age_s: float = STALE_AFTER_S,
                             now: float | None = None) -> list[Path]:
    """Remove synthgen's own temporaries in ``folder`` untouched for more than ``max_age_s``; return them.

    Only entries named like synthgen's temporaries (``.NAME.XXXXXXXX.tmp``: a file, or a folder whose
    newest entry is that old) are candidates; links, other names and anything newer are left alone, so
    a command still writing beside this one keeps its temporary. Removal errors are ignored.
    """
    folder = Path(folder)
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return removed
    for entry in entries:
        if not _TEMP_NAME.match(entry.name) or entry.is_symlink():
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                if now - entry.stat(follow_symlinks=False).st_mtime > max_age_s:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False) and now - _newest_mtime(Path(entry.path)) > max_age_s:
                shutil.rmtree(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _newest_mtime(folder: Path) -> float:
    """The latest mtime of a folder and of everything under it (links not followed)."""
    newest = folder.lstat().st_mtime
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            with contextlib.suppress(OSError):
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    return newest


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the body runs (a few renames); a held signal arrives after it."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # runs a held signal's handler here


def _remove(path: Path) -> None:
    """Remove a file or a folder (not following a link); errors ignored."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` onto ``target`` with the usual permissions (temporaries are created owner-only); an
    existing folder target (``--force``) is removed first."""
    make_readable(tmp)
    if target.is_dir() and not target.is_symlink():
        backup = target.with_name(f".{target.name}.old")
        _remove(backup)
        os.replace(target, backup)
        os.replace(tmp, target)
        _remove(backup)
    else:
        os.replace(tmp, target)


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike, force: bool = False,
                 folders: Sequence[str | os.PathLike] = ()) -> Iterator[list[Path]]:
    """Yield a temporary path beside each of ``paths``; on success all are renamed into place together.

    ``folders``: those of ``paths`` that are folders (their temporary is an empty folder). The renames
    run in the order given (put the one that must never appear alone last) with SIGINT and SIGTERM held
    back; if a rename fails, or a signal held back during them arrives, the ones already renamed are
    removed again, so either every output is written or none is. Temporaries are always removed.
    """
    targets = [check_output(p, force=force) for p in paths]
    as_folder = {Path(f) for f in folders}
    temps: list[Path] = []
    try:
        for target in targets:
            if target in as_folder:
                temps.append(Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)))
                continue
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            os.close(fd)
            temps.append(Path(tmp))
        yield list(temps)
        placed: list[Path] = []
        try:
            with _signals_held():
                for tmp, target in zip(temps, targets):
                    _place(tmp, target)
                    placed.append(target)
        except BaseException as exc:
            for target in placed:
                _remove(target)
            if isinstance(exc, OSError):
                failed = targets[min(len(placed), len(targets) - 1)]
                raise SynthgenError(f"output '{failed}': cannot be written ({exc.strerror or type(exc).__name__}); "
                                    "nothing was written") from None
            raise
    finally:
        for tmp in temps:
            if tmp.exists():
                _remove(tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success."""
    path = check_output(path, force=force)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            make_readable(tmp_path)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; it replaces ``path`` only on success."""
    path = check_output(path, force=force)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        make_readable(tmp)
        if path.exists():
            backup = path.with_name(f".{path.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(path, backup)
            os.replace(tmp, path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class TableWriter:
    """Append DataFrame chunks to a CSV or Parquet file, renamed into place on close."""

    def __init__(self, path: str | os.PathLike, *, force: bool = False, into: str | os.PathLike | None = None):
        """``into``: write to this temporary file (from ``atomic_paths``) and leave renaming to the caller."""
        self.path = Path(path)
        self.format = table_format(self.path)
        self._ctx = atomic_path(self.path, force=force) if into is None else contextlib.nullcontext(Path(into))
        self._tmp: Path | None = None
        self._parquet = None
        self._schema = None
        self._first = True
        self.rows = 0

    def __enter__(self) -> "TableWriter":
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, chunk: pd.DataFrame) -> None:
        assert self._tmp is not None, "use TableWriter as a context manager"
        if self.format == "csv":
            compression = "gzip" if str(self.path).lower().endswith(".gz") else None
            mode = "w" if self._first else "a"
            if compression and not self._first:
                # gzip members concatenate into one valid stream
                with gzip.open(self._tmp, "at", newline="") as handle:
                    chunk.to_csv(handle, header=False, index=False)
            else:
                chunk.to_csv(self._tmp, mode=mode, header=self._first, index=False, compression=compression)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if self._parquet is None:
                self._schema = table.schema
                self._parquet = pq.ParquetWriter(self._tmp, self._schema)
            else:
                table = table.cast(self._schema)
            self._parquet.write_table(table)
        self._first = False
        self.rows += len(chunk)

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._parquet is not None:
            self._parquet.close()
        return bool(self._ctx.__exit__(exc_type, exc, tb))


def make_readable(path: str | os.PathLike) -> None:
    """Give a written file or folder the usual permissions (temporary files are created owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if Path(path).is_dir() else 0o666) & ~umask)


def sha256_path(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, or of a folder: its sorted relative paths each with its file's sha256."""
    path = Path(path)
    if not path.is_dir():
        return sha256_file(path)
    digest = hashlib.sha256()
    for f in sorted((f for f in path.rglob("*") if f.is_file()), key=lambda f: f.relative_to(path).as_posix()):
        digest.update(f"{f.relative_to(path).as_posix()}\0{sha256_file(f)}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


_SHA256_MEMO: dict[tuple[int, ...], str] = {}  # (device, inode, size, mtime_ns) -> sha256
_MTIME_GRANULE_NS = 50_000_000  # well above the kernel's coarse clock tick that stamps mtime (4-10 ms)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks.

    Remembered in this process by the file's identity and stat (device, inode, size, mtime), which a
    rename keeps and a write changes: ``generate`` hashes its output for the lineage manifest, and the
    audit log hashes the same file after the command; a second read of a multi-GB output costs seconds.
    Only a hash that ended a clock tick after the file's mtime, with the file's size and mtime the same
    after the read as before it, is kept, so a later write of the same size cannot share the remembered
    mtime (synthgen writes its files whole, then renames them into place)."""
    with open(path, "rb") as handle:
        st = os.fstat(handle.fileno())
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key in _SHA256_MEMO:
            return _SHA256_MEMO[key]
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
        after = os.fstat(handle.fileno())
    hexdigest = digest.hexdigest()
    unchanged = (after.st_size, after.st_mtime_ns) == (st.st_size, st.st_mtime_ns)  # no write while reading
    if unchanged and time.time_ns() >= st.st_mtime_ns + _MTIME_GRANULE_NS:
        if len(_SHA256_MEMO) > 4096:
            _SHA256_MEMO.clear()
        _SHA256_MEMO[key] = hexdigest
    return hexdigest


def sha256_frame(df: pd.DataFrame) -> str:
    """Hex sha256 of a DataFrame's content (column names, dtypes and values), order-sensitive."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(f"{c}:{t}" for c, t in zip(df.columns, df.dtypes.astype(str))).encode())
    hashes = pd.util.hash_pandas_object(df, index=False).to_numpy(dtype=np.uint64)
    digest.update(hashes.tobytes())
    return digest.hexdigest()
