"""Draw a `Diagram` as SVG the way Camunda Modeler (bpmn-js) draws it, with instance states.

Each shape is one `<g data-element-id=... data-kind=...>` translated to its DI position, its
outline drawn at the origin, as bpmn-js's own SVG export has it; each edge one group with its
DI waypoints. The drawing order is bpmn-js's: pools, lanes and expanded subprocesses under the
elements inside them, boundary events over their host, connections over the shapes they
join, labels and state badges on top. The document is built with lxml, so every name is
escaped, and it uses no stylesheet, font file or script: presentation attributes only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from flowdesk.diagrams import _icons as icons
from flowdesk.diagrams import _text as text
from flowdesk.diagrams._icons import SVG_NS, WHITE, node, num
from flowdesk.diagrams._model import BPMN, Bounds, Diagram, Edge, Shape, local_name

STROKE = "#22242a"
COMPLETED_STROKE = "#2f6db5"
COMPLETED_FILL = "#e9f1fb"
WAITING_STROKE = "#1f8a3b"
INCIDENT_STROKE = "#d0312d"
INCIDENT_FILL = "#fdecea"
FONT_SIZE = 12.0
EXTERNAL_FONT_SIZE = 11.0
LABEL_WIDTH = 90.0  # bpmn-js wraps outside labels at this width
MARGIN = 20.0  # around the drawing: room for state badges on the outermost shapes

TASKS = frozenset(
    {
        "task",
        "userTask",
        "serviceTask",
        "scriptTask",
        "sendTask",
        "receiveTask",
        "manualTask",
        "businessRuleTask",
    }
)
SUBPROCESSES = frozenset({"subProcess", "transaction", "adHocSubProcess"})
EVENTS = frozenset(
    {
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
    }
)
GATEWAYS = frozenset(
    {
        "exclusiveGateway",
        "parallelGateway",
        "inclusiveGateway",
        "complexGateway",
        "eventBasedGateway",
    }
)
_DATA = frozenset({"dataObjectReference", "dataObject", "dataInput", "dataOutput"})
_EXTERNAL_LABELS = EVENTS | GATEWAYS | _DATA | {"dataStoreReference", "group"}


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagramState:
    """What an instance did and does, by element id, for `render_svg` to highlight.

    Attributes:
        completed: How often each element completed (the path taken).
        waiting: How many tokens wait at each element (open tasks, events, jobs, calls).
        incidents: How many open incidents each element has.
        chosen: For each gateway that completed, the elements its tokens went to.
        taken_flows: The sequence flows the instance went along; when None they are derived:
            a flow is taken when its source completed and either its target was reached
            (completed, waiting or failed there) or it is the source's only way out, without
            a condition (a token waiting at a join is in no record); from a gateway in
            `chosen`, only the flows to the gateway's choices.

    A waiting or failed element that the diagram does not show (inside a collapsed
    subprocess) is counted at the nearest enclosing element it shows.
    """

    completed: Mapping[str, int] = field(default_factory=dict)
    waiting: Mapping[str, int] = field(default_factory=dict)
    incidents: Mapping[str, int] = field(default_factory=dict)
    chosen: Mapping[str, frozenset[str]] = field(default_factory=dict)
    taken_flows: frozenset[str] | None = None


def kind_of(tag: str) -> str:
    """The drawing kind of a BPMN tag: task, subprocess, event, gateway, lane and so on."""
    if tag in TASKS:
        return "task"
    if tag == "callActivity":
        return "call-activity"
    if tag in SUBPROCESSES:
        return "subprocess"
    if tag in EVENTS:
        return "event"
    if tag in GATEWAYS:
        return "gateway"
    return {
        "participant": "participant",
        "lane": "lane",
        "textAnnotation": "text-annotation",
        "group": "group",
        "dataStoreReference": "data-store",
        "sequenceFlow": "sequence-flow",
        "messageFlow": "message-flow",
        "association": "association",
        "dataInputAssociation": "data-association",
        "dataOutputAssociation": "data-association",
    }.get(tag, "data-object" if tag in _DATA else "other")


def render(diagram: Diagram, *, title: str, state: DiagramState | None) -> str:
    """The SVG document of `diagram`, highlighting `state` when given."""
    state = _resolved(state or DiagramState(), diagram)
    root = etree.Element(f"{{{SVG_NS}}}svg", nsmap={None: SVG_NS})  # type: ignore[dict-item]
    root.set("version", "1.1")
    root.set("font-family", text.FONT_FAMILY)
    node(root, "title").text = title
    background = node(root, "rect", class_="fd-background", fill=WHITE)
    layers = {
        name: node(root, "g", class_=f"fd-{name}")
        for name in ("containers", "shapes", "edges", "groups", "labels", "badges")
    }
    extent = _Extent()
    shapes = sorted(diagram.shapes, key=_layer_order)
    for shape in shapes:
        layer = (
            "containers"
            if _layer_order(shape)[0] < 3
            else "groups"
            if shape.tag == "group"
            else "shapes"
        )
        _draw_shape(layers[layer], shape, diagram, state)
        extent.add(shape.bounds)
        label = _external_label(layers["labels"], shape, diagram)
        if label is not None:
            extent.add(label)
        _draw_badges(layers["badges"], shape, state)
    # Taken flows over the others, so that a path stays visible where flows overlap.
    taken = state.taken_flows or frozenset()
    for edge in sorted(diagram.edges, key=lambda edge: edge.element_id in taken):
        _draw_edge(layers["edges"], edge, diagram, state)
        for x, y in edge.waypoints:
            extent.add(Bounds(x, y, 0, 0))
        label = _edge_label(layers["labels"], edge)
        if label is not None:
            extent.add(label)
    for layer_name, group in layers.items():
        if not len(group):
            root.remove(group)
        elif layer_name != "containers":
            group.set("font-size", num(FONT_SIZE))
    left, top = extent.left - MARGIN, extent.top - MARGIN
    width, height = extent.right - extent.left + 2 * MARGIN, extent.bottom - extent.top + 2 * MARGIN
    root.set("viewBox", f"{num(left)} {num(top)} {num(width)} {num(height)}")
    root.set("width", num(width))
    root.set("height", num(height))
    for name, value in (("x", left), ("y", top), ("width", width), ("height", height)):
        background.set(name, num(value))
    body = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _resolved(state: DiagramState, diagram: Diagram) -> DiagramState:
    """`state` with hidden elements' counts moved to their shown ancestor and flows derived."""
    shown = {shape.element_id for shape in diagram.shapes}

    def lifted(counts: Mapping[str, int]) -> dict[str, int]:
        result: dict[str, int] = {}
        for element_id, count in counts.items():
            target = element_id
            element = diagram.elements.get(element_id)
            while target not in shown and element is not None:
                element = element.getparent()
                target = "" if element is None else element.get("id") or ""
            if target in shown:
                result[target] = result.get(target, 0) + count
        return result

    taken = state.taken_flows
    if taken is None:
        reached = set(state.completed) | set(state.waiting) | set(state.incidents)
        flows = [e for e in diagram.elements.values() if local_name(e) == "sequenceFlow"]
        outgoing: dict[str, int] = {}
        for flow in flows:
            source = flow.get("sourceRef") or ""
            outgoing[source] = outgoing.get(source, 0) + 1
        found: set[str] = set()
        for flow in flows:
            source, target = flow.get("sourceRef") or "", flow.get("targetRef") or ""
            choices = state.chosen.get(source)
            # The one unconditional way out of a completed element was taken even when its
            # target shows nothing yet: a token waiting at a join is in no record.
            only_way = outgoing[source] == 1 and flow.find(f"{{{BPMN}}}conditionExpression") is None
            if (
                state.completed.get(source)
                and (target in reached or only_way)
                and (choices is None or target in choices)
            ):
                found.add(flow.get("id") or "")
        taken = frozenset(found)
    return DiagramState(
        completed=state.completed,
        waiting=lifted(state.waiting),
        incidents=lifted(state.incidents),
        chosen=state.chosen,
        taken_flows=taken,
    )


# -- shapes ---------------------------------------------------------------------------------


def _layer_order(shape: Shape) -> tuple[int, int]:
    """Pools, then lanes, then expanded subprocesses outermost first, then the rest."""
    depth = sum(1 for _ in shape.element.iterancestors())
    if shape.tag == "participant":
        return (0, depth)
    if shape.tag == "lane":
        return (1, depth)
    if shape.tag in SUBPROCESSES | {"callActivity"} and shape.is_expanded:
        return (2, depth)
    if shape.tag == "boundaryEvent":
        return (4, depth)
    return (3, 0)


def _draw_shape(
    parent: etree._Element, shape: Shape, diagram: Diagram, state: DiagramState
) -> None:
    b = shape.bounds
    kind = kind_of(shape.tag)
    group = node(
        parent,
        "g",
        class_=f"fd-shape fd-{kind}",
        transform=f"translate({num(b.x)} {num(b.y)})",
    )
    group.set("data-element-id", shape.element_id)
    group.set("data-kind", kind)
    group.set("data-type", shape.tag)
    name = _name(shape.element, diagram)
    if name:
        node(group, "title").text = name
    stroke, fill, status = _colours(shape.element_id, state)
    if status:
        group.set("data-state", status)
    for attribute, counts in (
        ("data-completed", state.completed),
        ("data-waiting", state.waiting),
        ("data-incidents", state.incidents),
    ):
        if counts.get(shape.element_id):
            group.set(attribute, str(counts[shape.element_id]))
    width, height = b.width, b.height
    tag, element = shape.tag, shape.element
    if kind in ("task", "subprocess", "call-activity"):
        _draw_activity(group, shape, name, stroke, fill)
    elif kind == "event":
        _draw_event(group, shape, stroke, fill)
    elif kind == "gateway":
        diamond = [(width / 2, 0), (width, height / 2), (width / 2, height), (0, height / 2)]
        node(
            group,
            "polygon",
            points=icons.points(diamond),
            fill=fill,
            stroke=stroke,
            stroke_width=2,
            stroke_linejoin="round",
        )
        icons.gateway_marker(
            group,
            tag,
            element,
            width=width,
            height=height,
            marker_visible=shape.is_marker_visible,
            stroke=stroke,
        )
    elif kind in ("participant", "lane"):
        _draw_pool_or_lane(group, shape, name, stroke)
    elif kind == "data-object":
        fold = min(10.0, width / 3)
        node(
            group,
            "path",
            d=f"M 0,0 H {num(width - fold)} L {num(width)},{num(fold)} V {num(height)} H 0 Z "
            f"M {num(width - fold)},0 V {num(fold)} H {num(width)}",
            fill=fill,
            stroke=stroke,
            stroke_width=1,
            stroke_linejoin="round",
        )
        if tag in ("dataInput", "dataOutput"):
            arrow = [(4, 6), (10, 6), (10, 3), (15, 8), (10, 13), (10, 10), (4, 10)]
            node(
                group,
                "polygon",
                points=icons.points(arrow),
                fill=stroke if tag == "dataOutput" else WHITE,
                stroke=stroke,
                stroke_width=1,
            )
        if _is_collection(element, diagram):
            icons.activity_markers(
                group, ["parallel"], width=width, height=height + 2, stroke=stroke
            )
    elif kind == "data-store":
        rim = min(10.0, height / 5)
        arc = f"{num(width / 2)},{num(rim)}"  # the radii of the cylinder's rims
        node(
            group,
            "path",
            d=f"M 0,{num(rim)} A {arc} 0 0 1 {num(width)},{num(rim)} "
            f"V {num(height - rim)} A {arc} 0 0 1 0,{num(height - rim)} Z "
            + " ".join(
                f"M 0,{num(rim * k)} A {arc} 0 0 0 {num(width)},{num(rim * k)}"
                for k in (1, 1.6, 2.2)
            ),
            fill=fill,
            stroke=stroke,
            stroke_width=2,
        )
    elif kind == "text-annotation":
        node(
            group,
            "path",
            d=f"M 10,0 H 0 V {num(height)} H 10",
            fill="none",
            stroke=stroke,
            stroke_width=1,
        )
        note = element.findtext(f"{{{BPMN}}}text") or ""
        _text_block(group, note, Bounds(0, 0, width, height), align="left-top", padding=7)
    elif kind == "group":
        node(
            group,
            "rect",
            x=0,
            y=0,
            width=width,
            height=height,
            rx=10,
            fill="none",
            stroke=stroke,
            stroke_width=1.5,
            stroke_dasharray="10, 6, 0, 6",
        )
    else:
        node(group, "rect", x=0, y=0, width=width, height=height, fill="none", stroke=stroke)


def _draw_activity(group: etree._Element, shape: Shape, name: str, stroke: str, fill: str) -> None:
    b, tag, element = shape.bounds, shape.tag, shape.element
    width, height = b.width, b.height
    outline = node(
        group,
        "rect",
        x=0,
        y=0,
        width=width,
        height=height,
        rx=10,
        fill=fill,
        stroke=stroke,
        stroke_width={"callActivity": 5, "transaction": 1.5}.get(tag, 2),
    )
    if element.get("triggeredByEvent") == "true":
        outline.set("stroke-dasharray", "0, 5.5")
        outline.set("stroke-linecap", "round")
        outline.set("stroke-width", "2.5")
    if tag == "transaction":
        node(
            group,
            "rect",
            x=3,
            y=3,
            width=width - 6,
            height=height - 6,
            rx=7,
            fill="none",
            stroke=stroke,
            stroke_width=1.5,
        )
    expanded = tag in SUBPROCESSES | {"callActivity"} and bool(shape.is_expanded)
    box = Bounds(0, 0, width, height)
    _text_block(group, name, box, align="center-top" if expanded else "center-middle", padding=7)
    icons.task_icon(group, tag, element, stroke)
    markers: list[str] = []
    if tag in SUBPROCESSES | {"callActivity"} and not expanded:
        markers.append("sub-process")
    loop = element.find(f"{{{BPMN}}}standardLoopCharacteristics")
    multi = element.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics")
    if loop is not None:
        markers.append("loop")
    elif multi is not None:
        markers.append("sequential" if multi.get("isSequential") == "true" else "parallel")
    if element.get("isForCompensation") == "true":
        markers.append("compensation")
    if tag == "adHocSubProcess":
        markers.append("ad-hoc")
    icons.activity_markers(group, markers, width=width, height=height, stroke=stroke)


def _draw_event(group: etree._Element, shape: Shape, stroke: str, fill: str) -> None:
    b, tag, element = shape.bounds, shape.tag, shape.element
    width, height = b.width, b.height
    # bpmn-js rounds an event's radius to whole pixels: Math.round((width + height) / 4).
    cx, cy, radius = width / 2, height / 2, float(math.floor((width + height) / 4 + 0.5))
    definitions = [
        local_name(child)
        for child in element
        if isinstance(child.tag, str) and local_name(child) in icons.EVENT_DEFINITIONS
    ]
    width_of_ring = {"startEvent": 2.0, "endEvent": 4.0}.get(tag, 1.5)
    circle = node(
        group,
        "circle",
        cx=cx,
        cy=cy,
        r=radius,
        fill=fill,
        stroke=stroke,
        stroke_width=width_of_ring,
    )
    dashed = (tag == "boundaryEvent" and element.get("cancelActivity") == "false") or (
        tag == "startEvent" and element.get("isInterrupting") == "false"
    )
    if dashed:
        circle.set("stroke-dasharray", "6")
    if tag in ("intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"):
        inner = node(
            group,
            "circle",
            cx=cx,
            cy=cy,
            r=radius - 3,
            fill="none",
            stroke=stroke,
            stroke_width=1.5,
        )
        if dashed:
            inner.set("stroke-dasharray", "6")
    icons.event_icon(
        group,
        definitions,
        width=width,
        height=height,
        throwing=tag in ("endEvent", "intermediateThrowEvent"),
        parallel_multiple=element.get("parallelMultiple") == "true",
        stroke=stroke,
    )


def _draw_pool_or_lane(group: etree._Element, shape: Shape, name: str, stroke: str) -> None:
    b = shape.bounds
    node(
        group,
        "rect",
        x=0,
        y=0,
        width=b.width,
        height=b.height,
        fill=WHITE,
        fill_opacity=0.95 if shape.tag == "participant" else 0.25,
        stroke=stroke,
        stroke_width=1.5,
    )
    horizontal = shape.is_horizontal is not False
    collapsed = shape.tag == "participant" and (
        shape.is_expanded is False or not shape.element.get("processRef")
    )
    if collapsed:
        _text_block(group, name, Bounds(0, 0, b.width, b.height), align="center-middle", padding=7)
        return
    if shape.tag == "participant":
        line = "M 30,0 V " + num(b.height) if horizontal else "M 0,30 H " + num(b.width)
        node(group, "path", d=line, fill="none", stroke=stroke, stroke_width=1.5)
    if horizontal:
        # The name reads bottom to top in the 30 px band at the left.
        band = node(group, "g", transform=f"translate(0 {num(b.height)}) rotate(-90)")
        _text_block(band, name, Bounds(0, 0, b.height, 30), align="center-middle", padding=0)
    else:
        _text_block(group, name, Bounds(0, 0, b.width, 30), align="center-middle", padding=0)


def _colours(element_id: str, state: DiagramState) -> tuple[str, str, str | None]:
    """Stroke, fill and state name: an incident over a wait over a completed element."""
    if state.incidents.get(element_id):
        return INCIDENT_STROKE, INCIDENT_FILL, "incident"
    if state.waiting.get(element_id):
        return WAITING_STROKE, WHITE, "waiting"
    if state.completed.get(element_id):
        return COMPLETED_STROKE, COMPLETED_FILL, "completed"
    return STROKE, WHITE, None


def _draw_badges(parent: etree._Element, shape: Shape, state: DiagramState) -> None:
    """Counts like Cockpit's: waiting tokens at the bottom left, incidents at the bottom right."""
    b = shape.bounds
    for kind, counts, colour, at_right in (
        ("waiting", state.waiting, WAITING_STROKE, False),
        ("incidents", state.incidents, INCIDENT_STROKE, True),
    ):
        count = counts.get(shape.element_id, 0)
        if not count:
            continue
        label = str(count)
        width = max(18.0, 10 + text.text_width(label, 11))
        x = b.right - width + 6 if at_right else b.x - 6
        y = b.bottom - 12
        badge = node(parent, "g", class_=f"fd-badge fd-badge-{kind}")
        badge.set("data-badge-for", shape.element_id)
        badge.set("data-count", label)
        node(
            badge,
            "rect",
            x=x,
            y=y,
            width=width,
            height=18,
            rx=9,
            fill=colour,
            stroke=WHITE,
            stroke_width=1,
        )
        count_text = node(
            badge,
            "text",
            x=x + width / 2,
            y=y + 13,
            fill=WHITE,
            font_size=11,
            font_weight="bold",
            text_anchor="middle",
        )
        count_text.text = label


# -- edges ----------------------------------------------------------------------------------


def _draw_edge(parent: etree._Element, edge: Edge, diagram: Diagram, state: DiagramState) -> None:
    kind = kind_of(edge.tag)
    group = node(parent, "g", class_=f"fd-edge fd-{kind}")
    group.set("data-element-id", edge.element_id)
    group.set("data-kind", kind)
    group.set("data-type", edge.tag)
    group.set("data-waypoints", icons.points(edge.waypoints))
    name = edge.element.get("name") or ""
    if name:
        node(group, "title").text = name
    taken = edge.element_id in (state.taken_flows or frozenset())
    if taken:
        group.set("data-state", "taken")
    stroke = COMPLETED_STROKE if taken else STROKE
    points = edge.waypoints
    if kind == "sequence-flow":
        node(
            group,
            "path",
            d=_rounded_path(points),
            fill="none",
            stroke=stroke,
            stroke_width=3 if taken else 2,
            stroke_linejoin="round",
            stroke_linecap="round",
        )
        _arrow_head(group, points, stroke, filled=True)
        _flow_marker(group, edge, diagram, stroke)
    elif kind == "message-flow":
        node(
            group,
            "path",
            d=_line_path(points),
            fill="none",
            stroke=stroke,
            stroke_width=1.5,
            stroke_dasharray="10, 11",
            stroke_linecap="round",
        )
        x, y = points[0]
        node(group, "circle", cx=x, cy=y, r=3.5, fill=WHITE, stroke=stroke, stroke_width=1)
        _arrow_head(group, points, stroke, filled=False)
        message = diagram.elements.get(edge.element.get("messageRef") or "")
        if message is not None:
            _message_marker(group, edge, message.get("name") or "", stroke)
    else:
        node(
            group,
            "path",
            d=_line_path(points),
            fill="none",
            stroke=stroke,
            stroke_width=1.5 if kind == "data-association" else 2,
            stroke_dasharray="0, 5",
            stroke_linecap="round",
        )
        direction = edge.element.get("associationDirection")
        if kind == "data-association" or direction in ("One", "Both"):
            _arrow_head(group, points, stroke, filled=False, open_=True)
        if direction == "Both":
            _arrow_head(group, list(reversed(points)), stroke, filled=False, open_=True)


def _message_marker(group: etree._Element, edge: Edge, name: str, stroke: str) -> None:
    """The envelope half way along a message flow with a message, its name under it; white
    when the DI says the message initiates the conversation, dark otherwise (as bpmn-js)."""
    x, y = _halfway(edge.waypoints)
    initiating = edge.message_visible_kind == "initiating"
    marker = node(group, "g", class_="fd-message-marker")
    icons.envelope(marker, x, y, 20, 14, stroke, filled=not initiating)
    if name.strip():
        _text_block(
            marker,
            name,
            Bounds(x - LABEL_WIDTH / 2, y + 7 + 10, LABEL_WIDTH, 0),
            align="center-top",
            padding=0,
        )


def _halfway(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The point half way along a polyline."""
    lengths = [math.dist(a, b) for a, b in itertools.pairwise(points)]
    remaining = sum(lengths) / 2
    for (ax, ay), (bx, by), length in zip(points, points[1:], lengths, strict=False):
        if remaining <= length and length > 0:
            step = remaining / length
            return ax + (bx - ax) * step, ay + (by - ay) * step
        remaining -= length
    return points[-1]


def _line_path(points: list[tuple[float, float]]) -> str:
    return "M " + " L ".join(f"{num(x)},{num(y)}" for x, y in points)


def _rounded_path(points: list[tuple[float, float]], radius: float = 5) -> str:
    """The polyline with corners rounded as bpmn-js rounds sequence flows."""
    parts = [f"M {num(points[0][0])},{num(points[0][1])}"]
    for index in range(1, len(points) - 1):
        (ax, ay), (bx, by), (cx, cy) = points[index - 1], points[index], points[index + 1]
        before = _toward((bx, by), (ax, ay), radius)
        after = _toward((bx, by), (cx, cy), radius)
        parts.append(f"L {num(before[0])},{num(before[1])}")
        parts.append(f"Q {num(bx)},{num(by)} {num(after[0])},{num(after[1])}")
    parts.append(f"L {num(points[-1][0])},{num(points[-1][1])}")
    return " ".join(parts)


def _toward(
    start: tuple[float, float], end: tuple[float, float], distance: float
) -> tuple[float, float]:
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = (dx * dx + dy * dy) ** 0.5
    if length == 0:
        return start
    step = min(distance, length / 2) / length
    return start[0] + dx * step, start[1] + dy * step


def _direction(points: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    """The last point and the unit vector of the last non-empty segment into it."""
    x, y = points[-1]
    for px, py in reversed(points[:-1]):
        dx, dy = x - px, y - py
        length = (dx * dx + dy * dy) ** 0.5
        if length:
            return x, y, dx / length, dy / length
    return x, y, 1.0, 0.0


def _arrow_head(
    group: etree._Element,
    points: list[tuple[float, float]],
    stroke: str,
    *,
    filled: bool,
    open_: bool = False,
) -> None:
    x, y, ux, uy = _direction(points)
    length, half = 10.0, 5.0
    bx, by = x - ux * length, y - uy * length
    left = (bx - uy * half, by + ux * half)
    right = (bx + uy * half, by - ux * half)
    if open_:
        node(
            group,
            "polyline",
            points=icons.points([left, (x, y), right]),
            fill="none",
            stroke=stroke,
            stroke_width=1.5,
            class_="fd-arrow",
        )
        return
    node(
        group,
        "polygon",
        points=icons.points([(x, y), left, right]),
        fill=stroke if filled else WHITE,
        stroke=stroke,
        stroke_width=1,
        stroke_linejoin="round",
        class_="fd-arrow",
    )


def _flow_marker(group: etree._Element, edge: Edge, diagram: Diagram, stroke: str) -> None:
    """The default slash or the conditional diamond at a sequence flow's source end."""
    source = diagram.elements.get(edge.element.get("sourceRef") or "")
    if source is None:
        return
    source_tag = local_name(source)
    x, y, ux, uy = _direction(list(reversed(edge.waypoints[:2])))
    # (x, y) is the first waypoint; (-ux, -uy) points along the flow from it.
    fx, fy = -ux, -uy
    if source.get("default") == edge.element_id and (
        source_tag in GATEWAYS or source_tag in TASKS | SUBPROCESSES | {"callActivity"}
    ):
        mx, my = x + fx * 10, y + fy * 10
        node(
            group,
            "line",
            class_="fd-default-marker",
            x1=mx - fy * 5 - fx * 3,
            y1=my + fx * 5 - fy * 3,
            x2=mx + fy * 5 + fx * 3,
            y2=my - fx * 5 + fy * 3,
            stroke=stroke,
            stroke_width=2,
        )
    elif edge.element.find(
        f"{{{BPMN}}}conditionExpression"
    ) is not None and source_tag in TASKS | SUBPROCESSES | {"callActivity"}:
        diamond = [
            (x, y),
            (x + fx * 8 - fy * 5, y + fy * 8 + fx * 5),
            (x + fx * 16, y + fy * 16),
            (x + fx * 8 + fy * 5, y + fy * 8 - fx * 5),
        ]
        node(
            group,
            "polygon",
            class_="fd-conditional-marker",
            points=icons.points(diamond),
            fill=WHITE,
            stroke=stroke,
            stroke_width=1,
        )


# -- labels ---------------------------------------------------------------------------------


def _name(element: etree._Element, diagram: Diagram) -> str:
    if local_name(element) == "group":
        value = diagram.elements.get(element.get("categoryValueRef") or "")
        return "" if value is None else value.get("value") or ""
    return element.get("name") or ""


def _is_collection(element: etree._Element, diagram: Diagram) -> bool:
    if element.get("isCollection") == "true":
        return True
    target = diagram.elements.get(element.get("dataObjectRef") or "")
    return target is not None and target.get("isCollection") == "true"


def _external_label(parent: etree._Element, shape: Shape, diagram: Diagram) -> Bounds | None:
    """The name under an event, gateway or data element, at its DI label bounds if any."""
    if shape.tag not in _EXTERNAL_LABELS:
        return None
    name = _name(shape.element, diagram)
    if not name:
        return None
    b = shape.bounds
    if shape.tag == "group" and shape.label is None:
        anchor = Bounds(b.x, b.y + 5, b.width, 0)  # a group's name sits at its top
    else:
        anchor = shape.label or Bounds(b.x + b.width / 2, b.bottom, 0, 0)
    return _label(parent, name, anchor, shape.element_id)


def _edge_label(parent: etree._Element, edge: Edge) -> Bounds | None:
    name = edge.element.get("name") or ""
    if not name or edge.tag not in ("sequenceFlow", "messageFlow"):
        return None
    if edge.label is not None:
        anchor = edge.label
    else:
        # As bpmn-js: 15 px above the middle of the middle segment (right of it when that
        # segment is vertical), in a box of 20 px height centred there.
        middle = len(edge.waypoints) // 2
        (ax, ay), (bx, by) = edge.waypoints[middle - 1], edge.waypoints[middle]
        x, y = (ax + bx) / 2, (ay + by) / 2
        if ax == bx:
            x += 15
        else:
            y -= 15
        anchor = Bounds(x, y - 10, 0, 0)
    return _label(parent, name, anchor, edge.element_id)


def _label(parent: etree._Element, name: str, anchor: Bounds, element_id: str) -> Bounds:
    """An outside label, placed and wrapped as bpmn-js imports it.

    With DI label bounds, the text wraps at their width from their top. Without, it is laid
    out at 90 px; the label is then as wide as its widest line (whole pixels), centred on the
    anchor point, and the lines are laid out again in that width, which can break them
    differently (bpmn-js does the same).
    """
    if anchor.width > 0:
        laid = text.layout(name, max_width=anchor.width, font_size=EXTERNAL_FONT_SIZE)
        box = Bounds(anchor.x, anchor.y, anchor.width, max(laid.height, anchor.height))
    else:
        first = text.layout(name, max_width=LABEL_WIDTH, font_size=EXTERNAL_FONT_SIZE)
        width = float(math.ceil(first.width))
        left = float(math.floor(anchor.x - first.width / 2 + 0.5))
        laid = text.layout(name, max_width=width, font_size=EXTERNAL_FONT_SIZE)
        box = Bounds(left, anchor.y, width, laid.height)
    group = node(parent, "g", class_="fd-label", transform=f"translate({num(box.x)} {num(box.y)})")
    group.set("data-label-for", element_id)
    _lines(group, laid, Bounds(0, 0, box.width, box.height), align="center-top", padding=0)
    return Bounds(box.x, box.y, max(box.width, laid.width), box.height)


def _text_block(
    parent: etree._Element,
    value: str,
    box: Bounds,
    *,
    align: str,
    padding: float,
    font_size: float = FONT_SIZE,
) -> None:
    """A name inside a shape, wrapped at the box's width less `padding` on each side."""
    if not value.strip():
        return
    laid = text.layout(value, max_width=box.width - 2 * padding, font_size=font_size)
    _lines(parent, laid, box, align=align, padding=padding)


def _lines(
    parent: etree._Element, laid: text.TextLayout, box: Bounds, *, align: str, padding: float
) -> None:
    """Lay the lines out in `box` as diagram-js does: vertically centred or from the top
    padding; each line centred in the width less padding, or from the left padding where it
    is wider than that by more than the padding."""
    middle = align == "center-middle"
    top = box.y + (box.height - laid.height) / 2 if middle else box.y + padding
    left_aligned = align.startswith("left")
    label = node(
        parent,
        "text",
        class_="fd-text",
        font_size=laid.font_size,
        fill=STROKE,
        text_anchor="start" if left_aligned else "middle",
    )
    inner = box.width - 2 * padding
    for index, line in enumerate(laid.lines):
        if left_aligned:
            x = box.x + padding
        else:
            width = text.text_width(line, laid.font_size)
            x = box.x + max((inner - width) / 2 + padding, 0) + width / 2
        span = node(label, "tspan", x=x, y=top + laid.font_size * 0.9 + index * laid.line_height)
        span.text = line.strip()  # a kept trailing space is invisible anyway


class _Extent:
    """The smallest box around everything drawn."""

    def __init__(self) -> None:
        self.left = self.top = float("inf")
        self.right = self.bottom = float("-inf")

    def add(self, box: Bounds) -> None:
        self.left = min(self.left, box.x)
        self.top = min(self.top, box.y)
        self.right = max(self.right, box.right)
        self.bottom = max(self.bottom, box.bottom)
