"""What `WorkflowRun` reads off Spiff tasks: Camunda settings, parameters, fingerprints, errors."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.util.task import TaskState

from flowdesk.engine.languages import javascript, sandbox
from flowdesk.engine.scripts import feel_scripts, script_languages


def taken_elements(gateway: Any) -> list[str]:
    """The BPMN elements a gateway's token went to.

    A target with boundary events sits behind a Spiff-internal split task without a BPMN id.
    """
    taken = []
    for child in gateway.children:
        if not child.has_state(TaskState.DEFINITE_MASK | TaskState.FINISHED_MASK):
            continue
        if getattr(child.task_spec, "bpmn_id", None):
            taken.append(child.task_spec.bpmn_id)
        else:
            taken.extend(taken_elements(child)[:1])
    return taken


def task_extensions(task: Any) -> dict[str, Any]:
    return getattr(task.task_spec, "extensions", None) or {}


def evaluate_parameters(
    extensions: Mapping[str, Any] | None,
    kind: str,
    variables: Mapping[str, Any],
    *,
    task: Any = None,
    writes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The values of an element's `inputs` or `outputs` parameters.

    With `task`, beans and `execution` resolve in JUEL, and a JavaScript `camunda:script`
    sees the task's `execution`. A script parameter's value is its result; what it sets
    through `execution.setVariable` is collected in `writes` (Camunda evaluates parameters
    against the enclosing scope, so those writes go there), and dropped when `writes` is None.
    """
    parameters = (extensions or {}).get(kind)
    if not parameters:
        return {}  # most elements have none: no context to build, twice per task run
    beans, objects = _expression_context(task)
    result: dict[str, Any] = {}
    for name, value in parameters:
        context = {**variables, **result}
        if value is None:
            result[name] = None
        elif isinstance(value, str):
            result[name] = sandbox.evaluate_value(value, context, beans=beans, objects=objects)
        elif "list" in value:
            result[name] = [
                sandbox.evaluate_value(v, context, beans=beans, objects=objects)
                for v in value["list"]
            ]
        elif "map" in value:
            result[name] = {
                k: sandbox.evaluate_value(v, context, beans=beans, objects=objects)
                for k, v in value["map"].items()
            }
        elif "script" in value and feel_scripts.is_feel(value.get("format")):
            result[name] = feel_scripts.evaluate(value["script"], context)
        elif "script" in value and script_languages.language_of(value.get("format")) == (
            script_languages.JAVASCRIPT
        ):
            execution = script_languages.execution_of(task) if task is not None else None
            element_id = execution.activity_id if execution else None
            outcome = javascript.run(
                value["script"], context, execution=execution, element_id=element_id
            )
            if writes is not None:
                writes.update(outcome.variables)
                writes.update(outcome.local_variables)
            result[name] = outcome.value
        elif "script" in value:
            result[name] = sandbox.evaluate(value["script"], context, beans=beans, objects=objects)
    return result


def _expression_context(task: Any) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """The registered beans and a read-only `execution` for parameters of `task`."""
    engine: Any = getattr(getattr(task, "workflow", None), "script_engine", None)
    if task is None or not hasattr(engine, "registry") or not hasattr(engine, "execution"):
        return None, None
    # Read-only: a parameter's value is computed, not a place to write variables from.
    return engine.registry.beans, {"execution": engine.execution(task, writable=False)}


def fingerprint(data: Mapping[str, Any]) -> dict[str, str]:
    return {k: fingerprint_value(v) for k, v in data.items()}


def fingerprint_value(value: Any) -> str:
    """A text that changes when the value does, even in place (a list appended to).

    JSON text in general. A string is its own fingerprint, marked with a NUL that no JSON text
    starts with: encoding a large text variable twice per task cost more than the rest of a
    step.
    """
    kind = type(value)
    if kind is str:
        return _STRING_MARK + str(value)
    # The JSON text of a scalar without the encoder `json.dumps` builds for each call (the
    # same text: fingerprints are stored while a task waits, and compared after).
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    return json.dumps(value, sort_keys=True, default=repr)


def unchanged(value: Any, before: str | None) -> bool:
    """Whether `value` is what `fingerprint_value` saw as `before`.

    A task's fingerprints are stored while it waits (a call activity), so `before` may be a
    string's JSON text from a state saved before strings were marked.
    """
    if type(value) is not str:
        return before == fingerprint_value(value)
    if before is None:
        return False
    if before.startswith(_STRING_MARK):
        # Compared in place: no marked copy of a large text.
        return len(before) == len(value) + 1 and before.endswith(value)
    return before == json.dumps(value)  # stored before strings were marked


_STRING_MARK = "\x00"


def describe(err: BaseException) -> str:
    # Spiff 3.2's WorkflowTaskException keeps the original error only as __context__.
    cause = getattr(err, "exception", None) or err.__cause__ or err.__context__
    text = f"{type(err).__name__}: {err}"
    if cause is not None and str(cause) not in text:
        text += f" ({type(cause).__name__}: {cause})"
    return text
