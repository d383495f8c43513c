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
  `variables`, `businessKey`, `local`);
- `retry_cycle` (only when present): the `camunda:failedJobRetryTimeCycle` text, checked at
  parse time (see `retry_cycles`);
- `execution_listeners`, `task_listeners`, `take_listeners` (the outgoing flows' listeners by
  target id) and `fields` (only when present): see `listener_parsing`. A process's own
  listeners are on its spec as `flowdesk_listeners`;
- `script_format` (only on script tasks that set it): `scriptFormat`, lower case;
- `potential_owners` (only on user tasks with a BPMN `potentialOwner`): its candidate user and
  group expressions, `{"users": [...], "groups": [...]}`; a `humanPerformer` becomes
  `camunda.assignee` (see `resource_assignments`).
"""

from __future__ import annotations

import copy
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, full_tag
from SpiffWorkflow.bpmn.parser.event_parsers import (
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    ReceiveTaskParser,
    SendTaskParser,
)
from SpiffWorkflow.bpmn.parser.task_parsers import SubprocessParser
from SpiffWorkflow.bpmn.parser.util import first
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    BoundaryEvent,
    IntermediateCatchEvent,
    ReceiveTask,
    SendTask,
    StartEvent,
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

from flowdesk.engine.dmn.registry import DecisionRegistry
from flowdesk.engine.dmn.task import BusinessRuleTaskParser, FlowdeskBusinessRuleTask
from flowdesk.engine.languages import timer_texts
from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.scripts import feel_scripts, script_languages
from flowdesk.engine.spiff import (
    activity_splits,
    external_work,
    gateway_flows,
    implicit_ends,
    listener_parsing,
    retry_cycles,
    start_events,
    timer_events,
    triggers,
)
from flowdesk.engine.spiff.compensation import (
    CompensationProcessParser,
    configure_throw,
    event_spec_class,
)
from flowdesk.engine.spiff.multi_instance import with_camunda_loops
from flowdesk.engine.spiff.script_engine import IMPLEMENTATION_ATTRIBUTES
from flowdesk.engine.spiff.specs import (
    ErrorDefinition,
    EscalationDefinition,
    EventSubprocess,
    FlowdeskCallActivity,
    FlowdeskServiceTask,
    MessageDefinition,
    SignalDefinition,
)
from flowdesk.engine.validation import resource_assignments

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
        extensions.update(listener_parsing.parse_element(node, getattr(self, "filename", None)))
        if node.get("scriptFormat") is not None:
            # A script task's language: the script engine runs a `juel` script as EL.
            extensions["script_format"] = node.get("scriptFormat").strip().lower()
        _with_camunda_aliases(extensions["camunda"])
        if etree.QName(node).localname == "userTask":
            _with_resource_assignments(extensions, resource_assignments.read(node))
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
        cycle = _child(elements, "failedJobRetryTimeCycle", _CAMUNDA)
        if cycle is not None:
            extensions["retry_cycle"] = self._retry_cycle(cycle)
        return extensions

    def _retry_cycle(self, node: Any) -> str:
        """`camunda:failedJobRetryTimeCycle`, checked here so that deploy names a bad one."""
        text = (node.text or "").strip()
        try:
            retry_cycles.parse(text)
        except ValueError as err:
            raise ValidationException(
                str(err), node=self.node, file_name=getattr(self, "filename", None)
            ) from err
        return text


def _with_resource_assignments(
    extensions: dict[str, Any], found: resource_assignments.ResourceAssignments
) -> None:
    """A user task's `humanPerformer` and `potentialOwner`, as Camunda 7 reads them."""
    if found.assignee is not None and "assignee" not in extensions["camunda"]:
        extensions["camunda"]["assignee"] = found.assignee
    if found.users or found.groups:
        extensions["potential_owners"] = found.as_extension()


def _with_camunda_aliases(camunda: dict[str, str]) -> None:
    """Camunda 7's older attribute names, read as its `BpmnParse` reads them.

    `camunda:async="true"` is asyncBefore (`isAsyncBefore` accepts either), and
    `camunda:resultVariableName` is `resultVariable` when that is absent (`parseResultVariable`).
    """
    if camunda.get("async") == "true":
        camunda["asyncBefore"] = "true"
    if "resultVariable" not in camunda and "resultVariableName" in camunda:
        camunda["resultVariable"] = camunda["resultVariableName"]


class _CamundaEventMixin(CamundaEventDefinitionParser):  # type: ignore[misc]  # Spiff is untyped
    """Camunda timer texts and Camunda-style messages (variables merge into the instance)."""

    def parse_timer_event(self, event: Any) -> Any:
        name = self.node.get("name", self.node.get("id"))
        description = self.get_event_description(event)
        element_id = self.node.get("id")
        for tag in ("timeDate", "timeDuration", "timeCycle"):
            text_node = first(self.xpath(f".//bpmn:{tag}"))
            if text_node is not None:
                text = timer_texts.python_timer_text(text_node.text or "", element_id=element_id)
                return timer_events.make(
                    tag, name, text, description=description, **_timer_role(self.node)
                )
        raise ValidationException(
            "timer has no timeDate, timeDuration or timeCycle",
            node=self.node,
            file_name=self.filename,
        )

    def parse_message_event(self, message_event: Any) -> Any:
        parsed = super().parse_message_event(message_event)
        return MessageDefinition(
            parsed.name,
            parsed.correlation_properties,
            parsed.expression,
            parsed.result_var,
            service=self._message_service(message_event),
        )

    def _message_service(self, definition: Any) -> dict[str, Any] | None:
        """The service a message throw event runs instead of sending (see MessageDefinition).

        Camunda reads the implementation and its `camunda:field`s from the message event
        definition, and the `camunda:properties` from the event.
        """
        if etree.QName(self.node).localname not in ("endEvent", "intermediateThrowEvent"):
            return None
        camunda = {
            key[len(_CAMUNDA) :]: value
            for key, value in definition.attrib.items()
            if key.startswith(_CAMUNDA)
        }
        if not any(camunda.get(a) for a in (*IMPLEMENTATION_ATTRIBUTES, "type")):
            return None
        _with_camunda_aliases(camunda)
        holder = _child(definition, "extensionElements")
        fields = listener_parsing.parse_fields(
            definition if holder is None else holder, self.filename
        )
        return {
            "camunda": camunda,
            "fields": fields,
            "properties": self.parse_extensions()["properties"],
        }

    def parse_conditional_event(self, event: Any) -> Any:
        parsed = super().parse_conditional_event(event)
        if not start_events.is_process_start(self.node):
            return parsed
        return start_events.ProcessStartCondition(parsed.expression, description=parsed.description)

    def parse_signal_event(self, signal_event: Any) -> Any:
        parsed = super().parse_signal_event(signal_event)
        return SignalDefinition(parsed.name, description=parsed.description)

    def parse_error_event(self, error_event: Any) -> Any:
        ref = error_event.get("errorRef")
        if ref and ref not in self.process_parser.parser.errors:
            # Camunda 7 uses an errorRef that names no bpmn:error as the error code itself.
            name, code = ref, ref
            description = self.get_event_description(error_event)
        else:
            parsed = super().parse_error_event(error_event)
            name, code, description = parsed.name, parsed.code, parsed.description
        error = first(self.doc_xpath(f'.//bpmn:error[@id="{ref}"]')) if ref else None
        return ErrorDefinition(
            name,
            code,
            message=error.get(f"{_CAMUNDA}errorMessage") if error is not None else None,
            code_variable=error_event.get(f"{_CAMUNDA}errorCodeVariable"),
            message_variable=error_event.get(f"{_CAMUNDA}errorMessageVariable"),
            description=description,
        )

    def parse_escalation_event(self, escalation_event: Any) -> Any:
        parsed = super().parse_escalation_event(escalation_event)
        return EscalationDefinition(
            parsed.name,
            parsed.code,
            code_variable=escalation_event.get(f"{_CAMUNDA}escalationCodeVariable"),
            description=parsed.description,
        )

    def get_event_definition(self, xpaths: list[str]) -> Any:
        # Spiff 3.2 reads no error or escalation start events (an event sub-process started by
        # one would run at once, as if it had a none start) and no signal end events.
        extra = {
            "startEvent": [ERROR_EVENT_XPATH, ESCALATION_EVENT_XPATH],
            "endEvent": [SIGNAL_EVENT_XPATH],
        }.get(etree.QName(self.node).localname, [])
        return super().get_event_definition([*xpaths, *(x for x in extra if x not in xpaths)])

    def create_task(self) -> Any:
        if self.xpath("./bpmn:cancelEventDefinition") and self.node.get("attachedToRef"):
            attached = self.process_parser.get_node_by_id(self.node.get("attachedToRef"))
            if (
                attached is not None
                and _child(attached, "multiInstanceLoopCharacteristics") is not None
            ):
                raise ValidationException(
                    f"cancel boundary event {self.bpmn_id!r} is attached to a multi-instance "
                    "transaction, which flowdesk (SpiffWorkflow 3.2) cannot cancel as a whole; "
                    "put the multi-instance activity inside the transaction",
                    node=self.node,
                    file_name=self.filename,
                )
        # SpiffWorkflow 3.2 has no compensation: it reads a compensation event as a none event.
        # flowdesk's compensation throws (and cancel end events, which compensate their
        # transaction first) are built by `compensation`.
        is_cancel_end = self.xpath("./bpmn:cancelEventDefinition") and (
            etree.QName(self.node).localname == "endEvent"
        )
        if self.xpath("./bpmn:compensateEventDefinition") or is_cancel_end:
            self.spec_class = event_spec_class(self)
            task = super().create_task()
            configure_throw(task, self.node)
            return task
        return super().create_task()


def _timer_role(node: Any) -> dict[str, Any]:
    """Where a timer event sits, which decides how it fires (see `timer_events`)."""
    kind = etree.QName(node).localname
    parent = node.getparent()
    in_process = parent is not None and etree.QName(parent).localname == "process"
    starts = [c for c in parent if c.tag == node.tag] if parent is not None else [node]
    return {
        "element_id": node.get("id"),
        "starts_process": kind == "startEvent" and in_process,
        "sole_start": len(starts) == 1,
        # Camunda: a cycle repeats on a non-interrupting boundary event or event sub-process
        # start; an interrupting one, or an intermediate timer, fires once.
        "repeats": (kind == "boundaryEvent" and node.get("cancelActivity") == "false")
        or (kind == "startEvent" and not in_process and node.get("isInterrupting") == "false"),
    }


def _with(mixins: tuple[type, ...], base: type) -> type:
    return type(f"Flowdesk{base.__name__}", (*mixins, base), {})


def _call_activity_parser() -> type:
    class CallActivityParser(_CamundaExtensionsMixin, CamundaTaskParser):  # type: ignore[misc]
        def create_task(self) -> Any:
            called = self.node.get("calledElement") or ""
            return self.spec_class(self.spec, self.bpmn_id, called, **self.bpmn_attributes)

    return CallActivityParser


def _send_task_parser(base: type) -> type:
    class SendTaskParser(base):  # type: ignore[misc]
        """A send task with a Camunda implementation runs it, as a service task would."""

        def create_task(self) -> Any:
            if any(self.node.get(f"{_CAMUNDA}{a}") for a in IMPLEMENTATION_ATTRIBUTES):
                return FlowdeskServiceTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
            return super().create_task()

    return SendTaskParser


def _business_rule_task_parser(base: type) -> type:
    class BusinessRuleTaskParser(base):  # type: ignore[misc]
        """Without a `decisionRef`, a Camunda implementation runs as a service task's would
        (`BpmnParse.parseBusinessRuleTask` falls back to `parseServiceTaskLike`)."""

        def create_task(self) -> Any:
            camunda = (f"{_CAMUNDA}{a}" for a in (*IMPLEMENTATION_ATTRIBUTES, "type"))
            if not self.node.get(f"{_CAMUNDA}decisionRef") and any(
                self.node.get(a) for a in camunda
            ):
                return FlowdeskServiceTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
            return super().create_task()

    return BusinessRuleTaskParser


def _service_task_parser() -> type:
    class ServiceTaskParser(_CamundaExtensionsMixin, CamundaTaskParser):  # type: ignore[misc]
        def create_task(self) -> Any:
            return self.spec_class(self.spec, self.bpmn_id, **self.bpmn_attributes)

    return ServiceTaskParser


_EVENT_PARSERS = {
    "startEvent": (CamundaStartEventParser, StartEvent),
    "endEvent": (CamundaEndEventParser, external_work.EndEvent),
    "intermediateCatchEvent": (CamundaIntermediateCatchEventParser, IntermediateCatchEvent),
    "intermediateThrowEvent": (
        CamundaIntermediateThrowEventParser,
        external_work.IntermediateThrowEvent,
    ),
    "boundaryEvent": (CamundaBoundaryEventParser, BoundaryEvent),
    # Spiff's Camunda parser leaves these two to the plain BPMN parser, whose messages never
    # match a Camunda message: a receive task would wait forever.
    "receiveTask": (ReceiveTaskParser, ReceiveTask),
    "sendTask": (SendTaskParser, SendTask),
}


def _subprocess_parser(base: type) -> type:
    class SubProcessParser(base):  # type: ignore[misc]
        """Embedded sub-processes, and event sub-processes that know if they interrupt."""

        def create_task(self) -> Any:
            if self.node.get("triggeredByEvent") != "true":
                return super().create_task()
            start = _child(self.node, "startEvent")
            interrupting = start is None or start.get("isInterrupting", "true") != "false"
            return EventSubprocess(
                self.spec,
                self.bpmn_id,
                SubprocessParser.get_subprocess_spec(self),
                interrupting=interrupting,
                **self.bpmn_attributes,
            )

    return SubProcessParser


_GATEWAY_TAGS = ("exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway")


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
    classes[full_tag("sendTask")] = (_send_task_parser(classes[full_tag("sendTask")][0]), SendTask)
    classes[full_tag("receiveTask")] = (
        triggers.receive_task_parser(classes[full_tag("receiveTask")][0]),
        ReceiveTask,
    )
    classes[full_tag("businessRuleTask")] = (
        _business_rule_task_parser(_with((_CamundaExtensionsMixin,), BusinessRuleTaskParser)),
        FlowdeskBusinessRuleTask,
    )
    for gateway in _GATEWAY_TAGS:  # plain BPMN parsers, which keep no Camunda listeners
        parser_cls, spec_cls = BpmnParser.PARSER_CLASSES[full_tag(gateway)]
        classes[full_tag(gateway)] = (_with((_CamundaExtensionsMixin,), parser_cls), spec_cls)
    subprocess_parser, subprocess_spec = classes[full_tag("subProcess")]
    classes[full_tag("subProcess")] = (_subprocess_parser(subprocess_parser), subprocess_spec)
    classes[full_tag("callActivity")] = (_call_activity_parser(), FlowdeskCallActivity)
    classes.update(activity_splits.PARSER_CLASSES)
    return classes


class FlowdeskParser(CamundaParser):  # type: ignore[misc]  # Spiff is untyped
    """A `CamundaParser` that keeps every Camunda 7 setting flowdesk runs."""

    OVERRIDE_PARSER_CLASSES = with_camunda_loops(_override_classes())
    PROCESS_PARSER_CLASS = CompensationProcessParser

    def __init__(self) -> None:
        super().__init__()
        self.decisions = DecisionRegistry()

    def add_dmn_xml(
        self, node: Any, filename: str | None = None, pinned: tuple[str, int] | None = None
    ) -> None:
        """Read a DMN file with flowdesk's DMN engine (SpiffWorkflow's is not used).

        `pinned` adds the file as one version of one decision, for business rule tasks bound
        to that version (`camunda:decisionRefBinding="version"`).
        """
        self.decisions.add(node, filename or "", pinned=pinned)

    def add_bpmn_xml(self, bpmn: Any, filename: str | None = None) -> None:
        bpmn = _without_data_stores(_without_reserved_ids(bpmn))
        bpmn = gateway_flows.with_true_conditions(bpmn)  # before JUEL conditions are marked
        bpmn = script_languages.with_marked_javascript(bpmn)
        bpmn = script_languages.with_marked_juel_conditions(bpmn)
        bpmn = feel_scripts.mark_feel_texts(bpmn)  # FEEL scripts/conditions: see feel_scripts
        bpmn = _with_links_as_flows(bpmn, filename)
        bpmn = implicit_ends.with_implicit_ends(bpmn)  # paths without end events
        super().add_bpmn_xml(activity_splits.with_activity_splits(bpmn), filename)

    def get_document_positions(self, root: Any) -> dict[str, Any]:
        """No diagram positions: outgoing sequence flows keep their document order.

        SpiffWorkflow 3.2 orders a node's outgoing flows by the diagram's y coordinate of their
        targets, and an exclusive gateway takes the first flow whose condition holds, so with
        two true conditions the one drawn higher won. Camunda 7 tries them in the order the
        file lists them (`BpmnParse` creates a gateway's transitions in document order), and
        so does flowdesk: without positions Spiff keeps the order it read them in.
        """
        return {}

    def get_spec(self, process_id: str, required: bool = True) -> Any:
        spec = super().get_spec(process_id, required)
        _restore_reserved_ids(spec)
        implicit_ends.hide_implicit_ends(spec)
        process_parser = self.process_parsers.get(process_id)
        if spec is not None and process_parser is not None:
            # The process's own start/end listeners; Spiff's process spec has no extensions.
            spec.flowdesk_listeners = listener_parsing.parse_process(
                process_parser.node, process_parser.filename
            )
        return spec

    def get_subprocess_specs(
        self, name: str, specs: Any = None, require_call_activity_specs: bool = True
    ) -> Any:
        found = super().get_subprocess_specs(name, specs, require_call_activity_specs)
        for spec in found.values():
            _restore_reserved_ids(spec)
            implicit_ends.hide_implicit_ends(spec)
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


def _with_links_as_flows(root: Any, filename: str | None) -> Any:
    """Link events become the sequence flow they stand for.

    SpiffWorkflow 3.2 does not know link events: it reads a link throw event as a none event
    with no way out, so the path would silently end. A link is only a drawing aid for a long
    sequence flow, so each throw gets a flow to the catch event of the same name in the same
    process or sub-process.
    """
    throws = [
        event
        for event in root.iter(f"{BPMN}intermediateThrowEvent")
        if _child(event, "linkEventDefinition") is not None
    ]
    if not throws:
        return root
    root = copy.deepcopy(root)
    for throw in root.iter(f"{BPMN}intermediateThrowEvent"):
        link = _child(throw, "linkEventDefinition")
        if link is None:
            continue
        container = throw.getparent()
        name = link.get("name") or throw.get("name")
        targets = [
            catch
            for catch in container.iterchildren(f"{BPMN}intermediateCatchEvent")
            if (found := _child(catch, "linkEventDefinition")) is not None
            and (found.get("name") or catch.get("name")) == name
        ]
        if len(targets) != 1:
            raise ValidationException(
                f"link event {throw.get('id')!r} throws link {name!r}, but "
                f"{'no' if not targets else len(targets)} link catch events in the same "
                "process or sub-process have this name (exactly one must)",
                node=throw,
                file_name=filename,
            )
        flow_id = f"{throw.get('id')}__link"
        flow = etree.SubElement(container, f"{BPMN}sequenceFlow")
        flow.set("id", flow_id)
        flow.set("sourceRef", throw.get("id"))
        flow.set("targetRef", targets[0].get("id"))
        etree.SubElement(throw, f"{BPMN}outgoing").text = flow_id
        etree.SubElement(targets[0], f"{BPMN}incoming").text = flow_id
    return root


def _without_data_stores(root: Any) -> Any:
    """The file without its data stores and the data associations that read or write them.

    Camunda 7 deploys data stores as documentation and ignores them when it runs a process.
    SpiffWorkflow 3.2 instead rejects a `dataStore` that has no Python implementation
    registered under its name, and any data association to a reference of one.
    """
    references = {r.get("id") for r in root.iter(f"{BPMN}dataStoreReference")}
    stores = list(root.iter(f"{BPMN}dataStore"))
    if not stores and not references:
        return root
    root = copy.deepcopy(root)
    doomed = list(root.iter(f"{BPMN}dataStore"))
    for tag in ("dataInputAssociation", "dataOutputAssociation"):
        for association in root.iter(f"{BPMN}{tag}"):
            ends = {
                (end.text or "").strip()
                for end in association
                if end.tag in (f"{BPMN}sourceRef", f"{BPMN}targetRef")
            }
            if ends & references:
                doomed.append(association)
    for element in doomed:
        element.getparent().remove(element)
    return root
