"""History: process instances (running and ended), activity instances and tasks.

flowdesk records an activity when it completes (`activity_completed`), so a historic activity
instance of anything but a user task has the same start and end time.
"""

from __future__ import annotations

from typing import Any

import flowdesk
from flowdesk.server import dtos
from flowdesk.server.operations import BOOLEAN, INTEGER, STRING, Call, Operation
from flowdesk.server.rest_errors import RestError
from flowdesk.server.task_routes import Versions

_PAGING = (("firstResult", INTEGER), ("maxResults", INTEGER))


def _names(call: Call) -> dict[tuple[str, int], str]:
    return {(d.key, d.version): d.name for d in call.engine.definitions(all_versions=True)}


def _instances(call: Call) -> list[flowdesk.ProcessInstance]:
    ident = call.text("processInstanceId")
    if ident is not None:
        try:
            found = [call.engine.instance(ident)]
        except flowdesk.NotFound:
            return []
    else:
        found = call.engine.instances(
            key=call.text("processDefinitionKey"),
            business_key=call.text("processInstanceBusinessKey"),
            parent_id=call.text("superProcessInstanceId"),
            state="all",
        )
    finished, unfinished = call.flag("finished"), call.flag("unfinished")
    key = call.text("processDefinitionKey")
    return [
        p
        for p in found
        if (not finished or p.state in dtos.ENDED)
        and (not unfinished or p.state not in dtos.ENDED)
        and (key is None or p.key == key)
        and (not call.flag("withIncidents") or p.state == "incident")
    ]


def _shown(call: Call, instances: list[flowdesk.ProcessInstance]) -> list[dict[str, Any]]:
    names = _names(call)
    return [
        dtos.historic_process_instance(
            p, names.get((p.key, p.version)) or None, call.engine.history(p.id)
        )
        for p in instances
    ]


def list_historic_process_instances(call: Call) -> Any:
    state = call.text("state")
    instances = _instances(call)
    if state is None:  # only the page's instances are shown: each one reads its history
        return _shown(call, call.page(instances))
    return call.page([s for s in _shown(call, instances) if s["state"] == state])


def count_historic_process_instances(call: Call) -> Any:
    state = call.text("state")
    instances = _instances(call)
    if state is None:
        return {"count": len(instances)}
    return {"count": sum(1 for s in _shown(call, instances) if s["state"] == state)}


def get_historic_process_instance(call: Call) -> Any:
    ident = call.path["id"]
    try:
        instance = call.engine.instance(ident)
    except flowdesk.NotFound:
        raise RestError.not_found(
            f"Historic process instance with id {ident} does not exist"
        ) from None
    return _shown(call, [instance])[0]


def _activities(call: Call) -> list[dict[str, Any]]:
    activity = call.text("activityId")
    kind = call.text("activityType")
    shown: list[dict[str, Any]] = []
    for instance in _instances(call):
        events = call.engine.history(instance.id)
        for index, event in enumerate(events):
            if event.type != "activity_completed" or event.element_id is None:
                continue
            shown.append(
                dtos.historic_activity(
                    instance,
                    ident=dtos.derived_id("activity", instance.id, str(index)),
                    activity_id=event.element_id,
                    name=event.data.get("name") or None,
                    kind=dtos.activity_type(str(event.data.get("kind", ""))),
                    start=event.at,
                    end=event.at,
                )
            )
        for task in call.engine.tasks(instance_id=instance.id, state="all"):
            shown.append(
                dtos.historic_activity(
                    instance,
                    ident=dtos.derived_id("activity", instance.id, task.id),
                    activity_id=task.element_id,
                    name=task.name or None,
                    kind="userTask",
                    start=task.created_at,
                    end=task.completed_at,
                    task=task,
                )
            )
    shown.sort(key=lambda a: (a["startTime"] is None, a["startTime"] or ""))
    finished, unfinished = call.flag("finished"), call.flag("unfinished")
    return [
        a
        for a in shown
        if (activity is None or a["activityId"] == activity)
        and (kind is None or a["activityType"] == kind)
        and (not finished or a["endTime"] is not None)
        and (not unfinished or a["endTime"] is None)
    ]


def list_historic_activity_instances(call: Call) -> Any:
    return call.page(_activities(call))


def count_historic_activity_instances(call: Call) -> Any:
    return {"count": len(_activities(call))}


def _historic_tasks(call: Call) -> list[dict[str, Any]]:
    versions = Versions(call.engine)
    tasks = call.engine.tasks(
        instance_id=call.text("processInstanceId"),
        assignee=call.text("taskAssignee"),
        key=call.text("processDefinitionKey"),
        business_key=call.text("processInstanceBusinessKey"),
        state="all",
    )
    finished, unfinished = call.flag("finished"), call.flag("unfinished")
    element = call.text("taskDefinitionKey")
    return [
        dtos.historic_task(t, versions(t.instance_id))
        for t in tasks
        if (not finished or t.state != "open")
        and (not unfinished or t.state == "open")
        and (element is None or t.element_id == element)
    ]


def list_historic_tasks(call: Call) -> Any:
    return call.page(_historic_tasks(call))


def count_historic_tasks(call: Call) -> Any:
    return {"count": len(_historic_tasks(call))}


_INSTANCE_FILTERS = (
    ("processInstanceId", STRING),
    ("processDefinitionKey", STRING),
    ("processInstanceBusinessKey", STRING),
    ("superProcessInstanceId", STRING),
    ("finished", BOOLEAN),
    ("unfinished", BOOLEAN),
    ("withIncidents", BOOLEAN),
)
_ACTIVITY_FILTERS = (
    ("processInstanceId", STRING),
    ("processDefinitionKey", STRING),
    ("activityId", STRING),
    ("activityType", STRING),
    ("finished", BOOLEAN),
    ("unfinished", BOOLEAN),
)
_TASK_FILTERS = (
    ("processInstanceId", STRING),
    ("processDefinitionKey", STRING),
    ("processInstanceBusinessKey", STRING),
    ("taskAssignee", STRING),
    ("taskDefinitionKey", STRING),
    ("finished", BOOLEAN),
    ("unfinished", BOOLEAN),
)

OPERATIONS = [
    Operation(
        "GET",
        "/history/process-instance",
        list_historic_process_instances,
        "List process instances, running and ended",
        "History",
        query=(*_INSTANCE_FILTERS, ("state", STRING), *_PAGING),
        responses={200: "HistoricProcessInstanceList", 400: "Exception"},
    ),
    Operation(
        "POST",
        "/history/process-instance",
        list_historic_process_instances,
        "List process instances, running and ended (query in the body)",
        "History",
        query=_PAGING,
        body="HistoricProcessInstanceQuery",
        responses={200: "HistoricProcessInstanceList", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/history/process-instance/count",
        count_historic_process_instances,
        "Count process instances, running and ended",
        "History",
        query=(*_INSTANCE_FILTERS, ("state", STRING)),
        responses={200: "Count", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/history/process-instance/{id}",
        get_historic_process_instance,
        "Get a process instance from the history",
        "History",
        responses={200: "HistoricProcessInstance", 404: "Exception"},
    ),
    Operation(
        "GET",
        "/history/activity-instance",
        list_historic_activity_instances,
        "List the activities instances ran",
        "History",
        query=(*_ACTIVITY_FILTERS, *_PAGING),
        responses={200: "HistoricActivityInstanceList", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/history/activity-instance/count",
        count_historic_activity_instances,
        "Count the activities instances ran",
        "History",
        query=_ACTIVITY_FILTERS,
        responses={200: "Count", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/history/task",
        list_historic_tasks,
        "List user tasks in any state",
        "History",
        query=(*_TASK_FILTERS, *_PAGING),
        responses={200: "HistoricTaskList", 400: "Exception"},
    ),
    Operation(
        "POST",
        "/history/task",
        list_historic_tasks,
        "List user tasks in any state (query in the body)",
        "History",
        query=_PAGING,
        body="HistoricTaskQuery",
        responses={200: "HistoricTaskList", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/history/task/count",
        count_historic_tasks,
        "Count user tasks in any state",
        "History",
        query=_TASK_FILTERS,
        responses={200: "Count", 400: "Exception"},
    ),
]
