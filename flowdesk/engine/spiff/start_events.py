"""Where `Engine.start` begins a process, and the `camunda:initiator` variable it sets.

Camunda 7 picks one "initial" start event per process when it parses it
(`BpmnParse.selectInitial`): the none start event, or the timer start event (a process may
have only one of these two kinds); if it has neither, its only start event, whatever that
catches. `startProcessInstanceByKey` runs straight through the initial event, without waiting
for what it catches, and fails when there is no initial event (several start events, none of
them none or timer). Left to SpiffWorkflow 3.2, an instance instead waited at a message or
signal start event until something was correlated to it, and evaluated the condition of a
conditional start event when it started: a `ProcessStartCondition` never evaluates it, since
only Camunda's `evaluateStartConditions` does, which flowdesk does not have.

`camunda:initiator` on a top-level start event names the variable that holds the user who
starts the instance; Camunda sets it when any instance of the process starts (to `null` when
no user is known: a message, signal, timer or call starts it), before the start variables, so
a start variable of the same name wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree
from SpiffWorkflow.bpmn.specs.defaults import StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from flowdesk.engine.spiff import internals
from flowdesk.errors import StartEventError

StartKind = Literal["none", "timer", "message", "signal", "conditional", "other"]


@dataclass(frozen=True, slots=True)
class InitialStart:
    """The start event `Engine.start` begins at: its id, kind and, for a catch, what it catches."""

    element_id: str
    kind: StartKind
    name: str | None  # the message or signal name


class ProcessStartCondition(ConditionalEventDefinition):  # type: ignore[misc]  # Spiff is untyped
    """The condition of a process's conditional start event, which no instance start evaluates.

    The start event fires only when `Engine.start` begins at it (see `initial_start`).
    """

    def has_fired(self, my_task: Any) -> bool:
        return internals.event_fired(my_task)


def is_process_start(node: Any) -> bool:
    """Whether an XML element is a start event of a process itself (not of a sub-process)."""
    parent = node.getparent()
    return (
        etree.QName(node).localname == "startEvent"
        and parent is not None
        and etree.QName(parent).localname == "process"
    )


def initial_start(spec: Any, process_key: str) -> InitialStart:
    """The start event Camunda 7 would begin a process at (see the module docstring).

    Args:
        spec: The process's parsed SpiffWorkflow spec.
        process_key: The process id, for the error.

    Returns:
        The initial start event.

    Raises:
        StartEventError: The process has several start events and none of them is a none or
            timer start event.
    """
    starts = [_describe(task_spec) for task_spec in _start_events(spec)]
    exclusive = [start for start in starts if start.kind in ("none", "timer")]
    if exclusive:
        return exclusive[0]
    if len(starts) == 1:
        return starts[0]
    ids = ", ".join(repr(start.element_id) for start in starts)
    raise StartEventError(
        process_key,
        f"it has no none start event and several start events ({ids}); Camunda 7 has no "
        "initial one to begin at either: correlate a message or send a signal that one of "
        "them catches",
    )


def with_initiator(spec: Any, variables: Mapping[str, Any], user: str | None) -> dict[str, Any]:
    """The start variables with the `camunda:initiator` variable set to `user` (or None).

    Args:
        spec: The process's parsed SpiffWorkflow spec.
        variables: The start variables; one named like the initiator variable wins.
        user: Who starts the instance; None when nobody is known.

    Returns:
        A new dict of variables.
    """
    result = dict(variables)
    name = None
    # Camunda reads the attribute of each top-level start event in turn; the last one wins.
    for task_spec in _start_events(spec):
        camunda = (getattr(task_spec, "extensions", None) or {}).get("camunda", {})
        name = camunda.get("initiator") or name
    if name:
        result.setdefault(name, user)
    return result


def _start_events(spec: Any) -> list[Any]:
    return [t for t in spec.task_specs.values() if isinstance(t, StartEvent)]


def _describe(task_spec: Any) -> InitialStart:
    definition = getattr(task_spec, "event_definition", None)
    kind: StartKind
    if definition is None or isinstance(definition, NoneEventDefinition):
        kind = "none"
    elif isinstance(definition, TimerEventDefinition):
        kind = "timer"
    elif isinstance(definition, MessageEventDefinition):
        kind = "message"
    elif isinstance(definition, SignalEventDefinition):
        kind = "signal"
    elif isinstance(definition, ConditionalEventDefinition):
        kind = "conditional"
    else:
        kind = "other"
    return InitialStart(
        element_id=str(task_spec.bpmn_id), kind=kind, name=getattr(definition, "name", None)
    )
