"""Keep a workflow's task tree as small as its live work, so a step costs the same at any age.

SpiffWorkflow 3.2 keeps every task it ever ran in the tree. In a loop every finished task is an
ancestor of the live one, so the tree is a chain that grows by a level per step: each step costs
more (the iterators and the serializer walk all of it), and past depth 1000 the task iterators
(`max_depth=1000`) no longer see the live task, so after about 500 rounds of a two-step loop the
workflow reports itself completed. Its joins also count finished join instances of earlier
rounds as arrived inputs and fire early.

`prune` cuts the tree back to what the engine still reads, between engine steps (never inside
a Spiff callback, where Spiff holds tasks it is about to use):

1. every subtree that holds no live task (nor one kept for the rules below) is dropped;
2. the chain above the live tasks is compacted: a completed task with a single child is spliced
   out (its child hangs from its parent), as nothing reads it any more;
3. the sub-workflows of finished sub-process tasks (and of dropped ones) are dropped.

What is kept, because SpiffWorkflow or flowdesk reads it later:

- the root (triggered event sub-processes hang from it) and every live task (not finished, or
  in ERROR) with its path from the root; forks on that path stay, single links may go;
- the parent of every live task, whose data Spiff merges into a waiting task each time it is
  updated; except a completed parallel/inclusive join, which must go: an inclusive join looks
  for its inputs only down to the nearest earlier instance of itself (`end_at_spec`);
- while an instance of a parallel or inclusive join waits, the cancelled instances of that join
  and their parents: the branches that already arrived (`ParallelGateway` and
  `InclusiveGateway` count `task.parent` of those instances). Once the join has fired they go,
  which is also what keeps it from counting an earlier round's branches;
- the parent of any join instance that has not run, the split a pending boundary-event or
  start-event join looks for (`find_ancestor`), and the children of such a split;
- the instances of a multi-instance activity that completed but were not yet counted;
- a cancelled call activity whose called instance the engine has yet to terminate
  (`WorkflowRun.abandoned_calls` marks it abandoned once it has).

A completed workflow is left alone: the engine reads how it ended (a terminate end event) and it
will not grow again. The history table, written as the steps run, is the record of what ran;
after pruning SpiffWorkflow's `reset_from_task_id` to a finished task is impossible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.control import EventSplit
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.spiff import internals
from flowdesk.engine.spiff.internals import child_ids, parent_id, state_of
from flowdesk.engine.spiff.specs import (
    CALL_ABANDONED,
    CALL_REQUESTED,
    CALL_STATE,
    FlowdeskCallActivity,
)

TaskCallback = Callable[[Any], None]

# Live: still to run, running, or failed (a retry runs it again).
_LIVE = TaskState.NOT_FINISHED_MASK | TaskState.ERROR
# A join instance still waiting for inputs, or about to run with what arrived.
_JOINING = TaskState.WAITING | TaskState.READY
# The joins that count the parents of their cancelled instances as inputs that arrived. The
# process end (`_EndJoin`) only waits for unfinished tasks; its cancelled instances would merge
# stale branch data into the end, which flowdesk's one variable scope does not need.
_COUNTING_JOINS = (ParallelGateway, InclusiveGateway)
# The internal-data key of a multi-instance body (`multi_instance.MultiInstanceActivity`).
_MI_BODY = "flowdesk_mi"


def do_engine_steps(
    workflow: Any,
    will_complete_task: TaskCallback | None = None,
    did_complete_task: TaskCallback | None = None,
) -> None:
    """`BpmnWorkflow.do_engine_steps`, pruning the tree between its passes.

    Each pass runs the tasks that were ready when it began, so a loop of engine tasks (scripts,
    services, gateways) that runs many rounds in one call stays as small as one that waits for
    a person each round.
    """
    while internals.run_engine_steps(workflow, will_complete_task, did_complete_task):
        prune(workflow)
    workflow.refresh_timers()
    prune(workflow)


def prune(workflow: Any) -> None:
    """Drop the finished work of a top-level workflow and of its sub-workflows (see module)."""
    if workflow.completed:
        return
    removed: set[UUID] = set()
    for each in [workflow, *workflow.subprocesses.values()]:
        if not each.completed:
            removed.update(_prune_tree(each))
    removed.update(_drop_spent_subprocesses(workflow))
    events = workflow.event_manager.tasks
    for task_id in removed.intersection(events):
        del events[task_id]


def _prune_tree(workflow: Any) -> set[UUID]:
    """Prune one workflow's own tree; returns the ids of the tasks removed."""
    # Keyed by id; `UUID | None` so that a root's parent id (None) may be looked up.
    tasks: dict[UUID | None, Any] = workflow.tasks
    root = workflow.task_tree
    anchors, protected = _anchors(tasks)
    protected.add(root.id)

    needed = {root.id}
    for anchor in anchors:
        current = anchor
        while current is not None and current.id not in needed:
            needed.add(current.id)
            current = tasks.get(parent_id(current))

    removed: set[UUID] = {task.id for task in tasks.values() if task.id not in needed}
    for task_id in removed:
        del tasks[task_id]
    if removed:
        for task in tasks.values():
            children = child_ids(task)
            if any(child not in needed for child in children):
                internals.set_child_ids(task, [c for c in children if c in needed])

    # Insertion order puts a parent before its children, so a run of spliceable tasks is
    # spliced top-down, each child reattached to the nearest ancestor that stays.
    for task in list(tasks.values()):
        if task.id in protected or state_of(task) != TaskState.COMPLETED:
            continue
        children = child_ids(task)
        parent = tasks.get(parent_id(task)) if len(children) == 1 else None
        if parent is None:
            continue
        child = tasks[children[0]]
        internals.set_parent_id(child, parent.id)
        siblings = child_ids(parent)
        siblings[siblings.index(task.id)] = child.id
        del tasks[task.id]
        removed.add(task.id)
    return removed


def _anchors(by_id: Mapping[UUID | None, Any]) -> tuple[list[Any], set[UUID]]:
    """The tasks to keep with their paths, and the ids of tasks that must not be spliced out."""
    joining = {
        task.task_spec
        for task in by_id.values()
        if state_of(task) & _JOINING and isinstance(task.task_spec, _COUNTING_JOINS)
    }
    anchors: list[Any] = []
    protected: set[UUID] = set()
    for task in by_id.values():
        spec = task.task_spec
        state = state_of(task)
        parent = by_id.get(parent_id(task))
        if parent is not None and isinstance(parent.task_spec, EventSplit):
            # A boundary-event (start-event) join tells the activity from its events by the
            # specs of the split's children: a child spliced in from below would confuse it.
            protected.add(task.id)
        if state & _LIVE:
            anchors.append(task)
            if parent is not None and (isinstance(spec, Join) or not _finished_join(parent)):
                protected.add(parent.id)
            if isinstance(spec, Join) and spec.split_task is not None:
                split = _ancestor(task, spec.split_task, by_id)
                if split is not None:
                    protected.add(split.id)
            body = task.internal_data.get(_MI_BODY)
            if body is not None:
                pending = set(body.get("pending", ()))
                anchors.extend(c for c in task.children if c is not None and str(c.id) in pending)
        elif state == TaskState.CANCELLED and spec in joining:
            anchors.append(task)
            if parent is not None:
                protected.add(parent.id)
        elif _abandoned_call(task):
            anchors.append(task)
    return anchors, protected


def _finished_join(task: Any) -> bool:
    return state_of(task) == TaskState.COMPLETED and isinstance(task.task_spec, UnstructuredJoin)


def _ancestor(task: Any, spec_name: str, by_id: Mapping[UUID | None, Any]) -> Any:
    current = by_id.get(parent_id(task))
    while current is not None and current.task_spec.name != spec_name:
        current = by_id.get(parent_id(current))
    return current


def _abandoned_call(task: Any) -> bool:
    """A cancelled call activity whose called instance has not been terminated yet."""
    return (
        state_of(task) == TaskState.CANCELLED
        and isinstance(task.task_spec, FlowdeskCallActivity)
        and task.internal_data.get(CALL_STATE) not in (None, CALL_REQUESTED, CALL_ABANDONED)
    )


def _drop_spent_subprocesses(top: Any) -> set[UUID]:
    """Drop the sub-workflows whose task is gone or finished; returns their tasks' ids.

    A sub-process task in ERROR keeps its sub-workflow, for the retry. Spiff reads a finished
    sub-workflow only while its task completes (`SubWorkflowTask.update_data`, same step).
    """
    removed: set[UUID] = set()
    while True:
        spent = [task_id for task_id in top.subprocesses if not _owner_runs(top, task_id)]
        if not spent:
            return removed
        for task_id in spent:
            removed.update(top.subprocesses.pop(task_id).tasks)


def _owner_runs(top: Any, task_id: UUID) -> bool:
    """Whether the task a sub-workflow belongs to is still in a tree and not finished."""
    task = top.tasks.get(task_id)
    if task is None:
        task = next(
            (s.tasks[task_id] for s in top.subprocesses.values() if task_id in s.tasks), None
        )
    if task is None:
        return False
    if not isinstance(task.task_spec, SubWorkflowTask):
        return True
    return not state_of(task) & (TaskState.COMPLETED | TaskState.CANCELLED)
