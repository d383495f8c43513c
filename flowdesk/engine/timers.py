"""The engine's clock, as SpiffWorkflow's timers see it, and Camunda timer texts.

SpiffWorkflow 3.2 reads the wall clock itself (`datetime.now(timezone.utc)` in
`bpmn/specs/event_definitions/timer.py`) and has no hook for another clock. flowdesk swaps that
module's `datetime` name for a subclass whose `now()` reads a context variable, which each
engine call sets to its own clock. A context variable (rather than a process-wide setting) lets
two engines with different clocks, or two threads, run side by side.

Camunda writes timer texts as ISO 8601 literals (`PT1H`, `2026-01-01T10:00:00Z`, `R3/PT10M`) or
`${expr}`; SpiffWorkflow evaluates every timer text as a Python expression. `python_timer_text`
rewrites a Camunda text into the Python that gives the same value.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

from flowdesk.engine import expressions

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The default clock: now, in UTC."""
    return datetime.now(UTC)


_current_clock: contextvars.ContextVar[Clock] = contextvars.ContextVar(
    "flowdesk_clock", default=system_clock
)


class _ClockedDatetime(datetime):
    """`datetime` whose `now()` is the flowdesk clock of the running call."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Any:
        value = _current_clock.get()()
        if value.tzinfo is None:
            raise ValueError("the flowdesk clock must return timezone-aware datetimes")
        return value.astimezone(tz) if tz is not None else value.replace(tzinfo=None)


_spiff_timer.datetime = _ClockedDatetime  # the hook the module docstring explains


def now() -> datetime:
    """The current time on the clock of the running call (aware, UTC)."""
    return _current_clock.get()().astimezone(UTC)


@contextlib.contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    """Run the block with `clock` as the time source of timers and of `now()`."""
    token = _current_clock.set(clock)
    try:
        yield
    finally:
        _current_clock.reset(token)


def python_timer_text(text: str, *, element_id: str | None = None) -> str:
    """The Python expression SpiffWorkflow should evaluate for a Camunda timer text.

    `${expr}` becomes the translated expression; an ISO 8601 literal becomes a string literal.

    Raises:
        ExpressionError: The `${...}` expression cannot be translated.
    """
    stripped = text.strip()
    if expressions.is_juel(stripped):
        return expressions.translate(stripped, element_id=element_id)
    return repr(stripped)


def parse_due(value: str) -> datetime:
    """An ISO 8601 due time as SpiffWorkflow stores it, aware and in UTC."""
    return _spiff_timer.TimerEventDefinition.get_datetime(value).astimezone(UTC)  # type: ignore[no-any-return]


def after_duration(start: datetime, duration: str) -> datetime:
    """`start` plus an ISO 8601 duration such as `P2D` or `PT4H`."""
    parsed = _spiff_timer.TimerEventDefinition.parse_iso_duration(duration)
    delta = _spiff_timer.TimerEventDefinition.get_timedelta_from_start(parsed, start)
    return start + delta  # type: ignore[no-any-return]
