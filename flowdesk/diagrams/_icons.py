"""The small symbols inside shapes: task types, event definitions, gateway and loop markers.

The symbols are drawn here from simple geometry (flowdesk's own drawings, not bpmn-js's path
data); their places and sizes follow Camunda Modeler's: a task's type icon in its top left
corner, loop and subprocess markers centred at its bottom, an event's icon centred in the
circle, a gateway's marker centred in the diamond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lxml import etree

SVG_NS = "http://www.w3.org/2000/svg"
WHITE = "#ffffff"


def num(value: float) -> str:
    """A coordinate as SVG text: at most two decimals, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def node(parent: etree._Element, tag: str, **attrs: str | float) -> etree._Element:
    """An SVG element under `parent`; `stroke_width` becomes `stroke-width` and so on."""
    element = etree.SubElement(parent, f"{{{SVG_NS}}}{tag}")
    for name, value in attrs.items():
        key = "class" if name == "class_" else name.replace("_", "-")
        element.set(key, num(value) if isinstance(value, float | int) else value)
    return element


def points(coordinates: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{num(x)},{num(y)}" for x, y in coordinates)


# -- task types -----------------------------------------------------------------------------


def task_icon(parent: etree._Element, tag: str, element: etree._Element, stroke: str) -> None:
    """The type icon of a task in its top left corner (nothing for a plain task)."""
    if tag == "userTask":
        node(parent, "circle", cx=15, cy=11, r=4, fill=WHITE, stroke=stroke, stroke_width=1)
        node(
            parent,
            "path",
            d="M 6,24 C 6,18.5 9.5,16.5 15,16.5 C 20.5,16.5 24,18.5 24,24 Z",
            fill=WHITE,
            stroke=stroke,
            stroke_width=1,
        )
    elif tag == "serviceTask":
        _gear(parent, 13, 13, stroke)
        _gear(parent, 18, 18, stroke)
    elif tag == "scriptTask":
        node(
            parent,
            "path",
            d="M 9,6 H 22 C 18.5,9.5 18.5,12.5 22,16 C 25.5,19.5 25.5,22.5 22,26 H 9 "
            "C 12.5,22.5 12.5,19.5 9,16 C 5.5,12.5 5.5,9.5 9,6 Z",
            fill=WHITE,
            stroke=stroke,
            stroke_width=1,
        )
        for y in (11.0, 16.0, 21.0):
            node(parent, "line", x1=11, y1=y, x2=19, y2=y, stroke=stroke, stroke_width=1)
    elif tag == "sendTask":
        envelope(parent, 15, 14, 18, 12, stroke, filled=True)
    elif tag == "receiveTask":
        if element.get("instantiate") == "true":
            node(parent, "circle", cx=15, cy=14, r=10, fill=WHITE, stroke=stroke, stroke_width=1)
            envelope(parent, 15, 14, 12, 8, stroke, filled=False)
        else:
            envelope(parent, 15, 14, 18, 12, stroke, filled=False)
    elif tag == "manualTask":
        # A flat hand: palm with four fingers and a thumb.
        node(
            parent,
            "path",
            d="M 7,13 L 13,9 L 24,9 L 24,11.5 L 17,11.5 M 24,11.5 L 26,11.5 L 26,14 L 19,14 "
            "M 26,14 L 26,16.5 L 19,16.5 M 25,16.5 L 25,19 L 19,19 M 25,19 L 25,21 "
            "L 11,21 L 7,19 Z",
            fill=WHITE,
            stroke=stroke,
            stroke_width=1,
            stroke_linejoin="round",
        )
    elif tag == "businessRuleTask":
        node(
            parent, "rect", x=8, y=9, width=18, height=13, fill=WHITE, stroke=stroke, stroke_width=1
        )
        node(
            parent, "rect", x=8, y=9, width=18, height=4, fill=stroke, stroke=stroke, stroke_width=1
        )
        node(parent, "line", x1=8, y1=17.5, x2=26, y2=17.5, stroke=stroke, stroke_width=1)
        node(parent, "line", x1=13, y1=13, x2=13, y2=22, stroke=stroke, stroke_width=1)


def _gear(parent: etree._Element, cx: float, cy: float, stroke: str) -> None:
    outline: list[tuple[float, float]] = []
    for tooth in range(8):
        base = tooth * math.pi / 4
        for offset, radius in ((-0.28, 4.6), (-0.16, 6.4), (0.16, 6.4), (0.28, 4.6)):
            angle = base + offset
            outline.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    node(parent, "polygon", points=points(outline), fill=WHITE, stroke=stroke, stroke_width=1)
    node(parent, "circle", cx=cx, cy=cy, r=2, fill=WHITE, stroke=stroke, stroke_width=1)


def envelope(
    parent: etree._Element,
    cx: float,
    cy: float,
    width: float,
    height: float,
    stroke: str,
    *,
    filled: bool,
) -> None:
    """A letter: white with dark lines for catching, dark with white lines for throwing."""
    left, top = cx - width / 2, cy - height / 2
    node(
        parent,
        "rect",
        x=left,
        y=top,
        width=width,
        height=height,
        fill=stroke if filled else WHITE,
        stroke=stroke,
        stroke_width=1,
    )
    node(
        parent,
        "polyline",
        points=points([(left, top), (cx, cy + height * 0.1), (left + width, top)]),
        fill="none",
        stroke=WHITE if filled else stroke,
        stroke_width=1,
    )


# -- events ---------------------------------------------------------------------------------

EVENT_DEFINITIONS = (
    "messageEventDefinition",
    "timerEventDefinition",
    "errorEventDefinition",
    "signalEventDefinition",
    "escalationEventDefinition",
    "conditionalEventDefinition",
    "compensateEventDefinition",
    "linkEventDefinition",
    "terminateEventDefinition",
    "cancelEventDefinition",
)


def event_icon(
    parent: etree._Element,
    definitions: Sequence[str],
    *,
    width: float,
    height: float,
    throwing: bool,
    parallel_multiple: bool,
    stroke: str,
) -> None:
    """The icon of an event's definition(s), centred in its circle; none for a plain event."""
    if not definitions:
        return
    cx, cy = width / 2, height / 2
    s = min(width, height) / 36  # the icons are drawn for Camunda Modeler's 36 px events
    fill = stroke if throwing else WHITE
    if len(definitions) > 1:
        if parallel_multiple:
            _cross(parent, cx, cy, 9 * s, 3 * s, WHITE, stroke)
        else:
            pentagon = [
                (
                    cx + 9 * s * math.sin(k * 2 * math.pi / 5),
                    cy - 9 * s * math.cos(k * 2 * math.pi / 5),
                )
                for k in range(5)
            ]
            node(
                parent, "polygon", points=points(pentagon), fill=fill, stroke=stroke, stroke_width=1
            )
        return
    kind = definitions[0]
    if kind == "messageEventDefinition":
        envelope(parent, cx, cy, 18 * s, 12.6 * s, stroke, filled=throwing)
    elif kind == "timerEventDefinition":
        radius = 11 * s
        node(parent, "circle", cx=cx, cy=cy, r=radius, fill=WHITE, stroke=stroke, stroke_width=2)
        for hour in range(12):
            angle = hour * math.pi / 6
            inner = radius * (0.72 if hour % 3 == 0 else 0.82)
            node(
                parent,
                "line",
                x1=cx + inner * math.sin(angle),
                y1=cy - inner * math.cos(angle),
                x2=cx + radius * math.sin(angle),
                y2=cy - radius * math.cos(angle),
                stroke=stroke,
                stroke_width=1,
            )
        node(
            parent,
            "polyline",
            points=points([(cx + 2 * s, cy - 7 * s), (cx, cy), (cx + 5.5 * s, cy + 1.5 * s)]),
            fill="none",
            stroke=stroke,
            stroke_width=1.5,
        )
    elif kind == "errorEventDefinition":
        bolt = [(-7, 8), (-3, -8), (2, 1), (6, -7), (3, 8), (-2, -1)]
        node(
            parent, "polygon", points=_at(bolt, cx, cy, s), fill=fill, stroke=stroke, stroke_width=1
        )
    elif kind == "signalEventDefinition":
        triangle = [(0, -9), (8, 5.5), (-8, 5.5)]
        node(
            parent,
            "polygon",
            points=_at(triangle, cx, cy, s),
            fill=fill,
            stroke=stroke,
            stroke_width=1,
        )
    elif kind == "escalationEventDefinition":
        arrow = [(0, -9), (7, 8), (0, 2), (-7, 8)]
        node(
            parent,
            "polygon",
            points=_at(arrow, cx, cy, s),
            fill=fill,
            stroke=stroke,
            stroke_width=1,
        )
    elif kind == "conditionalEventDefinition":
        node(
            parent,
            "rect",
            x=cx - 7 * s,
            y=cy - 8 * s,
            width=14 * s,
            height=16 * s,
            fill=WHITE,
            stroke=stroke,
            stroke_width=1,
        )
        for row in (-4.5, -1.5, 1.5, 4.5):
            node(
                parent,
                "line",
                x1=cx - 5 * s,
                y1=cy + row * s,
                x2=cx + 5 * s,
                y2=cy + row * s,
                stroke=stroke,
                stroke_width=1,
            )
    elif kind == "compensateEventDefinition":
        compensation(parent, cx, cy, s, stroke, filled=throwing)
    elif kind == "linkEventDefinition":
        arrow = [(-8, -3), (1, -3), (1, -8), (8, 0), (1, 8), (1, 3), (-8, 3)]
        node(
            parent,
            "polygon",
            points=_at(arrow, cx, cy, s),
            fill=fill,
            stroke=stroke,
            stroke_width=1,
        )
    elif kind == "terminateEventDefinition":
        node(
            parent,
            "circle",
            cx=cx,
            cy=cy,
            r=width * 0.28,
            fill=stroke,
            stroke=stroke,
            stroke_width=4,
        )
    elif kind == "cancelEventDefinition":
        _cross(parent, cx, cy, 9 * s, 2.5 * s, fill, stroke, rotate=45)


def compensation(
    parent: etree._Element, cx: float, cy: float, s: float, stroke: str, *, filled: bool
) -> None:
    """Two triangles pointing left (rewind), as a compensation event or marker."""
    for dx in (-8.0, 0.0):
        node(
            parent,
            "polygon",
            points=_at([(dx, 0), (dx + 8, -6), (dx + 8, 6)], cx, cy, s),
            fill=stroke if filled else WHITE,
            stroke=stroke,
            stroke_width=1,
        )


def _at(shape: Sequence[tuple[float, float]], cx: float, cy: float, s: float) -> str:
    return points([(cx + x * s, cy + y * s) for x, y in shape])


def _cross(
    parent: etree._Element,
    cx: float,
    cy: float,
    arm: float,
    half: float,
    fill: str,
    stroke: str,
    *,
    rotate: float = 0,
) -> None:
    """A plus (or, rotated 45 degrees, an X) drawn as one outlined polygon."""
    outline = [
        (-half, -arm), (half, -arm), (half, -half), (arm, -half), (arm, half), (half, half),
        (half, arm), (-half, arm), (-half, half), (-arm, half), (-arm, -half), (-half, -half),
    ]  # fmt: skip
    cos, sin = math.cos(math.radians(rotate)), math.sin(math.radians(rotate))
    turned = [(cx + x * cos - y * sin, cy + x * sin + y * cos) for x, y in outline]
    node(parent, "polygon", points=points(turned), fill=fill, stroke=stroke, stroke_width=1)


# -- gateways -------------------------------------------------------------------------------


def gateway_marker(
    parent: etree._Element,
    tag: str,
    element: etree._Element,
    *,
    width: float,
    height: float,
    marker_visible: bool,
    stroke: str,
) -> None:
    """X, +, O, the event-based pentagon in circles, or * centred in the diamond."""
    cx, cy = width / 2, height / 2
    s = min(width, height) / 50  # drawn for Camunda Modeler's 50 px gateways
    if tag == "exclusiveGateway" and marker_visible:
        _cross(parent, cx, cy, 11 * s, 2.2 * s, stroke, stroke, rotate=45)
    elif tag == "parallelGateway":
        _cross(parent, cx, cy, 13 * s, 1.8 * s, stroke, stroke)
    elif tag == "inclusiveGateway":
        node(
            parent,
            "circle",
            cx=cx,
            cy=cy,
            r=height * 0.26,
            fill="none",
            stroke=stroke,
            stroke_width=2.5,
        )
    elif tag == "complexGateway":
        _cross(parent, cx, cy, 12 * s, 1.6 * s, stroke, stroke)
        _cross(parent, cx, cy, 12 * s, 1.6 * s, stroke, stroke, rotate=45)
    elif tag == "eventBasedGateway":
        node(
            parent,
            "circle",
            cx=cx,
            cy=cy,
            r=height * 0.3,
            fill="none",
            stroke=stroke,
            stroke_width=1,
        )
        if element.get("eventGatewayType") == "Parallel":
            _cross(parent, cx, cy, 8 * s, 2 * s, WHITE, stroke)
            return
        if element.get("instantiate") != "true":
            node(
                parent,
                "circle",
                cx=cx,
                cy=cy,
                r=height * 0.24,
                fill="none",
                stroke=stroke,
                stroke_width=1,
            )
        pentagon = [
            (
                cx + 6.5 * s * math.sin(k * 2 * math.pi / 5),
                cy + 0.5 * s - 6.5 * s * math.cos(k * 2 * math.pi / 5),
            )
            for k in range(5)
        ]
        node(
            parent, "polygon", points=points(pentagon), fill="none", stroke=stroke, stroke_width=1.5
        )


# -- markers at the bottom of activities ----------------------------------------------------


def activity_markers(
    parent: etree._Element,
    markers: Sequence[str],
    *,
    width: float,
    height: float,
    stroke: str,
) -> None:
    """Loop, multi-instance, compensation, ad-hoc and collapsed markers, centred at the bottom."""
    if not markers:
        return
    size, gap = 14.0, 4.0
    left = width / 2 - (len(markers) * size + (len(markers) - 1) * gap) / 2
    top = height - size - 6
    for index, marker in enumerate(markers):
        x = left + index * (size + gap)
        group = node(parent, "g", class_=f"fd-marker fd-marker-{marker}")
        if marker == "sub-process":
            node(
                group,
                "rect",
                x=x,
                y=top,
                width=size,
                height=size,
                fill=WHITE,
                stroke=stroke,
                stroke_width=1,
            )
            node(
                group,
                "path",
                d=f"M {num(x + 7)},{num(top + 2)} v 10 M {num(x + 2)},{num(top + 7)} h 10",
                stroke=stroke,
                stroke_width=2,
            )
        elif marker in ("parallel", "sequential"):
            for bar in range(3):
                offset = 1 + bar * 4.5
                if marker == "parallel":
                    node(group, "rect", x=x + offset, y=top + 1, width=2.5, height=12, fill=stroke)
                else:
                    node(group, "rect", x=x + 1, y=top + offset, width=12, height=2.5, fill=stroke)
        elif marker == "loop":
            cx, cy = x + 7, top + 7
            node(
                group,
                "path",
                d=f"M {num(cx - 2)},{num(cy + 5.6)} "
                f"A 5.6 5.6 0 1 1 {num(cx + 3.6)},{num(cy + 4.3)}",
                fill="none",
                stroke=stroke,
                stroke_width=1.5,
            )
            node(
                group,
                "polyline",
                points=points([(cx - 5.5, cy + 3.2), (cx - 2, cy + 5.6), (cx - 4.6, cy + 8.6)]),
                fill="none",
                stroke=stroke,
                stroke_width=1.5,
            )
        elif marker == "ad-hoc":
            node(
                group,
                "path",
                d=f"M {num(x)},{num(top + 9)} "
                f"C {num(x + 3)},{num(top + 3)} {num(x + 6)},{num(top + 3)} "
                f"{num(x + 7)},{num(top + 7)} "
                f"S {num(x + 11)},{num(top + 11)} {num(x + 14)},{num(top + 5)}",
                fill="none",
                stroke=stroke,
                stroke_width=1.5,
            )
        elif marker == "compensation":
            compensation(group, x + 7, top + 7, 0.85, stroke, filled=False)
