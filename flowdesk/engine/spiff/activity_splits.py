"""How a token leaves an activity or event with conditional or several outgoing flows.

Camunda 7 leaves every flow node that is not a gateway the same way
(`BpmnActivityBehavior.performOutgoingBehavior`): every outgoing flow without a condition is
taken, and every conditional flow whose condition is true; the flow named by the node's
`default` attribute is taken only when nothing else is; when nothing can be taken the step
fails ("No conditional sequence flow leaving the Flow Node ... could be selected"). Several
flows taken run in parallel, as from a parallel gateway.

SpiffWorkflow 3.2 instead refuses a task with several outgoing flows and, where it accepts them
(start events), takes every flow whatever its condition says. Rather than teach each of Spiff's
task spec classes to choose, `with_activity_splits` rewrites the XML Spiff parses: such a node
gets a single outgoing flow to an `ActivitySplit` element (in a flowdesk namespace, so no BPMN
parser reads it), which takes over the node's outgoing flows and its `default`. The
`ActivitySplit` spec chooses as Camunda does. It has no `bpmn_id`, like Spiff's own internal
specs (`BoundaryEventSplit`, ...), so history, task queries and reports never show it. The
rewrite is a pure function of the stored XML, so every engine that parses a version builds the
same specs, and instances saved by one engine run on in another.
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.specs.bpmn_task_spec import BpmnTaskSpec
from SpiffWorkflow.specs.MultiChoice import MultiChoice
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine import validation
from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.spiff import internals

FLOWDESK_NS = "https://flowdesk.dev/schema/implicit"
TAG = f"{{{FLOWDESK_NS}}}activitySplit"

_CONTAINERS = frozenset({"process", "subProcess", "transaction"})
# Gateways choose their flows themselves; an end event or a link throw has none to choose.
_NOT_SPLIT = frozenset(
    {
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
        "complexGateway",
        "endEvent",
        "sequenceFlow",
    }
)


class ActivitySplit(MultiChoice, BpmnTaskSpec):  # type: ignore[misc]  # Spiff is untyped
    """Takes the outgoing flows of one activity or event as Camunda 7 does (see the module)."""

    def __init__(self, wf_spec: Any, name: str, activity_id: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, name, **kwargs)
        self.activity_id = activity_id
        self.default_output: str | None = None

    def _get_matching_outputs(self, my_task: Any) -> tuple[list[Any], list[Any]]:
        matches, defaults = [], []
        for condition, output in self.cond_task_specs:
            spec = my_task.workflow.spec.get_task_spec_from_name(output)
            if output == self.default_output:
                defaults.append(spec)
            elif condition is None or internals.condition_matches(condition, my_task):
                matches.append(spec)
        return matches, defaults

    def _run_hook(self, my_task: Any) -> bool:
        matches, defaults = self._get_matching_outputs(my_task)
        if not matches and not defaults:
            raise WorkflowTaskException(
                f"No conditional sequence flow leaving the Flow Node {self.activity_id!r} could "
                "be selected for continuing the process: it has no default flow and none of "
                "its outgoing conditional flows is true",
                task=my_task,
            )
        internals.sync_children(my_task, matches or defaults, TaskState.FUTURE)
        for child in my_task.children:
            internals.predict(child, TaskState.FUTURE | TaskState.PREDICTED_MASK)
        return True


class ActivitySplitParser(TaskParser):  # type: ignore[misc]  # Spiff is untyped
    """Builds an `ActivitySplit` from the element `with_activity_splits` added."""

    def create_task(self) -> Any:
        return ActivitySplit(
            self.spec, self.bpmn_id, self.node.get("activity"), **self.bpmn_attributes
        )

    def handles_multiple_outgoing(self) -> bool:
        return True

    def connect_outgoing(
        self, outgoing_task: Any, sequence_flow_node: Any, is_default: bool
    ) -> None:
        if is_default:
            self.task.default_output = outgoing_task.name
            self.task.connect(outgoing_task)
        else:
            self.task.connect_outgoing_if(self.parse_condition(sequence_flow_node), outgoing_task)


PARSER_CLASSES: dict[str, tuple[type, type]] = {TAG: (ActivitySplitParser, ActivitySplit)}


def with_activity_splits(root: Any) -> Any:
    """The file with an `ActivitySplit` after each flow node that must choose its flows.

    A node must choose when it has a conditional outgoing flow or more than one outgoing flow.
    The input is not changed; a copy is returned when anything is rewritten.
    """
    if not _nodes_to_split(root):
        return root
    root = copy.deepcopy(root)
    taken = {e.get("id") for e in root.iter(etree.Element) if e.get("id")}
    for container, node, flows in _nodes_to_split(root):
        node_id = node.get("id")
        split_id = validation.unused_id(f"{node_id}__split", taken)
        leaving_id = validation.unused_id(f"{node_id}__to_split", taken)
        split = etree.SubElement(container, TAG, id=split_id, activity=node_id)
        if node.get("default"):
            split.set("default", node.attrib.pop("default"))
        etree.SubElement(
            container, f"{BPMN}sequenceFlow", id=leaving_id, sourceRef=node_id, targetRef=split_id
        )
        for flow in flows:
            flow.set("sourceRef", split_id)
    return root


def _nodes_to_split(root: Any) -> list[tuple[Any, Any, list[Any]]]:
    found = []
    for container in root.iter(*(f"{BPMN}{name}" for name in _CONTAINERS)):
        flows_from: dict[str, list[Any]] = {}
        for flow in container.iterchildren(f"{BPMN}sequenceFlow"):
            flows_from.setdefault(flow.get("sourceRef"), []).append(flow)
        for node in container.iterchildren(etree.Element):
            name = etree.QName(node).localname
            if not node.tag.startswith(BPMN) or name in _NOT_SPLIT or not node.get("id"):
                continue
            flows = flows_from.get(node.get("id"), [])
            if len(flows) > 1 or any(_is_conditional(flow) for flow in flows):
                found.append((container, node, flows))
    return found


def _is_conditional(flow: Any) -> bool:
    return flow.find(f"{BPMN}conditionExpression") is not None
