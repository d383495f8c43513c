"""`flowdesk.diagrams` and `Engine.diagram`: the SVG of a definition or instance, from its DI.

Each test reads the BPMN file's DI itself (lxml, independently of flowdesk's reader) and checks
the SVG against it: every shape drawn once, of the right kind, where the DI puts it; every
edge along its DI waypoints; an instance's completed path, waits and incidents marked.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DATA, EXAMPLES, Clock
from lxml import etree

import flowdesk
from flowdesk.cli import main
from flowdesk.diagrams import DiagramState, render_svg

REPO = Path(__file__).parents[2]
SHIPPED = sorted((REPO / "bpmn").glob("*.bpmn"))
WITH_DI = [
    *SHIPPED,
    DATA / "diagram_states.bpmn",
    DATA / "diagram_shapes.bpmn",
    DATA / "reassign.bpmn",
    DATA / "task_queries.bpmn",
    EXAMPLES / "expense_approval.bpmn",
]
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "svg": "http://www.w3.org/2000/svg",
}
KINDS = {
    "task": "task",
    "userTask": "task",
    "serviceTask": "task",
    "scriptTask": "task",
    "sendTask": "task",
    "receiveTask": "task",
    "manualTask": "task",
    "businessRuleTask": "task",
    "callActivity": "call-activity",
    "subProcess": "subprocess",
    "transaction": "subprocess",
    "adHocSubProcess": "subprocess",
    "startEvent": "event",
    "endEvent": "event",
    "intermediateCatchEvent": "event",
    "intermediateThrowEvent": "event",
    "boundaryEvent": "event",
    "exclusiveGateway": "gateway",
    "parallelGateway": "gateway",
    "inclusiveGateway": "gateway",
    "complexGateway": "gateway",
    "eventBasedGateway": "gateway",
    "participant": "participant",
    "lane": "lane",
    "dataObjectReference": "data-object",
    "dataStoreReference": "data-store",
    "textAnnotation": "text-annotation",
    "group": "group",
    "sequenceFlow": "sequence-flow",
    "messageFlow": "message-flow",
    "association": "association",
    "dataInputAssociation": "data-association",
    "dataOutputAssociation": "data-association",
}
# The outline each kind starts with, as bpmn-js draws it.
OUTLINES = {
    "task": "rect",
    "call-activity": "rect",
    "subprocess": "rect",
    "event": "circle",
    "gateway": "polygon",
    "participant": "rect",
    "lane": "rect",
}


def svg_tree(svg: str) -> etree._Element:
    return etree.fromstring(svg.encode("utf-8"))


def drawn(svg: etree._Element) -> dict[str, list[etree._Element]]:
    found: dict[str, list[etree._Element]] = {}
    for group in svg.iterfind(".//svg:g[@data-element-id]", NS):
        found.setdefault(group.get("data-element-id"), []).append(group)
    return found


def root_plane(path: Path) -> etree._Element:
    tree = etree.parse(str(path))
    planes = [
        p
        for p in tree.iterfind(".//bpmndi:BPMNPlane", NS)
        if p.find(".//dc:Bounds", NS) is not None
    ]
    return planes[0]


def semantic(path: Path) -> dict[str, etree._Element]:
    tree = etree.parse(str(path))
    return {e.get("id"): e for e in tree.iter(f"{{{NS['bpmn']}}}*") if e.get("id")}


def translate(group: etree._Element) -> tuple[float, float]:
    match = re.fullmatch(r"translate\(([-\d.]+) ([-\d.]+)\)", group.get("transform", ""))
    assert match, group.get("transform")
    return float(match.group(1)), float(match.group(2))


def outline(group: etree._Element) -> etree._Element:
    return next(child for child in group if etree.QName(child).localname != "title")


# -- definitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", WITH_DI, ids=lambda p: p.name)
def test_every_di_shape_and_edge__is_drawn_once_with_its_kind_at_its_di_place(path: Path) -> None:
    svg = svg_tree(render_svg(path.read_bytes()))
    groups = drawn(svg)
    elements = semantic(path)
    plane = root_plane(path)

    shapes = plane.findall("bpmndi:BPMNShape", NS)
    assert shapes
    for shape in shapes:
        element_id = shape.get("bpmnElement")
        tag = etree.QName(elements[element_id]).localname
        bounds = shape.find("dc:Bounds", NS)
        x, y, width, height = (float(bounds.get(k)) for k in ("x", "y", "width", "height"))
        (group,) = groups[element_id]
        assert group.get("data-kind") == KINDS[tag], element_id
        assert group.get("data-type") == tag
        assert translate(group) == (x, y), element_id
        kind = KINDS[tag]
        if kind in OUTLINES:
            first = outline(group)
            assert etree.QName(first).localname == OUTLINES[kind], element_id
            if kind == "event":
                assert float(first.get("r")) == round((width + height) / 4 + 1e-9)
                assert (float(first.get("cx")), float(first.get("cy"))) == (width / 2, height / 2)
            elif kind == "gateway":
                corners = {tuple(map(float, p.split(","))) for p in first.get("points").split()}
                assert corners == {
                    (width / 2, 0),
                    (width, height / 2),
                    (width / 2, height),
                    (0, height / 2),
                }
            else:
                assert (float(first.get("width")), float(first.get("height"))) == (width, height)
    for edge in plane.findall("bpmndi:BPMNEdge", NS):
        element_id = edge.get("bpmnElement")
        (group,) = groups[element_id]
        tag = etree.QName(elements[element_id]).localname
        assert group.get("data-kind") == KINDS[tag]
        waypoints = [
            (float(p.get("x")), float(p.get("y"))) for p in edge.findall("di:waypoint", NS)
        ]
        drawn_points = [
            tuple(map(float, p.split(","))) for p in group.get("data-waypoints").split()
        ]
        assert drawn_points == waypoints, element_id
    assert len(groups) == len(shapes) + len(plane.findall("bpmndi:BPMNEdge", NS))


@pytest.mark.parametrize("path", WITH_DI, ids=lambda p: p.name)
def test_view_box__holds_every_shape_and_the_svg_is_self_contained(path: Path) -> None:
    text = render_svg(path.read_bytes())
    svg = svg_tree(text)
    left, top, width, height = map(float, svg.get("viewBox").split())
    for bounds in root_plane(path).iterfind(".//dc:Bounds", NS):
        x, y, w, h = (float(bounds.get(k)) for k in ("x", "y", "width", "height"))
        assert left <= x and x + w <= left + width
        assert top <= y and y + h <= top + height
    # Nothing fetched from elsewhere: no links, images, scripts, stylesheets or fonts.
    for forbidden in ("href", "<script", "<style", "<image", "@import", "url(", "<foreignObject"):
        assert forbidden not in text
    assert svg.get("width") == svg.get("viewBox").split()[2]


def test_names__are_escaped_and_chinese_labels_kept() -> None:
    svg = svg_tree(render_svg((DATA / "diagram_shapes.bpmn").read_bytes()))
    groups = drawn(svg)

    def label_text(element_id: str) -> str:
        texts = svg.iterfind(f".//svg:g[@data-label-for='{element_id}']//svg:tspan", NS)
        return " ".join(span.text or "" for span in texts)

    assert label_text("Start_message") == 'Order <received> & "checked"'
    assert (
        groups["Start_message"][0].findtext("svg:title", namespaces=NS)
        == 'Order <received> & "checked"'
    )
    lane = " ".join(t.text or "" for t in groups["Lane_sales"][0].iterfind(".//svg:tspan", NS))
    assert lane == "Sales 销售"
    note = "".join(t.text or "" for t in groups["Note_1"][0].iterfind(".//svg:tspan", NS))
    assert note.replace(" ", "") == "PricesinCNY;价格含税<net>"
    assert label_text("DataRef_order") == "Order & lines"


def test_long_chinese_names__wrap_inside_the_task() -> None:
    svg = svg_tree(render_svg((DATA / "diagram_shapes.bpmn").read_bytes()))
    (task,) = drawn(svg)["Task_user"]
    lines = [span.text for span in task.iterfind(".//svg:tspan", NS)]
    assert len(lines) == 2
    assert "".join(lines).replace(" ", "") == "Checkorder检查订单"


def test_markers__follow_the_bpmn_attributes() -> None:
    svg = svg_tree(render_svg((DATA / "diagram_shapes.bpmn").read_bytes()))
    groups = {element_id: found[0] for element_id, found in drawn(svg).items()}

    def markers(element_id: str) -> list[str]:
        return [
            g.get("class").split()[-1].removeprefix("fd-marker-")
            for g in groups[element_id].iterfind("svg:g", NS)
            if "fd-marker" in g.get("class", "")
        ]

    assert markers("Task_service") == ["parallel"]
    assert markers("Task_script") == ["sequential"]
    assert markers("Task_receive") == ["loop"]
    assert markers("Sub_collapsed") == ["sub-process"]
    assert markers("AdHoc_notes") == ["sub-process", "ad-hoc"]
    assert markers("Task_compensate") == ["compensation"]
    assert markers("Sub_expanded") == ["sequential"]
    assert outline(groups["Call_billing"]).get("stroke-width") == "5"
    assert outline(groups["End_plain"]).get("stroke-width") == "4"
    assert outline(groups["Start_message"]).get("stroke-width") == "2"
    # Intermediate and boundary events have a double ring; non-interrupting ones are dashed.
    assert len(groups["Catch_timer"].findall("svg:circle", NS)) >= 2
    assert groups["Boundary_message"].find("svg:circle", NS).get("stroke-dasharray") == "6"
    assert groups["Boundary_timer"].find("svg:circle", NS).get("stroke-dasharray") is None
    assert groups["EvSub_start"].find("svg:circle", NS).get("stroke-dasharray") == "6"
    assert outline(groups["EvSub"]).get("stroke-dasharray") == "0, 5.5"
    # Only an exclusive gateway with isMarkerVisible shows its X.
    assert len(groups["Gw_xor"]) > 1
    assert groups["Flow_default"].find("svg:line[@class='fd-default-marker']", NS) is not None
    assert groups["Flow_cond"].find("svg:polygon[@class='fd-conditional-marker']", NS) is None
    assert groups["Flow_5"].find("svg:polygon[@class='fd-conditional-marker']", NS) is not None
    message_flow = groups["MsgFlow_1"].find("svg:path", NS)
    assert message_flow.get("stroke-dasharray") == "10, 11"
    assert groups["Assoc_1"].find("svg:path", NS).get("stroke-dasharray") == "0, 5"
    # The collapsed pool is a plain box with its name; the other has a vertical name band.
    assert groups["Pool_customer"].find("svg:path", NS) is None
    assert groups["Pool_main"].find("svg:g[@transform]", NS) is not None


def test_exclusive_gateway_without_marker_visible__is_an_empty_diamond() -> None:
    source = (DATA / "diagram_states.bpmn").read_text(encoding="utf-8")
    with_marker = drawn(svg_tree(render_svg(source)))["Check"][0]
    without = drawn(svg_tree(render_svg(source.replace(' isMarkerVisible="true"', ""))))["Check"][0]

    assert len(with_marker.findall("svg:polygon", NS)) == 2
    assert len(without.findall("svg:polygon", NS)) == 1


def test_file_without_di__is_refused_with_diagram_error() -> None:
    with pytest.raises(flowdesk.DiagramError, match="no diagram"):
        render_svg((DATA / "async_payment.bpmn").read_bytes())
    with pytest.raises(flowdesk.DiagramError, match="not well-formed"):
        render_svg(b"<bpmn:definitions")


def test_state__marks_completed_waiting_and_failed_elements_with_counts() -> None:
    state = DiagramState(
        completed={"Start": 1, "Task_enter": 2, "Fork": 1},
        waiting={"Task_review": 3},
        incidents={"Task_book": 1},
    )
    svg = svg_tree(render_svg((DATA / "diagram_states.bpmn").read_bytes(), state=state))
    groups = {element_id: found[0] for element_id, found in drawn(svg).items()}

    assert groups["Task_enter"].get("data-state") == "completed"
    assert groups["Task_enter"].get("data-completed") == "2"
    assert groups["Task_review"].get("data-state") == "waiting"
    assert groups["Task_book"].get("data-state") == "incident"
    assert groups["Join"].get("data-state") is None
    badges = {
        (b.get("data-badge-for"), b.get("class").split()[-1]): b.get("data-count")
        for b in svg.iterfind(".//svg:g[@data-badge-for]", NS)
    }
    assert badges == {
        ("Task_review", "fd-badge-waiting"): "3",
        ("Task_book", "fd-badge-incidents"): "1",
    }
    taken = {g.get("data-element-id") for g in svg.iterfind(".//svg:g[@data-state='taken']", NS)}
    # Derived: from a completed source to a reached target; not on to the join.
    assert taken == {"Flow_start_enter", "Flow_enter_fork", "Flow_fork_review", "Flow_fork_book"}


def test_state__counts_a_wait_inside_a_collapsed_subprocess_on_the_subprocess() -> None:
    path = REPO / "bpmn" / "order_review.bpmn"
    inner = semantic(path)["SubProcess_order_coordination"]
    hidden = next(e.get("id") for e in inner if etree.QName(e).localname == "userTask")
    svg = svg_tree(render_svg(path.read_bytes(), state=DiagramState(waiting={hidden: 2})))
    groups = drawn(svg)

    assert hidden not in groups
    assert groups["SubProcess_order_coordination"][0].get("data-waiting") == "2"


@pytest.mark.skipif(
    not os.environ.get("FLOWDESK_CORPUS"), reason="set FLOWDESK_CORPUS to a folder of BPMN files"
)
def test_corpus_files__draw_or_are_refused_for_missing_di() -> None:
    corpus = Path(os.environ["FLOWDESK_CORPUS"])
    files = sorted(corpus.rglob("*.bpmn"))
    assert files
    drawn_files = 0
    for path in files:
        try:
            text = render_svg(path.read_bytes())
        except flowdesk.DiagramError:
            continue
        drawn_files += 1
        svg = svg_tree(text)
        ids = set(drawn(svg))
        assert ids, path
    assert drawn_files


# -- instances through the Engine ----------------------------------------------------------------


class Booking:
    """A booking service that fails until it is fixed."""

    def __init__(self) -> None:
        self.fixed = False

    def __call__(self, call: flowdesk.ServiceCall) -> dict[str, object]:
        if not self.fixed:
            raise ConnectionError("booking service unreachable")
        return {"booked": True}


@pytest.fixture
def booking() -> Booking:
    return Booking()


@pytest.fixture
def diagram_engine(
    make_engine: Callable[..., flowdesk.Engine], booking: Booking
) -> Iterator[Callable[[], flowdesk.Engine]]:
    registry = flowdesk.HandlerRegistry()
    registry.register_service("diagrams.Book", booking)

    def make() -> flowdesk.Engine:
        return make_engine(handlers=registry)

    make().deploy(DATA / "diagram_states.bpmn")
    yield make


def waiting_with_incident(engine: flowdesk.Engine, clock: Clock) -> str:
    """An instance waiting at Task_review whose async Task_book failed for good."""
    instance = engine.start("diagram_states")
    (task,) = engine.tasks(instance_id=instance.id)
    engine.complete(task.id, {}, user="alice")
    for _ in range(5):  # the default retries of an async job, minutes apart
        engine.run_due_jobs()
        clock.advance(minutes=20)
    assert engine.instance(instance.id).state == "incident"
    return instance.id


def states(svg: str) -> dict[str, str]:
    return {
        g.get("data-element-id"): g.get("data-state")
        for g in svg_tree(svg).iterfind(".//svg:g[@data-state]", NS)
    }


def test_instance_diagram__marks_path_taken_waiting_task_and_incident(
    diagram_engine: Callable[[], flowdesk.Engine], clock: Clock
) -> None:
    instance_id = waiting_with_incident(diagram_engine(), clock)

    svg = diagram_engine().diagram(instance_id)  # a fresh engine: all from the store

    assert states(svg) == {
        "Start": "completed",
        "Task_enter": "completed",
        "Fork": "completed",
        "Task_review": "waiting",
        "Task_book": "incident",
        "Flow_start_enter": "taken",
        "Flow_enter_fork": "taken",
        "Flow_fork_review": "taken",
        "Flow_fork_book": "taken",
    }
    groups = drawn(svg_tree(svg))
    assert groups["Task_review"][0].get("data-waiting") == "1"
    assert groups["Task_book"][0].get("data-incidents") == "1"


def test_instance_diagram__after_retry_and_completion_shows_the_whole_path(
    diagram_engine: Callable[[], flowdesk.Engine], clock: Clock, booking: Booking
) -> None:
    engine = diagram_engine()
    instance_id = waiting_with_incident(engine, clock)
    booking.fixed = True
    engine.retry(instance_id, user="ops")
    engine.run_due_jobs()  # the retried async job runs again
    (task,) = engine.tasks(instance_id=instance_id)
    engine.complete(task.id, {"rejected": False}, user="alice")
    assert engine.instance(instance_id).state == "completed"

    marked = states(diagram_engine().diagram(instance_id))

    assert {k for k, v in marked.items() if v in ("waiting", "incident")} == set()
    assert marked["End_done"] == "completed"
    assert "End_rejected" not in marked
    assert marked["Flow_check_done"] == "taken"
    assert "Flow_check_rejected" not in marked  # the gateway chose the other way


def test_instance_diagram__while_the_async_job_waits_marks_both_branches_waiting(
    diagram_engine: Callable[[], flowdesk.Engine],
) -> None:
    engine = diagram_engine()
    instance = engine.start("diagram_states")
    (task,) = engine.tasks(instance_id=instance.id)
    engine.complete(task.id, {}, user="alice")

    marked = states(engine.diagram(instance.id))

    assert marked["Task_review"] == "waiting"
    assert marked["Task_book"] == "waiting"


def test_definition_diagram__by_key_and_version_and_unknown_ids(
    diagram_engine: Callable[[], flowdesk.Engine],
) -> None:
    engine = diagram_engine()

    svg = engine.diagram("diagram_states")

    assert states(svg) == {}
    assert svg_tree(svg).findtext("svg:title", namespaces=NS) == "Diagram states <A&B>"
    assert engine.diagram("diagram_states", version=1) == svg
    with pytest.raises(flowdesk.NotFound):
        engine.diagram("diagram_states", version=2)
    with pytest.raises(flowdesk.NotFound, match="no-such-thing"):
        engine.diagram("no-such-thing")


def test_definition_without_di__is_refused_by_engine_diagram(
    make_engine: Callable[..., flowdesk.Engine],
) -> None:
    engine = make_engine()
    engine.deploy(DATA / "timer_start.bpmn")
    key = engine.definitions()[0].key

    with pytest.raises(flowdesk.DiagramError) as refused:
        engine.diagram(key)

    assert refused.value.process_key == key


def test_cli_diagram__writes_the_svg_file(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    deployed = runner.invoke(main, ["--db", db_url, "deploy", str(REPO / "bpmn")])
    assert deployed.exit_code == 0, deployed.output
    target = tmp_path / "order_review.svg"

    result = runner.invoke(main, ["diagram", "order_review", "-o", str(target), "--db", db_url])

    assert result.exit_code == 0, result.output
    assert drawn(svg_tree(target.read_text(encoding="utf-8")))["Task_receive_order"]
    printed = runner.invoke(main, ["--db", db_url, "diagram", "order_review"])
    assert printed.output == target.read_text(encoding="utf-8")
    missing = runner.invoke(main, ["--db", db_url, "diagram", "nothing-here"])
    assert missing.exit_code == 1
    assert "nothing-here" in missing.output


def test_state__a_completed_task_whose_token_waits_at_a_join_has_taken_its_flow() -> None:
    state = DiagramState(
        completed={"Start": 1, "Task_enter": 1, "Fork": 1, "Task_review": 1},
        incidents={"Task_book": 1},
    )
    svg = svg_tree(render_svg((DATA / "diagram_states.bpmn").read_bytes(), state=state))

    taken = {g.get("data-element-id") for g in svg.iterfind(".//svg:g[@data-state='taken']", NS)}

    assert "Flow_review_join" in taken  # the join has not fired: nothing records it
    assert "Flow_book_join" not in taken
    assert "Flow_join_check" not in taken


def test_docs_example_diagrams__are_what_the_generator_writes() -> None:
    """docs/diagrams/*.svg come from docs/diagrams/generate.py, and are current."""
    script = REPO / "docs" / "diagrams" / "generate.py"
    spec = importlib.util.spec_from_file_location("docs_diagrams_generate", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    files = module.generate()

    assert set(files) == {"order_review.svg", "order_review_instance.svg", "incident_instance.svg"}
    for name, svg in files.items():
        committed = (REPO / "docs" / "diagrams" / name).read_text(encoding="utf-8")
        assert svg == committed, f"docs/diagrams/{name} is stale: run docs/diagrams/generate.py"
    marked = states(files["order_review_instance.svg"])
    assert {k for k, v in marked.items() if v == "waiting"} == {
        "Task_review_production_tech",
        "Task_review_sales",
        "Task_review_signer",
    }
    assert "incident" in states(files["incident_instance.svg"]).values()
