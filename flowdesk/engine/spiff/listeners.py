"""Running Camunda 7 execution and task listeners, and evaluating `camunda:field` injections.

What runs when (Camunda 7's order, see `listener_parsing` for what a listener is):

- the process's `start` listeners before its start event, its `end` listeners once it ended
  (a terminate end event included);
- an activity's, event's or gateway's `start` listeners when it is entered, after its input
  parameters and before its behaviour (a service's handler, a script, a gateway's choice); a
  user task's before the task is created; a sub-process's before anything inside it; a
  catching event's (boundary, intermediate, event-based gateway target) when it is triggered;
- its `end` listeners when it completes, before its output parameters;
- a sequence flow's `take` listeners when it is taken, after the source's end listeners and
  output parameters and before the target's start listeners;
- a user task's `create` listeners when the task is created (assignee and candidates already
  evaluated), then `assignment` when it has an assignee; `complete` when it is completed,
  before its end listeners, with the submitted data already visible; `delete` when the task is
  cancelled (a boundary event, an interrupting event sub-process, a completion condition);
  `update` and `assignment` on a claim or reassign; `timeout` when its timer's job is due.

Every listener runs at most once per entered element: the start is flagged in the Spiff task's
internal data (stored with the instance), so an engine restart or a retry does not repeat it.
A failing listener (or one whose handler is not registered) raises `ListenerFailure`, a
`HandlerError`; the engine makes it an incident, and a retry runs the listener again. A
listener's `BpmnError` is thrown from its element (`divert`), as Camunda 7 throws it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from flowdesk import handlers
from flowdesk.engine.languages import sandbox, timer_texts
from flowdesk.engine.spiff import internals
from flowdesk.engine.spiff.specs import END_PATH, end_path
from flowdesk.errors import BpmnError, HandlerError

if TYPE_CHECKING:
    from flowdesk.engine.spiff.script_engine import FlowdeskScriptEngine

# Internal-data flags of a Spiff task (and of the workflow's root for the process).
STARTED = "flowdesk_listeners_started"
ENDED = "flowdesk_listeners_ended"
TAKEN = "flowdesk_listeners_taken"
PROCESS_STARTED = "flowdesk_process_started"
PROCESS_ENDED = "flowdesk_process_ended"
# On the root of an instance whose listeners run (all but those stored before they did).
RUNS_LISTENERS = "flowdesk_runs_listeners"
# Keys Spiff keeps in task data for itself.
_INTERNAL_KEYS = frozenset({"data_objects"})

Writer = Callable[[str, Any], None]


class ListenerFailure(HandlerError):
    """A listener failed or has no handler; `element_id` says where (for the incident)."""

    def __init__(self, name: str, reason: str, *, element_id: str) -> None:
        super().__init__(name, reason)
        self.element_id = element_id


class ListenerBpmnError(Exception):
    """A listener raised `BpmnError`: the caller throws it into the model (see `divert`)."""

    def __init__(
        self, error: BpmnError, name: str, event: str, where: str, element_id: str
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.element_id = element_id
        self.failure = ListenerFailure(
            name,
            f"{event} listener on {where!r} threw BPMN error {error.code!r}, which Camunda 7 "
            "does not throw into the model from here",
            element_id=element_id,
        )


class Diverted(Exception):
    """A listener's BPMN error took the token off an element's step (see `divert`)."""


def divert(task: Any, error: BpmnError, *, completed: bool) -> None:
    """Throw a listener's BPMN error from `task`, as Camunda 7 does.

    A boundary event, an enclosing sub-process's boundary event or an event sub-process may
    catch it; the element then does not run (a start listener threw: it waits, STARTED, for
    the catcher to cancel it) or its outgoing flow is cancelled by the catcher. Uncaught, the
    element's path ends there, as a none end event would end it.
    """
    caught = task.workflow.script_engine.throw_bpmn_error(task, error)
    task.internal_data.pop(END_PATH, None)
    if not completed:
        internals.set_state(task, TaskState.STARTED)
        if not caught:
            task.complete()
            end_path(task)
    elif not caught:
        end_path(task)


def field_values(fields: Iterable[list[Any]], variables: Mapping[str, Any]) -> dict[str, Any]:
    """`camunda:field` values: literals as they are, expressions evaluated now.

    Raises:
        ExpressionError: A field expression fails.
    """
    values: dict[str, Any] = {}
    for name, value in fields:
        if "string" in value:
            values[name] = value["string"]
        else:
            values[name] = sandbox.evaluate_value(value["expression"], variables)
    return values


def run(
    engine: FlowdeskScriptEngine,
    listeners: Iterable[Mapping[str, Any]],
    *,
    event: str,
    element_id: str,
    variables: Mapping[str, Any],
    write: Writer,
    task: handlers.ListenerTask | None = None,
    user: str | None = None,
) -> None:
    """Run the listeners of `event`, in model order, each seeing what the previous set.

    Raises:
        ListenerFailure: A listener failed, or no handler is registered for its class or
            delegate expression.
        ListenerBpmnError: A listener raised `BpmnError`; the caller throws it or fails.
    """
    view = {k: v for k, v in variables.items() if k not in _INTERNAL_KEYS}
    for listener in listeners:
        if listener["event"] != event:
            continue
        where = listener.get("flow") or element_id
        name = listener["text"] if listener["kind"] != "script" else "script"
        try:
            fields = field_values(listener.get("fields", []), view)
            call = handlers.ListenerCall(
                event=event,
                instance_id=engine.scope.instance_id,
                process_key=engine.scope.process_key,
                business_key=engine.scope.business_key,
                element_id=where,
                implementation=listener["text"] if listener["kind"] != "script" else "",
                variables=view,
                write=_tracking(view, write),
                fields=fields,
                task=task,
                user=user,
                now=timer_texts.now(),
            )
            _invoke(engine, listener, call, view)
        except ListenerFailure:
            raise
        except BpmnError as err:
            raise ListenerBpmnError(err, name, event, where, element_id) from err
        except Exception as err:  # any failure of listener code is an incident, by design
            raise ListenerFailure(
                name, f"{event} listener on {where!r} failed: {err}", element_id=element_id
            ) from err


def _tracking(view: dict[str, Any], write: Writer) -> Writer:
    def tracked(name: str, value: Any) -> None:
        view[name] = value
        write(name, value)

    return tracked


def _invoke(
    engine: FlowdeskScriptEngine,
    listener: Mapping[str, Any],
    call: handlers.ListenerCall,
    view: dict[str, Any],
) -> None:
    kind, text = listener["kind"], listener["text"]
    # Camunda's context objects: `execution`, and `task` in task listeners only.
    context: dict[str, Any] = {"execution": call}
    if call.task is not None:
        context["task"] = call.task
    if kind in ("class", "delegateExpression"):
        handler = engine.registry.listener(text)
        if handler is None:
            raise ListenerFailure(
                text,
                f"no listener handler registered for the {call.event} listener on "
                f"{call.element_id!r}",
                element_id=call.element_id,
            )
        result = handler(call)
        if isinstance(result, Mapping):
            for key, value in result.items():
                call.set_variable(key, value)
    elif kind == "expression":
        # The registered beans, and (as for a service task's camunda:expression) the service
        # and listener handlers by name.
        beans = {
            name: bean
            for source in (engine.registry.services, engine.registry.listeners)
            for name, bean in source.items()
            if name.isidentifier()
        }
        engine.environment.evaluate_with(
            text, view, beans={**beans, **engine.registry.beans}, objects=context
        )
    else:
        engine.run_listener_script(text, listener.get("format") or "", view, context, call)


# -- activities ----------------------------------------------------------------------------------


def listeners_of(spec: Any, key: str) -> list[dict[str, Any]]:
    extensions = getattr(spec, "extensions", None) or {}
    return list(extensions.get(key, []))


def _of_event(spec: Any, event: str) -> list[dict[str, Any]]:
    return [x for x in listeners_of(spec, "execution_listeners") if x["event"] == event]


def activity_started(
    task: Any, local: Iterable[str] = (), variables: Mapping[str, Any] | None = None
) -> None:
    """Run the start listeners of the element `task` enters, once.

    `variables` is what they see: the task's data once it has copied the scope (in the step
    before it runs), else the process scope.

    Raises:
        ListenerFailure: A listener failed; a retry runs the start listeners again.
        Diverted: A listener threw a BPMN error (see `divert`); they do not run again.
    """
    if task.internal_data.get(STARTED):
        return
    found = _of_event(task.task_spec, "start")
    if not found:
        return
    task.internal_data[STARTED] = True
    try:
        run(
            task.workflow.script_engine,
            found,
            event="start",
            element_id=task.task_spec.bpmn_id,
            variables=task.workflow.top_workflow.data if variables is None else variables,
            write=_writer(task, set(local)),
        )
    except ListenerBpmnError as thrown:
        divert(task, thrown.error, completed=False)
        raise Diverted from thrown.error
    except ListenerFailure:
        del task.internal_data[STARTED]
        raise


def subprocesses_entered(task: Any) -> None:
    """Run the start listeners of the embedded sub-processes `task` is in, outermost first.

    Spiff enters a sub-process without a step flowdesk sees, so the first task to run inside
    one starts it; before that task copies the scope, so it sees what they set.
    """
    owner = _owning_subprocess_task(task)
    if owner is not None:
        subprocesses_entered(owner)
        activity_started(owner)


def activity_ended(task: Any, local: Iterable[str] = ()) -> None:
    """Run the end listeners of a completed element, once; they see its data (the scope it
    copied before it ran, what it changed, its input parameters).

    Raises:
        ListenerFailure: A listener failed; a retry runs the end listeners again.
        Diverted: A listener threw a BPMN error (see `divert`).
    """
    if task.internal_data.get(ENDED):
        return
    found = _of_event(task.task_spec, "end")
    if not found:
        return
    try:
        run(
            task.workflow.script_engine,
            found,
            event="end",
            element_id=task.task_spec.bpmn_id,
            variables=task.data,
            write=_writer(task, set(local)),
        )
    except ListenerBpmnError as thrown:
        task.internal_data[ENDED] = True
        divert(task, thrown.error, completed=True)
        raise Diverted from thrown.error
    task.internal_data[ENDED] = True


def flows_taken(task: Any) -> None:
    """Run the take listeners of the sequence flows a completed element's token went along."""
    by_target = (getattr(task.task_spec, "extensions", None) or {}).get("take_listeners")
    if not by_target or task.internal_data.get(TAKEN):
        return
    for target in _taken_targets(task):
        found = by_target.get(target)
        if not found:
            continue
        try:
            run(
                task.workflow.script_engine,
                found,
                event="take",
                element_id=task.task_spec.bpmn_id,
                variables=task.workflow.top_workflow.data,
                write=_writer(None, set(), scope=task.workflow.top_workflow.data),
            )
        except ListenerBpmnError as thrown:
            task.internal_data[TAKEN] = True
            divert(task, thrown.error, completed=True)
            raise Diverted from thrown.error
    task.internal_data[TAKEN] = True


def start_ready_user_tasks(workflow: Any, view: Callable[[Any], dict[str, Any]]) -> None:
    """Run the start listeners of user tasks that became ready, before their rows exist.

    Raises:
        ListenerFailure, Diverted: As `activity_started`.
    """
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        if not isinstance(task.task_spec, UserTask) or task.internal_data.get(STARTED):
            continue
        subprocesses_entered(task)
        if _of_event(task.task_spec, "start"):
            activity_started(task, (), view(task))


# -- the process ---------------------------------------------------------------------------------


def mark_new(workflow: Any) -> None:
    """A new instance: every listener of it runs (see `adopt`)."""
    workflow.task_tree.internal_data[RUNS_LISTENERS] = True


def adopt(workflow: Any) -> None:
    """An instance stored before flowdesk ran listeners: what it already entered counts as
    started, so that its process start listeners and the start listeners of the user tasks
    and sub-processes it waits in do not run late, on the first call after the upgrade."""
    root = workflow.task_tree
    if root is None or root.internal_data.get(RUNS_LISTENERS):
        return
    root.internal_data[RUNS_LISTENERS] = True
    root.internal_data[PROCESS_STARTED] = True
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.STARTED | TaskState.WAITING):
        task.internal_data[STARTED] = True


def process_started(workflow: Any) -> None:
    """The process's start listeners, once per instance."""
    _process_event(workflow, "start", PROCESS_STARTED)


def process_ended(workflow: Any) -> None:
    """The process's end listeners, once, when the instance has ended."""
    if workflow.is_completed():
        _process_event(workflow, "end", PROCESS_ENDED)


def _process_event(workflow: Any, event: str, flag: str) -> None:
    root = workflow.task_tree
    if root is None or root.internal_data.get(flag):
        return
    found = [x for x in getattr(workflow.spec, "flowdesk_listeners", []) if x["event"] == event]
    if found:
        try:
            run(
                workflow.script_engine,
                found,
                event=event,
                element_id=workflow.spec.name,
                variables=workflow.data,
                write=_writer(None, set(), scope=workflow.data),
            )
        except ListenerBpmnError as thrown:  # Camunda: a failure of the call, not an event
            raise thrown.failure from thrown.error
        root.internal_data[flag] = True


# -- what the listeners see and write ------------------------------------------------------------


def _writer(task: Any, local: set[str], *, scope: dict[str, Any] | None = None) -> Writer:
    """`setVariable`: the process scope, unless the element has a local variable of that name.

    The task's own data gets it too, so the element's behaviour and output parameters (which
    read the task data) see it.
    """
    if scope is None:
        scope = task.workflow.top_workflow.data

    def write(name: str, value: Any) -> None:
        if task is not None:
            task.data[name] = copy.deepcopy(value)
        if name not in local:
            scope[name] = copy.deepcopy(value)

    return write


def _owning_subprocess_task(task: Any) -> Any:
    workflow = task.workflow
    top = workflow.top_workflow
    if workflow is top or workflow.parent_task_id is None:
        return None
    try:
        return top.get_task_from_id(workflow.parent_task_id)
    except Exception:  # a sub-workflow whose task is gone: nothing to start
        return None


def _taken_targets(task: Any) -> list[str]:
    from flowdesk.engine.spiff.task_data import taken_elements

    return taken_elements(task)


def task_listener_events(specs: Iterable[Any], element_id: str) -> set[str]:
    """The events a user task's task listeners listen for, from the process specs."""
    events: set[str] = set()
    for spec in specs:
        for task_spec in spec.task_specs.values():  # a multi-instance task has two specs
            if getattr(task_spec, "bpmn_id", None) == element_id:
                events.update(x["event"] for x in listeners_of(task_spec, "task_listeners"))
    return events


def declared(specs: Iterable[Any]) -> list[tuple[str, str, str]]:
    """(element id, event, implementation) of every class or delegate-expression listener of
    the given process and task specs, for the deploy-time handler check."""
    found: list[tuple[str, str, Mapping[str, Any]]] = []
    for spec in specs:
        for listener in getattr(spec, "flowdesk_listeners", []):
            found.append((spec.name, listener["event"], listener))
        extensions = getattr(spec, "extensions", None) or {}
        element_id = getattr(spec, "bpmn_id", None) or ""
        for key in ("execution_listeners", "task_listeners"):
            for listener in extensions.get(key, []):
                found.append((element_id, listener["event"], listener))
        for by_target in (extensions.get("take_listeners") or {}).values():
            for listener in by_target:
                found.append((listener.get("flow") or element_id, "take", listener))
    return [
        (element_id, event, str(listener["text"]))
        for element_id, event, listener in found
        if listener["kind"] in ("class", "delegateExpression")
    ]
