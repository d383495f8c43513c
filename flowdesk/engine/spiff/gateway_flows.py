"""Gateway flows without a condition, run as Camunda 7 runs them.

Camunda 7 tries an exclusive gateway's outgoing flows in file order and takes the first that is
not the default flow and has no condition or a true one; an inclusive gateway takes every such
flow (`ExclusiveGatewayActivityBehavior`, `InclusiveGatewayActivityBehavior`). So a flow
without a condition beside conditional ones is simply always true. SpiffWorkflow 3.2 refuses a
non-default gateway flow without a condition ("Non-default exclusive outgoing sequence flow
without condition"), for inclusive gateways too, so such models (an inclusive gateway that
always does one thing and another only sometimes is common) could not be deployed.

`with_true_conditions` gives each such flow the condition `${true}` before Spiff reads the
file, which is exactly what Camunda evaluates it as. Left as they are, so that Spiff still
refuses them as Camunda 7 does: an exclusive gateway with a default flow and a flow without a
condition, or with two flows without one ("without condition which is not the default flow").
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN

_ALWAYS = "${true}"


def with_true_conditions(root: Any) -> Any:
    """The BPMN tree with `${true}` on each gateway flow Camunda 7 takes without a condition.

    Args:
        root: The `definitions` element of a BPMN file (not changed).

    Returns:
        `root` itself when nothing needs a condition, else a changed copy.
    """
    if not _unconditional_flows(root):
        return root
    root = copy.deepcopy(root)
    for flow in _unconditional_flows(root):
        condition = etree.SubElement(flow, f"{BPMN}conditionExpression")
        condition.text = _ALWAYS
    return root


def _unconditional_flows(root: Any) -> list[Any]:
    found: list[Any] = []
    for container in root.iter(f"{BPMN}process", f"{BPMN}subProcess", f"{BPMN}transaction"):
        flows = list(container.iterchildren(f"{BPMN}sequenceFlow"))
        for gateway in container.iterchildren(f"{BPMN}exclusiveGateway", f"{BPMN}inclusiveGateway"):
            outgoing = [f for f in flows if f.get("sourceRef") == gateway.get("id")]
            if len(outgoing) < 2:
                continue  # Spiff takes a gateway's only flow whatever its condition
            default = gateway.get("default")
            bare = [
                f
                for f in outgoing
                if f.get("id") != default and f.find(f"{BPMN}conditionExpression") is None
            ]
            exclusive = etree.QName(gateway).localname == "exclusiveGateway"
            if exclusive and (default or len(bare) != 1):
                continue  # Camunda 7 refuses these; Spiff's refusal stays
            found.extend(bare)
    return found
