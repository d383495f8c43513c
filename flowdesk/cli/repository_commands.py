"""Commands on process definitions: `deploy`, `definitions` and `validate`."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import flowdesk
from flowdesk.cli.options import EXIT_ERROR, Settings, _command
from flowdesk.cli.output import _count, _print_definitions, _print_json

T = TypeVar("T")


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
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def validate(settings: Settings, files: tuple[Path, ...]) -> None:
    """Check BPMN/DMN files without a database.

    Each is deployed into a throwaway in-memory engine (DMN files first, so processes may
    use their decisions). Prints every problem as FILE:LINE [ELEMENT]: MESSAGE and exits 1
    when any file has one; services without a registered handler, and Camunda settings that
    flowdesk accepts but does not carry out, are warnings.
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


# -- helpers for deploy and validate ------------------------------------------------------------


def _catching_missing_handlers(action: Callable[[], T]) -> tuple[T, list[str]]:
    """Run `action`, collecting deploy warnings (`MissingHandlerWarning`,
    `IgnoredExtensionWarning`, `MissingCalledProcessWarning`) as messages instead of showing
    them."""
    deploy_warnings = (
        flowdesk.MissingHandlerWarning,
        flowdesk.IgnoredExtensionWarning,
        flowdesk.MissingCalledProcessWarning,
    )
    with warnings.catch_warnings(record=True) as caught:
        # "always", not the inherited filters: under `-W error` the warning would be raised.
        for category in deploy_warnings:
            warnings.simplefilter("always", category)
        result = action()
    messages = []
    for warning in caught:
        if issubclass(warning.category, deploy_warnings):
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
