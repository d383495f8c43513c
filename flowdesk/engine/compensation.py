"""BPMN compensation as Camunda 7 runs it, built on SpiffWorkflow 3.2, which has none.

Camunda 7 undoes completed work like this: an activity with a compensation boundary event
names its compensation handler (an `isForCompensation="true"` activity, linked by an
association). Each time such an activity *completes*, it leaves a record (Camunda's compensate
event subscription) in its scope, the process or sub-process it runs in. A compensation throw
(an intermediate throw or end event with a `compensateEventDefinition`) takes the records of
its scope (with `activityRef`, only that activity's), runs their handlers, newest completion
first, and goes on only when every handler has finished (Camunda 7 always waits, whatever
`waitForCompletion` says). A record is used once. A multi-instance activity leaves one record
per completed instance. A cancel end event in a transaction compensates the transaction's scope
the same way before the cancel boundary event takes over.

How it is built here:

- Parsing (`CompensationProcessParser`): compensation boundary events are not given to Spiff
  (3.2 raises NotImplementedError for them); the handler is parsed as a spec without flows,
  and the compensated activity's spec becomes a `_Compensable` one, whose completion leaves
  the record. The handler spec becomes a `_Handler`, whose completion wakes the throw. Both are
  the parsed spec's own class with a mixin (same class name, so the history reads the same).
- Records live in the internal data of the scope workflow's root task (`_RECORDS`), with a
  counter on the top workflow's root for their order: the serializer keeps them, pruning never
  drops a root, and a running sub-process keeps its own in its sub-workflow.
- A throw (`CompensationThrowEvent`, `CompensationEndEvent`, `CancelEndEvent`) takes its
  scope's records and starts their handlers newest first, one after another (`_drive`: the
  next starts when those before have finished or wait for something), each as a triggered
  child of its scope's root (as Spiff starts an event sub-process); it stays WAITING until every
  handler has finished, and each handler wakes it when it completes.
- A completed sub-process hands its records to the scope around it as one record
  (`_CompensableScope`), as Camunda keeps them in an "event scope". Spiff has dropped the
  sub-process's state by then, so a `CompensationScope` spec (one per such sub-process, added
  to the parent's spec at parse time) opens a fresh, empty sub-workflow of the sub-process's
  spec in which the inner handlers run.

Not supported, and refused at deploy: compensation event sub-processes (a sub-process's
handler written as an event sub-process with a compensation start event).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import EndEvent, IntermediateThrowEvent, SubWorkflowTask
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import (
    EventSubprocess as SpiffEventSubprocess,
)
from SpiffWorkflow.util.task import TaskIterator, TaskState

from flowdesk.engine.specs import EventSubprocess

_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_BPMN = "{" + _BPMN_NS + "}"

# Internal-data keys: a scope's records (its root task), the completion counter (the top
# workflow's root task), a throw's spawned handler tasks, and a handler's throw.
_RECORDS = "flowdesk_compensation"
_SEQUENCE = "flowdesk_compensation_seq"
_HANDLERS = "flowdesk_compensation_handlers"
_THROWER = "flowdesk_compensation_thrower"
_INNER = "flowdesk_compensation_inner"
_QUEUE = "flowdesk_compensation_queue"

# Activities: the elements a compensation throw can find in its scope.
_SUB_PROCESSES = frozenset({"subProcess", "transaction"})


# -- parsing --------------------------------------------------------------------------------------


class CompensationProcessParser(ProcessParser):  # type: ignore[misc]  # Spiff is untyped
    """Spiff's process parser, which also links compensation boundary events to handlers.

    Used for processes and (through Spiff's `create_parser`) for embedded sub-processes alike.
    """

    def get_boundary_events(self, attached_to_ref: str) -> list[Any]:
        # Spiff 3.2 cannot build a compensation boundary event (NotImplementedError); it is no
        # event that waits anyway, only the link to the handler, read in `add_tasks`.
        return [e for e in super().get_boundary_events(attached_to_ref) if not _compensates(e)]

    def add_tasks(self) -> None:
        super().add_tasks()
        linked: set[str] = set()
        for boundary in self.node.iterchildren(f"{_BPMN}boundaryEvent"):
            if _compensates(boundary):
                self._link(boundary, linked)
        for child in self.node:
            if isinstance(child.tag, str) and _inner_compensation(child) is not None:
                self._add_scope(child, has_handler=child.get("id") in linked)

    def _add_scope(self, node: Any, *, has_handler: bool) -> None:
        """A completed sub-process with handlers inside: its records, and a spec to undo them."""
        sub_id = node.get("id")
        specs = [
            spec
            for spec in self.spec.task_specs.values()
            if getattr(spec, "bpmn_id", None) == sub_id and not isinstance(spec, MultiInstanceTask)
        ]
        if not specs:
            return  # not reachable: Spiff did not parse it
        scope = CompensationScope(self.spec, f"{sub_id} [compensation]", specs[0].spec)
        for spec in specs:
            spec.compensation_scope = scope.name
            spec.compensation_shadowed = has_handler
            _mix(spec, _CompensableScope)

    def _link(self, boundary: Any, linked: set[str]) -> None:
        attached = boundary.get("attachedToRef")
        if attached in linked:
            raise self._invalid(
                boundary,
                f"activity {attached!r} has several compensation boundary events; Camunda 7 "
                "allows one per activity",
            )
        linked.add(attached)
        handler_node = self._handler_of(boundary)
        if handler_node is None:
            return  # Camunda: a compensation boundary event without a handler undoes nothing
        handler = self.parse_node(handler_node)
        specs = [
            spec
            for spec in self.spec.task_specs.values()
            if getattr(spec, "bpmn_id", None) == attached
            and not isinstance(spec, MultiInstanceTask)  # its instances leave the records
        ]
        for spec in specs:
            spec.compensation_handler = handler.name
            _mix(spec, _Compensable)
        _mix(handler, _Handler)

    def _handler_of(self, boundary: Any) -> Any:
        boundary_id = boundary.get("id")
        targets = [
            association.get("targetRef")
            for association in boundary.getroottree().getroot().iter(f"{_BPMN}association")
            if association.get("sourceRef") == boundary_id
        ]
        if not targets:
            return None
        if len(targets) > 1:
            raise self._invalid(
                boundary, f"compensation boundary event {boundary_id!r} has several handlers"
            )
        handler = self.get_node_by_id(targets[0])
        if handler is None or handler.getparent() is not boundary.getparent():
            raise self._invalid(
                boundary,
                f"the compensation handler {targets[0]!r} of {boundary_id!r} must be an "
                "activity in the same process or sub-process",
            )
        if handler.get("isForCompensation") != "true":
            raise self._invalid(
                boundary,
                "compensation boundary catch must be connected to element with "
                f"isForCompensation=true ({targets[0]!r} is not)",
            )
        handler_id = handler.get("id")
        for flow in self.node.iterchildren(f"{_BPMN}sequenceFlow"):
            if handler_id in (flow.get("sourceRef"), flow.get("targetRef")):
                raise self._invalid(
                    handler,
                    f"compensation activity {handler_id!r} has a sequence flow; a compensation "
                    "activity should not have an incoming or outgoing sequence flow",
                )
        if super().get_boundary_events(handler_id):
            raise self._invalid(
                handler,
                f"compensation handler {handler_id!r} has boundary events, which flowdesk "
                "does not run on a compensation handler",
            )
        return handler

    def _invalid(self, node: Any, message: str) -> ValidationException:
        return ValidationException(message, node=node, file_name=self.filename)


def event_spec_class(parser: Any) -> type:
    """The spec class for an event with a `compensateEventDefinition` (or a cancel end event).

    Raises:
        ValidationException: for compensation events flowdesk does not run.
    """
    node = parser.node
    kind = etree.QName(node).localname
    if _child(node, "cancelEventDefinition") is not None and kind == "endEvent":
        return CancelEndEvent
    if kind == "intermediateThrowEvent":
        return CompensationThrowEvent
    if kind == "endEvent":
        return CompensationEndEvent
    if kind == "startEvent":
        reason = (
            f"compensation start event {parser.bpmn_id!r} (an event sub-process as a "
            "sub-process's compensation handler) is not supported: flowdesk runs compensation "
            "boundary events with isForCompensation activities; attach a compensation boundary "
            "event to the sub-process instead"
        )
    else:
        reason = f"a {kind} cannot catch a compensation event (BPMN allows throw events only)"
    raise ValidationException(reason, node=node, file_name=parser.filename)


def configure_throw(task_spec: Any, node: Any) -> None:
    """Give a compensation throw spec its `activityRef` (None: the whole scope)."""
    definition = _child(node, "compensateEventDefinition")
    task_spec.activity_ref = definition.get("activityRef") if definition is not None else None


def check_document(root: Any, filename: str | None) -> None:
    """Refuse a compensation throw whose `activityRef` names no activity of its scope.

    Raises:
        ValidationException: naming the compensation throw.
    """
    for event in root.iter(f"{_BPMN}intermediateThrowEvent", f"{_BPMN}endEvent"):
        definition = _child(event, "compensateEventDefinition")
        activity_ref = definition.get("activityRef") if definition is not None else None
        if activity_ref is None:
            continue
        scopes = list(_throw_scopes(event))
        if not any(_direct_child(scope, activity_ref) is not None for scope in scopes):
            raise ValidationException(
                f"Invalid attribute value for 'activityRef': no activity with id "
                f"{activity_ref!r} in scope {scopes[-1].get('id')!r}",
                node=event,
                file_name=filename,
            )


# -- running --------------------------------------------------------------------------------------


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

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)  # type: ignore[misc]
        sub = my_task.workflow.top_workflow.subprocesses.get(my_task.id)
        inner = sub.task_tree.internal_data.get(_RECORDS, []) if sub is not None else []
        if inner:
            record = {
                "activity": my_task.task_spec.bpmn_id,
                "scope": self.compensation_scope,
                "inner": inner,
                "shadowed": self.compensation_shadowed,
            }
            _add_record(my_task, record)


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
        my_task._set_state(TaskState.WAITING)
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
            my_task._inherit_data()
            sub = top.create_subprocess(my_task, self.spec)
            # Spiff readies a new workflow's Start (its root) and predicts the flow after it;
            # none of that may run here, only the handlers.
            sub.task_tree._drop_children(force=True)
            sub.task_tree._set_state(TaskState.COMPLETED)
            inner = sorted(my_task.internal_data.pop(_INNER, []), key=_newest_first)
            my_task.internal_data[_QUEUE] = [[record, str(my_task.id)] for record in inner]
        if _drive(my_task):
            return True
        my_task._set_state(TaskState.WAITING)
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
    handler = scope.task_tree._add_child(spec, TaskState.FUTURE)
    handler.triggered = True  # not one of the root's predicted children: Spiff keeps it
    handler.internal_data[_THROWER] = str(thrower.id)
    if "inner" in record:
        handler.internal_data[_INNER] = record["inner"]
    spec._update(handler)
    return str(handler.id)


def _wake_thrower(my_task: Any) -> None:
    thrower = _find_task(my_task.workflow.top_workflow, my_task.internal_data.get(_THROWER))
    if thrower is not None and thrower.state == TaskState.WAITING:
        thrower.task_spec._update(thrower)


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
    """Whether a started handler runs on without waiting (the next one must wait for it)."""
    task = _find_task(top, task_ref)
    if task is None:
        return False
    if isinstance(task.task_spec, CompensationScope):
        return not task.has_state(TaskState.FINISHED_MASK)
    for each in TaskIterator(task, state=_LIVE):
        waits = (
            (each.state == TaskState.READY and each.task_spec.manual)
            or each.state == TaskState.WAITING
            or (each.state == TaskState.STARTED and not isinstance(each.task_spec, SubWorkflowTask))
        )
        if not waits:
            return True
    return False


def _find_task(top: Any, task_ref: str | None) -> Any:
    if not task_ref:
        return None
    task_id = UUID(task_ref)
    for workflow in (top, *top.subprocesses.values()):
        task = workflow.tasks.get(task_id)
        if task is not None:
            return task
    return None


# -- helpers --------------------------------------------------------------------------------------

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


def _compensates(node: Any) -> bool:
    return _child(node, "compensateEventDefinition") is not None


def _child(node: Any, local_name: str) -> Any:
    return node.find(f"{_BPMN}{local_name}")


def _direct_child(scope: Any, element_id: str) -> Any:
    return next((c for c in scope if isinstance(c.tag, str) and c.get("id") == element_id), None)


def _throw_scopes(event: Any) -> Iterator[Any]:
    """The scope elements a throw's records come from (see `_scopes`)."""
    scope = event.getparent()
    while True:
        yield scope
        if etree.QName(scope).localname != "subProcess" or scope.get("triggeredByEvent") != "true":
            return
        scope = scope.getparent()


def _inner_compensation(activity: Any) -> Any:
    """A compensation boundary event inside a (non-event) sub-process, if it has one."""
    if etree.QName(activity).localname not in _SUB_PROCESSES:
        return None
    if activity.get("triggeredByEvent") == "true":
        return None
    for boundary in activity.iter(f"{_BPMN}boundaryEvent"):
        if _compensates(boundary):
            return boundary
    return None
