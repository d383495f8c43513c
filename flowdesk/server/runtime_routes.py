"""Process instances (list, get, delete, variables), messages, signals, incidents and jobs.

As in Camunda's runtime API, an instance that has ended is gone from `/process-instance`
(404); `/history/process-instance` keeps it.
"""

from __future__ import annotations

from typing import Any

import flowdesk
from flowdesk.server import dtos
from flowdesk.server.camunda_values import read_value, read_variables, typed_value
from flowdesk.server.operations import (
    BOOLEAN,
    INTEGER,
    STRING,
    Call,
    Operation,
    Reply,
    checked_text,
)
from flowdesk.server.rest_errors import RestError

_PAGING = (("firstResult", INTEGER), ("maxResults", INTEGER))


def running_instance(call: Call, ident: str) -> flowdesk.ProcessInstance:
    try:
        instance = call.engine.instance(ident)
    except flowdesk.NotFound:
        instance = None
    if instance is None or instance.state in dtos.ENDED:
        raise RestError.not_found(f"Process instance with id {ident} does not exist")
    return instance


def _instances(call: Call) -> list[flowdesk.ProcessInstance]:
    with_incident = call.flag("withIncident")
    found = call.engine.instances(
        key=call.text("processDefinitionKey"),
        business_key=call.text("businessKey"),
        parent_id=call.text("superProcessInstance"),
        state="incident" if with_incident else "all",
    )
    wanted = call.option("processInstanceIds")
    ids: set[str] | None = None
    if isinstance(wanted, str):
        ids = set(wanted.split(","))
    elif isinstance(wanted, list):
        ids = {str(item) for item in wanted}
    definition = call.text("processDefinitionId")
    return [
        p
        for p in found
        if p.state not in dtos.ENDED
        and (ids is None or p.id in ids)
        and (definition is None or dtos.definition_id(p.key, p.version) == definition)
    ]


def list_process_instances(call: Call) -> Any:
    return call.page([dtos.process_instance(p, call.base) for p in _instances(call)])


def count_process_instances(call: Call) -> Any:
    return {"count": len(_instances(call))}


def get_process_instance(call: Call) -> Any:
    return dtos.process_instance(running_instance(call, call.path["id"]), call.base)


def delete_process_instance(call: Call) -> Any:
    ident = call.path["id"]
    running_instance(call, ident)
    try:
        call.engine.delete_instance(ident, reason="deleted through the REST API", user=call.user)
    except flowdesk.InstanceStateError:  # it ended in between: gone, as in Camunda
        raise RestError.not_found(f"Process instance with id {ident} does not exist") from None
    return None


def get_variables(call: Call) -> Any:
    instance = running_instance(call, call.path["id"])
    return {name: typed_value(value) for name, value in instance.variables.items()}


def get_variable(call: Call) -> Any:
    instance = running_instance(call, call.path["id"])
    name = call.path["name"]
    if name not in instance.variables:
        raise RestError.not_found(f"process instance variable with name {name} does not exist")
    return typed_value(instance.variables[name])


def put_variable(call: Call) -> Any:
    ident, name = call.path["id"], call.path["name"]
    running_instance(call, ident)
    value = read_value(call.json_object(), what=name)
    call.engine.set_variables(ident, {name: value}, user=call.user)
    return None


def modify_variables(call: Call) -> Any:
    ident = call.path["id"]
    running_instance(call, ident)
    body = call.json_object()
    if body.get("deletions"):
        raise RestError.invalid("flowdesk does not delete process variables (deletions)")
    variables = read_variables(body.get("modifications"), what="modifications")
    if variables:
        call.engine.set_variables(ident, variables, user=call.user)
    return None


# -- messages and signals ---------------------------------------------------------------------


def correlate_message(call: Call) -> Any:
    body = call.json_object()
    name = checked_text(body.get("messageName"), "messageName")
    if not name:
        raise RestError.invalid("No message name supplied")
    for unsupported in (
        "all",
        "processInstanceId",
        "processDefinitionId",
        "localCorrelationKeys",
        "processVariablesLocal",
    ):
        if body.get(unsupported):
            raise RestError.invalid(f"flowdesk does not support {unsupported} in correlation")
    business_key = checked_text(body.get("businessKey"), "businessKey")
    keys = body.get("correlationKeys")
    instance = call.engine.correlate(
        name,
        business_key=business_key,
        correlation_keys=read_variables(keys, what="correlationKeys") if keys else None,
        variables=read_variables(body.get("processVariables"), what="processVariables"),
    )
    if not body.get("resultEnabled"):
        return None
    started = _started_by(call, instance, name)
    shown = dtos.process_instance(instance, call.base)
    result: dict[str, Any] = {
        "resultType": "ProcessDefinition" if started else "Execution",
        "processInstance": shown if started else None,
        "execution": None
        if started
        else {
            "id": instance.id,
            "processInstanceId": instance.id,
            "ended": instance.state in dtos.ENDED,
            "tenantId": None,
        },
    }
    if body.get("variablesInResultEnabled"):
        result["variables"] = {k: typed_value(v) for k, v in instance.variables.items()}
    return [result]


def _started_by(call: Call, instance: flowdesk.ProcessInstance, message: str) -> bool:
    """Whether the correlation started the instance: its history begins with the start and,
    right after it, this message's correlation (a waiting instance has run before)."""
    events = call.engine.history(instance.id)
    correlated = [
        i
        for i, e in enumerate(events)
        if e.type == "message_correlated" and e.data.get("message") == message
    ]
    return bool(correlated) and correlated[-1] == 1 and events[0].type == "instance_started"


def throw_signal(call: Call) -> Any:
    body = call.json_object()
    name = checked_text(body.get("name"), "name")
    if not name:
        raise RestError.invalid("No signal name given")
    if body.get("executionId"):
        raise RestError.invalid("flowdesk does not deliver a signal to one execution")
    call.engine.signal(name, read_variables(body.get("variables")))
    return None


# -- incidents and jobs -----------------------------------------------------------------------


def _incidents(call: Call) -> list[dict[str, Any]]:
    wanted = call.text("processInstanceId")
    definition = call.text("processDefinitionId")
    kind = call.text("incidentType")
    shown = []
    for instance in call.engine.instances(state="incident"):
        if wanted is not None and instance.id != wanted:
            continue
        if definition is not None and dtos.definition_id(instance.key, instance.version) != (
            definition
        ):
            continue
        jobs = call.engine.jobs(instance_id=instance.id)
        failed = next((j for j in jobs if j.state == "failed"), None)
        raised = [e for e in call.engine.history(instance.id) if e.type == "incident"]
        incident = dtos.incident(instance, failed, raised[-1] if raised else None)
        if failed is None:  # an external task out of retries: Camunda's failedExternalTask
            for task in call.engine.external_tasks(
                instance_id=instance.id, with_retries_left=False
            ):
                incident |= {
                    "incidentType": "failedExternalTask",
                    "activityId": task.element_id,
                    "failedActivityId": task.element_id,
                    "configuration": task.id,
                }
        if kind is None or incident["incidentType"] == kind:
            shown.append(incident)
    return shown


def list_incidents(call: Call) -> Any:
    return call.page(_incidents(call))


def count_incidents(call: Call) -> Any:
    return {"count": len(_incidents(call))}


def _jobs(call: Call) -> list[dict[str, Any]]:
    wanted = call.text("processInstanceId")
    with_exception = call.flag("withException")
    instances: dict[str, flowdesk.ProcessInstance | None] = {}
    shown = []
    for job in call.engine.jobs(instance_id=wanted):
        if with_exception and not job.error:
            continue
        if job.instance_id is not None and job.instance_id not in instances:
            instances[job.instance_id] = call.engine.instance(job.instance_id)
        instance = instances.get(job.instance_id) if job.instance_id else None
        shown.append(dtos.job(job, instance))
    key = call.text("processDefinitionKey")
    return [j for j in shown if key is None or j["processDefinitionKey"] == key]


def list_jobs(call: Call) -> Any:
    return call.page(_jobs(call))


def count_jobs(call: Call) -> Any:
    return {"count": len(_jobs(call))}


def get_job(call: Call) -> Any:
    ident = call.path["id"]
    found = next((j for j in _jobs(call) if j["id"] == ident), None)
    if found is None:
        raise RestError.not_found(f"Job with id {ident} does not exist")
    return found


def set_job_retries(call: Call) -> Any:
    """A failed job with retries given back runs again: flowdesk's `retry` of its instance,
    which restores the job's configured retries (not the number sent)."""
    ident = call.path["id"]
    retries = call.json_object().get("retries")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise RestError.invalid("retries must be a whole number, 0 or more")
    job = next((j for j in call.engine.jobs() if j.id == ident), None)
    if job is None:
        raise RestError.not_found(f"No job found with id '{ident}'.")
    if retries == 0:
        raise RestError.invalid("flowdesk cannot take a job's retries away (retries 0)")
    if job.state == "failed" and job.instance_id is not None:
        call.engine.retry(job.instance_id, user=call.user)
    return Reply(204)


OPERATIONS = [
    Operation(
        "GET",
        "/process-instance",
        list_process_instances,
        "List running instances",
        "Process Instance",
        query=(
            ("processDefinitionKey", STRING),
            ("processDefinitionId", STRING),
            ("businessKey", STRING),
            ("processInstanceIds", STRING),
            ("superProcessInstance", STRING),
            ("withIncident", BOOLEAN),
            *_PAGING,
        ),
        responses={200: "ProcessInstanceList", 400: "Exception"},
    ),
    Operation(
        "POST",
        "/process-instance",
        list_process_instances,
        "List running instances (query in the body)",
        "Process Instance",
        query=_PAGING,
        body="ProcessInstanceQuery",
        responses={200: "ProcessInstanceList", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/process-instance/count",
        count_process_instances,
        "Count running instances",
        "Process Instance",
        query=(
            ("processDefinitionKey", STRING),
            ("businessKey", STRING),
            ("withIncident", BOOLEAN),
        ),
        responses={200: "Count", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/process-instance/{id}",
        get_process_instance,
        "Get a running instance",
        "Process Instance",
        responses={200: "ProcessInstance", 404: "Exception"},
    ),
    Operation(
        "DELETE",
        "/process-instance/{id}",
        delete_process_instance,
        "Delete (terminate) a running instance",
        "Process Instance",
        responses={204: None, 404: "Exception"},
    ),
    Operation(
        "GET",
        "/process-instance/{id}/variables",
        get_variables,
        "Get an instance's variables",
        "Process Instance",
        responses={200: "VariableMap", 404: "Exception"},
    ),
    Operation(
        "POST",
        "/process-instance/{id}/variables",
        modify_variables,
        "Set several variables",
        "Process Instance",
        body="PatchVariables",
        responses={204: None, 400: "Exception", 404: "Exception"},
    ),
    Operation(
        "GET",
        "/process-instance/{id}/variables/{name}",
        get_variable,
        "Get one variable",
        "Process Instance",
        responses={200: "VariableValue", 404: "Exception"},
    ),
    Operation(
        "PUT",
        "/process-instance/{id}/variables/{name}",
        put_variable,
        "Set one variable",
        "Process Instance",
        body="VariableValue",
        responses={204: None, 400: "Exception", 404: "Exception"},
    ),
    Operation(
        "POST",
        "/message",
        correlate_message,
        "Correlate a message",
        "Message",
        body="CorrelationMessage",
        responses={200: "MessageCorrelationResultList", 204: None, 400: "Exception"},
    ),
    Operation(
        "POST",
        "/signal",
        throw_signal,
        "Broadcast a signal",
        "Signal",
        body="Signal",
        responses={204: None, 400: "Exception"},
    ),
    Operation(
        "GET",
        "/incident",
        list_incidents,
        "List open incidents",
        "Incident",
        query=(
            ("processInstanceId", STRING),
            ("processDefinitionId", STRING),
            ("incidentType", STRING),
            *_PAGING,
        ),
        responses={200: "IncidentList", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/incident/count",
        count_incidents,
        "Count open incidents",
        "Incident",
        query=(("processInstanceId", STRING), ("incidentType", STRING)),
        responses={200: "Count", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/job",
        list_jobs,
        "List waiting and failed jobs",
        "Job",
        query=(
            ("processInstanceId", STRING),
            ("processDefinitionKey", STRING),
            ("withException", BOOLEAN),
            *_PAGING,
        ),
        responses={200: "JobList", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/job/count",
        count_jobs,
        "Count waiting and failed jobs",
        "Job",
        query=(
            ("processInstanceId", STRING),
            ("processDefinitionKey", STRING),
            ("withException", BOOLEAN),
        ),
        responses={200: "Count", 400: "Exception"},
    ),
    Operation(
        "GET", "/job/{id}", get_job, "Get a job", "Job", responses={200: "Job", 404: "Exception"}
    ),
    Operation(
        "PUT",
        "/job/{id}/retries",
        set_job_retries,
        "Give a failed job retries",
        "Job",
        body="JobRetries",
        responses={204: None, 400: "Exception", 404: "Exception"},
    ),
]
