"""The task form of the web pages, generated from a task's `camunda:formField` definitions.

Camunda 7's Tasklist renders a "generated task form" from `camunda:formData`: one input per
field, of the field's type (string, long, boolean, date, enum; custom types as text). flowdesk
does the same on the server. The browser checks nothing (the form is `novalidate`): every
value goes to `Engine.complete`, whose `FormValidationError` is shown next to its field, so
the rules are the engine's and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flowdesk import FormField

# The hidden value sent with each checkbox: an unchecked box sends nothing, so without it an
# unchecked boolean would be missing rather than false (Camunda's generated forms send false).
CHECKBOX_OFF = "false"
CHECKBOX_ON = "true"


@dataclass(frozen=True)
class FieldView:
    """One form field as the page shows it: the input to draw, its value and its error."""

    id: str
    label: str
    type: str
    input: str  # "text", "whole-number", "checkbox", "date" or "select"
    value: str  # the text shown (for a checkbox: "true" when ticked)
    required: bool
    readonly: bool
    options: tuple[tuple[str, str], ...]  # (value id, label) of an enum
    hints: tuple[str, ...]  # the constraints, in words ("at most 100")
    error: str | None


_INPUTS = {"long": "whole-number", "boolean": "checkbox", "date": "date", "enum": "select"}


def field_views(
    fields: Iterable[FormField],
    values: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
) -> list[FieldView]:
    """The fields to draw, each showing `values[field.id]` (a variable's value or the text the
    user entered) and the engine's error for it, if any."""
    errors = errors or {}
    views = []
    for field in fields:
        views.append(
            FieldView(
                id=field.id,
                label=field.label,
                type=field.type,
                input=_INPUTS.get(field.type, "text"),
                value=_shown(field, values.get(field.id)),
                required=field.required,
                readonly=field.readonly,
                options=tuple(zip(field.enum_values, field.enum_labels, strict=False)),
                hints=_hints(field),
                error=errors.get(field.id),
            )
        )
    return views


def initial_values(fields: Iterable[FormField], variables: Mapping[str, Any]) -> dict[str, Any]:
    """What a fresh form shows: the variable of the field's name if the instance has one, else
    the field's `defaultValue` (as Camunda's form-variables call gives them).

    A `defaultValue` that is an expression (`${...}`) is not shown: Camunda evaluates it when
    the form is read, which flowdesk's pages do not do (see docs/web.md).
    """
    shown: dict[str, Any] = {}
    for field in fields:
        if field.id in variables:
            shown[field.id] = variables[field.id]
        elif field.default is not None and not (
            isinstance(field.default, str) and _is_expression(field.default)
        ):
            shown[field.id] = field.default
    return shown


def submitted(
    fields: Iterable[FormField], form: Mapping[str, list[str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The data to complete with, and the text entered per field (to show it again).

    `form` maps each posted name to its values. A read-only field is not sent (the engine
    refuses a value for one). An empty input is None, as Camunda's generated forms send null;
    the engine then says "is required" where the field is. A checkbox is true when ticked,
    else false.
    """
    data: dict[str, Any] = {}
    entered: dict[str, str] = {}
    for field in fields:
        if field.readonly:
            continue
        posted = form.get(field.id, [])
        if field.type == "boolean":
            text = CHECKBOX_ON if CHECKBOX_ON in posted else CHECKBOX_OFF
        else:
            text = posted[-1] if posted else ""
        entered[field.id] = text
        data[field.id] = text if text != "" else None
    return data, entered


def _is_expression(text: str) -> bool:
    return "${" in text or "#{" in text


def _shown(field: FormField, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if field.type == "date" else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if field.type == "boolean":
        return "true" if text.lower() == "true" else "false"
    if field.type == "date" and len(text) > 10 and text[4:5] == "-" and text[10:11] == "T":
        return text[:10]  # a stored date-time: the date input shows its day
    return text


def _hints(field: FormField) -> tuple[str, ...]:
    words = {
        "minlength": "at least {} characters",
        "maxlength": "at most {} characters",
        "min": "at least {}",
        "max": "at most {}",
    }
    hints = []
    for name, config in field.constraints:
        if name in words and config is not None:
            hints.append(words[name].format(config))
    return tuple(hints)
