"""A caller resolves the processes it calls, whatever the order files are deployed in."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import only_task

import flowdesk

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" '
    'targetNamespace="http://bpmn.io/schema/bpmn">\n'
)
CALLER = (
    HEAD
    + """
  <bpmn:process id="caller" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:callActivity id="Call_child" calledElement="child" />
    <bpmn:userTask id="Task_after" name="After the call" />
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Call_child" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call_child" targetRef="Task_after" />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_after" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>
"""
)
CHILD = (
    HEAD
    + """
  <bpmn:process id="child" isExecutable="true">
    <bpmn:startEvent id="S2" />
    <bpmn:userTask id="Task_child" name="Inside the child" />
    <bpmn:endEvent id="E2" />
    <bpmn:sequenceFlow id="G1" sourceRef="S2" targetRef="Task_child" />
    <bpmn:sequenceFlow id="G2" sourceRef="Task_child" targetRef="E2" />
  </bpmn:process>
</bpmn:definitions>
"""
)


def run_through(engine: flowdesk.Engine) -> None:
    instance = engine.start("caller")
    (called,) = engine.instances(parent_id=instance.id)
    assert only_task(engine, called.id).element_id == "Task_child"
    engine.complete(only_task(engine, called.id).id)
    assert only_task(engine, instance.id).element_id == "Task_after"


def test_folder_deploy__caller_file_sorting_first_still_finds_its_callee(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    (tmp_path / "a_caller.bpmn").write_text(CALLER)
    (tmp_path / "b_child.bpmn").write_text(CHILD)
    engine.deploy(tmp_path)
    run_through(engine)


def test_deploy__caller_alone_after_its_callee_was_deployed(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    (tmp_path / "child.bpmn").write_text(CHILD)
    (tmp_path / "caller.bpmn").write_text(CALLER)
    engine.deploy(tmp_path / "child.bpmn")
    engine.deploy(tmp_path / "caller.bpmn")
    run_through(engine)


def test_deploy__caller_before_its_callee_warns_and_the_call_waits_for_a_retry(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    # Camunda 7 deploys a caller alone and resolves the called process when the call runs.
    (tmp_path / "caller.bpmn").write_text(CALLER)
    (tmp_path / "child.bpmn").write_text(CHILD)
    with pytest.warns(flowdesk.MissingCalledProcessWarning) as caught:
        engine.deploy(tmp_path / "caller.bpmn")
    (warning,) = [w.message for w in caught]
    assert isinstance(warning, flowdesk.MissingCalledProcessWarning)
    assert (warning.problem.element_id, warning.problem.line) == ("Call_child", 6)

    instance = engine.start("caller")
    assert instance.state == "incident"
    assert instance.incident is not None and "'child'" in instance.incident
    assert engine.instances(parent_id=instance.id) == []

    engine.deploy(tmp_path / "child.bpmn")
    engine.retry(instance.id)

    (called,) = engine.instances(parent_id=instance.id)
    assert only_task(engine, called.id).element_id == "Task_child"
