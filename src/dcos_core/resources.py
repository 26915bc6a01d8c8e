"""Immutable resource vectors with Mesos semantics and exact arithmetic.

A `Resources` value maps a *slot* `(name, role, kind)` to a quantity:

* scalars (cpus, mem, disk, gpus, any other name) are stored as integer thousandths, so that adding
  and subtracting a million times never drifts (Mesos keeps three decimals too);
* ranges (ports) are a sorted tuple of disjoint inclusive `(begin, end)` pairs;
* sets are a frozenset of strings.

`role` is the reservation role (`"*"` = unreserved) and `kind` is `""` (unreserved), `"STATIC"`
(from the agent's `--resources`, e.g. `cpus(ops):2`) or `"DYNAMIC"` (RESERVE operation).

Two text forms are understood: the Mesos flag form (`cpus:4;mem:8192;ports:[31000-32000]`,
`cpus(ops):2`, `zones:{a,b}`) and the v1 JSON form (a list of `Resource` objects).

Example:
    >>> r = Resources.parse("cpus:4;mem:8192;ports:[31000-32000]")
    >>> (r - Resources.parse("cpus:1.5;ports:[31000-31000]")).scalar("cpus")
    2.5
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final

from dcos_core.errors import InvalidError

Key = tuple[str, str, str]  # (name, reservation role, kind)
RangeList = tuple[tuple[int, int], ...]
Value = int | RangeList | frozenset[str]

UNRESERVED: Final = "*"
STATIC: Final = "STATIC"
DYNAMIC: Final = "DYNAMIC"
SCALAR_NAMES_ALWAYS_SHOWN: Final = ("cpus", "gpus", "mem", "disk")
_MILLI: Final = 1000
# Mesos keeps scalars as int64 thousandths and range bounds as uint64: larger values are refused.
MAX_SCALAR: Final = float((2**63 - 1) // _MILLI)
MAX_RANGE_VALUE: Final = 2**64 - 1
_ROLE_RE = re.compile(r"^[^/\s\x00-\x1f\x7f\\-][^\s\x00-\x1f\x7f\\]*$")


def to_millis(value: float | int | str, field: str = "scalar") -> int:
    """Convert a user-given number to thousandths, rejecting NaN, infinities and negatives."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InvalidError(f"'{value}' is not a number", field) from None
    if math.isnan(f) or math.isinf(f):
        raise InvalidError(f"'{value}' is not a finite number", field)
    if f < 0:
        raise InvalidError(f"'{value}' is negative", field)
    if f > MAX_SCALAR:
        raise InvalidError(f"'{value}' is too large (at most {MAX_SCALAR:.0f})", field)
    return round(f * _MILLI)


def validate_role(role: str, field: str = "role") -> str:
    """Mesos role rules: not empty, `.` or `..`; no leading `-`; no whitespace, slash-only parts."""
    if role == UNRESERVED:
        return role
    parts = role.split("/")
    if (
        not role
        or any(p in ("", ".", "..") for p in parts)
        or not all(_ROLE_RE.match(p) for p in parts)
    ):
        raise InvalidError(f"'{role}' is not a valid role name", field)
    return role


def is_ancestor_or_self(ancestor: str, role: str) -> bool:
    """True if `ancestor` is `role` or one of its ancestors (`eng` of `eng/web`)."""
    return ancestor == role or role.startswith(ancestor + "/")


# --------------------------------------------------------------------------------------------
# ranges


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> RangeList:
    """Sort and coalesce inclusive ranges: [(3,5),(1,2),(6,8)] -> ((1,8),)."""
    out: list[tuple[int, int]] = []
    for b, e in sorted(ranges):
        if b > e:
            raise InvalidError(f"range [{b}-{e}] has begin > end", "ranges")
        if b < 0 or e > MAX_RANGE_VALUE:
            raise InvalidError(f"range [{b}-{e}] is outside 0-{MAX_RANGE_VALUE}", "ranges")
        if out and b <= out[-1][1] + 1:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((b, e))
    return tuple(out)


def subtract_ranges(a: RangeList, b: RangeList) -> RangeList:
    """The part of `a` not covered by `b` (both normalized)."""
    out: list[tuple[int, int]] = []
    j = 0
    for begin, end in a:
        cur = begin
        while j < len(b) and b[j][1] < cur:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= end:
            if b[k][0] > cur:
                out.append((cur, b[k][0] - 1))
            cur = max(cur, b[k][1] + 1)
            if cur > end:
                break
            k += 1
        if cur <= end:
            out.append((cur, end))
    return tuple(out)


def ranges_contain(a: RangeList, b: RangeList) -> bool:
    """True if every number of `b` lies in `a`."""
    return not subtract_ranges(b, a)


def ranges_count(a: RangeList) -> int:
    return sum(e - b + 1 for b, e in a)


def format_ranges(a: RangeList) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in a) + "]"


def _fmt_scalar(millis: int) -> str:
    if millis % _MILLI == 0:
        return str(millis // _MILLI)
    return f"{millis / _MILLI:.3f}".rstrip("0")


# --------------------------------------------------------------------------------------------
# the value type


class Resources:
    """An immutable multiset of resources. Operators: `+`, `-`, `contains`, `<=`, `==`.

    Subtraction removes what is there (scalars never go below zero; that is what `contains`
    is for: callers check it first when exactness matters).
    """

    __slots__ = ("_d", "_totals")

    def __init__(self, items: Mapping[Key, Value] | None = None) -> None:
        d: dict[Key, Value] = {}
        if items:
            for k, v in items.items():
                if v:  # drop zero scalars, empty ranges and sets
                    d[k] = v
        self._d = d
        self._totals: dict[str, int] | None = None

    # ---- construction ----------------------------------------------------------------------

    @classmethod
    def _raw(cls, d: dict[Key, Value]) -> Resources:
        r = cls.__new__(cls)
        r._d = d
        r._totals = None
        return r

    @classmethod
    def scalars(cls, role: str = UNRESERVED, kind: str = "", **values: float) -> Resources:
        """Build from keyword scalars: `Resources.scalars(cpus=1, mem=128)`."""
        return cls({(n, role, kind): to_millis(v, n) for n, v in values.items()})

    @classmethod
    def parse(cls, text: str, default_role: str = UNRESERVED) -> Resources:
        """Parse the Mesos flag form, e.g. `cpus:4;mem:8192;disk:1e4;ports:[31000-32000]`.

        A role in parentheses, `cpus(ops):2`, makes a static reservation for that role.
        The JSON form (a list of v1 Resource objects) is accepted too.
        """
        text = text.strip()
        if text.startswith("["):
            import json

            try:
                data = json.loads(text)
            except ValueError as e:
                raise InvalidError(f"invalid JSON: {e}", "resources") from None
            return cls.from_v1(data)
        acc: dict[Key, Value] = {}
        types: dict[str, type] = {}
        for part in filter(None, (p.strip() for p in text.split(";"))):
            m = re.fullmatch(r"([A-Za-z_][\w.\-]*)(?:\(([^)]*)\))?\s*:\s*(.+)", part)
            if not m:
                raise InvalidError(f"cannot parse '{part}' (expected name:value)", "resources")
            name, role, raw = m.group(1), m.group(2), m.group(3).strip()
            role = validate_role(role or default_role, f"resources.{name}.role")
            kind = "" if role == UNRESERVED else STATIC
            value: Value
            if raw.startswith("["):
                value = _parse_ranges_text(raw, name)
            elif raw.startswith("{"):
                if not raw.endswith("}"):
                    raise InvalidError(f"set '{raw}' is missing '}}'", f"resources.{name}")
                value = frozenset(s.strip() for s in raw[1:-1].split(",") if s.strip())
            else:
                value = to_millis(raw, f"resources.{name}")
            _add_into(acc, types, (name, role, kind), value)
        return cls(acc)

    @classmethod
    def from_v1(cls, data: Any, field: str = "resources") -> Resources:
        """Parse a list of v1 `Resource` JSON objects (unknown keys are ignored, as Mesos does)."""
        if not isinstance(data, list):
            raise InvalidError("must be a list of Resource objects", field)
        acc: dict[Key, Value] = {}
        types: dict[str, type] = {}
        for i, item in enumerate(data):
            f = f"{field}[{i}]"
            if not isinstance(item, dict):
                raise InvalidError("must be an object", f)
            name = item.get("name")
            if not isinstance(name, str) or not name:
                raise InvalidError("'name' is required", f)
            role, kind = _reservation_of(item, f)
            rtype = item.get("type", "SCALAR")
            value: Value
            if rtype == "SCALAR":
                scalar = item.get("scalar")
                if not isinstance(scalar, dict) or "value" not in scalar:
                    raise InvalidError("SCALAR resource needs scalar.value", f)
                value = to_millis(scalar["value"], f"{f}.scalar.value")
            elif rtype == "RANGES":
                rng = (item.get("ranges") or {}).get("range", [])
                try:
                    value = merge_ranges((int(r["begin"]), int(r["end"])) for r in rng)
                except (KeyError, TypeError, ValueError):
                    raise InvalidError("ranges need integer begin and end", f) from None
            elif rtype == "SET":
                items = (item.get("set") or {}).get("item", [])
                if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
                    raise InvalidError("set.item must be a list of strings", f)
                value = frozenset(items)
            else:
                raise InvalidError(f"unknown resource type '{rtype}'", f"{f}.type")
            _add_into(acc, types, (name, role, kind), value)
        return cls(acc)

    # ---- serialization -----------------------------------------------------------------------

    def to_v1(self, allocation_role: str | None = None) -> list[dict[str, Any]]:
        """The v1 JSON form; `allocation_role` adds `allocation_info` (offers, used resources)."""
        out: list[dict[str, Any]] = []
        for (name, role, kind), v in sorted(self._d.items(), key=_sort_key):
            r: dict[str, Any] = {"name": name, "role": role}
            if isinstance(v, int):
                r["type"] = "SCALAR"
                r["scalar"] = {"value": v / _MILLI}
            elif isinstance(v, tuple):
                r["type"] = "RANGES"
                r["ranges"] = {"range": [{"begin": b, "end": e} for b, e in v]}
            else:
                r["type"] = "SET"
                r["set"] = {"item": sorted(v)}
            if kind:
                r["reservations"] = [{"type": kind, "role": role}]
            if allocation_role is not None:
                r["allocation_info"] = {"role": allocation_role}
            out.append(r)
        return out

    def to_v0(self) -> dict[str, Any]:
        """The flattened form of the legacy `/state` endpoint: `{"cpus": 2.0, "ports": "[...]"}`."""
        out: dict[str, Any] = {n: 0.0 for n in SCALAR_NAMES_ALWAYS_SHOWN}
        for name, millis in self.totals().items():
            out[name] = millis / _MILLI
        ranges: dict[str, RangeList] = {}
        sets: dict[str, frozenset[str]] = {}
        for (name, _r, _k), v in self._d.items():
            if isinstance(v, tuple):
                ranges[name] = merge_ranges(ranges.get(name, ()) + v)
            elif isinstance(v, frozenset):
                sets[name] = sets.get(name, frozenset()) | v
        for name, rl in ranges.items():
            out[name] = format_ranges(rl)
        for name, s in sets.items():
            out[name] = "{" + ",".join(sorted(s)) + "}"
        return out

    def __str__(self) -> str:
        parts = []
        for (name, role, _kind), v in sorted(self._d.items(), key=_sort_key):
            label = name if role == UNRESERVED else f"{name}({role})"
            if isinstance(v, int):
                parts.append(f"{label}:{_fmt_scalar(v)}")
            elif isinstance(v, tuple):
                parts.append(f"{label}:{format_ranges(v)}")
            else:
                parts.append(f"{label}:{{{','.join(sorted(v))}}}")
        return ";".join(parts)

    def __repr__(self) -> str:
        return f"Resources({str(self)!r})"

    # ---- arithmetic --------------------------------------------------------------------------

    def __add__(self, other: Resources) -> Resources:
        if not other._d:
            return self
        if not self._d:
            return other
        d = dict(self._d)
        for k, v in other._d.items():
            cur = d.get(k)
            if cur is None:
                d[k] = v
            elif isinstance(v, int) and isinstance(cur, int):
                d[k] = cur + v
            elif isinstance(v, tuple) and isinstance(cur, tuple):
                d[k] = merge_ranges(cur + v)
            elif isinstance(v, frozenset) and isinstance(cur, frozenset):
                d[k] = cur | v
            else:
                raise InvalidError(f"resource '{k[0]}' used with two different types", "resources")
        return Resources._raw(d)

    def __sub__(self, other: Resources) -> Resources:
        if not other._d or not self._d:
            return self
        d = dict(self._d)
        for k, v in other._d.items():
            cur = d.get(k)
            if cur is None:
                continue
            nv: Value
            if isinstance(v, int) and isinstance(cur, int):
                nv = cur - v
                if nv <= 0:
                    del d[k]
                    continue
            elif isinstance(v, tuple) and isinstance(cur, tuple):
                nv = subtract_ranges(cur, v)
            elif isinstance(v, frozenset) and isinstance(cur, frozenset):
                nv = cur - v
            else:
                raise InvalidError(f"resource '{k[0]}' used with two different types", "resources")
            if nv:
                d[k] = nv
            else:
                del d[k]
        return Resources._raw(d)

    def contains(self, other: Resources) -> bool:
        """True if `other` is a sub-multiset of `self` (same slots, enough of each)."""
        d = self._d
        for k, v in other._d.items():
            cur = d.get(k)
            if cur is None:
                return False
            if isinstance(v, int):
                if not isinstance(cur, int) or cur < v:
                    return False
            elif isinstance(v, tuple):
                if not isinstance(cur, tuple) or not ranges_contain(cur, v):
                    return False
            elif not isinstance(cur, frozenset) or not v <= cur:
                return False
        return True

    def __le__(self, other: Resources) -> bool:
        return other.contains(self)

    def __ge__(self, other: Resources) -> bool:
        return self.contains(other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Resources) and self._d == other._d

    def __hash__(self) -> int:
        return hash(frozenset(self._d.items()))

    def __bool__(self) -> bool:
        return bool(self._d)

    def __iter__(self) -> Iterator[tuple[Key, Value]]:
        return iter(self._d.items())

    def __len__(self) -> int:
        return len(self._d)

    # ---- queries -----------------------------------------------------------------------------

    def totals(self) -> dict[str, int]:
        """Scalar quantities in thousandths, summed over roles: `{"cpus": 4000, "mem": 8192000}`."""
        t = self._totals
        if t is None:
            t = {}
            for (name, _r, _k), v in self._d.items():
                if isinstance(v, int):
                    t[name] = t.get(name, 0) + v
            self._totals = t
        return t

    def scalar(self, name: str) -> float:
        """The scalar quantity of `name` over all roles, as a float (3 decimals exact)."""
        return self.totals().get(name, 0) / _MILLI

    def ranges(self, name: str) -> RangeList:
        acc: RangeList = ()
        for (n, _r, _k), v in self._d.items():
            if n == name and isinstance(v, tuple):
                acc = merge_ranges(acc + v)
        return acc

    def names(self) -> set[str]:
        return {k[0] for k in self._d}

    def filter(self, pred: Callable[[Key, Value], bool]) -> Resources:
        return Resources._raw({k: v for k, v in self._d.items() if pred(k, v)})

    def unreserved(self) -> Resources:
        return self.filter(lambda k, _v: k[1] == UNRESERVED)

    def reserved(self, role: str | None = None) -> Resources:
        """Reserved resources: all of them, or those reserved for exactly `role`."""
        if role is None:
            return self.filter(lambda k, _v: k[1] != UNRESERVED)
        return self.filter(lambda k, _v: k[1] == role)

    def allocatable_to(self, role: str) -> Resources:
        """What a framework in `role` may be offered: unreserved, or reserved for it or above."""
        if all(k[1] == UNRESERVED for k in self._d):
            return self
        return self.filter(lambda k, _v: k[1] == UNRESERVED or is_ancestor_or_self(k[1], role))

    def reservations(self) -> dict[str, Resources]:
        """Reserved resources grouped by role."""
        out: dict[str, dict[Key, Value]] = {}
        for k, v in self._d.items():
            if k[1] != UNRESERVED:
                out.setdefault(k[1], {})[k] = v
        return {r: Resources._raw(d) for r, d in out.items()}

    def scalar_part(self) -> Resources:
        return self.filter(lambda _k, v: isinstance(v, int))

    def reserve(self, role: str, kind: str = DYNAMIC) -> Resources:
        """The same quantities, reserved for `role` (used by RESERVE)."""
        validate_role(role)
        if role == UNRESERVED:
            raise InvalidError("cannot reserve for role '*'", "role")
        out: dict[Key, Value] = {}
        _t: dict[str, type] = {}
        for (name, _r, _k), v in self._d.items():
            _add_into(out, _t, (name, role, kind), v)
        return Resources._raw(out)

    def unreserve(self) -> Resources:
        """The same quantities, unreserved (used by UNRESERVE)."""
        out: dict[Key, Value] = {}
        _t: dict[str, type] = {}
        for (name, _r, _k), v in self._d.items():
            _add_into(out, _t, (name, UNRESERVED, ""), v)
        return Resources._raw(out)

    def round_trip_slots(self) -> set[Key]:
        return set(self._d)


def _sort_key(item: tuple[Key, Value]) -> tuple[int, str, str, str]:
    (name, role, kind), _v = item
    order = {"cpus": 0, "gpus": 1, "mem": 2, "disk": 3, "ports": 4}.get(name, 5)
    return (order, name, role, kind)


def _add_into(acc: dict[Key, Value], types: dict[str, type], key: Key, value: Value) -> None:
    t = type(value)
    seen = types.setdefault(key[0], t)
    if seen is not t:
        raise InvalidError(f"resource '{key[0]}' given with two different types", "resources")
    cur = acc.get(key)
    if cur is None:
        acc[key] = value
    elif isinstance(cur, int) and isinstance(value, int):
        acc[key] = cur + value
    elif isinstance(cur, tuple) and isinstance(value, tuple):
        acc[key] = merge_ranges(cur + value)
    elif isinstance(cur, frozenset) and isinstance(value, frozenset):
        acc[key] = cur | value


def _parse_ranges_text(raw: str, name: str) -> RangeList:
    if not raw.endswith("]"):
        raise InvalidError(f"ranges '{raw}' are missing ']'", f"resources.{name}")
    out = []
    for chunk in filter(None, (c.strip() for c in raw[1:-1].split(","))):
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", chunk)
        if not m:
            raise InvalidError(f"cannot parse range '{chunk}'", f"resources.{name}")
        out.append((int(m.group(1)), int(m.group(2))))
    return merge_ranges(out)


def _reservation_of(item: dict[str, Any], field: str) -> tuple[str, str]:
    reservations = item.get("reservations")
    if reservations:
        if not isinstance(reservations, list) or not isinstance(reservations[-1], dict):
            raise InvalidError("reservations must be a list of objects", field)
        last = reservations[-1]
        role = validate_role(str(last.get("role", "")), f"{field}.reservations.role")
        kind = str(last.get("type", DYNAMIC))
        if kind not in (STATIC, DYNAMIC):
            raise InvalidError(f"unknown reservation type '{kind}'", f"{field}.reservations.type")
        return role, kind
    role = validate_role(str(item.get("role", UNRESERVED)), f"{field}.role")
    if role == UNRESERVED:
        return role, ""
    return role, DYNAMIC if "reservation" in item else STATIC


EMPTY: Final = Resources()
