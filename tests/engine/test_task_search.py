"""flowdesk's task search and task serialization give SpiffWorkflow's answers (see `task_search`
and `serializer`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.bpmn.specs.defaults import UserTask
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.spiff import serializer, task_search
from flowdesk.engine.spiff.serializer import InstanceSerializer
from flowdesk.engine.spiff.task_search import FlowdeskWorkflow, find_tasks

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
)

# A user task, then a subprocess holding a user task, then a parallel split into two user
# tasks: predicted, definite and finished tasks, and a sub-workflow, in one tree.
MODEL = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS} id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>
    <bpmn:userTask id="first"/>
    <bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="sub"/>
    <bpmn:subProcess id="sub">
      <bpmn:startEvent id="sub_start"/>
      <bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="inner"/>
      <bpmn:userTask id="inner"/>
      <bpmn:sequenceFlow id="s2" sourceRef="inner" targetRef="sub_end"/>
      <bpmn:endEvent id="sub_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f3" sourceRef="sub" targetRef="split"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f4" sourceRef="split" targetRef="left"/>
    <bpmn:sequenceFlow id="f5" sourceRef="split" targetRef="right"/>
    <bpmn:userTask id="left"/>
    <bpmn:userTask id="right"/>
    <bpmn:sequenceFlow id="f6" sourceRef="left" targetRef="join"/>
    <bpmn:sequenceFlow id="f7" sourceRef="right" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f8" sourceRef="join" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

QUERIES: list[dict[str, Any]] = [
    {},
    {"state": TaskState.READY},
    {"state": TaskState.READY, "manual": True},
    {"state": TaskState.READY, "manual": False},
    {"state": TaskState.COMPLETED},
    {"state": TaskState.FINISHED_MASK},
    {"state": TaskState.MAYBE | TaskState.LIKELY},
    {"state": TaskState.WAITING | TaskState.READY | TaskState.STARTED},
    {"spec_class": UserTask},
    {"state": TaskState.READY, "spec_name": "inner"},
]


@pytest.fixture
def workflow(tmp_path: Path) -> Any:
    path = tmp_path / "model.bpmn"
    path.write_text(MODEL)
    parser = CamundaParser()
    parser.add_bpmn_file(str(path))
    spec = parser.get_spec("p")
    return FlowdeskWorkflow(spec, parser.get_subprocess_specs("p"))


def _run_ready_user_task(workflow: Any, element_id: str) -> None:
    (task,) = [
        t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == element_id
    ]
    task.run()
    workflow.do_engine_steps()


def _answers_match(workflow: Any) -> None:
    spiff = super(FlowdeskWorkflow, workflow)
    for query in QUERIES:
        assert find_tasks(workflow, **query) == spiff.get_tasks(**query), query


def test_search_gives_spiffs_tasks_in_spiffs_order_at_each_stage(workflow: Any) -> None:
    workflow.do_engine_steps()
    _answers_match(workflow)  # predicted tasks beyond the first user task
    _run_ready_user_task(workflow, "first")
    _answers_match(workflow)  # inside the subprocess: its workflow's root follows its task
    _run_ready_user_task(workflow, "inner")
    _answers_match(workflow)  # a finished sub-workflow, two parallel branches
    _run_ready_user_task(workflow, "left")
    _answers_match(workflow)
    _run_ready_user_task(workflow, "right")
    _answers_match(workflow)
    assert workflow.completed


def test_ready_tasks_come_depth_first_in_flow_order(workflow: Any) -> None:
    workflow.do_engine_steps()
    _run_ready_user_task(workflow, "first")
    _run_ready_user_task(workflow, "inner")
    ready = workflow.get_tasks(state=TaskState.READY)
    assert [t.task_spec.bpmn_id for t in ready] == ["left", "right"]


def test_a_tree_deeper_than_the_search_handles_is_left_to_spiff(workflow: Any) -> None:
    workflow.do_engine_steps()
    assert find_tasks(workflow) is not None
    # A chain of tasks as deep as Spiff's iterator limit, built under the root's first child.
    task = workflow.task_tree
    for _ in range(1100):
        task = task._add_child(task.task_spec, TaskState.COMPLETED)
    assert find_tasks(workflow) is None
    # Spiff's own answer (with its depth limit) is what get_tasks gives.
    spiff = super(FlowdeskWorkflow, workflow)
    assert workflow.get_tasks(state=TaskState.COMPLETED) == spiff.get_tasks(
        state=TaskState.COMPLETED
    )


def test_queries_the_search_does_not_handle_go_to_spiff(workflow: Any) -> None:
    workflow.do_engine_steps()
    spiff = super(FlowdeskWorkflow, workflow)
    first = workflow.task_tree
    assert workflow.get_tasks(first_task=first, state=TaskState.READY) == spiff.get_tasks(
        first_task=first, state=TaskState.READY
    )
    assert workflow.get_tasks(state=TaskState.READY, max_depth=2) == spiff.get_tasks(
        state=TaskState.READY, max_depth=2
    )


def test_the_suite_compares_every_search_with_spiff() -> None:
    assert task_search.VERIFY


def test_task_dicts_are_spiffs_at_each_stage(workflow: Any) -> None:
    # The serializer's task converter gives what Spiff's own gives, for every task (VERIFY).
    assert serializer.VERIFY
    workflow.do_engine_steps()
    for element_id in (None, "first", "inner", "left", "right"):
        if element_id:
            _run_ready_user_task(workflow, element_id)
        state = json.loads(InstanceSerializer.dump(workflow, {}))
        assert state["tasks"]
        assert serializer.mismatches == []
