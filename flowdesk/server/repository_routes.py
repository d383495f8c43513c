"""Deployments, process definitions (list, get, XML, start) and decision evaluation."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import flowdesk
from flowdesk.server import dtos
from flowdesk.server.camunda_values import read_variables, typed_variables
from flowdesk.server.operations import BOOLEAN, INTEGER, STRING, Call, Operation, checked_text
from flowdesk.server.rest_errors import RestError

_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".dmn11.xml")
# Form fields of a deployment upload that are settings, not resources (Camunda's names).
SETTINGS = frozenset(
    {
        "deployment-name",
        "deployment-source",
        "deployment-activation-time",
        "enable-duplicate-filtering",
        "deploy-changed-only",
        "tenant-id",
    }
)


def create_deployment(call: Call) -> Any:
    """Deploy the uploaded BPMN/DMN files as one deployment.

    flowdesk always filters duplicates (an unchanged file keeps its version), as Camunda's
    `deploy-changed-only`; the deployment name is returned but not kept.
    """
    if not call.files:
        raise RestError.invalid("No deployment resources contained in the form upload.")
    with tempfile.TemporaryDirectory(prefix="flowdesk-deploy-") as folder:
        for index, (name, content) in enumerate(call.files):
            safe = _resource_name(name, index)
            if not safe.lower().endswith(_SUFFIXES):
                raise RestError.invalid(
                    f"Resource {name!r} is no BPMN or DMN file (.bpmn, .bpmn20.xml, .dmn)"
                )
            target = Path(folder) / f"{index:04d}" / safe
            target.parent.mkdir()
            target.write_bytes(content)
        try:
            deployed = call.engine.deploy(folder)
        except flowdesk.BpmnValidationError as err:
            raise _without_folder(err, folder) from None
    latest = max((d.deployed_at for d in deployed if d.deployed_at), default=None)
    result = dtos.deployment(latest, call.form.get("deployment-name"))
    processes = {}
    decisions = {}
    for definition in deployed:
        if definition.kind == "decision":
            shown = dtos.decision_definition(definition)
            decisions[shown["id"]] = shown
        else:
            shown = dtos.process_definition(definition)
            processes[shown["id"]] = shown
    result.update(
        deployedProcessDefinitions=processes or None,
        deployedDecisionDefinitions=decisions or None,
        deployedCaseDefinitions=None,
        deployedDecisionRequirementsDefinitions=None,
    )
    return result


def _resource_name(name: str, index: int) -> str:
    base = Path(name.replace("\\", "/")).name
    return re.sub(r"[^\w.\-]", "_", base) or f"resource-{index}.bpmn"


def _without_folder(err: flowdesk.BpmnValidationError, folder: str) -> RestError:
    """The refusal, with the resource names the client sent instead of the server's paths."""

    def shown(text: str) -> str:
        return re.sub(re.escape(folder) + r"/\d{4}/", "", text)

    details = [
        {
            "resource": shown(problem.file),
            "line": problem.line,
            "element": problem.element_id,
            "message": problem.message,
        }
        for problem in err.problems
    ]
    message = "ENGINE-09005 Could not parse BPMN process. Errors: " + "; ".join(
        shown(str(problem)) for problem in err.problems
    )
    return RestError(400, "ParseException", message, {"details": details})


def _deployments(call: Call) -> dict[str, Any]:
    """Each deployment (the definitions one `deploy` call made), oldest first, by id."""
    found: dict[str, Any] = {}
    definitions = call.engine.definitions(all_versions=True)
    for definition in sorted(definitions, key=lambda d: (d.deployed_at is not None, d.deployed_at)):
        shown = dtos.deployment(definition.deployed_at)
        found.setdefault(shown["id"], shown)
    return found


def _matching_deployments(call: Call) -> list[dict[str, Any]]:
    wanted = call.text("id")
    return [d for d in _deployments(call).values() if wanted is None or d["id"] == wanted]


def list_deployments(call: Call) -> Any:
    return call.page(_matching_deployments(call))


def count_deployments(call: Call) -> Any:
    return {"count": len(_matching_deployments(call))}


def get_deployment(call: Call) -> Any:
    ident = call.path["id"]
    found = _deployments(call).get(ident)
    if found is None:
        raise RestError.not_found(f"Deployment with id '{ident}' does not exist")
    return found


# -- process definitions ----------------------------------------------------------------------


def _definitions(call: Call) -> list[flowdesk.ProcessDefinition]:
    latest = call.flag("latestVersion")
    key = call.text("key")
    found = call.engine.definitions(key=key, all_versions=not latest)
    name = call.text("name")
    version = call.option("version")
    deployment = call.text("deploymentId")
    key_like = call.text("keyLike")
    return [
        d
        for d in found
        if (name is None or d.name == name)
        and (version is None or str(d.version) == str(version))
        and (deployment is None or dtos.deployment_id(d.deployed_at) == deployment)
        and (key_like is None or _like(key_like, d.key))
    ]


def _like(pattern: str, text: str) -> bool:
    """SQL LIKE as Camunda's `*Like` filters take it: `%` any text, `_` one character."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def list_process_definitions(call: Call) -> Any:
    return call.page([dtos.process_definition(d) for d in _definitions(call)])


def count_process_definitions(call: Call) -> Any:
    return {"count": len(_definitions(call))}


def _definition(call: Call) -> flowdesk.ProcessDefinition:
    """The definition a path names: `{id}` (`key:version`) or `key/{key}` (the latest)."""
    if "key" in call.path:
        key = call.path["key"]
        found = call.engine.definitions(key=key)
        if not found:
            raise RestError.not_found(f"No matching process definition with key: {key}")
        return found[0]
    ident = call.path["id"]
    parts = dtos.split_definition_id(ident)
    if parts is not None:
        key, version = parts
        for definition in call.engine.definitions(key=key, all_versions=True):
            if definition.version == version:
                return definition
    raise RestError.not_found(f"No matching definition with id {ident}")


def get_process_definition(call: Call) -> Any:
    return dtos.process_definition(_definition(call))


def get_process_definition_xml(call: Call) -> Any:
    definition = _definition(call)
    xml = call.engine.definition_xml(definition.key, version=definition.version)
    return {"id": dtos.definition_id(definition.key, definition.version), "bpmn20Xml": xml}


def start_process_instance(call: Call) -> Any:
    definition = _definition(call)
    body = call.json_object()
    variables = read_variables(body.get("variables"))
    business_key = checked_text(body.get("businessKey"), "businessKey")
    for unsupported in ("startInstructions", "caseInstanceId"):
        if body.get(unsupported):
            raise RestError.invalid(f"flowdesk does not support {unsupported}")
    instance = call.engine.start(
        definition.key,
        variables,
        business_key=business_key,
        user=call.user,
        version=definition.version,
    )
    shown = dtos.process_instance(instance, call.base)
    if body.get("withVariablesInReturn"):
        shown["variables"] = typed_variables(instance.variables)
    return shown


def evaluate_decision(call: Call) -> Any:
    key = call.path["key"]
    variables = read_variables(call.json_object().get("variables"))
    result = call.engine.evaluate_decision(key, variables)
    rows = [] if result is None else [result] if isinstance(result, dict) else result
    return [typed_variables(row) for row in rows]


def engines(call: Call) -> Any:
    return [{"name": "default"}]


_PAGING = (("firstResult", INTEGER), ("maxResults", INTEGER))
_DEFINITION_FILTERS = (
    ("key", STRING),
    ("keyLike", STRING),
    ("name", STRING),
    ("version", INTEGER),
    ("deploymentId", STRING),
    ("latestVersion", BOOLEAN),
)

OPERATIONS = [
    Operation(
        "GET",
        "/engine",
        engines,
        "The engines (one: default)",
        "Engine",
        responses={200: "EngineList"},
    ),
    Operation(
        "POST",
        "/deployment/create",
        create_deployment,
        "Deploy BPMN/DMN files",
        "Deployment",
        body="multipart",
        responses={200: "DeploymentWithDefinitions", 400: "Exception"},
    ),
    Operation(
        "GET",
        "/deployment",
        list_deployments,
        "List deployments",
        "Deployment",
        query=(("id", STRING), *_PAGING),
        responses={200: "DeploymentList"},
    ),
    Operation(
        "GET",
        "/deployment/count",
        count_deployments,
        "Count deployments",
        "Deployment",
        query=(("id", STRING),),
        responses={200: "Count"},
    ),
    Operation(
        "GET",
        "/deployment/{id}",
        get_deployment,
        "Get a deployment",
        "Deployment",
        responses={200: "Deployment", 404: "Exception"},
    ),
    Operation(
        "GET",
        "/process-definition",
        list_process_definitions,
        "List process definitions",
        "Process Definition",
        query=(*_DEFINITION_FILTERS, *_PAGING),
        responses={200: "ProcessDefinitionList"},
    ),
    Operation(
        "GET",
        "/process-definition/count",
        count_process_definitions,
        "Count process definitions",
        "Process Definition",
        query=_DEFINITION_FILTERS,
        responses={200: "Count"},
    ),
    Operation(
        "GET",
        "/process-definition/key/{key}",
        get_process_definition,
        "Get the latest version of a process",
        "Process Definition",
        responses={200: "ProcessDefinition", 404: "Exception"},
    ),
    Operation(
        "GET",
        "/process-definition/key/{key}/xml",
        get_process_definition_xml,
        "Get the BPMN XML of the latest version",
        "Process Definition",
        responses={200: "ProcessDefinitionXml", 404: "Exception"},
    ),
    Operation(
        "POST",
        "/process-definition/key/{key}/start",
        start_process_instance,
        "Start an instance of the latest version",
        "Process Definition",
        body="StartProcessInstance",
        responses={200: "ProcessInstanceWithVariables", 400: "Exception", 404: "Exception"},
    ),
    Operation(
        "GET",
        "/process-definition/{id}",
        get_process_definition,
        "Get a process definition",
        "Process Definition",
        responses={200: "ProcessDefinition", 404: "Exception"},
    ),
    Operation(
        "GET",
        "/process-definition/{id}/xml",
        get_process_definition_xml,
        "Get the BPMN XML of a process definition",
        "Process Definition",
        responses={200: "ProcessDefinitionXml", 404: "Exception"},
    ),
    Operation(
        "POST",
        "/process-definition/{id}/start",
        start_process_instance,
        "Start an instance of a process definition",
        "Process Definition",
        body="StartProcessInstance",
        responses={200: "ProcessInstanceWithVariables", 400: "Exception", 404: "Exception"},
    ),
    Operation(
        "POST",
        "/decision-definition/key/{key}/evaluate",
        evaluate_decision,
        "Evaluate the latest version of a decision",
        "Decision Definition",
        body="EvaluateDecision",
        responses={200: "DecisionResults", 400: "Exception", 404: "Exception"},
    ),
]
