"""Camunda Spin's `S()` and `JSON()` over JSON variables, for JUEL expressions.

Camunda 7 models read JSON variables with Spin: `${S(customer).prop("age").numberValue()}`.
flowdesk variables are already JSON data (dicts, lists, strings, numbers), so `S(value)` wraps
the value in a `SpinJsonNode`; `S(text)` and `JSON(text)` parse a JSON string first, as Spin
does. The subset is the one Camunda models use: navigation (`prop`, `hasProp`, `elements`,
`fieldNames`), type tests (`isObject`, `isArray`, `isString`, `isNumber`, `isBoolean`,
`isNull`, `isValue`), values (`stringValue`, `numberValue`, `boolValue`, `value`) and
`toString()`. Like Spin, reading a missing property or the wrong type is an error.

A JSON variable Camunda stored as Spin JSON is itself a Spin node there, so models call
`${customer.prop("age")}` on it directly; `el_members` answers such calls on a dict or list
through `SpinJsonNode` when Java's Map or List has no method of that name.
"""

from __future__ import annotations

import json
from typing import Any

from flowdesk.engine.languages.expressions.el_operators import ELError


class SpinJsonNode:
    """A JSON value as Spin's `SpinJsonNode`; the method names are Spin's."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def prop(self, name: str) -> SpinJsonNode:
        """The property `name` of an object; an error when it has none."""
        if not isinstance(self._value, dict):
            raise ELError(f"Spin: cannot read property {name!r} of a non-object JSON value")
        if name not in self._value:
            raise ELError(f"Spin: unable to find property {name!r}")
        return SpinJsonNode(self._value[name])

    def hasProp(self, name: str) -> bool:
        """Whether this is an object with the property `name`."""
        return isinstance(self._value, dict) and name in self._value

    def elements(self) -> list[SpinJsonNode]:
        """The elements of an array."""
        if not isinstance(self._value, list):
            raise ELError("Spin: elements() needs a JSON array")
        return [SpinJsonNode(item) for item in self._value]

    def fieldNames(self) -> list[str]:
        """The property names of an object."""
        if not isinstance(self._value, dict):
            raise ELError("Spin: fieldNames() needs a JSON object")
        return list(self._value)

    def isObject(self) -> bool:
        return isinstance(self._value, dict)

    def isArray(self) -> bool:
        return isinstance(self._value, list)

    def isString(self) -> bool:
        return isinstance(self._value, str)

    def isNumber(self) -> bool:
        return isinstance(self._value, (int, float)) and not isinstance(self._value, bool)

    def isBoolean(self) -> bool:
        return isinstance(self._value, bool)

    def isNull(self) -> bool:
        return self._value is None

    def isValue(self) -> bool:
        """Whether this is a string, number, boolean or null (not an object or array)."""
        return not isinstance(self._value, (dict, list))

    def stringValue(self) -> str:
        """The string; an error for any other type."""
        if not isinstance(self._value, str):
            raise ELError("Spin: stringValue() of a JSON value that is not a string")
        return self._value

    def numberValue(self) -> int | float:
        """The number; an error for any other type."""
        if not self.isNumber():
            raise ELError("Spin: numberValue() of a JSON value that is not a number")
        return self._value  # type: ignore[no-any-return]

    def boolValue(self) -> bool:
        """The boolean; an error for any other type."""
        if not isinstance(self._value, bool):
            raise ELError("Spin: boolValue() of a JSON value that is not a boolean")
        return self._value

    def value(self) -> Any:
        """The plain JSON value (dict, list, str, number, bool or None)."""
        return self._value

    def toString(self) -> str:
        """Compact JSON text, as Jackson writes it."""
        return json.dumps(self._value, separators=(",", ":"), ensure_ascii=False)

    def __str__(self) -> str:
        return self.toString()

    def __repr__(self) -> str:
        return f"S({self.toString()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpinJsonNode) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.toString())


def spin(value: Any) -> SpinJsonNode:
    """Camunda's `S(value)`: a JSON string is parsed; JSON data is wrapped as it is."""
    if isinstance(value, SpinJsonNode):
        return value
    if isinstance(value, str):
        return json_node(value)
    if value is None or isinstance(value, (dict, list, int, float, bool)):
        return SpinJsonNode(value)
    raise ELError(f"Spin: S() takes JSON text or JSON data, not {type(value).__name__}")


def json_node(value: Any) -> SpinJsonNode:
    """Camunda's `JSON(value)`: parses JSON text; JSON data is wrapped as it is."""
    if isinstance(value, str):
        try:
            return SpinJsonNode(json.loads(value))
        except ValueError as err:
            raise ELError(f"Spin: not JSON text: {err}") from err
    return spin(value)
