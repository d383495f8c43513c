"""Event scopes as BPMN runs them where SpiffWorkflow 3.2 stops short.

A scope is the process or a running sub-workflow (an embedded sub-process, an event
sub-process); its event sub-processes belong to it.

`wire` fixes the specs once, when a deployed version is parsed: Spiff connects a message,
signal, error, escalation or conditional event sub-process to its process's start and end only
when it first triggers (`BpmnStartTask.trigger_wf`), which changes a shared spec at run time. A
spec parsed later (a new `Engine`) lacks those connections, and an event sub-process triggered
before the load fails when it ends ("No input task connected"); one parsed earlier makes every
later instance start it at once. Wired at parse time, every spec is the same from the start.

`ScopedEventManager` (put on every loaded workflow by `install`) starts the event
sub-processes of every scope; Spiff 3.2 starts only the top-level process's. An error or
escalation goes to the innermost scope around its thrower with a catching boundary event or
event sub-process (never back to the event sub-process it was thrown from, as in Camunda); a
message or signal goes to every running scope that listens.

`interrupt` runs after each task: when the start event of an interrupting event sub-process has
fired, the rest of its scope is cancelled at once (Spiff never reads `isInterrupting`), before
any other task runs and whether or not the event sub-process ever waits. From then on no
message, signal, timer or conditional event sub-process of that scope starts; errors and
escalations thrown inside it may still start another one.

After each round of engine steps, `settle` finishes what Spiff leaves undone, in every scope:
- compensation handlers wait to start while an earlier one runs; the next starts once it waits
  (`compensation.resume`);
- a scope whose only work left is event sub-processes that never fired (Spiff runs timer
  starts beside the main flow) is done: they are cancelled, so it can end;
- waiting conditional events are evaluated against the current variables (Spiff keeps a stale
  copy), and a conditional event sub-process starts when its condition turns true.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.conditional import ConditionalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.util.event import EventManager
from SpiffWorkflow.util.task import TaskIterator, TaskState

from flowdesk.engine.scripts import script_languages
from flowdesk.engine.spiff import compensation, internals
from flowdesk.engine.spiff.specs import EventSubprocess

# Internal-data keys: an event sub-process that has interrupted its scope; the last value of
# each conditional event sub-process start (kept on the root task, so it is saved).
INTERRUPTED = "flowdesk_interrupted"
_CONDITIONS = "flowdesk_conditions"


def wire(spec: Any, subprocess_specs: Mapping[str, Any]) -> None:
    """Connect every triggered event sub-process to its process's start and end, once.

    The start gets no output: started with the process, the event sub-process would run at
    once instead of waiting for its event (`_trigger` starts it). Its inputs must not be empty
    (Spiff's `TaskSpec.test`), and its output is the end join its scope ends at.
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


def install(workflow: Any) -> None:
    """Give a workflow the event manager that starts event sub-processes of every scope."""
    if not isinstance(workflow.event_manager, ScopedEventManager):
        manager = ScopedEventManager(workflow)
        manager.tasks = workflow.event_manager.tasks
        workflow.event_manager = manager


class ScopedEventManager(EventManager):  # type: ignore[misc]  # Spiff is untyped
    """Spiff's event manager, with event sub-processes in embedded sub-processes too."""

    def catch(self, event: Any, internal: bool = True) -> int:
        if event.target is None:
            return self._broadcast(event, internal)
        # The activity the event comes from, in the scope being searched: the thrower itself
        # (`throw_from`), then the sub-process (or event sub-process) it was thrown inside.
        scope, thrown_in = event.target, getattr(event, _THROWER, None)
        while scope is not None:
            tasks = [
                t
                for t in list(self.tasks.values())
                if t.workflow is scope
                and t.task_spec.event_definition.catches(t, event)
                and _around(t, thrown_in, event)
            ]
            if not tasks:
                tasks = _start_listeners(scope, event, exclude=thrown_in)
            if tasks:
                _deliver(tasks, event)
                return len(tasks)
            thrown_in = _owner(scope)
            scope = scope.parent_workflow
        if internal:
            self.workflow.bpmn_events.append(event)
        return 0

    def _broadcast(self, event: Any, internal: bool) -> int:
        for scope in scopes(self.workflow):
            _start_listeners(scope, event, exclude=None)
        tasks = [t for t in list(self.tasks.values()) if t.task_spec.catches(t, event)]
        if not tasks and internal:
            self.workflow.bpmn_events.append(event)
        _deliver(tasks, event)
        return len(tasks)


# The attribute of a BpmnEvent that holds the task it was thrown from (see `throw_from`).
_THROWER = "flowdesk_thrower"


def throw_from(task: Any, event: Any) -> None:
    """Throw an error or escalation from an activity (a service task, a call activity).

    Its own boundary events may catch it; thrown without a thrower (an end or throw event,
    which has none), the thrower's scope catches it only with an event sub-process.
    """
    setattr(event, _THROWER, task)
    task.workflow.top_workflow.catch(event)


def _around(catcher: Any, activity: Any, event: Any) -> bool:
    """Whether a catching task may catch this error or escalation thrown inside `activity`.

    A boundary event catches only what comes from inside the activity it is attached to (or
    one of that activity's multi-instance instances); Spiff lets a boundary event catch any
    error thrown in its workflow, so an error end event in one parallel branch fired the error
    boundary on a task of another.
    """
    if not isinstance(event.event_definition, ErrorEventDefinition | EscalationEventDefinition):
        return True
    if not isinstance(catcher.task_spec, BoundaryEvent):
        return True
    if activity is None:
        return False
    attached = [c for c in catcher.parent.children if not isinstance(c.task_spec, BoundaryEvent)]
    return any(activity is a or activity.is_descendant_of(a) for a in attached)


def _deliver(tasks: list[Any], event: Any) -> None:
    for task in tasks:
        task.task_spec.catch(task, event)
        internals.update(task)


def _owner(scope: Any) -> Any:
    """The task that runs a sub-workflow, in its parent workflow (None for the process)."""
    if scope.parent_task_id is None:
        return None
    return scope.top_workflow.get_task_from_id(scope.parent_task_id)


def scopes(wf: Any) -> list[Any]:
    """The process and every sub-workflow that runs: the scopes event sub-processes live in."""
    return [wf, *(sp for sp in wf.subprocesses.values() if not sp.completed)]


def _start_listeners(scope: Any, event: Any, *, exclude: Any) -> list[Any]:
    """Start the scope's event sub-processes whose start event catches `event`.

    Returns their start event tasks, waiting for the event. `exclude` is the task (in this
    scope) the event was thrown from inside: an event sub-process never catches its own.
    """
    if scope.completed:
        return []
    top = scope.top_workflow
    silenced = has_interrupted(scope) and not isinstance(
        event.event_definition, ErrorEventDefinition | EscalationEventDefinition
    )
    started: list[Any] = []
    for name in scope.spec.start.trigger_specs:
        if silenced or (exclude is not None and exclude.task_spec.name == name):
            continue
        for start in top.subprocess_specs[name].bpmn_start_events:
            if start.event_definition == event.event_definition:
                sub = top.subprocesses[_trigger(scope, name).id]
                started.extend(t for t in sub.tasks.values() if t.task_spec is start)
    return started


def settle(wf: Any, variables: Mapping[str, Any]) -> bool:
    """Finish what SpiffWorkflow 3.2 leaves undone after its steps; True if anything changed."""
    if compensation.resume(wf):
        return True  # the handlers just started run first
    changed = False
    for scope in scopes(wf):
        changed = _settle_scope(wf, scope) or changed
    for scope in scopes(wf):
        changed = _refresh_start_conditions(scope, variables) or changed
    return _refresh_conditions(wf, variables) or changed


def _settle_scope(wf: Any, scope: Any) -> bool:
    changed = False
    unfired = []
    for task in list(scope.tasks.values()):
        if (
            not isinstance(task.task_spec, EventSubprocess)
            or task.has_state(TaskState.FINISHED_MASK)
            or compensation.started_by_throw(task)  # a compensation event sub-process
        ):
            continue
        if not _has_fired(wf, task):
            unfired.append(task)
        elif task.task_spec.interrupting and not task.internal_data.get(INTERRUPTED):
            task.internal_data[INTERRUPTED] = True
            _cancel_all_but(scope, task)
            changed = True
    if unfired and not _busy_besides(scope, unfired):
        for task in unfired:
            task.cancel()
        scope.update_waiting_tasks()
        changed = True
    return changed


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
    for task in wf.task_tree.children:
        if compensation.thrown_inside(task, keep):
            kept.update(t.id for t in TaskIterator(task))
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
    """Waiting conditional catch and boundary events whose condition holds now fire."""
    changed = False
    environment = wf.script_engine.environment
    for task in list(wf.event_manager.tasks.values()):
        definition = task.task_spec.event_definition
        if (
            task.state == TaskState.WAITING
            and isinstance(definition, ConditionalEventDefinition)
            and _holds(environment, definition.expression, variables)
        ):
            # Not `_update`: it would first copy the parent's stale data over the task's.
            internals.make_ready(task)
            changed = True
    return changed


def _holds(environment: Any, expression: str, variables: Mapping[str, Any]) -> bool:
    return script_languages.condition_holds(
        expression, lambda text: environment.evaluate(text, variables)
    )


def _refresh_start_conditions(scope: Any, variables: Mapping[str, Any]) -> bool:
    """A conditional event sub-process of the scope starts when its condition turns true."""
    if scope.completed or has_interrupted(scope):
        return False
    changed = False
    top = scope.top_workflow
    environment = top.script_engine.environment
    seen = scope.task_tree.internal_data.setdefault(_CONDITIONS, {})
    for spec_name in scope.spec.start.trigger_specs:
        for start in top.subprocess_specs[spec_name].bpmn_start_events:
            definition = start.event_definition
            if not isinstance(definition, ConditionalEventDefinition):
                continue
            holds = _holds(environment, definition.expression, variables)
            if holds and not seen.get(start.bpmn_id):
                _trigger(scope, spec_name, variables)
                changed = True
            seen[start.bpmn_id] = holds
    return changed


def _trigger(scope: Any, spec_name: str, variables: Mapping[str, Any] | None = None) -> Any:
    """Start an event sub-process of a scope, as Spiff's `trigger_wf` does; returns its task.

    Unlike `trigger_wf`, the new task's path to its scope's end is predicted first: Spiff adds
    it as a FUTURE task, which it never predicts, so it would end without a next task, and its
    scope would end only by finding nothing left to do (as the process does), which a
    sub-process never checks. `variables` go into its data: Spiff copies the (empty) root
    task's data, against which a conditional start event could not evaluate.
    """
    spec = scope.spec.task_specs[spec_name]  # connected to the start and end by `wire`
    child = internals.add_child(scope.task_tree, spec, TaskState.FUTURE)
    child.triggered = True
    if variables is not None:
        child.data.update(copy.deepcopy(dict(variables)))
    internals.predict(child, TaskState.FUTURE | TaskState.PREDICTED_MASK)
    internals.update(child)
    return child


def has_interrupted(scope: Any) -> bool:
    """Whether an interrupting event sub-process has taken over this scope."""
    return any(t.internal_data.get(INTERRUPTED) for t in scope.tasks.values())


def listening_starts(wf: Any) -> list[Any]:
    """The start event specs of the event sub-processes that could start now, in every scope."""
    top = wf.top_workflow
    return [
        start
        for scope in scopes(wf)
        if not scope.completed and not has_interrupted(scope)
        for name in scope.spec.start.trigger_specs
        for start in top.subprocess_specs[name].bpmn_start_events
    ]
