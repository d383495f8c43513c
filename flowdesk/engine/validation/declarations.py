"""What a file declares and refers to: its processes and decisions, and those it calls by name."""

from __future__ import annotations

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.validation.elements import _camunda, _is_executable, _is_expression
from flowdesk.engine.validation.xml_reading import DMN_NAMESPACES, _line


def process_ids(tree: etree._ElementTree) -> dict[str, bool]:
    """Each process id in the file, with whether it is executable.

    Args:
        tree: A parsed BPMN file (a DMN file has no processes).

    Returns:
        Process id -> `isExecutable`; a process without the attribute counts as executable,
        as in Camunda 7.
    """
    return {
        process.get("id", ""): _is_executable(process)
        for process in tree.getroot().iterchildren(f"{BPMN}process")
        if process.get("id")
    }


def decision_ids(tree: etree._ElementTree) -> list[str]:
    """The ids of the decisions in a DMN file.

    Args:
        tree: A parsed file.

    Returns:
        The decision ids in document order; none for a BPMN file.
    """
    root = tree.getroot()
    namespace = etree.QName(root).namespace
    if namespace not in DMN_NAMESPACES:
        return []
    return [d.get("id", "") for d in root.iterchildren(f"{{{namespace}}}decision") if d.get("id")]


def called_elements(tree: etree._ElementTree) -> list[tuple[str, str | None, int | None]]:
    """The processes the file's call activities call, by name.

    Args:
        tree: A parsed BPMN file.

    Returns:
        `(calledElement, element_id, line)` per call activity. Those whose `calledElement` is
        an expression (`${...}`) or missing are left out: they cannot be resolved before the
        instance runs.
    """
    found = []
    for activity in tree.getroot().iter(f"{BPMN}callActivity"):
        called = (activity.get("calledElement") or "").strip()
        if called and not _is_expression(called):
            found.append((called, activity.get("id"), _line(activity)))
    return found


def decision_refs(tree: etree._ElementTree) -> list[tuple[str, str | None, int | None]]:
    """The decisions the file's business rule tasks evaluate, by name.

    Args:
        tree: A parsed BPMN file.

    Returns:
        `(camunda:decisionRef, element_id, line)` per business rule task; expressions
        (`${...}`) and tasks without a decisionRef are left out.
    """
    found = []
    for task in tree.getroot().iter(f"{BPMN}businessRuleTask"):
        ref = (_camunda(task, "decisionRef") or "").strip()
        if ref and not _is_expression(ref):
            found.append((ref, task.get("id"), _line(task)))
    return found
