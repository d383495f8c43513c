"""Job and subscription rows: one for each timer, held task, message and signal waited for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowdesk.engine.instances.context import EngineContext
from flowdesk.engine.languages import timer_texts
from flowdesk.engine.spiff import retry_cycles
from flowdesk.engine.spiff.waits import WaitKind
from flowdesk.engine.spiff.workflow import WorkflowRun
from flowdesk.engine.spiff.workflow_records import Incident
from flowdesk.store import (
    DefinitionRow,
    InstanceRow,
    JobRow,
    JobState,
    JobType,
    SubscriptionRow,
    UnitOfWork,
)


class WaitRows:
    """The part of an `Execution` that keeps job and subscription rows in step with the workflow.

    `instance` is the instance row as loaded: only its id and business key are read, which an
    instance keeps for life; `is_new` says it was started in this call (it has no rows yet).
    """

    __slots__ = ("_ctx", "_definition", "_instance", "_is_new", "_run", "_uow")

    def __init__(
        self,
        ctx: EngineContext,
        uow: UnitOfWork,
        instance: InstanceRow,
        definition: DefinitionRow,
        run: WorkflowRun,
        *,
        is_new: bool,
    ) -> None:
        self._ctx = ctx
        self._uow = uow
        self._instance = instance
        self._definition = definition
        self._run = run
        self._is_new = is_new

    def sync_jobs(self) -> None:
        """One job per waiting timer, per task held for an async continuation, and per
        timeout listener of an open user task.

        A job goes when its timer or held task does; a timer whose time changed gets its job
        moved, with fresh retries. A job that failed for good (no retries left) keeps the
        instance in incident, whatever else moved, until `retry` gives it its retries back.
        """
        if not self._ctx.specs.waits(self._uow, self._definition).jobs:
            return  # nothing in this version makes a job, so the instance has none
        now = self._ctx.now()
        jobs = self._uow.jobs.list(instance_id=self._instance.id)
        # An async job is one hold of its task: a task may be held again after its job ran.
        # A task's timeout-listener job is one per listener, by its id.
        existing = {
            (job.type, job.task_ref, job.payload.get("hold", job.payload.get("listener"))): job
            for job in jobs
        }
        wanted: dict[tuple[str, str, str | None], _JobSpec] = {}
        for wait in self._run.waits():
            if wait.kind == WaitKind.TIMER and wait.due_at is not None:
                cycle = self._run.retry_cycle(wait.task_ref)
                wanted[JobType.TIMER, wait.task_ref, None] = _JobSpec(
                    wait.element_id, wait.due_at, cycle, {"name": wait.name}
                )
        for ref, element_id, listener_id, due in self._run.task_timeouts():
            wanted[JobType.TASK_TIMEOUT, ref, listener_id] = _JobSpec(
                element_id, due, None, {"listener": listener_id}
            )
        for hold in self._run.async_holds():
            wanted[JobType.ASYNC, hold.task_ref, hold.hold_id] = _JobSpec(
                hold.element_id, now, hold.retry_cycle, {"hold": hold.hold_id}
            )
        failed: list[JobRow] = []
        for key, job in existing.items():
            spec = wanted.get(key)
            if spec is None:
                self._uow.jobs.delete(job.id)
            elif (
                job.type in (JobType.TIMER, JobType.TASK_TIMEOUT) and _timer_due(job) != spec.due_at
            ):
                self._uow.jobs.update(job.id, **spec.fresh(due_at=spec.due_at))
            elif job.state == JobState.FAILED.value and self._run.retried:
                self._uow.jobs.update(job.id, **spec.fresh(due_at=now))
            elif job.state == JobState.FAILED.value:
                failed.append(job)
        for key, spec in wanted.items():
            if key not in existing:
                self._uow.jobs.add(spec.row(self._instance.id, key[0], key[1], now))
        if failed and self._run.incident is None:
            job = failed[0]
            self._run.incident = Incident(job.element_id, job.task_ref, job.error or "job failed")

    def sync_subscriptions(self) -> None:
        """One subscription per message or signal the instance waits for; unchanged ones stay."""
        if not self._ctx.specs.waits(self._uow, self._definition).subscriptions:
            return  # nothing in this version waits for one, so the instance has none
        wanted: dict[tuple[str, str, str, str | None], int] = {}
        key: tuple[str, str, str, str | None]  # (kind, name, element id, task ref)
        for wait in self._run.subscriptions():
            key = (wait.kind, wait.name, wait.element_id, wait.task_ref)
            wanted[key] = wanted.get(key, 0) + 1
        existing = (
            [] if self._is_new else self._uow.subscriptions.list(instance_id=self._instance.id)
        )
        for row in existing:
            key = (row.kind, row.name, row.element_id, row.task_ref)
            if wanted.get(key, 0) > 0 and row.business_key == self._instance.business_key:
                wanted[key] -= 1
            else:
                self._uow.subscriptions.delete(row.id)
        for (kind, name, element_id, task_ref), count in wanted.items():
            for _ in range(count):
                self._uow.subscriptions.add(
                    SubscriptionRow(
                        id=str(uuid.uuid4()),
                        instance_id=self._instance.id,
                        definition_id=None,
                        kind=kind,
                        name=name,
                        element_id=element_id,
                        task_ref=task_ref,
                        business_key=self._instance.business_key,
                        created_at=self._ctx.now(),
                    )
                )


@dataclass(frozen=True, slots=True)
class _JobSpec:
    """The job a timer or a held task should have (see `WaitRows.sync_jobs`)."""

    element_id: str
    due_at: datetime
    retry_cycle: str | None
    payload: dict[str, Any]

    def fresh(self, *, due_at: datetime) -> dict[str, Any]:
        """The changes that make a job new again: due then, full retries, no error or lease."""
        return {
            "due_at": due_at,
            "state": JobState.WAITING.value,
            "attempts": 0,
            "retries_left": retry_cycles.parse(self.retry_cycle).retries,
            "error": None,
            "locked_by": None,
            "lock_expires_at": None,
            "payload": self._payload(),
        }

    def row(self, instance_id: str, type_: str, task_ref: str, now: datetime) -> JobRow:
        return JobRow(
            id=str(uuid.uuid4()),
            instance_id=instance_id,
            element_id=self.element_id,
            task_ref=task_ref,
            type=type_,
            due_at=self.due_at,
            state=JobState.WAITING.value,
            attempts=0,
            retries_left=retry_cycles.parse(self.retry_cycle).retries,
            created_at=now,
            payload=self._payload(),
        )

    def _payload(self) -> dict[str, Any]:
        # The timer's own due time: a job in retry backoff is due later than its timer.
        payload = {**self.payload, "due": self.due_at.isoformat()}
        if self.retry_cycle:
            payload["retry_cycle"] = self.retry_cycle
        return payload


def _timer_due(job: JobRow) -> datetime:
    """When a timer job's timer is due (not its retry), as `_JobSpec._payload` keeps it."""
    due = job.payload.get("due")
    return timer_texts.parse_due(due) if isinstance(due, str) else job.due_at
