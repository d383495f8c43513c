"""The functions Camunda 7 offers in every expression: `now()`, `dateTime()`, `S()`, `JSON()`.

`S()` and `JSON()` are Camunda Spin's, over JSON variables (see `expressions.spin`).

Camunda models set due dates and timers with Joda-Time, e.g.
`camunda:dueDate="${dateTime().plusWeeks(1).toDate()}"`. `dateTime()` here gives the engine
clock's current time wrapped in the part of Joda's `DateTime` such expressions use; `now()`
gives it as a `datetime` (Java's `Date`). Both read the clock of the running engine call, so
tests that move the clock move them too. Process variables of the same names take precedence.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta
from typing import Any

from flowdesk.engine.languages import timer_texts
from flowdesk.engine.languages.expressions.spin import json_node, spin


class JodaDateTime:
    """An immutable point in time with Joda-Time's arithmetic (`plusDays`, `minusHours`, ...).

    The method names are Joda's, since models call them by those names.
    """

    __slots__ = ("_value",)

    def __init__(self, value: datetime) -> None:
        self._value = value

    def plusYears(self, years: int) -> JodaDateTime:
        return self.plusMonths(12 * years)

    def plusMonths(self, months: int) -> JodaDateTime:
        # Joda keeps the day of the month, clamped to the month's last day (Jan 31 + 1 = Feb 28).
        index = self._value.month - 1 + int(months)
        year, month = self._value.year + index // 12, index % 12 + 1
        day = min(self._value.day, calendar.monthrange(year, month)[1])
        return JodaDateTime(self._value.replace(year=year, month=month, day=day))

    def plusWeeks(self, weeks: int) -> JodaDateTime:
        return self._plus(weeks=weeks)

    def plusDays(self, days: int) -> JodaDateTime:
        return self._plus(days=days)

    def plusHours(self, hours: int) -> JodaDateTime:
        return self._plus(hours=hours)

    def plusMinutes(self, minutes: int) -> JodaDateTime:
        return self._plus(minutes=minutes)

    def plusSeconds(self, seconds: int) -> JodaDateTime:
        return self._plus(seconds=seconds)

    def minusYears(self, years: int) -> JodaDateTime:
        return self.plusMonths(-12 * years)

    def minusMonths(self, months: int) -> JodaDateTime:
        return self.plusMonths(-months)

    def minusWeeks(self, weeks: int) -> JodaDateTime:
        return self._plus(weeks=-weeks)

    def minusDays(self, days: int) -> JodaDateTime:
        return self._plus(days=-days)

    def minusHours(self, hours: int) -> JodaDateTime:
        return self._plus(hours=-hours)

    def minusMinutes(self, minutes: int) -> JodaDateTime:
        return self._plus(minutes=-minutes)

    def isBefore(self, other: Any) -> bool:
        return self._value < _datetime(other)

    def isAfter(self, other: Any) -> bool:
        return self._value > _datetime(other)

    def toDate(self) -> datetime:
        return self._value

    def toString(self) -> str:
        return self._value.isoformat()

    def __str__(self) -> str:
        return self.toString()

    def __repr__(self) -> str:
        return f"dateTime({self.toString()})"

    def _plus(self, **delta: int) -> JodaDateTime:
        return JodaDateTime(self._value + timedelta(**{k: int(v) for k, v in delta.items()}))


def _datetime(value: Any) -> datetime:
    return value.toDate() if isinstance(value, JodaDateTime) else value


def date_time() -> JodaDateTime:
    """Camunda's `dateTime()`: now, on the engine's clock, as a Joda-style `DateTime`."""
    return JodaDateTime(timer_texts.now())


def now() -> datetime:
    """Camunda's `now()`: now, on the engine's clock."""
    return timer_texts.now()


FUNCTIONS = {"dateTime": date_time, "now": now, "S": spin, "JSON": json_node}
"""The names expressions see; the sandbox offers them beneath the process variables."""
