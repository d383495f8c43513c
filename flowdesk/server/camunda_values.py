"""Camunda 7's typed variables and dates, as its REST API writes and reads them.

A variable travels as `{"value": ..., "type": "Integer", "valueInfo": {}}`. Reading one from a
request gives the Python value flowdesk keeps for that type (see docs/variables.md); writing one
gives the type Camunda would report for it. Dates are Camunda's `yyyy-MM-dd'T'HH:mm:ss.SSSZ`
(`2026-03-02T09:00:00.000+0800`); on input ISO 8601 with `Z` or `+08:00` is taken too.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from flowdesk.server.rest_errors import RestError

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
# Camunda's primitive value types, by the lower-case name its REST API also accepts.
_TYPES = {
    name.lower(): name
    for name in ("String", "Integer", "Long", "Short", "Double", "Boolean", "Date", "Json", "Null")
}
_TYPES["bytes"] = "Bytes"


def format_date(value: datetime | date | None) -> str | None:
    """Camunda's date text: milliseconds and an offset without a colon; a `date` is midnight
    UTC of that day (Camunda's Date is an instant)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    if value.utcoffset() is None:  # flowdesk's records are aware; be safe with any other
        value = value.replace(tzinfo=UTC)
    return (
        value.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}"
        + (value.strftime("%z"))
    )


def parse_date(text: Any, *, what: str) -> datetime:
    """A date a client sent: Camunda's format, or ISO 8601 with an offset."""
    if not isinstance(text, str):
        raise RestError.invalid(f"{what}: a date must be text like 2026-03-02T09:00:00.000+0800")
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        value = value[:-2] + ":" + value[-2:]  # +0800 -> +08:00 (fromisoformat wants it)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise RestError.invalid(
            f"{what}: cannot read {text!r} as a date with an offset "
            "(Camunda's format yyyy-MM-dd'T'HH:mm:ss.SSSZ)"
        )
    return parsed


def typed_value(value: Any) -> dict[str, Any]:
    """A stored value as Camunda's REST API shows it."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        kind = "Integer" if _INT32[0] <= value <= _INT32[1] else "Long"
        return {"type": kind, "value": value, "valueInfo": {}}
    if isinstance(value, float):
        shown: Any = value if math.isfinite(value) else repr(value)
        return {"type": "Double", "value": shown, "valueInfo": {}}
    if isinstance(value, str):
        return {"type": "String", "value": value, "valueInfo": {}}
    if isinstance(value, datetime | date):
        return {"type": "Date", "value": format_date(value), "valueInfo": {}}
    if isinstance(value, bytes | bytearray | memoryview):
        text = base64.b64encode(bytes(value)).decode("ascii")
        return {"type": "Bytes", "value": text, "valueInfo": {}}
    # Json: Camunda's Spin JSON value travels as JSON text.
    return {"type": "Json", "value": json.dumps(_plain(value), ensure_ascii=False), "valueInfo": {}}


def typed_variables(variables: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: typed_value(value) for name, value in variables.items()}


def read_variables(body: Any, *, what: str = "variables") -> dict[str, Any]:
    """A request's `{"name": {"value": ..., "type": ...}}` map, as Python values."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise RestError.invalid(f"{what} must be an object of name to typed value")
    for name in body:  # what no database can hold as text is refused here, not by it
        if "\x00" in name:
            raise RestError.invalid(f"{what}: a variable name must be text without NUL")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise RestError.invalid(f"{what}: a variable name must be valid Unicode") from None
    return {str(name): read_value(typed, what=f"{what}.{name}") for name, typed in body.items()}


def read_value(typed: Any, *, what: str) -> Any:
    """One typed value from a request; without `type` it is inferred from the JSON value,
    as Camunda does."""
    if not isinstance(typed, dict):
        raise RestError.invalid(f"{what}: a variable must be an object with value and type")
    value = typed.get("value")
    given = typed.get("type")
    if given is None:
        if isinstance(value, dict | list):
            raise RestError.invalid(f"{what}: an object or array value needs type Json")
        return _checked_plain(value, what)
    if not isinstance(given, str) or given.lower() not in _TYPES:
        raise RestError.invalid(f"{what}: unsupported value type {given!r}")
    kind = _TYPES[given.lower()]
    if value is None or kind == "Null":
        return None
    return _convert(kind, value, what)


def _convert(kind: str, value: Any, what: str) -> Any:
    def wrong() -> RestError:
        return RestError.invalid(
            f"{what}: cannot convert value {value!r} to type {kind} "
            f"(must provide 'null' or a {kind} value)"
        )

    if kind == "String":
        if not isinstance(value, str):
            raise wrong()
        return value
    if kind == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise wrong()
    if kind in ("Integer", "Long", "Short"):
        number = _integer(value)
        low, high = {"Integer": _INT32, "Long": _INT64, "Short": (-(2**15), 2**15 - 1)}[kind]
        if number is None or not low <= number <= high:
            raise wrong()
        return number
    if kind == "Double":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise wrong()
        try:
            real = float(value)
        except ValueError:
            raise wrong() from None
        if not math.isfinite(real):
            raise wrong()
        return real
    if kind == "Date":
        return parse_date(value, what=what)
    if kind == "Bytes":
        if not isinstance(value, str):
            raise wrong()
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise wrong() from None
    # Json: JSON text, as Camunda sends it; an object or array itself is taken too.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise wrong() from None
    if isinstance(value, dict | list):
        return value
    raise wrong()


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _checked_plain(value: Any, what: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise RestError.invalid(f"{what}: NaN and Infinity are no Camunda values")
    return value


def _plain(value: Any) -> Any:
    """A Json value with the dates and bytes in it as text."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return format_date(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value
