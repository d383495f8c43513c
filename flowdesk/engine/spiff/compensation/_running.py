"""Compensation at run time: records of completions, throws that start their handlers."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.defaults import EndEvent, IntermediateThrowEvent, SubWorkflowTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import (
    EventSubprocess as SpiffEventSubprocess,
)
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import (
    SubWorkflowTask as AnySubWorkflowTask,  # sub-processes, call and event sub-processes
)
from SpiffWorkflow.util.task import TaskIterator, TaskState

from flowdesk.engine.spiff import internals
from flowdesk.engine.spiff.specs import EventSubprocess

# Internal-data keys: a scope's records (its root task), the completion counter (the top
# workflow's root task), a thrower's started handlers and its queue of records still to undo,
# a handler's thrower, and the records a `CompensationScope` undoes.
_RECORDS = "flowdesk_compensation"
_SEQUENCE = "flowdesk_compensation_seq"
_HANDLERS = "flowdesk_compensation_handlers"
_QUEUE = "flowdesk_compensation_queue"
_THROWER = "flowdesk_compensation_thrower"
_INNER = "flowdesk_compensation_inner"
_ESP = "flowdesk_compensation_event_subprocess"
_SNAPSHOT = "flowdesk_compensation_snapshot"
# The names of an activity's input parameters, kept by the engine while it runs.
_LOCAL_NAMES = "flowdesk_local"


class _Compensable:
    """An activity with a compensation handler: its completion leaves a record in its scope."""

    compensation_handler: str

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)  # type: ignore[misc]
        record = {"activity": my_task.task_spec.bpmn_id, "handler": self.compensation_handler}
        _add_record(my_task, record)


class _CompensableScope:
    """A sub-process with handlers inside: on completion, its records move to its parent scope.

    Camunda keeps a completed sub-process's subscriptions in an "event scope" under the scope
    around it; compensating the sub-process then compensates them. Here they become one record
    of the parent scope, which `CompensationScope` undoes. `compensation_shadowed`: the
    sub-process has a compensation boundary event of its own, so (as in Camunda) an
    `activityRef` naming it runs only that handler, and a throw without one runs both.
    """

    compensation_scope: str
    compensation_shadowed: bool
    compensation_event_subprocess: str | None = None

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)  # type: ignore[misc]
        sub = my_task.workflow.top_workflow.subprocesses.get(my_task.id)
        inner = sub.task_tree.internal_data.get(_RECORDS, []) if sub is not None else []
        # Camunda: a sub-process with a compensation event sub-process is compensable even
        # when nothing inside it is.
        if inner or self.compensation_event_subprocess is not None:
            record = {
                "activity": my_task.task_spec.bpmn_id,
                "scope": self.compensation_scope,
                "inner": inner,
                "shadowed": self.compensation_shadowed,
                "event_subprocess": self.compensation_event_subprocess,
                "snapshot": _local_snapshot(my_task, sub),
            }
            _add_record(my_task, record)


def _local_snapshot(my_task: Any, sub: Any) -> dict[str, Any]:
    """The sub-process's local variables (its input parameters) as they are when it completes.

    Camunda copies them into the event scope its compensation event sub-process runs in.
    """
    if sub is None:
        return {}
    names = my_task.internal_data.get(_LOCAL_NAMES, [])
    # The sub-process's last task has the values its inside left; the sub-process task itself
    # (when its inside dropped them) the values its input parameters gave.
    data = {**my_task.data, **(sub.last_task.data if sub.last_task is not None else {})}
    return {name: copy.deepcopy(data[name]) for name in names if name in data}


def _add_record(my_task: Any, record: dict[str, Any]) -> None:
    """Remember a completion in the task's scope, numbered in completion order."""
    top = my_task.workflow.top_workflow
    sequence = int(top.task_tree.internal_data.get(_SEQUENCE, 0)) + 1
    top.task_tree.internal_data[_SEQUENCE] = sequence
    records = my_task.workflow.task_tree.internal_data.setdefault(_RECORDS, [])
    records.append({"sequence": sequence, **record})


class _Handler:
    """A compensation handler: when it has finished, the throw that started it may go on."""

    def test(self) -> None:
        # Spiff's check before READY wants an incoming connection; a handler has none by BPMN's
        # rule (it only ever runs when a throw spawns it).
        return None

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)  # type: ignore[misc]
        _wake_thrower(my_task)


class _CompensationThrow:
    """Compensates its scope's completed activities, then waits until their handlers finished.

    The handlers start when the token reaches the event (its update); the event becomes READY
    (and then runs as the event it is) when the last handler completes.
    """

    activity_ref: str | None = None

    def _update_hook(self, my_task: Any) -> bool:
        if not super()._update_hook(my_task):  # type: ignore[misc]
            return False
        if _QUEUE not in my_task.internal_data:
            my_task.internal_data[_QUEUE] = _take_records(my_task, self.activity_ref)
        if _drive(my_task):
            return True
        internals.set_state(my_task, TaskState.WAITING)
        return False


class CompensationThrowEvent(_CompensationThrow, IntermediateThrowEvent):  # type: ignore[misc]
    """An intermediate compensation throw event."""


class CompensationEndEvent(_CompensationThrow, EndEvent):  # type: ignore[misc]
    """A compensation end event: compensates, then ends its path."""


class CancelEndEvent(_CompensationThrow, EndEvent):  # type: ignore[misc]
    """A transaction's cancel end event: compensates the transaction, then cancels it."""


class CompensationScope(SubWorkflowTask):  # type: ignore[misc]  # Spiff is untyped
    """Undoes the inside of a completed sub-process: its handlers run in a fresh sub-workflow.

    SpiffWorkflow drops a sub-process's sub-workflow once it completes; this spec (one per such
    sub-process, in the scope around it) gets a new, empty one of the same sub-process spec, in
    which the handlers of the records it carries run (never the sub-process's own flow). It
    completes when they all have.
    """

    def __init__(self, wf_spec: Any, name: str, subworkflow_spec: str) -> None:
        super().__init__(wf_spec, name, subworkflow_spec)
        self.bpmn_id = None  # no element of the model: the history shows the handlers only

    def test(self) -> None:
        return None  # no incoming flow: only a throw starts it

    def _update_hook(self, my_task: Any) -> bool:
        if my_task.has_state(TaskState.FINISHED_MASK):
            return False
        top = my_task.workflow.top_workflow
        if _QUEUE not in my_task.internal_data:
            internals.inherit_data(my_task)
            sub = top.create_subprocess(my_task, self.spec)
            # Spiff readies a new workflow's Start (its root) and predicts the flow after it;
            # none of that may run here, only the handlers.
            internals.drop_children(sub.task_tree, force=True)
            internals.set_state(sub.task_tree, TaskState.COMPLETED)
            inner = sorted(my_task.internal_data.pop(_INNER, []), key=_newest_first)
            event_subprocess = my_task.internal_data.pop(_ESP, None)
            if event_subprocess is None:
                my_task.internal_data[_QUEUE] = [[record, str(my_task.id)] for record in inner]
            else:
                # Camunda runs the compensation event sub-process instead; the inner records
                # stay in the sub-process's scope, for the compensation throws inside it.
                sub.task_tree.internal_data[_RECORDS] = inner
                sub.task_tree.data.update(my_task.internal_data.pop(_SNAPSHOT, {}))
                start = {"handler": event_subprocess, "sequence": 0}
                my_task.internal_data[_QUEUE] = [[start, str(my_task.id)]]
        if _drive(my_task):
            return True
        internals.set_state(my_task, TaskState.WAITING)
        return False

    def _run_hook(self, my_task: Any) -> bool:
        sub = my_task.workflow.top_workflow.subprocesses.get(my_task.id)
        if sub is not None:
            sub.completed = True  # done: Spiff stops updating it, pruning drops it
        return True

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)
        _wake_thrower(my_task)


def _take_records(my_task: Any, activity_ref: str | None) -> list[list[Any]]:
    """Take the throw's records from its scopes: `[record, scope key]`, newest first."""
    chosen: list[list[Any]] = []
    for scope in _scopes(my_task.workflow):
        records = scope.task_tree.internal_data.get(_RECORDS, [])
        taken = [r for r in records if _matches(r, activity_ref)]
        scope.task_tree.internal_data[_RECORDS] = [r for r in records if r not in taken]
        key = None if scope is scope.top_workflow else str(scope.parent_task_id)
        chosen.extend([record, key] for record in taken)
    return sorted(chosen, key=lambda pair: _newest_first(pair[0]))


def _newest_first(record: dict[str, Any]) -> int:
    return -int(record["sequence"])


def _matches(record: dict[str, Any], activity_ref: str | None) -> bool:
    if activity_ref is None:
        return True
    return record["activity"] == activity_ref and not record.get("shadowed", False)


def _drive(thrower: Any) -> bool:
    """Start the queued handlers in order; True once all have finished.

    Camunda starts them newest first, each running until it finishes or waits (for a person,
    a message, a timer) before the next starts. So the next one starts here only when those
    started before are finished or wait; a running one wakes the thrower when it completes.
    """
    top = thrower.workflow.top_workflow
    started: list[str] = thrower.internal_data.setdefault(_HANDLERS, [])
    queue: list[list[Any]] = thrower.internal_data[_QUEUE]
    while queue and not any(_busy(top, ref) for ref in started):
        record, scope_key = queue.pop(0)
        scope = top if scope_key is None else top.subprocesses[UUID(scope_key)]
        started.append(_spawn(record, scope, thrower))
    return not queue and not any(_running(top, ref) for ref in started)


def _spawn(record: dict[str, Any], scope: Any, thrower: Any) -> str:
    spec = scope.spec.task_specs[record.get("handler") or record["scope"]]
    handler = internals.add_child(scope.task_tree, spec, TaskState.FUTURE)
    handler.triggered = True  # not one of the root's predicted children: Spiff keeps it
    handler.internal_data[_THROWER] = str(thrower.id)
    if "inner" in record:
        handler.internal_data[_INNER] = record["inner"]
    if record.get("event_subprocess"):
        handler.internal_data[_ESP] = record["event_subprocess"]
        handler.internal_data[_SNAPSHOT] = record.get("snapshot", {})
    internals.update(handler)
    return str(handler.id)


def started_by_throw(task: Any) -> bool:
    """Whether a task is a compensation handler a throw started (no event it waits for)."""
    return bool(task.internal_data.get(_THROWER))


def thrown_inside(task: Any, owner: Any) -> bool:
    """Whether `task` is a handler (or a compensation scope) started by a throw inside `owner`.

    An interrupting event sub-process cancels the rest of its scope; the handlers its own
    compensation throw started there (they run in the scope around it) are its work, not the
    scope's, and must live on.
    """
    thrower = _find_task(task.workflow.top_workflow, task.internal_data.get(_THROWER))
    workflow = thrower.workflow if thrower is not None else None
    while workflow is not None and workflow.parent_task_id is not None:
        if workflow.parent_task_id == owner.id:
            return True
        parent = _find_task(workflow.top_workflow, str(workflow.parent_task_id))
        workflow = parent.workflow if parent is not None else None
    return False


def _wake_thrower(my_task: Any) -> None:
    thrower = _find_task(my_task.workflow.top_workflow, my_task.internal_data.get(_THROWER))
    if thrower is not None and thrower.state == TaskState.WAITING:
        internals.update(thrower)


def _scopes(workflow: Any) -> Iterator[Any]:
    """The workflows whose records a throw in `workflow` takes.

    Its own scope; from inside an event sub-process also the scope around it (Camunda: an
    event sub-process does not consume compensation, its flow scope's subscriptions count).
    """
    current = workflow
    while True:
        yield current
        parent_id = getattr(current, "parent_task_id", None)
        if parent_id is None:
            return
        parent = _find_task(current.top_workflow, str(parent_id))
        if parent is None or not isinstance(
            parent.task_spec, EventSubprocess | SpiffEventSubprocess
        ):
            return
        current = parent.workflow


_LIVE = TaskState.NOT_FINISHED_MASK | TaskState.ERROR


def _running(top: Any, task_ref: str) -> bool:
    task = _find_task(top, task_ref)
    if task is None:
        return False  # pruned: it had finished
    return next(TaskIterator(task, state=_LIVE), None) is not None


def _busy(top: Any, task_ref: str) -> bool:
    """Whether a started handler runs on without waiting (the next one must wait for it).

    Inside a handler that is a sub-process (a sub-process handler, the undoing of a completed
    sub-process, a compensation event sub-process) its inner tasks count: one that waits (a
    user task, say) lets the next handler start, as in Camunda 7.
    """
    task = _find_task(top, task_ref)
    if task is None:
        return False
    return any(not _waits(each) for each in _live_inside(top, task))


def _live_inside(top: Any, task: Any) -> Iterator[Any]:
    """The unfinished tasks from `task` on, in the sub-workflows they run too."""
    for each in TaskIterator(task, state=_LIVE):
        yield each
        sub = top.subprocesses.get(each.id)
        if sub is not None and not sub.completed:
            yield from _live_inside(top, sub.task_tree)


def _waits(task: Any) -> bool:
    """Whether an unfinished task waits for something (or is only predicted)."""
    if task.has_state(TaskState.PREDICTED_MASK | TaskState.FUTURE | TaskState.WAITING):
        return True
    if task.state == TaskState.READY:
        return bool(task.task_spec.manual)
    if task.state == TaskState.STARTED:
        # A sub-process or call activity: what runs inside it counts (see `_live_inside`).
        return isinstance(task.task_spec, AnySubWorkflowTask)
    return False  # an incident holds the next handler


def resume(workflow: Any) -> bool:
    """Start the next handlers of compensations whose running handlers all wait now.

    A handler that is a sub-process may come to wait (at a user task inside) after it started;
    nothing wakes its thrower then, so the engine calls this after its steps. True if a handler
    started.
    """
    top = workflow.top_workflow
    started = False
    for scope in (top, *top.subprocesses.values()):
        for task in list(scope.tasks.values()):
            if task.state == TaskState.WAITING and task.internal_data.get(_QUEUE):
                before = len(task.internal_data[_QUEUE])
                internals.update(task)
                started = started or len(task.internal_data.get(_QUEUE, [])) < before
    return started


def _find_task(top: Any, task_ref: str | None) -> Any:
    if not task_ref:
        return None
    task_id = UUID(task_ref)
    for workflow in (top, *top.subprocesses.values()):
        task = workflow.tasks.get(task_id)
        if task is not None:
            return task
    return None


_MIXED: dict[tuple[type, type], type] = {}


def _mix(spec: Any, mixin: type) -> None:
    """Give a parsed spec a mixin, keeping its class name (the history reports it)."""
    base = type(spec)
    if issubclass(base, mixin):
        return
    cls = _MIXED.get((base, mixin))
    if cls is None:
        cls = type(base.__name__, (mixin, base), {"__qualname__": base.__qualname__})
        _MIXED[(base, mixin)] = cls
    spec.__class__ = cls
