"""Parse the tokens of one JUEL expression into a Python `ast` expression."""

from __future__ import annotations

import ast
import keyword
from collections.abc import Callable

from flowdesk.engine.expressions.runtime_helpers import SCOPE_NAME
from flowdesk.engine.expressions.tokenizer import _Token
from flowdesk.engine.expressions.translation_tables import (
    _ADDITIVE,
    _COMPARISONS,
    _EQUALITY,
    _EXECUTION_GETTERS,
    _EXECUTION_HELP,
    _EXECUTION_NAMES,
    _EXECUTION_VARIABLE_GETTERS,
    _LITERALS,
    _METHODS,
    _MULTIPLICATIVE,
    _RELATIONAL,
    _call,
    _method,
)
from flowdesk.errors import ExpressionError


class _Execution:
    """Marks the JUEL `execution` object until a property or getter resolves it."""


class _Parser:
    """Recursive descent over EL 2.2's grammar, lowest precedence first."""

    def __init__(self, tokens: list[_Token], text: str, element_id: str | None) -> None:
        self.tokens = tokens
        self.index = 0
        self.text = text
        self.element_id = element_id

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
        return ast.IfExp(test, body, orelse)

    def logical_or(self) -> ast.expr:
        values = [self.logical_and()]
        while self.accept("||", "or"):
            values.append(self.logical_and())
        return values[0] if len(values) == 1 else ast.BoolOp(ast.Or(), values)

    def logical_and(self) -> ast.expr:
        values = [self.equality()]
        while self.accept("&&", "and"):
            values.append(self.equality())
        return values[0] if len(values) == 1 else ast.BoolOp(ast.And(), values)

    def equality(self) -> ast.expr:
        return self.comparison(self.relational, _EQUALITY)

    def relational(self) -> ast.expr:
        return self.comparison(self.additive, _RELATIONAL)

    def comparison(self, operand: Callable[[], ast.expr], ops: frozenset[str]) -> ast.expr:
        node = operand()
        # EL comparisons do not chain: `a < b < c` is `(a < b) < c`. Nesting one Compare per
        # operator makes ast.unparse keep those parentheses.
        while (op := self.accept(*ops)) is not None:
            node = ast.Compare(node, [_COMPARISONS[op]()], [operand()])
        return node

    def additive(self) -> ast.expr:
        node = self.multiplicative()
        while (op := self.accept(*_ADDITIVE)) is not None:
            node = ast.BinOp(node, _ADDITIVE[op](), self.multiplicative())
        return node

    def multiplicative(self) -> ast.expr:
        node = self.unary()
        while (op := self.accept(*_MULTIPLICATIVE)) is not None:
            node = ast.BinOp(node, _MULTIPLICATIVE[op](), self.unary())
        return node

    def unary(self) -> ast.expr:
        if self.accept("-"):
            return ast.UnaryOp(ast.USub(), self.unary())
        if self.accept("!", "not"):
            return ast.UnaryOp(ast.Not(), self.unary())
        if self.accept("empty"):
            return _call("juel_empty", self.unary())
        return self.postfix()

    def postfix(self) -> ast.expr:
        start = self.peek()
        node: ast.expr | _Execution = self.primary()
        while True:
            if self.accept("."):
                name = self.property_name()
                args = self.arguments() if self.accept("(") else None
                node = self.member(node, name, args)
            elif self.accept("["):
                if isinstance(node, _Execution):
                    raise self.error(_EXECUTION_HELP, start)
                key = self.ternary()
                self.expect("]")
                node = ast.Subscript(node, key, ast.Load())
            else:
                break
        if isinstance(node, _Execution):
            raise self.error(_EXECUTION_HELP, start)
        return node

    def primary(self) -> ast.expr | _Execution:
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
            if token.value == "execution":
                return _Execution()
            name = self.python_name(token)
            if self.accept("("):
                return ast.Call(ast.Name(name, ast.Load()), self.arguments(), [])
            return ast.Name(name, ast.Load())
        raise self.unexpected()

    # Pieces of the levels above.

    def member(
        self, node: ast.expr | _Execution, token: _Token, args: list[ast.expr] | None
    ) -> ast.expr:
        name = str(token.value)
        if isinstance(node, _Execution):
            return self.execution_member(token, args)
        if args is None:
            if keyword.iskeyword(name):
                # `a.from` is not Python; dict-style lookup is the nearest meaning.
                return ast.Subscript(node, ast.Constant(name), ast.Load())
            return ast.Attribute(node, name, ast.Load())
        mapped = _METHODS.get((name, len(args)))
        if mapped is not None:
            return mapped(node, args)
        if keyword.iskeyword(name):
            raise self.error(f"method name {name!r} is a Python keyword", token)
        return _method(node, name, args)

    def execution_member(self, token: _Token, args: list[ast.expr] | None) -> ast.expr:
        name = str(token.value)
        if args is None and name in _EXECUTION_NAMES:
            return ast.Name(_EXECUTION_NAMES[name], ast.Load())
        if args == [] and name in _EXECUTION_GETTERS:
            return ast.Name(_EXECUTION_GETTERS[name], ast.Load())
        if args is not None and name in _EXECUTION_VARIABLE_GETTERS:
            if (
                len(args) == 1
                and isinstance(args[0], ast.Constant)
                and isinstance(args[0].value, str)
                and args[0].value.isidentifier()
                and not keyword.iskeyword(args[0].value)
            ):
                # Camunda gives null for a variable that is not set, where a bare name fails.
                get = ast.Attribute(ast.Name(SCOPE_NAME, ast.Load()), "get", ast.Load())
                return ast.Call(get, [args[0]], [])
            raise self.error(f"execution.{name} needs one string literal naming a variable", token)
        call = "()" if args is not None else ""
        raise self.error(f"execution.{name}{call} is not supported; {_EXECUTION_HELP}", token)

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

    def python_name(self, token: _Token) -> str:
        name = str(token.value)
        if not name.isidentifier():
            raise self.error(f"identifier {name!r} is not a valid Python name", token)
        if keyword.iskeyword(name):
            raise self.error(f"identifier {name!r} is a Python keyword", token)
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
