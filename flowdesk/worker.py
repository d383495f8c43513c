"""A job worker: run `Engine.run_due_jobs` in passes until told to stop.

Several workers, in as many processes or machines, may share one PostgreSQL database: each
acquires its jobs with a lease and `SKIP LOCKED`, so no job runs twice, and the jobs of a
worker that died are taken over when their lease runs out (see
`flowdesk.engine.services.job_executor`). On SQLite run one worker.

`flowdesk worker` is this loop behind a command line; an application can run it in a thread of
its own with a `threading.Event` to stop it. Stopping is graceful by construction: the event is
only looked at between passes, so a pass in progress (each job in it a transaction of its own)
always finishes first. A pass that fills its whole batch is followed at once by the next (more
jobs may be due); otherwise the worker waits `interval` seconds, or until stopped.

Passes are logged on the `flowdesk.worker` logger; each fired timer on `flowdesk.jobs`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from flowdesk._engine import Engine
from flowdesk.errors import FlowdeskError

DEFAULT_INTERVAL = 5.0
"""Seconds `run_worker` waits after a pass that did not fill its batch (`flowdesk worker
--interval`)."""

DEFAULT_BATCH = 100
"""At most this many jobs in one pass of `run_worker`."""

logger = logging.getLogger("flowdesk.worker")


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerResult:
    """What a worker did before it stopped."""

    passes: int
    fired: int


def run_worker(
    engine: Engine,
    *,
    interval: float = DEFAULT_INTERVAL,
    stop: threading.Event | None = None,
    batch: int = DEFAULT_BATCH,
    once: bool = False,
    lease: timedelta | None = None,
) -> WorkerResult:
    """Fire due jobs in passes until `stop` is set (or after one pass with `once`).

    Args:
        engine: The engine whose jobs to run; its clock decides what is due.
        interval: Seconds to wait after a pass that did not fill its batch.
        stop: Set it (from a signal handler or another thread) to stop after the current pass.
        batch: At most this many jobs per pass.
        once: Run one pass and return.
        lease: How long an acquired job is this worker's before another worker may take it
            over; the engine's default (5 minutes) when None. Longer than the longest job.

    Returns:
        How many passes ran and how many jobs ran to completion.

    Raises:
        FlowdeskError: With `once`, the pass failed (e.g. the database is unreachable).
            Without it, a failed pass is logged and tried again after the interval.
        ValueError: `interval` or `batch` is not positive.
    """
    if interval <= 0 or batch <= 0:
        raise ValueError("interval and batch must be positive")
    stop = stop or threading.Event()
    passes = fired_total = 0
    while not stop.is_set():
        passes += 1
        try:
            fired = engine.run_due_jobs(limit=batch, lease=lease)
        except FlowdeskError as err:
            if once:
                raise
            logger.error("pass %d failed: %s", passes, err)
            fired = 0
        else:
            # Quiet passes are DEBUG: a worker polling every second would flood INFO.
            level = logging.INFO if fired else logging.DEBUG
            logger.log(level, "pass %d: %d job(s) fired", passes, fired)
        fired_total += fired
        if once:
            break
        if fired >= batch:
            continue  # more may be due right now: no pause
        _pause(stop, interval)
    logger.info("worker stopped after %d pass(es)", passes)
    return WorkerResult(passes=passes, fired=fired_total)


def _pause(stop: threading.Event, interval: float) -> None:
    """Wait `interval` seconds or until `stop` is set, in short slices.

    A process signal the kernel hands to another thread does not wake the main thread from a
    blocked wait, and Python runs the handler (which sets `stop`) only when the main thread
    next runs; slices bound that delay.
    """
    deadline = time.monotonic() + interval
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        stop.wait(min(left, _SLICE))


_SLICE = 0.5
