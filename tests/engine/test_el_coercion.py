"""EL coercion and operator rules, one row per case, each with its section of the EL spec.

Sections are EL 3.0's (JSR 341): 1.6 property access, 1.7 arithmetic, 1.8 relational and
equality, 1.9 logical, 1.10 empty, 1.11 conditional, 1.23 coercion (1.23.2 to String, 1.23.3
to a number, 1.23.5 to Boolean, 1.23.6 to an enum; EL 2.2 numbers these 1.18.x). Expected
values are what Camunda 7's JUEL gives.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

import pytest

from flowdesk.engine.languages.sandbox import evaluate
from flowdesk.errors import ExpressionError


class Color(Enum):
    RED = 1
    GREEN = 2


class Shade(Enum):
    RED = 1


ERROR = object()

# (spec section, expression, variables, expected value or ERROR)
CASES: list[tuple[str, str, dict[str, Any], Any]] = [
    # 1.7.1 A {+,-,*} B
    ("1.7.1 null and null is 0", "${a + b}", {"a": None, "b": None}, 0),
    ("1.7.1 null is 0", "${a + 1}", {"a": None}, 1),
    ("1.7.1 String without . or e is a Long", "${'1' + 2}", {}, 3),
    ("1.7.1 String with . is a Double", "${'1.5' + 2}", {}, 3.5),
    ("1.7.1 String with e is a Double", "${'1e1' + 1}", {}, 11.0),
    ("1.7.1 Double operand makes a Double", "${1 + 2.0}", {}, 3.0),
    ("1.7.1 two Strings add as numbers", "${'2' * '3'}", {}, 6),
    ("1.7.1 non-numeric String is an error", "${'abc' + 1}", {}, ERROR),
    ("1.23.3 Boolean does not coerce to a number", "${true + 1}", {}, ERROR),
    ("1.23.3 empty String is 0", "${'' + 1}", {}, 1),
    ("1.7.1 subtraction", "${10 - 2 - 3}", {}, 5),
    # 1.7.2 A {/,div} B
    ("1.7.2 Long / Long is a Double", "${7 / 2}", {}, 3.5),
    ("1.7.2 exact division is still a Double", "${4 div 2}", {}, 2.0),
    ("1.7.2 null and null is 0", "${a / b}", {"a": None, "b": None}, 0),
    ("1.7.2 division by zero is Infinity", "${1 / 0}", {}, math.inf),
    ("1.7.2 negative by zero is -Infinity", "${-1 / 0}", {}, -math.inf),
    ("1.7.2 String divides as Double", "${'9' / '2'}", {}, 4.5),
    # 1.7.3 A {%,mod} B
    ("1.7.3 remainder takes the dividend's sign", "${-7 % 3}", {}, -1),
    ("1.7.3 positive dividend", "${7 mod -3}", {}, 1),
    ("1.7.3 Double remainder", "${7.5 % 2}", {}, 1.5),
    ("1.7.3 negative Double remainder", "${-7.5 % 2}", {}, -1.5),
    ("1.7.3 Long remainder by zero is an error", "${1 % 0}", {}, ERROR),
    ("1.7.3 null and null is 0", "${a % b}", {"a": None, "b": None}, 0),
    # 1.7.4 -A
    ("1.7.4 minus null is 0", "${-a}", {"a": None}, 0),
    ("1.7.4 minus String Long", "${-'5'}", {}, -5),
    ("1.7.4 minus String Double", "${-'2.5'}", {}, -2.5),
    ("1.7.4 minus Boolean is an error", "${-true}", {}, ERROR),
    # 1.8.1 relational
    ("1.8.1 null is never less", "${a < 1}", {"a": None}, False),
    ("1.8.1 null <= null (A==B)", "${a <= b}", {"a": None, "b": None}, True),
    ("1.8.1 Long against String coerces to Long", "${'10' > 9}", {}, True),
    ("1.8.1 Strings compare lexically", "${'10' > '9'}", {}, False),
    ("1.8.1 Double against String", "${'2.5' < 3.0}", {}, True),
    ("1.8.1 String that is no Long is an error", "${'abc' < 1}", {}, ERROR),
    ("1.8.1 String against Boolean compares Strings", "${'abc' lt true}", {}, True),
    ("1.8.1 Booleans are Comparable", "${false < true}", {}, True),
    ("1.8.1 Boolean against Long is an error", "${true > 0}", {}, ERROR),
    # 1.8.2 equality
    ("1.8.2 String equals Long after coercion", "${'1' == 1}", {}, True),
    ("1.8.2 Long equals Double", "${1 == 1.0}", {}, True),
    ("1.8.2 String Double equals Double", "${'1.0' == 1.0}", {}, True),
    ("1.8.2 Boolean against String 'true'", "${flag == 'true'}", {"flag": True}, True),
    ("1.8.2 Boolean against String 'TRUE'", "${flag eq 'TRUE'}", {"flag": True}, True),
    ("1.8.2 Boolean against other String", "${flag == 'yes'}", {"flag": True}, False),
    ("1.8.2 false against empty String", "${flag == ''}", {"flag": False}, True),
    ("1.8.2 null equals only null", "${a == 0}", {"a": None}, False),
    ("1.8.2 null == null", "${a == null}", {"a": None}, True),
    ("1.8.2 null != value", "${a != 'x'}", {"a": None}, True),
    ("1.8.2 empty String equals 0", "${'' == 0}", {}, True),
    ("1.8.2 String that is no Long against Long is an error", "${'abc' == 1}", {}, ERROR),
    ("1.8.2 Boolean against Long is an error", "${true == 1}", {}, ERROR),
    ("1.8.2 Strings", "${'a' ne 'b'}", {}, True),
    ("1.8.2 enum against its name", "${c == 'RED'}", {"c": Color.RED}, True),
    ("1.8.2 enum against another name", "${c == 'GREEN'}", {"c": Color.RED}, False),
    ("1.8.2 enum against no constant is an error", "${c == 'BLUE'}", {"c": Color.RED}, ERROR),
    (
        "1.8.2 enum against another enum type is an error",
        "${c == d}",
        {"c": Color.RED, "d": Shade.RED},
        ERROR,
    ),
    ("1.23.2 enum in text is its name", "${c}!", {"c": Color.GREEN}, "GREEN!"),
    ("1.8.2 otherwise equals()", "${a == b}", {"a": [1, 2], "b": [1, 2]}, True),
    # 1.9 logical
    ("1.9 && on Booleans", "${true && false}", {}, False),
    ("1.9 String 'true' coerces to Boolean", "${a && b}", {"a": "true", "b": True}, True),
    ("1.9 || gives a Boolean, not an operand", "${a || b}", {"a": "", "b": "TRUE"}, True),
    ("1.9 null is false", "${!a}", {"a": None}, True),
    ("1.9 a number is not a Boolean", "${a && true}", {"a": 1}, ERROR),
    ("1.9 && short-circuits", "${false && (1 % 0 == 1)}", {}, False),
    ("1.9 || short-circuits", "${true or (1 % 0 == 1)}", {}, True),
    # 1.10 empty
    ("1.10 empty null", "${empty a}", {"a": None}, True),
    ("1.10 empty String", "${empty ''}", {}, True),
    ("1.10 empty list", "${empty a}", {"a": []}, True),
    ("1.10 empty map", "${empty a}", {"a": {}}, True),
    ("1.10 0 is not empty", "${empty a}", {"a": 0}, False),
    ("1.10 not empty", "${not empty a}", {"a": [0]}, True),
    # 1.11 conditional
    ("1.11 condition coerced to Boolean", "${a ? 'y' : 'n'}", {"a": "true"}, "y"),
    ("1.11 null condition is false", "${a ? 'y' : 'n'}", {"a": None}, "n"),
    ("1.11 a number is not a condition", "${a ? 'y' : 'n'}", {"a": 0}, ERROR),
    # 1.6 property access
    ("1.6 missing map key is null", "${m.missing}", {"m": {}}, None),
    ("1.6 map key by index", "${m['a b']}", {"m": {"a b": 1}}, 1),
    ("1.6 null base is null", "${m.a.b}", {"m": {}}, None),
    ("1.6 list index from a String", "${xs['1']}", {"xs": [10, 20]}, 20),
    ("1.6 list index out of bounds is null", "${xs[5]}", {"xs": [10, 20]}, None),
    ("1.6 negative list index is null", "${xs[-1]}", {"xs": [10, 20]}, None),
    ("1.6 list index that is no number is an error", "${xs['a']}", {"xs": [10]}, ERROR),
    ("1.6 map entry before a method of the same name", "${m.items}", {"m": {"items": 2}}, 2),
    ("1.6 map property that is a dict method name", "${m.keys}", {"m": {}}, None),
    # 1.23.2 coercion to String, in composite text
    ("1.23.2 null in text is ''", "a${x}b", {"x": None}, "ab"),
    ("1.23.2 Boolean in text", "${x}!", {"x": True}, "true!"),
    ("1.23.2 Double in text is Java's", "${x}", {"x": 1.0}, 1.0),
    ("1.23.2 Double in composite text", "v=${x}", {"x": 1e10}, "v=1.0E10"),
    ("1.23.2 List in text", "${x}.", {"x": ["a", None]}, "[a, null]."),
]


@pytest.mark.parametrize(
    ("section", "expression", "variables", "expected"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_el_rule(section: str, expression: str, variables: dict[str, Any], expected: Any) -> None:
    if expected is ERROR:
        with pytest.raises(ExpressionError):
            evaluate(expression, variables)
        return
    value = evaluate(expression, variables)
    assert value == expected
    assert type(value) is type(expected)


def test_el_rule__nan_from_zero_by_zero() -> None:
    # 1.7.2: Double division, and Java's 0.0 / 0.0 is NaN.
    assert math.isnan(evaluate("${0 / 0}", {}))
