"""Column kinds: detected once, validated, kept as versioned JSON, and used to restore dtypes.

A ``Schema`` records, per column, what kind of data it holds and what it takes
to give generated values back in the original form: dtype, category set,
integer-ness, datetime text format, range and missing-value rate.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .exceptions import DataError, IncompatibleModelError, SchemaError, UsageError

__all__ = ["ColumnKind", "ColumnSpec", "Schema", "SCHEMA_VERSION", "parse_column_kinds", "kinds_from_schema_file",
           "sdv_columns"]

SCHEMA_VERSION = 1


class ColumnKind(str, Enum):
    """What a column holds; decides how it is modelled and restored.

    ``identifier``: a value per row (unique per row, e.g. a transaction or policy number): never
    modelled; generated rows get fresh values, never equal to a real one.
    ``key``: points at an entity many rows share (customer, card, terminal, merchant): whole
    numbers or codes that repeat. Never modelled as a number; generated rows get fresh keys,
    never equal to a real one, repeated with the real distribution of rows per key.
    ``personal``: personal data or free text: never modelled, never copied.
    """

    CONTINUOUS = "continuous"
    INTEGER = "integer"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    IDENTIFIER = "identifier"  # unique per row: never modelled, fresh values generated
    KEY = "key"  # an entity shared by several rows: never modelled, fresh keys repeated like the real ones
    PERSONAL = "personal"  # personal data / free text: never modelled, never copied

    @property
    def is_numeric(self) -> bool:
        return self in (ColumnKind.CONTINUOUS, ColumnKind.INTEGER, ColumnKind.DATETIME)

    @property
    def is_categorical(self) -> bool:
        return self in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN)

    @property
    def is_modelled(self) -> bool:
        return self.is_numeric or self.is_categorical


KIND_NAMES = [k.value for k in ColumnKind]

# Text date formats tried in order; the first that parses every sampled value wins.
_DATETIME_FORMATS = [
    ("%Y-%m-%d %H:%M:%S", r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"),
    ("%Y-%m-%dT%H:%M:%S", r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"),
    ("%Y-%m-%d %H:%M", r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"),
    ("%Y-%m-%d", r"^\d{4}-\d{2}-\d{2}$"),
    ("%Y/%m/%d", r"^\d{4}/\d{2}/\d{2}$"),
    ("%m/%d/%Y", r"^\d{2}/\d{2}/\d{4}$"),
    ("%d/%m/%Y", r"^\d{2}/\d{2}/\d{4}$"),
    ("%d.%m.%Y", r"^\d{2}\.\d{2}\.\d{4}$"),
    ("%m/%y", r"^(0[1-9]|1[0-2])/\d{2}$"),
    ("%m/%Y", r"^(0[1-9]|1[0-2])/\d{4}$"),
    ("%Y-%m", r"^\d{4}-(0[1-9]|1[0-2])$"),
]
# snake/kebab/space case ignores case; camelCase ("cardId", "customerID") is matched case-sensitively,
# so words that merely end in "id" ("paid", "valid", "fluid") are not ID-like names
_ID_NAME = re.compile(r"(?i:(^|[_\-\s])(id|uuid|guid|key)$|^id[_\-\s])|[A-Za-z0-9](Id|ID|Key)$")
# text that looks like a code: letters then at least three digits ("POL-00123", "C1093826151"), or a UUID
_CODE = re.compile(
    r"^[A-Za-z]{1,8}[-_#/.]?\d{3,}$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_PERSONAL_NAME = re.compile(
    r"(^|_)(e?mail|phone|mobile|telephone|ssn|social_security|passport|iban|address|street|"
    r"first_?name|last_?name|full_?name|surname|name|ip_?address|ip)($|_)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s\-().]{7,20}$")
_TRUE_FALSE = {"true", "false", "yes", "no", "t", "f", "y", "n"}
_SAMPLE = 2000  # values looked at when testing a text column for dates, emails, phones
_KS_SAMPLE = 20_000  # values looked at when testing whole numbers for an even spread (seeded sample)
_KS_C = 1.95  # KS critical value factor (alpha about 0.001): D > 1.95 / sqrt(n) is not an even spread
_CHANCE_PAIRS = 5.0  # expected chance repeats above which "no repeats at all" means unique by design
_DUP_TOLERANCE = 0.001  # an ID-named column with at most this share of repeated values is unique per row
_KEY_MIN_DISTINCT = 50  # a key points at many entities (fewer on a tiny table: half its rows)
#: on tables with more rows than this, kinds are decided on a seeded sample of this many rows, and every
#: row is then checked against them in a chunked pass
DETECT_SAMPLE_ROWS = 1_000_000
_DETECT_SEED = 0  # the sample's seed: the same table always gives the same sample, and so the same kinds
_CHECK_CHUNK = 250_000  # rows per chunk of that pass


def _py(value: Any) -> Any:
    """A JSON-safe Python scalar for a numpy/pandas scalar."""
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


@dataclass
class ColumnSpec:
    """One column: its kind and everything needed to restore generated values."""

    name: str
    kind: ColumnKind
    dtype: str
    missing_rate: float = 0.0
    categories: list | None = None
    datetime_format: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    reason: str = ""
    id_prefix: str | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["kind"] = self.kind.value
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> "ColumnSpec":
        data = dict(data)
        data["kind"] = ColumnKind(data["kind"])
        return cls(**data)


@dataclass
class Schema:
    """Ordered column specs of a table plus its target column."""

    columns: list[ColumnSpec]
    target: str | None = None
    notes: list[str] = field(default_factory=list)
    version: int = SCHEMA_VERSION
    #: relations between columns a fitted model keeps (``synthgen/relations.py`` reads and writes them):
    #: ``{"detected": bool, "items": [Relation.to_dict(), ...]}``; None: never looked for (plain dicts here, so
    #: this module needs nothing from relations.py)
    relations: dict | None = None

    # ------------------------------------------------------------------ access
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def __getitem__(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    def features(self) -> list[ColumnSpec]:
        """Every column but the target."""
        return [c for c in self.columns if c.name != self.target]

    def modelled(self) -> list[ColumnSpec]:
        """Feature columns a generator learns (not identifiers, keys or personal data)."""
        return [c for c in self.features() if c.kind.is_modelled]

    # --------------------------------------------------------------- detection
    @classmethod
    def detect(
        cls,
        df: pd.DataFrame,
        target: str | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> "Schema":
        """Detect each column's kind; collect every problem into one SchemaError.

        On more than ``DETECT_SAMPLE_ROWS`` rows the kinds are decided on a seeded sample of that many
        rows, then every row is checked against them (``_detect_sampled``), with a progress bar on a
        terminal's stderr.
        """
        if not isinstance(df, pd.DataFrame):
            raise UsageError(f"expected a pandas DataFrame, got {type(df).__name__}")
        if len(df.columns) == 0 or len(df) == 0:
            raise DataError("table is empty: it needs a header and at least one row")
        problems: list[str] = []
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        if dupes:
            raise SchemaError([f"duplicate column names {', '.join(repr(d) for d in dupes)}"])
        overrides = dict(overrides or {})
        for name, kind in overrides.items():
            if name not in df.columns:
                problems.append(f"--column-kind names column '{name}', which is not in the table")
            if kind not in KIND_NAMES:
                problems.append(f"--column-kind {name}={kind}: unknown kind; use one of {', '.join(KIND_NAMES)}")
        if target is not None and target not in df.columns:
            raise SchemaError([f"target column '{target}' not found; columns are: {', '.join(map(str, df.columns))}"])
        if problems:
            raise SchemaError(problems)
        specs: list[ColumnSpec] = []
        notes: list[str] = []
        detected = [name for name in df.columns if name not in overrides and name != target]
        positions = _detection_sample(len(df)) if detected else None  # None: kinds decided on every row
        if positions is not None:
            notes.append(f"kinds decided on a seeded sample of {len(positions):,} of {len(df):,} rows; "
                         "every row checked against them")
        with tqdm(total=len(df.columns), desc="detect kinds", unit="column", file=sys.stderr,
                  disable=True if positions is None else None) as bar:
            for name in df.columns:
                series = df[name]
                try:
                    if name in overrides:
                        spec = _spec_for_kind(series, ColumnKind(overrides[name]), reason="set by user")
                    elif name == target:
                        spec = _spec_for_kind(series, ColumnKind.CATEGORICAL, reason="target")
                    else:
                        spec = _detect_column(series) if positions is None else _detect_sampled(series, positions)
                except _ColumnProblem as exc:
                    problems.append(str(exc))
                    continue
                finally:
                    bar.update()
                specs.append(spec)
        if problems:
            raise SchemaError(problems)
        return cls(columns=specs, target=target, notes=notes)

    def for_rows(self, df: pd.DataFrame) -> "Schema":
        """The same kinds, with ranges, category sets and formats learned from ``df`` only (a train split,
        so holdout values never reach a generator); each column keeps the reason it got its kind for.
        Identifiers and keys keep this schema's range and text prefix, so fresh values start above
        every real value of the whole table, holdout included."""
        kinds = {c.name: c.kind.value for c in self.columns if c.name != self.target}
        schema = Schema.detect(df, target=self.target, overrides=kinds)
        for spec in schema.columns:
            whole = self[spec.name]
            spec.reason = whole.reason
            if spec.kind in (ColumnKind.IDENTIFIER, ColumnKind.KEY):
                spec.minimum, spec.maximum, spec.id_prefix = whole.minimum, whole.maximum, whole.id_prefix
        schema.notes = list(self.notes)
        return schema

    # -------------------------------------------------------------- validation
    def validate(self, df: pd.DataFrame, *, strict_categories: bool = False) -> None:
        """Check a table against this schema; raise one SchemaError listing every problem."""
        problems: list[str] = []
        missing = [c for c in self.names if c not in df.columns]
        extra = [str(c) for c in df.columns if c not in self]
        if missing:
            problems.append(f"columns missing from the table: {', '.join(missing)}")
        if extra:
            problems.append(f"columns not in the schema: {', '.join(extra)}")
        for spec in self.columns:
            if spec.name not in df.columns:
                continue
            series = df[spec.name]
            if spec.kind in (ColumnKind.CONTINUOUS, ColumnKind.INTEGER):
                bad = _non_numeric_mask(series)
                if bad.any():
                    problems.append(_text_in_numbers(spec.name, series, bad))
            elif spec.kind == ColumnKind.DATETIME:
                parsed = to_datetime(series, spec.datetime_format)
                bad = parsed.isna() & series.notna()
                if bad.any():
                    problems.append(
                        f"column '{spec.name}': expected dates ({spec.datetime_format or 'datetime'}), "
                        f"found {int(bad.sum())} rows that do not parse (first: row {int(np.flatnonzero(bad.to_numpy())[0])})"
                    )
            elif spec.kind.is_categorical and strict_categories and spec.categories is not None:
                known = set(spec.categories)
                unseen = sorted({str(v) for v in series.dropna().unique() if _py(v) not in known})
                if unseen:
                    problems.append(f"column '{spec.name}': values not in the category set: {', '.join(unseen[:5])}")
        if problems:
            raise SchemaError(problems)

    # ---------------------------------------------------------- value mapping
    def to_numeric(self, spec: ColumnSpec, series: pd.Series) -> np.ndarray:
        """Numbers (float64, NaN for missing) for a numeric-kind column; datetimes in seconds."""
        if spec.kind == ColumnKind.DATETIME:
            stamps = to_datetime(series, spec.datetime_format).to_numpy(dtype="datetime64[ns]")
            out = stamps.astype("int64").astype(np.float64) / 1e9
            out[np.isnat(stamps)] = np.nan
            return out
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    def restore_column(self, spec: ColumnSpec, values: np.ndarray | pd.Series) -> pd.Series:
        """Turn model-space values back into the column's original form and dtype."""
        kind = spec.kind
        if kind.is_numeric:
            vals = np.asarray(values, dtype=np.float64)
            own = False  # whether vals is an array made here, which may then be changed in place
            if spec.minimum is not None and spec.maximum is not None:
                vals, own = np.clip(vals, spec.minimum, spec.maximum), True  # NaN stays NaN
            if kind == ColumnKind.INTEGER:
                vals = np.round(vals, out=vals if own else None)
            if kind == ColumnKind.DATETIME:
                finite = ~np.isnan(vals)
                stamps = np.where(finite, np.round(vals), 0).astype("int64").astype("datetime64[s]")
                if spec.datetime_format:
                    text = format_datetimes(stamps, spec.datetime_format)
                    text[~finite] = None
                    return pd.Series(text, dtype=object)
                out = pd.Series(stamps.astype("datetime64[ns]"))
                out[~finite] = pd.NaT
                return out.astype(spec.dtype) if spec.dtype.startswith("datetime64") else out
            return _cast(pd.Series(vals), spec.dtype, has_missing=bool(np.isnan(vals).any()))
        if kind.is_categorical:
            series = pd.Series(values, dtype=object, copy=False)
            if spec.dtype == "object":
                return series
            return _cast(series, spec.dtype, has_missing=bool(series.isna().any()))
        return pd.Series(values)

    # -------------------------------------------------------------- JSON I/O
    def to_dict(self) -> dict:
        return {
            "schema_version": self.version,
            "target": self.target,
            "columns": [c.to_dict() for c in self.columns],
            "notes": list(self.notes),
            **({"relations": self.relations} if self.relations is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> "Schema":
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise IncompatibleModelError(
                f"schema version {version!r} is not supported (this synthgen reads version {SCHEMA_VERSION})"
            )
        return cls(
            columns=[ColumnSpec.from_dict(c) for c in data["columns"]],
            target=data.get("target"),
            notes=list(data.get("notes", [])),
            relations=data.get("relations"),  # absent in schemas written before relations were kept
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> "Schema":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"schema JSON is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        return cls.from_dict(data)


# ---------------------------------------------------------------------- helpers
class _ColumnProblem(Exception):
    pass


def sdv_columns(specs: Iterable[ColumnSpec]) -> dict[str, dict]:
    """SDV/SDMetrics column metadata for our specs, so side-by-side runs see the same column kinds."""
    cols: dict[str, dict] = {}
    for spec in specs:
        if spec.kind == ColumnKind.DATETIME:
            cols[spec.name] = {"sdtype": "datetime", "datetime_format": spec.datetime_format}
        elif spec.kind.is_numeric:
            cols[spec.name] = {"sdtype": "numerical"}
        else:
            cols[spec.name] = {"sdtype": "boolean" if spec.kind == ColumnKind.BOOLEAN else "categorical"}
    return cols


def kinds_from_schema_file(path: str | Path) -> dict[str, str]:
    """Column kinds from a schema JSON file (as ``synthgen inspect --json`` prints), to use as overrides."""
    path = Path(path)
    try:
        schema = Schema.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--schema '{path}': cannot be read ({exc.strerror or type(exc).__name__})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise SchemaError(f"--schema '{path}': not a synthgen schema ({exc})") from None
    return {c.name: c.kind.value for c in schema.columns if c.name != schema.target}


def parse_column_kinds(items: Iterable[str]) -> dict[str, str]:
    """Parse ``NAME=KIND`` strings from the command line."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, kind = item.partition("=")
        if not sep or not name or not kind:
            raise UsageError(f"--column-kind {item!r}: expected NAME=KIND, e.g. amount=continuous")
        out[name] = kind.strip().lower()
    return out


def to_datetime(series: pd.Series, fmt: str | None) -> pd.Series:
    """Parse a column to datetimes (naive, ns) with a known text format, or as datetime dtype."""
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert("UTC").dt.tz_localize(None)
        return out.astype("datetime64[ns]")
    return pd.to_datetime(series, format=fmt, errors="coerce").astype("datetime64[ns]")


_ISO_FORMATS = {"%Y-%m-%d %H:%M:%S": "s", "%Y-%m-%dT%H:%M:%S": "s", "%Y-%m-%d %H:%M": "m", "%Y-%m-%d": "D", "%Y-%m": "M"}


def _resolution(fmt: str) -> str:
    """The finest unit a strftime format shows (values are floored to it before formatting)."""
    for directive, unit in (("%S", "s"), ("%M", "m"), ("%H", "h"), ("%I", "h"), ("%d", "D"), ("%j", "D"),
                            ("%m", "M"), ("%b", "M"), ("%B", "M")):
        if directive in fmt:
            return unit
    return "Y"


def format_datetimes(stamps: np.ndarray, fmt: str) -> np.ndarray:
    """Datetimes as text in ``fmt`` (object array), fast: numpy's ISO formatter for ISO-like
    formats, otherwise each distinct value at the format's resolution formatted once."""
    unit = _resolution(fmt)
    floored = stamps.astype(f"datetime64[{unit}]")
    if fmt in _ISO_FORMATS:
        text = np.datetime_as_string(floored, unit=unit)
        if " " in fmt:
            text = np.strings.replace(text, "T", " ")
        return text.astype(object)
    uniques, inverse = np.unique(floored, return_inverse=True)
    formatted = pd.DatetimeIndex(uniques.astype("datetime64[ns]")).strftime(fmt)
    return np.asarray(formatted, dtype=object)[inverse]


def _non_numeric_mask(series: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return pd.Series(False, index=series.index)
    return pd.to_numeric(series, errors="coerce").isna() & series.notna()


def _text_in_numbers(name: str, series: pd.Series, bad: pd.Series) -> str:
    rows = np.flatnonzero(bad.to_numpy())
    first = series.iloc[rows[0]]
    return (
        f"column '{name}': expected numbers, found text in {len(rows)} rows "
        f"(first: row {series.index[rows[0]]}, {str(first)[:30]!r}); fix those rows or pass --column-kind {name}=categorical"
    )


_NULLABLE_INT = {f"{u}int{b}": f"{u.upper()}Int{b}" for u in ("", "u") for b in (8, 16, 32, 64)}


def _cast(series: pd.Series, dtype: str, *, has_missing: bool) -> pd.Series:
    """Cast to the original dtype; an integer/bool dtype with missing values becomes its nullable twin."""
    try:
        if has_missing and dtype in _NULLABLE_INT:
            return series.astype(_NULLABLE_INT[dtype])
        if has_missing and dtype == "bool":
            return series.astype("boolean")
        if dtype in ("object", "str", "string"):
            return series.astype(object if dtype == "object" else dtype)
        if dtype == "category":
            return series.astype("category")
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


def _basic(series: pd.Series, kind: ColumnKind, reason: str) -> ColumnSpec:
    return ColumnSpec(
        name=str(series.name),
        kind=kind,
        dtype=str(series.dtype),
        missing_rate=round(float(series.isna().mean()), 6),
        reason=reason,
    )


def _spec_for_kind(series: pd.Series, kind: ColumnKind, reason: str, fmt: str | None = None) -> ColumnSpec:
    """Fill a spec for a known kind, learning range, categories or date format from the data."""
    spec = _basic(series, kind, reason)
    name = spec.name
    values = series.dropna()
    if kind.is_categorical:
        cats = pd.unique(values)
        try:
            cats = sorted(cats)
        except TypeError:
            cats = sorted(cats, key=str)
        spec.categories = [_py(v) for v in cats]
    elif kind == ColumnKind.DATETIME:
        if not pd.api.types.is_datetime64_any_dtype(series):
            fmt = fmt or _datetime_format(values)
            if fmt is None:
                raise _ColumnProblem(f"column '{name}': set as datetime but its values match no known date format")
        spec.datetime_format = fmt
        parsed = to_datetime(values, fmt)
        if parsed.isna().any():
            bad = np.flatnonzero(parsed.isna().to_numpy())
            raise _ColumnProblem(f"column '{name}': {bad.size:,} values do not parse as dates ({fmt}) (first: row "
                                 f"{values.index[bad[0]]}, {str(values.iloc[bad[0]])[:30]!r})")
        secs = parsed.astype("int64").to_numpy() / 1e9
        spec.minimum, spec.maximum = float(secs.min()), float(secs.max())
    elif kind.is_numeric:
        bad = _non_numeric_mask(series)
        if bad.any():
            raise _ColumnProblem(_text_in_numbers(name, series, bad))
        nums = pd.to_numeric(values, errors="coerce")
        spec.minimum, spec.maximum = float(nums.min()), float(nums.max())
    elif kind in (ColumnKind.IDENTIFIER, ColumnKind.KEY):
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            nums = values.to_numpy(dtype=np.float64)
            fractional = np.flatnonzero(np.mod(nums, 1) != 0)
            if fractional.size:
                first = values.index[fractional[0]]
                raise _ColumnProblem(
                    f"column '{name}': kind {kind.value} needs whole numbers or codes, found fractional values "
                    f"(first: row {first}, {_py(nums[fractional[0]])})"
                )
            if nums.size:  # fresh numbers start above this (kept from the whole table by ``for_rows``)
                spec.minimum, spec.maximum = float(nums.min()), float(nums.max())
        else:
            spec.id_prefix = _fresh_prefix(values)
    return spec


def _fresh_prefix(values: pd.Series) -> str:
    """A prefix no real identifier or key starts with, so generated ones can never equal a real one."""
    # one pass over the values keeps only those that could clash (they start with "SYN")
    clashing = [text for text in map(str, values.to_numpy()) if text.startswith("SYN")]
    prefix = "SYN-"
    while any(text.startswith(prefix) for text in clashing):
        prefix = "SYN" + prefix
    return prefix


def _datetime_format(values: pd.Series) -> str | None:
    """The first known text date format that parses every one of the first ``_SAMPLE`` distinct values."""
    sample = _first_distinct(values)
    if sample.empty:
        return None
    for fmt, pattern in _DATETIME_FORMATS:
        if not sample.str.match(pattern).all():
            continue
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        if parsed.notna().all():
            return fmt
    return None


def _even_spread(nums: np.ndarray) -> tuple[bool, float, float]:
    """Whether distinct whole numbers are spread evenly over [min, max] (a uniform there).

    Kolmogorov-Smirnov distance of a seeded sample of at most ``_KS_SAMPLE`` values against the
    uniform on [min, max], compared with ``_KS_C / sqrt(sample size)``: the same test whatever the
    table size above 20,000 rows, so a random 30% or 70% of the rows reads the same. Returns
    (even, distance, critical value).
    """
    if nums.size > _KS_SAMPLE:
        nums = nums[np.random.default_rng(0).choice(nums.size, _KS_SAMPLE, replace=False)]
    x = np.sort(nums)
    low, high = x[0], x[-1]
    n = x.size
    u = (x - low) / (high - low) if high > low else np.zeros(n)
    steps = np.arange(1, n + 1) / n
    distance = float(max(np.max(steps - u), np.max(u - (steps - 1 / n))))
    critical = _KS_C / np.sqrt(n)
    return distance <= critical, distance, float(critical)


def _unique_by_design(nums: np.ndarray) -> bool:
    """Distinct whole numbers that would have repeated by chance if drawn at random from their range.

    Values drawn independently from the whole numbers in [min, max] repeat in about
    n(n-1) / (2 * range) pairs; with more than ``_CHANCE_PAIRS`` expected and none seen, the values
    are distinct on purpose (numbered rows), not by luck (e.g. a few hundred amounts in 1..100,000).
    """
    n = float(nums.size)
    span = float(nums.max()) - float(nums.min()) + 1.0
    return n * (n - 1) / (2.0 * span) >= _CHANCE_PAIRS


def _many_entities(nunique: int, rows: int) -> bool:
    """Values that repeat, and enough distinct ones for a key: ``_KEY_MIN_DISTINCT`` (half the rows
    on a tiny table).

    An absolute count rather than a share of the rows, so a random subset of a table (where a
    share of distinct values grows and the count barely moves) reads the same.
    """
    return rows > nunique >= min(_KEY_MIN_DISTINCT, max(10, rows // 2))


@dataclass
class _Decision:
    """A column's kind as the detection rules decide it, before its spec is filled from every row."""

    kind: ColumnKind
    reason: str
    fmt: str | None = None  # text dates: their format
    numbers_as_text: bool = False  # numbers kept as text ('000123'): the kind is the numbers'
    unique: str | None = None  # an identifier because "all" values are distinct, or "nearly" all (ID-like name)
    words: tuple = ()  # two true/false words: the two values
    whole_column: bool = False  # a rule whose outcome depends on the row count ran: decide on every row


def _detection_sample(rows: int) -> np.ndarray | None:
    """Sorted positions of the seeded sample kinds are decided on, or None when every row is read."""
    if rows <= DETECT_SAMPLE_ROWS:
        return None
    return np.sort(np.random.default_rng(_DETECT_SEED).choice(rows, DETECT_SAMPLE_ROWS, replace=False))


def _detect_column(series: pd.Series) -> ColumnSpec:
    """Pick a kind for one column from all its rows, with the reason recorded in the spec.

    Every rule reads something a large random subset of the rows keeps: the dtype, distinct
    values, repeats or not, the spread of values over their range, the column name. Nothing
    depends on exact consecutiveness or on a share of distinct values to rows.
    """
    return _column_spec(series, _decide(series))


def _detect_sampled(series: pd.Series, positions: np.ndarray) -> ColumnSpec:
    """Pick a kind on the rows at ``positions`` (a seeded sample), then check every row against it.

    The text rules that read the start of a column (dates, emails, codes) read the whole column's
    start, as a full detection would. A problem found on the sample (empty, constant, text among
    numbers) is looked at again on the whole column, which says what it is; so is a sample of
    distinct whole numbers without an ID-like name (the even-spread and by-design rules that then
    decide depend on the row count).
    """
    head = _Head.of(series.dropna()) if _is_text(series) else None
    try:
        decision = _decide(series.iloc[positions], head)
    except _ColumnProblem:
        return _detect_column(series)
    if decision.whole_column:
        return _detect_column(series)
    return _column_spec(series, decision, sample=len(positions))


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    return not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
                or pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype))


@dataclass
class _Head:
    """What the text rules read from the start of a column: its first ``_SAMPLE`` values and distinct values."""

    text: pd.Series
    distinct: pd.Series

    @classmethod
    def of(cls, values: pd.Series) -> "_Head":
        """The head of ``values`` (a column without its missing values)."""
        return cls(values.iloc[:_SAMPLE].astype(str), _first_distinct(values))


def _first_distinct(values: pd.Series, count: int = _SAMPLE) -> pd.Series:
    """``pd.unique(values)[:count]`` as text, reading only as many leading rows as that takes."""
    size = 16 * count
    while True:
        found = pd.unique(values.iloc[:size].to_numpy())
        if len(found) >= count or size >= len(values):
            return pd.Series(found[:count]).astype(str)
        size *= 4


def _decide(series: pd.Series, head: _Head | None = None) -> _Decision:
    """The kind rules on ``series`` (a whole column, or a sample of one with the whole column's ``head``)."""
    name = str(series.name)
    values = series.dropna()
    if values.empty:
        raise _ColumnProblem(f"column '{name}': every value is empty; drop the column")
    nunique = values.nunique()
    if nunique == 1 and len(series) > 1:
        raise _ColumnProblem(
            f"column '{name}': constant (every value is {str(values.iloc[0])[:30]!r}); "
            f"drop it, or keep it with --column-kind {name}=categorical"
        )
    if pd.api.types.is_bool_dtype(series):
        return _Decision(ColumnKind.BOOLEAN, "true/false values")
    if pd.api.types.is_datetime64_any_dtype(series):
        return _Decision(ColumnKind.DATETIME, "datetime dtype")
    if isinstance(series.dtype, pd.CategoricalDtype):
        return _Decision(ColumnKind.CATEGORICAL, "category dtype")
    if pd.api.types.is_numeric_dtype(series):
        return _decide_numbers(name, values, nunique)
    return _decide_text(series, values, nunique, head or _Head.of(values))


def _distinctness(values: pd.Series, nunique: int, name: str) -> tuple[bool, bool, bool]:
    """(a distinct value per row, nearly so, an ID-like name)."""
    rows = len(values)
    unique_per_row = nunique == rows and rows >= 20
    # an ID-named column with a rare repeat (a data-entry slip) is still a value per row
    nearly_unique = rows >= 20 and nunique >= (1 - _DUP_TOLERANCE) * rows
    return unique_per_row, nearly_unique, bool(_ID_NAME.search(name))


def _decide_numbers(name: str, values: pd.Series, nunique: int) -> _Decision:
    """Kind rules for a numeric column (``values``: without its missing values)."""
    unique_per_row, nearly_unique, id_like_name = _distinctness(values, nunique, name)
    nums = values.to_numpy(dtype=np.float64)
    integral = bool(np.all(np.mod(nums, 1) == 0))
    if integral and id_like_name and nearly_unique:
        return _Decision(ColumnKind.IDENTIFIER, "ID-like name, a distinct value per row", unique="nearly")
    if integral and id_like_name and _many_entities(nunique, len(values)):
        return _Decision(ColumnKind.KEY, f"ID-like name, {nunique:,} values shared by several rows")
    if integral and unique_per_row:
        even, distance, critical = _even_spread(nums)
        if even and _unique_by_design(nums):
            return _Decision(
                ColumnKind.IDENTIFIER,
                f"whole numbers, one per row, spread evenly over their range (KS {distance:.4f} <= {critical:.4f})",
                whole_column=True,
            )
        return _Decision(ColumnKind.INTEGER, "whole numbers", whole_column=True)
    if integral:
        return _Decision(ColumnKind.INTEGER, "whole numbers")
    return _Decision(ColumnKind.CONTINUOUS, "numbers")


def _decide_text(series: pd.Series, values: pd.Series, nunique: int, head: _Head) -> _Decision:
    """Kind rules for a text column: they look at the distinct values or the head, never re-map the whole column."""
    name = str(series.name)
    if nunique == 2:
        words = pd.unique(values)
        if {str(v).strip().lower() for v in words} <= _TRUE_FALSE:
            return _Decision(ColumnKind.BOOLEAN, "two true/false words", words=tuple(words))
    sample = head.text
    head_share = float(pd.to_numeric(sample, errors="coerce").notna().mean())
    numeric = pd.to_numeric(values.astype(str), errors="coerce") if head_share >= 0.5 else None
    share_numeric = float(numeric.notna().mean()) if numeric is not None else head_share
    if share_numeric == 1.0:
        decision = _decide(pd.Series(numeric.reindex(series.index), name=name))
        decision.numbers_as_text = True
        return decision
    if share_numeric >= 0.9:
        raise _ColumnProblem(_text_in_numbers(name, series, _non_numeric_mask(series)))
    fmt = _datetime_format(head.distinct)
    if fmt is not None:
        return _Decision(ColumnKind.DATETIME, f"dates formatted {fmt}", fmt=fmt)
    if sample.str.match(_EMAIL).mean() >= 0.8:
        return _Decision(ColumnKind.PERSONAL, "email addresses")
    if sample.str.match(_PHONE).mean() >= 0.8 and sample.str.count(r"\d").mean() >= 7:
        return _Decision(ColumnKind.PERSONAL, "phone numbers")
    if _PERSONAL_NAME.search(name) and nunique > 0.2 * len(values):
        return _Decision(ColumnKind.PERSONAL, "personal-data column name with many distinct values")
    has_space = float(sample.str.contains(" ").mean())
    if float(sample.str.len().mean()) > 30 and has_space > 0.5 and nunique > 0.5 * len(values):
        return _Decision(ColumnKind.PERSONAL, "free text")
    unique_per_row, nearly_unique, id_like_name = _distinctness(values, nunique, name)
    if unique_per_row or (id_like_name and nearly_unique):
        if has_space < 0.1:
            return _Decision(ColumnKind.IDENTIFIER, "a distinct code per row", unique="nearly" if id_like_name else "all")
        return _Decision(ColumnKind.PERSONAL, "distinct text per row")
    if has_space < 0.1 and _many_entities(nunique, len(values)):
        if id_like_name or bool(sample.str.match(_CODE).all()):
            why = "ID-like name" if id_like_name else "codes"
            return _Decision(ColumnKind.KEY, f"{why}, {nunique:,} values shared by several rows")
    return _Decision(ColumnKind.CATEGORICAL, "text with repeated values")


def _column_spec(series: pd.Series, decision: _Decision, sample: int | None = None) -> ColumnSpec:
    """The spec of a decided column, filled from all its rows; with ``sample`` (the kind was decided on
    that many sampled rows) every row is first checked against the kind (``_check_rows``)."""
    kind, name = decision.kind, str(series.name)
    if not decision.numbers_as_text:
        if sample is not None:
            _check_rows(series, decision, sample)
        return _spec_for_kind(series, kind, decision.reason, fmt=decision.fmt)
    values = series.dropna()
    numeric = pd.Series(_to_numbers(values, decision, sample).reindex(series.index), name=name)
    if sample is not None:
        _check_rows(numeric, decision, sample)
    spec = _spec_for_kind(numeric, kind, decision.reason)
    spec.dtype = str(series.dtype)
    if kind in (ColumnKind.IDENTIFIER, ColumnKind.KEY):
        # numbers kept as text ('000123'): generated values are text with a fresh prefix
        spec.id_prefix = _fresh_prefix(values)
        spec.minimum = spec.maximum = None
    return spec


def _to_numbers(values: pd.Series, decision: _Decision, sample: int | None) -> pd.Series:
    """Numbers kept as text, parsed; after a sampled decision every row must parse (one chunked pass)."""
    parts = [pd.to_numeric(values.iloc[i:i + _CHECK_CHUNK].astype(str), errors="coerce")
             for i in range(0, len(values), _CHECK_CHUNK)]
    numeric = pd.concat(parts) if len(parts) > 1 else parts[0]
    if sample is not None:
        _raise_violation(values, numeric.isna().to_numpy(), decision, sample, "not a number",
                         f"fix those rows, or pass --column-kind {values.name}=categorical")
    return numeric


def _check_rows(series: pd.Series, decision: _Decision, sample: int) -> None:
    """Every row of a column must hold the kind a sample decided: one pass in chunks of ``_CHECK_CHUNK``
    rows (whole numbers, only the two true/false words), then distinctness. Dates are parsed, every
    row, when ``_spec_for_kind`` reads their range, and numbers kept as text in ``_to_numbers``."""
    test = _row_test(series, decision)
    if test is not None:
        bad, what, fix = test
        values = series.dropna()
        flags = [bad(values.iloc[i:i + _CHECK_CHUNK]) for i in range(0, len(values), _CHECK_CHUNK)]
        _raise_violation(values, np.concatenate(flags) if flags else np.zeros(0, bool), decision, sample, what, fix)
    if decision.unique is not None:
        _check_distinct(series, decision, sample)


def _row_test(series: pd.Series, decision: _Decision) -> tuple[Any, str, str] | None:
    """(chunk -> flags of rows that break the kind, what those rows are, the fix), or None: nothing to check."""
    name, kind = str(series.name), decision.kind
    if kind in (ColumnKind.INTEGER, ColumnKind.IDENTIFIER, ColumnKind.KEY) and pd.api.types.is_numeric_dtype(series):
        def fractional(chunk: pd.Series) -> np.ndarray:
            return np.mod(chunk.to_numpy(dtype=np.float64), 1) != 0
        return fractional, "not whole numbers", f"pass --column-kind {name}=continuous"
    if kind == ColumnKind.BOOLEAN and decision.words:
        def other(chunk: pd.Series) -> np.ndarray:
            return ~chunk.isin(decision.words).to_numpy()
        return other, f"neither {decision.words[0]!r} nor {decision.words[1]!r}", f"pass --column-kind {name}=categorical"
    return None


def _check_distinct(series: pd.Series, decision: _Decision, sample: int) -> None:
    """An identifier decided on a sample: all its values distinct ("all"), or nearly all ("nearly")."""
    values = series.dropna()
    repeats = values.duplicated().to_numpy()
    allowed = 0 if decision.unique == "all" else int(_DUP_TOLERANCE * len(values))
    if int(repeats.sum()) > allowed:
        _raise_violation(values, repeats, decision, sample, "a repeat of an earlier row's value",
                         f"pass --column-kind {series.name}=key (or integer/categorical)")


def _raise_violation(values: pd.Series, flags: np.ndarray, decision: _Decision, sample: int, what: str,
                     fix: str) -> None:
    """Raise the one-line problem for the rows ``flags`` marks (if any), naming the first."""
    rows = np.flatnonzero(flags)
    if not rows.size:
        return
    first = values.iloc[rows[0]]
    raise _ColumnProblem(
        f"column '{values.name}': decided {decision.kind.value} ({decision.reason}) on a seeded sample of "
        f"{sample:,} rows, but {rows.size:,} rows are {what} (first: row {values.index[rows[0]]}, "
        f"{str(first)[:30]!r}); {fix}"
    )
