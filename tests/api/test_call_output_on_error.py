"""camunda:out mappings also apply when the called instance ends with a BPMN error.

Camunda 7's `BpmnExceptionHandler` passes a called instance's output variables to the caller
while the error leaves it (`OutputVariablesPropagator`), so the boundary event's path sees
them (`CallActivityTest.testSubProcessDataOutputOnError`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import only_task

import flowdesk

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="t">
  <bpmn:error id="Err_damaged" errorCode="DAMAGED" />
  <bpmn:process id="inspection" isExecutable="true">
    <bpmn:startEvent id="S2" />
    <bpmn:userTask id="Inspect" />
    <bpmn:endEvent id="Damaged"><bpmn:errorEventDefinition errorRef="Err_damaged" />
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="G1" sourceRef="S2" targetRef="Inspect" />
    <bpmn:sequenceFlow id="G2" sourceRef="Inspect" targetRef="Damaged" />
  </bpmn:process>
  <bpmn:process id="returns" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:callActivity id="Call_inspection" calledElement="inspection">
      <bpmn:extensionElements>{mappings}</bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:boundaryEvent id="Was_damaged" attachedToRef="Call_inspection">
      <bpmn:errorEventDefinition errorRef="Err_damaged" camunda:errorCodeVariable="why" />
    </bpmn:boundaryEvent>
    <bpmn:userTask id="Restock" />
    <bpmn:userTask id="Refund" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Call_inspection" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call_inspection" targetRef="Restock" />
    <bpmn:sequenceFlow id="F3" sourceRef="Was_damaged" targetRef="Refund" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize(
    ("mappings", "expected"),
    [
        (
            '<camunda:out variables="all" />',
            {"order": "R-7", "damage": "scratched", "inspector": "ann", "why": "DAMAGED"},
        ),
        (
            '<camunda:out source="damage" target="found" />',
            {"order": "R-7", "found": "scratched", "why": "DAMAGED"},
        ),
    ],
    ids=["all", "source-target"],
)
@pytest.mark.parametrize("restart", [False, True], ids=["same-engine", "new-engine"])
def test_error_from_called_instance__caller_gets_its_out_variables_on_the_boundary_path(
    make_engine: Callable[..., flowdesk.Engine],
    tmp_path: Path,
    mappings: str,
    expected: dict[str, str],
    restart: bool,
) -> None:
    model = tmp_path / "returns.bpmn"
    model.write_text(MODEL.replace("{mappings}", mappings))
    engine = make_engine()
    engine.deploy(model)
    caller = engine.start("returns", {"order": "R-7"})
    (called,) = engine.instances(parent_id=caller.id)
    if restart:
        engine = make_engine()

    engine.complete(only_task(engine, called.id).id, {"damage": "scratched", "inspector": "ann"})

    if restart:
        engine = make_engine()
    assert only_task(engine, caller.id).element_id == "Refund"
    assert engine.instance(caller.id).variables == expected
    assert engine.instance(called.id).state == "completed"
