"""Timers fire on the engine's clock: when due, never early, never twice, as often as they say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import DATA, Clock

import flowdesk


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    """A time in March 2026, UTC (the test clock starts on Monday 2 March, 09:00)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def open_elements(engine: flowdesk.Engine, instance_id: str) -> list[str]:
    return sorted(t.element_id for t in engine.tasks(instance_id=instance_id))


def due_times(engine: flowdesk.Engine, instance_id: str | None = None) -> list[datetime]:
    return [job.due_at for job in engine.jobs(instance_id=instance_id)]


def fired(engine: flowdesk.Engine, instance_id: str) -> int:
    return [e.type for e in engine.history(instance_id)].count("timer_fired")


def complete(engine: flowdesk.Engine, instance_id: str, element_id: str) -> None:
    task = next(t for t in engine.tasks(instance_id=instance_id) if t.element_id == element_id)
    engine.complete(task.id, {})


# -- boundary timers -------------------------------------------------------------------------


def test_boundary_timer__interrupting_cancels_its_task(engine: flowdesk.Engine, clock: Clock):
    engine.deploy(DATA / "timer_deadline.bpmn")
    instance = engine.start("work_with_deadline", {"duration": "PT2H"})  # ${duration}
    (work,) = engine.tasks(instance_id=instance.id)
    assert due_times(engine, instance.id) == [at(11)]

    clock.advance(hours=2)
    assert engine.run_due_jobs() == 1

    assert engine.task(work.id).state == "cancelled"
    assert open_elements(engine, instance.id) == ["Task_escalate"]
    assert "task_cancelled" in [e.type for e in engine.history(instance.id)]
    assert engine.jobs(instance_id=instance.id) == []


def test_boundary_timer__completing_the_task_first_removes_the_job(
    engine: flowdesk.Engine, clock: Clock
):
    engine.deploy(DATA / "timer_deadline.bpmn")
    instance = engine.start("work_with_deadline", {"duration": "PT2H"})
    complete(engine, instance.id, "Task_work")
    assert engine.jobs(instance_id=instance.id) == []
    clock.advance(hours=3)
    assert engine.run_due_jobs() == 0
    assert engine.instance(instance.id).state == "completed"


def test_boundary_timer__non_interrupting_leaves_its_task_and_runs_its_path(
    engine: flowdesk.Engine, clock: Clock
):
    engine.deploy(DATA / "timer_boundary_cycle.bpmn")
    instance = engine.start("review_with_reminders")
    (review,) = engine.tasks(instance_id=instance.id)

    clock.advance(minutes=10)
    assert engine.run_due_jobs() == 1

    assert engine.task(review.id).state == "open"
    assert open_elements(engine, instance.id) == ["Task_remind", "Task_review"]


# -- cycles ----------------------------------------------------------------------------------


def test_cycle__r3_on_a_non_interrupting_boundary_fires_exactly_three_times(
    engine: flowdesk.Engine, clock: Clock
):
    engine.deploy(DATA / "timer_boundary_cycle.bpmn")
    instance = engine.start("review_with_reminders")  # R3/PT10M
    seen = []
    for _ in range(6):
        seen.append(due_times(engine, instance.id))
        clock.advance(minutes=10)
        engine.run_due_jobs()
        assert engine.run_due_jobs() == 0  # never twice

    assert seen == [[at(9, 10)], [at(9, 20)], [at(9, 30)], [], [], []]
    assert fired(engine, instance.id) == 3
    assert open_elements(engine, instance.id) == ["Task_remind"] * 3 + ["Task_review"]


def test_cycle__never_fires_before_its_time(engine: flowdesk.Engine, clock: Clock):
    engine.deploy(DATA / "timer_boundary_cycle.bpmn")
    instance = engine.start("review_with_reminders")
    clock.advance(minutes=9, seconds=59)
    assert engine.run_due_jobs() == 0
    clock.advance(seconds=1)
    assert engine.run_due_jobs() == 1
    clock.advance(minutes=9, seconds=59)
    assert engine.run_due_jobs() == 0
    assert fired(engine, instance.id) == 1


def test_cycle__paths_it_started_outlive_the_activity(engine: flowdesk.Engine, clock: Clock):
    engine.deploy(DATA / "timer_boundary_cycle.bpmn")
    instance = engine.start("review_with_reminders")
    clock.advance(minutes=10)
    engine.run_due_jobs()
    clock.advance(minutes=10)
    engine.run_due_jobs()

    complete(engine, instance.id, "Task_review")

    # BPMN: a non-interrupting path goes on after its activity ends; the cycle stops.
    assert open_elements(engine, instance.id) == ["Task_remind", "Task_remind"]
    assert engine.jobs(instance_id=instance.id) == []
    complete(engine, instance.id, "Task_remind")
    complete(engine, instance.id, "Task_remind")
    assert engine.instance(instance.id).state == "completed"


def test_cycle__a_late_worker_fires_once_and_skips_the_missed_times(
    engine: flowdesk.Engine, clock: Clock
):
    engine.deploy(DATA / "timer_boundary_cycle.bpmn")
    instance = engine.start("review_with_reminders")
    clock.advance(minutes=25)  # 09:10 and 09:20 both passed while no worker ran
    assert engine.run_due_jobs() == 1
    assert engine.run_due_jobs() == 0
    assert due_times(engine, instance.id) == [at(9, 30)]


def test_cycle__timer_event_subprocess_starts_as_often_as_its_cycle_says(
    engine: flowdesk.Engine, clock: Clock
):
    engine.deploy(DATA / "timer_event_subprocess.bpmn")
    instance = engine.start("case_with_nudges")  # non-interrupting, R2/PT1H
    for _ in range(4):
        clock.advance(hours=1)
        engine.run_due_jobs()
    assert fired(engine, instance.id) == 2
    assert open_elements(engine, instance.id) == ["Task_case", "Task_nudge", "Task_nudge"]
    assert engine.jobs(instance_id=instance.id) == []


# -- cron ----------------------------------------------------------------------------------------


def test_cron__boundary_fires_on_its_quartz_schedule(engine: flowdesk.Engine, clock: Clock):
    engine.deploy(DATA / "timer_boundary_cron.bpmn")
    instance = engine.start("watch_on_cron")  # 0 0/15 * * * ?
    assert due_times(engine, instance.id) == [at(9, 15)]
    for expected in (at(9, 30), at(9, 45), at(10)):
        clock.now = due_times(engine, instance.id)[0]
        assert engine.run_due_jobs() == 1
        assert due_times(engine, instance.id) == [expected]
    assert fired(engine, instance.id) == 3
    assert open_elements(engine, instance.id).count("Task_check") == 3


def test_cron__invalid_expression_is_rejected_at_deploy(engine: flowdesk.Engine, tmp_path: Path):
    text = (DATA / "timer_boundary_cron.bpmn").read_text()
    bad = tmp_path / "bad_cron.bpmn"
    bad.write_text(text.replace("0 0/15 * * * ?", "0 0 9 LW * ?"))
    with pytest.raises(flowdesk.BpmnValidationError) as caught:
        engine.deploy(bad)
    (problem,) = caught.value.problems
    assert problem.element_id == "Timer_check"
    assert "LW" in problem.message
    assert (
        problem.line
        == text.splitlines().index('      <bpmn:timerEventDefinition id="TED_check">') + 2
    )
    assert engine.definitions() == []


# -- dates and durations -----------------------------------------------------------------------


def test_time_date__quoted_literal_as_spiffworkflow_models_write_it(
    engine: flowdesk.Engine, clock: Clock, tmp_path: Path
):
    quoted = tmp_path / "quoted.bpmn"
    quoted.write_text(
        (DATA / "timer_date.bpmn").read_text().replace("${dueDate}", '"2026-03-03T09:00:00Z"')
    )
    engine.deploy(quoted)
    instance = engine.start("wait_until")
    assert due_times(engine, instance.id) == [at(9, day=3)]


def test_time_date__expression_giving_iso_text(engine: flowdesk.Engine, clock: Clock):
    engine.deploy(DATA / "timer_date.bpmn")
    instance = engine.start("wait_until", {"dueDate": "2026-03-03T10:00:00+01:00"})
    assert due_times(engine, instance.id) == [at(9, day=3)]
    clock.now = at(8, 59, day=3)
    assert engine.run_due_jobs() == 0
    clock.now = at(9, day=3)
    assert engine.run_due_jobs() == 1
    assert open_elements(engine, instance.id) == ["Task_follow_up"]


def test_time_date__expression_giving_a_datetime(engine: flowdesk.Engine, clock: Clock):
    planned = datetime(2026, 3, 4, 8, 30, tzinfo=UTC)
    engine.handlers.register_service("FollowUpPlanner", lambda call: {"followUpAt": planned})
    engine.deploy(DATA / "timer_computed_date.bpmn")
    instance = engine.start("wait_for_computed_date")
    assert due_times(engine, instance.id) == [planned]
    clock.now = planned
    assert engine.run_due_jobs() == 1
    assert engine.instance(instance.id).state == "completed"


def test_time_date__literal_in_the_past_does_not_wait(engine: flowdesk.Engine, clock: Clock):
    engine.deploy(DATA / "timer_date.bpmn")
    clock.now = at(12, day=6)  # after the model's 2026-03-05T12:00:00Z
    instance = engine.start("wait_for_literal_date")
    assert instance.state == "completed"
    assert engine.jobs() == []


def test_time_date__literal_fires_at_its_time(engine: flowdesk.Engine, clock: Clock):
    engine.deploy(DATA / "timer_date.bpmn")
    instance = engine.start("wait_for_literal_date")
    assert due_times(engine, instance.id) == [at(12, day=5)]
    clock.now = at(12, day=5)
    assert engine.run_due_jobs() == 1
    assert engine.instance(instance.id).state == "completed"


def test_timer__two_workers_fire_a_due_timer_once(make_engine, clock: Clock):
    first, second = make_engine(), make_engine()
    first.deploy(DATA / "timer_deadline.bpmn")
    instance = first.start("work_with_deadline", {"duration": "PT1H"})
    clock.advance(hours=1)
    assert first.run_due_jobs() + second.run_due_jobs() == 1
    assert fired(first, instance.id) == 1


def test_timer__two_timers_due_together_both_run_their_paths(engine: flowdesk.Engine, clock: Clock):
    engine.deploy(DATA / "timer_parallel.bpmn")
    instance = engine.start("two_clocks")
    assert due_times(engine, instance.id) == [at(10), at(10)]
    clock.advance(hours=1)
    engine.run_due_jobs()
    assert engine.run_due_jobs() == 0
    assert open_elements(engine, instance.id) == ["Task_left", "Task_right"]
    assert engine.jobs() == []


# -- timer start events --------------------------------------------------------------------------


def test_timer_start__deploy_schedules_a_job_of_the_definition(engine: flowdesk.Engine):
    engine.deploy(DATA / "timer_start.bpmn")
    (job,) = engine.jobs()
    assert (job.instance_id, job.element_id, job.due_at) == (None, "Start_hourly", at(10))
    assert engine.instances() == []


def test_timer_start__starts_instances_on_schedule_as_often_as_the_cycle_says(
    engine: flowdesk.Engine, clock: Clock
):
    engine.deploy(DATA / "timer_start.bpmn")  # R2/2026-03-02T10:00:00Z/PT1H
    clock.now = at(10) - timedelta(seconds=1)
    assert engine.run_due_jobs() == 0
    starts = []
    for hour in (10, 11, 12, 13):
        clock.now = at(hour)
        starts.append(engine.run_due_jobs())
        assert engine.run_due_jobs() == 0
    assert starts == [1, 1, 0, 0]
    instances = engine.instances(key="hourly_report")
    assert [i.started_at for i in instances] == [at(10), at(11)]
    assert [open_elements(engine, i.id) for i in instances] == [["Task_report"]] * 2
    history = [(e.type, e.element_id) for e in engine.history(instances[0].id)]
    assert history[:2] == [("instance_started", None), ("timer_fired", "Start_hourly")]
    assert engine.jobs() == []


def test_timer_start__cron_starts_on_weekdays_only(engine: flowdesk.Engine, clock: Clock):
    engine.deploy(DATA / "timer_start_cron.bpmn")  # 0 30 9 ? * MON-FRI
    started = []
    for _ in range(7):
        clock.now = engine.jobs()[0].due_at
        assert engine.run_due_jobs() == 1
        started.append(clock.now)
    # Monday 2 March to Friday 6 March, then Monday 9 and Tuesday 10.
    assert [moment.day for moment in started] == [2, 3, 4, 5, 6, 9, 10]
    assert {(moment.hour, moment.minute) for moment in started} == {(9, 30)}
    assert len(engine.instances(key="weekday_standup")) == 7


def test_timer_start__redeploy_replaces_the_old_versions_job(
    engine: flowdesk.Engine, clock: Clock, tmp_path: Path
):
    engine.deploy(DATA / "timer_start.bpmn")
    changed = tmp_path / "timer_start.bpmn"
    changed.write_text(
        (DATA / "timer_start.bpmn")
        .read_text()
        .replace("R2/2026-03-02T10:00:00Z/PT1H", "R1/2026-03-02T10:30:00Z/PT1H")
    )
    (definition,) = engine.deploy(changed)
    assert definition.version == 2
    assert due_times(engine) == [at(10, 30)]

    clock.now = at(11)
    assert engine.run_due_jobs() == 1
    (instance,) = engine.instances(key="hourly_report")
    assert instance.version == 2
    assert engine.jobs() == []


def test_timer_start__unchanged_redeploy_keeps_the_job(engine: flowdesk.Engine):
    engine.deploy(DATA / "timer_start.bpmn")
    (before,) = engine.jobs()
    engine.deploy(DATA / "timer_start.bpmn")
    assert engine.jobs() == [before]


def test_timer_start__start_by_hand_does_not_wait_for_the_timer(engine: flowdesk.Engine):
    engine.deploy(DATA / "timer_start.bpmn")
    instance = engine.start("hourly_report")
    assert open_elements(engine, instance.id) == ["Task_report"]
    assert engine.jobs(instance_id=instance.id) == []


def test_timer_start__beside_a_message_start_each_start_takes_its_own_path(
    engine: flowdesk.Engine, clock: Clock
):
    # A none start beside the timer start is refused, as Camunda 7 refuses it; a message start
    # is how Camunda models "by hand, or nightly".
    engine.deploy(DATA / "timer_start_or_manual.bpmn")  # message start, and 0 0 2 * * ?
    by_hand = engine.correlate("inventory_asked")
    assert open_elements(engine, by_hand.id) == ["Task_spot_check"]
    assert engine.jobs(instance_id=by_hand.id) == []

    clock.now = at(2, day=3)
    assert engine.run_due_jobs() == 1
    (nightly,) = [i for i in engine.instances() if i.id != by_hand.id]
    assert open_elements(engine, nightly.id) == ["Task_full_count"]
    assert due_times(engine) == [at(2, day=4)]


# -- event-based gateways ----------------------------------------------------------------------


@pytest.fixture
def awaiting(engine: flowdesk.Engine) -> tuple[flowdesk.Engine, flowdesk.ProcessInstance]:
    engine.deploy(DATA / "event_gateway.bpmn")
    return engine, engine.start("await_reply")


def test_event_gateway__waits_for_the_timer_and_the_message(awaiting, clock: Clock):
    engine, instance = awaiting
    (job,) = engine.jobs(instance_id=instance.id)
    assert (job.element_id, job.due_at) == ("Timer_timeout", clock.now + timedelta(days=1))


def test_event_gateway__message_first_wins(awaiting, clock: Clock):
    engine, instance = awaiting
    engine.correlate("customer_reply", variables={"answer": "yes"})

    assert open_elements(engine, instance.id) == ["Task_answer"]
    assert engine.instance(instance.id).variables["answer"] == "yes"
    assert engine.jobs(instance_id=instance.id) == []
    clock.advance(days=2)
    assert engine.run_due_jobs() == 0
    assert open_elements(engine, instance.id) == ["Task_answer"]


def test_event_gateway__timer_first_wins(awaiting, clock: Clock):
    engine, instance = awaiting
    clock.advance(days=1)
    assert engine.run_due_jobs() == 1
    assert engine.run_due_jobs() == 0

    assert open_elements(engine, instance.id) == ["Task_chase"]
    with pytest.raises(flowdesk.CorrelationError):
        engine.correlate("customer_reply")
    history = [(e.type, e.element_id) for e in engine.history(instance.id)]
    assert ("timer_fired", "Timer_timeout") in history
