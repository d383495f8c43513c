"""One SpiffWorkflow workflow, loaded for the length of one engine call.

`WorkflowRun` is the only place that drives a `BpmnWorkflow`. It keeps Camunda's variable
model on top of Spiff's: Spiff gives every task its own copy of the data and merges copies at
joins, so a branch that finishes last writes back stale values (SpiffWorkflow 3.2,
unstructured_join.py). flowdesk instead keeps one process scope in `workflow.data`: before a
task runs it sees the current scope (plus its own input parameters), and after it ran only the
variables it changed are written back, as `execution.setVariable` would in Camunda.

Everything that leaves this module is plain data (`OpenUserTask`, `Wait`, dicts); no Spiff
object escapes the engine package.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from flowdesk.engine import sandbox, timers
from flowdesk.engine.scripting import FlowdeskScriptEngine
from flowdesk.engine.serializer import SERIALIZER_VERSION, InstanceSerializer
from flowdesk.engine.specs import (
    CALL_ABANDONED,
    CALL_REQUESTED,
    CALL_STATE,
    FlowdeskCallActivity,
    MessageDefinition,
)

_GATEWAYS = (ExclusiveGateway, InclusiveGateway)

# Keys Spiff keeps in workflow.data for itself, never shown as process variables.
_INTERNAL_KEYS = frozenset({"data_objects"})


@dataclass(frozen=True, slots=True)
class SpecBundle:
    """A parsed process and every process it may call, cached per deployed version."""

    spec: Any
    subprocess_specs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OpenUserTask:
    """A user task waiting for a person, as the engine first sees it."""

    task_ref: str
    element_id: str
    name: str
    documentation: str
    extensions: dict[str, Any]
    variables: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Wait:
    """An event the instance waits for: a timer (with due time), a message or a signal."""

    task_ref: str
    element_id: str
    kind: str
    name: str
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    element_id: str
    task_ref: str
    message: str


@dataclass(frozen=True, slots=True)
class CompletedActivity:
    element_id: str
    name: str
    kind: str  # the Spiff spec class, e.g. "ExclusiveGateway"
    next_elements: tuple[str, ...] = ()  # for gateways: where the token went


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A call activity that wants its process started."""

    task_ref: str
    element_id: str
    called_element: str
    extensions: dict[str, Any]
    variables: dict[str, Any]  # what the activity sees: scope, input parameters, MI locals


@dataclass
class StepLog:
    """What happened during the call, for the history table."""

    completed: list[CompletedActivity] = field(default_factory=list)


class WorkflowRun:
    """Drives one workflow: start it, complete its user tasks, deliver its events."""

    def __init__(self, workflow: Any, script_engine: FlowdeskScriptEngine) -> None:
        self._wf = workflow
        self._wf.script_engine = script_engine
        self.log = StepLog()
        self.incident: Incident | None = None

    # -- life cycle -------------------------------------------------------------------------

    @classmethod
    def new(
        cls, bundle: SpecBundle, variables: Mapping[str, Any], script_engine: FlowdeskScriptEngine
    ) -> WorkflowRun:
        workflow = BpmnWorkflow(bundle.spec, bundle.subprocess_specs, script_engine=script_engine)
        workflow.data.update(copy.deepcopy(dict(variables)))
        return cls(workflow, script_engine)

    @classmethod
    def load(
        cls, state: str, bundle: SpecBundle, script_engine: FlowdeskScriptEngine
    ) -> WorkflowRun:
        workflow = InstanceSerializer.load(state, bundle.spec, bundle.subprocess_specs)
        return cls(workflow, script_engine)

    def dump(self) -> str:
        """The workflow state as JSON, without its spec (the store keeps that per version)."""
        return InstanceSerializer.dump(self._wf)

    serializer_version = SERIALIZER_VERSION

    # -- actions ------------------------------------------------------------------------------

    def start(self) -> None:
        self._guarded(self._advance)

    def complete_user_task(self, task_ref: str, data: Mapping[str, Any]) -> None:
        task = self._task(task_ref)
        if task is None or task.state != TaskState.READY:
            raise LookupError(task_ref)

        def act() -> None:
            self._run_task(task, data)
            self._advance()

        self._guarded(act)

    def fire_due_timer(self, task_ref: str, due_at: datetime) -> bool:
        """Fire the timer if it is still waiting; returns whether it was."""
        task = self._task(task_ref)
        if task is None or task.state != TaskState.WAITING:
            return False
        # Spiff fires when due < now (strictly); a job run at its due time must not wait.
        at = max(timers.now(), due_at + timedelta(microseconds=1))

        def act() -> None:
            with timers.using_clock(lambda: at):
                task.task_spec._update(task)
                self._advance()

        self._guarded(act)
        return True

    def deliver_message(self, name: str, variables: Mapping[str, Any]) -> bool:
        """Hand a message to the waiting catch event; False if none waits for it."""
        event = BpmnEvent(
            MessageDefinition(name),
            payload={"payload": copy.deepcopy(dict(variables)), "result_var": None},
        )
        if not any(w.kind == "message" and w.name == name for w in self.waits()):
            return False
        self._guarded(lambda: self._catch(event))
        return True

    def _catch(self, event: Any) -> None:
        self._wf.catch(event)
        self._advance()

    def retry(self) -> None:
        """Run the failed task again, then carry on."""
        self.incident = None

        def act() -> None:
            for task in self._wf.get_tasks(state=TaskState.ERROR):
                self._run_task(task)
            self._advance()

        self._guarded(act)

    def complete_call(self, task_ref: str, variables: Mapping[str, Any]) -> bool:
        """Complete a call activity whose instance ended; False if it no longer waits."""
        task = self._task(task_ref)
        if task is None or task.state != TaskState.STARTED:
            return False

        def act() -> None:
            self._before(task)
            task.data.update(copy.deepcopy(dict(variables)))
            task.complete()
            self._after(task)
            self._advance()

        self._guarded(act)
        return True

    def call_extensions(self, task_ref: str) -> dict[str, Any]:
        """The Camunda settings of a call activity task (its `camunda:out` mappings)."""
        return _extensions(self._task(task_ref))

    def mark_call_started(self, task_ref: str, instance_id: str) -> None:
        self._task(task_ref).internal_data[CALL_STATE] = instance_id

    def call_requests(self) -> list[CallRequest]:
        """Call activities that want their instance started."""
        return [
            CallRequest(
                task_ref=str(task.id),
                element_id=task.task_spec.bpmn_id,
                called_element=task.task_spec.called_element,
                extensions=_extensions(task),
                variables={k: v for k, v in task.data.items() if k not in _INTERNAL_KEYS},
            )
            for task in self._wf.get_tasks(state=TaskState.STARTED)
            if isinstance(task.task_spec, FlowdeskCallActivity)
            and task.internal_data.get(CALL_STATE) == CALL_REQUESTED
        ]

    def abandoned_calls(self) -> list[str]:
        """Called instances whose call activity was cancelled (by a boundary event, say)."""
        abandoned = []
        for task in self._wf.get_tasks(state=TaskState.CANCELLED):
            state = task.internal_data.get(CALL_STATE)
            if isinstance(task.task_spec, FlowdeskCallActivity) and state not in (
                None,
                CALL_REQUESTED,
                CALL_ABANDONED,
            ):
                abandoned.append(state)
                task.internal_data[CALL_STATE] = CALL_ABANDONED
        return abandoned

    # -- what the engine reads back --------------------------------------------------------

    @property
    def variables(self) -> dict[str, Any]:
        return {k: v for k, v in self._wf.data.items() if k not in _INTERNAL_KEYS}

    @property
    def is_completed(self) -> bool:
        return bool(self._wf.is_completed())

    def open_user_tasks(self) -> list[OpenUserTask]:
        return [
            OpenUserTask(
                task_ref=str(task.id),
                element_id=task.task_spec.bpmn_id,
                name=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
                documentation=task.task_spec.documentation or "",
                extensions=_extensions(task),
                variables=self._task_view(task),
            )
            for task in self._wf.get_tasks(state=TaskState.READY, manual=True)
            if isinstance(task.task_spec, UserTask)
        ]

    def waits(self) -> list[Wait]:
        waits = []
        for task in self._wf.event_manager.tasks.values():
            definition = task.task_spec.event_definition
            element_id = task.task_spec.bpmn_id or task.task_spec.name
            if isinstance(definition, TimerEventDefinition):
                due = _timer_due(task)
                if due is not None:
                    waits.append(Wait(str(task.id), element_id, "timer", definition.name, due))
            elif isinstance(definition, MessageEventDefinition):
                waits.append(Wait(str(task.id), element_id, "message", definition.name))
            elif isinstance(definition, SignalEventDefinition):
                waits.append(Wait(str(task.id), element_id, "signal", definition.name))
        return waits

    def thrown_events(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Messages and signals thrown that nothing in this instance caught: (kind, name, data)."""
        thrown = []
        for event in self._wf.get_events():
            definition = event.event_definition
            payload = event.payload if isinstance(event.payload, dict) else {}
            if isinstance(definition, MessageEventDefinition):
                data = payload.get("payload") if "payload" in payload else payload
                thrown.append(("message", definition.name, dict(data or {})))
            elif isinstance(definition, SignalEventDefinition):
                thrown.append(("signal", definition.name, dict(payload)))
        return thrown

    # -- internals ---------------------------------------------------------------------------

    def _task(self, task_ref: str) -> Any:
        try:
            return self._wf.get_task_from_id(UUID(task_ref))
        except (ValueError, KeyError):
            return None

    def _guarded(self, action: Callable[[], Any]) -> None:
        """Run an action; a failure inside the model becomes the run's incident."""
        try:
            action()
        except Exception as err:  # any failure of model code is an incident, by design
            failed = self._wf.get_tasks(state=TaskState.ERROR)
            task = failed[0] if failed else None
            element_id = task.task_spec.bpmn_id if task is not None else ""
            self.incident = Incident(element_id or "", str(task.id) if task else "", _describe(err))

    def _advance(self) -> None:
        """Run everything that needs no person until only waits remain.

        Camunda passes plain tasks and manual tasks straight through; Spiff marks them manual
        and leaves them READY, so they are run here.
        """
        while True:
            self._wf.do_engine_steps(will_complete_task=self._before, did_complete_task=self._after)
            passthrough = [
                t
                for t in self._wf.get_tasks(state=TaskState.READY, manual=True)
                if not isinstance(t.task_spec, UserTask)
            ]
            if not passthrough:
                return
            for task in passthrough:
                self._run_task(task)

    def _run_task(self, task: Any, data: Mapping[str, Any] | None = None) -> None:
        self._before(task)
        if data:
            task.data.update(copy.deepcopy(dict(data)))
        task.run()
        self._after(task)

    def _before(self, task: Any) -> None:
        scope = self._wf.data
        task.data.update(copy.deepcopy({k: v for k, v in scope.items() if k not in _INTERNAL_KEYS}))
        local = _evaluate_parameters(_extensions(task), "inputs", task.data)
        task.data.update(local)
        task.internal_data["flowdesk_before"] = _fingerprint(task.data)
        task.internal_data["flowdesk_local"] = sorted(local)

    def _after(self, task: Any) -> None:
        if task.state == TaskState.STARTED:
            return  # a call activity waiting for its instance: written back when that ends
        before = task.internal_data.pop("flowdesk_before", None)
        local = set(task.internal_data.pop("flowdesk_local", []))
        if before is None:
            return
        outputs = _evaluate_parameters(_extensions(task), "outputs", task.data)
        scope = self._wf.data
        if outputs or local:
            # Camunda: with an inputOutput mapping, input parameters stay local to the activity.
            changed = {
                k: v
                for k, v in task.data.items()
                if k not in local and _fingerprint_value(v) != before.get(k)
            }
        else:
            changed = {k: v for k, v in task.data.items() if _fingerprint_value(v) != before.get(k)}
        for key in before:
            if key not in task.data and key not in local and key in scope:
                del scope[key]
        changed.update(outputs)
        scope.update(copy.deepcopy({k: v for k, v in changed.items() if k not in _INTERNAL_KEYS}))
        # Input parameters are local: they must not flow on to the next tasks' copies.
        for holder in (task, *task.children):
            for key in local:
                holder.data.pop(key, None)
        spec = task.task_spec
        if getattr(spec, "bpmn_id", None):
            taken: tuple[str, ...] = ()
            if isinstance(spec, _GATEWAYS):
                taken = tuple(_taken_elements(task))
            self.log.completed.append(
                CompletedActivity(
                    spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, type(spec).__name__, taken
                )
            )

    def _task_view(self, task: Any) -> dict[str, Any]:
        variables = self.variables
        variables.update(_evaluate_parameters(_extensions(task), "inputs", variables))
        return variables


def _taken_elements(gateway: Any) -> list[str]:
    """The BPMN elements a gateway's token went to.

    A target with boundary events sits behind a Spiff-internal split task without a BPMN id.
    """
    taken = []
    for child in gateway.children:
        if not child.has_state(TaskState.DEFINITE_MASK | TaskState.FINISHED_MASK):
            continue
        if getattr(child.task_spec, "bpmn_id", None):
            taken.append(child.task_spec.bpmn_id)
        else:
            taken.extend(_taken_elements(child)[:1])
    return taken


def _extensions(task: Any) -> dict[str, Any]:
    return getattr(task.task_spec, "extensions", None) or {}


def _evaluate_parameters(
    extensions: Mapping[str, Any] | None, kind: str, variables: Mapping[str, Any]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in (extensions or {}).get(kind, []):
        context = {**variables, **result}
        if value is None:
            result[name] = None
        elif isinstance(value, str):
            result[name] = sandbox.evaluate_value(value, context)
        elif "list" in value:
            result[name] = [sandbox.evaluate_value(v, context) for v in value["list"]]
        elif "map" in value:
            result[name] = {k: sandbox.evaluate_value(v, context) for k, v in value["map"].items()}
        elif "script" in value:
            result[name] = sandbox.evaluate(value["script"], context)
    return result


def _fingerprint(data: Mapping[str, Any]) -> dict[str, str]:
    return {k: _fingerprint_value(v) for k, v in data.items()}


def _fingerprint_value(value: Any) -> str:
    # JSON text catches in-place changes (a list appended to) that an identity check misses.
    return json.dumps(value, sort_keys=True, default=repr)


def _timer_due(task: Any) -> datetime | None:
    details = task.task_spec.event_definition.details(task)
    value = details.value
    if isinstance(value, str):
        try:
            return timers.parse_due(value)
        except ValueError:
            return None
    return None


def _describe(err: BaseException) -> str:
    # Spiff 3.2's WorkflowTaskException keeps the original error only as __context__.
    cause = getattr(err, "exception", None) or err.__cause__ or err.__context__
    text = f"{type(err).__name__}: {err}"
    if cause is not None and str(cause) not in text:
        text += f" ({type(cause).__name__}: {cause})"
    return text
