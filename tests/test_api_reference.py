"""The documentation site builds with warnings as errors, and its API reference lists every
public name.

One Sphinx build per session (a subprocess, as CI runs it: `python -m sphinx -W --keep-going
-b html docs OUT`); the checks read the `objects.inv` inventory it writes, the index of every
object the reference documents. What is public is decided here, the way
docs/reference/index.md says: `flowdesk.__all__`; the `__all__` of `flowdesk.server` and
`flowdesk.diagrams`; every name without a leading underscore that `flowdesk.worker`,
`flowdesk.external_worker`, `flowdesk.handlers`, `flowdesk.authorization`,
`flowdesk.processes` and each module of `flowdesk.processes` define (their loggers aside);
the public methods, properties and dataclass fields of every public class; and every command
and option of the `flowdesk` command line.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import inspect
import logging
import pkgutil
import re
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest

import flowdesk
import flowdesk.processes
from flowdesk.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

DOCS_PACKAGES = ("sphinx", "myst_parser", "sphinx_click")
MISSING = [name for name in DOCS_PACKAGES if importlib.util.find_spec(name) is None]

pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the docs build needs {', '.join(MISSING)}: pip install '.[docs]'",
)

# Modules with `__all__`: exactly those names are public.
MODULES_WITH_ALL = ("flowdesk", "flowdesk.server", "flowdesk.diagrams")

# Modules without `__all__`: every name they define without a leading underscore is public.
MODULES_WITHOUT_ALL = (
    "flowdesk.worker",
    "flowdesk.external_worker",
    "flowdesk.handlers",
    "flowdesk.authorization",
    "flowdesk.processes",
    *(
        f"flowdesk.processes.{info.name}"
        for info in pkgutil.iter_modules(flowdesk.processes.__path__)
        if not info.name.startswith("_")
    ),
)

# Names of internal modules that the guides document (docs/limits.md).
INTERNAL_BUT_DOCUMENTED = (
    "flowdesk.engine.languages.limits.using",
    "flowdesk.engine.languages.limits.current",
)


@pytest.fixture(scope="session")
def built_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML site, built once per session with warnings as errors."""
    out = tmp_path_factory.mktemp("docs-html")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", DOCS, out],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, f"sphinx-build failed:\n{build.stdout}\n{build.stderr}"
    return out


@pytest.fixture(scope="session")
def inventory(built_docs: Path) -> dict[str, set[str]]:
    """The documented objects by role (`py:class`, `std:cmdoption` ...), read from objects.inv."""
    return read_inventory(built_docs / "objects.inv")


def test_docs_build__passes_with_warnings_as_errors(built_docs: Path) -> None:
    for page in ("index", "architecture", "reference/index", "reference/flowdesk", "reference/cli"):
        assert (built_docs / f"{page}.html").is_file(), page


def test_reference__lists_every_public_name(inventory: dict[str, set[str]]) -> None:
    documented = python_names(inventory)
    missing = [name for name, obj in public_names() if not is_documented(name, obj, documented)]
    assert not missing, f"public names missing from docs/reference/: {missing}"


def test_reference__lists_every_public_method_property_and_field(
    inventory: dict[str, set[str]],
) -> None:
    documented = python_names(inventory)
    missing: list[str] = []
    for name, obj in public_names():
        if not inspect.isclass(obj):
            continue
        owner = documented_name(name, obj, documented)
        for member in public_members(obj):
            if f"{owner}.{member}" not in documented:
                missing.append(f"{owner}.{member}")
    assert not missing, f"methods, properties and fields missing from the reference: {missing}"


def test_reference__lists_every_command_line_option(inventory: dict[str, set[str]]) -> None:
    options = inventory.get("std:cmdoption", set())
    programs = {name.split(".", 1)[0] for name in options}
    missing: list[str] = []
    for program, command in commands("flowdesk", cli_main):
        params = [param for param in command.params if not getattr(param, "hidden", False)]
        if not params and isinstance(command, click.Group):
            continue
        if program not in programs:
            missing.append(program)
            continue
        for param in params:
            names = param.opts if isinstance(param, click.Option) else [param.human_readable_name]
            if not any(f"{program}.{name}" in options for name in names):
                missing.append(f"{program} {names[0]}")
    assert not missing, f"commands or options missing from docs/reference/cli.md: {missing}"


def public_names() -> Iterator[tuple[str, Any]]:
    """Every public name, qualified by the module users import it from, with its object."""
    for module_name in MODULES_WITH_ALL:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            yield f"{module_name}.{name}", getattr(module, name)
    for module_name in MODULES_WITHOUT_ALL:
        module = importlib.import_module(module_name)
        assert not hasattr(module, "__all__"), f"{module_name} has __all__: list it above"
        for name in defined_names(module):
            obj = getattr(module, name)
            if not isinstance(obj, logging.Logger):
                yield f"{module_name}.{name}", obj
    for qualified in INTERNAL_BUT_DOCUMENTED:
        module_name, name = qualified.rsplit(".", 1)
        yield qualified, getattr(importlib.import_module(module_name), name)


def defined_names(module: ModuleType) -> list[str]:
    """The names a module's own top-level statements bind, without a leading underscore."""
    assert module.__file__ is not None
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return [name for name in names if not name.startswith("_")]


def public_members(cls: type) -> list[str]:
    """The methods, properties and dataclass fields a class defines itself (inherited ones are
    documented on the base class), without a leading underscore."""
    own = vars(cls).get("__annotations__", {})
    fields = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
    members = [f.name for f in fields if f.name in own and not f.name.startswith("_")]
    for name, value in vars(cls).items():
        if name.startswith("_") or name in members:
            continue
        if isinstance(value, staticmethod | classmethod | property) or inspect.isfunction(value):
            members.append(name)
    return members


def is_documented(name: str, obj: Any, documented: set[str]) -> bool:
    return documented_name(name, obj, documented) in documented


def documented_name(name: str, obj: Any, documented: set[str]) -> str:
    """The name the reference documents `obj` under: its own, or `flowdesk.X` when a module's
    name is re-exported by `flowdesk` and documented there."""
    short = name.rsplit(".", 1)[1]
    if short in flowdesk.__all__ and getattr(flowdesk, short) is obj:
        return f"flowdesk.{short}"
    return name


def python_names(inventory: dict[str, set[str]]) -> set[str]:
    return {name for role, names in inventory.items() if role.startswith("py:") for name in names}


def commands(program: str, command: click.Command) -> Iterator[tuple[str, click.Command]]:
    """Every command of the command line with sphinx-click's program name (`flowdesk-deploy`)."""
    yield program, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            if not sub.hidden:
                yield from commands(f"{program}-{name}", sub)


def read_inventory(path: Path) -> dict[str, set[str]]:
    """Sphinx's inventory (version 2): four header lines, then zlib-compressed lines of
    `name domain:role priority uri display-name`."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    assert data.startswith(b"# Sphinx inventory version 2"), data[:40]
    roles: dict[str, set[str]] = {}
    for line in zlib.decompress(data[header_end:]).decode("utf-8").splitlines():
        match = INVENTORY_LINE.match(line.rstrip())
        assert match, line
        name, role = match.group(1, 2)
        roles.setdefault(role, set()).add(name)
    return roles


# The pattern Sphinx reads its own inventories with: a name may hold spaces (labels).
INVENTORY_LINE = re.compile(r"(.+?)\s+(\S+)\s+(-?\d+)\s+?(\S*)\s+(.*)")
