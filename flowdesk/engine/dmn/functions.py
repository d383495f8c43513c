"""The run-time helpers that translated FEEL calls: FEEL's comparisons, null handling and functions.

FEEL differs from Python where tables notice it: `null` compared with anything is no match
rather than a `TypeError`, `true` is not the number 1, a date compares with an ISO text, a
missing key of a context is `null`, and dividing by zero gives `null`. The translator
(`feel.py`) therefore emits calls to these functions instead of Python operators, and the
evaluator passes `HELPERS` into the sandbox with every evaluation.

FEEL is null-friendly, as the FEEL Scala engine is since 1.17 (Camunda 7.20+): an unknown
variable, a missing property, ordering a number against a string, an operation or a function
that is not defined for its arguments all give `null` (which no test matches) instead of
failing. Only the date parsers raise `FeelError`, for a constant date that is wrong when the
file is deployed and for typeRef `date` conversion. Messages name types, never values.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flowdesk.engine.languages import limits


class FeelError(Exception):
    """A FEEL value or operation that FEEL itself rejects."""


def type_name(value: object) -> str:
    """FEEL's name for the type of a value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date and time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "context"
    return type(value).__name__


def is_number(value: object) -> bool:
    """Whether FEEL sees a number (a bool is not one)."""
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def parse_date(text: str) -> date:
    """`date("2024-01-01")`; an ISO date-time text gives its date part."""
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    if not isinstance(text, str):
        raise FeelError(f"date() needs a string, got a {type_name(text)}")
    try:
        if "T" in text:
            return datetime.fromisoformat(text).date()
        return date.fromisoformat(text)
    except ValueError as err:
        raise FeelError('date() needs an ISO date like "2024-01-31"') from err


def parse_date_time(text: str) -> datetime:
    """`date and time("2024-01-01T10:00:00Z")`; a date alone means its midnight."""
    if isinstance(text, datetime):
        return text
    if isinstance(text, date):
        return datetime(text.year, text.month, text.day)
    if not isinstance(text, str):
        raise FeelError(f"date and time() needs a string, got a {type_name(text)}")
    local, _, zone = text.partition("@")
    try:
        value = datetime.fromisoformat(local)
    except ValueError as err:
        raise FeelError(
            'date and time() needs an ISO date-time like "2024-01-31T10:00:00Z"'
        ) from err
    if not zone:
        return value
    # FEEL's zone form, "2019-09-12T13:00:00@Europe/Berlin": a local time in that zone.
    try:
        return value.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
        raise FeelError(f"date and time(): {zone!r} is not a known time zone") from err


def variable(variables: Mapping[str, Any], name: str) -> Any:
    """A variable by name; an unknown name is null, as in the FEEL Scala engine 1.17+
    (Camunda 7.20+), which no longer fails on it."""
    return variables.get(name)


def path(value: Any, name: str) -> Any:
    """`a.b`: a context's entry (null when absent); null stays null; on a list of contexts,
    the list of their entries (FEEL's projection: `orders.price`)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(name)
    if isinstance(value, list | tuple):
        return [path(item, name) for item in value]
    if isinstance(value, date):
        parts = {"year", "month", "day", "hour", "minute", "second"}
        if name in parts and hasattr(value, name):
            return getattr(value, name)
    return None  # FEEL Scala 1.17+: a non-existing property is null


def equal(left: Any, right: Any) -> bool:
    """FEEL `=`: no coercion between types, except ISO texts against dates."""
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if _temporal(left) or _temporal(right):
        pair = _temporal_pair(left, right)
        return pair is not None and pair[0] == pair[1]
    if type_name(left) != type_name(right):
        return False
    return bool(left == right)


def compare(operator: str, left: Any, right: Any) -> bool | None:
    """FEEL `=`, `!=`, `<`, `<=`, `>`, `>=`; ordering with null is null (no match)."""
    if operator == "=":
        return equal(left, right)
    if operator == "!=":
        return not equal(left, right)
    if left is None or right is None:
        return None
    pair = _ordered_pair(left, right)
    if pair is None:
        return None  # FEEL Scala 1.17+: comparing different types is null
    a, b = pair
    if operator == "<":
        return bool(a < b)
    if operator == "<=":
        return bool(a <= b)
    if operator == ">":
        return bool(a > b)
    return bool(a >= b)


def between(value: Any, low: Any, high: Any, low_closed: bool, high_closed: bool) -> bool | None:
    """An interval test such as `[1..10]` or `]1..10[`."""
    above = compare(">=" if low_closed else ">", value, low)
    below = compare("<=" if high_closed else "<", value, high)
    if above is None or below is None:
        return None
    return above and below


def matches(value: Any, expected: Any) -> bool:
    """A unary test that is a plain value: equality, or membership when the value is a list.

    A boolean against a value that is not one is the test's own verdict, as in Camunda's
    FEEL engine: `cellInput > 3` or `amount > limit` is a condition, not a value to equal.
    """
    if isinstance(expected, bool) and not isinstance(value, bool):
        return expected
    if isinstance(expected, list | tuple) and not isinstance(value, list | tuple):
        return any(equal(value, item) for item in expected)
    return equal(value, expected)


def verdict(value: Any, condition: Any) -> bool:
    """A unary test that is a condition such as `cellInput > 5`: null never matches."""
    return condition is not None and matches(value, condition)


def truth(value: Any) -> bool:
    """Whether a test's value means "match": only `true` does (null and false do not)."""
    return value is True


def all_of(*values: Any) -> bool | None:
    """FEEL `and` (three-valued)."""
    if any(v is False for v in values):
        return False
    if all(v is True for v in values):
        return True
    return None


def any_of(*values: Any) -> bool | None:
    """FEEL `or` (three-valued)."""
    if any(v is True for v in values):
        return True
    if all(v is False for v in values):
        return False
    return None


def negate(value: Any) -> bool | None:
    """FEEL `not(x)` on a boolean."""
    return None if not isinstance(value, bool) else not value


def arithmetic(operator: str, left: Any, right: Any) -> Any:
    """FEEL `+ - * / **`: null propagates, division by zero is null, strings concatenate."""
    if left is None or right is None:
        return None
    if is_number(left) and is_number(right):
        if operator == "+":
            return left + right
        if operator == "-":
            return left - right
        if operator == "*":
            limits.check_mul(left, right)
            return left * right
        if operator == "/":
            if right == 0:
                return None
            quotient = left / right
            return (
                int(quotient) if isinstance(quotient, float) and quotient.is_integer() else quotient
            )
        limits.check_pow(left, right)  # `10 ** 10 ** 10` would run for hours
        return left**right
    if operator == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    return None  # FEEL Scala 1.17+: an operation not defined for the values is null


def minus(value: Any) -> Any:
    """FEEL unary minus."""
    if value is None:
        return None
    if is_number(value):
        return -value
    return None  # as arithmetic(): not defined, so null


def _to_string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _to_number(value: Any) -> Any:
    if value is None or is_number(value):
        return value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise FeelError("number() needs a numeric string") from None
        return int(number) if number.is_integer() and "." not in value else number
    raise FeelError(f"number() needs a string, got a {type_name(value)}")


def _numbers(name: str, values: tuple[Any, ...]) -> list[Any]:
    items = list(values[0]) if len(values) == 1 and isinstance(values[0], list) else list(values)
    if not all(is_number(v) for v in items):
        raise FeelError(f"{name}() needs numbers")
    return items


def _minimum(*values: Any) -> Any:
    items = _numbers("min", values)
    return min(items) if items else None


def _maximum(*values: Any) -> Any:
    items = _numbers("max", values)
    return max(items) if items else None


def _total(*values: Any) -> Any:
    return sum(_numbers("sum", values))


def _count(values: Any) -> int:
    if not isinstance(values, list):
        raise FeelError(f"count() needs a list, got a {type_name(values)}")
    return len(values)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise FeelError(f"{name}() needs a string, got a {type_name(value)}")
    return value


def _rounding(name: str, function: Callable[[float], int]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if value is None:
            return None
        if not is_number(value):
            raise FeelError(f"{name}() needs a number, got a {type_name(value)}")
        return function(value)

    return apply


def _absolute(value: Any) -> Any:
    if value is None:
        return None
    if not is_number(value):
        raise FeelError(f"abs() needs a number, got a {type_name(value)}")
    return abs(value)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "date": parse_date,
    "date and time": parse_date_time,
    "not": negate,
    "string": _to_string,
    "number": _to_number,
    "abs": _absolute,
    "floor": _rounding("floor", math.floor),
    "ceiling": _rounding("ceiling", math.ceil),
    "min": _minimum,
    "max": _maximum,
    "sum": _total,
    "count": _count,
    "string length": lambda s: len(_text("string length", s)),
    "upper case": lambda s: _text("upper case", s).upper(),
    "lower case": lambda s: _text("lower case", s).lower(),
    "contains": lambda s, part: _text("contains", part) in _text("contains", s),
    "starts with": lambda s, part: _text("starts with", s).startswith(_text("starts with", part)),
    "ends with": lambda s, part: _text("ends with", s).endswith(_text("ends with", part)),
}
"""FEEL built-in functions flowdesk supports, by their FEEL name."""


def helper_name(function: str) -> str:
    """The sandbox global under which a FEEL function is passed."""
    return "dmn_fn_" + function.replace(" ", "_")


def _null_on_failure(function: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in function as translated FEEL calls it: null when it cannot be invoked with
    these arguments (FEEL Scala 1.17+), instead of failing the evaluation."""

    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except (FeelError, TypeError, ValueError, ArithmeticError):
            return None

    return call


HELPERS: dict[str, Callable[..., Any]] = {
    "dmn_var": variable,
    "dmn_path": path,
    "dmn_compare": compare,
    "dmn_between": between,
    "dmn_matches": matches,
    "dmn_verdict": verdict,
    "dmn_truth": truth,
    "dmn_and": all_of,
    "dmn_or": any_of,
    "dmn_arith": arithmetic,
    "dmn_minus": minus,
    **{helper_name(name): _null_on_failure(function) for name, function in FUNCTIONS.items()},
}
"""Every name translated FEEL calls; the evaluator passes them to the sandbox."""


def _temporal(value: Any) -> bool:
    return isinstance(value, date)


def _as_temporal(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _temporal_pair(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Both sides as comparable dates or date-times; ISO texts are read, dates widen."""
    a, b = _as_temporal(left), _as_temporal(right)
    if a is None or b is None:
        return None
    if isinstance(a, datetime) != isinstance(b, datetime):
        # A date against a date-time: the date means its midnight.
        a, b = _widen(a), _widen(b)
    if isinstance(a, datetime) and isinstance(b, datetime) and _aware(a) != _aware(b):
        # A date-time without offset is read as UTC, the engine's clock zone.
        a, b = _utc(a), _utc(b)
    return a, b


def _ordered_pair(left: Any, right: Any) -> tuple[Any, Any] | None:
    if isinstance(left, bool) or isinstance(right, bool):
        return None
    if is_number(left) and is_number(right):
        return left, right
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    if _temporal(left) or _temporal(right):
        return _temporal_pair(left, right)
    return None


def _widen(value: date) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


def _aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def _utc(value: datetime) -> datetime:
    return value if _aware(value) else value.replace(tzinfo=UTC)
