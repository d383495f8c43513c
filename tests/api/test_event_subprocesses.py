"""Interrupting event sub-processes: whatever their start event, and whether or not their path
waits anywhere, they cancel the rest of the process; in one `Engine` or in a new one per call."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import DATA, Clock, complete

import flowdesk


@pytest.fixture
def archived() -> list[str]:
    return []


@pytest.fixture
def registry(archived: list[str]) -> flowdesk.HandlerRegistry:
    def archive(call: flowdesk.ServiceCall) -> dict[str, object]:
        archived.append(call.element_id)
        return {"archived": True}

    def screen(call: flowdesk.ServiceCall) -> dict[str, object]:
        raise flowdesk.BpmnError("FRAUD", "looks like fraud")

    handlers = flowdesk.HandlerRegistry()
    handlers.register_service("files.Archive", archive)
    handlers.register_service("fraud.Screen", screen)
    return handlers


@pytest.fixture
def interrupting(
    make_engine: Callable[..., flowdesk.Engine], registry: flowdesk.HandlerRegistry
) -> flowdesk.Engine:
    engine = make_engine(handlers=registry)
    engine.deploy(DATA / "events_interrupting_subprocesses.bpmn")
    return engine


def task_states(engine: flowdesk.Engine, instance_id: str) -> dict[str, str]:
    return {t.element_id: t.state for t in engine.tasks(instance_id=instance_id, state=None)}


def test_timer_event_subprocess__straight_to_its_end_cancels_the_main_flow_and_completes(
    interrupting: flowdesk.Engine, clock: Clock
) -> None:
    offer = interrupting.start("expiring_offer")

    clock.advance(hours=1)
    assert interrupting.run_due_jobs() == 1

    assert interrupting.instance(offer.id).state == "completed"
    assert task_states(interrupting, offer.id) == {"Task_accept": "cancelled"}
    assert interrupting.jobs(instance_id=offer.id) == []


def test_message_event_subprocess__scripts_and_services_only_still_interrupt(
    interrupting: flowdesk.Engine, archived: list[str]
) -> None:
    application = interrupting.start("application", business_key="A-1")

    withdrawn = interrupting.correlate("withdraw", business_key="A-1")

    assert withdrawn.id == application.id
    assert withdrawn.state == "completed"
    assert task_states(interrupting, application.id) == {
        "Task_review": "cancelled",
        "Task_check_references": "cancelled",
    }
    assert archived == ["Service_archive"]
    assert withdrawn.variables == {"withdrawn": True, "archived": True}


def test_signal_event_subprocess__ending_at_a_terminate_end_event_interrupts(
    interrupting: flowdesk.Engine,
) -> None:
    shipment = interrupting.start("shipment")

    assert interrupting.signal("recall") == 1

    # The terminate end event ends the event sub-process's own scope, and with it the process.
    assert interrupting.instance(shipment.id).state == "completed"
    assert task_states(interrupting, shipment.id) == {"Task_pack": "cancelled"}


def test_error_event_subprocess__from_a_parallel_service_cancels_the_waiting_branch(
    interrupting: flowdesk.Engine,
) -> None:
    payout = interrupting.start("payout")

    ended = complete(interrupting, payout.id, "Task_request_screening")

    assert ended.state == "completed"
    assert task_states(interrupting, payout.id) == {
        "Task_request_screening": "completed",
        "Task_approve_payout": "cancelled",
    }
    assert ended.variables == {"fraud_code": "FRAUD"}


def test_escalation_event_subprocess__interrupts_the_thrower_and_the_parallel_branch(
    interrupting: flowdesk.Engine,
) -> None:
    ticket = interrupting.start("ticket")

    ended = complete(interrupting, ticket.id, "Task_triage", {"vip": True})

    assert ended.state == "completed"
    # The throw event's own path stops too: the task after it never opens.
    assert task_states(interrupting, ticket.id) == {
        "Task_triage": "completed",
        "Task_answer": "cancelled",
    }
    assert ended.variables == {"vip": True, "escalated": "VIP"}


def test_conditional_event_subprocess__interrupts_when_a_task_makes_it_true(
    interrupting: flowdesk.Engine,
) -> None:
    budget = interrupting.start("budget", {"spent": 0})

    ended = complete(interrupting, budget.id, "Task_spend", {"spent": 150})

    assert ended.state == "completed"
    assert task_states(interrupting, budget.id) == {
        "Task_spend": "completed",
        "Task_report": "cancelled",
    }


def test_interrupting_event_subprocess__entered_in_a_new_engine_completes_the_instance(
    make_engine: Callable[..., flowdesk.Engine], registry: flowdesk.HandlerRegistry
) -> None:
    make_engine(handlers=registry).deploy(DATA / "events_interrupting_subprocesses.bpmn")
    case = make_engine(handlers=registry).start("case_file", business_key="K-1")
    make_engine(handlers=registry).correlate("close", business_key="K-1")
    fresh = make_engine(handlers=registry)
    (close,) = fresh.tasks(instance_id=case.id)

    ended = make_engine(handlers=registry).complete(close.id)

    assert (ended.state, ended.incident) == ("completed", None)
    assert task_states(fresh, case.id) == {
        "Task_investigate": "cancelled",
        "Task_close": "completed",
    }
