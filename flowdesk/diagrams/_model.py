"""What a diagram draws, read from a BPMN file's DI: shapes and edges with their semantics.

Only one BPMN plane is read: the one of the process asked for (its own plane, or the plane of
the collaboration whose participant runs it), as Camunda Modeler opens a file on it. Elements
of a collapsed subprocess live on the subprocess's own plane in files written by Camunda
Modeler 5 and are not drawn, as in the Modeler's root view; older files that keep them on the
root plane under a collapsed subprocess have them hidden for the same reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lxml import etree

from flowdesk.errors import DiagramError

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@dataclass(frozen=True, slots=True)
class Bounds:
    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(slots=True)
class Shape:
    """One BPMNShape: the element's BPMN tag (local name), bounds and DI flags."""

    element_id: str
    tag: str
    bounds: Bounds
    element: etree._Element
    is_expanded: bool | None = None
    is_horizontal: bool | None = None
    is_marker_visible: bool = False
    label: Bounds | None = None


@dataclass(slots=True)
class Edge:
    """One BPMNEdge: the element's BPMN tag, waypoints and label bounds."""

    element_id: str
    tag: str
    waypoints: list[tuple[float, float]]
    element: etree._Element
    label: Bounds | None = None
    message_visible_kind: str | None = None  # a message flow's envelope: initiating or not


@dataclass(slots=True)
class Diagram:
    """The shapes and edges of one plane, in file order, and the semantic elements by id."""

    shapes: list[Shape] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    elements: dict[str, etree._Element] = field(default_factory=dict)

    def shape(self, element_id: str) -> Shape | None:
        for shape in self.shapes:
            if shape.element_id == element_id:
                return shape
        return None


def read_diagram(source: str | bytes, *, process_key: str | None = None) -> Diagram:
    """The diagram of `process_key` (or of the file's first plane) in a BPMN document.

    Raises:
        DiagramError: The text is no BPMN XML, or the file has no diagram (DI) for the process.
    """
    data = source.encode("utf-8") if isinstance(source, str) else source
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise DiagramError(process_key, f"the BPMN file is not well-formed XML: {err.msg}") from err
    if root.tag != f"{{{BPMN}}}definitions":
        raise DiagramError(process_key, "the file is no BPMN 2.0 definitions document")
    elements: dict[str, etree._Element] = {}
    for node in root.iter(f"{{{BPMN}}}*"):
        ident = node.get("id")
        if ident:
            elements.setdefault(ident, node)
    plane = _plane_for(root, elements, process_key)
    if plane is None:
        raise DiagramError(
            process_key,
            "the file has no diagram (BPMN DI) for it: draw it in Camunda Modeler and deploy "
            "the saved file",
        )
    diagram = Diagram(elements=elements)
    scope = _scope(elements.get(plane.get("bpmnElement") or ""), elements)
    for node in plane.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge"):
        element = elements.get(node.get("bpmnElement") or "")
        if element is None or (scope is not None and _root_of(element) not in scope):
            # DI of an element the file does not define, or of one outside the plane's
            # process or collaboration: Camunda Modeler draws neither.
            continue
        if node.tag == f"{{{BPMNDI}}}BPMNShape":
            shape = _read_shape(node, element)
            if shape is not None:
                diagram.shapes.append(shape)
        else:
            edge = _read_edge(node, element)
            if edge is not None:
                diagram.edges.append(edge)
    if not diagram.shapes:
        raise DiagramError(process_key, "its diagram (BPMN DI) has no shapes")
    _hide_collapsed_content(diagram)
    return diagram


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def _plane_for(
    root: etree._Element, elements: dict[str, etree._Element], process_key: str | None
) -> etree._Element | None:
    planes = [
        plane
        for plane in root.iter(f"{{{BPMNDI}}}BPMNPlane")
        if len(plane.findall(f".//{{{BPMNDI}}}BPMNShape"))
    ]
    if not planes:
        return None
    if process_key is None:
        return planes[0]
    for plane in planes:
        target = elements.get(plane.get("bpmnElement") or "")
        if target is None:
            continue
        if target.get("id") == process_key:
            return plane
        if local_name(target) == "collaboration" and any(
            participant.get("processRef") == process_key
            for participant in target.findall(f"{{{BPMN}}}participant")
        ):
            return plane
    # A plane naming nothing (or another element) that still draws the process's elements.
    process = elements.get(process_key)
    if process is None:
        return None
    ids = {node.get("id") for node in process.iter(f"{{{BPMN}}}*")}
    for plane in planes:
        if any(
            shape.get("bpmnElement") in ids
            for shape in plane.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge")
        ):
            return plane
    return None


def _scope(target: etree._Element | None, elements: dict[str, etree._Element]) -> set[str] | None:
    """The ids of the process or collaboration a plane shows and the processes of its pools;
    None when the plane names neither (then everything on it is drawn)."""
    if target is None or local_name(target) not in ("process", "collaboration"):
        return None
    scope = {target.get("id") or ""}
    if local_name(target) == "collaboration":
        for participant in target.findall(f"{{{BPMN}}}participant"):
            scope.add(participant.get("processRef") or "")
        # As bpmn-js: a process no pool runs is drawn too when it has lanes.
        for process in elements.values():
            if (
                process.tag == f"{{{BPMN}}}process"
                and process.find(f"{{{BPMN}}}laneSet") is not None
            ):
                scope.add(process.get("id") or "")
    return scope


def _root_of(element: etree._Element) -> str:
    """The id of the process or collaboration an element belongs to ("" for none)."""
    node: etree._Element | None = element
    while node is not None:
        if node.tag in (f"{{{BPMN}}}process", f"{{{BPMN}}}collaboration"):
            return node.get("id") or ""
        node = node.getparent()
    return ""


def _bounds(node: etree._Element | None) -> Bounds | None:
    if node is None:
        return None
    try:
        values = [float(node.get(name, "")) for name in ("x", "y", "width", "height")]
    except ValueError:
        return None  # a bound that is no number: the deploy check refuses such files anyway
    if any(value != value or abs(value) == float("inf") for value in values):
        return None
    # Whole pixels, rounded half up as JavaScript's Math.round: Camunda Modeler (bpmn-js)
    # places shapes and labels so; edges keep their waypoints as they are.
    return Bounds(*(float(math.floor(value + 0.5)) for value in values))


def _flag(node: etree._Element, name: str) -> bool | None:
    value = node.get(name)
    return None if value is None else value.strip().lower() == "true"


def _read_shape(node: etree._Element, element: etree._Element) -> Shape | None:
    bounds = _bounds(node.find(f"{{{DC}}}Bounds"))
    if bounds is None:
        return None
    label = node.find(f"{{{BPMNDI}}}BPMNLabel")
    return Shape(
        element_id=element.get("id", ""),
        tag=local_name(element),
        bounds=bounds,
        element=element,
        is_expanded=_flag(node, "isExpanded"),
        is_horizontal=_flag(node, "isHorizontal"),
        is_marker_visible=bool(_flag(node, "isMarkerVisible")),
        label=None if label is None else _bounds(label.find(f"{{{DC}}}Bounds")),
    )


def _read_edge(node: etree._Element, element: etree._Element) -> Edge | None:
    points: list[tuple[float, float]] = []
    for point in node.findall(f"{{{DI}}}waypoint"):
        try:
            x, y = float(point.get("x", "")), float(point.get("y", ""))
        except ValueError:
            return None
        points.append((x, y))
    if len(points) < 2:
        return None
    label = node.find(f"{{{BPMNDI}}}BPMNLabel")
    return Edge(
        element_id=element.get("id", ""),
        tag=local_name(element),
        waypoints=points,
        element=element,
        label=None if label is None else _bounds(label.find(f"{{{DC}}}Bounds")),
        message_visible_kind=node.get("messageVisibleKind"),
    )


def _hide_collapsed_content(diagram: Diagram) -> None:
    """Drop shapes and edges inside a subprocess drawn collapsed on this plane."""
    collapsed = {
        shape.element_id
        for shape in diagram.shapes
        if shape.tag in ("subProcess", "transaction", "adHocSubProcess") and not shape.is_expanded
    }
    if not collapsed:
        return

    def hidden(element: etree._Element) -> bool:
        parent = element.getparent()
        while parent is not None:
            if parent.get("id") in collapsed:
                return True
            parent = parent.getparent()
        return False

    diagram.shapes = [shape for shape in diagram.shapes if not hidden(shape.element)]
    diagram.edges = [edge for edge in diagram.edges if not hidden(edge.element)]
