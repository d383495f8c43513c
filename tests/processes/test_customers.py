"""Customer archive access (客户档案查阅) and the customer contact history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import flowdesk
from flowdesk.processes import customers

BPMN = Path(__file__).parents[2] / "bpmn"

CUSTOMER = {"customer_id": "C-1", "customer_name": "Acme Ltd"}


@pytest.fixture
def access_engine(engine):
    # Registered here too, so the tests do not depend on the processes' register list.
    customers.register(engine.handlers)
    engine.deploy(BPMN / "customer_archive_access.bpmn")
    return engine


def request(engine, *, requester="sam", requester_department="sales", customer_department="sales"):
    return customers.request_access(
        engine,
        requester=requester,
        requester_department=requester_department,
        customer_department=customer_department,
        reason="prepare a renewal offer",
        **CUSTOMER,
    )


def only_task(engine, instance):
    (task,) = engine.tasks(instance_id=instance.id)
    return task


def act(engine, task, user, data):
    engine.claim(task.id, user=user)
    return engine.complete(task.id, data, user=user)


def decide(engine, instance, user, decision, reason="ok"):
    return act(
        engine, only_task(engine, instance), user, {"decision": decision, "decision_reason": reason}
    )


def end_reached(engine, instance):
    (end,) = [
        event.element_id
        for event in engine.history(instance.id)
        if event.type == "activity_completed" and event.data["kind"] == "EndEvent"
    ]
    return end


# -- archive access ----------------------------------------------------------------------------


def test_requester__may_not_approve_their_own_request_though_a_manager(access_engine):
    instance = request(access_engine, requester="sally")
    task = only_task(access_engine, instance)
    assert task.candidate_groups == ("sales_manager",)

    with pytest.raises(flowdesk.NotAuthorized, match="excluded"):
        decide(access_engine, instance, "sally", "approve")

    still = only_task(access_engine, instance)
    assert (still.state, still.assignee) == ("open", None)


def test_own_department_customer__department_manager_approves_and_access_is_granted(
    access_engine, clock
):
    instance = request(access_engine)

    task = only_task(access_engine, instance)
    assert task.element_id == "Task_department_manager_approval"
    assert task.candidate_groups == ("sales_manager",)
    assert "Acme Ltd" in task.documentation and "sam" in task.documentation
    done = decide(access_engine, instance, "sally", "approve")

    assert done.state == "completed"
    assert end_reached(access_engine, instance) == "Event_access_granted"
    assert done.variables["access_until"] == (clock.now + timedelta(days=7)).isoformat()
    assert customers.may_read(access_engine, "sam", "C-1", now=clock.now)


def test_other_department_customer__only_leadership_approves(access_engine, clock):
    instance = request(access_engine, customer_department="market")

    task = only_task(access_engine, instance)
    assert task.element_id == "Task_general_manager_approval"
    assert task.candidate_groups == ("leadership",)
    with pytest.raises(flowdesk.NotAuthorized):
        access_engine.claim(task.id, user="max")  # the customer's own department manager
    with pytest.raises(flowdesk.NotAuthorized):
        access_engine.complete(
            task.id, {"decision": "approve", "decision_reason": "ok"}, user="sally"
        )
    decide(access_engine, instance, "lee", "approve")

    assert end_reached(access_engine, instance) == "Event_access_granted"
    assert customers.may_read(access_engine, "sam", "C-1", now=clock.now)


def test_manager_of_another_department__cannot_approve(access_engine):
    instance = request(access_engine)
    task = only_task(access_engine, instance)

    for user in ("max", "carl", "sam"):  # market and consulting managers, a plain salesman
        with pytest.raises(flowdesk.NotAuthorized):
            access_engine.claim(task.id, user=user)
        with pytest.raises(flowdesk.NotAuthorized):
            access_engine.complete(
                task.id, {"decision": "approve", "decision_reason": "ok"}, user=user
            )
    assert access_engine.instance(instance.id).state == "running"


@pytest.mark.parametrize(
    ("customer_department", "approver"), [("sales", "sally"), ("market", "lee")]
)
def test_refusal__ends_access_refused_with_the_reason(
    access_engine, clock, customer_department, approver
):
    instance = request(access_engine, customer_department=customer_department)

    done = decide(access_engine, instance, approver, "refuse", "no business need")

    assert done.state == "completed"
    assert end_reached(access_engine, instance) == "Event_access_refused"
    assert done.variables["decision_reason"] == "no business need"
    assert "access_until" not in done.variables
    assert not customers.may_read(access_engine, "sam", "C-1", now=clock.now)


def test_clarification__loops_back_to_the_same_approver_until_decided(access_engine, clock):
    instance = request(access_engine, customer_department="market")

    for round_ in (1, 2):
        decide(access_engine, instance, "lee", "clarify", f"which offer? ({round_})")
        task = only_task(access_engine, instance)
        assert task.element_id == "Task_clarify_request"
        assert task.assignee == "sam"
        assert f"which offer? ({round_})" in task.documentation
        with pytest.raises(flowdesk.NotAuthorized):
            access_engine.complete(task.id, {"reason": "not mine"}, user="sally")
        access_engine.complete(task.id, {"reason": f"renewal, round {round_}"}, user="sam")
        assert only_task(access_engine, instance).element_id == "Task_general_manager_approval"

    done = decide(access_engine, instance, "lee", "approve")
    assert done.variables["reason"] == "renewal, round 2"
    assert customers.may_read(access_engine, "sam", "C-1", now=clock.now)


def test_access__expires_after_seven_days_on_the_engine_clock(access_engine, clock):
    decide(access_engine, request(access_engine), "sally", "approve")
    granted_at = clock.now

    clock.advance(days=6, hours=23)
    assert customers.may_read(access_engine, "sam", "C-1")
    clock.advance(hours=1)
    assert not customers.may_read(access_engine, "sam", "C-1")
    assert customers.may_read(access_engine, "sam", "C-1", now=granted_at)


def test_access__holds_only_for_the_requester_and_customer_once_granted(access_engine, clock):
    instance = request(access_engine)
    assert not customers.may_read(access_engine, "sam", "C-1", now=clock.now)  # pending

    decide(access_engine, instance, "sally", "approve")

    assert customers.may_read(access_engine, "sam", "C-1", now=clock.now)
    assert not customers.may_read(access_engine, "sally", "C-1", now=clock.now)
    assert not customers.may_read(access_engine, "sam", "C-2", now=clock.now)


def test_request__refuses_unknown_departments_and_empty_reasons(access_engine):
    with pytest.raises(ValueError, match="requester_department"):
        request(access_engine, requester_department="Sales")
    with pytest.raises(ValueError, match="customer_department"):
        request(access_engine, customer_department="nowhere")
    with pytest.raises(ValueError, match="reason"):
        customers.request_access(
            access_engine,
            requester="sam",
            requester_department="sales",
            customer_department="sales",
            reason=" ",
            **CUSTOMER,
        )
    assert access_engine.instances(key=customers.KEY) == []


# -- contact history ---------------------------------------------------------------------------

CONTACTS_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="http://x">
  <bpmn:process id="account_care" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:userTask id="Task_visit" name="Visit the customer" camunda:candidateGroups="sales">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="customerContact" value="visit" />
        </camunda:properties>
        <camunda:formData>
          <camunda:formField id="notes" label="Notes" type="string" />
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="Task_plan" name="Plan the offer" camunda:candidateGroups="sales" />
    <bpmn:userTask id="Task_call" name="Call the customer" camunda:candidateGroups="sales">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="customerContact" value="call" />
        </camunda:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_visit" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_visit" targetRef="Task_plan" />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_plan" targetRef="Task_call" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_call" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
"""


def complete_next(engine, instance, user, data=None):
    task = only_task(engine, instance)
    act(engine, task, user, data or {})
    return task


def test_contact_history__lists_completed_contact_tasks_of_the_customer_oldest_first(
    access_engine, clock, tmp_path: Path
):
    (tmp_path / "account_care.bpmn").write_text(CONTACTS_BPMN)
    access_engine.deploy(tmp_path / "account_care.bpmn")
    first = access_engine.start("account_care", CUSTOMER, business_key="CARE-1")
    second = access_engine.start("account_care", CUSTOMER, business_key="CARE-2")
    other = access_engine.start("account_care", {"customer_id": "C-2"})
    decide(access_engine, request(access_engine), "sally", "approve")  # not a contact

    clock.advance(hours=1)
    visit = complete_next(access_engine, first, "sam", {"notes": "likes the new line"})
    clock.advance(hours=1)
    complete_next(access_engine, other, "sam")  # another customer's visit
    clock.advance(hours=1)
    second_visit = complete_next(access_engine, second, "sally")
    clock.advance(hours=1)
    complete_next(access_engine, first, "sam")  # planning: not a contact
    clock.advance(hours=1)
    call = complete_next(access_engine, first, "sally")
    # the second instance's call is still open: not a contact yet

    history = customers.contact_history(access_engine, "C-1")

    assert [(c.task_id, c.channel, c.step, c.user) for c in history] == [
        (visit.id, "visit", "Visit the customer", "sam"),
        (second_visit.id, "visit", "Visit the customer", "sally"),
        (call.id, "call", "Call the customer", "sally"),
    ]
    assert [c.business_key for c in history] == ["CARE-1", "CARE-2", "CARE-1"]
    assert {c.process_key for c in history} == {"account_care"}
    assert history[0].instance_id == first.id
    assert history[0].data == {"notes": "likes the new line"}
    assert history[0].at < history[1].at < history[2].at
    assert customers.contact_history(access_engine, "C-3") == []
