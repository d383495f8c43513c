"""Service tasks run registered Python code; a failure is an incident that can be retried."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from conftest import DATA, only_task

import flowdesk
from flowdesk.external_worker import ExternalTaskWorker


def register_billing(registry: flowdesk.HandlerRegistry, calls: list[str]) -> None:
    def price(call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        calls.append(f"price:{call.implementation}:{call.business_key}")
        return {"price": call.variables["quantity"] * 10}

    def tax(call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        calls.append("tax")
        return {"tax": call.variables["price"] // 10}

    class Totals:
        def add(self, a: int, b: int) -> int:
            calls.append("total")
            return a + b

    registry.register_service("PriceCalculator", price)
    registry.register_service("taxDelegate", tax)
    registry.register_service("invoicing", lambda call: calls.append("invoice") and None)
    # A bean for camunda:expression is looked up by name among the registered services.
    registry.register_service("totals", Totals())  # type: ignore[arg-type]


def test_service_tasks__class_delegate_and_expression_run_their_handlers_at_once(
    make_engine,
) -> None:
    calls: list[str] = []
    engine = make_engine()
    register_billing(engine.handlers, calls)
    engine.deploy(DATA / "service_tasks.bpmn")
    instance = engine.start("billing", {"quantity": 3}, business_key="INV-9")

    variables = engine.instance(instance.id).variables
    assert (variables["price"], variables["tax"], variables["total"]) == (30, 3, 33)
    assert calls == ["price:com.acme.billing.PriceCalculator:INV-9", "tax", "total"]


def test_service_task__of_type_external_waits_until_a_worker_runs_the_topic_handler(
    make_engine,
) -> None:
    # Camunda 7 never runs an external task in the engine: a worker fetches it.
    calls: list[str] = []
    engine = make_engine()
    register_billing(engine.handlers, calls)
    engine.deploy(DATA / "service_tasks.bpmn")
    instance = engine.start("billing", {"quantity": 3}, business_key="INV-9")
    (waiting,) = engine.external_tasks(instance_id=instance.id)
    assert (waiting.element_id, waiting.topic, "invoice" in calls) == (
        "Task_invoice",
        "invoicing",
        False,
    )
    assert engine.tasks(instance_id=instance.id) == []

    result = ExternalTaskWorker(engine, ["invoicing"]).run_once()

    assert (result.completed, calls[-1]) == (1, "invoice")
    assert engine.external_tasks(instance_id=instance.id) == []
    assert only_task(engine, instance.id).element_id == "Task_check"


def test_service_task__without_handler_warns_at_deploy_and_is_an_incident_at_run(
    make_engine,
) -> None:
    engine = make_engine()
    with pytest.warns(flowdesk.MissingHandlerWarning) as warned:
        engine.deploy(DATA / "service_tasks.bpmn")
    # The external task waits for a worker, not for a handler: no warning for it.
    assert sorted(w.message.element_id for w in warned) == [  # type: ignore[union-attr]
        "Task_price",
        "Task_tax",
    ]
    instance = engine.start("billing", {"quantity": 3})

    assert instance.state == "incident"
    assert "PriceCalculator" in (instance.incident or "")
    incident = [e for e in engine.history(instance.id) if e.type == "incident"]
    assert incident and incident[0].element_id == "Task_price"
    assert engine.tasks(instance_id=instance.id) == []


def test_retry__after_registering_the_handler_completes_the_step(make_engine) -> None:
    engine = make_engine()
    with pytest.warns(flowdesk.MissingHandlerWarning):
        engine.deploy(DATA / "service_tasks.bpmn")
    instance = engine.start("billing", {"quantity": 2})
    assert instance.state == "incident"

    calls: list[str] = []
    register_billing(engine.handlers, calls)
    retried = engine.retry(instance.id, user="ops")

    assert retried.state == "running"
    assert retried.variables["total"] == 22
    assert [t.element_id for t in engine.external_tasks(instance_id=instance.id)] == [
        "Task_invoice"
    ]
    assert "incident_retried" in [e.type for e in engine.history(instance.id)]


def test_failing_handler__becomes_an_incident_not_an_exception(make_engine) -> None:
    engine = make_engine()
    calls: list[str] = []
    register_billing(engine.handlers, calls)

    def broken(call: flowdesk.ServiceCall) -> None:
        raise ConnectionError("tax service unreachable")

    engine.handlers.register_service("taxDelegate", broken)
    engine.deploy(DATA / "service_tasks.bpmn")
    instance = engine.start("billing", {"quantity": 1})

    assert instance.state == "incident"
    assert "tax service unreachable" in (instance.incident or "")
    assert instance.variables["price"] == 10  # the step before the failure is kept


def test_retry__of_an_instance_without_incident_raises(make_engine) -> None:
    engine = make_engine()
    register_billing(engine.handlers, [])
    engine.deploy(DATA / "service_tasks.bpmn")
    instance = engine.start("billing", {"quantity": 1})
    with pytest.raises(flowdesk.InstanceStateError):
        engine.retry(instance.id)


def test_script_task__importing_modules_is_refused_at_deploy(engine: flowdesk.Engine) -> None:
    # The sandbox refuses the import every time the script runs, so deploy refuses the model.
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(DATA / "script_escape.bpmn")
    (problem,) = caught.value.problems
    assert (problem.element_id, problem.line) == ("Script_escape", 6)
    assert "imports are not allowed" in problem.message
    assert engine.definitions() == []


SEND_TASK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="x">
  <bpmn:process id="notify" isExecutable="true">
    <bpmn:startEvent id="S" />
    <bpmn:sendTask id="Mail" camunda:type="external" camunda:topic="emailService" />
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="Mail" />
    <bpmn:sequenceFlow id="F2" sourceRef="Mail" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_send_task__of_type_external_waits_for_a_worker_like_a_service_task(
    engine, tmp_path
) -> None:
    sent: list[str] = []
    engine.handlers.register_service("emailService", lambda call: sent.append(call.element_id))
    (tmp_path / "notify.bpmn").write_text(SEND_TASK)
    engine.deploy(tmp_path / "notify.bpmn")

    instance = engine.start("notify")
    assert (instance.state, sent) == ("running", [])
    ExternalTaskWorker(engine, ["emailService"]).run_once()

    assert (engine.instance(instance.id).state, sent) == ("completed", ["Mail"])


RULE_TASK_AS_SERVICE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="r_defs" targetNamespace="t">
  <bpmn:process id="rules_in_java" isExecutable="true">
    <bpmn:startEvent id="r_start"/>
    <bpmn:sequenceFlow id="r1" sourceRef="r_start" targetRef="r_rules"/>
    <bpmn:businessRuleTask id="r_rules" {implementation}/>
    <bpmn:sequenceFlow id="r2" sourceRef="r_rules" targetRef="r_end"/>
    <bpmn:endEvent id="r_end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize(
    "implementation",
    [
        'camunda:class="com.acme.Rules"',
        'camunda:type="external" camunda:topic="com.acme.Rules"',
    ],
    ids=["class", "external topic"],
)
def test_business_rule_task__without_decision_ref_runs_its_implementation_as_a_service(
    make_engine, tmp_path, implementation: str
) -> None:
    # Camunda's parseBusinessRuleTask: no decisionRef, so it is parsed like a service task.
    registry = flowdesk.HandlerRegistry()
    registry.register_service("com.acme.Rules", lambda call: {"checked_by": call.element_id})
    engine = make_engine(handlers=registry)
    (tmp_path / "rules.bpmn").write_text(RULE_TASK_AS_SERVICE.format(implementation=implementation))
    engine.deploy(tmp_path / "rules.bpmn")

    instance = engine.start("rules_in_java")
    if "external" in implementation:  # it waits for a worker, as in Camunda
        assert instance.state == "running"
        ExternalTaskWorker(engine, ["com.acme.Rules"]).run_once()
        instance = engine.instance(instance.id)

    assert instance.state == "completed"
    assert instance.variables == {"checked_by": "r_rules"}
