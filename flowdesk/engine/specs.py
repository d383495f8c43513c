"""Specs flowdesk adds to SpiffWorkflow's: service tasks that run, Camunda messages, and call
activities that start instances of their own."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.camunda.specs.event_definitions import (
    MessageEventDefinition as CamundaMessageEventDefinition,
)


class FlowdeskServiceTask(ServiceTask):  # type: ignore[misc]  # Spiff is untyped
    """A service task that calls the handler registered for its Camunda implementation.

    SpiffWorkflow 3.2's ServiceTask does nothing and stays STARTED forever; this one asks the
    workflow's script engine (which knows the engine's handler registry) to run it.
    """

    def _execute(self, task: Any) -> Any:
        return task.workflow.script_engine.run_service(task)


class MessageDefinition(CamundaMessageEventDefinition):  # type: ignore[misc]
    """A Camunda message whose variables, like Camunda's, land in the instance's variables.

    Spiff's Camunda message nests the payload under `<task>_Response` unless the model names a
    `camunda:resultVariable`, and a throw without `camunda:expression` fails evaluating `None`.
    """

    def throw(self, my_task: Any) -> None:
        payload = (
            my_task.workflow.script_engine.evaluate(my_task, self.expression)
            if self.expression
            else {}
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
