"""Element helpers the BPMN and DMN checks share: kinds, names, owners, ids and line order."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN, CAMUNDA_NS
from flowdesk.errors import Problem

_CONTAINERS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})
_GATEWAYS = frozenset(
    {
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)
_FLOW_NODES = _GATEWAYS | frozenset(
    {
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "implicitThrowEvent",
        "task",
        "userTask",
        "serviceTask",
        "scriptTask",
        "businessRuleTask",
        "sendTask",
        "receiveTask",
        "manualTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "callChoreography",
        "choreographyTask",
        "subChoreography",
    }
)
# The flow nodes of a process (not of a choreography) that Camunda 7 parses.
EXECUTABLE_FLOW_NODES = _FLOW_NODES - {
    "implicitThrowEvent",
    "callChoreography",
    "choreographyTask",
    "subChoreography",
}


def _by_line(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda problem: problem.line or 0)


def _bpmn_name(element: etree._Element) -> str | None:
    tag = element.tag
    if isinstance(tag, str) and tag.startswith(BPMN):
        return tag[len(BPMN) :]
    return None


def _camunda(element: etree._Element, attribute: str) -> str | None:
    return element.get(f"{{{CAMUNDA_NS}}}{attribute}")


def _is_executable(process: etree._Element) -> bool:
    value = process.get("isExecutable")
    return value is None or value.strip().lower() == "true"


def _is_expression(text: str) -> bool:
    """Whether the text holds JUEL (`${...}`, `#{...}`), so its value is known only at run time."""
    from flowdesk.engine.languages import expressions

    return expressions.is_juel(text)


def _owner_id(element: etree._Element) -> str | None:
    """The id of the flow element (or process) an inner element belongs to."""
    for candidate in _self_and_ancestors(element):
        name = _bpmn_name(candidate)
        if name in _FLOW_NODES or name in ("sequenceFlow", "process"):
            return candidate.get("id")
    return element.get("id")


def _self_and_ancestors(element: etree._Element) -> Iterator[etree._Element]:
    yield element
    yield from element.iterancestors()
