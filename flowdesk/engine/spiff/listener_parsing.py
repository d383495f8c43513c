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
without an id or a timer (timeDate, timeDuration or timeCycle).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from flowdesk.engine.languages import timer_texts
from flowdesk.engine.languages.bpmn_namespaces import BPMN, CAMUNDA_NS
from flowdesk.errors import ExpressionError

_C = "{" + CAMUNDA_NS + "}"
# A cycle's text is checked at deploy by computing its schedule from some time.
_ANY_TIME = datetime(2000, 1, 1, tzinfo=UTC)

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
    for flow in _flows_leaving(parent, node_id):
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


# The sequence flows of a recently parsed scope by source id: (scope, its last child, index).
# Looking the flows up per element made parsing quadratic in the number of elements. The scope
# is held, so its id is not reused while it is here; an appended child rebuilds the index.
_FLOW_INDEXES: OrderedDict[int, tuple[Any, Any, dict[str, list[Any]]]] = OrderedDict()
_FLOW_INDEXES_KEPT = 8
_FLOW_INDEXES_LOCK = threading.Lock()


def _flows_leaving(parent: Any, node_id: str) -> list[Any]:
    """The `bpmn:sequenceFlow` children of `parent` whose source is `node_id`, in order."""
    with _FLOW_INDEXES_LOCK:
        last = _last_child(parent)
        cached = _FLOW_INDEXES.get(id(parent))
        if cached is None or cached[0] is not parent or cached[1] is not last:
            index: dict[str, list[Any]] = {}
            for flow in parent.iterchildren(f"{BPMN}sequenceFlow"):
                index.setdefault(flow.get("sourceRef") or "", []).append(flow)
            cached = _FLOW_INDEXES[id(parent)] = (parent, last, index)
            while len(_FLOW_INDEXES) > _FLOW_INDEXES_KEPT:
                _FLOW_INDEXES.popitem(last=False)
        _FLOW_INDEXES.move_to_end(id(parent))
    return [flow for flow in cached[2].get(node_id, ()) if flow.get("sourceRef") == node_id]


def _last_child(parent: Any) -> Any:
    # lxml: `parent[-1]` is cheap; `len(parent)` walks every child.
    try:
        return parent[-1]
    except IndexError:
        return None


def parse_fields(elements: Any, filename: str | None) -> list[list[Any]]:
    """`camunda:field` children: `[name, {"string": text}]` or `[name, {"expression": text}]`.

    As Camunda 7's `parseFieldDeclaration`: a text (`stringValue` or `camunda:string`) wins
    over an expression (`expression` or `camunda:expression`), an attribute and an element of
    the same kind together, two elements of one kind or an empty element are refused, and so is
    a field with neither (an empty `stringValue` or blank expression counts as none).
    """
    fields: list[list[Any]] = []
    for field in elements:
        if not isinstance(field.tag, str) or field.tag != f"{_C}field":
            continue
        name = field.get("name")
        if not name:
            raise _error(field, filename, "camunda:field needs a name")
        value: dict[str, str] | None = None
        text = _attribute_or_element(field, "stringValue", "string", name, filename)
        if text is not None:
            value = {"string": text}
        else:
            text = _attribute_or_element(field, "expression", "expression", name, filename)
            if text is not None and text.strip():
                value = {"expression": text}
                _check_value(text, field, filename, f"camunda:field {name!r}")
        if value is None:
            raise _error(
                field,
                filename,
                f"camunda:field {name!r} has no stringValue, expression, camunda:string or "
                "camunda:expression (Camunda 7 refuses it too)",
            )
        fields.append([name, value])
    return fields


def _attribute_or_element(
    field: Any, attribute: str, element: str, name: str, filename: str | None
) -> str | None:
    """Camunda's `getStringValueFromAttributeOrElement` for one kind of field value."""
    given = field.get(attribute)
    children = [c for c in field if c.tag == f"{_C}{element}"]
    if len(children) > 1:
        raise _error(
            field,
            filename,
            f"camunda:field {name!r} has {len(children)} camunda:{element} "
            "elements; Camunda 7 refuses more than one",
        )
    if children and given is not None:
        raise _error(
            field,
            filename,
            f"camunda:field {name!r} has both the attribute {attribute!r} and "
            f"a camunda:{element} element; Camunda 7 refuses it: keep one",
        )
    if children:
        if not children[0].text:
            raise _error(
                field,
                filename,
                f"camunda:field {name!r} has an empty camunda:{element} "
                "element; Camunda 7 refuses it",
            )
        return str(children[0].text)
    return given or None


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
    """A timeout listener's timer definition: `[timeDate|timeDuration|timeCycle, text]`.

    Camunda Modeler writes it as `bpmn:timerEventDefinition`; Camunda 7 finds it by its local
    name, so the `camunda:` spelling is read too.
    """
    if not node.get("id"):
        raise _error(node, filename, "a timeout camunda:taskListener needs an id")
    definition = next(
        (
            c
            for c in node
            if isinstance(c.tag, str) and etree.QName(c).localname == "timerEventDefinition"
        ),
        None,
    )
    if definition is None:
        raise _error(node, filename, "a timeout camunda:taskListener needs a timerEventDefinition")
    for child in definition:
        if not isinstance(child.tag, str):
            continue
        kind = etree.QName(child).localname
        if kind in ("timeDate", "timeDuration", "timeCycle"):
            text = (child.text or "").strip()
            if not text:
                raise _error(node, filename, f"the timeout listener's {kind} is empty")
            if "${" in text or "#{" in text:
                _check_value(text, node, filename, f"the timeout listener's {kind}")
            elif kind == "timeCycle":
                try:
                    timer_texts.first_cycle(text, _ANY_TIME)
                except ValueError as err:
                    raise _error(
                        node, filename, f"the timeout listener's timeCycle: {err}"
                    ) from err
            return [kind, text]
    raise _error(
        node, filename, "the timeout listener's timer has no timeDate, timeDuration or timeCycle"
    )


def _script_format(script: Any, filename: str | None) -> str:
    """The language of a listener's script (see `script_languages`), checked as deploy would
    check a script task's: a language flowdesk runs, inline, and JavaScript that parses."""
    from flowdesk.engine.languages import javascript, sandbox
    from flowdesk.engine.scripts import script_languages

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
    # What the sandbox refuses every time (imports, `_` names, `open`), refused now, as for a
    # script task's script.
    try:
        if language == script_languages.PYTHON:
            sandbox.check_script(text)
        elif language == script_languages.JUEL:
            sandbox.check_expression(text)
    except ExpressionError as err:
        raise _error(script, filename, f"listener script can never run: {err.reason}") from err
    return language


def _check_expression(text: str, node: Any, filename: str | None, what: str) -> None:
    from flowdesk.engine.languages import expressions

    try:
        expressions.translate(text)
    except ExpressionError as err:
        raise _error(node, filename, f"{what} cannot be translated: {err.reason}") from err


def _check_value(text: str, node: Any, filename: str | None, what: str) -> None:
    from flowdesk.engine.languages import expressions

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
