"""Compensation at parse time: boundary events linked to handlers, throws, checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask

from flowdesk.engine.languages.bpmn_namespaces import BPMN_NS
from flowdesk.engine.spiff.compensation._running import (
    CancelEndEvent,
    CompensationEndEvent,
    CompensationScope,
    CompensationThrowEvent,
    _Compensable,
    _CompensableScope,
    _Handler,
    _mix,
)

_BPMN = "{" + BPMN_NS + "}"

# Activities: the elements a compensation throw can find in its scope.
_SUB_PROCESSES = frozenset({"subProcess", "transaction"})
_THROWS = frozenset({"intermediateThrowEvent", "endEvent"})


class CompensationProcessParser(ProcessParser):  # type: ignore[misc]  # Spiff is untyped
    """Spiff's process parser, which also links compensation boundary events to handlers.

    Used for processes and (through Spiff's `create_parser`) for embedded sub-processes alike.
    """

    def get_boundary_events(self, attached_to_ref: str) -> list[Any]:
        # Spiff 3.2 cannot build a compensation boundary event (NotImplementedError); it is no
        # event that waits anyway, only the link to the handler, read in `add_tasks`.
        return [e for e in super().get_boundary_events(attached_to_ref) if not _compensates(e)]

    def add_tasks(self) -> None:
        super().add_tasks()
        handler = _compensation_event_subprocess(self.node)
        if handler is not None:
            self._detach(handler)
        linked: set[str] = set()
        for boundary in self.node.iterchildren(f"{_BPMN}boundaryEvent"):
            if _compensates(boundary):
                self._link(boundary, linked)
        for child in self.node:
            if isinstance(child.tag, str) and _inner_compensation(child) is not None:
                self._add_scope(child, has_handler=child.get("id") in linked)
            if isinstance(child.tag, str) and etree.QName(child).localname in _THROWS:
                check_activity_ref(child, self.filename)

    def _detach(self, node: Any) -> None:
        """Make the scope's compensation event sub-process a handler only a throw starts.

        Spiff reads its start event as a none start event and connects it to the scope's start
        (it would run as soon as the sub-process starts) and its end.
        """
        node_id = node.get("id")
        spec = next(
            s for s in self.spec.task_specs.values() if getattr(s, "bpmn_id", None) == node_id
        )
        start, end = self.spec.start, self.spec.end
        start.outputs = [s for s in start.outputs if s is not spec]
        end.inputs = [s for s in end.inputs if s is not spec]
        spec.inputs, spec.outputs = [], []
        start.trigger_specs = [name for name in start.trigger_specs if name != spec.name]
        spec.interrupting = False  # it runs in the completed sub-process's copy, beside nothing
        _mix(spec, _Handler)

    def _add_scope(self, node: Any, *, has_handler: bool) -> None:
        """A completed sub-process with handlers inside: its records, and a spec to undo them."""
        sub_id = node.get("id")
        event_subprocess = _compensation_event_subprocess(node)
        if event_subprocess is not None and has_handler:
            raise self._invalid(
                _compensation_start(event_subprocess),
                "compensation boundary event and event subprocess with compensation start "
                f"event are not supported on the same scope ({sub_id!r})",
            )
        specs = [
            spec
            for spec in self.spec.task_specs.values()
            if getattr(spec, "bpmn_id", None) == sub_id and not isinstance(spec, MultiInstanceTask)
        ]
        if not specs:
            return  # not reachable: Spiff did not parse it
        scope = CompensationScope(self.spec, f"{sub_id} [compensation]", specs[0].spec)
        for spec in specs:
            spec.compensation_scope = scope.name
            spec.compensation_shadowed = has_handler
            spec.compensation_event_subprocess = (
                event_subprocess.get("id") if event_subprocess is not None else None
            )
            _mix(spec, _CompensableScope)

    def _link(self, boundary: Any, linked: set[str]) -> None:
        attached = boundary.get("attachedToRef")
        if attached in linked:
            raise self._invalid(
                boundary,
                f"activity {attached!r} has several compensation boundary events; Camunda 7 "
                "allows one per activity",
            )
        linked.add(attached)
        handler_node = self._handler_of(boundary)
        if handler_node is None:
            return  # Camunda: a compensation boundary event without a handler undoes nothing
        handler = self.parse_node(handler_node)
        specs = [
            spec
            for spec in self.spec.task_specs.values()
            if getattr(spec, "bpmn_id", None) == attached
            and not isinstance(spec, MultiInstanceTask)  # its instances leave the records
        ]
        for spec in specs:
            spec.compensation_handler = handler.name
            _mix(spec, _Compensable)
        _mix(handler, _Handler)

    def _handler_of(self, boundary: Any) -> Any:
        boundary_id = boundary.get("id")
        targets = [
            association.get("targetRef")
            for association in boundary.getroottree().getroot().iter(f"{_BPMN}association")
            if association.get("sourceRef") == boundary_id
        ]
        if not targets:
            return None
        if len(targets) > 1:
            raise self._invalid(
                boundary, f"compensation boundary event {boundary_id!r} has several handlers"
            )
        handler = self.get_node_by_id(targets[0])
        if handler is None or handler.getparent() is not boundary.getparent():
            raise self._invalid(
                boundary,
                f"the compensation handler {targets[0]!r} of {boundary_id!r} must be an "
                "activity in the same process or sub-process",
            )
        if handler.get("isForCompensation") != "true":
            raise self._invalid(
                boundary,
                "compensation boundary catch must be connected to element with "
                f"isForCompensation=true ({targets[0]!r} is not)",
            )
        handler_id = handler.get("id")
        for flow in self.node.iterchildren(f"{_BPMN}sequenceFlow"):
            if handler_id in (flow.get("sourceRef"), flow.get("targetRef")):
                raise self._invalid(
                    handler,
                    f"compensation activity {handler_id!r} has a sequence flow; a compensation "
                    "activity should not have an incoming or outgoing sequence flow",
                )
        if super().get_boundary_events(handler_id):
            raise self._invalid(
                handler,
                f"compensation handler {handler_id!r} has boundary events, which flowdesk "
                "does not run on a compensation handler",
            )
        return handler

    def _invalid(self, node: Any, message: str) -> ValidationException:
        return ValidationException(message, node=node, file_name=self.filename)


def event_spec_class(parser: Any) -> type:
    """The spec class for an event with a `compensateEventDefinition` (or a cancel end event).

    Raises:
        ValidationException: for compensation events flowdesk does not run.
    """
    node = parser.node
    kind = etree.QName(node).localname
    if _child(node, "cancelEventDefinition") is not None and kind == "endEvent":
        return CancelEndEvent
    if kind == "intermediateThrowEvent":
        return CompensationThrowEvent
    if kind == "endEvent":
        return CompensationEndEvent
    if kind == "startEvent":
        _check_compensation_start(node, parser.filename)
        start_class: type = parser.spec_class  # a plain start event: a compensation throw starts it
        return start_class
    reason = f"a {kind} cannot catch a compensation event (BPMN allows throw events only)"
    raise ValidationException(reason, node=node, file_name=parser.filename)


def configure_throw(task_spec: Any, node: Any) -> None:
    """Give a compensation throw spec its `activityRef` (None: the whole scope)."""
    definition = _child(node, "compensateEventDefinition")
    task_spec.activity_ref = definition.get("activityRef") if definition is not None else None


def check_activity_ref(event: Any, filename: str | None) -> None:
    """Refuse a compensation throw whose `activityRef` names no activity of its scope.

    Raises:
        ValidationException: naming the compensation throw.
    """
    definition = _child(event, "compensateEventDefinition")
    activity_ref = definition.get("activityRef") if definition is not None else None
    if activity_ref is None:
        return
    scopes = list(_throw_scopes(event))
    if not any(_direct_child(scope, activity_ref) is not None for scope in scopes):
        raise ValidationException(
            f"Invalid attribute value for 'activityRef': no activity with id "
            f"{activity_ref!r} in scope {scopes[-1].get('id')!r}",
            node=event,
            file_name=filename,
        )


# -- helpers --------------------------------------------------------------------------------------


def _compensates(node: Any) -> bool:
    return _child(node, "compensateEventDefinition") is not None


def _child(node: Any, local_name: str) -> Any:
    return node.find(f"{_BPMN}{local_name}")


def _direct_child(scope: Any, element_id: str) -> Any:
    return next((c for c in scope if isinstance(c.tag, str) and c.get("id") == element_id), None)


def _throw_scopes(event: Any) -> Iterator[Any]:
    """The scope elements a throw's records come from (see `_scopes`)."""
    scope = event.getparent()
    while True:
        yield scope
        if etree.QName(scope).localname != "subProcess" or scope.get("triggeredByEvent") != "true":
            return
        scope = scope.getparent()


def _inner_compensation(activity: Any) -> Any:
    """A compensation boundary event (or compensation event sub-process) inside a (non-event)
    sub-process, if it has one."""
    if etree.QName(activity).localname not in _SUB_PROCESSES:
        return None
    if activity.get("triggeredByEvent") == "true":
        return None
    event_subprocess = _compensation_event_subprocess(activity)
    if event_subprocess is not None:
        return event_subprocess
    for boundary in activity.iter(f"{_BPMN}boundaryEvent"):
        if _compensates(boundary):
            return boundary
    return None


def _compensation_start(event_subprocess: Any) -> Any:
    """The start event of an event sub-process, if it is a compensation start event."""
    start = _child(event_subprocess, "startEvent")
    return start if start is not None and _compensates(start) else None


def _compensation_event_subprocess(scope: Any) -> Any:
    """The event sub-process of a scope that starts with a compensation start event, if any."""
    for child in scope.iterchildren(f"{_BPMN}subProcess"):
        if child.get("triggeredByEvent") == "true" and _compensation_start(child) is not None:
            return child
    return None


def _check_compensation_start(start: Any, filename: str | None) -> None:
    """Refuse a compensation start event where Camunda 7 refuses it.

    Raises:
        ValidationException: naming the start event.
    """
    event_subprocess = start.getparent()
    scope = event_subprocess.getparent() if event_subprocess is not None else None
    reason = None
    if (
        event_subprocess is None
        or etree.QName(event_subprocess).localname != "subProcess"
        or event_subprocess.get("triggeredByEvent") != "true"
    ):
        reason = (
            f"compensation start event {start.get('id')!r} is only allowed in an event sub-process"
        )
    elif scope is None or etree.QName(scope).localname not in _SUB_PROCESSES:
        reason = (
            "event subprocess with compensation start event is only supported for embedded "
            "subprocess (since throwing compensation through a call activity-induced process "
            f"hierarchy is not supported): {start.get('id')!r}"
        )
    elif _compensation_event_subprocess(scope).get("id") != event_subprocess.get("id"):
        reason = (
            "multiple event subprocesses with compensation start event are not supported on "
            f"the same scope ({scope.get('id')!r})"
        )
    if reason is not None:
        raise ValidationException(reason, node=start, file_name=filename)
