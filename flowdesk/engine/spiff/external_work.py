"""External tasks inside the workflow: the activity waits, as Camunda 7's external task does.

A service task, send task or business rule task with `camunda:type="external"` (and a message
throw event whose message event definition has it) does not call anything in-process: it
evaluates its topic and `camunda:taskPriority`, marks itself and stays STARTED, the way a call
activity waits for its instance. The engine writes an external-task row for each such task
(`external_task_rows`) and a worker fetches, locks and completes it (`external_tasks`); then
the task completes, or throws the worker's BPMN error, and the instance runs on.

Only plain data leaves this module; no Spiff object escapes the engine package.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import EndEvent as _SpiffEndEvent
from SpiffWorkflow.bpmn.specs.defaults import IntermediateThrowEvent as _SpiffThrowEvent
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.languages import sandbox
from flowdesk.engine.spiff import multi_instance
from flowdesk.errors import ExpressionError

# A waiting external task's internal data: {"topic": ..., "priority": ...}.
EXTERNAL = "flowdesk_external"
# Camunda's priority of an external task when neither it nor its process has a
# `camunda:taskPriority`.
DEFAULT_PRIORITY = 0


@dataclass(frozen=True, slots=True)
class ExternalRequest:
    """An activity that waits for an external worker, as the engine stores it."""

    task_ref: str
    element_id: str
    topic: str
    priority: int | None  # None: the element has no `camunda:taskPriority`
    properties: dict[str, str] = field(default_factory=dict)


def is_external(extensions: Mapping[str, Any]) -> bool:
    """Whether an element's Camunda settings make it an external task."""
    kind = extensions.get("camunda", {}).get("type")
    return isinstance(kind, str) and kind.lower() == "external"


def request(task: Any, extensions: Mapping[str, Any], beans: Mapping[str, Any]) -> None:
    """Make the task wait for a worker: evaluate its topic and priority now, as Camunda does
    when the activity starts (`ExternalTaskActivityBehavior.execute`).

    Raises:
        ExpressionError: The topic or priority expression cannot be evaluated, or the
            priority is no integer (the activity's step becomes an incident).
    """
    camunda = extensions.get("camunda", {})
    element_id = task.task_spec.bpmn_id
    topic = sandbox.evaluate_value(
        str(camunda.get("topic") or ""), task.data, element_id=element_id, beans=beans
    )
    priority_text = camunda.get("taskPriority")
    # None: the process's `camunda:taskPriority`, else 0 (see `ExternalTaskRows`).
    priority = (
        None
        if not priority_text
        else evaluate_priority(str(priority_text), task.data, element_id, beans)
    )
    task.internal_data[EXTERNAL] = {
        "topic": str(topic),
        "priority": priority,
        "properties": dict(extensions.get("properties", {})),
    }


def evaluate_priority(
    text: str,
    variables: Mapping[str, Any],
    element_id: str,
    beans: Mapping[str, Any] | None = None,
) -> int:
    """A `camunda:taskPriority`: an integer constant or an expression giving one.

    Raises:
        ExpressionError: The expression fails, or gives no integer.
    """
    value = sandbox.evaluate_value(text, variables, element_id=element_id, beans=beans)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ExpressionError(
            text, "camunda:taskPriority is not an integer", element_id=element_id
        ) from None


def requests(workflow: Any) -> list[ExternalRequest]:
    """Every task of the workflow that waits for an external worker."""
    found = []
    for task in workflow.get_tasks():
        marker = task.internal_data.get(EXTERNAL)
        if marker is None or not _waiting(task):
            continue
        found.append(
            ExternalRequest(
                task_ref=str(task.id),
                element_id=task.task_spec.bpmn_id,
                topic=marker["topic"],
                priority=None if marker["priority"] is None else int(marker["priority"]),
                properties=dict(marker.get("properties") or {}),
            )
        )
    return found


def waiting(task: Any) -> bool:
    """Whether `task` is an external task that still waits for its worker."""
    return task is not None and EXTERNAL in task.internal_data and _waiting(task)


def finish(task: Any) -> None:
    """The worker is done with the task: it no longer waits."""
    task.internal_data.pop(EXTERNAL, None)


def variables_of(
    task: Any, scope: Mapping[str, Any], names: tuple[str, ...] | None, *, local_only: bool
) -> dict[str, Any]:
    """What a worker fetching the task gets: Camunda's `getVariables` on its execution.

    The activity's own variables (its input parameters, a multi-instance's counters and
    element variable) hide the process variables of the same name; `local_only` gives only
    those. `names` keeps the variables named (missing ones are left out); None keeps all.
    """
    local_names = task.internal_data.get("flowdesk_local", [])
    local = multi_instance.local_variables(task)
    local.update({k: task.data[k] for k in local_names if k in task.data})
    visible = dict(local) if local_only else {**scope, **local}
    if names is not None:
        visible = {k: v for k, v in visible.items() if k in names}
    return copy.deepcopy(visible)


def _waiting(task: Any) -> bool:
    return bool(task.state == TaskState.STARTED)


class _ExternalThrow:
    """A message throw event that Camunda 7 runs as an external task (CAM-436): it waits for
    a worker instead of completing once its message event definition ran."""

    event_definition: Any

    def _run_hook(self, my_task: Any) -> Any:
        service = getattr(self.event_definition, "service", None)
        if service is not None and is_external(service):
            return my_task.workflow.script_engine.run_service(my_task, service)  # None: waits
        return super()._run_hook(my_task)  # type: ignore[misc]


# Named as Spiff's classes they extend: the history records an element's kind by class name.
class IntermediateThrowEvent(_ExternalThrow, _SpiffThrowEvent):  # type: ignore[misc]
    """An intermediate throw event that may be an external task (see `_ExternalThrow`)."""


class EndEvent(_ExternalThrow, _SpiffEndEvent):  # type: ignore[misc]
    """An end event that may be an external task (see `_ExternalThrow`)."""
