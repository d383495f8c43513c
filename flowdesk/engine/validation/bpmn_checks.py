"""Checks of a BPMN file: one run of the structure, expression and timer checks, by line."""

from __future__ import annotations

from collections.abc import Collection

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.validation.camunda_checks import _CamundaChecks
from flowdesk.engine.validation.camunda_refusals import _CamundaRefusals
from flowdesk.engine.validation.elements import (
    _CONTAINERS,
    _bpmn_name,
    _by_line,
    _is_executable,
)
from flowdesk.engine.validation.event_checks import _EventChecks
from flowdesk.engine.validation.expression_checks import _ExpressionChecks
from flowdesk.engine.validation.flow_checks import _FlowChecks
from flowdesk.engine.validation.root_element_checks import _RootElementChecks
from flowdesk.engine.validation.service_task_checks import _ServiceTaskChecks
from flowdesk.engine.validation.structure_checks import _StructureChecks
from flowdesk.engine.validation.timer_checks import _TimerChecks
from flowdesk.engine.validation.xml_reading import _duplicate_ids, kind_of
from flowdesk.errors import Problem


def validate_bpmn(
    tree: etree._ElementTree,
    file: str,
    *,
    known_process_ids: Collection[str] = (),
    known_decision_ids: Collection[str] = (),
) -> list[Problem]:
    """Every problem in a BPMN file, ordered by line.

    Args:
        tree: A tree from `parse_xml`.
        file: The name to report problems under.
        known_process_ids: Processes a call activity may call besides those in this file
            (already deployed, or deployed together with it).
        known_decision_ids: Decisions a business rule task may name.

    Returns:
        The problems; an empty list means the file may be deployed.

    Raises:
        ValueError: The tree is not a BPMN file.
    """
    if kind_of(tree) != "bpmn":
        raise ValueError("validate_bpmn needs a BPMN file; use validate_dmn for DMN")
    return _by_line(_BpmnCheck(tree, file, known_process_ids, known_decision_ids).run())


class _BpmnCheck(
    _StructureChecks,
    _ExpressionChecks,
    _TimerChecks,
    _CamundaChecks,
    _RootElementChecks,
    _EventChecks,
    _FlowChecks,
    _ServiceTaskChecks,
    _CamundaRefusals,
):
    """One run of the BPMN checks over one file, collecting problems."""

    def run(self) -> list[Problem]:
        self.problems.extend(_duplicate_ids(self.root, self.file))
        self.check_root_elements()
        for process in self.root.iterchildren(f"{BPMN}process"):
            executable = _is_executable(process)
            containers = [c for c in process.iter() if _bpmn_name(c) in _CONTAINERS]
            for container in containers:
                self.check_flows(container, executable)
            self.check_event_refs(process)
            if executable:
                self.check_start_events(process, containers)
                self.check_call_activities(process)
                self.check_business_rule_tasks(process)
                self.check_expressions(process)
                self.check_timers(process)
                self.check_scripts(process)
                self.check_camunda_settings(process)
                self.check_events(process)
                self.check_flows_as_camunda(process)
                self.check_service_tasks(process)
                self.check_camunda_refusals(process)
        self.check_link_names(
            [p for p in self.root.iterchildren(f"{BPMN}process") if _is_executable(p)]
        )
        self.check_diagram()
        return self.problems
