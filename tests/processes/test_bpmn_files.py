"""Every shipped BPMN file is one a business analyst can open and edit in Camunda Modeler.

Valid against the BPMN 2.0 XSD SpiffWorkflow ships, a complete diagram (a shape for every
element, an edge with waypoints for every flow, every collapsed sub-process drawn on its own
plane) without overlapping shapes, laid out left to right in a pool with a lane per role,
named in English with the Chinese term as documentation; and it deploys without a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator

import flowdesk
import flowdesk.processes

from .conftest import BPMN

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "dmndi": "https://www.omg.org/spec/DMN/20191111/DMNDI/",
}
BPMN_FILES = sorted(BPMN.glob("*.bpmn"))
DMN_FILES = sorted(BPMN.glob("*.dmn"))
SHIPPED_PROCESSES = {"presales", "demand_confirmation", "order_review", "consulting_engagement"}

EVENTS = ["startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent"]
GATEWAYS = ["exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway"]
ACTIVITIES = [
    *("task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask"),
    *("receiveTask", "manualTask", "callActivity", "subProcess", "transaction"),
]
FLOW_NODES = [*EVENTS, "boundaryEvent", *GATEWAYS, "complexGateway", *ACTIVITIES, "adHocSubProcess"]
SUB_PROCESSES = ("subProcess", "transaction", "adHocSubProcess")


@dataclass(frozen=True)
class Bounds:
    x: float
    y: float
    width: float
    height: float

    def overlaps(self, other: Bounds) -> bool:
        return (
            self.x < other.x + other.width
            and other.x < self.x + self.width
            and self.y < other.y + other.height
            and other.y < self.y + self.height
        )


def _tag(element: etree._Element) -> str:
    return etree.QName(element).localname


def _flow_nodes(root: etree._Element) -> Iterator[etree._Element]:
    for kind in FLOW_NODES:
        yield from root.iter(f"{{{NS['bpmn']}}}{kind}")


def _planes(root: etree._Element) -> dict[str, dict[str, etree._Element]]:
    """Each plane's drawn element: its shapes and edges by BPMN element id."""
    planes = {}
    for plane in root.iterfind(".//bpmndi:BPMNPlane", NS):
        drawn = {}
        for di in plane:
            if di.get("bpmnElement") in drawn:
                pytest.fail(f"{di.get('bpmnElement')} is drawn twice on one plane")
            drawn[di.get("bpmnElement")] = di
        planes[plane.get("bpmnElement")] = drawn
    return planes


def _bounds(shape: etree._Element) -> Bounds:
    b = shape.find("dc:Bounds", NS)
    assert b is not None, f"{shape.get('bpmnElement')} has no bounds"
    return Bounds(*(float(b.get(k)) for k in ("x", "y", "width", "height")))


def _container(node: etree._Element, root: etree._Element) -> str:
    """The id of the plane a node belongs on: its sub-process, or the collaboration."""
    parent = node.getparent()
    if _tag(parent) in SUB_PROCESSES:
        return str(parent.get("id"))
    collaboration = root.find("bpmn:collaboration", NS)
    return str(collaboration.get("id")) if collaboration is not None else str(parent.get("id"))


@pytest.fixture(params=BPMN_FILES, ids=[p.stem for p in BPMN_FILES])
def bpmn_file(request: pytest.FixtureRequest) -> Path:
    return Path(request.param)


def test_bpmn_folder__ships_the_four_processes() -> None:
    ids = {
        p.get("id")
        for path in BPMN_FILES
        for p in etree.parse(path).getroot().iterfind("bpmn:process", NS)
    }
    assert ids >= SHIPPED_PROCESSES


def test_bpmn_file__is_valid_against_the_bpmn_xsd(bpmn_file: Path) -> None:
    BpmnValidator().validate(etree.parse(bpmn_file).getroot(), filename=bpmn_file.name)


def test_bpmn_file__draws_every_element_on_its_plane(bpmn_file: Path) -> None:
    root = etree.parse(bpmn_file).getroot()
    planes = _planes(root)
    for node in _flow_nodes(root):
        plane = planes.get(_container(node, root), {})
        shape = plane.get(node.get("id"))
        assert shape is not None and _tag(shape) == "BPMNShape", f"{node.get('id')} has no shape"
        _bounds(shape)
        if _tag(node) in SUB_PROCESSES and shape.get("isExpanded") != "true":
            assert node.get("id") in planes, f"collapsed {node.get('id')} has no plane"
    for flow in root.iter(f"{{{NS['bpmn']}}}sequenceFlow"):
        edge = planes.get(_container(flow, root), {}).get(flow.get("id"))
        assert edge is not None and _tag(edge) == "BPMNEdge", f"{flow.get('id')} has no edge"
        assert len(edge.findall("di:waypoint", NS)) >= 2, f"{flow.get('id')} has no waypoints"
    for element in root.iterfind(".//bpmn:participant", NS):
        assert element.get("id") in planes[_container(element, root)]
    for lane in root.iter(f"{{{NS['bpmn']}}}lane"):
        assert lane.get("id") in planes[_container(lane, root)], f"{lane.get('id')} has no shape"


def test_bpmn_file__has_no_overlapping_shapes(bpmn_file: Path) -> None:
    root = etree.parse(bpmn_file).getroot()
    attached = {
        (b.get("id"), b.get("attachedToRef")) for b in root.iter(f"{{{NS['bpmn']}}}boundaryEvent")
    }
    nodes = {n.get("id") for n in _flow_nodes(root)}
    for plane_id, drawn in _planes(root).items():
        shapes = [
            (element_id, _bounds(di))
            for element_id, di in drawn.items()
            if element_id in nodes and _tag(di) == "BPMNShape"
        ]
        for i, (a, box_a) in enumerate(shapes):
            for b, box_b in shapes[i + 1 :]:
                if (a, b) in attached or (b, a) in attached:
                    continue  # a boundary event sits on its host's border
                assert not box_a.overlaps(box_b), f"{a} and {b} overlap on plane {plane_id}"


def test_bpmn_file__is_laid_out_left_to_right_in_a_pool_with_a_lane_per_role(
    bpmn_file: Path,
) -> None:
    root = etree.parse(bpmn_file).getroot()
    participants = root.findall("bpmn:collaboration/bpmn:participant", NS)
    assert len(participants) == 1
    process = root.find(f"bpmn:process[@id='{participants[0].get('processRef')}']", NS)
    lanes = process.findall("bpmn:laneSet/bpmn:lane", NS)
    assert len(lanes) >= 2
    in_lanes = [ref.text for lane in lanes for ref in lane.iterfind("bpmn:flowNodeRef", NS)]
    top_level = [n.get("id") for n in _flow_nodes(process) if n.getparent() is process]
    assert sorted(in_lanes) == sorted(top_level), "every top-level node in exactly one lane"
    collaboration_id = root.find("bpmn:collaboration", NS).get("id")
    for plane_id, drawn in _planes(root).items():
        x_of = {eid: _bounds(di).x for eid, di in drawn.items() if _tag(di) == "BPMNShape"}
        scope = process if plane_id == collaboration_id else root.find(f".//*[@id='{plane_id}']")
        starts = [x_of[e.get("id")] for e in scope.findall("bpmn:startEvent", NS)]
        ends = [x_of[e.get("id")] for e in scope.findall("bpmn:endEvent", NS)]
        if starts and ends:
            assert max(starts) < min(ends), f"plane {plane_id} does not run left to right"


def test_bpmn_file__names_in_english_with_chinese_documentation(bpmn_file: Path) -> None:
    root = etree.parse(bpmn_file).getroot()
    for node in _flow_nodes(root):
        if _tag(node) not in ACTIVITIES:
            continue
        name = node.get("name") or ""
        assert name and name.isascii(), f"{node.get('id')} needs an English name"
        documentation = node.findtext("bpmn:documentation", default="", namespaces=NS)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in documentation), (
            f"{node.get('id')} needs its Chinese term in documentation"
        )


def test_bpmn_file__user_tasks_have_candidates_and_a_form(bpmn_file: Path) -> None:
    root = etree.parse(bpmn_file).getroot()
    camunda = f"{{{NS['camunda']}}}"
    for task in root.iter(f"{{{NS['bpmn']}}}userTask"):
        who = task.get(f"{camunda}candidateGroups") or task.get(f"{camunda}assignee")
        assert who, f"{task.get('id')} has neither candidate groups nor an assignee"
        assert task.find(".//camunda:formData/camunda:formField", NS) is not None, (
            f"{task.get('id')} has no form"
        )


def test_bpmn_folder__deploys_without_warnings(engine: flowdesk.Engine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        definitions = engine.deploy(BPMN)
    assert {d.key for d in definitions} >= SHIPPED_PROCESSES


@pytest.mark.parametrize("dmn_file", DMN_FILES, ids=[p.stem for p in DMN_FILES])
def test_dmn_file__draws_every_decision(dmn_file: Path) -> None:
    root = etree.parse(dmn_file).getroot()
    decisions = {d.get("id") for d in root.iterfind("dmn:decision", NS)}
    drawn = {s.get("dmnElementRef") for s in root.iter(f"{{{NS['dmndi']}}}DMNShape")}
    assert decisions and decisions <= drawn
