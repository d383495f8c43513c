"""The business rule task: evaluate a DMN decision and map its result into the process variables.

It replaces SpiffWorkflow 3.2's Camunda `BusinessRuleTask`, which runs Spiff's own DMN engine
(two hit policies, unary tests run as Python, one decision table per file) and ignores
`camunda:resultVariable` and `camunda:mapDecisionResult`. The decision is resolved when the
process is parsed, from the DMN files the parser was given (see `DecisionRegistry`), so a
missing decision fails the deploy, not the instance.

Result mapping follows Camunda 7 (`camunda:mapDecisionResult`, with `camunda:resultVariable`):
`resultList` (the default: a list with one map per matched rule), `singleResult` (one map, or
null), `singleEntry` (one value, or null) and `collectEntries` (the values of the one output,
a list). Camunda stores nothing without a `resultVariable`; flowdesk instead merges the result
into the variables (one matched rule: its outputs; a list result: a list per output), as the
SpiffWorkflow-modelled files it runs expect. A mapping the result does not fit (two rules for
`singleResult`, say) fails like a decision does: the instance gets an incident.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser

from flowdesk.engine.dmn import evaluation
from flowdesk.engine.dmn.registry import DecisionModel, DecisionRegistry
from flowdesk.engine.languages.bpmn_namespaces import BPMN, CAMUNDA
from flowdesk.errors import DecisionError

MAPPINGS = frozenset({"resultList", "singleResult", "singleEntry", "collectEntries"})
BINDINGS = frozenset({"latest", "deployment", "version"})


class FlowdeskBusinessRuleTask(BpmnSpecMixin):  # type: ignore[misc]  # Spiff is untyped
    """A business rule task that evaluates a flowdesk `DecisionModel`.

    Args:
        wf_spec: The process spec (SpiffWorkflow's).
        bpmn_id: The element id.
        decision: The decision the task evaluates.
        result_variable: `camunda:resultVariable`, or None to merge the result.
        map_result: `camunda:mapDecisionResult`, one of `MAPPINGS`.
    """

    def __init__(
        self,
        wf_spec: Any,
        bpmn_id: str,
        decision: DecisionModel,
        result_variable: str | None = None,
        map_result: str = "resultList",
        **kwargs: Any,
    ) -> None:
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.decision = decision
        self.result_variable = result_variable
        self.map_result = map_result

    def _run_hook(self, my_task: Any) -> Any:
        result = self.decision.evaluate(my_task.data)
        if self.result_variable:
            my_task.data[self.result_variable] = map_result(result, self.map_result)
        else:
            evaluation.add_to_variables(result, my_task.data)
        return super()._run_hook(my_task)


def map_result(result: evaluation.DecisionResult, mapping: str) -> Any:
    """A decision result as `camunda:mapDecisionResult` maps it.

    Raises:
        DecisionError: The result does not fit the mapping (several rules for a single result,
            several outputs for an entry).
    """
    entries = result.entries
    if mapping == "resultList":
        return [dict(entry) for entry in entries]
    if mapping == "collectEntries":
        for entry in entries:
            _require_one_entry(result, entry, mapping)
        return [next(iter(entry.values())) for entry in entries if entry]
    if len(entries) > 1:
        raise DecisionError(
            result.decision_id,
            f"mapDecisionResult {mapping} needs at most one matching rule, but "
            f"{len(entries)} match; use resultList or collectEntries",
        )
    if not entries:
        return None
    if mapping == "singleResult":
        return dict(entries[0])
    _require_one_entry(result, entries[0], mapping)
    return next(iter(entries[0].values()), None)


def _require_one_entry(
    result: evaluation.DecisionResult, entry: dict[str, Any], mapping: str
) -> None:
    if len(entry) > 1:
        raise DecisionError(
            result.decision_id,
            f"mapDecisionResult {mapping} needs one output per rule, but a rule gives "
            f"{sorted(entry)}; use singleResult or resultList",
        )


class BusinessRuleTaskParser(CamundaTaskParser):  # type: ignore[misc]  # Spiff is untyped
    """Reads `camunda:decisionRef`, its binding and the result mapping; finds the decision.

    The parser it runs under must have a `decisions` attribute (a `DecisionRegistry`).
    """

    def create_task(self) -> Any:
        ref = (self._camunda("decisionRef") or "").strip()
        if not ref:
            self.raise_validation_exception(
                "business rule task has no camunda:decisionRef; flowdesk runs business rule "
                "tasks as DMN decisions only"
            )
        if "${" in ref or "#{" in ref:
            self.raise_validation_exception(
                f"camunda:decisionRef {ref!r} is an expression; name the decision id"
            )
        mapping = (self._camunda("mapDecisionResult") or "resultList").strip()
        if mapping not in MAPPINGS:
            self.raise_validation_exception(
                f"camunda:mapDecisionResult {mapping!r} is not one of "
                + ", ".join(sorted(MAPPINGS))
            )
        version = self._pinned_version()
        registry: DecisionRegistry = self.process_parser.parser.decisions
        decision = registry.find(ref, version)
        if decision is None:
            which = f"version {version} of decision {ref!r}" if version else f"decision {ref!r}"
            self.raise_validation_exception(
                f"business rule task evaluates {which}, which is not deployed"
            )
        return self.spec_class(
            self.spec,
            self.bpmn_id,
            decision=decision,
            result_variable=(self._camunda("resultVariable") or "").strip() or None,
            map_result=mapping,
            **self.bpmn_attributes,
        )

    def _pinned_version(self) -> int | None:
        binding = (self._camunda("decisionRefBinding") or "latest").strip()
        if binding not in BINDINGS:
            self.raise_validation_exception(
                f"camunda:decisionRefBinding {binding!r} is not supported; use latest, "
                "deployment or version"
            )
        if binding != "version":
            return None
        text = (self._camunda("decisionRefVersion") or "").strip()
        if not text.isdigit() or int(text) < 1:
            self.raise_validation_exception(
                'camunda:decisionRefBinding="version" needs camunda:decisionRefVersion, '
                f"a version number from 1 (got {text!r})"
            )
        return int(text)

    def _camunda(self, attribute: str) -> str | None:
        return _attribute(self.node, attribute)

    @staticmethod
    def get_decision_ref(node: Any) -> str:
        """The decision a task names (SpiffWorkflow's parser asks, to list dependencies)."""
        return _attribute(node, "decisionRef") or ""


def pinned_refs(tree: etree._ElementTree) -> list[tuple[str, int]]:
    """`(decisionRef, decisionRefVersion)` of each business rule task bound to one version."""
    pinned = []
    for task in tree.getroot().iter(BPMN + "businessRuleTask"):
        binding = (_attribute(task, "decisionRefBinding") or "").strip()
        version = (_attribute(task, "decisionRefVersion") or "").strip()
        ref = (_attribute(task, "decisionRef") or "").strip()
        if binding == "version" and ref and version.isdigit():
            pinned.append((ref, int(version)))
    return pinned


def _attribute(node: Any, name: str) -> str | None:
    # Activiti attributes were renamed to camunda: when the file was read (validation.parse_xml).
    value = node.get(CAMUNDA + name)
    return None if value is None else str(value)
