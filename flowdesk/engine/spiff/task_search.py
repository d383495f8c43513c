"""Finding a workflow's tasks by state without SpiffWorkflow's task iterator.

Every engine step asks the workflow for its tasks in some state about a dozen times (Spiff's
own `do_engine_steps`, flowdesk's listeners, waits and task rows). Spiff answers with a
`BpmnTaskIterator`, which spends most of its time on its own bookkeeping: a list built for
each task's children, a filter object per call, depth counting. `FlowdeskWorkflow.get_tasks`
walks the same tree in the same order with a plain stack, about three times faster, and
returns the same list.

"The same" is SpiffWorkflow 3.2's iteration, restated:
- depth first, a task before its children, children in order;
- a task with a sub-workflow (call activity, subprocess) is followed by that workflow's root
  and then its own children, whatever its state (Spiff's test for "finished and only finished
  tasks asked for" compares a state with the finished mask and never holds; kept as written);
- a task's children are not visited when its state is below what the query can find under it:
  MAYBE when predicted states are asked for, else FUTURE when definite ones are, else
  COMPLETED (a predicted task never has a definite child);
- the iterator stops descending at depth 1000. flowdesk prunes finished work, so its trees
  stay shallow; should one ever come near that depth, the search hands the query to Spiff's
  iterator, which then answers with its own limit.

Queries with anything but `state`, `manual`, `spec_class` and `spec_name`, or that start
from a given task, go to Spiff unchanged. `tests/engine/test_task_search.py` pins each rule
against Spiff's iterator, and the test suite runs with `VERIFY` on, which compares every
answer with Spiff's (see `mismatches`).
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.spiff.internals import child_ids, state_of

# Beyond this depth the search lets Spiff answer (its iterator stops at 1000).
_DEEP = 900

_SUPPORTED = frozenset({"state", "manual", "spec_class", "spec_name"})

VERIFY = False
"""When true, every search is also answered by Spiff's iterator and any difference recorded
in `mismatches`; the tests turn it on. Off in use: it doubles the cost of a search."""

mismatches: list[str] = []
"""Descriptions of the searches whose answer differed from Spiff's (with `VERIFY` on)."""


class FlowdeskWorkflow(BpmnWorkflow):  # type: ignore[misc]  # Spiff is untyped
    """A `BpmnWorkflow` whose `get_tasks` searches the tree directly (see the module)."""

    # Whether every user task with an open row carries the mark that says so
    # (`WorkflowRun.task_rows`): true of a new workflow, false of a state saved before
    # tasks were marked, until the rows have been read once.
    marks_task_rows = True

    def get_tasks(self, first_task: Any = None, **kwargs: Any) -> list[Any]:
        if first_task is not None or not _SUPPORTED.issuperset(kwargs):
            return super().get_tasks(first_task, **kwargs)  # type: ignore[no-any-return]
        found = find_tasks(self, **kwargs)
        if found is None:  # a deep tree: Spiff's depth limit applies
            return super().get_tasks(**kwargs)  # type: ignore[no-any-return]
        if VERIFY:
            expected = super().get_tasks(**kwargs)
            if found != expected:
                mismatches.append(f"get_tasks({kwargs}): {found} != Spiff's {expected}")
        return found


def find_tasks(
    workflow: Any,
    state: int = TaskState.ANY_MASK,
    manual: bool | None = None,
    spec_class: type | None = None,
    spec_name: str | None = None,
) -> list[Any] | None:
    """The tasks of `workflow` (and of its sub-workflows) that match, in Spiff's order; None
    when the tree is too deep to answer without Spiff's depth limit."""
    if state & TaskState.PREDICTED_MASK:
        min_state = TaskState.MAYBE
    elif state & TaskState.DEFINITE_MASK:
        min_state = TaskState.FUTURE
    else:
        min_state = TaskState.COMPLETED
    only_finished = state <= TaskState.FINISHED_MASK
    subprocesses = workflow.top_workflow.subprocesses
    found = []
    stack = [(workflow.task_tree, 0)]
    while stack:
        task, depth = stack.pop()
        task_state = state_of(task)
        children = child_ids(task)
        sub = subprocesses.get(task.id) if subprocesses else None
        if (children and task_state >= min_state) or sub is not None:
            if depth >= _DEEP:
                return None
            tasks = task.workflow.tasks
            below = depth + 1
            stack.extend((tasks.get(child), below) for child in reversed(children))
            if sub is not None and not (task_state >= TaskState.FINISHED_MASK and only_finished):
                stack.append((sub.task_tree, below))
        if (
            task_state & state
            and (manual is None or task.task_spec.manual == manual)
            and (spec_name is None or task.task_spec.name == spec_name)
            and (spec_class is None or isinstance(task.task_spec, spec_class))
        ):
            found.append(task)
    return found
