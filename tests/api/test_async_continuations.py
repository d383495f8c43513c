"""`camunda:asyncBefore` / `asyncAfter`: the call reaching the element returns; a job goes on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from conftest import DATA, Clock

import flowdesk


@pytest.fixture
def charges() -> list[str]:
    return []


@pytest.fixture
def payments(make_engine: Callable[..., flowdesk.Engine], charges: list[str]) -> flowdesk.Engine:
    engine = make_engine()

    def charge(call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        charges.append(call.variables["order"])
        return {"charged": True}

    engine.handlers.register_service("paymentGateway", charge)
    engine.deploy(DATA / "async_payment.bpmn")
    return engine


def history_types(engine: flowdesk.Engine, instance_id: str) -> list[str]:
    return [event.type for event in engine.history(instance_id)]


def test_async_before__start_returns_at_the_service_task_and_a_job_runs_it(
    payments: flowdesk.Engine, charges: list[str]
) -> None:
    instance = payments.start("async_payment", {"order": "A-1"})

    assert instance.state == "running"
    assert charges == []  # the caller was not held by the service task
    assert payments.tasks(instance_id=instance.id) == []
    (job,) = payments.jobs(instance_id=instance.id)
    assert (job.type, job.element_id, job.state) == ("async", "Service_charge", "waiting")

    assert payments.run_due_jobs() == 1
    assert charges == ["A-1"]
    assert payments.instance(instance.id).variables["charged"] is True
    assert [t.element_id for t in payments.tasks(instance_id=instance.id)] == ["Task_ship"]
    assert payments.jobs(instance_id=instance.id) == []
    assert payments.run_due_jobs() == 0


def test_async_before__job_runs_the_step_once_however_often_workers_pass(
    payments: flowdesk.Engine, make_engine: Callable[..., flowdesk.Engine], charges: list[str]
) -> None:
    instance = payments.start("async_payment", {"order": "A-2"})
    other = make_engine()
    other.handlers.register_service("paymentGateway", lambda call: charges.append("other"))

    assert payments.run_due_jobs() + other.run_due_jobs() + payments.run_due_jobs() == 1
    assert charges == ["A-2"]
    completed = [
        e.element_id for e in payments.history(instance.id) if e.type == "activity_completed"
    ]
    assert completed.count("Service_charge") == 1


def test_async_before__task_cancelled_by_a_boundary_event_loses_its_job(
    payments: flowdesk.Engine, charges: list[str]
) -> None:
    instance = payments.start("async_payment", {"order": "A-3"})

    payments.correlate("order_cancelled")

    assert payments.instance(instance.id).state == "completed"
    assert payments.jobs(instance_id=instance.id) == []
    assert payments.run_due_jobs() == 0
    assert charges == []


def test_async_before_and_after__user_tasks_wait_for_their_jobs(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine()
    archived: list[str] = []
    engine.handlers.register_service("Archive", lambda call: archived.append(call.element_id))
    engine.deploy(DATA / "async_review.bpmn")

    instance = engine.start("async_review")
    # asyncBefore on a user task: the task exists only once its job ran.
    assert engine.tasks(instance_id=instance.id) == []
    assert [job.element_id for job in engine.jobs(instance_id=instance.id)] == ["Task_prepare"]
    assert engine.run_due_jobs() == 1
    (prepare,) = engine.tasks(instance_id=instance.id)
    assert (prepare.element_id, prepare.assignee) == ("Task_prepare", "alice")
    engine.complete(prepare.id, user="alice")

    (review,) = engine.tasks(instance_id=instance.id)
    after_review = engine.complete(review.id, user="bob")
    # asyncAfter: the completion returns before the archive step, which a job runs.
    assert after_review.state == "running"
    assert archived == []
    assert [job.element_id for job in engine.jobs(instance_id=instance.id)] == ["Task_review"]
    assert engine.run_due_jobs() == 1
    assert archived == ["Service_archive"]
    assert engine.instance(instance.id).state == "completed"


def test_async__multi_instance_body_waits_once_not_each_instance(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine()
    notified: list[str] = []
    engine.handlers.register_service(
        "Notify", lambda call: notified.append(call.variables["subscriber"])
    )
    engine.deploy(DATA / "async_notify_all.bpmn")

    instance = engine.start("async_notify_all", {"subscribers": ["ann", "ben", "cy"]})
    # asyncAfter on the start event, then asyncBefore on the multi-instance activity.
    assert [job.element_id for job in engine.jobs(instance_id=instance.id)] == ["Start_notify"]
    assert engine.run_due_jobs() == 1
    assert notified == []
    assert [job.element_id for job in engine.jobs(instance_id=instance.id)] == ["Service_notify"]
    assert engine.run_due_jobs() == 1
    assert notified == ["ann", "ben", "cy"]
    assert engine.instance(instance.id).state == "completed"


def test_async_before__failing_service_task_is_retried_not_an_immediate_incident(
    make_engine: Callable[..., flowdesk.Engine], clock: Clock
) -> None:
    engine = make_engine()
    outcomes = iter([RuntimeError("gateway timeout"), {"charged": True}])

    def flaky(call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    engine.handlers.register_service("paymentGateway", flaky)
    engine.deploy(DATA / "async_payment.bpmn")
    instance = engine.start("async_payment", {"order": "A-4"})

    assert engine.run_due_jobs() == 0
    assert engine.instance(instance.id).state == "running"  # not an incident: a retry is due
    (job,) = engine.jobs(instance_id=instance.id)
    assert "gateway timeout" in (job.error or "")
    clock.advance(minutes=5)
    assert engine.run_due_jobs() == 1
    assert engine.instance(instance.id).variables["charged"] is True
    assert history_types(engine, instance.id).count("job_failed") == 1
