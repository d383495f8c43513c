"""Commands on user tasks: list, claim, reassign and complete them (with interactive forms)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

import flowdesk
from flowdesk.cli.options import Settings, _command, _variable_options
from flowdesk.cli.output import _print_json, _print_next_tasks, _print_tasks
from flowdesk.cli.parsing import parse_variables

TASK_STATES = ("open", "completed", "cancelled", "all")


@_command()
@click.option("--instance", "instance_id", metavar="ID", help="Only tasks of this instance.")
@click.option("--assignee", metavar="USER", help="Only tasks held by this user.")
@click.option("--group", metavar="GROUP", help="Only tasks offered to this candidate group.")
@click.option("--candidate-user", metavar="USER", help="Only tasks this user is a candidate for.")
@click.option("--key", help="Only tasks of this process key.")
@click.option("--business-key", metavar="BK", help="Only tasks of instances with this key.")
@click.option(
    "--state",
    type=click.Choice(TASK_STATES),
    default="open",
    show_default=True,
    help="Task state to list.",
)
@click.option(
    "--limit", type=click.IntRange(min=0), metavar="N", help="List at most N tasks (a page)."
)
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Skip the first N tasks (oldest first).",
)
@click.pass_obj
def tasks(
    settings: Settings,
    instance_id: str | None,
    assignee: str | None,
    group: str | None,
    candidate_user: str | None,
    key: str | None,
    business_key: str | None,
    state: str,
    limit: int | None,
    offset: int,
) -> None:
    """List user tasks (open ones unless --state says otherwise), oldest first."""
    found = settings.engine().tasks(
        instance_id=instance_id,
        assignee=assignee,
        candidate_group=group,
        candidate_user=candidate_user,
        key=key,
        business_key=business_key,
        state=None if state == "all" else state,
        limit=limit,
        offset=offset,
    )
    if settings.json:
        _print_json(found)
    elif not found:
        click.echo("No tasks." if state == "all" else f"No {state} tasks.")
    else:
        _print_tasks(found, with_state=state != "open")


@_command()
@click.argument("task_id")
@click.option("--user", metavar="NAME", help="Who takes the task (default: the global --user).")
@click.pass_obj
def claim(settings: Settings, task_id: str, user: str | None) -> None:
    """Give an open task to a user.

    The user must be a candidate of task TASK_ID (by name or group); claiming a task the
    user already holds changes nothing.
    """
    claimer = settings.acting_user(user)
    if claimer is None:
        raise click.UsageError("claim needs --user (or the global --user / FLOWDESK_USER)")
    task = settings.engine().claim(task_id, user=claimer)
    if settings.json:
        _print_json(task)
    else:
        click.echo(f"{claimer} holds task {task.id} ({task.name}).")


@_command()
@click.argument("from_user")
@click.argument("to_user")
@click.pass_obj
def reassign(settings: Settings, from_user: str, to_user: str) -> None:
    """Hand a leaving user's open tasks to another user.

    Tasks FROM_USER holds go to TO_USER, and TO_USER takes FROM_USER's place among the
    candidate users of open tasks. The global --user is recorded as who did it.
    """
    try:
        moved = settings.engine().reassign(from_user, to_user, user=settings.user)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if settings.json:
        _print_json({"from": from_user, "to": to_user, "moved": moved})
    else:
        noun = "task" if moved == 1 else "tasks"
        click.echo(f"Moved {moved} open {noun} from {from_user} to {to_user}.")


@_command()
@click.argument("task_id")
@_variable_options
@click.option(
    "--user",
    metavar="NAME",
    help="Who completes it (default: the global --user). The user must be the task's "
    "assignee or, with none, a candidate.",
)
@click.option(
    "--as-system",
    is_flag=True,
    help="Complete it as a trusted system call, with no user and no assignee/candidate check "
    "(instead of --user).",
)
@click.option(
    "--interactive", "-i", is_flag=True, help="Prompt for each form field not given by --var."
)
@click.pass_obj
def complete(
    settings: Settings,
    task_id: str,
    var: tuple[str, ...],
    vars_json: str | None,
    user: str | None,
    as_system: bool,
    interactive: bool,
) -> None:
    """Complete a task with its form data.

    Completes the open task TASK_ID and runs its instance to the next wait state.
    Form fields given by --var are passed as text and converted by the engine by the
    field's type (long, boolean, date, enum), as Camunda's REST API does.

    It acts as --user (or the global --user / FLOWDESK_USER), who must be allowed to
    complete the task; --as-system completes it without that check, as the system.
    """
    completer = settings.acting_user(user)
    if as_system and completer is not None:
        raise click.UsageError(
            "give either --user (or the global --user / FLOWDESK_USER) or --as-system, not both"
        )
    if not as_system and completer is None:
        raise click.UsageError(
            "complete needs --user (or the global --user / FLOWDESK_USER), or --as-system to "
            "complete the task as the system without the assignee/candidate check"
        )
    engine = settings.engine()
    task = engine.task(task_id)
    form_ids = {form_field.id for form_field in task.form_fields}
    data = parse_variables(var, vars_json, text_names=form_ids)
    if interactive:
        if task.state != "open":
            raise flowdesk.TaskStateError(task.id, f"it is {task.state}")
        data.update(_prompt_form(task, given=data, err=settings.json))
    instance = engine.complete(task_id, data, user=completer)
    if settings.json:
        _print_json(instance)
        return
    who = f" as {completer}" if completer else " as the system"
    click.echo(
        f"Completed task {task.id} ({task.name}){who}; instance {instance.id} is {instance.state}."
    )
    _print_next_tasks(engine, instance)


# -- interactive forms --------------------------------------------------------------------------


def _prompt_form(task: flowdesk.Task, *, given: Mapping[str, Any], err: bool) -> dict[str, Any]:
    """Ask for each editable form field not in `given`; answers are text for the engine."""
    click.echo(f"{task.name} ({task.element_id}), task {task.id}", err=err)
    if task.documentation:
        click.echo(task.documentation, err=err)
    answers: dict[str, Any] = {}
    for form_field in task.form_fields:
        if form_field.readonly or form_field.id in given:
            continue
        answer = _prompt_field(form_field, err=err)
        if answer != "":
            answers[form_field.id] = answer
    return answers


def _prompt_field(form_field: flowdesk.FormField, *, err: bool) -> str:
    hint = form_field.type
    if form_field.type == "date":
        hint = "date, YYYY-MM-DD"
    if form_field.enum_values:
        pairs = [
            value if label in ("", value) else f"{value}={label}"
            for value, label in zip(
                form_field.enum_values,
                form_field.enum_labels or form_field.enum_values,
                strict=False,
            )
        ]
        hint += ": " + ", ".join(pairs)
    text = f"{form_field.label} ({hint}{', required' if form_field.required else ''})"
    choices: click.Choice[str] | None = None
    if form_field.enum_values:
        choices = click.Choice(list(form_field.enum_values))
    elif form_field.type == "boolean":
        choices = click.Choice(["true", "false"], case_sensitive=False)
    if form_field.default not in (None, ""):
        default: str | None = str(form_field.default)
    elif form_field.required:
        default = None  # click.prompt asks again on an empty answer
    else:
        default = ""
    answer = click.prompt(
        text,
        default=default,
        type=choices,
        show_choices=False,
        show_default=bool(default),
        err=err,
    )
    return str(answer)
