"""Working days, for the deadlines the processes state in working days (5 个工作日)."""

from __future__ import annotations

from datetime import datetime, timedelta


def add_working_days(moment: datetime, days: int) -> datetime:
    """`moment` moved `days` working days (Monday to Friday) later, at the same time of day.

    Public holidays are not known here; an application with a holiday calendar registers its
    own deadline handler instead.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    result = moment
    while days:
        result += timedelta(days=1)
        if result.weekday() < 5:
            days -= 1
    return result
