"""The job executor: failed jobs retry with a backoff, then become an incident that `retry` lifts;
a job whose worker died mid-job is taken over once its lease runs out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA, GROUPS, Clock

import flowdesk


class Gateway:
    """A payment service that fails until it is fixed, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.fixed = False

    def __call__(self, call: flowdesk.ServiceCall) -> Mapping[str, Any]:
        self.calls += 1
        if not self.fixed:
            raise ConnectionError("payment gateway unreachable")
        return {"charged": True}


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture
def payments(make_engine: Callable[..., flowdesk.Engine], gateway: Gateway) -> flowdesk.Engine:
    engine = make_engine()
    engine.handlers.register_service("paymentGateway", gateway)
    engine.deploy(DATA / "async_payment.bpmn")
    return engine


def only_job(engine: flowdesk.Engine, instance_id: str) -> flowdesk.Job:
    (job,) = engine.jobs(instance_id=instance_id)
    return job


def events(engine: flowdesk.Engine, instance_id: str, kind: str) -> list[flowdesk.HistoryEvent]:
    return [event for event in engine.history(instance_id) if event.type == kind]


def test_retry_cycle__r3_pt5m_runs_the_job_three_times_five_minutes_apart_then_incident(
    payments: flowdesk.Engine, gateway: Gateway, clock: Clock
) -> None:
    instance = payments.start("async_payment", {"order": "B-1"})
    started = clock.now

    assert payments.run_due_jobs() == 0
    job = only_job(payments, instance.id)
    assert (job.state, job.attempts, job.due_at) == ("waiting", 1, started + timedelta(minutes=5))
    assert "payment gateway unreachable" in (job.error or "")
    assert payments.instance(instance.id).state == "running"
    clock.advance(minutes=4)
    assert payments.run_due_jobs() == 0
    assert gateway.calls == 1  # not due again yet

    clock.advance(minutes=1)
    payments.run_due_jobs()
    assert only_job(payments, instance.id).due_at == started + timedelta(minutes=10)
    clock.advance(minutes=5)
    payments.run_due_jobs()

    assert gateway.calls == 3
    job = only_job(payments, instance.id)
    assert (job.state, job.attempts) == ("failed", 3)
    failed = payments.instance(instance.id)
    assert failed.state == "incident"
    assert failed.incident is not None and "payment gateway unreachable" in failed.incident
    (incident,) = events(payments, instance.id, "incident")
    assert incident.element_id == "Service_charge"
    assert [e.data["retries_left"] for e in events(payments, instance.id, "job_failed")] == [
        2,
        1,
        0,
    ]
    clock.advance(hours=1)
    assert payments.run_due_jobs() == 0
    assert gateway.calls == 3  # a failed job is not run again by itself


def test_retry__gives_the_failed_job_its_retries_back_and_a_worker_continues(
    payments: flowdesk.Engine, gateway: Gateway, clock: Clock
) -> None:
    instance = payments.start("async_payment", {"order": "B-2"})
    for _ in range(3):
        payments.run_due_jobs()
        clock.advance(minutes=5)
    assert payments.instance(instance.id).state == "incident"

    gateway.fixed = True
    retried = payments.retry(instance.id, user="ops")

    assert retried.state == "running"  # the step runs in the job, not in the retry call
    job = only_job(payments, instance.id)
    assert (job.state, job.error, job.due_at) == ("waiting", None, clock.now)
    assert payments.run_due_jobs() == 1
    assert payments.instance(instance.id).variables["charged"] is True
    assert [t.element_id for t in payments.tasks(instance_id=instance.id)] == ["Task_ship"]
    assert len(events(payments, instance.id, "incident_retried")) == 1


def test_failed_job__goes_with_its_task_when_a_boundary_event_cancels_it(
    payments: flowdesk.Engine, clock: Clock
) -> None:
    instance = payments.start("async_payment", {"order": "B-3"})
    for _ in range(3):
        payments.run_due_jobs()
        clock.advance(minutes=5)
    assert only_job(payments, instance.id).state == "failed"

    payments.correlate("order_cancelled")

    assert payments.jobs(instance_id=instance.id) == []
    assert payments.instance(instance.id).state == "completed"


def test_default_retries__a_failing_step_after_a_timer_retries_after_one_then_five_minutes(
    make_engine: Callable[..., flowdesk.Engine], clock: Clock
) -> None:
    engine = make_engine()
    reminders: list[str] = []
    broken = True

    def remind(call: flowdesk.ServiceCall) -> None:
        if broken:
            raise TimeoutError("mail server down")
        reminders.append(call.instance_id)

    engine.handlers.register_service("Reminder", remind)
    engine.deploy(DATA / "timer_reminder_service.bpmn")
    instance = engine.start("timer_reminder")
    clock.advance(days=1)

    assert engine.run_due_jobs() == 0
    job = only_job(engine, instance.id)
    assert (job.type, job.state, job.due_at) == (
        "timer",
        "waiting",
        clock.now + timedelta(minutes=1),
    )
    # The failed run was rolled back: the timer has not fired, the instance still waits for it.
    assert events(engine, instance.id, "timer_fired") == []
    clock.advance(minutes=1)
    engine.run_due_jobs()
    assert only_job(engine, instance.id).due_at == clock.now + timedelta(minutes=5)
    clock.advance(minutes=5)
    engine.run_due_jobs()
    assert engine.instance(instance.id).state == "incident"

    broken = False
    # The timer is long due: the instance runs on from it at once, as any step on it would.
    assert engine.retry(instance.id).state == "completed"
    assert reminders == [instance.id]
    assert engine.jobs(instance_id=instance.id) == []
    fired = [
        e for e in events(engine, instance.id, "activity_completed") if e.element_id == "Timer_day"
    ]
    assert len(fired) == 1


def test_job_failure__an_error_escaping_the_engine_rolls_the_step_back_and_retries(
    payments: flowdesk.Engine, gateway: Gateway, clock: Clock
) -> None:
    class Broken(flowdesk.UserTaskHandler):
        def on_create(self, task: flowdesk.Task) -> Mapping[str, Any] | None:
            raise RuntimeError("task directory offline")

    payments.handlers.register_user_task(Broken(), element_id="Task_ship")
    gateway.fixed = True
    instance = payments.start("async_payment", {"order": "B-4"})

    assert payments.run_due_jobs() == 0
    job = only_job(payments, instance.id)
    assert job.state == "waiting" and "task directory offline" in (job.error or "")
    assert "charged" not in payments.instance(instance.id).variables  # rolled back

    payments.handlers.register_user_task(flowdesk.UserTaskHandler(), element_id="Task_ship")
    clock.advance(minutes=5)
    assert payments.run_due_jobs() == 1
    assert gateway.calls == 2
    assert payments.instance(instance.id).variables["charged"] is True


def test_lease__job_of_a_worker_that_died_mid_job_is_taken_over_after_its_lease(
    make_engine: Callable[..., flowdesk.Engine], clock: Clock
) -> None:
    """In one process: SystemExit passes every `except Exception`, as a killed worker would."""
    dying = make_engine()

    def die(call: flowdesk.ServiceCall) -> None:
        raise SystemExit("worker killed")

    dying.handlers.register_service("paymentGateway", die)
    dying.deploy(DATA / "async_payment.bpmn")
    instance = dying.start("async_payment", {"order": "B-5"})
    with pytest.raises(SystemExit):
        dying.run_due_jobs(lease=timedelta(seconds=30))

    charged: list[str] = []
    survivor = make_engine(groups=GROUPS)
    survivor.handlers.register_service("paymentGateway", lambda call: charged.append("B-5"))
    clock.advance(seconds=29)
    assert survivor.run_due_jobs() == 0  # still leased to the dead worker
    clock.advance(seconds=2)
    assert survivor.run_due_jobs() == 1
    assert charged == ["B-5"]
    assert survivor.run_due_jobs() == 0
    assert [t.element_id for t in survivor.tasks(instance_id=instance.id)] == ["Task_ship"]


def test_retry_cycle__text_that_is_no_cycle_is_rejected_at_deploy(
    engine: flowdesk.Engine, tmp_path: Path
) -> None:
    text = (DATA / "async_payment.bpmn").read_text()
    path = tmp_path / "bad_cycle.bpmn"
    path.write_text(text.replace("R3/PT5M", "every five minutes"))

    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(path)

    assert caught.value.element_id == "Service_charge"
    assert caught.value.file.endswith("bad_cycle.bpmn") and caught.value.line == 8
    assert "failedJobRetryTimeCycle" in str(caught.value)
