"""Call activities: which process a call starts, and the variables that flow in and out.

Camunda 7 runs a called process as an instance of its own. Variables pass only through the
call activity's `camunda:in` / `camunda:out` mappings (none pass without them), each one of
- `source` + `target`: copy one variable (absent: null);
- `sourceExpression` + `target`: the value of an expression;
- `variables="all"`: every variable;
- `businessKey` (in only): the called instance's business key, an expression.
`camunda:calledElementBinding` picks the version: `latest` (default), `deployment` (the newest
version deployed with or before the caller) or `version` (`camunda:calledElementVersion`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdesk.engine.deployment.repository import PROCESS
from flowdesk.engine.languages import sandbox
from flowdesk.engine.spiff.workflow import CallRequest
from flowdesk.errors import NotFound
from flowdesk.store import DefinitionRow, UnitOfWork


def called_definition(
    uow: UnitOfWork, caller: DefinitionRow, request: CallRequest, context: Mapping[str, Any]
) -> DefinitionRow:
    """The deployed version of the process a call activity starts.

    Raises:
        NotFound: That process (or version) is not deployed.
        ExpressionError: `calledElement` or `calledElementVersion` does not evaluate.
        ValueError: The binding is one flowdesk does not support.
    """
    camunda = request.extensions.get("camunda", {})
    key = str(_value(request.called_element, context))
    binding = camunda.get("calledElementBinding") or "latest"
    if binding == "latest":
        row = uow.definitions.latest(PROCESS, key)
    elif binding == "deployment":
        row = uow.definitions.latest(PROCESS, key, max_id=caller.id)
    elif binding == "version":
        version = int(_value(camunda.get("calledElementVersion") or "", context))
        row = uow.definitions.find_version(PROCESS, key, version)
        key = f"{key}:{version}"
    else:
        raise ValueError(f"calledElementBinding {binding!r} is not supported")
    if row is None:
        raise NotFound("process definition", key)
    return row


def in_variables(request: CallRequest, context: Mapping[str, Any]) -> dict[str, Any]:
    """The variables the called instance starts with."""
    return _mapped(request.extensions.get("call_in", []), request.variables, context)


def business_key(request: CallRequest, context: Mapping[str, Any]) -> str | None:
    """The called instance's business key, from `<camunda:in businessKey="..."/>`."""
    for mapping in request.extensions.get("call_in", []):
        if mapping.get("businessKey"):
            value = _value(mapping["businessKey"], context)
            return None if value is None else str(value)
    return None


def out_variables(
    extensions: Mapping[str, Any], called_variables: Mapping[str, Any]
) -> dict[str, Any]:
    """The variables a finished called instance hands back to its caller."""
    return _mapped(extensions.get("call_out", []), called_variables, called_variables)


def _mapped(
    mappings: list[dict[str, str]], source: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for mapping in mappings:
        if mapping.get("variables") == "all":
            result.update(source)
        elif mapping.get("target") and "sourceExpression" in mapping:
            result[mapping["target"]] = _value(mapping["sourceExpression"], context)
        elif mapping.get("target") and mapping.get("source"):
            result[mapping["target"]] = source.get(mapping["source"])
    return result


def _value(text: str, context: Mapping[str, Any]) -> Any:
    return sandbox.evaluate_value(text.strip(), context)
