"""Reading the command line's values: `--groups`, `--var` and `--vars-json`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click


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


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")  # NaN/Infinity stay text
