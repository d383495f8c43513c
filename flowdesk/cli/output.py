"""Printing results: plain-text tables, JSON, errors and the small cell formats they share."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import click

import flowdesk
from flowdesk.text_tables import format_table as format_table


def to_jsonable(value: Any) -> Any:
    """Dataclasses as dicts, datetimes and dates as ISO text, tuples as lists, recursively;
    NaN and Infinity as text and bytes as base64, so that the output is valid JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):  # JSON has no NaN: as text
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):  # a Bytes variable, as base64 text
        return base64.b64encode(value).decode("ascii")
    return value


def _print_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False, default=str))


def _print_error(err: flowdesk.FlowdeskError) -> None:
    if isinstance(err, flowdesk.BpmnValidationError):
        click.echo(f"error: {_count(err.problems, 'problem')} in the BPMN/DMN:", err=True)
        for problem in err.problems:
            click.echo(f"  {problem}", err=True)
        return
    lines = str(err).splitlines() or [type(err).__name__]
    click.echo(f"error: {lines[0]}", err=True)
    for extra in lines[1:]:
        click.echo(f"  {extra}", err=True)


def error_json(err: flowdesk.FlowdeskError | click.ClickException, exit_code: int) -> Any:
    """An error as --json prints it: `{"error": {"type", "message", "exit_code", ...}}`.

    A flowdesk error adds its public attributes (`kind` and `ident` of `NotFound`, `problems`
    of `BpmnValidationError` with file, line, element and message, `errors` of
    `FormValidationError`, ...); a usage error has the type "UsageError".
    """
    if isinstance(err, flowdesk.FlowdeskError):
        message = str(err)
        details = {k: v for k, v in vars(err).items() if not k.startswith("_")}
    else:
        message = err.format_message()
        details = {}
    body = {"type": type(err).__name__, "message": message, "exit_code": exit_code, **details}
    return {"error": to_jsonable(body)}


def _print_error_json(err: flowdesk.FlowdeskError | click.ClickException, exit_code: int) -> None:
    click.echo(
        json.dumps(error_json(err, exit_code), indent=2, ensure_ascii=False, default=str),
        err=True,
    )


def _print_definitions(found: Sequence[flowdesk.ProcessDefinition]) -> None:
    click.echo(
        format_table(
            ["KEY", "VERSION", "NAME", "DEPLOYED", "FILE"],
            [[d.key, d.version, d.name, d.deployed_at, d.file] for d in found],
        )
    )


def _print_tasks(found: Sequence[flowdesk.Task], *, with_state: bool) -> None:
    click.echo(_tasks_table(found, with_state=with_state))


def _tasks_table(found: Sequence[flowdesk.Task], *, with_state: bool) -> str:
    headers = ["ID", "TASK", "PROCESS", "BUSINESS KEY", "ASSIGNEE", "CANDIDATES", "DUE"]
    rows: list[list[object]] = [
        [
            t.id,
            t.name or t.element_id,
            t.process_key,
            t.business_key,
            t.assignee,
            _candidates(t),
            t.due,
        ]
        for t in found
    ]
    if with_state:
        headers.append("STATE")
        for row, t in zip(rows, found, strict=True):
            row.append(t.state)
    return format_table(headers, rows)


def _jobs_table(found: Sequence[flowdesk.Job]) -> str:
    return format_table(
        ["ID", "INSTANCE", "ELEMENT", "TYPE", "DUE", "STATE", "ERROR"],
        [[j.id, j.instance_id, j.element_id, j.type, j.due_at, j.state, j.error] for j in found],
    )


def _print_next_tasks(engine: flowdesk.Engine, instance: flowdesk.ProcessInstance) -> None:
    if instance.state == "incident" and instance.incident:
        click.echo(f"Incident: {instance.incident}")
    waiting = engine.tasks(instance_id=instance.id)
    if waiting:
        click.echo("Open tasks:")
        click.echo(_indent(_tasks_table(waiting, with_state=False)))


def _candidates(task: flowdesk.Task) -> str:
    parts = [f"group {g}" for g in task.candidate_groups]
    parts += [f"user {u}" for u in task.candidate_users]
    return ", ".join(parts)


def _count(items: Sequence[object] | int, noun: str) -> str:
    n = items if isinstance(items, int) else len(items)
    plural = noun + ("es" if noun.endswith("s") else "s")
    return f"{n} {noun if n == 1 else plural}"


def _bk(business_key: str | None) -> str:
    return f", business key {business_key}" if business_key else ""


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _compact_json(value: Any) -> str:
    if not value:
        return ""
    return json.dumps(to_jsonable(value), ensure_ascii=False, separators=(", ", ": "), default=str)


def _json_default(value: object) -> Any:
    return to_jsonable(value) if isinstance(value, datetime | date) else str(value)
