"""The `flowdesk` command line: deploy, start and drive processes from a shell.

Each command opens an `Engine` on `--db`, makes one or a few public API calls, prints the
result as a plain-text table (or JSON with `--json`) and closes the engine again. Only the
public API (`import flowdesk`) is used, so anything the command line does, an application
can do too. Every `flowdesk.FlowdeskError` is turned into one `error: ...` line on stderr and
exit code 1; a traceback means a bug in flowdesk.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

import flowdesk
from flowdesk import worker as flowdesk_worker

DEFAULT_DB = "sqlite:///flowdesk.db"
EXIT_ERROR = 1
"""Exit code when flowdesk refuses a command (any `FlowdeskError`) or `validate` finds problems."""
EXIT_USAGE = 2
"""Exit code for a malformed command line (Click's usage errors, a bad `--var`)."""

TASK_STATES = ("open", "completed", "cancelled", "all")
INSTANCE_STATES = ("running", "completed", "terminated", "incident")

logger = logging.getLogger("flowdesk.worker")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclasses.dataclass
class Settings:
    """The global options, shared by every subcommand through Click's context object."""

    db: str = DEFAULT_DB
    json: bool = False
    user: str | None = None
    groups: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def engine(self, **kwargs: Any) -> flowdesk.Engine:
        """An engine on the database, closed when the current command ends."""
        ctx = click.get_current_context()
        kwargs.setdefault("groups", self.groups)
        return ctx.with_resource(flowdesk.Engine(self.db, **kwargs))

    def acting_user(self, user: str | None) -> str | None:
        """The command's own `--user`, else the global one."""
        return user or self.user


class _FlowdeskGroup(click.Group):
    """A group that prints flowdesk errors as one line and exits 1, never with a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except flowdesk.FlowdeskError as err:
            _print_error(err)
            ctx.exit(EXIT_ERROR)


EPILOG = """\b
Exit codes:
  0  success
  1  flowdesk refused the command: unknown task/instance/process, not authorized,
     form data invalid, invalid BPMN, database failure ... (printed as "error: ...");
     also `validate` when a file has problems, and `retry` when the step fails again
  2  the command line is malformed (unknown option, bad --var, missing --user for claim)

\b
Times are printed in UTC. Environment: FLOWDESK_DB, FLOWDESK_USER,
FLOWDESK_GROUPS="alice=sales;bob=leadership,finance".
"""


@click.group(
    cls=_FlowdeskGroup,
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--db",
    envvar="FLOWDESK_DB",
    default=DEFAULT_DB,
    show_default=True,
    metavar="URL",
    help="SQLAlchemy URL of the database (env FLOWDESK_DB).",
)
@click.option(
    "--json", "json_output", is_flag=True, help="Print machine-readable JSON (every command)."
)
@click.option(
    "--user",
    envvar="FLOWDESK_USER",
    metavar="NAME",
    help="Act as this user where a command acts as a user (env FLOWDESK_USER).",
)
@click.option(
    "--groups",
    "group_specs",
    multiple=True,
    envvar="FLOWDESK_GROUPS",
    metavar="USER=G1,G2",
    help="Who is in which groups; repeatable, or ';'-separated (env FLOWDESK_GROUPS).",
)
@click.version_option(package_name="flowdesk")
@click.pass_context
def main(
    ctx: click.Context,
    db: str,
    json_output: bool,
    user: str | None,
    group_specs: tuple[str, ...],
) -> None:
    """Run BPMN processes from the shell: deploy, start, work on tasks, fire timers.

    Every command takes --json for machine-readable output.
    """
    ctx.obj = Settings(db=db, json=json_output, user=user, groups=parse_groups(group_specs))


# -- options shared by several commands --------------------------------------------------------


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Settings).json = True


def _command(*args: Any, **kwargs: Any) -> Callable[[F], click.Command]:
    """A subcommand of `main` that also accepts `--json` after its name."""

    def decorate(function: F) -> click.Command:
        function = click.option(
            "--json",
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_set_json,
            help="Print machine-readable JSON.",
        )(function)
        command: click.Command = main.command(*args, **kwargs)(function)
        return command

    return decorate


def _variable_options(function: F) -> F:
    function = click.option(
        "--vars-json",
        metavar="JSON",
        help="Variables as one JSON object; --var entries override it.",
    )(function)
    function = click.option(
        "--var",
        "var",
        multiple=True,
        metavar="NAME=VALUE",
        help='A variable; VALUE is read as JSON when it parses (42, true, "text"), '
        "else as text. Repeatable.",
    )(function)
    return function


# -- commands ---------------------------------------------------------------------------------


@_command()
@click.argument("path", type=click.Path(path_type=Path))
@click.pass_obj
def deploy(settings: Settings, path: Path) -> None:
    """Deploy a .bpmn/.dmn file, or a folder of them.

    Deploys every .bpmn/.dmn file below PATH. An unchanged file keeps its version; a changed
    one gets the next version.
    """
    engine = settings.engine()
    definitions, warned = _catching_missing_handlers(lambda: engine.deploy(path))
    for message in warned:
        click.echo(f"warning: {message}", err=True)
    if settings.json:
        _print_json(definitions)
        return
    click.echo(f"Deployed {_count(definitions, 'definition')} from {path}:")
    _print_definitions(definitions)


@_command()
@click.option("--all", "all_versions", is_flag=True, help="Every version, not only the latest.")
@click.option("--key", help="Only this process key.")
@click.pass_obj
def definitions(settings: Settings, all_versions: bool, key: str | None) -> None:
    """List deployed processes (the latest version of each)."""
    found = settings.engine().definitions(key=key, all_versions=all_versions)
    if settings.json:
        _print_json(found)
    elif not found:
        click.echo("No process deployed.")
    else:
        _print_definitions(found)


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
    help="Who completes it (default: the global --user); with no user at all, the call is a "
    "trusted system call that skips the assignee/candidate check.",
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
    interactive: bool,
) -> None:
    """Complete a task with its form data.

    Completes the open task TASK_ID and runs its instance to the next wait state.
    Form fields given by --var are passed as text and converted by the engine by the
    field's type (long, boolean, date, enum), as Camunda's REST API does.
    """
    engine = settings.engine()
    task = engine.task(task_id)
    form_ids = {form_field.id for form_field in task.form_fields}
    data = parse_variables(var, vars_json, text_names=form_ids)
    if interactive:
        if task.state != "open":
            raise flowdesk.TaskStateError(task.id, f"it is {task.state}")
        data.update(_prompt_form(task, given=data, err=settings.json))
    completer = settings.acting_user(user)
    instance = engine.complete(task_id, data, user=completer)
    if settings.json:
        _print_json(instance)
        return
    who = f" as {completer}" if completer else ""
    click.echo(
        f"Completed task {task.id} ({task.name}){who}; instance {instance.id} is {instance.state}."
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
@click.pass_obj
def instances(
    settings: Settings, key: str | None, state: str | None, business_key: str | None
) -> None:
    """List process instances, oldest first."""
    found = settings.engine().instances(key=key, state=state, business_key=business_key)
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
@click.pass_obj
def show(settings: Settings, instance_id: str) -> None:
    """Show an instance, its open tasks and jobs.

    Prints the instance's state and variables, its open tasks and its waiting jobs.
    """
    engine = settings.engine()
    instance = engine.instance(instance_id)
    open_tasks = engine.tasks(instance_id=instance_id)
    jobs = engine.jobs(instance_id=instance_id)
    if settings.json:
        _print_json({"instance": instance, "tasks": open_tasks, "jobs": jobs})
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
        click.echo(f"{label + ':':<14}{_cell(value)}")
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


@_command()
@click.argument("instance_id")
@click.pass_obj
def history(settings: Settings, instance_id: str) -> None:
    """Show what happened to an instance, oldest first."""
    events = settings.engine().history(instance_id)
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
@click.pass_obj
def documents(settings: Settings, instance_id: str, name: str | None) -> None:
    """List the documents an instance rendered, or print one with --name."""
    found = settings.engine().documents(instance_id)
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
        click.echo(f"Instances started from {_cell(since)} until {_cell(until)}")
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


@_command()
@click.option("--list", "list_only", is_flag=True, help="Only list waiting jobs; fire none.")
@click.pass_obj
def jobs(settings: Settings, list_only: bool) -> None:
    """Fire the due timers and jobs once.

    Runs every timer and job due now and prints how many fired.
    """
    engine = settings.engine()
    if list_only:
        waiting = engine.jobs()
        if settings.json:
            _print_json(waiting)
        elif not waiting:
            click.echo("No waiting jobs.")
        else:
            click.echo(_jobs_table(waiting))
        return
    fired = engine.run_due_jobs()
    if settings.json:
        _print_json({"fired": fired})
    else:
        click.echo(f"{_count(fired, 'job')} fired.")


@_command()
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=flowdesk_worker.DEFAULT_INTERVAL,
    show_default=True,
    metavar="SECONDS",
    help="Pause between passes.",
)
@click.option("--once", is_flag=True, help="Run one pass and stop.")
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default="INFO",
    show_default=True,
    help="Level of the flowdesk.worker and flowdesk.jobs logs (stderr).",
)
@click.pass_obj
def worker(settings: Settings, interval: float, once: bool, log_level: str) -> None:
    """Fire due timers and jobs until stopped.

    Runs passes of due jobs until SIGTERM or Ctrl-C (SIGINT).
    Each fired timer is logged (logger flowdesk.jobs), each pass that fired any too
    (flowdesk.worker; every pass at DEBUG). A signal stops the worker between passes (a pass
    in progress finishes first) and it exits 0. A pass that fails is logged and retried
    after the interval; with --once, its error ends the command.
    """
    _configure_logging(log_level)
    engine = settings.engine()
    stop = threading.Event()
    with _stop_on_signals(stop):
        result = flowdesk_worker.run_worker(engine, interval=interval, stop=stop, once=once)
    if settings.json:
        _print_json({"passes": result.passes, "fired": result.fired})
    else:
        click.echo(
            f"Worker stopped after {_count(result.passes, 'pass')}; "
            f"{_count(result.fired, 'job')} fired."
        )


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


@_command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def validate(settings: Settings, files: tuple[Path, ...]) -> None:
    """Check BPMN/DMN files without a database.

    Each is deployed into a throwaway in-memory engine (DMN files first, so processes may
    use their decisions). Prints every problem as FILE:LINE [ELEMENT]: MESSAGE and exits 1
    when any file has one; services without a registered handler are warnings.
    """
    results: dict[Path, dict[str, Any]] = {}
    with flowdesk.Engine("sqlite://") as engine:
        for path in sorted(files, key=lambda p: p.suffix.lower() != ".dmn"):
            results[path] = _validate_one(engine, path)
    report = [results[path] for path in files]
    if settings.json:
        _print_json(report)
    else:
        for result in report:
            for message in result["warnings"]:
                click.echo(f"warning: {message}")
            if result["ok"]:
                found = ", ".join(
                    f"{d.key} ({d.name})" if d.name and d.name != d.key else d.key
                    for d in result["definitions"]
                )
                click.echo(f"{result['file']}: ok" + (f" - {found}" if found else ""))
            else:
                for problem in result["problems"]:
                    click.echo(str(problem))
                click.echo(f"{result['file']}: {_count(result['problems'], 'problem')}")
    if not all(result["ok"] for result in report):
        click.get_current_context().exit(EXIT_ERROR)


@_command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Run the four shipped processes end to end with simulated staff.

    Tells the story of each instance as it goes: who did what, which way each decision went,
    the documents rendered. The staff act by role through the public API; a simulated clock
    lets timers fire. Safe to run again on the same database.
    """
    from flowdesk import demo as story  # imports this module, so not at the top
    from flowdesk import processes

    clock = story.DemoClock(datetime.now(UTC))
    engine = settings.engine(groups=story.DEMO_GROUPS, clock=clock)
    processes.register(engine.handlers)  # also an entry point; a source checkout may lack it

    def echo(line: str) -> None:
        click.echo(line, err=settings.json)

    try:
        instance_ids = story.run_demo(engine, echo, clock=clock)
    except FileNotFoundError as err:  # a broken installation without the shipped files
        raise click.ClickException(str(err)) from err
    if settings.json:
        _print_json([engine.instance(instance_id) for instance_id in instance_ids])
        return
    db = "" if settings.db == DEFAULT_DB else f" --db {settings.db}"
    click.echo(
        f"\nExplore: flowdesk{db} instances   |   flowdesk{db} show ID   |   "
        f"flowdesk{db} history ID   |   flowdesk{db} documents ID   |   "
        f"flowdesk{db} report presales"
    )


# -- parsing ------------------------------------------------------------------------------------


def parse_groups(specs: Iterable[str]) -> dict[str, list[str]]:
    """Read `alice=sales;bob=leadership,finance` entries into a user -> groups mapping.

    Args:
        specs: `--groups` values; each may hold several `;`-separated entries.

    Returns:
        Each user's groups, in the order given, merged over repeated users.

    Raises:
        click.BadParameter: An entry is not `USER=GROUP[,GROUP...]`.
    """
    groups: dict[str, list[str]] = {}
    for spec in specs:
        for entry in spec.split(";"):
            if not entry.strip():
                continue
            user, sep, names = entry.partition("=")
            if not sep or not user.strip():
                raise click.BadParameter(
                    f"{entry.strip()!r} is not USER=GROUP[,GROUP...]", param_hint="'--groups'"
                )
            known = groups.setdefault(user.strip(), [])
            known.extend(
                g.strip() for g in names.split(",") if g.strip() and g.strip() not in known
            )
    return groups


def parse_value(text: str) -> Any:
    """A `--var` value: JSON when it parses (42, 1.5, true, null, "x", [..], {..}), else text."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return text


def parse_variables(
    entries: Iterable[str],
    vars_json: str | None,
    *,
    text_names: Iterable[str] = (),
    option: str = "--var",
) -> dict[str, Any]:
    """Merge `--vars-json` and `NAME=VALUE` entries (which win) into one variables dict.

    Args:
        entries: `NAME=VALUE` texts; VALUE is read by `parse_value`.
        vars_json: A JSON object, or None.
        text_names: Names whose values stay text (form fields: the engine converts text by
            the field's type), unless the value is a quoted JSON string.
        option: The option name for error messages.

    Raises:
        click.BadParameter: An entry has no `=`, or `vars_json` is not a JSON object.
    """
    variables: dict[str, Any] = {}
    if vars_json is not None:
        try:
            loaded = json.loads(vars_json)
        except ValueError as err:
            raise click.BadParameter(f"not JSON: {err}", param_hint="'--vars-json'") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter("must be a JSON object", param_hint="'--vars-json'")
        variables.update(loaded)
    as_text = set(text_names)
    for entry in entries:
        name, sep, raw = entry.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.BadParameter(f"{entry!r} is not NAME=VALUE", param_hint=f"'{option}'")
        value = parse_value(raw)
        variables[name] = value if name not in as_text or isinstance(value, str) else raw
    return variables


# -- output -------------------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns under a header line; None prints as '-', times as UTC.

    Args:
        headers: Column titles.
        rows: One sequence of values per row, as long as `headers`.

    Returns:
        The table as text, without a trailing newline.
    """
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join(
        [line(headers), line(["-" * w for w in widths]), *(line(row) for row in cells)]
    )


def to_jsonable(value: Any) -> Any:
    """Dataclasses as dicts, datetimes and dates as ISO text, tuples as lists, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
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


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return str(value)


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


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")  # NaN/Infinity stay text


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


# -- helpers for deploy, validate and worker ----------------------------------------------------


def _catching_missing_handlers(action: Callable[[], T]) -> tuple[T, list[str]]:
    """Run `action`, collecting `MissingHandlerWarning`s as messages instead of showing them."""
    with warnings.catch_warnings(record=True) as caught:
        # "always", not the inherited filters: under `-W error` the warning would be raised.
        warnings.simplefilter("always", flowdesk.MissingHandlerWarning)
        result = action()
    messages = []
    for warning in caught:
        if issubclass(warning.category, flowdesk.MissingHandlerWarning):
            messages.append(str(warning.message))
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return result, messages


def _validate_one(engine: flowdesk.Engine, path: Path) -> dict[str, Any]:
    result: dict[str, Any] = {
        "file": str(path),
        "ok": True,
        "definitions": [],
        "problems": [],
        "warnings": [],
    }
    try:
        result["definitions"], result["warnings"] = _catching_missing_handlers(
            lambda: engine.deploy(path)
        )
    except flowdesk.BpmnValidationError as err:
        result["ok"] = False
        result["problems"] = err.problems
    except flowdesk.FlowdeskError as err:
        result["ok"] = False
        result["problems"] = [flowdesk.Problem(str(path), None, None, str(err))]
    return result


def _configure_logging(level: str = "INFO") -> None:
    """Log flowdesk's worker and jobs to stderr unless the application configured logging."""
    if not logging.getLogger().handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("flowdesk").setLevel(level.upper())


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set `stop` on SIGTERM and SIGINT while inside; the old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install signal handlers
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        logger.info("got %s, stopping after this pass", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    main(prog_name="flowdesk")
