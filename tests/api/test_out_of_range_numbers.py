"""Numbers and durations beyond what the database or a datetime holds are refused with
`InvalidArgument` before anything is stored, on both databases (they used to leave as
OverflowError on SQLite and as StoreError on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from conftest import DATA

import flowdesk

MINUTE = timedelta(minutes=1)
HUGE = 2**70
FOREVER = timedelta.max

CALLS: dict[str, Callable[[flowdesk.Engine, str], Any]] = {
    "set_external_task_retries beyond a Java int": lambda e, t: e.set_external_task_retries(
        t, 2**31
    ),
    "failure with retries beyond a Java int": lambda e, t: e.handle_external_task_failure(
        t, "w1", "boom", retries=2**31
    ),
    "failure with a retry timeout past year 9999": lambda e, t: e.handle_external_task_failure(
        t, "w1", "boom", retries=1, retry_timeout=FOREVER
    ),
    "extend a lock past year 9999": lambda e, t: e.extend_external_task_lock(t, "w1", FOREVER),
    "fetch with a lock past year 9999": lambda e, t: e.fetch_and_lock(
        "w2", ["payment"], 1, lock_duration=FOREVER
    ),
    "fetch more tasks than a Java int": lambda e, t: e.fetch_and_lock(
        "w2", ["payment"], HUGE, lock_duration=MINUTE
    ),
    "run_due_jobs with a 70-bit limit": lambda e, t: e.run_due_jobs(limit=HUGE),
    "run_due_jobs with a lease past year 9999": lambda e, t: e.run_due_jobs(lease=FOREVER),
    "run_due_jobs with a negative lease": lambda e, t: e.run_due_jobs(lease=-MINUTE),
    "tasks with a 70-bit limit": lambda e, t: e.tasks(limit=HUGE),
    "tasks with a 70-bit offset": lambda e, t: e.tasks(offset=HUGE),
    "a diagram of a 70-bit version": lambda e, t: e.diagram("ext_payment", version=HUGE),
    "a decision of a 70-bit version": lambda e, t: e.evaluate_decision("d", {}, version=HUGE),
}


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_out_of_range_number__is_invalid_argument_and_changes_nothing(
    make_engine: Callable[..., flowdesk.Engine], call: str
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "external_tasks.bpmn")
    instance = engine.start("ext_payment", {"amount": 3, "priority": 7})
    (task,) = engine.fetch_and_lock("w1", ["payment"], 1, lock_duration=MINUTE)
    before = (engine.external_tasks(), engine.instance(instance.id), engine.jobs())

    with pytest.raises(flowdesk.InvalidArgument):
        CALLS[call](engine, task.id)

    assert (engine.external_tasks(), engine.instance(instance.id), engine.jobs()) == before
