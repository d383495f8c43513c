"""Specs flowdesk adds to SpiffWorkflow's: service tasks that run, Camunda messages, and call
activities that start instances of their own."""

from __future__ import annotations

import copy
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.defaults import CallActivity, ServiceTask
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.camunda.specs.event_definitions import (
    MessageEventDefinition as CamundaMessageEventDefinition,
)
from SpiffWorkflow.util.task import TaskIterator, TaskState


class FlowdeskServiceTask(ServiceTask):  # type: ignore[misc]  # Spiff is untyped
    """A service task that calls the handler registered for its Camunda implementation.

    SpiffWorkflow 3.2's ServiceTask does nothing and stays STARTED forever; this one asks the
    workflow's script engine (which knows the engine's handler registry) to run it.
    """

    def _execute(self, task: Any) -> Any:
        return task.workflow.script_engine.run_service(task)

    def _on_complete_hook(self, my_task: Any) -> None:
        super()._on_complete_hook(my_task)
        if my_task.internal_data.pop(END_PATH, False):
            end_path(my_task)


# Set on a task whose BpmnError nothing caught: it completes, but its path ends there.
END_PATH = "flowdesk_end_path"


def end_path(my_task: Any) -> None:
    """End the path a completed task is on, as a none end event would.

    Its outgoing flow (and the boundary events waiting beside it) is cancelled; when nothing
    else runs in its (sub-)process, that process is complete, so a sub-process's parent goes on.
    """
    for child in list(my_task.children):
        child.cancel()
    parent = my_task.parent
    if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit):
        for sibling in list(parent.children):
            if sibling is not my_task:
                sibling.cancel()
    workflow = my_task.workflow
    unfinished = TaskIterator(workflow.task_tree, state=TaskState.NOT_FINISHED_MASK)
    if next(unfinished, None) is None:
        workflow.completed = True  # Spiff then fires its completed_event for the parent


class MessageDefinition(CamundaMessageEventDefinition):  # type: ignore[misc]
    """A Camunda message whose variables, like Camunda's, land in the instance's variables.

    Spiff's Camunda message nests the payload under `<task>_Response` unless the model names a
    `camunda:resultVariable`, and a throw without `camunda:expression` fails evaluating `None`.

    `service` is set on a throw event whose message event definition names an implementation
    (`camunda:class`, `delegateExpression`, `expression`, or `type="external"` with a topic):
    Camunda 7 then runs the event as a service task (CAM-436, `BpmnParse.parseEndEvents` and
    `parseIntermediateThrowEvent`) and sends nothing itself, so flowdesk calls the handler
    and delivers no message. It holds the extensions a service task's spec would have.
    """

    def __init__(self, *args: Any, service: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service = service

    def throw(self, my_task: Any) -> None:
        if self.service is not None:
            my_task.workflow.script_engine.run_service(my_task, self.service)
            return
        payload = (
            my_task.workflow.script_engine.evaluate(my_task, self.expression)
            if self.expression
            else thrown_variables(my_task)
        )
        event = BpmnEvent(self, payload={"payload": payload, "result_var": self.result_var})
        my_task.workflow.top_workflow.catch(event)

    def update_internal_data(self, my_task: Any, event: Any) -> None:
        my_task.internal_data[self.name] = event.payload

    def update_task_data(self, my_task: Any) -> None:
        event_data = my_task.internal_data.get(self.name) or {}
        payload, result_var = event_data.get("payload"), event_data.get("result_var")
        if result_var:
            my_task.data[result_var] = payload
        elif isinstance(payload, dict):
            my_task.data.update(payload)


class FlowdeskCallActivity(BpmnSpecMixin):  # type: ignore[misc]  # Spiff is untyped
    """A call activity that starts a separate process instance, as Camunda 7 does.

    SpiffWorkflow runs a called process inside the caller's workflow, sharing its id, lock and
    history. This spec only marks itself as requested and stays STARTED; the engine starts the
    called instance and completes (or fails) this task when that instance ends.
    """

    def __init__(self, wf_spec: Any, bpmn_id: str, called_element: str, **kwargs: Any) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.called_element = called_element

    def _run_hook(self, my_task: Any) -> Any:
        my_task.internal_data[CALL_STATE] = CALL_REQUESTED
        return None  # STARTED until the called instance ends


# The key in a call activity task's internal data: "requested", then the called instance's id,
# and "abandoned" once the engine has ended the called instance of a cancelled call activity.
CALL_STATE = "flowdesk_call"
CALL_REQUESTED = "requested"
CALL_ABANDONED = "abandoned"


# -- events ---------------------------------------------------------------------------------------
#
# SpiffWorkflow matches a thrown event to a catching one by exact class (and name or code), so
# the parser builds every message, signal, error and escalation definition from the classes
# below, and the engine throws them with the same classes.


def thrown_variables(my_task: Any) -> dict[str, Any]:
    """What a throw event or send task sends: its input parameters, as Camunda models them.

    SpiffWorkflow sends the thrower's whole task data; Camunda sends nothing by default, and a
    modeler names what to send with the element's input parameters (`camunda:inputOutput`).
    """
    local = my_task.internal_data.get("flowdesk_local", [])
    return {name: copy.deepcopy(my_task.data.get(name)) for name in local}


class SignalDefinition(SignalEventDefinition):  # type: ignore[misc]  # Spiff is untyped
    """A signal that carries the thrower's input parameters and reaches other instances too.

    SpiffWorkflow keeps a signal inside the instance when something there catches it; a BPMN
    signal is a broadcast, so the event is also queued for the engine to deliver elsewhere.
    """

    def throw(self, my_task: Any) -> None:
        event = BpmnEvent(self, payload=thrown_variables(my_task))
        top = my_task.workflow.top_workflow
        top.catch(event)
        if event not in top.bpmn_events:
            top.bpmn_events.append(event)


class _CodeDefinition:
    """Errors and escalations: a code, and the variables the catcher stores it in.

    The payload is `{"code", "message", "variables"}`; a catching event with
    `camunda:errorCodeVariable` (`escalationCodeVariable`) or `errorMessageVariable` gets the
    code and message there, and the variables (from a `BpmnError`) land in the scope.
    """

    code: str | None
    name: str

    def __init__(
        self,
        name: str,
        code: str | None = None,
        *,
        message: str | None = None,
        code_variable: str | None = None,
        message_variable: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, code, **kwargs)  # type: ignore[call-arg]
        self.message = message
        self.code_variable = code_variable
        self.message_variable = message_variable

    def throw(self, my_task: Any) -> None:
        payload: dict[str, Any] = {"code": self.code, "message": self.message, "variables": {}}
        event = BpmnEvent(self, payload=payload, target=my_task.workflow)
        my_task.workflow.top_workflow.catch(event)

    def update_task_data(self, my_task: Any) -> None:
        payload = my_task.internal_data.get(self.name) or {}
        my_task.data.update(copy.deepcopy(payload.get("variables") or {}))
        if self.code_variable:
            my_task.data[self.code_variable] = payload.get("code")
        if self.message_variable:
            my_task.data[self.message_variable] = payload.get("message")


class ErrorDefinition(_CodeDefinition, ErrorEventDefinition):  # type: ignore[misc]
    """A BPMN error, thrown by an error end event or a service handler's `BpmnError`."""


class EscalationDefinition(_CodeDefinition, EscalationEventDefinition):  # type: ignore[misc]
    """A BPMN escalation, thrown by an escalation end or intermediate throw event."""


class EventSubprocess(CallActivity):  # type: ignore[misc]  # Spiff is untyped
    """An event sub-process that knows whether its start event interrupts its scope.

    SpiffWorkflow 3.2 never reads `isInterrupting`: a triggered event sub-process runs beside
    the main flow. The engine reads `interrupting` when the start event has fired and cancels
    the rest of the scope (see `WorkflowRun`).
    """

    def __init__(
        self, wf_spec: Any, bpmn_id: str, subworkflow_spec: Any, *, interrupting: bool, **kw: Any
    ) -> None:
        super().__init__(wf_spec, bpmn_id, subworkflow_spec, **kw)
        self.interrupting = interrupting
