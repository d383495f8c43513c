"""BPMN structure and references: flows, gateways, start events, event, call and decision refs."""

from __future__ import annotations

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase
from flowdesk.engine.validation.elements import (
    _FLOW_NODES,
    _GATEWAYS,
    _bpmn_name,
    _camunda,
    _is_expression,
    _owner_id,
)

# Event definition -> (reference attribute, root element it names).
_EVENT_REFS = {
    "messageEventDefinition": ("messageRef", "message"),
    "signalEventDefinition": ("signalRef", "signal"),
    "errorEventDefinition": ("errorRef", "error"),
    "escalationEventDefinition": ("escalationRef", "escalation"),
    "sendTask": ("messageRef", "message"),
    "receiveTask": ("messageRef", "message"),
}


class _StructureChecks(_BpmnCheckBase):
    """Ids and references: what flows connect, what events and activities name."""

    def check_flows(self, container: etree._Element, executable: bool) -> None:
        """Sequence flows connect nodes of their own container; gateways have a way out."""
        nodes = {
            child.get("id"): child
            for child in container.iterchildren()
            if _bpmn_name(child) in _FLOW_NODES
        }
        sources = set()
        for flow in container.iterchildren(f"{BPMN}sequenceFlow"):
            flow_id = flow.get("id")
            sources.add(flow.get("sourceRef"))
            for attribute, verb in (("sourceRef", "starts at"), ("targetRef", "targets")):
                ref = flow.get(attribute)
                if not ref:
                    self.add(flow, flow_id, f"sequence flow {flow_id!r} has no {attribute}")
                elif ref not in nodes:
                    where = (
                        f"which is not a flow node of the same {_describe(container)}"
                        if ref in self.all_ids
                        else "which does not exist"
                    )
                    self.add(flow, flow_id, f"sequence flow {flow_id!r} {verb} {ref!r}, {where}")
        if not executable:
            return
        for node_id, node in nodes.items():
            # A parallel or inclusive gateway without a way out ends its path (implicit_ends).
            kind = _bpmn_name(node)
            if kind in _GATEWAYS - _ENDING_GATEWAYS and node_id not in sources:
                reason = (
                    "Camunda 7 refuses it ('Exclusive Gateway has no outgoing sequence flows')"
                    if kind == "exclusiveGateway"
                    else "a gateway with no way out"
                )
                self.add(
                    node,
                    node_id,
                    f"gateway {node_id!r} has no outgoing sequence flow; {reason}",
                )

    def check_event_refs(self, process: etree._Element) -> None:
        """Message, signal, error and escalation references name root elements of the file."""
        for element in process.iter():
            name = _bpmn_name(element)
            if name not in _EVENT_REFS:
                continue
            attribute, kind = _EVENT_REFS[name]
            ref = _local_ref(element.get(attribute))
            if not ref:
                continue  # optional: e.g. an error boundary event without errorRef catches all
            if kind == "error":
                # Camunda 7 uses an errorRef that names no bpmn:error as the error code itself.
                continue
            if ref not in self.root_elements.get(kind, set()):
                owner_id = _owner_id(element)
                self.add(
                    element,
                    owner_id,
                    f"{owner_id!r} refers to {kind} {ref!r}, which is not defined in this "
                    f"file (add a bpmn:{kind} with this id)",
                )

    def check_start_events(self, process: etree._Element, containers: list[etree._Element]) -> None:
        """Executable processes and embedded sub-processes have a start event of their own."""
        for container in containers:
            name = _bpmn_name(container)
            if name == "adHocSubProcess" or container.find(f"{BPMN}startEvent") is not None:
                continue
            container_id = container.get("id")
            if name == "process":
                message = (
                    f"executable process {container_id!r} has no start event; Camunda 7 "
                    "refuses it ('process must define a startEvent element')"
                )
            elif container.get("triggeredByEvent") == "true":
                message = (
                    f"event sub-process {container_id!r} has no start event; Camunda 7 "
                    "refuses it ('subProcess must define a startEvent element')"
                )
            elif name == "subProcess":
                # BPMN lets a sub-process start at every node without incoming flows;
                # Camunda 7's BpmnParse does not.
                message = (
                    f"{_describe(container)} has no start event; Camunda 7 refuses it "
                    "('subProcess must define a startEvent element'): add a none start event"
                )
            else:
                # Camunda 7 parses it, then fails each instance that enters it ("No initial
                # activity found"): refused here, before any instance does.
                message = (
                    f"{_describe(container)} has no start event; Camunda 7 fails every "
                    "instance that enters it: add a none start event"
                )
            self.add(container, container_id, message)

    def check_call_activities(self, process: etree._Element) -> None:
        for activity in process.iter(f"{BPMN}callActivity"):
            activity_id = activity.get("id")
            called = (activity.get("calledElement") or "").strip()
            if not called:
                self.add(
                    activity,
                    activity_id,
                    f"call activity {activity_id!r} has no calledElement; name the process to call",
                )
            elif _is_expression(called) or called in self.known_process_ids:
                continue
            elif self.processes.get(called) is False:
                self.add(
                    activity,
                    activity_id,
                    f"call activity {activity_id!r} calls {called!r}, which is marked "
                    'isExecutable="false" in this file',
                )
            # A process neither deployed nor in this file is no problem: Camunda 7 resolves the
            # called process when the call activity runs (deploy warns; see repository).

    def check_business_rule_tasks(self, process: etree._Element) -> None:
        for task in process.iter(f"{BPMN}businessRuleTask"):
            ref = (_camunda(task, "decisionRef") or "").strip()
            if ref and not _is_expression(ref) and ref not in self.known_decision_ids:
                task_id = task.get("id")
                self.add(
                    task,
                    task_id,
                    f"business rule task {task_id!r} evaluates decision {ref!r}, which is "
                    "not deployed; deploy its DMN file with this one",
                )


# Gateways whose path ends there when they have no outgoing flow, as in Camunda 7.
_ENDING_GATEWAYS = frozenset({"parallelGateway", "inclusiveGateway"})


def _local_ref(text: str | None) -> str:
    """The id a QName reference names (`tns:Message_1` -> `Message_1`)."""
    return (text or "").strip().rpartition(":")[2]


def _describe(container: etree._Element) -> str:
    name = _bpmn_name(container)
    label = {"subProcess": "sub-process", "adHocSubProcess": "ad-hoc sub-process"}.get(
        name or "", name or "element"
    )
    return f"{label} {container.get('id')!r}"
