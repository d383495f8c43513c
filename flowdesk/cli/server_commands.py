"""`flowdesk serve` (Camunda 7's REST API over HTTP) and `flowdesk users` (who may log in).

The server's packages (Starlette, uvicorn) come with the `server` extra; they are imported
only when `serve` runs, so the other commands work without them.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import TYPE_CHECKING

import click

import flowdesk
from flowdesk import worker as flowdesk_worker
from flowdesk.cli.options import Settings, _command

if TYPE_CHECKING:
    from flowdesk.server.auth import UserStore

DEFAULT_USERS = "flowdesk-users.json"
_users_option = click.option(
    "--users",
    "users_file",
    envvar="FLOWDESK_USERS",
    default=DEFAULT_USERS,
    show_default=True,
    metavar="FILE",
    help="The users file: names, scrypt password hashes and groups (env FLOWDESK_USERS).",
)


@_command()
@click.option("--db", "db", metavar="URL", help="SQLAlchemy URL (overrides the global --db).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@_users_option
@click.option(
    "--jobs/--no-jobs",
    default=True,
    show_default=True,
    help="Also run due timers and jobs in a thread, as Camunda's job executor does.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="info",
    show_default=True,
)
@click.option(
    "--session-secret",
    envvar="FLOWDESK_SESSION_SECRET",
    metavar="TEXT",
    help="Signs the web pages' login cookie (env FLOWDESK_SESSION_SECRET); without it a "
    "random one per start, so logins end when the server stops.",
)
@click.pass_obj
def serve(
    settings: Settings,
    db: str | None,
    host: str,
    port: int,
    users_file: str,
    jobs: bool,
    log_level: str,
    session_secret: str | None,
) -> None:
    """Serve Camunda 7's REST API (/engine-rest) and the web tasklist and cockpit (/app).

    Callers log in with HTTP Basic as a user of the users file (`flowdesk users add`), and
    people with the same user and password on the login page of /app; the OpenAPI document
    is at /engine-rest/openapi.json. Stops on Ctrl-C or SIGTERM.
    """
    try:
        import uvicorn

        from flowdesk.server import BasicAuthenticator, create_app, request_groups
    except ImportError as err:  # the server extra is not installed
        raise click.ClickException(
            f"flowdesk serve needs the server extra (pip install 'flowdesk[server]'): {err}"
        ) from None
    # flowdesk's own loggers at the level asked for; SpiffWorkflow's chatter stays out.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("flowdesk").setLevel(log_level.upper())
    logging.captureWarnings(True)  # deploy warnings go to the log, not to a client
    users = _user_store(users_file)
    if not users.users():
        click.echo(
            f"warning: {users_file} has no users, so every request is refused (401); "
            "add one with `flowdesk users add`",
            err=True,
        )
    engine = flowdesk.Engine(db or settings.db, groups=request_groups(users.groups_of))
    app = create_app(engine, BasicAuthenticator(users), session_secret=session_secret)
    stop = threading.Event()
    worker = None
    if jobs:
        worker = threading.Thread(
            target=flowdesk_worker.run_worker,
            args=(engine,),
            kwargs={"stop": stop, "interval": 1.0},
            name="flowdesk-jobs",
            daemon=True,
        )
        worker.start()
    try:
        # A stop waits this long for the requests in flight, then cancels the rest: waiting
        # fetchAndLock requests (long polls, up to 30 minutes) are answered with Camunda's
        # shutdown rejection instead of holding the stop up, and their workers ask again.
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level.lower(),
            timeout_graceful_shutdown=5,
        )
    finally:
        stop.set()
        if worker is not None:
            worker.join(timeout=30)
        engine.close()


def _user_store(path: str) -> UserStore:
    try:
        from flowdesk.server.auth import UserStore
    except ImportError as err:  # the server extra is not installed
        raise click.ClickException(
            f"flowdesk users needs the server extra (pip install 'flowdesk[server]'): {err}"
        ) from None
    return UserStore(path)


@click.group()
def users() -> None:
    """Add, list and remove the users `flowdesk serve` lets in."""


@users.command("add")
@click.argument("name")
@click.option("--group", "groups", multiple=True, metavar="GROUP", help="Repeatable.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (else: prompted).",
)
@_users_option
def add_user(name: str, groups: tuple[str, ...], password_stdin: bool, users_file: str) -> None:
    """Add a user (or replace their password and groups)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.UsageError("the password must not be empty")
    try:
        _user_store(users_file).add(name, password, groups)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    click.echo(f"{name} added to {os.fspath(users_file)}.")


@users.command("list")
@_users_option
def list_users(users_file: str) -> None:
    """List the users and their groups."""
    for name, groups in sorted(_user_store(users_file).users().items()):
        click.echo(f"{name}\t{','.join(groups)}")


@users.command("remove")
@click.argument("name")
@_users_option
def remove_user(name: str, users_file: str) -> None:
    """Remove a user."""
    if not _user_store(users_file).remove(name):
        raise click.ClickException(f"no user {name!r} in {users_file}")
    click.echo(f"{name} removed.")
