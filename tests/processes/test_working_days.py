"""Deadlines in working days follow China's public holidays and make-up workdays (调休).

The dates are the State Council's notices for 2025 and 2026, as the `holidays` package
ships them: no network is involved. The last tests run the presales filing deadline (5
working days, seed 003 客户备案) through the real process on both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

import flowdesk
import flowdesk.processes
from flowdesk.processes import calendar, presales
from flowdesk.processes.calendar import ChinaHolidays, WorkingCalendar

from .test_presales import deploy

CST = calendar.CHINA_STANDARD_TIME


@pytest.fixture(autouse=True)
def default_calendar_after_test() -> Iterator[None]:
    yield
    calendar.use_calendar(None)


def test_spring_festival_2025_days_are_holidays_and_its_weekend_make_up_days_are_worked() -> None:
    china = ChinaHolidays()
    # 28 January (New Year's Eve) to 4 February 2025 off; Sunday 26 January and Saturday
    # 8 February worked instead.
    for day in range(28, 32):
        assert not china.is_working_day(date(2025, 1, day))
    for day in range(1, 5):
        assert not china.is_working_day(date(2025, 2, day))
    assert china.is_working_day(date(2025, 1, 26))  # a Sunday
    assert china.is_working_day(date(2025, 2, 8))  # a Saturday
    assert not china.is_working_day(date(2025, 2, 9))  # an ordinary Sunday
    assert china.holiday_name(date(2025, 1, 29)) is not None


def test_five_working_days_from_before_the_spring_festival_skip_the_holiday_week() -> None:
    # Friday 24 January 2025, 10:00 in Shanghai: Sunday 26th, Monday 27th (worked), then the
    # holiday to 4 February, then Wednesday 5th, Thursday 6th, Friday 7th.
    start = datetime(2025, 1, 24, 10, 0, tzinfo=CST)
    assert calendar.add_working_days(start, 5) == datetime(2025, 2, 7, 10, 0, tzinfo=CST)
    # Weekends only would have said Friday 31 January, in the middle of the holiday.


def test_national_day_golden_week_2025_is_skipped_and_its_make_up_saturday_and_sunday_count() -> (
    None
):
    china = ChinaHolidays()
    assert china.is_working_day(date(2025, 9, 28))  # Sunday, worked
    assert china.is_working_day(date(2025, 10, 11))  # Saturday, worked
    for day in range(1, 9):
        assert not china.is_working_day(date(2025, 10, day))
    # Friday 26 September: Sunday 28th, Monday 29th, Tuesday 30th, then 1-8 October off,
    # Thursday 9th, Friday 10th: the 5th working day.
    start = datetime(2025, 9, 26, 9, 0, tzinfo=CST)
    assert calendar.add_working_days(start, 5) == datetime(2025, 10, 10, 9, 0, tzinfo=CST)
    # From Thursday 9 October: Friday 10th, Saturday 11th (调休), Monday 13th.
    start = datetime(2025, 10, 9, 9, 0, tzinfo=CST)
    assert calendar.add_working_days(start, 3) == datetime(2025, 10, 13, 9, 0, tzinfo=CST)


def test_working_days_are_counted_on_the_company_days_in_china_not_in_utc() -> None:
    # 23:00 UTC on Friday 26 September 2025 is already Saturday 07:00 in Shanghai; one
    # working day later is the make-up Sunday 28th at 07:00 Shanghai, 23:00 UTC on the 27th.
    moment = datetime(2025, 9, 26, 23, 0, tzinfo=UTC)
    assert calendar.add_working_days(moment, 1) == datetime(2025, 9, 27, 23, 0, tzinfo=UTC)


def test_company_specific_days_override_the_public_calendar() -> None:
    # The company closes on Friday 5 June 2026 and works Saturday 6 June instead.
    company = WorkingCalendar(
        extra_holidays=[date(2026, 6, 5)], extra_working_days=[date(2026, 6, 6)]
    )
    assert not company.is_working_day(date(2026, 6, 5))
    assert company.is_working_day(date(2026, 6, 6))
    start = datetime(2026, 6, 4, 9, 0, tzinfo=CST)  # Thursday
    assert company.add_working_days(start, 1) == datetime(2026, 6, 6, 9, 0, tzinfo=CST)
    later = company.with_days(days_off=[date(2026, 6, 8)])
    assert later.add_working_days(start, 2) == datetime(2026, 6, 9, 9, 0, tzinfo=CST)
    assert company.add_working_days(start, 2) == datetime(2026, 6, 8, 9, 0, tzinfo=CST)


def test_any_holiday_source_can_replace_the_package() -> None:
    class EveryDayWorked:
        def is_working_day(self, day: date) -> bool:
            return True

    start = datetime(2025, 10, 1, 9, 0, tzinfo=CST)
    assert WorkingCalendar(EveryDayWorked()).add_working_days(start, 2) == datetime(
        2025, 10, 3, 9, 0, tzinfo=CST
    )


def test_negative_days_and_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        calendar.add_working_days(datetime(2025, 1, 2, tzinfo=UTC), -1)
    with pytest.raises(ValueError, match="naive"):
        calendar.add_working_days(datetime(2025, 1, 2), 1)


class GoldenWeekClock:
    """Friday 26 September 2025, 09:00 in Shanghai, just before the National Day holiday."""

    now = datetime(2025, 9, 26, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def golden_week_engine(db_url: str) -> Iterator[flowdesk.Engine]:
    registry = flowdesk.HandlerRegistry()
    flowdesk.processes.register(registry)
    with flowdesk.Engine(
        db_url, clock=GoldenWeekClock(), handlers=registry, load_entry_points=False
    ) as engine:
        deploy(engine, "demand_confirmation.bpmn")
        deploy(engine, "order_review.bpmn")
        deploy(engine, "presales.bpmn")
        yield engine


def test_customer_filing_deadline_of_5_working_days_skips_the_national_day_holiday(
    golden_week_engine: flowdesk.Engine,
) -> None:
    instance = presales.start(
        golden_week_engine,
        customer_name="华东精细化工有限公司",
        opportunity_title="Dosing line",
        account_owner="sam",
        business_key="OPP-GW",
    )
    # Reminder after 3 working days: Sunday 28th (调休), Monday 29th, Tuesday 30th.
    assert instance.variables["filing_reminder_due"] == "2025-09-30T01:00:00+00:00"
    # Deadline after 5: then 1-8 October off, Thursday 9th, Friday 10th.
    assert instance.variables["filing_due"] == "2025-10-10T01:00:00+00:00"
    (job,) = [
        j for j in golden_week_engine.jobs(instance_id=instance.id) if "overdue" in j.element_id
    ]
    assert job.due_at == datetime(2025, 10, 10, 1, 0, tzinfo=UTC)


def test_customer_filing_deadline_uses_the_calendar_the_company_configured(
    golden_week_engine: flowdesk.Engine,
) -> None:
    # The company also closes on Friday 10 October 2025: the deadline moves to the make-up
    # Saturday 11th.
    calendar.use_calendar(WorkingCalendar(extra_holidays=[date(2025, 10, 10)]))
    instance = presales.start(
        golden_week_engine,
        customer_name="华东精细化工有限公司",
        opportunity_title="Dosing line",
        account_owner="sam",
        business_key="OPP-GW2",
    )
    assert instance.variables["filing_due"] == "2025-10-11T01:00:00+00:00"
