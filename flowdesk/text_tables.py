"""Plain-text tables: the command line's output and the story `flowdesk demo` tells.

Shared by `flowdesk.cli` and `flowdesk.demo`, which is why it is neither: the demo story
imported it from `flowdesk.cli` while the CLI's `demo` command imports the story, an import
cycle between the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns under a header line; None prints as '-', times as UTC.

    Args:
        headers: Column titles.
        rows: One sequence of values per row, as long as `headers`.

    Returns:
        The table as text, without a trailing newline.
    """
    cells = [[format_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join(
        [line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)]
    )


def format_cell(value: object) -> str:
    """One table cell: '-' for None or '', UTC seconds for a time, lists comma-separated.

    Args:
        value: The value to print.

    Returns:
        The cell's text.
    """
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(v) for v in value)
    return str(value)
