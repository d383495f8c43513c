"""What JUEL operators, literals, Java methods and `execution` members become in Python."""

from __future__ import annotations

import ast
from collections.abc import Callable

_COMPARISONS: dict[str, type[ast.cmpop]] = {
    "==": ast.Eq, "eq": ast.Eq, "!=": ast.NotEq, "ne": ast.NotEq,
    "<": ast.Lt, "lt": ast.Lt, ">": ast.Gt, "gt": ast.Gt,
    "<=": ast.LtE, "le": ast.LtE, ">=": ast.GtE, "ge": ast.GtE,
}  # fmt: skip
_EQUALITY = frozenset({"==", "eq", "!=", "ne"})
_RELATIONAL = frozenset({"<", "lt", ">", "gt", "<=", "le", ">=", "ge"})
_ADDITIVE: dict[str, type[ast.operator]] = {"+": ast.Add, "-": ast.Sub}
_MULTIPLICATIVE: dict[str, type[ast.operator]] = {
    "*": ast.Mult, "/": ast.Div, "div": ast.Div, "%": ast.Mod, "mod": ast.Mod,
}  # fmt: skip
_LITERALS = {"true": True, "false": False, "null": None}

# Java methods that JUEL users call on strings, lists and maps, by name and arity.
_METHODS: dict[tuple[str, int], Callable[[ast.expr, list[ast.expr]], ast.expr]] = {
    ("size", 0): lambda obj, args: _call("len", obj),
    ("length", 0): lambda obj, args: _call("len", obj),
    ("isEmpty", 0): lambda obj, args: ast.Compare(_call("len", obj), [ast.Eq()], [ast.Constant(0)]),
    ("contains", 1): lambda obj, args: ast.Compare(args[0], [ast.In()], [obj]),
    ("containsKey", 1): lambda obj, args: ast.Compare(args[0], [ast.In()], [obj]),
    ("get", 1): lambda obj, args: ast.Subscript(obj, args[0], ast.Load()),
    ("equals", 1): lambda obj, args: ast.Compare(obj, [ast.Eq()], [args[0]]),
    ("toString", 0): lambda obj, args: _call("str", obj),
    ("startsWith", 1): lambda obj, args: _method(obj, "startswith", args),
    ("endsWith", 1): lambda obj, args: _method(obj, "endswith", args),
    ("toUpperCase", 0): lambda obj, args: _method(obj, "upper", args),
    ("toLowerCase", 0): lambda obj, args: _method(obj, "lower", args),
    ("trim", 0): lambda obj, args: _method(obj, "strip", args),
}

# What `execution.<property>` and `execution.<getter>()` become: names the engine provides.
_EXECUTION_NAMES = {
    "processBusinessKey": "business_key",
    "businessKey": "business_key",
    "processInstanceId": "instance_id",
}
_EXECUTION_GETTERS = {
    "getProcessBusinessKey": "business_key",
    "getBusinessKey": "business_key",
    "getProcessInstanceId": "instance_id",
}
_EXECUTION_VARIABLE_GETTERS = frozenset({"getVariable", "getVariableLocal"})
_EXECUTION_HELP = (
    "only execution.getVariable('name'), execution.processBusinessKey and "
    "execution.processInstanceId are supported"
)


def _call(function: str, *args: ast.expr) -> ast.expr:
    return ast.Call(ast.Name(function, ast.Load()), list(args), [])


def _method(obj: ast.expr, name: str, args: list[ast.expr]) -> ast.expr:
    return ast.Call(ast.Attribute(obj, name, ast.Load()), args, [])
