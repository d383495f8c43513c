"""An in-process external-task worker: fetch a topic's tasks and run the handler registered
under the topic, as Camunda's external task clients do from outside.

Camunda 7 never runs an external task (`camunda:type="external"`) in the engine: the activity
waits until a worker fetches and locks it. flowdesk does the same (`Engine.fetch_and_lock`).
Code that registered a service handler under a topic (`HandlerRegistry.register_service`)
keeps working with this worker: each pass fetches the tasks of its topics and calls the
handler with a `ServiceCall`, as a service task would. The handler's returned mapping
completes the task with those variables; a `BpmnError` it raises is thrown from the task
(`handle_external_task_bpmn_error`); any other exception is reported as a failure with one
retry less (`handle_external_task_failure`): at 0, an incident.

Several workers may share a database, in threads or processes: a fetch never locks a task
another worker holds. Run `run()` in a thread of its own with a `threading.Event` to stop it,
or call `run_once()` from the application's own loop (or a test).
"""

from __future__ import annotations

import logging
import socket
import threading
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from flowdesk._engine import Engine
from flowdesk._records import LockedExternalTask
from flowdesk.errors import (
    BpmnError,
    ExternalTaskLockError,
    FlowdeskError,
    InvalidArgument,
    NotFound,
)
from flowdesk.handlers import ServiceCall, ServiceHandler

logger = logging.getLogger("flowdesk.external_worker")

DEFAULT_RETRIES = 3
"""How many runs an `ExternalTaskWorker` gives a task in all before its failure becomes an
incident: the default of Camunda's external task clients."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalWorkResult:
    """What one pass of an `ExternalTaskWorker` did."""

    completed: int = 0
    failed: int = 0
    bpmn_errors: int = 0

    @property
    def handled(self) -> int:
        """How many tasks the pass handled, whatever the outcome."""
        return self.completed + self.failed + self.bpmn_errors


class ExternalTaskWorker:
    """Fetches external tasks by topic and runs the engine's service handlers on them.

    Args:
        engine: The engine to fetch from; its handler registry holds the topic handlers.
        topics: The topics to fetch; each needs a handler registered under its name. None
            takes every name registered with `register_service`.
        worker_id: Names this worker in each lock; host and a random suffix when None.
        lock_duration: How long a fetched task stays this worker's (longer than a handler
            takes: after it, another worker may fetch the task).
        max_tasks: At most this many tasks per pass.
        retries: How many runs a task gets in all before its failure becomes an incident
            (used when the task has not failed before; after that, its retries count down).
        retry_timeout: How long after a failure the task may be fetched again.
        use_priority: Fetch the highest `camunda:taskPriority` first.

    Raises:
        InvalidArgument: A topic has no handler, or `retries` is below 1.
    """

    def __init__(
        self,
        engine: Engine,
        topics: Sequence[str] | None = None,
        *,
        worker_id: str | None = None,
        lock_duration: timedelta = timedelta(minutes=5),
        max_tasks: int = 10,
        retries: int = DEFAULT_RETRIES,
        retry_timeout: timedelta = timedelta(0),
        use_priority: bool = True,
    ) -> None:
        self.engine = engine
        names = list(engine.handlers.services) if topics is None else list(topics)
        self._handlers: dict[str, ServiceHandler] = {}
        for topic in names:
            handler = engine.handlers.service_exact(topic)
            if handler is None:
                raise InvalidArgument(f"no service handler is registered for topic {topic!r}")
            self._handlers[topic] = handler
        if retries < 1:
            raise InvalidArgument(f"retries must be at least 1, not {retries}")
        self.worker_id = worker_id or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.lock_duration = lock_duration
        self.max_tasks = max_tasks
        self.retries = retries
        self.retry_timeout = retry_timeout
        self.use_priority = use_priority

    def run_once(self) -> ExternalWorkResult:
        """Fetch up to `max_tasks` tasks of the worker's topics and handle each one."""
        if not self._handlers:
            return ExternalWorkResult()
        tasks = self.engine.fetch_and_lock(
            self.worker_id,
            list(self._handlers),
            self.max_tasks,
            lock_duration=self.lock_duration,
            use_priority=self.use_priority,
        )
        completed = failed = errors = 0
        for task in tasks:
            outcome = self._handle(task)
            completed += outcome == "completed"
            failed += outcome == "failed"
            errors += outcome == "bpmn_error"
        return ExternalWorkResult(completed=completed, failed=failed, bpmn_errors=errors)

    def run(self, *, interval: float = 5.0, stop: threading.Event | None = None) -> int:
        """Handle tasks in passes until `stop` is set; returns how many were handled.

        A pass that filled `max_tasks` is followed at once by the next; otherwise the worker
        waits `interval` seconds (or until stopped). A pass that fails (the database is
        down) is logged and tried again after the interval.
        """
        stop = stop or threading.Event()
        handled = 0
        while not stop.is_set():
            try:
                result = self.run_once()
            except FlowdeskError as err:
                logger.error("external task pass of %s failed: %s", self.worker_id, err)
                stop.wait(interval)
                continue
            handled += result.handled
            if result.handled < self.max_tasks:
                stop.wait(interval)
        return handled

    def _handle(self, task: LockedExternalTask) -> str:
        handler = self._handlers[task.topic]
        call = ServiceCall(
            instance_id=task.instance_id,
            process_key=task.process_key,
            business_key=task.business_key,
            element_id=task.element_id,
            implementation=task.topic,
            variables=dict(task.variables),
            properties=dict(task.properties),
            now=self.engine.now(),
        )
        try:
            try:
                result = handler(call)
            except BpmnError as err:
                self.engine.handle_external_task_bpmn_error(
                    task.id, self.worker_id, err.code, str(err), err.variables
                )
                return "bpmn_error"
            except Exception as err:  # any failure of the handler is the task's failure
                left = (self.retries if task.retries is None else task.retries) - 1
                self.engine.handle_external_task_failure(
                    task.id,
                    self.worker_id,
                    f"{type(err).__name__}: {err}",
                    traceback.format_exc(),
                    retries=max(left, 0),
                    retry_timeout=self.retry_timeout,
                )
                logger.warning(
                    "external task %s (%s) failed, %d retries left: %s",
                    task.id,
                    task.topic,
                    max(left, 0),
                    err,
                )
                return "failed"
            variables = dict(result) if isinstance(result, Mapping) else {}
            self.engine.complete_external_task(task.id, self.worker_id, variables)
            return "completed"
        except (NotFound, ExternalTaskLockError) as err:
            # The task went meanwhile (its activity was cancelled), or its lock ran out and
            # another worker fetched it: that worker's report counts, not this one's.
            logger.info("external task %s is no longer %s's: %s", task.id, self.worker_id, err)
            return "gone"
