"""Service-task-like elements and script tasks Camunda 7 refuses at deploy.

Camunda 7's `BpmnParse.parseServiceTaskLike`/`validateServiceTaskLike` read service tasks,
send tasks and message intermediate throw events that carry a `camunda:class`,
`delegateExpression`, `expression`, `type` or connector, and refuse (its words in quotes):

- one with none of `class`, `delegateExpression`, `type` or `expression` (blank `class` or
  `expression` count as none) and no connector ("One of the attributes 'class',
  'delegateExpression', 'type', or 'expression' is mandatory"): there is nothing to call;
- `camunda:resultVariable` (or the older `resultVariableName`) beside `class` or
  `delegateExpression` ("'resultVariableName' not supported ... using 'class'"): a Java
  delegate returns nothing;
- `type="external"` without `camunda:topic` ("External tasks must specify a 'topic'");
- on a message throw event, a `type` other than `external` (the tasks' `type` is checked in
  `camunda_checks`).

A connector (`camunda:connector`) is not refused: flowdesk warns at deploy and raises an
incident when the task is reached (docs/camunda-dialect.md). A script task with an empty
`scriptFormat` is refused too ("Unable to process ScriptTask: Script language is empty");
one without the attribute runs as Python, a documented flowdesk extension. Business rule
tasks without `camunda:decisionRef` are refused by the trial parse.
"""

from __future__ import annotations

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN, CAMUNDA_NS
from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase
from flowdesk.engine.validation.elements import _bpmn_name, _camunda

# Attributes that make an element service-task-like (BpmnParse.isServiceTaskLike).
_IMPLEMENTATION_ATTRIBUTES = ("class", "expression", "delegateExpression", "type")


class _ServiceTaskChecks(_BpmnCheckBase):
    """Refusals of service-task-like elements and script tasks Camunda 7 does not deploy."""

    def check_service_tasks(self, process: etree._Element) -> None:
        """Service tasks, service-task-like send tasks and message throw events, script tasks."""
        for element in process.iter(etree.Element):
            name = _bpmn_name(element)
            if name == "serviceTask" or (name == "sendTask" and _is_service_task_like(element)):
                self._check_service_task_like(element, element, name)
            elif name == "intermediateThrowEvent":
                definition = element.find(f"{BPMN}messageEventDefinition")
                if (
                    definition is not None
                    and _only_message_definition(element)
                    and _is_service_task_like(definition)
                ):
                    self._check_service_task_like(definition, element, "message throw event")
            elif name == "scriptTask":
                script_format = element.get("scriptFormat")
                if script_format is not None and not script_format.strip():
                    self.add(
                        element,
                        element.get("id"),
                        f"script task {element.get('id')!r} has an empty scriptFormat; Camunda 7 "
                        "refuses it ('Unable to process ScriptTask: Script language is empty'): "
                        "name the language (javascript, juel, feel or python)",
                    )

    def _check_service_task_like(
        self, carrier: etree._Element, element: etree._Element, label: str
    ) -> None:
        """`carrier` holds the implementation attributes; `element` is the flow node."""
        element_id = element.get("id")
        kind = _camunda(carrier, "type")
        class_name = (_camunda(carrier, "class") or "").strip()
        delegate = _camunda(carrier, "delegateExpression")
        expression = (_camunda(carrier, "expression") or "").strip()
        result = _camunda(carrier, "resultVariable") or _camunda(carrier, "resultVariableName")
        if kind is not None:
            if kind.lower() == "external" and _camunda(carrier, "topic") is None:
                self.add(
                    carrier,
                    element_id,
                    f"{label} {element_id!r} is an external task without camunda:topic; "
                    "Camunda 7 refuses it ('External tasks must specify a 'topic' attribute "
                    "in the camunda namespace'): name the topic whose handler runs it",
                )
            elif carrier is not element and kind.lower() != "external":
                self.add(
                    carrier,
                    element_id,
                    f"{label} {element_id!r} has camunda:type={kind!r}; flowdesk runs only "
                    'type="external" on a message throw event (Camunda 7 also has its mail '
                    "and shell tasks, and refuses any other type)",
                )
        elif class_name or delegate is not None:
            if result is not None:
                used = "class" if class_name else "delegateExpression"
                self.add(
                    carrier,
                    element_id,
                    f"{label} {element_id!r} has camunda:resultVariable beside camunda:{used}; "
                    f"Camunda 7 refuses it (''resultVariableName' not supported for "
                    f"{_bpmn_name(element)} elements using '{used}''): a delegate sets "
                    "variables itself, only camunda:expression has a result",
                )
        elif not expression and not _has_connector(carrier):
            self.add(
                carrier,
                element_id,
                f"{label} {element_id!r} has no implementation; Camunda 7 refuses it ('One of "
                "the attributes 'class', 'delegateExpression', 'type', or 'expression' is "
                "mandatory'): name the handler with camunda:class, delegateExpression, "
                'expression, or type="external" with a camunda:topic',
            )


def _is_service_task_like(element: etree._Element) -> bool:
    return any(
        _camunda(element, attribute) is not None for attribute in _IMPLEMENTATION_ATTRIBUTES
    ) or _has_connector(element)


def _has_connector(element: etree._Element) -> bool:
    extensions = element.find(f"{BPMN}extensionElements")
    return extensions is not None and extensions.find(f"{{{CAMUNDA_NS}}}connector") is not None


def _only_message_definition(event: etree._Element) -> bool:
    """Camunda 7 reads a throw event's signal, compensation or link definition before its
    message definition, which is then ignored."""
    return all(
        event.find(f"{BPMN}{kind}") is None
        for kind in ("signalEventDefinition", "compensateEventDefinition", "linkEventDefinition")
    )
