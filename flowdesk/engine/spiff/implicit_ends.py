"""Paths that end at an activity or event with no outgoing sequence flow (implicit ends).

BPMN lets a path end without an end event: a flow node with no outgoing sequence flow ends
its token there. Camunda 7 runs such models (`BpmnActivityBehavior.performOutgoingBehavior`:
with no outgoing flow, "ending the execution"); a process or embedded sub-process completes
when nothing in it is active any more, whether its paths reached end events or not.

SpiffWorkflow 3.2 refuses an embedded sub-process without an end event ("A SubWorkflow Must
contain an End event"), and only end events lead to the join that completes a (sub-)process.
`with_implicit_ends` therefore rewrites the XML Spiff parses: each flow node with no outgoing
flow gets one to a plain end event of its own, which is what the implicit end means. The
added end events are hidden: `hide_implicit_ends` takes their `bpmn_id` after parsing, like
Spiff's internal specs, so history, task queries and reports never show them. The rewrite is
a pure function of the stored XML, so every engine that parses a version builds the same
specs, and instances saved by one engine run on in another.

Not given an end: end events; exclusive, event-based and complex gateways (refused at deploy
without an outgoing flow; a parallel or inclusive gateway without one ends its path, as in
Camunda's `testCompletingJoin`); event sub-processes and compensation handlers, which are never
on a sequence flow; compensation boundary events, which lead to their handler by an
association; and the contents of ad-hoc sub-processes, whose activities end by themselves.
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree

from flowdesk.engine import validation
from flowdesk.engine.languages.bpmn_namespaces import BPMN

# Containers whose flow nodes run on sequence flows; an ad-hoc sub-process's contents do not.
_CONTAINERS = frozenset({"process", "subProcess", "transaction"})
# The flow nodes a token can leave. End events end anyway; exclusive, event-based and
# complex gateways without a way out are refused at deploy (Camunda 7 refuses the first and
# runs none of the others), while a parallel or inclusive one ends its path in Camunda.
_ENDS_PATHS = validation.EXECUTABLE_FLOW_NODES - {
    "endEvent",
    "exclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}
# The id of an added end event ends so; `hide_implicit_ends` recognises them by it.
SUFFIX = "__flowdesk_implicit_end"


def with_implicit_ends(root: Any) -> Any:
    """The file with a hidden end event after each flow node that has no outgoing flow.

    The input is not changed; a copy is returned when anything is rewritten.
    """
    if not _path_ends(root):
        return root
    root = copy.deepcopy(root)
    taken = {e.get("id") for e in root.iter(etree.Element) if e.get("id")}
    for container, node in _path_ends(root):
        node_id = node.get("id")
        end_id = validation.unused_id(f"{node_id}{SUFFIX}", taken)
        flow_id = validation.unused_id(f"{node_id}__to_implicit_end", taken)
        etree.SubElement(container, f"{BPMN}endEvent", id=end_id)
        etree.SubElement(
            container, f"{BPMN}sequenceFlow", id=flow_id, sourceRef=node_id, targetRef=end_id
        )
    return root


def hide_implicit_ends(spec: Any) -> None:
    """Take the BPMN id of the end events `with_implicit_ends` added to a parsed spec."""
    if spec is None:  # a called process that is not available to this parser
        return
    for task_spec in spec.task_specs.values():
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id and SUFFIX in bpmn_id:
            task_spec.bpmn_id = None
            task_spec.bpmn_name = None


def _path_ends(root: Any) -> list[tuple[Any, Any]]:
    found = []
    for container in root.iter(*(f"{BPMN}{name}" for name in _CONTAINERS)):
        leaving = {flow.get("sourceRef") for flow in container.iterchildren(f"{BPMN}sequenceFlow")}
        for node in container.iterchildren(etree.Element):
            if (
                node.tag.startswith(BPMN)
                and etree.QName(node).localname in _ENDS_PATHS
                and node.get("id")
                and node.get("id") not in leaving
                and not _off_the_flow(node)
            ):
                found.append((container, node))
    return found


def _off_the_flow(node: Any) -> bool:
    """A node no sequence flow ever leaves: event sub-processes and compensation."""
    if node.get("triggeredByEvent") == "true" or node.get("isForCompensation") == "true":
        return True
    return (
        etree.QName(node).localname == "boundaryEvent"
        and node.find(f"{BPMN}compensateEventDefinition") is not None
    )
