"""The deploy-time check that the parsed process holds every element an instance can reach.

SpiffWorkflow 3.2 builds a process by following sequence flows from its start events, and
leaves out, without a word, whatever it does not understand on the way: a flow it could not
index (an id-less one, before `generated_ids`), an element kind it reads as something else.
Such a model deploys and then runs a different path. So after the trial parse, `deploy` walks
the XML as Camunda 7 would run it and checks the parsed specs against it:

- every flow node an instance can reach has a task spec with its id;
- every sequence flow leaving such a node leads, in the specs, from the node to its target
  (directly or through Spiff's and flowdesk's internal specs, such as the split before a
  boundary event or an `activity_splits.ActivitySplit`).

Reachable means: the start events of the process, of each embedded sub-process and
transaction it reaches, and of each of their event sub-processes; the boundary events of a
reached activity; link catch events (their throws stand for flows to them); and whatever a
sequence flow leads to from a reached node. Elements no instance can reach are not checked,
since Camunda 7 never runs them either. Known to be left out on purpose: the contents of
ad-hoc sub-processes (Camunda 7 does not run them; SpiffWorkflow builds them its own way),
compensation boundary events and handlers (`isForCompensation`, reached through an
association when compensation runs, not through a flow),
and everything that is not a flow node or sequence flow (data objects and stores, text
annotations, associations, groups, lanes, diagram elements), which no engine runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lxml import etree

from flowdesk.engine import validation
from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.errors import Problem

_SCOPES = frozenset({"subProcess", "transaction"})
# `adHocSubProcess` is checked itself, but not what is inside it (see the module).
_FLOW_NODES = validation.EXECUTABLE_FLOW_NODES


def uncovered(
    tree: etree._ElementTree,
    file: str,
    process_id: str,
    spec: Any,
    subprocess_specs: Mapping[str, Any],
) -> list[Problem]:
    """The reachable elements of one process that its parsed specs leave out.

    Args:
        tree: The file, as `validation.parse_xml` read it.
        file: The name to report problems under.
        process_id: The executable process to check.
        spec: Its parsed SpiffWorkflow process spec.
        subprocess_specs: The specs Spiff parsed with it (embedded sub-processes among them).

    Returns:
        One problem per element left out; an empty list when the specs hold the whole model.
    """
    process = next(
        (p for p in tree.getroot().iterchildren(f"{BPMN}process") if p.get("id") == process_id),
        None,
    )
    if process is None:
        return []
    nodes, flows = _reachable(process)
    # Embedded sub-processes only: a called process is another definition, checked on its own.
    embedded = [subprocess_specs[i] for n in nodes if (i := n.get("id") or "") in subprocess_specs]
    specs = [spec, *embedded]
    by_id: dict[str, list[Any]] = {}
    for one in specs:
        for task_spec in one.task_specs.values():
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            if bpmn_id:
                by_id.setdefault(bpmn_id, []).append(task_spec)
    problems = []
    for node in nodes:
        node_id = node.get("id")
        if node_id not in by_id:
            problems.append(
                _problem(
                    file,
                    node,
                    f"{_kind(node)} {node_id!r} can be reached, but flowdesk (SpiffWorkflow "
                    "3.2) would leave it out of the process; an instance would never run it",
                )
            )
    reached: dict[str, set[str]] = {}  # per source, once: a fan-out of n flows stays linear
    for flow in flows:
        source, target = flow.get("sourceRef"), flow.get("targetRef")
        if source not in by_id or target not in by_id:
            continue  # the node itself is reported above
        if source not in reached:
            reached[source] = _reached(by_id[source])
        if target not in reached[source]:
            problems.append(
                _problem(
                    file,
                    flow,
                    f"sequence flow {flow.get('id')!r} from {source!r} to {target!r} is not "
                    "part of the process flowdesk (SpiffWorkflow 3.2) parsed; an instance would "
                    "never take it",
                )
            )
    return problems


def _reachable(process: etree._Element) -> tuple[list[etree._Element], list[etree._Element]]:
    """The flow nodes an instance can reach, and the sequence flows leaving them."""
    reached: dict[int, etree._Element] = {}
    flows: list[etree._Element] = []
    pending: list[etree._Element] = list(_entries(process))
    flows_from: dict[tuple[int, str], list[etree._Element]] = {}
    attached: dict[str, list[etree._Element]] = {}
    for container in [process, *(e for e in process.iter() if _name(e) in _SCOPES)]:
        for flow in container.iterchildren(f"{BPMN}sequenceFlow"):
            flows_from.setdefault((id(container), flow.get("sourceRef") or ""), []).append(flow)
        for event in container.iterchildren(f"{BPMN}boundaryEvent"):
            attached.setdefault(event.get("attachedToRef") or "", []).append(event)
    by_id = {e.get("id"): e for e in process.iter() if _name(e) in _FLOW_NODES and e.get("id")}
    while pending:
        node = pending.pop()
        if id(node) in reached or _compensation(node):
            continue
        reached[id(node)] = node
        node_id = node.get("id") or ""
        leaving = flows_from.get((id(node.getparent()), node_id), [])
        flows.extend(leaving)
        pending.extend(by_id[f.get("targetRef")] for f in leaving if f.get("targetRef") in by_id)
        pending.extend(attached.get(node_id, []))
        if _name(node) in _SCOPES:
            pending.extend(_entries(node))
    return list(reached.values()), flows


def _entries(container: etree._Element) -> Iterable[etree._Element]:
    """Where a process or sub-process can begin: start events, event sub-processes, links."""
    for child in container.iterchildren(etree.Element):
        name = _name(child)
        event_subprocess = name == "subProcess" and child.get("triggeredByEvent") == "true"
        link = (
            name == "intermediateCatchEvent"
            and child.find(f"{BPMN}linkEventDefinition") is not None
        )
        if name == "startEvent" or event_subprocess or link:
            yield child


def _compensation(node: etree._Element) -> bool:
    """A compensation handler or compensation boundary event: reached by compensation only."""
    return node.get("isForCompensation") == "true" or (
        node.find(f"{BPMN}compensateEventDefinition") is not None and _name(node) == "boundaryEvent"
    )


def _reached(sources: list[Any]) -> set[str]:
    """The ids of the specs that specs of `sources` reach through internal specs only."""
    seen: set[int] = set()
    found: set[str] = set()
    pending = [output for source in sources for output in source.outputs]
    while pending:
        task_spec = pending.pop()
        if id(task_spec) in seen:
            continue
        seen.add(id(task_spec))
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id is None:
            pending.extend(task_spec.outputs)
        else:
            found.add(bpmn_id)
    return found


def _name(element: etree._Element) -> str | None:
    tag = element.tag
    return tag[len(BPMN) :] if isinstance(tag, str) and tag.startswith(BPMN) else None


def _kind(node: etree._Element) -> str:
    return {"subProcess": "sub-process"}.get(_name(node) or "", _name(node) or "element")


def _problem(file: str, element: etree._Element, message: str) -> Problem:
    line = element.sourceline
    return Problem(file, line if isinstance(line, int) else None, element.get("id"), message)
