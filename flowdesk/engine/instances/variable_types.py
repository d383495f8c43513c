"""Process variables as Camunda 7 types them: what a call may pass, and how a value is stored.

Camunda 7 keeps each variable with a type: String, Boolean, Integer/Long, Double, Date, Json,
Null and Bytes. flowdesk maps them to Python values (see docs/variables.md):

    None -> Null           bool -> Boolean       int -> Integer/Long (64-bit)
    float -> Double        str -> String         datetime (aware), date -> Date
    bytes -> Bytes         list, tuple, dict with str keys -> Json (nested, of the above)

`accept` guards the public API: a value of no such type, NaN or Infinity (JSON has no place
for them, and one of them once made every variable query of a SQLite database fail), a naive
datetime (no instant: Camunda's Date is one), text PostgreSQL cannot store (NUL, a lone
surrogate), values nested deeper or larger than the Engine's `InputLimits` are refused with a
typed error before anything runs. What it returns is a normalised copy (tuples as lists, a
datetime's zone as its fixed offset, bytearray as bytes), exactly what the workflow state
gives back after a reload, so a call behaves the same whether or not the Engine was recreated.

`encode` and `decode` translate between those values and the `variables` JSON column the
queries read. JSON-native values are stored as they are, so `instances(variables=...)` filters
and the database's JSON functions see plain JSON. The rest is one tagged object
`{"$flowdesk": TYPE, "value": TEXT}`: Date as ISO 8601 (with its offset, or a plain date),
Bytes as base64, the non-finite Doubles a script may compute as "NaN", "Infinity" or
"-Infinity", and whole Doubles of 1e16 and more as their text ("1e+16": PostgreSQL's JSONB
would give them back as integers). A dict of the caller's that holds the key "$flowdesk"
itself is wrapped as `{"$flowdesk": "Json", "value": {...}}`, so no value can pass for a
tagged one. `encode` takes
whatever a script left in the workflow too (sets, objects), as the engine stored it before:
lists and `repr` text.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from flowdesk.errors import LimitExceeded, VariableError
from flowdesk.input_limits import MAX_DEPTH, InputLimits

TAG = "$flowdesk"
# Camunda 7's Long: Java's 64-bit signed integer.
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
# How deep `encode` follows what a script built before refusing it: the deepest variable any
# Engine accepts, plus the mapping of variables around it; far below Python's recursion limit.
HARD_DEPTH = MAX_DEPTH + 1


def accept(
    variables: Mapping[str, Any] | None, limits: InputLimits, *, what: str = "variables"
) -> dict[str, Any]:
    """A checked, normalised copy of the variables a public call was given.

    Raises:
        VariableError: A name is not text, or a value is of no Camunda type, NaN or Infinity,
            a naive datetime, an integer outside 64 bits, or text PostgreSQL cannot store.
        LimitExceeded: A value nests deeper than `limits.max_variable_depth`, or all of them
            take more than `limits.max_variables_bytes` as stored JSON.
    """
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise VariableError(what, f"expected a mapping of names to values, got {_kind(variables)}")
    accepted: dict[str, Any] = {}
    for name, value in variables.items():
        if not isinstance(name, str):
            raise VariableError(repr(name), f"a variable name must be text, not {_kind(name)}")
        _check_text(name, name)
        try:
            accepted[name] = _accepted(value, name, 0, limits.max_variable_depth)
        except _TooDeep:
            depth = limits.max_variable_depth
            raise LimitExceeded(
                f"variable {name!r}", "max_variable_depth", depth + 1, depth
            ) from None
    size = stored_size(accepted)
    if size > limits.max_variables_bytes:
        raise LimitExceeded(what, "max_variables_bytes", size, limits.max_variables_bytes)
    return accepted


def stored_size(variables: Mapping[str, Any]) -> int:
    """How many UTF-8 bytes the variables take as stored JSON."""
    text = json.dumps(encode(variables), ensure_ascii=False, separators=(",", ":"))
    return len(text.encode("utf-8", "surrogatepass"))


def encode(value: Any, _depth: int = 0) -> Any:
    """A variable value (or a mapping of them) as the JSON the `variables` column stores.

    Raises:
        VariableError: The value nests deeper than `HARD_DEPTH` (a script built it).
    """
    if _depth > HARD_DEPTH:
        raise VariableError("value", f"nests deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and not (value.is_integer() and "e" in repr(value)):
            return value
        # Not JSON (NaN, Infinity), or a whole number PostgreSQL's JSONB would print without
        # its exponent (1e+16 as 10000000000000000), which would come back as an integer.
        return {TAG: "Double", "value": _double_text(value)}
    if isinstance(value, datetime | date):
        return {TAG: "Date", "value": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {TAG: "Bytes", "value": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        encoded = {str(key): encode(item, _depth + 1) for key, item in value.items()}
        return {TAG: "Json", "value": encoded} if TAG in encoded else encoded
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [encode(item, _depth + 1) for item in items]
    if hasattr(value, "isoformat"):  # a time of day a script made: text, as before
        return value.isoformat()
    return repr(value)


def decode(stored: Any) -> Any:
    """The Python value of what `encode` stored (a mapping of variables, or one value)."""
    if isinstance(stored, dict):
        tag = stored.get(TAG)
        if tag is not None and len(stored) == 2 and "value" in stored:
            return _untagged(tag, stored["value"])
        return {key: decode(item) for key, item in stored.items()}
    if isinstance(stored, list):
        return [decode(item) for item in stored]
    return stored


def _untagged(tag: Any, value: Any) -> Any:
    try:
        if tag == "Json" and isinstance(value, dict):
            return {key: decode(item) for key, item in value.items()}
        if tag == "Date" and isinstance(value, str):
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        if tag == "Bytes" and isinstance(value, str):
            return base64.b64decode(value, validate=True)
        if tag == "Double" and isinstance(value, str):
            # The NaN of `math`, one object, so that equal variables compare equal.
            return math.nan if value == "NaN" else float(value)
    except (ValueError, binascii.Error):
        pass
    # Not written by `encode` (a row edited by hand): give back what is stored.
    return {TAG: tag, "value": decode(value)}


def _accepted(value: Any, path: str, depth: int, max_depth: int) -> Any:
    """The normalised copy of one value at `path`, nested `depth` deep; see `accept`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if not LONG_MIN <= value <= LONG_MAX:
            raise VariableError(path, "an integer outside Camunda's 64-bit Long range")
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise VariableError(path, "NaN is no value Camunda can store as a Double")
        if math.isinf(value):
            raise VariableError(path, "Infinity is no value Camunda can store as a Double")
        return float(value)
    if isinstance(value, str):
        _check_text(path, value)
        return str.__str__(value)
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is None:
            raise VariableError(path, "a naive datetime has no instant; give it a timezone")
        # The zone becomes its fixed offset now, as it would after a reload (ISO 8601 keeps
        # only the offset): a call sees the same value whether or not the Engine restarted.
        return value.replace(tzinfo=timezone(offset))
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, Mapping | list | tuple):
        if depth >= max_depth:
            raise _TooDeep
        if isinstance(value, Mapping):
            copy: dict[str, Any] = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise VariableError(path, f"a Json key must be text, not {_kind(key)}")
                _check_text(path, key)
                copy[key] = _accepted(item, f"{path}.{key}", depth + 1, max_depth)
            return copy
        return [
            _accepted(item, f"{path}[{i}]", depth + 1, max_depth) for i, item in enumerate(value)
        ]
    raise VariableError(path, f"{_kind(value)} is no Camunda variable type")


class _TooDeep(Exception):
    """A value nests deeper than allowed; `accept` names the variable."""


def _check_text(path: str, text: str) -> None:
    if "\x00" in text:
        raise VariableError(path, "text with a NUL character, which PostgreSQL cannot store")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise VariableError(path, "text with a lone surrogate, which is no Unicode") from None


def _double_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _kind(value: object) -> str:
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
