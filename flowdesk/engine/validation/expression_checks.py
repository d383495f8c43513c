"""BPMN expressions, conditions and scripts: each must translate with the code that runs it."""

from __future__ import annotations

from lxml import etree

from flowdesk.engine.languages.bpmn_namespaces import BPMN, CAMUNDA_NS
from flowdesk.engine.validation.bpmn_check_base import _BpmnCheckBase
from flowdesk.engine.validation.elements import _bpmn_name, _camunda, _is_expression, _owner_id
from flowdesk.errors import ExpressionError, Problem

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
            self.check_service_expression(element)

    def check_service_expression(self, element: etree._Element) -> None:
        """A service or send task's `camunda:expression` must parse and call real functions.

        Its beans are not checked: they may be registered after the deploy.
        """
        from flowdesk.engine.languages import expressions

        text = _camunda(element, "expression")
        if text is None or not _is_expression(text):
            return
        owner_id = _owner_id(element)
        what = f"camunda:expression of {owner_id!r}"
        try:
            expressions.translate(text, element_id=owner_id)
        except ExpressionError as err:
            self.add(element, owner_id, f"{what} cannot be translated: {err.reason}")
            return
        self.check_runnable(element, owner_id, what, text, value_context=False)

    def check_expression(self, element: etree._Element, name: str) -> None:
        from flowdesk.engine.languages import expressions
        from flowdesk.engine.scripts import script_languages

        owner_id = _owner_id(element)
        text = (element.text or "").strip()
        what = f"{name} of {owner_id!r}"
        language = (element.get("language") or "").strip()
        runs_as = script_languages.language_of(language)
        parent = element.getparent()
        on_flow = parent is not None and _bpmn_name(parent) == "sequenceFlow"
        if runs_as == script_languages.JAVASCRIPT and name == "conditionExpression" and on_flow:
            if not text:
                self.add(element, owner_id, f"{what} is empty")
                return
            self.check_javascript_text(element, element.text or "", owner_id, what)
        elif runs_as == script_languages.FEEL and name == "conditionExpression" and on_flow:
            self.check_feel(element, owner_id, what, text)
        elif runs_as in (script_languages.JAVASCRIPT, script_languages.FEEL):
            self.add(
                element,
                owner_id,
                f"{what} is written in {language!r}; flowdesk runs {language} in sequence-flow "
                "conditions, script tasks and camunda:script parameters, not here; use a "
                "${...} expression",
            )
        elif runs_as is None:
            self.add(
                element,
                owner_id,
                f"{what} is written in {language!r}, which is not supported; "
                f"{script_languages.unsupported_reason(language)}",
            )
        elif not text:
            self.add(element, owner_id, f"{what} is empty")
        else:
            try:
                expressions.translate(text, element_id=owner_id)
            except ExpressionError as err:
                hint = _FEEL_HINT if text.startswith("=") else ""
                self.add(element, owner_id, f"{what} cannot be translated: {err.reason}{hint}")
                return
            self.check_runnable(element, owner_id, what, text, value_context=False)

    def check_feel(
        self, element: etree._Element, owner_id: str | None, what: str, text: str
    ) -> None:
        """A FEEL condition or script: translated with the FEEL code that runs it."""
        from flowdesk.engine.scripts import feel_scripts

        reason = feel_scripts.check(text) if text.strip() else "it is empty"
        if reason is not None:
            self.add(element, owner_id, f"{what} (FEEL): {reason}")

    def check_value(self, element: etree._Element, attribute: str) -> None:
        from flowdesk.engine.languages import expressions

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
            return
        what = f"camunda:{attribute} of {owner_id!r}"
        self.check_runnable(element, owner_id, what, value, value_context=True)

    def check_runnable(
        self,
        element: etree._Element,
        owner_id: str | None,
        what: str,
        text: str,
        *,
        value_context: bool,
    ) -> None:
        """What translates must also pass the sandbox's compiler and call existing functions."""
        from flowdesk.engine.languages import sandbox

        try:
            sandbox.check_expression(text, element_id=owner_id, value_context=value_context)
        except ExpressionError as err:
            self.add(element, owner_id, f"{what} can never run: {err.reason}")

    def check_scripts(self, process: etree._Element) -> None:
        """Script tasks and `camunda:script` parameter values are in a language flowdesk runs.

        JavaScript is parsed here, so that a syntax error is refused at deploy, not met by an
        instance.
        """
        from flowdesk.engine.scripts import script_languages

        for task in process.iter(f"{BPMN}scriptTask"):
            task_id = task.get("id")
            script_format = (task.get("scriptFormat") or "").strip()
            language = script_languages.language_of(script_format)
            if language is None:
                self.add(
                    task,
                    task_id,
                    f"script task {task_id!r}: "
                    f"{script_languages.unsupported_reason(script_format)}",
                )
                continue
            resource = _camunda(task, "resource")
            if resource:
                self.add(
                    task,
                    task_id,
                    f"script task {task_id!r}: camunda:resource {resource!r} names an "
                    "external script, which flowdesk cannot load; write the script in the model",
                )
            elif language == script_languages.JAVASCRIPT:
                script = task.find(f"{BPMN}script")
                self.check_javascript(
                    script if script is not None else task, task_id, f"script task {task_id!r}"
                )
            elif language == script_languages.FEEL:
                script = task.find(f"{BPMN}script")
                self.check_feel(
                    script if script is not None else task,
                    task_id,
                    f"script of script task {task_id!r}",
                    (script.text or "") if script is not None else "",
                )
            else:
                self.check_script_body(task, language)
        for script in process.iter(f"{{{CAMUNDA_NS}}}script"):
            self.check_parameter_script(script)

    def check_script_body(self, task: etree._Element, script_format: str) -> None:
        """A python script must pass the sandbox's compiler; a juel one is one EL expression."""
        from flowdesk.engine.languages import sandbox

        script = next(task.iter(f"{BPMN}script"), None)
        if script is None or not (script.text or "").strip():
            return  # Spiff's parser reports a script task without a script
        text = script.text or ""
        task_id = task.get("id")
        what = f"script task {task_id!r}"
        try:
            if script_format == "juel":
                sandbox.check_expression(text, element_id=task_id, value_context=True)
            else:
                sandbox.check_script(text, element_id=task_id)
        except ExpressionError as err:
            self.add(script, task_id, f"{what}: the script can never run: {err.reason}")

    def check_parameter_script(self, script: etree._Element) -> None:
        """A parameter's script runs; a listener's is checked where it is parsed
        (`listener_parsing`), and a connector's is never read."""
        from flowdesk.engine.scripts import script_languages

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
        language = script_languages.language_of(script_format)
        if language is None:
            self.add(
                script,
                owner_id,
                f"{what}: {script_languages.unsupported_reason(script_format)}",
            )
        elif script.get("resource"):
            self.add(
                script,
                owner_id,
                f"{what} names the external script {script.get('resource')!r}, which flowdesk "
                "cannot load; write the script in the model",
            )
        elif language == script_languages.JAVASCRIPT:
            self.check_javascript(script, owner_id, what)
        elif language == script_languages.FEEL:
            self.check_feel(script, owner_id, what, script.text or "")
        elif (script.text or "").strip():
            # The engine evaluates a parameter's script as one expression (JUEL or Python).
            self.check_runnable(script, owner_id, what, script.text or "", value_context=False)

    def check_javascript(self, element: etree._Element, owner_id: str | None, what: str) -> None:
        """The element's text parses as a JavaScript script; the line is the file's line."""

        text = element.text if etree.QName(element).localname == "script" else ""
        self.check_javascript_text(element, text or "", owner_id, what)

    def check_javascript_text(
        self, element: etree._Element, text: str, owner_id: str | None, what: str
    ) -> None:
        """Parse `text`; a syntax error is reported at its own line of the file."""
        from flowdesk.engine.languages import javascript

        try:
            javascript.check(text, element_id=owner_id)
        except javascript.ScriptSyntaxError as err:
            message = f"{what} is not valid JavaScript: {err.reason}"
            start = element.sourceline if isinstance(element.sourceline, int) else None
            if err.line is None or start is None:
                self.add(element, owner_id, message)
            else:
                # The text starts on the element's line, so script line N is file line
                # start + N - 1.
                self.problems.append(Problem(self.file, start + err.line - 1, owner_id, message))
