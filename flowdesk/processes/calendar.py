"""Working days, for the deadlines the processes state in working days (5 个工作日).

A working day in China is not simply Monday to Friday: the State Council's yearly notice
declares the public holidays (法定节假日: Spring Festival, National Day golden week, ...) and
moves weekend days to make up for the bridged ones (调休: e.g. Sunday 26 January and Saturday
8 February 2025 were working days). The default `HolidaySource` is `ChinaHolidays`, which
reads both from the maintained `holidays` package (its `CN` calendar keeps the notices,
published ones included in each monthly release); nothing is fetched over the network.

The source is pluggable: anything with `is_working_day(day)` is a `HolidaySource`, and a
`WorkingCalendar` adds the company's own days (a company outing, a plant shutdown, a Saturday
the company works) over any source. Days are counted in the company's time zone (China
Standard Time, UTC+8, by default), so a deadline set at 23:00 UTC on a Friday counts from the
Saturday it already is in Shanghai.

The shipped processes compute their deadlines with `default_calendar()`; an application that
keeps its own calendar calls `use_calendar` once at start-up (see docs/processes.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Protocol, runtime_checkable

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
"""UTC+8: China has kept no daylight saving time since 1991."""


@runtime_checkable
class HolidaySource(Protocol):
    """Where a calendar learns which days are worked: one question per day."""

    def is_working_day(self, day: date) -> bool:
        """Whether `day` is a working day (a weekday that is no holiday, or a make-up day)."""
        ...


class ChinaHolidays:
    """Mainland China's public holidays and make-up workdays, from the `holidays` package.

    The package's `CN` calendar lists the statutory holidays and the weekend days worked to
    make up for bridged days (its `weekend_workdays`), year by year from the State Council's
    notices. For a year whose notice is not yet in the installed release it gives the
    holidays its rules compute (New Year, Spring Festival by the lunar calendar, ...) and no
    make-up days: keep the package current, or add the days with `WorkingCalendar`.
    """

    def __init__(self) -> None:
        # Imported here: the package takes ~60 ms to import, and every engine loads the
        # shipped processes' handlers, most of them never computing a deadline.
        import holidays

        self._calendar = holidays.country_holidays("CN")

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday unless a public holiday; Saturday or Sunday only as 调休."""
        return bool(self._calendar.is_working_day(day))

    def holiday_name(self, day: date) -> str | None:
        """The holiday's English name on `day` (e.g. "National Day"), or None."""
        name = self._calendar.get(day)
        return None if name is None else str(name)


class WorkingCalendar:
    """Working days from a `HolidaySource`, with the company's own days over it.

    Args:
        source: The public calendar; `ChinaHolidays()` when None.
        extra_holidays: Days the company does not work although the source says it does.
        extra_working_days: Days the company works although the source says it does not;
            a day in both is a working day.
        tz: The time zone a moment's day is read in; China Standard Time when None.
    """

    def __init__(
        self,
        source: HolidaySource | None = None,
        *,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        tz: tzinfo | None = None,
    ) -> None:
        self.source: HolidaySource = source if source is not None else ChinaHolidays()
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_working_days = frozenset(extra_working_days)
        self.tz: tzinfo = tz or CHINA_STANDARD_TIME

    def is_working_day(self, day: date) -> bool:
        """Whether `day` is worked: the company's own days first, then the source."""
        if day in self.extra_working_days:
            return True
        if day in self.extra_holidays:
            return False
        return self.source.is_working_day(day)

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """`moment` moved `days` working days later, at the same local time of day.

        Each day after `moment`'s own (in the calendar's time zone) that is a working day
        counts one; the result is in `moment`'s time zone. `moment` must be aware.

        Raises:
            ValueError: `days` is negative, or `moment` is naive.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        if moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment.isoformat()}: working days need a zone")
        local = moment.astimezone(self.tz)
        while days:
            local += timedelta(days=1)
            if self.is_working_day(local.date()):
                days -= 1
        return local.astimezone(moment.tzinfo)

    def with_days(
        self,
        *,
        days_off: Iterable[date] = (),
        working_days: Iterable[date] = (),
    ) -> WorkingCalendar:
        """This calendar with more company days added (a new object; this one is unchanged)."""
        return WorkingCalendar(
            self.source,
            extra_holidays=self.extra_holidays | frozenset(days_off),
            extra_working_days=self.extra_working_days | frozenset(working_days),
            tz=self.tz,
        )


_current: list[WorkingCalendar] = []


def default_calendar() -> WorkingCalendar:
    """The calendar the shipped processes use: the one given to `use_calendar`, else a
    `WorkingCalendar` over `ChinaHolidays` (built once)."""
    if not _current:
        _current.append(WorkingCalendar())
    return _current[-1]


def use_calendar(calendar: WorkingCalendar | HolidaySource | None) -> None:
    """Make the shipped processes count working days with `calendar` from now on.

    A bare `HolidaySource` is wrapped in a `WorkingCalendar`; None goes back to the default.
    Call it at start-up, before engines compute deadlines: it is process-wide, as Camunda's
    business calendars are engine-wide.
    """
    if calendar is None:
        _current.clear()
        return
    chosen = calendar if isinstance(calendar, WorkingCalendar) else WorkingCalendar(calendar)
    _current.clear()
    _current.append(chosen)


def add_working_days(
    moment: datetime, days: int, calendar: WorkingCalendar | None = None
) -> datetime:
    """`moment` moved `days` working days later on `calendar` (`default_calendar()` when None).

    Public holidays and 调休 make-up workdays count as the calendar says; see
    `WorkingCalendar.add_working_days`.
    """
    return (calendar or default_calendar()).add_working_days(moment, days)
