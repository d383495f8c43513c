"""What a workflow waits for: timers (with due times), messages, signals and triggers.

The engine turns these into job rows and subscriptions. Everything is read from the Spiff
workflow and returned as plain data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.languages import timer_texts
from flowdesk.engine.spiff import event_scopes, internals, triggers


class WaitKind(enum.StrEnum):
    """What a `Wait` waits for; the values are the `kind` of `flowdesk.Wait`."""

    TIMER = "timer"
    MESSAGE = "message"
    SIGNAL = "signal"
    TRIGGER = "trigger"  # a receive task without a message (`triggers`)


@dataclass(frozen=True, slots=True)
class Wait:
    """An event the instance waits for: a timer (with due time), a message, a signal, or a
    trigger (a receive task without a message; `name` is its element id)."""

    task_ref: str
    element_id: str
    kind: WaitKind
    name: str
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A message or signal the instance waits for; `task_ref` None for an event sub-process."""

    kind: WaitKind  # MESSAGE or SIGNAL (the store's `SubscriptionKind` has the same values)
    name: str
    element_id: str
    task_ref: str | None = None


def waits(wf: Any) -> list[Wait]:
    """Every timer (with its due time), message and signal the instance waits for.

    An event-based gateway waits in its own task: Spiff 3.2 moves the event definitions
    of the catch events after it onto the gateway (`EventBasedGateway.connect`), so they
    are listed under the catch events' ids, and of its timers only the earliest, which is
    the only one that can fire first.
    """
    found: list[Wait] = []
    for task in wf.event_manager.tasks.values():
        ref = str(task.id)
        timer: Wait | None = None
        for definition, element_id in _waiting_definitions(task):
            if isinstance(definition, TimerEventDefinition):
                due = _timer_due(task, definition)
                if due is not None and (timer is None or due < (timer.due_at or due)):
                    timer = Wait(ref, element_id, WaitKind.TIMER, definition.name, due)
            elif isinstance(definition, MessageEventDefinition):
                found.append(Wait(ref, element_id, WaitKind.MESSAGE, definition.name))
            elif isinstance(definition, SignalEventDefinition):
                found.append(Wait(ref, element_id, WaitKind.SIGNAL, definition.name))
            elif isinstance(definition, triggers.TriggerDefinition):
                found.append(Wait(ref, element_id, WaitKind.TRIGGER, element_id))
        if timer is not None:
            found.append(timer)
    return found


def subscriptions(wf: Any) -> list[Subscription]:
    """The messages and signals the instance waits for, event sub-process starts included."""
    if wf.is_completed():
        return []
    found = [
        Subscription(w.kind, w.name, w.element_id, w.task_ref)
        for w in waits(wf)
        if w.kind in _SUBSCRIBED
    ]
    # Event sub-processes of the process and of running sub-processes, unless an interrupting
    # one has taken their scope over.
    for start in event_scopes.listening_starts(wf):
        kind = _event_kind(start.event_definition)
        if kind is not None:
            found.append(Subscription(kind, start.event_definition.name, start.bpmn_id))
    return found


def signal_start_events(bundle: Any, name: str) -> list[str]:
    """The ids of a process's top-level start events that wait for this signal."""
    return [
        spec.bpmn_id
        for spec in bundle.spec.task_specs.values()
        if isinstance(spec, StartEvent)
        and isinstance(spec.event_definition, SignalEventDefinition)
        and spec.event_definition.name == name
    ]


def drop_spent_gateway_events(workflow: Any) -> None:
    """Forget the events finished event-based gateways saw.

    Spiff 3.2's `EventBasedGateway._run_hook` never resets its `seen_events`, which hold the
    event definitions themselves; flowdesk's (Camunda messages, timers) are unknown to the
    serializer, and nothing reads them once the gateway has run.
    """
    for task in workflow.get_tasks(state=TaskState.FINISHED_MASK, spec_class=EventBasedGateway):
        internals.forget_seen_events(task)


# The waits that have a subscription row.
_SUBSCRIBED = frozenset({WaitKind.MESSAGE, WaitKind.SIGNAL})


def _event_kind(definition: Any) -> WaitKind | None:
    if isinstance(definition, MessageEventDefinition):
        return WaitKind.MESSAGE
    if isinstance(definition, SignalEventDefinition):
        return WaitKind.SIGNAL
    return None


def _waiting_definitions(task: Any) -> list[tuple[Any, str]]:
    """(event definition, BPMN id of its event) for each event a waiting task waits for."""
    spec = task.task_spec
    definition = spec.event_definition
    own_id = spec.bpmn_id or spec.name
    if not isinstance(definition, MultipleEventDefinition):
        return [(definition, own_id)]
    if isinstance(spec, EventBasedGateway):
        # connect() appended each target's definition in the order of `outputs`.
        return [
            (d, target.bpmn_id or target.name)
            for d, target in zip(definition.event_definitions, spec.outputs, strict=False)
        ]
    return [(d, own_id) for d in definition.event_definitions]


def _timer_due(task: Any, definition: Any) -> datetime | None:
    """The due time a waiting timer keeps; None once a cycle has no time left."""
    value = definition.details(task).value
    if isinstance(value, str):
        try:
            return timer_texts.parse_due(value)
        except ValueError:
            return None
    return None
