"""Camunda's `dateTime()` and `now()` in expressions read the engine's clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flowdesk.engine.languages import sandbox, timer_texts

NOW = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock():
    with timer_texts.using_clock(lambda: NOW):
        yield


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${dateTime().plusWeeks(1).toDate()}", datetime(2026, 2, 7, 9, 30, tzinfo=UTC)),
        (
            "${dateTime().plusDays(2).plusHours(3).toDate()}",
            datetime(2026, 2, 2, 12, 30, tzinfo=UTC),
        ),
        ("${dateTime().plusMonths(1).toDate()}", datetime(2026, 2, 28, 9, 30, tzinfo=UTC)),
        ("${dateTime().minusYears(2).toDate()}", datetime(2024, 1, 31, 9, 30, tzinfo=UTC)),
        ("${now()}", NOW),
    ],
)
def test_date_functions__follow_joda_time_arithmetic(expression, expected):
    assert sandbox.evaluate_value(expression, {}) == expected


def test_date_functions__compare_and_print():
    assert sandbox.evaluate_value(
        "${dateTime().isBefore(deadline)}", {"deadline": NOW.replace(year=2027)}
    )
    assert sandbox.evaluate_value("${dateTime().toString()}", {}) == "2026-01-31T09:30:00+00:00"


def test_date_functions__a_variable_of_the_same_name_wins():
    assert sandbox.evaluate_value("${now}", {"now": "the variable"}) == "the variable"
