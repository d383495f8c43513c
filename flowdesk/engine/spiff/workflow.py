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

import contextlib
import copy
import functools
from collections.abc import Callable, Container, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.simple import TerminateEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.util.task import TaskState

from flowdesk import handlers
from flowdesk.engine.languages import sandbox
from flowdesk.engine.languages import timer_texts as timers
from flowdesk.engine.spiff import (
    async_continuations,
    event_scopes,
    external_work,
    internals,
    listeners,
    multi_instance,
    pruning,
    triggers,
    workflow_cache,
)
from flowdesk.engine.spiff import waits as waiting
from flowdesk.engine.spiff.script_engine import FlowdeskScriptEngine
from flowdesk.engine.spiff.serializer import SERIALIZER_VERSION, InstanceSerializer
from flowdesk.engine.spiff.specs import (
    CALL_ABANDONED,
    CALL_REQUESTED,
    CALL_STATE,
    ErrorDefinition,
    EscalationDefinition,
    FlowdeskCallActivity,
    MessageDefinition,
    SignalDefinition,
)
from flowdesk.engine.spiff.task_data import (
    describe,
    evaluate_parameters,
    fingerprint,
    taken_elements,
    task_extensions,
    unchanged,
)
from flowdesk.engine.spiff.task_search import FlowdeskWorkflow
from flowdesk.engine.spiff.waits import WaitKind
from flowdesk.engine.spiff.workflow_records import CallRequest as CallRequest
from flowdesk.engine.spiff.workflow_records import (
    CompletedActivity,
    Incident,
    OpenUserTask,
    StepLog,
)
from flowdesk.engine.spiff.workflow_records import SpecBundle as SpecBundle
from flowdesk.errors import BpmnError, CorrelationError

_GATEWAYS = (ExclusiveGateway, InclusiveGateway)

# A user task's timeout listeners: listener id -> due (ISO text), None once fired.
_TIMEOUTS = "flowdesk_task_timeouts"
# A timeout listener's `timeCycle` schedule (`timer_texts.CycleState`), by listener id.
_TIMEOUT_CYCLES = "flowdesk_task_timeout_cycles"

# A waiting user task's input parameters as evaluated when it was entered (see _task_view).
_ENTRY_INPUTS = "flowdesk_entry_inputs"

# Marks a completed task whose end or take listeners have yet to succeed.
_AFTER_PENDING = "flowdesk_after_pending"

# Marks a user task that has an open row in the store (see `task_rows`).
_HAS_ROW = "flowdesk_row"

# Keys Spiff keeps in workflow.data for itself, never shown as process variables.
_INTERNAL_KEYS = frozenset({"data_objects"})


@functools.lru_cache(maxsize=4096)
def _task_id(task_ref: str) -> UUID:
    """The task id of a ref (its text): a step looks the same few tasks up by ref several
    times, and parsing a UUID costs more than the lookup."""
    return UUID(task_ref)


class WorkflowRun:
    """Drives one workflow: start it, complete its user tasks, deliver its events."""

    def __init__(self, workflow: Any, script_engine: FlowdeskScriptEngine) -> None:
        self._wf = workflow
        self._wf.script_engine = script_engine
        event_scopes.install(workflow)  # event sub-processes inside sub-processes start too
        self.script_engine = script_engine
        self.log = StepLog()
        self.incident: Incident | None = None
        self.retried = False

    # -- life cycle -------------------------------------------------------------------------

    @classmethod
    def new(
        cls, bundle: SpecBundle, variables: Mapping[str, Any], script_engine: FlowdeskScriptEngine
    ) -> WorkflowRun:
        workflow = FlowdeskWorkflow(
            bundle.spec, bundle.subprocess_specs, script_engine=script_engine
        )
        workflow.data.update(copy.deepcopy(dict(variables)))
        listeners.mark_new(workflow)
        return cls(workflow, script_engine)

    @classmethod
    def load(
        cls,
        state: str,
        stored_variables: Mapping[str, Any],
        bundle: SpecBundle,
        script_engine: FlowdeskScriptEngine,
    ) -> WorkflowRun:
        """The workflow of a stored state, with the variables column saved beside it (as
        stored): the state takes its long texts from there (see `serializer`)."""
        workflow = InstanceSerializer.load(
            state, bundle.spec, bundle.subprocess_specs, stored_variables
        )
        listeners.adopt(workflow)
        return cls(workflow, script_engine)

    @classmethod
    def resume(cls, workflow: Any, script_engine: FlowdeskScriptEngine) -> WorkflowRun:
        """Go on with a workflow kept from the call that saved it (`workflow_cache`), as if
        it had been loaded from that save."""
        workflow_cache.reset_event_registry(workflow)
        return cls(workflow, script_engine)

    @property
    def workflow(self) -> Any:
        """The Spiff workflow, for `workflow_cache` only (nothing else leaves the package)."""
        return self._wf

    def reusable(self) -> bool:
        """Whether the workflow, as it stands, equals what loading its dump would give."""
        return workflow_cache.round_trips(self._wf)

    def dump(self, variables: Mapping[str, Any]) -> str:
        """The workflow state as JSON, without its spec (the store keeps that per version).

        `variables` must be this run's `variables`, as the same save writes them to the
        variables column: the state leaves out the long texts that the column holds.
        """
        waiting.drop_spent_gateway_events(self._wf)
        return InstanceSerializer.dump(self._wf, variables)

    serializer_version = SERIALIZER_VERSION

    # -- actions ------------------------------------------------------------------------------

    def start(self, *, caught: str | None = None, begin_at: str | None = None) -> None:
        """Run from the start event to the first waits.

        Args:
            caught: The message or signal that starts this instance. A process may have
                several start events; only the one catching `caught` may start it (left to
                Spiff, a none start next to it would fire first and win the start join).
            begin_at: The id of the start event to begin at and run straight through,
                whatever it catches (Camunda's initial start event, see `start_events`).
        """
        if caught is not None:
            self._guarded(lambda: self._keep_start_event(caught))
        if begin_at is not None:
            self._guarded(lambda: self._begin_at(begin_at))
        self._guarded(self._advance)

    def _keep_start_event(self, caught: str) -> None:
        """Run up to the start events, then cancel those that do not catch `caught`."""
        for task in self._start_event_tasks():
            if getattr(task.task_spec.event_definition, "name", None) != caught:
                task.cancel()

    def _begin_at(self, element_id: str) -> None:
        """Run up to the start events, cancel the others and let this one go on at once."""
        for task in self._start_event_tasks():
            if task.task_spec.bpmn_id != element_id:
                task.cancel()
            elif task.state == TaskState.WAITING:
                # Its event (message, signal, condition) is not waited for: Camunda 7 runs
                # through an initial start event whatever it catches.
                internals.make_ready(task)

    def _start_event_tasks(self) -> list[Any]:
        """Run Spiff's own first tasks until the start events wait or are ready; those tasks."""
        waiting_states = TaskState.READY | TaskState.WAITING
        while not self._wf.get_tasks(spec_class=StartEvent, state=waiting_states):
            ready = self._wf.get_tasks(state=TaskState.READY)
            if not ready:
                return []
            for task in ready:  # Spiff's own Start and start-event split, nothing of the model
                task.run()
        return list(self._wf.get_tasks(spec_class=StartEvent, state=waiting_states))

    def complete_user_task(self, task_ref: str, data: Mapping[str, Any]) -> None:
        task = self._task(task_ref)
        if task is None or task.state != TaskState.READY:
            raise LookupError(task_ref)

        def act() -> None:
            self._run_task(task, data)
            self._advance()

        self._guarded(act)

    def fire_due_timer(self, task_ref: str, due_at: datetime) -> bool:
        """Fire the timer of a job due at `due_at`; returns whether it fired.

        It does not fire when its task no longer waits, or when the timer's own due time is
        later than the job says (a job written before the time changed): never early.
        """
        task = self._task(task_ref)
        if task is None or task.state != TaskState.WAITING:
            return False
        # Spiff fires when due < now (strictly); a job run at its due time must not wait.
        at = max(timers.now(), due_at + timedelta(microseconds=1))
        before = copy.deepcopy(task.internal_data)
        fired = False

        def act() -> None:
            nonlocal fired
            with timers.using_clock(lambda: at):
                internals.update(task)
                # A repeating cycle stays WAITING; it keeps its next time in the task's data.
                fired = task.state != TaskState.WAITING or task.internal_data != before
                if fired:
                    self._advance()

        self._guarded(act)
        return fired or self.incident is not None

    def release_async(self, task_ref: str) -> bool:
        """Run on from a task held for its async job; False if it waits for none any more."""
        task = self._task(task_ref)
        if task is None or not async_continuations.release(task):
            return False
        self._guarded(self._advance)
        return True

    def async_holds(self) -> list[async_continuations.AsyncHold]:
        """The tasks waiting for an async job (`camunda:asyncBefore` / `asyncAfter`)."""
        return async_continuations.holds(self._wf)

    def retry_cycle(self, task_ref: str) -> str | None:
        """The `camunda:failedJobRetryTimeCycle` of a task's element, if it has one."""
        task = self._task(task_ref)
        return None if task is None else task_extensions(task).get("retry_cycle")

    def deliver_message(self, name: str, variables: Mapping[str, Any]) -> bool:
        """Hand a message to the waiting catch event; False if none waits for it.

        Raises:
            CorrelationError: Several places of the instance wait for it (a catch event and an
                event sub-process, two sub-process instances, ...). Camunda 7 correlates a
                message to exactly one execution; Spiff would hand it to each.
        """
        waiting = [s for s in self.subscriptions() if s.kind == WaitKind.MESSAGE and s.name == name]
        if not waiting:
            return False
        if len(waiting) > 1:
            places = ", ".join(sorted(s.element_id for s in waiting))
            raise CorrelationError(
                name, f"{len(waiting)} places in the instance wait for it ({places})"
            )
        event = BpmnEvent(
            MessageDefinition(name),
            payload={"payload": copy.deepcopy(dict(variables)), "result_var": None},
        )
        self._guarded(lambda: self._catch(event))
        return True

    def deliver_signal(self, name: str, variables: Mapping[str, Any]) -> bool:
        """Hand a signal to every catch event waiting for it; False if none waits."""
        if not any(s.kind == WaitKind.SIGNAL and s.name == name for s in self.subscriptions()):
            return False
        event = BpmnEvent(SignalDefinition(name), payload=copy.deepcopy(dict(variables)))
        self._guarded(lambda: self._catch(event))
        return True

    def trigger(self, element_id: str, variables: Mapping[str, Any]) -> bool:
        """End the wait of one receive task of `element_id` that waits for a trigger.

        `variables` go to the process scope first, as Camunda's `signal(executionId, vars)`
        sets them. Returns False if no task of that element waits for a trigger.
        """
        waiting = triggers.waiting_tasks(self._wf, element_id)
        if not waiting:
            return False
        task = waiting[0]

        def act() -> None:
            self._wf.data.update(copy.deepcopy(dict(variables)))
            triggers.fire(task)
            self._advance()

        self._guarded(act)
        return True

    def set_variables(self, variables: Mapping[str, Any]) -> None:
        """Set process variables from outside (Camunda's `RuntimeService.setVariables`).

        The steps run on afterwards, as after every step: a conditional event whose condition
        now holds goes on, as Camunda evaluates conditions when a variable is set.
        """

        def act() -> None:
            self._wf.data.update(copy.deepcopy(dict(variables)))
            self._advance()

        self._guarded(act)

    def _catch(self, event: Any) -> None:
        # internal=False: an event from outside that nothing catches is not thrown on again.
        self._wf.event_manager.catch(event, internal=False)
        self._advance()

    def retry(self) -> None:
        """Run the failed task again, then carry on."""
        self.incident = None
        self.retried = True  # failed jobs get their retries back (WaitRows.sync_jobs)

        def act() -> None:
            for task in self._wf.get_tasks(state=TaskState.COMPLETED):
                if task.internal_data.get(_AFTER_PENDING):  # an end or take listener failed
                    with contextlib.suppress(listeners.Diverted):
                        self._after(task)
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
            try:
                self._before(task)
                task.data.update(copy.deepcopy(dict(variables)))
                task.complete()
                self._after(task)
            except listeners.Diverted:
                pass  # an end or take listener's BPMN error: go on from its catcher
            self._advance()

        self._guarded(act)
        return True

    def throw_from_call(
        self,
        task_ref: str,
        kind: str,
        code: str,
        data: Mapping[str, Any],
        variables: Mapping[str, Any],
    ) -> bool:
        """Throw a BPMN error or escalation its called instance did not catch at a call activity.

        `variables` (from the call activity's `camunda:out` mappings) land in the scope first,
        as Camunda propagates them while the event passes. Returns False if the call activity
        no longer waits. Uncaught here too, the event is only recorded (and goes on to this
        instance's own caller): the called instance already ended that path.
        """
        task = self._task(task_ref)
        if task is None or task.state != TaskState.STARTED:
            return False
        kinds = {"error": ErrorDefinition, "escalation": EscalationDefinition}

        def act() -> None:
            self._wf.data.update(copy.deepcopy(dict(variables)))
            definition = kinds[kind](code, code)
            event = BpmnEvent(definition, dict(data), target=task.workflow)
            event_scopes.throw_from(task, event)  # the call activity's boundaries may catch it
            self._advance()

        self._guarded(act)
        return True

    # -- external tasks (see `external_work`) ---------------------------------------------------

    def external_requests(self) -> list[external_work.ExternalRequest]:
        """The activities waiting for an external worker."""
        return external_work.requests(self._wf)

    def external_variables(
        self, task_ref: str, names: tuple[str, ...] | None, *, local_only: bool
    ) -> dict[str, Any] | None:
        """The variables a worker fetching this external task gets; None if it no longer waits."""
        task = self._task(task_ref)
        if not external_work.waiting(task):
            return None
        return external_work.variables_of(task, self.variables, names, local_only=local_only)

    def complete_external(
        self, task_ref: str, variables: Mapping[str, Any], local_variables: Mapping[str, Any]
    ) -> bool:
        """Complete an external task and run on; False if it no longer waits.

        `variables` are set as Camunda's `execution.setVariables` sets them: an input
        parameter of the same name takes the value, anything else reaches the process scope.
        `local_variables` stay the activity's: its output parameters and end listeners see
        them, the process does not.
        """
        task = self._task(task_ref)
        if not external_work.waiting(task):
            return False

        def act() -> None:
            external_work.finish(task)
            local = list(task.internal_data.get("flowdesk_local", []))
            kept = {k: task.data[k] for k in local if k in task.data}
            task.data.update(copy.deepcopy(self.variables))  # the scope as it is now
            task.data.update(multi_instance.local_variables(task))
            task.data.update(kept)
            task.internal_data["flowdesk_before"] = fingerprint(task.data)
            task.data.update(copy.deepcopy(dict(variables)))
            task.data.update(copy.deepcopy(dict(local_variables)))
            task.internal_data["flowdesk_local"] = sorted(set(local) | set(local_variables))
            try:
                task.complete()
                self._after(task)
            except listeners.Diverted:
                pass  # an end or take listener's BPMN error: go on from its catcher
            self._advance()

        self._guarded(act)
        return True

    def throw_external_error(
        self, task_ref: str, code: str, message: str | None, variables: Mapping[str, Any]
    ) -> bool:
        """Throw a worker's BPMN error from its external task; False if it no longer waits.

        The variables are set first, then the error is thrown as a handler's `BpmnError`
        would be: a boundary event or event sub-process that catches it cancels the task;
        uncaught, the task's path ends there (see `FlowdeskScriptEngine.throw_bpmn_error`).
        """
        task = self._task(task_ref)
        if not external_work.waiting(task):
            return False

        def act() -> None:
            external_work.finish(task)
            self._wf.data.update(copy.deepcopy(dict(variables)))
            error = BpmnError(code, message or "")
            if not FlowdeskScriptEngine.throw_bpmn_error(task, error):
                try:  # uncaught: the task completes, its path ends (END_PATH)
                    task.complete()
                    self._after(task)
                except listeners.Diverted:
                    pass
            self._advance()

        self._guarded(act)
        return True

    def call_extensions(self, task_ref: str) -> dict[str, Any]:
        """The Camunda settings of a call activity task (its `camunda:out` mappings)."""
        return task_extensions(self._task(task_ref))

    def mark_call_started(self, task_ref: str, instance_id: str) -> None:
        self._task(task_ref).internal_data[CALL_STATE] = instance_id

    def call_requests(self) -> list[CallRequest]:
        """Call activities that want their instance started."""
        return [
            CallRequest(
                task_ref=str(task.id),
                element_id=task.task_spec.bpmn_id,
                called_element=task.task_spec.called_element,
                extensions=task_extensions(task),
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

    def awaits_user(self, task_ref: str) -> bool:
        """Whether this user task still waits to be completed."""
        task = self._task(task_ref)
        return task is not None and task.state == TaskState.READY

    def task_rows(self) -> list[tuple[int, str, str]] | None:
        """The user tasks marked as having an open row (`mark_task_row`): (order, task ref,
        element id) each, sorted. None when the workflow comes from a state saved before
        tasks were marked."""
        if not self._wf.marks_task_rows:
            return None
        top = self._wf
        marked = [
            (task.internal_data[_HAS_ROW], str(task.id), task.task_spec.bpmn_id)
            for workflow in (top, *top.subprocesses.values())
            for task in workflow.tasks.values()
            if _HAS_ROW in task.internal_data
        ]
        marked.sort()
        return marked

    def mark_task_row(self, task_ref: str, order: int) -> None:
        """Mark a user task as having an open row; `order` places it among the others (the
        row's creation time, say). The mark is saved with the workflow in the transaction
        that writes the row, so the two cannot disagree."""
        task = self._task(task_ref)
        if task is not None:
            task.internal_data[_HAS_ROW] = order

    def unmark_task_row(self, task_ref: str) -> None:
        """The user task's row was closed (see `mark_task_row`)."""
        task = self._task(task_ref)
        if task is not None:  # else it is gone from the workflow, and its mark with it
            task.internal_data.pop(_HAS_ROW, None)

    def marks_all_task_rows(self) -> None:
        """Every task with an open row is now marked (see `task_rows`)."""
        self._wf.marks_task_rows = True

    def open_user_tasks(self, known: Container[str]) -> tuple[set[str], list[OpenUserTask]]:
        """The refs of every open user task, and a view of each one not in `known`.

        A known task's view is not built: its variables and input parameters were evaluated
        when it was entered, and evaluating them again at each save would run their scripts
        again.
        """
        refs: set[str] = set()
        views: list[OpenUserTask] = []
        for task in self._wf.get_tasks(state=TaskState.READY, manual=True):
            if not isinstance(task.task_spec, UserTask):
                continue
            ref = str(task.id)
            refs.add(ref)
            if ref in known:
                continue
            views.append(
                OpenUserTask(
                    task_ref=ref,
                    element_id=task.task_spec.bpmn_id,
                    name=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
                    documentation=task.task_spec.documentation or "",
                    extensions=task_extensions(task),
                    variables=self._task_view(task),
                    instance_locals=frozenset(multi_instance.local_variables(task)),
                )
            )
        return refs, views

    def waits(self) -> list[waiting.Wait]:
        """Every timer (with its due time), message and signal the instance waits for."""
        return waiting.waits(self._wf)

    def subscriptions(self) -> list[waiting.Subscription]:
        """The messages and signals the instance waits for, event sub-process starts included."""
        return waiting.subscriptions(self._wf)

    def thrown_events(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Events thrown for the world outside the instance: (kind, name, data).

        Messages that nothing in the instance caught, every signal (a broadcast also reaches
        other instances), and errors and escalations that no boundary event or event
        sub-process caught (for the history; the path ended there).
        """
        thrown = []
        for event in self._wf.get_events():
            definition = event.event_definition
            payload = event.payload if isinstance(event.payload, dict) else {}
            if isinstance(definition, MessageEventDefinition):
                data = payload.get("payload") if "payload" in payload else payload
                if data is not None and not isinstance(data, Mapping):
                    data = {"payload": data}  # a camunda:expression that is not a map
                thrown.append(("message", definition.name, dict(data or {})))
            elif isinstance(definition, SignalEventDefinition):
                thrown.append(("signal", definition.name, dict(payload)))
            elif isinstance(definition, ErrorEventDefinition | EscalationEventDefinition):
                kind = "error" if isinstance(definition, ErrorEventDefinition) else "escalation"
                data = {"code": definition.code, "message": payload.get("message")}
                thrown.append((kind, definition.code or definition.name or "", data))
        return thrown

    @property
    def terminated_by(self) -> str | None:
        """The terminate end event of the top-level process the instance ended at, if any."""
        if not self.is_completed:
            return None
        for task in self._wf.tasks.values():
            definition = getattr(task.task_spec, "event_definition", None)
            if task.state == TaskState.COMPLETED and isinstance(
                definition, TerminateEventDefinition
            ):
                return str(task.task_spec.bpmn_id)
        return None

    # -- internals ---------------------------------------------------------------------------

    def _task(self, task_ref: str) -> Any:
        try:
            task_id = _task_id(task_ref)
        except ValueError:
            return None
        # The top workflow's own tasks first: one lookup, where Spiff's makes three.
        task = self._wf.tasks.get(task_id)
        if task is not None:
            return task
        try:
            return self._wf.get_task_from_id(task_id)
        except (KeyError, TaskNotFoundException):
            return None

    def _guarded(self, action: Callable[[], Any]) -> None:
        """Run an action; a failure inside the model becomes the run's incident."""
        try:
            action()
        except Exception as err:  # any failure of model code is an incident, by design
            failed = self._wf.get_tasks(state=TaskState.ERROR)
            task = failed[0] if failed else None
            # An activity split (see `activity_splits`) reports the element it leaves.
            spec = task.task_spec if task is not None else None
            element_id = getattr(spec, "bpmn_id", None) or getattr(spec, "activity_id", "")
            if task is None and isinstance(err, listeners.ListenerFailure):
                element_id = err.element_id
            self.incident = Incident(element_id or "", str(task.id) if task else "", describe(err))

    def _advance(self) -> None:
        """Run everything that needs no person until only waits remain.

        Camunda passes plain tasks and manual tasks straight through; Spiff marks them manual
        and leaves them READY, so they are run here. Spiff's steps end by refreshing timers,
        which makes the ones due by then READY without running them; those run here too (left
        READY, such a timer has no job any more, and its path would wait for the next call).
        """
        listeners.process_started(self._wf)
        due_before: set[Any] = set()
        while True:
            # Pruned between passes: finished work would slow every step and stop loops at
            # Spiff's iterator depth (see pruning).
            try:
                pruning.do_engine_steps(self._wf, self._before, self._after)
            except async_continuations.Held as held:
                async_continuations.hold(held.task)  # the rest waits for its async job
                continue
            except listeners.Diverted:
                continue  # a listener's BPMN error: the steps go on from its catcher
            if event_scopes.settle(self._wf, self.variables):
                continue
            due = {t.id for t in self._wf.get_tasks(state=TaskState.READY, manual=False)}
            if due and due != due_before:  # the guard: stop if the steps cannot run them
                due_before = due
                continue
            passthrough = [
                t
                for t in self._wf.get_tasks(state=TaskState.READY, manual=True)
                if not isinstance(t.task_spec, UserTask)
            ]
            if not passthrough:
                async_continuations.hold_user_tasks(self._wf)
                # A user task is entered when it becomes ready: its start listeners run before
                # the engine writes its row (assignee expressions see what they set).
                try:
                    listeners.start_ready_user_tasks(self._wf, self._task_view)
                except listeners.Diverted:
                    continue
                listeners.process_ended(self._wf)
                return
            for task in passthrough:
                try:
                    self._run_task(task)
                except async_continuations.Held as held:
                    async_continuations.hold(held.task)

    def _run_task(self, task: Any, data: Mapping[str, Any] | None = None) -> None:
        try:
            self._before(task)
            if data:
                task.data.update(copy.deepcopy(dict(data)))
            task.run()
            self._after(task)
        except listeners.Diverted:
            return  # a listener's BPMN error took the token elsewhere (or ended its path)

    def _before(self, task: Any) -> None:
        async_continuations.check(task)  # raises Held at an async point not yet released
        listeners.subprocesses_entered(task)
        scope = self._wf.data
        task.data.update(copy.deepcopy({k: v for k, v in scope.items() if k not in _INTERNAL_KEYS}))
        # Camunda's loopCounter, element variable and nrOf* counters: local to the instance.
        instance_locals = multi_instance.local_variables(task)
        task.data.update(instance_locals)
        # A parameter script's execution.setVariable writes the enclosing scope, as in Camunda.
        writes: dict[str, Any] = {}
        entered = task.internal_data.pop(_ENTRY_INPUTS, None)  # a user task's, see _task_view
        if entered is not None:
            local = entered
        else:
            local = evaluate_parameters(
                task_extensions(task),
                "inputs",
                task.data,
                task=task,
                writes=writes,
            )
        scope.update(copy.deepcopy(writes))
        task.data.update(writes)
        task.data.update(local)
        # Camunda: start listeners after the input parameters, before the behaviour.
        listeners.activity_started(task, local, task.data)
        task.internal_data["flowdesk_before"] = fingerprint(task.data)
        task.internal_data["flowdesk_local"] = sorted(local)
        task.internal_data["flowdesk_instance_locals"] = sorted(instance_locals)

    def _after(self, task: Any) -> None:
        if task.state == TaskState.STARTED:
            return  # a call activity waiting for its instance: written back when that ends
        event_scopes.interrupt(task)
        async_continuations.completed(task)  # asyncAfter: what follows waits for a job
        completed = task.state == TaskState.COMPLETED
        diverted = False
        if completed:
            # Camunda: end listeners before the output parameters, take listeners after them.
            # One that fails leaves the rest of this method to `retry` (`_AFTER_PENDING`).
            task.internal_data[_AFTER_PENDING] = True
            try:
                listeners.activity_ended(task, task.internal_data.get("flowdesk_local", []))
            except listeners.Diverted:
                # A BPMN error: what the element set stays; no output parameters, no flow.
                diverted = True
        before = task.internal_data.pop("flowdesk_before", None)
        local = set(task.internal_data.pop("flowdesk_local", []))
        instance_locals = set(task.internal_data.pop("flowdesk_instance_locals", []))
        if before is None:
            if completed:
                task.internal_data.pop(_AFTER_PENDING, None)
                if diverted:
                    raise listeners.Diverted
                listeners.flows_taken(task)
            return
        writes: dict[str, Any] = {}
        outputs = (
            {}
            if diverted
            else evaluate_parameters(
                task_extensions(task),
                "outputs",
                task.data,
                task=task,
                writes=writes,
            )
        )
        task.data.update(writes)
        scope = self._wf.data
        if outputs or local:
            # Camunda: with an inputOutput mapping, input parameters stay local to the activity.
            changed = {
                k: v
                for k, v in task.data.items()
                if k not in local and not unchanged(v, before.get(k))
            }
        else:
            changed = {k: v for k, v in task.data.items() if not unchanged(v, before.get(k))}
        for key in before:
            if key not in task.data and key not in local | instance_locals and key in scope:
                del scope[key]
        # A changed element variable or loopCounter stays in its instance, as setVariable
        # would keep it in the nearest scope that has it; the counters are read-only.
        for key in instance_locals.intersection(changed):
            multi_instance.set_local(task, key, changed.pop(key))
        changed.update(outputs)
        changed = {k: v for k, v in changed.items() if k not in _INTERNAL_KEYS}
        scope.update(copy.deepcopy(changed))
        multi_instance.record_writes(task, changed)
        # Input parameters are local: they must not flow on to the next tasks' copies.
        for holder in (task, *task.children):
            for key in local:
                holder.data.pop(key, None)
        spec = task.task_spec
        if getattr(spec, "bpmn_id", None):
            taken: tuple[str, ...] = ()
            if isinstance(spec, _GATEWAYS):
                taken = tuple(taken_elements(task))
            decision = None
            variable = getattr(spec, "result_variable", None)
            if getattr(spec, "decision", None) is not None and variable:  # a business rule task
                decision = (spec.decision.decision_id, variable, task.data.get(variable))
            name = spec.bpmn_name or spec.bpmn_id
            self.log.completed.append(
                CompletedActivity(spec.bpmn_id, name, type(spec).__name__, taken, decision)
            )
        if completed:
            task.internal_data.pop(_AFTER_PENDING, None)
            if diverted:
                raise listeners.Diverted
            listeners.flows_taken(task)

    def fire_task_listeners(
        self,
        element_id: str,
        task_ref: str,
        event: str,
        view: handlers.ListenerTask,
        *,
        user: str | None = None,
        overlay: dict[str, Any] | None = None,
        may_throw: bool = False,
    ) -> None:
        """Run a user task's task listeners of `event` (see `listeners`).

        `overlay` is the completion data of a `complete`: the listeners see it, and what they
        set goes into it too, so it is what the task completes with.

        Raises:
            ListenerFailure: A listener failed or has no handler (or, unless `may_throw`,
                threw a BPMN error).
            ListenerBpmnError: With `may_throw`, a listener threw a BPMN error; the caller
                throws it with `divert_user_task`.
        """
        task = self._task(task_ref)
        spec = task.task_spec if task is not None else self._spec_of(element_id)
        found = [x for x in listeners.listeners_of(spec, "task_listeners") if x["event"] == event]
        if not found:
            return
        live = task is not None and not task.has_state(TaskState.FINISHED_MASK)
        variables = self._task_view(task) if live else self.variables
        variables.update(overlay or {})
        scope = self._wf.data

        def write(name: str, value: Any) -> None:
            scope[name] = copy.deepcopy(value)
            if overlay is not None:
                overlay[name] = value

        try:
            listeners.run(
                self.script_engine,
                found,
                event=event,
                element_id=element_id,
                variables=variables,
                write=write,
                task=view,
                user=user,
            )
        except listeners.ListenerBpmnError as thrown:
            if may_throw:
                raise
            raise thrown.failure from thrown.error

    def schedule_task_timeouts(
        self, task_ref: str, variables: Mapping[str, Any], now: datetime
    ) -> None:
        """When a user task is created: when each of its timeout listeners is due.

        Raises:
            ExpressionError, ValueError: A timer text does not give a date or a duration.
        """
        task = self._task(task_ref)
        found = [
            x
            for x in listeners.listeners_of(task.task_spec, "task_listeners")
            if x["event"] == "timeout"
        ]
        due: dict[str, str | None] = {}
        cycles: dict[str, dict[str, Any]] = {}
        for listener in found:
            kind, text = listener["timer"]
            value = sandbox.evaluate_value(text, variables)
            if kind == "timeDuration":
                due[listener["id"]] = timers.after_duration(now, str(value)).isoformat()
            elif kind == "timeCycle":
                cycle = timers.first_cycle(str(value), now)
                due[listener["id"]], cycles[listener["id"]] = cycle["next"], dict(cycle)
            else:
                due[listener["id"]] = timers.due_text(value)
        if due:
            task.internal_data[_TIMEOUTS] = due
        if cycles:
            task.internal_data[_TIMEOUT_CYCLES] = cycles

    def task_timeouts(self) -> list[tuple[str, str, str, datetime]]:
        """(task ref, element id, listener id, due) of each timeout listener still to fire."""
        found = []
        for task in self._wf.get_tasks(state=TaskState.READY, manual=True):
            for listener_id, due in (task.internal_data.get(_TIMEOUTS) or {}).items():
                if due is not None:
                    found.append(
                        (str(task.id), task.task_spec.bpmn_id, listener_id, timers.parse_due(due))
                    )
        return found

    def fire_task_timeout(
        self, task_ref: str, listener_id: str, view: handlers.ListenerTask
    ) -> bool:
        """Run a user task's due timeout listener; the task stays open. A `timeCycle` listener
        is due again at its next time while repetitions are left. False if the task no longer
        waits or the listener is not due any more.

        Raises:
            ListenerFailure: The listener failed or has no handler.
        """
        task = self._task(task_ref)
        if task is None or task.state != TaskState.READY:
            return False
        timeouts = task.internal_data.get(_TIMEOUTS) or {}
        if timeouts.get(listener_id) is None:
            return False
        found = [
            x
            for x in listeners.listeners_of(task.task_spec, "task_listeners")
            if x["event"] == "timeout" and x.get("id") == listener_id
        ]
        scope = self._wf.data

        def write(name: str, value: Any) -> None:
            scope[name] = copy.deepcopy(value)

        try:
            listeners.run(
                self.script_engine,
                found,
                event="timeout",
                element_id=task.task_spec.bpmn_id,
                variables=self._task_view(task),
                write=write,
                task=view,
            )
        except listeners.ListenerBpmnError as thrown:
            raise thrown.failure from thrown.error
        cycles = task.internal_data.get(_TIMEOUT_CYCLES) or {}
        if listener_id in cycles:  # a timeCycle fires again, as long as repetitions are left
            cycle = timers.next_cycle(timers.cycle_state(cycles[listener_id]), timers.now())
            cycles[listener_id] = dict(cycle)
            timeouts[listener_id] = cycle["next"]
        else:
            timeouts[listener_id] = None
        return True

    def divert_user_task(self, task_ref: str, error: BpmnError) -> None:
        """Throw a task listener's BPMN error from its user task and run on from the catcher
        (uncaught, the task's path ends), as Camunda 7 does."""
        task = self._task(task_ref)

        def act() -> None:
            listeners.divert(task, error, completed=False)
            self._advance()

        self._guarded(act)

    def end_cancelled_user_task(self, element_id: str, task_ref: str) -> None:
        """Run the end listeners of a user task that was cancelled (after its `delete` task
        listeners), as Camunda ends an interrupted activity.

        Raises:
            ListenerFailure: A listener failed or has no handler.
        """
        task = self._task(task_ref)
        spec = task.task_spec if task is not None else self._spec_of(element_id)
        found = [
            x for x in listeners.listeners_of(spec, "execution_listeners") if x["event"] == "end"
        ]
        if not found:
            return
        scope = self._wf.data

        def write(name: str, value: Any) -> None:
            scope[name] = copy.deepcopy(value)

        listeners.run(
            self.script_engine,
            found,
            event="end",
            element_id=element_id,
            variables=self.variables,
            write=write,
        )

    def _spec_of(self, element_id: str) -> Any:
        """The user task spec of an element (a multi-instance one has a body spec too)."""
        found = None
        for spec in (self._wf.spec, *self._wf.subprocess_specs.values()):
            for task_spec in spec.task_specs.values():
                if getattr(task_spec, "bpmn_id", None) == element_id:
                    found = task_spec
                    if isinstance(task_spec, UserTask):
                        return task_spec
        return found

    def _task_view(self, task: Any) -> dict[str, Any]:
        """What a waiting user task sees: the instance's variables and its own locals.

        Its input parameters are evaluated once, the first time it is seen (when it is
        entered, as Camunda evaluates them), and kept with the task; `_before` takes them when
        the task completes. A parameter script's `execution.setVariable` writes the enclosing
        scope then, once.
        """
        variables = self.variables
        variables.update(multi_instance.local_variables(task))
        local = task.internal_data.get(_ENTRY_INPUTS)
        if local is None:
            writes: dict[str, Any] = {}
            local = evaluate_parameters(
                task_extensions(task),
                "inputs",
                variables,
                task=task,
                writes=writes,
            )
            self._wf.data.update(copy.deepcopy(writes))
            variables.update(writes)
            if local:  # without input parameters there is nothing to keep
                task.internal_data[_ENTRY_INPUTS] = copy.deepcopy(local)
        variables.update(copy.deepcopy(local))
        return variables
