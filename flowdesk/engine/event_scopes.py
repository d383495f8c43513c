"""Event scopes as BPMN runs them where SpiffWorkflow 3.2 stops short.

`wire` fixes the specs once, when a deployed version is parsed: Spiff connects a message,
signal, error, escalation or conditional event sub-process to its process's start and end only
when it first triggers (`BpmnStartTask.trigger_wf`), which changes a shared spec at run time. A
spec parsed later (a new `Engine`) lacks those connections, and an event sub-process triggered
before the load fails when it ends ("No input task connected"); one parsed earlier makes every
later instance start it at once. Wired at parse time, every spec is the same from the start.

`interrupt` runs after each task: when the start event of an interrupting event sub-process has
fired, the rest of its scope is cancelled at once (Spiff never reads `isInterrupting`), before
any other task runs and whether or not the event sub-process ever waits.

After each round of engine steps, `settle` finishes what Spiff leaves undone:
- a process whose only work left is event sub-processes that never fired (Spiff runs timer
  starts beside the main flow) is done: they are cancelled, so it can end;
- waiting conditional events are evaluated against the current variables (Spiff keeps a stale
  copy), and a conditional event sub-process starts when its condition turns true.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskIterator, TaskState

from flowdesk.engine.specs import EventSubprocess

# Internal-data keys: an event sub-process that has interrupted its scope; the last value of
# each conditional event sub-process start (kept on the root task, so it is saved).
INTERRUPTED = "flowdesk_interrupted"
_CONDITIONS = "flowdesk_conditions"


def wire(spec: Any, subprocess_specs: Mapping[str, Any]) -> None:
    """Connect every triggered event sub-process to its process's start and end, once.

    Spiff's `trigger_wf` connects them only if the start is not already among the event
    sub-process's inputs. The start gets no output: started with the process, the event
    sub-process would run at once instead of waiting for its event.
    """
    for process in (spec, *subprocess_specs.values()):
        start = getattr(process, "start", None)
        for name in getattr(start, "trigger_specs", ()):
            event_subprocess = process.task_specs[name]
            if start not in event_subprocess.inputs:
                event_subprocess.inputs = [*event_subprocess.inputs, start]
            if process.end not in event_subprocess.outputs:
                event_subprocess.connect(process.end)


def interrupt(task: Any) -> None:
    """Cancel the rest of the scope once an interrupting event sub-process's start event ran.

    Called after every task that completes, so the scope stops before anything else in it runs
    and even when the event sub-process goes straight to its end.
    """
    if not isinstance(task.task_spec, StartEvent) or task.state != TaskState.COMPLETED:
        return
    workflow = task.workflow
    if workflow.parent_task_id is None:
        return
    owner = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
    if (
        owner is None
        or not isinstance(owner.task_spec, EventSubprocess)
        or not owner.task_spec.interrupting
        or owner.internal_data.get(INTERRUPTED)
    ):
        return
    owner.internal_data[INTERRUPTED] = True
    _cancel_all_but(owner.workflow, owner)


def settle(wf: Any, variables: Mapping[str, Any]) -> bool:
    """Finish what SpiffWorkflow 3.2 leaves undone after its steps; True if anything changed."""
    changed = False
    unfired = []
    for task in list(wf.tasks.values()):
        if not isinstance(task.task_spec, EventSubprocess) or task.has_state(
            TaskState.FINISHED_MASK
        ):
            continue
        if not _has_fired(wf, task):
            unfired.append(task)
        elif task.task_spec.interrupting and not task.internal_data.get(INTERRUPTED):
            task.internal_data[INTERRUPTED] = True
            _cancel_all_but(wf, task)
            changed = True
    if unfired and not _busy_besides(wf, unfired):
        for task in unfired:
            task.cancel()
        wf.update_waiting_tasks()
        changed = True
    return _refresh_conditions(wf, variables) or changed


def _has_fired(wf: Any, event_subprocess: Any) -> bool:
    """Whether its start event caught its event: completed, or pruned away once completed."""
    sub = wf.subprocesses.get(event_subprocess.id)
    if sub is None:
        return False
    starts = [t for t in sub.tasks.values() if isinstance(t.task_spec, StartEvent)]
    if not starts:
        return True  # pruning drops a start event only after it completed
    return any(t.state == TaskState.COMPLETED for t in starts)


def _cancel_all_but(wf: Any, keep: Any) -> None:
    kept = {t.id for t in TaskIterator(keep)}
    parent = keep.parent
    while parent is not None:
        kept.add(parent.id)
        parent = parent.parent
    doomed = [
        t for t in TaskIterator(wf.task_tree, state=TaskState.NOT_FINISHED_MASK) if t.id not in kept
    ]
    for task in doomed:
        task.cancel()


def _busy_besides(wf: Any, unfired: list[Any]) -> bool:
    idle = {t.id for task in unfired for t in TaskIterator(task)}
    live = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
    return any(
        t.id not in idle and t.task_spec is not wf.spec.end
        for t in TaskIterator(wf.task_tree, state=live)
    )


def _refresh_conditions(wf: Any, variables: Mapping[str, Any]) -> bool:
    changed = False
    environment = wf.script_engine.environment
    for task in list(wf.event_manager.tasks.values()):
        definition = task.task_spec.event_definition
        if (
            task.state == TaskState.WAITING
            and isinstance(definition, ConditionalEventDefinition)
            and environment.evaluate(definition.expression, variables)
        ):
            # Not `_update`: it would first copy the parent's stale data over the task's.
            task._ready()
            changed = True
    seen = wf.task_tree.internal_data.setdefault(_CONDITIONS, {})
    for spec_name in wf.spec.start.trigger_specs:
        for start in wf.subprocess_specs[spec_name].bpmn_start_events:
            definition = start.event_definition
            if not isinstance(definition, ConditionalEventDefinition):
                continue
            holds = bool(environment.evaluate(definition.expression, variables))
            if holds and not seen.get(start.bpmn_id):
                _trigger(wf, spec_name, variables)
                changed = True
            seen[start.bpmn_id] = holds
    return changed


def _trigger(wf: Any, spec_name: str, variables: Mapping[str, Any]) -> None:
    """Start a top-level event sub-process, as Spiff's `trigger_wf` does, with the variables.

    Spiff copies the (empty) root task's data into it, against which a conditional start
    event could not evaluate.
    """
    spec = wf.spec.task_specs[spec_name]  # connected to the start and end by `wire`
    child = wf.task_tree._add_child(spec, TaskState.FUTURE)
    child.triggered = True
    child.data.update(copy.deepcopy(dict(variables)))
    spec._update(child)


def has_interrupted(wf: Any) -> bool:
    """Whether an interrupting event sub-process has taken over the process."""
    return any(t.internal_data.get(INTERRUPTED) for t in wf.tasks.values())
