"""Models Camunda 7's `BpmnParse` refuses, which flowdesk would otherwise have run.

A model Camunda 7 refuses never runs there, so flowdesk refuses it too, with Camunda's
reason (docs/camunda-refusals.md lists every refusal of `BpmnParse` and where flowdesk makes
it). The checks here cover user tasks' assignments and forms, send tasks, end events, boundary
events, signal and escalation references, call activity variable mappings, sequence flows
that Camunda does not allow, input/output mappings where Camunda has none, and message start
names. Each names the `BpmnParse` method whose refusal it repeats.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property

from lxml import etree

from flowdesk.engine.languages import expressions
from flowdesk.engine.languages.bpmn_namespaces import BPMN, BPMN_NS, CAMUNDA_NS
from flowdesk.engine.validation import resource_assignments
from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase
from flowdesk.engine.validation.elements import _bpmn_name, _camunda, _owner_id
from flowdesk.errors import ExpressionError

_C = "{" + CAMUNDA_NS + "}"
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
_DC = "{http://www.omg.org/spec/DD/20100524/DC}"
_OMG_DI = "{http://www.omg.org/spec/DD/20100524/DI}"
# Camunda's DefaultTaskFormHandler.ALLOWED_FORM_REF_BINDINGS.
_FORM_REF_BINDINGS = ("deployment", "latest", "version")
# What makes Camunda run an element as a service task (isServiceTaskLike).
_IMPLEMENTATION_ATTRIBUTES = ("class", "delegateExpression", "expression", "type")
# Activities an escalation boundary event may sit on (parseBoundaryEvents).
_ESCALATION_HOSTS = frozenset(
    {"subProcess", "transaction", "adHocSubProcess", "callActivity", "userTask"}
)


class _CamundaRefusals(_BpmnCheckBase):
    """The refusals of `BpmnParse` the other checks do not make (see the module docstring)."""

    def check_camunda_refusals(self, process: etree._Element) -> None:
        escalation_catchers: dict[tuple[str, str], list[tuple[etree._Element, str | None]]] = (
            defaultdict(list)
        )
        for element in process.iter(etree.Element):
            name = _bpmn_name(element)
            if name == "userTask":
                self._check_assignments(element)
            if name is not None and (_camunda(element, "formKey") or _camunda(element, "formRef")):
                self._check_form_reference(element)
            if name == "sendTask":
                self._check_send_task(element)
            elif name == "endEvent":
                self._check_end_event(element)
            elif name == "boundaryEvent":
                self._check_boundary_event(element, escalation_catchers)
            elif name == "startEvent":
                self._check_start_event(element, escalation_catchers)
            elif name == "signalEventDefinition" and not element.get("signalRef"):
                owner = _owner_id(element)
                self.add(
                    element,
                    owner,
                    f"the signal event definition of {owner!r} has no signalRef; Camunda 7 "
                    "refuses it ('signalEventDefinition does not have required property "
                    "'signalRef''): name the bpmn:signal",
                )
            elif name == "callActivity":
                self._check_call_mappings(element)
                self._check_version_binding(element, "calledElement")
            elif name == "businessRuleTask":
                self._check_version_binding(element, "decisionRef")
            elif name == "property" and not element.get("name") and not element.get("id"):
                owner = _owner_id(element)
                self.add(
                    element,
                    owner,
                    f"a bpmn:property of {owner!r} has neither id nor name; Camunda 7 refuses it",
                )
            elif name == "sequenceFlow":
                self._check_flow(element)
            if name is not None:
                self._check_input_output(element, name)
        self._check_escalation_catchers(escalation_catchers)

    # -- user tasks (parseHumanPerformer, parseUserTaskCustomExtensions, parseFormDefinition)

    def _check_assignments(self, task: etree._Element) -> None:
        task_id = task.get("id")
        performers = task.findall(f"{BPMN}humanPerformer")
        if len(performers) > 1:
            self.add(
                task,
                task_id,
                f"user task {task_id!r} has {len(performers)} humanPerformer elements; Camunda 7 "
                "refuses more than one (a task has one assignee)",
            )
        elif performers and _camunda(task, "assignee") is not None:
            self.add(
                task,
                task_id,
                f"user task {task_id!r} names its assignee twice, in a humanPerformer and in "
                "camunda:assignee; Camunda 7 refuses it ('duplicate assignee declaration'): "
                "keep one",
            )
        found = resource_assignments.read(task)
        for text in (*found.performers, *found.users, *found.groups):
            if expressions.is_juel(text):
                self._check_value_text(task, task_id, text)

    def _check_value_text(self, task: etree._Element, task_id: str | None, text: str) -> None:
        try:
            expressions.translate_value(text, element_id=task_id)
        except ExpressionError as err:
            self.add(
                task,
                task_id,
                f"the resource assignment {text!r} of {task_id!r} cannot be translated: "
                f"{err.reason}",
            )

    def _check_form_reference(self, element: etree._Element) -> None:
        element_id = element.get("id")
        form_ref = _camunda(element, "formRef")
        if form_ref is None:
            return
        if _camunda(element, "formKey") is not None:
            self.add(
                element,
                element_id,
                f"{element_id!r} has both camunda:formKey and camunda:formRef; Camunda 7 "
                "refuses it ('only one of the attributes formKey and formRef is allowed')",
            )
        binding = _camunda(element, "formRefBinding")
        if binding not in _FORM_REF_BINDINGS:
            self.add(
                element,
                element_id,
                f"camunda:formRefBinding of {element_id!r} is {binding!r}; Camunda 7 refuses "
                f"a camunda:formRef without one of {list(_FORM_REF_BINDINGS)}",
            )

    # -- send tasks and end events (parseSendTask, parseEndEvents)

    def _check_send_task(self, task: etree._Element) -> None:
        if any(_camunda(task, a) is not None for a in _IMPLEMENTATION_ATTRIBUTES) or task.get(
            "messageRef"
        ):
            return  # a messageRef alone: flowdesk sends it (docs/events.md), Camunda refuses
        task_id = task.get("id")
        self.add(
            task,
            task_id,
            f"send task {task_id!r} has no implementation; Camunda 7 refuses it (one of "
            "camunda:class, delegateExpression, expression or type is mandatory on sendTask). "
            "Give it one, or a messageRef for flowdesk to send the message",
        )

    def _check_end_event(self, event: etree._Element) -> None:
        event_id = event.get("id")
        error = event.find(f"{BPMN}errorEventDefinition")
        if error is not None:
            reference = error.get("errorRef")
            if not reference:
                self.add(
                    error,
                    event_id,
                    f"error end event {event_id!r} has no errorRef; Camunda 7 refuses it "
                    "('errorRef' attribute is mandatory on error end event): name the "
                    "bpmn:error it throws",
                )
            else:
                declared = self._declared("error", reference)
                if declared is not None and not declared.get("errorCode"):
                    self.add(
                        error,
                        event_id,
                        f"error end event {event_id!r} throws error {reference!r}, which has no "
                        "errorCode; Camunda 7 refuses it ('errorCode' is mandatory on errors "
                        "referenced by throwing error event definitions)",
                    )
        cancel = event.find(f"{BPMN}cancelEventDefinition")
        parent = event.getparent()
        if cancel is not None and (parent is None or _bpmn_name(parent) != "transaction"):
            self.add(
                cancel,
                event_id,
                f"cancel end event {event_id!r} is not inside a transaction; Camunda 7 refuses "
                "it (end event with cancelEventDefinition only supported inside transaction "
                "subprocess)",
            )
        self._check_end_escalation(event)
        message = event.find(f"{BPMN}messageEventDefinition")
        if message is not None:
            self._check_message_throw_type(message, event_id)

    def _check_end_escalation(self, event: etree._Element) -> None:
        # findEscalationForEscalationEventDefinition, parseEndEvents: an escalation end event
        # needs an escalation with a code (event_checks does the intermediate throw events).
        definition = event.find(f"{BPMN}escalationEventDefinition")
        if definition is None:
            return
        event_id = event.get("id")
        reference = definition.get("escalationRef")
        if not reference:
            self.add(
                definition,
                event_id,
                f"escalation end event {event_id!r} has no escalationRef; Camunda 7 refuses "
                "it: name the bpmn:escalation it throws",
            )
            return
        declared = self._declared("escalation", reference)
        if declared is not None and declared.get("escalationCode") is None:
            self.add(
                definition,
                event_id,
                f"escalation end event {event_id!r} throws escalation {reference!r}, which "
                "has no escalationCode; Camunda 7 refuses it",
            )

    def _check_message_throw_type(self, definition: etree._Element, event_id: str | None) -> None:
        kind = _camunda(definition, "type")
        if kind is None or kind.lower() == "external":
            return
        self.add(
            definition,
            event_id,
            f"message event {event_id!r} has camunda:type={kind!r}: flowdesk runs a message "
            "throw event as a service task only with camunda:class, delegateExpression, "
            'expression, or type="external" with a topic',
        )

    # -- boundary events and escalation catchers (parseBoundaryEvents, addEscalationEventDefinition)

    def _check_boundary_event(
        self,
        event: etree._Element,
        catchers: dict[tuple[str, str], list[tuple[etree._Element, str | None]]],
    ) -> None:
        event_id = event.get("id")
        attached_to = event.get("attachedToRef")
        if not attached_to:
            self.add(
                event,
                event_id,
                f"boundary event {event_id!r} has no attachedToRef; Camunda 7 refuses it: "
                "attach it to an activity",
            )
            return
        escalation = event.find(f"{BPMN}escalationEventDefinition")
        if escalation is None:
            return
        host = self._node(attached_to)
        if host is not None and _bpmn_name(host) not in _ESCALATION_HOSTS:
            self.add(
                event,
                event_id,
                f"escalation boundary event {event_id!r} is attached to a "
                f"{_bpmn_name(host)}; Camunda 7 refuses it (an escalation boundary event "
                "should only be attached to a subprocess, a call activity or an user task)",
            )
        catchers[("boundary event", attached_to)].append((event, self._escalation_code(escalation)))

    def _check_start_event(
        self,
        event: etree._Element,
        catchers: dict[tuple[str, str], list[tuple[etree._Element, str | None]]],
    ) -> None:
        self._check_message_start_name(event)
        escalation = event.find(f"{BPMN}escalationEventDefinition")
        sub_process = event.getparent()
        if (
            escalation is None
            or sub_process is None
            or sub_process.get("triggeredByEvent") != "true"
        ):
            return
        scope = sub_process.getparent()
        scope_id = "" if scope is None else scope.get("id") or ""
        catchers[("event sub-process", scope_id)].append((event, self._escalation_code(escalation)))

    def _check_message_start_name(self, event: etree._Element) -> None:
        # ensureNoExpressionInMessageStartEvent: a start event's message name is fixed.
        definition = event.find(f"{BPMN}messageEventDefinition")
        reference = None if definition is None else definition.get("messageRef")
        message = self._declared("message", reference) if reference else None
        name = None if message is None else message.get("name")
        if name and expressions.is_juel(name):
            event_id = event.get("id")
            self.add(
                definition if definition is not None else event,
                event_id,
                f"start event {event_id!r} waits for message {name!r}, whose name is an "
                "expression; Camunda 7 refuses expressions in the name of a start event's message",
            )

    def _escalation_code(self, definition: etree._Element) -> str | None:
        reference = definition.get("escalationRef")
        declared = self._declared("escalation", reference) if reference else None
        return None if declared is None else declared.get("escalationCode")

    def _check_escalation_catchers(
        self, catchers: dict[tuple[str, str], list[tuple[etree._Element, str | None]]]
    ) -> None:
        """One catch-all escalation catcher per scope and kind, and no code caught twice.

        A catcher without a code catches every escalation, so Camunda 7 cannot tell which of
        two catchers an escalation goes to, and refuses the model.
        """
        for (kind, scope), found in catchers.items():
            seen: set[str] = set()
            catch_all = 0
            for event, code in found:
                event_id = event.get("id")
                clash = None
                if code is None:
                    catch_all += 1
                    if catch_all > 1 or seen:
                        clash = f"another escalation {kind} of the same scope"
                elif catch_all or code in seen:
                    clash = (
                        f"an escalation {kind} without escalation code"
                        if catch_all
                        else f"another escalation {kind} with escalationCode {code!r}"
                    )
                if code is not None:
                    seen.add(code)
                if clash is not None:
                    self.add(
                        event,
                        event_id,
                        f"escalation {kind} {event_id!r} catches what {clash} "
                        f"({scope!r}) already catches; Camunda 7 refuses it: give each "
                        "catcher its own escalationCode, or keep one without",
                    )

    # -- call activities (parseCallableElementProvider, strict validation as by default)

    def _check_call_mappings(self, call: etree._Element) -> None:
        call_id = call.get("id")
        extensions = call.find(f"{BPMN}extensionElements")
        if extensions is None:
            return
        for mapping in extensions:
            if mapping.tag not in (f"{_C}in", f"{_C}out"):
                continue
            if mapping.tag == f"{_C}in" and mapping.get("businessKey"):
                continue
            if mapping.get("variables") == "all":
                continue
            for problem in _mapping_problems(mapping):
                self.add(
                    mapping,
                    call_id,
                    f"camunda:{etree.QName(mapping).localname} of call activity {call_id!r}: "
                    f"{problem}; Camunda 7 refuses it",
                )

    def _check_version_binding(self, element: etree._Element, prefix: str) -> None:
        # parseVersion: binding "version" needs the version to bind to.
        if _camunda(element, f"{prefix}Binding") != "version":
            return
        if _camunda(element, f"{prefix}Version"):
            return
        element_id = element.get("id")
        self.add(
            element,
            element_id,
            f'{element_id!r} has camunda:{prefix}Binding="version" but no '
            f"camunda:{prefix}Version; Camunda 7 refuses it: name the version",
        )

    # -- sequence flows (parseSequenceFlow)

    def _check_flow(self, flow: etree._Element) -> None:
        flow_id = flow.get("id")
        condition = flow.find(f"{BPMN}conditionExpression")
        if condition is not None and not _is_formal_expression(condition):
            self.add(
                condition,
                flow_id,
                f"the condition of {flow_id!r} has xsi:type={condition.get(_XSI_TYPE)!r}; "
                "Camunda 7 refuses it (only tFormalExpression is supported)",
            )
        for end, role in (("sourceRef", "outgoing"), ("targetRef", "incoming")):
            node = self._node(flow.get(end))
            if node is None:
                continue
            if node.get("isForCompensation") == "true":
                self.add(
                    flow,
                    flow_id,
                    f"sequence flow {flow_id!r} is an {role} flow of compensation activity "
                    f"{node.get('id')!r}; Camunda 7 refuses it (a compensation activity has no "
                    "incoming or outgoing sequence flow)",
                )
            elif _bpmn_name(node) == "subProcess" and node.get("triggeredByEvent") == "true":
                self.add(
                    flow,
                    flow_id,
                    f"sequence flow {flow_id!r} is an {role} flow of event sub-process "
                    f"{node.get('id')!r}; Camunda 7 refuses it (an event sub-process starts by "
                    "its event only)",
                )
        target = self._node(flow.get("targetRef"))
        source = self._node(flow.get("sourceRef"))
        if (
            target is not None
            and source is not None
            and _bpmn_name(target) == "intermediateCatchEvent"
            and _bpmn_name(source) != "eventBasedGateway"
            and any(_bpmn_name(s) == "eventBasedGateway" for s in self._sources(target))
        ):
            self.add(
                flow,
                flow_id,
                f"sequence flow {flow_id!r} leads into {target.get('id')!r}, an event that "
                "follows an event-based gateway; Camunda 7 refuses other incoming flows there",
            )

    # -- input/output mappings (checkActivityInputOutputSupported, ensureNoIoMappingDefined)

    def _check_input_output(self, element: etree._Element, name: str) -> None:
        extensions = element.find(f"{BPMN}extensionElements")
        io = None if extensions is None else extensions.find(f"{_C}inputOutput")
        if io is None:
            return
        element_id = element.get("id")
        supported = (
            "task" in name.lower()
            or "Event" in name
            or name in ("transaction", "subProcess", "callActivity")
        )
        reason = None
        if not supported or name in ("startEvent", "boundaryEvent"):
            reason = f"camunda:inputOutput is not supported on a {name}"
        elif name == "subProcess" and element.get("triggeredByEvent") == "true":
            reason = "camunda:inputOutput is not supported on an event sub-process"
        elif io.find(f"{_C}outputParameter") is not None:
            if name == "endEvent":
                reason = "camunda:outputParameter is not allowed on an end event"
            elif element.find(f"{BPMN}multiInstanceLoopCharacteristics") is not None:
                reason = "camunda:outputParameter is not allowed on a multi-instance activity"
        if reason is not None:
            self.add(element, element_id, f"{element_id!r}: {reason}; Camunda 7 refuses it")

    # -- diagram interchange (parseDiagramInterchangeElements)

    def check_diagram(self) -> None:
        """The diagram's references and geometry, as Camunda 7 reads them for its cockpit.

        Camunda checks them only while it has an executable process to draw (a file of
        non-executable processes is skipped whole), and refuses a shape or edge that names
        nothing in the file, a plane that names nothing, and a drawn element of an executable
        process without bounds, or an edge of one of its sequence flows without two waypoints.
        """
        executable = {
            e
            for e in self.root.iterchildren(f"{BPMN}process")
            if (e.get("isExecutable") or "").strip().lower() != "false"
        }
        if not executable:
            return
        ids = {e.get("id") for e in self.root.iter(etree.Element) if e.get("id")}
        drawn: set[str | None] = set()
        for process in executable:
            drawn.update(e.get("id") for e in process.iter(etree.Element) if e.get("id"))
        for participant in self.root.iter(f"{BPMN}participant"):
            if any(p.get("id") == participant.get("processRef") for p in executable):
                drawn.add(participant.get("id"))
        for plane in self.root.iter(f"{_DI}BPMNPlane"):
            if not plane.get("bpmnElement"):
                self.add(
                    plane, plane.get("id"), "a BPMNPlane has no bpmnElement; Camunda 7 refuses it"
                )
        for shape in self.root.iter(f"{_DI}BPMNShape"):
            self._check_drawing(shape, "BPMNShape", ids, drawn)
        for edge in self.root.iter(f"{_DI}BPMNEdge"):
            self._check_drawing(edge, "BPMNEdge", ids, drawn)

    def _check_drawing(
        self, drawing: etree._Element, kind: str, ids: set[str | None], drawn: set[str | None]
    ) -> None:
        target = drawing.get("bpmnElement")
        drawing_id = drawing.get("id")
        if not target:
            self.add(drawing, drawing_id, f"a {kind} has no bpmnElement; Camunda 7 refuses it")
            return
        if target not in ids:
            self.add(
                drawing,
                drawing_id,
                f"{kind} {drawing_id!r} draws {target!r}, which is not in the file; Camunda 7 "
                "refuses it (remove the stale shape in the modeler)",
            )
            return
        if target not in drawn:
            return
        if kind == "BPMNShape":
            bounds = drawing.find(f"{_DC}Bounds")
            if bounds is None:
                self.add(
                    drawing,
                    drawing_id,
                    f"{kind} {drawing_id!r} has no dc:Bounds; Camunda 7 refuses it",
                )
            else:
                self._check_numbers(drawing, bounds, ("x", "y", "width", "height"))
            return
        target_node = self._node(target)
        if target_node is None or _bpmn_name(target_node) != "sequenceFlow":
            return
        waypoints = drawing.findall(f"{_OMG_DI}waypoint")
        if len(waypoints) < 2:
            self.add(
                drawing,
                drawing_id,
                f"{kind} {drawing_id!r} has {len(waypoints)} waypoint(s); Camunda 7 refuses an "
                "edge of a sequence flow with fewer than 2",
            )
        for waypoint in waypoints:
            self._check_numbers(drawing, waypoint, ("x", "y"))

    def _check_numbers(
        self, drawing: etree._Element, holder: etree._Element, names: Iterable[str]
    ) -> None:
        for name in names:
            try:
                float(holder.get(name) or "")
            except ValueError:
                self.add(
                    drawing,
                    drawing.get("id"),
                    f"{etree.QName(holder).localname} of {drawing.get('id')!r} has "
                    f"{name}={holder.get(name)!r}, not a number; Camunda 7 refuses it",
                )

    # -- lookups

    def _declared(self, kind: str, element_id: str) -> etree._Element | None:
        for element in self.root.iterchildren(f"{BPMN}{kind}"):
            if element.get("id") == element_id:
                return element
        return None

    @cached_property
    def _nodes(self) -> dict[str, etree._Element]:
        """The file's BPMN elements by id."""
        return {
            e.get("id", ""): e
            for e in self.root.iter(etree.Element)
            if e.get("id") and _bpmn_name(e) is not None
        }

    @cached_property
    def _incoming(self) -> dict[str, list[str]]:
        """Each node's sequence flow sources by target id."""
        incoming: dict[str, list[str]] = defaultdict(list)
        for flow in self.root.iter(f"{BPMN}sequenceFlow"):
            incoming[flow.get("targetRef") or ""].append(flow.get("sourceRef") or "")
        return incoming

    def _node(self, element_id: str | None) -> etree._Element | None:
        return self._nodes.get(element_id) if element_id else None

    def _sources(self, node: etree._Element) -> Iterable[etree._Element]:
        for source_id in self._incoming.get(node.get("id") or "", ()):
            source = self._node(source_id)
            if source is not None:
                yield source


def _is_formal_expression(condition: etree._Element) -> bool:
    """Whether a condition's `xsi:type`, if any, names BPMN's tFormalExpression."""
    declared = condition.get(_XSI_TYPE)
    if declared is None:
        return True
    prefix, _, local = declared.rpartition(":")
    namespace = condition.nsmap.get(prefix or None, BPMN_NS) if prefix else BPMN_NS
    return local == "tFormalExpression" and namespace == BPMN_NS


def _mapping_problems(mapping: etree._Element) -> list[str]:
    """What Camunda's strict call activity validation finds in one `camunda:in`/`out`."""
    problems: list[str] = []
    source = mapping.get("source")
    expression = mapping.get("sourceExpression")
    if source == "":
        problems.append("the attribute 'source' is empty")
    elif source is None and expression == "":
        problems.append("the attribute 'sourceExpression' is empty")
    elif source is None and expression is None:
        problems.append("it has neither 'source' nor 'sourceExpression'")
    target = mapping.get("target")
    if target is None:
        problems.append("it has no 'target'")
    elif target == "":
        problems.append("the attribute 'target' is empty")
    return problems
