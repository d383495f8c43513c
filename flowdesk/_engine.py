"""`Engine`: the one object an application talks to.

Its methods follow Camunda 7's services — repository (`deploy`, `definitions`), runtime
(`start`, `correlate`, `trigger`, `instance`, `instances`, `waits`, `retry`), tasks
(`tasks`, `claim`, `complete`), jobs (`run_due_jobs`, `jobs`) and history (`history`) — each
implemented in its own module under `flowdesk.engine`. Every call is one database transaction:
it loads what it needs, runs the workflow to its next wait state, saves and commits, or changes
nothing. A call that loses an optimistic-lock race to another caller is run again from the
start, a few times, before `ConcurrencyConflict` reaches its caller.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from flowdesk._records import (
    Document,
    HistoryEvent,
    Job,
    ProcessDefinition,
    ProcessInstance,
    ProcessReport,
    Task,
    Wait,
)
from flowdesk.authorization import ReadAuthorizer, ReadRequest, ReadResource
from flowdesk.engine import script_limits as _limits
from flowdesk.engine import timers
from flowdesk.engine.dmn.service import DecisionService
from flowdesk.engine.execution import EngineContext
from flowdesk.engine.history import HistoryService
from flowdesk.engine.jobs import JobService
from flowdesk.engine.repository import PROCESS, RepositoryService, definition_record
from flowdesk.engine.runtime import RuntimeService, instance_record
from flowdesk.engine.tasks import TaskService
from flowdesk.engine.variable_types import accept
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
        self._ctx = EngineContext(self._store, self.handlers, self._clock, _groups_of(groups))
        self._repository = RepositoryService(
            self.handlers, max_file_bytes=self.input_limits.max_file_bytes
        )
        self._runtime = RuntimeService(self._ctx)
        self._tasks = TaskService(self._ctx)
        self._jobs = JobService(self._ctx)
        self._history = HistoryService()
        self._decisions = DecisionService()

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
        """
        with timers.using_clock(self._clock), _limits.using(self.script_limits):
            return self._jobs.run_due_jobs(self._job_unit_of_work, limit=limit, lease=lease)

    def jobs(self, *, instance_id: str | None = None) -> list[Job]:
        """Waiting and failed jobs (timers and async continuations), soonest first."""
        return self._read(lambda uow: self._jobs.jobs(uow, instance_id=instance_id))

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
