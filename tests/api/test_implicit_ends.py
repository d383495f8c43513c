"""Paths that end at an activity or event with no outgoing flow, as Camunda 7 runs them.

A flow node without outgoing sequence flow ends its path (an implicit end); a process or
embedded sub-process completes when nothing in it is active any more, with or without end
events. The model `implicit_ends.bpmn` has no end event at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DATA
from lxml import etree

import flowdesk

MODEL = DATA / "implicit_ends.bpmn"


@pytest.fixture
def deployed(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(MODEL)
    return engine


def open_tasks(engine: flowdesk.Engine, instance_id: str) -> list[str]:
    return sorted(t.element_id for t in engine.tasks(instance_id=instance_id))


def complete(engine: flowdesk.Engine, instance_id: str, element_id: str) -> None:
    (task,) = [t for t in engine.tasks(instance_id=instance_id) if t.element_id == element_id]
    engine.complete(task.id, {})


def test_sub_process_without_end_event__completes_when_its_last_path_ends(
    deployed: flowdesk.Engine,
) -> None:
    case = deployed.start("onboarding")
    # The script path of the sub-process ended at once; its user task path is still open.
    assert open_tasks(deployed, case.id) == ["laptop", "welcome"]
    assert deployed.instance(case.id).variables == {"badge": "printed"}

    complete(deployed, case.id, "laptop")

    assert open_tasks(deployed, case.id) == ["first_day", "welcome"]


def test_process_without_end_event__completes_only_when_nothing_is_active(
    deployed: flowdesk.Engine,
) -> None:
    case = deployed.start("onboarding")
    complete(deployed, case.id, "welcome")
    complete(deployed, case.id, "laptop")
    assert deployed.instance(case.id).state == "running"

    complete(deployed, case.id, "first_day")

    assert deployed.instance(case.id).state == "completed"
    assert open_tasks(deployed, case.id) == []


def test_implicit_ends__history_shows_only_the_model_elements(deployed: flowdesk.Engine) -> None:
    case = deployed.start("onboarding")
    for element_id in ("laptop", "welcome", "first_day"):
        complete(deployed, case.id, element_id)

    in_model = {e.get("id") for e in etree.parse(str(MODEL)).iter() if e.get("id")}
    shown = {e.element_id for e in deployed.history(case.id) if e.element_id}
    assert shown <= in_model
    assert {"badge", "equipment", "first_day"} <= shown


def test_event_sub_process_without_end_event__its_path_ends_and_the_scope_goes_on(
    deployed: flowdesk.Engine,
) -> None:
    case = deployed.start("claim", business_key="C-1")
    deployed.correlate("claim_note", business_key="C-1")
    assert open_tasks(deployed, case.id) == ["assess", "read_note"]

    complete(deployed, case.id, "read_note")
    assert open_tasks(deployed, case.id) == ["assess"]
    complete(deployed, case.id, "assess")
    assert open_tasks(deployed, case.id) == ["pay"]
    complete(deployed, case.id, "pay")

    assert deployed.instance(case.id).state == "completed"


def test_boundary_event_without_outgoing_flow__ends_the_process_it_interrupts(
    deployed: flowdesk.Engine,
) -> None:
    case = deployed.start("claim", business_key="C-2")

    deployed.correlate("claim_withdrawn", business_key="C-2")

    assert deployed.instance(case.id).state == "completed"
    assert open_tasks(deployed, case.id) == []


def test_implicit_ends__run_on_in_a_new_engine(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    first = make_engine()
    first.deploy(MODEL)
    case = first.start("onboarding")
    complete(first, case.id, "laptop")
    first.close()

    second = make_engine()
    complete(second, case.id, "welcome")
    complete(second, case.id, "first_day")

    assert second.instance(case.id).state == "completed"
    assert second.instance(case.id).variables == {"badge": "printed"}


JOIN_AS_END = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="j_defs"
    targetNamespace="t">
  <bpmn:process id="join_as_end" isExecutable="true">
    <bpmn:startEvent id="j_start"/>
    <bpmn:sequenceFlow id="j1" sourceRef="j_start" targetRef="j_fork"/>
    <bpmn:parallelGateway id="j_fork"/>
    <bpmn:sequenceFlow id="j2" sourceRef="j_fork" targetRef="left"/>
    <bpmn:sequenceFlow id="j3" sourceRef="j_fork" targetRef="right"/>
    <bpmn:userTask id="left"/>
    <bpmn:userTask id="right"/>
    <bpmn:sequenceFlow id="j4" sourceRef="left" targetRef="j_join"/>
    <bpmn:sequenceFlow id="j5" sourceRef="right" targetRef="j_join"/>
    <bpmn:{kind} id="j_join"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize("kind", ["parallelGateway", "inclusiveGateway"])
def test_join_without_outgoing_flow__ends_the_process_once_both_paths_arrive(
    engine: flowdesk.Engine, tmp_path: Path, kind: str
) -> None:
    # Camunda's ParallelGatewayTest.testCompletingJoin: the join is the process's end.
    (tmp_path / "join.bpmn").write_text(JOIN_AS_END.format(kind=kind))
    engine.deploy(tmp_path / "join.bpmn")
    instance = engine.start("join_as_end")

    complete(engine, instance.id, "left")
    assert engine.instance(instance.id).state == "running"
    complete(engine, instance.id, "right")

    assert engine.instance(instance.id).state == "completed"
