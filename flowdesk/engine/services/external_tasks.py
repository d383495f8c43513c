"""The external task service: Camunda 7's `ExternalTaskService` on flowdesk's store.

A worker fetches and locks tasks by topic (`fetch_and_lock`), then completes each, reports a
failure (with the retries left and when to fetch it again) or throws a BPMN error. Only the
worker holding a task's lock may do so; a lock that ran out may be taken by another worker's
fetch, after which the first worker is refused. Each call is one transaction: a refused call
changes nothing.

Failures follow Camunda's `ExternalTaskEntity.failed`: the worker says how many retries are
left; at 0 the task has an incident (its instance is in state "incident", with the worker's
error message) and is not fetched until `set_retries` gives it retries again, which resolves
the incident. A task whose retries are above 0 can be fetched again once `retry_timeout` has
passed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from flowdesk._records import ExternalTask, FetchTopic, HistoryEventType, LockedExternalTask
from flowdesk.engine.instances import saving
from flowdesk.engine.instances.execution import EngineContext, Execution
from flowdesk.errors import (
    ExternalTaskLockExpired,
    ExternalTaskWorkerMismatch,
    InstanceStateError,
)
from flowdesk.store import ExternalTaskRow, TopicFilter, UnitOfWork


def _fields(row: ExternalTaskRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "topic": row.topic,
        "worker_id": row.worker_id,
        "lock_expires_at": row.lock_expires_at,
        "retries": row.retries,
        "error_message": row.error_message,
        "error_details": row.error_details,
        "priority": row.priority,
        "instance_id": row.instance_id,
        "element_id": row.element_id,
        "business_key": row.business_key,
        "process_key": row.process_key,
        "process_definition_id": "",  # filled in by the caller, which knows the version
        "created_at": row.created_at,
        "properties": dict(row.properties),
    }


class ExternalTaskService:
    """Fetches, locks, completes and fails external tasks."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    # -- fetching -------------------------------------------------------------------------------

    def fetch_and_lock(
        self,
        uow: UnitOfWork,
        worker_id: str,
        topics: Sequence[FetchTopic],
        max_tasks: int,
        *,
        use_priority: bool,
    ) -> list[LockedExternalTask]:
        """Lock up to `max_tasks` fetchable tasks of `topics` for `worker_id` (arguments
        checked by the caller: every topic has a positive lock duration)."""
        by_name = {topic.topic_name: topic for topic in topics}
        filters: dict[str, tuple[TopicFilter, timedelta]] = {}
        for topic in topics:
            assert topic.lock_duration is not None
            filters[topic.topic_name] = (self._filter(uow, topic), topic.lock_duration)
        rows = uow.external_tasks.lock_fetchable(
            self._ctx.now(),
            worker_id=worker_id,
            topics=filters,
            limit=max_tasks,
            use_priority=use_priority,
        )
        executions: dict[str, Execution] = {}
        locked = []
        for row in rows:
            execution = executions.get(row.instance_id)
            if execution is None:
                execution = Execution.open(self._ctx, uow, row.instance_id)
                executions[row.instance_id] = execution
            topic = by_name[row.topic]
            variables = execution.run.external_variables(
                row.task_ref, topic.variables, local_only=topic.local_variables
            )
            fields = _fields(row)
            fields["process_definition_id"] = _definition_id(execution)
            locked.append(LockedExternalTask(**fields, variables=variables or {}))
        return locked

    def _filter(self, uow: UnitOfWork, topic: FetchTopic) -> TopicFilter:
        definition_ids: set[int] | None = None
        for given in (
            [topic.process_definition_id] if topic.process_definition_id is not None else None,
            topic.process_definition_id_in,
        ):
            if given is not None:
                parsed = (_definition_number(text) for text in given)
                numbers = {number for number in parsed if number is not None}
                definition_ids = numbers if definition_ids is None else definition_ids & numbers
        keys: set[str] | None = None
        for given_keys in (
            [topic.process_definition_key] if topic.process_definition_key is not None else None,
            topic.process_definition_key_in,
        ):
            if given_keys is not None:
                keys = set(given_keys) if keys is None else keys & set(given_keys)
        return TopicFilter(
            topic=topic.topic_name,
            business_key=topic.business_key,
            definition_ids=None if definition_ids is None else frozenset(definition_ids),
            process_keys=None if keys is None else frozenset(keys),
            variables=topic.process_variables,
        )

    # -- what a worker reports --------------------------------------------------------------------

    def complete(
        self,
        uow: UnitOfWork,
        task_id: str,
        worker_id: str,
        variables: Mapping[str, Any],
        local_variables: Mapping[str, Any],
    ) -> str:
        """Complete a locked task and run its instance on; returns the instance's id.

        As in Camunda, a task whose lock ran out may still be completed by its worker, as
        long as no other worker fetched it meanwhile.
        """
        row = self._held(uow, task_id, worker_id, "completed")
        execution = Execution.open(self._ctx, uow, row.instance_id)
        uow.external_tasks.delete(row.id)
        execution.history.record(
            HistoryEventType.EXTERNAL_TASK_COMPLETED,
            element_id=row.element_id,
            data={"task_id": row.id, "worker_id": worker_id, "topic": row.topic},
        )
        if not execution.run.complete_external(row.task_ref, variables, local_variables):
            raise _no_longer_waits(execution, row)
        saving.save(execution)
        return row.instance_id

    def handle_failure(
        self,
        uow: UnitOfWork,
        task_id: str,
        worker_id: str,
        *,
        error_message: str | None,
        error_details: str | None,
        retries: int,
        retry_timeout: timedelta,
    ) -> None:
        """Record a worker's failure: Camunda's `ExternalTaskEntity.failed`."""
        row = self._held(uow, task_id, worker_id, "reported as failed")
        now = self._ctx.now()
        changes: dict[str, Any] = {
            "error_message": error_message,
            "lock_expires_at": now + retry_timeout,
            "retries": retries,
        }
        if error_details is not None:  # Camunda keeps the details of an earlier failure
            changes["error_details"] = error_details
        uow.external_tasks.update(row.id, **changes)
        uow.history.add(
            instance_id=row.instance_id,
            type=HistoryEventType.EXTERNAL_TASK_FAILED,
            at=now,
            element_id=row.element_id,
            user=None,
            data={
                "task_id": row.id,
                "worker_id": worker_id,
                "error_message": error_message,
                "retries": retries,
            },
        )
        if _has_retries(row.retries) != (retries > 0):
            self._settle_incident(uow, row.instance_id)

    def handle_bpmn_error(
        self,
        uow: UnitOfWork,
        task_id: str,
        worker_id: str,
        *,
        error_code: str,
        error_message: str | None,
        variables: Mapping[str, Any],
    ) -> str:
        """Throw a worker's BPMN error from the task; returns the instance's id."""
        row = self._held(uow, task_id, worker_id, "reported with a BPMN error")
        execution = Execution.open(self._ctx, uow, row.instance_id)
        uow.external_tasks.delete(row.id)
        execution.history.record(
            HistoryEventType.EXTERNAL_TASK_BPMN_ERROR,
            element_id=row.element_id,
            data={
                "task_id": row.id,
                "worker_id": worker_id,
                "code": error_code,
                "message": error_message,
            },
        )
        if not execution.run.throw_external_error(
            row.task_ref, error_code, error_message, copy.deepcopy(dict(variables))
        ):
            raise _no_longer_waits(execution, row)
        saving.save(execution)
        return row.instance_id

    def extend_lock(
        self, uow: UnitOfWork, task_id: str, worker_id: str, new_duration: timedelta
    ) -> ExternalTask:
        """Lock the task for `new_duration` from now, for the worker that holds it."""
        row = uow.external_tasks.get_for_update(task_id)
        if row.worker_id != worker_id or row.lock_expires_at is None:
            raise ExternalTaskWorkerMismatch(task_id, worker_id, row.worker_id, "extended")
        now = self._ctx.now()
        if row.lock_expires_at < now:
            raise ExternalTaskLockExpired(task_id, worker_id)
        updated = uow.external_tasks.update(row.id, lock_expires_at=now + new_duration)
        return self._record(uow, updated)

    def unlock(self, uow: UnitOfWork, task_id: str) -> ExternalTask:
        """Free the task's lock, whoever holds it (an administrator's call in Camunda)."""
        row = uow.external_tasks.get_for_update(task_id)
        updated = uow.external_tasks.update(row.id, worker_id=None, lock_expires_at=None)
        return self._record(uow, updated)

    def set_retries(self, uow: UnitOfWork, task_id: str, retries: int) -> ExternalTask:
        """Set the retries; crossing 0 creates or resolves the incident, as in Camunda."""
        row = uow.external_tasks.get_for_update(task_id)
        updated = uow.external_tasks.update(row.id, retries=retries)
        uow.history.add(
            instance_id=row.instance_id,
            type=HistoryEventType.EXTERNAL_TASK_RETRIES_SET,
            at=self._ctx.now(),
            element_id=row.element_id,
            user=None,
            data={"task_id": row.id, "retries": retries},
        )
        if _has_retries(row.retries) != (retries > 0):
            self._settle_incident(uow, row.instance_id)
        return self._record(uow, updated)

    # -- reading ----------------------------------------------------------------------------------

    def external_tasks(self, uow: UnitOfWork, **filters: Any) -> list[ExternalTask]:
        rows = uow.external_tasks.list(**filters)
        return [self._record(uow, row) for row in rows]

    def external_task(self, uow: UnitOfWork, task_id: str) -> ExternalTask:
        return self._record(uow, uow.external_tasks.get(task_id))

    # -- internals --------------------------------------------------------------------------------

    def _held(self, uow: UnitOfWork, task_id: str, worker_id: str, action: str) -> ExternalTaskRow:
        """The task, locked for this call, if `worker_id` holds its lock."""
        row = uow.external_tasks.get_for_update(task_id)
        if row.worker_id != worker_id:
            raise ExternalTaskWorkerMismatch(task_id, worker_id, row.worker_id, action)
        return row

    def _settle_incident(self, uow: UnitOfWork, instance_id: str) -> None:
        """Save the instance as it stands: its external tasks' retries put it into incident
        or take it out (`ExternalTaskRows.sync`)."""
        execution = Execution.open(self._ctx, uow, instance_id)
        saving.save(execution)

    def _record(self, uow: UnitOfWork, row: ExternalTaskRow) -> ExternalTask:
        fields = _fields(row)
        definition = self._ctx.specs.definition(uow, row.definition_id)
        fields["process_definition_id"] = f"{definition.key}:{definition.version}:{definition.id}"
        return ExternalTask(**fields)


def _has_retries(retries: int | None) -> bool:
    return retries is None or retries > 0


def _definition_id(execution: Execution) -> str:
    row = execution.row
    return f"{row.process_key}:{row.version}:{row.definition_id}"


def _definition_number(text: str) -> int | None:
    """The row id in a process definition id (`key:version:id`, or the bare number)."""
    try:
        return int(text.rsplit(":", 1)[-1])
    except ValueError:
        return None


def _no_longer_waits(execution: Execution, row: ExternalTaskRow) -> InstanceStateError:
    return InstanceStateError(
        execution.row.id,
        execution.row.state,
        f"its activity {row.element_id!r} no longer waits for external task {row.id!r}",
    )
