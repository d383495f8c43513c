"""`flowdesk diagram`: the SVG of a deployed process, or of an instance with its state marked."""

from __future__ import annotations

from pathlib import Path

import click

from flowdesk.cli.options import Settings, _command
from flowdesk.cli.output import _print_json


@_command()
@click.argument("key_or_instance_id", metavar="KEY|INSTANCE_ID")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the SVG to this file (else to standard output).",
)
@click.option("--version", "version", type=int, help="Draw this version of the process KEY.")
@click.option(
    "--db",
    metavar="URL",
    help="SQLAlchemy URL of the database; overrides the global --db (env FLOWDESK_DB).",
)
@click.pass_obj
def diagram(
    settings: Settings,
    key_or_instance_id: str,
    output: Path | None,
    version: int | None,
    db: str | None,
) -> None:
    """Write the SVG diagram of a process (latest version) or of an instance.

    An instance's diagram marks the path it took (blue), where it waits (green, with a count)
    and its incidents (red, with a count). The drawing follows the BPMN file's diagram (DI)
    as Camunda Modeler draws it; a file without one is refused. See docs/diagrams.md.
    """
    if db:
        settings.db = db
    svg = settings.engine().diagram(key_or_instance_id, version=version)
    if output is not None:
        output.write_text(svg, encoding="utf-8")
        if settings.json:
            _print_json({"file": str(output), "bytes": len(svg.encode("utf-8"))})
        else:
            click.echo(f"wrote {output}", err=True)
        return
    if settings.json:
        _print_json({"svg": svg})
        return
    click.echo(svg, nl=False)
