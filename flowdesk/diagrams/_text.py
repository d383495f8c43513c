"""Text layout for diagram labels: Arial advance widths and line wrapping like bpmn-js.

An SVG file cannot ask the viewer's font how wide a text is, so labels are wrapped here with
the advance widths and kerning of Arial (metric-compatible with Helvetica and Liberation Sans,
which a viewer without Arial substitutes), and East Asian characters one em wide. Lines are broken
with bpmn-js's (diagram-js's) rule, so that a name wraps where Camunda Modeler wraps it.
"""

from __future__ import annotations

import functools
import math
import re
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
# Arial's kerning pairs (thousandths of an em), as browsers apply them: "Ta" is narrower than
# "T" and "a" apart. Measured in Chromium with Liberation Sans, which has Arial's metrics.
_KERNING_PAIRS = (
    "AT-74 AV-74 AW-37 AY-74 Av-18 Aw-18 Ay-18 F,-111 F.-111 FA-55 LT-74 LV-74 LW-74 LY-74 "
    "Ly-37 P,-129 P.-129 PA-74 RT-18 RV-18 RW-18 RY-18 T,-111 T--55 T.-111 T:-111 T;-111 "
    "TA-74 TO-18 Ta-111 Tc-111 Te-111 Ti-37 To-111 Tr-37 Ts-111 Tu-37 Tw-55 Ty-55 V,-92 "
    "V--55 V.-92 V:-37 V;-37 VA-74 Va-74 Ve-55 Vi-18 Vo-55 Vr-37 Vu-37 Vy-37 W,-55 W--18 "
    "W.-55 W:-18 W;-18 WA-37 Wa-37 We-18 Wo-18 Wr-18 Wu-18 Wy-9 Y,-129 Y--92 Y.-129 Y:-55 "
    "Y;-65 YA-74 Ya-74 Ye-92 Yi-37 Yo-92 Yp-74 Yq-92 Yu-55 Yv-55 ff-18 r,-55 r.-55 v,-74 "
    "v.-74 w,-55 w.-55 y,-74 y.-74"
)
_KERNING = {pair[:2]: int(pair[2:]) for pair in _KERNING_PAIRS.split()}


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


@functools.lru_cache(maxsize=8192)  # wrapping measures the same prefixes again and again
def text_width(text: str, font_size: float) -> float:
    """The width of a line as a browser measures it: runs of spaces count once, and spaces at
    either end not at all (SVG text collapses them)."""
    collapsed = re.sub(" +", " ", text.strip())
    kerning = sum(_KERNING.get(collapsed[i : i + 2], 0) for i in range(len(collapsed) - 1))
    return sum(char_width(char, font_size) for char in collapsed) + kerning * font_size / 1000


def layout(text: str, *, max_width: float, font_size: float) -> TextLayout:
    """Wrap `text` into lines no wider than `max_width`, as bpmn-js (diagram-js) does.

    Each line starts as the rest of the text and is shortened until it fits: to the words
    (split at spaces, hyphens and soft hyphens) that fit in a character count proportional to
    how far the line is too wide, or, when the first word alone is too long, cut between
    characters. Explicit line breaks are kept.
    """
    pending = re.split("\u00ad?\r?\n", text)
    lines: list[str] = []
    while pending:
        original = pending.pop(0)
        line = original
        while True:
            width = text_width(line, font_size)
            if line.strip() == "" or width <= max_width or len(line) < 2:
                break
            line = _shorten(line, width, max_width)
        if len(line) < len(original):
            pending.insert(0, original[len(line) :].strip())
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    width = max((text_width(line, font_size) for line in lines), default=0.0)
    return TextLayout(tuple(lines), font_size, width)


def _shorten(line: str, width: float, max_width: float) -> str:
    length = max(len(line) * (max_width / width), 1.0)
    shortened = _shorten_at_breaks(line, length)
    if not shortened:
        # No break fits: cut the long word (Math.round: half up).
        shortened = line[: max(math.floor(length - 1 + 0.5), 1)]
    return shortened


def _shorten_at_breaks(line: str, max_length: float) -> str:
    parts = re.split("(\\s|-|\u00ad)", line)
    kept: list[str] = []
    length = 0
    if len(parts) > 1:
        for part in parts:
            if not part:
                break  # as the JavaScript loop, which stops at an empty part
            if len(part) + length < max_length:
                kept.append(part)
                length += len(part)
                continue
            if part in ("-", "\u00ad") and kept:
                kept.pop()  # a hyphen that does not fit takes the word before it along
            break
    if kept and kept[-1] == "\u00ad":
        kept[-1] = "-"
    return "".join(kept)


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")
