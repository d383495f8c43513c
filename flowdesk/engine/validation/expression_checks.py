"""BPMN expressions, conditions and scripts: each must translate with the code that runs it."""

from __future__ import annotations

from lxml import etree

from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase
from flowdesk.engine.validation.elements import _bpmn_name, _camunda, _is_expression, _owner_id
from flowdesk.engine.validation.xml_reading import _B, CAMUNDA_NS
from flowdesk.errors import ExpressionError

SCRIPT_FORMATS = frozenset({"", "python", "juel"})
# camunda:* attributes that hold a value which may contain `${...}`.
_VALUE_ATTRIBUTES = (
    "assignee",
    "candidateUsers",
    "candidateGroups",
    "dueDate",
    "followUpDate",
    "priority",
)
_FEEL_HINT = (
    " (a leading '=' marks FEEL, which Camunda 8 uses; write a Camunda 7 ${...} expression)"
)


class _ExpressionChecks(_BpmnCheckBase):
    """Conditions, loop expressions, `${...}` in Camunda attributes, scripts."""

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
        """A parameter's script runs; a listener's is checked where it is parsed
        (`listener_parsing`), and a connector's is never read."""
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
