"""Translate the FEEL that Camunda Modeler writes in DMN tables into Python for the sandbox.

Decision tables hold two kinds of text: *expressions* (input expressions, output entries,
literal-expression decisions: `amount * 2`, `invoice.category`, `"manual"`) and *simple unary
tests* (input entries: `-`, `< 10`, `[1..10]`, `"a","b"`, `not("a")`, `date("2024-01-01")`).
Both are translated once, when the DMN file is read, into Python source that the RestrictedPython
sandbox evaluates; a text outside the supported subset is a deploy-time problem, never a
surprise at run time.

Why translate instead of interpreting: the same sandbox already secures every JUEL and Python
expression of the engine, and one evaluator is easier to keep safe than two. Why not hand FEEL
to Python as it is (as SpiffWorkflow 3.2 does): `=` is not Python, `[1..10]` is not Python,
and Python's `None < 10` raises where FEEL says "no match". So the translation calls the
helpers of `functions.py` for every comparison, path, operator and function, and reads
variables through `dmn_var(dmn_vars, name)` (FEEL names may be Python keywords, and an unknown
name must be an error, not a `NameError` from deep inside the sandbox). A unary test reads the
value under test as `dmn_input`.

The subset: literals (numbers, `"strings"` and `'strings'`, `true`, `false`, `null`, lists
`[1, 2]`), names and dotted paths, `+ - * / **`, comparisons `= != < <= > >=`, `and`, `or`,
`not(...)`, `if c then a else b`, parentheses, `?` (the value under test, in input entries),
and the functions in `functions.FUNCTIONS` (`date`, `date and time`, `string`, `number`, ...).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from flowdesk.engine.dmn import functions

VARIABLES = "dmn_vars"
"""The sandbox global holding the variables a translated text reads."""
INPUT = "dmn_input"
"""The sandbox global holding the value a unary test checks."""


class FeelSyntaxError(ValueError):
    """A FEEL text outside the supported subset; the message says what and where."""


def translate_expression(text: str) -> str:
    """Python source for a FEEL expression (input expression, output entry, literal expression).

    Raises:
        FeelSyntaxError: The text is empty or not in the supported subset.
    """
    return _translate_expression(text.strip())


def translate_unary_tests(text: str) -> str:
    """Python source, true when `dmn_input` passes the FEEL simple unary tests in `text`.

    `-` and an empty text match anything.

    Raises:
        FeelSyntaxError: The text is not in the supported subset.
    """
    return _translate_tests(text.strip())


def literal_values(text: str) -> list[Any]:
    """The constants of a comma-separated list such as `"low","medium","high"` (output values).

    Raises:
        FeelSyntaxError: An item is not a literal string, number or boolean.
    """
    parser = _Parser(text.strip())
    values = [parser.literal()]
    while parser.accept(","):
        values.append(parser.literal())
    parser.expect_end()
    return values


@functools.lru_cache(maxsize=4096)
def _translate_expression(text: str) -> str:
    if not text:
        raise FeelSyntaxError("empty expression")
    parser = _Parser(text)
    source = parser.expression()
    parser.expect_end()
    return source


@functools.lru_cache(maxsize=4096)
def _translate_tests(text: str) -> str:
    if text in ("", "-"):
        return "True"
    parser = _Parser(text)
    if parser.peek_name("not") and parser.peek_op("(", 1) and _closes_at_end(parser, 1):
        parser.advance()
        parser.expect("(")
        inner = parser.positive_tests(closing=")")
        parser.expect(")")
        parser.expect_end()
        return f"(not {inner})"
    source = parser.positive_tests(closing=None)
    parser.expect_end()
    return source


def _closes_at_end(parser: _Parser, open_index: int) -> bool:
    """Whether the `(` at `open_index` is closed by the text's last token (`not(...)` whole)."""
    depth = 0
    tokens = parser.tokens
    for index in range(parser.index + open_index, len(tokens)):
        token = tokens[index]
        if token.kind == "op" and token.value in "([":
            depth += 1
        elif token.kind == "op" and token.value in ")]":
            depth -= 1
            if depth == 0:
                return tokens[index + 1].kind == "end"
    return False


# --- tokens -------------------------------------------------------------------------------

_SYMBOLS = ("..", "**", "==", "<=", ">=", "!=", "<", ">", "=", "+", "-", "*", "/", "(", ")",
            "[", "]", ",", ".", "?")  # fmt: skip
KEYWORDS = frozenset({"true", "false", "null", "and", "or", "if", "then", "else"})
"""Words FEEL reserves; they cannot name a variable."""
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
# Function names of several words; a name followed by these words and `(` is one function.
_MULTI_WORD = sorted(
    (tuple(name.split()) for name in functions.FUNCTIONS if " " in name), key=len, reverse=True
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number", "string", "name", "op" or "end"
    value: Any
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isdigit() or (ch == "." and i + 1 < len(text) and text[i + 1].isdigit()):
            start = i
            while i < len(text) and text[i].isdigit():
                i += 1
            if i + 1 < len(text) and text[i] == "." and text[i + 1].isdigit():
                i += 1
                while i < len(text) and text[i].isdigit():
                    i += 1
            literal = text[start:i]
            tokens.append(
                _Token("number", float(literal) if "." in literal else int(literal), start)
            )
        elif ch in "\"'":
            value, i = _scan_string(text, i)
            tokens.append(_Token("string", value, i))
        elif ch.isalpha() or ch == "_":
            start = i
            while i < len(text) and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(_Token("name", text[start:i], start))
        else:
            symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
            if symbol is None:
                raise FeelSyntaxError(f"unexpected {ch!r} at position {i}")
            if symbol == "==":
                raise FeelSyntaxError(f"'==' at position {i} is not FEEL; write '=' or the value")
            tokens.append(_Token("op", symbol, i))
            i += len(symbol)
    tokens.append(_Token("end", None, len(text)))
    return tokens


def _scan_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            chars.append(_ESCAPES[text[i + 1]])
            i += 2
        elif ch == quote:
            return "".join(chars), i + 1
        else:
            chars.append(ch)
            i += 1
    raise FeelSyntaxError(f"string starting at position {start} is not closed")


def _python_string(value: str) -> str:
    # A `${` inside a literal would make the sandbox read the source as JUEL; `$` and `#`
    # never start an escape in repr's output, so escaping them keeps the literal intact.
    return repr(value).replace("$", "\\x24").replace("#", "\\x23")


# --- parser -------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over FEEL's precedence, emitting Python source."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    # token helpers

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def peek_op(self, symbol: str, ahead: int = 0) -> bool:
        token = self.tokens[min(self.index + ahead, len(self.tokens) - 1)]
        return token.kind == "op" and token.value == symbol

    def peek_name(self, name: str, ahead: int = 0) -> bool:
        token = self.tokens[min(self.index + ahead, len(self.tokens) - 1)]
        return token.kind == "name" and token.value == name

    def accept(self, symbol: str) -> bool:
        if self.peek_op(symbol):
            self.index += 1
            return True
        return False

    def expect(self, symbol: str) -> None:
        if not self.accept(symbol):
            raise self.error(f"expected {symbol!r}")

    def expect_end(self) -> None:
        if self.token.kind != "end":
            raise self.error("unexpected text")

    def error(self, reason: str) -> FeelSyntaxError:
        token = self.token
        found = "the end" if token.kind == "end" else repr(self.text[token.pos :][:20])
        return FeelSyntaxError(f"{reason} at position {token.pos} (found {found})")

    # unary tests

    def positive_tests(self, closing: str | None) -> str:
        tests = [self.positive_test()]
        while self.accept(","):
            tests.append(self.positive_test())
        if closing is not None and not self.peek_op(closing):
            raise self.error(f"expected ',' or {closing!r}")
        return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"

    def positive_test(self) -> str:
        token = self.token
        if token.kind == "op" and token.value in ("<", "<=", ">", ">=", "=", "!="):
            self.advance()
            endpoint = self.endpoint()
            return f"dmn_truth(dmn_compare({token.value!r}, {INPUT}, {endpoint}))"
        if token.kind == "op" and token.value in ("[", "]", "("):
            interval = self.try_interval()
            if interval is not None:
                return interval
        start = self.index
        value = self.expression()
        if any(t.kind == "op" and t.value == "?" for t in self.tokens[start : self.index]):
            return f"dmn_truth({value})"
        return f"dmn_matches({INPUT}, {value})"

    def try_interval(self) -> str | None:
        """`[a..b]`, `]a..b[`, `(a..b)` and mixes; None (nothing consumed) if it is not one."""
        start = self.index
        opening = self.advance().value
        try:
            low = self.endpoint()
            if not self.accept(".."):
                raise self.error("expected '..'")
        except FeelSyntaxError:
            if opening == "]":
                raise
            self.index = start
            return None
        high = self.endpoint()
        closing = self.token
        if not (closing.kind == "op" and closing.value in ("]", "[", ")")):
            raise self.error("expected ']', '[' or ')' to close the range")
        self.advance()
        low_closed = opening == "["
        high_closed = closing.value == "]"
        return f"dmn_truth(dmn_between({INPUT}, {low}, {high}, {low_closed}, {high_closed}))"

    def endpoint(self) -> str:
        return self.additive()

    def literal(self) -> Any:
        token = self.advance()
        if token.kind in ("string", "number"):
            return token.value
        if token.kind == "op" and token.value == "-" and self.token.kind == "number":
            return -self.advance().value
        if token.kind == "name" and token.value in ("true", "false"):
            return token.value == "true"
        self.index -= 1
        raise self.error("expected a string, number or boolean")

    # expressions

    def expression(self) -> str:
        if self.peek_name("if"):
            self.advance()
            condition = self.expression()
            self.expect_keyword("then")
            then = self.expression()
            self.expect_keyword("else")
            otherwise = self.expression()
            return f"({then} if dmn_truth({condition}) else {otherwise})"
        return self.disjunction()

    def expect_keyword(self, word: str) -> None:
        if not self.peek_name(word):
            raise self.error(f"expected {word!r}")
        self.advance()

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.peek_name("or"):
            self.advance()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else f"dmn_or({', '.join(parts)})"

    def conjunction(self) -> str:
        parts = [self.comparison()]
        while self.peek_name("and"):
            self.advance()
            parts.append(self.comparison())
        return parts[0] if len(parts) == 1 else f"dmn_and({', '.join(parts)})"

    def comparison(self) -> str:
        left = self.additive()
        token = self.token
        if token.kind == "op" and token.value in ("=", "!=", "<", "<=", ">", ">="):
            self.advance()
            right = self.additive()
            return f"dmn_compare({token.value!r}, {left}, {right})"
        return left

    def additive(self) -> str:
        left = self.multiplicative()
        while self.token.kind == "op" and self.token.value in ("+", "-"):
            operator = self.advance().value
            left = f"dmn_arith({operator!r}, {left}, {self.multiplicative()})"
        return left

    def multiplicative(self) -> str:
        left = self.power()
        while self.token.kind == "op" and self.token.value in ("*", "/"):
            operator = self.advance().value
            left = f"dmn_arith({operator!r}, {left}, {self.power()})"
        return left

    def power(self) -> str:
        left = self.unary()
        while self.accept("**"):
            left = f"dmn_arith('**', {left}, {self.unary()})"
        return left

    def unary(self) -> str:
        if self.accept("-"):
            operand = self.unary()
            return f"dmn_minus({operand})"
        return self.postfix()

    def postfix(self) -> str:
        value = self.primary()
        while self.accept("."):
            token = self.advance()
            if token.kind != "name":
                self.index -= 1
                raise self.error("expected a name after '.'")
            value = f"dmn_path({value}, {_python_string(token.value)})"
        return value

    def primary(self) -> str:
        token = self.token
        if token.kind == "number":
            self.advance()
            return repr(token.value)
        if token.kind == "string":
            self.advance()
            return _python_string(token.value)
        if token.kind == "op" and token.value == "(":
            self.advance()
            inner = self.expression()
            self.expect(")")
            return f"({inner})"
        if token.kind == "op" and token.value == "[":
            self.advance()
            items: list[str] = []
            if not self.peek_op("]"):
                items.append(self.expression())
                while self.accept(","):
                    items.append(self.expression())
            self.expect("]")
            return "[" + ", ".join(items) + "]"
        if token.kind == "op" and token.value == "?":
            self.advance()
            return INPUT
        if token.kind == "name":
            return self.name()
        raise self.error("expected a value")

    def name(self) -> str:
        function = self.function_name()
        if function is not None:
            return self.call(function)
        token = self.advance()
        word = token.value
        if word in ("true", "false"):
            return "True" if word == "true" else "False"
        if word == "null":
            return "None"
        if word in KEYWORDS:
            self.index -= 1
            raise self.error(f"unexpected {word!r}")
        if self.peek_op("("):
            self.index -= 1
            raise self.error(f"unknown function {word!r}")
        return f"dmn_var({VARIABLES}, {_python_string(word)})"

    def function_name(self) -> str | None:
        for words in _MULTI_WORD:
            if all(self.peek_name(word, k) for k, word in enumerate(words)) and self.peek_op(
                "(", len(words)
            ):
                self.index += len(words)
                return " ".join(words)
        token = self.token
        if token.value in functions.FUNCTIONS and self.peek_op("(", 1):
            self.advance()
            return str(token.value)
        return None

    def call(self, function: str) -> str:
        self.expect("(")
        arguments: list[str] = []
        literal_text: str | None = None
        if not self.peek_op(")"):
            if self.token.kind == "string" and self.peek_op(")", 1):
                literal_text = self.token.value
            arguments.append(self.expression())
            while self.accept(","):
                arguments.append(self.expression())
        self.expect(")")
        if function in ("date", "date and time") and literal_text is not None:
            # A constant date is checked now, so a typo fails the deploy, not the instance.
            try:
                functions.FUNCTIONS[function](literal_text)
            except functions.FeelError as err:
                raise FeelSyntaxError(str(err)) from None
        return f"{functions.helper_name(function)}({', '.join(arguments)})"
