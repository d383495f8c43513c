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

Translated JUEL has EL's meaning, not Python's: each operator becomes a call of its EL
function (`juel_eq`, `juel_add`, ... in `el_operators`), which applies EL's coercions
(`"1" == 1` is true, `-7 % 3` is -1, `7 / 2` is 3.5); property access and method calls go
through `el_members` (a missing map key is null; `s.length()` is Java's). Plain-Python texts
keep Python's meaning.

`execution` is `ExpressionExecution` (`execution_view`): the engine passes one for the running
task; elsewhere it is a read-only view of the expression's variables. Identifiers that are not
Python names (`_items`, `class`) are looked up by text with `juel_var`; names that look like
the sandbox's own (`__x`, `_x_`) are refused.
"""

from __future__ import annotations

import ast
import functools
import re

from flowdesk.engine.languages.expressions.el_operators import ELError, juel_empty, juel_str
from flowdesk.engine.languages.expressions.execution_view import ExpressionExecution
from flowdesk.engine.languages.expressions.parser import _Parser
from flowdesk.engine.languages.expressions.runtime_helpers import RUNTIME_HELPERS, SCOPE_NAME
from flowdesk.engine.languages.expressions.tokenizer import _tokenize
from flowdesk.engine.languages.expressions.translation_tables import _call
from flowdesk.errors import ExpressionError

__all__ = [
    "RUNTIME_HELPERS",
    "SCOPE_NAME",
    "ELError",
    "ExpressionExecution",
    "called_functions",
    "is_juel",
    "juel_empty",
    "juel_str",
    "translate",
    "translate_value",
]


def is_juel(text: str) -> bool:
    """Tell whether a text contains a JUEL expression.

    Args:
        text: Any expression or attribute text from a BPMN file.

    Returns:
        True when the text contains `${` or `#{` that is not escaped as `\\${` / `\\#{`.
    """
    return _JUEL_START.search(text) is not None


def called_functions(text: str) -> frozenset[str]:
    """The EL functions (`now()`, `S(x)`; not methods such as `a.b()`) a text calls.

    Args:
        text: Any expression or attribute text; plain text and plain Python call none.

    Raises:
        ExpressionError: The JUEL cannot be parsed.
    """
    return _called_functions_cached(text)


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


@functools.lru_cache(maxsize=1024)
def _called_functions_cached(text: str) -> frozenset[str]:
    if not is_juel(text):
        return frozenset()
    functions: set[str] = set()
    _split_template(text, None, functions)
    return frozenset(functions)


def _split_template(
    text: str, element_id: str | None, functions: set[str] | None = None
) -> list[str | ast.expr]:
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
            parser = _Parser(tokens, text, element_id)
            parts.append(parser.parse())
            if functions is not None:
                functions.update(parser.functions)
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
