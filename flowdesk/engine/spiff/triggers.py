"""Receive tasks without a message: wait states that only `Engine.trigger` ends.

Camunda 7 reads a receive task without `messageRef` as a plain wait state
(`ReceiveTaskActivityBehavior` with no event subscription): the execution stays there until
`runtimeService.signal(executionId)` (7.x: `trigger`) moves it on. SpiffWorkflow 3.2's
`ReceiveTaskParser` instead gives it a none event definition, which fires as soon as the task
is reached, so the path ran straight through. Here such a receive task gets a
`TriggerDefinition`: an event no BPMN event can catch (neither a message nor a signal of any
name), so the task waits in Spiff's event manager like a catch event, until `fire` marks its
event fired.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.base import EventDefinition
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.spiff import internals


class TriggerDefinition(EventDefinition):  # type: ignore[misc]  # Spiff is untyped
    """What a receive task without a message waits for: an explicit trigger of its element."""

    def catches(self, my_task: Any, event: Any) -> bool:
        # No thrown BPMN event ends this wait, whatever its name: only `fire` does.
        return False


def receive_task_parser(base: type) -> type:
    """The receive task parser: a receive task without a message waits for a trigger."""

    class ReceiveTaskParser(base):  # type: ignore[misc]  # Spiff is untyped
        def create_task(self) -> Any:
            has_message = self.node.get("messageRef") is not None or any(
                isinstance(child.tag, str) and child.tag.endswith("}messageEventDefinition")
                for child in self.node
            )
            if has_message:
                return super().create_task()
            return internals.create_event_task(self, TriggerDefinition(self.bpmn_id))

    return ReceiveTaskParser


def waiting_tasks(workflow: Any, element_id: str) -> list[Any]:
    """The tasks of `element_id` that wait for a trigger, sub-processes included."""
    return [
        task
        for task in workflow.get_tasks(state=TaskState.WAITING)
        if isinstance(getattr(task.task_spec, "event_definition", None), TriggerDefinition)
        and task.task_spec.bpmn_id == element_id
    ]


def fire(task: Any) -> None:
    """End the task's wait: it becomes READY, and the engine's next steps run it."""
    internals.mark_event_fired(task)
    internals.update(task)
