"""Every use flowdesk makes of SpiffWorkflow 3.2's private names, in one module.

flowdesk builds on SpiffWorkflow's public classes (it subclasses the parser, the workflow, the
script engine, the serializer's converters and the task specs, overriding the hooks Spiff's own
specs override). Some of what flowdesk does needs more than that: pruning the task tree splices
tasks by rewriting the parent and child links Spiff keeps as ids; Camunda's multi-instance,
timer cycles, event sub-processes in sub-processes and compensation add tasks and set states the
way Spiff's own specs do, with `Task` and `TaskSpec` methods whose names begin with an
underscore; and Spiff's timers read the wall clock with no hook for another clock.

Those uses live here and nowhere else, each as a small function that says which SpiffWorkflow
3.2 source line it relies on and why flowdesk needs it (paths are relative to the installed
`SpiffWorkflow/` package). `tests/engine/test_spiff_internals.py` pins every assumption with a
real workflow, so an upgrade of SpiffWorkflow fails there first, and a guard test fails when any
other module of `flowdesk/` touches a SpiffWorkflow private name. The functions are plain and do
no more than the access they wrap: some of them run for every task on every engine step
(`FlowdeskWorkflow.get_tasks`, pruning, the serializer).

Tasks, specs and workflows are typed `Any`: SpiffWorkflow ships no type information.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer

from flowdesk.engine.languages import timer_texts

TaskCallback = Callable[[Any], None]

# -- the task tree (SpiffWorkflow/task.py) ---------------------------------------------------------
#
# A `Task` keeps its parent and children as ids (`_parent`, `_children`, task.py:89-90); the
# public `parent` and `children` properties look them up in `workflow.tasks` (task.py:121-137),
# building a new list of tasks on every read of `children`.


def state_of(task: Any) -> int:
    """The task's state: `Task._state` (task.py:91), which the `state` property returns
    (task.py:103-110).

    For the loops that read it for every task of the tree on every step (the task search,
    pruning, the serializer): a plain function call costs less than the property.
    """
    return task._state  # type: ignore[no-any-return]


def parent_id(task: Any) -> UUID | None:
    """The id of the task's parent, None for a root: `Task._parent` (task.py:89).

    Read rather than `task.parent` where the parent may already be gone from `workflow.tasks`
    (pruning asks whether it is) or where the lookup would be repeated (the serializer).
    """
    return task._parent  # type: ignore[no-any-return]


def set_parent_id(task: Any, parent: UUID | None) -> None:
    """Hang the task below another task given by id: writes `Task._parent` (task.py:89).

    Pruning splices a finished single-child task out of a chain by pointing its child at its
    own parent; the parent's child list is updated separately (`child_ids`).
    """
    task._parent = parent


def child_ids(task: Any) -> list[UUID]:
    """The ids of the task's children, in order: `Task._children` (task.py:90), which
    `Task.children` resolves through `workflow.tasks` (task.py:131-133).

    The list itself, not a copy: the task search and the serializer read it for every task
    without building task lists, and pruning replaces one id in it in place to splice a chain.
    """
    return task._children  # type: ignore[no-any-return]


def set_child_ids(task: Any, children: list[UUID]) -> None:
    """Replace the task's child ids: writes `Task._children` (task.py:90).

    Pruning drops the ids of the subtrees it deleted from `workflow.tasks`.
    """
    task._children = children


def add_child(task: Any, spec: Any, state: int) -> Any:
    """A new child of `task` for `spec` in `state`: `Task._add_child` (task.py:226-245).

    The child joins `workflow.tasks` and its parent's children and takes the parent's thread id;
    in READY it is readied at once (`_ready`, running the spec's ready hook). flowdesk adds
    children the way Spiff's own specs do for the instances of a multi-instance activity, a timer
    cycle's twin paths, event sub-processes started inside a sub-process and compensation
    handlers.
    """
    return task._add_child(spec, state)


def sync_children(task: Any, specs: list[Any], state: int) -> None:
    """Make the task's children those of `specs`: `Task._sync_children` (task.py:247-285).

    Keeps the children already there (setting unfinished ones to `state`) and triggered ones,
    adds the missing ones and removes predicted children not in `specs`. flowdesk's activity
    splits take an activity's conditional flows with it, as Spiff's `MultiChoice._run_hook` does
    (specs/MultiChoice.py:116-121).
    """
    task._sync_children(specs, state)


def drop_children(task: Any, *, force: bool) -> None:
    """Remove the task's children from the tree: `Task._drop_children` (task.py:291-302).

    With `force` every child goes, finished or not. A compensation throw empties the start of the
    sub-workflow it creates, so that only the compensation handlers run there.
    """
    task._drop_children(force=force)


def set_state(task: Any, state: int) -> None:
    """Set the task's state, backwards too, without running any hook: `Task._set_state`
    (task.py:304-316).

    The public `state` setter refuses a move backwards (task.py:113-119) and `_ready` runs the
    spec's ready hook; flowdesk needs the bare change to hold a task for its async job
    (READY to STARTED and back), to wake a multi-instance body (STARTED to READY), to leave a
    task whose start listener threw STARTED, and to let a compensation throw wait (WAITING) or
    mark a spent root COMPLETED. `last_state_change` is updated as by every state change.
    """
    task._set_state(state)


def make_ready(task: Any) -> None:
    """Make a task READY and run its spec's ready hook, unless it is finished: `Task._ready`
    (task.py:341-346).

    Used where Spiff's `_update` would do too much: a start event begun at directly (Camunda 7
    runs through it whatever it catches) and a conditional event whose condition came true
    (`_update` would first copy the parent's stale data over the task's, `_update_hook`,
    specs/base.py:263-271).
    """
    task._ready()


def inherit_data(task: Any) -> None:
    """Merge the parent's data into the task's: `Task._inherit_data` (task.py:329-331).

    A compensation throw takes its scope's data as Spiff's default `_update_hook` would
    (specs/base.py:268), which its own `_update_hook` replaces.
    """
    task._inherit_data()


# -- spec life cycle (SpiffWorkflow/specs/base.py) -------------------------------------------------


def update(task: Any) -> None:
    """Let the task's spec react to a change: `TaskSpec._update` (specs/base.py:252-261).

    Predicts a predicted task's path, then asks `_update_hook` whether the task may run and
    readies it if so. This is what Spiff does for every child of a completed task
    (`_on_complete`, specs/base.py:366-368) and for every timer on `refresh_timers`
    (bpmn/workflow.py:181-186); flowdesk does the same for the tasks it adds (see `add_child`),
    for a due timer's job, a fired trigger and a delivered event, and to wake a compensation
    throw.
    """
    task.task_spec._update(task)


def predict(task: Any, mask: int) -> None:
    """Add the task's possible future path below it: `TaskSpec._predict` (specs/base.py:216-241).

    `mask` selects the states whose tasks are predicted (their spec's `_predict_hook` runs). The
    flows an activity split takes, a timer cycle's twin path and an event sub-process started
    inside a sub-process are predicted as `MultiChoice._run_hook` predicts its chosen flows
    (specs/MultiChoice.py:119-120); without it the new task has no next task.
    """
    task.task_spec._predict(task, mask=mask)


def condition_matches(condition: Any, task: Any) -> bool:
    """Whether a sequence flow's condition holds for the task: `_BpmnCondition._matches`
    (bpmn/specs/bpmn_task_spec.py:14-15), which evaluates it with the workflow's script engine
    and its data objects.

    flowdesk's activity splits choose among an activity's conditional flows the way
    `MultiChoice._get_matching_outputs` does (specs/MultiChoice.py:105-114).
    """
    return bool(condition._matches(task))


def multi_instance_children(body: Any) -> Iterator[Any]:
    """The instances of a multi-instance body task: `MultiInstanceTask._instances`
    (bpmn/specs/mixins/multiinstance_task.py:34-35), its children whose spec is the body's
    inner activity (not the path after the body).
    """
    return body.task_spec._instances(body)  # type: ignore[no-any-return]


# -- the engine loop (SpiffWorkflow/bpmn/workflow.py) ----------------------------------------------


def run_engine_steps(
    workflow: Any,
    will_complete_task: TaskCallback | None = None,
    did_complete_task: TaskCallback | None = None,
) -> bool:
    """One pass of `BpmnWorkflow.do_engine_steps`: `BpmnWorkflow._do_engine_steps`
    (bpmn/workflow.py:141-166); whether it ran anything (another pass may find more).

    It runs the READY engine tasks of every active sub-workflow (deepest first) and then of the
    workflow. `do_engine_steps` (bpmn/workflow.py:126-139) loops over it and then refreshes the
    timers; flowdesk runs the same loop with pruning between the passes, so a loop of engine
    tasks stays small however many rounds one call runs.
    """
    return bool(workflow._do_engine_steps(will_complete_task, did_complete_task))


# -- parsing (SpiffWorkflow/bpmn/parser/) ----------------------------------------------------------


def create_event_task(parser: Any, event_definition: Any) -> Any:
    """The event spec an event parser builds for `event_definition`:
    `EventDefinitionParser._create_task` (bpmn/parser/event_parsers.py:166-183), which also
    registers a message's correlation keys.

    A receive task without a message becomes a task waiting for a trigger (`triggers`).
    """
    return parser._create_task(event_definition)


def copy_task_attrs(parser: Any, original: Any, loop: Any) -> None:
    """Make `parser.task` (a loop body) take the place of `original` in the process:
    `TaskParser._copy_task_attrs` (bpmn/parser/TaskParser.py:69-84).

    The body takes the inputs, outputs and data associations, and `original` becomes its inner
    activity under the name `<name> [child]`. flowdesk's multi-instance parser builds its own
    body and wires it as Spiff's multi-instance parser does (camunda/parser/task_spec.py:78).
    """
    parser._copy_task_attrs(original, loop)


# -- internal data conventions ---------------------------------------------------------------------

EVENT_FIRED = "event_fired"
"""The internal-data key where Spiff's event definitions mark that their event fired:
`EventDefinition.has_fired` reads it and `catch` sets it (bpmn/specs/event_definitions/base.py:
19-26), and catching events read `has_fired` in `_update_hook`
(bpmn/specs/mixins/events/event_types.py:49-62)."""

EVENT_VALUE = "event_value"
"""The internal-data key where Spiff's timers keep their evaluated timer text
(bpmn/specs/event_definitions/timer.py:148-157). flowdesk's timers keep their schedule under it
(stored instances hold it there)."""


def event_fired(task: Any) -> bool:
    """Whether the task's event has fired, as Spiff's `has_fired` says
    (bpmn/specs/event_definitions/base.py:19-20)."""
    return bool(task.internal_data.get(EVENT_FIRED, False))


def mark_event_fired(task: Any) -> None:
    """Mark the task's event fired, as Spiff's `catch` does (bpmn/specs/event_definitions/
    base.py:25-26): the next `update` readies the catching task."""
    task.internal_data[EVENT_FIRED] = True


def set_instance_key(task: Any, index: int) -> None:
    """Record a multi-instance instance's index where Spiff's `task_info` reads it
    (`key_or_index`, bpmn/specs/bpmn_task_spec.py:109-110; set by Spiff's own multi-instance,
    bpmn/specs/mixins/multiinstance_task.py:156-157)."""
    task.internal_data["key_or_index"] = index


def forget_seen_events(task: Any) -> None:
    """Drop the events an event-based gateway saw: `seen_events`, which Spiff's
    `EventBasedGateway._run_hook` reads and never clears
    (bpmn/specs/mixins/events/intermediate_event.py:67-68)."""
    task.internal_data.pop("seen_events", None)


# -- the timers' clock (SpiffWorkflow/bpmn/specs/event_definitions/timer.py) -----------------------

_timer_now: Callable[[], datetime] | None = None


class _ClockedDatetime(datetime):
    """`datetime` whose `now()` is the clock `install_timer_clock` was given."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Any:
        assert _timer_now is not None  # installed together with this class
        value = _timer_now()
        if value.tzinfo is None:
            raise ValueError("the flowdesk clock must return timezone-aware datetimes")
        return value.astimezone(tz) if tz is not None else value.replace(tzinfo=None)


def install_timer_clock(now: Callable[[], datetime]) -> None:
    """Make SpiffWorkflow's timers read `now` instead of the wall clock (process-wide).

    Spiff's timer module reads `datetime.now(timezone.utc)` itself
    (bpmn/specs/event_definitions/timer.py:36, 135, 152, 168, 170, 193) from the `datetime` it
    imports (timer.py:2), with no hook for another clock. This replaces that module's `datetime`
    name with a subclass whose `now()` calls `now` (which must return aware datetimes); every
    other use of `datetime` there (`fromisoformat`, `combine`, `isinstance`) behaves as before.
    This module installs it once, at import, with `timer_texts.call_clock`, the clock of each
    engine call.
    """
    global _timer_now
    _timer_now = now
    _spiff_timer.datetime = _ClockedDatetime


# Installed once, when the boundary is first imported: every module that runs a workflow
# imports it, so Spiff's timers never read the wall clock.
install_timer_clock(timer_texts.call_clock)
