"""The `demo` command: runs the shipped processes; the story it tells is `flowdesk.demo`."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from flowdesk.cli.options import DEFAULT_DB, Settings, _command
from flowdesk.cli.output import _print_json


@_command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Run the four shipped processes end to end with simulated staff.

    Tells the story of each instance as it goes: who did what, which way each decision went,
    the documents rendered. The staff act by role through the public API; a simulated clock
    lets timers fire. Safe to run again on the same database.
    """
    from flowdesk import demo as story  # loads the shipped processes: only for this command
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
        f"\nExplore: flowdesk{db} instances   |   flowdesk{db} --user sally show ID   |   "
        f"flowdesk{db} --user sally history ID   |   flowdesk{db} --user sally documents ID   |   "
        f"flowdesk{db} report presales"
    )
