"""The job executor: run due jobs (timers and async continuations), retry the ones that fail.

Jobs are acquired in one short transaction, with a lease (owner and expiry) and, on
PostgreSQL, `FOR UPDATE SKIP LOCKED`, so several workers share one database as Camunda 7
clusters do. Each job then runs in a transaction of its own that acts and deletes or
reschedules the job together: a job runs once, and one whose worker died mid-job is taken
over by another worker when its lease runs out (the dead worker's transaction never committed).

A job of an instance either fires the timer its workflow waits for (the workflow, not the job
row, is the truth about the due time, so a job whose timer moved is corrected, never fired
early) or releases a task held by `camunda:asyncBefore`/`asyncAfter` (see
`async_continuations`). A job of a definition (a timer start event, see `start_timers`) starts
an instance.

A job *fails* when its run raises, or leaves its instance with an incident (a service task or
script that failed): its transaction is rolled back, so the instance stays where the job found
it, and the job is tried again after the wait its `camunda:failedJobRetryTimeCycle` gives (see
`retry_cycles`). A job with no retries left stays in state "failed" with its error and puts its
instance into incident; `Engine.retry` gives it its retries back. A job that hits a
`ConcurrencyConflict` is released at no cost and tried again on the next pass.

Every fired timer and continued job is logged on the `flowdesk.jobs` logger at INFO, every
failure at WARNING.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import uuid
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Protocol

from flowdesk._records import HistoryEventType, Job
from flowdesk.engine.deployment import start_timers
from flowdesk.engine.instances import saving
from flowdesk.engine.instances.execution import EngineContext, Execution
from flowdesk.engine.languages import timer_texts
from flowdesk.engine.spiff import retry_cycles
from flowdesk.engine.spiff.waits import WaitKind
from flowdesk.errors import ConcurrencyConflict, FlowdeskError, NotFound
from flowdesk.store import JobRow, JobState, JobType, TaskState, UnitOfWork

# How long a worker may take over a job before another may take it over. A job that runs
# longer may run twice at once; only one of the two commits (the instance row's lock version).
LEASE = timedelta(minutes=5)
# How many of a pass's due jobs a worker leases in one go. Fewer means more acquisition
# transactions (each costs about what a tenth of a trivial job costs); more means jobs other
# workers could run wait behind this worker's current ones, and a worker that dies strands
# more of them until their leases run out. Camunda 7 acquires 3 per round by default
# (`maxJobsPerAcquisition`), but into a queue for a pool of threads; a flowdesk worker runs its
# jobs one after the other.
ACQUIRE_AT_ONCE = 10
_log = logging.getLogger("flowdesk.jobs")


class Transaction(Protocol):
    """Opens a unit of work: `Store.unit_of_work`."""

    def __call__(self, *, readonly: bool = False) -> AbstractContextManager[UnitOfWork]: ...


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


class JobFailed(Exception):
    """A job's run left its instance with an incident; its transaction is rolled back."""

    def __init__(self, message: str, element_id: str) -> None:
        super().__init__(message)
        self.element_id = element_id


class JobService:
    """Runs due jobs; one instance of it is one worker.

    Args:
        ctx: The engine's shared context.
        lease: How long an acquired job stays this worker's (see `LEASE`).
    """

    def __init__(self, ctx: EngineContext, *, lease: timedelta = LEASE) -> None:
        self._ctx = ctx
        self.lease = lease
        self.worker_id = f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"

    def run_due_jobs(
        self, transaction: Transaction, *, limit: int = 100, lease: timedelta | None = None
    ) -> int:
        """Run up to `limit` of the jobs due now; returns how many ran to completion.

        The jobs due at the start of the pass are read first, then leased and run
        `ACQUIRE_AT_ONCE` at a time, each time the first ones among them still free: a lease
        keeps other workers off a job for minutes, so a worker that leased its whole pass at
        once would run it alone while the others found nothing due, and a worker that died
        would leave all of it waiting for its leases to run out.
        """
        now = self._ctx.now()
        with transaction(readonly=True) as uow:
            remaining = uow.jobs.due_ids(now, limit=limit)
        count = 0
        while remaining:
            with transaction() as uow:
                # The lease runs from when it is taken, not from the start of the pass.
                acquired = uow.jobs.acquire_due(
                    self._ctx.now(),
                    owner=self.worker_id,
                    lease=lease or self.lease,
                    limit=ACQUIRE_AT_ONCE,
                    among=remaining,
                )
            if not acquired:  # the rest was run, or is leased, by other workers
                break
            taken = {job.id for job in acquired}
            remaining = [job_id for job_id in remaining if job_id not in taken]
            count += self._run_acquired(transaction, acquired)
        return count

    def _run_acquired(self, transaction: Transaction, acquired: list[JobRow]) -> int:
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
            except JobFailed as failure:
                self._fail(transaction, job, str(failure))
            except FlowdeskError as err:
                self._fail(transaction, job, f"{type(err).__name__}: {err}")
            except Exception as err:  # any bug in one job must not stop the others
                _log.exception("job %s of instance %s raised", job.id, job.instance_id)
                self._fail(transaction, job, f"{type(err).__name__}: {err}")
        return count

    def jobs(self, uow: UnitOfWork, *, instance_id: str | None) -> list[Job]:
        return [job_record(row) for row in uow.jobs.list(instance_id=instance_id)]

    # -- running a job ----------------------------------------------------------------------

    def _run(self, uow: UnitOfWork, leased: JobRow) -> bool:
        try:
            # An earlier job of the batch may have removed or moved this one (its timer fired
            # in the same step, or its task moved on); the row as it is now decides.
            job = uow.jobs.get_for_update(leased.id)
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
        if job.type == JobType.ASYNC:
            return self._continue(uow, job, execution)
        if job.type == JobType.TASK_TIMEOUT:
            return self._task_timeout(uow, job, execution)
        if not execution.run.fire_due_timer(job.task_ref, job.due_at):
            self._correct(uow, job, execution)
            return False
        _check(execution)
        execution.history.record(
            HistoryEventType.TIMER_FIRED,
            element_id=job.element_id,
            data={"job_id": job.id, "due_at": _timer_due(job)},
        )
        _save(uow, execution)
        _log.info(
            "fired timer %s of instance %s (due %s)",
            job.element_id,
            job.instance_id,
            _timer_due(job),
        )
        return True

    def _continue(self, uow: UnitOfWork, job: JobRow, execution: Execution) -> bool:
        """An async continuation: let the held task run, and the instance on from it."""
        if not execution.run.release_async(job.task_ref):
            uow.jobs.delete(job.id)  # its task went meanwhile (a boundary event, say)
            return False
        _check(execution)
        _save(uow, execution)
        _log.info("continued instance %s at %s (job %s)", job.instance_id, job.element_id, job.id)
        return True

    def _task_timeout(self, uow: UnitOfWork, job: JobRow, execution: Execution) -> bool:
        """A user task's timeout listener is due: run it; the task stays open."""
        row = uow.tasks.find(job.task_ref)
        listener_id = str(job.payload.get("listener"))
        if row is None or row.state != TaskState.OPEN.value:
            uow.jobs.delete(job.id)
            return False
        if not execution.user_tasks.fire_task_timeout(row, listener_id):
            uow.jobs.delete(job.id)  # already ran, or the task went meanwhile
            return False
        _check(execution)
        execution.history.record(
            HistoryEventType.TASK_TIMEOUT,
            element_id=job.element_id,
            data={"job_id": job.id, "task_id": row.id, "listener": listener_id},
        )
        _save(uow, execution)
        return True

    def _correct(self, uow: UnitOfWork, job: JobRow, execution: Execution) -> None:
        """A job whose timer did not fire: it went (its task moved on) or its time changed."""
        wait = next(
            (
                w
                for w in execution.run.waits()
                if w.kind == WaitKind.TIMER and w.task_ref == job.task_ref
            ),
            None,
        )
        if wait is None or wait.due_at is None:
            uow.jobs.delete(job.id)
        else:
            uow.jobs.update(job.id, due_at=wait.due_at, locked_by=None, lock_expires_at=None)

    def _start_instance(self, uow: UnitOfWork, job: JobRow) -> bool:
        """A timer start event fired: start an instance of its version, then reschedule.

        A step of the new instance that fails leaves that instance in incident, as a start by
        hand would; the timer's schedule goes on.
        """
        assert job.definition_id is not None  # the schema requires one of the two
        definition = uow.definitions.get(job.definition_id)
        with timer_texts.starting_by_timer(job.element_id):
            execution = Execution.start(
                self._ctx, uow, definition, {}, business_key=None, user=None
            )
        execution.history.record(
            HistoryEventType.TIMER_FIRED,
            element_id=job.element_id,
            data={"job_id": job.id, "due_at": job.due_at.isoformat()},
        )
        saving.save(execution)
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

    # -- failures -----------------------------------------------------------------------------

    def _fail(self, transaction: Transaction, leased: JobRow, error: str) -> None:
        """Count a failed run: schedule the next one, or fail the job and its instance."""
        now = self._ctx.now()
        with transaction() as uow:
            try:
                job = uow.jobs.get_for_update(leased.id)
            except NotFound:
                return
            if job.locked_by != self.worker_id:
                return  # another worker took it over meanwhile; its run decides
            policy = retry_cycles.parse(job.payload.get("retry_cycle"))
            retries = job.retries_left - 1
            next_due = policy.next_due(now, policy.retries - retries) if retries > 0 else None
            uow.jobs.update(
                job.id,
                state=JobState.WAITING.value if next_due else JobState.FAILED.value,
                due_at=next_due or job.due_at,
                retries_left=max(retries, 0),
                attempts=job.attempts + 1,
                error=error,
                locked_by=None,
                lock_expires_at=None,
            )
            if job.instance_id is not None:
                uow.history.add(
                    instance_id=job.instance_id,
                    type=HistoryEventType.JOB_FAILED,
                    at=now,
                    element_id=job.element_id,
                    user=None,
                    data={
                        "job_id": job.id,
                        "type": job.type,
                        "error": error,
                        "retries_left": max(retries, 0),
                        "next_due": next_due.isoformat() if next_due else None,
                    },
                )
        _log.warning(
            "job %s (%s at %s of instance %s) failed; %s: %s",
            job.id,
            job.type,
            job.element_id,
            job.instance_id,
            f"next run at {next_due.isoformat()}" if next_due else "no retries left",
            error,
        )
        if next_due is None and job.instance_id is not None:
            self._incident(transaction, job.instance_id)

    def _incident(self, transaction: Transaction, instance_id: str) -> None:
        """Save the instance as it stands: its failed job puts it into incident
        (`WaitRows.sync_jobs`)."""
        try:
            with transaction() as uow:
                saving.save(Execution.open(self._ctx, uow, instance_id))
        except FlowdeskError:
            # The job stays failed either way; the instance follows on its next save.
            _log.exception("instance %s could not be put into incident", instance_id)


def _check(execution: Execution) -> None:
    """Raise `JobFailed` if the job's run left the instance with an incident of its own."""
    incident = execution.run.incident
    if incident is not None:
        raise JobFailed(incident.message, incident.element_id)


def _save(uow: UnitOfWork, execution: Execution) -> None:
    """Save the instance, unless saving raised an incident (a call or task that failed)."""
    before = execution.run.incident
    saving.save(execution)
    incident = execution.run.incident
    if incident is None or incident is before:
        return
    # `WaitRows.sync_jobs` puts an instance with another failed job back into incident: not ours.
    failed = uow.jobs.list(instance_id=execution.row.id, state=JobState.FAILED.value)
    if not any(job.task_ref == incident.task_ref for job in failed):
        raise JobFailed(incident.message, incident.element_id)


def _timer_due(job: JobRow) -> str:
    """The timer's own due time (a job in retry backoff is due later than its timer)."""
    due = job.payload.get("due")
    return due if isinstance(due, str) else job.due_at.isoformat()
