"""Results as Markdown tables, printed as they come and pasteable into docs/performance.md."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Section:
    """One benchmark's results: a table, then notes (verdicts, plans, caveats)."""

    title: str
    header: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str:
        lines = [f"### {self.title}", ""]
        if self.rows:
            lines.append("| " + " | ".join(self.header) + " |")
            lines.append("|" + "|".join(" --- " for _ in self.header) + "|")
            lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in self.rows)
            lines.append("")
        for note in self.notes:
            lines.extend([note, ""])
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def ms(seconds: float) -> str:
    """Seconds as milliseconds, to three significant digits."""
    return f"{seconds * 1000:.3g} ms"


def ratio(numerator: float, denominator: float) -> str:
    """`a/b` as "4.2x"; "n/a" when b is zero."""
    return f"{numerator / denominator:.2f}x" if denominator else "n/a"


def median(samples: Sequence[float]) -> float:
    """The median; the machine is shared, and the median shrugs off a neighbour's burst."""
    return statistics.median(samples) if samples else float("nan")


def verdict(holds: bool, target: str, measured: str) -> str:
    """One target line: "holds" or "does NOT hold", with the target and what was measured."""
    return f"- {target}: **{'holds' if holds else 'does NOT hold'}** ({measured})"
