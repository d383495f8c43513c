"""EL 2.2 operators and coercions, as JUEL (Camunda 7's EL) implements them.

Translated JUEL calls these functions instead of Python operators, because EL coerces where
Python does not: `"1" == 1` is true, `flag == 'true'` compares as Booleans, `"1" + 2` is 3,
`7 / 2` is 3.5, `-7 % 3` is -1, and `&&` takes Booleans. The rules follow the EL spec
(sections 1.7 to 1.10 of EL 2.2, and the coercion rules of 1.18; the same rules are 1.7 to 1.10
and 1.23 in EL 3.0) and JUEL's `NumberOperations`, `BooleanOperations` and `TypeConverterImpl`.

Java types map onto Python's: `int` is Long (or BigInteger), `float` is Double, `Decimal` is
BigDecimal, `str` is String, `bool` is Boolean. Python `bool` is a subclass of `int`, so every
check here tells them apart first: EL refuses to coerce a Boolean to a number.

Each operator starts with a fast path for the common case (two ints, two strings) so that a
condition such as `${amount > 1000}` costs one function call more than the Python operator.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sized
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any


class ELError(Exception):
    """An EL evaluation error (Java's `ELException`): a value that cannot be coerced, say."""


# --- coercions (EL 2.2 section 1.18) -------------------------------------------------------

_LONG = re.compile(r"[+-]?\d+", re.ASCII)
# What Java's Double.valueOf accepts, without hexadecimal floats.
_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)", re.ASCII)


def _type_name(value: object) -> str:
    return {
        bool: "Boolean", int: "Long", float: "Double", str: "String", Decimal: "BigDecimal",
        list: "List", dict: "Map",
    }.get(type(value), type(value).__name__)  # fmt: skip


def _cannot(value: object, target: str) -> ELError:
    return ELError(f"cannot coerce {value!r} ({_type_name(value)}) to {target}")


def to_long(value: object) -> int:
    """Coerce to Long (1.18.3): null and "" are 0, a String must be an integer literal."""
    if type(value) is int:
        return value
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise _cannot(value, "Long")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise _cannot(value, "Long")
        return int(value)  # Java narrows a Double to a Long by truncation
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if _LONG.fullmatch(text) and text == value:
            return int(text)
    raise _cannot(value, "Long")


def to_double(value: object) -> float:
    """Coerce to Double (1.18.3): null and "" are 0.0, a String is parsed as Java does."""
    if type(value) is float:
        return value
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise _cannot(value, "Double")
    if isinstance(value, (int, Decimal)):
        return float(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()  # Double.valueOf ignores surrounding whitespace
        if _DOUBLE.fullmatch(text):
            return float(text.rstrip("fFdD").replace("Infinity", "inf"))
    raise _cannot(value, "Double")


def to_decimal(value: object) -> Decimal:
    """Coerce to BigDecimal (1.18.3)."""
    if isinstance(value, Decimal):
        return value
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, bool):
        raise _cannot(value, "BigDecimal")
    if isinstance(value, (int, float)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise _cannot(value, "BigDecimal")


def to_boolean(value: object) -> bool:
    """Coerce to Boolean (1.18.5): null and "" are false, a String is `"true"` ignoring case."""
    if value is True or value is False:
        return value
    if value is None or value == "":
        return False
    if isinstance(value, str):
        return value.lower() == "true"
    raise _cannot(value, "Boolean")


def to_str(value: object) -> str:
    """Coerce to String (1.18.2): null is "", everything else its Java `toString()`."""
    if type(value) is str:
        return value
    return java_string(value)


def java_string(value: object) -> str:
    """What Java's `toString()` gives for a value: `true`, `1.0E10`, `[a, b]`, `{k=v}`."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _double_string(value)
    if isinstance(value, Enum):
        return value.name  # JUEL's coerceToString gives an enum's name()
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_nested(k)}={_nested(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_nested(item) for item in value) + "]"
    return str(value)


def _nested(value: object) -> str:
    # Inside a collection, Java prints null as "null".
    return "null" if value is None else java_string(value)


def _double_string(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "e" not in text else f"{value:f}".rstrip("0").rstrip(".") + ".0"
    # Java writes the shortest digits as d.dddE<n> outside [1e-3, 1e7).
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = exponent + len(digits) - 1
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{power}"


# --- arithmetic (1.7) ----------------------------------------------------------------------


def _floaty(value: object) -> bool:
    # JUEL's isFloatOrDoubleOrDotEe: a Double, or a String that looks like one.
    if isinstance(value, float):
        return True
    return isinstance(value, str) and ("." in value or "e" in value or "E" in value)


def _arithmetic(a: object, b: object, op: Callable[[Any, Any], Any]) -> Any:
    if a is None and b is None:
        return 0
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return op(to_decimal(a), to_decimal(b))
    if _floaty(a) or _floaty(b):
        return op(to_double(a), to_double(b))
    return op(to_long(a), to_long(b))


def _float_op(op: Callable[[float, float], float]) -> Callable[[Any, Any], Any]:
    def apply(x: Any, y: Any) -> Any:
        try:
            return op(x, y)
        except OverflowError:
            return math.inf if (x > 0) == (y > 0) else -math.inf

    return apply


_MUL = _float_op(operator.mul)


def juel_add(a: Any, b: Any) -> Any:
    """`a + b` (1.7.1): numeric addition after coercion; `"1" + 2` is 3."""
    if type(a) is int and type(b) is int:
        return a + b
    return _arithmetic(a, b, operator.add)


def juel_sub(a: Any, b: Any) -> Any:
    """`a - b` (1.7.1)."""
    if type(a) is int and type(b) is int:
        return a - b
    return _arithmetic(a, b, operator.sub)


def juel_mul(a: Any, b: Any) -> Any:
    """`a * b` (1.7.1)."""
    if type(a) is int and type(b) is int:
        return a * b
    return _arithmetic(a, b, _MUL)


def juel_div(a: Any, b: Any) -> Any:
    """`a / b`, `a div b` (1.7.2): always a Double (BigDecimal for BigDecimal operands).

    Division by zero follows Java's doubles: `1 / 0` is Infinity and `0 / 0` is NaN.
    """
    if a is None and b is None:
        return 0
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        divisor = to_decimal(b)
        if divisor == 0:
            raise ELError("division by zero")
        return to_decimal(a) / divisor
    x, y = to_double(a), to_double(b)
    if y == 0.0:
        if x == 0.0 or math.isnan(x):
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def juel_mod(a: Any, b: Any) -> Any:
    """`a % b`, `a mod b` (1.7.3): the remainder has the sign of `a`, as in Java."""
    if a is None and b is None:
        return 0
    if isinstance(a, Decimal) or isinstance(b, Decimal) or _floaty(a) or _floaty(b):
        x, y = to_double(a), to_double(b)
        if y == 0.0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
            return math.nan
        return math.fmod(x, y)
    x, y = to_long(a), to_long(b)
    if y == 0:
        raise ELError("/ by zero")
    remainder = abs(x) % abs(y)
    return -remainder if x < 0 else remainder


def juel_neg(a: Any) -> Any:
    """Unary `-a` (1.7.4): null is 0, a String is parsed as a Long or a Double."""
    if type(a) is int or type(a) is float:
        return -a
    if a is None:
        return 0
    if isinstance(a, bool):
        raise _cannot(a, "Number")
    if isinstance(a, (int, float, Decimal)):
        return -a
    if isinstance(a, str):
        return -to_double(a) if _floaty(a) else -to_long(a)
    raise _cannot(a, "Number")


# --- relational and equality (1.8) ---------------------------------------------------------


def _compare(a: Any, b: Any) -> int:
    """JUEL's BooleanOperations.compare for two non-null operands: -1, 0 or 1."""
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        x: Any = to_decimal(a)
        y: Any = to_decimal(b)
    elif isinstance(a, float) or isinstance(b, float):
        x, y = to_double(a), to_double(b)
    elif (isinstance(a, int) and not isinstance(a, bool)) or (
        isinstance(b, int) and not isinstance(b, bool)
    ):
        x, y = to_long(a), to_long(b)
    elif isinstance(a, str) or isinstance(b, str):
        x, y = to_str(a), to_str(b)
    else:
        # Comparable: Booleans, dates, times. Python refuses what Java's compareTo would.
        x, y = a, b
        if type(a) is not type(b) and not (isinstance(a, type(b)) or isinstance(b, type(a))):
            raise ELError(f"cannot compare {_type_name(a)} with {_type_name(b)}")
    try:
        return -1 if x < y else (1 if x > y else 0)
    except TypeError as err:
        raise ELError(f"cannot compare {_type_name(a)} with {_type_name(b)}") from err


def juel_lt(a: Any, b: Any) -> bool:
    """`a < b`, `a lt b` (1.8.1): false when either is null."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a < b)
    if a is None or b is None:
        return False
    return _compare(a, b) < 0


def juel_gt(a: Any, b: Any) -> bool:
    """`a > b`, `a gt b` (1.8.1)."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a > b)
    if a is None or b is None:
        return False
    return _compare(a, b) > 0


def juel_le(a: Any, b: Any) -> bool:
    """`a <= b`, `a le b` (1.8.1): true when both are the same object, even null."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a <= b)
    if a is b:
        return True
    if a is None or b is None:
        return False
    return _compare(a, b) <= 0


def juel_ge(a: Any, b: Any) -> bool:
    """`a >= b`, `a ge b` (1.8.1)."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return bool(a >= b)
    if a is b:
        return True
    if a is None or b is None:
        return False
    return _compare(a, b) >= 0


def juel_eq(a: Any, b: Any) -> bool:
    """`a == b`, `a eq b` (1.8.2), with JUEL's order of coercions.

    Numbers first (`"1" == 1`), then Booleans (`flag == 'true'`), enums by name, Strings
    (`'true' == true` was already Boolean), then `equals`.
    """
    ta, tb = type(a), type(b)
    if ta is tb and (ta is str or ta is int):
        return bool(a == b)
    if a is b:
        return True
    if a is None or b is None:
        return False
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return to_decimal(a) == to_decimal(b)
    if ta is float or tb is float or isinstance(a, float) or isinstance(b, float):
        return to_double(a) == to_double(b)
    if (isinstance(a, int) and not isinstance(a, bool)) or (
        isinstance(b, int) and not isinstance(b, bool)
    ):
        return to_long(a) == to_long(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return to_boolean(a) == to_boolean(b)
    if isinstance(a, Enum) or isinstance(b, Enum):
        return _enum_eq(a, b)
    if isinstance(a, str) or isinstance(b, str):
        return to_str(a) == to_str(b)
    return bool(a == b)


def _enum_eq(a: Any, b: Any) -> bool:
    enum, other = (a, b) if isinstance(a, Enum) else (b, a)
    if isinstance(other, type(enum)):
        return enum is other
    if other == "":
        return False  # "" coerces to null, which equals no constant
    if isinstance(other, str):
        if other not in type(enum).__members__:
            raise ELError(f"{other!r} is not a constant of {type(enum).__name__}")
        return type(enum).__members__[other] is enum
    raise _cannot(other, type(enum).__name__)


def juel_ne(a: Any, b: Any) -> bool:
    """`a != b`, `a ne b` (1.8.2)."""
    return not juel_eq(a, b)


# --- logical, empty, conditional (1.9, 1.10, 1.11) -----------------------------------------


def juel_bool(value: Any) -> bool:
    """The operand of `&&`, `||`, `!` and `? :` coerced to Boolean (1.9, 1.11)."""
    if value is True or value is False:
        return value
    return to_boolean(value)


def juel_empty(value: object) -> bool:
    """`empty a` (1.10): true for null, "", and an empty collection, map or array."""
    if value is None:
        return True
    if isinstance(value, (str, Sized)):
        return len(value) == 0
    return False


def juel_str(value: object) -> str:
    """A `${...}` inside literal text (1.18.2): its value coerced to String."""
    return to_str(value)


OPERATOR_HELPERS: dict[str, Callable[..., Any]] = {
    function.__name__: function
    for function in (
        juel_add, juel_sub, juel_mul, juel_div, juel_mod, juel_neg,
        juel_lt, juel_gt, juel_le, juel_ge, juel_eq, juel_ne,
        juel_bool, juel_empty, juel_str,
    )
}  # fmt: skip
"""The operator functions translated JUEL calls, by name."""
