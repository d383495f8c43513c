"""Camunda 7 settings flowdesk does not carry out: refused at deploy, or a deploy warning.

Camunda 7's `BpmnParse` reads many `camunda:` attributes; flowdesk carries out most of them
(docs/camunda-dialect.md), and a model must never run differently without saying so. What is
left falls in three groups:

- **Refused** (`_CamundaChecks`, problems): a setting without which the model would take
  another path or end with other variables, or that Camunda itself refuses at deploy: a
  call of a CMMN case (`camunda:caseRef`), a delegate variable mapping of a call activity, a
  `camunda:type` other than `external`, a priority that is not a number, an external script
  resource in a condition, `calledElementBinding="versionTag"`, an intermediate catch event
  without an event definition, a message catch without `messageRef`.
- **Warned** (`ignored_settings`, `flowdesk.IgnoredExtensionWarning` at deploy): a setting the
  model runs without, with the same path and variables, but where Camunda would act on it:
  async flags on gateways, on multi-instance loop characteristics and (asyncBefore) on
  embedded sub-processes, asynchronous signal throws, variable
  filters of conditional events, tenant ids, custom form handlers, Camunda Forms, a Python
  script task's `resultVariable`.
- **Ignored** without a word (documented): settings that change nothing a flowdesk caller
  can observe (history time to live, version tags of processes, starter groups and users,
  `isStartableInTasklist`, job and task priorities as Camunda's default job executor reads
  them, `camunda:exclusive`).
"""

from __future__ import annotations

import re

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase
from flowdesk.engine.validation.elements import (
    EXECUTABLE_FLOW_NODES,
    _bpmn_name,
    _camunda,
    _is_executable,
    _owner_id,
)
from flowdesk.engine.validation.xml_reading import _line
from flowdesk.errors import Problem

# Elements whose `camunda:type`, `class`, `expression`, ... make them service-task-like.
_SERVICE_LIKE = frozenset({"serviceTask", "sendTask", "businessRuleTask"})
# Catch events where Camunda 7 requires `messageRef` on a message event definition.
_MESSAGE_CATCHES = frozenset({"startEvent", "intermediateCatchEvent", "boundaryEvent"})
_ASYNC_FLAGS = ("async", "asyncBefore", "asyncAfter")
_GATEWAYS = frozenset(
    {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway"}
)


class _CamundaChecks(_BpmnCheckBase):
    """Refusals of Camunda settings an executable process cannot run as Camunda 7 runs them."""

    def check_camunda_settings(self, process: etree._Element) -> None:
        for element in process.iter(etree.Element):
            name = _bpmn_name(element)
            element_id = element.get("id")
            if name == "process" or name in _FLOW_NODE_PRIORITY_OWNERS:
                self._check_priority(element, element_id)
            if name == "callActivity":
                self._check_call_activity(element, element_id)
            elif name in _SERVICE_LIKE:
                self._check_type(element, element_id, name)
            elif name == "intermediateCatchEvent" and not _event_definitions(element):
                self.add(
                    element,
                    element_id,
                    f"intermediate catch event {element_id!r} has no event definition; "
                    "Camunda 7 refuses it ('Unsupported intermediate catch event type'): add "
                    "a timer, message, signal, conditional or link definition",
                )
            elif name == "messageEventDefinition":
                self._check_message_ref(element)
            elif name == "conditionExpression" and _camunda(element, "resource"):
                owner = _owner_id(element)
                self.add(
                    element,
                    owner,
                    f"the condition of {owner!r} is an external script resource "
                    f"(camunda:resource={_camunda(element, 'resource')!r}), which flowdesk "
                    "does not read: write the condition in the model",
                )

    def _check_priority(self, element: etree._Element, element_id: str | None) -> None:
        # BpmnParse.parsePriority: a constant must be an integer, else deploy fails. Camunda
        # reads jobPriority on the process and every activity, taskPriority on the process
        # and on external tasks only (elsewhere it is not read, so not checked).
        attributes = ["jobPriority"]
        if _bpmn_name(element) == "process" or (_camunda(element, "type") or "").lower() == (
            "external"
        ):
            attributes.append("taskPriority")
        if _bpmn_name(element) == "process":
            self._check_history_time_to_live(element, element_id)
        for attribute in attributes:
            value = _camunda(element, attribute)
            if value is None or "${" in value or "#{" in value:
                continue
            try:
                int(value)
            except ValueError:
                self.add(
                    element,
                    element_id,
                    f"camunda:{attribute} {value!r} of {element_id!r} is not a valid number "
                    "(Camunda 7 refuses it too)",
                )

    def _check_history_time_to_live(self, process: etree._Element, process_id: str | None) -> None:
        # HistoryTimeToLiveParser: a number of days, or P<days>D, not negative. A process
        # without one is deployed (flowdesk keeps no history to clean up), although Camunda
        # 7.20+ refuses it unless its engine configuration gives a default.
        value = _camunda(process, "historyTimeToLive")
        if value is None or not value:
            return
        days = value[1:-1] if re.fullmatch(r"P\d+D", value) else value
        # Java's Integer.parseInt: digits with an optional sign; a negative number is refused.
        if not re.fullmatch(r"\+?\d+", days):
            self.add(
                process,
                process_id,
                f"camunda:historyTimeToLive {value!r} of process {process_id!r} is not a "
                "number of days (like 180 or P180D); Camunda 7 refuses it ('Cannot parse "
                "historyTimeToLive')",
            )

    def _check_call_activity(self, element: etree._Element, element_id: str | None) -> None:
        if _camunda(element, "caseRef") is not None:
            self.add(
                element,
                element_id,
                f"call activity {element_id!r} calls a CMMN case (camunda:caseRef); flowdesk "
                "runs BPMN processes only: call a process with calledElement",
            )
        for attribute in ("variableMappingClass", "variableMappingDelegateExpression"):
            if _camunda(element, attribute) is not None:
                self.add(
                    element,
                    element_id,
                    f"call activity {element_id!r} maps its variables with a Java delegate "
                    f"(camunda:{attribute}), which flowdesk cannot run: map them with "
                    "camunda:in and camunda:out",
                )
        if _camunda(element, "calledElementBinding") == "versionTag":
            self.add(
                element,
                element_id,
                f"call activity {element_id!r} binds the called process by version tag "
                '(calledElementBinding="versionTag"), which flowdesk does not store: use '
                "latest, deployment or version",
            )

    def _check_type(self, element: etree._Element, element_id: str | None, name: str) -> None:
        kind = _camunda(element, "type")
        if kind is None or kind.lower() == "external":
            return
        if kind.lower() in ("mail", "shell"):
            reason = f"Camunda's built-in {kind.lower()} task is not supported by flowdesk"
        else:
            reason = "Camunda 7 accepts only 'external' (and its mail and shell tasks)"
        self.add(
            element,
            element_id,
            f"{name} {element_id!r} has camunda:type={kind!r}: {reason}; use camunda:class, "
            'delegateExpression, expression, or type="external" with a topic',
        )

    def _check_message_ref(self, definition: etree._Element) -> None:
        event = definition.getparent()
        if event is None or _bpmn_name(event) not in _MESSAGE_CATCHES:
            return  # a throw event's message is sent by its implementation, if any
        if definition.get("messageRef"):
            return
        event_id = event.get("id")
        self.add(
            definition,
            event_id,
            f"message event {event_id!r} has no messageRef; Camunda 7 refuses it "
            "(\"attribute 'messageRef' is required\"): name the bpmn:message it waits for",
        )


def ignored_settings(tree: etree._ElementTree, file: str) -> list[Problem]:
    """The Camunda settings of a BPMN file's executable processes that flowdesk accepts but
    does not carry out, each with what flowdesk does instead (deploy warns about each)."""
    found: list[Problem] = []
    for process in tree.getroot().iterchildren(f"{BPMN}process"):
        if not _is_executable(process):
            continue
        for element in process.iter(etree.Element):
            for message in _ignored_on(element):
                found.append(Problem(file, _line(element), _owner_id(element), message))
    return found


def _ignored_on(element: etree._Element) -> list[str]:
    name = _bpmn_name(element)
    owner = _owner_id(element)
    messages = []
    if name == "multiInstanceLoopCharacteristics":
        flags = [a for a in _ASYNC_FLAGS if _camunda(element, a) == "true"]
        if flags:
            messages.append(
                f"camunda:{'/'.join(flags)} on the multi-instance loop characteristics of "
                f"{owner!r} is ignored: each instance runs in the call that reaches it, not in "
                "a job of its own (put the flag on the activity to hold the whole activity)"
            )
    elif name in _GATEWAYS and any(_camunda(element, a) == "true" for a in _ASYNC_FLAGS):
        messages.append(
            f"camunda:async flags of gateway {owner!r} are ignored: the gateway runs in the "
            "call that reaches it, with no job before or after it"
        )
    elif name == "subProcess" and "true" in (
        _camunda(element, "asyncBefore"),
        _camunda(element, "async"),
    ):
        messages.append(
            f"camunda:asyncBefore of sub-process {owner!r} is ignored: its inner flow starts "
            "in the call that reaches it (asyncAfter works)"
        )
    elif name == "signalEventDefinition" and _camunda(element, "async") == "true":
        messages.append(
            f"camunda:async on the signal thrown by {owner!r} is ignored: the signal reaches "
            "its catchers in the throwing call, not in a job"
        )
    elif name == "conditionalEventDefinition":
        for attribute in ("variableName", "variableEvents"):
            if _camunda(element, attribute):
                messages.append(
                    f"camunda:{attribute} of the conditional event {owner!r} is ignored: its "
                    "condition is evaluated after every step, whichever variable changed"
                )
    elif (
        name == "scriptTask"
        and _camunda(element, "resultVariable")
        and (element.get("scriptFormat") or "").strip().lower() in ("", "python")
    ):
        # JavaScript and JUEL scripts have a value, which goes to resultVariable.
        messages.append(
            f"camunda:resultVariable of Python script task {owner!r} is ignored: a Python "
            "script has no value; assign the variable in the script"
        )
    for attribute in ("calledElementTenantId", "decisionRefTenantId"):
        if _camunda(element, attribute):
            messages.append(
                f"camunda:{attribute} of {owner!r} is ignored: flowdesk has no tenants and "
                "resolves the definition among all deployed ones"
            )
    if name in ("startEvent", "userTask"):
        if _camunda(element, "formHandlerClass"):
            messages.append(
                f"camunda:formHandlerClass of {owner!r} is ignored: flowdesk checks the form "
                "data against camunda:formData itself"
            )
        if _camunda(element, "formRef"):
            messages.append(
                f"camunda:formRef of {owner!r} is ignored: flowdesk does not read Camunda "
                "Forms; use camunda:formKey or camunda:formData"
            )
    return messages


def _event_definitions(event: etree._Element) -> list[etree._Element]:
    return [
        child
        for child in event
        if (_bpmn_name(child) or "").endswith("EventDefinition")
        or _bpmn_name(child) == "eventDefinitionRef"
    ]


# Flow nodes that may carry camunda:jobPriority (every activity and event Camunda parses).
_FLOW_NODE_PRIORITY_OWNERS = EXECUTABLE_FLOW_NODES - {"adHocSubProcess", "complexGateway"}
