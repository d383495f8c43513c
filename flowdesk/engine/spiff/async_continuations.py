"""Asynchronous continuations: `camunda:asyncBefore` and `camunda:asyncAfter` as jobs.

Camunda 7 commits the transaction at an async point and leaves a job that carries on from
there, so the call that reached it returns at once and a worker runs the rest. flowdesk does
the same. A task that is to wait for such a job is *held*: `WorkflowRun` sets it STARTED
(SpiffWorkflow runs only READY tasks and leaves STARTED ones alone, as it does for a call
activity waiting for its instance) and marks it in its internal data; the instance is saved,
and `WaitRows.sync_jobs` keeps one job of type "async" per held task. The job releases the
task (READY again) and runs the instance on.

- asyncBefore holds the activity itself, before its input mappings or anything of it runs.
- asyncAfter marks the tasks that follow the activity when it completes; the first of them to
  run is held instead. The job's element is the asyncAfter activity, as in Camunda.
- A catching event that waits for something (timer, message, signal, receive task, event-based
  gateway) is not held: its wait already ends the transaction, and Camunda's job would only
  enter it.
- On a multi-instance activity, the flags hold the multi-instance body (before it starts any
  instance, or after the last one), never single instances.
- Gateways carry no extensions in flowdesk's parser, so the flags are ignored on them.
- asyncBefore is ignored on an embedded sub-process: SpiffWorkflow starts its inner flow as
  soon as the flow reaches it, before the sub-process task itself runs (its asyncAfter works).
- `camunda:exclusive` is ignored: jobs of one instance never run at once in a way that could
  corrupt it, because saving an instance checks its lock version (one of two concurrent jobs
  gets `ConcurrencyConflict` and is tried again later).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.spiff import internals
from flowdesk.engine.spiff.multi_instance import MultiInstanceActivity

# The internal-data key of a task held (or released) by an async continuation.
_MARK = "flowdesk_async"


class Held(Exception):  # a signal between two engine functions, not an error
    """Raised from `WorkflowRun._before` for a task that must wait for its async job."""

    def __init__(self, task: Any) -> None:
        super().__init__(str(task.id))
        self.task = task


@dataclass(frozen=True, slots=True)
class AsyncHold:
    """A task waiting for its async job; `element_id` is where the job belongs."""

    task_ref: str
    element_id: str
    retry_cycle: str | None
    hold_id: str  # tells this hold from a later one of the same task (asyncAfter, then Before)


def check(task: Any) -> None:
    """Raise `Held` if the task must wait for an async job before it runs."""
    if must_hold(task):
        raise Held(task)


def must_hold(task: Any) -> bool:
    """Whether the task waits for an async job (asyncBefore, or after an asyncAfter one)."""
    mark = task.internal_data.get(_MARK)
    if mark is not None and _waits_for_event(task):
        del task.internal_data[_MARK]  # the event's own wait is the async point
        return False
    if mark is None or (mark["kind"] == "after" and mark["released"]):
        # Released after the activity before it, it may still be asyncBefore itself.
        if (
            _is_instance(task)
            or _waits_for_event(task)
            or isinstance(task.task_spec, SubWorkflowTask)
            or not _flag(task, "asyncBefore")
        ):
            return False
        mark = _new_mark(task, "before")
        task.internal_data[_MARK] = mark
    return not mark["released"]


def hold(task: Any) -> None:
    """Leave the task STARTED until its job releases it (see `must_hold`)."""
    internals.set_state(task, TaskState.STARTED)


def hold_user_tasks(workflow: Any) -> None:
    """Hold the ready user tasks that wait for an async job (Spiff never runs them itself)."""
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        if isinstance(task.task_spec, UserTask) and must_hold(task):
            hold(task)


def completed(task: Any) -> None:
    """After a task completed: if it is asyncAfter, mark the tasks that follow it."""
    if _is_instance(task) or not _flag(task, "asyncAfter"):
        return
    for child in task.children:
        if not child.has_state(TaskState.FINISHED_MASK) and _MARK not in child.internal_data:
            child.internal_data[_MARK] = _new_mark(task, "after")


def release(task: Any) -> bool:
    """Let a held task run; False if it is not held (it went, or was released before)."""
    mark = task.internal_data.get(_MARK)
    if task.state != TaskState.STARTED or mark is None or mark["released"]:
        return False
    mark["released"] = True
    internals.set_state(task, TaskState.READY)
    return True


def holds(workflow: Any) -> list[AsyncHold]:
    """Every held task of the workflow, sub-processes included."""
    return [
        AsyncHold(str(task.id), mark["element_id"], mark.get("retry_cycle"), mark["id"])
        for task in workflow.get_tasks(state=TaskState.STARTED)
        if (mark := task.internal_data.get(_MARK)) is not None and not mark["released"]
    ]


def _new_mark(task: Any, kind: str) -> dict[str, Any]:
    """The mark kept in a held task's internal data (JSON, it is saved with the workflow).

    `task` is the async activity: the held task itself for "before", the one it follows for
    "after".
    """
    return {
        "id": uuid.uuid4().hex,
        "kind": kind,
        "element_id": task.task_spec.bpmn_id,
        "retry_cycle": _extensions(task).get("retry_cycle"),
        "released": False,
    }


def _flag(task: Any, name: str) -> bool:
    # Exactly "true", as Camunda's BpmnParse compares (`TRUE.equals`): "True" is not async.
    # The parser has already read the older `camunda:async` as asyncBefore.
    return bool(_extensions(task).get("camunda", {}).get(name) == "true")


def _extensions(task: Any) -> dict[str, Any]:
    spec = task.task_spec
    if isinstance(spec, MultiInstanceActivity):
        # Spiff's parser gives the extensions to the inner activity, not the body.
        spec = task.workflow.spec.task_specs.get(spec.task_spec, spec)
    return getattr(spec, "extensions", None) or {}


def _is_instance(task: Any) -> bool:
    """One instance of a multi-instance activity (the flags belong to the body)."""
    parent = task.parent
    return parent is not None and isinstance(parent.task_spec, MultiInstanceActivity)


def _waits_for_event(task: Any) -> bool:
    spec = task.task_spec
    return isinstance(spec, CatchingEvent) and not isinstance(
        spec.event_definition, NoneEventDefinition
    )
