"""Long-running instances: loops past SpiffWorkflow's 500-round limit, with a flat stored state.

SpiffWorkflow 3.2 keeps every finished task in its tree, so each step costs more than the last,
and after about 500 rounds of a two-step loop its iterators lose the live task and it reports
the workflow completed. flowdesk prunes finished work between engine steps (the history keeps
it); these tests run loops long enough to cross that limit, and loops around the constructs
whose bookkeeping pruning must keep: joins, boundary timers, call activities, multi-instance.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import pytest
from conftest import DATA, Clock, only_task

import flowdesk
from flowdesk.store import Store

# The stored state may vary a little with what is live at the moment and with the width of the
# numbers in it; a growing state would be many times larger after hundreds of rounds.
SIZE_FACTOR = 1.5


@pytest.fixture
def state_size(db_url: str) -> Iterator[Callable[[str], int]]:
    """The length of an instance's stored workflow state (no public API shows it)."""
    store = Store(db_url)

    def size(instance_id: str) -> int:
        with store.unit_of_work(readonly=True) as uow:
            state = uow.instances.get(instance_id).workflow_state
        assert state is not None
        return len(state)

    yield size
    store.dispose()


class Rounds(flowdesk.UserTaskHandler):
    """Completes the loop's task at once, counting rounds, until `stop_at` rounds are done."""

    def __init__(self) -> None:
        self.done = 0
        self.stop_at = 0

    def auto_complete(self, task: flowdesk.Task) -> Mapping[str, Any] | None:
        if self.done >= self.stop_at:
            return None
        self.done += 1
        return {"round": self.done}


def open_by_element(engine: flowdesk.Engine, instance_id: str) -> dict[str, flowdesk.Task]:
    return {t.element_id: t for t in engine.tasks(instance_id=instance_id)}


def completions(engine: flowdesk.Engine, instance_id: str, element_id: str) -> int:
    return sum(
        1
        for event in engine.history(instance_id)
        if event.type == "task_completed" and event.element_id == element_id
    )


# -- a plain loop --------------------------------------------------------------------------------


def test_loop__runs_1200_rounds_and_ends(
    engine: flowdesk.Engine, state_size: Callable[[str], int]
) -> None:
    engine.deploy(DATA / "long_loop.bpmn")
    rounds = Rounds()
    engine.handlers.register_user_task(rounds, element_id="Task_work")

    rounds.stop_at = 10
    instance = engine.start("long_loop", variables={"round": 0, "rounds": 1200})
    size_at_10 = state_size(instance.id)
    # Round 11 by hand, then the handler completes the rounds up to 1,000 in the same call.
    rounds.done, rounds.stop_at = 11, 1000
    engine.complete(only_task(engine, instance.id).id, {"round": 11})
    size_at_1000 = state_size(instance.id)
    assert engine.instance(instance.id).variables["round"] == 1000
    assert only_task(engine, instance.id).element_id == "Task_work"
    rounds.done, rounds.stop_at = 1001, 1200
    engine.complete(only_task(engine, instance.id).id, {"round": 1001})

    ended = engine.instance(instance.id)
    assert ended.state == "completed"
    assert ended.variables["round"] == 1200
    assert engine.tasks(instance_id=instance.id) == []
    assert completions(engine, instance.id, "Task_work") == 1200
    assert size_at_1000 <= size_at_10 * SIZE_FACTOR


def test_loop__of_engine_tasks_runs_hundreds_of_rounds_within_one_call(
    engine: flowdesk.Engine, state_size: Callable[[str], int]
) -> None:
    """An embedded sub-process with a script, looped: every round runs in the starting call."""
    engine.deploy(DATA / "long_subprocess.bpmn")

    short = engine.start("long_subprocess", variables={"round": 0, "rounds": 10, "total": 0})
    long = engine.start("long_subprocess", variables={"round": 0, "rounds": 600, "total": 0})

    assert engine.instance(long.id).state == "completed"
    assert engine.instance(long.id).variables["round"] == 600
    assert engine.instance(long.id).variables["total"] == sum(range(1, 601))
    assert state_size(long.id) <= state_size(short.id) * SIZE_FACTOR


# -- joins in a loop -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "orders",
    [
        pytest.param(
            list(itertools.permutations(("Task_a", "Task_b", "Task_c"))) * 2, id="every-order"
        ),
        pytest.param([("Task_a", "Task_b", "Task_c")] * 9, id="fixed"),
    ],
)
def test_parallel_join_in_a_loop__waits_for_every_branch_each_round(
    engine: flowdesk.Engine,
    state_size: Callable[[str], int],
    orders: list[tuple[str, str, str]],
) -> None:
    engine.deploy(DATA / "long_parallel.bpmn")
    instance = engine.start("long_parallel", variables={"round": 0, "rounds": len(orders)})
    sizes = []
    for round_, order in enumerate(orders, start=1):
        for done, element_id in enumerate(order, start=1):
            engine.complete(open_by_element(engine, instance.id)[element_id].id, {})
            still_open = set(open_by_element(engine, instance.id))
            if done < len(order):
                assert still_open == set(order[done:]), f"round {round_}: the join fired early"
        assert set(open_by_element(engine, instance.id)) == {"Task_review"}
        sizes.append(state_size(instance.id))
        engine.complete(open_by_element(engine, instance.id)["Task_review"].id, {"round": round_})

    assert engine.instance(instance.id).state == "completed"
    for element_id in ("Task_a", "Task_b", "Task_c", "Task_review"):
        assert completions(engine, instance.id, element_id) == len(orders)
    assert max(sizes) <= sizes[0] * SIZE_FACTOR


def test_inclusive_join_in_a_loop__waits_for_the_branches_taken_each_round(
    engine: flowdesk.Engine, state_size: Callable[[str], int]
) -> None:
    # (branches taken this round, in the order they are completed)
    plan = [("Task_a", "Task_b"), ("Task_b", "Task_a"), ("Task_a",), ("Task_b",)] * 5
    engine.deploy(DATA / "long_inclusive.bpmn")
    instance = engine.start(
        "long_inclusive",
        variables={"round": 0, "rounds": len(plan), "withA": True, "withB": True},
    )
    sizes = []
    for round_, order in enumerate(plan, start=1):
        assert set(open_by_element(engine, instance.id)) == set(order), f"round {round_}"
        for done, element_id in enumerate(order, start=1):
            engine.complete(open_by_element(engine, instance.id)[element_id].id, {})
            if done < len(order):
                still_open = set(open_by_element(engine, instance.id))
                assert still_open == set(order[done:]), f"round {round_}: the join fired early"
        assert set(open_by_element(engine, instance.id)) == {"Task_review"}
        sizes.append(state_size(instance.id))
        upcoming = plan[round_] if round_ < len(plan) else ("Task_a",)
        engine.complete(
            open_by_element(engine, instance.id)["Task_review"].id,
            {"round": round_, "withA": "Task_a" in upcoming, "withB": "Task_b" in upcoming},
        )

    assert engine.instance(instance.id).state == "completed"
    assert completions(engine, instance.id, "Task_review") == len(plan)
    assert max(sizes) <= sizes[0] * SIZE_FACTOR


# -- a boundary timer in a loop ------------------------------------------------------------------


def test_boundary_timer_in_a_loop__fires_only_for_the_rounds_that_run_late(
    engine: flowdesk.Engine, clock: Clock, state_size: Callable[[str], int]
) -> None:
    engine.deploy(DATA / "long_boundary.bpmn")
    rounds = 40
    instance = engine.start("long_boundary", variables={"round": 0, "rounds": rounds})
    sizes: dict[str, list[int]] = {"Task_work": [], "Task_escalate": []}
    late_rounds = 0
    for round_ in range(1, rounds + 1):
        (job,) = engine.jobs(instance_id=instance.id)
        assert job.due_at == clock.now + timedelta(hours=1), f"round {round_}"
        clock.advance(minutes=59)
        assert engine.run_due_jobs() == 0, f"round {round_}: the timer fired early"
        if round_ % 3 == 0:
            clock.advance(minutes=2)
            assert engine.run_due_jobs() == 1
            late_rounds += 1
            task = open_by_element(engine, instance.id)["Task_escalate"]
        else:
            task = open_by_element(engine, instance.id)["Task_work"]
        sizes[task.element_id].append(state_size(instance.id))
        engine.complete(task.id, {"round": round_})

    assert engine.instance(instance.id).state == "completed"
    assert engine.jobs(instance_id=instance.id) == []
    assert completions(engine, instance.id, "Task_escalate") == late_rounds == rounds // 3
    assert completions(engine, instance.id, "Task_work") == rounds - late_rounds
    for measured in sizes.values():  # a waiting timer takes room, so per open task
        assert max(measured) <= min(measured) * SIZE_FACTOR


def test_event_based_gateway_in_a_loop__the_first_event_wins_each_round(
    engine: flowdesk.Engine, clock: Clock, state_size: Callable[[str], int]
) -> None:
    engine.deploy(DATA / "long_event_gateway.bpmn")
    rounds = 40
    instance = engine.start(
        "long_event_gateway",
        business_key="W-1",
        variables={"round": 0, "rounds": rounds, "updates": 0, "silences": 0},
    )
    sizes = []
    for round_ in range(1, rounds + 1):
        (job,) = engine.jobs(instance_id=instance.id)
        assert job.due_at == clock.now + timedelta(hours=1), f"round {round_}"
        sizes.append(state_size(instance.id))
        clock.advance(minutes=30)
        assert engine.run_due_jobs() == 0, f"round {round_}: the timer fired early"
        if round_ % 3:
            engine.correlate("status_update", business_key="W-1")
        else:
            clock.advance(minutes=31)
            assert engine.run_due_jobs() == 1
        assert engine.instance(instance.id).variables["round"] == round_

    ended = engine.instance(instance.id)
    assert ended.state == "completed"
    assert ended.variables["silences"] == rounds // 3
    assert ended.variables["updates"] == rounds - rounds // 3
    assert engine.jobs(instance_id=instance.id) == []
    assert max(sizes) <= sizes[0] * SIZE_FACTOR


def test_non_interrupting_timer_in_a_loop__side_paths_outlive_their_round(
    engine: flowdesk.Engine, clock: Clock, state_size: Callable[[str], int]
) -> None:
    """Each round's reminder is answered a round later; the process ends with the last one."""
    engine.deploy(DATA / "long_reminder.bpmn")
    rounds = 30
    instance = engine.start(
        "long_reminder", variables={"round": 0, "rounds": rounds, "reminders": 0}
    )
    sizes = []
    for round_ in range(1, rounds + 1):
        clock.advance(minutes=61)
        assert engine.run_due_jobs() == 1, f"round {round_}"
        open_tasks = sorted(t.element_id for t in engine.tasks(instance_id=instance.id))
        expected = ["Task_remind"] * min(round_, 2) + ["Task_work"]
        assert open_tasks == expected, f"round {round_}"
        if round_ > 1:  # the previous round's reminder, answered now
            engine.complete(
                min(
                    (
                        t
                        for t in engine.tasks(instance_id=instance.id)
                        if t.element_id == "Task_remind"
                    ),
                    key=lambda t: t.created_at,
                ).id,
                {},
            )
        sizes.append(state_size(instance.id))
        engine.complete(open_by_element(engine, instance.id)["Task_work"].id, {"round": round_})

    assert engine.instance(instance.id).state == "running"  # the last reminder is open
    engine.complete(only_task(engine, instance.id).id, {})
    ended = engine.instance(instance.id)
    assert ended.state == "completed"
    assert ended.variables["reminders"] == rounds
    assert completions(engine, instance.id, "Task_remind") == rounds
    assert max(sizes[1:]) <= sizes[1] * SIZE_FACTOR


def test_event_sub_processes_in_a_long_run__fire_every_time_and_interrupt_at_the_end(
    engine: flowdesk.Engine, state_size: Callable[[str], int]
) -> None:
    engine.deploy(DATA / "long_event_subprocess.bpmn")
    rounds = 30
    instance = engine.start(
        "long_event_subprocess",
        business_key="E-1",
        variables={"round": 0, "rounds": 1000, "pings": 0},
    )
    sizes = []
    for round_ in range(1, rounds + 1):
        for _ in range(2):  # a non-interrupting event sub-process, run to its end each time
            engine.correlate("ping", business_key="E-1")
        sizes.append(state_size(instance.id))
        engine.complete(only_task(engine, instance.id).id, {"round": round_})
    assert engine.instance(instance.id).variables["pings"] == 2 * rounds

    engine.correlate("stop", business_key="E-1")  # interrupting: the loop is cancelled
    assert only_task(engine, instance.id).element_id == "Task_wrap_up"
    with pytest.raises(flowdesk.CorrelationError):
        engine.correlate("ping", business_key="E-1")  # the stop has taken over
    engine.complete(only_task(engine, instance.id).id, {})

    assert engine.instance(instance.id).state == "completed"
    assert max(sizes) <= sizes[0] * SIZE_FACTOR


# -- call activities and multi-instance in a loop ------------------------------------------------


def test_call_activity_in_a_loop__each_round_calls_once_and_late_calls_are_terminated(
    engine: flowdesk.Engine, clock: Clock, state_size: Callable[[str], int]
) -> None:
    engine.deploy(DATA / "long_call.bpmn")
    rounds = 30
    instance = engine.start("long_call", variables={"round": 0, "rounds": rounds, "skipped": 0})
    sizes = []
    for round_ in range(1, rounds + 1):
        running = engine.instances(parent_id=instance.id, state="running")
        assert len(running) == 1, f"round {round_}"
        sizes.append(state_size(instance.id))
        if round_ % 4 == 0:
            clock.advance(hours=2)
            assert engine.run_due_jobs() == 1
            assert engine.instance(running[0].id).state == "terminated"
        else:
            engine.complete(only_task(engine, running[0].id).id, {})
            assert engine.instance(running[0].id).state == "completed"

    called = engine.instances(parent_id=instance.id)
    assert len(called) == rounds
    assert sum(1 for c in called if c.state == "terminated") == rounds // 4
    ended = engine.instance(instance.id)
    assert ended.state == "completed"
    assert ended.variables["round"] == rounds
    assert ended.variables["skipped"] == rounds // 4
    assert max(sizes) <= min(sizes) * SIZE_FACTOR


def test_multi_instance_in_a_loop__every_round_runs_all_instances(
    engine: flowdesk.Engine, state_size: Callable[[str], int]
) -> None:
    engine.deploy(DATA / "long_multi_instance.bpmn")
    rounds = 12
    reviewers, signers = ["alice", "bob", "carol"], ["dave", "erin"]
    instance = engine.start(
        "long_multi_instance",
        variables={
            "round": 0,
            "rounds": rounds,
            "approvals": 0,
            "reviewers": reviewers,
            "signers": signers,
        },
    )
    sizes = []
    for round_ in range(1, rounds + 1):
        reviews = engine.tasks(instance_id=instance.id)
        assert sorted(t.assignee or "" for t in reviews) == reviewers, f"round {round_}"
        sizes.append(state_size(instance.id))
        # Completed in a different order each round; one reviewer rejects.
        shift = round_ % len(reviews)
        for task in reviews[shift:] + reviews[:shift]:
            decision = "reject" if task.assignee == "bob" else "approve"
            engine.complete(task.id, {"decision": decision})
        for signer in signers:
            (sign,) = engine.tasks(instance_id=instance.id)
            assert sign.assignee == signer
            engine.complete(sign.id, {})

    ended = engine.instance(instance.id)
    assert ended.state == "completed"
    assert ended.variables["round"] == rounds
    assert ended.variables["approvals"] == 2 * rounds
    assert completions(engine, instance.id, "Task_review") == len(reviewers) * rounds
    assert max(sizes) <= min(sizes) * SIZE_FACTOR
