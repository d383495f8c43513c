"""Move `flowdesk/engine/` modules into subpackages and rewrite every reference to them.

The record of the engine's layout change (issue 16), written as a codemod so that it can be
re-run on a tree that other branches changed in the meantime:

    python tools/engine_layout.py            # move, rewrite, sort imports; print a report
    python tools/engine_layout.py --dry-run  # print what it would move, change nothing
    python tools/engine_layout.py --map new_module=spiff.new_module   # one more entry

It is idempotent (a second run finds nothing to move and nothing to rewrite) and tolerant: a
module of `flowdesk/engine/` that `MODULES` does not name is left where it is and reported, and
an entry whose file is missing (removed by another branch) is reported and skipped.

What it does, in order:
1. `git mv`s each module (or package) in `MODULES` to its new place, creating the new
   subpackages with the `__init__.py` docstrings in `PACKAGES`, and each file in `RESOURCES`.
2. Rewrites, in every `.py` file git knows, each `from flowdesk.engine... import ...` statement
   by its syntax tree: `from flowdesk.engine import timers` becomes
   `from flowdesk.engine.languages import timer_texts`, and the module's uses of the name
   `timers` become `timer_texts` (or, when that name is taken in the module, the import keeps
   the old name with `as`).
3. Rewrites the dotted names (`flowdesk.engine.jobs.JobService`, in code, strings such as
   monkeypatch targets, docstrings, Sphinx directives) and the paths (`flowdesk/engine/jobs.py`,
   `engine/jobs.py`) in every text file git knows, and the `importlib.resources` lookups of the
   files in `RESOURCES`.
4. Sorts the imports of the files it changed with `ruff check --select I --fix`.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "flowdesk" / "engine"
THIS = Path(__file__).resolve()

# Old module (relative to flowdesk.engine) -> new module. A package entry moves the whole
# package (every module under it follows). Order is irrelevant; the layers are in PACKAGES.
MODULES: dict[str, str] = {
    # services: what the facade (`flowdesk/_engine.py`) calls, one service per Camunda service.
    "runtime": "services.runtime",
    "tasks": "services.tasks",
    "history": "services.history",
    "process_analysis": "services.process_analysis",
    "external_tasks": "services.external_tasks",
    "instance_admin": "services.instance_admin",
    "jobs": "services.job_executor",
    "diagram_view": "services.diagram_view",
    "state_filters": "services.state_filters",
    "dmn.service": "services.decisions",
    # instances: one process instance in one unit of work, and the rows it keeps.
    "execution": "instances.execution",
    "task_rows": "instances.task_rows",
    "wait_rows": "instances.wait_rows",
    "external_task_rows": "instances.external_task_rows",
    "context": "instances.context",
    "calls": "instances.calls",
    "correlation": "instances.correlation",
    "variable_types": "instances.variable_types",
    "forms": "instances.forms",
    # deployment: reading, checking and storing definitions.
    "repository": "deployment.repository",
    "parser": "deployment.parser",
    "spec_coverage": "deployment.spec_coverage",
    "start_timers": "deployment.start_timers",
    # spiff: the SpiffWorkflow adapter, and the BPMN constructs flowdesk teaches it.
    "workflow": "spiff.workflow",
    "workflow_records": "spiff.workflow_records",
    "workflow_cache": "spiff.workflow_cache",
    "serializer": "spiff.serializer",
    "task_search": "spiff.task_search",
    "spiff_tasks": "spiff.task_data",
    "pruning": "spiff.pruning",
    "specs": "spiff.specs",
    "scripting": "spiff.script_engine",
    "listeners": "spiff.listeners",
    "listener_parsing": "spiff.listener_parsing",
    "event_scopes": "spiff.event_scopes",
    "gateway_flows": "spiff.gateway_flows",
    "activity_splits": "spiff.activity_splits",
    "implicit_ends": "spiff.implicit_ends",
    "multi_instance": "spiff.multi_instance",
    "async_continuations": "spiff.async_continuations",
    "external_work": "spiff.external_work",
    "triggers": "spiff.triggers",
    "waits": "spiff.waits",
    "start_events": "spiff.start_events",
    "timer_events": "spiff.timer_events",
    "job_retries": "spiff.retry_cycles",
    "compensation": "spiff.compensation",
    # The SpiffWorkflow boundary module of issue 16's second slice, once it is merged.
    "spiff_internals": "spiff.internals",
    # validation: deploy-time checks (already a package); the assignments it reads.
    "resource_assignments": "validation.resource_assignments",
    # scripts: which language runs a model's script; FEEL as a script language.
    "script_languages": "scripts.script_languages",
    "feel_scripts": "scripts.feel_scripts",
    # languages: JUEL, Python in the sandbox, JavaScript, timer texts, the limits they run under.
    "expressions": "languages.expressions",
    "script_limits": "languages.limits",
    "sandbox": "languages.sandbox",
    "javascript": "languages.javascript",
    "juel_functions": "languages.juel_functions",
    "timers": "languages.timer_texts",
}

# Old module names that also mean something else in backticks (`Engine.jobs`): a renamed
# module of these names is rewritten only as a dotted name or a path.
AMBIGUOUS = {"jobs"}

# Non-Python files that move with a module: file name -> new package (relative to the engine).
RESOURCES: dict[str, str] = {
    "javascript_runtime.js": "languages",
}

# The subpackages, highest layer first: each may import the ones below it, never one above.
# `dmn` and `validation` existed before this move and keep their own `__init__.py`.
LAYERS: list[str] = [
    "services",
    "instances",
    "deployment",
    "spiff",
    "validation",
    "scripts",
    "dmn",
    "languages",
]

PACKAGES: dict[str, str] = {
    "services": '''\
"""The engine's services: what `flowdesk.Engine` calls, one per Camunda 7 service.

`runtime` (start, correlate, read instances), `tasks` (user tasks), `external_tasks`, `history`
(with `process_analysis`), `job_executor` (due jobs), `decisions` (`Engine.evaluate_decision`),
`instance_admin` (calls from outside a model) and `diagram_view`. Each opens its own unit of
work, acts through `flowdesk.engine.instances`, and returns `flowdesk` records.

May import: every other engine subpackage, `flowdesk.store`'s interface, `flowdesk`'s records
and errors, `flowdesk.diagrams`. Imported by: `flowdesk/_engine.py` only.
"""
''',
    "instances": '''\
"""One process instance inside one unit of work, and the rows it keeps in step.

`execution` loads an instance, runs its workflow and saves what that implies: the workflow
document and the task, wait (`wait_rows`), external-task and history rows. `correlation`
delivers messages and signals between instances, `calls` runs call activities,
`variable_types` types the values a call passes, `forms` reads and checks Camunda forms, and
`context` is what every service shares for the life of an `Engine`.

May import: `deployment`, `spiff` and the layers below them, `flowdesk.store`'s interface,
`flowdesk`'s records, errors, handlers and input limits. Never `services`.
"""
''',
    "deployment": '''\
"""Definitions: reading BPMN and DMN files into specs at deploy, checking and storing them.

`repository` deploys, versions and caches parsed definitions; `parser` is SpiffWorkflow's
Camunda parser taught what Camunda 7 reads; `spec_coverage` checks after a trial parse that
every reachable element was parsed; `start_timers` schedules timer start events per version.

May import: `spiff`, `validation`, `scripts`, `dmn`, `languages`, `flowdesk.store`'s interface,
`flowdesk`'s records, errors and handlers. Never `instances` or `services`.
"""
''',
    "spiff": '''\
"""The SpiffWorkflow adapter: one workflow run, and the BPMN constructs flowdesk adds.

`workflow` wraps one SpiffWorkflow workflow for the length of one engine call and hands back
plain data (`workflow_records`); `serializer`, `workflow_cache`, `task_search`, `pruning` and
`task_data` are its machinery; `specs`, `script_engine`, `listeners`, `event_scopes`,
`multi_instance`, `compensation` and the other modules teach SpiffWorkflow 3.2 what Camunda 7
does. No SpiffWorkflow object leaves this package except to `deployment` (parsed specs).

May import: `validation`, `scripts`, `dmn`, `languages`, `flowdesk`'s errors and handlers.
Never `flowdesk.store`, `deployment`, `instances` or `services`.
"""
''',
    "scripts": '''\
"""Script languages: which language runs a model's script, and FEEL as one of them.

`script_languages` maps a `scriptFormat` or expression `language` to Python (the sandbox),
JavaScript or FEEL and is the one entry point that runs a script; `feel_scripts` runs FEEL on
the DMN engine's FEEL.

May import: `dmn`, `languages`, `flowdesk`'s errors. Never a layer above.
"""
''',
    "languages": '''\
"""The languages models are written in, and the limits every script and expression runs under.

`expressions` translates JUEL to Python; `sandbox` runs Python (and translated JUEL) in
RestrictedPython with `juel_functions`; `javascript` runs JavaScript in QuickJS (with
`javascript_runtime.js`); `timer_texts` reads Camunda's timer texts and holds the engine clock;
`limits` enforces CPU time and memory.

May import: `flowdesk`'s errors, and SpiffWorkflow's script environment and timer module (which
`sandbox` and `timer_texts` adapt). The lowest layer of the engine.
"""
''',
}

TEXT_SUFFIXES = {
    ".py",
    ".pyi",
    ".md",
    ".rst",
    ".txt",
    ".toml",
    ".cfg",
    ".ini",
    ".yml",
    ".yaml",
    ".sh",
    ".js",
    ".json",
    ".html",
}
TEXT_NAMES = {"run", "Makefile"}


def git(*args: str) -> str:
    """Run git in the repository and return its standard output."""
    return subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def old_path(module: str) -> Path:
    """The file or folder an old module name refers to."""
    base = ENGINE.joinpath(*module.split("."))
    return base if base.is_dir() else base.with_suffix(".py")


def new_path(module: str, is_package: bool) -> Path:
    """The file or folder a new module name refers to."""
    base = ENGINE.joinpath(*module.split("."))
    return base if is_package else base.with_suffix(".py")


def map_module(module: str, table: dict[str, str]) -> str | None:
    """The new name of an old module (relative to flowdesk.engine), or None if it stays."""
    if module in table:
        return table[module]
    best = max((key for key in table if module.startswith(key + ".")), key=len, default=None)
    if best is None:
        return None
    return table[best] + module[len(best) :]


def ensure_package(package: str, dry_run: bool) -> None:
    """Create `flowdesk/engine/<package>/__init__.py` (and its parents) if it is missing."""
    parts = package.split(".")
    for depth in range(1, len(parts) + 1):
        name = ".".join(parts[:depth])
        init = ENGINE.joinpath(*parts[:depth]) / "__init__.py"
        if init.exists():
            continue
        print(f"create  flowdesk/engine/{'/'.join(parts[:depth])}/__init__.py")
        if dry_run:
            continue
        init.parent.mkdir(parents=True, exist_ok=True)
        docstring = PACKAGES.get(name, f'"""flowdesk.engine.{name}."""\n')
        init.write_text(docstring, encoding="utf-8")
        git("add", str(init.relative_to(ROOT)))


def move_files(table: dict[str, str], dry_run: bool) -> None:
    """`git mv` every module, package and resource to its new place."""
    # Packages before the modules inside them are looked at: `dmn.service` moves out of `dmn`
    # (which stays), `expressions` moves whole.
    for old, new in sorted(table.items()):
        source = old_path(old)
        is_package = source.is_dir()
        target = new_path(new, is_package)
        if not source.exists():
            if target.exists() or new_path(new, not is_package).exists():
                continue  # moved by an earlier run
            print(f"absent  flowdesk/engine/{old.replace('.', '/')}: not in this tree, skipped")
            continue
        print(f"move    {source.relative_to(ROOT)} -> {target.relative_to(ROOT)}")
        if dry_run:
            continue
        ensure_package(new.rpartition(".")[0], dry_run)
        git("mv", str(source.relative_to(ROOT)), str(target.relative_to(ROOT)))
    for name, package in sorted(RESOURCES.items()):
        source = ENGINE / name
        target = ENGINE.joinpath(*package.split(".")) / name
        if source.exists() and not target.exists():
            print(f"move    {source.relative_to(ROOT)} -> {target.relative_to(ROOT)}")
            if not dry_run:
                ensure_package(package, dry_run)
                git("mv", str(source.relative_to(ROOT)), str(target.relative_to(ROOT)))


def report_unknown(table: dict[str, str]) -> list[str]:
    """The modules left directly under flowdesk/engine/ that no entry moves."""
    new_tops = {new.split(".")[0] for new in table.values()} | set(LAYERS)
    unknown = []
    for path in sorted(ENGINE.iterdir()):
        if path.name in {"__init__.py", "__pycache__"} or path.name in RESOURCES:
            continue
        name = path.stem if path.suffix == ".py" else path.name
        if path.is_dir() and not (path / "__init__.py").exists():
            continue
        if name in new_tops or name in table:
            continue
        if path.suffix not in {".py", ""} and not path.is_dir():
            unknown.append(f"flowdesk/engine/{path.name} (a resource: add it to RESOURCES)")
            continue
        entry = f"{name!r}: '<package>.{name}'"
        unknown.append(f"flowdesk/engine/{path.name} (add `{entry}` to MODULES)")
    return unknown


def tracked_text_files() -> list[Path]:
    """Every text file git knows of (after the moves), except this script."""
    files = []
    for line in git("ls-files", "-z").split("\0"):
        if not line:
            continue
        path = ROOT / line
        if path == THIS or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES:
            files.append(path)
    return files


# --- step 2: `from flowdesk.engine... import ...` by the syntax tree -------------------------


def _bound_names(tree: ast.AST) -> dict[str, int]:
    """How often each name is bound or used in a module, imports excluded."""
    seen: dict[str, int] = {}
    for node in ast.walk(tree):
        names: Iterable[str] = ()
        if isinstance(node, ast.Name):
            names = (node.id,)
        elif isinstance(node, ast.arg):
            names = (node.arg,)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names = (node.name,)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names = tuple(node.names)
        for name in names:
            seen[name] = seen.get(name, 0) + 1
    return seen


def rewrite_imports(source: str, table: dict[str, str]) -> str:
    """Rewrite the `from flowdesk.engine... import` statements of one module."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    # Each statement to rewrite, with (new parent, imported name, `as` name, name bound before).
    plans: list[tuple[ast.ImportFrom, list[tuple[str, str, str | None, str]]]] = []
    renamed: dict[str, set[str]] = {}  # name bound before -> the module names it would become
    kept: set[str] = set()  # names bound by every other import statement
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            kept.update((a.asname or a.name).split(".")[0] for a in node.names)
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        engine = (
            node.module is not None
            and node.level == 0
            and (node.module == "flowdesk.engine" or node.module.startswith("flowdesk.engine."))
        )
        if not engine:
            kept.update(a.asname or a.name for a in node.names)
            continue
        module = (node.module or "")[len("flowdesk.engine") :].lstrip(".")
        parent_mapped = map_module(module, table) if module else None
        entries: list[tuple[str, str, str | None, str]] = []
        changed = parent_mapped is not None
        for alias in node.names:
            full = f"{module}.{alias.name}" if module else alias.name
            mapped = map_module(full, table)
            same = parent_mapped is not None and mapped == f"{parent_mapped}.{alias.name}"
            if mapped is None or same:
                parent = parent_mapped if parent_mapped is not None else module
                entries.append((parent, alias.name, alias.asname, alias.asname or alias.name))
                continue
            parent, _, leaf = mapped.rpartition(".")
            changed = True
            entries.append((parent, leaf, alias.asname, alias.asname or alias.name))
            if alias.asname is None and leaf != alias.name:
                renamed.setdefault(alias.name, set()).add(leaf)
        if changed:
            plans.append((node, entries))
        else:
            kept.update(a.asname or a.name for a in node.names)
    if not plans:
        return source

    # A module name that changes is renamed where it is used, unless the old or the new name
    # means something else in this module; then the import keeps the old name with `as`.
    used = _bound_names(tree)
    stored = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load)
    }
    defined = {
        node.arg if isinstance(node, ast.arg) else node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.arg | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    renames: dict[str, str] = {}
    for old, leaves in renamed.items():
        if len(leaves) != 1:
            continue
        (leaf,) = leaves
        if leaf in used or leaf in kept or old in kept or old in stored or old in defined:
            continue
        renames[old] = leaf

    lines = source.splitlines(keepends=True)
    uses: dict[str, list[ast.Name]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in renames:
            uses.setdefault(node.id, []).append(node)
    # A rename that would push a line past ruff's 100 characters keeps the old name instead.
    growth: dict[int, int] = {}
    for old, nodes in uses.items():
        for node in nodes:
            extra = len(renames[old]) - len(old)
            growth[node.lineno] = growth.get(node.lineno, 0) + extra
    too_long = {
        line for line, extra in growth.items() if len(lines[line - 1].rstrip("\n")) + extra > 100
    }
    for old, nodes in uses.items():
        if any(node.lineno in too_long for node in nodes):
            del renames[old]
    edits: list[tuple[int, int, int, str]] = []  # (line, column, length, text)
    for old, nodes in uses.items():
        if old in renames:
            edits.extend((n.lineno, n.col_offset, len(old), renames[old]) for n in nodes)
    statements: list[tuple[int, int, str]] = []
    for node, entries in plans:
        indent = lines[node.lineno - 1][: node.col_offset]
        groups: dict[str, list[str]] = {}
        for parent, name, asname, before in entries:
            if asname is None and name != before and before not in renames:
                asname = before
            # `X as X` stays: it marks an explicit re-export.
            text = name if asname is None else f"{name} as {asname}"
            groups.setdefault(parent, []).append(text)
        new_lines = [
            ("" if i == 0 else indent)
            + "from flowdesk.engine"
            + (f".{parent}" if parent else "")
            + f" import {', '.join(names)}\n"
            for i, (parent, names) in enumerate(groups.items())
        ]
        first = lines[node.lineno - 1][: node.col_offset]
        last = lines[(node.end_lineno or node.lineno) - 1][node.end_col_offset or 0 :]
        text = first + "".join(new_lines).rstrip("\n") + last
        statements.append((node.lineno, node.end_lineno or node.lineno, text))
    for line, column, length, text in sorted(edits, reverse=True):
        row = lines[line - 1]
        lines[line - 1] = row[:column] + text + row[column + length :]
    for start, end, text in sorted(statements, reverse=True):
        lines[start - 1 : end] = [text]
    return "".join(lines)


# --- step 3: dotted names and paths in any text -----------------------------------------------


def text_rules(table: dict[str, str]) -> list[tuple[re.Pattern[str], object]]:
    """The regular expressions that rewrite dotted names, paths and resource lookups."""
    keys = sorted(table, key=len, reverse=True)
    dotted = re.compile(
        r"(?<![\w.])flowdesk\.engine\.(" + "|".join(re.escape(k) for k in keys) + r")(?!\w)"
    )

    def dotted_new(match: re.Match[str]) -> str:
        return "flowdesk.engine." + table[match.group(1)]

    slash_keys = [k.replace(".", "/") for k in keys]
    slashed = re.compile(
        r"(?<![\w/.-])((?:flowdesk/)?engine/)("
        + "|".join(re.escape(k) for k in slash_keys)
        + r")(?=\.py\b|/)"
    )

    def slashed_new(match: re.Match[str]) -> str:
        return match.group(1) + table[match.group(2).replace("/", ".")].replace(".", "/")

    rules: list[tuple[re.Pattern[str], object]] = [(dotted, dotted_new), (slashed, slashed_new)]
    # A renamed module named on its own in backticks (`timers.now`, `job_retries`,
    # `scripting.py`): the new module name. Only names that mean nothing else in the docs
    # (not `jobs`, which is also `Engine.jobs`, nor `service`).
    backticked = {
        old: new.rpartition(".")[2]
        for old, new in table.items()
        if "." not in old and old not in AMBIGUOUS and old != new.rpartition(".")[2]
    }
    if backticked:
        pattern = re.compile(
            r"`("
            + "|".join(sorted(map(re.escape, backticked), key=len, reverse=True))
            + r")(?=[.`])"
        )
        rules.append((pattern, lambda m: "`" + backticked[m.group(1)]))
    for name, package in RESOURCES.items():
        rules.append(
            (
                re.compile(r'files\("flowdesk\.engine"\)(\s*/\s*)"' + re.escape(name) + '"'),
                lambda m, p=package, n=name: f'files("flowdesk.engine.{p}"){m.group(1)}"{n}"',
            )
        )
        rules.append(
            (
                re.compile(r"(?<![\w/.-])((?:flowdesk/)?engine/)" + re.escape(name)),
                lambda m, p=package, n=name: f"{m.group(1)}{p.replace('.', '/')}/{n}",
            )
        )
    return rules


def rewrite_text(text: str, rules: list[tuple[re.Pattern[str], object]]) -> str:
    """Apply the text rules to one file's text."""
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)  # type: ignore[arg-type]
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the codemod; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the moves, change nothing")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="one more entry, relative to flowdesk.engine (e.g. save_queue=instances.save_queue)",
    )
    parser.add_argument("--no-ruff", action="store_true", help="do not sort imports afterwards")
    args = parser.parse_args(argv)
    table = dict(MODULES)
    for entry in args.map:
        old, _, new = entry.partition("=")
        if not old or not new:
            parser.error(f"--map needs OLD=NEW, got {entry!r}")
        table[old] = new

    move_files(table, args.dry_run)
    unknown = report_unknown(table)
    if args.dry_run:
        for line in unknown:
            print(f"unknown {line}")
        return 0

    rules = text_rules(table)
    changed: list[Path] = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        new = rewrite_imports(text, table) if path.suffix == ".py" else text
        new = rewrite_text(new, rules)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    print(f"rewrote {len(changed)} files")
    python_files = [str(p.relative_to(ROOT)) for p in changed if p.suffix == ".py"]
    if python_files and not args.no_ruff:
        ruff = Path(sys.executable).parent / "ruff"
        command = [str(ruff) if ruff.exists() else "ruff", "check", "--select", "I", "--fix"]
        subprocess.run([*command, "--quiet", *python_files], cwd=ROOT, check=False)
    for path in changed:
        if path.suffix != ".py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if len(line) > 100 and "flowdesk" in line:
                print(f"long    {path.relative_to(ROOT)}:{number}: wrap it by hand")
    for line in unknown:
        print(f"unknown {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
