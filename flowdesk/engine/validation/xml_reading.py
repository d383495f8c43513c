"""Reading an uploaded BPMN or DMN file: the namespaces, safe parsing, and which kind it is."""

from __future__ import annotations

from typing import Literal

from lxml import etree

from flowdesk.engine.dmn.namespaces import DMN_NAMESPACES as DMN_NAMESPACES
from flowdesk.engine.languages.bpmn_namespaces import BPMN_NS, CAMUNDA
from flowdesk.engine.validation.generated_ids import with_generated_ids
from flowdesk.errors import BpmnValidationError, Problem

# Camunda 7 still reads its extension attributes in the namespace it inherited from Activiti.
ACTIVITI_NS = "http://activiti.org/bpmn"

# BPMN, BPMN DI, DD and DMN namespaces all live under this path.
_OMG_SPEC = "omg.org/spec/"


def parse_xml(source: bytes, file: str) -> etree._ElementTree:
    """Parse an uploaded BPMN or DMN file, treating it as untrusted.

    Entities are not resolved, nothing is fetched from the network and huge documents are
    refused, so a hostile file cannot read local files or exhaust memory that way. Sequence
    flows and flow nodes without an id get a generated one (see `generated_ids`), and
    Activiti attributes and `prefix:id` references are read as Camunda 7 reads them.

    Args:
        source: The file's bytes.
        file: The name to report problems under.

    Returns:
        The parsed tree; its root is BPMN or DMN `definitions`.

    Raises:
        BpmnValidationError: The XML is malformed, or its root is not BPMN or DMN `definitions`.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(source, parser)
    except etree.XMLSyntaxError as err:
        line = err.position[0] if err.position else err.lineno
        raise BpmnValidationError([Problem(file, line, None, f"malformed XML: {err.msg}")]) from err
    tree = root.getroottree()
    try:
        kind_of(tree)
    except ValueError as err:
        raise BpmnValidationError([Problem(file, _line(root), root.get("id"), str(err))]) from err
    if ACTIVITI_NS.encode() in source:
        _read_activiti_as_camunda(root)
    if kind_of(tree) == "bpmn":
        _read_local_refs(root)
        with_generated_ids(root)
    return tree


def _read_activiti_as_camunda(root: etree._Element) -> None:
    """Camunda 7 reads the Activiti namespace of older models as its own; so does flowdesk."""
    activiti, camunda = f"{{{ACTIVITI_NS}}}", CAMUNDA
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = str(element.tag)
        if tag.startswith(activiti):
            element.tag = camunda + tag[len(activiti) :]
        for name in [str(n) for n in element.attrib if str(n).startswith(activiti)]:
            element.set(camunda + name[len(activiti) :], element.attrib.pop(name))


# References to root elements that a model may write as a QName (`messageRef="tns:booking"`).
_ROOT_REFERENCES = ("messageRef", "signalRef", "errorRef", "escalationRef")


def _read_local_refs(root: etree._Element) -> None:
    """`prefix:id` references to the file's own root elements become `id`.

    Camunda 7 resolves such a QName against the file's namespaces (`BpmnParse.resolveName`),
    and SpiffWorkflow 3.2 looks the text up as an id. A prefix bound to another namespace
    is left alone.
    """
    target = root.get("targetNamespace")
    for element in root.iter(etree.Element):
        for attribute in _ROOT_REFERENCES:
            prefix, _, name = (element.get(attribute) or "").partition(":")
            if name and element.nsmap.get(prefix) == target:
                element.set(attribute, name)


def kind_of(tree: etree._ElementTree) -> Literal["bpmn", "dmn"]:
    """Whether the tree is a BPMN or a DMN (1.1 to 1.5) file.

    Args:
        tree: A parsed file.

    Returns:
        `bpmn` or `dmn`, from the root element's namespace.

    Raises:
        ValueError: The root is neither BPMN nor DMN `definitions`.
    """
    root = tree.getroot()
    qname = etree.QName(root)
    if qname.localname == "definitions" and qname.namespace == BPMN_NS:
        return "bpmn"
    if qname.localname == "definitions" and qname.namespace in DMN_NAMESPACES:
        return "dmn"
    raise ValueError(
        f"root element is {qname.text}, not BPMN 2.0 definitions ({BPMN_NS}) "
        "or DMN definitions in a namespace Camunda 7 reads (DMN 1.1 to 1.5, "
        f"e.g. {DMN_NAMESPACES[3]})"
    )


def _line(element: etree._Element) -> int | None:
    # lxml-stubs 0.5.1 declares `sourceline = ...`; lxml gives an int, or None for built trees.
    line = element.sourceline
    return line if isinstance(line, int) else None


def _duplicate_ids(root: etree._Element, file: str) -> list[Problem]:
    """Ids used twice by standard (OMG) elements, reported at each repeat.

    Extension elements are left out: the id of a `camunda:formField` is a variable name, and
    two user tasks asking for the same variable is normal.
    """
    first_line: dict[str, int | None] = {}
    problems = []
    for element in root.iter(etree.Element):
        element_id = element.get("id")
        if not element_id or _OMG_SPEC not in (etree.QName(element).namespace or ""):
            continue
        if element_id not in first_line:
            first_line[element_id] = _line(element)
            continue
        problems.append(
            Problem(
                file,
                _line(element),
                element_id,
                f"id {element_id!r} is used more than once (first on line "
                f"{first_line[element_id]}); ids must be unique in a file",
            )
        )
    return problems
