"""The OpenAPI 3.0 document of what this server serves (`GET /engine-rest/openapi.json`),
with the schema names and shapes of Camunda 7's own OpenAPI document, built from the
`Operation` list so that it describes exactly the routes there are."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowdesk.server.operations import Operation


def _s(kind: str, *, nullable: bool = True, **more: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, **more}
    if nullable:
        schema["nullable"] = True
    return schema


def _obj(properties: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    needed = list(required)
    if needed:
        schema["required"] = needed
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(name: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(name)}


# Camunda's dates are `yyyy-MM-dd'T'HH:mm:ss.SSSZ` (an offset without a colon), which is not
# RFC 3339's `date-time`: described by their pattern instead.
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{4}$"
_TEXT, _BOOL, _INT = _s("string"), _s("boolean"), _s("integer", format="int64")
_DATE = _s("string", pattern=DATE_PATTERN)

_VARIABLE_VALUE = _obj(
    {
        "value": {"nullable": True, "description": "The value, of the JSON type of `type`."},
        "type": _s(
            "string",
            description="String, Integer, Long, Short, Double, Boolean, Date, Json, Bytes "
            "or Null; without it the type follows the JSON value.",
        ),
        "valueInfo": _s("object", additionalProperties=True),
    }
)
_VARIABLE_MAP = {"type": "object", "additionalProperties": _ref("VariableValue")}

_DEFINITION = _obj(
    {
        name: _INT
        if name == "version"
        else _BOOL
        if name in ("suspended", "startableInTasklist")
        else _TEXT
        for name in (
            "id",
            "key",
            "category",
            "description",
            "name",
            "version",
            "resource",
            "deploymentId",
            "diagram",
            "suspended",
            "tenantId",
            "versionTag",
            "historyTimeToLive",
            "startableInTasklist",
        )
    },
    ["id", "key", "version"],
)
_LINK = _obj({"method": _TEXT, "href": _TEXT, "rel": _TEXT})
_INSTANCE_PROPERTIES: dict[str, Any] = {
    "id": _TEXT,
    "definitionId": _TEXT,
    "definitionKey": _TEXT,
    "businessKey": _TEXT,
    "caseInstanceId": _TEXT,
    "ended": _BOOL,
    "suspended": _BOOL,
    "tenantId": _TEXT,
    "links": {"type": "array", "items": _ref("Link")},
}
_DEPLOYMENT_PROPERTIES: dict[str, Any] = {
    "id": _TEXT,
    "name": _TEXT,
    "source": _TEXT,
    "deploymentTime": _DATE,
    "tenantId": _TEXT,
    "links": {"type": "array", "items": _ref("Link")},
}
_DEFINITION_MAP = _s("object", additionalProperties=_ref("ProcessDefinition"))
_EXTERNAL_TASK: dict[str, Any] = {
    name: _TEXT
    for name in [
        "activityId",
        "activityInstanceId",
        "errorMessage",
        "executionId",
        "id",
        "processDefinitionId",
        "processDefinitionKey",
        "processDefinitionVersionTag",
        "processInstanceId",
        "workerId",
        "topicName",
        "tenantId",
        "businessKey",
    ]
} | {
    "lockExpirationTime": _DATE,
    "createTime": _DATE,
    "retries": _s("integer", format="int32"),
    "suspended": _BOOL,
    "priority": _INT,
}


def _fields(names: str, *, dates: str = "", ints: str = "", bools: str = "") -> dict[str, Any]:
    kinds = {n: _DATE for n in dates.split()} | {n: _INT for n in ints.split()}
    kinds |= {n: _BOOL for n in bools.split()}
    return {name: kinds.get(name, _TEXT) for name in names.split()}


SCHEMAS: dict[str, Any] = {
    "Exception": _obj(
        {"type": _TEXT, "message": _TEXT, "code": _s("integer")}, ["type", "message"]
    ),
    "AuthorizationException": _obj(
        {
            "type": _TEXT,
            "message": _TEXT,
            "code": _s("integer"),
            "userId": _TEXT,
            "missingAuthorizations": {
                "type": "array",
                "items": _obj(
                    {"permissionName": _TEXT, "resourceName": _TEXT, "resourceId": _TEXT}
                ),
            },
        },
        ["type", "message"],
    ),
    "Count": _obj({"count": _s("integer", nullable=False, minimum=0)}, ["count"]),
    "Link": _LINK,
    "EngineList": {"type": "array", "items": _obj({"name": _TEXT})},
    "VariableValue": _VARIABLE_VALUE,
    "VariableMap": _VARIABLE_MAP,
    "ProcessDefinition": _DEFINITION,
    "ProcessDefinitionList": _list("ProcessDefinition"),
    "ProcessDefinitionXml": _obj({"id": _TEXT, "bpmn20Xml": _TEXT}),
    "Deployment": _obj(_DEPLOYMENT_PROPERTIES, ["id"]),
    "DeploymentList": _list("Deployment"),
    "DeploymentWithDefinitions": _obj(
        {
            **_DEPLOYMENT_PROPERTIES,
            "deployedProcessDefinitions": _DEFINITION_MAP,
            "deployedDecisionDefinitions": _s("object", additionalProperties=True),
            "deployedCaseDefinitions": _s("object", additionalProperties=True),
            "deployedDecisionRequirementsDefinitions": _s("object", additionalProperties=True),
        },
        ["id"],
    ),
    "StartProcessInstance": _obj(
        {
            "variables": _ref("VariableMap"),
            "businessKey": _TEXT,
            "withVariablesInReturn": _BOOL,
        }
    ),
    "ProcessInstance": _obj(_INSTANCE_PROPERTIES, ["id", "definitionId"]),
    "ProcessInstanceWithVariables": _obj(
        {**_INSTANCE_PROPERTIES, "variables": _ref("VariableMap")}, ["id", "definitionId"]
    ),
    "ProcessInstanceList": _list("ProcessInstance"),
    "ProcessInstanceQuery": _obj(
        {
            "processDefinitionKey": _TEXT,
            "processDefinitionId": _TEXT,
            "businessKey": _TEXT,
            "processInstanceIds": {"type": "array", "items": {"type": "string"}},
            "superProcessInstance": _TEXT,
            "withIncident": _BOOL,
        }
    ),
    "PatchVariables": _obj(
        {
            "modifications": _ref("VariableMap"),
            "deletions": {"type": "array", "items": {"type": "string"}, "maxItems": 0},
        }
    ),
    "EvaluateDecision": _obj({"variables": _ref("VariableMap")}),
    "DecisionResults": {"type": "array", "items": _ref("VariableMap")},
    "CorrelationMessage": _obj(
        {
            "messageName": _s("string", nullable=False, minLength=1),
            "businessKey": _TEXT,
            "correlationKeys": _ref("VariableMap"),
            "processVariables": _ref("VariableMap"),
            "resultEnabled": _BOOL,
            "variablesInResultEnabled": _BOOL,
        },
        ["messageName"],
    ),
    "MessageCorrelationResult": _obj(
        {
            "resultType": _s("string", nullable=False, enum=["Execution", "ProcessDefinition"]),
            "processInstance": _s("object", additionalProperties=True),
            "execution": _s("object", additionalProperties=True),
            "variables": _ref("VariableMap"),
        },
        ["resultType"],
    ),
    "MessageCorrelationResultList": _list("MessageCorrelationResult"),
    "Signal": _obj(
        {"name": _s("string", nullable=False, minLength=1), "variables": _ref("VariableMap")},
        ["name"],
    ),
    "Task": _obj(
        _fields(
            "id name assignee owner created lastUpdated due followUp delegationState "
            "description executionId parentTaskId priority processDefinitionId "
            "processInstanceId caseExecutionId caseDefinitionId caseInstanceId "
            "taskDefinitionKey suspended formKey camundaFormRef tenantId",
            dates="created lastUpdated due followUp",
            ints="priority",
            bools="suspended",
        )
        | {"camundaFormRef": _s("object", additionalProperties=True)},
        ["id"],
    ),
    "TaskList": _list("Task"),
    "TaskQuery": _obj(
        _fields(
            "processInstanceId processInstanceBusinessKey processDefinitionKey assignee "
            "candidateGroup candidateUser includeAssignedTasks unassigned assigned "
            "taskDefinitionKey name",
            bools="includeAssignedTasks unassigned assigned",
        )
    ),
    "UserIdBody": _obj({"userId": _s("string", nullable=False, minLength=1)}, ["userId"]),
    "CompleteTask": _obj({"variables": _ref("VariableMap"), "withVariablesInReturn": _BOOL}),
    "Incident": _obj(
        _fields(
            "id processDefinitionId processInstanceId executionId incidentTimestamp "
            "incidentType activityId failedActivityId causeIncidentId rootCauseIncidentId "
            "configuration tenantId incidentMessage jobDefinitionId annotation",
            dates="incidentTimestamp",
        ),
        ["id"],
    ),
    "IncidentList": _list("Incident"),
    "Job": _obj(
        _fields(
            "id jobDefinitionId dueDate processInstanceId executionId processDefinitionId "
            "processDefinitionKey retries exceptionMessage failedActivityId suspended "
            "priority tenantId createTime batchId",
            dates="dueDate createTime",
            ints="retries priority",
            bools="suspended",
        ),
        ["id"],
    ),
    "JobList": _list("Job"),
    "JobRetries": _obj({"retries": _s("integer", nullable=False, minimum=0)}, ["retries"]),
    "HistoricProcessInstance": _obj(
        _fields(
            "id rootProcessInstanceId superProcessInstanceId superCaseInstanceId "
            "caseInstanceId processDefinitionName processDefinitionKey "
            "processDefinitionVersion processDefinitionId businessKey startTime endTime "
            "removalTime durationInMillis startUserId startActivityId deleteReason tenantId "
            "state restartedProcessInstanceId",
            dates="startTime endTime removalTime",
            ints="processDefinitionVersion durationInMillis",
        ),
        ["id"],
    ),
    "HistoricProcessInstanceList": _list("HistoricProcessInstance"),
    "HistoricActivityInstance": _obj(
        _fields(
            "id parentActivityInstanceId activityId activityName activityType "
            "processDefinitionKey processDefinitionId processInstanceId executionId taskId "
            "assignee calledProcessInstanceId calledCaseInstanceId startTime endTime "
            "durationInMillis canceled completeScope tenantId removalTime "
            "rootProcessInstanceId",
            dates="startTime endTime removalTime",
            ints="durationInMillis",
            bools="canceled completeScope",
        ),
        ["id"],
    ),
    "HistoricActivityInstanceList": _list("HistoricActivityInstance"),
    "HistoricTask": _obj(
        _fields(
            "id processDefinitionKey processDefinitionId processInstanceId executionId "
            "caseDefinitionKey caseDefinitionId caseInstanceId caseExecutionId "
            "activityInstanceId name description deleteReason owner assignee startTime "
            "endTime duration taskDefinitionKey priority due parentTaskId followUp tenantId "
            "removalTime rootProcessInstanceId",
            dates="startTime endTime due followUp removalTime",
            ints="duration priority",
        ),
        ["id"],
    ),
    "HistoricTaskList": _list("HistoricTask"),
    "HistoricProcessInstanceQuery": _obj(
        _fields(
            "processInstanceId processDefinitionKey processInstanceBusinessKey "
            "superProcessInstanceId finished unfinished withIncidents state",
            bools="finished unfinished withIncidents",
        )
    ),
    "HistoricTaskQuery": _obj(
        _fields(
            "processInstanceId processDefinitionKey processInstanceBusinessKey taskAssignee "
            "taskDefinitionKey finished unfinished",
            bools="finished unfinished",
        )
    ),
    # External tasks (external_task_routes.py), with the names of Camunda's DTOs.
    "ExternalTask": _obj(_EXTERNAL_TASK, ["id"]),
    "ExternalTaskList": _list("ExternalTask"),
    "LockedExternalTask": _obj(
        {
            **_EXTERNAL_TASK,
            "errorDetails": _TEXT,
            "variables": _ref("VariableMap"),
            "extensionProperties": _s("object", additionalProperties={"type": "string"}),
        },
        ["id"],
    ),
    "LockedExternalTaskList": _list("LockedExternalTask"),
    "TopicNames": {"type": "array", "items": {"type": "string"}},
    "FetchExternalTasks": _obj(
        {
            "workerId": _s("string", nullable=False, minLength=1),
            "maxTasks": _s("integer", format="int32", minimum=0, maximum=2**31 - 1),
            "usePriority": _BOOL,
            "asyncResponseTimeout": _s("integer", format="int64", minimum=0, maximum=1_800_000),
            "includeExtensionProperties": _BOOL,
            "sorting": _s(
                "array",
                items=_obj(
                    {
                        "sortBy": _s("string", nullable=False, enum=["createTime"]),
                        "sortOrder": _s("string", nullable=False, enum=["asc"]),
                    }
                ),
            ),
            "topics": _s("array", items=_ref("FetchExternalTaskTopic")),
        },
        ["workerId"],
    ),
    "FetchExternalTaskTopic": _obj(
        {
            "topicName": _s("string", nullable=False, minLength=1),
            "lockDuration": _s("integer", nullable=False, format="int64", minimum=1),
            "variables": _s("array", items={"type": "string"}),
            "localVariables": _BOOL,
            "businessKey": _TEXT,
            "processDefinitionId": _TEXT,
            "processDefinitionIdIn": _s("array", items={"type": "string"}),
            "processDefinitionKey": _TEXT,
            "processDefinitionKeyIn": _s("array", items={"type": "string"}),
            "processVariables": _s(
                "object",
                additionalProperties={
                    "oneOf": [{"type": t} for t in ("string", "number", "boolean")]
                },
            ),
            "deserializeValues": _BOOL,
            "includeExtensionProperties": _BOOL,
        },
        ["topicName", "lockDuration"],
    ),
    "CompleteExternalTask": _obj(
        {
            "workerId": _s("string", nullable=False, minLength=1),
            "variables": _ref("VariableMap"),
            "localVariables": _ref("VariableMap"),
        },
        ["workerId"],
    ),
    "ExternalTaskFailure": _obj(
        {
            "workerId": _s("string", nullable=False, minLength=1),
            "errorMessage": _TEXT,
            "errorDetails": _TEXT,
            "retries": _s("integer", format="int32", minimum=0, maximum=2**31 - 1),
            "retryTimeout": _s("integer", format="int64", minimum=0),
        },
        ["workerId"],
    ),
    "ExternalTaskBpmnError": _obj(
        {
            "workerId": _s("string", nullable=False, minLength=1),
            "errorCode": _s("string", nullable=False, minLength=1),
            "errorMessage": _TEXT,
            "variables": _ref("VariableMap"),
        },
        ["workerId", "errorCode"],
    ),
    "ExtendLockOnExternalTask": _obj(
        {
            "workerId": _s("string", nullable=False, minLength=1),
            "newDuration": _s("integer", nullable=False, format="int64", minimum=1),
        },
        ["workerId", "newDuration"],
    ),
    "ExternalTaskQuery": _obj(
        _fields(
            "externalTaskId topicName workerId locked notLocked withRetriesLeft "
            "noRetriesLeft activityId processInstanceId processDefinitionId "
            "processDefinitionKey lockExpirationBefore lockExpirationAfter "
            "priorityHigherThanOrEquals priorityLowerThanOrEquals active suspended",
            ints="priorityHigherThanOrEquals priorityLowerThanOrEquals",
            bools="locked notLocked withRetriesLeft noRetriesLeft active suspended",
        )
        | {
            name: _s("array", items={"type": "string"})
            for name in (
                "externalTaskIdIn",
                "activityIdIn",
                "processInstanceIdIn",
                "processDefinitionKeyIn",
            )
        }
    ),
}

_MULTIPART = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {
                "deployment-name": {"type": "string"},
                "deployment-source": {"type": "string"},
                "enable-duplicate-filtering": {"type": "boolean"},
                "deploy-changed-only": {"type": "boolean"},
                "data": {"type": "string", "format": "binary"},
            },
            "additionalProperties": {"type": "string", "format": "binary"},
        }
    }
}

_STATUS_TEXT = {
    200: "Request successful.",
    204: "Request successful; no content.",
    400: "The request is malformed, or a variable or form value is wrong.",
    401: "No credentials, or wrong ones (HTTP Basic).",
    403: "The authenticated user may not do this.",
    404: "No such resource.",
    500: "The engine failed (e.g. OptimisticLockingException).",
}


def _operation_id(operation: Operation) -> str:
    words = [operation.method.lower()]
    for part in operation.path.strip("/").split("/"):
        if part.startswith("{"):
            words.append("by_" + part.strip("{}"))
        else:
            words.append(part.replace("-", "_"))
    return "_".join(words)


def document(operations: Iterable[Operation], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document for these operations, served under `/engine-rest`."""
    paths: dict[str, Any] = {}
    for op in operations:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_names(op.path)
        ]
        parameters += [
            {"name": name, "in": "query", "required": False, "schema": {"type": kind}}
            for name, kind in op.query
        ]
        responses: dict[str, Any] = {}
        statuses: dict[int, str | None] = {**op.responses, 401: None}
        if op.query or op.body:  # a malformed parameter or body is refused
            statuses.setdefault(400, "Exception")
        for status, schema in sorted(statuses.items()):
            response: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "")}
            if schema is not None:
                response["content"] = {"application/json": {"schema": _ref(schema)}}
            responses[str(status)] = response
        entry: dict[str, Any] = {
            "operationId": _operation_id(op),
            "summary": op.summary,
            "tags": [op.tag],
            "responses": responses,
        }
        if parameters:
            entry["parameters"] = parameters
        if op.body == "multipart":
            entry["requestBody"] = {"required": True, "content": _MULTIPART}
        elif op.body is not None:
            entry["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": _ref(op.body)}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "flowdesk: Camunda 7 REST API (subset)",
            "version": version,
            "description": "The part of Camunda 7's REST API that flowdesk serves; see "
            "docs/rest-api.md for what is covered and what differs.",
        },
        "servers": [{"url": "/engine-rest"}],
        "security": [{"basicAuth": []}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
        },
    }


def _path_names(path: str) -> list[str]:
    return [part.strip("{}") for part in path.split("/") if part.startswith("{")]
