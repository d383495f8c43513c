"""BPMN timers: which kind of text each holds (ISO 8601, Quartz cron, ${...}) and if it can run."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from lxml import etree

from flowdesk.engine.languages import timer_texts
from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase
from flowdesk.engine.validation.elements import _bpmn_name, _is_expression, _owner_id
from flowdesk.errors import ExpressionError

TimerKind = Literal["expression", "date", "duration", "cycle", "cron"]

_TIMER_KINDS: dict[str, tuple[TimerKind, ...]] = {
    "timeDate": ("date", "expression"),
    "timeDuration": ("duration", "expression"),
    "timeCycle": ("cycle", "cron", "expression"),
}
_TIMER_EXAMPLES = {
    "timeDate": "an ISO 8601 date-time like 2026-01-01T10:00:00Z",
    "timeDuration": "an ISO 8601 duration like PT1H or P2D",
    "timeCycle": "a repeating interval like R3/PT10M or a cron expression like 0 0/5 * * * ?",
}


def timer_kind(text: str) -> TimerKind:
    """Which kind of Camunda timer text this is.

    Args:
        text: A `timeDate`, `timeDuration` or `timeCycle` text; surrounding whitespace is ignored.

    Returns:
        `expression` for `${...}` or `#{...}`; `date` for an ISO 8601 date-time
        (`2026-01-01T10:00:00Z`); `duration` for an ISO 8601 duration (`PT1H`, `P1Y2M10DT2H30M`);
        `cycle` for an ISO 8601 repeating interval (`R3/PT10M`, `R/PT1H`,
        `R2/2026-01-01T00:00:00Z/P1D`); `cron` for a Quartz cron expression (`0 0/5 * * * ?`).

    Raises:
        ValueError: The text is none of these.
    """
    value = text.strip()
    if _is_expression(value):
        return "expression"
    if _is_duration(value):
        return "duration"
    if _is_date(value):
        return "date"
    if _is_cycle(value):
        return "cycle"
    if _is_cron(value):
        return "cron"
    raise ValueError(
        f"{value!r} is not an ISO 8601 date-time, duration or repeating interval, "
        "a cron expression or ${...}"
    )


class _TimerChecks(_BpmnCheckBase):
    """Timer definitions: a timeDate, timeDuration or timeCycle text that can run."""

    def check_timers(self, process: etree._Element) -> None:
        from flowdesk.engine.languages import expressions

        for definition in process.iter(f"{BPMN}timerEventDefinition"):
            owner_id = _owner_id(definition)
            specs = [c for c in definition.iterchildren() if _bpmn_name(c) in _TIMER_KINDS]
            if not specs:
                self.add(
                    definition,
                    owner_id,
                    f"timer of {owner_id!r} has no timeDate, timeDuration or timeCycle",
                )
            for spec in specs:
                name = etree.QName(spec).localname
                text = timer_texts.timer_literal(spec.text or "")
                what = f"{name} of {owner_id!r}"
                if not text:
                    self.add(spec, owner_id, f"{what} is empty; write {_TIMER_EXAMPLES[name]}")
                    continue
                try:
                    kind = timer_kind(text)
                except ValueError:
                    kind = None
                if kind == "expression":
                    try:
                        expressions.translate(text, element_id=owner_id)
                    except ExpressionError as err:
                        self.add(spec, owner_id, f"{what} cannot be translated: {err.reason}")
                elif kind == "cron" and name == "timeCycle":
                    problem = _cron_problem(text)
                    if problem:
                        self.add(spec, owner_id, f"{what} cannot run: {problem}")
                elif kind not in _TIMER_KINDS[name]:
                    self.add(
                        spec,
                        owner_id,
                        f"{what} is {text!r}; write {_TIMER_EXAMPLES[name]}",
                    )


_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_DURATION = re.compile(
    r"P(?:\d+W|(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:[.,]\d+)?S)?)?)"
)
_CYCLE = re.compile(r"R\d*/([^/]+)(?:/([^/]+))?")


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_duration(value: str) -> bool:
    return _DURATION.fullmatch(value) is not None


def _is_cycle(value: str) -> bool:
    match = _CYCLE.fullmatch(value)
    if not match:
        return False
    first, second = match.groups()
    if second is None:
        return _is_duration(first)
    return (_is_date(first) and _is_duration(second)) or (_is_duration(first) and _is_date(second))


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# Quartz fields in order: (lowest, highest, names for lowest..).
_CRON_FIELDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0, 59, ()),  # seconds
    (0, 59, ()),  # minutes
    (0, 23, ()),  # hours
    (1, 31, ()),  # day of month
    (1, 12, _MONTHS),  # month
    (1, 7, _DAYS),  # day of week, 1 = Sunday
    (1970, 2099, ()),  # year
)
_DAY_OF_MONTH, _DAY_OF_WEEK = 3, 5


def _cron_problem(value: str) -> str | None:
    """Why flowdesk cannot run a Quartz cron text that `_is_cron` accepts, if it cannot."""
    from flowdesk.engine.languages import timer_texts

    try:
        if timer_texts.cron_next(value, timer_texts.now()) is None:
            return "it never matches a time after now"
    except ValueError as err:
        return str(err)
    return None


def _is_cron(value: str) -> bool:
    """A Quartz cron expression as Camunda 7 reads it: 6 fields, or 7 with the year.

    As in Quartz, exactly one of day-of-month and day-of-week is `?` (`0 0 12 * * ?`, not
    `0 0 12 * * *`): Quartz cannot combine the two.
    """
    fields = value.upper().split()
    if len(fields) not in (6, 7):
        return False
    if (fields[_DAY_OF_MONTH] == "?") == (fields[_DAY_OF_WEEK] == "?"):
        return False
    return all(_is_cron_field(field, index) for index, field in enumerate(fields))


def _is_cron_field(field: str, index: int) -> bool:
    low, high, names = _CRON_FIELDS[index]
    if index in (_DAY_OF_MONTH, _DAY_OF_WEEK) and field in ("?", "L"):
        return True
    if index == _DAY_OF_MONTH:
        if field == "LW":
            return True
        match = re.fullmatch(r"L-(\d{1,2})|(\d{1,2})W", field)
        if match:
            return 0 < int(match[1] or match[2]) <= high
    if index == _DAY_OF_WEEK:
        match = re.fullmatch(r"(\w+?)(?:L|#[1-5])", field)
        if match:
            return _cron_value(match[1], low, high, names)
    for part in field.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        if not _cron_value(start, low, high, names) or (
            dash and not _cron_value(end, low, high, names)
        ):
            return False
    return True


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    return text in names or (text.isdigit() and low <= int(text) <= high)
