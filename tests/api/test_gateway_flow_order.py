"""Gateways choose their outgoing flows as Camunda 7 does: in file order, bare flows are true.

Camunda 7 takes an exclusive gateway's first outgoing flow (other than the default) whose
condition holds, in the order the sequence flows appear in the file; SpiffWorkflow 3.2 ordered
them by where the diagram draws their targets (top first), so with two true conditions the
flow drawn higher won. A flow without a condition beside conditional ones is always true for
Camunda 7 (exclusive and inclusive gateways); SpiffWorkflow refused such models.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import flowdesk

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
    xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" id="D" targetNamespace="t">
  <bpmn:process id="discount" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:exclusiveGateway id="Gateway_amount" default="Flow_standard" />
    <bpmn:userTask id="Task_big_order" />
    <bpmn:userTask id="Task_any_order" />
    <bpmn:userTask id="Task_standard" />
    <bpmn:sequenceFlow id="Flow_in" sourceRef="Start" targetRef="Gateway_amount" />
    <bpmn:sequenceFlow id="Flow_big" sourceRef="Gateway_amount" targetRef="Task_big_order">
      <bpmn:conditionExpression>${amount &gt; 1000}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_any" sourceRef="Gateway_amount" targetRef="Task_any_order">
      <bpmn:conditionExpression>${amount &gt; 0}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_standard" sourceRef="Gateway_amount" targetRef="Task_standard" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram"><bpmndi:BPMNPlane id="Plane" bpmnElement="discount">
    <bpmndi:BPMNShape id="Shape_big" bpmnElement="Task_big_order">
      <dc:Bounds x="300" y="400" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="Shape_any" bpmnElement="Task_any_order">
      <dc:Bounds x="300" y="100" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="Shape_standard" bpmnElement="Task_standard">
      <dc:Bounds x="300" y="10" width="100" height="80" /></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


@pytest.mark.parametrize(
    ("amount", "taken"),
    [(5000, "Task_big_order"), (50, "Task_any_order"), (0, "Task_standard")],
    ids=[
        "both conditions hold: the flow listed first wins though drawn lower",
        "only the second condition holds",
        "no condition holds: the default flow",
    ],
)
def test_exclusive_gateway__takes_the_first_true_flow_in_file_order(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path, amount: int, taken: str
) -> None:
    (tmp_path / "discount.bpmn").write_text(MODEL)
    make_engine().deploy(tmp_path / "discount.bpmn")

    # A new Engine parses the stored model again: the order must survive it.
    engine = make_engine()
    instance = engine.start("discount", {"amount": amount})

    assert [t.element_id for t in engine.tasks(instance_id=instance.id)] == [taken]


def gateway_model(kind: str, flows: str) -> str:
    """Start -> gateway `Gateway` (`kind`) -> user tasks A, B (`flows` connect them)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D"
    targetNamespace="t">
  <bpmn:process id="split" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:{kind} id="Gateway" />
    <bpmn:userTask id="A" />
    <bpmn:userTask id="B" />
    <bpmn:sequenceFlow id="Flow_in" sourceRef="Start" targetRef="Gateway" />
    {flows}
  </bpmn:process>
</bpmn:definitions>
"""


TO_A = '<bpmn:sequenceFlow id="Flow_a" sourceRef="Gateway" targetRef="A" />'
TO_B_IF_URGENT = (
    '<bpmn:sequenceFlow id="Flow_b" sourceRef="Gateway" targetRef="B">'
    "<bpmn:conditionExpression>${urgent}</bpmn:conditionExpression></bpmn:sequenceFlow>"
)


@pytest.mark.parametrize(
    ("kind", "flows", "urgent", "taken"),
    [
        ("exclusiveGateway", TO_A + TO_B_IF_URGENT, True, ["A"]),
        ("exclusiveGateway", TO_B_IF_URGENT + TO_A, True, ["B"]),
        ("exclusiveGateway", TO_B_IF_URGENT + TO_A, False, ["A"]),
        ("inclusiveGateway", TO_A + TO_B_IF_URGENT, True, ["A", "B"]),
        ("inclusiveGateway", TO_A + TO_B_IF_URGENT, False, ["A"]),
    ],
    ids=[
        "exclusive: a flow without condition listed first is always taken",
        "exclusive: a true condition listed before it wins",
        "exclusive: a flow without condition listed last is taken when no condition holds",
        "inclusive: a flow without condition is taken beside every true one",
        "inclusive: a flow without condition is taken alone when no condition holds",
    ],
)
def test_gateway__a_flow_without_condition_is_always_true_as_in_camunda(
    make_engine: Callable[..., flowdesk.Engine],
    tmp_path: Path,
    kind: str,
    flows: str,
    urgent: bool,
    taken: list[str],
) -> None:
    # Camunda 7 deploys these (the exclusive one with a warning); SpiffWorkflow refused them.
    (tmp_path / "split.bpmn").write_text(gateway_model(kind, flows))
    make_engine().deploy(tmp_path / "split.bpmn")

    engine = make_engine()
    instance = engine.start("split", {"urgent": urgent})

    assert sorted(t.element_id for t in engine.tasks(instance_id=instance.id)) == taken
