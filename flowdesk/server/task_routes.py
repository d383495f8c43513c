"""User tasks: list (query string or POST body), count, get, claim, unclaim, complete and
form variables. Who may claim and complete is the library's rule (candidates, assignee,
four-eyes exclusions), asked with the authenticated user; a refusal is Camunda's 403."""

from __future__ import annotations

from typing import Any

import flowdesk
from flowdesk.server import dtos
from flowdesk.server.camunda_values import (
    format_date,
    parse_date,
    read_variables,
    typed_value,
    typed_variables,
)
from flowdesk.server.operations import BOOLEAN, INTEGER, STRING, Call, Operation, checked_text
from flowdesk.server.rest_errors import RestError

_PAGING = (("firstResult", INTEGER), ("maxResults", INTEGER))
_FILTERS = (
    ("processInstanceId", STRING),
    ("processInstanceBusinessKey", STRING),
    ("processDefinitionKey", STRING),
    ("assignee", STRING),
    ("candidateGroup", STRING),
    ("candidateUser", STRING),
    ("includeAssignedTasks", BOOLEAN),
    ("unassigned", BOOLEAN),
    ("assigned", BOOLEAN),
    ("taskDefinitionKey", STRING),
    ("name", STRING),
)
# Camunda's form field types and the value types its form-variables call reports for them.
_FORM_TYPES = {
    "string": "String",
    "long": "Long",
    "boolean": "Boolean",
    "date": "Date",
    "enum": "String",
}


class Versions:
    """Each instance's definition version, read once per request (a task has only its key)."""

    def __init__(self, engine: flowdesk.Engine) -> None:
        self._engine = engine
        self._known: dict[str, int] = {}

    def __call__(self, instance_id: str) -> int:
        if instance_id not in self._known:
            self._known[instance_id] = self._engine.instance(instance_id).version
        return self._known[instance_id]


def _tasks(call: Call) -> list[flowdesk.Task]:
    candidate_user = call.text("candidateUser")
    candidate_group = call.text("candidateGroup")
    found = call.engine.tasks(
        instance_id=call.text("processInstanceId"),
        assignee=call.text("assignee"),
        candidate_group=candidate_group,
        candidate_user=candidate_user,
        key=call.text("processDefinitionKey"),
        business_key=call.text("processInstanceBusinessKey"),
    )
    # Camunda's candidate filters list only tasks nobody holds, unless asked otherwise.
    if (candidate_user or candidate_group) and not call.flag("includeAssignedTasks"):
        found = [t for t in found if t.assignee is None]
    if call.flag("unassigned"):
        found = [t for t in found if t.assignee is None]
    if call.flag("assigned"):
        found = [t for t in found if t.assignee is not None]
    element = call.text("taskDefinitionKey")
    name = call.text("name")
    return [
        t
        for t in found
        if (element is None or t.element_id == element) and (name is None or t.name == name)
    ]


def list_tasks(call: Call) -> Any:
    versions = Versions(call.engine)
    return [dtos.task(t, versions(t.instance_id)) for t in call.page(_tasks(call))]


def count_tasks(call: Call) -> Any:
    return {"count": len(_tasks(call))}


def open_task(call: Call, ident: str) -> flowdesk.Task:
    """A task that is open: a completed or cancelled one is gone, as in Camunda's runtime."""
    try:
        task = call.engine.task(ident)
    except flowdesk.NotFound:
        task = None
    if task is None or task.state != "open":
        raise RestError.not_found(f"No matching task with id {ident}")
    return task


def get_task(call: Call) -> Any:
    task = open_task(call, call.path["id"])
    return dtos.task(task, Versions(call.engine)(task.instance_id))


def claim_task(call: Call) -> Any:
    ident = call.path["id"]
    user = checked_text(call.json_object().get("userId"), "userId")
    if not user:
        raise RestError.invalid("userId must name the user who claims the task")
    if user != call.user:
        raise RestError.forbidden(
            call.user,
            f"The user with id '{call.user}' may claim task '{ident}' only for themselves, "
            f"not for '{user}'",
            "TASK_ASSIGN",
            "Task",
            ident,
        )
    open_task(call, ident)
    try:
        call.engine.claim(ident, user=user)
    except flowdesk.TaskStateError as err:
        raise RestError(
            500, "TaskAlreadyClaimedException", f"Task '{ident}' is already claimed: {err}"
        ) from None
    return None


def unclaim_task(call: Call) -> Any:
    ident = call.path["id"]
    open_task(call, ident)
    call.engine.unclaim(ident, user=call.user)
    return None


def complete_task(call: Call) -> Any:
    ident = call.path["id"]
    open_task(call, ident)
    body = call.json_object()
    variables = read_variables(body.get("variables"))
    try:
        instance = call.engine.complete(ident, variables, user=call.user)
    except flowdesk.TaskStateError:  # completed by someone else in between: gone
        raise RestError.not_found(f"Cannot find task with id {ident}") from None
    if body.get("withVariablesInReturn"):
        return typed_variables(instance.variables)
    return None


def form_variables(call: Call) -> Any:
    task = open_task(call, call.path["id"])
    names = call.text("variableNames")
    wanted = None if names is None else {n.strip() for n in names.split(",") if n.strip()}
    variables = call.engine.instance(task.instance_id).variables
    if not task.form_fields:  # Camunda gives a task without form fields all its variables
        return {
            name: typed_value(value)
            for name, value in variables.items()
            if wanted is None or name in wanted
        }
    shown: dict[str, Any] = {}
    for field in task.form_fields:
        if wanted is not None and field.id not in wanted:
            continue
        value = variables.get(field.id, _default(field))
        kind = _FORM_TYPES.get(field.type)
        typed = typed_value(value)
        if kind == "Date" and isinstance(value, str):
            typed = {"type": "Date", "value": _form_date(value), "valueInfo": {}}
        elif kind is not None and (value is None or kind == "Long" == _long(typed)):
            typed = {"type": kind, "value": value, "valueInfo": {}}
        shown[field.id] = typed
    return shown


def _default(field: flowdesk.FormField) -> Any:
    """A form field's `defaultValue` (kept as text) as a value of the field's type."""
    value = field.default
    if not isinstance(value, str):
        return value
    if field.type == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if field.type == "long":
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _long(typed: dict[str, Any]) -> str:
    """A whole number shown as Integer is a Long where the form says `long`."""
    return "Long" if typed["type"] in ("Integer", "Long") else typed["type"]


def _form_date(text: str) -> str:
    """A date form field keeps ISO text; the API shows it in Camunda's date format."""
    try:
        return format_date(parse_date(text, what="date")) or text
    except RestError:
        return text


OPERATIONS = [
    Operation(
        "GET",
        "/task",
        list_tasks,
        "List open user tasks",
        "Task",
        query=(*_FILTERS, *_PAGING),
        responses={200: "TaskList", 400: "Exception"},
    ),
    Operation(
        "POST",
        "/task",
        list_tasks,
        "List open user tasks (query in the body)",
        "Task",
        query=_PAGING,
        body="TaskQuery",
        responses={200: "TaskList", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/task/count",
        count_tasks,
        "Count open user tasks",
        "Task",
        query=_FILTERS,
        responses={200: "Count", 400: "Exception"},
    ),
    Operation(
        "POST",
        "/task/count",
        count_tasks,
        "Count open user tasks (query in the body)",
        "Task",
        body="TaskQuery",
        responses={200: "Count", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/task/{id}",
        get_task,
        "Get an open task",
        "Task",
        responses={200: "Task", 404: "Exception"},
    ),
    Operation(
        "POST",
        "/task/{id}/claim",
        claim_task,
        "Claim a task for yourself",
        "Task",
        body="UserIdBody",
        responses={204: None, 400: "Exception", 403: "AuthorizationException", 404: "Exception"},
    ),
    Operation(
        "POST",
        "/task/{id}/unclaim",
        unclaim_task,
        "Unclaim a task",
        "Task",
        responses={204: None, 403: "AuthorizationException", 404: "Exception"},
    ),
    Operation(
        "POST",
        "/task/{id}/complete",
        complete_task,
        "Complete a task",
        "Task",
        body="CompleteTask",
        responses={
            200: "VariableMap",
            204: None,
            400: "Exception",
            403: "AuthorizationException",
            404: "Exception",
        },
    ),
    Operation(
        "POST",
        "/task/{id}/submit-form",
        complete_task,
        "Complete a task through its form",
        "Task",
        body="CompleteTask",
        responses={
            200: "VariableMap",
            204: None,
            400: "Exception",
            403: "AuthorizationException",
            404: "Exception",
        },
    ),
    Operation(
        "GET",
        "/task/{id}/form-variables",
        form_variables,
        "The values of a task's form fields",
        "Task",
        query=(("variableNames", STRING),),
        responses={200: "VariableMap", 404: "Exception"},
    ),
]
