"""Which language runs a model's script, and the one entry point that runs a script for a task.

Camunda 7 names a script's language in `scriptFormat` (script tasks, `camunda:script`) or
`language` (conditions) and lower-cases it. flowdesk runs three of them:

- `javascript` and the other names in `javascript.LANGUAGES`, in QuickJS, with Camunda's
  bindings (see `flowdesk.engine.languages.javascript`);
- `python` (or no format): flowdesk's sandboxed Python (see
  `flowdesk.engine.languages.sandbox`), which is not Camunda's Jython;
- `juel`: one `${...}` expression;
- `feel`: one FEEL expression, as Camunda 7's FEEL Scala script engine runs it (see
  `flowdesk.engine.scripts.feel_scripts`).

Groovy, Jython, JRuby, XSLT, Kotlin and the other JSR-223 languages of the JVM are refused at
deploy with `unsupported_reason`.

`run_script(task, source, script_format)` is the entry point for any code that runs a script
on behalf of a Spiff task (script tasks, and listeners with `camunda:script`): it applies the
script's variable writes to the task data and returns the script's value. A task listener
passes `delegate_task` (bound as `task`) and gets what the script set on it in `task_changes`.
"""

from __future__ import annotations

import copy
from typing import Any

from flowdesk.engine.languages import javascript, sandbox
from flowdesk.engine.languages.bpmn_namespaces import BPMN
from flowdesk.engine.scripts import feel_scripts
from flowdesk.errors import ExpressionError

JAVASCRIPT = "javascript"
PYTHON = "python"
JUEL = "juel"
FEEL = feel_scripts.LANGUAGE

# Names Camunda users write for JSR-223 languages flowdesk cannot run, for a clear refusal.
_JVM_LANGUAGES = {
    "groovy": "Groovy",
    "jython": "Jython",
    "jruby": "JRuby",
    "ruby": "JRuby",
    "xslt": "XSLT",
    "kotlin": "Kotlin",
    "kts": "Kotlin",
    "beanshell": "BeanShell",
    "bsh": "BeanShell",
    "clojure": "Clojure",
    "scala": "Scala",
    "velocity": "Velocity",
    "freemarker": "FreeMarker",
    "mvel": "MVEL",
}

SUPPORTED = "javascript (also js, ecmascript), python (flowdesk's sandboxed Python), juel and feel"
"""What flowdesk runs, as refusals say it."""

# The internal-data key under which `WorkflowRun` keeps the names local to the running
# activity (its input parameters); `setVariableLocal` adds to it so the write stays local.
_LOCAL_NAMES_KEY = "flowdesk_local"


def language_of(script_format: str | None) -> str | None:
    """`JAVASCRIPT`, `PYTHON`, `JUEL` or `FEEL` for a `scriptFormat`/`language`, or None.

    No format at all is `PYTHON`, flowdesk's default for script tasks.
    """
    name = (script_format or "").strip().lower()
    if javascript.is_javascript(name):
        return JAVASCRIPT
    if name in ("", PYTHON):
        return PYTHON
    if name == JUEL:
        return JUEL
    if name == FEEL:
        return FEEL
    return None


def unsupported_reason(script_format: str) -> str:
    """Why a script language is refused, naming it and what flowdesk runs instead."""
    name = script_format.strip()
    known = _JVM_LANGUAGES.get(name.lower())
    what = (
        f"{known} is a JVM script language flowdesk cannot run"
        if known
        else "flowdesk does not know this language"
    )
    return f"script format {name!r} is not supported ({what}); flowdesk runs {SUPPORTED}"


def execution_of(task: Any, *, event_name: str | None = None) -> javascript.Execution:
    """The ids a script running for this Spiff task sees through `execution`."""
    scope = getattr(task.workflow.script_engine, "scope", None)
    return javascript.Execution(
        process_instance_id=getattr(scope, "instance_id", None),
        business_key=getattr(scope, "business_key", None),
        activity_id=getattr(task.task_spec, "bpmn_id", None),
        process_definition_id=getattr(scope, "process_definition_id", None),
        local_variable_names=frozenset(task.internal_data.get(_LOCAL_NAMES_KEY, ())),
        event_name=event_name,
    )


def run_script(
    task: Any,
    source: str,
    script_format: str | None,
    *,
    event_name: str | None = None,
    delegate_task: javascript.DelegateTask | None = None,
    task_changes: dict[str, Any] | None = None,
) -> Any:
    """Run a script for a Spiff task as Camunda runs it; its writes go into the task data.

    JavaScript writes only what it sets through `execution`; Python changes the task data as
    flowdesk's Python scripts do; JUEL evaluates the one expression.

    Args:
        task: The Spiff task the script runs for (its data are the variables).
        source: The script text from the model.
        script_format: `scriptFormat` as in the model; None or empty is Python.
        event_name: For a listener, its event, which `execution.getEventName()` returns.
        delegate_task: For a task listener, the user task, bound as `task` in JavaScript
            (instead of `execution`, as in Camunda).
        task_changes: Receives what a JavaScript task listener set on `task` (see
            `javascript.DelegateTask`), for the caller to apply to the user task.

    Returns:
        The script's value: for JavaScript its last expression, for JUEL and FEEL
        the expression's value, for Python None.

    Raises:
        ExpressionError: The language is not supported, or the script fails (see
            `javascript.run` and `sandbox.SandboxEnvironment.execute`).
    """
    element_id = getattr(task.task_spec, "bpmn_id", None)
    language = language_of(script_format)
    if language == JAVASCRIPT:
        facts = execution_of(task, event_name=event_name)
        outcome = javascript.run(
            source, task.data, execution=facts, element_id=element_id, task=delegate_task
        )
        apply_writes(task, outcome)
        if task_changes is not None:
            task_changes.update(outcome.task_changes)
        return outcome.value
    if language == PYTHON:
        task.workflow.script_engine.environment.execute(source, task.data)
        return None
    if language == JUEL:
        return sandbox.evaluate(source, task.data, element_id=element_id)
    if language == FEEL:
        return feel_scripts.evaluate(source, task.data)
    raise ExpressionError(source, unsupported_reason(script_format or ""), element_id=element_id)


def evaluate_condition(task: Any, source: str) -> bool:
    """A JavaScript condition for a Spiff task; what it sets through `execution` is kept."""
    element_id = getattr(task.task_spec, "bpmn_id", None)
    outcome = javascript.run(source, task.data, execution=execution_of(task), element_id=element_id)
    apply_writes(task, outcome)
    return javascript.boolean_result(outcome.value, source, element_id=element_id)


def apply_writes(task: Any, outcome: javascript.Outcome) -> None:
    """Put a JavaScript script's `execution` writes into the task data.

    `setVariableLocal` names join the activity's local names, so that, as in Camunda, they
    end with the activity unless an output parameter maps them.
    """
    task.data.update(outcome.variables)
    if outcome.local_variables:
        task.data.update(outcome.local_variables)
        names = task.internal_data.get(_LOCAL_NAMES_KEY)
        if isinstance(names, list):
            names.extend(n for n in outcome.local_variables if n not in names)
    for name in outcome.removed:
        task.data.pop(name, None)


def with_marked_javascript(root: Any) -> Any:
    """The BPMN tree with JavaScript script-task scripts and flow conditions `javascript.mark`ed.

    SpiffWorkflow 3.2 keeps only the text of a script or condition, not its `scriptFormat` or
    `language`; the mark carries the language to `FlowdeskScriptEngine`, which runs marked
    texts as JavaScript. The tree is copied only if something is marked.
    """
    targets = [
        element
        for element in root.iter(f"{BPMN}script", f"{BPMN}conditionExpression")
        if _is_javascript_text(element)
    ]
    if not targets:
        return root
    root = copy.deepcopy(root)
    for element in root.iter(f"{BPMN}script", f"{BPMN}conditionExpression"):
        if _is_javascript_text(element):
            element.text = javascript.mark(element.text or "")
    return root


_CONDITION_MARK = "/*flowdesk:juel-condition*/"


def with_marked_juel_conditions(root: Any) -> Any:
    """The BPMN tree with `${...}` conditions of sequence flows and conditional events marked
    as JUEL conditions.

    Camunda's `UelExpressionCondition` fails when a condition's value is null or not a Boolean
    ("condition expression returns non-Boolean"); SpiffWorkflow 3.2 takes any truthy value and
    keeps only the text of a condition. The mark tells `FlowdeskScriptEngine.evaluate` that
    the text is such a condition. Plain-Python conditions (no `${`) keep Python's truth rules.
    The tree is copied only if something is marked.
    """
    if not any(_is_juel_condition(element) for element in _conditions(root)):
        return root
    root = copy.deepcopy(root)
    for element in _conditions(root):
        if _is_juel_condition(element):
            element.text = _CONDITION_MARK + (element.text or "")
    return root


def _conditions(root: Any) -> Any:
    yield from root.iter(f"{BPMN}conditionExpression")
    yield from root.iter(f"{BPMN}condition")


def unmarked_condition(text: str) -> str:
    """The condition as the model wrote it: `text` without the JUEL-condition mark, if any."""
    return text.removeprefix(_CONDITION_MARK)


def juel_condition_value(source: str, evaluate: Any) -> bool:
    """Evaluate a JUEL sequence-flow condition with `evaluate(source)`; it must give a Boolean.

    Raises:
        ExpressionError: The value is null or not a Boolean, as Camunda refuses it.
    """
    value = evaluate(source)
    if value is None:
        raise ExpressionError(source, "condition expression returns null")
    if not isinstance(value, bool):
        raise ExpressionError(
            source,
            f"condition expression returns non-Boolean: result has class "
            f"{_java_class(value)} and not java.lang.Boolean",
        )
    return value


def _java_class(value: object) -> str:
    """The Java class Camunda would name for a value, for the error text."""
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, int):
        return "java.lang.Long"
    if isinstance(value, float):
        return "java.lang.Double"
    return type(value).__name__


def is_juel_text(text: str) -> bool:
    """Whether a condition's text is one JUEL expression, `${...}` or `#{...}`."""
    text = text.strip()
    return (text.startswith("${") or text.startswith("#{")) and text.endswith("}")


def condition_holds(source: str, evaluate: Any) -> bool:
    """A conditional event's condition, marked or not: JUEL must give a Boolean, as on a
    sequence flow (Camunda evaluates both with `UelExpressionCondition`); Python keeps its
    truth rules."""
    source = unmarked_condition(source)
    if is_juel_text(source):
        return juel_condition_value(source, evaluate)
    return bool(evaluate(source))


def completion_condition_holds(source: str, value: Any) -> bool:
    """A multi-instance `completionCondition`'s value; JUEL must give a Boolean.

    Raises:
        ExpressionError: A JUEL condition's value is not a Boolean (null included), with
            Camunda's message (`MultiInstanceActivityBehavior.completionConditionSatisfied`).
    """
    if not is_juel_text(source):
        return bool(value)
    if not isinstance(value, bool):
        raise ExpressionError(
            source,
            "Could not resolve expression of type 'completionCondition'. Expression "
            f"'{source.strip()}' needs to evaluate to a boolean value.",
        )
    return value


def _is_juel_condition(element: Any) -> bool:
    owner = element.getparent()
    language = (element.get("language") or "").strip().lower()
    return (
        owner is not None
        and owner.tag in (f"{BPMN}sequenceFlow", f"{BPMN}conditionalEventDefinition")
        and language in ("", JUEL)
        and is_juel_text(element.text or "")
    )


def _is_javascript_text(element: Any) -> bool:
    if element.tag == f"{BPMN}script":
        owner = element.getparent()
        return (
            owner is not None
            and owner.tag == f"{BPMN}scriptTask"
            and javascript.is_javascript(owner.get("scriptFormat"))
        )
    owner = element.getparent()
    return (
        owner is not None
        and owner.tag == f"{BPMN}sequenceFlow"
        and javascript.is_javascript(element.get("language"))
    )
