"""The state every BPMN check shares: the file's ids, processes and flows, and its problems."""

from __future__ import annotations

from collections.abc import Collection

from lxml import etree

from flowdesk.engine.validation.declarations import process_ids
from flowdesk.engine.validation.elements import _bpmn_name
from flowdesk.engine.validation.xml_reading import _line
from flowdesk.errors import Problem


class _BpmnCheckBase:
    """What the BPMN checks of one file read, and where they add the problems they find."""

    def __init__(
        self,
        tree: etree._ElementTree,
        file: str,
        known_process_ids: Collection[str],
        known_decision_ids: Collection[str],
    ) -> None:
        self.root = tree.getroot()
        self.file = file
        self.known_process_ids = set(known_process_ids)
        self.known_decision_ids = set(known_decision_ids)
        self.processes = process_ids(tree)
        self.problems: list[Problem] = []
        self.all_ids = {e.get("id") for e in self.root.iter(etree.Element)}
        self.root_elements: dict[str, set[str]] = {}
        for element in self.root.iterchildren():
            name = _bpmn_name(element)
            if name and element.get("id"):
                self.root_elements.setdefault(name, set()).add(element.get("id", ""))

    def add(self, element: etree._Element, element_id: str | None, message: str) -> None:
        self.problems.append(Problem(self.file, _line(element), element_id, message))
