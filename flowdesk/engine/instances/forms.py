"""Camunda form fields: reading them for `Task.form_fields`, and checking completion data.

Camunda 7's form types are string, long, boolean, date and enum (plus custom types, taken as
strings here); its built-in constraints are required, readonly, minlength, maxlength, min and
max. Values arrive from Python callers or, as text, from the command line, so text is converted
the way Camunda's REST API converts it ("42" for a long, "true" for a boolean, ISO dates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from flowdesk._records import FormField


def form_fields(raw: Sequence[Mapping[str, Any]]) -> tuple[FormField, ...]:
    """The public form-field records of a task, from the parser's dicts."""
    result = []
    for field in raw:
        constraints = tuple((str(name), config) for name, config in field.get("constraints", []))
        names = {name for name, _ in constraints}
        enum = field.get("enum", [])
        result.append(
            FormField(
                id=field["id"],
                label=field.get("label") or field["id"],
                type=field.get("type") or "string",
                required="required" in names,
                readonly="readonly" in names,
                enum_values=tuple(str(value_id) for value_id, _ in enum),
                enum_labels=tuple(str(label) for _, label in enum),
                default=field.get("default"),
                constraints=constraints,
            )
        )
    return tuple(result)


def validate(
    fields: Sequence[FormField], data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check `data` against the form; returns the converted data and the errors per field.

    Variables that are not form fields pass through unchanged, as in Camunda.
    """
    converted = dict(data)
    errors: dict[str, str] = {}
    for field in fields:
        present = field.id in data and data[field.id] not in (None, "")
        if not present:
            if field.required:
                errors[field.id] = "is required"
            continue
        if field.readonly:
            errors[field.id] = "is read-only"
            continue
        try:
            value = _convert(field, data[field.id])
        except ValueError as err:
            errors[field.id] = str(err)
            continue
        problem = _check_constraints(field, value)
        if problem:
            errors[field.id] = problem
            continue
        converted[field.id] = value
    return converted, errors


def _convert(field: FormField, value: Any) -> Any:
    kind = field.type
    if kind == "long":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected a whole number, got {type(value).__name__}")
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"expected true or false, got {value!r}")
    if kind == "date":
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, str):
            try:
                if "/" in value:  # Camunda 7's form date pattern, dd/MM/yyyy
                    return datetime.strptime(value, "%d/%m/%Y").date().isoformat()
                return (
                    datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
                ).isoformat()
            except ValueError:
                raise ValueError(
                    f"expected an ISO date (YYYY-MM-DD) or dd/MM/yyyy, got {value!r}"
                ) from None
        raise ValueError(f"expected a date, got {type(value).__name__}")
    if kind == "enum":
        if str(value) not in field.enum_values:
            raise ValueError(f"{value!r} is not one of {', '.join(field.enum_values)}")
        return str(value)
    if kind == "string" and not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value


def _check_constraints(field: FormField, value: Any) -> str | None:
    for name, config in field.constraints:
        if config is None:
            continue
        try:
            if name == "minlength" and len(str(value)) < int(config):
                return f"must be at least {config} characters"
            if name == "maxlength" and len(str(value)) > int(config):
                return f"must be at most {config} characters"
            if name == "min" and isinstance(value, int | float) and value < float(config):
                return f"must be at least {config}"
            if name == "max" and isinstance(value, int | float) and value > float(config):
                return f"must be at most {config}"
        except ValueError:
            return f"the form's {name} constraint {config!r} is not a number"
    return None
