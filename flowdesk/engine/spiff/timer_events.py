"""SpiffWorkflow timer event definitions that read Camunda's timer texts and follow its rules.

SpiffWorkflow 3.2's timers differ from Camunda 7 in ways a model notices:

- a `timeCycle` must be an ISO repeating interval (a Quartz cron text fails with "Invalid
  isoformat string"), and every cycle repeats: on an interrupting boundary event, an
  intermediate catch event or behind an event-based gateway its path runs once per cycle
  instead of once;
- a timer start event of the process makes the new instance *wait* for the timer, while in
  Camunda the timer only schedules the start and the instance begins past it;
- the timers behind one event-based gateway share one slot of the gateway task's data, so a
  second timer reuses the first one's due time, and two due timers both fire;
- a `timeDate` expression that gives a `datetime` (not text) fails, and a date-time without a
  zone is read in the host's zone.

These subclasses keep SpiffWorkflow's life cycle (`has_fired`, `update_task`, `details`) and
change only those rules; `flowdesk.engine.languages.timer_texts` computes the times.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import (
    BoundaryEvent,
    EventBasedGateway,
)
from SpiffWorkflow.bpmn.util import PendingBpmnEvent
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.languages import timer_texts
from flowdesk.engine.spiff import internals


class _CamundaTimer:
    """What the three kinds of timer share: where the due time is kept, and when it fires.

    Args:
        element_id: The BPMN id of the timer event.
        starts_process: The timer is a start event of the process itself (not of an event
            sub-process): a job starts instances, and an instance never waits for it.
        sole_start: The process has no other start event.
        repeats: A cycle fires again and again (a non-interrupting boundary event or event
            sub-process start); otherwise only its first time counts.
    """

    name: str
    expression: str

    def __init__(
        self,
        name: str,
        expression: str,
        *,
        element_id: str,
        starts_process: bool = False,
        sole_start: bool = True,
        repeats: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, expression, **kwargs)  # type: ignore[call-arg]  # Spiff's base
        self.element_id = element_id
        self.starts_process = starts_process
        self.sole_start = sole_start
        self.repeats = repeats

    # -- what subclasses define ---------------------------------------------------------------

    def _first_value(self, value: Any, now: datetime) -> Any:
        """What to keep in the task once the timer text evaluated to `value` at `now`."""
        raise NotImplementedError

    def _due_of(self, stored: Any) -> datetime | None:
        """The next due time that the kept value says."""
        raise NotImplementedError

    # -- the SpiffWorkflow life cycle ----------------------------------------------------------

    def has_fired(self, my_task: Any) -> bool:
        if self._starts_instance(my_task):
            internals.mark_event_fired(my_task)
            return True
        gateway = _behind_gateway(my_task)
        if not gateway and internals.event_fired(my_task):
            return True
        due = self.due(my_task)
        if due is None or not due < timer_texts.now():  # strictly after, as SpiffWorkflow does
            return False
        if gateway:
            # The timers behind a gateway share its task: the earliest one alone fires.
            return self._is_earliest(my_task, due)
        internals.mark_event_fired(my_task)
        return True

    def details(self, my_task: Any) -> Any:
        stored = my_task.internal_data.get(self._key(my_task))
        due = self._due_of(stored) if stored is not None else None
        return PendingBpmnEvent(self.name, type(self).__name__, due.isoformat() if due else None)

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and isinstance(other, _CamundaTimer)
            and self.element_id == other.element_id
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by element like Spiff's

    # -- helpers -----------------------------------------------------------------------------

    def due(self, my_task: Any) -> datetime | None:
        """When the timer fires next; the text is evaluated the first time it is asked."""
        key = self._key(my_task)
        stored = my_task.internal_data.get(key)
        if stored is None:
            value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            stored = self._first_value(value, timer_texts.now())
            my_task.internal_data[key] = stored
        return self._due_of(stored)

    def _key(self, my_task: Any) -> str:
        # Behind a gateway every timer is kept in the gateway's task: one slot each.
        value = internals.EVENT_VALUE
        return f"{value}:{self.element_id}" if _behind_gateway(my_task) else value

    def _starts_instance(self, my_task: Any) -> bool:
        if not self.starts_process:
            return False
        if self.sole_start:
            return True
        if timer_texts.fired_start_event() != self.element_id:
            return False
        # The job starts the instance here: the process's other start events (a none start
        # would fire at once) must not, or the first of them to run would win the join.
        for sibling in my_task.parent.children if my_task.parent is not None else ():
            if sibling is not my_task and not sibling.has_state(TaskState.FINISHED_MASK):
                sibling.cancel()
        return True

    def _is_earliest(self, my_task: Any, due: datetime) -> bool:
        siblings = my_task.task_spec.event_definition.event_definitions
        mine = next(i for i, d in enumerate(siblings) if d is self)
        for index, other in enumerate(siblings):
            if other is self or not isinstance(other, _CamundaTimer):
                continue
            other_due = other.due(my_task)
            if other_due is not None and (other_due < due or (other_due == due and index < mine)):
                return False
        return True


class TimeDateTimer(_CamundaTimer, TimeDateEventDefinition):  # type: ignore[misc]
    """`timeDate`: an ISO 8601 date-time, or an expression giving one (text or `datetime`)."""

    def _first_value(self, value: Any, now: datetime) -> Any:
        return timer_texts.due_text(value)

    def _due_of(self, stored: Any) -> datetime | None:
        return timer_texts.parse_due(stored)


class DurationTimer(_CamundaTimer, DurationTimerEventDefinition):  # type: ignore[misc]
    """`timeDuration`: an ISO 8601 duration from the moment the timer starts waiting."""

    def _first_value(self, value: Any, now: datetime) -> Any:
        if not isinstance(value, str):
            raise ValueError(
                f"a timer duration must be ISO 8601 text like PT1H, not {type(value).__name__}"
            )
        return timer_texts.after_duration(now, value).isoformat()

    def _due_of(self, stored: Any) -> datetime | None:
        return timer_texts.parse_due(stored)


class _CycleValue:
    """A `timeCycle`: an ISO 8601 repeating interval (`R3/PT10M`) or a Quartz cron expression."""

    def _first_value(self, value: Any, now: datetime) -> Any:
        if not isinstance(value, str):
            raise ValueError(
                f"a timer cycle must be text like R3/PT10M or a cron expression, "
                f"not {type(value).__name__}"
            )
        return dict(timer_texts.first_cycle(value, now))

    def _due_of(self, stored: Any) -> datetime | None:
        upcoming = stored.get("next") if stored.get("cycles", 0) != 0 else None
        return timer_texts.parse_due(upcoming) if upcoming else None


class CycleTimer(_CycleValue, _CamundaTimer, CycleTimerEventDefinition):  # type: ignore[misc]
    """A cycle that repeats: each time adds a path, as SpiffWorkflow's cycle does, and the
    task keeps waiting for the next time (a non-interrupting boundary event or event
    sub-process start)."""

    def has_fired(self, my_task: Any) -> bool:
        if self._starts_instance(my_task):
            return super().has_fired(my_task)
        # Only `cycle_complete` moves a repeating cycle on; the flag would end it.
        return internals.event_fired(my_task)

    def cycle_complete(self, my_task: Any) -> bool:
        """Whether the cycle is due now; if so, its next time is kept."""
        now = timer_texts.now()
        due = self.due(my_task)
        if due is None or not due < now:
            return False
        key = self._key(my_task)
        state = timer_texts.cycle_state(my_task.internal_data[key])
        my_task.internal_data[key] = dict(timer_texts.next_cycle(state, now))
        return True

    def update_task(self, my_task: Any) -> None:
        if not isinstance(my_task.task_spec, BoundaryEvent) or my_task.parent is None:
            super().update_task(my_task)  # an event sub-process start: Spiff's own way
            return
        if not self.cycle_complete(my_task):
            return
        # Spiff 3.2 hangs each time's path below the waiting boundary task, and the join
        # behind the activity cancels that task once the activity ends, dropping every path
        # still running (a BPMN non-interrupting path outlives its activity). A twin of the
        # boundary event under the same split, fired and completed, carries the path instead.
        twin = internals.add_child(my_task.parent, my_task.task_spec, TaskState.FUTURE)
        twin.triggered = True  # never pruned when the split's children are synced
        internals.mark_event_fired(twin)
        for output in my_task.task_spec.outputs:
            child = internals.add_child(twin, output, TaskState.FUTURE)
            internals.predict(child, TaskState.NOT_FINISHED_MASK)
        internals.update(twin)


class OnceCycleTimer(_CycleValue, _CamundaTimer, TimerEventDefinition):  # type: ignore[misc]
    """A cycle where only its first time counts (an interrupting boundary event, an
    intermediate event, behind a gateway, a process start). Not a Spiff cycle, so the task's
    path is laid out (predicted) like any other timer's."""


def make(
    kind: str, name: str, expression: str, *, repeats: bool, **kwargs: Any
) -> TimerEventDefinition:
    """The timer definition for a `timeDate`, `timeDuration` or `timeCycle` text.

    Args:
        kind: `timeDate`, `timeDuration` or `timeCycle`.
        name: The event's name (or id), as SpiffWorkflow names timers.
        expression: The Python text SpiffWorkflow evaluates (`timer_texts.python_timer_text`).
        repeats: Whether a cycle repeats where it sits (see `_CamundaTimer`).
        **kwargs: `element_id`, `starts_process`, `sole_start` and Spiff's `description`.
    """
    cls: type = {
        "timeDate": TimeDateTimer,
        "timeDuration": DurationTimer,
        "timeCycle": CycleTimer if repeats else OnceCycleTimer,
    }[kind]
    definition: TimerEventDefinition = cls(name, expression, repeats=repeats, **kwargs)
    return definition


def _behind_gateway(my_task: Any) -> bool:
    return isinstance(my_task.task_spec, EventBasedGateway)
