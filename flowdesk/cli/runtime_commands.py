"""Runtime commands: `start`, `correlate`, `signal`, `trigger`, `decide`, `instances`, `show`,
`retry`."""

from __future__ import annotations

import json

import click

from flowdesk.cli.history_commands import AS_SYSTEM_HELP, reading_user
from flowdesk.cli.options import EXIT_ERROR, Settings, _command, _variable_options
from flowdesk.cli.output import (
    _bk,
    _indent,
    _jobs_table,
    _json_default,
    _print_json,
    _print_next_tasks,
    _tasks_table,
    format_table,
)
from flowdesk.cli.parsing import parse_variables
from flowdesk.text_tables import format_cell

INSTANCE_STATES = ("running", "completed", "terminated", "incident")


@_command()
@click.argument("key")
@_variable_options
@click.option("--business-key", metavar="BK", help="The instance's business key.")
@click.option("--version", type=int, help="Start this version instead of the latest.")
@click.option("--user", metavar="NAME", help="The initiator (default: the global --user).")
@click.pass_obj
def start(
    settings: Settings,
    key: str,
    var: tuple[str, ...],
    vars_json: str | None,
    business_key: str | None,
    version: int | None,
    user: str | None,
) -> None:
    """Start an instance of process KEY."""
    engine = settings.engine()
    instance = engine.start(
        key,
        parse_variables(var, vars_json),
        business_key=business_key,
        user=settings.acting_user(user),
        version=version,
    )
    if settings.json:
        _print_json(instance)
        return
    click.echo(
        f"Started {instance.key} v{instance.version} as instance {instance.id}"
        f"{_bk(instance.business_key)}: {instance.state}"
    )
    _print_next_tasks(engine, instance)


@_command()
@click.argument("message")
@click.option("--business-key", metavar="BK", help="Deliver to the instance with this key.")
@_variable_options
@click.option(
    "--key",
    "correlation_keys",
    multiple=True,
    metavar="NAME=VALUE",
    help="A correlation key: the waiting instance's variable NAME must equal VALUE (read like "
    "--var). Repeatable.",
)
@click.pass_obj
def correlate(
    settings: Settings,
    message: str,
    business_key: str | None,
    var: tuple[str, ...],
    vars_json: str | None,
    correlation_keys: tuple[str, ...],
) -> None:
    """Deliver a message to a waiting instance.

    MESSAGE goes to the one instance waiting for it (narrowed by --business-key and
    --key), or starts a process whose start event waits for it.
    """
    engine = settings.engine()
    instance = engine.correlate(
        message,
        business_key=business_key,
        correlation_keys=parse_variables(correlation_keys, None, option="--key") or None,
        variables=parse_variables(var, vars_json),
    )
    if settings.json:
        _print_json(instance)
        return
    click.echo(
        f"Message {message!r} went to instance {instance.id} ({instance.key}"
        f"{_bk(instance.business_key)}): {instance.state}"
    )
    _print_next_tasks(engine, instance)


@_command("signal")
@click.argument("signal_name", metavar="SIGNAL")
@_variable_options
@click.pass_obj
def send_signal(
    settings: Settings, signal_name: str, var: tuple[str, ...], vars_json: str | None
) -> None:
    """Broadcast a signal to every waiting instance.

    SIGNAL also starts every deployed process whose start event waits for it.
    """
    reached = settings.engine().signal(signal_name, parse_variables(var, vars_json))
    if settings.json:
        _print_json({"signal": signal_name, "reached": reached})
        return
    click.echo(f"Signal {signal_name!r} reached {reached} instance{'' if reached == 1 else 's'}.")


@_command()
@click.argument("instance_id")
@click.argument("element_id")
@_variable_options
@click.pass_obj
def trigger(
    settings: Settings,
    instance_id: str,
    element_id: str,
    var: tuple[str, ...],
    vars_json: str | None,
) -> None:
    """Move on an instance waiting at a receive task without a message.

    ELEMENT_ID is the receive task (`show` lists it under "Waiting for" as a trigger); this
    is Camunda 7's runtimeService.signal(executionId).
    """
    engine = settings.engine()
    instance = engine.trigger(instance_id, element_id, variables=parse_variables(var, vars_json))
    if settings.json:
        _print_json(instance)
        return
    click.echo(f"Instance {instance.id} moved on from {element_id}: {instance.state}")
    _print_next_tasks(engine, instance)


@_command()
@click.argument("key")
@_variable_options
@click.option("--version", type=int, help="Evaluate this version instead of the latest.")
@click.pass_obj
def decide(
    settings: Settings, key: str, var: tuple[str, ...], vars_json: str | None, version: int | None
) -> None:
    """Evaluate a deployed DMN decision and print its result as JSON.

    KEY is the decision id; --var gives its inputs.
    """
    result = settings.engine().evaluate_decision(
        key, parse_variables(var, vars_json), version=version
    )
    _print_json(result)


@_command()
@click.option("--key", help="Only instances of this process key.")
@click.option("--state", type=click.Choice(INSTANCE_STATES), help="Only instances in this state.")
@click.option("--business-key", metavar="BK", help="Only instances with this business key.")
@click.option(
    "--var",
    "var",
    multiple=True,
    metavar="NAME=VALUE",
    help="Only instances whose variable NAME equals VALUE (JSON when it parses, else text). "
    "Repeatable.",
)
@click.pass_obj
def instances(
    settings: Settings,
    key: str | None,
    state: str | None,
    business_key: str | None,
    var: tuple[str, ...],
) -> None:
    """List process instances, oldest first."""
    try:
        found = settings.engine().instances(
            key=key,
            state=state,
            business_key=business_key,
            variables=parse_variables(var, None) or None,
        )
    except (TypeError, ValueError) as err:  # a list or object value, a quoted name
        raise click.BadParameter(str(err), param_hint="'--var'") from None
    if settings.json:
        _print_json(found)
    elif not found:
        click.echo("No instances.")
    else:
        click.echo(
            format_table(
                ["ID", "PROCESS", "BUSINESS KEY", "STATE", "STARTED", "ENDED"],
                [
                    [
                        i.id,
                        f"{i.key} v{i.version}",
                        i.business_key,
                        i.state,
                        i.started_at,
                        i.ended_at,
                    ]
                    for i in found
                ],
            )
        )


@_command()
@click.argument("instance_id")
@click.option("--as-system", is_flag=True, help=AS_SYSTEM_HELP)
@click.pass_obj
def show(settings: Settings, instance_id: str, as_system: bool) -> None:
    """Show an instance, its open tasks, jobs and waits.

    Prints the instance's state and variables, its open tasks, its waiting jobs, and the
    messages, signals, timers and triggers (receive tasks without a message) it waits for.
    It reads as the global --user, whom the engine's read policy may refuse (as `history`).
    """
    engine = settings.engine()
    reader = reading_user(engine, settings, instance_id, "instance", as_system=as_system)
    instance = engine.instance(instance_id, user=reader)
    open_tasks = engine.tasks(instance_id=instance_id)
    jobs = engine.jobs(instance_id=instance_id)
    waits = engine.waits(instance_id)
    if settings.json:
        _print_json({"instance": instance, "tasks": open_tasks, "jobs": jobs, "waits": waits})
        return
    rows: list[tuple[str, object]] = [
        ("Instance", instance.id),
        ("Process", f"{instance.key} v{instance.version}"),
        ("Business key", instance.business_key),
        ("State", instance.state),
        ("Started", instance.started_at),
        ("Ended", instance.ended_at),
    ]
    if instance.incident:
        rows.append(("Incident", instance.incident))
    for label, value in rows:
        click.echo(f"{label + ':':<14}{format_cell(value)}")
    click.echo("\nVariables:")
    if not instance.variables:
        click.echo("  (none)")
    for name, value in sorted(instance.variables.items()):
        click.echo(f"  {name} = {json.dumps(value, default=_json_default, ensure_ascii=False)}")
    click.echo("\nOpen tasks:")
    if open_tasks:
        click.echo(_indent(_tasks_table(open_tasks, with_state=False)))
    else:
        click.echo("  (none)")
    click.echo("\nWaiting jobs:")
    if jobs:
        click.echo(_indent(_jobs_table(jobs)))
    else:
        click.echo("  (none)")
    click.echo("\nWaiting for:")
    if waits:
        waiting = [[w.element_id, w.kind, w.name, w.due_at] for w in waits]
        click.echo(_indent(format_table(["ELEMENT", "KIND", "NAME", "DUE"], waiting)))
    else:
        click.echo("  (none)")


@_command()
@click.argument("instance_id")
@click.option("--user", metavar="NAME", help="Who retries (recorded in the history).")
@click.pass_obj
def retry(settings: Settings, instance_id: str, user: str | None) -> None:
    """Retry the failed step of an instance in incident.

    Run it after fixing the cause (e.g. registering the missing handler).
    Exits 1 when the step fails again and the instance stays in incident.
    """
    engine = settings.engine()
    instance = engine.retry(instance_id, user=settings.acting_user(user))
    if settings.json:
        _print_json(instance)
    elif instance.state == "incident":
        click.echo(f"Instance {instance.id} is still in incident: {instance.incident}", err=True)
    else:
        click.echo(f"Instance {instance.id} is {instance.state}.")
        _print_next_tasks(engine, instance)
    if instance.state == "incident":
        click.get_current_context().exit(EXIT_ERROR)
