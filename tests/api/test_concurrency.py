"""Two callers on one instance at once: one wins, the other gets a typed error, nothing is lost."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

from conftest import EXAMPLES, only_task, submit

import flowdesk


class MeetAtBarrier(flowdesk.UserTaskHandler):
    """Holds each completion after the instance is loaded until both callers have loaded it.

    On PostgreSQL both calls load the instance, then race to save it. SQLite has one writer at
    a time (flowdesk begins units of work with BEGIN IMMEDIATE), so the second call waits for
    the first and the barrier gives up; the race is then decided by the task's state.
    """

    def __init__(self, barrier: threading.Barrier) -> None:
        self.barrier = barrier

    def validate(self, task: flowdesk.Task, data: Mapping[str, Any]) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(timeout=1)


def test_two_engines_completing_one_task_at_once__one_wins_and_nothing_is_lost(
    make_engine,
) -> None:
    setup = make_engine()
    setup.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = setup.start("expense_approval", user="alice")
    submit(setup, instance.id, 5000)
    task = only_task(setup, instance.id)

    barrier = threading.Barrier(2)
    engines = [make_engine(), make_engine()]
    for engine in engines:
        engine.handlers.register_user_task(MeetAtBarrier(barrier), element_id="Task_approve")
    outcomes: list[object] = [None, None]

    def complete(index: int, decision: str) -> None:
        try:
            outcomes[index] = engines[index].complete(task.id, {"decision": decision}, user="bob")
        except flowdesk.FlowdeskError as err:
            outcomes[index] = err

    threads = [
        threading.Thread(target=complete, args=(0, "approve")),
        threading.Thread(target=complete, args=(1, "reject")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    wins = [o for o in outcomes if isinstance(o, flowdesk.ProcessInstance)]
    losses = [o for o in outcomes if isinstance(o, flowdesk.FlowdeskError)]
    assert len(wins) == 1, outcomes
    assert len(losses) == 1 and isinstance(
        losses[0], flowdesk.ConcurrencyConflict | flowdesk.TaskStateError
    ), outcomes
    decision = setup.instance(instance.id).variables["decision"]
    completions = [
        e
        for e in setup.history(instance.id)
        if e.type == "task_completed" and e.element_id == "Task_approve"
    ]
    assert len(completions) == 1
    assert completions[0].data["variables"] == {"decision": decision}
    expected_next = "Task_pay" if decision == "approve" else None
    open_tasks = [t.element_id for t in setup.tasks(instance_id=instance.id)]
    assert open_tasks == ([expected_next] if expected_next else [])
