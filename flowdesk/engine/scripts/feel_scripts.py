"""FEEL as a BPMN script and expression language: `scriptFormat="feel"`, `language="feel"`.

Camunda 7 ships the FEEL Scala engine, which registers itself as a JSR-223 script engine named
"feel"; the process engine finds it like any script language (`ScriptingEngines` lower-cases
the name). So a script task with `scriptFormat="feel"` evaluates one FEEL expression and
stores its value in `camunda:resultVariable` (without one the value is dropped), a condition
with `language="feel"` must give a boolean (null or another type fails, as in Camunda's
`ScriptCondition`), and a `camunda:script` parameter takes the expression's value. FEEL
scripts see the process variables by name and cannot change them.

The FEEL is flowdesk's DMN translator (`dmn.feel`): the same subset, translated into Python
for the sandbox once, when the file is read, so a text outside the subset fails the deploy.

How the language reaches the runtime: SpiffWorkflow 3.2 keeps only the text of a script or
condition, not its language. `mark_feel_texts` therefore rewrites each FEEL text, before
SpiffWorkflow parses the file, to `MARK` + a header line + the text; the script engine sends
marked texts here. A marked text is not valid Python or JUEL, so if any path ever missed the
mark it would fail loudly instead of running FEEL as Python.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from lxml import etree

from flowdesk.engine.dmn import evaluation, feel, functions
from flowdesk.engine.languages import sandbox
from flowdesk.engine.languages.bpmn_namespaces import BPMN, CAMUNDA
from flowdesk.errors import ExpressionError, ScriptLimitError

LANGUAGE = "feel"
"""The script format / expression language name (compared lower-cased, as Camunda does)."""

MARK = "@feel"
"""Start of a text `mark_feel_texts` rewrote; `@feel` begins no Python or JUEL text."""

_RESULT = "result="


def is_feel(language: str | None) -> bool:
    """Whether a `scriptFormat` or `language` attribute names FEEL.

    Args:
        language: The attribute's value, or None.

    Returns:
        True for "feel" in any case.
    """
    return (language or "").strip().lower() == LANGUAGE


def check(text: str) -> str | None:
    """Why a FEEL script or condition cannot run, or None when it can.

    Args:
        text: The FEEL expression from the model.

    Returns:
        The reason, for a deploy-time problem; None if flowdesk translates the text.
    """
    try:
        feel.translate_expression(text)
    except feel.FeelSyntaxError as err:
        return f"{text.strip()!r} is not a FEEL expression flowdesk supports ({err})"
    return None


def mark_feel_texts(root: etree._Element) -> etree._Element:
    """The file with every FEEL script task and FEEL sequence-flow condition marked.

    Conditions of conditional events are not marked: flowdesk evaluates them elsewhere, and
    the deploy check refuses FEEL there.

    Args:
        root: A BPMN `definitions` element; it is not changed.

    Returns:
        `root` itself when it holds no FEEL, else a changed copy.
    """
    scripts = [task for task in root.iter(f"{BPMN}scriptTask") if is_feel(task.get("scriptFormat"))]
    conditions = [
        element
        for element in root.iter(f"{BPMN}conditionExpression")
        if is_feel(element.get("language"))
    ]
    if not scripts and not conditions:
        return root
    root = copy.deepcopy(root)
    for task in root.iter(f"{BPMN}scriptTask"):
        script = task.find(f"{BPMN}script")
        if is_feel(task.get("scriptFormat")) and script is not None:
            result = (task.get(f"{CAMUNDA}resultVariable") or "").strip()
            script.text = f"{MARK} {_RESULT}{result}\n{script.text or ''}"
    for element in root.iter(f"{BPMN}conditionExpression"):
        if is_feel(element.get("language")):
            element.text = f"{MARK} condition\n{element.text or ''}"
    return root


def is_marked(text: object) -> bool:
    """Whether a script or condition text is FEEL that `mark_feel_texts` marked."""
    return isinstance(text, str) and text.startswith(MARK + " ")


def evaluate_condition(text: str, variables: Mapping[str, Any]) -> bool:
    """A marked FEEL condition's verdict.

    Raises:
        ExpressionError: The FEEL fails, or gives null or a value that is not a boolean
            (Camunda 7: "condition script returns null / non-Boolean").
    """
    _, source = _split(text)
    value = evaluate(source, variables)
    if not isinstance(value, bool):
        raise ExpressionError(
            source,
            "a FEEL condition must give true or false, not "
            + ("null" if value is None else f"a {functions.type_name(value)}"),
        )
    return value


def run_script(text: str, variables: dict[str, Any]) -> None:
    """Run a marked FEEL script task: its value goes to its `camunda:resultVariable`, if any.

    Raises:
        ExpressionError: The FEEL fails.
    """
    header, source = _split(text)
    value = evaluate(source, variables)
    result_variable = header[len(_RESULT) :] if header.startswith(_RESULT) else ""
    if result_variable:
        variables[result_variable] = evaluation.to_json(value)


def evaluate(text: str, variables: Mapping[str, Any]) -> Any:
    """The value of a FEEL expression over process variables, as Camunda's FEEL engine gives it.

    Args:
        text: The FEEL expression (not marked).
        variables: The variables it reads by name.

    Returns:
        The value; whole numbers are integers, dates ISO text.

    Raises:
        ExpressionError: The text is not in flowdesk's FEEL subset, or fails where FEEL
            still fails (an unknown name or a type mismatch is null, not a failure).
    """
    try:
        source = feel.translate_expression(text)
    except feel.FeelSyntaxError as err:
        raise ExpressionError(text, f"not a FEEL expression flowdesk supports ({err})") from err
    context = {feel.VARIABLES: variables, **feel.HELPERS}
    try:
        value = sandbox.evaluate(source, context)
    except ScriptLimitError as err:
        raise ScriptLimitError(text, err.reason, kind=err.kind) from err
    except ExpressionError as err:
        cause = err.__cause__
        reason = str(cause) if isinstance(cause, functions.FeelError) else err.reason
        raise ExpressionError(text, reason) from err
    return evaluation.feel_value(value)


def _split(text: str) -> tuple[str, str]:
    """(header, FEEL source) of a marked text."""
    first, _, source = text[len(MARK) + 1 :].partition("\n")
    return first.strip(), source
