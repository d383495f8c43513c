"""Two callers on one task at once: one wins, the other gets a typed error, nothing is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from conftest import EXAMPLES, only_task, submit

import flowdesk


class HoldUntilRivalCalls(flowdesk.UserTaskHandler):
    """Keeps the first completion inside its transaction (the task loaded, nothing saved yet)
    until the rival call has been made and had time to reach the database."""

    def __init__(self, holding: threading.Event, rival_called: threading.Event) -> None:
        self.holding = holding
        self.rival_called = rival_called

    def validate(self, task: flowdesk.Task, data: Mapping[str, Any]) -> None:
        self.holding.set()
        assert self.rival_called.wait(timeout=10)
        time.sleep(0.2)


class CountValidations(flowdesk.UserTaskHandler):
    def __init__(self) -> None:
        self.calls = 0

    def validate(self, task: flowdesk.Task, data: Mapping[str, Any]) -> None:
        self.calls += 1


def test_two_engines_completing_one_task_at_once__one_wins_and_nothing_is_lost(
    make_engine,
) -> None:
    setup = make_engine()
    setup.deploy(EXAMPLES / "expense_approval.bpmn")
    instance = setup.start("expense_approval", user="alice")
    submit(setup, instance.id, 5000)
    task = only_task(setup, instance.id)

    holding, rival_called = threading.Event(), threading.Event()
    first, second = make_engine(), make_engine()
    first.handlers.register_user_task(
        HoldUntilRivalCalls(holding, rival_called), element_id="Task_approve"
    )
    rival_handler = CountValidations()
    second.handlers.register_user_task(rival_handler, element_id="Task_approve")
    outcomes: dict[str, object] = {}

    def complete(name: str, engine: flowdesk.Engine, decision: str) -> None:
        try:
            outcomes[name] = engine.complete(task.id, {"decision": decision}, user="bob")
        except flowdesk.FlowdeskError as err:
            outcomes[name] = err

    def rival() -> None:
        assert holding.wait(timeout=10)
        rival_called.set()
        complete("second", second, "reject")

    threads = [
        threading.Thread(target=complete, args=("first", first, "approve")),
        threading.Thread(target=rival),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # PostgreSQL: the rival waited on the task's row lock; SQLite: on the single writer. Either
    # way it then finds the task completed, before its handler runs, and completes nothing.
    assert isinstance(outcomes["first"], flowdesk.ProcessInstance), outcomes
    assert isinstance(outcomes["second"], flowdesk.TaskStateError), outcomes
    assert rival_handler.calls == 0
    assert setup.instance(instance.id).variables["decision"] == "approve"
    completions = [
        e
        for e in setup.history(instance.id)
        if e.type == "task_completed" and e.element_id == "Task_approve"
    ]
    assert len(completions) == 1
    assert completions[0].data["variables"] == {"decision": "approve"}
    assert [t.element_id for t in setup.tasks(instance_id=instance.id)] == ["Task_pay"]
