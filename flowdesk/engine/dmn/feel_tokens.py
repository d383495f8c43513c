"""The tokens of FEEL texts, for the translator in `feel.py`: numbers, strings, names, symbols."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flowdesk.engine.dmn import functions


class FeelSyntaxError(ValueError):
    """A FEEL text outside the supported subset; the message says what and where."""


_SYMBOLS = ("..", "**", "==", "<=", ">=", "!=", "<", ">", "=", "+", "-", "*", "/", "(", ")",
            "[", "]", "{", "}", ":", ",", ".", "?")  # fmt: skip
KEYWORDS = frozenset({"true", "false", "null", "and", "or", "if", "then", "else"})
"""Words FEEL reserves; they cannot name a variable."""
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
MULTI_WORD = sorted(
    (tuple(name.split()) for name in functions.FUNCTIONS if " " in name), key=len, reverse=True
)
"""Function names of several words, longest first: these words and `(` are one function."""


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its value (a number, the text of a string, a name or a symbol) and
    its position in the text, for messages."""

    kind: str  # "number", "string", "name", "op" or "end"
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    """The tokens of a FEEL text, ending with an "end" token.

    Raises:
        FeelSyntaxError: A character FEEL does not use here, `==`, or an unclosed string.
    """
    tokens: list[Token] = []
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
                Token("number", float(literal) if "." in literal else int(literal), start)
            )
        elif ch in "\"'":
            value, i = _scan_string(text, i)
            tokens.append(Token("string", value, i))
        elif ch.isalpha() or ch == "_":
            start = i
            while i < len(text) and (text[i].isalnum() or text[i] == "_"):
                i += 1
            tokens.append(Token("name", text[start:i], start))
        else:
            symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
            if symbol is None:
                raise FeelSyntaxError(f"unexpected {ch!r} at position {i}")
            if symbol == "==":
                raise FeelSyntaxError(f"'==' at position {i} is not FEEL; write '=' or the value")
            tokens.append(Token("op", symbol, i))
            i += len(symbol)
    tokens.append(Token("end", None, len(text)))
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
