"""The repository of timers and other deferred work, leased to one worker at a time."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, insert, or_, select, update

from flowdesk import errors
from flowdesk.store import models, records
from flowdesk.store.repositories.base import (
    _all,
    _check_fields,
    _delete_by_id,
    _equal,
    _fields,
    _first,
    _Repository,
    _returning,
    _returning_all,
    _store_errors,
)


class JobRepository(_Repository):
    """Timers and other deferred work, leased to one worker at a time.

    Job claiming is built on two mechanisms. A lease (`locked_by`, `lock_expires_at`) written
    and committed by `acquire_due` keeps other workers off a job while its owner runs it in a
    later transaction, and lets another worker take it over once the lease expires (the owner
    died). On PostgreSQL, `SELECT ... FOR UPDATE SKIP LOCKED` makes concurrent acquirers skip
    rows another transaction is leasing at that very moment instead of waiting for it or
    leasing the same job twice. SQLite has no row locks; its writers are serialised (every
    unit of work that may write begins with `BEGIN IMMEDIATE`), which gives the same result.
    Advisory locks and a separate queue table were dropped: they add moving parts without
    doing more than this.
    """

    _CHANGEABLE = frozenset(f.name for f in dataclasses.fields(records.JobRow)) - {"id"}

    @_store_errors
    def add(self, row: records.JobRow) -> None:
        """Insert a new job.

        Raises:
            StoreError: The database failed, e.g. the id exists or the instance does not.
        """
        self._session.execute(insert(models.Job).values(**_fields(row)))

    @_store_errors
    def get(self, id: str) -> records.JobRow:
        """Return the job with this id.

        Raises:
            NotFound: No job has this id.
            StoreError: The database failed.
        """
        model = _first(self._session, select(models.Job).where(models.Job.id == id))
        if model is None:
            raise errors.NotFound("job", id)
        return _job_row(model)

    @_store_errors
    def get_for_update(self, id: str) -> records.JobRow:
        """Return the job, its row locked until the unit of work ends (PostgreSQL).

        The worker that runs a job holds its row, so a worker that took the job over after
        the lease ran out skips it (`SKIP LOCKED`) instead of running it alongside.

        Raises:
            NotFound: No job has this id.
            StoreError: The database failed.
        """
        self._session.execute(select(models.Job.id).where(models.Job.id == id).with_for_update())
        return self.get(id)

    @_store_errors
    def list(
        self,
        *,
        instance_id: str | None = None,
        state: str | None = None,
        definition_id: int | None = None,
    ) -> builtins.list[records.JobRow]:
        """Return jobs matching every filter given, soonest first (due_at, then id)."""
        stmt = _equal(
            select(models.Job),
            models.Job,
            instance_id=instance_id,
            definition_id=definition_id,
            state=state,
        )
        stmt = stmt.order_by(models.Job.due_at, models.Job.id)
        return [_job_row(m) for m in _all(self._session, stmt)]

    @_store_errors
    def delete(self, id: str) -> None:
        """Delete a job.

        Raises:
            NotFound: No job has this id.
            StoreError: The database failed.
        """
        _delete_by_id(self._session, models.Job, "job", id)

    @_store_errors
    def update(self, id: str, **changes: Any) -> records.JobRow:
        """Change a job.

        Args:
            id: The job.
            **changes: New values, by `JobRow` field name (not `id`).

        Returns:
            The job as saved.

        Raises:
            NotFound: No job has this id.
            TypeError: A change names no changeable field.
            StoreError: The database failed.
        """
        _check_fields(changes, self._CHANGEABLE, "job")
        if not changes:
            return self.get(id)
        stmt = update(models.Job).where(models.Job.id == id).values(**changes).returning(models.Job)
        model = _returning(self._session, stmt)
        if model is None:
            raise errors.NotFound("job", id)
        return _job_row(model)

    @_store_errors
    def due_ids(self, now: datetime, *, limit: int) -> builtins.list[str]:
        """The ids of up to `limit` jobs that `acquire_due` could lease now, soonest first.

        Nothing is locked or leased: a worker reads what is due at the start of a pass, then
        leases it a few jobs at a time (`acquire_due(among=...)`), so that the jobs it has not
        reached yet stay free for other workers.
        """
        return builtins.list(self._session.scalars(_due(now).limit(limit)))

    @_store_errors
    def acquire_due(
        self,
        now: datetime,
        *,
        owner: str,
        lease: timedelta,
        limit: int,
        among: Collection[str] | None = None,
    ) -> builtins.list[records.JobRow]:
        """Lease waiting jobs that are due and not leased to a live worker.

        Selects jobs with state "waiting", `due_at <= now` and no lease or an expired one
        (`lock_expires_at < now`), soonest first, skipping rows that a concurrent transaction
        has locked (PostgreSQL), and sets `locked_by=owner`, `lock_expires_at=now + lease`.
        Commit the unit of work to make the lease visible to other workers.

        Args:
            now: The current time, aware.
            owner: Names the worker, e.g. host and process id.
            lease: How long the worker may take before another may take the job over.
            limit: At most this many jobs.
            among: Only jobs with these ids (from `due_ids`); any job when None.

        Returns:
            The leased jobs, soonest first.

        Raises:
            StoreError: The database failed.
        """
        due = _due(now).limit(limit)
        if among is not None:
            due = due.where(models.Job.id.in_(builtins.list(among)))
        if self._connection.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = builtins.list(self._session.scalars(due))
        if not ids:
            return []
        stmt = (
            update(models.Job)
            .where(models.Job.id.in_(ids))
            .values(locked_by=owner, lock_expires_at=now + lease)
            .returning(models.Job)
        )
        leased = [_job_row(m) for m in _returning_all(self._session, stmt)]
        return sorted(leased, key=lambda job: (job.due_at, job.id))


def _due(now: datetime) -> Select[str]:
    """Waiting jobs due at `now` whose lease is free or ran out, soonest first."""
    return (
        select(models.Job.id)
        .where(
            models.Job.state == records.JobState.WAITING,
            models.Job.due_at <= now,
            or_(models.Job.locked_by.is_(None), models.Job.lock_expires_at < now),
        )
        .order_by(models.Job.due_at, models.Job.id)
    )


def _job_row(model: models.Job) -> records.JobRow:
    return records.JobRow(
        id=model.id,
        instance_id=model.instance_id,
        element_id=model.element_id,
        task_ref=model.task_ref,
        type=model.type,
        due_at=model.due_at,
        state=model.state,
        attempts=model.attempts,
        retries_left=model.retries_left,
        created_at=model.created_at,
        locked_by=model.locked_by,
        lock_expires_at=model.lock_expires_at,
        error=model.error,
        payload=model.payload,
        definition_id=model.definition_id,
    )
