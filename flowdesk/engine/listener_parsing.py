"""Reading Camunda 7 listeners and field injections from a BPMN element.

Camunda attaches code to an element's life with `camunda:executionListener` (events `start`
and `end` on activities, events, gateways, sub-processes and the process; `take` on sequence
flows) and to a user task's with `camunda:taskListener` (`create`, `assignment`, `complete`,
`delete`). A listener names its code with `class`, `expression` or `delegateExpression`, or
holds a `camunda:script`; `camunda:field` children give it (or a service task's delegate)
named values, a literal (`stringValue`, `<camunda:string>`) or an expression
(`expression`, `<camunda:expression>`) evaluated each time the code is called.

Each listener becomes a plain dict, kept in the task spec's `extensions` (see `parser`):
`{"event", "kind", "text", "format", "fields", "flow"}` where `kind` is `class`,
`expression`, `delegateExpression` or `script`, `text` the class name, expression or script,
`format` the script format (scripts only), `fields` a list of `[name, {"string": text}]` or
`[name, {"expression": text}]`, `flow` the sequence flow id (take listeners only), and
for `timeout` task listeners their `id` and `timer` (`[timeDate|timeDuration, text]`).

Everything a listener or field says is checked here, so deploy refuses (file, line, element)
what could not run: a missing event or implementation, an unknown event, an expression that
does not translate, a script format flowdesk cannot run, and a `timeout` task listener
without an id or a timeDate/timeDuration timer (cycles are not supported yet).
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from flowdesk.errors import ExpressionError

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_C = "{" + CAMUNDA_NS + "}"
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

EXECUTION_EVENTS = frozenset({"start", "end"})
TASK_EVENTS = frozenset({"create", "assignment", "complete", "delete", "update", "timeout"})
_KINDS = ("class", "expression", "delegateExpression")


def parse_element(node: Any, filename: str | None) -> dict[str, Any]:
    """The listener and field entries of an element's `extensions` (only those present).

    Keys: `execution_listeners` (start/end), `task_listeners`, `take_listeners` (the
    element's outgoing sequence flows' listeners, by target element id) and `fields`.
    """
    found: dict[str, Any] = {}
    elements = _extension_elements(node)
    if elements is not None:
        execution = [
            _listener(child, filename, EXECUTION_EVENTS, "execution")
            for child in elements
            if child.tag == f"{_C}executionListener"
        ]
        if execution:
            found["execution_listeners"] = execution
        task = [
            _listener(child, filename, TASK_EVENTS, "task")
            for child in elements
            if child.tag == f"{_C}taskListener"
        ]
        if task:
            found["task_listeners"] = task
        fields = parse_fields(elements, filename)
        if fields:
            found["fields"] = fields
    take = take_listeners(node, filename)
    if take:
        found["take_listeners"] = take
    return found


def parse_process(node: Any, filename: str | None) -> list[dict[str, Any]]:
    """The start and end execution listeners of a `bpmn:process` element."""
    elements = _extension_elements(node)
    if elements is None:
        return []
    return [
        _listener(child, filename, EXECUTION_EVENTS, "execution")
        for child in elements
        if child.tag == f"{_C}executionListener"
    ]


def take_listeners(node: Any, filename: str | None) -> dict[str, list[dict[str, Any]]]:
    """The listeners of the sequence flows leaving `node`, by the id of the flow's target."""
    parent = node.getparent()
    node_id = node.get("id")
    if parent is None or not node_id:
        return {}
    result: dict[str, list[dict[str, Any]]] = {}
    for flow in _flows_by_source(parent).get(node_id, ()):
        elements = _extension_elements(flow)
        if elements is None:
            continue
        for child in elements:
            if child.tag != f"{_C}executionListener":
                continue
            # Camunda ignores the event attribute on a flow: its listeners run when it is taken.
            listener = _listener(child, filename, None, "execution")
            listener["event"] = "take"
            listener["flow"] = flow.get("id") or ""
            result.setdefault(flow.get("targetRef") or "", []).append(listener)
    return result


# The sequence flows of the last flow-node container seen, by source id. The parser asks for
# the flows leaving each of its elements in turn; scanning every flow of the container each
# time made deploying a model with thousands of tasks quadratic. One entry is enough: a
# container's elements are parsed together. A parsed tree is never changed afterwards (every
# rewrite in `parser` works on a copy), and the entry holds its container, whose identity
# therefore cannot pass to another element. (Counting the children to notice changes would
# cost a walk of them per element again: `len` of an lxml element is not O(1).)
_FLOW_INDEX: tuple[Any, dict[str, list[Any]]] | None = None


def _flows_by_source(parent: Any) -> dict[str, list[Any]]:
    global _FLOW_INDEX
    cached = _FLOW_INDEX  # one read: another thread may replace it meanwhile
    if cached is not None and cached[0] is parent:
        return cached[1]
    index: dict[str, list[Any]] = {}
    for flow in parent.iterchildren(f"{_BPMN}sequenceFlow"):
        index.setdefault(flow.get("sourceRef") or "", []).append(flow)
    _FLOW_INDEX = (parent, index)
    return index


def parse_fields(elements: Any, filename: str | None) -> list[list[Any]]:
    """`camunda:field` children: `[name, {"string": text}]` or `[name, {"expression": text}]`."""
    fields: list[list[Any]] = []
    for field in elements:
        if not isinstance(field.tag, str) or field.tag != f"{_C}field":
            continue
        name = field.get("name")
        if not name:
            raise _error(field, filename, "camunda:field needs a name")
        value: dict[str, str] | None = None
        if field.get("stringValue") is not None:
            value = {"string": field.get("stringValue")}
        elif field.get("expression") is not None:
            value = {"expression": field.get("expression")}
        for child in field:
            if child.tag == f"{_C}string":
                value = {"string": child.text or ""}
            elif child.tag == f"{_C}expression":
                value = {"expression": (child.text or "").strip()}
        if value is None:
            raise _error(
                field,
                filename,
                f"camunda:field {name!r} has no stringValue, expression, camunda:string or "
                "camunda:expression",
            )
        if "expression" in value:
            _check_value(value["expression"], field, filename, f"camunda:field {name!r}")
        fields.append([name, value])
    return fields


def _listener(
    node: Any, filename: str | None, events: frozenset[str] | None, what: str
) -> dict[str, Any]:
    tag = f"camunda:{what}Listener"
    event = (node.get("event") or "").strip()
    if events is not None:
        if not event:
            raise _error(node, filename, f"{tag} needs an event ({', '.join(sorted(events))})")
        if event not in events:
            raise _error(
                node,
                filename,
                f"{tag} event {event!r} is not supported; use one of {sorted(events)}",
            )
    listener: dict[str, Any] = {"event": event, "format": None}
    for kind in _KINDS:
        if node.get(kind):
            listener["kind"], listener["text"] = kind, node.get(kind).strip()
            break
    else:
        script = next((c for c in node if c.tag == f"{_C}script"), None)
        if script is None:
            raise _error(
                node,
                filename,
                f"{tag} needs class, expression, delegateExpression or a camunda:script",
            )
        listener["kind"], listener["text"] = "script", script.text or ""
        listener["format"] = _script_format(script, filename)
    if listener["kind"] in ("expression", "delegateExpression"):
        _check_expression(listener["text"], node, filename, f"{tag} {listener['kind']}")
    listener["fields"] = parse_fields(node, filename)
    if event == "timeout" and what == "task":
        listener["id"] = node.get("id") or ""
        listener["timer"] = _timeout_timer(node, filename)
    return listener


def _timeout_timer(node: Any, filename: str | None) -> list[str]:
    """A timeout listener's `camunda:timerEventDefinition`: `[timeDate|timeDuration, text]`."""
    if not node.get("id"):
        raise _error(node, filename, "a timeout camunda:taskListener needs an id")
    definition = next((c for c in node if c.tag == f"{_C}timerEventDefinition"), None)
    if definition is None:
        raise _error(node, filename, "a timeout camunda:taskListener needs a timerEventDefinition")
    for child in definition:
        if not isinstance(child.tag, str):
            continue
        kind = etree.QName(child).localname
        if kind == "timeCycle":
            raise _error(
                node,
                filename,
                "a timeout task listener with a timeCycle is not supported by flowdesk yet; "
                "use timeDate or timeDuration",
            )
        if kind in ("timeDate", "timeDuration"):
            text = (child.text or "").strip()
            if not text:
                raise _error(node, filename, f"the timeout listener's {kind} is empty")
            if "${" in text or "#{" in text:
                _check_value(text, node, filename, f"the timeout listener's {kind}")
            return [kind, text]
    raise _error(node, filename, "the timeout listener's timer has no timeDate or timeDuration")


def _script_format(script: Any, filename: str | None) -> str:
    """The language of a listener's script (see `script_languages`), checked as deploy would
    check a script task's: a language flowdesk runs, inline, and JavaScript that parses."""
    from flowdesk.engine import javascript, script_languages

    script_format = (script.get("scriptFormat") or "").strip()
    language = script_languages.language_of(script_format)
    if language is None:
        raise _error(
            script,
            filename,
            f"listener script: {script_languages.unsupported_reason(script_format)}",
        )
    if script.get("resource"):
        raise _error(
            script,
            filename,
            f"listener script names the external script {script.get('resource')!r}, which "
            "flowdesk cannot load; write the script in the model",
        )
    text = script.text or ""
    if not text.strip():
        raise _error(script, filename, "listener script is empty")
    if language == script_languages.JAVASCRIPT:
        try:
            javascript.check(text)
        except javascript.ScriptSyntaxError as err:
            raise _error(
                script, filename, f"listener script is not valid JavaScript: {err.reason}"
            ) from err
    return language


def _check_expression(text: str, node: Any, filename: str | None, what: str) -> None:
    from flowdesk.engine import expressions

    try:
        expressions.translate(text)
    except ExpressionError as err:
        raise _error(node, filename, f"{what} cannot be translated: {err.reason}") from err


def _check_value(text: str, node: Any, filename: str | None, what: str) -> None:
    from flowdesk.engine import expressions

    try:
        expressions.translate_value(text)
    except ExpressionError as err:
        raise _error(node, filename, f"{what} cannot be translated: {err.reason}") from err


def _extension_elements(node: Any) -> Any:
    for child in node:
        if isinstance(child.tag, str) and etree.QName(child).localname == "extensionElements":
            return child
    return None


def _error(node: Any, filename: str | None, message: str) -> ValidationException:
    # The element the listener belongs to, so that deploy names its BPMN id and line.
    owner = node
    while owner is not None and (not owner.get("id") or str(owner.tag).startswith(_C)):
        owner = owner.getparent()
    located = owner if owner is not None else node
    return ValidationException(message, node=located, file_name=filename)
