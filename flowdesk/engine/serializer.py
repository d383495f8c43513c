"""Workflow state as JSON, without the spec.

SpiffWorkflow's serializer embeds the whole parsed spec (and every called process's spec) in
each workflow's JSON. flowdesk stores the BPMN once per deployed version and caches its parsed
spec, so an instance's state keeps only the spec's name: smaller rows, faster loads, and one
source of truth for the model.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG

# Bump when the shape of the stored JSON changes; the store keeps it beside each state.
SERIALIZER_VERSION = "flowdesk-1"


class _InstanceOnlyConverter(BpmnWorkflowConverter):  # type: ignore[misc]  # Spiff is untyped
    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct: dict[str, Any] = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["spec"] = workflow.spec.name
        dct["subprocess_specs"] = sorted(workflow.subprocess_specs)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(
        self,
        dct: dict[str, Any],
        spec: Any = None,
        subprocess_specs: dict[str, Any] | None = None,
        **_: Any,
    ) -> Any:
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(DEFAULT_CONFIG)
    config[BpmnWorkflow] = _InstanceOnlyConverter
    return BpmnWorkflowSerializer(
        BpmnWorkflowSerializer.configure(config), version=SERIALIZER_VERSION
    )


class InstanceSerializer:
    """Dump and load a workflow's state; the spec is given back on load."""

    _serializer = _make_serializer()

    @classmethod
    def dump(cls, workflow: Any) -> str:
        return cls._serializer.serialize_json(workflow)  # type: ignore[no-any-return]

    @classmethod
    def load(cls, state: str, spec: Any, subprocess_specs: dict[str, Any]) -> Any:
        dct = json.loads(state)
        dct.pop(cls._serializer.VERSION_KEY, None)
        return cls._serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
