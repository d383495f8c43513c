"""Sequence flows and associations Camunda 7 refuses at deploy.

In an executable process, Camunda 7's `BpmnParse` refuses (its words in quotes):

- an exclusive gateway whose only outgoing flow has a condition ("This is not allowed to have a
  condition."), or whose default flow has one ("which is the default flow but has a condition
  too");
- a sequence flow without an `id` leaving an `asyncAfter` activity ("must have an id"): the
  job that continues after the activity names the flow to take (flowdesk gives every other
  id-less flow a generated id, see `generated_ids`);
- an association without `sourceRef` or `targetRef`, or one naming an id the file does not
  have ("association element missing attribute", "Invalid reference").

(A gateway without outgoing flows and two flows without a condition are refused by
`structure_checks` and by the trial parse.) docs/camunda-refusals.md lists each.
"""

from __future__ import annotations

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase
from flowdesk.engine.validation.elements import _CONTAINERS, _bpmn_name, _camunda
from flowdesk.engine.validation.generated_ids import GENERATED_ID_MARK


class _FlowChecks(_BpmnCheckBase):
    """Refusals of sequence flows and associations Camunda 7 does not deploy."""

    def check_flows_as_camunda(self, process: etree._Element) -> None:
        """The flow and association checks of one executable process."""
        for container in process.iter(*(f"{BPMN}{name}" for name in _CONTAINERS)):
            flows = list(container.iterchildren(f"{BPMN}sequenceFlow"))
            for node in container.iterchildren():
                outgoing = [f for f in flows if f.get("sourceRef") == node.get("id")]
                if _bpmn_name(node) == "exclusiveGateway":
                    self._check_exclusive_gateway(node, outgoing)
                if _camunda(node, "asyncAfter") == "true":
                    self._check_async_after_flows(node, outgoing)
            for association in container.iterchildren(f"{BPMN}association"):
                self._check_association(association)

    def _check_exclusive_gateway(
        self, gateway: etree._Element, outgoing: list[etree._Element]
    ) -> None:
        gateway_id = gateway.get("id")
        conditional = [f for f in outgoing if f.find(f"{BPMN}conditionExpression") is not None]
        if len(outgoing) == 1 and conditional:
            flow_id = outgoing[0].get("id")
            self.add(
                outgoing[0],
                flow_id,
                f"exclusive gateway {gateway_id!r} has only one outgoing sequence flow "
                f"({flow_id!r}), and it has a condition; Camunda 7 refuses it ('This is not "
                "allowed to have a condition'): remove the condition or add another flow",
            )
            return
        default = gateway.get("default")
        for flow in conditional:
            if default and flow.get("id") == default:
                self.add(
                    flow,
                    default,
                    f"sequence flow {default!r} is the default flow of exclusive gateway "
                    f"{gateway_id!r} but has a condition too; Camunda 7 refuses it: the default "
                    "flow is the one taken when no condition holds, remove its condition",
                )

    def _check_async_after_flows(
        self, activity: etree._Element, outgoing: list[etree._Element]
    ) -> None:
        activity_id = activity.get("id")
        for flow in outgoing:
            if flow.get(GENERATED_ID_MARK) is not None:
                self.add(
                    flow,
                    activity_id,
                    f"a sequence flow leaving {activity_id!r} (to {flow.get('targetRef')!r}) has "
                    f"no id, and {activity_id!r} uses camunda:asyncAfter; Camunda 7 refuses it "
                    "('Sequence flow ... must have an id'): give the flow an id",
                )

    def _check_association(self, association: etree._Element) -> None:
        association_id = association.get("id")
        for attribute in ("sourceRef", "targetRef"):
            ref = association.get(attribute)
            if ref is None:
                self.add(
                    association,
                    association_id,
                    f"association {association_id!r} has no {attribute}; Camunda 7 refuses it "
                    f"('association element missing attribute '{attribute}'')",
                )
                return
            if ref not in self.all_ids:
                self.add(
                    association,
                    association_id,
                    f"association {association_id!r} has {attribute} {ref!r}, which names no "
                    f"element of this file; Camunda 7 refuses it ('Invalid reference "
                    f"{attribute}')",
                )
                return
