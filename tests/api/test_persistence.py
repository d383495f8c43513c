"""State survives the program: a new Engine on the same database carries on."""

from __future__ import annotations

from collections.abc import Callable

from conftest import EXAMPLES, Clock, only_task, submit

import flowdesk


def test_new_engine_on_same_database__continues_an_instance_half_way(
    make_engine: Callable[..., flowdesk.Engine], clock: Clock
) -> None:
    first = make_engine()
    first.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = first.start("expense_approval", business_key="EXP-7", user="alice")
    submit(first, instance.id, 5000)
    first.close()

    second = make_engine()
    task = only_task(second, instance.id)
    assert task.element_id == "Task_approve"
    assert second.instance(instance.id).variables["amount"] == 5000
    second.complete(task.id, {"decision": "approve"}, user="bob")
    second.close()

    third = make_engine()
    third.complete(only_task(third, instance.id).id, {"paid_on": "2026-03-04"}, user="carol")
    final = third.instance(instance.id)
    assert final.state == "completed"
    assert final.ended_at == clock.now
    types = [event.type for event in third.history(instance.id)]
    assert types[0] == "instance_started"
    assert types[-1] == "instance_completed"
    assert types.count("task_completed") == 3


def test_instances__filter_by_key_state_and_business_key(expense: flowdesk.Engine) -> None:
    done = expense.start("expense_approval", business_key="A", user="alice")
    submit(expense, done.id, 100)
    expense.complete(only_task(expense, done.id).id, {"paid_on": "2026-03-03"}, user="carol")
    running = expense.start("expense_approval", business_key="B", user="alice")

    assert [i.id for i in expense.instances(state="completed")] == [done.id]
    assert [i.id for i in expense.instances(key="expense_approval", state="running")] == [
        running.id
    ]
    assert [i.id for i in expense.instances(business_key="B")] == [running.id]
    assert expense.instances(key="other") == []


def test_history__records_who_did_what_in_order(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    submit(expense, started_instance.id, 5000)
    task = only_task(expense, started_instance.id)
    expense.claim(task.id, user="bob")
    expense.complete(task.id, {"decision": "reject"}, user="bob")

    events = [(e.type, e.element_id, e.user) for e in expense.history(started_instance.id)]
    assert ("instance_started", None, "alice") in events
    assert ("task_completed", "Task_submit", "alice") in events
    assert ("task_claimed", "Task_approve", "bob") in events
    assert ("activity_completed", "Gateway_decision", None) in events
    assert events[-1] == ("instance_completed", None, None)
    assert expense.instance(started_instance.id).variables["decision"] == "reject"


def test_history__unknown_instance_raises_not_found(engine: flowdesk.Engine) -> None:
    import pytest

    with pytest.raises(flowdesk.NotFound):
        engine.history("no-such-instance")


def test_history__gateway_records_the_way_it_took_in_order(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    submit(expense, started_instance.id, 200)
    events = expense.history(started_instance.id)
    gateway = next(e for e in events if e.element_id == "Gateway_amount")
    assert gateway.data["next"] == ["Task_pay"]
    order = [(e.type, e.element_id) for e in events]
    assert order.index(("activity_completed", "Gateway_amount")) < order.index(
        ("task_created", "Task_pay")
    )


def test_history__gateway_outcome_is_named_when_the_target_has_a_boundary_event(
    started_instance: flowdesk.ProcessInstance, expense: flowdesk.Engine
) -> None:
    submit(expense, started_instance.id, 5000)
    gateway = next(
        e for e in expense.history(started_instance.id) if e.element_id == "Gateway_amount"
    )
    assert gateway.data["next"] == ["Task_approve"]
