"""The job service: fire due timers.

Jobs are acquired in one short transaction (with `FOR UPDATE SKIP LOCKED` and a lease on
PostgreSQL, so several workers share one database), then each job runs in a transaction of its
own that fires the timer and deletes or reschedules the job together: a timer fires once, and a
worker that dies mid-job leaves it to be taken over when its lease runs out.

A job of an instance fires the timer its workflow waits for; the workflow, not the job row, is
the truth about the due time, so a job whose timer moved (or went) is corrected, never fired
early. A job of a definition (a timer start event, see `start_timers`) starts an instance.
Every fired timer is logged on the `flowdesk.jobs` logger at INFO.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

from flowdesk._records import Job
from flowdesk.engine import start_timers, timers
from flowdesk.engine.execution import EngineContext, Execution
from flowdesk.errors import ConcurrencyConflict, FlowdeskError, NotFound
from flowdesk.store import JobRow, JobState, UnitOfWork

LEASE = timedelta(minutes=5)
_log = logging.getLogger("flowdesk.jobs")


def job_record(row: JobRow) -> Job:
    return Job(
        id=row.id,
        instance_id=row.instance_id,
        element_id=row.element_id,
        type=row.type,
        due_at=row.due_at,
        state=row.state,
        attempts=row.attempts,
        error=row.error,
    )


class JobService:
    """Runs due jobs; one instance of it is one worker."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        self.worker_id = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    def run_due_jobs(
        self, transaction: Callable[[], AbstractContextManager[UnitOfWork]], *, limit: int = 100
    ) -> int:
        now = self._ctx.now()
        with transaction() as uow:
            acquired = uow.jobs.acquire_due(now, owner=self.worker_id, lease=LEASE, limit=limit)
        count = 0
        for job in acquired:
            try:
                with transaction() as uow:
                    if self._run(uow, job):
                        count += 1
            except ConcurrencyConflict:
                # The instance moved on under us; the job is released and tried again later.
                with transaction() as uow, contextlib.suppress(NotFound):
                    uow.jobs.update(job.id, locked_by=None, lock_expires_at=None)
            except FlowdeskError as err:
                _log.exception("job %s of instance %s failed", job.id, job.instance_id)
                with transaction() as uow, contextlib.suppress(NotFound):
                    retries = job.retries_left - 1
                    uow.jobs.update(
                        job.id,
                        locked_by=None,
                        lock_expires_at=None,
                        attempts=job.attempts + 1,
                        retries_left=retries,
                        error=str(err),
                        state=(JobState.WAITING.value if retries > 0 else JobState.FAILED.value),
                    )
        return count

    def jobs(self, uow: UnitOfWork, *, instance_id: str | None) -> list[Job]:
        return [job_record(row) for row in uow.jobs.list(instance_id=instance_id)]

    def _run(self, uow: UnitOfWork, leased: JobRow) -> bool:
        try:
            # An earlier job of the batch may have removed or moved this one (its timer fired
            # in the same step, or its task moved on); the row as it is now decides.
            job = uow.jobs.get(leased.id)
        except NotFound:
            return False
        if job.locked_by != self.worker_id or job.state != JobState.WAITING.value:
            return False
        if job.due_at > self._ctx.now():
            uow.jobs.update(job.id, locked_by=None, lock_expires_at=None)
            return False
        if job.instance_id is None:
            return self._start_instance(uow, job)
        execution = Execution.open(self._ctx, uow, job.instance_id)
        if not execution.run.fire_due_timer(job.task_ref, job.due_at):
            self._correct(uow, job, execution)
            return False
        execution.record(
            "timer_fired",
            element_id=job.element_id,
            data={"job_id": job.id, "due_at": job.due_at.isoformat()},
        )
        execution.save()
        _log.info(
            "fired timer %s of instance %s (due %s)",
            job.element_id,
            job.instance_id,
            job.due_at.isoformat(),
        )
        return True

    def _correct(self, uow: UnitOfWork, job: JobRow, execution: Execution) -> None:
        """A job whose timer did not fire: it went (its task moved on) or its time changed."""
        wait = next(
            (w for w in execution.run.waits() if w.kind == "timer" and w.task_ref == job.task_ref),
            None,
        )
        if wait is None or wait.due_at is None:
            uow.jobs.delete(job.id)
        else:
            uow.jobs.update(job.id, due_at=wait.due_at, locked_by=None, lock_expires_at=None)

    def _start_instance(self, uow: UnitOfWork, job: JobRow) -> bool:
        """A timer start event fired: start an instance of its version, then reschedule."""
        assert job.definition_id is not None  # the schema requires one of the two
        definition = uow.definitions.get(job.definition_id)
        with timers.starting_by_timer(job.element_id):
            execution = Execution.start(
                self._ctx, uow, definition, {}, business_key=None, user=None
            )
        execution.record(
            "timer_fired",
            element_id=job.element_id,
            data={"job_id": job.id, "due_at": job.due_at.isoformat()},
        )
        execution.save()
        upcoming = start_timers.reschedule(uow, job, self._ctx.now())
        _log.info(
            "fired timer start event %s of %s v%d (due %s): started instance %s; next %s",
            job.element_id,
            definition.key,
            definition.version,
            job.due_at.isoformat(),
            execution.row.id,
            upcoming.isoformat() if upcoming else "none",
        )
        return True
