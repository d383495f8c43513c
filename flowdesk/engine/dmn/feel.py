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
the functions in `functions.FUNCTIONS` (`date`, `date and time`, `string`, `number`, ...),
contexts `{a: 1}`, list indexes and filters `xs[1]`, `xs[item > 1]`, `for`, `some`, `every`,
`in` and `between`. The constructs that open a scope of names translate their inner text to a
`lambda dmn_vars: ...` whose parameter shadows the outer variables; `feel_scopes` runs them.
"""

from __future__ import annotations

import functools
from typing import Any

from flowdesk.engine.dmn import feel_scopes, functions
from flowdesk.engine.dmn.feel_tokens import KEYWORDS as KEYWORDS
from flowdesk.engine.dmn.feel_tokens import MULTI_WORD, Token, tokenize
from flowdesk.engine.dmn.feel_tokens import FeelSyntaxError as FeelSyntaxError

VARIABLES = "dmn_vars"
"""The sandbox global holding the variables a translated text reads."""
INPUT = "dmn_input"
"""The sandbox global holding the value a unary test checks."""
HELPERS = {**functions.HELPERS, **feel_scopes.HELPERS}
"""Every name translated FEEL calls; evaluators pass them to the sandbox with the variables."""


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
        return f"{functions.helper_name('not')}({inner})"
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


# Translated sources that are conditions: comparisons, and, or, between, in, some/every, not.
_CONDITIONS = ("dmn_compare(", "dmn_and(", "dmn_or(", "dmn_between(", "dmn_quantify(",
               f"(lambda {INPUT}:", "dmn_fn_not(")  # fmt: skip

# --- tokens: see feel_tokens -------------------------------------------------------------


def _python_string(value: str) -> str:
    # A `${` inside a literal would make the sandbox read the source as JUEL; `$` and `#`
    # never start an escape in repr's output, so escaping them keeps the literal intact.
    return repr(value).replace("$", "\\x24").replace("#", "\\x23")


# --- parser -------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over FEEL's precedence, emitting Python source."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.in_endpoint = False

    # token helpers

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
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
        # Three-valued: a null test (an ordering against another type) is neither match nor
        # mismatch, so `not(...)` of it is null too, as in FEEL; only `true` matches a rule.
        return tests[0] if len(tests) == 1 else "dmn_or(" + ", ".join(tests) + ")"

    def positive_test(self) -> str:
        token = self.token
        if token.kind == "op" and token.value in ("<", "<=", ">", ">=", "=", "!="):
            self.advance()
            endpoint = self.endpoint()
            return f"dmn_compare({token.value!r}, {INPUT}, {endpoint})"
        if token.kind == "op" and token.value in ("[", "]", "("):
            interval = self.try_interval()
            if interval is not None:
                return interval
        start = self.index
        value = self.expression()
        if any(t.kind == "op" and t.value == "?" for t in self.tokens[start : self.index]):
            return value
        if value.startswith(_CONDITIONS):
            # A condition (`cellInput > 5`) is the test's verdict; when it is null (a null
            # input, an unknown variable) nothing matches, even a null input.
            return f"dmn_verdict({INPUT}, {value})"
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
        return f"dmn_between({INPUT}, {low}, {high}, {low_closed}, {high_closed})"

    def endpoint(self) -> str:
        # In `[50..80[` the `[` closes the range; it must not read as a filter of 80.
        outer, self.in_endpoint = self.in_endpoint, True
        try:
            return self.additive()
        finally:
            self.in_endpoint = outer

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
        if self.peek_name("for") and self.starts_iteration(1):
            self.advance()
            domains = self.domains()
            self.expect_keyword("return")
            body = self.expression()
            return f"dmn_for({domains}, lambda {VARIABLES}: {body}, {VARIABLES})"
        if (self.peek_name("some") or self.peek_name("every")) and self.starts_iteration(1):
            kind = self.advance().value
            domains = self.domains()
            self.expect_keyword("satisfies")
            test = self.expression()
            return f"dmn_quantify({kind!r}, {domains}, lambda {VARIABLES}: {test}, {VARIABLES})"
        if self.peek_name("if"):
            self.advance()
            condition = self.expression()
            self.expect_keyword("then")
            then = self.expression()
            self.expect_keyword("else")
            otherwise = self.expression()
            return f"({then} if dmn_truth({condition}) else {otherwise})"
        return self.disjunction()

    def starts_iteration(self, ahead: int) -> bool:
        """Whether `name in` follows: `for`, `some` and `every` are names otherwise."""
        token = self.tokens[min(self.index + ahead, len(self.tokens) - 1)]
        return token.kind == "name" and self.peek_name("in", ahead + 1)

    def domains(self) -> str:
        """`x in a, y in 1..3`: a Python list of (name, lambda giving the values)."""
        domains = []
        while True:
            token = self.advance()
            if token.kind != "name":
                self.index -= 1
                raise self.error("expected a name to iterate with")
            self.expect_keyword("in")
            values = self.additive()
            if self.accept(".."):
                values = f"dmn_range({values}, {self.additive()})"
            domains.append(f"({_python_string(token.value)}, lambda {VARIABLES}: {values})")
            if not self.accept(","):
                return "[" + ", ".join(domains) + "]"

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
        if self.peek_name("between"):
            self.advance()
            low = self.additive()
            self.expect_keyword("and")
            high = self.additive()
            return f"dmn_between({left}, {low}, {high}, True, True)"
        if self.peek_name("in"):
            self.advance()
            # `x in <positive unary tests>`: the tests see x as the value under test.
            return f"(lambda {INPUT}: {self.in_tests()})({left})"
        token = self.token
        if token.kind == "op" and token.value in ("=", "!=", "<", "<=", ">", ">="):
            self.advance()
            right = self.additive()
            return f"dmn_compare({token.value!r}, {left}, {right})"
        return left

    def in_tests(self) -> str:
        if not self.peek_op("("):
            return self.positive_test()
        interval = self.try_interval()
        if interval is not None:
            return interval
        self.expect("(")
        tests = self.positive_tests(closing=")")
        self.expect(")")
        return tests

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
        while True:
            if self.accept("."):
                token = self.advance()
                if token.kind != "name":
                    self.index -= 1
                    raise self.error("expected a name after '.'")
                value = f"dmn_path({value}, {_python_string(token.value)})"
            elif not self.in_endpoint and self.accept("["):
                # An index (`a[1]`, `a[-1]`) or a filter (`a[item > 1]`, `a[price > 10]`).
                inner = self.expression()
                self.expect("]")
                value = f"dmn_select({value}, lambda {VARIABLES}: {inner}, {VARIABLES})"
            else:
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
        if token.kind == "op" and token.value == "{":
            return self.context()
        if token.kind == "op" and token.value == "?":
            self.advance()
            return INPUT
        if token.kind == "name":
            return self.name()
        raise self.error("expected a value")

    def context(self) -> str:
        """`{a: 1, "b": a + 1}`: entries in order, each able to read those before it."""
        self.expect("{")
        entries: list[str] = []
        while not self.peek_op("}"):
            if entries:
                self.expect(",")
            if self.token.kind == "string":
                key = str(self.advance().value)
            else:
                words = []
                while self.token.kind == "name":
                    words.append(str(self.advance().value))
                if not words:
                    raise self.error("expected a context key")
                key = " ".join(words)
            self.expect(":")
            value = self.expression()
            entries.append(f"({_python_string(key)}, lambda {VARIABLES}: {value})")
        self.expect("}")
        return f"dmn_context([{', '.join(entries)}], {VARIABLES})"

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
        for words in MULTI_WORD:
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
