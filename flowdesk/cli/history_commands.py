"""Commands on what happened: an instance's `history` and `documents`, a process `report`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

import flowdesk
from flowdesk.authorization import ReadRequest, ReadResource
from flowdesk.cli.options import Settings, _command
from flowdesk.cli.output import (
    _compact_json,
    _count,
    _indent,
    _print_json,
    _shorten,
    format_table,
    to_jsonable,
)
from flowdesk.text_tables import format_cell

AS_SYSTEM_HELP = (
    "Read as a trusted system call, not checked by the read policy (instead of --user)."
)


@_command()
@click.argument("instance_id")
@click.option("--as-system", is_flag=True, help=AS_SYSTEM_HELP)
@click.pass_obj
def history(settings: Settings, instance_id: str, as_system: bool) -> None:
    """Show what happened to an instance, oldest first.

    It reads as the global --user (FLOWDESK_USER), whom the engine's read policy may refuse
    (exit 1, ReadNotAuthorized). Without a user, an instance the policy restricts needs
    --user or --as-system.
    """
    engine = settings.engine()
    reader = reading_user(engine, settings, instance_id, "history", as_system=as_system)
    events = engine.history(instance_id, user=reader)
    if settings.json:
        _print_json(events)
        return
    click.echo(
        format_table(
            ["AT", "EVENT", "ELEMENT", "USER", "DETAILS"],
            [
                [e.at, e.type, e.element_id, e.user, _shorten(_compact_json(e.data), 80)]
                for e in events
            ],
        )
    )


@_command()
@click.argument("instance_id")
@click.option("--name", help="Print only this document's content (exact name).")
@click.option("--as-system", is_flag=True, help=AS_SYSTEM_HELP)
@click.pass_obj
def documents(settings: Settings, instance_id: str, name: str | None, as_system: bool) -> None:
    """List the documents an instance rendered, or print one with --name.

    It reads as the global --user (FLOWDESK_USER), whom the engine's read policy may refuse
    (exit 1, ReadNotAuthorized): a customer's documents only to those seed 003 allows.
    Without a user, an instance the policy restricts needs --user or --as-system.
    """
    engine = settings.engine()
    reader = reading_user(engine, settings, instance_id, "documents", as_system=as_system)
    found = engine.documents(instance_id, user=reader)
    if name is not None:
        matching = [d for d in found if d.name == name]
        if not matching:
            raise click.ClickException(f"instance {instance_id} has no document named {name!r}")
        found = matching[-1:]  # a document rendered again (a revised quotation): the latest
        if not settings.json:
            click.echo(found[0].content, nl=not found[0].content.endswith("\n"))
            return
    if settings.json:
        _print_json(found)
        return
    click.echo(
        format_table(
            ["CREATED", "NAME", "TYPE", "STEP", "SIZE"],
            [[d.created_at, d.name, d.media_type, d.element_id, len(d.content)] for d in found],
        )
    )


def reading_user(
    engine: flowdesk.Engine,
    settings: Settings,
    instance_id: str,
    resource: ReadResource,
    *,
    as_system: bool,
) -> str | None:
    """Who reads: the global --user; None for --as-system, or when no policy restricts the
    instance for an anonymous reader (the policy asked with user "")."""
    if as_system:
        if settings.user:
            raise click.UsageError("give either --user or --as-system, not both")
        return None
    if settings.user:
        return settings.user
    policy = engine.read_authorizer
    if policy is None:
        return None
    instance = engine.instance(instance_id)
    request = ReadRequest(
        user="", instance=instance, resource=resource, now=engine.now(), engine=engine
    )
    reason = policy(request)
    if reason is not None:
        raise click.UsageError(
            f"the read policy restricts instance {instance_id} ({reason}): "
            "give --user NAME (or FLOWDESK_USER), or --as-system"
        )
    return None


@_command()
@click.argument("key")
@click.option(
    "--since",
    metavar="ISO",
    callback=lambda ctx, param, value: _parse_time(value, param),
    help="Only instances started at or after this time (ISO 8601; UTC unless it says).",
)
@click.option(
    "--until",
    metavar="ISO",
    callback=lambda ctx, param, value: _parse_time(value, param),
    help="Only instances started before this time (ISO 8601; UTC unless it says).",
)
@click.pass_obj
def report(settings: Settings, key: str, since: datetime | None, until: datetime | None) -> None:
    """Analyse a process from its history: counts, cycle time, steps, gateway outcomes.

    With --json, durations are given in seconds.
    """
    found = settings.engine().report(key, since=since, until=until)
    if settings.json:
        _print_json(_seconds_for_durations(to_jsonable(found)))
        return
    click.echo(f"Process analysis of {key}")
    if since or until:
        click.echo(f"Instances started from {format_cell(since)} until {format_cell(until)}")
    click.echo(
        f"\nInstances:   {found.started} started, {found.completed} completed, "
        f"{found.terminated} terminated, {found.running} running, "
        f"{found.incidents} with incidents"
    )
    if found.cycle_time_median is not None and found.cycle_time_p90 is not None:
        click.echo(
            f"Cycle time:  median {_duration(found.cycle_time_median)}, "
            f"p90 {_duration(found.cycle_time_p90)} "
            f"(of {_count(found.completed, 'completed instance')})"
        )
    else:
        click.echo("Cycle time:  - (no completed instance)")
    click.echo("\nSteps (user tasks, created to completed), slowest median first:")
    if found.steps:
        slowest_first = sorted(found.steps, key=lambda s: (-s.median, -s.total, s.element_id))
        rows = [
            [
                s.element_id + (" *" if s == found.bottleneck else ""),
                s.name,
                s.count,
                _duration(s.median),
                _duration(s.p90),
                _duration(s.total),
            ]
            for s in slowest_first
        ]
        click.echo(_indent(format_table(["STEP", "NAME", "DONE", "MEDIAN", "P90", "TOTAL"], rows)))
        click.echo("  * the bottleneck: the largest median time")
    else:
        click.echo("  (none completed)")
    click.echo("\nGateway outcomes:")
    if not found.gateways:
        click.echo("  (none passed)")
    for gateway in found.gateways:
        click.echo(
            f"  {gateway.name} ({gateway.element_id}), passed {_count(gateway.passed, 'time')}:"
        )
        rows = [
            [
                target,
                gateway.outcome_names.get(target, target),
                taken,
                f"{taken / gateway.passed:.0%}",
            ]
            for target, taken in gateway.outcomes.items()
        ]
        click.echo(_indent(_indent(format_table(["TO", "NAME", "TAKEN", "SHARE"], rows))))


def _parse_time(value: str | None, param: click.Parameter) -> datetime | None:
    """An ISO 8601 time; one without a time zone is UTC, as the command line prints times."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param=param) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _duration(value: timedelta) -> str:
    """A duration as people read it, to the second: '2d 3h', '9h 24m', '45s'."""
    seconds = round(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts) or "0s"


def _seconds_for_durations(value: Any) -> Any:
    """The JSON of a report, each duration (a timedelta) as a number of seconds."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {k: _seconds_for_durations(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_seconds_for_durations(v) for v in value]
    return value
