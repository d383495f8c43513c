"""Compensation at parse time: boundary events linked to handlers, throws, checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask

from flowdesk.engine.compensation._running import (
    CancelEndEvent,
    CompensationEndEvent,
    CompensationScope,
    CompensationThrowEvent,
    _Compensable,
    _CompensableScope,
    _Handler,
    _mix,
)

_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_BPMN = "{" + _BPMN_NS + "}"

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
        linked: set[str] = set()
        for boundary in self.node.iterchildren(f"{_BPMN}boundaryEvent"):
            if _compensates(boundary):
                self._link(boundary, linked)
        for child in self.node:
            if isinstance(child.tag, str) and _inner_compensation(child) is not None:
                self._add_scope(child, has_handler=child.get("id") in linked)
            if isinstance(child.tag, str) and etree.QName(child).localname in _THROWS:
                check_activity_ref(child, self.filename)

    def _add_scope(self, node: Any, *, has_handler: bool) -> None:
        """A completed sub-process with handlers inside: its records, and a spec to undo them."""
        sub_id = node.get("id")
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
        reason = (
            f"compensation start event {parser.bpmn_id!r} (an event sub-process as a "
            "sub-process's compensation handler) is not supported: flowdesk runs compensation "
            "boundary events with isForCompensation activities; attach a compensation boundary "
            "event to the sub-process instead"
        )
    else:
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
    """A compensation boundary event inside a (non-event) sub-process, if it has one."""
    if etree.QName(activity).localname not in _SUB_PROCESSES:
        return None
    if activity.get("triggeredByEvent") == "true":
        return None
    for boundary in activity.iter(f"{_BPMN}boundaryEvent"):
        if _compensates(boundary):
            return boundary
    return None
