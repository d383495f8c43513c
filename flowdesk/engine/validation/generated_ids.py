"""Ids for the flow elements a file leaves without one, so that nothing is dropped.

The BPMN schema makes `id` optional on every element, and Camunda 7 runs a sequence flow that
has none (hand-written and generated XML often omit it). SpiffWorkflow 3.2 indexes a process's
elements by id and reads sequence flows from that index, so a flow without an id vanished: the
element before it became the end of its path. `parse_xml` gives every id-less sequence flow and
flow node of the file a generated id before anything reads the tree, so that the checks, the
trial parse and every later parse of the stored XML see the same, stable ids.

A generated id is derived from what the element connects (`sequenceFlow_<source>_<target>`),
or from its kind and place in the file, and never takes an id the file already uses. Each
element that got one is marked with `GENERATED_ID_MARK`, so that a check can still tell that
the file left it without an id (Camunda 7 needs the id of a flow that leaves an `asyncAfter`
activity).
"""

from __future__ import annotations

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.validation.elements import _FLOW_NODES, _bpmn_name

# Attribute (in a namespace of flowdesk's own) set on each element that got a generated id.
GENERATED_ID_MARK = "{urn:flowdesk:generated}id"


def with_generated_ids(root: etree._Element) -> None:
    """Give each id-less sequence flow and flow node under `root` a generated id, in place.

    Args:
        root: The `definitions` element of a BPMN file.
    """
    missing = [
        element
        for process in root.iterchildren(f"{BPMN}process")
        for element in process.iter(etree.Element)
        if not element.get("id")
        and (_bpmn_name(element) == "sequenceFlow" or _bpmn_name(element) in _FLOW_NODES)
    ]
    if not missing:
        return
    taken = {e.get("id") for e in root.iter(etree.Element) if e.get("id")}
    counts: dict[str, int] = {}
    for element in missing:
        name = _bpmn_name(element) or "element"
        if name == "sequenceFlow":
            stem = f"sequenceFlow_{element.get('sourceRef')}_{element.get('targetRef')}"
        else:
            counts[name] = counts.get(name, 0) + 1
            stem = f"{name}_{counts[name]}"
        element.set("id", unused_id(stem, taken))
        element.set(GENERATED_ID_MARK, "true")


def unused_id(stem: str, taken: set[str | None]) -> str:
    """`stem`, or `stem_2`, `stem_3`, ... : the first not in `taken`, which it joins."""
    candidate, n = stem, 1
    while candidate in taken:
        n += 1
        candidate = f"{stem}_{n}"
    taken.add(candidate)
    return candidate
