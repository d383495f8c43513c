"""The repository service: deploy BPMN/DMN files, version them, and parse them once per version.

A deployed file is stored whole (its XML) with every process or decision it defines, so an
instance can be resumed from the database alone. A process's version changes when its file's
content does (Camunda's deploy-changed-only). Called processes and decision tables resolve to
the latest version deployed *at or before* the caller's own deployment, so one version always
parses to the same specs, however much is deployed later.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import (
    CancelEventDefinition,
    NoneEventDefinition,
    TerminateEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException

from flowdesk import handlers
from flowdesk._records import ProcessDefinition
from flowdesk.engine import validation
from flowdesk.engine.deployment import spec_coverage, start_timers
from flowdesk.engine.deployment.parser import FlowdeskParser
from flowdesk.engine.dmn.task import pinned_refs
from flowdesk.engine.languages.bpmn_namespaces import BPMN_NS
from flowdesk.engine.spiff import event_scopes, external_work, listeners, triggers
from flowdesk.engine.spiff.script_engine import implementation_of
from flowdesk.engine.spiff.specs import FlowdeskServiceTask, MessageDefinition
from flowdesk.engine.spiff.workflow import SpecBundle
from flowdesk.errors import (
    BpmnValidationError,
    ExpressionError,
    IgnoredExtensionWarning,
    MissingCalledProcessWarning,
    MissingHandlerWarning,
    MissingListenerWarning,
    NotFound,
    Problem,
)
from flowdesk.store import DefinitionRow, SubscriptionKind, SubscriptionRow, UnitOfWork

PROCESS = "process"
DECISION = "decision"
_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".dmn11.xml")


@dataclass(frozen=True)  # no slots: the cached properties need the instance dict
class _Resource:
    name: str
    content: bytes
    tree: Any
    kind: str  # "bpmn" | "dmn"
    # A DMN file loaded as one version of one decision (camunda:decisionRefBinding="version").
    pinned: tuple[str, int] | None = None

    @functools.cached_property
    def content_hash(self) -> str:
        # Once per file: a file with many processes asks once per process.
        return hashlib.sha256(self.content).hexdigest()

    @functools.cached_property
    def text(self) -> str:
        return self.content.decode("utf-8")


def definition_record(row: DefinitionRow) -> ProcessDefinition:
    return ProcessDefinition(
        key=row.key,
        version=row.version,
        name=row.name,
        kind=row.kind,
        file=row.resource_name,
        deployed_at=row.deployed_at,
    )


def collect_files(path: str | Path) -> list[Path]:
    """The BPMN and DMN files at `path`: the file itself, or every one below a folder."""
    target = Path(path)
    if target.is_dir():
        files = sorted(
            p for p in target.rglob("*") if p.is_file() and p.name.lower().endswith(_SUFFIXES)
        )
        if not files:
            raise NotFound("BPMN or DMN file in folder", str(target))
        return files
    if not target.is_file():
        raise NotFound("file", str(target))
    return [target]


@dataclass(frozen=True, slots=True)
class Waits:
    """What an instance of one deployed version can ever wait for, judged from its specs.

    False only when no element could make it wait so: the engine then neither reads nor writes
    the instance's jobs or subscriptions when it saves. Unknown event kinds count as both.
    """

    jobs: bool  # timers, async continuations
    subscriptions: bool  # messages, signals
    external_tasks: bool = False  # `camunda:type="external"` activities and message throws


class SpecCache:
    """Parsed specs and definition rows per deployed version, built on first use.

    A deployed version never changes, so its row (XML included) is read from the database once
    per engine, and its specs are parsed once and then shared by every thread using the
    engine. That is safe because nothing changes a spec after parsing: SpiffWorkflow's two
    run-time changes are avoided (`event_scopes.wire` connects event sub-processes when the
    version is parsed, where Spiff's `trigger_wf` would on first trigger, and flowdesk's
    `MultiInstanceActivity` replaces the Camunda multi-instance task that rewrites its inputs),
    and `tests/api/test_engine_threads.py` checks that running instances leaves every task
    spec's attributes as they were. Two threads asking for a version first at the same time
    may both parse it; the first bundle stored is the one every caller gets.
    """

    def __init__(self) -> None:
        self._bundles: dict[int, SpecBundle] = {}
        self._definitions: dict[int, DefinitionRow] = {}
        self._waits: dict[int, Waits] = {}
        self._lock = threading.Lock()

    def definition(self, uow: UnitOfWork, definition_id: int) -> DefinitionRow:
        """The definition row with this id (`NotFound` if there is none)."""
        with self._lock:
            cached = self._definitions.get(definition_id)
        if cached is not None:
            return cached
        row = uow.definitions.get(definition_id)
        with self._lock:
            return self._definitions.setdefault(definition_id, row)

    def bundle(self, uow: UnitOfWork, definition: DefinitionRow) -> SpecBundle:
        with self._lock:
            cached = self._bundles.get(definition.id)
        if cached is not None:
            return cached
        bundle = _parse_bundle(uow, definition)
        with self._lock:
            self._definitions.setdefault(definition.id, definition)
            return self._bundles.setdefault(definition.id, bundle)

    def waits(self, uow: UnitOfWork, definition: DefinitionRow) -> Waits:
        """What instances of this version can wait for (see `Waits`)."""
        with self._lock:
            cached = self._waits.get(definition.id)
        if cached is not None:
            return cached
        waits = _waits_of(self.bundle(uow, definition))
        with self._lock:
            return self._waits.setdefault(definition.id, waits)


class RepositoryService:
    """Deploys files and answers which definitions exist."""

    def __init__(
        self, registry: handlers.HandlerRegistry, *, max_file_bytes: int | None = None
    ) -> None:
        self._registry = registry
        self._max_file_bytes = max_file_bytes

    def deploy(self, uow: UnitOfWork, path: str | Path, *, now: Any) -> list[ProcessDefinition]:
        files = collect_files(path)
        if self._max_file_bytes is not None:
            _check_sizes(files, self._max_file_bytes)
        resources = [_load(file) for file in files]
        parser = _check(uow, resources)
        deployed: list[ProcessDefinition] = []
        for resource in _dependencies_first(resources):
            for kind, key, name in _definitions_in(resource):
                latest = uow.definitions.latest(kind, key)
                if latest is not None and latest.content_hash == resource.content_hash:
                    deployed.append(definition_record(latest))
                    continue
                row = uow.definitions.add(
                    key=key,
                    name=name,
                    kind=kind,
                    resource_name=resource.name,
                    content_hash=resource.content_hash,
                    xml=resource.text,
                    deployed_at=now,
                )
                if kind == PROCESS:
                    _subscribe_start_messages(uow, resource, row, previous=latest, now=now)
                    start_timers.schedule(uow, row, resource.tree, previous=latest, now=now)
                deployed.append(definition_record(row))
        # The parser `_check` built already holds these files and what they call: parsing a
        # large model twice doubled its deploy time.
        if parser is None:
            parser = _parser_for(resources + _stored_dependencies(uow, resources, max_id=None))
        self._warn_missing_handlers(parser)
        for problem in _unresolved_calls(uow, resources):
            warnings.warn(MissingCalledProcessWarning(problem), stacklevel=3)
        for resource in resources:
            if resource.kind == "bpmn":
                for problem in validation.ignored_settings(resource.tree, resource.name):
                    warnings.warn(IgnoredExtensionWarning(problem), stacklevel=3)
        return deployed

    def _warn_missing_handlers(self, parser: Any) -> None:
        for process_id in parser.get_process_ids():
            try:
                specs = [parser.get_spec(process_id), *_all_task_specs(parser, process_id)]
            except (SpiffWorkflowException, *_SPIFF_INPUT_ERRORS):
                continue  # a process that is not executable, which `_check` did not parse
            for element_id, event, listener_name in listeners.declared(specs):
                if self._registry.listener(listener_name) is None:
                    warnings.warn(
                        MissingListenerWarning(process_id, element_id, listener_name, event),
                        stacklevel=4,
                    )
            for spec in _all_task_specs(parser, process_id):
                extensions = _service_extensions(spec)
                if extensions is None or external_work.is_external(extensions):
                    continue  # an external task waits for a worker, not for a handler
                implementation = implementation_of(extensions)
                camunda = extensions.get("camunda", {})
                if implementation is None or (
                    self._registry.service(implementation) is None and not camunda.get("expression")
                ):
                    warnings.warn(
                        MissingHandlerWarning(process_id, spec.bpmn_id, implementation),
                        stacklevel=4,
                    )


def _service_extensions(spec: Any) -> Mapping[str, Any] | None:
    """The extensions naming the service a task spec runs: a service-like task's own, or a
    message throw event's definition's (run as a service task, as in Camunda); else None."""
    if isinstance(spec, FlowdeskServiceTask):
        return cast(Mapping[str, Any], spec.extensions)
    definition = getattr(spec, "event_definition", None)
    if isinstance(definition, MessageDefinition) and definition.service is not None:
        return definition.service
    return None


def _dependencies_first(resources: list[_Resource]) -> list[_Resource]:
    """Decision files, then each BPMN file after the files whose processes it calls.

    A version resolves what it calls among definitions stored before it, so within one
    deployment the called definitions must be stored first. Call cycles keep file order.
    """
    ordered = [r for r in resources if r.kind == "dmn"]
    pending = [r for r in resources if r.kind == "bpmn"]
    while pending:
        placed = {
            key for r in ordered if r.kind == "bpmn" for key in validation.process_ids(r.tree)
        }
        defined_later = {key for r in pending for key in validation.process_ids(r.tree)}
        ready = next(
            (
                r
                for r in pending
                if all(
                    name in placed
                    or name not in defined_later
                    or name in validation.process_ids(r.tree)
                    for name, _, _ in validation.called_elements(r.tree)
                )
            ),
            pending[0],
        )
        ordered.append(ready)
        pending.remove(ready)
    return ordered


def _subscribe_start_messages(
    uow: UnitOfWork,
    resource: _Resource,
    row: DefinitionRow,
    *,
    previous: DefinitionRow | None,
    now: Any,
) -> None:
    """Message start events of the new version wait for `correlate`; the old version's stop."""
    if previous is not None:
        uow.subscriptions.delete_for_definition(previous.id)
    for message_name, element_id in _message_start_events(resource.tree, row.key):
        uow.subscriptions.add(
            SubscriptionRow(
                id=str(uuid.uuid4()),
                instance_id=None,
                definition_id=row.id,
                kind=SubscriptionKind.MESSAGE.value,
                name=message_name,
                element_id=element_id,
                task_ref=None,
                business_key=None,
                created_at=now,
            )
        )


def _message_start_events(tree: Any, process_id: str) -> list[tuple[str, str]]:
    """(message name, start event id) of a process's top-level message start events."""
    ns = {"bpmn": BPMN_NS}
    root = tree.getroot()
    names = {m.get("id"): m.get("name") or m.get("id") for m in root.findall("bpmn:message", ns)}
    result = []
    for process in root.findall("bpmn:process", ns):
        if process.get("id") != process_id:
            continue
        for start in process.findall("bpmn:startEvent", ns):
            for definition in start.findall("bpmn:messageEventDefinition", ns):
                ref = definition.get("messageRef")
                if ref in names:
                    result.append((str(names[ref]), str(start.get("id"))))
    return result


def _all_task_specs(parser: Any, process_id: str) -> list[Any]:
    specs = [parser.get_spec(process_id)]
    specs.extend(
        parser.get_subprocess_specs(process_id, require_call_activity_specs=False).values()
    )
    return [task_spec for spec in specs for task_spec in spec.task_specs.values()]


def _check_sizes(files: list[Path], max_file_bytes: int) -> None:
    """Refuse, before any is read, files over the Engine's `InputLimits.max_file_bytes`."""
    problems = [
        Problem(
            str(file),
            None,
            None,
            f"the file has {size} bytes, over the limit max_file_bytes={max_file_bytes}",
        )
        for file in files
        if (size := file.stat().st_size) > max_file_bytes
    ]
    if problems:
        raise BpmnValidationError(problems)


def _load(file: Path) -> _Resource:
    content = file.read_bytes()
    tree = validation.parse_xml(content, str(file))
    return _Resource(str(file), content, tree, validation.kind_of(tree))


def _definitions_in(resource: _Resource) -> list[tuple[str, str, str]]:
    names = _names(resource.tree.getroot())  # one pass: deploy time linear in file size
    if resource.kind == "dmn":
        return [
            (DECISION, key, names.get(key) or key) for key in validation.decision_ids(resource.tree)
        ]
    return [
        (PROCESS, key, names.get(key) or key)
        for key, executable in validation.process_ids(resource.tree).items()
        if executable
    ]


def _names(root: Any) -> dict[str, str]:
    """The `name` of each element by id, the first element of an id winning (as a search
    from the top would)."""
    names: dict[str, str] = {}
    for element in root.iter():
        if isinstance(element.tag, str):
            element_id = element.get("id")
            if element_id is not None and element_id not in names:
                names[element_id] = str(element.get("name") or element_id)
    return names


def _unresolved_calls(uow: UnitOfWork, resources: list[_Resource]) -> list[Problem]:
    """Call activities of executable processes whose called process nobody deployed."""
    known = {row.key for row in uow.definitions.list(kind=PROCESS, latest_only=True)}
    found: list[Problem] = []
    for resource in resources:
        if resource.kind != "bpmn":
            continue
        executable = validation.process_ids(resource.tree)
        process_of = {
            element.get("id"): process.get("id")
            for process in resource.tree.getroot().iterchildren(f"{{{BPMN_NS}}}process")
            for element in process.iter()
        }
        for called, element_id, line in validation.called_elements(resource.tree):
            if called in known or not executable.get(process_of.get(element_id) or "", False):
                continue
            found.append(
                Problem(
                    resource.name,
                    line,
                    element_id,
                    f"call activity {element_id!r} calls {called!r}, which is not deployed: "
                    "an instance that reaches it gets an incident until it is (Camunda 7 "
                    "resolves it then too)",
                )
            )
    return found


def _check(uow: UnitOfWork, resources: list[_Resource]) -> Any:
    """Every problem in the deployment, or nothing; then a trial parse by SpiffWorkflow.

    Returns the parser of that trial parse (None when there is no BPMN file), which holds the
    files and every process and decision they call.
    """
    known_processes = {row.key for row in uow.definitions.list(kind=PROCESS, latest_only=True)}
    known_decisions = {row.key for row in uow.definitions.list(kind=DECISION, latest_only=True)}
    for resource in resources:
        if resource.kind == "bpmn":
            known_processes.update(validation.process_ids(resource.tree))
        else:
            known_decisions.update(validation.decision_ids(resource.tree))
    problems: list[Problem] = []
    for resource in resources:
        if resource.kind == "bpmn":
            problems += validation.validate_bpmn(
                resource.tree,
                resource.name,
                known_process_ids=known_processes,
                known_decision_ids=known_decisions,
            )
        else:
            problems += validation.validate_dmn(resource.tree, resource.name)
    if problems:
        raise BpmnValidationError(problems)
    bpmn = [r for r in resources if r.kind == "bpmn"]
    if not bpmn:
        return None
    # Spiff needs the called processes and decisions of earlier deployments to parse this one.
    extra = _stored_dependencies(uow, bpmn, max_id=None)
    try:
        parser = _parser_for(resources + extra)
        for resource in bpmn:
            for process_id, executable in validation.process_ids(resource.tree).items():
                if executable:
                    problems += spec_coverage.uncovered(
                        resource.tree,
                        resource.name,
                        process_id,
                        parser.get_spec(process_id),
                        parser.get_subprocess_specs(process_id),
                    )
    except ValidationException as err:
        raise BpmnValidationError([_problem_from_spiff(err, resources)]) from err
    except ExpressionError as err:
        located = _resource_with_id(resources, err.element_id)
        raise BpmnValidationError(
            [
                Problem(
                    located.name if located else resources[0].name,
                    _line_of(located, err.element_id),
                    err.element_id,
                    str(err),
                )
            ]
        ) from err
    except SpiffWorkflowException as err:
        raise BpmnValidationError([Problem(resources[0].name, None, None, str(err))]) from err
    except _SPIFF_INPUT_ERRORS as err:
        # SpiffWorkflow's parser reads some values without checking them (a diagram's
        # `dc:Bounds x="..."` as a float): what it cannot read is a problem of the file.
        reason = f"SpiffWorkflow cannot read the file ({type(err).__name__}: {err})"
        raise BpmnValidationError([Problem(resources[0].name, None, None, reason)]) from err
    if problems:
        raise BpmnValidationError(problems)
    return parser


# What SpiffWorkflow's parser raises on a value it reads unchecked; see `_check`.
_SPIFF_INPUT_ERRORS = (ValueError, TypeError, LookupError, AttributeError)


def _parser_for(resources: list[_Resource]) -> Any:
    parser = FlowdeskParser()
    seen: set[tuple[str, tuple[str, int] | None]] = set()
    for resource in resources:
        if (resource.content_hash, resource.pinned) in seen:
            continue
        seen.add((resource.content_hash, resource.pinned))
        if resource.kind == "bpmn":
            parser.add_bpmn_xml(resource.tree.getroot(), filename=resource.name)
        else:
            parser.add_dmn_xml(
                resource.tree.getroot(), filename=resource.name, pinned=resource.pinned
            )
    return parser


def _stored_dependencies(
    uow: UnitOfWork, resources: list[_Resource], max_id: int | None
) -> list[_Resource]:
    """Stored DMN files that the business rule tasks of `resources` evaluate.

    Called processes are not among them: a call activity starts an instance of its own, which
    has its own parsed bundle.
    """
    have = {k for r in resources if r.kind == "dmn" for k in validation.decision_ids(r.tree)}
    found: list[_Resource] = []
    for resource in resources:
        if resource.kind != "bpmn":
            continue
        for name, _, _ in validation.decision_refs(resource.tree):
            row = None if name in have else uow.definitions.latest(DECISION, name, max_id=max_id)
            if row is None:
                continue  # in this deployment, or reported by validation at deploy
            content = row.xml.encode("utf-8")
            tree = validation.parse_xml(content, row.resource_name)
            found.append(_Resource(row.resource_name, content, tree, "dmn"))
            have.update(validation.decision_ids(tree))
        found += _pinned_decisions(uow, resource, max_id)
    return found


def _pinned_decisions(uow: UnitOfWork, resource: _Resource, max_id: int | None) -> list[_Resource]:
    """The decision versions a BPMN file's business rule tasks are bound to by number."""
    pinned = []
    for key, version in pinned_refs(resource.tree):
        row = uow.definitions.find_version(DECISION, key, version)
        if row is None or (max_id is not None and row.id > max_id):
            continue  # the task's parser reports the missing version
        content = row.xml.encode("utf-8")
        tree = validation.parse_xml(content, row.resource_name)
        pinned.append(_Resource(row.resource_name, content, tree, "dmn", (key, version)))
    return pinned


def _parse_bundle(uow: UnitOfWork, definition: DefinitionRow) -> SpecBundle:
    content = definition.xml.encode("utf-8")
    tree = validation.parse_xml(content, definition.resource_name)
    own = _Resource(definition.resource_name, content, tree, validation.kind_of(tree))
    resources = [own, *_stored_dependencies(uow, [own], max_id=definition.id)]
    parser = _parser_for(resources)
    spec = parser.get_spec(definition.key)
    subprocess_specs = parser.get_subprocess_specs(definition.key)
    event_scopes.wire(spec, subprocess_specs)
    return SpecBundle(spec, subprocess_specs)


# Event definitions that never make an instance wait for a job or a subscription.
_QUIET_EVENTS = (
    NoneEventDefinition,
    ErrorEventDefinition,
    EscalationEventDefinition,
    TerminateEventDefinition,
    CancelEventDefinition,
    triggers.TriggerDefinition,  # a receive task without a message: `Engine.trigger` ends it
)


def _waits_of(bundle: SpecBundle) -> Waits:
    jobs = subscriptions = external_tasks = False
    specs = [bundle.spec, *bundle.subprocess_specs.values()]
    for task_spec in (task_spec for spec in specs for task_spec in spec.task_specs.values()):
        extensions = getattr(task_spec, "extensions", None) or {}
        camunda = extensions.get("camunda", {})
        service = getattr(getattr(task_spec, "event_definition", None), "service", None)
        if external_work.is_external(extensions) or (
            service is not None and external_work.is_external(service)
        ):
            external_tasks = True
        if "asyncBefore" in camunda or "asyncAfter" in camunda:
            jobs = True
        if any(x["event"] == "timeout" for x in extensions.get("task_listeners", [])):
            jobs = True
        pending = [getattr(task_spec, "event_definition", None)]
        while pending:
            event = pending.pop()
            if event is None or isinstance(event, _QUIET_EVENTS):
                continue
            if isinstance(event, MultipleEventDefinition):
                pending.extend(event.event_definitions)
            elif isinstance(event, TimerEventDefinition):
                jobs = True
            elif isinstance(event, MessageEventDefinition | SignalEventDefinition):
                subscriptions = True
            else:  # a kind this check does not know: assume the worst
                jobs = subscriptions = True
    return Waits(jobs=jobs, subscriptions=subscriptions, external_tasks=external_tasks)


def _problem_from_spiff(err: ValidationException, resources: list[_Resource]) -> Problem:
    element_id = getattr(err, "id", None) or None
    resource = _resource_named(resources, getattr(err, "file_name", "")) or _resource_with_id(
        resources, element_id
    )
    line = _line_of(resource, element_id) if resource else None
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    return Problem(
        resource.name if resource else (err.file_name or resources[0].name),
        line,
        element_id,
        message,
    )


def _resource_named(resources: list[_Resource], name: str) -> _Resource | None:
    return next((r for r in resources if r.name == name), None)


def _resource_with_id(resources: list[_Resource], element_id: str | None) -> _Resource | None:
    if not element_id:
        return None
    return next((r for r in resources if _line_of(r, element_id) is not None), None)


def _line_of(resource: _Resource | None, element_id: str | None) -> int | None:
    if resource is None or not element_id:
        return None
    for element in resource.tree.getroot().iter():
        if isinstance(element.tag, str) and element.get("id") == element_id:
            return int(element.sourceline) if element.sourceline is not None else None
    return None
