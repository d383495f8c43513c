"""The `flowdesk` command line: deploy, start and drive processes from a shell.

Each command opens an `Engine` on `--db`, makes one or a few public API calls, prints the
result as a plain-text table (or JSON with `--json`) and closes the engine again. Only the
public API (`import flowdesk`) is used, so anything the command line does, an application
can do too. Every `flowdesk.FlowdeskError` is turned into one `error: ...` line on stderr and
exit code 1; a traceback means a bug in flowdesk.
"""

from __future__ import annotations

from typing import Any

import click

import flowdesk
from flowdesk.cli.demo_command import demo
from flowdesk.cli.diagram_command import diagram
from flowdesk.cli.history_commands import documents, history, report
from flowdesk.cli.job_commands import jobs, worker
from flowdesk.cli.options import DEFAULT_DB, EXIT_ERROR, EXIT_USAGE, Settings
from flowdesk.cli.output import _print_error, _print_error_json, format_table, to_jsonable
from flowdesk.cli.parsing import parse_groups, parse_value, parse_variables
from flowdesk.cli.repository_commands import definitions, deploy, validate
from flowdesk.cli.runtime_commands import (
    correlate,
    decide,
    instances,
    retry,
    send_signal,
    show,
    start,
    trigger,
)
from flowdesk.cli.server_commands import serve, users
from flowdesk.cli.task_commands import claim, complete, reassign, tasks

__all__ = [
    "DEFAULT_DB",
    "EXIT_ERROR",
    "EXIT_USAGE",
    "Settings",
    "format_table",
    "main",
    "parse_groups",
    "parse_value",
    "parse_variables",
    "to_jsonable",
]


class _FlowdeskGroup(click.Group):
    """A group that prints flowdesk errors as one line and exits 1, never with a traceback.

    With --json, errors (flowdesk's, and usage errors found once the command runs) are one
    JSON object on stderr instead (see `output.error_json`).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except flowdesk.FlowdeskError as err:
            if _json_wanted(ctx):
                _print_error_json(err, EXIT_ERROR)
            else:
                _print_error(err)
            ctx.exit(EXIT_ERROR)
        except click.ClickException as err:
            if not _json_wanted(ctx):
                raise
            _print_error_json(err, err.exit_code)
            ctx.exit(err.exit_code)


def _json_wanted(ctx: click.Context) -> bool:
    return isinstance(ctx.obj, Settings) and ctx.obj.json


EPILOG = """\b
Exit codes:
  0  success
  1  flowdesk refused the command: unknown task/instance/process, not authorized,
     form data invalid, invalid BPMN, database failure ... (printed as "error: ...", or
     with --json as {"error": {"type": ..., "message": ..., ...}} on stderr);
     also `validate` when a file has problems, and `retry` when the step fails again
  2  the command line is malformed (unknown option, bad --var, missing --user for claim,
     neither --user nor --as-system for complete, or for show/history/documents of an
     instance the read policy restricts)

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


# `main.commands` keeps this order, the order a user meets them; `--help` lists them by name.
main.add_command(deploy)
main.add_command(definitions)
main.add_command(start)
main.add_command(tasks)
main.add_command(claim)
main.add_command(reassign)
main.add_command(complete)
main.add_command(correlate)
main.add_command(send_signal)
main.add_command(trigger)
main.add_command(decide)
main.add_command(instances)
main.add_command(show)
main.add_command(history)
main.add_command(documents)
main.add_command(report)
main.add_command(diagram)
main.add_command(jobs)
main.add_command(worker)
main.add_command(retry)
main.add_command(validate)
main.add_command(demo)
main.add_command(serve)
main.add_command(users)
