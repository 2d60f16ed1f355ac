"""Conditions on generated rows (``sample(where=...)``, ``generate --where``): parsed, checked against a schema.

Two forms give the same ``Conditions``:

- Python: ``{"Make": "Honda", "Age": (30, 50)}``; a tuple is the half-open range ``[low, high)`` (None:
  an open end), a list several allowed values, anything else one allowed value.
- CLI: ``Make=Honda``, ``Make=Honda|Toyota`` (several allowed values), ``Age>=30``, ``Age>30``,
  ``Age<50``, ``Age<=50``; several on one column must all hold (AND).

A condition is an equality on a categorical or boolean column (or a whole-number one: ``Age=30`` is
the range ``[30, 30]``), or a range on a numeric or datetime one (a range on a categorical column whose
categories are all numbers picks those categories). Identifiers, keys, personal data and the target
cannot be conditioned: generated identifiers and keys are fresh, personal data is left empty, and
every generated row is of the rare class. ``Conditions.mask`` tells which rows of a table (original
values) meet every condition; ``Conditions.model_bounds`` maps them into a fitted generator's model
space (allowed category codes, numeric boxes that restore inside the range).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .exceptions import ParameterError
from .schema import ColumnKind, Schema, _py, _resolution, to_datetime

__all__ = ["Condition", "Conditions", "parse_where", "conditions_from", "matching_real_rows"]

_TEXT = re.compile(r"^\s*(?P<col>.+?)\s*(?P<op>>=|<=|==|!=|=|>|<)\s*(?P<value>.*?)\s*$")
_MISSING = "__missing__"  # synthgen.models.encoding.MISSING: a missing category's code (tests check they agree)
_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


@dataclass(frozen=True)
class Condition:
    """One column's condition: allowed values (``equals``) or an interval (``range``) in original units."""

    column: str
    kind: str  # "equals" | "range"
    values: tuple = ()
    low: Any = None
    high: Any = None
    low_closed: bool = True
    high_closed: bool = False
    datetime_format: str | None = None  # a datetime range: how the column's text parses

    @property
    def is_datetime(self) -> bool:
        """Whether the bounds are datetimes (``pd.Timestamp``)."""
        return isinstance(self.low, pd.Timestamp) or isinstance(self.high, pd.Timestamp)

    def texts(self) -> list[str]:
        """The CLI form: ``Make=Honda``, ``Make=Honda|Toyota``, ``Age>=30``, ``Age<50``."""
        if self.kind == "equals":
            return [f"{self.column}=" + "|".join(_show(v) for v in self.values)]
        out = []
        if self.low is not None:
            out.append(f"{self.column}{'>=' if self.low_closed else '>'}{_show(self.low)}")
        if self.high is not None:
            out.append(f"{self.column}{'<=' if self.high_closed else '<'}{_show(self.high)}")
        return out

    def mask(self, column: Any) -> np.ndarray:
        """Whether each value (original form) meets this condition; missing values never do."""
        series = column if isinstance(column, pd.Series) else pd.Series(np.asarray(column, dtype=object))
        if self.kind == "equals":
            return series.isin(list(self.values)).to_numpy(dtype=bool) & series.notna().to_numpy()
        if self.is_datetime:
            stamps = to_datetime(series, self.datetime_format).to_numpy(dtype="datetime64[ns]")
            values = stamps.astype("int64").astype(np.float64) / 1e9
            values[np.isnat(stamps)] = np.nan
        else:
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        low, high = _seconds(self.low), _seconds(self.high)
        ok = ~np.isnan(values)
        if low is not None:
            ok &= values >= low if self.low_closed else values > low
        if high is not None:
            ok &= values <= high if self.high_closed else values < high
        return ok

    def to_dict(self) -> dict:
        """JSON-ready form (datetimes as ISO text)."""
        return {"column": self.column, "kind": self.kind, "values": [_py(v) for v in self.values],
                "low": _json_bound(self.low), "high": _json_bound(self.high), "low_closed": self.low_closed,
                "high_closed": self.high_closed, "datetime": self.is_datetime,
                "datetime_format": self.datetime_format}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Condition":
        """Read back ``to_dict``."""
        conv = pd.Timestamp if data.get("datetime") else (lambda v: v)
        low, high = data.get("low"), data.get("high")
        return cls(column=data["column"], kind=data["kind"], values=tuple(data.get("values") or ()),
                   low=None if low is None else conv(low), high=None if high is None else conv(high),
                   low_closed=bool(data.get("low_closed", True)), high_closed=bool(data.get("high_closed", False)),
                   datetime_format=data.get("datetime_format"))


@dataclass(frozen=True)
class Conditions:
    """Every condition a generated row must meet (all of them: AND)."""

    items: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.items)

    def mask(self, columns: Mapping[str, Any] | pd.DataFrame) -> np.ndarray:
        """Whether each row meets every condition; ``columns`` holds original values (a DataFrame or a dict)."""
        out: np.ndarray | None = None
        for cond in self.items:
            ok = cond.mask(columns[cond.column])
            out = ok if out is None else out & ok
        if out is None:
            first = next(iter(columns.values())) if isinstance(columns, Mapping) else columns.iloc[:, 0]
            return np.ones(len(first), dtype=bool)
        return out

    def model_mask(self, encoder: Any, data: Any) -> np.ndarray:
        """``mask`` of model-space rows (``ModelData``) of a fitted ``TableEncoder``: only the conditioned
        columns are restored, as ``TableEncoder.inverse`` restores them."""
        columns: dict[str, pd.Series] = {}
        for name in dict.fromkeys(c.column for c in self.items):
            spec = encoder.schema[name]
            if name in encoder.numeric_columns_:
                j = encoder.numeric_columns_.index(name)
                values = data.numeric[:, j] * encoder.scale_[j] + encoder.mean_[j]
                if name in encoder.indicator_of_:
                    values = np.where(data.codes[:, encoder.indicator_of_[name]] == 1, np.nan, values)
            else:
                j = encoder.categorical_columns_.index(name)
                cats = np.array([None if c == _MISSING else c for c in encoder.categories_[j]], dtype=object)
                values = cats[np.clip(data.codes[:, j], 0, len(cats) - 1)]
            columns[name] = encoder.schema.restore_column(spec, values)
        return self.mask(columns)

    def texts(self) -> list[str]:
        """The CLI form of every condition, in order."""
        return [t for cond in self.items for t in cond.texts()]

    def describe(self) -> str:
        """The conditions as one readable phrase: ``Make=Honda, Age>=30, Age<50``."""
        return ", ".join(self.texts())

    def categorical(self) -> dict[str, tuple]:
        """Column -> allowed values, for the equality conditions."""
        return {c.column: c.values for c in self.items if c.kind == "equals"}

    def ranges(self) -> dict[str, tuple]:
        """Column -> ``(low, high, low_closed, high_closed)``, for the range conditions."""
        return {c.column: (c.low, c.high, c.low_closed, c.high_closed) for c in self.items if c.kind == "range"}

    def to_dict(self) -> dict:
        """JSON-ready form (recorded in lineage)."""
        return {"conditions": [c.to_dict() for c in self.items], "texts": self.texts()}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Conditions":
        """Read back ``to_dict``."""
        return cls(tuple(Condition.from_dict(c) for c in data.get("conditions", [])))

    def model_bounds(self, encoder: Any) -> tuple[dict[int, tuple[float, float]], dict[int, np.ndarray]]:
        """The conditions in a fitted ``TableEncoder``'s model space.

        Returns ``(boxes, codes)``: numeric column index -> ``(low, high)`` in standardised units, chosen so a
        value inside restores (scale, shift, rounding of whole numbers and seconds) inside the range; and
        categorical column index -> the allowed codes (a numeric range also forbids its column's
        "is missing" code). A box with low > high means no value can meet the range.
        """
        boxes: dict[int, tuple[float, float]] = {}
        codes: dict[int, np.ndarray] = {}
        for cond in self.items:
            if cond.kind == "equals" and cond.column in encoder.categorical_columns_:
                j = encoder.categorical_columns_.index(cond.column)
                wanted = {_key(v) for v in cond.values}
                allowed = [i for i, c in enumerate(encoder.categories_[j]) if _key(c) in wanted]
                codes[j] = _intersect(codes.get(j), allowed)
            elif cond.column in encoder.numeric_columns_:
                j = encoder.numeric_columns_.index(cond.column)
                whole = encoder.schema[cond.column].kind in (ColumnKind.INTEGER, ColumnKind.DATETIME)
                lo, hi = _raw_bounds(cond, whole)
                box = (_model_low(lo, encoder.mean_[j], encoder.scale_[j]),
                       _model_high(hi, encoder.mean_[j], encoder.scale_[j]))
                old = boxes.get(j, (-np.inf, np.inf))
                boxes[j] = (max(old[0], box[0]), min(old[1], box[1]))
                if cond.column in encoder.indicator_of_:
                    k = encoder.indicator_of_[cond.column]
                    codes[k] = _intersect(codes.get(k), [0])
        return boxes, codes


def parse_where(texts: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """CLI texts -> column -> ``[(operator, value text), ...]`` in order; a text without an operator is a
    ParameterError."""
    if isinstance(texts, str):
        texts = [texts]
    out: dict[str, list[tuple[str, str]]] = {}
    for text in texts:
        match = _TEXT.match(str(text))
        if not match or not match["col"]:
            raise ParameterError(f"--where {text!r}: expected COLUMN=VALUE, COLUMN>=NUMBER, COLUMN>NUMBER, "
                                 f"COLUMN<NUMBER or COLUMN<=NUMBER")
        op = "=" if match["op"] == "==" else match["op"]
        if op == "!=":
            raise ParameterError(f"--where {text!r}: '!=' is not supported; list the allowed values: COLUMN=A|B")
        if match["value"] == "":
            raise ParameterError(f"--where {text!r}: no value after '{op}'")
        out.setdefault(match["col"], []).append((op, match["value"]))
    return out


def conditions_from(where: Any, schema: Schema) -> Conditions | None:
    """Checked ``Conditions`` from the Python form (a mapping), CLI texts, or ``Conditions``; None/empty: None.

    Every problem is one ParameterError line naming the condition and the column: a missing column, a
    column that cannot be conditioned (target, identifier, key, personal), a category not in the
    column (the close ones listed), a value that is not a number or date, an empty range, a range
    outside the column's values, a range on text categories or a value on a continuous column.
    """
    if where is None or isinstance(where, Conditions):
        return where or None
    if isinstance(where, str):
        where = [where]  # one text condition, not its characters
    if isinstance(where, Sequence) and not isinstance(where, (Mapping, bytes)):
        parsed = parse_where([str(t) for t in where])
        items = [_from_texts(column, ops, schema) for column, ops in parsed.items()]
    elif isinstance(where, Mapping):
        items = [_from_python(str(column), value, schema) for column, value in where.items()]
    else:
        raise ParameterError(f"where: expected a mapping like {{'Make': 'Honda', 'Age': (30, 50)}} or texts like "
                             f"['Make=Honda', 'Age>=30'], got {type(where).__name__}")
    return Conditions(tuple(items)) or None


def matching_real_rows(df: pd.DataFrame, target: str, where: Conditions | None, *, what: str = "rows"
                       ) -> pd.DataFrame:
    """``df`` with the rare-class rows that do not meet ``where`` left out (the majority class kept whole), as
    ``evaluate --where`` scores synthetic rows against; fewer than 2 rare rows left is a one-line error."""
    if not where:
        return df
    labels = df[target]
    majority = labels.value_counts().idxmax()
    keep = (labels == majority).to_numpy() | where.mask(df)
    left = int((keep & (labels != majority).to_numpy()).sum())
    if left < 2:
        raise ParameterError(f"where {where.describe()!r}: {left} rare row(s) of the real {what} meet it; "
                             f"scoring needs at least 2")
    return df.loc[keep].reset_index(drop=True)


# ------------------------------------------------------------------ building
def _spec_for(column: str, text: str, schema: Schema):
    if column not in schema:
        close = difflib.get_close_matches(column, schema.names, n=3, cutoff=0.5)
        hint = f"; close: {', '.join(close)}" if close else f"; columns are: {', '.join(schema.names)}"
        raise ParameterError(f"where {text!r}: no column '{column}'{hint}")
    spec = schema[column]
    if column == schema.target:
        raise ParameterError(f"where {text!r}: '{column}' is the target: every generated row is of the rare class "
                             f"(pick one with --label), so it cannot be conditioned")
    why = {ColumnKind.IDENTIFIER: "an identifier: generated rows get fresh values, never real ones",
           ColumnKind.KEY: "a key: generated rows get fresh keys, never real ones",
           ColumnKind.PERSONAL: "personal data or free text: it is never generated"}.get(spec.kind)
    if why:
        raise ParameterError(f"where {text!r}: column '{column}' is {why}, so it cannot be conditioned")
    return spec


def _from_texts(column: str, ops: list[tuple[str, str]], schema: Schema) -> Condition:
    text = ", ".join(f"{column}{op}{value}" for op, value in ops)
    spec = _spec_for(column, text, schema)
    if spec.kind.is_categorical:
        allowed: list | None = None
        for op, value in ops:
            if op == "=":
                picked = _categories_named(spec, value, f"{column}={value}")
            else:
                picked = _numeric_categories(spec, op, value, f"{column}{op}{value}")
            allowed = picked if allowed is None else [c for c in allowed if _key(c) in {_key(p) for p in picked}]
        if not allowed:
            raise ParameterError(f"where {text!r}: no value of '{column}' meets all of these")
        return Condition(column, "equals", values=tuple(allowed))
    bounds = _Bounds()
    for op, value in ops:
        number = _parse_number(spec, value, f"{column}{op}{value}")
        if op == "=":
            if spec.kind == ColumnKind.CONTINUOUS:
                raise ParameterError(f"where '{column}{op}{value}': column '{column}' is continuous: give a range "
                                     f"({column}>={value}, {column}<...), not one value")
            bounds.add(">=", number)
            bounds.add("<=", number)
        else:
            bounds.add(op, number)
    return _range_condition(spec, bounds, text)


def _from_python(column: str, value: Any, schema: Schema) -> Condition:
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ParameterError(f"where['{column}']: a range is a tuple (low, high), got {value!r}")
        ops = [(op, bound) for op, bound in ((">=", value[0]), ("<", value[1])) if bound is not None]
        if not ops:
            raise ParameterError(f"where['{column}']: a range needs a low or a high end, got {value!r}")
        return _from_texts(column, [(op, _text_of(b)) for op, b in ops], schema)
    values = value if isinstance(value, (list, set, frozenset)) else [value]
    if not values:
        raise ParameterError(f"where['{column}']: an empty list of allowed values")
    text = f"{column}=" + "|".join(_text_of(v) for v in values)
    spec = _spec_for(column, text, schema)
    if spec.kind.is_categorical:
        picked = []
        for v in values:
            picked.extend(_categories_named(spec, v, f"{column}={_text_of(v)}", split=False))
        return Condition(column, "equals", values=tuple(dict.fromkeys(picked)))
    if len(values) != 1:
        raise ParameterError(f"where {text!r}: column '{column}' is {spec.kind.value}: give one value or a range")
    return _from_texts(column, [("=", _text_of(values[0]))], schema)


def _categories_named(spec, value: Any, text: str, *, split: bool = True) -> list:
    """The category (or ``A|B`` categories) a value names, matched by value or by its text."""
    cats = [c for c in (spec.categories or []) if c is not None]
    for cat in cats:
        if _key(cat) == _key(value) or _show(cat) == str(value) or _bool_text(spec, cat, value):
            return [cat]
    if split and isinstance(value, str) and "|" in value:
        return [c for part in value.split("|") for c in _categories_named(spec, part, text, split=False)]
    close = difflib.get_close_matches(str(value), [_show(c) for c in cats], n=5, cutoff=0.5)
    hint = f"; close: {', '.join(close)}" if close else f"; it holds: {', '.join(_show(c) for c in cats[:10])}" + (
        f" (and {len(cats) - 10} more)" if len(cats) > 10 else "")
    raise ParameterError(f"where {text!r}: column '{spec.name}' has no category '{value}'{hint}")


def _bool_text(spec, cat: Any, value: Any) -> bool:
    if spec.kind != ColumnKind.BOOLEAN or not isinstance(value, str):
        return False
    low = value.strip().lower()
    cat_text = str(_py(cat)).lower()
    return (low in _TRUE and cat_text in _TRUE) or (low in _FALSE and cat_text in _FALSE)


def _numeric_categories(spec, op: str, value: str, text: str) -> list:
    cats = [c for c in (spec.categories or []) if c is not None]
    numbers = [_as_float(c) for c in cats]
    if not cats or any(n is None for n in numbers) or spec.kind == ColumnKind.BOOLEAN:
        raise ParameterError(f"where {text!r}: column '{spec.name}' is {spec.kind.value} (not numbers): "
                             f"use {spec.name}=VALUE, not a range")
    bound = _as_float(value)
    if bound is None:
        raise ParameterError(f"where {text!r}: expected a number after '{op}', got '{value}'")
    test = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}[op]
    return [c for c, n in zip(cats, numbers) if test(n, bound)]


class _Bounds:
    """The tightest interval several range operators on one column give."""

    def __init__(self) -> None:
        self.low, self.high, self.low_closed, self.high_closed = None, None, True, False

    def add(self, op: str, number: float) -> None:
        if op in (">=", ">"):
            closed = op == ">="
            if self.low is None or number > self.low or (number == self.low and not closed):
                self.low, self.low_closed = number, closed
        else:
            closed = op == "<="
            if self.high is None or number < self.high or (number == self.high and not closed):
                self.high, self.high_closed = number, closed

    def empty(self, whole: bool) -> bool:
        if self.low is None or self.high is None:
            return False
        if whole:
            lo = math.ceil(self.low) if self.low_closed else math.floor(self.low) + 1
            hi = math.floor(self.high) if self.high_closed else math.ceil(self.high) - 1
            return lo > hi
        return self.low > self.high or (self.low == self.high and not (self.low_closed and self.high_closed))


def _range_condition(spec, bounds: _Bounds, text: str) -> Condition:
    whole = spec.kind in (ColumnKind.INTEGER, ColumnKind.DATETIME)
    if bounds.empty(whole):
        raise ParameterError(f"where {text!r}: empty range: no value of '{spec.name}' meets all of these")
    lo_min, hi_max = spec.minimum, spec.maximum
    is_dt = spec.kind == ColumnKind.DATETIME
    if lo_min is not None and hi_max is not None:
        outside = ((bounds.low is not None and (bounds.low > hi_max or (bounds.low == hi_max and not bounds.low_closed)))
                   or (bounds.high is not None and (bounds.high < lo_min or (bounds.high == lo_min and not bounds.high_closed))))
        if outside:
            raise ParameterError(f"where {text!r}: no value of '{spec.name}' can meet this: its values run "
                                 f"{_show(_stamp(lo_min) if is_dt else lo_min)} to {_show(_stamp(hi_max) if is_dt else hi_max)}")
    conv = _stamp if is_dt else (lambda v: v)
    return Condition(spec.name, "range", low=None if bounds.low is None else conv(bounds.low),
                     high=None if bounds.high is None else conv(bounds.high), low_closed=bounds.low_closed,
                     high_closed=bounds.high_closed, datetime_format=spec.datetime_format if is_dt else None)


def _parse_number(spec, value: str, text: str) -> float:
    if spec.kind == ColumnKind.DATETIME:
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            stamp = None
        if stamp is None or pd.isna(stamp):
            raise ParameterError(f"where {text!r}: column '{spec.name}' holds dates: expected a date like 2024-01-31, "
                                 f"got '{value}'")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.value / 1e9
    number = _as_float(value)
    if number is None or math.isnan(number):
        raise ParameterError(f"where {text!r}: column '{spec.name}' holds numbers: expected a number, got '{value}'")
    return number


# ------------------------------------------------------------- model space
def _raw_bounds(cond: Condition, whole: bool) -> tuple[float, float]:
    """The closed interval, in raw units (datetimes in seconds), a restored value must fall in."""
    lo, hi = _seconds(cond.low), _seconds(cond.high)
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    if whole:
        if np.isfinite(lo):
            lo = math.ceil(lo) if cond.low_closed else math.floor(lo) + 1
            if cond.datetime_format:  # text shows a coarser unit and values are floored to it: start whole
                lo = _ceil_to_unit(lo, _resolution(cond.datetime_format))
        if np.isfinite(hi):
            hi = math.floor(hi) if cond.high_closed else math.ceil(hi) - 1
        return float(lo), float(hi)
    if not cond.low_closed:
        lo = np.nextafter(lo, np.inf)
    if not cond.high_closed:
        hi = np.nextafter(hi, -np.inf)
    return float(lo), float(hi)


def _ceil_to_unit(seconds: float, unit: str) -> int:
    """The first instant at or after ``seconds`` that is whole in ``unit`` (s, m, h, D, M, Y), in seconds:
    a value floored to that unit when formatted stays at or above it."""
    stamp = np.datetime64(int(math.ceil(seconds)), "s")
    floored = stamp.astype(f"datetime64[{unit}]")
    if floored.astype("datetime64[s]") < stamp:
        floored = floored + np.timedelta64(1, unit)
    return int(floored.astype("datetime64[s]").astype(np.int64))


def _model_low(raw: float, mean: float, scale: float) -> float:
    if not np.isfinite(raw):
        return -np.inf
    z = (raw - mean) / scale
    while z * scale + mean < raw:
        z = np.nextafter(z, np.inf)
    return float(z)


def _model_high(raw: float, mean: float, scale: float) -> float:
    if not np.isfinite(raw):
        return np.inf
    z = (raw - mean) / scale
    while z * scale + mean > raw:
        z = np.nextafter(z, -np.inf)
    return float(z)


def _intersect(old: np.ndarray | None, new: list[int]) -> np.ndarray:
    arr = np.asarray(sorted(new), dtype=np.int64)
    return arr if old is None else np.intersect1d(old, arr)


# ----------------------------------------------------------------- values
def _key(value: Any) -> Any:
    """A comparable key for a category value (numpy scalars, bools and ints told apart)."""
    value = _py(value)
    return (type(value).__name__ if isinstance(value, bool) else "v", value)


def _show(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ") if (value.hour or value.minute or value.second) else value.date().isoformat()
    value = _py(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text_of(value: Any) -> str:
    return _show(value) if not isinstance(value, str) else value


def _as_float(value: Any) -> float | None:
    if isinstance(value, (bool, np.bool_)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _stamp(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(int(round(seconds * 1e9)))


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.value / 1e9
    return float(value)


def _json_bound(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return None if value is None else float(value)
