"""A receive task without a message waits until `Engine.trigger` moves it on, as in Camunda 7.

Camunda 7 runs such a receive task as a plain wait state that `runtimeService.signal(
executionId)` ends (`ReceiveTaskTest.testWaitStateBehavior`); `Engine.waits` lists it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import flowdesk

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="t">
"""

GOODS = (
    HEAD
    + """
  <bpmn:message id="Msg_invoice" name="invoice_received" />
  <bpmn:process id="goods_in" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:parallelGateway id="Fork" />
    <bpmn:receiveTask id="Await_goods" name="Goods arrive" />
    <bpmn:receiveTask id="Await_invoice" messageRef="Msg_invoice" />
    <bpmn:parallelGateway id="Join" />
    <bpmn:userTask id="Book" />
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Fork" />
    <bpmn:sequenceFlow id="F2" sourceRef="Fork" targetRef="Await_goods" />
    <bpmn:sequenceFlow id="F3" sourceRef="Fork" targetRef="Await_invoice" />
    <bpmn:sequenceFlow id="F4" sourceRef="Await_goods" targetRef="Join" />
    <bpmn:sequenceFlow id="F5" sourceRef="Await_invoice" targetRef="Join" />
    <bpmn:sequenceFlow id="F6" sourceRef="Join" targetRef="Book" />
    <bpmn:sequenceFlow id="F7" sourceRef="Book" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>
"""
)

PALLETS = (
    HEAD
    + """
  <bpmn:process id="pallets" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:receiveTask id="Await_pallet">
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality>${count}</bpmn:loopCardinality>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:receiveTask>
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Await_pallet" />
    <bpmn:sequenceFlow id="F2" sourceRef="Await_pallet" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>
"""
)


@pytest.fixture
def deployed(
    make_engine: Callable[..., flowdesk.Engine], tmp_path: Path
) -> Callable[[str], flowdesk.Engine]:
    def deploy(model: str) -> flowdesk.Engine:
        (tmp_path / "model.bpmn").write_text(model)
        engine = make_engine()
        engine.deploy(tmp_path / "model.bpmn")
        return engine

    return deploy


def test_receive_task_without_message__waits_and_is_listed_as_waiting_for_a_trigger(
    deployed: Callable[[str], flowdesk.Engine],
) -> None:
    engine = deployed(GOODS)

    instance = engine.start("goods_in")

    assert instance.state == "running"
    assert engine.tasks(instance_id=instance.id) == []
    assert engine.jobs(instance_id=instance.id) == []
    assert sorted(engine.waits(instance.id), key=lambda w: w.element_id) == [
        flowdesk.Wait(instance_id=instance.id, element_id="Await_goods", kind="trigger", name=None),
        flowdesk.Wait(
            instance_id=instance.id,
            element_id="Await_invoice",
            kind="message",
            name="invoice_received",
        ),
    ]


def test_trigger__moves_the_receive_task_on_with_its_variables(
    deployed: Callable[[str], flowdesk.Engine],
) -> None:
    engine = deployed(GOODS)
    instance = engine.start("goods_in", {"order": "PO-9"})

    moved = engine.trigger(instance.id, "Await_goods", variables={"pallets": 3})

    assert moved.state == "running"
    assert moved.variables == {"order": "PO-9", "pallets": 3}
    assert [w.element_id for w in engine.waits(instance.id)] == ["Await_invoice"]
    assert engine.tasks(instance_id=instance.id) == []  # the join waits for the invoice
    engine.correlate("invoice_received")
    (book,) = engine.tasks(instance_id=instance.id)
    assert book.element_id == "Book"
    engine.complete(book.id, {})
    assert engine.instance(instance.id).state == "completed"
    assert engine.waits(instance.id) == []


def test_trigger__where_nothing_waits_for_one_is_refused_and_changes_nothing(
    deployed: Callable[[str], flowdesk.Engine],
) -> None:
    engine = deployed(GOODS)
    instance = engine.start("goods_in")
    before = engine.history(instance.id)

    for element_id in ("Await_invoice", "Book", "No_such_element"):
        with pytest.raises(flowdesk.InstanceStateError, match=element_id):
            engine.trigger(instance.id, element_id, variables={"x": 1})

    assert engine.history(instance.id) == before
    assert engine.instance(instance.id).variables == {}
    with pytest.raises(flowdesk.NotFound):
        engine.trigger("no-such-instance", "Await_goods")
    with pytest.raises(flowdesk.NotFound):
        engine.waits("no-such-instance")


def test_trigger__each_call_moves_one_instance_of_a_multi_instance_receive_task(
    deployed: Callable[[str], flowdesk.Engine],
) -> None:
    engine = deployed(PALLETS)
    instance = engine.start("pallets", {"count": 2})
    assert [w.kind for w in engine.waits(instance.id)] == ["trigger", "trigger"]

    engine.trigger(instance.id, "Await_pallet")

    assert engine.instance(instance.id).state == "running"
    assert len(engine.waits(instance.id)) == 1
    engine.trigger(instance.id, "Await_pallet")
    assert engine.instance(instance.id).state == "completed"
    with pytest.raises(flowdesk.InstanceStateError, match="completed"):
        engine.trigger(instance.id, "Await_pallet")
