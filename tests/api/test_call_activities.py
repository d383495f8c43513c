"""Call activities start instances of their own, as in Camunda 7, with camunda:in/out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DATA, Clock, only_task

import flowdesk

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" '
    'targetNamespace="http://bpmn.io/schema/bpmn">\n'
)


def callee(process_id: str, script: str) -> str:
    """A process that runs one script and ends: it finishes within the call that starts it."""
    return (
        HEAD
        + f"""
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:scriptTask id="Work" scriptFormat="python"><bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Work" />
    <bpmn:sequenceFlow id="F2" sourceRef="Work" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>
"""
    )


def caller(attributes: str) -> str:
    return (
        HEAD
        + f"""
  <bpmn:process id="caller" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:callActivity id="Call" {attributes}>
      <bpmn:extensionElements><camunda:out variables="all" /></bpmn:extensionElements>
    </bpmn:callActivity>
    <bpmn:userTask id="After" />
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Call" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call" targetRef="After" />
    <bpmn:sequenceFlow id="F3" sourceRef="After" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>
"""
    )


@pytest.fixture
def orders(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "calls_review.bpmn")
    engine.deploy(DATA / "calls_order.bpmn")
    return engine


def test_call_activity__starts_a_separate_instance_with_only_the_mapped_variables(
    orders: flowdesk.Engine,
) -> None:
    order = orders.start("order", {"amount": 120, "secret": "x"}, business_key="SO-1")

    (review,) = orders.instances(parent_id=order.id)
    assert review.key == "review" and review.id != order.id
    assert review.business_key == "SO-1"  # <camunda:in businessKey="${execution...}"/>
    assert review.variables == {"amount": 120, "limit": 240}  # source and sourceExpression
    task = only_task(orders, review.id)
    assert task.element_id == "decide" and task.business_key == "SO-1"
    assert orders.tasks(instance_id=order.id) == []
    assert orders.instance(order.id).state == "running"


def test_call_activity__out_mappings_reach_the_caller_when_the_called_instance_ends(
    orders: flowdesk.Engine,
) -> None:
    order = orders.start("order", {"amount": 120}, business_key="SO-1")
    (review,) = orders.instances(parent_id=order.id)

    orders.complete(
        only_task(orders, review.id).id, {"approved": True, "reviewer_note": "fine"}, user="bob"
    )

    assert orders.instance(review.id).state == "completed"
    finished = orders.instance(order.id)
    assert finished.state == "completed"
    assert finished.variables == {"amount": 120, "approved": True, "note": "fine"}
    types = [(e.type, e.element_id) for e in orders.history(order.id)]
    assert ("call_started", "review_order") in types
    assert types.index(("call_started", "review_order")) < types.index(
        ("activity_completed", "review_order")
    )


def test_call_activity__interrupting_timer_terminates_the_called_instance(
    orders: flowdesk.Engine, clock: Clock
) -> None:
    order = orders.start("order", {"amount": 5}, business_key="SO-2")
    (review,) = orders.instances(parent_id=order.id)
    task = only_task(orders, review.id)

    clock.advance(days=3, seconds=1)
    assert orders.run_due_jobs() == 1

    assert orders.instance(order.id).state == "completed"
    ended = orders.instance(review.id)
    assert ended.state == "terminated" and ended.ended_at == clock.now
    assert orders.task(task.id).state == "cancelled"
    assert "instance_terminated" in [e.type for e in orders.history(review.id)]
    with pytest.raises(flowdesk.TaskStateError):
        orders.complete(task.id, {"approved": True}, user="bob")


def test_call_activity__multi_instance_over_a_collection_creates_one_task_per_element(
    engine: flowdesk.Engine,
) -> None:
    engine.deploy(DATA / "calls_panel.bpmn")
    panel = engine.start("panel", {"reviewers": ["ann", "ben", "cy"], "topic": "budget"})

    called = engine.instances(parent_id=panel.id)
    assert sorted(i.variables["reviewer"] for i in called) == ["ann", "ben", "cy"]
    tasks = engine.tasks()
    assert sorted(t.assignee or "" for t in tasks) == ["ann", "ben", "cy"]
    assert {t.name for t in tasks} == {"Review budget"}  # Camunda evaluates ${} in task names
    assert {t.instance_id for t in tasks} == {i.id for i in called}

    for task in tasks:
        assert engine.instance(panel.id).state == "running"
        engine.complete(task.id, {}, user=task.assignee)
    assert engine.instance(panel.id).state == "completed"


def test_call_activity__called_instance_that_ends_at_once_lets_the_caller_go_on(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    (tmp_path / "child.bpmn").write_text(callee("child", "answer = 42"))
    (tmp_path / "caller.bpmn").write_text(caller('calledElement="child"'))
    engine.deploy(tmp_path)

    instance = engine.start("caller")

    assert only_task(engine, instance.id).element_id == "After"
    assert engine.instance(instance.id).variables == {"answer": 42}
    (child,) = engine.instances(parent_id=instance.id)
    assert child.state == "completed"


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ('calledElement="child"', 2),
        ('calledElement="child" camunda:calledElementBinding="latest"', 2),
        ('calledElement="child" camunda:calledElementBinding="deployment"', 1),
        (
            'calledElement="child" camunda:calledElementBinding="version" '
            'camunda:calledElementVersion="1"',
            1,
        ),
    ],
)
def test_call_activity__binding_picks_the_called_version(
    engine: flowdesk.Engine, tmp_path: Path, attributes: str, expected: int
) -> None:
    (tmp_path / "child.bpmn").write_text(callee("child", "version = 1"))
    engine.deploy(tmp_path / "child.bpmn")
    (tmp_path / "caller.bpmn").write_text(caller(attributes))
    engine.deploy(tmp_path / "caller.bpmn")
    (tmp_path / "child.bpmn").write_text(callee("child", "version = 2"))
    engine.deploy(tmp_path / "child.bpmn")

    instance = engine.start("caller")

    assert engine.instance(instance.id).variables["version"] == expected
    (child,) = engine.instances(parent_id=instance.id)
    assert child.version == expected


def test_call_activity__process_not_deployed_is_an_incident_that_retry_resolves(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> None:
    engine = make_engine()
    (tmp_path / "caller.bpmn").write_text(caller('calledElement="${target}"'))
    engine.deploy(tmp_path / "caller.bpmn")

    instance = engine.start("caller", {"target": "later"})

    failed = engine.instance(instance.id)
    assert failed.state == "incident"
    assert failed.incident is not None and "later" in failed.incident
    assert engine.instances(parent_id=instance.id) == []

    (tmp_path / "later.bpmn").write_text(callee("later", "done = True"))
    engine.deploy(tmp_path / "later.bpmn")
    engine.retry(instance.id)

    assert engine.instance(instance.id).state == "running"
    assert only_task(engine, instance.id).element_id == "After"
    assert engine.instance(instance.id).variables == {"target": "later", "done": True}


ERRORS = (
    HEAD
    + """
  <bpmn:error id="Err_rejected" name="Rejected" errorCode="REJECTED" />
  <bpmn:process id="check" isExecutable="true">
    <bpmn:startEvent id="S2" />
    <bpmn:userTask id="Inspect" />
    <bpmn:exclusiveGateway id="Ok" default="G_ok" />
    <bpmn:endEvent id="Passed" />
    <bpmn:endEvent id="Failed">
      <bpmn:errorEventDefinition errorRef="Err_rejected" />
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="G1" sourceRef="S2" targetRef="Inspect" />
    <bpmn:sequenceFlow id="G2" sourceRef="Inspect" targetRef="Ok" />
    <bpmn:sequenceFlow id="G_ok" sourceRef="Ok" targetRef="Passed" />
    <bpmn:sequenceFlow id="G_fail" sourceRef="Ok" targetRef="Failed">
      <bpmn:conditionExpression>${!fine}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
  <bpmn:process id="shipping" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:callActivity id="Call_check" calledElement="check" />
    <bpmn:boundaryEvent id="Check_failed" attachedToRef="Call_check">
      <bpmn:errorEventDefinition errorRef="Err_rejected" camunda:errorCodeVariable="why" />
    </bpmn:boundaryEvent>
    <bpmn:userTask id="Ship" />
    <bpmn:userTask id="Return" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Call_check" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call_check" targetRef="Ship" />
    <bpmn:sequenceFlow id="F3" sourceRef="Check_failed" targetRef="Return" />
  </bpmn:process>
</bpmn:definitions>
"""
)


@pytest.mark.parametrize(("fine", "next_task"), [(True, "Ship"), (False, "Return")])
def test_call_activity__error_end_event_of_the_called_process_reaches_its_boundary(
    engine: flowdesk.Engine, tmp_path: Path, fine: bool, next_task: str
) -> None:
    (tmp_path / "shipping.bpmn").write_text(ERRORS)
    engine.deploy(tmp_path / "shipping.bpmn")
    shipping = engine.start("shipping")
    (check,) = engine.instances(parent_id=shipping.id)

    engine.complete(only_task(engine, check.id).id, {"fine": fine})

    assert only_task(engine, shipping.id).element_id == next_task
    assert engine.instance(check.id).state == "completed"  # its one path ended either way
    if not fine:
        assert engine.instance(shipping.id).variables == {"why": "REJECTED"}
