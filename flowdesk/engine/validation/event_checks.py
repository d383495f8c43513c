"""Events Camunda 7 refuses at deploy: start events, subscriptions, links, escalations, cancels.

Camunda 7's `BpmnParse` refuses these executable-process models (its words in quotes); each
would either never run there or run with an event nobody can tell apart from another:

- more than one none or timer start event in a process ("multiple none start events or timer
  start events not supported on process definition");
- an embedded sub-process start event with an event definition ("... is not allowed on start
  event within a subprocess", "... only allowed on start event if subprocess is an event
  subprocess"); an event sub-process start event without one ("start event of event
  subprocess must be of type ..."), or a non-interrupting error start event;
- a message event that waits for a `bpmn:message` without a `name` ("Cannot have a message
  event subscription with an empty or missing name");
- two message (or signal) subscriptions with the same name in one scope, and two conditional
  start events with the same condition ("Cannot have more than one ... event subscription");
- a link catch event after an event-based gateway, an intermediate escalation throw whose
  escalation has no `escalationCode`, two cancel boundary events on one transaction, an
  event-based gateway with `asyncAfter` or a sequence flow to anything but an intermediate
  catch event.

docs/camunda-refusals.md lists each with flowdesk's answer.
"""

from __future__ import annotations

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase
from flowdesk.engine.validation.elements import _CONTAINERS, _bpmn_name, _camunda

# Event definitions an embedded (not event) sub-process's start event may not have, with
# Camunda 7's reason.
_NOT_ON_EMBEDDED_START = {
    "conditionalEventDefinition": "conditionalEventDefinition is not allowed on start event "
    "within a subprocess",
    "timerEventDefinition": "timerEventDefinition is not allowed on start event within a "
    "subprocess",
    "escalationEventDefinition": "escalationEventDefinition is not allowed on start event "
    "within a subprocess",
    "errorEventDefinition": "errorEventDefinition only allowed on start event if subprocess "
    "is an event subprocess",
    "messageEventDefinition": "messageEventDefinition only allowed on start event if "
    "subprocess is an event subprocess",
    "signalEventDefinition": "signalEventDefintion only allowed on start event if subprocess "
    "is an event subprocess",
}
# What an event sub-process's start event may wait for (Camunda 7 reads these, in this order).
_EVENT_SUB_PROCESS_STARTS = (
    "errorEventDefinition",
    "messageEventDefinition",
    "signalEventDefinition",
    "timerEventDefinition",
    "compensateEventDefinition",
    "escalationEventDefinition",
    "conditionalEventDefinition",
)
# Catch event definitions Camunda 7 reads before a link definition (which it then ignores).
_READ_BEFORE_LINK = ("timerEventDefinition", "signalEventDefinition", "messageEventDefinition")
# Process start events Camunda 7 gives a type of their own; every other one is a none start.
_TYPED_PROCESS_STARTS = (
    "timerEventDefinition",
    "messageEventDefinition",
    "signalEventDefinition",
    "conditionalEventDefinition",
)


class _EventChecks(_BpmnCheckBase):
    """Refusals of event models Camunda 7 does not deploy."""

    def check_events(self, process: etree._Element) -> None:
        """The event checks of one executable process (see the module docstring)."""
        self._check_process_starts(process)
        for container in process.iter(*(f"{BPMN}{name}" for name in _CONTAINERS)):
            # Camunda 7 does not parse ad-hoc sub-processes ("Ignoring unsupported activity").
            if container is not process and _bpmn_name(container) != "adHocSubProcess":
                self._check_scope_starts(container)
        self._check_subscriptions(process)
        for event in process.iter(f"{BPMN}intermediateThrowEvent"):
            self._check_escalation_throw(event)
        self._check_cancel_boundaries(process)
        for gateway in process.iter(f"{BPMN}eventBasedGateway"):
            self._check_event_based_gateway(gateway)

    def check_link_names(self, processes: list[etree._Element]) -> None:
        """Link catch event names are unique in the file's executable processes.

        Camunda 7 keeps one table of link names per file (`BpmnParse.eventLinkTargets`), so two
        link catch events with one name are refused even in different sub-processes or
        processes ("Multiple Intermediate Catch Events with the same link event name").
        """
        first: dict[str, etree._Element] = {}
        for process in processes:
            for event in process.iter(f"{BPMN}intermediateCatchEvent"):
                link = _definition(event, "linkEventDefinition")
                if link is None or any(
                    _definition(event, kind) is not None for kind in _READ_BEFORE_LINK
                ):
                    continue  # Camunda 7 reads those definitions first
                name = link.get("name") or ""
                seen = first.setdefault(name, event)
                if seen is not event:
                    self.add(
                        event,
                        event.get("id"),
                        f"link catch events {seen.get('id')!r} and {event.get('id')!r} have the "
                        f"same link name {name!r}; Camunda 7 refuses it, also in different "
                        "sub-processes or processes of one file ('Multiple Intermediate Catch "
                        "Events with the same link event name ... are not allowed')",
                    )

    def _check_process_starts(self, process: etree._Element) -> None:
        # BpmnParse.selectInitial: one none or timer start event (the process's initial one).
        exclusive = [
            start
            for start in process.iterchildren(f"{BPMN}startEvent")
            if _definition(start, "timerEventDefinition") is not None
            or all(_definition(start, kind) is None for kind in _TYPED_PROCESS_STARTS)
        ]
        for start in exclusive[1:]:
            self.add(
                start,
                start.get("id"),
                f"process {process.get('id')!r} has several none or timer start events "
                f"({', '.join(repr(s.get('id')) for s in exclusive)}); Camunda 7 refuses it "
                "('multiple none start events or timer start events not supported on process "
                "definition'): keep one, and start the other ways with message or signal "
                "start events",
            )

    def _check_scope_starts(self, container: etree._Element) -> None:
        starts = list(container.iterchildren(f"{BPMN}startEvent"))
        if container.get("triggeredByEvent") == "true":
            for start in starts:
                self._check_event_sub_process_start(container, start)
            return
        for start in starts:
            for kind, reason in _NOT_ON_EMBEDDED_START.items():
                definition = _definition(start, kind)
                if definition is not None:
                    self.add(
                        definition,
                        start.get("id"),
                        f"start event {start.get('id')!r} of sub-process "
                        f"{container.get('id')!r} has {kind}; Camunda 7 refuses it "
                        f"({reason!r}): an embedded sub-process starts with a none start "
                        'event (an event sub-process, triggeredByEvent="true", may wait)',
                    )

    def _check_event_sub_process_start(
        self, container: etree._Element, start: etree._Element
    ) -> None:
        start_id = start.get("id")
        kinds = [kind for kind in _EVENT_SUB_PROCESS_STARTS if _definition(start, kind) is not None]
        if not kinds:
            self.add(
                start,
                start_id,
                f"start event {start_id!r} of event sub-process {container.get('id')!r} has "
                "no event definition; Camunda 7 refuses it ('start event of event subprocess "
                "must be of type 'error', 'message', 'timer', 'signal', 'compensation' or "
                "'escalation''): add the event that starts the sub-process",
            )
        elif kinds[0] == "errorEventDefinition" and not _interrupting(start):
            self.add(
                start,
                start_id,
                f"error start event {start_id!r} of event sub-process "
                f"{container.get('id')!r} is non-interrupting; Camunda 7 refuses it ('error "
                "start event of event subprocess must be interrupting'): an error ends the "
                "scope it is thrown in",
            )

    def _check_subscriptions(self, process: etree._Element) -> None:
        # BpmnParse.addEventSubscriptionDeclaration: per event scope, one message and one
        # signal subscription of each name, and one conditional start event per condition.
        seen: dict[tuple[str, str, str, bool], etree._Element] = {}
        for event, definition, scope, is_start in _subscriptions(process):
            kind = _bpmn_name(definition) or ""
            owner_id = event.get("id")
            if kind == "conditionalEventDefinition":
                if not is_start:
                    continue
                condition = definition.find(f"{BPMN}condition")
                name = (condition.text or "").strip() if condition is not None else ""
                label = "conditional"
            else:
                ref_name = (
                    "messageRef"
                    if kind in ("messageEventDefinition", "receiveTask")
                    else ("signalRef")
                )
                root_kind = "message" if ref_name == "messageRef" else "signal"
                named = self._root_element(root_kind, definition.get(ref_name))
                if named is None:
                    continue  # no reference, or one to nothing: check_event_refs says so
                name_attr = named.get("name")
                if root_kind == "message" and not name_attr:
                    self.add(
                        definition,
                        owner_id,
                        f"{owner_id!r} waits for message {named.get('id')!r}, which has no "
                        "name; Camunda 7 refuses it ('Cannot have a message event "
                        "subscription with an empty or missing name'): give the bpmn:message "
                        "the name that correlates to it",
                    )
                    continue
                if not name_attr:
                    continue  # a signal without a name: the root element check says so
                name, label = name_attr, root_kind
            key = (scope, label, name, is_start)
            first = seen.setdefault(key, event)
            if first is event:
                continue
            what = f"the same condition {name!r}" if label == "conditional" else f"name {name!r}"
            self.add(
                definition,
                owner_id,
                f"{owner_id!r} and {first.get('id')!r} both wait for a {label} event with "
                f"{what} in scope {scope!r}; Camunda 7 refuses two such subscriptions in "
                "one scope ('Cannot have more than one ... event subscription'): it could not "
                "tell which one an event is for",
            )

    def _root_element(self, kind: str, ref: str | None) -> etree._Element | None:
        wanted = (ref or "").strip().rpartition(":")[2]
        if not wanted:
            return None
        for element in self.root.iterchildren(f"{BPMN}{kind}"):
            if element.get("id") == wanted:
                return element
        return None

    def _check_escalation_throw(self, event: etree._Element) -> None:
        definition = _definition(event, "escalationEventDefinition")
        if definition is None or any(
            _definition(event, kind) is not None
            for kind in (
                "signalEventDefinition",
                "compensateEventDefinition",
                "linkEventDefinition",
                "messageEventDefinition",
            )
        ):
            return  # Camunda 7 reads those definitions first and ignores the escalation
        escalation = self._root_element("escalation", definition.get("escalationRef"))
        if escalation is not None and escalation.get("escalationCode") is None:
            event_id = event.get("id")
            self.add(
                definition,
                event_id,
                f"escalation throw event {event_id!r} throws escalation "
                f"{escalation.get('id')!r}, which has no escalationCode; Camunda 7 refuses "
                "it ('throwing escalation event must have an 'escalationCode''): give the "
                "bpmn:escalation an escalationCode",
            )

    def _check_cancel_boundaries(self, process: etree._Element) -> None:
        by_host: dict[str, list[etree._Element]] = {}
        for boundary in process.iter(f"{BPMN}boundaryEvent"):
            if _definition(boundary, "cancelEventDefinition") is not None:
                by_host.setdefault(boundary.get("attachedToRef") or "", []).append(boundary)
        for host, boundaries in by_host.items():
            for boundary in boundaries[1:]:
                self.add(
                    boundary,
                    boundary.get("id"),
                    f"transaction {host!r} has several cancel boundary events "
                    f"({', '.join(repr(b.get('id')) for b in boundaries)}); Camunda 7 refuses "
                    "it ('multiple boundary events with cancelEventDefinition not supported "
                    "on same transaction subprocess')",
                )

    def _check_event_based_gateway(self, gateway: etree._Element) -> None:
        gateway_id = gateway.get("id")
        if _camunda(gateway, "asyncAfter") == "true":
            self.add(
                gateway,
                gateway_id,
                f"event-based gateway {gateway_id!r} has camunda:asyncAfter; Camunda 7 refuses "
                "it (''asyncAfter' not supported for eventBasedGateway elements'): the "
                "gateway waits for its events, put asyncAfter on them",
            )
        container = gateway.getparent()
        if container is None:
            return
        siblings = {child.get("id"): child for child in container.iterchildren()}
        for flow in container.iterchildren(f"{BPMN}sequenceFlow"):
            if flow.get("sourceRef") != gateway_id:
                continue
            target = siblings.get(flow.get("targetRef"))
            if target is None:
                continue  # check_flows reports a flow to nothing
            if _bpmn_name(target) == "intermediateCatchEvent":
                if _definition(target, "linkEventDefinition") is not None:
                    self.add(
                        target,
                        target.get("id"),
                        f"link catch event {target.get('id')!r} follows event-based gateway "
                        f"{gateway_id!r}; Camunda 7 refuses it ('IntermediateCatchLinkEvent "
                        "is not allowed after an EventBasedGateway.')",
                    )
                continue
            self.add(
                flow,
                gateway_id,
                f"event-based gateway {gateway_id!r} leads to {_bpmn_name(target)} "
                f"{target.get('id')!r}; Camunda 7 refuses it ('Event based gateway can only "
                "be connected to elements of type intermediateCatchEvent'): wait with a "
                "message, timer, signal or conditional intermediate catch event",
            )


def _subscriptions(
    process: etree._Element,
) -> list[tuple[etree._Element, etree._Element, str, bool]]:
    """(event, definition, event scope id, is a process start) of each message, signal and
    conditional subscription, with the scope Camunda 7 registers it on."""
    found = []
    for element in process.iter(etree.Element):
        name = _bpmn_name(element)
        if name == "receiveTask":
            if element.get("messageRef"):
                found.append((element, element, element.get("id") or "", False))
            continue
        if name not in ("startEvent", "intermediateCatchEvent", "boundaryEvent"):
            continue
        for kind in (
            "messageEventDefinition",
            "signalEventDefinition",
            "conditionalEventDefinition",
        ):
            definition = _definition(element, kind)
            if definition is None:
                continue
            scope, is_start = _event_scope(element)
            found.append((element, definition, scope, is_start))
            break
    return found


def _event_scope(event: etree._Element) -> tuple[str, bool]:
    """The id of the scope Camunda 7 registers an event's subscription on, and whether the
    event is a process start event."""
    name = _bpmn_name(event)
    parent = event.getparent()
    if name == "boundaryEvent":
        return event.get("attachedToRef") or "", False
    if name == "startEvent" and parent is not None:
        if _bpmn_name(parent) == "process":
            return parent.get("id") or "", True
        # An event sub-process's start event subscribes on the scope around the sub-process.
        outer = parent.getparent()
        return (outer.get("id") or "" if outer is not None else ""), False
    if parent is not None:
        for flow in parent.iterchildren(f"{BPMN}sequenceFlow"):
            if flow.get("targetRef") != event.get("id"):
                continue
            source = next(
                (c for c in parent.iterchildren() if c.get("id") == flow.get("sourceRef")), None
            )
            if source is not None and _bpmn_name(source) == "eventBasedGateway":
                return source.get("id") or "", False
    return event.get("id") or "", False


def _definition(event: etree._Element, kind: str) -> etree._Element | None:
    return event.find(f"{BPMN}{kind}")


def _interrupting(start: etree._Element) -> bool:
    return (start.get("isInterrupting") or "true").strip().lower() == "true"
