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
  drops a root, and a sub-process's records end with it, as Camunda's scope does.
- A throw (`CompensationThrowEvent`, `CompensationEndEvent`, `CancelEndEvent`) spawns one handler
  task per record as a triggered child of its scope's root (as Spiff starts an event
  sub-process) and stays WAITING until every one has finished.

Not supported, and refused at deploy by `check_document` / the parser: compensation event
sub-processes (a sub-process's handler written as an event sub-process), and compensating the
inside of a sub-process that has completed (Spiff drops a finished sub-process's state, so its
handlers have nowhere to run).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import EndEvent, IntermediateThrowEvent
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
    """Refuse compensation that would have to undo the inside of a completed sub-process.

    Camunda 7 compensates a completed sub-process by running the handlers of the activities
    that completed inside it. SpiffWorkflow 3.2 drops a sub-process's state when it completes,
    so those handlers would have no scope to run in: such a model is refused, naming the throw.

    Raises:
        ValidationException: naming the compensation throw or cancel end event.
    """
    for event in root.iter(f"{_BPMN}intermediateThrowEvent", f"{_BPMN}endEvent"):
        definition = _child(event, "compensateEventDefinition")
        is_cancel = _child(event, "cancelEventDefinition") is not None
        if definition is None and not is_cancel:
            continue
        activity_ref = definition.get("activityRef") if definition is not None else None
        scopes = list(_throw_scopes(event))
        if activity_ref is not None and not any(
            _direct_child(scope, activity_ref) is not None for scope in scopes
        ):
            raise ValidationException(
                f"Invalid attribute value for 'activityRef': no activity with id "
                f"{activity_ref!r} in scope {scopes[-1].get('id')!r}",
                node=event,
                file_name=filename,
            )
        for scope in scopes:
            for activity in scope:
                if not isinstance(activity.tag, str) or (
                    activity_ref is not None and activity.get("id") != activity_ref
                ):
                    continue
                inner = _inner_compensation(activity)
                if inner is not None:
                    raise ValidationException(
                        f"{'cancel' if is_cancel else 'compensation'} event "
                        f"{event.get('id')!r} would undo {inner.get('attachedToRef')!r} inside "
                        f"the completed sub-process {activity.get('id')!r}; flowdesk "
                        "(SpiffWorkflow 3.2 keeps no state of a finished sub-process) "
                        "compensates only activities of the throw's own scope",
                        node=event,
                        file_name=filename,
                    )


# -- running --------------------------------------------------------------------------------------


class _Compensable:
    """An activity with a compensation handler: its completion leaves a record in its scope."""

    compensation_handler: str

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)  # type: ignore[misc]
        top = my_task.workflow.top_workflow
        sequence = int(top.task_tree.internal_data.get(_SEQUENCE, 0)) + 1
        top.task_tree.internal_data[_SEQUENCE] = sequence
        records = my_task.workflow.task_tree.internal_data.setdefault(_RECORDS, [])
        records.append(
            {
                "sequence": sequence,
                "activity": my_task.task_spec.bpmn_id,
                "handler": self.compensation_handler,
            }
        )


class _Handler:
    """A compensation handler: when it has finished, the throw that started it may go on."""

    def test(self) -> None:
        # Spiff's check before READY wants an incoming connection; a handler has none by BPMN's
        # rule (it only ever runs when a throw spawns it).
        return None

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)  # type: ignore[misc]
        thrower = _find_task(my_task.workflow.top_workflow, my_task.internal_data.get(_THROWER))
        if thrower is not None and thrower.state == TaskState.WAITING:
            thrower.task_spec._update(thrower)


class _CompensationThrow:
    """Compensates its scope's completed activities, then waits until their handlers finished.

    The handlers start when the token reaches the event (its update); the event becomes READY
    (and then runs as the event it is) when the last handler completes.
    """

    activity_ref: str | None = None

    def _update_hook(self, my_task: Any) -> bool:
        if not super()._update_hook(my_task):  # type: ignore[misc]
            return False
        if _HANDLERS not in my_task.internal_data:
            my_task.internal_data[_HANDLERS] = _start_handlers(my_task, self.activity_ref)
        top = my_task.workflow.top_workflow
        if any(_running(top, ref) for ref in my_task.internal_data[_HANDLERS]):
            my_task._set_state(TaskState.WAITING)
            return False
        return True


class CompensationThrowEvent(_CompensationThrow, IntermediateThrowEvent):  # type: ignore[misc]
    """An intermediate compensation throw event."""


class CompensationEndEvent(_CompensationThrow, EndEvent):  # type: ignore[misc]
    """A compensation end event: compensates, then ends its path."""


class CancelEndEvent(_CompensationThrow, EndEvent):  # type: ignore[misc]
    """A transaction's cancel end event: compensates the transaction, then cancels it."""


def _start_handlers(my_task: Any, activity_ref: str | None) -> list[str]:
    """Take the throw's records and spawn their handlers, newest completion first."""
    chosen: list[tuple[dict[str, Any], Any]] = []
    for scope in _scopes(my_task.workflow):
        records = scope.task_tree.internal_data.get(_RECORDS, [])
        taken = [r for r in records if activity_ref is None or r["activity"] == activity_ref]
        scope.task_tree.internal_data[_RECORDS] = [r for r in records if r not in taken]
        chosen.extend((record, scope) for record in taken)
    chosen.sort(key=lambda pair: int(pair[0]["sequence"]), reverse=True)
    started = []
    for record, scope in chosen:
        spec = scope.spec.task_specs[record["handler"]]
        # Spiff runs READY tasks in tree order, so the newest completion's handler runs first.
        handler = scope.task_tree._add_child(spec, TaskState.FUTURE)
        handler.triggered = True  # not one of the root's predicted children: Spiff keeps it
        handler.internal_data[_THROWER] = str(my_task.id)
        spec._update(handler)
        started.append(str(handler.id))
    return started


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


def _running(top: Any, task_ref: str) -> bool:
    task = _find_task(top, task_ref)
    if task is None:
        return False  # pruned: it had finished
    live = TaskState.NOT_FINISHED_MASK | TaskState.ERROR
    return next(TaskIterator(task, state=live), None) is not None


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
