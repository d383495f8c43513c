"""Run the public conformance corpus through flowdesk and say, per process, what happened.

The corpus (`FLOWDESK_CORPUS`, else `../shared/corpus` next to the repository) holds BPMN and
DMN files from Camunda's examples and engine tests, SpiffWorkflow's tests and the BPMN MIWG
test suite. For each file the harness, through the public `flowdesk.Engine`:

1. deploys it together with the corpus files it needs (the processes its call activities call
   and the DMN files of its decisions, found by id across the corpus), as one deployment;
2. registers a do-nothing service handler for every implementation the files name
   (`camunda:class`, `delegateExpression`, bean names of `camunda:expression`, `topic`), a
   do-nothing bean (`HandlerRegistry.register_bean`; its methods return None) for every name
   the files call methods on in other expressions (`#{jobAnnouncementService.findRequester(x)}`
   in a `camunda:assignee`), as a user stubbing their beans would, and an
   `AutoCompleteHandler` as the default user-task handler, with a budget;
3. starts each executable process of the file as the model says (none start event: `start`;
   message start: `correlate`; signal start: `signal`; timer start: the clock is moved to the
   deployed timer job): **as-is** with no variables, and, for the few processes listed in
   `START_VARIABLES`, a second time on a fresh database **with the harness's help**, the start
   variables a Camunda test would pass;
4. drives the instance and the instances it calls: delivers each message and signal they wait
   for once, triggers each receive task without a message (`runtimeService.signal`), fetches
   and completes each external task with no variables (a do-nothing worker), moves
   the injected clock to the next timer job and runs the due jobs, within fixed bounds, until
   nothing more can happen;
5. reports a typed `Outcome`.

`python -m tests.conformance.corpus --write` regenerates the table in `docs/conformance.md`
(both outcomes of each process, and a summary of each mode); without `--write` it prints the
generated part. `test_corpus.py` checks every outcome of both modes against that table, on
SQLite and PostgreSQL. The as-is mode is the number to quote: the help flatters flowdesk.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import functools
import itertools
import os
import re
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

import flowdesk
from flowdesk.store import Store

CORPUS_ENV = "FLOWDESK_CORPUS"
REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "conformance.md"
SUFFIXES = (".bpmn", ".dmn")
REGENERATE = "python -m tests.conformance.corpus --write"

# Bounds that keep a looping model or an endless cycle timer from hanging the run.
MAX_ROUNDS = 40  # deliveries and clock moves per process
EXTERNAL_WORKER = "conformance-worker"
MAX_CLOCK_MOVES = 12
MAX_USER_TASKS = 60  # auto-completions per process; later user tasks stay open
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BUSINESS_KEY = "corpus-1"
REASON_LENGTH = 240

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
# Camunda 7 still reads its attributes in the namespace it inherited from Activiti.
_ACTIVITI = "{http://activiti.org/bpmn}"
_DMN_DECISION = "decision"
_IMPLEMENTATIONS = ("class", "delegateExpression", "expression", "topic")
# A name that starts a call or a property access inside `${...}`: the bean the expression uses.
_BEAN = re.compile(r"(?<![\w.'\"])([A-Za-z_]\w*)\s*[.(]")
# Names an expression may start with that are no bean (JUEL's execution, and operators).
_NOT_BEANS = frozenset({"execution", "task", "empty", "not", "and", "or", "true", "false", "null"})
# `${name.method(` in any expression: `name` is a bean, unless `method` is one of the Java or
# Spin value methods an expression calls on a process variable (`${answer.equals('yes')}`,
# `${customer.prop("age")}`), which no user would stub.
_EXPRESSION = re.compile(r"[$#]\{(.*?)\}", re.S)
_METHOD_CALL = re.compile(r"(?<![\w.'\"])([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)\s*\(")
_VALUE_METHODS = frozenset(
    {
        "equals", "equalsIgnoreCase", "contains", "containsKey", "get", "size", "isEmpty",
        "length", "toString", "startsWith", "endsWith", "substring", "indexOf", "trim",
        "toUpperCase", "toLowerCase", "prop", "hasProp", "elements", "elementList", "jsonPath",
        "mapTo", "value", "stringValue", "numberValue", "boolValue", "isNull", "xPath",
    }
)  # fmt: skip
_UUID = re.compile(r"(?<![\w-])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Start variables a Camunda test would pass, or that a person would type into a form the
# auto-completed user tasks leave empty; keyed by corpus path and process id. Each comment says
# where the model reads the value.
START_VARIABLES: dict[tuple[str, str], dict[str, Any]] = {
    # Gateway "Approved?" reads `approved`, set by the embedded form of "Review Tweet".
    ("camunda-examples/TwitterDemoProcess.bpmn", "TwitterDemoProcess"): {"approved": True},
    # JobAnnouncementProcessTest starts with `jobAnnouncementId` and completes "review" with
    # approved=true.
    (
        "camunda-examples/camunda-testing-job-announcement.bpmn",
        "camunda-testing-job-announcement",
    ): {
        "jobAnnouncementId": 1,
        "approved": True,
        # The Java test completes "publish" with twitter=facebook=true; the called publication
        # process's gateways read them, and a null condition fails in Camunda as here.
        "twitter": True,
        "facebook": True,
    },
    # JobAnnouncementPublicationProcessTest starts with the id and the twitter/facebook choices
    # the gateways read.
    (
        "camunda-examples/camunda-testing-job-announcement-publication.bpmn",
        "camunda-testing-job-announcement-publication",
    ): {"jobAnnouncementId": 1, "twitter": True, "facebook": True},
    # The multi-instance "Store order item" runs over camunda:collection="orderItems".
    ("camunda-examples/quarkus-spin-plugin_process.bpmn", "order-item-process"): {
        "orderItems": [{"id": "item-1"}, {"id": "item-2"}]
    },
    # The gateway after "Validate Booking" reads `valid`; CompensateEventTest completes that
    # task with valid=false, which compensates the booking (its compensation event sub-process).
    (
        "camunda-platform/CompensateEventTest.testCompensationEventSubProcess.bpmn",
        "bookingProcess",
    ): {"valid": False},
    # The conditional boundary event waits for `${variable == 1}`; the engine test sets it.
    (
        "camunda-platform/BoundaryConditionalEventTest.testNonInterruptingVariableCondition.bpmn",
        "conditionalEventProcess",
    ): {"variable": 1},
    (
        "camunda-platform/EventSubProcessStartConditionalEventTest.testVariableCondition.bpmn",
        "conditionalEventProcess",
    ): {"variable": 1},
    # The loop's condition `${i <= numOfIterations}`.
    ("camunda-platform/ExclusiveGatewayTest.testBigLoop.bpmn", "testProcess"): {
        "numOfIterations": 10
    },
    # The inclusive gateway's conditions `${a==1}` and `${b==1}`.
    ("camunda-platform/InclusiveGatewayTest.testJoinAfterSubprocesses.bpmn", "InclusiveGateway"): {
        "a": 1,
        "b": 1,
    },
    # The timer's `#{dueDate}`: the engine test passes a date an hour ahead.
    (
        "camunda-platform/IntermediateTimerEventTest.testExpression.bpmn",
        "intermediateTimerEventExample",
    ): {"dueDate": (START + timedelta(hours=1)).isoformat()},
    # The nested multi-instance collections `subProcesses` and `assignees`.
    (
        "camunda-platform/MultiInstanceTest.testNestedMultiInstanceTasks.bpmn",
        "miNestedMultiInstanceTasks",
    ): {"subProcesses": ["process A", "process B"], "assignees": ["kermit", "gonzo"]},
    # The start form's fields (the DMN table reads amount and invoiceCategory), and the
    # `approved` decision of the "Approve Invoice" form, as Camunda's invoice example sends.
    ("camunda-platform/invoice.v2.bpmn", "invoice"): {
        "creditor": "Great Pizza for Everyone Inc.",
        "amount": 30.0,
        "invoiceCategory": "Travel Expenses",
        "invoiceNumber": "GPFE-23232323",
        "approved": True,
    },
    # The gateways read `approved` and `clarified` (forms of "approve invoice", "review").
    (
        "camunda-platform/webapps-pa3_fox-invoice_generated_forms.bpmn",
        "fox-invoice_generated_forms",
    ): {
        "approved": True,
        "clarified": "yes",
    },
    # `camunda:assignee="${reviewer}"`; invoice.v2.bpmn passes it with camunda:in.
    ("camunda-platform/reviewInvoice.bpmn", "ReviewInvoice"): {"reviewer": "demo"},
    # The gateways read `approved` and `clarified` (forms of "Approve invoice" and "Clarify").
    ("miwg/camunda-modeler-18.6.1_C.1.0-roundtrip.bpmn", "bpmn-miwg-test-case-c.1.0"): {
        "approved": True,
        "clarified": "yes",
    },
    # The gateway reads `x`, SpiffWorkflow's test sets it.
    ("spiffworkflow/ExclusiveGatewayIfElseAndDecision.bpmn", "Process_1"): {"x": 1},
    # Form field `plan_details` of the first user task; the message carries it.
    ("spiffworkflow/call_activity_with_message.bpmn", "Subprocess"): {"plan_details": "plan"},
    ("spiffworkflow/call_activity_with_message_parent.bpmn", "Process_0vpmpb9"): {
        "plan_details": "plan"
    },
    # Form field `approved` of "Approve request"; its message carries it back.
    ("spiffworkflow/call_activity_with_message_parent.bpmn", "Process_0xeaemr"): {
        "approved": "Yes"
    },
    # The gateways' conditions on `u`, `v` and `w` (the scripts add to them).
    ("spiffworkflow/inclusive_gateway.bpmn", "main"): {"u": 1, "v": 0, "w": 1},
    # Form field `skipParallel` of the first user task.
    ("spiffworkflow/token_trial_parallel_simple.bpmn", "token_trial_parallel_simple"): {
        "skipParallel": False
    },
    # Form fields `value` and `quantity` of the transaction's user tasks.
    ("spiffworkflow/transaction.bpmn", "Main_Process"): {"value": "data", "quantity": 1},
}


class Mode(enum.StrEnum):
    """How the harness starts the processes of the corpus."""

    AS_IS = "as-is"  # no start variables: what a model nobody tuned for gets
    HELPED = "with help"  # the START_VARIABLES of the process, if it has any


def helped(path: str) -> bool:
    """Whether the harness gives any process of this file start variables."""
    return any(file == path for file, _ in START_VARIABLES)


class Kind(enum.StrEnum):
    """What became of one process (or one DMN decision) of the corpus."""

    COMPLETED = "completed"
    WAITING = "waiting"  # for a user task, message, signal or timer that nothing delivers
    INCIDENT = "incident"  # a step failed; the instance is in state "incident"
    REJECTED = "rejected at deploy"  # BpmnValidationError; see _deploy for the reason shown
    NON_EXECUTABLE = "non-executable"  # isExecutable="false": deployed (checked), not run
    DECISION = "decision"  # a DMN decision: deployed, evaluated by the BPMN files using it
    ERROR = "error"  # an engine call raised a flowdesk error the harness did not expect
    STUCK = "stuck"  # running, yet it waits for no task, job, message or signal
    CRASH = "crash"  # anything but a flowdesk error escaped: always a bug


@dataclass(frozen=True, slots=True)
class Outcome:
    """One row of the conformance table."""

    file: str
    process: str
    kind: Kind
    reason: str = ""
    # For a crash: the traceback, to fail the test with (never in the table).
    details: str = field(default="", compare=False)


# -- the corpus ------------------------------------------------------------------------------


def corpus_root() -> Path | None:
    """The corpus folder, or None when this machine has none."""
    configured = os.environ.get(CORPUS_ENV)
    root = Path(configured) if configured else REPO.parent / "shared" / "corpus"
    return root if root.is_dir() else None


@dataclass(frozen=True, slots=True)
class StartEvent:
    """A top-level start event: its kind (none, message, signal, timer, ...) and event name."""

    element_id: str
    kind: str
    name: str | None = None
    initiator: str | None = None


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """A process of a BPMN file: its id, whether it is executable, and how it starts."""

    id: str
    executable: bool
    starts: tuple[StartEvent, ...]


@dataclass(frozen=True, slots=True)
class CorpusFile:
    """What the harness needs to know of one file, read from its XML."""

    path: str  # relative to the corpus root, with '/'
    kind: str  # "bpmn" | "dmn"
    processes: tuple[ProcessInfo, ...] = ()
    decisions: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()
    decision_refs: tuple[str, ...] = ()
    services: frozenset[str] = frozenset()
    beans: frozenset[str] = frozenset()


class Corpus:
    """Every BPMN/DMN file below a folder, indexed by the processes and decisions it defines."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = {
            f.path: f
            for f in (
                _read(root, path)
                for path in sorted(root.rglob("*"))
                if path.is_file() and path.suffix in SUFFIXES
            )
        }

    def deployment(self, path: str) -> list[CorpusFile]:
        """The file and, transitively, the files defining what it calls and decides with."""
        found = [self.files[path]]
        pending = [self.files[path]]
        while pending:
            current = pending.pop()
            needed = [self._defining(current, "process", pid) for pid in current.calls]
            needed += [self._defining(current, _DMN_DECISION, did) for did in current.decision_refs]
            for dependency in needed:
                if dependency is not None and dependency not in found:
                    found.append(dependency)
                    pending.append(dependency)
        return found

    def _defining(self, caller: CorpusFile, kind: str, ident: str) -> CorpusFile | None:
        """The file defining a process or decision id, preferring the caller's own folder."""
        if kind == "process" and any(p.id == ident for p in caller.processes):
            return None  # the file calls a process of its own
        matches = [
            f
            for f in self.files.values()
            if f is not caller
            and (
                ident in f.decisions
                if kind == _DMN_DECISION
                else any(p.id == ident and p.executable for p in f.processes)
            )
        ]
        folder = caller.path.rpartition("/")[0]
        matches.sort(key=lambda f: (f.path.rpartition("/")[0] != folder, f.path))
        return matches[0] if matches else None


def _read(root: Path, path: Path) -> CorpusFile:
    relative = path.relative_to(root).as_posix()
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    tree = etree.parse(str(path), parser)
    xml_root = tree.getroot()
    if path.suffix == ".dmn":
        namespace = etree.QName(xml_root).namespace
        decisions = tuple(
            d.get("id", "") for d in xml_root.iterchildren(f"{{{namespace}}}decision")
        )
        return CorpusFile(relative, "dmn", decisions=decisions)
    processes = tuple(
        ProcessInfo(
            p.get("id", ""),
            (p.get("isExecutable") or "true").strip().lower() == "true",
            tuple(_start_events(p, xml_root)),
        )
        for p in xml_root.iterchildren(f"{_BPMN}process")
    )
    calls = tuple(
        called
        for activity in xml_root.iter(f"{_BPMN}callActivity")
        if (called := (activity.get("calledElement") or "").strip()) and "{" not in called
    )
    refs = tuple(
        ref
        for task in xml_root.iter(f"{_BPMN}businessRuleTask")
        if (ref := (task.get(f"{_CAMUNDA}decisionRef") or "").strip()) and "{" not in ref
    )
    return CorpusFile(
        relative,
        "bpmn",
        processes=processes,
        calls=calls,
        decision_refs=refs,
        services=frozenset(_service_names(xml_root)),
        beans=frozenset(_bean_names(xml_root)),
    )


def _start_events(process: Any, root: Any) -> Iterator[StartEvent]:
    names = {
        element.get("id"): element.get("name") or element.get("id")
        for tag in ("message", "signal")
        for element in root.iterchildren(f"{_BPMN}{tag}")
    }
    for start in process.iterchildren(f"{_BPMN}startEvent"):
        definitions = [
            child for child in start if etree.QName(child).localname.endswith("EventDefinition")
        ]
        kind, name = "none", None
        if definitions:
            kind = etree.QName(definitions[0]).localname.removesuffix("EventDefinition")
            ref = definitions[0].get("messageRef") or definitions[0].get("signalRef")
            name = names.get((ref or "").rpartition(":")[2]) if ref else None
        yield StartEvent(start.get("id", ""), kind, name, start.get(f"{_CAMUNDA}initiator"))


def _service_names(root: Any) -> set[str]:
    """The names a Camunda engine would look up to run the file's service implementations."""
    names: set[str] = set()
    for element in root.iter(etree.Element):
        for namespace, attribute in itertools.product((_CAMUNDA, _ACTIVITI), _IMPLEMENTATIONS):
            value = (element.get(f"{namespace}{attribute}") or "").strip()
            if not value:
                continue
            if attribute in ("class", "topic"):
                names.add(value)
            elif attribute == "delegateExpression":
                names.update(_beans(value, first_only=True))
            else:
                names.update(_beans(value, first_only=False))
    return names


def _bean_names(root: Any) -> set[str]:
    """The names the file's expressions call methods on as beans (see `_METHOD_CALL`)."""
    names: set[str] = set()
    for element in root.iter(etree.Element):
        for text in (*element.attrib.values(), element.text or ""):
            for body in _EXPRESSION.findall(text):
                names.update(
                    name
                    for name, method in _METHOD_CALL.findall(body)
                    if name not in _NOT_BEANS and method not in _VALUE_METHODS
                )
    return names


def _beans(expression: str, *, first_only: bool) -> list[str]:
    body = expression.strip()
    if body[:2] in ("${", "#{"):
        body = body[2:]
    if first_only:
        match = re.match(r"\s*([A-Za-z_]\w*)", body)
        return [match.group(1)] if match else []
    return [name for name in _BEAN.findall(body) if name not in _NOT_BEANS]


# -- the handlers ----------------------------------------------------------------------------


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


class NullService:
    """A service handler, and an expression bean, that does nothing and returns no variables.

    Like a user task completed empty: the service "ran" without telling the process anything,
    so the model goes on with the variables it already has.
    """

    def __call__(self, call: flowdesk.ServiceCall) -> None:
        return None

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("_"):
            raise AttributeError(name)
        return _nothing


class BudgetedAutoComplete(flowdesk.AutoCompleteHandler):
    """Completes user tasks as `AutoCompleteHandler` does, up to a number of them.

    A model that loops through user tasks forever would otherwise never give the engine call
    back; past the budget the task stays open and the harness reports the wait.
    """

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.left = budget

    def auto_complete(self, task: flowdesk.Task) -> Mapping[str, Any] | None:
        if self.left <= 0:
            return None
        self.left -= 1
        return super().auto_complete(task)


class Clock:
    """The engine's clock; the harness moves it to the next timer job."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


# -- running one file ------------------------------------------------------------------------


def run_file(
    corpus: Corpus, path: str, url: str, workdir: Path, mode: Mode = Mode.AS_IS
) -> list[Outcome]:
    """Deploy one corpus file (with its dependencies) on a fresh database and run it.

    Args:
        corpus: The indexed corpus.
        path: The file, relative to the corpus root.
        url: A fresh, migrated database; nothing else uses it.
        workdir: An empty folder for the deployment's links.
        mode: Whether the processes get their `START_VARIABLES` (`Mode.HELPED`) or none.

    Returns:
        One outcome per process of the file (per decision for a DMN file).
    """
    target = corpus.files[path]
    if target.kind == "dmn":
        return _run_decisions(corpus, target, url, workdir)
    clock = Clock()
    user_tasks = BudgetedAutoComplete(MAX_USER_TASKS)
    with warnings.catch_warnings(record=True), _engine(url, clock) as engine:
        # Missing-handler and Spiff warnings are recorded, not raised (pytest makes them
        # errors); what they warn about shows up in the outcome.
        warnings.simplefilter("always")
        engine.handlers.register_user_task(user_tasks)
        deployment = corpus.deployment(path)
        for name in sorted({n for f in deployment for n in f.services}):
            engine.handlers.register_service(name, NullService())
        for name in sorted({n for f in deployment for n in f.beans}):
            engine.handlers.register_bean(name, NullService())
        rejected = _deploy(engine, corpus.root, deployment, workdir, target)
        if rejected is not None:
            return rejected
        outcomes = []
        # The public API lists no message or signal subscriptions, nor which instance called
        # which; the harness reads those from the store to name what an instance waits for.
        store = Store(url)
        for process in target.processes:
            if not process.executable:
                outcomes.append(Outcome(path, process.id, Kind.NON_EXECUTABLE, "deployed, not run"))
                continue
            user_tasks.left = MAX_USER_TASKS
            run = functools.partial(_run, engine, store, clock, path, process, mode)
            outcomes.append(_guarded(path, process.id, run))
        store.dispose()
        return outcomes


def _run_decisions(corpus: Corpus, target: CorpusFile, url: str, workdir: Path) -> list[Outcome]:
    with warnings.catch_warnings(record=True), _engine(url, Clock()) as engine:
        warnings.simplefilter("always")
        rejected = _deploy(engine, corpus.root, [target], workdir, target)
        if rejected is not None:
            return rejected
    users = sorted(
        f.path for f in corpus.files.values() if set(f.decision_refs) & set(target.decisions)
    )
    used = "used by " + ", ".join(users) if users else "used by no corpus process"
    return [Outcome(target.path, d, Kind.DECISION, f"deployed; {used}") for d in target.decisions]


@contextlib.contextmanager
def _engine(url: str, clock: Clock) -> Iterator[flowdesk.Engine]:
    engine = flowdesk.Engine(url, clock=clock, load_entry_points=False)
    try:
        yield engine
    finally:
        engine.close()


def link_deployment(root: Path, files: Iterable[CorpusFile], folder: Path) -> Path:
    """A folder of links to the corpus files, for `Engine.deploy`; the corpus is not copied."""
    for corpus_file in files:
        link = folder / corpus_file.path
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(root / corpus_file.path)
    return folder


# What every refusal that Camunda 7 makes too says (docs/camunda-refusals.md).
CAMUNDA_REFUSES = "Camunda 7 refuses"


def _deploy(
    engine: flowdesk.Engine,
    root: Path,
    files: list[CorpusFile],
    workdir: Path,
    target: CorpusFile,
) -> list[Outcome] | None:
    """Deploy the files as one deployment; the outcomes of a rejected one, else None."""
    folder = link_deployment(root, files, workdir / "deployment")
    rows = [p.id for p in target.processes] or list(target.decisions) or ["-"]
    try:
        engine.deploy(folder)
    except flowdesk.BpmnValidationError as err:
        # The reason to show: a problem Camunda 7 refuses the file for too, if there is one.
        shared = [p for p in err.problems if CAMUNDA_REFUSES in p.message]
        first = (shared or err.problems)[0]
        where = _relative(first.file, folder)
        line = f":{first.line}" if first.line is not None else ""
        element = f" [{first.element_id}]" if first.element_id else ""
        reason = _clean(f"{where}{line}{element}: {first.message}", folder)
        return [Outcome(target.path, row, Kind.REJECTED, reason) for row in rows]
    except flowdesk.FlowdeskError as err:
        reason = _clean(f"deploy: {type(err).__name__}: {err}", folder)
        return [Outcome(target.path, row, Kind.ERROR, reason) for row in rows]
    except Exception as err:
        return [_crash(target.path, row, err) for row in rows]
    return None


def _guarded(path: str, process: str, run: Callable[[], Outcome]) -> Outcome:
    try:
        return run()
    except flowdesk.FlowdeskError as err:
        return Outcome(path, process, Kind.ERROR, _clean(f"{type(err).__name__}: {err}"))
    except Exception as err:
        return _crash(path, process, err)


def _crash(path: str, process: str, err: Exception) -> Outcome:
    return Outcome(
        path,
        process,
        Kind.CRASH,
        _clean(f"{type(err).__name__}: {err}"),
        details="".join(traceback.format_exception(err)),
    )


class _Run:
    """One process instance and the instances it calls, driven until nothing more happens."""

    def __init__(self, engine: flowdesk.Engine, store: Store, clock: Clock, mode: Mode) -> None:
        self.engine = engine
        self.mode = mode
        self.store = store
        self.clock = clock
        self.delivered: set[tuple[str, str]] = set()
        self.clock_moves = 0

    def start(self, path: str, process: ProcessInfo) -> str | Outcome:
        """Start the process as its start events allow; the instance id, or why not."""
        variables: dict[str, Any] = {}
        if self.mode is Mode.HELPED:
            variables = dict(START_VARIABLES.get((path, process.id), {}))
        kinds = {s.kind: s for s in process.starts}
        before = {i.id for i in self.engine.instances(key=process.id)}
        if "none" in kinds or not kinds:
            initiator = kinds["none"].initiator if "none" in kinds else None
            user = None
            if initiator:  # camunda:initiator names the variable that holds the starting user
                user = "corpus"
                variables.setdefault(initiator, user)
            return self.engine.start(process.id, variables, business_key=BUSINESS_KEY, user=user).id
        if "message" in kinds and kinds["message"].name:
            return self.engine.correlate(
                kinds["message"].name, business_key=BUSINESS_KEY, variables=variables
            ).id
        if "signal" in kinds and kinds["signal"].name:
            self.engine.signal(kinds["signal"].name, variables)
        elif "timer" in kinds:
            timers = {s.element_id for s in process.starts if s.kind == "timer"}
            jobs = [
                j for j in self.engine.jobs() if j.instance_id is None and j.element_id in timers
            ]
            if not jobs:
                return Outcome(path, process.id, Kind.STUCK, "timer start event has no job")
            self.clock.now = max(self.clock.now, min(j.due_at for j in jobs))
            self.engine.run_due_jobs()
        else:
            return self.engine.start(process.id, variables, business_key=BUSINESS_KEY).id
        started = [i for i in self.engine.instances(key=process.id) if i.id not in before]
        if not started:
            kind = next(iter(kinds))
            return Outcome(path, process.id, Kind.STUCK, f"{kind} start event started nothing")
        return started[0].id

    def family(self, root: str) -> list[str]:
        """The instance and every instance its call activities started, transitively."""
        found, pending = [root], [root]
        with self.store.unit_of_work(readonly=True) as uow:
            while pending:
                for child in uow.instances.list(parent_instance_id=pending.pop()):
                    found.append(child.id)
                    pending.append(child.id)
        return found

    def incident_of(self, instance: flowdesk.ProcessInstance) -> str:
        """The instance's incident; of several failed jobs, the one at the first element.

        Jobs due at the same time run in the order of their random ids, so which of several
        failing ones put the instance into incident first differs from run to run.
        """
        failed = sorted(
            (
                j
                for j in self.engine.jobs(instance_id=instance.id)
                if j.state == "failed" and j.error
            ),
            key=lambda j: j.element_id,
        )
        if len(failed) > 1:
            return failed[0].error or ""
        return instance.incident or ""

    def drive(self, path: str, process: str, root: str) -> Outcome:
        for _ in range(MAX_ROUNDS):
            instance = self.engine.instance(root)
            family = self.family(root)
            instances = [self.engine.instance(i) for i in family]
            # Ids are random: every choice below is by what the model names, so that each
            # run (and each database) tells the same story.
            broken = sorted(
                (i for i in instances if i.state == "incident"), key=lambda i: (i.id != root, i.key)
            )
            if instance.state == "completed":
                return Outcome(path, process, Kind.COMPLETED)
            if broken:
                where = "" if broken[0].id == root else f"in called '{broken[0].key}': "
                return Outcome(
                    path, process, Kind.INCIDENT, _clean(where + self.incident_of(broken[0]))
                )
            if instance.state != "running":
                return Outcome(path, process, Kind.STUCK, f"instance state {instance.state!r}")
            running = [i for i in instances if i.state == "running"]
            tasks = sorted(
                (t for i in running for t in self.engine.tasks(instance_id=i.id)),
                key=lambda t: t.element_id,
            )
            if tasks:
                return Outcome(
                    path,
                    process,
                    Kind.WAITING,
                    f"user task {tasks[0].element_id} (after {MAX_USER_TASKS} auto-completed)",
                )
            waits = self._subscriptions([i.id for i in running])
            fresh = [w for w in waits if (w[0], w[1]) not in self.delivered]
            if fresh:
                self._deliver(*fresh[0], business_key={i.id: i.business_key for i in running})
                continue
            triggers = sorted(
                (w.element_id, w.instance_id)
                for i in running
                for w in self.engine.waits(i.id)
                if w.kind == "trigger"
            )
            if triggers:
                # A receive task without a message: the Java test's runtimeService.signal.
                element, instance_id = triggers[0]
                self.engine.trigger(instance_id, element)
                continue
            external = sorted(
                (t.topic, t.element_id)
                for i in running
                for t in self.engine.external_tasks(instance_id=i.id, with_retries_left=True)
            )
            if external:
                # An external task: the do-nothing worker a user stubbing their workers runs.
                self._work_external(external[0][0])
                continue
            jobs = [j for i in running for j in self.engine.jobs(instance_id=i.id)]
            jobs.sort(key=lambda j: (j.due_at, j.element_id))
            waiting_jobs = [j for j in jobs if j.state == "waiting"]
            if waiting_jobs and self.clock_moves < MAX_CLOCK_MOVES:
                self.clock_moves += 1
                self.clock.now = max(self.clock.now, min(j.due_at for j in waiting_jobs))
                self.engine.run_due_jobs()
                continue
            if jobs:
                job = waiting_jobs[0] if waiting_jobs else jobs[0]
                state = (
                    f"still due after {MAX_CLOCK_MOVES} clock moves"
                    if job.state == "waiting"
                    else f"job {job.state}: {job.error}"
                )
                return Outcome(
                    path, process, Kind.WAITING, _clean(f"timer {job.element_id} ({state})")
                )
            if waits:
                kind, name, element, _ = waits[0]
                return Outcome(
                    path, process, Kind.WAITING, f"{kind} '{name}' at {element} (delivered once)"
                )
            return Outcome(
                path, process, Kind.STUCK, "running, but no user task, timer, message or signal"
            )
        return Outcome(path, process, Kind.WAITING, f"still running after {MAX_ROUNDS} rounds")

    def _work_external(self, topic: str) -> None:
        """Fetch one external task of `topic` and complete it with no variables."""
        for task in self.engine.fetch_and_lock(
            EXTERNAL_WORKER, [topic], 1, lock_duration=timedelta(minutes=5)
        ):
            self.engine.complete_external_task(task.id, EXTERNAL_WORKER)

    def _subscriptions(self, instance_ids: list[str]) -> list[tuple[str, str, str, str]]:
        """(kind, name, element id, instance id) of what the instances wait for."""
        with self.store.unit_of_work(readonly=True) as uow:
            return sorted(
                (s.kind, s.name, s.element_id, instance_id)
                for instance_id in instance_ids
                for s in uow.subscriptions.list(instance_id=instance_id)
            )

    def _deliver(
        self,
        kind: str,
        name: str,
        element: str,
        instance_id: str,
        *,
        business_key: Mapping[str, str | None],
    ) -> None:
        self.delivered.add((kind, name))
        if kind == "signal":
            self.engine.signal(name)
            return
        with contextlib.suppress(flowdesk.CorrelationError):
            # Several instances of the family wait for it: not obvious which one gets it.
            self.engine.correlate(name, business_key=business_key.get(instance_id))


def _run(
    engine: flowdesk.Engine, store: Store, clock: Clock, path: str, process: ProcessInfo, mode: Mode
) -> Outcome:
    run = _Run(engine, store, clock, mode)
    started = run.start(path, process)
    if isinstance(started, Outcome):
        return started
    return run.drive(path, process.id, started)


def _relative(file: str, folder: Path) -> str:
    with contextlib.suppress(ValueError):
        return Path(file).relative_to(folder).as_posix()
    return file


def _clean(text: str, folder: Path | None = None) -> str:
    """One line, no temporary paths or random ids: the same text on every run."""
    if folder is not None:
        text = text.replace(f"{folder}/", "").replace(str(folder), "")
    text = _UUID.sub("<id>", " ".join(text.split()))
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 3] + "..."


# -- the table ---------------------------------------------------------------------------------

TABLE_START = "<!-- corpus-table:start -->"
TABLE_END = "<!-- corpus-table:end -->"
SUMMARY_START = "<!-- corpus-summary:start -->"
SUMMARY_END = "<!-- corpus-summary:end -->"
TABLE_HEADER = (
    "| File | Process | As-is | Reason (as-is) | With help | Reason (with help) |\n"
    "| --- | --- | --- | --- | --- | --- |"
)
# The "with help" cells of a file the harness gives no start variables: its run is the as-is one.
NO_HELP = "—"

Outcomes = dict[Mode, list[Outcome]]


def run_corpus(corpus: Corpus, progress: Callable[[str], None] | None = None) -> Outcomes:
    """Every file's outcomes in both modes, each run on its own fresh SQLite database.

    A file without start variables is run once: its outcomes with help are the as-is ones.
    """
    outcomes: Outcomes = {Mode.AS_IS: [], Mode.HELPED: []}
    for path in corpus.files:
        if progress is not None:
            progress(path)
        for mode in Mode:
            if mode is Mode.HELPED and not helped(path):
                outcomes[mode] += [o for o in outcomes[Mode.AS_IS] if o.file == path]
                continue
            with tempfile.TemporaryDirectory() as tmp:
                outcomes[mode] += run_file(
                    corpus, path, f"sqlite:///{tmp}/flowdesk.db", Path(tmp), mode
                )
    return outcomes


def render_table(outcomes: Outcomes) -> str:
    """The results table of `docs/conformance.md`: one row per process, both modes."""
    rows = [TABLE_HEADER]
    for plain, help_ in zip(outcomes[Mode.AS_IS], outcomes[Mode.HELPED], strict=True):
        assert (plain.file, plain.process) == (help_.file, help_.process)
        helped_cells = (
            f"{help_.kind.value} | {_escape(help_.reason)}"
            if helped(plain.file)
            else f"{NO_HELP} | {NO_HELP}"
        )
        rows.append(
            f"| `{plain.file}` | `{plain.process}` | {plain.kind.value} | {_escape(plain.reason)} "
            f"| {helped_cells} |"
        )
    return "\n".join(rows)


def parse_table(markdown: str) -> Outcomes:
    """The outcomes of both modes listed between the table markers of `docs/conformance.md`."""
    body = markdown.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    outcomes: Outcomes = {Mode.AS_IS: [], Mode.HELPED: []}
    for line in body.strip().splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        file, process, kind, reason, help_kind, help_reason = cells
        file, process = file.strip("`"), process.strip("`")
        plain = Outcome(file, process, Kind(kind), reason.replace("\\|", "|"))
        outcomes[Mode.AS_IS].append(plain)
        if help_kind == NO_HELP:
            outcomes[Mode.HELPED].append(plain)
        else:
            outcomes[Mode.HELPED].append(
                Outcome(file, process, Kind(help_kind), help_reason.replace("\\|", "|"))
            )
    return outcomes


def render_summary(outcomes: Outcomes, corpus: Corpus) -> str:
    """The counts the issue asks for, per mode, from the table and which processes run."""
    lines = []
    for mode in Mode:
        lines.append(
            f"**{mode.value.capitalize()}**"
            + (" (the number to quote):" if mode is Mode.AS_IS else " (`START_VARIABLES`):")
        )
        lines.append("")
        lines += _mode_summary(outcomes[mode], corpus)
        lines.append("")
    return "\n".join(lines).rstrip()


def _mode_summary(outcomes: list[Outcome], corpus: Corpus) -> list[str]:
    files = {o.file for o in outcomes}
    rejected = {o.file for o in outcomes if o.kind == Kind.REJECTED}
    executable = {
        (f.path, p.id) for f in corpus.files.values() for p in f.processes if p.executable
    }
    runs = [o for o in outcomes if (o.file, o.process) in executable]
    counts = {kind: sum(1 for o in runs if o.kind == kind) for kind in Kind}
    good = counts[Kind.COMPLETED] + counts[Kind.WAITING]  # an end, or a legitimate wait
    deployed = len(files) - len(rejected)
    by_outcome = ", ".join(f"{counts[k]} {k.value}" for k in Kind if counts[k])
    shared = {o.file for o in outcomes if o.kind == Kind.REJECTED and CAMUNDA_REFUSES in o.reason}
    camunda_deploys = len(files) - len(shared)
    return [
        f"- **{deployed} of {len(files)} files deploy** ({100 * deployed // len(files)}%; "
        "files whose processes are all non-executable and DMN files included).",
        f"- Camunda 7 refuses {len(shared)} of the {len(rejected)} refused files too (the "
        f"reason quotes its `BpmnParse`): flowdesk deploys {deployed} of the "
        f"{camunda_deploys} files Camunda 7 deploys ({100 * deployed // camunda_deploys}%).",
        f"- **{good} of {len(runs)} executable processes reach their end or a legitimate "
        f"wait** ({counts[Kind.COMPLETED]} completed, {counts[Kind.WAITING]} waiting).",
        f"- Executable processes by outcome: {by_outcome}.",
    ]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def replace_between(text: str, start: str, end: str, content: str) -> str:
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    return f"{head}{start}\n{content}\n{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"update {DOC.relative_to(REPO)}")
    args = parser.parse_args(argv)
    root = corpus_root()
    if root is None:
        print(f"no corpus: set {CORPUS_ENV} to its folder", file=sys.stderr)
        return 2
    corpus = Corpus(root)
    outcomes = run_corpus(corpus, progress=lambda p: print(p, file=sys.stderr))
    table, summary = render_table(outcomes), render_summary(outcomes, corpus)
    crashes = [o for mode in Mode for o in outcomes[mode] if o.kind == Kind.CRASH]
    for crash in crashes:
        print(crash.details, file=sys.stderr)
    if args.write:
        text = DOC.read_text(encoding="utf-8")
        text = replace_between(text, SUMMARY_START, SUMMARY_END, summary)
        text = replace_between(text, TABLE_START, TABLE_END, table)
        DOC.write_text(text, encoding="utf-8")
    else:
        print(summary + "\n\n" + table)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
