"""Parse the tokens of one JUEL expression into a Python `ast` expression.

Every operator becomes a call of its EL runtime function (`a == b` -> `juel_eq(a, b)`), every
property access `juel_prop(a, 'b')` and every method call `juel_call(a, 'm', ...)`, so the
value has EL's meaning although Python evaluates it.
"""

from __future__ import annotations

import ast
import keyword
from collections.abc import Callable

from flowdesk.engine.languages.expressions.runtime_helpers import SCOPE_NAME
from flowdesk.engine.languages.expressions.tokenizer import _Token
from flowdesk.engine.languages.expressions.translation_tables import (
    _ADDITIVE,
    _EQUALITY,
    _LITERALS,
    _MULTIPLICATIVE,
    _RELATIONAL,
    _call,
)
from flowdesk.errors import ExpressionError


class _Parser:
    """Recursive descent over EL 2.2's grammar, lowest precedence first."""

    def __init__(self, tokens: list[_Token], text: str, element_id: str | None) -> None:
        self.tokens = tokens
        self.index = 0
        self.text = text
        self.element_id = element_id
        self.functions: set[str] = set()

    def parse(self) -> ast.expr:
        if self.peek().kind == "end":
            raise self.error("empty expression")
        try:
            node = self.ternary()
        except RecursionError as err:
            raise ExpressionError(
                self.text, "expression nests too deeply", element_id=self.element_id
            ) from err
        if self.peek().kind != "end":
            raise self.unexpected()
        return node

    # Grammar levels, from the loosest to the tightest binding.

    def ternary(self) -> ast.expr:
        test = self.logical_or()
        if not self.accept("?"):
            return test
        body = self.ternary()
        self.expect(":")
        orelse = self.ternary()
        return ast.IfExp(_call("juel_bool", test), body, orelse)

    def logical_or(self) -> ast.expr:
        values = [self.logical_and()]
        while self.accept("||", "or"):
            values.append(self.logical_and())
        if len(values) == 1:
            return values[0]
        # Python's `or` on Booleans is EL's `||`: short-circuit, and the result a Boolean.
        return ast.BoolOp(ast.Or(), [_call("juel_bool", value) for value in values])

    def logical_and(self) -> ast.expr:
        values = [self.equality()]
        while self.accept("&&", "and"):
            values.append(self.equality())
        if len(values) == 1:
            return values[0]
        return ast.BoolOp(ast.And(), [_call("juel_bool", value) for value in values])

    def equality(self) -> ast.expr:
        return self.comparison(self.relational, _EQUALITY)

    def relational(self) -> ast.expr:
        return self.comparison(self.additive, _RELATIONAL)

    def comparison(self, operand: Callable[[], ast.expr], ops: dict[str, str]) -> ast.expr:
        # EL comparisons do not chain: `a < b < c` is `(a < b) < c`.
        return self.binary(operand, ops)

    def additive(self) -> ast.expr:
        return self.binary(self.multiplicative, _ADDITIVE)

    def multiplicative(self) -> ast.expr:
        return self.binary(self.unary, _MULTIPLICATIVE)

    def binary(self, operand: Callable[[], ast.expr], ops: dict[str, str]) -> ast.expr:
        node = operand()
        while (op := self.accept(*ops)) is not None:
            node = _call(ops[op], node, operand())
        return node

    def unary(self) -> ast.expr:
        if self.accept("-"):
            return _call("juel_neg", self.unary())
        if self.accept("!", "not"):
            return ast.UnaryOp(ast.Not(), _call("juel_bool", self.unary()))
        if self.accept("empty"):
            return _call("juel_empty", self.unary())
        return self.postfix()

    def postfix(self) -> ast.expr:
        node = self.primary()
        while True:
            if self.accept("."):
                name = ast.Constant(str(self.property_name().value))
                if self.accept("("):
                    node = _call("juel_call", node, name, *self.arguments())
                else:
                    node = _call("juel_prop", node, name)
            elif self.accept("["):
                key = self.ternary()
                self.expect("]")
                node = _call("juel_prop", node, key)
            else:
                return node

    def primary(self) -> ast.expr:
        token = self.peek()
        if token.kind in ("number", "string"):
            self.advance()
            return ast.Constant(token.value)
        if token.kind == "op" and token.value in _LITERALS:
            self.advance()
            return ast.Constant(_LITERALS[token.value])
        if self.accept("("):
            node = self.ternary()
            self.expect(")")
            return node
        if token.kind == "name":
            self.advance()
            name = self.identifier(token)
            if self.accept("("):
                if not _is_python_name(name):
                    raise self.error(f"no function {name!r}", token)
                self.functions.add(name)
                return ast.Call(ast.Name(name, ast.Load()), self.arguments(), [])
            if name == "execution":
                # Camunda's `execution` wins over a variable of that name.
                return _call("juel_execution", ast.Name(SCOPE_NAME, ast.Load()))
            if _is_python_name(name):
                return ast.Name(name, ast.Load())
            # `_items`, `class`, `a$b`: valid EL identifiers the sandbox cannot compile as
            # Python names, so they are looked up by their text.
            return _call("juel_var", ast.Name(SCOPE_NAME, ast.Load()), ast.Constant(name))
        raise self.unexpected()

    # Pieces of the levels above.

    def arguments(self) -> list[ast.expr]:
        args: list[ast.expr] = []
        if self.accept(")"):
            return args
        args.append(self.ternary())
        while self.accept(","):
            args.append(self.ternary())
        self.expect(")")
        return args

    def property_name(self) -> _Token:
        token = self.peek()
        # A reserved word after '.' can only be a property name (`task.empty`), so allow it.
        if token.kind == "name" or (token.kind == "op" and str(token.value).isalpha()):
            return self.advance()
        raise self.error("expected a property name after '.'")

    def identifier(self, token: _Token) -> str:
        name = str(token.value)
        if (
            name.startswith("__")
            or (name.startswith("_") and name.endswith("_"))
            or name.startswith("juel_")
        ):
            # Such names are Python's and the sandbox's own (`__builtins__`, `_getattr_`,
            # `juel_scope`), never process data.
            raise self.error(f"identifier {name!r} is reserved by the sandbox", token)
        return name

    # Token stream.

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def accept(self, *ops: str) -> str | None:
        token = self.peek()
        if token.kind == "op" and token.value in ops:
            self.index += 1
            return str(token.value)
        return None

    def expect(self, op: str) -> None:
        if self.accept(op) is None:
            token = self.peek()
            found = "end of expression" if token.kind == "end" else repr(token.value)
            raise self.error(f"expected {op!r}, found {found}")

    def unexpected(self) -> ExpressionError:
        token = self.peek()
        if token.kind == "end":
            return self.error("unexpected end of expression")
        if token.value == "instanceof":
            return self.error("'instanceof' is not supported")
        return self.error(f"unexpected {token.value!r}")

    def error(self, reason: str, token: _Token | None = None) -> ExpressionError:
        pos = (token or self.peek()).pos
        return ExpressionError(self.text, f"{reason} at position {pos}", element_id=self.element_id)


def _is_python_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")
