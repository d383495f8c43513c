"""One process instance inside one unit of work: load, act, then save everything it implies.

Saving is where the workflow's state meets the store's rows: the user tasks that appeared get
a row (with assignee and candidates evaluated, and the handler's `on_create` applied), the ones
that disappeared are cancelled, every waiting timer has a job row and every waiting message or
signal a subscription, the history gets what happened, and the instance row is written with an
optimistic-lock check. Handlers that complete tasks at once (simulations, consoles) run here
too, so a single call settles the instance at its next real wait.

An `Execution` holds its rows' parts, each built with what it reads and writes:
`UserTaskRows` (task_rows), `WaitRows` (wait_rows: jobs and subscriptions), `ExternalTaskRows`
(external_task_rows) and the `HistoryRecorder` they record into. Other instances its save
touches (called instances, callers, receivers of what it threw) are not saved from here: the
save yields them to `saving.run`, which saves them in turn, and thrown messages and signals go
to a `ThrownDelivery` (`correlation.THROWN`), so this module imports neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

from flowdesk._records import HistoryEventType
from flowdesk.engine.instances import calls, variable_types
from flowdesk.engine.instances.context import EngineContext as EngineContext
from flowdesk.engine.instances.external_task_rows import ExternalTaskRows
from flowdesk.engine.instances.history_recorder import HistoryRecorder, jsonable
from flowdesk.engine.instances.task_rows import EXCLUDED_USERS as EXCLUDED_USERS
from flowdesk.engine.instances.task_rows import UserTaskRows, reserved_names
from flowdesk.engine.instances.task_rows import task_record as task_record
from flowdesk.engine.instances.wait_rows import WaitRows
from flowdesk.engine.spiff import start_events
from flowdesk.engine.spiff.script_engine import CallScope, FlowdeskScriptEngine
from flowdesk.engine.spiff.workflow import WorkflowRun
from flowdesk.engine.spiff.workflow_records import CallRequest, Incident
from flowdesk.errors import ExpressionError, InstanceStateError, NotFound
from flowdesk.store import (
    DefinitionRow,
    InstanceRow,
    InstanceState,
    TaskState,
    UnitOfWork,
    UserTaskRow,
)

_T = TypeVar("_T")


class Execution:
    """A loaded instance; save it with `saving.save` once the action is done.

    Its rows are kept by three parts: `user_tasks` (`task_rows.UserTaskRows`), `waits`
    (`wait_rows.WaitRows`: jobs and subscriptions) and `external_tasks`
    (`external_task_rows.ExternalTaskRows`); `history` holds the history events recorded and
    not yet written. `save_steps` runs the save and yields, rather than saves, every other
    instance the save touches (see `saving`).
    """

    def __init__(
        self,
        ctx: EngineContext,
        uow: UnitOfWork,
        row: InstanceRow,
        definition: DefinitionRow,
        run: WorkflowRun,
        *,
        is_new: bool,
    ) -> None:
        self.ctx = ctx
        self.uow = uow
        self.row = row
        self.definition = definition
        self.run = run
        self._is_new = is_new
        # History waits here and goes in one INSERT per save (see `HistoryRecorder.write`).
        self.history = HistoryRecorder(ctx, uow, row.id)
        self.user_tasks = UserTaskRows(ctx, uow, row, run, self.history)
        self.waits = WaitRows(ctx, uow, row, definition, run, is_new=is_new)
        self.external_tasks = ExternalTaskRows(
            ctx, uow, row, definition, run, self.history, is_new=is_new
        )
        # The caller's execution when this instance was started by a call activity in the same
        # unit of work; what its called instances reported meanwhile, in order: the call
        # activity task, the variables its `camunda:out` mappings give, and the error or
        # escalation (kind, code, data) a called instance threw, or None when it ended.
        self.parent: Execution | None = None
        # Who made the engine call this execution runs in (Camunda's authenticated user): an
        # instance a call activity starts now gets it as its `camunda:initiator`.
        self.acting_user: str | None = None
        self._ended_calls: list[tuple[str, dict[str, Any], _Raised | None]] = []

    @classmethod
    def start(
        cls,
        ctx: EngineContext,
        uow: UnitOfWork,
        definition: DefinitionRow,
        variables: Mapping[str, Any],
        *,
        business_key: str | None,
        user: str | None,
        parent: tuple[Execution, str] | None = None,
        caught: str | None = None,
        begin_at: str | None = None,
    ) -> Execution:
        """Start an instance; `parent` is the calling execution and its call activity task,
        `caught` the message or signal that starts it, `begin_at` the start event to run
        straight through (see `WorkflowRun.start`)."""
        instance_id = str(uuid.uuid4())
        now = ctx.now()
        bundle = ctx.specs.bundle(uow, definition)
        variables = start_events.with_initiator(bundle.spec, variables, user)
        row = InstanceRow(
            id=instance_id,
            definition_id=definition.id,
            process_key=definition.key,
            version=definition.version,
            business_key=business_key,
            state=InstanceState.RUNNING.value,
            variables=variable_types.encode(variables),
            workflow_state=None,
            serializer_version=WorkflowRun.serializer_version,
            lock_version=0,
            started_at=now,
            parent_instance_id=parent[0].row.id if parent else None,
            parent_task_ref=parent[1] if parent else None,
        )
        run = WorkflowRun.new(bundle, variables, _script_engine(ctx, row))
        execution = cls(ctx, uow, row, definition, run, is_new=True)
        execution.parent = parent[0] if parent else None
        execution.acting_user = user
        uow.instances.add(row)
        started: dict[str, Any] = {"business_key": business_key}
        if parent:
            started["called_by"] = parent[0].row.id
        execution.history.record(HistoryEventType.INSTANCE_STARTED, user=user, data=started)
        run.start(caught=caught, begin_at=begin_at)
        return execution

    @classmethod
    def open(
        cls,
        ctx: EngineContext,
        uow: UnitOfWork,
        instance_id: str,
        *,
        summary: InstanceRow | None = None,
    ) -> Execution:
        """Load an instance. `summary` is its row as this unit of work read it without the
        serialized workflow (see `UserTaskRepository.get_with_instance_for_update`): the
        workflow is then read only if the engine does not hold it already."""
        kept = None
        if summary is not None:
            kept = ctx.workflows.take(summary.id, summary.lock_version)
        if summary is not None and kept is not None:
            row = summary
        else:
            row = uow.instances.get(instance_id)
            if row.workflow_state is None:
                raise InstanceStateError(instance_id, row.state, "it has no stored workflow state")
            kept = ctx.workflows.take(row.id, row.lock_version)
        definition = ctx.specs.definition(uow, row.definition_id)
        script_engine = _script_engine(ctx, row)
        if kept is not None:  # what the last call saved, and nobody saved since
            run = WorkflowRun.resume(kept, script_engine)
        else:
            assert row.workflow_state is not None  # a row read in full, checked above
            bundle = ctx.specs.bundle(uow, definition)
            run = WorkflowRun.load(row.workflow_state, row.variables, bundle, script_engine)
        return cls(ctx, uow, row, definition, run, is_new=False)

    def complete_task(self, task: UserTaskRow, data: Mapping[str, Any], user: str | None) -> bool:
        """Complete a user task as `user` (see `UserTaskRows.complete`); False if a complete
        listener threw a BPMN error instead."""
        self.acting_user = user
        return self.user_tasks.complete(task, data, user)

    def save_steps(self, deliver: ThrownDelivery) -> SaveSteps[InstanceRow]:
        """Write back tasks, jobs, subscriptions, history and the instance row.

        A generator, run by `saving.run`: it yields each other instance that must be saved
        before this save goes on (an instance a call activity started, a caller a called
        instance reports to, a receiver of a thrown message or signal) and gets its saved row
        back. `deliver` takes the messages and signals this instance threw (`correlation`).
        Returns the saved instance row.
        """
        if not self._is_new and self.ctx.store.dialect != "sqlite":
            # SQLite: the unit of work began with the write lock (`BEGIN IMMEDIATE`) and holds
            # it to the end, so nobody saved the row since it was read in it; the lock-version
            # check of the final UPDATE (`_save_row`) stays.
            self._take_row()
        run = self.run
        while True:
            self._record_completed_activities()
            created = self.user_tasks.sync()
            if self.user_tasks.auto_complete(created):
                self.acting_user = None  # completed by a handler, not by the caller's user
                continue
            if run.incident is None:
                requests = run.call_requests()
                if requests and (yield from self._start_calls(requests)):
                    continue
            if not self._finish_calls():
                break
        self._record_completed_activities()
        self._end_abandoned_calls()
        self.waits.sync_jobs()
        self.external_tasks.sync()
        self.waits.sync_subscriptions()
        thrown = run.thrown_events()
        row = self._save_row()
        if row.parent_instance_id:
            raised = [(kind, name, data) for kind, name, data in thrown if kind in _RAISED]
            if row.state in _ENDED or raised:
                caller = self._report_to_caller(row, raised)
                if caller is not None:  # the caller is not saving right now: save it here
                    yield caller
        if thrown:
            yield from self._deliver_thrown(thrown, deliver)
        self._write_documents()
        self.history.write()
        self._keep_workflow(row)
        return row

    def _keep_workflow(self, row: InstanceRow) -> None:
        """Once committed, the next call on this instance may take the workflow as saved
        (see `workflow_cache`); a call that rolls back keeps nothing."""
        if row.state in _ENDED or not self.run.reusable():
            return
        workflows, workflow = self.ctx.workflows, self.run.workflow
        self.uow.after_commit(lambda: workflows.keep(row.id, row.lock_version, workflow))

    def _write_documents(self) -> None:
        """Store the documents service handlers attached during this call."""
        script_engine = self.run.script_engine
        for element_id, draft in script_engine.documents:
            self.uow.documents.add(
                instance_id=self.row.id,
                element_id=element_id,
                name=draft.name,
                media_type=draft.media_type,
                content=draft.content,
                created_at=self.ctx.now(),
            )
            self.history.record(
                HistoryEventType.DOCUMENT_CREATED,
                element_id=element_id,
                data={"name": draft.name, "media_type": draft.media_type},
            )
        script_engine.documents.clear()

    def _take_row(self) -> None:
        """Check the lock version before writing anything from the loaded workflow state.

        A step another caller saved since the load is a `ConcurrencyConflict` here, before this
        stale state could write over it (re-create a task that step completed, say: a unique
        violation, not a conflict). On PostgreSQL the UPDATE also holds the row, so a
        concurrent save of the instance waits for this transaction and then fails here.
        """
        self.row = self.uow.instances.update(
            self.row.id, expected_lock_version=self.row.lock_version
        )

    def _deliver_thrown(
        self, thrown: list[tuple[str, str, dict[str, Any]]], deliver: ThrownDelivery
    ) -> SaveSteps[None]:
        """Messages and signals the instance threw go to other instances, once it is saved."""
        for kind, name, payload in thrown:
            data: dict[str, Any] = {"name": name}
            if kind == "message":
                data["variables"] = jsonable(payload)
                data["delivered_to"] = yield from deliver.message(
                    self.ctx, self.uow, name, payload, sender=self.row
                )
            elif kind == "signal":
                data["variables"] = jsonable(payload)
                data["reached"] = yield from deliver.signal(
                    self.ctx, self.uow, name, payload, sender=self.row
                )
            else:  # an error or escalation nothing caught: its path ended there
                data.update(jsonable(payload))
            self.history.record(HistoryEventType(f"{kind}_thrown"), data=data)

    def _record_completed_activities(self) -> None:
        """History in the order the workflow ran them; a gateway also records where it went."""
        for activity in self.run.log.completed:
            if activity.kind == "UserTask":
                continue
            data: dict[str, Any] = {"name": activity.name, "kind": activity.kind}
            if activity.next_elements:
                data["next"] = list(activity.next_elements)
            if activity.decision is not None:
                data["decision"], variable, value = activity.decision
                data["result"] = {variable: jsonable(value)}
            self.history.record(
                HistoryEventType.ACTIVITY_COMPLETED, element_id=activity.element_id, data=data
            )
        self.run.log.completed.clear()

    # -- call activities -------------------------------------------------------------------------

    def _start_calls(self, requests: list[CallRequest]) -> SaveSteps[bool]:
        """Start the instance of each call activity that asks for one, saving each before the
        next starts; True if any started."""
        started = False
        for request in requests:
            context = {**reserved_names(self.row), **request.variables}
            try:
                definition = calls.called_definition(self.uow, self.definition, request, context)
                variables = calls.in_variables(request, context)
                business_key = calls.business_key(request, context)
            except (NotFound, ExpressionError, ValueError, TypeError) as err:
                self.run.incident = Incident(request.element_id, request.task_ref, str(err))
                return started
            child = Execution.start(
                self.ctx,
                self.uow,
                definition,
                variables,
                business_key=business_key,
                user=self.acting_user,
                parent=(self, request.task_ref),
            )
            self.run.mark_call_started(request.task_ref, child.row.id)
            self.history.record(
                HistoryEventType.CALL_STARTED,
                element_id=request.element_id,
                data={"instance_id": child.row.id, "key": definition.key},
            )
            yield child
            started = True
        return started

    def _finish_calls(self) -> bool:
        """Go on with the call activities whose instances ended or threw; True if any did."""
        finished = False
        while self._ended_calls and self.run.incident is None:
            task_ref, variables, raised = self._ended_calls.pop(0)
            if raised is None:
                finished = self.run.complete_call(task_ref, variables) or finished
            else:
                finished = self.run.throw_from_call(task_ref, *raised, variables) or finished
        return finished

    def _report_to_caller(self, row: InstanceRow, raised: list[_Raised]) -> Execution | None:
        """Hand the errors and escalations an instance did not catch, then its end, to its caller.

        As in Camunda, a BPMN error or escalation a called instance does not catch reaches the
        call activity, and the call activity's `camunda:out` variables go to the caller as it
        passes, caught or not. An error boundary, or an interrupting escalation boundary,
        cancels the call, which terminates the called instance; a non-interrupting one leaves
        it running. An instance that ended completes its call activity, unless that was
        cancelled meanwhile. Returns the caller when it is not saving now (the called instance
        was not started in this call): the caller must then be saved next.
        """
        assert row.parent_instance_id is not None and row.parent_task_ref is not None
        caller = self.parent or Execution.open(self.ctx, self.uow, row.parent_instance_id)
        extensions = caller.run.call_extensions(row.parent_task_ref)
        variables = calls.out_variables(extensions, variable_types.decode(row.variables))
        for each in raised:
            caller._ended_calls.append((row.parent_task_ref, variables, each))
        if row.state in _ENDED:
            caller._ended_calls.append((row.parent_task_ref, variables, None))
        return caller if self.parent is None else None

    def _end_abandoned_calls(self) -> None:
        for instance_id in self.run.abandoned_calls():
            terminate(self.ctx, self.uow, instance_id, reason="its call activity was cancelled")

    # -- the instance row -----------------------------------------------------------------------

    def _save_row(self) -> InstanceRow:
        now = self.ctx.now()
        variables = self.run.variables
        changes: dict[str, Any] = {
            "variables": variable_types.encode(variables),
            "workflow_state": self.run.dump(variables),
            "serializer_version": self.run.serializer_version,
        }
        incident = self.run.incident
        if incident is not None:
            changes.update(state=InstanceState.INCIDENT.value, incident=incident.message)
            if self.row.state != InstanceState.INCIDENT.value or self._is_new:
                self.history.record(
                    HistoryEventType.INCIDENT,
                    element_id=incident.element_id,
                    data={"message": incident.message},
                )
        elif self.run.terminated_by is not None:
            # Camunda 7's history calls this INTERNALLY_TERMINATED, apart from COMPLETED.
            changes.update(state=InstanceState.TERMINATED.value, ended_at=now, incident=None)
            self.history.record(
                HistoryEventType.INSTANCE_TERMINATED,
                element_id=self.run.terminated_by,
                data={"reason": "terminate end event"},
            )
        elif self.run.is_completed:
            changes.update(state=InstanceState.COMPLETED.value, ended_at=now, incident=None)
            self.history.record(HistoryEventType.INSTANCE_COMPLETED)
        else:
            changes.update(state=InstanceState.RUNNING.value, incident=None)
        # What this instance recorded goes before whatever its save makes other instances
        # write about it (a caller terminating it), as if each event had been inserted at once.
        self.history.write()
        return self.uow.instances.update(
            self.row.id, expected_lock_version=self.row.lock_version, **changes
        )


# A save as `saving.run` drives it: it yields each other instance to save now, gets that
# instance's saved row back, and returns what it produced (its own row, for a save).
SaveSteps = Generator[Execution, InstanceRow, _T]


class ThrownDelivery(Protocol):
    """Where the messages and signals a saved instance threw go (`correlation.THROWN`).

    Both run as part of the thrower's save: they yield each instance they deliver to, or
    start, for `saving.run` to save.
    """

    def message(
        self,
        ctx: EngineContext,
        uow: UnitOfWork,
        message_name: str,
        variables: Mapping[str, Any],
        *,
        sender: InstanceRow,
    ) -> SaveSteps[str | None]:
        """Deliver a thrown message; returns the id of the instance that received it, if any."""
        ...

    def signal(
        self,
        ctx: EngineContext,
        uow: UnitOfWork,
        signal_name: str,
        variables: Mapping[str, Any],
        *,
        sender: InstanceRow,
    ) -> SaveSteps[int]:
        """Broadcast a thrown signal; returns how many other instances it reached."""
        ...


def terminate(ctx: EngineContext, uow: UnitOfWork, instance_id: str, *, reason: str) -> None:
    """End an instance where it stands, and every instance it called that still runs.

    Its open tasks are cancelled and its timers, subscriptions and external tasks removed; the
    workflow state is kept as it was, for inspection. Called instances end first, depth-first,
    each before its caller; an explicit stack walks the calls, as a chain of call activities
    may be deeper than Python's recursion limit.
    """
    # (instance id, reason, lock version read, when, the instances it called not yet ended)
    stack: list[tuple[str, str, int, datetime, Iterator[InstanceRow]]] = []
    pending: tuple[str, str] | None = (instance_id, reason)
    while True:
        if pending is not None:
            ending, why = pending
            pending = None
            row = uow.instances.get(ending)
            if row.state not in _ENDED:
                now = ctx.now()
                _drop_waits(uow, ending, now)
                called = iter(uow.instances.list(parent_instance_id=ending))
                stack.append((ending, why, row.lock_version, now, called))
        if not stack:
            return
        ending, why, lock_version, now, called = stack[-1]
        child = next(called, None)
        if child is not None:
            pending = (child.id, "its caller was terminated")
            continue
        stack.pop()
        uow.history.add(
            instance_id=ending,
            type=HistoryEventType.INSTANCE_TERMINATED,
            at=now,
            element_id=None,
            user=None,
            data={"reason": why},
        )
        uow.instances.update(
            ending,
            expected_lock_version=lock_version,
            state=InstanceState.TERMINATED.value,
            ended_at=now,
        )


def _drop_waits(uow: UnitOfWork, instance_id: str, now: datetime) -> None:
    """Cancel the open tasks of an instance being terminated; remove its jobs, subscriptions
    and external tasks."""
    for task_id in uow.tasks.open_element_ids(instance_id):
        uow.tasks.close(task_id, state=TaskState.CANCELLED.value, at=now)
    for job in uow.jobs.list(instance_id=instance_id):
        uow.jobs.delete(job.id)
    uow.subscriptions.delete_for_instance(instance_id)
    for external in uow.external_tasks.delete_for_instance(instance_id):
        uow.history.add(
            instance_id=instance_id,
            type=HistoryEventType.EXTERNAL_TASK_CANCELLED,
            at=now,
            element_id=external.element_id,
            user=None,
            data={"task_id": external.id, "topic": external.topic},
        )


_ENDED = frozenset({InstanceState.COMPLETED.value, InstanceState.TERMINATED.value})

# What a called instance throws that its call activity may catch: (kind, code, data).
_Raised = tuple[str, str, dict[str, Any]]
_RAISED = frozenset({"error", "escalation"})


def _script_engine(ctx: EngineContext, row: InstanceRow) -> FlowdeskScriptEngine:
    # Camunda's process definition id is `key:version:id`; flowdesk's id is the row's.
    definition_id = f"{row.process_key}:{row.version}:{row.definition_id}"
    return FlowdeskScriptEngine(
        ctx.registry, CallScope(row.id, row.process_key, row.business_key, definition_id)
    )
