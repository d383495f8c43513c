"""JavaScript in BPMN models, run as Camunda 7's Nashorn/GraalJS scripts see it, in QuickJS.

Camunda 7 runs `scriptFormat="javascript"` (and the other names its `ScriptEngineManager`
resolves to a JavaScript engine, see `LANGUAGES`) in script tasks, in sequence-flow conditions
with `language="javascript"` and in `camunda:script` parameters. flowdesk runs the same text in
QuickJS (the `quickjs-ng` package; `docs/dependencies.md` says why not V8) with the bindings
Camunda gives a script:

- every process variable whose name is a JavaScript identifier is a global of that name, unless
  the global already exists (`Math`, `JSON`, ...: Camunda's bindings are only consulted for
  names the script engine does not define itself);
- `execution` is the execution: `getVariable`, `setVariable`, `getVariableLocal`,
  `setVariableLocal`, `hasVariable`, `hasVariableLocal`, `getVariables`, `removeVariable`,
  `getProcessInstanceId`, `getBusinessKey`, `getProcessBusinessKey`, `getCurrentActivityId`,
  `getActivityId`, `getProcessDefinitionId`, `getEventName`;
- the value of the script's last expression statement is its result.

As in Camunda 7 (whose `autoStoreScriptVariables` is off by default, see its `ScriptBindings`),
nothing the script assigns (`var x = 1`, `x = 1`) becomes a process variable: only
`execution.setVariable` writes. Globals are a snapshot taken when the script starts; a change
through `execution.setVariable` is seen by `execution.getVariable`, not by the global.

Values cross as JSON. Process variables arrive as JSON values (dates as the ISO-8601 text the
store keeps them as). A value written with `setVariable`, or returned as a result, must be
`null`/`undefined` (both null), a boolean, a string, a finite number (an integral one arrives as
`int`), an array or a plain object of such values; a `Date` becomes its ISO-8601 UTC text
(`toISOString()`). Anything else (functions, symbols, `NaN`, cyclic or over-deep objects) fails
the script with a clear reason rather than storing something else.

Why a fresh QuickJS context for every evaluation: it costs about 0.3 ms, and it means nothing a
script defines can leak into the next one, and a context that ran out of memory is thrown
away. Why JSON and no Python callbacks: the script then reaches nothing of the host; the
`execution` object is plain JavaScript over the snapshot, and its writes come back with the
result.

What the sandbox prevents: QuickJS as built by `quickjs-ng` has no `require`, `process`,
`std`/`os` modules, `load`, `fetch`, `Java`/`Packages` or `console`; static `import`
statements do not parse in a script, and dynamic `import()` finds no module loader. Each
evaluation has a CPU-time limit and a heap limit, the `Engine`'s `ScriptLimits`
(`cpu_seconds`, `memory_bytes`; QuickJS measures the process's CPU time with `clock()`);
going over either fails the evaluation with a `ScriptLimitError` within about the limit. What it
does not prevent: reading the clock (`new Date()`) or `Math.random()`. What Camunda allows and
flowdesk cannot: Java classes (`java.util.Date`, `Java.type(...)`), Spin's `S()`/`JSON()`, and
`load()` of external files; a script using them fails with a `ReferenceError` naming them.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import quickjs  # type: ignore[import-untyped]  # quickjs-ng ships no type hints

from flowdesk.engine.languages import limits as script_limits
from flowdesk.errors import ExpressionError, ScriptLimitError

LANGUAGES: frozenset[str] = frozenset(
    {"javascript", "ecmascript", "js", "graal.js", "graal-js", "nashorn"}
)
"""Script format names Camunda 7 runs as JavaScript, lower-cased as Camunda compares them.

Camunda lower-cases `scriptFormat`/`language`, maps `javascript` and `ecmascript` to GraalJS
(or Nashorn), and asks the JSR-223 `ScriptEngineManager` for any other name; GraalJS and
Nashorn register `js`, `graal.js`, `graal-js` and `nashorn` in lower case.
"""

_STACK_LIMIT_BYTES = 512 * 1024
# The text that marks a parsed script or condition as JavaScript (see `mark`). A comment, so
# the marked text is still the same JavaScript, with the same line numbers.
_MARK = "/*flowdesk:javascript*/"


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """What `execution.get...Id()` answers in a script.

    Attributes:
        process_instance_id: The instance id.
        business_key: The instance's business key, or None.
        activity_id: The BPMN element running the script, or None.
        process_definition_id: Camunda's `key:version:id` of the definition, or None.
        local_variable_names: Variables local to the element (its input parameters), which
            `getVariableLocal`/`hasVariableLocal` see besides those set with `setVariableLocal`.
        event_name: For a listener, the event (`start`, `end`, `take`, ...), as
            `execution.getEventName()` reports it.
    """

    process_instance_id: str | None = None
    business_key: str | None = None
    activity_id: str | None = None
    process_definition_id: str | None = None
    local_variable_names: frozenset[str] = frozenset()
    event_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DelegateTask:
    """The user task a task listener's script sees as `task` (Camunda's `DelegateTask`).

    Its getters answer from these fields; its setters (`setAssignee`, `setOwner`, `setName`,
    `setDescription`, `setPriority`, `setDueDate`, `setFollowUpDate`, `addCandidateUser(s)`,
    `addCandidateGroup(s)`, `deleteCandidateUser`, `deleteCandidateGroup`) come back in
    `Outcome.task_changes`, keyed by these field names, for the caller to apply. Dates are
    ISO-8601 text. `task.getExecution()` is the `execution` object; the variable methods are
    the same as `execution`'s. As in Camunda, a task listener's script has `task` and no
    global `execution`.
    """

    id: str | None = None
    name: str | None = None
    description: str | None = None
    assignee: str | None = None
    owner: str | None = None
    priority: int = 50
    task_definition_key: str | None = None
    event_name: str | None = None
    due_date: str | None = None
    follow_up_date: str | None = None
    candidate_users: tuple[str, ...] = ()
    candidate_groups: tuple[str, ...] = ()


# DelegateTask field <-> the runtime's camelCase name.
_TASK_FIELDS = {
    "id": "id",
    "name": "name",
    "description": "description",
    "assignee": "assignee",
    "owner": "owner",
    "priority": "priority",
    "task_definition_key": "taskDefinitionKey",
    "event_name": "eventName",
    "due_date": "dueDate",
    "follow_up_date": "followUpDate",
    "candidate_users": "candidateUsers",
    "candidate_groups": "candidateGroups",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a script did.

    Attributes:
        value: The value of its last expression statement (None for `undefined`).
        variables: Variables written with `execution.setVariable`, last value wins.
        local_variables: Variables written with `execution.setVariableLocal`.
        removed: Variables removed with `execution.removeVariable`.
        task_changes: What a task listener's script set on `task`, by `DelegateTask` field
            name, e.g. `{"assignee": "bob", "candidate_groups": ["sales"]}`.
    """

    value: Any = None
    variables: dict[str, Any] = field(default_factory=dict)
    local_variables: dict[str, Any] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    task_changes: dict[str, Any] = field(default_factory=dict)


class ScriptSyntaxError(ExpressionError):
    """A JavaScript text that does not parse; `line` is the line in the script, if known."""

    def __init__(self, source: str, reason: str, line: int | None, element_id: str | None) -> None:
        super().__init__(source, reason, element_id=element_id)
        self.line = line


def is_javascript(language: str | None) -> bool:
    """Whether Camunda 7 runs a script of this `scriptFormat`/`language` as JavaScript."""
    return (language or "").strip().lower() in LANGUAGES


def check(source: str, *, element_id: str | None = None) -> None:
    """Parse a script without running it, as deploy does.

    Raises:
        ScriptSyntaxError: The text is not a JavaScript script; the reason names the line.
    """
    context = _context()
    # Parsing is all-or-nothing before the first statement runs, so a leading throw on the
    # same line (line numbers stay) stops the script before anything of it executes.
    probe = "throw __flowdesk_parsed__;" + source
    try:
        context.get("__flowdesk_check__")(probe)
    except quickjs.JSException as err:
        text = str(err)
        message, _, stack = text.partition("\n")
        line = _script_line(message, stack)
        raise ScriptSyntaxError(source, _reason(text), line, element_id) from err


def run(
    source: str,
    variables: Mapping[str, Any],
    *,
    execution: Execution | None = None,
    element_id: str | None = None,
    bind_execution: bool = True,
    task: DelegateTask | None = None,
) -> Outcome:
    """Run a JavaScript script against process variables, in a fresh sandboxed context.

    Args:
        source: The script text, as in the model (a `mark`ed text is accepted too).
        variables: The variables the script sees; they are not changed.
        execution: The ids `execution` reports.
        element_id: The BPMN element, for error messages.
        bind_execution: False leaves `execution` undefined (DMN expressions have none).
        task: For a task listener: bound as `task`, instead of `execution`.

    Returns:
        The script's result value and the variables it wrote.

    Raises:
        ExpressionError: The script does not parse, throws, writes a value that cannot be
            stored, or goes over the time or memory limit. The reason says which, and the line.
    """
    source = unmark(source) if is_marked(source) else source
    facts = execution or Execution()
    payload = json.dumps(
        {
            "variables": {k: v for k, v in variables.items() if isinstance(k, str)},
            "localNames": sorted(facts.local_variable_names),
            "execution": None
            if not bind_execution
            else {
                "processInstanceId": facts.process_instance_id,
                "businessKey": facts.business_key,
                "activityId": facts.activity_id,
                "processDefinitionId": facts.process_definition_id,
                "eventName": facts.event_name,
            },
            "task": None
            if task is None
            else {
                camel: list(value) if isinstance(value, tuple) else value
                for name, camel in _TASK_FIELDS.items()
                for value in [getattr(task, name)]
            },
        },
        default=_json_default,
    )
    context = _context()
    try:
        answer = context.get("__flowdesk_run__")(payload, source)
    except quickjs.JSException as err:
        over = _limit_exceeded(str(err))
        if over is not None:
            raise ScriptLimitError(source, over[1], kind=over[0], element_id=element_id) from err
        raise ExpressionError(source, _reason(str(err)), element_id=element_id) from err
    except quickjs.StackOverflow as err:
        raise ExpressionError(
            source, "stack overflow (too deep recursion)", element_id=element_id
        ) from err
    result = json.loads(answer)
    return Outcome(
        value=result["value"],
        variables=result["variables"],
        local_variables=result["local"],
        removed=tuple(result["removed"]),
        task_changes={
            name: result["task"][camel]
            for name, camel in _TASK_FIELDS.items()
            if camel in result["task"]
        },
    )


def evaluate(source: str, variables: Mapping[str, Any], *, element_id: str | None = None) -> Any:
    """The value of a JavaScript expression or script with no `execution`: for DMN.

    This is the entry point for DMN's `expressionLanguage="javascript"` (input expressions,
    output entries, literal expressions; for an input entry, pass the input value as
    `cellInput` and require a boolean with `boolean_result`), as Camunda's DMN engine runs
    such scripts with the variable context only. Variables are globals; the last value is the
    result; values cross as in `run`.

    Raises:
        ExpressionError: As for `run`.
    """
    return run(source, variables, element_id=element_id, bind_execution=False).value


def condition(
    source: str,
    variables: Mapping[str, Any],
    *,
    execution: Execution | None = None,
    element_id: str | None = None,
) -> bool:
    """Evaluate a JavaScript condition: its result must be a boolean, as Camunda requires.

    Writes through `execution` are dropped; `script_languages.evaluate_condition` keeps them.

    Raises:
        ExpressionError: As for `run`, or the result is not a boolean (`boolean_result`).
    """
    value = run(source, variables, execution=execution, element_id=element_id).value
    return boolean_result(value, source, element_id=element_id)


def boolean_result(value: Any, source: str, *, element_id: str | None = None) -> bool:
    """A condition script's value, which Camunda's `ScriptCondition` requires to be a Boolean.

    Raises:
        ExpressionError: The value is null ("condition script returns null") or not a boolean.
    """
    if not isinstance(value, bool):
        what = "null" if value is None else f"a non-boolean ({type(value).__name__})"
        raise ExpressionError(source, f"condition script returns {what}", element_id=element_id)
    return value


def mark(source: str) -> str:
    """The script text marked as JavaScript, for places that carry only text (Spiff specs)."""
    return _MARK + source


def is_marked(text: object) -> bool:
    """Whether `text` came from `mark`."""
    return isinstance(text, str) and text.startswith(_MARK)


def unmark(text: str) -> str:
    """The script text that `mark` was given."""
    return text[len(_MARK) :]


# --- the context ----------------------------------------------------------------------------


def _context() -> quickjs.Context:
    limits = script_limits.current()
    context = quickjs.Context()
    context.set_time_limit(limits.cpu_seconds)
    context.set_memory_limit(limits.memory_bytes)
    context.set_max_stack_size(_STACK_LIMIT_BYTES)
    context.eval(_RUNTIME)
    return context


def _json_default(value: Any) -> Any:
    # Dates go in as the ISO text the store keeps them as, so a script sees the same value
    # whether or not the instance was loaded from the database in between.
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    if isinstance(value, bytes):  # Camunda's Bytes variables: as base64 text
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"a {type(value).__name__} cannot be passed to JavaScript")


_STACK_LINE = re.compile(r"<input>:(\d+)(?::\d+)?")


def _limit_exceeded(text: str) -> tuple[str, str] | None:
    """("time" or "memory", reason) when QuickJS stopped a script at a limit."""
    message = text.partition("\n")[0].strip()
    limits = script_limits.current()
    if message in ("InternalError: interrupted", "interrupted"):
        return "time", script_limits.time_reason(limits)
    if message in ("null", "InternalError: out of memory") or "out of memory" in message:
        return "memory", script_limits.memory_reason(limits)
    return None


def _reason(text: str) -> str:
    """A one-line reason from QuickJS's error text and stack, with the script's line."""
    message, _, stack = text.partition("\n")
    message = message.strip()
    over = _limit_exceeded(text)
    if over is not None:
        return over[1]
    if message.startswith("RangeError: Maximum call stack size exceeded") or (
        "stack overflow" in message
    ):
        return "stack overflow (too deep recursion)"
    line = _script_line(message, stack)
    return f"line {line}: {message}" if line else message


def _script_line(message: str, stack: str) -> int | None:
    """The script's line: QuickJS names the eval'd script `<input>` and frames it before `eval`."""
    frames = stack.splitlines()
    if not any("eval (native)" in frame for frame in frames):
        return None  # failed outside the script, e.g. converting its result
    script_frames: list[int] = []
    for frame in frames:
        if "eval (native)" in frame:
            break
        found = _STACK_LINE.search(frame)
        if found:
            script_frames.append(int(found.group(1)))
    if not script_frames:
        return None
    # A value the script hands to `execution` fails inside the runtime's own functions; the
    # outermost frame before `eval` is then the script's statement. Otherwise the innermost
    # frame is where the script failed.
    if "cannot be stored" in message:
        return script_frames[-1]
    return script_frames[0]


# The runtime every context starts with: the `execution` object and the conversion of values
# going out. It calls nothing on the host.
_RUNTIME = (resources.files("flowdesk.engine.languages") / "javascript_runtime.js").read_text(
    "utf-8"
)
