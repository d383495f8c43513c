"""Pruning finished work from the workflow between engine steps (flowdesk.engine.spiff.pruning).

These drive `WorkflowRun` directly, without a database, and look at the state it dumps: what
the engine stores for an instance is all that pruning may leave behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from lxml import etree

from flowdesk import handlers
from flowdesk.engine.deployment.parser import FlowdeskParser
from flowdesk.engine.instances.variable_types import encode
from flowdesk.engine.languages import timer_texts
from flowdesk.engine.spiff.script_engine import CallScope, FlowdeskScriptEngine
from flowdesk.engine.spiff.workflow import SpecBundle, WorkflowRun

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Defs" '
    'targetNamespace="http://bpmn.io/schema/bpmn">\n'
)

LOOP = (
    HEAD
    + """
  <bpmn:process id="loop" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:userTask id="Task_work" />
    <bpmn:exclusiveGateway id="Gateway_more" />
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_work" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_work" targetRef="Gateway_more" />
    <bpmn:sequenceFlow id="F3" sourceRef="Gateway_more" targetRef="Task_work">
      <bpmn:conditionExpression>${round &lt; rounds}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F4" sourceRef="Gateway_more" targetRef="End">
      <bpmn:conditionExpression>${round &gt;= rounds}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""
)

CALL_WITH_DEADLINE = (
    HEAD
    + """
  <bpmn:process id="caller" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:callActivity id="Call_work" calledElement="worker" />
    <bpmn:boundaryEvent id="Timer_deadline" attachedToRef="Call_work">
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1H</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="Task_late" />
    <bpmn:endEvent id="End_done" />
    <bpmn:endEvent id="End_late" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Call_work" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call_work" targetRef="End_done" />
    <bpmn:sequenceFlow id="F3" sourceRef="Timer_deadline" targetRef="Task_late" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_late" targetRef="End_late" />
  </bpmn:process>
  <bpmn:process id="worker" isExecutable="true">
    <bpmn:startEvent id="W_start" />
    <bpmn:endEvent id="W_end" />
    <bpmn:sequenceFlow id="W1" sourceRef="W_start" targetRef="W_end" />
  </bpmn:process>
</bpmn:definitions>
"""
)

TERMINATE_IN_A_LOOP = (
    HEAD
    + """
  <bpmn:process id="terminating" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:parallelGateway id="Gateway_split" />
    <bpmn:userTask id="Task_work" />
    <bpmn:userTask id="Task_watch" />
    <bpmn:exclusiveGateway id="Gateway_more" />
    <bpmn:endEvent id="End_stop">
      <bpmn:terminateEventDefinition />
    </bpmn:endEvent>
    <bpmn:endEvent id="End_watch" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Gateway_split" />
    <bpmn:sequenceFlow id="F2" sourceRef="Gateway_split" targetRef="Task_work" />
    <bpmn:sequenceFlow id="F3" sourceRef="Gateway_split" targetRef="Task_watch" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_watch" targetRef="End_watch" />
    <bpmn:sequenceFlow id="F5" sourceRef="Task_work" targetRef="Gateway_more" />
    <bpmn:sequenceFlow id="F6" sourceRef="Gateway_more" targetRef="Task_work">
      <bpmn:conditionExpression>${round &lt; rounds}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F7" sourceRef="Gateway_more" targetRef="End_stop">
      <bpmn:conditionExpression>${round &gt;= rounds}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""
)


@pytest.fixture(autouse=True)
def clock() -> Iterator[None]:
    with timer_texts.using_clock(lambda: NOW):
        yield


def bundle(xml: str, process_id: str) -> SpecBundle:
    parser = FlowdeskParser()
    parser.add_bpmn_xml(etree.fromstring(xml.encode()), filename=f"{process_id}.bpmn")
    return SpecBundle(parser.get_spec(process_id), parser.get_subprocess_specs(process_id))


def engine() -> FlowdeskScriptEngine:
    return FlowdeskScriptEngine(handlers.HandlerRegistry(), CallScope("i-1", "test", None))


def reload(run: WorkflowRun, spec: SpecBundle) -> WorkflowRun:
    """The run as the next engine call sees it: dumped and loaded again, with its variables
    as the variables column would hold them."""
    variables = run.variables
    return WorkflowRun.load(run.dump(variables), encode(variables), spec, engine())


def stored_tasks(run: WorkflowRun) -> list[dict[str, Any]]:
    state = json.loads(run.dump(run.variables))
    tasks = list(state["tasks"].values())
    for sub in state["subprocesses"].values():
        tasks.extend(sub["tasks"].values())
    return tasks


def only_user_task(run: WorkflowRun) -> str:
    (task,) = run.open_user_tasks(known=())[1]
    return task.task_ref


def test_prune__a_loop_keeps_the_same_few_tasks_for_2000_rounds() -> None:
    spec = bundle(LOOP, "loop")
    run = WorkflowRun.new(spec, {"round": 0, "rounds": 2000}, engine())
    run.start()
    counts = {}
    for round_ in range(1, 2001):
        run.complete_user_task(only_user_task(run), {"round": round_})
        if round_ % 100 == 0:
            run = reload(run, spec)  # what is stored must carry on just as well
        if round_ in (10, 1999):
            counts[round_] = len(stored_tasks(run))

    assert run.incident is None
    assert run.is_completed
    assert run.variables["round"] == 2000
    assert counts[1999] == counts[10] < 10


def test_prune__history_of_the_steps_is_still_reported() -> None:
    """Pruning comes after the step's log is written: every completion is reported."""
    spec = bundle(LOOP, "loop")
    run = WorkflowRun.new(spec, {"round": 0, "rounds": 600}, engine())
    run.start()
    for round_ in range(1, 601):
        run.complete_user_task(only_user_task(run), {"round": round_})

    gateways = [a for a in run.log.completed if a.element_id == "Gateway_more"]
    assert len(gateways) == 600
    assert [g.next_elements for g in gateways[-2:]] == [("Task_work",), ("End",)]
    assert run.is_completed


def test_prune__keeps_a_cancelled_call_activity_until_its_instance_is_ended() -> None:
    spec = bundle(CALL_WITH_DEADLINE, "caller")
    run = WorkflowRun.new(spec, {}, engine())
    run.start()
    (request,) = run.call_requests()
    run.mark_call_started(request.task_ref, "called-1")
    run = reload(run, spec)
    (wait,) = run.waits()
    assert wait.due_at == NOW + timedelta(hours=1)

    with timer_texts.using_clock(lambda: NOW + timedelta(hours=2)):
        assert run.fire_due_timer(wait.task_ref, wait.due_at)
    run = reload(run, spec)  # the engine saves before it ends the called instance

    assert run.abandoned_calls() == ["called-1"]
    assert run.abandoned_calls() == []  # marked: ended once only
    run.complete_user_task(only_user_task(run), {})
    assert run.is_completed
    assert not any(t["task_spec"] == "Call_work" for t in stored_tasks(run))


def test_prune__a_terminate_end_event_is_still_known_after_a_long_loop() -> None:
    spec = bundle(TERMINATE_IN_A_LOOP, "terminating")
    run = WorkflowRun.new(spec, {"round": 0, "rounds": 700}, engine())
    run.start()
    for round_ in range(1, 701):
        work = next(t for t in run.open_user_tasks(known=())[1] if t.element_id == "Task_work")
        run.complete_user_task(work.task_ref, {"round": round_})
        if round_ == 650:
            run = reload(run, spec)

    assert run.is_completed
    assert run.terminated_by == "End_stop"
    assert run.open_user_tasks(known=())[1] == []
