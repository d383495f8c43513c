"""Deploy-time checks of BPMN and DMN files: every problem, with its file, line and element id.

SpiffWorkflow's parser stops at the first error and reports it without a line, and several
mistakes (a condition that is not Python, a timer text Spiff cannot read, a call to a process
nobody deployed) only surface when an instance reaches the element, maybe weeks later. So
`deploy` runs these checks first, on the lxml tree, and rejects the file with the full list.

The checks read the XML directly rather than Spiff's specs: a spec has lost the line numbers and
the container structure, and a malformed file never becomes a spec at all. They follow Camunda 7
where the BPMN standard leaves room: a process without `isExecutable` is executable (Camunda
deploys it with a warning), `camunda:` attributes are also read in the old Activiti namespace
(which Camunda 7 still accepts), and a `timeCycle` may be a Quartz cron expression. Processes
marked `isExecutable="false"` are documentation; only their structure (ids and references) is
checked. Script and condition texts are checked by translating them with
`flowdesk.engine.expressions`, the same code that runs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from typing import Literal

from lxml import etree

from flowdesk.engine import timers
from flowdesk.engine.dmn import reader as dmn_reader
from flowdesk.errors import BpmnValidationError, ExpressionError, Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
# Camunda 7 still reads its extension attributes in the namespace it inherited from Activiti.
ACTIVITI_NS = "http://activiti.org/bpmn"
DMN_NAMESPACES = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",  # DMN 1.1
    "http://www.omg.org/spec/DMN/20180521/MODEL/",  # DMN 1.2
    "https://www.omg.org/spec/DMN/20191111/MODEL/",  # DMN 1.3
)

TimerKind = Literal["expression", "date", "duration", "cycle", "cron"]

HIT_POLICIES = frozenset(
    {"UNIQUE", "FIRST", "PRIORITY", "ANY", "COLLECT", "RULE ORDER", "OUTPUT ORDER"}
)
SCRIPT_FORMATS = frozenset({"", "python", "juel"})

_B = "{" + BPMN_NS + "}"
# BPMN, BPMN DI, DD and DMN namespaces all live under this path.
_OMG_SPEC = "omg.org/spec/"
_CONTAINERS = frozenset({"process", "subProcess", "transaction", "adHocSubProcess"})
_GATEWAYS = frozenset(
    {
        "exclusiveGateway",
        "inclusiveGateway",
        "parallelGateway",
        "eventBasedGateway",
        "complexGateway",
    }
)
_FLOW_NODES = _GATEWAYS | frozenset(
    {
        "startEvent",
        "endEvent",
        "intermediateCatchEvent",
        "intermediateThrowEvent",
        "boundaryEvent",
        "implicitThrowEvent",
        "task",
        "userTask",
        "serviceTask",
        "scriptTask",
        "businessRuleTask",
        "sendTask",
        "receiveTask",
        "manualTask",
        "callActivity",
        "subProcess",
        "transaction",
        "adHocSubProcess",
        "callChoreography",
        "choreographyTask",
        "subChoreography",
    }
)
# Event definition -> (reference attribute, root element it names).
_EVENT_REFS = {
    "messageEventDefinition": ("messageRef", "message"),
    "signalEventDefinition": ("signalRef", "signal"),
    "errorEventDefinition": ("errorRef", "error"),
    "escalationEventDefinition": ("escalationRef", "escalation"),
    "sendTask": ("messageRef", "message"),
    "receiveTask": ("messageRef", "message"),
}
# camunda:* attributes that hold a value which may contain `${...}`.
_VALUE_ATTRIBUTES = (
    "assignee",
    "candidateUsers",
    "candidateGroups",
    "dueDate",
    "followUpDate",
    "priority",
)
_TIMER_KINDS: dict[str, tuple[TimerKind, ...]] = {
    "timeDate": ("date", "expression"),
    "timeDuration": ("duration", "expression"),
    "timeCycle": ("cycle", "cron", "expression"),
}
_FEEL_HINT = (
    " (a leading '=' marks FEEL, which Camunda 8 uses; write a Camunda 7 ${...} expression)"
)
_TIMER_EXAMPLES = {
    "timeDate": "an ISO 8601 date-time like 2026-01-01T10:00:00Z",
    "timeDuration": "an ISO 8601 duration like PT1H or P2D",
    "timeCycle": "a repeating interval like R3/PT10M or a cron expression like 0 0/5 * * * ?",
}


def parse_xml(source: bytes, file: str) -> etree._ElementTree:
    """Parse an uploaded BPMN or DMN file, treating it as untrusted.

    Entities are not resolved, nothing is fetched from the network and huge documents are
    refused, so a hostile file cannot read local files or exhaust memory that way.

    Args:
        source: The file's bytes.
        file: The name to report problems under.

    Returns:
        The parsed tree; its root is BPMN or DMN `definitions`.

    Raises:
        BpmnValidationError: The XML is malformed, or its root is not BPMN or DMN `definitions`.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(source, parser)
    except etree.XMLSyntaxError as err:
        line = err.position[0] if err.position else err.lineno
        raise BpmnValidationError([Problem(file, line, None, f"malformed XML: {err.msg}")]) from err
    tree = root.getroottree()
    try:
        kind_of(tree)
    except ValueError as err:
        raise BpmnValidationError([Problem(file, _line(root), root.get("id"), str(err))]) from err
    if ACTIVITI_NS.encode() in source:
        _read_activiti_as_camunda(root)
    return tree


def _read_activiti_as_camunda(root: etree._Element) -> None:
    """Camunda 7 reads the Activiti namespace of older models as its own; so does flowdesk."""
    activiti, camunda = f"{{{ACTIVITI_NS}}}", f"{{{CAMUNDA_NS}}}"
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        tag = str(element.tag)
        if tag.startswith(activiti):
            element.tag = camunda + tag[len(activiti) :]
        for name in [str(n) for n in element.attrib if str(n).startswith(activiti)]:
            element.set(camunda + name[len(activiti) :], element.attrib.pop(name))


def kind_of(tree: etree._ElementTree) -> Literal["bpmn", "dmn"]:
    """Whether the tree is a BPMN or a DMN (1.1, 1.2 or 1.3) file.

    Args:
        tree: A parsed file.

    Returns:
        `bpmn` or `dmn`, from the root element's namespace.

    Raises:
        ValueError: The root is neither BPMN nor DMN `definitions`.
    """
    root = tree.getroot()
    qname = etree.QName(root)
    if qname.localname == "definitions" and qname.namespace == BPMN_NS:
        return "bpmn"
    if qname.localname == "definitions" and qname.namespace in DMN_NAMESPACES:
        return "dmn"
    raise ValueError(
        f"root element is {qname.text}, not BPMN 2.0 definitions ({BPMN_NS}) "
        "or DMN 1.1/1.2/1.3 definitions"
    )


def process_ids(tree: etree._ElementTree) -> dict[str, bool]:
    """Each process id in the file, with whether it is executable.

    Args:
        tree: A parsed BPMN file (a DMN file has no processes).

    Returns:
        Process id -> `isExecutable`; a process without the attribute counts as executable,
        as in Camunda 7.
    """
    return {
        process.get("id", ""): _is_executable(process)
        for process in tree.getroot().iterchildren(f"{_B}process")
        if process.get("id")
    }


def decision_ids(tree: etree._ElementTree) -> list[str]:
    """The ids of the decisions in a DMN file.

    Args:
        tree: A parsed file.

    Returns:
        The decision ids in document order; none for a BPMN file.
    """
    root = tree.getroot()
    namespace = etree.QName(root).namespace
    if namespace not in DMN_NAMESPACES:
        return []
    return [d.get("id", "") for d in root.iterchildren(f"{{{namespace}}}decision") if d.get("id")]


def called_elements(tree: etree._ElementTree) -> list[tuple[str, str | None, int | None]]:
    """The processes the file's call activities call, by name.

    Args:
        tree: A parsed BPMN file.

    Returns:
        `(calledElement, element_id, line)` per call activity. Those whose `calledElement` is
        an expression (`${...}`) or missing are left out: they cannot be resolved before the
        instance runs.
    """
    found = []
    for activity in tree.getroot().iter(f"{_B}callActivity"):
        called = (activity.get("calledElement") or "").strip()
        if called and not _is_expression(called):
            found.append((called, activity.get("id"), _line(activity)))
    return found


def decision_refs(tree: etree._ElementTree) -> list[tuple[str, str | None, int | None]]:
    """The decisions the file's business rule tasks evaluate, by name.

    Args:
        tree: A parsed BPMN file.

    Returns:
        `(camunda:decisionRef, element_id, line)` per business rule task; expressions
        (`${...}`) and tasks without a decisionRef are left out.
    """
    found = []
    for task in tree.getroot().iter(f"{_B}businessRuleTask"):
        ref = (_camunda(task, "decisionRef") or "").strip()
        if ref and not _is_expression(ref):
            found.append((ref, task.get("id"), _line(task)))
    return found


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


def validate_dmn(tree: etree._ElementTree, file: str) -> list[Problem]:
    """Every problem in a DMN file: structure (ids, tables, hit policies, requirements) and
    every expression or unary test flowdesk's DMN engine cannot evaluate.

    Args:
        tree: A tree from `parse_xml`.
        file: The name to report problems under.

    Returns:
        The problems, ordered by line; an empty list means the file may be deployed.

    Raises:
        ValueError: The tree is not a DMN file.
    """
    if kind_of(tree) != "dmn":
        raise ValueError("validate_dmn needs a DMN file; use validate_bpmn for BPMN")
    root = tree.getroot()
    ns = "{" + (etree.QName(root).namespace or "") + "}"
    problems = _duplicate_ids(root, file)

    def add(element: etree._Element, element_id: str | None, message: str) -> None:
        problems.append(Problem(file, _line(element), element_id, message))

    decisions = {d.get("id") for d in root.iter(f"{ns}decision")}
    for decision in root.iter(f"{ns}decision"):
        decision_id = decision.get("id")
        tables = list(decision.iterchildren(f"{ns}decisionTable"))
        if not tables and decision.find(f"{ns}literalExpression") is None:
            add(
                decision,
                decision_id,
                f"decision {decision_id!r} has neither a decision table nor a literal expression",
            )
        for table in tables:
            _check_table(table, ns, decision_id, add)
        for required in decision.iter(f"{ns}requiredDecision"):
            href = (required.get("href") or "").strip()
            if not href.startswith("#") or href[1:] not in decisions:
                add(
                    required,
                    decision_id,
                    f"decision {decision_id!r} requires {href!r}, which is not a decision in this "
                    "file (write '#' and the id of a decision here)",
                )
    # Every cell is translated with the code that evaluates it: what fails here never runs.
    problems += dmn_reader.read(root, file)[1]
    return _by_line(problems)


def timer_kind(text: str) -> TimerKind:
    """Which kind of Camunda timer text this is.

    Args:
        text: A `timeDate`, `timeDuration` or `timeCycle` text; surrounding whitespace is ignored.

    Returns:
        `expression` for `${...}` or `#{...}`; `date` for an ISO 8601 date-time
        (`2026-01-01T10:00:00Z`); `duration` for an ISO 8601 duration (`PT1H`, `P1Y2M10DT2H30M`);
        `cycle` for an ISO 8601 repeating interval (`R3/PT10M`, `R/PT1H`,
        `R2/2026-01-01T00:00:00Z/P1D`); `cron` for a Quartz cron expression (`0 0/5 * * * ?`).

    Raises:
        ValueError: The text is none of these.
    """
    value = text.strip()
    if _is_expression(value):
        return "expression"
    if _is_duration(value):
        return "duration"
    if _is_date(value):
        return "date"
    if _is_cycle(value):
        return "cycle"
    if _is_cron(value):
        return "cron"
    raise ValueError(
        f"{value!r} is not an ISO 8601 date-time, duration or repeating interval, "
        "a cron expression or ${...}"
    )


class _BpmnCheck:
    """One run of the BPMN checks over one file, collecting problems."""

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
        self.flow_ids = {f.get("id") for f in self.root.iter(f"{_B}sequenceFlow")}
        self.all_ids = {e.get("id") for e in self.root.iter(etree.Element)}
        self.root_elements: dict[str, set[str]] = {}
        for element in self.root.iterchildren():
            name = _bpmn_name(element)
            if name and element.get("id"):
                self.root_elements.setdefault(name, set()).add(element.get("id", ""))

    def run(self) -> list[Problem]:
        self.problems.extend(_duplicate_ids(self.root, self.file))
        for process in self.root.iterchildren(f"{_B}process"):
            executable = _is_executable(process)
            containers = [c for c in process.iter() if _bpmn_name(c) in _CONTAINERS]
            for container in containers:
                self.check_flows(container, executable)
            self.check_node_flow_lists(process)
            self.check_event_refs(process)
            if executable:
                self.check_start_events(process, containers)
                self.check_call_activities(process)
                self.check_business_rule_tasks(process)
                self.check_expressions(process)
                self.check_timers(process)
                self.check_scripts(process)
        return self.problems

    def add(self, element: etree._Element, element_id: str | None, message: str) -> None:
        self.problems.append(Problem(self.file, _line(element), element_id, message))

    def check_flows(self, container: etree._Element, executable: bool) -> None:
        """Sequence flows connect nodes of their own container; gateways have a way out."""
        nodes = {
            child.get("id"): child
            for child in container.iterchildren()
            if _bpmn_name(child) in _FLOW_NODES
        }
        sources = set()
        for flow in container.iterchildren(f"{_B}sequenceFlow"):
            flow_id = flow.get("id")
            sources.add(flow.get("sourceRef"))
            for attribute, verb in (("sourceRef", "starts at"), ("targetRef", "targets")):
                ref = flow.get(attribute)
                if not ref:
                    self.add(flow, flow_id, f"sequence flow {flow_id!r} has no {attribute}")
                elif ref not in nodes:
                    where = (
                        f"which is not a flow node of the same {_describe(container)}"
                        if ref in self.all_ids
                        else "which does not exist"
                    )
                    self.add(flow, flow_id, f"sequence flow {flow_id!r} {verb} {ref!r}, {where}")
        if not executable:
            return
        for node_id, node in nodes.items():
            if _bpmn_name(node) in _GATEWAYS and node_id not in sources:
                self.add(
                    node,
                    node_id,
                    f"gateway {node_id!r} has no outgoing sequence flow "
                    "(a gateway with no way out)",
                )

    def check_node_flow_lists(self, process: etree._Element) -> None:
        """`incoming`/`outgoing` children name sequence flows of the file."""
        for node in process.iter():
            if _bpmn_name(node) not in _FLOW_NODES:
                continue
            for child in node.iterchildren(f"{_B}incoming", f"{_B}outgoing"):
                ref = _local_ref(child.text)
                if ref not in self.flow_ids:
                    direction = etree.QName(child).localname
                    self.add(
                        child,
                        node.get("id"),
                        f"{node.get('id')!r} lists {direction} flow {ref!r}, "
                        "which is not a sequence flow in this file",
                    )

    def check_event_refs(self, process: etree._Element) -> None:
        """Message, signal, error and escalation references name root elements of the file."""
        for element in process.iter():
            name = _bpmn_name(element)
            if name not in _EVENT_REFS:
                continue
            attribute, kind = _EVENT_REFS[name]
            ref = _local_ref(element.get(attribute))
            if not ref:
                continue  # optional: e.g. an error boundary event without errorRef catches all
            if ref not in self.root_elements.get(kind, set()):
                owner_id = _owner_id(element)
                self.add(
                    element,
                    owner_id,
                    f"{owner_id!r} refers to {kind} {ref!r}, which is not defined in this "
                    f"file (add a bpmn:{kind} with this id)",
                )

    def check_start_events(self, process: etree._Element, containers: list[etree._Element]) -> None:
        """Executable processes and embedded sub-processes have a start event of their own."""
        for container in containers:
            name = _bpmn_name(container)
            if name == "adHocSubProcess" or container.find(f"{_B}startEvent") is not None:
                continue
            container_id = container.get("id")
            if name == "process":
                message = f"executable process {container_id!r} has no start event"
            elif container.get("triggeredByEvent") == "true":
                message = f"event sub-process {container_id!r} has no start event"
            else:
                # BPMN lets a sub-process start at every node without incoming flows, but
                # Camunda 7 fails each instance that enters it ("No initial activity found").
                message = (
                    f"{_describe(container)} has no start event; Camunda 7 and flowdesk need a "
                    "none start event in an embedded sub-process"
                )
            self.add(container, container_id, message)

    def check_call_activities(self, process: etree._Element) -> None:
        for activity in process.iter(f"{_B}callActivity"):
            activity_id = activity.get("id")
            called = (activity.get("calledElement") or "").strip()
            if not called:
                self.add(
                    activity,
                    activity_id,
                    f"call activity {activity_id!r} has no calledElement; name the process to call",
                )
            elif _is_expression(called) or called in self.known_process_ids:
                continue
            elif self.processes.get(called) is False:
                self.add(
                    activity,
                    activity_id,
                    f"call activity {activity_id!r} calls {called!r}, which is marked "
                    'isExecutable="false" in this file',
                )
            elif called not in self.processes:
                self.add(
                    activity,
                    activity_id,
                    f"call activity {activity_id!r} calls {called!r}, which is not deployed "
                    "and not in this file",
                )

    def check_business_rule_tasks(self, process: etree._Element) -> None:
        for task in process.iter(f"{_B}businessRuleTask"):
            ref = (_camunda(task, "decisionRef") or "").strip()
            if ref and not _is_expression(ref) and ref not in self.known_decision_ids:
                task_id = task.get("id")
                self.add(
                    task,
                    task_id,
                    f"business rule task {task_id!r} evaluates decision {ref!r}, which is "
                    "not deployed; deploy its DMN file with this one",
                )

    def check_expressions(self, process: etree._Element) -> None:
        """Conditions, loop expressions and `${...}` in task attributes translate to Python."""
        for element in process.iter():
            name = _bpmn_name(element)
            if name in (
                "conditionExpression",
                "condition",
                "completionCondition",
                "loopCardinality",
                "loopCondition",
            ):
                self.check_expression(element, name)
            elif name == "multiInstanceLoopCharacteristics":
                self.check_value(element, "collection")
            for attribute in _VALUE_ATTRIBUTES:
                self.check_value(element, attribute)

    def check_expression(self, element: etree._Element, name: str) -> None:
        from flowdesk.engine import expressions

        owner_id = _owner_id(element)
        text = (element.text or "").strip()
        what = f"{name} of {owner_id!r}"
        language = (element.get("language") or "").strip().lower()
        if language not in ("", "python", "juel"):
            self.add(
                element,
                owner_id,
                f"{what} is written in {language!r}, which is not "
                "supported; use a ${...} expression or python",
            )
        elif not text:
            self.add(element, owner_id, f"{what} is empty")
        else:
            try:
                expressions.translate(text, element_id=owner_id)
            except ExpressionError as err:
                hint = _FEEL_HINT if text.startswith("=") else ""
                self.add(element, owner_id, f"{what} cannot be translated: {err.reason}{hint}")

    def check_value(self, element: etree._Element, attribute: str) -> None:
        from flowdesk.engine import expressions

        value = _camunda(element, attribute)
        if value is None or not _is_expression(value):
            return
        owner_id = _owner_id(element)
        try:
            expressions.translate_value(value, element_id=owner_id)
        except ExpressionError as err:
            self.add(
                element,
                owner_id,
                f"camunda:{attribute} of {owner_id!r} cannot be translated: {err.reason}",
            )

    def check_timers(self, process: etree._Element) -> None:
        from flowdesk.engine import expressions

        for definition in process.iter(f"{_B}timerEventDefinition"):
            owner_id = _owner_id(definition)
            specs = [c for c in definition.iterchildren() if _bpmn_name(c) in _TIMER_KINDS]
            if not specs:
                self.add(
                    definition,
                    owner_id,
                    f"timer of {owner_id!r} has no timeDate, timeDuration or timeCycle",
                )
            for spec in specs:
                name = etree.QName(spec).localname
                text = timers.timer_literal(spec.text or "")
                what = f"{name} of {owner_id!r}"
                if not text:
                    self.add(spec, owner_id, f"{what} is empty; write {_TIMER_EXAMPLES[name]}")
                    continue
                try:
                    kind = timer_kind(text)
                except ValueError:
                    kind = None
                if kind == "expression":
                    try:
                        expressions.translate(text, element_id=owner_id)
                    except ExpressionError as err:
                        self.add(spec, owner_id, f"{what} cannot be translated: {err.reason}")
                elif kind == "cron" and name == "timeCycle":
                    problem = _cron_problem(text)
                    if problem:
                        self.add(spec, owner_id, f"{what} cannot run: {problem}")
                elif kind not in _TIMER_KINDS[name]:
                    self.add(
                        spec,
                        owner_id,
                        f"{what} is {text!r}; write {_TIMER_EXAMPLES[name]}",
                    )

    def check_scripts(self, process: etree._Element) -> None:
        """Script tasks and `camunda:script` parameter values are inline python (or JUEL)."""
        for task in process.iter(f"{_B}scriptTask"):
            script_format = (task.get("scriptFormat") or "").strip()
            if script_format.lower() not in SCRIPT_FORMATS:
                self.add(
                    task,
                    task.get("id"),
                    f"script task {task.get('id')!r}: script format "
                    f"{script_format!r} is not supported; use python",
                )
            resource = _camunda(task, "resource")
            if resource and script_format.lower() in SCRIPT_FORMATS:
                self.add(
                    task,
                    task.get("id"),
                    f"script task {task.get('id')!r}: camunda:resource {resource!r} names an "
                    "external script, which flowdesk cannot load; write the script in the model",
                )
        for script in process.iter(f"{{{CAMUNDA_NS}}}script"):
            self.check_parameter_script(script)

    def check_parameter_script(self, script: etree._Element) -> None:
        """A parameter's script runs; a listener's or connector's is never read, so no check."""
        parameter = script.getparent()
        if parameter is None or etree.QName(parameter).localname not in (
            "inputParameter",
            "outputParameter",
        ):
            return
        if any(etree.QName(a).localname == "connector" for a in parameter.iterancestors()):
            return
        owner_id = _owner_id(parameter)
        what = f"camunda:script of parameter {parameter.get('name')!r} of {owner_id!r}"
        script_format = (script.get("scriptFormat") or "").strip()
        if script_format.lower() not in SCRIPT_FORMATS:
            self.add(
                script,
                owner_id,
                f"{what}: script format {script_format!r} is not supported; "
                "use python or a ${...} expression",
            )
        elif script.get("resource"):
            self.add(
                script,
                owner_id,
                f"{what} names the external script {script.get('resource')!r}, which flowdesk "
                "cannot load; write the script in the model",
            )


def _check_table(
    table: etree._Element,
    ns: str,
    decision_id: str | None,
    add: Callable[[etree._Element, str | None, str], None],
) -> None:
    where = f"decision table of {decision_id!r}"
    inputs = len(list(table.iterchildren(f"{ns}input")))
    outputs = len(list(table.iterchildren(f"{ns}output")))
    if not inputs:
        add(table, decision_id, f"{where} has no input")
    if not outputs:
        add(table, decision_id, f"{where} has no output")
    hit_policy = table.get("hitPolicy", "UNIQUE")
    if hit_policy not in HIT_POLICIES:
        add(
            table,
            decision_id,
            f"{where} has hit policy {hit_policy!r}; use one of " + ", ".join(sorted(HIT_POLICIES)),
        )
    for number, rule in enumerate(table.iterchildren(f"{ns}rule"), start=1):
        rule_id = rule.get("id") or f"rule {number}"
        for kind, columns in (("input", inputs), ("output", outputs)):
            entries = len(list(rule.iterchildren(f"{ns}{kind}Entry")))
            if entries != columns:
                add(
                    rule,
                    decision_id,
                    f"{where}: {rule_id!r} has {entries} {kind} entries but the table has "
                    f"{columns} {kind} column{'s' if columns != 1 else ''}",
                )


def _duplicate_ids(root: etree._Element, file: str) -> list[Problem]:
    """Ids used twice by standard (OMG) elements, reported at each repeat.

    Extension elements are left out: the id of a `camunda:formField` is a variable name, and
    two user tasks asking for the same variable is normal.
    """
    first_line: dict[str, int | None] = {}
    problems = []
    for element in root.iter(etree.Element):
        element_id = element.get("id")
        if not element_id or _OMG_SPEC not in (etree.QName(element).namespace or ""):
            continue
        if element_id not in first_line:
            first_line[element_id] = _line(element)
            continue
        problems.append(
            Problem(
                file,
                _line(element),
                element_id,
                f"id {element_id!r} is used more than once (first on line "
                f"{first_line[element_id]}); ids must be unique in a file",
            )
        )
    return problems


def _by_line(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda problem: problem.line or 0)


def _line(element: etree._Element) -> int | None:
    # lxml-stubs 0.5.1 declares `sourceline = ...`; lxml gives an int, or None for built trees.
    line = element.sourceline
    return line if isinstance(line, int) else None


def _bpmn_name(element: etree._Element) -> str | None:
    tag = element.tag
    if isinstance(tag, str) and tag.startswith(_B):
        return tag[len(_B) :]
    return None


def _camunda(element: etree._Element, attribute: str) -> str | None:
    return element.get(f"{{{CAMUNDA_NS}}}{attribute}")


def _is_executable(process: etree._Element) -> bool:
    value = process.get("isExecutable")
    return value is None or value.strip().lower() == "true"


def _is_expression(text: str) -> bool:
    """Whether the text holds JUEL (`${...}`, `#{...}`), so its value is known only at run time."""
    from flowdesk.engine import expressions

    return expressions.is_juel(text)


def _local_ref(text: str | None) -> str:
    """The id a QName reference names (`tns:Message_1` -> `Message_1`)."""
    return (text or "").strip().rpartition(":")[2]


def _owner_id(element: etree._Element) -> str | None:
    """The id of the flow element (or process) an inner element belongs to."""
    for candidate in _self_and_ancestors(element):
        name = _bpmn_name(candidate)
        if name in _FLOW_NODES or name in ("sequenceFlow", "process"):
            return candidate.get("id")
    return element.get("id")


def _self_and_ancestors(element: etree._Element) -> Iterator[etree._Element]:
    yield element
    yield from element.iterancestors()


def _describe(container: etree._Element) -> str:
    name = _bpmn_name(container)
    label = {"subProcess": "sub-process", "adHocSubProcess": "ad-hoc sub-process"}.get(
        name or "", name or "element"
    )
    return f"{label} {container.get('id')!r}"


_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_DURATION = re.compile(
    r"P(?:\d+W|(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:[.,]\d+)?S)?)?)"
)
_CYCLE = re.compile(r"R\d*/([^/]+)(?:/([^/]+))?")


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_duration(value: str) -> bool:
    return _DURATION.fullmatch(value) is not None


def _is_cycle(value: str) -> bool:
    match = _CYCLE.fullmatch(value)
    if not match:
        return False
    first, second = match.groups()
    if second is None:
        return _is_duration(first)
    return (_is_date(first) and _is_duration(second)) or (_is_duration(first) and _is_date(second))


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# Quartz fields in order: (lowest, highest, names for lowest..).
_CRON_FIELDS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (0, 59, ()),  # seconds
    (0, 59, ()),  # minutes
    (0, 23, ()),  # hours
    (1, 31, ()),  # day of month
    (1, 12, _MONTHS),  # month
    (1, 7, _DAYS),  # day of week, 1 = Sunday
    (1970, 2099, ()),  # year
)
_DAY_OF_MONTH, _DAY_OF_WEEK = 3, 5


def _cron_problem(value: str) -> str | None:
    """Why flowdesk cannot run a Quartz cron text that `_is_cron` accepts, if it cannot."""
    from flowdesk.engine import timers

    try:
        if timers.cron_next(value, timers.now()) is None:
            return "it never matches a time after now"
    except ValueError as err:
        return str(err)
    return None


def _is_cron(value: str) -> bool:
    """A Quartz cron expression as Camunda 7 reads it: 6 fields, or 7 with the year.

    As in Quartz, exactly one of day-of-month and day-of-week is `?` (`0 0 12 * * ?`, not
    `0 0 12 * * *`): Quartz cannot combine the two.
    """
    fields = value.upper().split()
    if len(fields) not in (6, 7):
        return False
    if (fields[_DAY_OF_MONTH] == "?") == (fields[_DAY_OF_WEEK] == "?"):
        return False
    return all(_is_cron_field(field, index) for index, field in enumerate(fields))


def _is_cron_field(field: str, index: int) -> bool:
    low, high, names = _CRON_FIELDS[index]
    if index in (_DAY_OF_MONTH, _DAY_OF_WEEK) and field in ("?", "L"):
        return True
    if index == _DAY_OF_MONTH:
        if field == "LW":
            return True
        match = re.fullmatch(r"L-(\d{1,2})|(\d{1,2})W", field)
        if match:
            return 0 < int(match[1] or match[2]) <= high
    if index == _DAY_OF_WEEK:
        match = re.fullmatch(r"(\w+?)(?:L|#[1-5])", field)
        if match:
            return _cron_value(match[1], low, high, names)
    for part in field.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        if not _cron_value(start, low, high, names) or (
            dash and not _cron_value(end, low, high, names)
        ):
            return False
    return True


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    return text in names or (text.isdigit() and low <= int(text) <= high)
