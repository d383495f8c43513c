"""An Engine reuses the workflow its last call saved; every call still acts on the stored state.

The cache (flowdesk.engine.spiff.workflow_cache) must never be visible: a step that another engine
saved in between, a call that was rolled back, and values that JSON changes all give what
loading the stored state gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from conftest import DATA

import flowdesk
from flowdesk.engine.spiff.workflow_cache import WorkflowCache

LOOP = "counting_loop"


def _complete_item(
    engine: flowdesk.Engine, instance_id: str, item: int
) -> flowdesk.ProcessInstance:
    (task,) = engine.tasks(instance_id=instance_id)
    return engine.complete(task.id, {"item": item})


def test_engine__steps_saved_by_another_engine_in_between_are_not_lost(make_engine) -> None:
    first, second = make_engine(), make_engine()
    first.deploy(DATA / "counting_loop.bpmn")
    instance = first.start(LOOP, {"count": 0, "rounds": 4, "items": []})
    _complete_item(first, instance.id, 10)  # `first` keeps the workflow it saved here
    _complete_item(second, instance.id, 20)
    _complete_item(second, instance.id, 30)
    after = _complete_item(first, instance.id, 40)  # must act on what `second` saved
    assert after.state == "completed"
    assert after.variables["items"] == [10, 20, 30, 40]
    assert after.variables["count"] == 4


def test_engine__a_rolled_back_completion_leaves_no_trace_for_the_next_call(make_engine) -> None:
    class FailsOnce(flowdesk.UserTaskHandler):
        failed = False

        def on_complete(
            self, task: flowdesk.Task, data: Mapping[str, Any], user: str | None
        ) -> None:
            if not FailsOnce.failed:
                FailsOnce.failed = True  # after the workflow ran on, before the commit
                raise RuntimeError("the mail server is down")

    engine = make_engine()
    engine.deploy(DATA / "counting_loop.bpmn")
    instance = engine.start(LOOP, {"count": 0, "rounds": 3, "items": []})
    _complete_item(engine, instance.id, 1)
    engine.handlers.register_user_task(FailsOnce(), process_key=LOOP)
    with pytest.raises(RuntimeError, match="mail server"):
        _complete_item(engine, instance.id, 99)
    assert engine.instance(instance.id).variables["items"] == [1]
    after = _complete_item(engine, instance.id, 2)
    assert after.variables["items"] == [1, 2]
    assert after.variables["count"] == 2
    completions = [e for e in engine.history(instance.id) if e.type == "task_completed"]
    assert len(completions) == 2


def test_engine__a_tuple_variable_behaves_as_the_list_it_is_stored_as(make_engine) -> None:
    # JSON stores a tuple as a list; the script's `items + [item]` works on the list. A
    # workflow kept in memory would still hold the tuple, and the script would fail.
    engine = make_engine()
    engine.deploy(DATA / "counting_loop.bpmn")
    instance = engine.start(LOOP, {"count": 0, "rounds": 2, "items": (7, 8)})
    after = _complete_item(engine, instance.id, 9)
    assert after.state == "running"
    assert after.incident is None
    assert after.variables["items"] == [7, 8, 9]


def test_cache__gives_a_workflow_once_and_only_at_its_lock_version() -> None:
    cache = WorkflowCache(size=2)
    workflow = object()
    cache.keep("a", 3, workflow)
    assert cache.take("a", 2) is None  # someone saved another version: a miss, and dropped
    assert cache.take("a", 3) is None
    cache.keep("a", 3, workflow)
    assert cache.take("a", 3) is workflow
    assert cache.take("a", 3) is None  # taken: no second caller gets the same object


def test_cache__keeps_the_newest_version_and_at_most_its_size() -> None:
    cache = WorkflowCache(size=2)
    newer, older = object(), object()
    cache.keep("a", 5, newer)
    cache.keep("a", 4, older)
    cache.keep("b", 1, object())
    cache.keep("c", 1, object())
    assert len(cache) == 2
    assert cache.take("a", 5) is None  # the oldest entry went first
    assert cache.take("c", 1) is not None
    cache.keep("d", 1, newer)
    cache.keep("d", 2, older)
    assert cache.take("d", 2) is older
