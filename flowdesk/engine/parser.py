"""SpiffWorkflow's Camunda parser, taught the parts of Camunda 7 it does not read.

SpiffWorkflow 3.2's `CamundaParser` ignores `camunda:assignee`, `candidateGroups`,
`candidateUsers`, `dueDate`, `priority`, `inputOutput`, service-task implementations and a
`formData` without `formKey`, and it evaluates timer texts as Python. Rather than patch Spiff,
each Camunda parser class gets a subclass whose `parse_extensions` collects those settings into
`spec.extensions` (a plain dict, the one place Spiff lets a spec carry extra data), and whose
event parsing understands Camunda timer texts and variable-merging messages.

The extensions dict of every task spec has these keys:
- `camunda`: the element's `camunda:*` attributes, e.g. `{"assignee": "${starter}"}`;
- `properties`: `camunda:properties` of this element only (Spiff's `.//` also took nested ones);
- `inputs` / `outputs`: `camunda:inputOutput` parameters as `[name, value-expression-or-None]`;
- `form_fields`: `camunda:formData` fields as dicts (see `_form_fields`);
- `call_in` / `call_out` (only when present): a call activity's `camunda:in`/`camunda:out`
  mappings, each the element's attributes (`source`, `sourceExpression`, `target`,
  `variables`, `businessKey`, `local`).
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.util import first
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    EndEvent,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    StartEvent,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaEndEventParser,
    CamundaEventDefinitionParser,
    CamundaIntermediateCatchEventParser,
    CamundaIntermediateThrowEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser

from flowdesk.engine import timers
from flowdesk.engine.specs import FlowdeskCallActivity, FlowdeskServiceTask, MessageDefinition

_CAMUNDA = "{" + CAMUNDA_MODEL_NS + "}"


class _CamundaExtensionsMixin:
    """Reads the Camunda 7 attributes and extension elements Spiff leaves out."""

    node: Any

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        node = self.node if node is None else node
        extensions: dict[str, Any] = {
            "camunda": {
                key[len(_CAMUNDA) :]: value
                for key, value in node.attrib.items()
                if key.startswith(_CAMUNDA)
            },
            "properties": {},
            "inputs": [],
            "outputs": [],
            "form_fields": [],
        }
        elements = _child(node, "extensionElements")
        if elements is None:
            return extensions
        for direction in ("in", "out"):
            mappings = [dict(e.attrib) for e in elements if e.tag == f"{_CAMUNDA}{direction}"]
            if mappings:
                extensions[f"call_{direction}"] = mappings
        properties = _child(elements, "properties", _CAMUNDA)
        if properties is not None:
            for prop in properties:
                if prop.tag == f"{_CAMUNDA}property" and prop.get("name"):
                    extensions["properties"][prop.get("name")] = prop.get("value")
        io = _child(elements, "inputOutput", _CAMUNDA)
        if io is not None:
            for param in io:
                kind = {f"{_CAMUNDA}inputParameter": "inputs"}.get(param.tag, "outputs")
                extensions[kind].append([param.get("name"), _parameter_value(param)])
        form = _child(elements, "formData", _CAMUNDA)
        if form is not None:
            extensions["form_fields"] = _form_fields(form)
        return extensions


class _CamundaEventMixin(CamundaEventDefinitionParser):  # type: ignore[misc]  # Spiff is untyped
    """Camunda timer texts and Camunda-style messages (variables merge into the instance)."""

    def parse_timer_event(self, event: Any) -> Any:
        name = self.node.get("name", self.node.get("id"))
        description = self.get_event_description(event)
        element_id = self.node.get("id")
        for tag, cls in (
            ("timeDate", TimeDateEventDefinition),
            ("timeDuration", DurationTimerEventDefinition),
            ("timeCycle", CycleTimerEventDefinition),
        ):
            text_node = first(self.xpath(f".//bpmn:{tag}"))
            if text_node is not None:
                text = timers.python_timer_text(text_node.text or "", element_id=element_id)
                return cls(name, text, description=description)
        raise ValidationException(
            "timer has no timeDate, timeDuration or timeCycle",
            node=self.node,
            file_name=self.filename,
        )

    def parse_message_event(self, message_event: Any) -> Any:
        parsed = super().parse_message_event(message_event)
        return MessageDefinition(
            parsed.name, parsed.correlation_properties, parsed.expression, parsed.result_var
        )


def _with(mixins: tuple[type, ...], base: type) -> type:
    return type(f"Flowdesk{base.__name__}", (*mixins, base), {})


def _call_activity_parser() -> type:
    class CallActivityParser(_CamundaExtensionsMixin, CamundaTaskParser):  # type: ignore[misc]
        def create_task(self) -> Any:
            called = self.node.get("calledElement") or ""
            return self.spec_class(self.spec, self.bpmn_id, called, **self.bpmn_attributes)

    return CallActivityParser


def _service_task_parser() -> type:
    class ServiceTaskParser(_CamundaExtensionsMixin, CamundaTaskParser):  # type: ignore[misc]
        def create_task(self) -> Any:
            return self.spec_class(self.spec, self.bpmn_id, **self.bpmn_attributes)

    return ServiceTaskParser


_EVENT_PARSERS = {
    "startEvent": (CamundaStartEventParser, StartEvent),
    "endEvent": (CamundaEndEventParser, EndEvent),
    "intermediateCatchEvent": (CamundaIntermediateCatchEventParser, IntermediateCatchEvent),
    "intermediateThrowEvent": (CamundaIntermediateThrowEventParser, IntermediateThrowEvent),
    "boundaryEvent": (CamundaBoundaryEventParser, BoundaryEvent),
}


def _override_classes() -> dict[str, tuple[type, type]]:
    classes: dict[str, tuple[type, type]] = {}
    for tag, (parser_cls, spec_cls) in CamundaParser.OVERRIDE_PARSER_CLASSES.items():
        classes[tag] = (_with((_CamundaExtensionsMixin,), parser_cls), spec_cls)
    for name, (parser_cls, spec_cls) in _EVENT_PARSERS.items():
        classes[full_tag(name)] = (
            _with((_CamundaExtensionsMixin, _CamundaEventMixin), parser_cls),
            spec_cls,
        )
    classes[full_tag("serviceTask")] = (_service_task_parser(), FlowdeskServiceTask)
    classes[full_tag("callActivity")] = (_call_activity_parser(), FlowdeskCallActivity)
    return classes


class FlowdeskParser(CamundaParser):  # type: ignore[misc]  # Spiff is untyped
    """A `CamundaParser` that keeps every Camunda 7 setting flowdesk runs."""

    OVERRIDE_PARSER_CLASSES = _override_classes()

    def add_bpmn_xml(self, bpmn: Any, filename: str | None = None) -> None:
        super().add_bpmn_xml(_without_reserved_ids(bpmn), filename)

    def get_spec(self, process_id: str, required: bool = True) -> Any:
        spec = super().get_spec(process_id, required)
        _restore_reserved_ids(spec)
        return spec

    def get_subprocess_specs(
        self, name: str, specs: Any = None, require_call_activity_specs: bool = True
    ) -> Any:
        found = super().get_subprocess_specs(name, specs, require_call_activity_specs)
        for spec in found.values():
            _restore_reserved_ids(spec)
        return found


# SpiffWorkflow 3.2 names its own task specs "Start", "End" and "Root" and keys specs by BPMN
# id, so an element with such an id silently replaces one of them. Such elements are renamed
# for Spiff, and their specs get their real id back as `bpmn_id` after parsing.
_RESERVED_IDS = frozenset({"Start", "End", "Root"})
_RENAMED_SUFFIX = "__flowdesk"
_REFERENCE_ATTRIBUTES = ("id", "sourceRef", "targetRef", "attachedToRef", "default", "bpmnElement")
_REFERENCE_TEXTS = frozenset({"incoming", "outgoing", "flowNodeRef"})


def _without_reserved_ids(root: Any) -> Any:
    if not any(
        element.get("id") in _RESERVED_IDS
        for element in root.iter()
        if isinstance(element.tag, str)
    ):
        return root
    root = copy.deepcopy(root)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in _REFERENCE_ATTRIBUTES:
            if element.get(attribute) in _RESERVED_IDS:
                element.set(attribute, element.get(attribute) + _RENAMED_SUFFIX)
        if (
            etree.QName(element).localname in _REFERENCE_TEXTS
            and (element.text or "").strip() in _RESERVED_IDS
        ):
            element.text = element.text.strip() + _RENAMED_SUFFIX
    return root


def _restore_reserved_ids(spec: Any) -> None:
    if spec is None:  # a called process that is not available to this parser
        return
    for task_spec in spec.task_specs.values():
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id and bpmn_id.endswith(_RENAMED_SUFFIX):
            task_spec.bpmn_id = bpmn_id[: -len(_RENAMED_SUFFIX)]


def _child(node: Any, local_name: str, ns: str | None = None) -> Any:
    for child in node:
        if not isinstance(child.tag, str):
            continue
        tag = etree.QName(child)
        if tag.localname == local_name and (ns is None or child.tag.startswith(ns)):
            return child
    return None


def _parameter_value(param: Any) -> Any:
    """A Camunda input/output parameter: text, `camunda:list` or `camunda:map`."""
    for child in param:
        if child.tag == f"{_CAMUNDA}list":
            return {"list": [item.text or "" for item in child if item.tag == f"{_CAMUNDA}value"]}
        if child.tag == f"{_CAMUNDA}map":
            return {
                "map": {e.get("key"): e.text or "" for e in child if e.tag == f"{_CAMUNDA}entry"}
            }
        if child.tag == f"{_CAMUNDA}script":
            return {"script": child.text or "", "format": child.get("scriptFormat")}
    text = param.text
    return None if text is None or not text.strip() else text.strip()


def _form_fields(form: Any) -> list[dict[str, Any]]:
    fields = []
    for node in form:
        if node.tag != f"{_CAMUNDA}formField":
            continue
        field: dict[str, Any] = {
            "id": node.get("id"),
            "label": node.get("label") or node.get("id"),
            "type": node.get("type") or "string",
            "default": node.get("defaultValue"),
            "enum": [],
            "constraints": [],
            "properties": {},
        }
        for child in node:
            if child.tag == f"{_CAMUNDA}value":
                field["enum"].append([child.get("id"), child.get("name") or child.get("id")])
            elif child.tag == f"{_CAMUNDA}validation":
                field["constraints"] = [
                    [c.get("name"), c.get("config")]
                    for c in child
                    if c.tag == f"{_CAMUNDA}constraint"
                ]
            elif child.tag == f"{_CAMUNDA}properties":
                field["properties"] = {
                    p.get("id"): p.get("value") for p in child if p.tag == f"{_CAMUNDA}property"
                }
        fields.append(field)
    return fields
