"""The global options (`Settings`), their defaults, exit codes and options shared by commands."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

import flowdesk

DEFAULT_DB = "sqlite:///flowdesk.db"
EXIT_ERROR = 1
"""Exit code when flowdesk refuses a command (any `FlowdeskError`) or `validate` finds problems."""
EXIT_USAGE = 2
"""Exit code for a malformed command line (Click's usage errors, a bad `--var`)."""

F = TypeVar("F", bound=Callable[..., Any])


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


# -- options shared by several commands --------------------------------------------------------


def _set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Settings).json = True


def _command(*args: Any, **kwargs: Any) -> Callable[[F], click.Command]:
    """A subcommand of `main` that also accepts `--json` after its name.

    `flowdesk/cli/__init__.py` adds it to `main`, in the order the commands are listed there.
    """

    def decorate(function: F) -> click.Command:
        function = click.option(
            "--json",
            is_flag=True,
            expose_value=False,
            is_eager=True,
            callback=_set_json,
            help="Print machine-readable JSON.",
        )(function)
        command: click.Command = click.command(*args, **kwargs)(function)
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
