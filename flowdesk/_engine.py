"""`Engine`: the one object an application talks to.

Its methods follow Camunda 7's services — repository (`deploy`, `definitions`), runtime
(`start`, `correlate`, `trigger`, `instance`, `instances`, `waits`, `retry`), tasks
(`tasks`, `claim`, `complete`), external tasks (`fetch_and_lock`, `complete_external_task`,
...), jobs (`run_due_jobs`, `jobs`) and history (`history`) — each
implemented in its own module under `flowdesk.engine`. Every call is one database transaction:
it loads what it needs, runs the workflow to its next wait state, saves and commits, or changes
nothing. A call that loses an optimistic-lock race to another caller is run again from the
start, a few times, before `ConcurrencyConflict` reaches its caller.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from flowdesk._records import (
    Document,
    ExternalTask,
    FetchTopic,
    HistoryEvent,
    Job,
    LockedExternalTask,
    ProcessDefinition,
    ProcessInstance,
    ProcessReport,
    Task,
    Wait,
)
from flowdesk.authorization import ReadAuthorizer, ReadRequest, ReadResource
from flowdesk.engine.deployment.repository import PROCESS, RepositoryService, definition_record
from flowdesk.engine.instances.execution import EngineContext
from flowdesk.engine.instances.variable_types import accept
from flowdesk.engine.languages import limits as _limits
from flowdesk.engine.languages import timer_texts as timers
from flowdesk.engine.services import instance_admin
from flowdesk.engine.services.decisions import DecisionService
from flowdesk.engine.services.diagram_view import DiagramView
from flowdesk.engine.services.external_tasks import ExternalTaskService
from flowdesk.engine.services.history import HistoryService
from flowdesk.engine.services.job_executor import JobService
from flowdesk.engine.services.runtime import RuntimeService, instance_record
from flowdesk.engine.services.tasks import TaskService
from flowdesk.errors import (
    ConcurrencyConflict,
    InvalidArgument,
    ReadNotAuthorized,
    StoreError,
    VariableError,
)
from flowdesk.handlers import HandlerRegistry
from flowdesk.input_limits import InputLimits
from flowdesk.store import SqliteSynchronous, Store, UnitOfWork

DEFAULT_URL = "sqlite:///flowdesk.db"
# How often a call that lost an optimistic lock runs in all before `ConcurrencyConflict`
# reaches the caller: each lost round means another caller's step committed, so this many
# rounds lost in a row takes that many concurrent writers of one instance.
_CONFLICT_ATTEMPTS = 5
# Camunda 7 keeps retries and counts in Java ints; so do flowdesk's INTEGER columns
# (PostgreSQL's int4), and a larger number would fail in the database instead of here.
_MAX_INT = 2**31 - 1
_log = logging.getLogger("flowdesk.engine")
Groups = Mapping[str, Collection[str]] | Callable[[str], Collection[str]]
T = TypeVar("T")
# The engine whose call runs in this thread (context) now, with its unit of work: a bean or
# handler that queries the engine during a step reads through that unit of work, as a query
# inside a Camunda delegate joins the running command's transaction.
_running: contextvars.ContextVar[tuple[Engine, UnitOfWork] | None] = contextvars.ContextVar(
    "flowdesk_running_call", default=None
)


def current_engine() -> Engine | None:
    """The `Engine` whose call is running now, or None outside any engine call.

    For beans and handlers that look something up while a step runs (an assignee expression
    `${customers.owner(customer_id)}`, a service that checks a master record): Camunda's
    `execution.getProcessEngineServices()`. Its query methods (`instances`, `instance`,
    `tasks`, `task`, `history`, `documents`, `jobs`, `waits`, `definitions`) then read through
    the running call's transaction, and so see what the step has saved so far. Calls that
    change state must not be made from inside a step: each is its own transaction.
    """
    running = _running.get()
    return None if running is None else running[0]


class Engine:
    """A flowdesk process engine on one database.

    Args:
        url: A SQLAlchemy URL; when None, `FLOWDESK_DB`, else `sqlite:///flowdesk.db`.
        groups: Each user's groups, as a mapping or a function of the user name; used to
            decide who may claim and complete tasks offered to candidate groups.
        clock: Returns the current time (timezone-aware); tests pass one they can move.
        handlers: The handler registry to use; a new one when None.
        load_entry_points: Whether to run the `flowdesk.handlers` entry points.
        script_limits: CPU time, elapsed time and memory each script or expression of a
            model may use (Python, JUEL, FEEL, JavaScript); `ScriptLimits()` when None (2 s
            of CPU, 4 s elapsed, 128 MiB). Going over makes the step an incident (see
            docs/limits.md).
        sqlite_synchronous: How durable each commit to a SQLite file is: `"FULL"` (the
            default) survives a power failure; `"NORMAL"` is cheaper and may lose the last
            commits before a power failure (never corrupts the file). No effect on PostgreSQL
            or in-memory SQLite. See "Durability" in docs/performance.md.
        input_limits: The largest files and variables a call may pass (see docs/limits.md);
            `InputLimits()` when None.
        read_authorizer: The policy `instance`, `history` and `documents` consult when a
            `user` reads (see `flowdesk.authorization`); when None, the handler registry's
            (`HandlerRegistry.register_read_authorizer`), if any. Without a policy every read
            is allowed.

    Every variable a call passes must be of a Camunda type (see docs/variables.md), else the
    call raises `VariableError`; over `input_limits` it raises `LimitExceeded`. Either way
    nothing is stored.

    Raises:
        StoreError: The database cannot be reached or migrated, or the URL or
            `sqlite_synchronous` is not one flowdesk supports.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        groups: Groups | None = None,
        clock: Callable[[], datetime] | None = None,
        handlers: HandlerRegistry | None = None,
        load_entry_points: bool = True,
        script_limits: _limits.ScriptLimits | None = None,
        sqlite_synchronous: SqliteSynchronous = "FULL",
        input_limits: InputLimits | None = None,
        read_authorizer: ReadAuthorizer | None = None,
    ) -> None:
        self.url = url or os.environ.get("FLOWDESK_DB") or DEFAULT_URL
        self.input_limits = input_limits or InputLimits()
        self.handlers = handlers or HandlerRegistry()
        if load_entry_points:
            self.handlers.load_entry_points()
        self._read_authorizer = read_authorizer
        self._clock = clock or timers.system_clock
        self.script_limits = script_limits or _limits.DEFAULT_LIMITS
        try:
            self._store = Store(self.url, sqlite_synchronous=sqlite_synchronous)
        except ValueError as err:  # an unsupported URL scheme or driver, or durability level
            raise StoreError(str(err)) from err
        self._ctx = EngineContext(self._store, self.handlers, _groups_of(groups))
        self._repository = RepositoryService(
            self.handlers, max_file_bytes=self.input_limits.max_file_bytes
        )
        self._runtime = RuntimeService(self._ctx)
        self._tasks = TaskService(self._ctx)
        self._jobs = JobService(self._ctx)
        self._external = ExternalTaskService(self._ctx)
        self._history = HistoryService()
        self._decisions = DecisionService()
        self._diagrams = DiagramView(self._runtime, self._tasks)

    # -- repository ---------------------------------------------------------------------------

    def deploy(self, path: str | os.PathLike[str]) -> list[ProcessDefinition]:
        """Deploy a `.bpmn`/`.dmn` file, or every such file below a folder.

        An unchanged file makes no new version; a changed one makes the next version of each
        process in it. Instances already running stay on their version.

        Returns:
            The definitions in the files, as deployed now or as they already were.

        Raises:
            BpmnValidationError: Any file is rejected; every problem is listed, with file,
                line and element id, and nothing is deployed.
            NotFound: The path does not exist or holds no BPMN/DMN file.
        """
        return self._call(lambda uow: self._repository.deploy(uow, Path(path), now=timers.now()))

    def definitions(
        self, *, key: str | None = None, all_versions: bool = False
    ) -> list[ProcessDefinition]:
        """The latest version of each deployed process (or every version, or one key's)."""
        return self._read(
            lambda uow: [
                definition_record(row)
                for row in uow.definitions.list(kind=PROCESS, key=key, latest_only=not all_versions)
            ]
        )

    def definition_xml(self, key: str, *, version: int | None = None) -> str:
        """The BPMN XML of the latest (or the given) version of a process: the whole file it
        was deployed from (Camunda's `getProcessModel`).

        Raises:
            NotFound: No process with this key (and version) is deployed.
        """
        return self._read(lambda uow: instance_admin.definition_xml(uow, key, version))

    # -- runtime --------------------------------------------------------------------------------

    def start(
        self,
        key: str,
        variables: Mapping[str, Any] | None = None,
        *,
        business_key: str | None = None,
        user: str | None = None,
        version: int | None = None,
    ) -> ProcessInstance:
        """Start an instance of the latest (or the given) version of a process.

        The instance begins where Camunda 7's `startProcessInstanceByKey` would: at the none
        start event, else the timer start event, else the process's only start event, run
        straight through whatever it catches. When a top-level start event has
        `camunda:initiator`, the variable it names is set to `user` (None without one) unless
        `variables` set it.

        Raises:
            NotFound: No process with this key (and version) is deployed.
            VariableError: A variable is of no Camunda type, NaN or Infinity (see `Engine`).
            LimitExceeded: The variables are over the Engine's `InputLimits`.
            ExpressionError: An expression the start needs cannot be evaluated.
            StartEventError: The process has several start events and none of them is a none
                or timer start event; nothing is stored.
        """
        accepted = self._accept(variables)
        return self._call(
            lambda uow: self._runtime.start(
                uow,
                key,
                dict(accepted),
                business_key=business_key,
                user=user,
                version=version,
            )
        )

    def correlate(
        self,
        message_name: str,
        *,
        business_key: str | None = None,
        correlation_keys: Mapping[str, Any] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> ProcessInstance:
        """Deliver a message to the one instance waiting for it, or start one with it.

        Raises:
            CorrelationError: No instance waits and no process starts with the message, or
                several instances match.
            VariableError, LimitExceeded: As for `start`, for `variables` and
                `correlation_keys`.
        """
        accepted = self._accept(variables)
        keys = None if correlation_keys is None else self._accept(correlation_keys)
        return self._call(
            lambda uow: self._runtime.correlate(
                uow,
                message_name,
                business_key=business_key,
                correlation_keys=keys,
                variables=dict(accepted),
            )
        )

    def signal(self, signal_name: str, variables: Mapping[str, Any] | None = None) -> int:
        """Broadcast a signal: every instance waiting for it gets it, and every process whose
        start event waits for it (latest version) starts, all in one transaction.

        Args:
            signal_name: The `name` of the `bpmn:signal`.
            variables: Set in each receiving instance's scope.

        Returns:
            How many instances the signal reached, started ones included (0 is no error).

        Raises:
            VariableError, LimitExceeded: As for `start`.
        """
        accepted = self._accept(variables)
        return self._call(lambda uow: self._runtime.signal(uow, signal_name, dict(accepted)))

    def trigger(
        self, instance_id: str, element_id: str, *, variables: Mapping[str, Any] | None = None
    ) -> ProcessInstance:
        """Move on an instance that waits at a receive task without a message.

        Camunda 7's `RuntimeService.signal(executionId, variables)` (`trigger` in its newer
        API): such a receive task is a plain wait state that only this call ends. When several
        executions wait at the element (parallel paths, a multi-instance receive task), one
        call moves one of them on. `waits(instance_id)` lists them with kind "trigger".

        Args:
            instance_id: The waiting instance.
            element_id: The receive task's id.
            variables: Set in the instance's scope before it moves on.

        Raises:
            NotFound: No such instance.
            InstanceStateError: The instance is not running, or does not wait for a trigger at
                `element_id` (messages, signals, timers and user tasks have their own calls).
            VariableError, LimitExceeded: As for `start`.
        """
        accepted = self._accept(variables)
        return self._call(
            lambda uow: self._runtime.trigger(uow, instance_id, element_id, dict(accepted))
        )

    def waits(self, instance_id: str) -> list[Wait]:
        """The events an instance waits for: messages, signals, timers and triggers.

        User tasks (`tasks`), jobs of async continuations (`jobs`) and called instances
        (`instances(parent_id=...)`) are listed by their own calls. An ended instance waits for
        nothing. Raises `NotFound` for an unknown id.
        """
        return self._read(lambda uow: self._runtime.waits(uow, instance_id))

    def instance(self, instance_id: str, *, user: str | None = None) -> ProcessInstance:
        """One instance, with its variables.

        Args:
            instance_id: The instance.
            user: Who reads; the read authorizer decides (see `Engine`). None is a trusted
                system call.

        Raises:
            NotFound: No instance has this id.
            ReadNotAuthorized: The read authorizer refuses `user`.
        """
        found = self._read(lambda uow: self._runtime.instance(uow, instance_id))
        self._authorize_read(user, found, "instance")
        return found

    def instances(
        self,
        *,
        key: str | None = None,
        state: str | None = None,
        business_key: str | None = None,
        parent_id: str | None = None,
        variables: Mapping[str, str | int | float | bool] | None = None,
    ) -> list[ProcessInstance]:
        """Instances, oldest first, filtered by process key, state, business key and caller.

        `variables` keeps the instances where each named variable holds the given value, of
        the same JSON type (Camunda's `variableValueEquals`): `{"customer_id": "C-1"}`.
        `state` is "running", "completed", "terminated" or "incident"; "all" or None for any.

        Raises:
            InvalidArgument: `state` is none of those (the message lists them).
            VariableError: A variable value is not a string, finite number or boolean, or (on
                SQLite) a variable name holds a double quote.
        """
        self._check_filter(variables)
        return self._read(
            lambda uow: self._runtime.instances(
                uow,
                key=key,
                state=state,
                business_key=business_key,
                parent_id=parent_id,
                variables=variables,
            )
        )

    def retry(self, instance_id: str, *, user: str | None = None) -> ProcessInstance:
        """Run an instance's failed step again (after the cause was fixed).

        Raises:
            NotFound: No such instance.
            InstanceStateError: The instance is not in state "incident".
        """
        return self._call(lambda uow: self._runtime.retry(uow, instance_id, user=user))

    def delete_instance(
        self, instance_id: str, *, reason: str | None = None, user: str | None = None
    ) -> ProcessInstance:
        """End a running instance where it stands (Camunda's `deleteProcessInstance`).

        Its open tasks are cancelled, its jobs, timers and subscriptions removed, and the
        instances it called end too; its state becomes "terminated" and its history keeps an
        `instance_terminated` event with `reason` and `user`. No listeners run. Who may call
        this is the application's decision.

        Raises:
            NotFound: No such instance.
            InstanceStateError: The instance has already ended.
        """
        return self._call(
            lambda uow: instance_admin.delete_instance(
                self._ctx, uow, instance_id, reason=reason, user=user
            )
        )

    def set_variables(
        self, instance_id: str, variables: Mapping[str, Any], *, user: str | None = None
    ) -> ProcessInstance:
        """Set variables of a running instance (Camunda's `RuntimeService.setVariables`).

        The instance then goes on where a conditional event's condition now holds, as in
        Camunda. Who may call this is the application's decision; `user` is recorded in the
        history (`variables_set`).

        Raises:
            NotFound: No such instance.
            InstanceStateError: The instance is not running (ended, or in incident).
            VariableError, LimitExceeded: As for `start`.
        """
        accepted = self._accept(variables)
        return self._call(
            lambda uow: instance_admin.set_variables(
                self._ctx, uow, instance_id, dict(accepted), user=user
            )
        )

    # -- tasks ----------------------------------------------------------------------------------

    def tasks(
        self,
        *,
        instance_id: str | None = None,
        assignee: str | None = None,
        candidate_group: str | None = None,
        candidate_user: str | None = None,
        key: str | None = None,
        business_key: str | None = None,
        state: str | None = "open",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Task]:
        """User tasks matching every filter given; open ones unless `state` says otherwise.

        Tasks come oldest first (by creation time, then id), so `limit` and `offset` page
        through them as Camunda's `listPage(firstResult, maxResults)` does: pages do not
        overlap while no task is created or completed in between.

        Args:
            instance_id: Only tasks of this instance.
            assignee: Only tasks held by this user.
            candidate_group: Only tasks offered to this group.
            candidate_user: Only tasks offered to this user, by name or through one of the
                user's groups (as Camunda's `taskCandidateUser`).
            key: Only tasks of instances of this process.
            business_key: Only tasks of instances with this business key.
            state: "open", "completed" or "cancelled"; "all" or None for any state.
            limit: At most this many tasks; None for all.
            offset: Skip this many first.

        Raises:
            InvalidArgument: `state` is none of those (the message lists them).
            InvalidArgument: `limit` or `offset` is negative.
        """
        if limit is not None and limit < 0:
            raise InvalidArgument(f"limit must not be negative, not {limit}")
        if offset < 0:
            raise InvalidArgument(f"offset must not be negative, not {offset}")
        return self._read(
            lambda uow: self._tasks.tasks(
                uow,
                instance_id=instance_id,
                assignee=assignee,
                candidate_group=candidate_group,
                candidate_user=candidate_user,
                key=key,
                business_key=business_key,
                state=state,
                limit=limit,
                offset=offset,
            )
        )

    def task(self, task_id: str) -> Task:
        """One user task, in any state. Raises `NotFound` for an unknown id."""
        return self._read(lambda uow: self._tasks.task(uow, task_id))

    def claim(self, task_id: str, *, user: str) -> Task:
        """Give an open user task to one user.

        Args:
            task_id: The task, as listed by `tasks()`.
            user: Who takes it. Claiming a task the user already holds is a no-op.

        Returns:
            The task after the claim.

        Raises:
            NotFound: No task has this id.
            TaskStateError: The task is not open, or another user holds it.
            NotAuthorized: The user is not a candidate for it.
        """
        return self._call(lambda uow: self._tasks.claim(uow, task_id, user=user))

    def unclaim(self, task_id: str, *, user: str | None = None) -> Task:
        """Take the assignee off an open task, so its candidates may claim it again.

        Camunda's `setAssignee(taskId, null)`: the task's `update` and `assignment` listeners
        run. A task nobody holds is returned as it is.

        Args:
            task_id: The task.
            user: Who asks: the assignee or a candidate (by name or group); None is a trusted
                system call.

        Raises:
            NotFound: No task has this id.
            TaskStateError: The task is not open.
            NotAuthorized: `user` is neither the assignee nor a candidate.
        """
        return self._call(lambda uow: self._tasks.unclaim(uow, task_id, user=user))

    def reassign(self, from_user: str, to_user: str, *, user: str | None = None) -> int:
        """Hand a leaving user's open tasks to another user, in one transaction.

        Every open task `from_user` holds gets `to_user` as assignee (Camunda's
        `setAssignee`), and `to_user` replaces `from_user` among the candidate users of open
        tasks. Completed and cancelled tasks keep their history. Each moved task gets a
        `task_reassigned` history event. Who may call this is the application's decision.

        Args:
            from_user: The leaving user.
            to_user: Who takes the tasks over; not checked against candidates or groups.
            user: The acting administrator, recorded in the history; None for the system.

        Returns:
            How many tasks moved; 0 when `from_user` has no open tasks or equals `to_user`.

        Raises:
            InvalidArgument: A user name is empty (also a `ValueError`).
        """
        return self._call(lambda uow: self._tasks.reassign(uow, from_user, to_user, user=user))

    def complete(
        self, task_id: str, data: Mapping[str, Any] | None = None, *, user: str | None = None
    ) -> ProcessInstance:
        """Complete a user task with its form data, and run the instance to its next wait.

        Args:
            task_id: The task, as listed by `tasks()`.
            data: Form values and any other variables to set on the instance.
            user: Who completes it; None is a trusted system call.

        Returns:
            The instance after the step.

        Raises:
            NotFound: No task has this id.
            TaskStateError: The task is already completed or cancelled.
            NotAuthorized: The user is not the assignee, nor (with no assignee) a candidate.
            FormValidationError: The data fails the form (required, type, enum, limits) or
                the task's handler.
            VariableError, LimitExceeded: As for `start`.
            ConcurrencyConflict: Other callers changed the instance at the same time, again
                on each of the few runs the call makes before giving up (a single concurrent
                change is absorbed: the call runs again on the new state).
        """

        accepted = self._accept(data, what="data")

        def act(uow: UnitOfWork) -> ProcessInstance:
            instance_id = self._tasks.complete(uow, task_id, dict(accepted), user=user)
            return instance_record(uow.instances.saved(instance_id))

        return self._call(act)

    # -- jobs -----------------------------------------------------------------------------------

    def run_due_jobs(self, *, limit: int = 100, lease: timedelta | None = None) -> int:
        """Run the jobs due on the engine's clock: timers and async continuations.

        Args:
            limit: At most this many jobs.
            lease: How long the jobs are this worker's before another worker may take them
                over (it died); 5 minutes when None. Make it longer than the longest job.

        Returns:
            How many jobs ran to completion; failed runs are retried later (see docs/jobs.md).

        Raises:
            InvalidArgument: `limit` is negative or above 2**31 - 1, or `lease` is not
                positive or ends after the year 9999.
        """
        _check_count("limit", limit)
        if lease is not None:
            if lease <= timedelta(0):
                raise InvalidArgument("lease must be positive")
            self._check_ends("lease", lease)
        with timers.using_clock(self._clock), _limits.using(self.script_limits):
            return self._jobs.run_due_jobs(self._job_unit_of_work, limit=limit, lease=lease)

    def jobs(self, *, instance_id: str | None = None) -> list[Job]:
        """Waiting and failed jobs (timers and async continuations), soonest first."""
        return self._read(lambda uow: self._jobs.jobs(uow, instance_id=instance_id))

    # -- external tasks -------------------------------------------------------------------------

    def fetch_and_lock(
        self,
        worker_id: str,
        topics: Sequence[str | FetchTopic],
        max_tasks: int,
        *,
        lock_duration: timedelta | None = None,
        variables: Sequence[str] | None = None,
        use_priority: bool = False,
    ) -> list[LockedExternalTask]:
        """Fetch and lock external tasks for a worker: Camunda 7's `fetchAndLock`.

        A task is fetched when its topic is asked for, every filter of that topic holds, it
        has retries left (None or above 0) and no lock, or one that ran out (another worker's
        too: that worker can then no longer complete it). Each task comes locked for its
        topic's lock duration and with the variables the topic asks for. On PostgreSQL
        concurrent fetches never lock the same task (`FOR UPDATE SKIP LOCKED`).

        Args:
            worker_id: Who locks the tasks; the same id must complete them.
            topics: Topic names (with `lock_duration` and `variables` below) or `FetchTopic`s
                with their own filters; a `FetchTopic` without a lock duration takes
                `lock_duration`. An empty list fetches nothing.
            max_tasks: At most this many tasks, over all topics; 0 fetches nothing.
            lock_duration: How long the tasks stay locked (positive).
            variables: For topics given by name: the variables to return; None for all.
            use_priority: Highest `camunda:taskPriority` first (Camunda's `usePriority`);
                otherwise, as after equal priorities, the oldest task first.

        Returns:
            The locked tasks.

        Raises:
            InvalidArgument: `worker_id` is empty, `max_tasks` is negative or above 2**31 - 1,
                a topic has no positive lock duration (or one ending after the year 9999), or
                a topic is named twice.
        """
        if not worker_id:
            raise InvalidArgument("worker_id must not be empty")
        _check_count("max_tasks", max_tasks)
        resolved: list[FetchTopic] = []
        for topic in topics:
            if isinstance(topic, str):
                names = None if variables is None else tuple(variables)
                topic = FetchTopic(topic_name=topic, lock_duration=lock_duration, variables=names)
            elif topic.lock_duration is None:
                topic = dataclasses.replace(topic, lock_duration=lock_duration)
            if not topic.topic_name:
                raise InvalidArgument("a topic name must not be empty")
            if topic.lock_duration is None or topic.lock_duration <= timedelta(0):
                raise InvalidArgument(
                    f"the lock duration of topic {topic.topic_name!r} must be positive"
                )
            self._check_ends(
                f"the lock duration of topic {topic.topic_name!r}", topic.lock_duration
            )
            if any(known.topic_name == topic.topic_name for known in resolved):
                raise InvalidArgument(f"topic {topic.topic_name!r} is named twice")
            self._check_filter(topic.process_variables)
            resolved.append(topic)
        if not resolved or max_tasks == 0:
            return []
        return self._call(
            lambda uow: self._external.fetch_and_lock(
                uow, worker_id, resolved, max_tasks, use_priority=use_priority
            )
        )

    def complete_external_task(
        self,
        task_id: str,
        worker_id: str,
        variables: Mapping[str, Any] | None = None,
        local_variables: Mapping[str, Any] | None = None,
    ) -> ProcessInstance:
        """Complete an external task the worker has locked, and run its instance on.

        `variables` are set as Camunda's `execution.setVariables` sets them (an input
        parameter of that name takes the value, else the process scope gets it);
        `local_variables` stay the activity's (its output parameters see them). As in
        Camunda, a lock that ran out does not stop its worker unless another worker has
        fetched the task since.

        Returns:
            The instance after the step.

        Raises:
            NotFound: No external task has this id (completed, cancelled, or never).
            ExternalTaskWorkerMismatch: The task is not locked by `worker_id`.
            VariableError, LimitExceeded: As for `start`.
        """
        accepted = self._accept(variables)
        local = self._accept(local_variables, what="local variables")

        def act(uow: UnitOfWork) -> ProcessInstance:
            instance_id = self._external.complete(uow, task_id, worker_id, accepted, local)
            return instance_record(uow.instances.saved(instance_id))

        return self._call(act)

    def handle_external_task_failure(
        self,
        task_id: str,
        worker_id: str,
        error_message: str | None,
        error_details: str | None = None,
        *,
        retries: int,
        retry_timeout: timedelta = timedelta(0),
    ) -> ExternalTask:
        """Report that a worker failed to do an external task: Camunda's `handleFailure`.

        The task keeps its worker and becomes fetchable again `retry_timeout` from now, with
        `retries` left. With 0 retries it has an incident: its instance goes into state
        "incident" with `error_message`, and the task is not fetched until
        `set_external_task_retries` (or `retry`) gives it retries again. The worker may still
        complete it.

        Args:
            error_details: The full details (a stack trace); None keeps earlier ones.
            retries: How many retries are left (0 or more); the worker counts them down.
            retry_timeout: How long until the task may be fetched again (0 or more).

        Returns:
            The task after the failure.

        Raises:
            NotFound: No external task has this id.
            ExternalTaskWorkerMismatch: The task is not locked by `worker_id`.
            InvalidArgument: `retries` or `retry_timeout` is negative, `retries` is above
                2**31 - 1, or `retry_timeout` ends after the year 9999.
        """
        _check_count("retries", retries)
        if retry_timeout < timedelta(0):
            raise InvalidArgument("retry_timeout must not be negative")
        self._check_ends("retry_timeout", retry_timeout)

        def act(uow: UnitOfWork) -> ExternalTask:
            self._external.handle_failure(
                uow,
                task_id,
                worker_id,
                error_message=error_message,
                error_details=error_details,
                retries=retries,
                retry_timeout=retry_timeout,
            )
            return self._external.external_task(uow, task_id)

        return self._call(act)

    def handle_external_task_bpmn_error(
        self,
        task_id: str,
        worker_id: str,
        error_code: str,
        error_message: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> ProcessInstance:
        """Throw a BPMN error from an external task the worker has locked.

        The variables are set first (as by `complete_external_task`), then the error is
        thrown as a handler's `BpmnError` would be: an error boundary event on the task, or
        an error event sub-process around it, catches it by code (`errorCodeVariable` and
        `errorMessageVariable` get the code and `error_message`). As in Camunda 7 (without
        `enableExceptionsAfterUnhandledBpmnError`), an error nothing catches ends the task's
        path as a none end event would.

        Returns:
            The instance after the step.

        Raises:
            NotFound: No external task has this id.
            ExternalTaskWorkerMismatch: The task is not locked by `worker_id`.
            InvalidArgument: `error_code` is empty.
            VariableError, LimitExceeded: As for `start`.
        """
        if not error_code:
            raise InvalidArgument("error_code must not be empty")
        accepted = self._accept(variables)

        def act(uow: UnitOfWork) -> ProcessInstance:
            instance_id = self._external.handle_bpmn_error(
                uow,
                task_id,
                worker_id,
                error_code=error_code,
                error_message=error_message,
                variables=accepted,
            )
            return instance_record(uow.instances.saved(instance_id))

        return self._call(act)

    def extend_external_task_lock(
        self, task_id: str, worker_id: str, new_duration: timedelta
    ) -> ExternalTask:
        """Lock an external task for `new_duration` from now; only its worker may.

        Raises:
            NotFound: No external task has this id.
            ExternalTaskWorkerMismatch: The task is not locked, or by another worker.
            ExternalTaskLockExpired: The lock already ran out.
            InvalidArgument: `new_duration` is not positive or ends after the year 9999.
        """
        if new_duration <= timedelta(0):
            raise InvalidArgument("new_duration must be positive")
        self._check_ends("new_duration", new_duration)
        return self._call(
            lambda uow: self._external.extend_lock(uow, task_id, worker_id, new_duration)
        )

    def unlock_external_task(self, task_id: str) -> ExternalTask:
        """Free an external task's lock, whoever holds it; any worker may fetch it again.

        Raises:
            NotFound: No external task has this id.
        """
        return self._call(lambda uow: self._external.unlock(uow, task_id))

    def set_external_task_retries(self, task_id: str, retries: int) -> ExternalTask:
        """Set an external task's retries, as Camunda's `setRetries`: above 0 resolves its
        incident (it can be fetched again), 0 gives it one.

        Raises:
            NotFound: No external task has this id.
            InvalidArgument: `retries` is negative or above 2**31 - 1 (Camunda's int).
        """
        _check_count("retries", retries)
        return self._call(lambda uow: self._external.set_retries(uow, task_id, retries))

    def external_tasks(
        self,
        *,
        task_id: str | None = None,
        instance_id: str | None = None,
        topic: str | None = None,
        worker_id: str | None = None,
        element_id: str | None = None,
        key: str | None = None,
        business_key: str | None = None,
        process_definition_id: str | None = None,
        locked: bool | None = None,
        with_retries_left: bool | None = None,
    ) -> list[ExternalTask]:
        """External tasks matching every filter given, oldest first: Camunda's
        `createExternalTaskQuery`.

        Args:
            key: Only tasks of instances of this process (Camunda's `processDefinitionKey`).
            process_definition_id: Only tasks of this deployed version (`key:version:id`, as
                `ExternalTask.process_definition_id` gives it).
            locked: True: only tasks whose lock has not run out; False: only tasks with no
                lock or one that ran out (on the engine's clock).
            with_retries_left: True: retries None or above 0; False: retries 0 (incidents).
        """
        now = self.now()
        definition_number = -1  # matches no version: an id flowdesk never gave out
        if process_definition_id is not None:
            with contextlib.suppress(ValueError):
                definition_number = int(process_definition_id.rsplit(":", 1)[-1])
        return self._read(
            lambda uow: self._external.external_tasks(
                uow,
                id=task_id,
                instance_id=instance_id,
                topic=topic,
                worker_id=worker_id,
                element_id=element_id,
                process_key=key,
                business_key=business_key,
                definition_id=None if process_definition_id is None else definition_number,
                locked_at=now if locked is True else None,
                not_locked_at=now if locked is False else None,
                with_retries_left=with_retries_left,
            )
        )

    def external_task(self, task_id: str) -> ExternalTask:
        """One external task. Raises `NotFound` for an unknown id (or one that has ended)."""
        return self._read(lambda uow: self._external.external_task(uow, task_id))

    # -- decisions ------------------------------------------------------------------------------

    def evaluate_decision(
        self,
        key: str,
        variables: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
    ) -> dict[str, Any] | list[dict[str, Any]] | None:
        """Evaluate a deployed DMN decision (its required decisions first), as Camunda's
        `DecisionService.evaluateDecisionById` does.

        Args:
            key: The decision id.
            variables: The values its input expressions read.
            version: A deployed version; the latest when None.

        Returns:
            UNIQUE, FIRST, PRIORITY and ANY tables: the matched rule's outputs by name, or None
            when no rule matches. COLLECT, RULE ORDER and OUTPUT ORDER: a list with one such
            dict per matched rule. COLLECT with SUM, MIN, MAX or COUNT: `{output: value}` (None
            when SUM, MIN or MAX matched nothing). A literal expression: `{variable: value}`.

        Raises:
            NotFound: No decision with this key (and version) is deployed.
            DecisionError: The decision fails for these variables, e.g. two rules of a UNIQUE
                table match, or a value cannot be compared.
            VariableError, LimitExceeded: As for `start`.
        """
        accepted = self._accept(variables)
        return self._read(
            lambda uow: self._decisions.evaluate(uow, key, dict(accepted), version=version)
        )

    # -- history --------------------------------------------------------------------------------

    def history(self, instance_id: str, *, user: str | None = None) -> list[HistoryEvent]:
        """What happened to an instance, oldest first.

        Args:
            instance_id: The instance.
            user: Who reads; the read authorizer decides (see `Engine`). None is a trusted
                system call.

        Raises:
            NotFound: No instance has this id.
            ReadNotAuthorized: The read authorizer refuses `user`.
        """
        if user is not None:
            self._authorize_read(user, self.instance(instance_id), "history")
        return self._read(lambda uow: self._history.history(uow, instance_id))

    def diagram(self, key_or_instance_id: str, *, version: int | None = None) -> str:
        """The SVG of a deployed process, or of an instance with its path and state marked.

        A process key draws its latest version (or `version`). An instance id draws the
        version it runs with the elements it completed and the sequence flows it took in
        blue, where it waits in green with a count, and incidents in red with a count (see
        docs/diagrams.md). The drawing follows the file's BPMN DI as Camunda Modeler draws it.

        Raises:
            NotFound: No process has this key (and version) and no instance this id.
            DiagramError: The process's file has no diagram (BPMN DI): flowdesk draws what
                the Modeler laid out and lays out nothing itself.
        """
        return self._read(
            lambda uow: self._diagrams.diagram(uow, key_or_instance_id, version=version)
        )

    def documents(self, instance_id: str, *, user: str | None = None) -> list[Document]:
        """The documents an instance's service tasks rendered, oldest first.

        Args:
            instance_id: The instance.
            user: Who reads; the read authorizer decides (see `Engine`). None is a trusted
                system call.

        Raises:
            NotFound: No instance has this id.
            ReadNotAuthorized: The read authorizer refuses `user`.
        """
        if user is not None:
            self._authorize_read(user, self.instance(instance_id), "documents")
        return self._read(lambda uow: self._history.documents(uow, instance_id))

    @property
    def read_authorizer(self) -> ReadAuthorizer | None:
        """The read policy in force: the one given to the constructor, else the handler
        registry's, else None (every read allowed)."""
        return self._read_authorizer or self.handlers.read_authorizer

    def _authorize_read(
        self, user: str | None, instance: ProcessInstance, resource: ReadResource
    ) -> None:
        """Raise `ReadNotAuthorized` if the read policy refuses `user` this read."""
        authorizer = self.read_authorizer
        if user is None or authorizer is None:
            return
        reason = authorizer(
            ReadRequest(
                user=user, instance=instance, resource=resource, now=self.now(), engine=self
            )
        )
        if reason is not None:
            raise ReadNotAuthorized(instance.id, user, resource, reason)

    def report(
        self, key: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> ProcessReport:
        """A process analysis of the instances of `key`, computed from their history.

        Counts instances started, completed, terminated, still running and with incidents;
        gives the cycle time's median and p90, each user task's time from creation to
        completion, the bottleneck step and how often each gateway outcome was taken.

        Args:
            key: The process key, all versions.
            since: Only instances started at or after this aware datetime.
            until: Only instances started before this aware datetime.

        Raises:
            NotFound: No process with this key was ever deployed.
            InvalidArgument: `since` or `until` is a naive datetime.
        """
        for bound in (since, until):
            if bound is not None and bound.utcoffset() is None:
                raise InvalidArgument(f"naive datetime {bound.isoformat()} given; use an aware one")
        return self._read(lambda uow: self._history.report(uow, key, since=since, until=until))

    # -- plumbing -------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The current time on the engine's clock (aware, UTC): what timers and jobs go by."""
        return self._clock().astimezone(UTC)

    def _check_ends(self, what: str, duration: timedelta) -> None:
        """Refuse a duration that ends after the last date a datetime holds (year 9999)."""
        try:
            self.now() + duration
        except OverflowError:
            raise InvalidArgument(f"{what} ends after the year 9999") from None

    @property
    def sqlite_synchronous(self) -> str | None:
        """The `PRAGMA synchronous` in effect on this engine's SQLite file connections, read
        back from the database ("FULL" or "NORMAL"); None on PostgreSQL and in-memory SQLite.

        Raises:
            StoreError: The database failed.
        """
        return self._store.sqlite_synchronous

    def close(self) -> None:
        """Release the database connections."""
        self._store.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(
        self, variables: Mapping[str, Any] | None, *, what: str = "variables"
    ) -> dict[str, Any]:
        """The variables a call passes, checked against Camunda's types and `input_limits`."""
        return accept(variables, self.input_limits, what=what)

    def _check_filter(self, variables: Mapping[str, Any] | None) -> None:
        """Refuse, before any SQL, a variable filter the query could not run."""
        for name, value in (variables or {}).items():
            if not isinstance(value, str | int | float | bool):
                raise VariableError(str(name), "a filter value must be a string, number or boolean")
            # A filter value passes the same checks as a stored one (NaN, 64 bits, text).
            accept({name: value}, self.input_limits, what="variables filter")
            if '"' in name and self._store.dialect == "sqlite":
                raise VariableError(name, "on SQLite a filtered name may not hold a double quote")

    def _call(self, action: Callable[[UnitOfWork], T]) -> T:
        """Run a writing action in a unit of work; again, in a new one, if it lost a race.

        `action` must be safe to run again: it may depend only on its arguments and on what it
        reads through the unit of work (every action of this class is such a closure).
        """
        # A lost optimistic lock rolled the whole unit of work back, so running the action
        # again acts on the winner's committed state. Two calls that do not conflict (tasks of
        # two parallel branches) then both succeed; one that does (the same task completed
        # twice) fails with the error the new state gives, e.g. TaskStateError. On PostgreSQL
        # the loser's UPDATE waited for the winner's commit, so an immediate re-run does not
        # collide with it again; no back-off is needed.
        attempt = 1
        while True:
            try:
                with self._transaction() as uow:
                    return action(uow)
            except ConcurrencyConflict as conflict:
                if attempt >= _CONFLICT_ATTEMPTS:
                    raise
                _log.debug(
                    "instance %s changed concurrently; running the call again (attempt %d)",
                    conflict.instance_id,
                    attempt + 1,
                )
                attempt += 1

    def _read(self, action: Callable[[UnitOfWork], T]) -> T:
        running = _running.get()
        if running is not None and running[0] is self:
            # A query from a bean or handler during one of this engine's calls: read in that
            # call's unit of work (a second one would wait for it on an in-memory database).
            return action(running[1])
        # Read-only units of work do not queue behind SQLite's single writer.
        with (
            timers.using_clock(self._clock),
            _limits.using(self.script_limits),
            self._store.unit_of_work(readonly=True) as uow,
        ):
            token = _running.set((self, uow))
            try:
                return action(uow)
            finally:
                _running.reset(token)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[UnitOfWork]:
        with (
            timers.using_clock(self._clock),
            _limits.using(self.script_limits),
            self._store.unit_of_work() as uow,
        ):
            token = _running.set((self, uow))
            try:
                yield uow
            finally:
                _running.reset(token)

    @contextlib.contextmanager
    def _job_unit_of_work(self, *, readonly: bool = False) -> Iterator[UnitOfWork]:
        """The store's unit of work for the job service, known as this engine's running call."""
        with self._store.unit_of_work(readonly=readonly) as uow:
            token = _running.set((self, uow))
            try:
                yield uow
            finally:
                _running.reset(token)


def _groups_of(groups: Groups | None) -> Callable[[str], Collection[str]]:
    if groups is None:
        return lambda user: ()
    if callable(groups):
        return groups
    mapping = dict(groups)
    return lambda user: tuple(mapping.get(user, ()))


def _check_count(what: str, value: int) -> None:
    """Refuse a count (retries, tasks) below 0 or above what the database keeps (`_MAX_INT`)."""
    if not 0 <= value <= _MAX_INT:
        raise InvalidArgument(f"{what} must be from 0 to {_MAX_INT}, not {value}")
