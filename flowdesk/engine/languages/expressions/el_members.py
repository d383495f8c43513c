"""EL property access (`a.b`, `a[b]`), method calls (`a.m(x)`) and identifiers, with Java's meaning.

Process variables are JSON values, so a Camunda model's `${order.items.size() > 0}` meets a
Python dict and list where Camunda met a Java Map and List. The tables below give the Java
methods such expressions call on String, List, Map, Number and Boolean values. Any other
object (a registered bean, `execution`, a Spin node, `dateTime()`) has its public Python
methods called by name, behind the same attribute policy as the sandbox's `_getattr_`.

Property access follows EL 2.2 section 1.6 (JUEL's resolvers): a null base or property gives
null, a missing map key gives null, a list index out of range gives null, and a bean property
`p` is the getter `getP()`/`isP()` (or a plain public attribute).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flowdesk.engine.languages.expressions.attribute_policy import check_attribute
from flowdesk.engine.languages.expressions.el_operators import (
    ELError,
    to_boolean,
    to_double,
    to_long,
    to_str,
)
from flowdesk.engine.languages.expressions.spin import SpinJsonNode
from flowdesk.engine.languages.limits import guard_method


def juel_prop(base: Any, key: Any) -> Any:
    """`base.key` and `base[key]` as an rvalue (EL 1.6)."""
    if type(base) is dict:  # the common case first: JSON objects
        return base.get(key) if key is not None else None
    if base is None or key is None:
        return None
    if isinstance(base, Mapping):
        return base.get(key)
    if isinstance(base, (list, tuple)):
        index = to_long(key)
        return base[index] if 0 <= index < len(base) else None
    if isinstance(base, str):
        name = to_str(key)
        if name == "empty":
            return len(base) == 0
        if name == "blank":
            return base.strip() == ""
        raise ELError(f"property {name!r} not found on type String")
    if isinstance(base, (bool, int, float)):
        raise ELError(f"property {to_str(key)!r} not found on {base!r}")
    return _bean_property(base, to_str(key))


def _bean_property(base: Any, name: str) -> Any:
    check_attribute(base, name)
    if name:
        capitalized = name[0].upper() + name[1:]
        for getter in ("get" + capitalized, "is" + capitalized):
            method = getattr(base, getter, None)
            if callable(method):
                return method()
    value = getattr(base, name, _MISSING)
    if value is _MISSING or callable(value):
        raise ELError(f"property {name!r} not found on type {type(base).__name__}")
    return value


_MISSING = object()


def juel_call(base: Any, name: str, *args: Any) -> Any:
    """`base.name(args...)` (EL 2.2 method invocation)."""
    if base is None:
        raise ELError(f"cannot call {name}() on null")
    table = _TABLES_BY_TYPE.get(type(base)) or _table_for(base)
    if table is not None:
        method = table.get((name, len(args)))
        if method is None and (table is _MAP or table is _LIST) and name in _SPIN_METHODS:
            # A JSON variable is a Spin node in Camunda: `${customer.prop("age")}`.
            return getattr(SpinJsonNode(base), name)(*args)
        if method is None:
            raise ELError(
                f"method {name}() with {len(args)} argument(s) not found on {_JAVA_TYPE[id(table)]}"
            )
        return method(base, *args)
    check_attribute(base, name)
    function = getattr(base, name, None)
    if function is None or not callable(function):
        raise ELError(f"method {name}() not found on {type(base).__name__}")
    return function(*args)


def juel_var(scope: Mapping[str, Any], name: str) -> Any:
    """An identifier the sandbox cannot compile as a Python name (one starting with `_`)."""
    try:
        return scope[name]
    except KeyError:
        raise NameError(f"name {name!r} is not defined", name=name) from None


def _table_for(base: Any) -> dict[tuple[str, int], Callable[..., Any]] | None:
    if isinstance(base, str):
        return _STRING
    if isinstance(base, bool):
        return _BOOLEAN
    if isinstance(base, (int, float)):
        return _NUMBER
    if isinstance(base, Mapping):
        return _MAP
    if isinstance(base, (list, tuple)):
        return _LIST
    return None


# --- java.lang.String ----------------------------------------------------------------------


def _substring(s: str, begin: Any, end: Any = None) -> str:
    start = to_long(begin)
    stop = len(s) if end is None else to_long(end)
    if not 0 <= start <= stop <= len(s):
        raise ELError(f"substring({start}, {stop}) out of range for length {len(s)}")
    return s[start:stop]


def _index_of(s: str, target: Any, start: Any = 0) -> int:
    return s.find(to_str(target), max(0, to_long(start)))


def _char_at(s: str, index: Any) -> str:
    i = to_long(index)
    if not 0 <= i < len(s):
        raise ELError(f"charAt({i}) out of range for length {len(s)}")
    return s[i]


def _java_regex(pattern: Any) -> re.Pattern[str]:
    try:
        return re.compile(to_str(pattern))
    except re.error as err:
        raise ELError(f"invalid regular expression {pattern!r}: {err}") from err


def _replacement(text: Any) -> str:
    # Java writes group references as $1; Python as \1.
    return re.sub(r"\$(\d+)", r"\\\1", to_str(text).replace("\\", "\\\\"))


def _split(s: str, pattern: Any) -> list[str]:
    parts = _java_regex(pattern).split(s)
    while parts and parts[-1] == "":  # Java's split drops trailing empty strings
        parts.pop()
    return parts or [""]


def _compare_to(a: Any, b: Any) -> int:
    # Java's compareTo gives a sign; callers compare it with 0.
    return -1 if a < b else (1 if a > b else 0)


_STRING: dict[tuple[str, int], Callable[..., Any]] = {
    ("length", 0): len,
    ("isEmpty", 0): lambda s: len(s) == 0,
    ("isBlank", 0): lambda s: s.strip() == "",
    ("contains", 1): lambda s, x: to_str(x) in s,
    ("startsWith", 1): lambda s, x: s.startswith(to_str(x)),
    ("startsWith", 2): lambda s, x, i: s.startswith(to_str(x), to_long(i)),
    ("endsWith", 1): lambda s, x: s.endswith(to_str(x)),
    ("equals", 1): lambda s, x: isinstance(x, str) and s == x,
    ("equalsIgnoreCase", 1): lambda s, x: isinstance(x, str) and s.lower() == x.lower(),
    ("compareTo", 1): lambda s, x: _compare_to(s, to_str(x)),
    ("compareToIgnoreCase", 1): lambda s, x: _compare_to(s.lower(), to_str(x).lower()),
    ("toUpperCase", 0): str.upper,
    ("toLowerCase", 0): str.lower,
    ("trim", 0): lambda s: s.strip("".join(chr(c) for c in range(33))),
    ("strip", 0): str.strip,
    ("substring", 1): _substring,
    ("substring", 2): _substring,
    ("indexOf", 1): _index_of,
    ("indexOf", 2): _index_of,
    ("lastIndexOf", 1): lambda s, x: s.rfind(to_str(x)),
    ("charAt", 1): _char_at,
    ("concat", 1): lambda s, x: s + to_str(x),
    # Size-checked: `'ab'.replace('', huge)` builds len(s) + 1 copies in one step.
    ("replace", 2): lambda s, a, b: guard_method(s, "replace", s.replace)(to_str(a), to_str(b)),
    ("replaceAll", 2): lambda s, p, r: _java_regex(p).sub(_replacement(r), s),
    ("replaceFirst", 2): lambda s, p, r: _java_regex(p).sub(_replacement(r), s, count=1),
    ("matches", 1): lambda s, p: _java_regex(p).fullmatch(s) is not None,
    ("split", 1): _split,
    ("toString", 0): lambda s: s,
    ("hashCode", 0): lambda s: _string_hash(s),
}


def _string_hash(s: str) -> int:
    value = 0
    for unit in s.encode("utf-16-be").hex(" ", 2).split():
        value = (31 * value + int(unit, 16)) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


# --- java.util.List / Map, Number, Boolean ---------------------------------------------------


def _list_get(items: Sequence[Any], index: Any) -> Any:
    i = to_long(index)
    if not 0 <= i < len(items):
        raise ELError(f"index {i} out of bounds for length {len(items)}")
    return items[i]


def _index_in(items: Sequence[Any], value: Any, *, last: bool = False) -> int:
    positions = [i for i, item in enumerate(items) if item == value]
    if not positions:
        return -1
    return positions[-1] if last else positions[0]


def _sub_list(items: Sequence[Any], start: Any, end: Any) -> list[Any]:
    a, b = to_long(start), to_long(end)
    if not 0 <= a <= b <= len(items):
        raise ELError(f"subList({a}, {b}) out of range for size {len(items)}")
    return list(items[a:b])


_LIST: dict[tuple[str, int], Callable[..., Any]] = {
    ("size", 0): len,
    ("isEmpty", 0): lambda xs: len(xs) == 0,
    ("contains", 1): lambda xs, x: x in xs,
    ("containsAll", 1): lambda xs, ys: all(y in xs for y in ys),
    ("get", 1): _list_get,
    ("indexOf", 1): _index_in,
    ("lastIndexOf", 1): lambda xs, x: _index_in(xs, x, last=True),
    ("subList", 2): _sub_list,
    ("equals", 1): lambda xs, ys: isinstance(ys, (list, tuple)) and list(xs) == list(ys),
    ("toString", 0): to_str,
}

_MAP: dict[tuple[str, int], Callable[..., Any]] = {
    ("size", 0): len,
    ("isEmpty", 0): lambda m: len(m) == 0,
    ("containsKey", 1): lambda m, k: k in m,
    ("containsValue", 1): lambda m, v: v in m.values(),
    ("get", 1): lambda m, k: m.get(k),
    ("getOrDefault", 2): lambda m, k, d: m.get(k, d),
    ("keySet", 0): lambda m: list(m.keys()),
    ("values", 0): lambda m: list(m.values()),
    ("equals", 1): lambda m, o: isinstance(o, Mapping) and dict(m) == dict(o),
    ("toString", 0): to_str,
}

_NUMBER: dict[tuple[str, int], Callable[..., Any]] = {
    ("intValue", 0): to_long,
    ("longValue", 0): to_long,
    ("doubleValue", 0): to_double,
    ("floatValue", 0): to_double,
    ("equals", 1): lambda n, o: type(n) is type(o) and n == o,
    ("compareTo", 1): lambda n, o: _compare_to(n, o),
    ("toString", 0): to_str,
}

_BOOLEAN: dict[tuple[str, int], Callable[..., Any]] = {
    ("booleanValue", 0): to_boolean,
    ("equals", 1): lambda b, o: isinstance(o, bool) and b is o,
    ("toString", 0): to_str,
}

_JAVA_TYPE = {
    id(_STRING): "String",
    id(_LIST): "List",
    id(_MAP): "Map",
    id(_NUMBER): "Number",
    id(_BOOLEAN): "Boolean",
}

# Exact types first: an isinstance check against an ABC such as Mapping costs more than the call.
_TABLES_BY_TYPE: dict[type, dict[tuple[str, int], Callable[..., Any]]] = {
    str: _STRING, bool: _BOOLEAN, int: _NUMBER, float: _NUMBER, dict: _MAP, list: _LIST,
    tuple: _LIST,
}  # fmt: skip

_SPIN_METHODS = frozenset(name for name in vars(SpinJsonNode) if not name.startswith("_"))

MEMBER_HELPERS: dict[str, Callable[..., Any]] = {
    "juel_prop": juel_prop,
    "juel_call": juel_call,
    "juel_var": juel_var,
}
"""The member-access functions translated JUEL calls, by name."""
