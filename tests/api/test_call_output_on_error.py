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


UNCAUGHT = MODEL.replace(
    """    <bpmn:boundaryEvent id="Was_damaged" attachedToRef="Call_inspection">
      <bpmn:errorEventDefinition errorRef="Err_damaged" camunda:errorCodeVariable="why" />
    </bpmn:boundaryEvent>
""",
    "",
).replace('<bpmn:sequenceFlow id="F3" sourceRef="Was_damaged" targetRef="Refund" />', "")


@pytest.mark.parametrize("restart", [False, True], ids=["same-engine", "new-engine"])
def test_error_nothing_catches__call_activity_goes_on_as_if_the_called_instance_ended(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path, restart: bool
) -> None:
    # Camunda's BpmnExceptionHandler.propagateError finds no catcher in the hierarchy and ends
    # the throwing execution: the called instance completes, the call activity goes on.
    model = tmp_path / "returns.bpmn"
    model.write_text(UNCAUGHT.replace("{mappings}", '<camunda:out variables="all" />'))
    engine = make_engine()
    engine.deploy(model)
    caller = engine.start("returns", {"order": "R-8"})
    (called,) = engine.instances(parent_id=caller.id)
    if restart:
        engine = make_engine()

    engine.complete(only_task(engine, called.id).id, {"damage": "dent"})

    assert engine.instance(called.id).state == "completed"
    assert only_task(engine, caller.id).element_id == "Restock"
    assert engine.instance(caller.id).variables == {"order": "R-8", "damage": "dent"}


NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="t">
  <bpmn:error id="Err_lost" errorCode="LOST" />
  <bpmn:process id="track" isExecutable="true">
    <bpmn:startEvent id="S3" />
    <bpmn:parallelGateway id="Fork" />
    <bpmn:userTask id="Trace" />
    <bpmn:userTask id="Notify" />
    <bpmn:endEvent id="Lost"><bpmn:errorEventDefinition errorRef="Err_lost" /></bpmn:endEvent>
    <bpmn:endEvent id="Notified" />
    <bpmn:sequenceFlow id="H1" sourceRef="S3" targetRef="Fork" />
    <bpmn:sequenceFlow id="H2" sourceRef="Fork" targetRef="Trace" />
    <bpmn:sequenceFlow id="H3" sourceRef="Fork" targetRef="Notify" />
    <bpmn:sequenceFlow id="H4" sourceRef="Trace" targetRef="Lost" />
    <bpmn:sequenceFlow id="H5" sourceRef="Notify" targetRef="Notified" />
  </bpmn:process>
  <bpmn:process id="deliver" isExecutable="true">
    <bpmn:startEvent id="S2" />
    <bpmn:callActivity id="Call_track" calledElement="track" />
    <bpmn:endEvent id="E2" />
    <bpmn:sequenceFlow id="G1" sourceRef="S2" targetRef="Call_track" />
    <bpmn:sequenceFlow id="G2" sourceRef="Call_track" targetRef="E2" />
  </bpmn:process>
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:callActivity id="Call_deliver" calledElement="deliver" />
    {boundary}
    <bpmn:userTask id="Close" />
    <bpmn:userTask id="Claim_insurance" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Call_deliver" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call_deliver" targetRef="Close" />
    {boundary_flow}
  </bpmn:process>
</bpmn:definitions>
"""
BOUNDARY = (
    '<bpmn:boundaryEvent id="Was_lost" attachedToRef="Call_deliver">'
    '<bpmn:errorEventDefinition errorRef="Err_lost" /></bpmn:boundaryEvent>',
    '<bpmn:sequenceFlow id="F3" sourceRef="Was_lost" targetRef="Claim_insurance" />',
)


def _nested(engine: flowdesk.Engine, tmp_path: Path, caught: bool) -> tuple[str, str, str]:
    boundary, flow = BOUNDARY if caught else ("", "")
    (tmp_path / "order.bpmn").write_text(
        NESTED.replace("{boundary}", boundary).replace("{boundary_flow}", flow)
    )
    engine.deploy(tmp_path / "order.bpmn")
    order = engine.start("order")
    (deliver,) = engine.instances(parent_id=order.id)
    (track,) = engine.instances(parent_id=deliver.id)
    return order.id, deliver.id, track.id


def _complete(engine: flowdesk.Engine, instance_id: str, element_id: str) -> None:
    (task,) = [t for t in engine.tasks(instance_id=instance_id) if t.element_id == element_id]
    engine.complete(task.id, {})


def test_error_caught_two_calls_up__reaches_the_boundary_there_and_ends_the_calls_between(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    order, deliver, track = _nested(engine, tmp_path, caught=True)

    _complete(engine, track, "Trace")

    assert only_task(engine, order).element_id == "Claim_insurance"
    assert engine.instance(deliver).state == "terminated"
    assert engine.instance(track).state == "terminated"  # its Notify path was still open


def test_error_nothing_catches__the_call_goes_on_once_the_called_instance_has_ended(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    order, deliver, track = _nested(engine, tmp_path, caught=False)

    _complete(engine, track, "Trace")  # the error ends this path only

    assert engine.instance(track).state == "running"
    assert engine.instance(deliver).state == "running"
    assert engine.tasks(instance_id=order) == []
    _complete(engine, track, "Notify")
    assert engine.instance(track).state == "completed"
    assert engine.instance(deliver).state == "completed"
    assert only_task(engine, order).element_id == "Close"
