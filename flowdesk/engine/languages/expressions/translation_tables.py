"""Which runtime function each JUEL operator becomes, and how the translator builds calls."""

from __future__ import annotations

import ast

# Each EL operator is a call of its function in `el_operators`, which applies EL's coercions.
_EQUALITY: dict[str, str] = {"==": "juel_eq", "eq": "juel_eq", "!=": "juel_ne", "ne": "juel_ne"}
_RELATIONAL: dict[str, str] = {
    "<": "juel_lt", "lt": "juel_lt", ">": "juel_gt", "gt": "juel_gt",
    "<=": "juel_le", "le": "juel_le", ">=": "juel_ge", "ge": "juel_ge",
}  # fmt: skip
_ADDITIVE: dict[str, str] = {"+": "juel_add", "-": "juel_sub"}
_MULTIPLICATIVE: dict[str, str] = {
    "*": "juel_mul", "/": "juel_div", "div": "juel_div", "%": "juel_mod", "mod": "juel_mod",
}  # fmt: skip
_LITERALS = {"true": True, "false": False, "null": None}


def _call(function: str, *args: ast.expr) -> ast.expr:
    return ast.Call(ast.Name(function, ast.Load()), list(args), [])
