"""flowdesk's records in the JSON shapes of Camunda 7's REST DTOs (`ProcessDefinitionDto`,
`ProcessInstanceDto`, `TaskDto`, the history DTOs...), every key present, `null` where
flowdesk has no such notion (tenants, cases, suspension)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from pathlib import PurePath
from typing import Any

import flowdesk
from flowdesk.server.camunda_values import format_date

# Ids Camunda has and flowdesk has not (deployments, incidents, activity instances) are
# derived from what flowdesk keeps, in this namespace, so that they are stable across calls.
_NAMESPACE = uuid.UUID("5b0c3f52-6a4e-4f0e-9a53-2f1d7c9e8b10")
ENDED = frozenset({"completed", "terminated"})


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\0".join(parts)))


def definition_id(key: str, version: int) -> str:
    """Camunda's process definition id is `key:version:uuid`; flowdesk's is `key:version`."""
    return f"{key}:{version}"


def split_definition_id(ident: str) -> tuple[str, int] | None:
    key, colon, version = ident.rpartition(":")
    if not colon or not key or not version.isdigit() or len(version) > 9:
        return None
    return key, int(version)


def deployment_id(deployed_at: datetime | None) -> str:
    """Everything one `deploy` call made carries its time: that time names the deployment."""
    return derived_id("deployment", deployed_at.isoformat() if deployed_at else "")


def process_definition(d: flowdesk.ProcessDefinition) -> dict[str, Any]:
    return {
        "id": definition_id(d.key, d.version),
        "key": d.key,
        "category": None,
        "description": None,
        "name": d.name or None,
        "version": d.version,
        "resource": PurePath(d.file).name if d.file else None,
        "deploymentId": deployment_id(d.deployed_at),
        "diagram": None,
        "suspended": False,
        "tenantId": None,
        "versionTag": None,
        "historyTimeToLive": None,
        "startableInTasklist": True,
    }


def decision_definition(d: flowdesk.ProcessDefinition) -> dict[str, Any]:
    return {
        "id": definition_id(d.key, d.version),
        "key": d.key,
        "category": None,
        "name": d.name or None,
        "version": d.version,
        "resource": PurePath(d.file).name if d.file else None,
        "deploymentId": deployment_id(d.deployed_at),
        "decisionRequirementsDefinitionId": None,
        "decisionRequirementsDefinitionKey": None,
        "tenantId": None,
        "versionTag": None,
        "historyTimeToLive": None,
    }


def deployment(deployed_at: datetime | None, name: str | None = None) -> dict[str, Any]:
    return {
        "id": deployment_id(deployed_at),
        "name": name,
        "source": None,
        "deploymentTime": format_date(deployed_at),
        "tenantId": None,
        "links": [],
    }


def _links(base: str, path: str) -> list[dict[str, str]]:
    return [{"method": "GET", "href": f"{base}{path}", "rel": "self"}]


def process_instance(p: flowdesk.ProcessInstance, base: str) -> dict[str, Any]:
    return {
        "id": p.id,
        "definitionId": definition_id(p.key, p.version),
        "definitionKey": p.key,
        "businessKey": p.business_key,
        "caseInstanceId": None,
        "ended": p.state in ENDED,
        "suspended": False,
        "tenantId": None,
        "links": _links(base, f"/process-instance/{p.id}"),
    }


def task(t: flowdesk.Task, version: int) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name or None,
        "assignee": t.assignee,
        "owner": None,
        "created": format_date(t.created_at),
        "lastUpdated": format_date(t.claimed_at),
        "due": format_date(t.due),
        "followUp": None,
        "delegationState": None,
        "description": t.documentation or None,
        "executionId": t.instance_id,
        "parentTaskId": None,
        "priority": t.priority,
        "processDefinitionId": definition_id(t.process_key, version),
        "processInstanceId": t.instance_id,
        "caseExecutionId": None,
        "caseDefinitionId": None,
        "caseInstanceId": None,
        "taskDefinitionKey": t.element_id,
        "suspended": False,
        "formKey": t.form_key,
        "camundaFormRef": None,
        "tenantId": None,
    }


def _millis(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() * 1000)


def historic_task(t: flowdesk.Task, version: int) -> dict[str, Any]:
    reason = {"completed": "completed", "cancelled": "deleted"}.get(t.state)
    return {
        "id": t.id,
        "processDefinitionKey": t.process_key,
        "processDefinitionId": definition_id(t.process_key, version),
        "processInstanceId": t.instance_id,
        "executionId": t.instance_id,
        "caseDefinitionKey": None,
        "caseDefinitionId": None,
        "caseInstanceId": None,
        "caseExecutionId": None,
        "activityInstanceId": derived_id("activity", t.instance_id, t.id),
        "name": t.name or None,
        "description": t.documentation or None,
        "deleteReason": reason,
        "owner": None,
        "assignee": t.assignee,
        "startTime": format_date(t.created_at),
        "endTime": format_date(t.completed_at),
        "duration": _millis(t.created_at, t.completed_at),
        "taskDefinitionKey": t.element_id,
        "priority": t.priority,
        "due": format_date(t.due),
        "parentTaskId": None,
        "followUp": None,
        "tenantId": None,
        "removalTime": None,
        "rootProcessInstanceId": t.instance_id,
    }


def historic_state(p: flowdesk.ProcessInstance, events: Iterable[flowdesk.HistoryEvent]) -> str:
    """Camunda's historic state: ACTIVE (incidents included), COMPLETED, or terminated by a
    terminate end event (INTERNALLY_) or by a delete (EXTERNALLY_TERMINATED)."""
    if p.state == "completed":
        return "COMPLETED"
    if p.state != "terminated":
        return "ACTIVE"
    for event in events:
        if event.type == "instance_terminated":
            by_model = event.data.get("reason") == "terminate end event"
            return "INTERNALLY_TERMINATED" if by_model else "EXTERNALLY_TERMINATED"
    return "INTERNALLY_TERMINATED"


def historic_process_instance(
    p: flowdesk.ProcessInstance, name: str | None, events: list[flowdesk.HistoryEvent]
) -> dict[str, Any]:
    started = next((e for e in events if e.type == "instance_started"), None)
    ended = next((e for e in events if e.type == "instance_terminated"), None)
    return {
        "id": p.id,
        "rootProcessInstanceId": p.id if p.parent_id is None else None,
        "superProcessInstanceId": p.parent_id,
        "superCaseInstanceId": None,
        "caseInstanceId": None,
        "processDefinitionName": name,
        "processDefinitionKey": p.key,
        "processDefinitionVersion": p.version,
        "processDefinitionId": definition_id(p.key, p.version),
        "businessKey": p.business_key,
        "startTime": format_date(p.started_at),
        "endTime": format_date(p.ended_at),
        "removalTime": None,
        "durationInMillis": _millis(p.started_at, p.ended_at),
        "startUserId": started.user if started else None,
        "startActivityId": None,
        "deleteReason": str(ended.data.get("reason")) if ended else None,
        "tenantId": None,
        "state": historic_state(p, events),
        "restartedProcessInstanceId": None,
    }


def activity_type(kind: str) -> str:
    """Camunda names activity types in lower camel case (`serviceTask`, `exclusiveGateway`)."""
    if kind == "EndEvent":
        return "noneEndEvent"
    return kind[:1].lower() + kind[1:] if kind else "unknown"


def historic_activity(
    p: flowdesk.ProcessInstance,
    *,
    ident: str,
    activity_id: str,
    name: str | None,
    kind: str,
    start: datetime,
    end: datetime | None,
    task: flowdesk.Task | None = None,
) -> dict[str, Any]:
    return {
        "id": ident,
        "parentActivityInstanceId": p.id,
        "activityId": activity_id,
        "activityName": name,
        "activityType": kind,
        "processDefinitionKey": p.key,
        "processDefinitionId": definition_id(p.key, p.version),
        "processInstanceId": p.id,
        "executionId": p.id,
        "taskId": task.id if task else None,
        "assignee": task.assignee if task else None,
        "calledProcessInstanceId": None,
        "calledCaseInstanceId": None,
        "startTime": format_date(start),
        "endTime": format_date(end),
        "durationInMillis": _millis(start, end),
        "canceled": bool(task and task.state == "cancelled"),
        "completeScope": False,
        "tenantId": None,
        "removalTime": None,
        "rootProcessInstanceId": p.id,
    }


def incident(
    p: flowdesk.ProcessInstance, failed: flowdesk.Job | None, raised: flowdesk.HistoryEvent | None
) -> dict[str, Any]:
    """An instance's incident: its failed job if a job failed, else the step that failed in
    a call (flowdesk keeps such a failure as an incident where Camunda rolls the call back)."""
    element = failed.element_id if failed else raised.element_id if raised else None
    return {
        "id": derived_id("incident", p.id, p.incident or ""),
        "processDefinitionId": definition_id(p.key, p.version),
        "processInstanceId": p.id,
        "executionId": p.id,
        "incidentTimestamp": format_date(raised.at if raised else None),
        "incidentType": "failedJob" if failed is not None else "failedStep",
        "activityId": element,
        "failedActivityId": element,
        "causeIncidentId": None,
        "rootCauseIncidentId": None,
        "configuration": failed.id if failed else None,
        "tenantId": None,
        "incidentMessage": p.incident,
        "jobDefinitionId": None,
        "annotation": None,
    }


def job(j: flowdesk.Job, instance: flowdesk.ProcessInstance | None) -> dict[str, Any]:
    failed = j.state == "failed"
    return {
        "id": j.id,
        "jobDefinitionId": None,
        "dueDate": format_date(j.due_at),
        "processInstanceId": j.instance_id,
        "executionId": j.instance_id,
        "processDefinitionId": (
            definition_id(instance.key, instance.version) if instance else None
        ),
        "processDefinitionKey": instance.key if instance else None,
        "retries": 0 if failed else None,
        "exceptionMessage": j.error,
        "failedActivityId": j.element_id if failed else None,
        "suspended": False,
        "priority": 0,
        "tenantId": None,
        "createTime": None,
        "batchId": None,
    }
