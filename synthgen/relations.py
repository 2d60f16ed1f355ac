"""Deterministic relations between columns that every real row obeys, found or declared, and kept in
generated rows.

Four kinds (issue 12), each a small frozen record with a text form that ``--relation`` parses back:

- ``floordiv``: ``B = A // c`` (a whole-number column derived from another, e.g.
  ``TX_TIME_DAYS = TX_TIME_SECONDS // 86400``);
- ``fixed``: ``A -> B``, each value of A comes with one value of B (a category and its group);
- ``order``: ``A <= B`` (start <= end, amount <= limit), numbers or dates;
- ``sum``: ``A + B = c`` (shares that add up to a constant).

Detection (``detect``) looks only at modelled columns (identifiers, keys and personal columns are not
generated from the model) and keeps a relation only when it holds in every row with both values
present, on enough rows to mean something (``MIN_ROWS``), and is not trivial (order between columns
whose ranges never overlap; a fixed combination whose source is unique per row). ``enforce`` repairs
generated rows so they hold 100% (order: swap the pair; the rest: recompute the dependent column from
its source), and ``kept_share`` measures, for the scorecard, the share of rows that keep each relation.

A fitted model keeps its relations in its schema (``Schema.relations``, plain dicts): ``for_fit`` finds and
checks them at fit, ``attach`` stores them, ``stored`` reads them back.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .exceptions import GeneratorError, UsageError
from .schema import ColumnKind, Schema, _py

__all__ = ["Relation", "detect", "parse_relation", "check_relation", "enforce", "kept_share", "MIN_ROWS",
           "for_fit", "attach", "stored"]

MIN_ROWS = 30  # rows with both values present that a detected relation must hold on
_MAX_FIXED_VALUES = 200  # a fixed combination's source has at most this many values...
_MIN_ROWS_PER_VALUE = 2.0  # ...and at least this many rows per value on average (else it is an identifier)
_DETECT_ROWS = 200_000  # candidates are found on a seeded sample of this many rows, then checked on all
_PROBE_ROWS = 1_000  # an order or sum is first tried on this many rows: one failing row rules it out
_SCALE_ORDER = 0.99  # an order that a random pairing keeps in this share of rows is one of scale, not kept
_NICE = (7, 10, 12, 24, 60, 100, 1000, 3600, 86400, 604800)  # constants preferred when several fit


@dataclass(frozen=True)
class Relation:
    """One relation: its kind, the columns it ties (source(s) first, the dependent one last), its constant."""

    kind: str  # "floordiv" | "fixed" | "order" | "sum"
    columns: tuple[str, ...]
    constant: float | None = None
    mapping: tuple[tuple[Any, Any], ...] | None = None  # fixed: (source value, dependent value) pairs
    source: str = "detected"  # or "declared"

    def text(self) -> str:
        """The form ``--relation`` takes (and ``inspect`` prints)."""
        a, b = self.columns[0], self.columns[-1]
        if self.kind == "floordiv":
            return f"{b} = {a} // {_num(self.constant)}"
        if self.kind == "fixed":
            return f"{a} -> {b}"
        if self.kind == "order":
            return f"{a} <= {b}"
        return f"{' + '.join(self.columns)} = {_num(self.constant)}"

    def to_dict(self) -> dict:
        """JSON-ready fields (mapping as [source, dependent] pairs) plus the text form."""
        out = asdict(self)
        out["columns"] = list(self.columns)
        out["mapping"] = None if self.mapping is None else [[_py(a), _py(b)] for a, b in self.mapping]
        out["text"] = self.text()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Relation":
        """The relation ``to_dict`` wrote."""
        mapping = data.get("mapping")
        return cls(kind=data["kind"], columns=tuple(data["columns"]), constant=data.get("constant"),
                   mapping=None if mapping is None else tuple((a, b) for a, b in mapping),
                   source=data.get("source", "detected"))


def _num(x: float | None) -> str:
    return str(int(x)) if x is not None and float(x).is_integer() else f"{x:g}"


# ----------------------------------------------------------------------------- values

def _values(df: pd.DataFrame, schema: Schema, name: str) -> np.ndarray:
    """A column as float64 (dates as seconds since the epoch; NaN for missing or unreadable values)."""
    spec = schema[name]
    series = df[name]
    if spec.kind == ColumnKind.DATETIME:
        parsed = pd.to_datetime(series, format=spec.datetime_format, errors="coerce")
        out = (parsed - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=float)
        return out
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _sample(df: pd.DataFrame, rows: int = _DETECT_ROWS) -> pd.DataFrame:
    if len(df) <= rows:
        return df
    pick = np.sort(np.random.default_rng(0).choice(len(df), rows, replace=False))
    return df.iloc[pick]


# ----------------------------------------------------------------------------- detection

def _floordiv_constant(a: np.ndarray, b: np.ndarray) -> float | None:
    """The whole c >= 2 with b == a // c on every row, preferring round constants; None when none fits."""
    if np.any(a < 0) or np.any(b < 0) or np.unique(b).size < 2:
        return None
    lo = float(np.max(a / (b + 1)))  # c > a / (b + 1) for every row
    pos = b > 0
    hi = float(np.min(a[pos] / b[pos])) if pos.any() else math.inf  # c <= a / b where b > 0
    start = max(2, math.floor(lo) + 1)
    if start > hi:
        return None
    nice = [c for c in _NICE if start <= c <= hi]
    return float(nice[0] if nice else start)


def _order_by_scale(x: np.ndarray, y: np.ndarray) -> bool:
    """True when x <= y would hold in nearly every row even with the two columns paired at random (a seeded
    shuffle): the order then comes from their scales (installment rate 1-4 <= duration 4-72 months), not
    from the rows."""
    shuffled = np.random.default_rng(0).permutation(y)
    return float(np.mean(x <= shuffled)) >= _SCALE_ORDER


def _numeric_relations(frame: pd.DataFrame, schema: Schema, names: list[str]) -> list[Relation]:
    vals = {n: _values(frame, schema, n) for n in names}
    present = {n: ~np.isnan(v) for n, v in vals.items()}
    head = {n: v[:_PROBE_ROWS] for n, v in vals.items()}
    found: list[Relation] = []
    integer = [n for n in names if schema[n].kind == ColumnKind.INTEGER]
    for a, b in itertools.permutations(integer, 2):
        # b == a // c with c >= 2 needs 0 <= 2 b <= a: one row of the first ones that breaks it rules c out
        if np.any(head[a] < 0) or np.any(2 * head[b] > head[a]) or np.any(head[b] < 0):
            continue
        both = present[a] & present[b]
        if both.sum() >= MIN_ROWS and np.unique(vals[b][both]).size < np.unique(vals[a][both]).size:
            c = _floordiv_constant(vals[a][both], vals[b][both])
            if c is not None and np.array_equal(np.floor(vals[a][both] / c), vals[b][both]):
                found.append(Relation("floordiv", (a, b), c))
    for a, b in itertools.permutations(names, 2):
        if (schema[a].kind == ColumnKind.DATETIME) != (schema[b].kind == ColumnKind.DATETIME):
            continue
        if np.any(head[a] > head[b]):  # a relation holds in every row: most pairs fail in the first rows
            continue
        both = present[a] & present[b]
        x, y = vals[a][both], vals[b][both]
        if len(x) >= MIN_ROWS and np.all(x <= y) and np.any(x < y) and not _order_by_scale(x, y):
            found.append(Relation("order", (a, b)))
    numbers = [n for n in names if schema[n].kind in (ColumnKind.INTEGER, ColumnKind.CONTINUOUS)]
    for a, b in itertools.combinations(numbers, 2):
        first = head[a] + head[b]
        first = first[~np.isnan(first)]
        if len(first) and np.ptp(first) > 1e-9 * max(1.0, abs(first[0])):
            continue
        both = present[a] & present[b]
        total = vals[a][both] + vals[b][both]
        if len(total) >= MIN_ROWS and np.unique(vals[a][both]).size > 1 and np.ptp(total) <= 1e-9 * max(1.0, abs(total[0])):
            found.append(Relation("sum", (a, b), float(total[0])))
    return found


def _fixed_relations(frame: pd.DataFrame, schema: Schema, sources: list[str], names: list[str]) -> list[Relation]:
    """A -> B for discrete sources A (categories, or whole numbers with few values) and any modelled B: on
    factorised codes, A determines B when the (A, B) pairs are no more than A's values."""
    head = frame.iloc[:_PROBE_ROWS]
    probe = {n: pd.factorize(head[n], use_na_sentinel=True)[0].astype(np.int64) for n in set(sources) | set(names)}
    pairs = set()
    for a in sources:  # A determines B in every row only if it does in the first rows: most pairs end here
        for b in names:
            both = (probe[a] >= 0) & (probe[b] >= 0)
            if a != b and _determines(probe[a][both], probe[b][both], len(head)):
                pairs.add((a, b))
    codes = {n: pd.factorize(frame[n], use_na_sentinel=True)[0].astype(np.int64) for n in {c for p in pairs for c in p}}
    found: list[Relation] = []
    for a in sources:
        if a not in {source for source, _ in pairs}:
            continue
        ca = codes[a]
        counts = np.bincount(ca[ca >= 0])
        n_values = int(np.count_nonzero(counts))
        if n_values < 2 or n_values > _MAX_FIXED_VALUES:
            continue
        for b in names:
            if (a, b) not in pairs:
                continue
            cb = codes[b]
            both = (ca >= 0) & (cb >= 0)
            rows = int(both.sum())
            if rows < MIN_ROWS or cb[both].min() == cb[both].max():
                continue
            per_value = np.bincount(ca[both])
            repeated = per_value[per_value >= 2]
            if rows / max(np.count_nonzero(per_value), 1) < _MIN_ROWS_PER_VALUE or len(repeated) < 2 \
                    or repeated.sum() < 0.9 * rows:
                continue  # mostly single rows per value: one B per A would hold by construction
            if _determines(ca[both], cb[both], len(per_value)):
                first = frame.loc[both, [a, b]].groupby(a, sort=True, observed=True)[b].first()
                found.append(Relation("fixed", (a, b), mapping=tuple((_scalar(k), _scalar(v))
                                                                     for k, v in first.items())))
    return found


def _determines(ca: np.ndarray, cb: np.ndarray, n_a: int) -> bool:
    """Whether each code of A comes with one code of B: B's smallest and largest code agree within every A."""
    low = np.full(n_a, np.iinfo(np.int64).max)
    high = np.full(n_a, -1)
    np.minimum.at(low, ca, cb)
    np.maximum.at(high, ca, cb)
    present = high >= 0
    return bool(np.array_equal(low[present], high[present]))


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def detect(df: pd.DataFrame, schema: Schema) -> list[Relation]:
    """Every relation of the four kinds that holds in every row of ``df`` among its modelled columns."""
    names = [s.name for s in schema.modelled() if s.name in df.columns and s.name != schema.target]
    numeric = [n for n in names if schema[n].kind.is_numeric]
    sample = _sample(df)
    discrete = [n for n in names if schema[n].kind.is_categorical
                or (schema[n].kind == ColumnKind.INTEGER and sample[n].nunique() <= _MAX_FIXED_VALUES)]
    candidates = _numeric_relations(sample, schema, numeric) + _fixed_relations(sample, schema, discrete, names)
    if sample is df:
        return candidates
    return [r for r in candidates if kept_share(df, schema, [r])[r.text()] == 1.0]


# ----------------------------------------------------------------------------- declared

_FLOORDIV = re.compile(r"^\s*(?P<b>.+?)\s*=\s*(?P<a>.+?)\s*//\s*(?P<c>[0-9.eE+]+)\s*$")
_ORDER = re.compile(r"^\s*(?P<a>.+?)\s*(?P<op><=|>=)\s*(?P<b>.+?)\s*$")
_FIXED = re.compile(r"^\s*(?P<a>.+?)\s*->\s*(?P<b>.+?)\s*$")
_SUM = re.compile(r"^\s*(?P<cols>.+?\+.+?)\s*=\s*(?P<c>-?[0-9.eE+]+)\s*$")


def parse_relation(text: str, df: pd.DataFrame, schema: Schema) -> Relation:
    """A ``--relation`` text as a Relation, checked against ``df``'s columns and rows (one-line errors)."""
    def column(name: str) -> str:
        name = name.strip()
        _check_column(text, name, df, schema)
        return name

    if m := _FLOORDIV.match(text):
        c = float(m["c"])
        if c < 1 or not c.is_integer():
            raise UsageError(f"--relation {text!r}: the divisor must be a whole number >= 1")
        rel = Relation("floordiv", (column(m["a"]), column(m["b"])), c, source="declared")
    elif m := _SUM.match(text):
        rel = Relation("sum", tuple(column(c) for c in m["cols"].split("+")), float(m["c"]), source="declared")
    elif m := _ORDER.match(text):
        a, b = column(m["a"]), column(m["b"])
        rel = Relation("order", (a, b) if m["op"] == "<=" else (b, a), source="declared")
    elif m := _FIXED.match(text):
        a, b = column(m["a"]), column(m["b"])
        first = df[[a, b]].dropna().groupby(a, sort=True, observed=True)[b].first()
        rel = Relation("fixed", (a, b), mapping=tuple((_scalar(k), _scalar(v)) for k, v in first.items()),
                       source="declared")
    else:
        raise UsageError(f"--relation {text!r}: expected 'B = A // N', 'A <= B', 'A -> B' or 'A + B = N'")
    return check_relation(rel, df, schema, text)


def _check_column(text: str, name: str, df: pd.DataFrame, schema: Schema) -> None:
    if name not in df.columns or name not in schema:
        raise UsageError(f"--relation {text!r}: column '{name}' is not in the table")
    if name == schema.target:
        raise UsageError(f"--relation {text!r}: column '{name}' is the target; relations tie feature columns")
    if not schema[name].kind.is_modelled:
        raise UsageError(f"--relation {text!r}: column '{name}' is not modelled ({schema[name].kind.value}); "
                         "relations tie modelled columns")


_NUMBERS = (ColumnKind.INTEGER, ColumnKind.CONTINUOUS)
_KIND_RULES = {  # relation kind -> (does it fit the columns' kinds, what it needs)
    "floordiv": (lambda k: k[0] in _NUMBERS and k[-1] == ColumnKind.INTEGER,
                 "a number column divided into a whole-number (integer) column"),
    "order": (lambda k: all(x in _NUMBERS for x in k) or all(x == ColumnKind.DATETIME for x in k),
              "two number columns or two date columns"),
    "sum": (lambda k: all(x in _NUMBERS for x in k), "number columns"),
    "fixed": (lambda k: k[0].is_categorical or k[0] == ColumnKind.INTEGER,
              "a category, boolean or whole-number source column"),
}


def check_relation(rel: Relation, df: pd.DataFrame, schema: Schema, text: str | None = None) -> Relation:
    """``rel`` after checking its columns (present, modelled, of kinds it fits) and that every row of ``df``
    keeps it; a UsageError names the problem (how many rows break it, and the first)."""
    text = rel.text() if text is None else text
    for name in rel.columns:
        _check_column(text, name, df, schema)
    kinds = [schema[c].kind for c in rel.columns]
    fits, needs = _KIND_RULES[rel.kind]
    if not fits(kinds):
        found = ", ".join(f"'{c}' is {k.value}" for c, k in zip(rel.columns, kinds))
        raise UsageError(f"--relation {text!r}: relation kind '{rel.kind}' needs {needs}; {found}")
    broken = ~_holds(df, schema, rel)
    if broken.any():
        first = int(np.flatnonzero(broken)[0])
        values = ", ".join(f"{c}={_py(df[c].iloc[first])!r}" for c in dict.fromkeys(rel.columns))
        raise UsageError(f"--relation {text!r}: {int(broken.sum()):,} of {len(df):,} real rows break it (first: "
                         f"row {_py(df.index[first])}, {values}); a relation must hold in every real row")
    return rel


# ----------------------------------------------------------------------------- kept by a model

def for_fit(df: pd.DataFrame, schema: Schema, declared: Iterable[Relation | str] = (), *,
            detect_relations: bool = True) -> list[Relation]:
    """The relations a fit keeps: those ``detect`` finds in ``df`` (unless ``detect_relations`` is False),
    then the declared ones (``--relation`` texts or Relations, checked on ``df``); a declared relation replaces
    a detected one of the same text."""
    found = {r.text(): r for r in (detect(df, schema) if detect_relations else [])}
    for item in declared or ():
        if isinstance(item, Relation):
            rel = check_relation(dataclasses.replace(item, source="declared"), df, schema)
        elif isinstance(item, str):
            rel = parse_relation(item, df, schema)
        else:
            raise UsageError(f"relations: expected Relation objects or --relation texts, got {type(item).__name__}")
        found.pop(rel.text(), None)
        found[rel.text()] = rel
    return list(found.values())


def attach(schema: Schema, relations: Sequence[Relation], *, detected: bool = True) -> Schema:
    """A copy of ``schema`` that keeps ``relations`` (``detected``: whether detection was on at fit)."""
    return dataclasses.replace(schema, relations={"detected": bool(detected),
                                                  "items": [r.to_dict() for r in relations]})


def stored(schema: Schema) -> list[Relation]:
    """The relations a schema keeps (none for a schema that never looked for them)."""
    return [Relation.from_dict(d) for d in ((schema.relations or {}).get("items") or [])]


# ----------------------------------------------------------------------------- keep and measure

def _holds(df: pd.DataFrame, schema: Schema, rel: Relation) -> np.ndarray:
    """Per row: True where the relation holds or a value it needs is missing."""
    if rel.kind == "fixed":
        a, b = rel.columns
        mapping = dict(rel.mapping or ())
        expected = df[a].map(mapping)
        known = df[a].notna() & expected.notna() & df[b].notna()
        ok = ~known | (expected.astype(object) == df[b].astype(object))
        return ok.to_numpy(dtype=bool)
    vals = [_values(df, schema, c) for c in rel.columns]
    missing = np.any(np.isnan(np.vstack(vals)), axis=0)
    if rel.kind == "floordiv":
        ok = np.floor(vals[0] / rel.constant) == vals[1]
    elif rel.kind == "order":
        ok = vals[0] <= vals[1]
    else:
        total = np.sum(np.vstack(vals), axis=0)
        ok = np.abs(total - rel.constant) <= 1e-9 * max(1.0, abs(rel.constant))
    return missing | ok


def kept_share(df: pd.DataFrame, schema: Schema, relations: Sequence[Relation]) -> dict[str, float]:
    """{relation text: share of rows of ``df`` that keep it} (rows missing a needed value count as kept)."""
    return {r.text(): float(np.mean(_holds(df, schema, r))) if len(df) else 1.0 for r in relations}


def enforce(df: pd.DataFrame, schema: Schema, relations: Iterable[Relation]) -> pd.DataFrame:
    """Generated rows repaired to keep every relation: order pairs swapped where broken, then each
    dependent column (floordiv, fixed, sum: the last column) recomputed from its source(s); repeated while a
    repair broke another relation (at most ``_ROUNDS`` times). Columns keep their dtypes; a row missing a
    needed value is left as it is. The caller's frame is never changed."""
    relations = list(relations)
    if not relations or len(df) == 0:
        return df
    out = df.copy()
    for _ in range(_ROUNDS):
        for rel in (r for r in relations if r.kind == "order"):
            _swap(out, schema, rel)
        for rel in (r for r in relations if r.kind != "order"):
            _recompute(out, schema, rel)
        broken = [r.text() for r in relations if not _holds(out, schema, r).all()]
        if not broken:
            return out
    raise GeneratorError(f"relation {', '.join(broken)} still broken in generated rows after {_ROUNDS} repair passes: "
                         "the kept relations contradict each other; declare fewer (--relation) or turn detection off "
                         "(--no-relations)")


_ROUNDS = 3  # repair passes before relations that undo each other are reported


def _swap(out: pd.DataFrame, schema: Schema, rel: Relation) -> None:
    """``A <= B``: swap A and B in the rows that break it (in place, each column in its own dtype)."""
    a, b = rel.columns
    bad = ~_holds(out, schema, rel)
    if bad.any():
        va, vb = out[a].to_numpy(dtype=object), out[b].to_numpy(dtype=object)
        out[a] = _cast_like(np.where(bad, vb, va), out[a])
        out[b] = _cast_like(np.where(bad, va, vb), out[b])


def _recompute(out: pd.DataFrame, schema: Schema, rel: Relation) -> None:
    """The dependent (last) column recomputed from its source(s) (in place) where it holds a value: a missing
    dependent stays missing (its missing share is the model's), a missing result keeps the old value."""
    dep = rel.columns[-1]
    if rel.kind == "fixed":
        value = out[rel.columns[0]].map(dict(rel.mapping or ()))
    elif rel.kind == "floordiv":
        value = pd.Series(np.floor(_values(out, schema, rel.columns[0]) / rel.constant), index=out.index)
    else:
        total = np.sum(np.vstack([_values(out, schema, c) for c in rel.columns[:-1]]), axis=0)
        value = pd.Series(rel.constant - total, index=out.index)
    keep = value.isna().to_numpy() | out[dep].isna().to_numpy()
    if keep.all():
        return
    merged = np.where(keep, out[dep].to_numpy(dtype=object), value.to_numpy(dtype=object))
    out[dep] = _cast_like(merged, out[dep])


def _cast_like(value: Any, like: pd.Series) -> pd.Series:
    """``value`` in ``like``'s dtype (whole numbers rounded, so they stay whole; missing stays missing)."""
    series = pd.Series(value, index=like.index)
    if pd.api.types.is_integer_dtype(like.dtype) or pd.api.types.is_float_dtype(like.dtype):
        series = pd.to_numeric(series, errors="coerce")
        if pd.api.types.is_integer_dtype(like.dtype):
            series = series.round()
    try:
        return series.astype(like.dtype)
    except (TypeError, ValueError):
        return series
