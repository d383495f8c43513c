"""BPMN errors and escalations: end events, boundaries, event sub-processes, handlers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import DATA, open_tasks

import flowdesk


@pytest.fixture
def attempts() -> list[str]:
    return []


@pytest.fixture
def errors(make_engine: Callable[..., flowdesk.Engine], attempts: list[str]) -> flowdesk.Engine:
    def charge(call: flowdesk.ServiceCall) -> dict[str, object]:
        attempts.append(call.element_id)
        if call.variables.get("decline"):
            raise flowdesk.BpmnError("CARD_DECLINED", "declined by the bank", {"bank": "ACME"})
        return {"charged": True}

    registry = flowdesk.HandlerRegistry()
    registry.register_service("payments.Charge", charge)
    engine = make_engine(handlers=registry)
    engine.deploy(DATA / "events_errors.bpmn")
    return engine


def test_error_end_event__is_caught_by_the_error_boundary_of_its_subprocess(
    errors: flowdesk.Engine,
) -> None:
    out_of_stock = errors.start("picking", {"stock": 0})
    in_stock = errors.start("picking", {"stock": 5})

    assert open_tasks(errors, out_of_stock.id) == ["Task_reorder"]
    # camunda:errorCodeVariable on the catching boundary event
    assert errors.instance(out_of_stock.id).variables["error_code"] == "OUT_OF_STOCK"
    assert open_tasks(errors, in_stock.id) == ["Task_ship"]
    assert "error_code" not in errors.instance(in_stock.id).variables


def test_bpmn_error_from_a_handler__is_caught_by_the_boundary_with_code_and_message(
    errors: flowdesk.Engine,
) -> None:
    declined = errors.start("charging", {"decline": True})

    assert open_tasks(errors, declined.id) == ["Task_call_customer"]
    variables = errors.instance(declined.id).variables
    assert variables["code"] == "CARD_DECLINED"
    assert variables["reason"] == "declined by the bank"  # camunda:errorMessageVariable
    assert variables["bank"] == "ACME"  # the BpmnError's variables
    assert "charged" not in variables


def test_bpmn_error_from_a_handler__interrupting_error_event_subprocess_replaces_the_flow(
    errors: flowdesk.Engine,
) -> None:
    billing = errors.start("billing", {"decline": True})

    assert open_tasks(errors, billing.id) == ["Task_billing_failed"]
    assert errors.instance(billing.id).variables["code"] == "CARD_DECLINED"
    finished = engine_complete(errors, billing.id, "Task_billing_failed")
    assert finished.state == "completed"


def test_error_event_subprocess__does_not_start_without_an_error(errors: flowdesk.Engine) -> None:
    billing = errors.start("billing", {"decline": False})
    assert open_tasks(errors, billing.id) == ["Task_after_bill"]


def test_uncaught_bpmn_error__ends_its_path_like_a_none_end_event(
    errors: flowdesk.Engine, attempts: list[str]
) -> None:
    # Camunda 7 logs an unhandled BPMN error and ends the current execution.
    instance = errors.start("unguarded", {"decline": True})

    assert instance.state == "completed"
    assert open_tasks(errors, instance.id) == []
    assert attempts == ["Service_unguarded"]
    (thrown,) = [e for e in errors.history(instance.id) if e.type == "error_thrown"]
    assert thrown.data == {
        "name": "CARD_DECLINED",
        "code": "CARD_DECLINED",
        "message": "declined by the bank",
    }


def test_escalation__non_interrupting_boundary_on_the_subprocess_leaves_it_running(
    errors: flowdesk.Engine,
) -> None:
    instance = errors.start("escalating")

    assert open_tasks(errors, instance.id) == ["Task_notify_manager", "Task_review"]
    engine_complete(errors, instance.id, "Task_review")
    assert engine_complete(errors, instance.id, "Task_notify_manager").state == "completed"


def test_terminate_end_event__ends_the_instance_as_terminated_and_cancels_open_tasks(
    errors: flowdesk.Engine,
) -> None:
    instance = errors.start("stopping")

    ended = engine_complete(errors, instance.id, "Task_left")

    assert ended.state == "terminated"
    assert ended.ended_at is not None
    (right,) = [
        t for t in errors.tasks(instance_id=instance.id, state=None) if t.element_id == "Task_right"
    ]
    assert right.state == "cancelled"
    last = errors.history(instance.id)[-1]
    assert (last.type, last.element_id) == ("instance_terminated", "End_terminate")
    assert [i.id for i in errors.instances(state="terminated")] == [instance.id]


def engine_complete(
    engine: flowdesk.Engine, instance_id: str, element_id: str
) -> flowdesk.ProcessInstance:
    (task,) = [t for t in engine.tasks(instance_id=instance_id) if t.element_id == element_id]
    return engine.complete(task.id)


@pytest.fixture
def checks(engine: flowdesk.Engine) -> flowdesk.Engine:
    engine.deploy(DATA / "events_error_scopes.bpmn")
    return engine


def test_error__is_caught_only_by_boundary_events_of_activities_around_its_thrower(
    checks: flowdesk.Engine,
) -> None:
    instance = checks.start("two_checks")

    engine_complete(checks, instance.id, "Task_identity_second")
    # The escalation of the second look is not thrown inside Task_identity: its boundary
    # event stays put.
    assert open_tasks(checks, instance.id) == [
        "Task_credit_check",
        "Task_identity",
        "Task_identity_third",
    ]

    engine_complete(checks, instance.id, "Task_identity_third")
    # The error ends the sub-process at its boundary event; Task_credit_check, in the other
    # branch, is not around the thrower, so its error boundary event does not fire.
    assert open_tasks(checks, instance.id) == ["Task_credit_check", "Task_identity_failed"]
    assert checks.instance(instance.id).variables == {"code": "REJECTED"}
