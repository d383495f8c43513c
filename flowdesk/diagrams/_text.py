"""Text layout for diagram labels: Arial advance widths and line wrapping like bpmn-js.

An SVG file cannot ask the viewer's font how wide a text is, so labels are wrapped here with
the advance widths of Arial (metric-compatible with Helvetica and Liberation Sans, which a
viewer without Arial substitutes). East Asian characters are one em wide and a line may break
between any two of them, as between words. A text is laid out in lines of at most the box's
width less padding; a word wider than that is broken between characters, as bpmn-js does.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

FONT_FAMILY = (
    "Arial, Helvetica, 'Liberation Sans', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif"
)
LINE_HEIGHT_RATIO = 1.2

# Arial's advance widths of the printable ASCII characters, in thousandths of an em, from
# space (32) to tilde (126).
_ASCII_WIDTHS = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TextLayout:
    """Lines of a label and the size they take at `font_size`."""

    lines: tuple[str, ...]
    font_size: float
    width: float

    @property
    def line_height(self) -> float:
        return self.font_size * LINE_HEIGHT_RATIO

    @property
    def height(self) -> float:
        return self.line_height * len(self.lines)


def char_width(char: str, font_size: float) -> float:
    """The advance width of one character at `font_size` pixels."""
    code = ord(char)
    if 32 <= code <= 126:
        return _ASCII_WIDTHS[code - 32] * font_size / 1000
    if _is_wide(char):
        return font_size
    if unicodedata.combining(char):
        return 0.0
    return 0.556 * font_size


def text_width(text: str, font_size: float) -> float:
    return sum(char_width(char, font_size) for char in text)


def layout(text: str, *, max_width: float, font_size: float) -> TextLayout:
    """Wrap `text` into lines no wider than `max_width` (explicit line breaks kept)."""
    lines: list[str] = []
    for paragraph in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        lines.extend(_wrap(paragraph.strip(), max_width, font_size))
    while lines and not lines[-1]:
        lines.pop()
    width = max((text_width(line, font_size) for line in lines), default=0.0)
    return TextLayout(tuple(lines), font_size, width)


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _tokens(paragraph: str) -> list[str]:
    """Words, each East Asian character apart, each with the space that follows it."""
    tokens: list[str] = []
    current = ""
    for char in paragraph:
        if _is_wide(char):
            if current:
                tokens.append(current)
                current = ""
            tokens.append(char)
        elif char == " ":
            current += char
            tokens.append(current)
            current = ""
        else:
            if current.endswith(" "):
                tokens.append(current)
                current = ""
            current += char
    if current:
        tokens.append(current)
    return tokens


def _wrap(paragraph: str, max_width: float, font_size: float) -> list[str]:
    if not paragraph:
        return [""]
    lines: list[str] = []
    line = ""
    for token in _tokens(paragraph):
        if text_width((line + token).rstrip(), font_size) <= max_width:
            line += token
            continue
        if line.strip():
            lines.append(line.rstrip())
            line = ""
        # A token wider than the whole line is broken between characters.
        while text_width(token.rstrip(), font_size) > max_width and len(token.rstrip()) > 1:
            cut = 1
            while text_width(token[: cut + 1], font_size) <= max_width:
                cut += 1
            lines.append(token[:cut])
            token = token[cut:]
        line = token
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]
