"""No `_private` name is imported across flowdesk's packages or the engine's subpackages.

A `_private` name (a function, class or constant whose name starts with one underscore, or a
module such as `flowdesk/diagrams/_model.py`) belongs to the package that defines it; another
package that needs it should get a public name. The units are: each subpackage of
`flowdesk.engine` (`flowdesk.engine.spiff`, `flowdesk.engine.instances`, ...), each other
subpackage of `flowdesk` (`flowdesk.cli`, `flowdesk.store`, ...), and each top-level module.
The facade's private modules (`flowdesk/_engine.py`, `flowdesk/_records.py`,
`flowdesk/_resources.py`) hold public names that `flowdesk` re-exports, so importing those
names is allowed; a `_private` name from them is not.

Counted: `from x import _name`, `from x import _module`, `from x._module import name`, and
`module._name` on a module imported by name (`from flowdesk.engine.spiff import workflow` then
`workflow._helper`). The layer rules themselves are import-linter contracts
(`[tool.importlinter]` in pyproject.toml), run by `lint-imports` in `.ci/run`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "flowdesk"


def module_name(path: Path) -> str:
    """The dotted name of a module file under the repository root."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str:
    """The package a module belongs to for this rule (see the module docstring)."""
    parts = module.split(".")
    if parts[:2] == ["flowdesk", "engine"]:
        return ".".join(parts[:3])
    return ".".join(parts[:2])


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _private_part(module: str) -> str | None:
    """The first `_private` component of a module path below its unit, if any."""
    unit_depth = len(unit_of(module).split("."))
    for part in module.split(".")[unit_depth:]:
        if _private(part):
            return part
    return None


def private_imports_across(source: str, module: str, modules: set[str]) -> list[str]:
    """Each `_private` name one module imports from another unit, as `line: what`.

    Args:
        source: The module's source text.
        module: Its dotted name.
        modules: The dotted names of every flowdesk module (to tell modules from names).

    Returns:
        One entry per offending import or attribute use, empty when there is none.
    """
    tree = ast.parse(source)
    unit = unit_of(module)
    found: list[str] = []
    imported_modules: dict[str, str] = {}  # local name -> flowdesk module it is bound to
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if not node.module.startswith("flowdesk"):
            continue
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            target = full if full in modules else node.module
            if target in modules and full == target:
                imported_modules[alias.asname or alias.name] = target
            if unit_of(target) == unit:
                continue
            if _private(alias.name):
                found.append(f"{node.lineno}: from {node.module} import {alias.name}")
            elif (part := _private_part(target)) is not None:
                found.append(f"{node.lineno}: {target} (private module {part})")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in imported_modules
            and _private(node.attr)
        ):
            target = imported_modules[node.value.id]
            if unit_of(target) != unit:
                found.append(f"{node.lineno}: {node.value.id}.{node.attr} ({target})")
    return found


def flowdesk_modules() -> dict[str, Path]:
    """Every module of the flowdesk package, by dotted name."""
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def test_no_private_name_is_imported_across_packages() -> None:
    modules = flowdesk_modules()
    names = set(modules)
    offences = {
        module: found
        for module, path in sorted(modules.items())
        if (found := private_imports_across(path.read_text("utf-8"), module, names))
    }
    assert offences == {}, "give these names a public name in their own package: " + repr(offences)


def test_the_check_finds_each_kind_of_private_import_across_subpackages() -> None:
    # The rule's own examples, on a made-up module of flowdesk.engine.services: each line
    # crosses into another subpackage in one of the counted ways; the last two stay inside.
    names = {
        "flowdesk.engine.spiff.workflow",
        "flowdesk.engine.spiff.compensation",
        "flowdesk.engine.spiff.compensation._running",
        "flowdesk.engine.services.tasks",
        "flowdesk.engine.services.runtime",
    }
    source = (
        "from flowdesk.engine.spiff.workflow import _helper\n"
        "from flowdesk.engine.spiff.compensation._running import compensate\n"
        "from flowdesk.engine.spiff import workflow\n"
        "workflow._internal()\n"
        "from flowdesk.engine.services.tasks import _open_task\n"
        "from flowdesk.engine.spiff.workflow import WorkflowRun\n"
    )
    found = private_imports_across(source, "flowdesk.engine.services.runtime", names)
    assert [entry.split(":")[0] for entry in found] == ["1", "2", "4"]


def test_the_units_are_engine_subpackages_and_flowdesk_packages() -> None:
    assert unit_of("flowdesk.engine.spiff.compensation._running") == "flowdesk.engine.spiff"
    assert unit_of("flowdesk.engine.languages") == "flowdesk.engine.languages"
    assert unit_of("flowdesk.cli.output") == "flowdesk.cli"
    assert unit_of("flowdesk._engine") == "flowdesk._engine"
