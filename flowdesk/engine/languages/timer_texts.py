"""The engine's clock, as SpiffWorkflow's timers see it, and Camunda timer texts.

SpiffWorkflow 3.2 reads the wall clock itself (`datetime.now(timezone.utc)` in
`bpmn/specs/event_definitions/timer.py`) and has no hook for another clock. flowdesk swaps that
module's `datetime` name for a subclass whose `now()` reads a context variable, which each
engine call sets to its own clock (`flowdesk.engine.spiff.internals` makes the swap and gives
it `call_clock`). A context variable (rather than a process-wide setting) lets two engines
with different clocks, or two threads, run side by side.

Camunda writes timer texts as ISO 8601 literals (`PT1H`, `2026-01-01T10:00:00Z`, `R3/PT10M`),
Quartz cron expressions (`0 0/5 * * * ?`) or `${expr}`; SpiffWorkflow evaluates every timer text
as a Python expression. `python_timer_text` rewrites a Camunda text into the Python that gives the
same value, and the schedule functions here (`first_cycle`, `next_cycle`, `cron_next`) compute
due times the way Camunda 7 does, for the timer event definitions in `timer_events`.

Every date-time without a zone is read as UTC (SpiffWorkflow would take the host's zone, which
makes the same model fire at different instants on different servers), and cron expressions are
evaluated in UTC too. Cron uses the `croniter` library rather than a hand-written matcher;
`croniter_form` rewrites Quartz's dialect (seconds first, `?`, days of the week counted from
Sunday = 1, an optional year) into croniter's.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict

import croniter as _croniter  # type: ignore[import-untyped]  # ships no type information
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from flowdesk.engine.languages import expressions

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The default clock: now, in UTC."""
    return datetime.now(UTC)


_current_clock: contextvars.ContextVar[Clock] = contextvars.ContextVar(
    "flowdesk_clock", default=system_clock
)


def call_clock() -> datetime:
    """What the clock of the running call says, as it says it (SpiffWorkflow's timers read it;
    see the module docstring)."""
    return _current_clock.get()()


def now() -> datetime:
    """The current time on the clock of the running call (aware, UTC)."""
    return _current_clock.get()().astimezone(UTC)


_fired_start_event: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "flowdesk_fired_start_event", default=None
)


@contextlib.contextmanager
def starting_by_timer(element_id: str) -> Iterator[None]:
    """Start instances in the block as if the timer start event `element_id` just fired."""
    token = _fired_start_event.set(element_id)
    try:
        yield
    finally:
        _fired_start_event.reset(token)


def fired_start_event() -> str | None:
    """The timer start event whose job is starting an instance right now, if any."""
    return _fired_start_event.get()


@contextlib.contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    """Run the block with `clock` as the time source of timers and of `now()`."""
    token = _current_clock.set(clock)
    try:
        yield
    finally:
        _current_clock.reset(token)


def timer_literal(text: str) -> str:
    """A timer text without surrounding whitespace or one pair of quotes.

    SpiffWorkflow's own models quote their timer texts (`"PT1H"`), since Spiff evaluates them
    as Python; the quoted literal means the same as the bare one Camunda writes.
    """
    value = text.strip()
    if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1].strip()
        if inner and value[0] not in inner and not expressions.is_juel(inner):
            return inner
    return value


def python_timer_text(text: str, *, element_id: str | None = None) -> str:
    """The Python expression SpiffWorkflow should evaluate for a Camunda timer text.

    `${expr}` becomes the translated expression; an ISO 8601 literal becomes a string literal.

    Raises:
        ExpressionError: The `${...}` expression cannot be translated.
    """
    stripped = timer_literal(text)
    if expressions.is_juel(stripped):
        return expressions.translate(stripped, element_id=element_id)
    return repr(stripped)


def parse_due(value: str) -> datetime:
    """An ISO 8601 date-time as an aware UTC datetime; without a zone it is UTC.

    Raises:
        ValueError: The text is not an ISO 8601 date-time.
    """
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def due_text(value: Any) -> str:
    """A `timeDate` value (ISO text, `datetime` or `date`) as the ISO text of its instant.

    Raises:
        ValueError: The value is not a date-time.
    """
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()
    if isinstance(value, str):
        return parse_due(value).isoformat()
    raise ValueError(f"a timer date must be an ISO 8601 date-time, not {type(value).__name__}")


def after_duration(start: datetime, duration: str) -> datetime:
    """`start` plus an ISO 8601 duration such as `P2D` or `PT4H`.

    Raises:
        ValueError: The text is not an ISO 8601 duration.
    """
    try:
        parsed = TimerEventDefinition.parse_iso_duration(duration.strip())
    except Exception as err:  # Spiff 3.2 raises a bare Exception("Invalid duration")
        raise ValueError(f"{duration!r} is not an ISO 8601 duration") from err
    delta = TimerEventDefinition.get_timedelta_from_start(parsed, start)
    return start + delta  # type: ignore[no-any-return]


# -- cycles -------------------------------------------------------------------------------------


class CycleState(TypedDict):
    """Where a `timeCycle` stands; kept in the waiting task's data, so it is JSON.

    `cycles` is the number of fires left (-1: no limit), `next` the ISO due time of the next
    one (None when there is none), and exactly one of `period` (an ISO 8601 duration) and
    `cron` (the Quartz text) says how the one after is found.
    """

    cycles: int
    next: str | None
    period: str | None
    cron: str | None


def cycle_state(value: Mapping[str, Any]) -> CycleState:
    """A `CycleState` back from JSON (a job's payload, a task's data)."""
    return CycleState(
        cycles=int(value["cycles"]),
        next=value.get("next"),
        period=value.get("period"),
        cron=value.get("cron"),
    )


def first_cycle(text: str, now: datetime) -> CycleState:
    """The schedule of a `timeCycle` that starts waiting at `now`.

    `R3/PT10M` first fires at now + 10 minutes, `R2/2026-01-01T10:00:00Z/PT1H` at its start,
    `R/PT1H/2026-01-01T10:00:00Z` one period before its end, and a cron expression at its
    first matching time after now.

    Raises:
        ValueError: The text is neither an ISO 8601 repeating interval nor a cron expression
            flowdesk can run.
    """
    value = text.strip()
    if not value.upper().startswith("R"):
        return CycleState(cycles=-1, next=_iso(cron_next(value, now)), period=None, cron=value)
    parts = value.split("/")
    count = parts[0][1:]
    if len(parts) not in (2, 3) or not (count == "" or count.isdigit()):
        raise ValueError(f"{value!r} is not an ISO 8601 repeating interval like R3/PT10M")
    cycles = int(count) if count else -1
    if len(parts) == 2:
        period, first = parts[1], after_duration(now, parts[1])
    elif parts[1].upper().startswith("P"):
        period = parts[1]
        end = parse_due(parts[2])
        first = end - (after_duration(end, period) - end)
    else:
        period, first = parts[2], parse_due(parts[1])
    after_duration(now, period)  # reject a malformed period now, not at the second fire
    return CycleState(
        cycles=cycles, next=first.isoformat() if cycles != 0 else None, period=period, cron=None
    )


def next_cycle(state: CycleState, now: datetime) -> CycleState:
    """The schedule after the timer fired at `now`.

    Each fire uses up one repetition. Times that passed while nothing fired the timer (a
    worker that was down) are skipped rather than fired one after another: the next due time
    is the first one on the timer's schedule after `now`.
    """
    cycles = state["cycles"] - 1 if state["cycles"] > 0 else state["cycles"]
    due = state["next"]
    if cycles == 0 or due is None:
        return CycleState(cycles=0, next=None, period=state["period"], cron=state["cron"])
    upcoming: datetime | None
    if state["cron"] is not None:
        upcoming = cron_next(state["cron"], max(now, parse_due(due)))
    else:
        assert state["period"] is not None
        upcoming = _next_on_grid(parse_due(due), state["period"], now)
    return CycleState(
        cycles=cycles, next=_iso(upcoming), period=state["period"], cron=state["cron"]
    )


def _next_on_grid(last: datetime, period: str, now: datetime) -> datetime:
    upcoming = after_duration(last, period)
    step = upcoming - last
    if step <= timedelta(0):
        raise ValueError(f"the period {period!r} of a timer cycle must be longer than zero")
    if upcoming <= now and "Y" not in period.upper() and "M" not in period.upper().split("T")[0]:
        # A period of fixed length: jump over the missed times at once.
        upcoming += step * ((now - upcoming) // step + 1)
    while upcoming <= now:  # months and years differ in length: step through them
        upcoming = after_duration(upcoming, period)
    return upcoming


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# -- cron ---------------------------------------------------------------------------------------

_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def cron_next(text: str, after: datetime) -> datetime | None:
    """The first time after `after` (UTC) that a Quartz cron expression matches; None if none.

    Raises:
        ValueError: The text is not a cron expression flowdesk can run.
    """
    form = croniter_form(text)
    try:
        found = _croniter.croniter(form, after.astimezone(UTC)).get_next(datetime)
    except _croniter.CroniterError as err:
        if "failed to find next date" in str(err):
            return None  # e.g. a year that has passed, or 31 February
        raise ValueError(f"{text!r} is not a cron expression flowdesk can run: {err}") from err
    return found.astimezone(UTC)  # type: ignore[no-any-return]


def croniter_form(text: str) -> str:
    """A Quartz cron expression (as Camunda 7 reads it) in croniter's dialect.

    Quartz: `sec min hour day-of-month month day-of-week [year]`, with `?` for "no specific
    value" and days of the week numbered 1 (SUN) to 7 (SAT). croniter wants
    `min hour day-of-month month day-of-week sec [year]` with days numbered 0 (SUN) to 6.

    Raises:
        ValueError: The text has not 6 or 7 fields, or uses a Quartz feature croniter lacks
            (`LW`, `L-3`, a day of the week with `L` and a step).
    """
    fields = text.strip().upper().split()
    if len(fields) not in (6, 7):
        raise ValueError(
            f"{text!r} is not a Quartz cron expression: it needs 6 or 7 fields "
            "(seconds minutes hours day-of-month month day-of-week [year])"
        )
    seconds, minutes, hours, day, month, weekday = fields[:6]
    year = fields[6] if len(fields) == 7 else "*"
    day = "*" if day == "?" else day
    if day == "LW" or day.startswith("L-"):
        raise ValueError(f"{text!r}: the day of month {day!r} is not supported")
    weekday = "*" if weekday == "?" else _croniter_weekday(weekday, text)
    form = [minutes, hours, day, month, weekday, seconds]
    if year != "*":
        form.append(year)
    result = " ".join(form)
    try:
        _croniter.croniter(result, datetime(2000, 1, 1, tzinfo=UTC))
    except _croniter.CroniterError as err:
        raise ValueError(f"{text!r} is not a cron expression flowdesk can run: {err}") from err
    return result


def _croniter_weekday(field: str, text: str) -> str:
    last = re.fullmatch(r"(\w+?)L", field)
    if field == "L":
        return "6"  # Quartz: "L" alone is the last day of the week, Saturday
    if last:
        return f"L{_weekday_number(last[1], text)}"
    nth = re.fullmatch(r"(\w+)#([1-5])", field)
    if nth:
        return f"{_weekday_number(nth[1], text)}#{nth[2]}"
    parts = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        if base != "*":
            start, dash, end = base.partition("-")
            base = _weekday_number(start, text) + (
                dash + _weekday_number(end, text) if dash else ""
            )
        parts.append(base + slash + step)
    return ",".join(parts)


def _weekday_number(value: str, text: str) -> str:
    if value in _DAY_NAMES:
        return str(_DAY_NAMES.index(value))
    if value.isdigit() and 1 <= int(value) <= 7:
        return str(int(value) - 1)
    raise ValueError(f"{text!r}: {value!r} is not a day of the week (1-7 or SUN-SAT)")
