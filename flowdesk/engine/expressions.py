"""Translate Camunda 7 JUEL (`${...}`) into the Python that SpiffWorkflow evaluates.

Camunda Modeler writes conditions, loop cardinalities, assignees and input parameters in JUEL
(the Java Unified Expression Language, EL 2.2). SpiffWorkflow evaluates every expression as
Python, so `${amount > 1000}` is a SyntaxError there. This module turns JUEL into Python
expression source once, at the edge; everything after it only ever sees Python.

Why a tokenizer and a recursive-descent parser rather than regex replacement: a regex cannot
tell `&&` inside the string literal `'a && b'` from the operator, nor `or` inside the name
`order`, and it cannot map JUEL precedence (`!a == b` is `(not a) == b`) onto Python's. The
parser builds Python `ast` nodes and `ast.unparse` writes them out, so Python adds exactly the
parentheses its own precedence needs and literals come out as valid Python (`007` -> `7`).
Writing a JUEL interpreter was dropped too: translated text runs in the same sandbox as
plain-Python expressions, and one evaluator is easier to secure than two.

Two contexts:

- *Expression context* (`translate`): conditions, loop cardinality, completion conditions.
  A text without JUEL is plain Python and passes through unchanged (surrounding whitespace,
  which BPMN XML adds around element text, is stripped).
- *Value context* (`translate_value`): `camunda:assignee`, `candidateGroups`, `dueDate`,
  input parameters, timer texts. A text without JUEL is a literal string.

A text mixing literal text and expressions (`user_${id}`) becomes string building, as in EL:
each `${...}` is converted with `juel_str` (`null` -> `''`, booleans -> `'true'`/`'false'`).
`\\${` in literal text stands for a literal `${`.

Semantics are Python's once translated, which differs from EL in ways worth knowing:
`&&`/`||` return an operand rather than a boolean (the truth value is the same); `==` does not
coerce (`'1' == 1` is false); `+` concatenates strings instead of failing or adding numbers;
`%` takes the sign of the divisor; a missing map key or property raises instead of yielding
`null`.

`execution` is not an object at runtime. `execution.getVariable('n')` reads `n` from the
namespace (`juel_scope.get('n')`, null when unset);
`execution.processBusinessKey` (or `businessKey`, `getProcessBusinessKey()`,
`getBusinessKey()`) becomes the variable `business_key`; `execution.processInstanceId` (or
`getProcessInstanceId()`) becomes `instance_id`. The engine must put those two names into the
evaluation context. Everything else on `execution` raises `ExpressionError`.
"""

from __future__ import annotations

import ast
import functools
import keyword
import re
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any

from flowdesk.errors import ExpressionError


def is_juel(text: str) -> bool:
    """Tell whether a text contains a JUEL expression.

    Args:
        text: Any expression or attribute text from a BPMN file.

    Returns:
        True when the text contains `${` or `#{` that is not escaped as `\\${` / `\\#{`.
    """
    return _JUEL_START.search(text) is not None


def translate(text: str, *, element_id: str | None = None) -> str:
    """Turn an expression-context text into Python expression source.

    A text that is exactly one `${...}` or `#{...}` becomes the equivalent Python expression.
    A text with no JUEL is plain Python: it is returned unchanged (minus surrounding
    whitespace) once it is known to parse. A text mixing literal text and `${...}` becomes a
    Python expression that builds the string. Results are cached.

    Args:
        text: The condition or expression as written in the BPMN file.
        element_id: The BPMN element the text belongs to, for the error message.

    Returns:
        Python source that `ast.parse(source, mode="eval")` accepts.

    Raises:
        ExpressionError: The JUEL cannot be translated, or the Python does not parse.
    """
    return _translate_cached(text, element_id)


def translate_value(text: str, *, element_id: str | None = None) -> str:
    """Turn a value-context text (assignee, due date, input parameter) into Python source.

    A text without JUEL is a literal string and becomes its `repr`. A text that is one
    `${...}` (surrounding whitespace allowed) becomes the translated expression, so its value
    keeps its type. A mixed text becomes a string-building expression. Results are cached.

    Args:
        text: The attribute or element text as written in the BPMN file.
        element_id: The BPMN element the text belongs to, for the error message.

    Returns:
        Python expression source.

    Raises:
        ExpressionError: An embedded JUEL expression cannot be translated.
    """
    return _translate_value_cached(text, element_id)


def juel_empty(value: object) -> bool:
    """EL's `empty` operator: true for `None`, an empty string and an empty collection."""
    return value is None or (isinstance(value, Sized) and len(value) == 0)


def juel_str(value: object) -> str:
    """EL's coercion to string for composite texts: `None` -> `''`, booleans in lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


SCOPE_NAME = "juel_scope"
"""The name under which the sandbox gives translated code its own namespace (a dict)."""

RUNTIME_HELPERS: dict[str, Callable[..., Any]] = {
    "juel_empty": juel_empty,
    "juel_str": juel_str,
}
"""Functions that translated source calls; the sandbox must provide them as globals."""


# --- translation --------------------------------------------------------------------------

_JUEL_START = re.compile(r"(?<!\\)[$#]\{")


@functools.lru_cache(maxsize=4096)
def _translate_cached(text: str, element_id: str | None) -> str:
    if not is_juel(text):
        return _check_python(text.strip(), text, element_id)
    parts = _strip_ends(_split_template(text, element_id))
    if len(parts) == 1 and isinstance(parts[0], ast.expr):
        return _unparse(parts[0], text, element_id)
    return _unparse(_concatenate(parts), text, element_id)


@functools.lru_cache(maxsize=4096)
def _translate_value_cached(text: str, element_id: str | None) -> str:
    parts = _split_template(text, element_id)
    expressions = [part for part in parts if isinstance(part, ast.expr)]
    if not expressions:
        return repr("".join(part for part in parts if isinstance(part, str)))
    if len(expressions) == 1 and all(isinstance(p, ast.expr) or not p.strip() for p in parts):
        return _unparse(expressions[0], text, element_id)
    return _unparse(_concatenate(parts), text, element_id)


def _check_python(source: str, text: str, element_id: str | None) -> str:
    if not source:
        raise ExpressionError(text, "empty expression", element_id=element_id)
    try:
        ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        detail = err.msg if isinstance(err, SyntaxError) else str(err) or type(err).__name__
        raise ExpressionError(
            text, f"not a valid Python expression ({detail})", element_id=element_id
        ) from err
    return source


def _unparse(node: ast.expr, text: str, element_id: str | None) -> str:
    try:
        source = ast.unparse(node)
    except RecursionError as err:
        raise ExpressionError(text, "expression nests too deeply", element_id=element_id) from err
    # Guards against a translator bug reaching Spiff as a SyntaxError without a line number.
    return _check_python(source, text, element_id)


def _split_template(text: str, element_id: str | None) -> list[str | ast.expr]:
    """Cut a text into literal strings and parsed `${...}` expressions, in order."""
    parts: list[str | ast.expr] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        pair = text[i + 1 : i + 3]
        if text[i] == "\\" and pair in ("${", "#{"):
            literal.append(pair)
            i += 3
        elif text[i] in "$#" and text[i + 1 : i + 2] == "{":
            if literal:
                parts.append("".join(literal))
                literal = []
            tokens, i = _tokenize(text, i + 2, element_id)
            parts.append(_Parser(tokens, text, element_id).parse())
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def _strip_ends(parts: list[str | ast.expr]) -> list[str | ast.expr]:
    # In expression context, whitespace around the text is XML layout, not content.
    if isinstance(parts[0], str):
        parts[0] = parts[0].lstrip()
    if isinstance(parts[-1], str):
        parts[-1] = parts[-1].rstrip()
    return [part for part in parts if not isinstance(part, str) or part]


def _concatenate(parts: list[str | ast.expr]) -> ast.expr:
    pieces: list[ast.expr] = [
        ast.Constant(part) if isinstance(part, str) else _call("juel_str", part) for part in parts
    ]
    result = pieces[0]
    for piece in pieces[1:]:
        result = ast.BinOp(result, ast.Add(), piece)
    return result


# --- tokenizer ----------------------------------------------------------------------------

# EL 2.2's reserved words; `instanceof` is reserved but has no meaning without Java types.
_KEYWORDS = frozenset({
    "and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge",
    "true", "false", "null", "empty", "div", "mod", "instanceof",
})  # fmt: skip
_OPERATORS = ("&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "%")
_PUNCTUATION = ("?", ":", ".", "[", "]", "(", ")", ",")
_SYMBOLS = sorted(_OPERATORS + _PUNCTUATION, key=len, reverse=True)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"'}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number", "string", "name", "op" (symbols and reserved words) or "end"
    value: Any
    pos: int


def _tokenize(text: str, start: int, element_id: str | None) -> tuple[list[_Token], int]:
    """Tokenize one expression body from `start` up to its closing `}`.

    Returns:
        The tokens (ending with an "end" token) and the index just after the `}`.
    """

    def fail(reason: str, pos: int) -> ExpressionError:
        return ExpressionError(text, f"{reason} at position {pos}", element_id=element_id)

    tokens: list[_Token] = []
    i = start
    while True:
        if i >= len(text):
            raise fail("unclosed '${' (missing '}')", start - 2)
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch == "}":
            tokens.append(_Token("end", "}", i))
            return tokens, i + 1
        elif ch in "'\"":
            value, end = _scan_string(text, i, fail)
            tokens.append(_Token("string", value, i))
            i = end
        elif (match := _NUMBER.match(text, i)) is not None:
            literal = match.group()
            is_float = any(c in literal for c in ".eE")
            tokens.append(_Token("number", float(literal) if is_float else int(literal), i))
            i = match.end()
        elif ch.isalpha() or ch in "_$":
            end = i + 1
            while end < len(text) and (text[end].isalnum() or text[end] in "_$"):
                end += 1
            word = text[i:end]
            tokens.append(_Token("op" if word in _KEYWORDS else "name", word, i))
            i = end
        else:
            symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
            if symbol is None:
                if ch == "=":
                    raise fail("'=' is not supported (use '==' or 'eq')", i)
                raise fail(f"unexpected character {ch!r}", i)
            tokens.append(_Token("op", symbol, i))
            i += len(symbol)


_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


def _scan_string(
    text: str, start: int, fail: Callable[[str, int], ExpressionError]
) -> tuple[str, int]:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(chars), i + 1
        if ch == "\\":
            escaped = text[i + 1 : i + 2]
            if escaped not in _ESCAPES:
                raise fail(f"invalid escape '\\{escaped}' in string", i)
            chars.append(_ESCAPES[escaped])
            i += 2
        else:
            chars.append(ch)
            i += 1
    raise fail("unterminated string", start)


# --- parser -------------------------------------------------------------------------------

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


def _call(function: str, *args: ast.expr) -> ast.expr:
    return ast.Call(ast.Name(function, ast.Load()), list(args), [])


def _method(obj: ast.expr, name: str, args: list[ast.expr]) -> ast.expr:
    return ast.Call(ast.Attribute(obj, name, ast.Load()), args, [])
