"""Cut the body of one JUEL `${...}` into tokens: numbers, strings, names and operators."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flowdesk.errors import ExpressionError

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
