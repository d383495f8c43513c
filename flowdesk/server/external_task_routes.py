"""External tasks over Camunda 7's REST API: `fetchAndLock` (with long polling), complete,
failure, bpmnError, extendLock, unlock, retries, and the external-task query.

The handlers call the library's external-task methods (`Engine.fetch_and_lock`,
`complete_external_task`, ...; see docs/external-tasks.md). Errors follow Camunda's
`ExternalTaskResourceImpl`: an unknown task is `404 RestException` ("External task with id
... does not exist"), and a call the task's lock refuses (another worker, a lock that ran out)
is `400 RestException` with the engine's message.

Long polling (`asyncResponseTimeout`) is an `async` handler: it fetches in a worker thread, and
while nothing is found it sleeps on the event loop (no thread is held) and fetches again every
`POLL_INTERVAL` seconds, until a task is locked, the timeout passes or the client goes away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

import flowdesk
from flowdesk.server import dtos
from flowdesk.server.auth import run_as
from flowdesk.server.camunda_values import format_date, parse_date, read_variables, typed_variables
from flowdesk.server.operations import BOOLEAN, INTEGER, STRING, Call, Operation, checked_text
from flowdesk.server.rest_errors import RestError

T = TypeVar("T")

_INT, _LONG = 2**31 - 1, 2**63 - 1  # Java's int and long

# Camunda's `FetchAndLockHandlerImpl.MAX_REQUEST_TIMEOUT`: a longer wait is refused with 400.
MAX_ASYNC_RESPONSE_TIMEOUT = 1_800_000
# How often a waiting fetch asks the engine again. Camunda wakes a waiting request as soon as
# its own engine creates a task; flowdesk's tasks may be created by other processes (the CLI,
# workers, another server on the same database), so the database is asked again instead.
POLL_INTERVAL = 0.5

_PAGING = (("firstResult", INTEGER), ("maxResults", INTEGER))
_FILTERS = (
    ("externalTaskId", STRING),
    ("externalTaskIdIn", STRING),
    ("topicName", STRING),
    ("workerId", STRING),
    ("locked", BOOLEAN),
    ("notLocked", BOOLEAN),
    ("withRetriesLeft", BOOLEAN),
    ("noRetriesLeft", BOOLEAN),
    ("activityId", STRING),
    ("activityIdIn", STRING),
    ("processInstanceId", STRING),
    ("processInstanceIdIn", STRING),
    ("processDefinitionId", STRING),
    ("processDefinitionKey", STRING),
    ("processDefinitionKeyIn", STRING),
    ("lockExpirationBefore", STRING),
    ("lockExpirationAfter", STRING),
    ("priorityHigherThanOrEquals", INTEGER),
    ("priorityLowerThanOrEquals", INTEGER),
    ("active", BOOLEAN),
    ("suspended", BOOLEAN),
)


# -- the DTOs -------------------------------------------------------------------------------------


def rest_definition_id(task: flowdesk.ExternalTask) -> str:
    """The REST id of the task's definition (`key:version`, as `/process-definition` gives
    it); the library's `process_definition_id` is `key:version:<stored id>`."""
    return task.process_definition_id.rsplit(":", 1)[0]


def external_task_dto(task: flowdesk.ExternalTask) -> dict[str, Any]:
    """Camunda's `ExternalTaskDto`."""
    return {
        "activityId": task.element_id,
        "activityInstanceId": f"{task.element_id}:{task.id}",
        "errorMessage": task.error_message,
        # flowdesk has no executions of its own; the instance stands for it, as Camunda's
        # process instance execution does for an activity on the instance's only path.
        "executionId": task.instance_id,
        "id": task.id,
        "lockExpirationTime": format_date(task.lock_expires_at),
        "createTime": format_date(task.created_at),
        "processDefinitionId": rest_definition_id(task),
        "processDefinitionKey": task.process_key,
        "processDefinitionVersionTag": None,
        "processInstanceId": task.instance_id,
        "retries": task.retries,
        "suspended": False,
        "workerId": task.worker_id,
        "topicName": task.topic,
        "tenantId": None,
        "priority": task.priority,
        "businessKey": task.business_key,
    }


def locked_task_dto(task: flowdesk.LockedExternalTask, *, properties: bool) -> dict[str, Any]:
    """Camunda's `LockedExternalTaskDto`: the task with its variables (and its extension
    properties when the topic asked for them)."""
    return {
        **external_task_dto(task),
        "errorDetails": task.error_details,
        "variables": typed_variables(task.variables),
        "extensionProperties": dict(task.properties) if properties else {},
    }


# -- reading a request ----------------------------------------------------------------------------


def _whole(
    value: Any, name: str, *, default: int | None = None, minimum: int = 0, maximum: int = _LONG
) -> int:
    """A whole number from a JSON body (Camunda's `int` and `long` fields: `maximum` is
    their Java range, as Jackson refuses a larger number); absent, `default`."""
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise RestError.invalid(f"{name} must be a whole number")
    if value < minimum:
        raise RestError.invalid(f"{name} must be at least {minimum}")
    if value > maximum:
        raise RestError.invalid(f"{name} must be at most {maximum}")
    return value


def _yes(value: Any, name: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RestError.invalid(f"{name} must be true or false")
    return value


def _texts(value: Any, name: str) -> tuple[str, ...] | None:
    """A list of text: a JSON array, or comma-separated text (a query string's form)."""
    if value is None:
        return None
    if isinstance(value, str):
        items: list[Any] = [part for part in value.split(",") if part]
    elif isinstance(value, list):
        items = value
    else:
        raise RestError.invalid(f"{name} must be a list of text")
    return tuple(checked_text(item, name) or "" for item in items)


def _worker(body: dict[str, Any]) -> str:
    worker = checked_text(body.get("workerId"), "workerId")
    if not worker:
        raise RestError.invalid("workerId must name the worker")
    return worker


def _millis(value: Any, name: str, *, minimum: int) -> timedelta:
    """A duration in milliseconds whose end, from now, is a date flowdesk can store (before
    the year 10000; Java's dates go further, so Camunda takes longer ones)."""
    millis = _whole(value, name, minimum=minimum)
    try:
        duration = timedelta(milliseconds=millis)
        datetime.now(UTC) + duration + timedelta(days=1)  # a day's margin for the engine clock
    except OverflowError:
        raise RestError.invalid(f"{name} ends beyond the year 9999") from None
    return duration


def _on_task(ident: str, action: Callable[[], T]) -> T:
    """Run a call on one external task with Camunda's answers to an unknown task (404) and to
    a refusal by the task's lock (400), both as `RestException`."""
    try:
        return action()
    except flowdesk.NotFound:
        raise RestError(
            404, "RestException", f"External task with id {ident} does not exist"
        ) from None
    except flowdesk.ExternalTaskLockError as err:
        raise RestError(400, "RestException", str(err)) from None


# -- fetch and lock -------------------------------------------------------------------------------


def _definition_ids(call: Call, rest_ids: tuple[str, ...]) -> tuple[str, ...]:
    """The library's definition ids (`key:version:<stored id>`) of REST ids (`key:version`).

    Only definitions that have external tasks matter to a fetch, so the waiting tasks of
    each key tell them; an id no task has stands for nothing (`-1` is no stored id).
    """
    found: list[str] = []
    for ident in rest_ids:
        parts = dtos.split_definition_id(ident)
        if parts is None:
            continue
        known = {
            task.process_definition_id
            for task in call.engine.external_tasks(key=parts[0])
            if rest_definition_id(task) == ident
        }
        found.extend(sorted(known) or [f"{ident}:-1"])
    return tuple(found) or ("-:0:-1",)


def _topic(call: Call, entry: Any) -> flowdesk.FetchTopic:
    """One entry of `topics`, as Camunda's `FetchExternalTaskTopicDto` has it."""
    if not isinstance(entry, dict):
        raise RestError.invalid("each topic must be an object with topicName and lockDuration")
    name = checked_text(entry.get("topicName"), "topicName")
    if not name:
        raise RestError.invalid("topicName must name a topic")
    if entry.get("tenantIdIn") or entry.get("processDefinitionVersionTag") is not None:
        raise RestError.invalid("flowdesk has no tenants and no version tags to fetch by")
    variables = _texts(entry.get("variables"), "variables")
    wanted = entry.get("processVariables")
    if wanted is not None and not isinstance(wanted, dict):
        raise RestError.invalid("processVariables must be an object of name to value")
    definition_id = checked_text(entry.get("processDefinitionId"), "processDefinitionId")
    definition_ids = _texts(entry.get("processDefinitionIdIn"), "processDefinitionIdIn")
    for flag in ("localVariables", "deserializeValues", "includeExtensionProperties"):
        _yes(entry.get(flag), flag)
    return flowdesk.FetchTopic(
        topic_name=name,
        lock_duration=_millis(entry.get("lockDuration"), "lockDuration", minimum=1),
        variables=variables,
        local_variables=_yes(entry.get("localVariables"), "localVariables"),
        business_key=checked_text(entry.get("businessKey"), "businessKey"),
        process_definition_id=None
        if definition_id is None
        else _definition_ids(call, (definition_id,))[0],
        process_definition_id_in=None
        if definition_ids is None
        else _definition_ids(call, definition_ids),
        process_definition_key=checked_text(
            entry.get("processDefinitionKey"), "processDefinitionKey"
        ),
        process_definition_key_in=_texts(
            entry.get("processDefinitionKeyIn"), "processDefinitionKeyIn"
        ),
        process_variables=wanted or None,
    )


def _sorting(value: Any) -> None:
    """Camunda's `sorting` of fetchAndLock: only `createTime`. flowdesk locks the oldest
    tasks first, which is `asc`; `desc` cannot be honoured and is refused."""
    if value is None:
        return
    if not isinstance(value, list):
        raise RestError.invalid("sorting must be a list of {sortBy, sortOrder}")
    for entry in value:
        if not isinstance(entry, dict) or entry.get("sortBy") != "createTime":
            raise RestError.invalid("fetchAndLock sorts only by createTime")
        order = entry.get("sortOrder")
        if order not in (None, "asc", "desc"):
            raise RestError.invalid(f"Cannot set query sortOrder parameter to value {order}")
        if order == "desc":
            raise RestError.invalid("flowdesk fetches the oldest tasks first (createTime asc)")


async def fetch_and_lock(call: Call) -> Any:
    """Camunda's `fetchAndLock`. Without `asyncResponseTimeout` it answers at once; with it,
    an empty fetch waits for tasks until the timeout passes (long polling)."""
    body = call.json_object()
    worker = _worker(body)
    max_tasks = _whole(body.get("maxTasks"), "maxTasks", default=0, maximum=_INT)
    use_priority = _yes(body.get("usePriority"), "usePriority")
    timeout = body.get("asyncResponseTimeout")
    if timeout is not None:
        timeout = _whole(timeout, "asyncResponseTimeout")
        if timeout > MAX_ASYNC_RESPONSE_TIMEOUT:
            raise RestError.invalid(
                "The asynchronous response timeout cannot be set to a value greater than "
                f"{MAX_ASYNC_RESPONSE_TIMEOUT} milliseconds"
            )
    _sorting(body.get("sorting"))
    _yes(body.get("includeExtensionProperties"), "includeExtensionProperties")
    entries = body.get("topics")
    if entries is not None and not isinstance(entries, list):
        raise RestError.invalid("topics must be a list")
    properties = {
        str(entry.get("topicName")): bool(entry.get("includeExtensionProperties"))
        or bool(body.get("includeExtensionProperties"))
        for entry in entries or ()
        if isinstance(entry, dict)
    }

    def fetch() -> list[dict[str, Any]]:
        topics = [_topic(call, entry) for entry in entries or ()]
        locked = call.engine.fetch_and_lock(worker, topics, max_tasks, use_priority=use_priority)
        return [locked_task_dto(t, properties=properties.get(t.topic, False)) for t in locked]

    def fetch_as_caller() -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = run_as(call.identity, fetch)
        return result

    found = await run_in_threadpool(fetch_as_caller)
    if found or not timeout:
        return found
    deadline = time.monotonic() + timeout / 1000
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            await asyncio.sleep(min(POLL_INTERVAL, left))
            if call.disconnected is not None and await call.disconnected():
                return []  # nobody is waiting for the answer: lock nothing for them
            found = await run_in_threadpool(fetch_as_caller)
            if found:
                return found
    except asyncio.CancelledError:
        # The server is stopping (`flowdesk serve` cancels what is still running after its
        # grace period): Camunda's answer to a request still waiting at shutdown.
        raise RestError(
            500, "RestException", "Request rejected due to shutdown of application server."
        ) from None


# -- what a worker reports ------------------------------------------------------------------------


def complete(call: Call) -> Any:
    ident = call.path["id"]
    body = call.json_object()
    worker = _worker(body)
    variables = read_variables(body.get("variables"))
    local = read_variables(body.get("localVariables"), what="localVariables")
    _on_task(ident, lambda: call.engine.complete_external_task(ident, worker, variables, local))
    return None


def handle_failure(call: Call) -> Any:
    ident = call.path["id"]
    body = call.json_object()
    worker = _worker(body)
    if read_variables(body.get("variables")) or read_variables(
        body.get("localVariables"), what="localVariables"
    ):
        raise RestError.invalid(
            "flowdesk sets no variables on a failure; send them with complete or bpmnError"
        )
    message = checked_text(body.get("errorMessage"), "errorMessage")
    details = checked_text(body.get("errorDetails"), "errorDetails")
    # Camunda's DTO has `int retries` and `long retryTimeout`: absent, they are 0.
    retries = _whole(body.get("retries"), "retries", default=0, maximum=_INT)
    retry_timeout = _millis(body.get("retryTimeout", 0), "retryTimeout", minimum=0)
    _on_task(
        ident,
        lambda: call.engine.handle_external_task_failure(
            ident, worker, message, details, retries=retries, retry_timeout=retry_timeout
        ),
    )
    return None


def handle_bpmn_error(call: Call) -> Any:
    ident = call.path["id"]
    body = call.json_object()
    worker = _worker(body)
    code = checked_text(body.get("errorCode"), "errorCode")
    if not code:
        raise RestError.invalid("errorCode must name the BPMN error")
    message = checked_text(body.get("errorMessage"), "errorMessage")
    variables = read_variables(body.get("variables"))
    _on_task(
        ident,
        lambda: call.engine.handle_external_task_bpmn_error(
            ident, worker, code, message, variables
        ),
    )
    return None


def extend_lock(call: Call) -> Any:
    ident = call.path["id"]
    body = call.json_object()
    worker = _worker(body)
    duration = _millis(body.get("newDuration"), "newDuration", minimum=1)
    _on_task(ident, lambda: call.engine.extend_external_task_lock(ident, worker, duration))
    return None


def unlock(call: Call) -> Any:
    ident = call.path["id"]
    _on_task(ident, lambda: call.engine.unlock_external_task(ident))
    return None


def set_retries(call: Call) -> Any:
    ident = call.path["id"]
    retries = call.json_object().get("retries")
    if retries is None:
        raise RestError.invalid("The number of retries cannot be null.")
    retries = _whole(retries, "retries", maximum=_INT)
    _on_task(ident, lambda: call.engine.set_external_task_retries(ident, retries))
    return None


# -- the query ------------------------------------------------------------------------------------


def _date(call: Call, name: str) -> datetime | None:
    value = call.option(name)
    return None if value is None else parse_date(value, what=name)


def _priority(call: Call, name: str) -> int | None:
    value = call.option(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise RestError.invalid(f"Cannot set query parameter '{name}' to value '{value}'") from None


def _external_tasks(call: Call) -> list[flowdesk.ExternalTask]:
    """The tasks matching every filter of Camunda's `ExternalTaskQueryDto` that is given."""
    locked, not_locked = call.flag("locked"), call.flag("notLocked")
    left, none_left = call.flag("withRetriesLeft"), call.flag("noRetriesLeft")
    if (locked and not_locked) or (left and none_left) or call.flag("suspended"):
        return []  # contradictory, or suspended (flowdesk suspends nothing)
    found = call.engine.external_tasks(
        task_id=call.text("externalTaskId"),
        instance_id=call.text("processInstanceId"),
        topic=call.text("topicName"),
        worker_id=call.text("workerId"),
        element_id=call.text("activityId"),
        key=call.text("processDefinitionKey"),
        locked=True if locked else False if not_locked else None,
        with_retries_left=True if left else False if none_left else None,
    )
    ids = _texts(call.option("externalTaskIdIn"), "externalTaskIdIn")
    elements = _texts(call.option("activityIdIn"), "activityIdIn")
    instances = _texts(call.option("processInstanceIdIn"), "processInstanceIdIn")
    keys = _texts(call.option("processDefinitionKeyIn"), "processDefinitionKeyIn")
    definition = call.text("processDefinitionId")
    before = _date(call, "lockExpirationBefore")
    after = _date(call, "lockExpirationAfter")
    lowest = _priority(call, "priorityHigherThanOrEquals")
    highest = _priority(call, "priorityLowerThanOrEquals")
    return [
        task
        for task in found
        if (ids is None or task.id in ids)
        and (elements is None or task.element_id in elements)
        and (instances is None or task.instance_id in instances)
        and (keys is None or task.process_key in keys)
        and (definition is None or rest_definition_id(task) == definition)
        and (before is None or (task.lock_expires_at is not None and task.lock_expires_at < before))
        and (after is None or (task.lock_expires_at is not None and task.lock_expires_at > after))
        and (lowest is None or task.priority >= lowest)
        and (highest is None or task.priority <= highest)
    ]


def list_external_tasks(call: Call) -> Any:
    return [external_task_dto(task) for task in call.page(_external_tasks(call))]


def count_external_tasks(call: Call) -> Any:
    return {"count": len(_external_tasks(call))}


def topic_names(call: Call) -> Any:
    """Camunda's `getTopicNames`: the topics of waiting tasks, each once, in name order."""
    locked, unlocked = call.flag("withLockedTasks"), call.flag("withUnlockedTasks")
    if locked and unlocked:
        return []  # Camunda's query asks for both at once: no task is both
    found = call.engine.external_tasks(
        locked=True if locked else False if unlocked else None,
        with_retries_left=True if call.flag("withRetriesLeft") else None,
    )
    return sorted({task.topic for task in found})


def get_external_task(call: Call) -> Any:
    ident = call.path["id"]
    return external_task_dto(_on_task(ident, lambda: call.engine.external_task(ident)))


_ON_TASK = {204: None, 400: "Exception", 404: "Exception"}

OPERATIONS = [
    Operation(
        "GET",
        "/external-task",
        list_external_tasks,
        "List external tasks",
        "External Task",
        query=(*_FILTERS, *_PAGING),
        responses={200: "ExternalTaskList", 400: "Exception"},
    ),
    Operation(
        "POST",
        "/external-task",
        list_external_tasks,
        "List external tasks (query in the body)",
        "External Task",
        query=_PAGING,
        body="ExternalTaskQuery",
        responses={200: "ExternalTaskList", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/external-task/count",
        count_external_tasks,
        "Count external tasks",
        "External Task",
        query=_FILTERS,
        responses={200: "Count", 400: "Exception"},
    ),
    Operation(
        "POST",
        "/external-task/count",
        count_external_tasks,
        "Count external tasks (query in the body)",
        "External Task",
        body="ExternalTaskQuery",
        responses={200: "Count", 400: "Exception"},
    ),
    Operation(
        "POST",
        "/external-task/fetchAndLock",
        fetch_and_lock,
        "Fetch and lock external tasks (long polling with asyncResponseTimeout)",
        "External Task",
        body="FetchExternalTasks",
        responses={200: "LockedExternalTaskList", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/external-task/topic-names",
        topic_names,
        "The topics of waiting external tasks",
        "External Task",
        query=(
            ("withLockedTasks", BOOLEAN),
            ("withUnlockedTasks", BOOLEAN),
            ("withRetriesLeft", BOOLEAN),
        ),
        responses={200: "TopicNames", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/external-task/{id}",
        get_external_task,
        "Get an external task",
        "External Task",
        responses={200: "ExternalTask", 404: "Exception"},
    ),
    Operation(
        "POST",
        "/external-task/{id}/complete",
        complete,
        "Complete an external task",
        "External Task",
        body="CompleteExternalTask",
        responses=_ON_TASK,
    ),
    Operation(
        "POST",
        "/external-task/{id}/failure",
        handle_failure,
        "Report a worker's failure, with the retries left",
        "External Task",
        body="ExternalTaskFailure",
        responses=_ON_TASK,
    ),
    Operation(
        "POST",
        "/external-task/{id}/bpmnError",
        handle_bpmn_error,
        "Throw a BPMN error from an external task",
        "External Task",
        body="ExternalTaskBpmnError",
        responses=_ON_TASK,
    ),
    Operation(
        "POST",
        "/external-task/{id}/extendLock",
        extend_lock,
        "Extend the lock of an external task",
        "External Task",
        body="ExtendLockOnExternalTask",
        responses=_ON_TASK,
    ),
    Operation(
        "POST",
        "/external-task/{id}/unlock",
        unlock,
        "Unlock an external task",
        "External Task",
        responses={204: None, 404: "Exception"},
    ),
    Operation(
        "PUT",
        "/external-task/{id}/retries",
        set_retries,
        "Set the retries of an external task (0 gives it an incident)",
        "External Task",
        body="JobRetries",
        responses=_ON_TASK,
    ),
]
